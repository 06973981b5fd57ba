//! The two registry files on disk: reading (with quarantine of a corrupt
//! `registry.json`), atomic writes, and the per-user directory rules.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::entry::{name_key, validate_name, LeaseRecord, StoredEntry};
use crate::error::{Error, Result};
use crate::text::Text;

/// The file format version this code reads and writes.
pub const FORMAT_VERSION: u64 = 1;
pub const REGISTRY_FILE: &str = "registry.json";
pub const LEASES_FILE: &str = "leases.json";
pub const LOCK_FILE: &str = "registry.lock";
pub const CONFIG_FILE: &str = "config.toml";

/// The durable facts, indexed by case-folded name.
#[derive(Debug, Clone, Default)]
pub(crate) struct RegData {
    pub entries: Vec<StoredEntry>,
    pub index: HashMap<String, usize>,
    /// The version found on disk (FORMAT_VERSION for a new registry).
    pub version: u64,
    /// Each entry's port, parallel to `entries`: scanning the ports touches
    /// 2 bytes an entry instead of the whole entry.
    pub ports: Vec<u16>,
    /// registry.json's text for these entries, kept up to date entry by
    /// entry once it has been encoded (see [`Text`]).
    text: Option<Text>,
}

impl RegData {
    pub fn from_entries(entries: Vec<StoredEntry>, version: u64) -> RegData {
        let index = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (name_key(&e.name), i))
            .collect();
        let ports = entries.iter().map(|e| e.port).collect();
        RegData {
            entries,
            index,
            version,
            ports,
            text: None,
        }
    }

    pub fn get(&self, name: &str) -> Option<&StoredEntry> {
        self.index.get(&name_key(name)).map(|&i| &self.entries[i])
    }

    pub fn insert(&mut self, e: StoredEntry) {
        match self.index.get(&name_key(&e.name)) {
            Some(&i) => {
                if let Some(t) = &mut self.text {
                    t.remove(i);
                }
                self.ports[i] = e.port;
                self.entries[i] = e;
                if let Some(t) = &mut self.text {
                    t.insert(&self.entries, i);
                }
            }
            None => {
                let i = self.entries.len();
                self.index.insert(name_key(&e.name), i);
                self.ports.push(e.port);
                self.entries.push(e);
                if let Some(t) = &mut self.text {
                    t.insert(&self.entries, i);
                }
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<StoredEntry> {
        let i = self.index.remove(&name_key(name))?;
        if let Some(t) = &mut self.text {
            t.remove(i);
        }
        let e = self.entries.swap_remove(i);
        self.ports.swap_remove(i);
        if let Some(moved) = self.entries.get(i) {
            self.index.insert(name_key(&moved.name), i);
            if let Some(t) = &mut self.text {
                t.renumber(self.entries.len(), i);
            }
        }
        Some(e)
    }

    /// registry.json's text for these entries, sorted by port then name,
    /// pretty-printed: encoded in full the first time, then kept up to date
    /// by every change.
    pub fn encode(&mut self) -> &[u8] {
        self.text
            .get_or_insert_with(|| Text::build(&self.entries))
            .bytes()
    }

    /// The text, when it has been encoded.
    pub fn text(&self) -> Option<&[u8]> {
        self.text.as_ref().map(Text::bytes)
    }
}

#[derive(Serialize, Deserialize)]
struct RegistryFile<T> {
    version: u64,
    #[serde(default = "Vec::new")]
    entries: Vec<T>,
}

#[derive(Serialize, Deserialize)]
struct LeasesFile<T> {
    version: u64,
    #[serde(default = "Vec::new")]
    leases: Vec<T>,
}

/// How `registry.json` was found.
pub(crate) enum RegRead {
    Ok(RegData),
    /// Does not parse, or breaks a rule a valid file keeps; the reason.
    Corrupt(String),
}

/// Parses the bytes of `registry.json`. A newer version is read as far as
/// possible (entries this code cannot read are skipped) and never written.
pub(crate) fn parse_registry(bytes: &[u8]) -> RegRead {
    // The common case, a file of this version, parses straight into entries.
    if let Ok(file) = serde_json::from_slice::<RegistryFile<StoredEntry>>(bytes) {
        if file.version == FORMAT_VERSION {
            return check_entries(RegData::from_entries(file.entries, file.version));
        }
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        // An empty file is what a crash before the first write can leave only
        // if something else made it; treat it as corrupt so the bytes are kept.
        return RegRead::Corrupt("the file is empty".into());
    }
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return RegRead::Corrupt(format!("not valid JSON ({e})")),
    };
    let Some(version) = value.get("version").and_then(|v| v.as_u64()) else {
        return RegRead::Corrupt("no \"version\" number".into());
    };
    if version > FORMAT_VERSION {
        let entries = value
            .get("entries")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|e| serde_json::from_value::<StoredEntry>(e.clone()).ok())
                    .filter(|e| validate_name(&e.name).is_ok() && e.port > 0)
                    .collect()
            })
            .unwrap_or_default();
        return RegRead::Ok(RegData::from_entries(dedup(entries), version));
    }
    let file: RegistryFile<StoredEntry> = match serde_json::from_value(value) {
        Ok(f) => f,
        Err(e) => return RegRead::Corrupt(format!("unexpected content ({e})")),
    };
    check_entries(RegData::from_entries(file.entries, version))
}

