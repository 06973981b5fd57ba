//! One operation's view of the registry, taken under the lock: the entries
//! and the lease records, each record checked for a live holder lazily,
//! only where a decision depends on it (a targeted refresh of just those
//! pids), and dropped as soon as it is found dead.

use std::collections::HashSet;
use std::sync::Arc;

use crate::entry::{name_key, Cleaned, Entry, Holder, LeaseRecord, StoredEntry};
use crate::error::Result;
use crate::holdlock;
use crate::liveness::{Context, Running};
use crate::store::{encode_leases, Changes, LeasesRead, RegData};

/// The state of one locked operation.
pub(crate) struct Tx {
    data: Arc<RegData>,
    reg_dirty: bool,
    leases: Vec<Live>,
    /// Set by an operation that changed the lease records itself.
    leases_dirty: bool,
    /// Set when dead records were dropped (worth writing, but never an error
    /// on a registry this version may not write).
    pruned_dirty: bool,
    leases_version: u64,
    /// Lease records dropped because their holder died (or their name is gone).
    pruned: Vec<Cleaned>,
    /// Who is alive by definition (this process) and where holder locks are.
    ctx: Context,
}

struct Live {
    rec: LeaseRecord,
    checked: bool,
}

impl Tx {
    /// The registry as read; `ctx` says how to judge its holders.
    pub fn new(data: Arc<RegData>, read: LeasesRead, ctx: Context) -> Tx {
        let mut leases = Vec::with_capacity(read.records.len());
        let mut pruned = Vec::new();
        let mut seen = HashSet::new();
        for r in read.records {
            // A record for a name the registry no longer has, or a second one
            // for the same name, is dropped without asking about its process.
            if data.get(&r.name).is_some() && seen.insert(name_key(&r.name)) {
                leases.push(Live {
                    rec: r,
                    checked: false,
                });
            } else {
                pruned.push(Cleaned {
                    name: r.name,
                    port: None,
                    pid: r.holder.pid,
                });
            }
        }
        Tx {
            data,
            reg_dirty: false,
            leases_dirty: false,
            pruned_dirty: !pruned.is_empty(),
            leases,
            leases_version: read.version,
            pruned,
            ctx,
        }
    }

    /// What is left to write once the operation is done.
    pub fn finish(self) -> Changes {
        let write = self.leases_dirty || self.pruned_dirty;
        let mut records: Vec<LeaseRecord> = if write {
            self.leases.into_iter().map(|l| l.rec).collect()
        } else {
            Vec::new()
        };
        let leases = write.then(|| {
            let data = &self.data;
            encode_leases(&mut records, |n| data.get(n).map(|e| e.port).unwrap_or(0))
        });
        Changes {
            data: self.data,
            registry_changed: self.reg_dirty,
            leases_changed: self.leases_dirty,
            leases,
            records,
            leases_version: self.leases_version,
        }
    }

    pub fn data(&self) -> &RegData {
        &self.data
    }

    /// The entries, to change (registry.json will be written).
    pub fn data_mut(&mut self) -> &mut RegData {
        self.reg_dirty = true;
        Arc::make_mut(&mut self.data)
    }

    /// Checks the not-yet-checked records that `which` selects, dropping the
    /// ones whose holder is gone (or whose pid now belongs to another process).
    pub fn verify(&mut self, which: impl Fn(&LeaseRecord) -> bool) -> Result<()> {
        let holders: Vec<&Holder> = self
            .leases
            .iter()
            .filter(|l| !l.checked && which(&l.rec))
            .map(|l| &l.rec.holder)
            .collect();
        if holders.is_empty() {
            return Ok(());
        }
        let running = Running::of(&holders, &self.ctx);
        let mut i = 0;
        while i < self.leases.len() {
            let l = &mut self.leases[i];
            if l.checked || !which(&l.rec) {
                i += 1;
                continue;
            }
            if running.is_alive(&l.rec.holder) {
                // A record of an older version learns the identity that no
                // clock step can change.
                if let Some(h) = running.upgraded(&l.rec.holder) {
                    l.rec.holder = h;
                    self.pruned_dirty = true;
                }
                l.checked = true;
                i += 1;
            } else {
                let dead = self.leases.remove(i).rec;
                if let Some(lock) = &dead.holder.lock {
                    let own = crate::liveness::own_token();
                    holdlock::remove_if_free(self.ctx.dir(), lock, own.as_deref());
                }
                let port = self.data.get(&dead.name).map(|e| e.port);
                self.pruned.push(Cleaned {
                    name: dead.name,
                    port,
                    pid: dead.holder.pid,
                });
                self.pruned_dirty = true;
            }
        }
        Ok(())
    }

    /// The live lease record of `name`, if any.
    pub fn record(&mut self, name: &str) -> Result<Option<&LeaseRecord>> {
        let key = name_key(name);
        self.verify(|r| name_key(&r.name) == key)?;
        Ok(self
            .leases
            .iter()
            .map(|l| &l.rec)
            .find(|r| name_key(&r.name) == key))
    }

    /// The live lease record of `name`, to change.
    pub fn record_mut(&mut self, name: &str) -> Result<Option<&mut LeaseRecord>> {
        self.record(name)?;
        let key = name_key(name);
        let rec = self
            .leases
            .iter_mut()
            .map(|l| &mut l.rec)
            .find(|r| name_key(&r.name) == key);
        self.leases_dirty |= rec.is_some();
        Ok(rec)
    }

    pub fn push_record(&mut self, rec: LeaseRecord) {
        self.leases.push(Live { rec, checked: true });
        self.leases_dirty = true;
    }

    pub fn remove_record(&mut self, name: &str) -> Option<LeaseRecord> {
        let key = name_key(name);
        let i = self
            .leases
            .iter()
            .position(|l| name_key(&l.rec.name) == key)?;
        self.leases_dirty = true;
        Some(self.leases.remove(i).rec)
    }

    /// The case-folded names held by a live process (every record verified).
    pub fn held_keys(&mut self) -> Result<HashSet<String>> {
        self.verify(|_| true)?;
        Ok(self.leases.iter().map(|l| name_key(&l.rec.name)).collect())
    }

    /// The records dropped so far because their holder is gone.
    pub fn take_pruned(&mut self) -> Vec<Cleaned> {
        std::mem::take(&mut self.pruned)
    }

    /// The entry as callers see it; the records it depends on must have been
    /// verified (`record` or `verify`) first.
    pub fn view(&self, e: &StoredEntry) -> Entry {
        let key = name_key(&e.name);
        let holder = self
            .leases
            .iter()
            .find(|l| l.checked && name_key(&l.rec.name) == key)
            .map(|l| l.rec.holder.clone());
        Entry::from_stored(e, holder)
    }

    /// Another name that holds (live) or reserves `port`, with that state.
    pub fn taken_by_other(
        &mut self,
        port: u16,
        key: &str,
    ) -> Result<Option<(String, &'static str)>> {
        let data = self.data.clone();
        let claims = |r: &LeaseRecord| {
            name_key(&r.name) != key && data.get(&r.name).map(|e| e.port) == Some(port)
        };
        self.verify(claims)?;
        if let Some(l) = self.leases.iter().find(|l| claims(&l.rec)) {
            return Ok(Some((l.rec.name.clone(), "active")));
        }
        Ok(self
            .data
            .entries
            .iter()
            .find(|e| e.reserved && e.port == port && name_key(&e.name) != key)
            .map(|e| (e.name.clone(), "reserved")))
    }
}
