//! Leases a process takes for itself through a binding (Python, Node, C):
//! remembered so that they can all be released when it exits, and released
//! at most once each. One rule for every language: releasing a lease that is
//! no longer held (released before, forgotten, dropped by `clean`) is not an
//! error and answers `false`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::entry::{Entry, Lease, Released};
use crate::error::{Error, Result};
use crate::pid::PerProcess;
use crate::registry::Registry;
use crate::request::{Actor, LeaseRequest};

/// A name this process leased for itself in a registry.
struct Tracked {
    reg: Arc<Registry>,
    name: String,
}

/// This process's own: a forked child holds none of its parent's leases,
/// and starts with an empty list.
static TRACKED: PerProcess<Mutex<Vec<Tracked>>> = PerProcess::new();

fn tracked() -> MutexGuard<'static, Vec<Tracked>> {
    TRACKED
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn same(t: &Tracked, reg: &Registry, name: &str) -> bool {
    t.name.eq_ignore_ascii_case(name) && t.reg.path() == reg.path()
}

fn track(reg: &Arc<Registry>, name: &str) {
    let mut all = tracked();
    if !all.iter().any(|t| same(t, reg, name)) {
        all.push(Tracked {
            reg: reg.clone(),
            name: name.to_string(),
        });
    }
}

fn untrack(reg: &Registry, name: &str) {
    tracked().retain(|t| !same(t, reg, name));
}

/// A lease held by this process, as the bindings hand it out.
pub struct OwnLease {
    reg: Arc<Registry>,
    lease: Lease,
    released: AtomicBool,
    /// Held by an ancestor of the process it was asked for (a reloader's
    /// worker shares its parent's lease): releasing it is the holder's job.
    shared: bool,
}

impl OwnLease {
    /// Leases `req` in `reg`. A lease held by this process is remembered for
    /// [`release_all`]; one taken for another pid (`req.pid`) is not: its
    /// holder owns it.
    pub fn take(reg: &Arc<Registry>, req: &LeaseRequest) -> Result<OwnLease> {
        let lease = reg.lease(req)?;
        if lease.holder.pid == crate::pid::my_pid() {
            track(reg, &lease.name);
        }
        let shared = lease.holder.pid != req.pid.unwrap_or_else(crate::pid::my_pid);
        Ok(OwnLease {
            reg: reg.clone(),
            lease,
            released: AtomicBool::new(false),
            shared,
        })
    }

    /// The lease as it was granted.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// The registry it was taken in.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.reg
    }

    /// True once [`OwnLease::release`] has released it.
    pub fn is_released(&self) -> bool {
        self.released.load(Ordering::SeqCst)
    }

    /// Releases it: the name turns idle and remembers its port. `true` when
    /// this call released it, `false` when it was no longer held by this
    /// process (released before, forgotten, its record dropped, or shared
    /// with the ancestor that holds it). Another live holder is `NOT_HOLDER`. On any error it stays unreleased, so the call
    /// may be retried.
    pub fn release(&self) -> Result<bool> {
        if self.released.swap(true, Ordering::SeqCst) || self.shared {
            return Ok(false);
        }
        match release_name(&self.reg, &self.lease.name, false) {
            Ok(done) => Ok(done),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => {
                self.released.store(false, Ordering::SeqCst);
                Err(e)
            }
        }
    }
}

/// Releases `name` for this process (or, with `force`, for whichever live
/// process of this user holds it) and stops remembering it. `true` when it
/// was released, `false` when nobody held it; `NOT_FOUND` for a name the
/// registry does not know, `NOT_HOLDER` for another live holder without
/// `force`.
pub fn release_name(reg: &Registry, name: &str, force: bool) -> Result<bool> {
    let actor = if force { Actor::Force } else { Actor::me() };
    let r = reg.release(name, actor);
    if !matches!(r, Err(Error::NotHolder { .. })) {
        untrack(reg, name);
    }
    Ok(matches!(r?, Released::Released { .. }))
}

/// Forgets `name` (see [`Registry::forget`]) and stops remembering it.
pub fn forget_name(reg: &Registry, name: &str, force: bool) -> Result<Entry> {
    let e = reg.forget(name, force)?;
    untrack(reg, name);
    Ok(e)
}

/// Renames `old` to `new` (see [`Registry::rename`]); a lease this process
/// took under `old` is remembered under `new`, so it is still released at
/// exit.
pub fn rename_name(reg: &Registry, old: &str, new: &str, force: bool) -> Result<Entry> {
    let e = reg.rename(old, new, force)?;
    for t in tracked().iter_mut().filter(|t| same(t, reg, old)) {
        t.name = e.name.clone();
    }
    Ok(e)
}

/// Releases every lease this process took and still holds; returns how many
/// were released. Bindings call it at exit (Python's `atexit`, Node's exit
/// and signal hooks, C's `portreg_release_all`). Errors (a name forgotten or
/// taken over meanwhile, a registry removed) are skipped: nothing is left to
/// release there. A forked child releases nothing of its parent's.
pub fn release_all() -> usize {
    let me = crate::pid::my_pid();
    let mine: Vec<Tracked> = std::mem::take(&mut *tracked());
    mine.iter()
        .filter(|t| {
            matches!(
                t.reg.release(&t.name, Actor::Pid(me)),
                Ok(Released::Released { .. })
            )
        })
        .count()
}
