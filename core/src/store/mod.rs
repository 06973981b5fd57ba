//! The registry on disk: one directory holding `registry.json` (the durable
//! entries), `leases.json` (the live holders) and `registry.lock`.
//!
//! - `names`: every file name, temp and quarantine names included.
//! - `model`: the entries in memory; `text`: registry.json's text kept up
//!   to date entry by entry; `order`: the order of files and lists.
//! - `format`: parsing and encoding both files; `leases_text`: leases.json's
//!   text written field by field; `leases`: leases.json's kept copy and its
//!   writes.
//! - `read`: capped reads and the identity of what was read.
//! - `write`: durable and atomic replacement.
//! - `dir`: the private directory, the lock file, quarantine, stale temps.
//! - here: [`Store`], which runs one operation under the lock, reusing the
//!   last `registry.json` it saw when the file has not changed since.

mod dir;
mod format;
mod kept;
mod layout;
mod leases;
mod leases_text;
mod lock;
mod model;
mod names;
mod order;
mod peek;
mod read;
mod records;
mod text;
mod write;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub use format::FORMAT_VERSION;
pub(crate) use format::{encode_leases, parse_leases, parse_registry, LeasesRead, RegRead};
pub(crate) use model::{lookup_key, RegData};
pub use names::{LEASES_FILE, LOCK_FILE, REGISTRY_FILE};
pub(crate) use order::file_order;
pub(crate) use read::ctime_is_fine;
pub(crate) use records::{same_bytes, RawRecord};

use crate::config::MAX_FILE_BYTES;
use crate::entry::LeaseRecord;
use crate::error::{Error, Result};
use leases::LeasesCached;
use read::Held;

/// The last `registry.json` a Store read or wrote: its bytes, their parsed
/// form, and the file itself held open with its [`FileId`].
///
/// portreg only ever replaces registry.json (a new file renamed over it),
/// and the held file keeps its inode number from being given to another
/// file, so the same id on the path means the same file; an edit made in
/// place by something else changes its ctime. Where ctime is fine-grained,
/// an unchanged id is therefore proof enough and the file is not read
/// again (the id asked of the held file itself while the lock file proves
/// the directory: [`read::unchanged`]); elsewhere the bytes are read and
/// compared.
struct Cached {
    /// The bytes read, when they were read (after a write, the text that
    /// was written is kept in `data` instead).
    bytes: Vec<u8>,
    data: Arc<RegData>,
    held: Held,
}

/// What one operation under the exclusive lock leaves to write.
pub(crate) struct Changes {
    /// The entries after the operation.
    pub data: Arc<RegData>,
    /// The operation changed an entry: registry.json is written durably.
    pub registry_changed: bool,
    /// The operation changed a lease record itself (not only dropped dead
    /// ones): refused on a registry of a newer version.
    pub leases_changed: bool,
    /// leases.json's new text, when its records changed or dead ones were
    /// dropped; written atomically without fsync.
    pub leases: Option<Vec<u8>>,
    /// The records `leases` holds, in its order (kept to be reused while
    /// the file stays as written).
    pub records: Vec<LeaseRecord>,
    /// The version leases.json was found at.
    pub leases_version: u64,
}

/// The files of one registry directory.
pub(crate) struct Store {
    dir: PathBuf,
    /// registry.json, leases.json and registry.lock in `dir`, joined once.
    registry_path: PathBuf,
    leases_path: PathBuf,
    lock_path: PathBuf,
    /// leases.json's spare file, joined once too.
    spare_path: PathBuf,
    cache: Mutex<Option<Cached>>,
    /// The last leases.json seen, when it was written whole, or read whole
    /// by a Store that had read it before.
    leases_cache: Mutex<Option<LeasesCached>>,
    /// Whether leases.json was read before: a Store that reads it once (a
    /// command-line `list`) keeps no copy of its records.
    leases_read: AtomicBool,
    /// The same for registry.json, read under the shared lock.
    registry_read: AtomicBool,
    /// A second buffer the size of registry.json, reused to read it (and
    /// compare with the cached bytes) and to serialize it.
    buf: Mutex<Vec<u8>>,
    /// Whether this file system gives every change a new ctime (see
    /// [`read::ctime_is_fine`]); found out once, on the lock file.
    fine_ctime: OnceLock<bool>,
    /// How long a call waits for the lock before giving up.
    lock_timeout: Duration,
    /// Whether "the registry is read-only" was said already.
    told_read_only: AtomicBool,
    /// registry.lock, kept open and unlocked between calls (see `kept`).
    kept_lock: Mutex<Option<kept::Kept>>,
    /// While [`Store::exclusive`] runs: the device and inode of the lock
    /// file it locked, when that is the kept one, just seen under its name,
    /// and locked at the first try.
    locked: Mutex<Option<(u64, u64)>>,
}

