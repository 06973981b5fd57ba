//! The registry: every rule of leasing, releasing, pinning and forgetting,
//! each applied under the registry lock with liveness refreshed first.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::allocate::{self, PortRange, Probe, DEFAULT_RANGE};
use crate::entry::{
    name_key, validate_name, Cleaned, Entry, Holder, Lease, LeaseRecord, Released, StoredEntry,
};
use crate::error::{Error, HeldBy, Result};
use crate::store::{self, RegData, RegRead, FORMAT_VERSION, LEASES_FILE, REGISTRY_FILE};
use crate::{liveness, process};

/// What a caller asks `lease` for. Only the name is required.
#[derive(Debug, Clone, Default)]
pub struct LeaseRequest {
    pub name: String,
    /// A preferred port (a preference unless `exact`).
    pub port: Option<u16>,
    /// Fail with `PORT_TAKEN` / `PORT_BUSY` rather than move off `port`.
    pub exact: bool,
    /// Where to allocate a new port (default: the registry's range).
    pub range: Option<PortRange>,
    /// The holder (default: the calling process).
    pub pid: Option<u32>,
    pub description: Option<String>,
    pub meta: Option<BTreeMap<String, String>>,
}

impl LeaseRequest {
    pub fn new(name: impl Into<String>) -> LeaseRequest {
        LeaseRequest {
            name: name.into(),
            ..Default::default()
        }
    }
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
    pub fn exact(mut self, exact: bool) -> Self {
        self.exact = exact;
        self
    }
    pub fn range(mut self, range: PortRange) -> Self {
        self.range = Some(range);
        self
    }
    pub fn pid(mut self, pid: u32) -> Self {
        self.pid = Some(pid);
        self
    }
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }
    pub fn meta(mut self, meta: BTreeMap<String, String>) -> Self {
        self.meta = Some(meta);
        self
    }
}

/// Who is releasing or forgetting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A process acting for itself: only the holder may release.
    Pid(u32),
    /// A person (the CLI) or a forced call: releases whichever process of the
    /// same user holds the name.
    Force,
}

impl Actor {
    /// The calling process.
    pub fn me() -> Actor {
        Actor::Pid(std::process::id())
    }
}

/// The last `registry.json` this Registry read or wrote: its bytes, their
/// parsed form, and the file itself held open with its [`store::FileId`].
///
/// portreg only ever replaces registry.json (a new file renamed over it),
/// and the held file keeps its inode number from being given to another
/// file, so the same id on the path means the same file; an edit made in
/// place by something else changes its ctime. Where ctime is fine-grained,
/// an unchanged id is therefore proof enough and the file is not read
/// again; elsewhere the bytes are read and compared.
struct Cached {
    /// The bytes read, when they were read (after a write, the text that
    /// was written is kept in `data` instead).
    bytes: Vec<u8>,
    data: Arc<RegData>,
    held: store::Held,
}

/// A registry opened on a directory. Cheap to keep; every call takes the
/// lock, reads, decides and writes, so many processes and threads can share
/// one directory.
pub struct Registry {
    dir: PathBuf,
    range: PortRange,
    cache: Mutex<Option<Cached>>,
    /// A second buffer the size of registry.json, reused to read it (and
    /// compare with the cached bytes) and to serialize it.
    buf: Mutex<Vec<u8>>,
    /// Whether this file system gives every change a new ctime (see
    /// [`store::ctime_is_fine`]); found out once, on the lock file.
    fine_ctime: OnceLock<bool>,
    warnings: Mutex<Vec<String>>,
    print_warnings: AtomicBool,
    /// Ranges already checked against the ephemeral ports (warn once each).
    warned_ranges: Mutex<HashSet<PortRange>>,
}

/// How this process describes itself as a holder, shared by every Registry
/// it opens (the module-level functions open one per call). Keyed by pid, so
/// a forked child describes itself afresh.
static OWN_HOLDER: Mutex<Option<Holder>> = Mutex::new(None);

fn own_holder() -> Option<Holder> {
    let cached = OWN_HOLDER.lock().unwrap_or_else(|e| e.into_inner()).clone();
    cached.filter(|h| h.pid == std::process::id())
}

