//! One operation's view of the registry, taken under the lock: the entries
//! and the lease records, each record checked for a live holder lazily,
//! only where a decision depends on it (a targeted refresh of just those
//! pids), and dropped as soon as it is found dead.

use std::cell::OnceCell;
use std::collections::HashSet;

use rustc_hash::FxHashMap;
use std::sync::Arc;

use crate::entry::{name_key, Cleaned, Entry, Holder, LeaseRecord, StoredEntry};
use crate::error::Result;
use crate::holdlock;
use crate::liveness::{Context, Running};
use crate::store::{encode_leases, same_bytes, Changes, LeasesRead, RawRecord, RegData};

/// The state of one locked operation.
pub(crate) struct Tx {
    data: Arc<RegData>,
    reg_dirty: bool,
    leases: Vec<Live>,
    /// Records whose holder is not parsed yet: moved into `leases` (parsed)
    /// by the first operation that asks about their name.
    unparsed: Vec<RawRecord>,
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
    /// The checked records by case-folded name (index into `leases`): built
    /// by the first [`Tx::view`], so that viewing every entry of a large
    /// registry costs one lookup each; dropped by any change to `leases`.
    views: OnceCell<FxHashMap<String, usize>>,
}

struct Live {
    rec: LeaseRecord,
    checked: bool,
}