impl Store {
    /// Opens `dir`, creating it (private) if needed.
    pub fn open(dir: PathBuf) -> Result<Store> {
        dir::prepare_dir(&dir)?;
        Ok(Store {
            registry_path: dir.join(REGISTRY_FILE),
            leases_path: dir.join(LEASES_FILE),
            lock_path: dir.join(LOCK_FILE),
            spare_path: dir.join(names::spare_name(LEASES_FILE)),
            dir,
            cache: Mutex::new(None),
            leases_cache: Mutex::new(None),
            leases_read: AtomicBool::new(false),
            registry_read: AtomicBool::new(false),
            buf: Mutex::new(Vec::new()),
            fine_ctime: OnceLock::new(),
            lock_timeout: crate::config::DEFAULT_LOCK_TIMEOUT,
            told_read_only: AtomicBool::new(false),
            kept_lock: Mutex::new(None),
            locked: Mutex::new(None),
        })
    }

    /// Sets how long a call waits for the lock (see `config::lock_timeout`).
    pub fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `f` on both files under the shared lock; `Ok(None)`, without
    /// running it, when registry.json is corrupt (moving it aside needs the
    /// exclusive lock).
    pub fn shared<T>(
        &self,
        warn: &dyn Fn(String),
        f: impl FnOnce(Arc<RegData>, LeasesRead) -> Result<T>,
    ) -> Result<Option<T>> {
        let guard = self.lock_shared(warn)?;
        let named = guard.named();
        let Some(data) = self.load_registry(false, false, named, warn)? else {
            return Ok(None);
        };
        let leases = self.read_leases(named, warn)?;
        f(data, leases).map(Some)
    }

    /// registry.json alone, read under the shared lock: the names and their
    /// ports, without parsing who holds them (leases.json). `Ok(None)` when
    /// it is corrupt, as for [`Store::shared`].
    pub fn shared_registry(&self, warn: &dyn Fn(String)) -> Result<Option<Arc<RegData>>> {
        let guard = self.lock_shared(warn)?;
        // Only read from (never taken apart), so kept for the next read, as
        // a caller that exits next may also leave it to the exit to free.
        self.load_registry(false, true, guard.named(), warn)
    }

    /// The port of `name`, read straight from registry.json's bytes by a
    /// Store that keeps no copy of it yet (peek.rs); `Ok(None)` leaves the
    /// answer to [`Store::shared_registry`]: a copy is kept, or the file is
    /// not one the quick read takes (it may be corrupt, or newer).
    pub fn peek_port(&self, name: &str, warn: &dyn Fn(String)) -> Result<Option<Option<u16>>> {
        let kept = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if kept || self.registry_read.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let _guard = self.lock_shared(warn)?;
        let mut bytes = std::mem::take(&mut *self.buf.lock().unwrap_or_else(|e| e.into_inner()));
        let found = match read::read_held(&self.registry_path, &mut bytes)? {
            None => Some(None),
            Some(Ok(_)) => peek::port_in(&bytes, name),
            Some(Err(_)) => None,
        };
        *self.buf.lock().unwrap_or_else(|e| e.into_inner()) = bytes;
        Ok(found)
    }