/// Where the default registry lives: `$PORTREG_HOME`, else `~/.portreg`.
pub fn default_dir() -> Result<PathBuf> {
    if let Some(h) = std::env::var_os("PORTREG_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(h));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::geteuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        });
    home.map(|h| h.join(".portreg")).ok_or_else(|| Error::Io {
        context:
            "cannot find your home directory; set PORTREG_HOME to choose where the registry lives"
                .into(),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    })
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The state of one locked operation. Lease records are checked for a live
/// holder lazily, only where a decision depends on them (a targeted refresh
/// of just those pids); records found dead are dropped as they are seen.
struct Tx {
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
    /// This process (pid, start time), alive by definition: no need to ask.
    me: Option<(u32, u64)>,
}

struct Live {
    rec: LeaseRecord,
    checked: bool,
}

impl Tx {
    fn data_mut(&mut self) -> &mut RegData {
        self.reg_dirty = true;
        Arc::make_mut(&mut self.data)
    }

    /// Checks the not-yet-checked records that `which` selects, dropping the
    /// ones whose holder is gone (or whose pid now belongs to another process).
    fn verify(&mut self, which: impl Fn(&LeaseRecord) -> bool) -> Result<()> {
        let me = self.me;
        let pids: Vec<u32> = self
            .leases
            .iter()
            .filter(|l| !l.checked && which(&l.rec))
            .map(|l| l.rec.holder.pid)
            .filter(|&p| me.is_none_or(|(mp, _)| mp != p))
            .collect();
        let alive = liveness::start_times(&pids)?;
        let mut i = 0;
        while i < self.leases.len() {
            let l = &mut self.leases[i];
            if l.checked || !which(&l.rec) {
                i += 1;
                continue;
            }
            let h = &l.rec.holder;
            let live = match me {
                Some((pid, st)) if pid == h.pid => st == h.start_time,
                _ => alive.get(&h.pid) == Some(&h.start_time),
            };
            if live {
                l.checked = true;
                i += 1;
            } else {
                let dead = self.leases.remove(i).rec;
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
    fn record(&mut self, name: &str) -> Result<Option<&LeaseRecord>> {
        let key = name_key(name);
        self.verify(|r| name_key(&r.name) == key)?;
        Ok(self
            .leases
            .iter()
            .map(|l| &l.rec)
            .find(|r| name_key(&r.name) == key))
    }

    fn records_mut(&mut self) -> impl Iterator<Item = &mut LeaseRecord> {
        self.leases.iter_mut().map(|l| &mut l.rec)
    }

    fn push_record(&mut self, rec: LeaseRecord) {
        self.leases.push(Live { rec, checked: true });
        self.leases_dirty = true;
    }

    fn remove_record(&mut self, name: &str) -> Option<LeaseRecord> {
        let key = name_key(name);
        let i = self
            .leases
            .iter()
            .position(|l| name_key(&l.rec.name) == key)?;
        self.leases_dirty = true;
        Some(self.leases.remove(i).rec)
    }

    /// The entry as callers see it; the records it depends on must have been
    /// verified (`record` or `verify`) first.
    fn view(&self, e: &StoredEntry) -> Entry {
        let key = name_key(&e.name);
        let holder = self
            .leases
            .iter()
            .find(|l| l.checked && name_key(&l.rec.name) == key)
            .map(|l| l.rec.holder.clone());
        Entry::from_stored(e, holder)
    }

    /// Another name that holds (live) or reserves `port`.
    fn taken_by_other(&mut self, port: u16, key: &str) -> Result<Option<(String, &'static str)>> {
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

    /// Checks a port asked for specifically (exact, or reserved).
    fn check_specific(&mut self, port: u16, key: &str) -> Result<()> {
        if let Some((other, state)) = self.taken_by_other(port, key)? {
            return Err(Error::PortTaken { port, other, state });
        }
        match allocate::probe(port) {
            Probe::Free => Ok(()),
            Probe::InUse => Err(Error::PortBusy { port, process: process::describe_listener(port) }),
            Probe::Denied => Err(Error::Permission(format!(
                "port {port} needs privileges to bind (ports below 1024 are reserved for root); choose a port of 1024 or above"
            ))),
        }
    }

    fn is_free(&mut self, port: u16, key: &str) -> Result<bool> {
        Ok(self.taken_by_other(port, key)?.is_none() && allocate::probe(port) == Probe::Free)
    }

    /// The lowest free port of `range` that no other name remembers; failing
    /// that, the port an idle name has remembered longest.
    fn fresh_port(&mut self, key: &str, range: PortRange) -> Result<u16> {
        // Ports other names remember, as a bitmap: no allocation per entry.
        let own = self.data.index.get(key).copied();
        let mut remembered = vec![0u64; 1 << 10];
        for (i, &p) in self.data.ports.iter().enumerate() {
            if Some(i) != own {
                remembered[usize::from(p >> 6)] |= 1 << (p & 63);
            }
        }
        let is_remembered = |p: u16| remembered[usize::from(p >> 6)] & (1 << (p & 63)) != 0;
        for port in range.low..=range.high {
            if allocate::is_bad_port(port) || is_remembered(port) {
                continue;
            }
            if allocate::probe(port) == Probe::Free {
                return Ok(port);
            }
        }
        // The range is otherwise full: the oldest idle name gives up its port.
        self.verify(|_| true)?;
        let held: HashSet<String> = self.leases.iter().map(|l| name_key(&l.rec.name)).collect();
        let mut idle: Vec<StoredEntry> = self
            .data
            .entries
            .iter()
            .filter(|e| {
                !e.reserved
                    && name_key(&e.name) != key
                    && !held.contains(&name_key(&e.name))
                    && range.contains(e.port)
                    && !allocate::is_bad_port(e.port)
            })
            .cloned()
            .collect();
        idle.sort_by(|a, b| a.changed.cmp(&b.changed).then(a.port.cmp(&b.port)));
        let mut tried = HashSet::new();
        for e in idle {
            if tried.insert(e.port) && self.is_free(e.port, key)? {
                return Ok(e.port);
            }
        }
        Err(Error::NoFreePort {
            low: range.low,
            high: range.high,
        })
    }
}

impl Registry {
    /// Opens (creating if needed) the registry in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Registry> {
        let dir = dir.as_ref().to_path_buf();
        store::prepare_dir(&dir)?;
        let range = configured_range(&dir)?;
        Ok(Registry {
            dir,
            range,
            cache: Mutex::new(None),
            buf: Mutex::new(Vec::new()),
            fine_ctime: OnceLock::new(),
            warnings: Mutex::new(Vec::new()),
            print_warnings: AtomicBool::new(true),
            warned_ranges: Mutex::new(HashSet::new()),
        })
    }

    /// Opens the default registry (`$PORTREG_HOME`, else `~/.portreg`).
    pub fn open_default() -> Result<Registry> {
        Registry::open(default_dir()?)
    }

    /// The registry directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The range new ports come from when a call names none (PORTREG_RANGE,
    /// then config.toml's `range`, then 8070-8999).
    pub fn default_range(&self) -> PortRange {
        self.range
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

    fn warn(&self, msg: String) {
        if self.print_warnings.load(Ordering::Relaxed) {
            eprintln!("portreg: warning: {msg}");
        }
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(msg);
    }

    fn holder_for(&self, pid: u32) -> Result<Holder> {
        if pid == std::process::id() {
            if let Some(h) = own_holder() {
                return Ok(h);
            }
        }
        let h = liveness::describe(pid)?.ok_or_else(|| {
            Error::Process(format!(
                "no running process has pid {pid}; a lease needs a live holder"
            ))
        })?;
        if pid == std::process::id() {
            *OWN_HOLDER.lock().unwrap_or_else(|e| e.into_inner()) = Some(h.clone());
        }
        Ok(h)
    }

    /// Reads `registry.json`, reusing the parsed form when the bytes have not
    /// changed since the last call.
    fn load_registry(&self, exclusive: bool) -> Result<Option<Arc<RegData>>> {
        let path = self.dir.join(REGISTRY_FILE);
        if self.fine_ctime.get() == Some(&true) {
            if let Ok(meta) = fs::metadata(&path) {
                let id = store::FileId::of(&meta);
                let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(c) = cache.as_ref() {
                    if c.held.as_ref().is_some_and(|(_, held)| *held == id) {
                        return Ok(Some(c.data.clone()));
                    }
                }
            }
        }
        let mut bytes = std::mem::take(&mut *self.buf.lock().unwrap_or_else(|e| e.into_inner()));
        let held = match store::read_held(&path, &mut bytes)? {
            None => {
                return Ok(Some(Arc::new(RegData::from_entries(
                    Vec::new(),
                    FORMAT_VERSION,
                ))))
            }
            Some(Ok(held)) => held,
            Some(Err(size)) => {
                return self.quarantine_corrupt(
                    &path,
                    exclusive,
                    &format!("it is {size} bytes, larger than any real registry"),
                )
            }
        };
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = cache.as_mut() {
                let same = match c.data.text() {
                    Some(text) => text == bytes,
                    None => c.bytes == bytes,
                };
                if same {
                    c.held = held;
                    let d = c.data.clone();
                    drop(cache);
                    *self.buf.lock().unwrap_or_else(|e| e.into_inner()) = bytes;
                    return Ok(Some(d));
                }
            }
        }
        match store::parse_registry(&bytes) {
            RegRead::Ok(data) => {
                if data.version > FORMAT_VERSION {
                    self.warn(
                        Error::RegistryVersion {
                            path: path.clone(),
                            found: data.version,
                            known: FORMAT_VERSION,
                        }
                        .to_string(),
                    );
                }
                let data = Arc::new(data);
                self.set_cache(Cached {
                    bytes,
                    data: data.clone(),
                    held,
                });
                Ok(Some(data))
            }
            RegRead::Corrupt(why) => self.quarantine_corrupt(&path, exclusive, &why),
        }
    }

    /// Moves a corrupt registry.json aside (under the exclusive lock; a
    /// reader gets `None` and retries exclusively) and starts empty.
    fn quarantine_corrupt(
        &self,
        path: &Path,
        exclusive: bool,
        why: &str,
    ) -> Result<Option<Arc<RegData>>> {
        if !exclusive {
            return Ok(None);
        }
        // Work goes on from an empty registry only once the bad bytes are
        // safe aside; if they cannot be moved, say so rather than carry on.
        let moved = store::quarantine(&self.dir).map_err(|e| Error::RegistryCorrupt {
            path: path.to_path_buf(),
            why: format!("{why}, and it could not be moved aside ({e})"),
        })?;
        self.warn(format!(
            "{} was corrupt ({why}); it was moved aside to {} with its bytes intact, and the registry starts empty. Inspect or restore that file by hand",
            path.display(),
            moved.display()
        ));
        Ok(Some(Arc::new(RegData::from_entries(
            Vec::new(),
            FORMAT_VERSION,
        ))))
    }

    fn load(&self, exclusive: bool) -> Result<Option<Tx>> {
        let Some(data) = self.load_registry(exclusive)? else {
            return Ok(None);
        };
        let read = store::read_leases(&self.dir.join(LEASES_FILE))?;
        if let Some(w) = read.warning {
            self.warn(w);
        }
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
        let me = own_holder().map(|h| (h.pid, h.start_time));
        Ok(Some(Tx {
            data,
            reg_dirty: false,
            leases_dirty: false,
            pruned_dirty: !pruned.is_empty(),
            leases,
            leases_version: read.version,
            pruned,
            me,
        }))
    }

    /// Runs `f` under the shared lock (plain reads); nothing is written.
    fn read<T>(&self, f: impl FnOnce(&mut Tx) -> Result<T>) -> Result<T> {
        {
            let lock = fd_lock::RwLock::new(self.open_lock()?);
            let _guard = lock
                .read()
                .map_err(|e| Error::io("cannot lock the registry", e))?;
            if let Some(mut tx) = self.load(false)? {
                return f(&mut tx);
            }
        }
        // registry.json is corrupt: moving it aside needs the exclusive lock.
        self.write(f)
    }

    /// Runs `f` under the exclusive lock, then writes what changed:
    /// `registry.json` durably, `leases.json` atomically without fsync.
    fn write<T>(&self, f: impl FnOnce(&mut Tx) -> Result<T>) -> Result<T> {
        let mut lock = fd_lock::RwLock::new(self.open_lock()?);
        let _guard = lock
            .write()
            .map_err(|e| Error::io("cannot lock the registry", e))?;
        let mut tx = self
            .load(true)?
            .ok_or_else(|| Error::Internal("corrupt registry after quarantine".into()))?;
        // Under the exclusive lock nobody else can change the file: take the
        // cached copy out so a change edits it in place instead of cloning it.
        // (Its parsed form is dropped here: tx holds the only other reference.)
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .map(|c| (c.bytes, c.held));
        let out = f(&mut tx)?;
        let newer = tx.data.version.max(tx.leases_version);
        if newer > FORMAT_VERSION {
            if tx.reg_dirty || tx.leases_dirty {
                let file = if tx.data.version > FORMAT_VERSION {
                    REGISTRY_FILE
                } else {
                    LEASES_FILE
                };
                return Err(Error::RegistryVersion {
                    path: self.dir.join(file),
                    found: newer,
                    known: FORMAT_VERSION,
                });
            }
            return Ok(out);
        }
        let leases = (tx.leases_dirty || tx.pruned_dirty).then(|| {
            let data = &tx.data;
            let records: Vec<&LeaseRecord> = tx.leases.iter().map(|l| &l.rec).collect();
            store::serialize_leases(&records, |n| data.get(n).map(|e| e.port).unwrap_or(0))
        });
        if tx.reg_dirty {
            // leases.json is staged before the wait on the disk and swapped
            // in after registry.json is durable (see store::Staged).
            let staged = leases
                .as_ref()
                .and_then(|b| store::Staged::new(&self.dir, LEASES_FILE, b).ok().flatten());
            let written = store::write_durable(&self.dir, REGISTRY_FILE, tx.data_mut().encode());
            if let Some((old, _)) = cached {
                *self.buf.lock().unwrap_or_else(|e| e.into_inner()) = old;
            }
            let held = written?;
            // The text just written stays in tx.data: no copy of the bytes.
            self.set_cache(Cached {
                bytes: Vec::new(),
                data: tx.data.clone(),
                held: Some(held),
            });
            if let Some(b) = &leases {
                if !matches!(staged.map(store::Staged::swap_in), Some(Ok(true))) {
                    store::write_atomic(&self.dir, LEASES_FILE, b)?;
                }
            }
        } else {
            if let Some((bytes, held)) = cached {
                self.set_cache(Cached {
                    bytes,
                    data: tx.data.clone(),
                    held,
                });
            }
            if let Some(b) = &leases {
                store::write_atomic(&self.dir, LEASES_FILE, b)?;
            }
        }
        Ok(out)
    }

    /// Opens the lock file, and the first time, finds out from it whether
    /// ctime on this file system is fine-grained.
    fn open_lock(&self) -> Result<File> {
        let f = store::open_lock(&self.dir)?;
        self.fine_ctime.get_or_init(|| store::ctime_is_fine(&f));
        Ok(f)
    }

    /// Remembers what registry.json holds; the buffer it replaces is kept
    /// for the next read or write.
    fn set_cache(&self, c: Cached) {
        let old = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(c);
        if let Some(old) = old {
            *self.buf.lock().unwrap_or_else(|e| e.into_inner()) = old.bytes;
        }
    }

    /// Leases a port for `req.name`, making `req.pid` (default: the caller)
    /// its holder. See DESIGN.md "Allocation" for the order ports are tried in.
    pub fn lease(&self, req: &LeaseRequest) -> Result<Lease> {
        validate_name(&req.name)?;
        if req.port == Some(0) {
            return Err(allocate::check_port(0).unwrap_err());
        }
        if req.exact && req.port.is_none() {
            return Err(Error::InvalidPort {
                value: String::new(),
                why: "an exact request needs a port: give --port P with --exact".into(),
            });
        }
        let range = req.range.unwrap_or(self.range);
        if req.range.is_some()
            && self
                .warned_ranges
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(range)
        {
            if let Some(w) = allocate::ephemeral_warning(&range) {
                self.warn(w);
            }
        }
        let mut holder = self.holder_for(req.pid.unwrap_or_else(std::process::id))?;
        let key = name_key(&req.name);
        self.write(|tx| {
            if let Some(rec) = tx.record(&req.name)?.cloned() {
                let port = tx.data.get(&req.name).map(|e| e.port).unwrap_or(0);
                if rec.holder.pid == holder.pid && rec.holder.start_time == holder.start_time {
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
                    if let Some(mut e) = tx.data.get(&req.name).cloned() {
                        let mut changed = false;
                        if req.description.is_some() && req.description != e.description {
                            e.description = req.description.clone();
                            changed = true;
                        }
                        if let Some(m) = req.meta.as_ref().filter(|m| **m != e.meta) {
                            e.meta = m.clone();
                            changed = true;
                        }
                        if changed {
                            e.changed = now();
                            tx.data_mut().insert(e);
                        }
                    }
                    return Ok(Lease { name: rec.name.clone(), port, holder: rec.holder.clone(), existing: true });
                }
                return Err(Error::LeaseHeld(HeldBy {
                    name: rec.name.clone(),
                    pid: rec.holder.pid,
                    port,
                    since: rec.holder.since.clone(),
                }));
            }
            let existing = tx.data.get(&req.name).cloned();
            let port = match &existing {
                Some(e) if e.reserved => {
                    if req.exact && req.port != Some(e.port) {
                        return Err(Error::InvalidPort {
                            value: req.port.unwrap_or(0).to_string(),
                            why: format!(
                                "{} is reserved on port {}; lease it without a port, or move the reservation with `portreg reserve {} PORT`",
                                e.name, e.port, e.name
                            ),
                        });
                    }
                    tx.check_specific(e.port, &key)?;
                    e.port
                }
                _ if req.exact => {
                    let p = req.port.unwrap_or(0);
                    tx.check_specific(p, &key)?;
                    p
                }
                _ => {
                    // The range only governs new allocation: a name keeps its port.
                    let mut remembered = existing.as_ref().map(|e| e.port);
                    if let Some(p) = remembered {
                        if !tx.is_free(p, &key)? {
                            remembered = None;
                        }
                    }
                    let mut preferred = req.port.filter(|&p| p >= 1024 && !allocate::is_bad_port(p));
                    if remembered.is_some() {
                        preferred = None;
                    } else if let Some(p) = preferred {
                        if !tx.is_free(p, &key)? {
                            preferred = None;
                        }
                    }
                    match remembered.or(preferred) {
                        Some(p) => p,
                        None => tx.fresh_port(&key, range)?,
                    }
                }
            };
            let stamp = now();
            let name = match existing {
                None => {
                    tx.data_mut().insert(StoredEntry {
                        name: req.name.clone(),
                        port,
                        reserved: false,
                        description: req.description.clone(),
                        meta: req.meta.clone().unwrap_or_default(),
                        created: stamp.clone(),
                        changed: stamp.clone(),
                    });
                    req.name.clone()
                }
                Some(mut e) => {
                    let mut changed = false;
                    if e.port != port {
                        e.port = port;
                        changed = true;
                    }
                    if req.description.is_some() && req.description != e.description {
                        e.description = req.description.clone();
                        changed = true;
                    }
                    if let Some(m) = req.meta.as_ref().filter(|m| **m != e.meta) {
                        e.meta = m.clone();
                        changed = true;
                    }
                    let name = e.name.clone();
                    if changed {
                        e.changed = stamp.clone();
                        tx.data_mut().insert(e);
                    }
                    name
                }
            };
            holder.since = stamp;
            tx.push_record(LeaseRecord { name: name.clone(), holder: holder.clone() });
            tx.leases_dirty = true;
            Ok(Lease { name, port, holder, existing: false })
        })
    }

    /// Releases `name`: the entry turns idle and remembers its port.
    /// `Actor::Pid` must be the holder (`NOT_HOLDER` otherwise); `Actor::Force`
    /// releases any holder of the same user (`PERMISSION` for another user's).
    pub fn release(&self, name: &str, actor: Actor) -> Result<Released> {
        validate_name(name)?;
        self.write(|tx| {
            if tx.data.get(name).is_none() {
                return Err(Error::NotFound {
                    what: "name",
                    name: name.to_string(),
                });
            }
            let Some(rec) = tx.record(name)?.cloned() else {
                return Ok(Released::NotHeld);
            };
            let pid = rec.holder.pid;
            match actor {
                Actor::Pid(me) if me != pid => {
                    return Err(Error::NotHolder {
                        name: rec.name.clone(),
                        pid,
                        caller: me,
                    })
                }
                Actor::Force => check_same_user(pid)?,
                Actor::Pid(_) => {}
            }
            tx.remove_record(name);
            Ok(Released::Released {
                port: tx.data.get(name).map(|e| e.port).unwrap_or(0),
                pid,
            })
        })
    }

    /// The entry for `name`, if the registry knows it.
    pub fn get(&self, name: &str) -> Result<Option<Entry>> {
        validate_name(name)?;
        self.read(|tx| {
            let Some(e) = tx.data.get(name).cloned() else {
                return Ok(None);
            };
            tx.record(name)?;
            Ok(Some(tx.view(&e)))
        })
    }

    /// Every entry, sorted by port then name.
    pub fn list(&self) -> Result<Vec<Entry>> {
        self.read(|tx| {
            tx.verify(|_| true)?;
            let mut stored: Vec<&StoredEntry> = tx.data.entries.iter().collect();
            stored.sort_unstable_by(|a, b| store::file_order(a, b));
            Ok(stored.into_iter().map(|e| tx.view(e)).collect())
        })
    }

    /// Pins `name` to `port` (no process needed). The same request twice is
    /// not an error. A process outside the registry on the port only warns
    /// (`portreg conflicts` will name it).
    pub fn reserve(&self, name: &str, port: u16, description: Option<&str>) -> Result<Entry> {
        validate_name(name)?;
        allocate::check_port(u64::from(port))?;
        let key = name_key(name);
        let entry = self.write(|tx| {
            if let Some((other, state)) = tx.taken_by_other(port, &key)? {
                return Err(Error::PortTaken { port, other, state });
            }
            let existing = tx.data.get(name).cloned();
            if let (Some(rec), Some(e)) = (tx.record(name)?.cloned(), &existing) {
                if e.port != port {
                    return Err(Error::LeaseHeld(HeldBy {
                        name: rec.name.clone(),
                        pid: rec.holder.pid,
                        port: e.port,
                        since: rec.holder.since.clone(),
                    }));
                }
            }
            let stamp = now();
            let mut e = existing.unwrap_or_else(|| StoredEntry {
                name: name.to_string(),
                port,
                reserved: false,
                description: None,
                meta: BTreeMap::new(),
                created: stamp.clone(),
                changed: stamp.clone(),
            });
            let before = e.clone();
            e.port = port;
            e.reserved = true;
            if let Some(d) = description {
                e.description = Some(d.to_string());
            }
            if e != before || tx.data.get(name).is_none() {
                e.changed = stamp;
                tx.data_mut().insert(e.clone());
            }
            Ok(tx.view(&e))
        })?;
        if entry.holder.is_none() && allocate::probe(port) == Probe::InUse {
            let who = process::describe_listener(port)
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
        validate_name(name)?;
        self.write(|tx| {
            let Some(e) = tx.data.get(name).cloned() else {
                return Err(Error::NotFound {
                    what: "name",
                    name: name.to_string(),
                });
            };
            tx.record(name)?;
            let view = tx.view(&e);
            if let Some(rec) = tx.record(name)?.cloned() {
                if rec.holder.pid != std::process::id() {
                    if !force {
                        return Err(Error::LeaseHeld(HeldBy {
                            name: rec.name.clone(),
                            pid: rec.holder.pid,
                            port: e.port,
                            since: rec.holder.since.clone(),
                        }));
                    }
                    check_same_user(rec.holder.pid)?;
                }
                tx.remove_record(name);
            }
            tx.data_mut().remove(name);
            Ok(view)
        })
    }

    /// A port that is free right now in `range` (default: the registry's),
    /// without leasing it. Prefer `lease`: only a lease stops another process
    /// from taking the port too.
    pub fn find_free(&self, range: Option<PortRange>) -> Result<u16> {
        let range = range.unwrap_or(self.range);
        self.read(|tx| tx.fresh_port("", range))
    }

    /// Drops every lease whose holder is gone (those entries turn idle) and
    /// leftovers of interrupted writes; returns what was dropped.
    pub fn clean(&self) -> Result<Vec<Cleaned>> {
        let cleaned = self.write(|tx| {
            tx.verify(|_| true)?;
            Ok(std::mem::take(&mut tx.pruned))
        })?;
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for ent in rd.flatten() {
                let n = ent.file_name();
                let n = n.to_string_lossy();
                if n.starts_with('.') && n.ends_with(".tmp") {
                    if let Some(pid) = n.split('.').nth_back(2).and_then(|p| p.parse::<u32>().ok())
                    {
                        if liveness::start_times(&[pid])
                            .map(|m| m.is_empty())
                            .unwrap_or(false)
                        {
                            let _ = std::fs::remove_file(ent.path());
                        }
                    }
                }
            }
        }
        Ok(cleaned)
    }
}

fn check_same_user(pid: u32) -> Result<()> {
    let me = nix::unistd::geteuid().as_raw();
    match liveness::process_uid(pid)? {
        Some(uid) if uid != me && me != 0 => Err(Error::Permission(format!(
            "pid {pid} belongs to {} (uid {uid}), not to you; only that user (or root) can release it",
            liveness::user_name(uid)
        ))),
        _ => Ok(()),
    }
}

fn configured_range(dir: &Path) -> Result<PortRange> {
    if let Some(v) = std::env::var_os("PORTREG_RANGE").filter(|v| !v.is_empty()) {
        let s = v.to_string_lossy();
        return s.parse().map_err(|e: Error| match e {
            Error::InvalidRange { value, why } => Error::InvalidRange {
                value,
                why: format!("{why} (from the environment variable PORTREG_RANGE)"),
            },
            other => other,
        });
    }
    let path = dir.join(store::CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DEFAULT_RANGE),
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), e)),
    };
    let table: toml::Table = text.parse().map_err(|e| Error::InvalidRange {
        value: path.display().to_string(),
        why: format!("{} does not parse as TOML: {e}", path.display()),
    })?;
    match table.get("range") {
        None => Ok(DEFAULT_RANGE),
        Some(toml::Value::String(s)) => s.parse().map_err(|e: Error| match e {
            Error::InvalidRange { value, why } => Error::InvalidRange {
                value,
                why: format!("{why} (from `range` in {})", path.display()),
            },
            other => other,
        }),
        Some(_) => Err(Error::InvalidRange {
            value: path.display().to_string(),
            why: "`range` must be a string such as \"8070-8999\"".into(),
        }),
    }
}

impl Registry {
    /// Makes `to_pid` the holder of a name the calling process holds (how
    /// `portreg run` hands its lease to the child it started).
    pub fn hand_over(&self, name: &str, to_pid: u32) -> Result<Lease> {
        validate_name(name)?;
        let me = std::process::id();
        let mut holder = self.holder_for(to_pid)?;
        self.write(|tx| {
            let port = tx
                .data
                .get(name)
                .map(|e| e.port)
                .ok_or_else(|| Error::NotFound {
                    what: "name",
                    name: name.to_string(),
                })?;
            let key = name_key(name);
            tx.record(name)?;
            let rec = tx.records_mut().find(|r| name_key(&r.name) == key);
            match rec {
                Some(r) if r.holder.pid == me => {
                    holder.since = r.holder.since.clone();
                    r.holder = holder.clone();
                    let name = r.name.clone();
                    tx.leases_dirty = true;
                    Ok(Lease {
                        name,
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
        })
    }
}
