//! Host-wide claims: every leased port is also claimed in one directory all
//! users share, so no two users' leases get the same port, race or no race.
//!
//! A claim is a file `<port>.<uid>` holding `{port, uid, pid, start_ticks,
//! boot_id}`, created exclusively by its user in a sticky directory (nobody
//! else can remove it). To take a port a lease first looks for another
//! user's live claim on it, then creates its own, then looks again: if
//! another user's claim appeared it removes its own and tries another port.
//! Two users racing for one port may both step back, never both keep it.
//!
//! Claims of other users are read without trusting them ([`claim::read`]):
//! forged names, links, junk and claims beyond a user's cap are ignored, a
//! dead holder's claim too (its owner removes it later). The registry
//! itself stays private: a claim says nothing of names or commands.

mod claim;
mod place;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use nix::dir::Dir;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};
use serde::Serialize;

use crate::error::{Error, Result};
use claim::{ClaimFile, Seen};
use place::Place;
pub use place::{CLAIMS_CAP_VAR, CLAIMS_DIR_VAR, DEFAULT_CLAIMS_CAP, DEFAULT_CLAIMS_DIR};

/// How often a lease steps back from a port another user took at the same
/// instant before giving up with that user's `PORT_TAKEN`.
const MAX_RACES: usize = 16;

/// One claim on the host, as anyone may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostClaim {
    pub port: u16,
    pub uid: u32,
    /// The owner's user name (the uid when the name is unknown).
    pub user: String,
    /// Whether the process that holds the lease still runs.
    pub alive: bool,
    /// The calling user's own claim.
    pub mine: bool,
    /// False for claims beyond their owner's cap: other users ignore them.
    pub honoured: bool,
}

/// The claims area of one registry: resolved and opened on first use.
pub(crate) struct Area {
    registry_dir: PathBuf,
    state: OnceLock<Resolved>,
    warned: std::sync::atomic::AtomicBool,
}

enum Resolved {
    Off,
    /// The default place was unsafe: leases stay private, with a warning.
    Refused(String),
    /// A configured place was unsafe: leases fail with this message.
    Fatal(String),
    Open(Arc<Shared>, Option<String>),
}

struct Shared {
    path: PathBuf,
    uid: u32,
    cap: usize,
    scan: Mutex<Scan>,
}

/// The directory and what its last reading found.
struct Scan {
    dir: Dir,
    stamp: Option<[i64; 5]>,
    /// Other users' claim files by port (within each user's cap).
    others: HashMap<u16, Vec<(u32, String)>>,
    /// Other users' claim files beyond their cap.
    ignored: Vec<(u16, u32, String)>,
    /// This user's claim files.
    own: Vec<(u16, String)>,
}