    /// Runs `f` on both files under the exclusive lock, then writes what
    /// it changed: `registry.json` durably, then `leases.json` atomically
    /// without fsync (so a writer killed in between leaves the new entry
    /// idle, never a holder of a name the registry lacks).
    pub fn exclusive<T>(
        &self,
        warn: &dyn Fn(String),
        f: impl FnOnce(Arc<RegData>, LeasesRead) -> Result<(T, Changes)>,
    ) -> Result<T> {
        let (file, id) = match self.kept_lock_file() {
            Some((f, id)) => (f, Some(id)),
            None => (self.open_lock()?, None),
        };
        // A lock file kept since a first read was not looked at then.
        self.fine_ctime.get_or_init(|| read::ctime_is_fine(&file));
        let held = lock::acquire(Some(file), true, &self.lock_path, self.lock_timeout, warn)?;
        *self.locked.lock().unwrap_or_else(|e| e.into_inner()) = id.filter(|_| held.first_try());
        let _guard = self.guard(held, id, true);
        let named = id.is_some();
        let data = self
            .load_registry(true, true, named, warn)?
            .ok_or_else(|| Error::Internal("corrupt registry after quarantine".into()))?;
        let leases = self.read_leases(named, warn)?;
        // Under the exclusive lock nobody else can change the file: take the
        // cached copy out so a change edits it in place instead of cloning it.
        // (Its parsed form is dropped here: `f` holds the only other reference.)
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .map(|c| (c.bytes, c.held));
        let (out, changes) = f(data, leases)?;
        self.save(cached, changes)?;
        Ok(out)
    }

