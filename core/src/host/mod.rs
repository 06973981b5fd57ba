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
mod scan;

use std::cell::RefCell;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use nix::dir::Dir;
use serde::{Deserialize, Serialize};

use crate::config::ConfigFile;
use crate::error::{Error, Result};
use claim::{ClaimFile, Seen};
use place::Place;
pub use place::{CLAIMS_CAP_VAR, CLAIMS_DIR_VAR, DEFAULT_CLAIMS_CAP, DEFAULT_CLAIMS_DIR};
use scan::Scan;

/// How often a lease steps back from a port another user took at the same
/// instant before giving up with that user's `PORT_TAKEN`.
const MAX_RACES: usize = 16;

/// A released claim file is kept, to be rewritten in place by the next
/// lease of its port, while this user has at most this many claim files, or
/// when this process has it open and keeps fewer released ones (its own
/// churn: a test suite that holds a hundred ports and leases and releases
/// one more).
const KEEP_RELEASED: usize = 64;

/// One claim on the host, as anyone may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Where, how many per user, and a warning about either (see
    /// `place::settings`), until the area is resolved.
    settings: (Place, usize, Option<String>),
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

thread_local! {
    /// The claims area of the lease being decided on this thread.
    static IN_SCOPE: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

/// Another user's live claim on `port`, as the error a lease of it gets;
/// None outside a lease or when no other user claims it.
pub(crate) fn claimed_by_other(port: u16) -> Option<Error> {
    let shared = IN_SCOPE.with(|s| s.borrow().clone())?;
    let mut scan = shared.lock();
    if scan.refresh(false).is_err() {
        return None;
    }
    let uid = scan.live_other(port)?;
    Some(shared.taken(port, uid))
}

impl Area {
    /// The area a registry's settings (`config`, and the environment) give.
    pub fn new(config: &ConfigFile) -> Area {
        Area {
            settings: place::settings(config),
            state: OnceLock::new(),
            warned: Default::default(),
        }
    }

    fn resolved(&self) -> &Resolved {
        self.state.get_or_init(|| {
            let (place, cap, note) = self.settings.clone();
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
                    let scan = Mutex::new(Scan::new(dir, uid, cap));
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
            let looks = shared.lock().looks;
            let port = self.scoped(&mut choose)?;
            // A choice that looked at the directory (every free-port search
            // does) leaves the claim no need to look again before it writes.
            let fresh = shared.lock().looks != looks;
            match shared.claim(port, pid, fresh) {
                Err(Error::ClaimedByUser { .. }) if races < MAX_RACES => {
                    races += 1;
                    step_back(port, races);
                }
                other => return other.map(|()| port),
            }
        }
    }

    /// Ends this user's claim on `port` (its lease ended): the file stays,
    /// marked released, for this user's next lease of the port to rewrite
    /// in place (up to [`KEEP_RELEASED`] files); `clean` removes it.
    pub fn unclaim(&self, port: u16) {
        if let Ok(Some(shared)) = self.shared() {
            let body = ClaimFile::new(port, shared.uid, 0, 0).encode();
            let mut scan = shared.lock();
            let _ = scan.refresh(false);
            // Past a few dozen files a released claim goes, so that other
            // users' reads of the directory stay short, unless this process
            // keeps it open: removed, the next lease of the port would
            // create it again and, to see any claim made meanwhile, read the
            // whole directory (a thousand files: 0.4 ms a round trip).
            match scan.own_name(port) {
                Some(name)
                    if scan.keeps_released(&name, KEEP_RELEASED)
                        && scan.rewrite(&name, &body, true).is_ok() =>
                {
                    scan.remove_others(port, &name)
                }
                _ => scan.remove_port(port),
            }
        }
    }

    /// Makes `pid` the holder of this user's claim on `port`.
    pub fn hand_over(&self, port: u16, pid: u32) -> Result<()> {
        let Some(shared) = self.shared()? else {
            return Ok(());
        };
        shared.claim(port, pid, false)
    }

    /// Removes this user's claims whose holder is gone.
    pub fn purge(&self) -> Result<()> {
        if let Some(shared) = self.shared()? {
            let mut scan = shared.lock();
            scan.refresh(true).map_err(|e| shared.io("read", e))?;
            scan.purge_dead();
        }
        Ok(())
    }

    /// Every claim on the host (empty when sharing is off or refused).
    pub fn claims(&self) -> Result<Vec<HostClaim>> {
        let Some(shared) = self.shared()? else {
            return Ok(Vec::new());
        };
        let mut scan = shared.lock();
        scan.refresh(true).map_err(|e| shared.io("read", e))?;
        let fd = scan.dir.as_fd();
        let mut out = Vec::new();
        let mut users = std::collections::HashMap::new();
        let others = scan.others.iter().map(|o| (o.port, o.uid, o.name(), true));
        let ignored = scan
            .ignored
            .iter()
            .map(|o| (o.port, o.uid, o.name(), false));
        let own = scan
            .own
            .iter()
            .map(|(p, n)| (*p, shared.uid, n.clone(), true));
        for (port, uid, name, honoured) in others.chain(ignored).chain(own) {
            let alive = match claim::read(fd, &name, port, uid) {
                Seen::Alive { .. } => true,
                Seen::Dead => false,
                Seen::Released | Seen::Bogus => continue,
            };
            out.push(HostClaim {
                port,
                uid,
                user: users
                    .entry(uid)
                    .or_insert_with(|| crate::liveness::user_name(uid))
                    .clone(),
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

/// Waits a random while before a lease tries again after stepping back
/// from `port` (the `races`th time). Two users who claimed one port at the
/// same instant both step back, and, doing the same work, would choose the
/// same port again at the same instant, and again: the wait (up to half a
/// millisecond per race so far) lets one of them come first.
fn step_back(port: u16, races: usize) {
    use std::hash::BuildHasher;
    let max_us = 500 * races as u64;
    let r = std::collections::hash_map::RandomState::new().hash_one((port, races));
    std::thread::sleep(std::time::Duration::from_micros(r % max_us));
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
    /// then checks that no other user claimed it meanwhile. `fresh`: the
    /// directory was looked at since this lease began.
    fn claim(&self, port: u16, pid: u32, fresh: bool) -> Result<()> {
        let (start_ticks, _) = claim::holder_ticks(pid).ok_or_else(|| {
            Error::Process(format!(
                "cannot read /proc/{pid}/stat; a lease needs a live holder"
            ))
        })?;
        let body = ClaimFile::new(port, self.uid, pid, start_ticks).encode();
        let mut scan = self.lock();
        // This user's files, for the cap and for a file to rewrite; a file
        // made or removed since the look is only rewritten or made anew.
        // Another user's claim made since is seen by the look after ours.
        if !fresh {
            scan.refresh(false).map_err(|e| self.io("read", e))?;
        }
        if scan.own.iter().filter(|(p, _)| *p != port).count() >= self.cap {
            scan.purge_dead();
            if scan.own.iter().filter(|(p, _)| *p != port).count() >= self.cap {
                return Err(Error::ClaimCap {
                    cap: self.cap,
                    dir: self.path.clone(),
                });
            }
        }
        // This user's file on the port (released, or held by the process
        // the lease is handed over from) is rewritten in place.
        let name = match scan.own_name(port) {
            Some(name) if scan.rewrite(&name, &body, false).is_ok() => {
                scan.remove_others(port, &name);
                name
            }
            _ => {
                scan.remove_port(port);
                scan.create(port, &body).map_err(|e| {
                    Error::io(
                        format!("cannot create a claim in {}", self.path.display()),
                        e,
                    )
                })?
            }
        };
        // Whoever created a claim on this port before our look sees ours;
        // whoever created one after it is seen now: one of us steps back.
        // (Where ctime is fine-grained, an unchanged directory stamp says
        // nobody did, and the directory is not read again.)
        let fine = scan.stamps_are_fine();
        scan.refresh(!fine).map_err(|e| self.io("read", e))?;
        if let Some(uid) = scan.live_other(port) {
            scan.remove(&name);
            return Err(self.taken(port, uid));
        }
        Ok(())
    }
}
