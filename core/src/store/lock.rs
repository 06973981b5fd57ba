//! Taking the registry lock (`flock` on `registry.lock`) without waiting
//! forever: a process that holds it and is stopped (Ctrl-Z, SIGSTOP) or
//! hung is named once after [`NOTICE_AFTER`], and the call gives up with
//! `LOCK_TIMEOUT` after the lock timeout, before reading or writing
//! anything. On a registry that cannot be written, a read takes the shared
//! lock through a read-only open (flock needs no write access).

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::dir;
use super::names::LOCK_FILE;
use super::read::open_nofollow;
use crate::error::{Error, Result};

/// How long a call waits before saying who holds the lock.
pub(crate) const NOTICE_AFTER: Duration = Duration::from_secs(1);

/// A held lock: released when dropped (or when the process dies). `None`
/// inside for a read of a read-only registry that has no lock file, which
/// nobody can change anyway. The flag says it was taken at the first try,
/// by this descriptor alone.
pub(crate) struct Held(Option<Flock<File>>, bool);

impl Held {
    /// Whether the lock was taken at the first try, on the file given.
    pub fn first_try(&self) -> bool {
        self.0.is_some() && self.1
    }

    /// Releases the lock and gives the file back, to be kept for the next
    /// call: only when the lock was taken at the first try. After a wait,
    /// a thread may still lock a second descriptor of the same open file
    /// (see [`Waiter`]), so that file is closed instead.
    pub fn unlock(mut self) -> Option<File> {
        let held = self.0.take()?;
        if !self.1 {
            return None;
        }
        held.unlock().ok()
    }
}

/// The lock file opened for a shared lock: read-write (created if needed),
/// else, where the registry cannot be written, read-only; `Ok(None)` when
/// it cannot be written and has no lock file. The second value says the
/// registry is read-only, and why.
pub(crate) fn open_for_read(dir_path: &Path) -> Result<(Option<File>, Option<String>)> {
    match dir::open_lock(dir_path) {
        Ok(f) => Ok((Some(f), None)),
        Err(e) => {
            let path = dir_path.join(LOCK_FILE);
            let why = match read_only_reason(dir_path) {
                Some(why) => why,
                None => return Err(e),
            };
            match open_nofollow(&path) {
                Ok(f) => {
                    let meta = f
                        .metadata()
                        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
                    dir::check_owned(&path, &meta, "lock file")?;
                    Ok((Some(f), Some(why)))
                }
                Err(e2) if e2.kind() == io::ErrorKind::NotFound => Ok((None, Some(why))),
                Err(_) => Err(e),
            }
        }
    }
}

/// Why the registry in `dir_path` cannot be written, if it cannot: a
/// read-only mount, or a lock file this user may not write.
pub(crate) fn read_only_reason(dir_path: &Path) -> Option<String> {
    if let Ok(st) = nix::sys::statvfs::statvfs(dir_path) {
        if st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
            return Some("it is on a read-only file system".into());
        }
    }
    let lock = dir_path.join(LOCK_FILE);
    if nix::unistd::access(&lock, nix::unistd::AccessFlags::W_OK) == Err(Errno::EACCES) {
        return Some(format!("its lock file {} is not writable", lock.display()));
    }
    None
}

/// Takes the lock on `file` (`exclusive` or shared), waiting at most
/// `timeout`. After [`NOTICE_AFTER`] `notice` is told once who holds it.
pub(crate) fn acquire(
    file: Option<File>,
    exclusive: bool,
    path: &Path,
    timeout: Duration,
    notice: &dyn Fn(String),
) -> Result<Held> {
    let Some(file) = file else {
        return Ok(Held(None, false));
    };
    let arg = if exclusive {
        FlockArg::LockExclusiveNonblock
    } else {
        FlockArg::LockSharedNonblock
    };
    // The common case: nobody holds it, one system call.
    let file = match Flock::lock(file, arg) {
        Ok(held) => return Ok(Held(Some(held), true)),
        Err((f, Errno::EWOULDBLOCK)) | Err((f, Errno::EINTR)) => f,
        Err((_, e)) => return Err(lock_error(path, e)),
    };
    if timeout.is_zero() {
        return Err(timed_out(&file, path, timeout));
    }
    let start = Instant::now();
    match Waiter::start(&file, exclusive) {
        Some(waiter) => waiter.wait(&file, path, start, timeout, notice),
        None => poll(file, arg, path, start, timeout, notice),
    }
}

fn lock_error(path: &Path, e: Errno) -> Error {
    Error::io(
        format!("cannot lock the registry ({})", path.display()),
        io::Error::from(e),
    )
}

fn timed_out(file: &File, path: &Path, timeout: Duration) -> Error {
    Error::LockTimeout {
        path: path.to_path_buf(),
        holder: holder_of(file),
        secs: timeout.as_secs_f64(),
    }
}