impl Tx {
    /// The registry as read; `ctx` says how to judge its holders.
    pub fn new(data: Arc<RegData>, read: LeasesRead, ctx: Context) -> Tx {
        let mut leases = Vec::with_capacity(read.records.parsed.len());
        let mut unparsed = Vec::with_capacity(read.records.raw.len());
        let mut pruned = Vec::new();
        // The first record of each name the registry knows, told by the
        // entry it names (one per case-folded name), not by a folded copy.
        let mut seen = vec![false; data.entries.len()];
        let mut first = |name: &str| match data.position(name) {
            Some(i) => !std::mem::replace(&mut seen[i], true),
            None => false,
        };
        for r in read.records.raw {
            if first(&r.name) {
                unparsed.push(r);
            } else if let Some(r) = r.parse() {
                pruned.push(Cleaned {
                    name: r.name,
                    port: None,
                    pid: r.holder.pid,
                });
            }
        }
        for r in read.records.parsed {
            // A record for a name the registry no longer has, or a second one
            // for the same name, is dropped without asking about its process.
            if first(&r.name) {
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
            unparsed,
            leases_version: read.version,
            pruned,
            ctx,
            views: OnceCell::new(),
        }
    }

    /// What is left to write once the operation is done.
    pub fn finish(mut self) -> Changes {
        let write = self.leases_dirty || self.pruned_dirty;
        if write {
            self.parse_records(|_| true);
        }
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

    /// Parses the holders of the records whose name `which` selects (a
    /// record that cannot be read is dropped, as at reading).
    fn parse_records(&mut self, which: impl Fn(&str) -> bool) {
        if !self.unparsed.iter().any(|r| which(&r.name)) {
            return;
        }
        let (chosen, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.unparsed)
            .into_iter()
            .partition(|r| which(&r.name));
        self.unparsed = rest;
        self.views.take();
        // One process often holds several names, each record carrying the
        // same holder text, side by side in the file: a text equal to the
        // one before is not parsed again.
        let mut last: Option<(&str, Option<Holder>)> = None;
        let holders: Vec<Option<Holder>> = chosen
            .iter()
            .map(|r| {
                let text = r.holder_text();
                match &last {
                    Some((t, h)) if same_bytes(t.as_bytes(), text.as_bytes()) => h.clone(),
                    _ => {
                        let h = r.holder();
                        last = Some((text, h.clone()));
                        h
                    }
                }
            })
            .collect();
        drop(last);
        self.leases.reserve(chosen.len());
        for (r, holder) in chosen.into_iter().zip(holders) {
            if let Some(holder) = holder {
                self.leases.push(Live {
                    rec: r.with_holder(holder),
                    checked: false,
                });
            }
        }
    }

    /// Checks the not-yet-checked records whose name `which` selects,
    /// dropping the ones whose holder is gone (or whose pid now belongs to
    /// another process).
    pub fn verify(&mut self, which: impl Fn(&str) -> bool) -> Result<()> {
        self.parse_records(&which);
        let holders: Vec<&Holder> = self
            .leases
            .iter()
            .filter(|l| !l.checked && which(&l.rec.name))
            .map(|l| &l.rec.holder)
            .collect();
        if holders.is_empty() {
            return Ok(());
        }
        self.views.take();
        let running = Running::of(&holders, &self.ctx);
        // One pass, the live records kept in order: removing each dead one
        // in place moved every record after it, n x n for a thousand names
        // of one process that died.
        let mut kept = Vec::with_capacity(self.leases.len());
        let mut locks_tried: HashSet<String> = HashSet::new();
        for mut l in std::mem::take(&mut self.leases) {
            if l.checked || !which(&l.rec.name) {
                kept.push(l);
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
                kept.push(l);
            } else {
                let dead = l.rec;
                if let Some(lock) = &dead.holder.lock {
                    // A process holds many names under one lock: its file
                    // is looked at once.
                    if !locks_tried.contains(lock) {
                        let own = crate::liveness::own_token();
                        holdlock::remove_if_free(self.ctx.dir(), lock, own.as_deref());
                        locks_tried.insert(lock.clone());
                    }
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
        self.leases = kept;
        Ok(())
    }

    /// The live lease record of `name`, if any.
    pub fn record(&mut self, name: &str) -> Result<Option<&LeaseRecord>> {
        // Names match case-insensitively (as their `name_key`s do), compared
        // without building a key for every record.
        self.verify(|n| n.eq_ignore_ascii_case(name))?;
        Ok(self
            .leases
            .iter()
            .map(|l| &l.rec)
            .find(|r| r.name.eq_ignore_ascii_case(name)))
    }

    /// The live lease record of `name`, to change.
    pub fn record_mut(&mut self, name: &str) -> Result<Option<&mut LeaseRecord>> {
        self.record(name)?;
        self.views.take();
        let rec = self
            .leases
            .iter_mut()
            .map(|l| &mut l.rec)
            .find(|r| r.name.eq_ignore_ascii_case(name));
        self.leases_dirty |= rec.is_some();
        Ok(rec)
    }

    pub fn push_record(&mut self, rec: LeaseRecord) {
        let name = rec.name.clone();
        self.parse_records(|n| n.eq_ignore_ascii_case(&name));
        self.views.take();
        self.leases.push(Live { rec, checked: true });
        self.leases_dirty = true;
    }

    pub fn remove_record(&mut self, name: &str) -> Option<LeaseRecord> {
        self.parse_records(|n| n.eq_ignore_ascii_case(name));
        let i = self
            .leases
            .iter()
            .position(|l| l.rec.name.eq_ignore_ascii_case(name))?;
        self.views.take();
        self.leases_dirty = true;
        Some(self.leases.remove(i).rec)
    }

    /// Removes the records of every name `which` selects, in one pass.
    pub fn remove_records(&mut self, which: impl Fn(&str) -> bool) {
        self.parse_records(&which);
        let before = self.leases.len();
        self.leases.retain(|l| !which(&l.rec.name));
        if self.leases.len() != before {
            self.views.take();
            self.leases_dirty = true;
        }
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
        let views = self.views.get_or_init(|| self.checked_index());
        let holder = views
            .get(crate::store::lookup_key(&e.name).as_ref())
            .map(|&i| self.leases[i].rec.holder.clone());
        Entry::from_stored(e, holder)
    }

    /// The entries as read, with each one's live holder (the one
    /// [`Tx::view`] shows) at the same index, moved out of its record
    /// instead of copied: a reader's last use of the Tx. The records are
    /// gone afterwards, so the Tx writes no lease record (what it found dead
    /// is found again by the next call).
    pub fn take_holders(&mut self) -> (Arc<RegData>, Vec<Option<Holder>>) {
        self.views.take();
        self.leases_dirty = false;
        self.pruned_dirty = false;
        let mut of_entries: Vec<Option<Holder>> = Vec::new();
        of_entries.resize_with(self.data.entries.len(), || None);
        for l in std::mem::take(&mut self.leases) {
            if let (true, Some(i)) = (l.checked, self.data.position(&l.rec.name)) {
                // The first record of a name, as a scan would find.
                of_entries[i].get_or_insert(l.rec.holder);
            }
        }
        (Arc::clone(&self.data), of_entries)
    }

    /// The checked records by case-folded name: the first record of a name,
    /// as a scan would find.
    fn checked_index(&self) -> FxHashMap<String, usize> {
        let mut m = FxHashMap::with_capacity_and_hasher(self.leases.len(), Default::default());
        for (i, l) in self.leases.iter().enumerate() {
            if l.checked {
                m.entry(name_key(&l.rec.name)).or_insert(i);
            }
        }
        m
    }

    /// Another name that holds (live) or reserves `port`, with that state.
    pub fn taken_by_other(
        &mut self,
        port: u16,
        key: &str,
    ) -> Result<Option<(String, &'static str)>> {
        let data = self.data.clone();
        // `key` is case-folded already.
        let claims =
            |n: &str| !n.eq_ignore_ascii_case(key) && data.get(n).map(|e| e.port) == Some(port);
        self.verify(claims)?;
        if let Some(l) = self.leases.iter().find(|l| claims(&l.rec.name)) {
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
