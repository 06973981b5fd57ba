//! leases.json on the Store's side: the copy of it kept between calls, and
//! how its new text goes in (an edit in place, the spare exchanged in, or a
//! temp file renamed over it).

use std::fs::File;
use std::sync::atomic::Ordering;

use super::read::{self, FileId};
use super::{format, records, write, Store, FORMAT_VERSION, LEASES_FILE};
use crate::entry::LeaseRecord;
use crate::error::Result;
use crate::store::LeasesRead;

/// The last `leases.json` a Store read or wrote: its records, and the file
/// held open with its [`FileId`], reused on the same terms as
/// [`Cached`](super::Cached).
///
/// A writer replaces the file (a spare exchanged into place), or, when it
/// wrote the file last (so holds it open for writing) and the new text fits
/// in the file, of at most a page, writes over it in one `pwrite` (see
/// `write::edit_in_place`). An edit keeps the inode and, padded, the size,
/// but not the ctime: where ctime is fine-grained, every change made after
/// a `stat` gets a newer one, and every id here was taken by a `stat`.
/// Where it is coarse, the file is read on every call anyway.
pub(super) struct LeasesCached {
    records: records::Records,
    version: u64,
    /// Held open so that its inode number is not reused; after this Store's
    /// next exchange it is the spare, written again without an open.
    file: File,
    id: FileId,
    /// The file's length, when this Store wrote it (its own spare, checked
    /// when opened, or leases.json edited in place): only then is it
    /// edited in place, or reused as the next spare.
    written: Option<u64>,
    /// The file under leases.json's spare name, open, with its length: the
    /// leases.json this Store wrote before the exchange that put `file` in
    /// place. Only writers under the exclusive lock touch the spare, and each
    /// exchange changes leases.json, so it is the spare for as long as this
    /// cache holds (whatever drops the cache drops it too).
    spare: Option<(File, u64)>,
}

/// How leases.json's new text goes in (see [`Store::prepare_leases`]).
pub(super) enum LeasesWrite {
    Edit,
    Staged(Option<write::Staged>),
}

impl Store {
    /// How `bytes` will become leases.json: written over the file itself
    /// when this Store wrote it last and `bytes` fit in it
    /// (`write::fits_in_place`; see [`LeasesCached`]), else staged in the
    /// spare.
    pub(super) fn prepare_leases(&self, bytes: &[u8]) -> LeasesWrite {
        let cache = self.leases_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.as_ref() {
            if c.written.is_some_and(|n| write::fits_in_place(n, bytes)) {
                return LeasesWrite::Edit;
            }
        }
        drop(cache);
        LeasesWrite::Staged(self.stage_leases(bytes))
    }

    /// Makes `bytes` (encoding `records`) leases.json the way
    /// [`Store::prepare_leases`] chose; an edit that fails is given up for
    /// the spare exchanged in, which replaces whatever it left.
    pub(super) fn put_leases(
        &self,
        how: LeasesWrite,
        bytes: &[u8],
        records: Vec<LeaseRecord>,
    ) -> Result<()> {
        let staged = match how {
            LeasesWrite::Staged(staged) => staged,
            LeasesWrite::Edit => {
                let mut cache = self.leases_cache.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(c) = cache.as_mut() {
                    let len = c.written.unwrap_or(u64::MAX);
                    match write::edit_in_place(&c.file, bytes, len) {
                        Ok(Some(id)) => {
                            c.records = records.into();
                            c.version = FORMAT_VERSION;
                            c.id = id;
                            return Ok(());
                        }
                        Ok(None) => {}
                        // Its length is no longer known: it must not be
                        // reused as the spare, whose old tail it would keep.
                        Err(_) => c.written = None,
                    }
                }
                drop(cache);
                self.stage_leases(bytes)
            }
        };
        self.swap_leases(staged, bytes, records)
    }

    /// Fills the spare with `bytes`, through the file this Store's last
    /// exchange moved to the spare's name when that still holds (see
    /// `LeasesCached::spare`), else through the spare opened afresh.
    fn stage_leases(&self, bytes: &[u8]) -> Option<write::Staged> {
        let kept = self
            .leases_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .and_then(|c| c.spare.take());
        // A kept spare that fails is given up for the spare opened by name.
        let stage = |kept| {
            let (spare, dest) = (self.spare_path.clone(), self.leases_path.clone());
            write::Staged::new_at(spare, dest, bytes, kept).ok()?
        };
        kept.and_then(|k| stage(Some(k))).or_else(|| stage(None))
    }

    /// Puts `bytes` (encoding `records`) in place as leases.json: the staged
    /// spare exchanged in, remembered with the records; else a plain
    /// atomic write, and the next call reads the file.
    fn swap_leases(
        &self,
        staged: Option<write::Staged>,
        bytes: &[u8],
        records: Vec<LeaseRecord>,
    ) -> Result<()> {
        let mut cache = self.leases_cache.lock().unwrap_or_else(|e| e.into_inner());
        // Under the exclusive lock a cache this Store wrote is still here
        // only if read_leases found leases.json to be that very file: the
        // exchange below moves it to the spare's name.
        let previous = cache.take().and_then(|c| Some((c.file, c.written?)));
        if let Some(Ok(Some((file, id)))) = staged.map(write::Staged::swap_in_held) {
            *cache = Some(LeasesCached {
                records: records.into(),
                version: FORMAT_VERSION,
                file,
                id,
                written: Some(bytes.len() as u64),
                spare: previous,
            });
            return Ok(());
        }
        write::write_atomic(&self.dir, LEASES_FILE, bytes)
    }

    /// Reads `leases.json`, reusing the records last read or written when
    /// the file is provably the same (see [`Cached`](super::Cached)).
    pub(super) fn read_leases(&self, named: bool, warn: &dyn Fn(String)) -> Result<LeasesRead> {
        let path = &self.leases_path;
        let mut cache = self.leases_cache.lock().unwrap_or_else(|e| e.into_inner());
        if self.fine_ctime.get() == Some(&true) {
            let same = |c: &LeasesCached| read::still_held(&c.file, &c.id, path, named, false);
            if let Some(c) = cache.as_mut().filter(|c| same(c)) {
                // Read a second time unchanged: this registry is kept
                // open, so parse every holder once rather than each call.
                if !c.records.raw.is_empty() {
                    c.records = std::mem::take(&mut c.records).all().into();
                }
                return Ok(LeasesRead {
                    records: c.records.clone(),
                    version: c.version,
                    warning: None,
                });
            }
        }
        *cache = None;
        let mut bytes = Vec::new();
        let read = match read::read_held(path, &mut bytes)? {
            None => format::parse_leases(Vec::new(), path),
            Some(Err(size)) => format::too_large_leases(path, size),
            Some(Ok(held)) => {
                let read = format::parse_leases(bytes, path);
                // The first read keeps no copy: a thousand records' copy
                // costs a one-shot reader half a megabyte of fresh pages.
                let again = self.leases_read.swap(true, Ordering::Relaxed);
                if let (Some((file, id)), None, true) = (held, &read.warning, again) {
                    *cache = Some(LeasesCached {
                        records: read.records.clone(),
                        version: read.version,
                        file,
                        id,
                        written: None,
                        spare: None,
                    });
                }
                read
            }
        };
        if let Some(w) = &read.warning {
            warn(w.clone());
        }
        Ok(read)
    }
}