fn check_entries(data: RegData) -> RegRead {
    if data.index.len() != data.entries.len() {
        return RegRead::Corrupt("a name appears twice".into());
    }
    for e in &data.entries {
        if let Err(err) = validate_name(&e.name) {
            return RegRead::Corrupt(err.to_string());
        }
        if e.port == 0 {
            return RegRead::Corrupt(format!("entry {:?} has port 0", e.name));
        }
    }
    RegRead::Ok(data)
}

fn dedup(entries: Vec<StoredEntry>) -> Vec<StoredEntry> {
    let mut seen = std::collections::HashSet::new();
    entries
        .into_iter()
        .filter(|e| seen.insert(name_key(&e.name)))
        .collect()
}

/// Orders names case-insensitively without allocating.
fn cmp_names(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// The order of both files and of every list: by port, then by name
/// without regard to case.
pub(crate) fn port_then_name(a: (u16, &str), b: (u16, &str)) -> std::cmp::Ordering {
    a.0.cmp(&b.0).then_with(|| cmp_names(a.1, b.1))
}

/// [`port_then_name`] for two entries.
pub(crate) fn file_order(a: &StoredEntry, b: &StoredEntry) -> std::cmp::Ordering {
    port_then_name((a.port, &a.name), (b.port, &b.name))
}

/// How `leases.json` was found: records, the version, and a warning when it
/// had to be treated as empty.
pub(crate) struct LeasesRead {
    pub records: Vec<LeaseRecord>,
    pub version: u64,
    pub warning: Option<String>,
}

/// Largest registry file read (a 10,000-entry registry is about 3 MB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Reads a registry file: `None` when it does not exist, `Err(size)` when it
/// is larger than [`MAX_FILE_BYTES`] (never read into memory).
pub(crate) fn read_capped(path: &Path) -> Result<Option<std::result::Result<Vec<u8>, u64>>> {
    let mut bytes = Vec::new();
    Ok(read_held(path, &mut bytes)?.map(|r| r.map(|_| bytes)))
}

/// What identifies one version of a file: its inode (held open by whoever
/// keeps the id, so that no other file can be given that inode number),
/// size, and modification and change times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileId {
    pub fn of(m: &fs::Metadata) -> FileId {
        FileId {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// A file that was read, kept open, with its id; `None` when it changed
/// while being read.
pub(crate) type Held = Option<(File, FileId)>;

/// [`read_capped`] into `buf` (cleared first, so a caller reading the same
/// large file again and again reuses one allocation), also returning the
/// file, still open, and its id.
pub(crate) fn read_held(
    path: &Path,
    buf: &mut Vec<u8>,
) -> Result<Option<std::result::Result<Held, u64>>> {
    use std::io::Read;
    buf.clear();
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let before = f.metadata().ok().map(|m| FileId::of(&m));
    let len = before.map(|id| id.size).unwrap_or(0);
    if len > MAX_FILE_BYTES {
        return Ok(Some(Err(len)));
    }
    buf.reserve(len as usize + 1);
    (&mut f)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(buf)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Ok(Some(Err(buf.len() as u64)));
    }
    let after = f.metadata().ok().map(|m| FileId::of(&m));
    let held = match (before, after) {
        (Some(b), Some(a)) if a == b && a.size == buf.len() as u64 => Some((f, a)),
        _ => None,
    };
    Ok(Some(Ok(held)))
}

/// Whether every change to a file on this file system, made after its ctime
/// was looked at, gets a new ctime: true with fine-grained timestamps (Linux
/// 6.13+ "multigrain" ctime on ext4, xfs, btrfs, tmpfs), false where ctime
/// only moves once per clock tick and two changes a microsecond apart can
/// share one. Three no-op mode changes on `f` (a file we own) must give
/// three rising ctimes; with a coarse clock at most one tick can pass.
pub(crate) fn ctime_is_fine(f: &File) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = f.metadata() else {
        return false;
    };
    let mode = fs::Permissions::from_mode(meta.mode() & 0o7777);
    let mut last: Option<(i64, i64)> = None;
    for _ in 0..3 {
        if f.set_permissions(mode.clone()).is_err() {
            return false;
        }
        let Ok(m) = f.metadata() else {
            return false;
        };
        let now = (m.ctime(), m.ctime_nsec());
        if last.is_some_and(|l| now <= l) {
            return false;
        }
        last = Some(now);
    }
    true
}

pub(crate) fn read_leases(path: &Path) -> Result<LeasesRead> {
    let bytes = match read_capped(path)? {
        None => Vec::new(),
        Some(Ok(b)) => b,
        Some(Err(size)) => {
            return Ok(LeasesRead {
                records: Vec::new(),
                version: FORMAT_VERSION,
                warning: Some(format!(
                    "{} is {size} bytes, far larger than any real one; treating it as \"nothing is held\"",
                    path.display()
                )),
            })
        }
    };
    Ok(parse_leases(&bytes, path))
}

/// Parses the bytes of `leases.json`; anything unreadable means "nothing is held".
pub(crate) fn parse_leases(bytes: &[u8], path: &Path) -> LeasesRead {
    let empty = |warning| LeasesRead {
        records: Vec::new(),
        version: FORMAT_VERSION,
        warning,
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return empty(None);
    }
    if let Ok(file) = serde_json::from_slice::<LeasesFile<LeaseRecord>>(bytes) {
        if file.version >= 1 {
            return LeasesRead {
                records: file.leases,
                version: file.version,
                warning: None,
            };
        }
    }
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return empty(Some(format!(
                "{} does not parse ({e}); treating it as \"nothing is held\"",
                path.display()
            )))
        }
    };
    let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version == 0 {
        return empty(Some(format!(
            "{} has no version; treating it as \"nothing is held\"",
            path.display()
        )));
    }
    // A newer or partly unreadable file: keep every record this code can read.
    let records = value
        .get("leases")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|r| serde_json::from_value::<LeaseRecord>(r.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    LeasesRead {
        records,
        version,
        warning: None,
    }
}

