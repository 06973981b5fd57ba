//! The holder lock: a file in the registry directory that a holding process
//! keeps locked for as long as it lives, so that any process sharing the
//! directory can tell it is alive without trusting its pid (which means
//! nothing in another pid namespace) or a clock. The kernel drops the lock
//! when the process dies, however it dies.
//!
//! It is a POSIX record lock (`fcntl(F_SETLK)`), which belongs to the
//! process: a forked child does not inherit it (a child holds none of its
//! parent's leases), and the fd is close-on-exec. Such a lock is also dropped
//! when the process closes *any* descriptor of the file, so this process
//! never opens its own lock file a second time (see [`is_held`]).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::libc;

use crate::error::{Error, Result};
use crate::pid::PerProcess;

/// The lock file of `token` in `dir`.
fn path(dir: &Path, token: &str) -> PathBuf {
    dir.join(format!(".holder-{token}.lock"))
}

/// A token is made of digits and dashes only, so it can never name a file
/// outside the directory.
fn valid(token: &str) -> bool {
    !token.is_empty() && token.len() <= 64 && token.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

struct Held {
    dir: (u64, u64),
    token: String,
    _file: File,
}

/// The locks this process holds. A forked child holds none of its parent's
/// (they are record locks), and starts with an empty list.
static HELD: PerProcess<Mutex<Vec<Held>>> = PerProcess::new();

fn held() -> std::sync::MutexGuard<'static, Vec<Held>> {
    HELD.get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn dir_key(dir: &Path) -> Result<(u64, u64)> {
    let m = std::fs::metadata(dir).map_err(|source| Error::Io {
        context: format!("cannot read {}", dir.display()),
        source,
    })?;
    Ok((m.dev(), m.ino()))
}

fn lock_request(kind: libc::c_short) -> libc::flock {
    // SAFETY: flock is plain data; all-zero is a valid value (whole file).
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl
}

/// Takes (once per process and directory) this process's holder lock in
/// `dir` under `token` (its pid namespace, pid and start ticks, which no
/// other process of this boot shares). The lock lives as long as the
/// process.
pub(crate) fn hold(dir: &Path, token: &str) -> Result<()> {
    if !valid(token) {
        return Err(Error::Internal(format!("bad holder lock token {token:?}")));
    }
    let key = dir_key(dir)?;
    let mut held = held();
    if held.iter().any(|h| h.dir == key && h.token == token) {
        return Ok(());
    }
    let p = path(dir, token);
    for _ in 0..5 {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&p)
            .map_err(|source| Error::Io {
                context: format!("cannot create the holder lock {}", p.display()),
                source,
            })?;
        let fl = lock_request(libc::F_WRLCK as libc::c_short);
        // SAFETY: a valid fd and a valid flock struct.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &fl) } != 0 {
            return Err(Error::Io {
                context: format!("cannot lock the holder lock {}", p.display()),
                source: std::io::Error::last_os_error(),
            });
        }
        // `clean` may have removed a stale file of that name between our
        // open and lock: the lock must be on the file the name points to.
        let ours = file.metadata().map(|m| (m.dev(), m.ino())).ok();
        let named = std::fs::symlink_metadata(&p)
            .map(|m| (m.dev(), m.ino()))
            .ok();
        if ours.is_some() && ours == named {
            held.push(Held {
                dir: key,
                token: token.to_string(),
                _file: file,
            });
            return Ok(());
        }
    }
    Err(Error::Io {
        context: format!("cannot keep the holder lock {} in place", p.display()),
        source: std::io::Error::other("it was removed as often as it was made"),
    })
}

/// Whether some live process holds the lock `token` in `dir`; `own` is this
/// process's token, when it has one.
pub(crate) fn is_held(dir: &Path, token: &str, own: Option<&str>) -> bool {
    if !valid(token) {
        return false;
    }
    if own == Some(token) {
        // Never open our own lock file: closing it would drop our lock.
        let key = dir_key(dir).ok();
        return held().iter().any(|h| Some(h.dir) == key);
    }
    let Ok(file) = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path(dir, token))
    else {
        return false;
    };
    let mut fl = lock_request(libc::F_WRLCK as libc::c_short);
    // SAFETY: a valid fd and a valid flock struct, written by the kernel.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut fl) };
    r == 0 && fl.l_type != libc::F_UNLCK as libc::c_short
}

/// Removes the lock file of `token` once nobody holds it (a holder found
/// dead, or `clean`).
pub(crate) fn remove_if_free(dir: &Path, token: &str, own: Option<&str>) {
    if valid(token) && own != Some(token) && !is_held(dir, token, own) {
        let _ = std::fs::remove_file(path(dir, token));
    }
}

/// Removes every holder lock file in `dir` that nobody holds (left by
/// processes that died).
pub(crate) fn remove_stale(dir: &Path, own: Option<&str>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(token) = name
            .to_str()
            .and_then(|n| n.strip_prefix(".holder-")?.strip_suffix(".lock"))
        else {
            continue;
        };
        remove_if_free(dir, token, own);
    }
}
