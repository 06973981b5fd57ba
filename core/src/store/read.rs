//! Reading a registry file: capped at [`MAX_FILE_BYTES`], into a buffer
//! that is reused, and with the identity of the version that was read
//! ([`FileId`]) so that an unchanged file need not be read again.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::config::MAX_FILE_BYTES;
use crate::error::{Error, Result};

#[cfg(test)]
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

/// Whether a file held open is as it was when its id was taken, asked of
/// the open file (an fstat) rather than of its name (a path lookup, three
/// times dearer). Where ctime is fine-grained this also proves that its
/// name still leads to it: a rename, link or unlink that takes the name
/// away (another file renamed over it, or exchanged with it) gives the file
/// a new ctime, as any write does. It cannot see its directory moved away
/// and another made in its place: the caller vouches for the directory.
pub(crate) fn unchanged(file: &File, id: &FileId) -> bool {
    file.metadata().is_ok_and(|m| FileId::of(&m) == *id)
}

/// Whether the file held open as `id` is still the one at `path`,
/// unchanged: asked of the file when `named` (the call's lock file proves
/// the directory), else of `path`, following a symlink there when `follow`.
pub(crate) fn still_held(file: &File, id: &FileId, path: &Path, named: bool, follow: bool) -> bool {
    let at_path = || {
        if follow {
            fs::metadata(path)
        } else {
            fs::symlink_metadata(path)
        }
    };
    (named && unchanged(file, id)) || at_path().is_ok_and(|m| FileId::of(&m) == *id)
}

/// Reads a registry file into `buf`: `None` when it does not exist,
/// `Err(size)` when it is larger than [`MAX_FILE_BYTES`] (never read into
/// memory). `buf` is cleared first, so a caller reading the same large
/// file again and again reuses one allocation. Also returns the file,
/// still open, and its id.
pub(crate) fn read_held(
    path: &Path,
    buf: &mut Vec<u8>,
) -> Result<Option<std::result::Result<Held, u64>>> {
    use std::io::Read;
    buf.clear();
    let mut f = match open_nofollow(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(open_failed(path, "read", e)),
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

/// Opens a registry file for reading without following a symbolic link:
/// a link planted in the registry directory must not make portreg read (or,
/// for the lock file, create) a file somewhere else.
pub(crate) fn open_nofollow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

/// The error of a failed open of a registry file: a symbolic link where the
/// file should be is refused (`PERMISSION`) with what to do about it.
pub(crate) fn open_failed(path: &Path, doing: &str, e: io::Error) -> Error {
    if e.raw_os_error() == Some(nix::libc::ELOOP) {
        return Error::Permission(format!(
            "cannot {doing} {}: it is a symbolic link, and portreg never follows links inside the registry directory; remove the link (rm {}) or put the real file there",
            path.display(),
            path.display()
        ));
    }
    Error::io(format!("cannot {doing} {}", path.display()), e)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_whole_files_and_knows_their_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert!(read_capped(&path).unwrap().is_none(), "missing");
        fs::write(&path, b"abc").unwrap();
        assert_eq!(read_capped(&path).unwrap(), Some(Ok(b"abc".to_vec())));
        let mut buf = b"old".to_vec();
        let held = read_held(&path, &mut buf).unwrap().unwrap().unwrap();
        assert_eq!(buf, b"abc");
        let (_file, id) = held.expect("unchanged while read");
        assert_eq!(id, FileId::of(&fs::metadata(&path).unwrap()));
        fs::write(&path, b"abcd").unwrap();
        assert_ne!(
            id,
            FileId::of(&fs::metadata(&path).unwrap()),
            "a change is seen"
        );
    }

    #[test]
    fn a_file_past_the_limit_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let f = File::create(&path).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        assert_eq!(read_capped(&path).unwrap(), Some(Err(MAX_FILE_BYTES + 1)));
    }
}