    /// Inside [`Store::exclusive`]'s `f`: the lock file's device and inode,
    /// when it is the file kept since the last call, its name was just seen
    /// to point to it, and it was locked at the first try; else `None`.
    pub fn locked_id(&self) -> Option<(u64, u64)> {
        *self.locked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes the temp files of writers that died mid-write.
    pub fn remove_stale_temps(&self) {
        dir::remove_stale_temps(&self.dir);
    }

    fn save(&self, cached: Option<(Vec<u8>, Held)>, c: Changes) -> Result<()> {
        let Changes {
            mut data,
            registry_changed,
            leases_changed,
            leases,
            records,
            leases_version,
        } = c;
        let newer = data.version.max(leases_version);
        if newer > FORMAT_VERSION {
            if registry_changed || leases_changed {
                let file = if data.version > FORMAT_VERSION {
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
            return Ok(());
        }
        // Nothing is written that a reader would refuse (and move aside,
        // emptying the registry): both files are checked before either is.
        if registry_changed {
            let size = Arc::make_mut(&mut data).encode().len() as u64;
            self.check_size(REGISTRY_FILE, size)?;
        }
        if let Some(b) = &leases {
            self.check_size(LEASES_FILE, b.len() as u64)?;
        }
        if registry_changed {
            // leases.json is staged before the wait on the disk and swapped
            // in after registry.json is durable (see write::Staged); an
            // edit in place waits for it too.
            let staged = leases.as_ref().map(|b| self.prepare_leases(b));
            let written =
                write::write_durable(&self.dir, REGISTRY_FILE, Arc::make_mut(&mut data).encode());
            if let Some((old, _)) = cached {
                *self.buf.lock().unwrap_or_else(|e| e.into_inner()) = old;
            }
            let held = written?;
            // The text just written stays in data: no copy of the bytes.
            self.set_cache(Cached {
                bytes: Vec::new(),
                data,
                held: Some(held),
            });
            if let (Some(b), Some(how)) = (&leases, staged) {
                self.put_leases(how, b, records)?;
            }
        } else {
            if let Some((bytes, held)) = cached {
                self.set_cache(Cached { bytes, data, held });
            }
            if let Some(b) = &leases {
                let how = self.prepare_leases(b);
                self.put_leases(how, b, records)?;
            }
        }
        Ok(())
    }

    fn check_size(&self, file: &str, size: u64) -> Result<()> {
        if size > MAX_FILE_BYTES {
            return Err(Error::RegistryFull {
                path: self.dir.join(file),
                size,
                limit: MAX_FILE_BYTES,
            });
        }
        Ok(())
    }

    /// Reads `registry.json`, reusing the parsed form when the file has not
    /// changed since the last call. A first read keeps it only when `keep`.
    /// `named`: this call's lock file was found under its name (see
    /// [`read::unchanged`]).
    fn load_registry(
        &self,
        exclusive: bool,
        keep: bool,
        named: bool,
        warn: &dyn Fn(String),
    ) -> Result<Option<Arc<RegData>>> {
        let path = &self.registry_path;
        if self.fine_ctime.get() == Some(&true) {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((c, (file, held))) =
                cache.as_ref().and_then(|c| Some((c, c.held.as_ref()?)))
            {
                if read::still_held(file, held, path, named, true) {
                    return Ok(Some(c.data.clone()));
                }
                // Another file: the copy is dropped, or a later call that
                // finds the old file unchanged where it went would take it
                // (a first read below keeps none).
                *cache = None;
            }
        }
        let mut bytes = std::mem::take(&mut *self.buf.lock().unwrap_or_else(|e| e.into_inner()));
        let held = match read::read_held(path, &mut bytes)? {
            None => {
                return Ok(Some(Arc::new(RegData::from_entries(
                    Vec::new(),
                    FORMAT_VERSION,
                ))))
            }
            Some(Ok(held)) => held,
            Some(Err(size)) => {
                return self.quarantine_corrupt(
                    path,
                    exclusive,
                    &format!("it is {size} bytes, larger than any real registry"),
                    warn,
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
        match parse_registry(&bytes) {
            RegRead::Ok(data) => {
                if data.version > FORMAT_VERSION {
                    warn(
                        Error::RegistryVersion {
                            path: path.to_path_buf(),
                            found: data.version,
                            known: FORMAT_VERSION,
                        }
                        .to_string(),
                    );
                }
                let data = Arc::new(data);
                // As for leases.json, a reader's first read keeps no copy
                // unless asked to: the caller may take the entries (see
                // Registry::list).
                if self.registry_read.swap(true, Ordering::Relaxed) || keep {
                    self.set_cache(Cached {
                        bytes,
                        data: data.clone(),
                        held,
                    });
                }
                Ok(Some(data))
            }
            RegRead::Corrupt(why) => self.quarantine_corrupt(path, exclusive, &why, warn),
        }
    }

    /// Moves a corrupt registry.json aside (under the exclusive lock; a
    /// reader gets `None` and retries exclusively) and starts empty.
    fn quarantine_corrupt(
        &self,
        path: &Path,
        exclusive: bool,
        why: &str,
        warn: &dyn Fn(String),
    ) -> Result<Option<Arc<RegData>>> {
        if !exclusive {
            return Ok(None);
        }
        // Work goes on from an empty registry only once the bad bytes are
        // safe aside; if they cannot be moved, say so rather than carry on.
        let moved = dir::quarantine(&self.dir).map_err(|e| Error::RegistryCorrupt {
            path: path.to_path_buf(),
            why: format!("{why}, and it could not be moved aside ({e})"),
        })?;
        warn(format!(
            "{} was corrupt ({why}); it was moved aside to {} with its bytes intact, and the registry starts empty. Inspect or restore that file by hand",
            path.display(),
            moved.display()
        ));
        Ok(Some(Arc::new(RegData::from_entries(
            Vec::new(),
            FORMAT_VERSION,
        ))))
    }

    /// Forgets what both files held (see [`Store::kept_lock_file`]).
    fn drop_copies(&self) {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *self.leases_cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
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
}

/// Texts for the property tests of the layout readers.
#[cfg(test)]
pub(crate) mod changed {
    use proptest::prelude::*;

    /// A file from `files`, with one byte put in, taken out or changed
    /// anywhere (JSON's punctuation, digits, letters of its words).
    pub fn one_byte(files: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = String> {
        (
            files,
            any::<prop::sample::Index>(),
            0..3u8,
            prop::sample::select(b" \n\t{}[]\",:0123456789-aeflnrstuz\\".to_vec()),
        )
            .prop_map(|(mut text, at, how, byte)| {
                let i = at.index(text.len() + 1);
                match how {
                    0 => text.insert(i, byte),
                    1 if i < text.len() => drop(text.remove(i)),
                    _ if i < text.len() => text[i] = byte,
                    _ => text.push(byte),
                }
                String::from_utf8_lossy(&text).into_owned()
            })
    }
}