pub(crate) fn serialize_leases(records: &[&LeaseRecord], port_of: impl Fn(&str) -> u16) -> Vec<u8> {
    let mut refs: Vec<(&LeaseRecord, u16)> =
        records.iter().map(|r| (*r, port_of(&r.name))).collect();
    refs.sort_unstable_by(|a, b| port_then_name((a.1, &a.0.name), (b.1, &b.0.name)));
    let leases: Vec<&LeaseRecord> = refs.into_iter().map(|(r, _)| r).collect();
    let mut out = serde_json::to_vec_pretty(&LeasesFile {
        version: FORMAT_VERSION,
        leases,
    })
    .expect("leases serialize");
    out.push(b'\n');
    out
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `target` atomically and without fsync: through the
/// spare file where that works, else a new temp file (O_EXCL, 0600) renamed
/// over the target.
pub(crate) fn write_atomic(dir: &Path, target: &str, bytes: &[u8]) -> Result<()> {
    if let Ok(Some(staged)) = Staged::new(dir, target, bytes) {
        if let Ok(true) = staged.swap_in() {
            return Ok(());
        }
    }
    write_via_temp(dir, target, bytes)
}

/// Writes `bytes` to `target` atomically and durably: a new temp file in
/// the same directory (0600, never an existing name), fsync, rename over the
/// target, fsync of the directory. Returns the new file, still open, with
/// its id taken right after the rename.
///
/// On Linux the temp file is first created without a name (O_TMPFILE),
/// written and fsynced, and only then linked under its temp name: fsync of a
/// file that was just given a name also writes out that directory entry
/// (ext4 does), which the directory fsync after the rename does anyway.
/// A crash before the link leaves nothing behind. Where that is not
/// possible (a file system without O_TMPFILE, no /proc) the temp file is
/// created with its name (O_EXCL).
pub(crate) fn write_durable(dir: &Path, target: &str, bytes: &[u8]) -> Result<(File, FileId)> {
    let dest = dir.join(target);
    let mut tmp = None;
    let result = (|| -> io::Result<(File, FileId)> {
        let dir_file = File::open(dir)?;
        let f = match write_unnamed(dir, bytes) {
            Some(f) => match link_unnamed(&f, dir, target) {
                Ok(path) => {
                    tmp = Some(path);
                    f
                }
                // No way to name it (no /proc): write it again, named.
                Err(_) => write_named(dir, target, bytes, &mut tmp)?,
            },
            None => write_named(dir, target, bytes, &mut tmp)?,
        };
        fs::rename(tmp.as_ref().expect("temp file named"), &dest)?;
        let id = FileId::of(&f.metadata()?);
        dir_file.sync_all()?;
        Ok((f, id))
    })();
    result.map_err(|e| write_failed(&dest, tmp.as_deref(), e))
}

/// The error of a failed write of `dest`, after removing its temp file.
fn write_failed(dest: &Path, tmp: Option<&Path>, e: io::Error) -> Error {
    if let Some(tmp) = tmp {
        let _ = fs::remove_file(tmp);
    }
    Error::io(format!("cannot write {}", dest.display()), e)
}

/// A new named temp file holding `bytes`, fsynced; its path goes to `tmp`.
fn write_named(
    dir: &Path,
    target: &str,
    bytes: &[u8],
    tmp: &mut Option<PathBuf>,
) -> io::Result<File> {
    let (mut f, path) = create_named(dir, target)?;
    *tmp = Some(path);
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(f)
}

/// An unnamed file in `dir` holding `bytes`, fsynced; `None` where the file
/// system or the kernel cannot make one (or it fails: the named way then
/// gets the same chance, and reports its own error).
#[cfg(target_os = "linux")]
fn write_unnamed(dir: &Path, bytes: &[u8]) -> Option<File> {
    let mut f = OpenOptions::new()
        .write(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_TMPFILE)
        .open(dir)
        .ok()?;
    f.write_all(bytes).ok()?;
    f.sync_all().ok()?;
    Some(f)
}

#[cfg(not(target_os = "linux"))]
fn write_unnamed(_dir: &Path, _bytes: &[u8]) -> Option<File> {
    None
}

/// Gives an unnamed file a fresh temp name in `dir` (linkat refuses an
/// existing name, as O_EXCL does).
#[cfg(target_os = "linux")]
fn link_unnamed(f: &File, dir: &Path, target: &str) -> io::Result<PathBuf> {
    use nix::fcntl::{AtFlags, AT_FDCWD};
    use nix::unistd::linkat;
    use std::os::fd::AsRawFd;
    let proc_path = format!("/proc/self/fd/{}", f.as_raw_fd());
    fresh_name(dir, target, |path| {
        linkat(
            AT_FDCWD,
            proc_path.as_str(),
            AT_FDCWD,
            path,
            AtFlags::AT_SYMLINK_FOLLOW,
        )
        .map_err(io::Error::from)
    })
}

#[cfg(not(target_os = "linux"))]
fn link_unnamed(_f: &File, _dir: &Path, _target: &str) -> io::Result<PathBuf> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// A new temp file `.TARGET.PID.N.tmp` (O_EXCL, 0600).
fn create_named(dir: &Path, target: &str) -> io::Result<(File, PathBuf)> {
    let mut file = None;
    let path = fresh_name(dir, target, |path| {
        file = Some(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)?,
        );
        Ok(())
    })?;
    Ok((file.expect("created"), path))
}

