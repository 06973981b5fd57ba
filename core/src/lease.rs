//! Leasing and handing over: who holds a name's port. Each is decided under
//! the registry lock on a [`Tx`]; the port-choice order is the allocate
//! module's.

use crate::allocate::{self, Want};
use crate::entry::{
    name_key, validate_description, validate_meta, validate_name, Lease, LeaseRecord, StoredEntry,
};
use crate::error::{Error, Result};
use crate::liveness;
use crate::port::{check_port, ephemeral_warning};
use crate::process::is_same_or_descendant;
use crate::registry::{held_by, not_found, now, Registry};
use crate::request::{LeaseRequest, RELEASED_META, TEMPORARY_META};

/// Records a lease's description and meta on its entry: a new description
/// replaces the old one (none given keeps it), new meta replaces all of it.
/// `temporary` is whether the entry is marked to be forgotten when its
/// lease ends (a new lease decides it; the same holder asking again keeps
/// it). True when something changed.
fn apply_details(e: &mut StoredEntry, req: &LeaseRequest, temporary: bool) -> bool {
    let mut changed = false;
    let mark = |e: &mut StoredEntry| {
        let was = e.meta.contains_key(TEMPORARY_META);
        if temporary {
            e.meta.insert(TEMPORARY_META.into(), "1".into());
        } else {
            e.meta.remove(TEMPORARY_META);
        }
        was != temporary
    };
    if req.description.is_some() && req.description != e.description {
        e.description = req.description.clone();
        changed = true;
    }
    if let Some(m) = req.meta.as_ref().filter(|m| **m != e.meta) {
        e.meta = m.clone();
        changed = true;
    }
    changed |= mark(e);
    changed
}

/// A new lease: the listeners a past release left on the port are no
/// longer the name's own.
fn drop_released_mark(e: &mut StoredEntry) -> bool {
    e.meta.remove(RELEASED_META).is_some()
}

/// True when `e` was leased as temporary: forget it when its lease ends.
pub(crate) fn is_temporary(e: &StoredEntry) -> bool {
    e.meta.contains_key(TEMPORARY_META)
}

impl Registry {
    /// Leases a port for `req.name`, making `req.pid` (default: the caller)
    /// its holder. See docs/design.md "Allocation" (and the allocate module)
    /// for the order ports are tried in.
    pub fn lease(&self, req: &LeaseRequest) -> Result<Lease> {
        validate_name(&req.name)?;
        if let Some(d) = &req.description {
            validate_description(d)?;
        }
        if let Some(m) = &req.meta {
            validate_meta(m)?;
        }
        if req.port == Some(0) {
            return Err(check_port(0).unwrap_err());
        }
        if req.exact && req.port.is_none() {
            return Err(Error::InvalidPort {
                value: String::new(),
                why: "an exact request needs a port: give --port P with --exact".into(),
            });
        }
        let range = req.range.as_ref().unwrap_or(&self.range);
        if req.range.is_some() {
            for r in range.iter() {
                let first = self
                    .warned_ranges
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(*r);
                // Once per range: reading the kernel's range costs a file read.
                if let Some(w) = first.then(|| ephemeral_warning(r)).flatten() {
                    self.warn(w);
                }
            }
        }
        let mut holder = liveness::holder(req.pid.unwrap_or_else(crate::pid::my_pid))?;
        let own = holder.pid == crate::pid::my_pid();
        let key = name_key(&req.name);
        let claimed = std::cell::Cell::new(None);
        let lease = self.write(|tx| {
            let existing = tx.data().get(&req.name).cloned();
            if let Some(rec) = tx.record(&req.name)?.cloned() {
                let port = existing.as_ref().map(|e| e.port).unwrap_or(0);
                // A descendant of the holder (a reloader's worker, a server its
                // script started) shares the holder's lease: same port, same holder.
                if !rec.holder.same_process(&holder)
                    && !is_same_or_descendant(holder.pid, rec.holder.pid)
                {
                    return Err(held_by(&rec, port));
                }
                if req.exact && req.port != Some(port) {
                    return Err(Error::InvalidPort {
                        value: req.port.unwrap_or(0).to_string(),
                        why: format!(
                            "{} is already leased by this process on port {port}; release it first to move it",
                            rec.name
                        ),
                    });
                }
                // Same holder asking again: the same lease, with any new
                // description or meta recorded rather than dropped.
                if let Some(mut e) = existing {
                    let temporary = is_temporary(&e);
                    if apply_details(&mut e, req, temporary) {
                        e.changed = now();
                        tx.data_mut().insert(e);
                    }
                }
                return Ok(Lease {
                    name: rec.name,
                    port,
                    holder: rec.holder,
                    existing: true,
                });
            }
            if own {
                holder.lock = Some(self.own_holder_lock()?);
            }
            let want = Want {
                key: &key,
                existing: existing.as_ref(),
                port: req.port,
                exact: req.exact,
                range,
                holder: req.pid.filter(|&p| p != crate::pid::my_pid()),
            };
            let port = self.host.lease(holder.pid, || allocate::choose(tx, &want))?;
            claimed.set(Some(port));
            let stamp = now();
            let is_new = existing.is_none();
            let mut e = existing.unwrap_or_else(|| StoredEntry::new(&req.name, port, &stamp));
            let moved = e.port != port;
            e.port = port;
            let unmarked = drop_released_mark(&mut e);
            if apply_details(&mut e, req, req.temporary) || moved || is_new || unmarked {
                e.changed = stamp.clone();
                tx.data_mut().insert(e.clone());
            }
            holder.since = stamp;
            tx.push_record(LeaseRecord {
                name: e.name.clone(),
                holder: holder.clone(),
            });
            Ok(Lease {
                name: e.name,
                port,
                holder,
                existing: false,
            })
        });
        if let (Err(_), Some(port)) = (&lease, claimed.get()) {
            self.host.unclaim(port);
        }
        if let Some(w) = self.host.take_warning() {
            self.warn(w);
        }
        lease
    }

