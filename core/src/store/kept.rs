//! `registry.lock` kept open between one call and the next, so that taking
//! the lock costs a `stat` of its name, a lock and an unlock, instead of an
//! open, an ownership check, a lock, an unlock and a close.
//!
//! A `flock` belongs to the open file, which a forked child shares: a child
//! that kept its parent's descriptor could keep a lock its killed parent
//! held, or believe it holds a lock its parent holds. So a kept descriptor
//! is never used by another process than the one that opened it, and the
//! child handler registered with `pthread_atfork` closes every kept
//! descriptor in a freshly forked child (a close there drops only the
//! child's reference: the parent's lock is untouched). Descriptors are kept
//! only in a fixed number of slots, which the handler can walk without a
//! mutex; a registry that finds no free slot opens the lock file each call,
//! as before.
//!
//! Which file a call locks lives here too: the kept one, else the lock file
//! opened afresh (for reading, a registry that cannot be written is read).

use std::fs::File;
use std::mem::ManuallyDrop;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;

use std::io;

use super::{dir, lock, read, Store};
use crate::error::{Error, Result};
use crate::pid::my_pid;

/// How many lock files a process keeps open at most (one per registry
/// directory it uses; a process rarely uses more than two).
const SLOTS: usize = 16;

/// The kept descriptors, -1 for a free slot.
static FDS: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];

/// Closes every kept descriptor in a child made by fork.
extern "C" fn close_in_child() {
    for slot in &FDS {
        let fd = slot.swap(-1, Ordering::Relaxed);
        if fd >= 0 {
            // SAFETY: close is async-signal-safe; the descriptor is the
            // child's copy of one the parent keeps, used by nothing else.
            unsafe { nix::libc::close(fd) };
        }
    }
}

/// A lock file this process keeps open, unlocked, with the device and inode
/// it had when opened.
pub(crate) struct Kept {
    file: ManuallyDrop<File>,
    id: (u64, u64),
    pid: u32,
    slot: usize,
}

impl Kept {
    /// Keeps `file`, unlocked, whose device and inode are `id`; `None`
    /// (and the file closed) when every slot is taken.
    pub fn keep(file: File, id: (u64, u64)) -> Option<Kept> {
        static HANDLER: Once = Once::new();
        HANDLER.call_once(|| {
            // SAFETY: the handler only swaps atomics and closes descriptors,
            // which is safe in a freshly forked child.
            unsafe { nix::libc::pthread_atfork(None, None, Some(close_in_child)) };
        });
        let fd = file.as_raw_fd();
        let slot = FDS.iter().position(|s| {
            s.compare_exchange(-1, fd, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        })?;
        Some(Kept {
            file: ManuallyDrop::new(file),
            id,
            pid: my_pid(),
            slot,
        })
    }

    /// The kept file and its id, when this process kept it and `path` still
    /// names it (not unlinked or replaced since); `None` otherwise (and the
    /// file closed, or in a forked child forgotten: it is closed already).
    pub fn take(self, path: &Path) -> Option<(File, (u64, u64))> {
        if self.pid != my_pid() {
            return None;
        }
        let named = std::fs::symlink_metadata(path).ok()?;
        if (named.dev(), named.ino()) != self.id {
            return None;
        }
        let mut me = ManuallyDrop::new(self);
        FDS[me.slot].store(-1, Ordering::Relaxed);
        // SAFETY: `me` is never dropped, so the file is taken out once.
        let file = unsafe { ManuallyDrop::take(&mut me.file) };
        Some((file, me.id))
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        if self.pid != my_pid() {
            // A forked child: the handler closed the descriptor, whose
            // number may name another file by now.
            return;
        }
        FDS[self.slot].store(-1, Ordering::Relaxed);
        // SAFETY: dropped once, here.
        unsafe { ManuallyDrop::drop(&mut self.file) };
    }
}

/// The device and inode of an open file.
fn id_of(file: &File) -> Option<(u64, u64)> {
    let m = file.metadata().ok()?;
    Some((m.dev(), m.ino()))
}

/// The registry lock while an operation holds it: released when dropped,
/// and its file kept for the Store's next call.
pub(super) struct LockGuard<'a> {
    store: &'a Store,
    held: Option<lock::Held>,
    /// The lock file's device and inode when it is the kept one; a file
    /// opened afresh is asked for them once, when it is kept.
    id: Option<(u64, u64)>,
    /// False for a read-only open, which is never kept.
    keep: bool,
}