/// Tries `make` on temp names `.TARGET.PID.N.tmp` until one does not exist
/// yet: a temp file left by a crashed process whose pid came back must not
/// stop every write.
fn fresh_name(
    dir: &Path,
    target: &str,
    mut make: impl FnMut(&Path) -> io::Result<()>,
) -> io::Result<PathBuf> {
    let mut last = None;
    for _ in 0..64 {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{target}.{}.{n}.tmp", std::process::id()));
        match make(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)))
}

/// The non-durable write through a temp file: create, write, replace.
fn write_via_temp(dir: &Path, target: &str, bytes: &[u8]) -> Result<()> {
    let dest = dir.join(target);
    let mut tmp = None;
    let result = (|| -> io::Result<()> {
        let (mut f, path) = create_named(dir, target)?;
        tmp = Some(path.clone());
        f.write_all(bytes)?;
        drop(f);
        replace_fast(&path, &dest)
    })();
    result.map_err(|e| write_failed(&dest, tmp.as_deref(), e))
}

/// A non-durable write of `leases.json` made in two steps, without
/// creating and unlinking a temp file each time: [`Staged::new`] puts the
/// new bytes in one spare file (`.leases.json.spare`, ours, 0600, never
/// followed through a link); [`Staged::swap_in`] exchanges it with the
/// target (renameat2 RENAME_EXCHANGE). Readers only ever see a complete
/// file; after the exchange the spare holds the previous bytes, overwritten
/// next time. Only writers holding the exclusive lock touch the spare, so a
/// writer killed half-way leaves junk that nobody reads.
///
/// The two steps let a writer that also makes `registry.json` durable fill
/// the spare before that write and swap it in after: the order a killed
/// writer leaves is unchanged (registry.json first), and the work after
/// the wait on the disk is one system call.
pub(crate) struct Staged {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    spare: PathBuf,
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    dest: PathBuf,
}