    /// This process's holder lock in the registry directory, taken (or
    /// found held) under the registry's exclusive lock; its token. Once
    /// made sure of, it is not looked for again while the lock file this
    /// call locked is the same one, found at the first try under its name:
    /// then the directory is the same one too (a directory removed or
    /// replaced brings a new lock file), and this process took the holder
    /// lock there (a forked child, which does not inherit it, is another
    /// pid). That spares a `stat` of the directory on every lease.
    fn own_holder_lock(&self) -> Result<String> {
        let me = crate::pid::my_pid();
        let locked = self.store.locked_id();
        let mut sure = self.holder_lock.lock().unwrap_or_else(|e| e.into_inner());
        if let (Some(id), Some((pid, was))) = (locked, *sure) {
            if pid == me && was == id {
                if let Some(token) = liveness::own_token() {
                    return Ok(token);
                }
            }
        }
        let token = liveness::hold_lock(self.path())?;
        *sure = locked.map(|id| (me, id));
        Ok(token)
    }

    /// Makes `to_pid` the holder of a name the calling process holds (how
    /// `portreg run` hands its lease to the child it started). The caller
    /// keeps vouching for the lease with its holder lock while it lives, as
    /// `run` does, waiting for its command's whole process group.
    pub fn hand_over(&self, name: &str, to_pid: u32) -> Result<Lease> {
        self.hand_over_with(name, to_pid, true)
    }

    /// [`Registry::hand_over`], with or without the caller's vouching. A
    /// supervisor that outlives the processes it starts (`portreg up`)
    /// hands over without it, so that a service that dies is seen dead by
    /// its pid and start ticks while the supervisor runs on.
    pub fn hand_over_with(&self, name: &str, to_pid: u32, vouch: bool) -> Result<Lease> {
        validate_name(name)?;
        let me = crate::pid::my_pid();
        let mut holder = liveness::holder(to_pid)?;
        if vouch {
            holder.lock = Some(liveness::hold_lock(self.path())?);
        }
        let lease = self.write(|tx| {
            let port = tx
                .data()
                .get(name)
                .map(|e| e.port)
                .ok_or_else(|| not_found(name))?;
            match tx.record_mut(name)? {
                Some(r) if r.holder.pid == me => {
                    holder.since = r.holder.since.clone();
                    r.holder = holder.clone();
                    Ok(Lease {
                        name: r.name.clone(),
                        port,
                        holder,
                        existing: false,
                    })
                }
                Some(r) => Err(Error::NotHolder {
                    name: r.name.clone(),
                    pid: r.holder.pid,
                    caller: me,
                }),
                None => Err(Error::Process(format!(
                    "{name} is not held by this process (pid {me}); lease it before handing it over"
                ))),
            }
        })?;
        self.host.hand_over(lease.port, to_pid)?;
        Ok(lease)
    }
}