impl LockGuard<'_> {
    /// Whether the lock file is the one kept from the last call, found
    /// under its name just now: the directory is still the registry's, so
    /// a file held open from that call may be asked about directly
    /// ([`read::unchanged`]).
    pub(super) fn named(&self) -> bool {
        self.id.is_some()
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let Some(file) = self.held.take().and_then(lock::Held::unlock) else {
            return;
        };
        if !self.keep {
            return;
        }
        let Some(id) = self.id.or_else(|| id_of(&file)) else {
            return;
        };
        let mut slot = self
            .store
            .kept_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Kept::keep(file, id);
        }
    }
}

impl Store {
    /// The shared lock, on the kept lock file when there is one; a registry
    /// that cannot be locked for writing is read (and said so, once).
    pub(super) fn lock_shared(&self, warn: &dyn Fn(String)) -> Result<LockGuard<'_>> {
        let (file, read_only, id) = match self.kept_lock_file() {
            Some((f, id)) => (Some(f), None, Some(id)),
            None => {
                let (f, read_only) = lock::open_for_read(&self.dir)?;
                (f, read_only, None)
            }
        };
        let keep = read_only.is_none();
        if let Some(why) = read_only {
            if !self.told_read_only.swap(true, Ordering::Relaxed) {
                warn(format!(
                    "the registry {} is read-only ({why}): it is read, but nothing can be changed",
                    self.dir.display()
                ));
            }
        }
        // What a stat can prove matters only to a Store with a copy to
        // trust, so never to a first read (which keeps none): a one-shot
        // reader skips the three no-op chmods.
        let file = file.inspect(|f| {
            if self.leases_read.load(Ordering::Relaxed)
                || self.registry_read.load(Ordering::Relaxed)
            {
                self.fine_ctime.get_or_init(|| read::ctime_is_fine(f));
            }
        });
        let held = lock::acquire(file, false, &self.lock_path, self.lock_timeout, warn)?;
        Ok(self.guard(held, id, keep))
    }

    /// Opens the lock file, to be locked exclusively.
    pub(super) fn open_lock(&self) -> Result<File> {
        // A read-only mount says so plainly; a lock file we may not write
        // stays PERMISSION, with its own advice.
        let f = dir::open_lock(&self.dir).map_err(|e| {
            match (e.code(), lock::read_only_reason(&self.dir)) {
                (crate::ErrorCode::Io, Some(why)) => Error::Io {
                    context: format!(
                        "the registry {} is read-only ({why}): it can be read, not changed",
                        self.dir.display()
                    ),
                    source: io::Error::from(io::ErrorKind::ReadOnlyFilesystem),
                },
                _ => e,
            }
        })?;
        Ok(f)
    }

    /// The lock file kept from this process's last call, with its device
    /// and inode, when its name still points to it. When it does not (the
    /// directory was emptied, or another put in its place), the copies kept
    /// of both files are dropped too: they are asked about through the
    /// files held open while the lock file proves the directory
    /// ([`read::unchanged`]), and a later call, with a lock file kept from
    /// the new directory, would find the old files unchanged where they went.
    pub(super) fn kept_lock_file(&self) -> Option<(File, (u64, u64))> {
        let kept = self
            .kept_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        let found = kept.take(&self.lock_path);
        if found.is_none() {
            self.drop_copies();
        }
        found
    }

    /// The guard of a lock just taken on the file of `id` (`None`: opened
    /// afresh), to be kept afterwards when `keep`.
    pub(super) fn guard(
        &self,
        held: lock::Held,
        id: Option<(u64, u64)>,
        keep: bool,
    ) -> LockGuard<'_> {
        LockGuard {
            store: self,
            held: Some(held),
            id,
            keep,
        }
    }
}