impl Staged {
    /// Fills the spare; `Ok(None)` where exchanging names is not available.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    pub(crate) fn new(dir: &Path, target: &str, bytes: &[u8]) -> io::Result<Option<Staged>> {
        use std::os::unix::fs::FileExt;
        let spare = dir.join(format!(".{target}.spare"));
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&spare)?;
        let meta = f.metadata()?;
        if !meta.is_file() || meta.uid() != nix::unistd::geteuid().as_raw() {
            return Err(io::Error::from(io::ErrorKind::PermissionDenied));
        }
        f.write_all_at(bytes, 0)?;
        if meta.len() > bytes.len() as u64 {
            f.set_len(bytes.len() as u64)?;
        }
        Ok(Some(Staged {
            spare,
            dest: dir.join(target),
        }))
    }

    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    pub(crate) fn new(_dir: &Path, _target: &str, _bytes: &[u8]) -> io::Result<Option<Staged>> {
        Ok(None)
    }

    /// Makes the staged bytes the target's; `Ok(false)` when the target
    /// does not exist yet (the caller then writes it through a temp file).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    pub(crate) fn swap_in(self) -> io::Result<bool> {
        use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
        match renameat2(
            AT_FDCWD,
            &self.spare,
            AT_FDCWD,
            &self.dest,
            RenameFlags::RENAME_EXCHANGE,
        ) {
            Ok(()) => Ok(true),
            Err(nix::errno::Errno::ENOENT) => Ok(false),
            Err(e) => Err(io::Error::from(e)),
        }
    }

    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    pub(crate) fn swap_in(self) -> io::Result<bool> {
        Ok(false)
    }
}

