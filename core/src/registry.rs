//! The registry and its operations on names: releasing, reading, pinning,
//! forgetting, renaming, cleaning (leasing and handing over are in
//! `lease.rs`), each one decided under the registry lock on a [`Tx`] (with
//! the liveness of the records it touches refreshed first) and written by
//! the store.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::allocate::{self, Probe};
use crate::config::{configured_range, default_dir, lock_timeout, ConfigFile};
use crate::entry::{
    glob_match, is_glob, name_key, validate_description, validate_meta, validate_name, Cleaned,
    Entry, LeaseRecord, Released, StoredEntry,
};
use crate::error::{Error, HeldBy, Result};
use crate::holdlock;
use crate::host::{Area, HostClaim};
use crate::lease::is_temporary;
use crate::liveness;
use crate::port::{check_port, PortRange, PortRanges};
use crate::process::{describe_listener, mark_listening, refresh_holders, released_mark};
use crate::request::{Actor, RELEASED_META};
use crate::store::{file_order, Store};
use crate::tx::Tx;
use rustc_hash::FxHashSet;

/// A registry opened on a directory. Cheap to keep; every call takes the
/// lock, reads, decides and writes, so many processes and threads can share
/// one directory.
pub struct Registry {
    pub(crate) store: Store,
    pub(crate) range: PortRanges,
    pub(crate) warnings: Mutex<Vec<String>>,
    pub(crate) print_warnings: AtomicBool,
    /// Ranges already checked against the ephemeral ports (warn once each).
    /// (Fx-hashed: std's hasher asks the kernel for a random key at its
    /// first use, one more system call for every command.)
    pub(crate) warned_ranges: Mutex<FxHashSet<PortRange>>,
    /// Where leases are claimed host-wide, so other users' leases avoid them.
    pub(crate) host: Area,
    /// This process (pid) made sure of its holder lock in the directory
    /// while the registry's lock file was the one of this device and inode
    /// (see `Registry::own_holder_lock`).
    pub(crate) holder_lock: Mutex<Option<(u32, (u64, u64))>>,
}

pub(crate) fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The `LEASE_HELD` error for a name `rec` holds on `port`.
pub(crate) fn held_by(rec: &LeaseRecord, port: u16) -> Error {
    Error::LeaseHeld(HeldBy {
        name: rec.name.clone(),
        pid: rec.holder.pid,
        port,
        since: rec.holder.since.clone(),
        cwd: rec.holder.cwd.clone(),
    })
}

pub(crate) fn not_found(name: &str) -> Error {
    Error::NotFound {
        what: "name",
        name: name.to_string(),
    }
}

