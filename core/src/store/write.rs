//! Replacing a registry file so that readers only ever see a whole one:
//! durably (a new temp file, fsync, rename, directory fsync) for
//! `registry.json`, atomically without waiting for the disk for
//! `leases.json` (a spare file exchanged into place, or, when old and new
//! text fit in a page, one write over the file itself).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
#[cfg(target_os = "linux")]
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::names::spare_name;
use super::names::temp_name;
use super::read::FileId;
use crate::error::{Error, Result};

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
        let path = dir.join(temp_name(target, crate::pid::my_pid(), n));
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
    #[cfg(target_os = "linux")]
    file: File,
    #[cfg(target_os = "linux")]
    spare: PathBuf,
    #[cfg(target_os = "linux")]
    dest: PathBuf,
}

impl Staged {
    /// Fills the spare; `Ok(None)` where exchanging names is not available.
    pub(crate) fn new(dir: &Path, target: &str, bytes: &[u8]) -> io::Result<Option<Staged>> {
        Staged::new_at(dir.join(spare_name(target)), dir.join(target), bytes, None)
    }

    /// Fills the spare `spare` of `dest`, paths joined by a caller that
    /// writes the same file again and again; into `kept`, when given: the
    /// spare, still open from this process's last exchange, and its length
    /// (the caller knows that nobody has exchanged since, so the spare's
    /// name still points to it). That spares an open, a check of its owner
    /// and a close.
    #[cfg(target_os = "linux")]
    pub(crate) fn new_at(
        spare: PathBuf,
        dest: PathBuf,
        bytes: &[u8],
        kept: Option<(File, u64)>,
    ) -> io::Result<Option<Staged>> {
        use std::os::unix::fs::FileExt;
        let (f, len) = match kept {
            Some(kept) => kept,
            None => {
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
                (f, meta.len())
            }
        };
        f.write_all_at(bytes, 0)?;
        if len > bytes.len() as u64 {
            f.set_len(bytes.len() as u64)?;
        }
        Ok(Some(Staged {
            file: f,
            spare,
            dest,
        }))
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn new_at(
        _spare: PathBuf,
        _dest: PathBuf,
        _bytes: &[u8],
        _kept: Option<(File, u64)>,
    ) -> io::Result<Option<Staged>> {
        Ok(None)
    }

    /// Makes the staged bytes the target's; `Ok(false)` when the target
    /// does not exist yet (the caller then writes it through a temp file).
    #[cfg(target_os = "linux")]
    pub(crate) fn swap_in(self) -> io::Result<bool> {
        self.swap_in_held().map(|h| h.is_some())
    }

    /// [`Staged::swap_in`], returning the file now under the target's name,
    /// still open, with its id taken after the exchange (which changes its
    /// ctime); `Ok(None)` when the target does not exist yet.
    #[cfg(target_os = "linux")]
    pub(crate) fn swap_in_held(self) -> io::Result<Option<(File, FileId)>> {
        match exchange(&self.spare, &self.dest) {
            Ok(()) => {
                let id = FileId::of(&self.file.metadata()?);
                Ok(Some((self.file, id)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn swap_in(self) -> io::Result<bool> {
        Ok(false)
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn swap_in_held(self) -> io::Result<Option<(File, FileId)>> {
        Ok(None)
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
#[cfg(target_os = "linux")]
fn replace_fast(tmp: &Path, dest: &Path) -> io::Result<()> {
    match exchange(tmp, dest) {
        Ok(()) => {
            // A crash right here leaves the old bytes under the temp name:
            // harmless, and `clean` removes it.
            let _ = fs::remove_file(tmp);
            Ok(())
        }
        Err(_) => fs::rename(tmp, dest),
    }
}

/// Swaps the names `a` and `b` in one step (renameat2 RENAME_EXCHANGE),
/// through rustix's system call: nix offers renameat2 for glibc alone, and
/// the musl builds (the static CLI, the musllinux wheel, the musl npm
/// package) need it as much.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    Ok(renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE)?)
}

#[cfg(not(target_os = "linux"))]
fn replace_fast(tmp: &Path, dest: &Path) -> io::Result<()> {
    fs::rename(tmp, dest)
}

/// The most a file edited in place may hold: one page. The kernel copies a
/// write of at most one page, at offset 0, from memory the writer has just
/// filled, in one step, and looks for a fatal signal only between steps, so
/// a writer killed during it leaves the old bytes or the new ones.
const EDIT_IN_PLACE_MAX: u64 = 4096;

/// Whether `text` may be written over a file `len` bytes long: not empty,
/// no longer than the file, and the file at most [`EDIT_IN_PLACE_MAX`].
pub(crate) fn fits_in_place(len: u64, text: &[u8]) -> bool {
    !text.is_empty() && text.len() as u64 <= len && len <= EDIT_IN_PLACE_MAX
}

/// Writes `bytes` over `file` (now `len` bytes long) in one `pwrite` at
/// offset 0, padded with spaces before its last byte to `len`, so that the
/// file's length never changes: no truncation can leave an old tail behind
/// a killed writer's new head, and no block has to be found on a full disk.
/// Returns the file's new id; `Ok(None)`, having written nothing, when
/// [`fits_in_place`] says no (a longer text grows the file by an exchange),
/// or this process's file-size limit would cut
/// the write short; an error when the write fell short anyway (the caller
/// then replaces the file whole).
///
/// Only for leases.json, whose readers hold the registry's shared lock and
/// whose writers hold its exclusive one, so that nobody reads between the
/// bytes, and whose `]`, `}` and newline tolerate trailing spaces.
pub(crate) fn edit_in_place(file: &File, bytes: &[u8], len: u64) -> io::Result<Option<FileId>> {
    use std::os::unix::fs::FileExt;
    if !fits_in_place(len, bytes) || !under_size_limit(len) {
        return Ok(None);
    }
    let mut padded;
    let out = if (bytes.len() as u64) < len {
        let (head, last) = bytes.split_at(bytes.len() - 1);
        padded = Vec::with_capacity(len as usize);
        padded.extend_from_slice(head);
        padded.resize(len as usize - 1, b' ');
        padded.extend_from_slice(last);
        &padded[..]
    } else {
        bytes
    };
    let n = file.write_at(out, 0)?;
    if n != out.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "a short write"));
    }
    Ok(Some(FileId::of(&file.metadata()?)))
}

/// Whether a write of `len` bytes at offset 0 fits this process's file-size
/// limit (`ulimit -f`), which cuts longer writes short even inside a file
/// already that long.
fn under_size_limit(len: u64) -> bool {
    use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
    match getrlimit(Resource::RLIMIT_FSIZE) {
        Ok((soft, _)) => soft == RLIM_INFINITY || soft >= len,
        Err(_) => false,
    }
}