/// Atomically replaces `dest` with `tmp` without waiting for the disk.
///
/// ext4 (auto_da_alloc) starts writeback of a file renamed over another one,
/// which costs ~150 µs a call on a virtual disk. Exchanging the two names
/// (renameat2 RENAME_EXCHANGE) is just as atomic for readers and skips that;
/// the old content, now under the temp name, is then unlinked. Where the
/// exchange is not possible (no target yet, a filesystem without it) this is
/// a plain rename.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn replace_fast(tmp: &Path, dest: &Path) -> io::Result<()> {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    match renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RenameFlags::RENAME_EXCHANGE) {
        Ok(()) => {
            // A crash right here leaves the old bytes under the temp name:
            // harmless, and `clean` removes it.
            let _ = fs::remove_file(tmp);
            Ok(())
        }
        Err(_) => fs::rename(tmp, dest),
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn replace_fast(tmp: &Path, dest: &Path) -> io::Result<()> {
    fs::rename(tmp, dest)
}

/// Moves a corrupt `registry.json` aside to `registry.json.corrupt-<unix-seconds>`
/// (never overwriting an earlier one) and returns the new path.
pub(crate) fn quarantine(dir: &Path) -> Result<PathBuf> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let from = dir.join(REGISTRY_FILE);
    for k in 0.. {
        let name = if k == 0 {
            format!("{REGISTRY_FILE}.corrupt-{secs}")
        } else {
            format!("{REGISTRY_FILE}.corrupt-{secs}.{k}")
        };
        let to = dir.join(name);
        // link + unlink: fails instead of overwriting an existing file.
        match fs::hard_link(&from, &to) {
            Ok(()) => {
                fs::remove_file(&from)
                    .map_err(|e| Error::io(format!("cannot move {} aside", from.display()), e))?;
                let _ = File::open(dir).and_then(|d| d.sync_all());
                return Ok(to);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::io(
                    format!("cannot move {} aside", from.display()),
                    e,
                ))
            }
        }
    }
    unreachable!()
}

/// Creates the registry directory (mode 0700) if needed and refuses one that
/// another user owns or others can write.
pub(crate) fn prepare_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !parent.is_dir() {
                    return Err(Error::io(
                        format!(
                            "cannot create registry directory {}: its parent {} does not exist; create it first or choose another path",
                            dir.display(),
                            parent.display()
                        ),
                        io::Error::from(io::ErrorKind::NotFound),
                    ));
                }
            }
            match fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Error::io(
                        format!("cannot create registry directory {}", dir.display()),
                        e,
                    ))
                }
            }
        }
        Err(e) => {
            return Err(Error::io(
                format!("cannot read registry directory {}", dir.display()),
                e,
            ))
        }
        Ok(_) => {}
    }
    let meta =
        fs::metadata(dir).map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?;
    if !meta.is_dir() {
        return Err(Error::io(
            format!("registry path {} is not a directory", dir.display()),
            io::Error::from(io::ErrorKind::AlreadyExists),
        ));
    }
    check_owned(dir, &meta, "directory")?;
    if meta.mode() & 0o022 != 0 {
        return Err(Error::Permission(format!(
            "registry directory {} is writable by other users (mode {:o}); a registry is private to one user. Fix it with: chmod 700 {}",
            dir.display(),
            meta.mode() & 0o777,
            dir.display()
        )));
    }
    Ok(())
}

pub(crate) fn check_owned(path: &Path, meta: &fs::Metadata, what: &str) -> Result<()> {
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(Error::Permission(format!(
            "registry {what} {} belongs to {} (uid {}), not to you ({}, uid {me}); a registry is never shared between users. Use your own (set PORTREG_HOME or --registry), or fix the owner: chown {} {}",
            path.display(),
            crate::liveness::user_name(meta.uid()),
            meta.uid(),
            crate::liveness::user_name(me),
            crate::liveness::user_name(me),
            path.display()
        )));
    }
    Ok(())
}

/// Opens (creating, 0600) the lock file and checks it is ours.
pub(crate) fn open_lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::io(format!("cannot open lock file {}", path.display()), e))?;
    let meta = f
        .metadata()
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    check_owned(&path, &meta, "lock file")?;
    Ok(f)
}