impl Registry {
    /// Opens (creating if needed) the registry in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Registry> {
        let dir = dir.as_ref().to_path_buf();
        let mut store = Store::open(dir)?;
        let config = ConfigFile::read(store.dir());
        let range = configured_range(&config)?;
        let (timeout, bad_timeout) = lock_timeout(&config);
        store.set_lock_timeout(timeout);
        let host = Area::new(&config);
        let reg = Registry {
            host,
            store,
            range,
            warnings: Mutex::new(Vec::new()),
            print_warnings: AtomicBool::new(true),
            warned_ranges: Mutex::new(FxHashSet::default()),
            holder_lock: Mutex::new(None),
        };
        if let Some(w) = bad_timeout {
            reg.warn(w);
        }
        if let Some(w) = crate::config::unknown_keys(&config) {
            reg.warn(w);
        }
        Ok(reg)
    }

    /// Opens the default registry (`$PORTREG_HOME`, else `~/.portreg`).
    pub fn open_default() -> Result<Registry> {
        Registry::open(default_dir()?)
    }

    /// The registry directory.
    pub fn path(&self) -> &Path {
        self.store.dir()
    }

    /// The first of [`Registry::default_ranges`].
    pub fn default_range(&self) -> PortRange {
        self.range.first()
    }

    /// The ranges new ports come from when a call names none, tried in
    /// order (PORTREG_RANGE, then config.toml's `range`, then 8070-8999).
    pub fn default_ranges(&self) -> &PortRanges {
        &self.range
    }

    /// Whether warnings are also printed to stderr as they happen (default: yes).
    pub fn set_print_warnings(&self, on: bool) {
        self.print_warnings.store(on, Ordering::Relaxed);
    }

    /// Warnings gathered since the last call (corrupt file moved aside, range
    /// overlapping the ephemeral ports...).
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn warn(&self, msg: String) {
        if self.print_warnings.load(Ordering::Relaxed) {
            eprintln!("portreg: warning: {msg}");
        }
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(msg);
    }

    /// Runs `f` under the shared lock (plain reads); nothing is written.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&mut Tx) -> Result<T>) -> Result<T> {
        let warn = |m| self.warn(m);
        let mut f = Some(f);
        let run = |data, leases| {
            let f = f.take().expect("run once");
            f(&mut Tx::new(
                data,
                leases,
                liveness::Context::new(self.path()),
            ))
        };
        if let Some(out) = self.store.shared(&warn, run)? {
            return Ok(out);
        }
        // registry.json is corrupt: moving it aside needs the exclusive lock.
        self.write(f.take().expect("not run on a corrupt registry"))
    }

    /// Runs `f` under the exclusive lock, then writes what it changed.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&mut Tx) -> Result<T>) -> Result<T> {
        let warn = |m| self.warn(m);
        self.store.exclusive(&warn, |data, leases| {
            let mut tx = Tx::new(data, leases, liveness::Context::new(self.path()));
            let out = f(&mut tx)?;
            Ok((out, tx.finish()))
        })
    }

    /// Releases `name`: the entry turns idle and remembers its port.
    /// `Actor::Pid` must be the holder (`NOT_HOLDER` otherwise); `Actor::Force`
    /// releases any holder of the same user (`PERMISSION` for another user's).
    pub fn release(&self, name: &str, actor: Actor) -> Result<Released> {
        validate_name(name)?;
        let released = self.write(|tx| {
            let Some(port) = tx.data().get(name).map(|e| e.port) else {
                return Err(not_found(name));
            };
            let Some(pid) = tx.record(name)?.map(|r| r.holder.pid) else {
                return Ok(Released::NotHeld);
            };
            match actor {
                Actor::Pid(me) if me != pid => {
                    let name = tx.record(name)?.map_or(name, |r| &r.name).to_string();
                    return Err(Error::NotHolder {
                        name,
                        pid,
                        caller: me,
                    });
                }
                Actor::Force => liveness::check_same_user(pid, "release it")?,
                Actor::Pid(_) => {}
            }
            let Some(rec) = tx.remove_record(name) else {
                return Ok(Released::NotHeld);
            };
            if tx.data().get(name).is_some_and(is_temporary) {
                tx.data_mut().remove(name);
            } else if let Some(mark) = released_mark(port, &rec.holder) {
                // What it left listening stays the name's own (`conflicts`).
                if let Some(mut e) = tx.data().get(name).cloned() {
                    e.meta.insert(RELEASED_META.into(), mark);
                    tx.data_mut().insert(e);
                }
            }
            Ok(Released::Released { port, pid })
        })?;
        if let Released::Released { port, .. } = released {
            self.host.unclaim(port);
        }
        Ok(released)
    }

    /// The entry for `name`, if the registry knows it.
    pub fn get(&self, name: &str) -> Result<Option<Entry>> {
        validate_name(name)?;
        let entry = self.read(|tx| {
            let Some(e) = tx.data().get(name).cloned() else {
                return Ok(None);
            };
            tx.record(name)?;
            Ok(Some(tx.view(&e)))
        })?;
        // Outside the lock: the socket tables are the kernel's, not ours.
        Ok(entry.map(|e| {
            let mut one = [e];
            mark_listening(&mut one);
            refresh_holders(&mut one);
            let [e] = one;
            e
        }))
    }

    /// The port of `name` (held, reserved or remembered), if the registry
    /// knows it: [`Registry::get`]'s port, read without leases.json, the
    /// socket tables or the holders' processes, none of which can change it.
    pub fn port_of(&self, name: &str) -> Result<Option<u16>> {
        validate_name(name)?;
        let warn = |m| self.warn(m);
        // A first read that asks about one name (`portreg get NAME`) parses
        // the file without building its model.
        if let Some(port) = self.store.peek_port(name, &warn)? {
            return Ok(port);
        }
        match self.store.shared_registry(&warn)? {
            Some(data) => Ok(data.get(name).map(|e| e.port)),
            // A corrupt registry.json is moved aside under the exclusive lock.
            None => Ok(self.get(name)?.map(|e| e.port)),
        }
    }

    /// Every entry, sorted by port then name.
    pub fn list(&self) -> Result<Vec<Entry>> {
        let (data, mut holders) = self.read(|tx| {
            tx.verify(|_| true)?;
            Ok(tx.take_holders())
        })?;
        let mut order: Vec<usize> = (0..data.entries.len()).collect();
        order.sort_unstable_by(|&a, &b| file_order(&data.entries[a], &data.entries[b]));
        // A registry read once is this call's alone: its entries move
        // (a cached one is copied).
        let stored = Arc::try_unwrap(data).map_or_else(|d| d.entries.clone(), |d| d.entries);
        let mut stored: Vec<Option<StoredEntry>> = stored.into_iter().map(Some).collect();
        let mut entries = Vec::with_capacity(order.len());
        for &i in &order {
            if let Some(e) = stored[i].take() {
                entries.push(Entry::from_owned(e, holders[i].take()));
            }
        }
        mark_listening(&mut entries);
        refresh_holders(&mut entries);
        Ok(entries)
    }

    /// Pins `name` to `port` (no process needed). The same request twice is
    /// not an error. A process outside the registry on the port only warns
    /// (`portreg conflicts` will name it).
    pub fn reserve(&self, name: &str, port: u16, description: Option<&str>) -> Result<Entry> {
        self.reserve_with(name, port, description, None)
    }

    /// [`Registry::reserve`], also recording `meta` on the entry (as a
    /// lease does: new meta replaces all of it; none keeps it).
    pub fn reserve_with(
        &self,
        name: &str,
        port: u16,
        description: Option<&str>,
        meta: Option<&BTreeMap<String, String>>,
    ) -> Result<Entry> {
        validate_name(name)?;
        if let Some(d) = description {
            validate_description(d)?;
        }
        if let Some(m) = meta {
            validate_meta(m)?;
        }
        check_port(u64::from(port))?;
        let key = name_key(name);
        let entry = self.write(|tx| {
            if let Some((other, state)) = tx.taken_by_other(port, &key)? {
                return Err(Error::PortTaken { port, other, state });
            }
            let existing = tx.data().get(name).cloned();
            if let (Some(rec), Some(e)) = (tx.record(name)?, &existing) {
                if e.port != port {
                    return Err(held_by(rec, e.port));
                }
            }
            let stamp = now();
            let is_new = existing.is_none();
            let mut e = existing.unwrap_or_else(|| StoredEntry::new(name, port, &stamp));
            let before = e.clone();
            e.port = port;
            e.reserved = true;
            if let Some(d) = description {
                e.description = Some(d.to_string());
            }
            if let Some(m) = meta {
                e.meta = m.clone();
            }
            if e != before || is_new {
                e.changed = stamp;
                tx.data_mut().insert(e.clone());
            }
            Ok(tx.view(&e))
        })?;
        if entry.holder.is_none() && allocate::probe(port) == Probe::InUse {
            let who = describe_listener(port)
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            self.warn(format!(
                "port {port} is in use by a process outside the registry{who}; `portreg conflicts` lists such clashes"
            ));
        }
        Ok(entry)
    }

    /// Removes `name` from the registry. A name held by another live process
    /// fails with `LEASE_HELD` unless `force`.
    pub fn forget(&self, name: &str, force: bool) -> Result<Entry> {
        let mut gone = self.forget_many(&[name], force)?;
        Ok(gone.remove(0))
    }

    /// Removes every name `patterns` give, in one step: each is a name
    /// (which must be known: `NOT_FOUND`) or a glob of `*` and `?` (names
    /// never hold them) matched case-insensitively, which may match nothing.
    /// A name held by another live process fails the whole call with
    /// `LEASE_HELD` unless `force`; nothing is forgotten then. Returns the
    /// forgotten entries, each once, in registry order.
    pub fn forget_many(&self, patterns: &[&str], force: bool) -> Result<Vec<Entry>> {
        for p in patterns {
            if !is_glob(p) {
                validate_name(p)?;
            }
        }
        let gone = self.write(|tx| {
            let mut names: Vec<String> = Vec::new();
            for p in patterns {
                if is_glob(p) {
                    names.extend(
                        tx.data()
                            .entries
                            .iter()
                            .filter(|e| glob_match(&p.to_ascii_lowercase(), &name_key(&e.name)))
                            .map(|e| e.name.clone()),
                    );
                } else {
                    let Some(e) = tx.data().get(p) else {
                        return Err(not_found(p));
                    };
                    names.push(e.name.clone());
                }
            }
            let mut seen = HashSet::new();
            names.retain(|n| seen.insert(name_key(n)));
            // Every chosen name's record judged, and later removed, in one
            // pass each: a glob over a thousand names is not a thousand.
            let chosen = |n: &str| seen.contains(crate::store::lookup_key(n).as_ref());
            tx.verify(chosen)?;
            let mut gone = Vec::new();
            for name in &names {
                let Some(e) = tx.data().get(name) else {
                    continue;
                };
                let view = tx.view(e);
                if let Some(h) = view
                    .holder
                    .as_ref()
                    .filter(|h| h.pid != crate::pid::my_pid())
                {
                    if !force {
                        let rec = LeaseRecord {
                            name: view.name.clone(),
                            holder: h.clone(),
                        };
                        return Err(held_by(&rec, view.port));
                    }
                    liveness::check_same_user(h.pid, "release it")?;
                }
                gone.push(view);
            }
            tx.remove_records(chosen);
            for e in &gone {
                tx.data_mut().remove(&e.name);
            }
            Ok(gone)
        })?;
        for e in gone.iter().filter(|e| e.holder.is_some()) {
            self.host.unclaim(e.port);
        }
        Ok(gone)
    }

    /// Renames `old` to `new`: the entry keeps its port, reservation,
    /// description, meta and creation time, and a live holder keeps holding
    /// it under the new name. A name held by another live process needs
    /// `force` (its holder would find its name gone), like `forget`. `new`
    /// may differ from `old` only in case (a new spelling); otherwise it must
    /// be unknown to the registry (`INVALID_NAME` says so).
    pub fn rename(&self, old: &str, new: &str, force: bool) -> Result<Entry> {
        validate_name(old)?;
        validate_name(new)?;
        self.write(|tx| {
            let Some(mut e) = tx.data().get(old).cloned() else {
                return Err(not_found(old));
            };
            if !old.eq_ignore_ascii_case(new) && tx.data().get(new).is_some() {
                return Err(Error::InvalidName {
                    name: new.to_string(),
                    why: "the registry already has an entry of that name; forget it or choose another",
                });
            }
            if let Some(rec) = tx.record(old)?.cloned() {
                if rec.holder.pid != crate::pid::my_pid() && !force {
                    return Err(held_by(&rec, e.port));
                }
                liveness::check_same_user(rec.holder.pid, "rename its lease")?;
            }
            tx.data_mut().remove(old);
            e.name = new.to_string();
            e.changed = now();
            tx.data_mut().insert(e.clone());
            if let Some(rec) = tx.record_mut(old)? {
                rec.name = new.to_string();
            }
            tx.record(new)?;
            Ok(tx.view(&e))
        })
    }

    /// A port that is free right now in `range` (default: the registry's
    /// ranges), without leasing it: one picked at random among the first
    /// few free ports no name remembers, so that callers asking at the same
    /// moment rarely get the same one. Prefer `lease`: only a lease stops
    /// another process from taking the port too.
    pub fn find_free(&self, range: Option<PortRanges>) -> Result<u16> {
        let range = range.unwrap_or_else(|| self.range.clone());
        self.read(|tx| self.host.scoped(|| allocate::find_port(tx, &range)))
    }

    /// Drops every lease whose holder is gone (those entries turn idle) and
    /// leftovers of interrupted writes; returns what was dropped.
    pub fn clean(&self) -> Result<Vec<Cleaned>> {
        let cleaned = self.write(|tx| {
            // Temporary names whose lease has ended go with their lease.
            let held = tx.held_keys()?;
            let ended: Vec<String> = tx
                .data()
                .entries
                .iter()
                .filter(|e| is_temporary(e) && !held.contains(&name_key(&e.name)))
                .map(|e| e.name.clone())
                .collect();
            for name in &ended {
                tx.data_mut().remove(name);
            }
            Ok(tx.take_pruned())
        })?;
        self.store.remove_stale_temps();
        holdlock::remove_stale(self.path(), liveness::own_token().as_deref());
        // Host-wide claims of this user whose holder is gone go too.
        let _ = self.host.purge();
        Ok(cleaned)
    }

    /// Forgets every idle name (no live holder, not reserved) whose entry
    /// last changed (was last leased, pinned, renamed, ...) more than `age`
    /// ago; returns what it forgot. Reserved names stay: they were kept on
    /// purpose.
    pub fn forget_idle(&self, age: Duration) -> Result<Vec<Entry>> {
        let cutoff = SystemTime::now()
            .checked_sub(age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        self.write(|tx| {
            let held = tx.held_keys()?;
            let old: Vec<StoredEntry> = tx
                .data()
                .entries
                .iter()
                .filter(|e| !e.reserved && !held.contains(&name_key(&e.name)))
                .filter(|e| humantime::parse_rfc3339(&e.changed).is_ok_and(|t| t < cutoff))
                .cloned()
                .collect();
            if !old.is_empty() {
                let data = tx.data_mut();
                for e in &old {
                    data.remove(&e.name);
                }
            }
            Ok(old.iter().map(|e| Entry::from_stored(e, None)).collect())
        })
    }

    /// Every port claim on this host, of every user (port, user, alive):
    /// what other users can see of anyone's leases.
    pub fn host_claims(&self) -> Result<Vec<HostClaim>> {
        self.host.claims()
    }
}
