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
    /// Each entry's text as last written, parallel to `entries`; `None`
    /// once the entry changes. A write re-serializes only changed entries,
    /// so adding one name to a large registry does not re-encode the rest.
    frags: Vec<Option<Box<[u8]>>>,
    /// Each entry's port, parallel to `entries`: scanning ports and sorting
    /// by them touches 2 bytes an entry instead of the whole entry.
    pub ports: Vec<u16>,
}

impl RegData {
    pub fn from_entries(entries: Vec<StoredEntry>, version: u64) -> RegData {
        let index = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (name_key(&e.name), i))
            .collect();
        let frags = vec![None; entries.len()];
        let ports = entries.iter().map(|e| e.port).collect();
        RegData {
            entries,
            index,
            version,
            frags,
            ports,
        }
    }

    pub fn get(&self, name: &str) -> Option<&StoredEntry> {
        self.index.get(&name_key(name)).map(|&i| &self.entries[i])
    }

    pub fn insert(&mut self, e: StoredEntry) {
        match self.index.get(&name_key(&e.name)) {
            Some(&i) => {
                self.ports[i] = e.port;
                self.entries[i] = e;
                self.frags[i] = None;
            }
            None => {
                self.index.insert(name_key(&e.name), self.entries.len());
                self.ports.push(e.port);
                self.entries.push(e);
                self.frags.push(None);
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<StoredEntry> {
        let i = self.index.remove(&name_key(name))?;
        let e = self.entries.swap_remove(i);
        self.frags.swap_remove(i);
        self.ports.swap_remove(i);
        if let Some(moved) = self.entries.get(i) {
            self.index.insert(name_key(&moved.name), i);
        }
        Some(e)
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

/// Serializes the durable facts, sorted by port then name, pretty-printed:
/// byte for byte what `serde_json::to_vec_pretty` gives for the whole file,
/// but each entry's text is kept in `data` and reused while it is unchanged.
pub(crate) fn serialize_registry(data: &mut RegData, out: &mut Vec<u8>) {
    // Sort (port, index) keys; only names sharing a port need their names compared.
    let mut order: Vec<u64> = data
        .ports
        .iter()
        .enumerate()
        .map(|(i, &p)| (u64::from(p) << 32) | i as u64)
        .collect();
    order.sort_unstable();
    let entries = &data.entries;
    let mut start = 0;
    while start < order.len() {
        let port = order[start] >> 32;
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&k| k >> 32 == port)
                .count();
        if end - start > 1 {
            order[start..end].sort_by(|&a, &b| {
                cmp_names(
                    &entries[a as u32 as usize].name,
                    &entries[b as u32 as usize].name,
                )
            });
        }
        start = end;
    }
    for (e, frag) in data.entries.iter().zip(data.frags.iter_mut()) {
        if frag.is_none() {
            *frag = Some(entry_text(e).into_boxed_slice());
        }
    }
    let body: usize = data.frags.iter().flatten().map(|f| f.len() + 6).sum();
    out.clear();
    out.reserve(body + 64);
    out.extend_from_slice(b"{\n  \"version\": ");
    out.extend_from_slice(FORMAT_VERSION.to_string().as_bytes());
    out.extend_from_slice(b",\n  \"entries\": [");
    for (k, &key) in order.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"\n    ");
        out.extend_from_slice(
            data.frags[key as u32 as usize]
                .as_deref()
                .unwrap_or_default(),
        );
    }
    if !order.is_empty() {
        out.extend_from_slice(b"\n  ");
    }
    out.extend_from_slice(b"]\n}\n");
}

/// One entry pretty-printed at the depth it has in the file (inside
/// `"entries": [...]`): serde_json's own output with every line after the
/// first indented four more spaces. JSON strings never hold a raw newline,
/// so every `\n` is a line break of the layout.
fn entry_text(e: &StoredEntry) -> Vec<u8> {
    let flat = serde_json::to_vec_pretty(e).expect("entry serializes");
    let lines = flat.iter().filter(|&&b| b == b'\n').count();
    let mut out = Vec::with_capacity(flat.len() + 4 * lines);
    for &b in &flat {
        out.push(b);
        if b == b'\n' {
            out.extend_from_slice(b"    ");
        }
    }
    out
}

/// Orders names case-insensitively without allocating.
pub(crate) fn cmp_names(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
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
    Ok(read_capped_into(path, &mut bytes)?.map(|r| r.map(|()| bytes)))
}

/// [`read_capped`] into `buf` (cleared first), so a caller that reads the
/// same large file again and again reuses one allocation.
pub(crate) fn read_capped_into(
    path: &Path,
    buf: &mut Vec<u8>,
) -> Result<Option<std::result::Result<(), u64>>> {
    use std::io::Read;
    buf.clear();
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_FILE_BYTES {
        return Ok(Some(Err(len)));
    }
    buf.reserve(len as usize + 1);
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(buf)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Ok(Some(Err(buf.len() as u64)));
    }
    Ok(Some(Ok(())))
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
    refs.sort_unstable_by(|a, b| a.1.cmp(&b.1).then_with(|| cmp_names(&a.0.name, &b.0.name)));
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

/// Writes `bytes` to `target` atomically: a new temp file in the same
/// directory (O_EXCL, 0600), then rename over the target. With `durable`, the
/// temp file is fsynced before the rename and the directory after it.
pub(crate) fn write_atomic(dir: &Path, target: &str, bytes: &[u8], durable: bool) -> Result<()> {
    if !durable {
        if let Ok(Some(staged)) = Staged::new(dir, target, bytes) {
            if let Ok(true) = staged.swap_in() {
                return Ok(());
            }
        }
    }
    write_via_temp(dir, target, bytes, durable)
}

fn write_via_temp(dir: &Path, target: &str, bytes: &[u8], durable: bool) -> Result<()> {
    let dest = dir.join(target);
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{target}.{}.{n}.tmp", std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
        drop(f);
        if durable {
            fs::rename(&tmp, &dest)?;
            File::open(dir)?.sync_all()?;
        } else {
            replace_fast(&tmp, &dest)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(format!("cannot write {}", dest.display()), e));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn entry(name: &str, port: u16, i: usize) -> StoredEntry {
        let mut meta = BTreeMap::new();
        if i % 2 == 0 {
            meta.insert(
                "project".to_string(),
                format!("/home/d\u{e9}v/p{i} \"q\"\n\t\\"),
            );
            meta.insert(
                "health".to_string(),
                "http://127.0.0.1/\u{1F600}".to_string(),
            );
        }
        StoredEntry {
            name: name.to_string(),
            port,
            reserved: i % 3 == 0,
            description: (i % 4 != 0).then(|| format!("line\none \u{7f}\u{1} {i}")),
            meta,
            created: "2026-01-01T00:00:00Z".to_string(),
            changed: "2026-01-02T00:00:00Z".to_string(),
        }
    }

    /// What the file must be: serde_json's pretty output of the whole file.
    fn reference(data: &RegData) -> Vec<u8> {
        let mut refs: Vec<&StoredEntry> = data.entries.iter().collect();
        refs.sort_by(|a, b| {
            a.port
                .cmp(&b.port)
                .then_with(|| cmp_names(&a.name, &b.name))
        });
        let mut out = serde_json::to_vec_pretty(&RegistryFile {
            version: FORMAT_VERSION,
            entries: refs,
        })
        .unwrap();
        out.push(b'\n');
        out
    }

    #[test]
    fn reused_entry_text_gives_the_same_bytes_as_a_whole_file_encode() {
        let mut data = RegData::from_entries(Vec::new(), FORMAT_VERSION);
        let ser = |d: &mut RegData| {
            let mut out = b"left over".to_vec();
            serialize_registry(d, &mut out);
            out
        };
        assert_eq!(ser(&mut data), reference(&data));
        for i in 0..40 {
            // ports collide on purpose so the name breaks the tie
            data.insert(entry(&format!("Svc-{}", 40 - i), 9000 + (i % 7) as u16, i));
            assert_eq!(ser(&mut data), reference(&data), "after insert {i}");
        }
        for i in (0..40).step_by(3) {
            data.remove(&format!("svc-{}", 40 - i));
            assert_eq!(ser(&mut data), reference(&data), "after remove {i}");
            let mut e = entry(&format!("Svc-{}", 39 - i), 8000, i + 1);
            e.description = Some(format!("changed {i}"));
            data.insert(e);
            assert_eq!(ser(&mut data), reference(&data), "after change {i}");
        }
        let text = ser(&mut data);
        match parse_registry(&text) {
            RegRead::Ok(back) => assert_eq!(back.entries.len(), data.entries.len()),
            RegRead::Corrupt(why) => panic!("{why}"),
        }
    }
}