fn tell_holder(file: &File, path: &Path, timeout: Duration, notice: &dyn Fn(String)) {
    let who = holder_of(file).unwrap_or_else(|| "another process".into());
    notice(format!(
        "waiting for the registry lock {}, held by {who}; giving up after {} s (PORTREG_LOCK_TIMEOUT)",
        path.display(),
        timeout.as_secs_f64()
    ));
}

/// A blocking `flock` on a thread of its own, so that the waiter sits in
/// the kernel's queue and gets the lock the moment it is free (a poll
/// would sleep through most hand-overs once it has backed off), while the
/// caller still gives up after its timeout.
///
/// The thread locks a second descriptor of the same open file, so the lock
/// it takes is the caller's. If the caller gave up, the thread, once it
/// gets the lock, finds nobody to hand it to and releases it at once.
struct Waiter(mpsc::Receiver<std::result::Result<Flock<File>, Errno>>);

impl Waiter {
    /// `None` when no thread could be started (the caller polls instead),
    /// and in a child made by fork, which starts none: its parent's threads
    /// may have held locks of Rust's standard library at the fork (the
    /// list of threads its stack-overflow handler keeps), and a thread
    /// started in the child would wait on them for ever. Seen: a forked
    /// child's waiter hung in std's thread start-up, the child in turn
    /// waiting on it until its lock timeout (core/tests/fork.rs on musl).
    fn start(file: &File, exclusive: bool) -> Option<Waiter> {
        if crate::pid::forked() {
            return None;
        }
        let mut dup = file.try_clone().ok()?;
        let arg = if exclusive {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockShared
        };
        let (tx, rx) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("portreg-lock".into())
            .stack_size(64 * 1024)
            .spawn(move || loop {
                dup = match Flock::lock(dup, arg) {
                    Err((f, Errno::EINTR)) => f,
                    // A send to a caller that gave up drops the lock here.
                    done => {
                        let _ = tx.send(done.map_err(|(_, e)| e));
                        return;
                    }
                };
            })
            .ok()?;
        Some(Waiter(rx))
    }

    fn wait(
        self,
        file: &File,
        path: &Path,
        start: Instant,
        timeout: Duration,
        notice: &dyn Fn(String),
    ) -> Result<Held> {
        let mut told = false;
        loop {
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(timed_out(file, path, timeout));
            }
            let until = if told {
                timeout
            } else {
                NOTICE_AFTER.min(timeout)
            };
            match self.0.recv_timeout(until.saturating_sub(waited)) {
                Ok(Ok(held)) => return Ok(Held(Some(held), false)),
                Ok(Err(e)) => return Err(lock_error(path, e)),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(lock_error(path, Errno::EINTR))
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if !told && start.elapsed() >= NOTICE_AFTER && start.elapsed() < timeout {
                        told = true;
                        tell_holder(file, path, timeout, notice);
                    }
                }
            }
        }
    }
}

/// Waits by polling, backing off so a long wait costs little: where no
/// thread can be started.
fn poll(
    mut file: File,
    arg: FlockArg,
    path: &Path,
    start: Instant,
    timeout: Duration,
    notice: &dyn Fn(String),
) -> Result<Held> {
    let mut pause = Duration::from_micros(100);
    let mut told = false;
    loop {
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(timed_out(&file, path, timeout));
        }
        if !told && waited >= NOTICE_AFTER {
            told = true;
            tell_holder(&file, path, timeout, notice);
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(10));
        file = match Flock::lock(file, arg) {
            Ok(held) => return Ok(Held(Some(held), false)),
            Err((f, Errno::EWOULDBLOCK)) | Err((f, Errno::EINTR)) => f,
            Err((_, e)) => return Err(lock_error(path, e)),
        };
    }
}

/// Who holds a lock on `file`, from /proc/locks (the flock locks on its
/// device and inode): `pid N (command line)`. `None` where that cannot be
/// seen (no /proc, a holder in another pid namespace).
fn holder_of(file: &File) -> Option<String> {
    let meta = file.metadata().ok()?;
    let (major, minor) = (
        nix::sys::stat::major(meta.dev()),
        nix::sys::stat::minor(meta.dev()),
    );
    let want = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let locks = fs::read_to_string("/proc/locks").ok()?;
    let pid = locks.lines().find_map(|line| {
        // "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; waiters have "->".
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() >= 6 && f[1] == "FLOCK" && f[5] == want)
            .then(|| f[4].parse::<u32>().ok())
            .flatten()
            .filter(|&p| p > 0)
    })?;
    Some(format!("pid {pid} ({})", command_of(pid)))
}

/// A process's command line on one line, control characters escaped; its
/// name when the command line cannot be read.
fn command_of(pid: u32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut text = String::from_utf8_lossy(&raw)
        .trim_end_matches('\0')
        .replace('\0', " ");
    if text.is_empty() {
        text = fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|s| s.trim_end().to_string())
            .unwrap_or_else(|_| "?".into());
    }
    let mut out = String::new();
    for c in text.chars().take(200) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