thread_local! {
    /// The claims area of the lease being decided on this thread.
    static IN_SCOPE: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

/// Another user's live claim on `port`, as the error a lease of it gets;
/// None outside a lease or when no other user claims it.
pub(crate) fn claimed_by_other(port: u16) -> Option<Error> {
    let shared = IN_SCOPE.with(|s| s.borrow().clone())?;
    let mut scan = shared.lock();
    if scan.refresh(&shared, false).is_err() {
        return None;
    }
    let uid = scan.live_other(port)?;
    Some(shared.taken(port, uid))
}

impl Area {
    pub fn new(registry_dir: &Path) -> Area {
        Area {
            registry_dir: registry_dir.to_path_buf(),
            state: OnceLock::new(),
            warned: Default::default(),
        }
    }

    fn resolved(&self) -> &Resolved {
        self.state.get_or_init(|| {
            let (place, cap, note) = place::settings(&self.registry_dir);
            let uid = nix::unistd::geteuid().as_raw();
            let (path, source) = match place {
                Place::Off => return Resolved::Off,
                Place::Default(p) => (p, None),
                Place::Explicit(p, source) => (p, Some(source)),
            };
            let opened = place::open_dir(&path, uid).and_then(|fd| {
                Dir::from_fd(fd).map_err(|e| format!("cannot read {}: {e}", path.display()))
            });
            match opened {
                Ok(dir) => {
                    let scan = Mutex::new(Scan {
                        dir,
                        stamp: None,
                        others: HashMap::new(),
                        ignored: Vec::new(),
                        own: Vec::new(),
                    });
                    Resolved::Open(
                        Arc::new(Shared {
                            path,
                            uid,
                            cap,
                            scan,
                        }),
                        note,
                    )
                }
                Err(why) => match source {
                    Some(source) => {
                        Resolved::Fatal(format!("{why} (the directory is set by {source})"))
                    }
                    None => Resolved::Refused(format!(
                        "{why}. Until then your leases are not shared with other users of this host"
                    )),
                },
            }
        })
    }

    /// A warning to give once: the shared area is unsafe, or a setting is bad.
    pub fn take_warning(&self) -> Option<String> {
        let w = match self.resolved() {
            Resolved::Refused(w) | Resolved::Open(_, Some(w)) => w.clone(),
            _ => return None,
        };
        (!self.warned.swap(true, std::sync::atomic::Ordering::Relaxed)).then_some(w)
    }

    fn shared(&self) -> Result<Option<&Arc<Shared>>> {
        match self.resolved() {
            Resolved::Open(s, _) => Ok(Some(s)),
            Resolved::Fatal(why) => Err(Error::Permission(why.clone())),
            Resolved::Off | Resolved::Refused(_) => Ok(None),
        }
    }

    /// Runs `f` (a free-port search) seeing other users' claims as taken.
    pub fn scoped<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let Some(shared) = self.shared()? else {
            return f();
        };
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                IN_SCOPE.with(|s| s.borrow_mut().take());
            }
        }
        IN_SCOPE.with(|s| *s.borrow_mut() = Some(shared.clone()));
        let _reset = Reset;
        f()
    }

    /// Chooses a port with `choose` and claims it for `pid`; a port another
    /// user claimed at the same instant is given up and another chosen.
    pub fn lease(&self, pid: u32, mut choose: impl FnMut() -> Result<u16>) -> Result<u16> {
        let Some(shared) = self.shared()?.cloned() else {
            return choose();
        };
        let mut races = 0;
        loop {
            let port = self.scoped(&mut choose)?;
            match shared.claim(port, pid) {
                Err(Error::ClaimedByUser { .. }) if races < MAX_RACES => races += 1,
                other => return other.map(|()| port),
            }
        }
    }

    /// Removes this user's claim on `port` (its lease ended).
    pub fn unclaim(&self, port: u16) {
        if let Ok(Some(shared)) = self.shared() {
            let mut scan = shared.lock();
            if scan.refresh(shared, true).is_ok() {
                scan.remove_own(port, |_| true);
            }
        }
    }

    /// Makes `pid` the holder of this user's claim on `port`.
    pub fn hand_over(&self, port: u16, pid: u32) -> Result<()> {
        let Some(shared) = self.shared()? else {
            return Ok(());
        };
        shared.claim(port, pid)
    }

    /// Removes this user's claims whose holder is gone.
    pub fn purge(&self) -> Result<()> {
        if let Some(shared) = self.shared()? {
            let mut scan = shared.lock();
            scan.refresh(shared, true)?;
            scan.purge_dead(shared.uid);
        }
        Ok(())
    }

    /// Every claim on the host (empty when sharing is off or refused).
    pub fn claims(&self) -> Result<Vec<HostClaim>> {
        let Some(shared) = self.shared()? else {
            return Ok(Vec::new());
        };
        let mut scan = shared.lock();
        scan.refresh(shared, true)?;
        let fd = scan.dir.as_fd();
        let mut out = Vec::new();
        let others = scan
            .others
            .iter()
            .flat_map(|(p, v)| v.iter().map(move |(u, n)| (*p, *u, n, true)));
        let ignored = scan.ignored.iter().map(|(p, u, n)| (*p, *u, n, false));
        let own = scan.own.iter().map(|(p, n)| (*p, shared.uid, n, true));
        for (port, uid, name, honoured) in others.chain(ignored).chain(own) {
            let alive = match claim::read(fd, name, port, uid) {
                Seen::Alive { .. } => true,
                Seen::Dead => false,
                Seen::Bogus => continue,
            };
            out.push(HostClaim {
                port,
                uid,
                user: crate::liveness::user_name(uid),
                alive,
                mine: uid == shared.uid,
                honoured,
            });
        }
        out.sort_by_key(|c| (c.port, c.uid));
        out.dedup_by_key(|c| (c.port, c.uid));
        Ok(out)
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Scan> {
        self.scan.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn taken(&self, port: u16, uid: u32) -> Error {
        Error::ClaimedByUser {
            port,
            user: crate::liveness::user_name(uid),
            dir: self.path.clone(),
        }
    }

    fn io(&self, what: &str, e: nix::Error) -> Error {
        Error::io(
            format!(
                "cannot {what} in the shared claims directory {}",
                self.path.display()
            ),
            e.into(),
        )
    }

    /// Claims `port` for `pid` (replacing this user's earlier claim on it),
    /// then checks that no other user claimed it meanwhile.
    fn claim(&self, port: u16, pid: u32) -> Result<()> {
        let (start_ticks, _) = claim::start_ticks(pid).ok_or_else(|| {
            Error::Process(format!(
                "cannot read /proc/{pid}/stat; a lease needs a live holder"
            ))
        })?;
        let body = serde_json::to_vec(&ClaimFile {
            port,
            uid: self.uid,
            pid,
            start_ticks,
            boot_id: claim::boot_id().to_string(),
        })
        .map_err(|e| Error::Internal(format!("claim encoding: {e}")))?;
        let mut scan = self.lock();
        // Usually still fresh from the free-port search a moment ago.
        scan.refresh(self, false)?;
        if scan.own.iter().filter(|(p, _)| *p != port).count() >= self.cap {
            scan.purge_dead(self.uid);
            if scan.own.iter().filter(|(p, _)| *p != port).count() >= self.cap {
                return Err(Error::ClaimCap {
                    cap: self.cap,
                    dir: self.path.clone(),
                });
            }
        }
        scan.remove_own(port, |_| true);
        let name = scan.create(self, port, &body)?;
        // Whoever created a claim on this port before our look sees ours;
        // whoever created one after it is seen now: one of us steps back.
        scan.refresh(self, true)?;
        if let Some(uid) = scan.live_other(port) {
            let _ = unlinkat(scan.dir.as_fd(), name.as_str(), UnlinkatFlags::NoRemoveDir);
            scan.stamp = None;
            return Err(self.taken(port, uid));
        }
        Ok(())
    }
}

impl Scan {
    /// Reads the directory again when it changed (or when `force`d: a
    /// change within one timestamp tick does not show in its mtime).
    fn refresh(&mut self, shared: &Shared, force: bool) -> Result<()> {
        let st = fstat(self.dir.as_fd()).map_err(|e| shared.io("read", e))?;
        let stamp = [
            st.st_mtime,
            st.st_mtime_nsec,
            st.st_ctime,
            st.st_ctime_nsec,
            st.st_size,
        ];
        if !force && self.stamp == Some(stamp) {
            return Ok(());
        }
        let mut by_uid: HashMap<u32, Vec<(u16, String)>> = HashMap::new();
        self.own.clear();
        for entry in self.dir.iter() {
            let Ok(entry) = entry else {
                continue;
            };
            let bytes = entry.file_name().to_bytes();
            let Some((port, uid)) = claim::parse_name(bytes) else {
                continue;
            };
            let name = String::from_utf8_lossy(bytes).into_owned();
            if uid == shared.uid {
                self.own.push((port, name));
            } else {
                by_uid.entry(uid).or_default().push((port, name));
            }
        }
        self.others.clear();
        self.ignored.clear();
        for (uid, mut files) in by_uid {
            // A user flooding the directory is honoured for its lowest
            // `cap` ports only: the rest of everyone's range stays usable.
            if files.len() > shared.cap {
                files.sort_unstable();
                for (port, name) in files.drain(shared.cap..) {
                    self.ignored.push((port, uid, name));
                }
            }
            for (port, name) in files {
                self.others.entry(port).or_default().push((uid, name));
            }
        }
        self.stamp = Some(stamp);
        Ok(())
    }

    /// The uid of another user's live claim on `port`.
    fn live_other(&self, port: u16) -> Option<u32> {
        let fd = self.dir.as_fd();
        self.others
            .get(&port)?
            .iter()
            .find(|(uid, name)| matches!(claim::read(fd, name, port, *uid), Seen::Alive { .. }))
            .map(|(uid, _)| *uid)
    }

    /// Creates this user's claim file on `port` (never over an existing
    /// file; a squatted plain name gets a unique tag); returns its name.
    fn create(&mut self, shared: &Shared, port: u16, body: &[u8]) -> Result<String> {
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let mode = Mode::from_bits_truncate(0o644);
        let mut name = claim::plain_name(port, shared.uid);
        let fd = match openat(self.dir.as_fd(), name.as_str(), flags, mode) {
            Err(nix::Error::EEXIST) => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0);
                name = format!("{name}.p{}n{nanos}", std::process::id());
                openat(self.dir.as_fd(), name.as_str(), flags, mode)
            }
            other => other,
        }
        .map_err(|e| shared.io("create a claim", e))?;
        self.stamp = None;
        // Readable by everyone whatever the umask: others check it.
        let written = fchmod(fd.as_fd(), mode)
            .map_err(std::io::Error::from)
            .and_then(|()| std::fs::File::from(fd).write_all(body));
        if let Err(e) = written {
            let _ = unlinkat(self.dir.as_fd(), name.as_str(), UnlinkatFlags::NoRemoveDir);
            return Err(Error::io(
                format!("cannot write a claim in {}", shared.path.display()),
                e,
            ));
        }
        Ok(name)
    }

    /// Removes this user's claim files on `port` that `which` selects; only
    /// files this user owns (a squatter's file under our name stays).
    fn remove_own(&mut self, port: u16, which: impl Fn(&str) -> bool) {
        let me = nix::unistd::geteuid().as_raw();
        let fd = self.dir.as_fd();
        self.own.retain(|(p, name)| {
            if *p != port || !which(name) {
                return true;
            }
            let mine = fstatat(fd, name.as_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                .is_ok_and(|st| st.st_uid == me);
            !(mine && unlinkat(fd, name.as_str(), UnlinkatFlags::NoRemoveDir).is_ok())
        });
        self.stamp = None;
    }

    /// Removes this user's claims whose holder is gone (or that are not
    /// claims at all).
    fn purge_dead(&mut self, uid: u32) {
        let fd = self.dir.as_fd();
        let dead: Vec<(u16, String)> = self
            .own
            .iter()
            .filter(|(port, name)| !matches!(claim::read(fd, name, *port, uid), Seen::Alive { .. }))
            .cloned()
            .collect();
        for (port, name) in dead {
            self.remove_own(port, |n| n == name);
        }
    }
}
