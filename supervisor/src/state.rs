//! What a supervisor tells the world, kept in its checkout's folder under
//! the registry directory (`projects/KEY/`):
//! - `supervisor.lock`: held (flock) for the supervisor's whole life, so
//!   "is a supervisor running?" has an answer that a SIGKILL cannot falsify;
//! - `state.json`: every service's state, rewritten (temp file + rename) on
//!   each change, read by `ps` and, after a crash, by the next `up`/`down`
//!   to stop what the dead supervisor left running;
//! - `supervisor.sock`: the Unix socket `down`, `restart` and `up` talk to;
//! - `logs/SERVICE.log`: each service's output.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use portreg_core::{Error, Result};
use serde::{Deserialize, Serialize};

pub const STATE_FILE: &str = "state.json";
pub const LOCK_FILE: &str = "supervisor.lock";
pub const SOCKET_FILE: &str = "supervisor.sock";
pub const LOGS_DIR: &str = "logs";

/// A process named so that a reused pid is never mistaken for it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Proc {
    pub pid: u32,
    /// Start time in clock ticks since boot (/proc/PID/stat field 22).
    pub start_time: u64,
}

impl Proc {
    /// The process `pid` as it is now, if it exists.
    pub fn of(pid: u32) -> Option<Proc> {
        portreg_core::process::start_ticks(pid).map(|start_time| Proc { pid, start_time })
    }

    /// Whether this very process is still running.
    pub fn alive(&self) -> bool {
        Proc::of(self.pid) == Some(*self)
    }
}

/// One service as `ps` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceState {
    /// The name in portreg.toml.
    pub service: String,
    /// The registry name (`api.shop`).
    pub name: String,
    pub port: Option<u16>,
    /// starting / healthy / running / unhealthy / exited N / restarting /
    /// stopped / waiting / failed / orphaned.
    pub state: String,
    /// The process the supervisor started (the leader of its group).
    pub pid: Option<u32>,
    #[serde(default)]
    pub start_time: Option<u64>,
    /// Unix seconds when the current process started.
    pub started_at: Option<u64>,
    pub restarts: u32,
    pub exit_code: Option<i32>,
    pub url: Option<String>,
    /// The last health probe's result or why it failed, for messages.
    #[serde(default)]
    pub detail: Option<String>,
    /// The stop timeout, so that a later `down` stops a leftover the same way.
    #[serde(default)]
    pub stop_timeout_ms: u64,
}

/// The whole checkout as the supervisor sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectState {
    pub version: u32,
    pub project: String,
    pub label: Option<String>,
    pub root: PathBuf,
    pub supervisor: Proc,
    pub detached: bool,
    pub services: Vec<ServiceState>,
}

/// Creates `dir` (and parents) private to the user.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::Io {
            context: format!("cannot create {}", dir.display()),
            source: e,
        })
}

/// Writes `bytes` to `path` atomically (temp file in the same folder, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let res = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|_| fs::rename(&tmp, path));
    res.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::Io {
            context: format!("cannot write {}", path.display()),
            source: e,
        }
    })
}

pub fn read_state(dir: &Path) -> Option<ProjectState> {
    let bytes = fs::read(dir.join(STATE_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn write_state(dir: &Path, st: &ProjectState) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(st).map_err(|e| Error::Internal(e.to_string()))?;
    bytes.push(b'\n');
    write_atomic(&dir.join(STATE_FILE), &bytes)
}

/// The supervisor's lifetime lock on a checkout, held while it runs.
pub struct SupervisorLock {
    _lock: Box<fd_lock::RwLockWriteGuard<'static, fs::File>>,
}

fn open_lock(dir: &Path) -> Result<fs::File> {
    ensure_dir(dir)?;
    let path = dir.join(LOCK_FILE);
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::Io {
            context: format!("cannot open {}", path.display()),
            source: e,
        })
}

impl SupervisorLock {
    /// Takes the lock, or None when another supervisor holds it.
    pub fn try_take(dir: &Path) -> Result<Option<SupervisorLock>> {
        let file = open_lock(dir)?;
        // The lock lives as long as the supervisor: leak the RwLock so the
        // guard can be 'static.
        let lock: &'static mut fd_lock::RwLock<fs::File> =
            Box::leak(Box::new(fd_lock::RwLock::new(file)));
        match lock.try_write() {
            Ok(g) => Ok(Some(SupervisorLock { _lock: Box::new(g) })),
            Err(_) => Ok(None),
        }
    }
}

/// Whether a live supervisor holds the checkout's lock.
pub fn supervisor_running(dir: &Path) -> bool {
    let Ok(file) = fs::File::open(dir.join(LOCK_FILE)) else {
        return false;
    };
    let mut lock = fd_lock::RwLock::new(file);
    let free = lock.try_write().is_ok();
    !free
}

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
