//! The claims directory as last read: other users' claims by port (each
//! user's beyond its cap set apart), this user's own, and the directory's
//! stamp (mtime, ctime, size) so an unchanged directory is not read again.
//! This user's own creates and removals update the view in place.
//!
//! This user's claim files stay open once written: leasing a port again
//! (or handing its lease over, or releasing it) rewrites the file in place
//! with one write of the same size, instead of creating and unlinking a
//! file (about 25 µs on ext4, against 1 µs).

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;

use nix::dir::Dir;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};

use super::claim::{self, Seen};

/// One claim file of another user; `tag` is set for a tagged name.
pub(super) struct Other {
    pub port: u16,
    pub uid: u32,
    pub tag: Option<Box<str>>,
}

impl Other {
    pub fn name(&self) -> String {
        let plain = claim::plain_name(self.port, self.uid);
        match &self.tag {
            Some(t) => format!("{plain}.{t}"),
            None => plain,
        }
    }
}

/// One of this user's claim files, open for rewriting in place.
struct OwnFile {
    file: File,
    /// Its length, known from its creation or its fstat when opened, so a
    /// rewrite need not ask it.
    len: u64,
    /// Whether this process last wrote it as released.
    released: bool,
}

impl OwnFile {
    /// A file just created or opened: as far as this process knows, live.
    fn live(file: File, len: u64) -> OwnFile {
        OwnFile {
            file,
            len,
            released: false,
        }
    }
}

pub(super) struct Scan {
    pub dir: Dir,
    /// This user.
    uid: u32,
    cap: usize,
    stamp: Option<[i64; 5]>,
    /// Other users' claim files within their cap, sorted by port.
    pub others: Vec<Other>,
    /// Other users' claim files beyond their cap.
    pub ignored: Vec<Other>,
    /// This user's claim files: port and file name.
    pub own: Vec<(u16, String)>,
    /// Write handles to this user's claim files, by name.
    files: HashMap<String, OwnFile>,
    /// Whether this file system gives every change a new ctime, found out
    /// once on a claim file of this user (see [`Scan::stamps_are_fine`]).
    fine: Option<bool>,
    /// How many times the directory was looked at (its stamp, or its
    /// files): a caller compares two counts to know whether anyone looked
    /// in between.
    pub looks: u64,
}

impl Scan {
    pub fn new(dir: Dir, uid: u32, cap: usize) -> Scan {
        Scan {
            dir,
            uid,
            cap,
            stamp: None,
            others: Vec::new(),
            ignored: Vec::new(),
            own: Vec::new(),
            files: HashMap::new(),
            fine: None,
            looks: 0,
        }
    }

    /// Whether an unchanged stamp proves that no claim file was added or
    /// removed since the directory was last read, however soon after: true
    /// where every change made after a look at the ctime gets a new one
    /// (`store::ctime_is_fine`, tried once on a claim file of this user; the
    /// directory is on the same file system). Until this user has a claim
    /// file, and where ctime is coarse, false.
    pub fn stamps_are_fine(&mut self) -> bool {
        if let Some(fine) = self.fine {
            return fine;
        }
        let Some(own) = self.files.values().next() else {
            return false;
        };
        let fine = crate::store::ctime_is_fine(&own.file);
        self.fine = Some(fine);
        fine
    }

    fn stamp_now(&self) -> nix::Result<[i64; 5]> {
        let st = fstat(self.dir.as_fd())?;
        Ok([
            st.st_mtime,
            st.st_mtime_nsec,
            st.st_ctime,
            st.st_ctime_nsec,
            st.st_size,
        ])
    }

    /// Reads the directory again when it changed, or when `force`d (where
    /// ctime is coarse, a change within one timestamp tick may not show in
    /// its stamp, so the look that decides a claim is then always fresh).
    pub fn refresh(&mut self, force: bool) -> nix::Result<()> {
        let stamp = self.stamp_now()?;
        self.looks += 1;
        if !force && self.stamp == Some(stamp) {
            return Ok(());
        }
        let mut others: Vec<Other> = Vec::new();
        self.own.clear();
        for entry in self.dir.iter().flatten() {
            let bytes = entry.file_name().to_bytes();
            let Some((port, uid)) = claim::parse_name(bytes) else {
                continue;
            };
            if uid == self.uid {
                self.own
                    .push((port, String::from_utf8_lossy(bytes).into_owned()));
                continue;
            }
            let plain = claim::plain_name(port, uid).len();
            let tag =
                (bytes.len() > plain).then(|| String::from_utf8_lossy(&bytes[plain + 1..]).into());
            others.push(Other { port, uid, tag });
        }
        // A user flooding the directory is honoured for its lowest `cap`
        // ports only: the rest of everyone's range stays usable.
        others.sort_unstable_by_key(|o| (o.uid, o.port));
        self.ignored.clear();
        let mut kept = Vec::with_capacity(others.len());
        let mut run = (u32::MAX, 0usize);
        for o in others {
            run = if run.0 == o.uid {
                (o.uid, run.1 + 1)
            } else {
                (o.uid, 1)
            };
            if run.1 > self.cap {
                self.ignored.push(o);
            } else {
                kept.push(o);
            }
        }
        kept.sort_unstable_by_key(|o| o.port);
        self.others = kept;
        self.stamp = Some(stamp);
        Ok(())
    }

    /// The uid of another user's live claim on `port`.
    pub fn live_other(&self, port: u16) -> Option<u32> {
        let fd = self.dir.as_fd();
        let from = self.others.partition_point(|o| o.port < port);
        self.others[from..]
            .iter()
            .take_while(|o| o.port == port)
            .find(|o| matches!(claim::read(fd, &o.name(), port, o.uid), Seen::Alive { .. }))
            .map(|o| o.uid)
    }

    /// Runs `change` (this user's create or removal), keeping the view
    /// fresh when it was fresh before: the change is this user's own.
    fn own_change<T>(&mut self, change: impl FnOnce(&mut Scan) -> T) -> T {
        let fresh = self.stamp.is_some() && self.stamp_now().ok() == self.stamp;
        let out = change(self);
        self.stamp = if fresh { self.stamp_now().ok() } else { None };
        out
    }

    /// Creates this user's claim file on `port` (never over an existing
    /// file; a squatted plain name gets a unique tag); returns its name.
    pub fn create(&mut self, port: u16, body: &[u8]) -> std::io::Result<String> {
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let mode = Mode::from_bits_truncate(0o644);
        let mut name = claim::plain_name(port, self.uid);
        let fd = match openat(self.dir.as_fd(), name.as_str(), flags, mode) {
            Err(nix::Error::EEXIST) => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0);
                name = format!("{name}.p{}n{nanos}", std::process::id());
                openat(self.dir.as_fd(), name.as_str(), flags, mode)
            }
            other => other,
        }?;
        self.stamp = None;
        // Readable by everyone whatever the umask: others check it.
        let mut file = File::from(fd);
        let written = fchmod(file.as_fd(), mode)
            .map_err(std::io::Error::from)
            .and_then(|()| file.write_all(body));
        if let Err(e) = written {
            let _ = unlinkat(self.dir.as_fd(), name.as_str(), UnlinkatFlags::NoRemoveDir);
            return Err(e);
        }
        self.files
            .insert(name.clone(), OwnFile::live(file, body.len() as u64));
        self.own.push((port, name.clone()));
        Ok(name)
    }

    /// A write handle to this user's claim file `name`: kept from its
    /// creation or opened now, never through a link, and only if this user
    /// owns it (a squatter's file under our name is left alone).
    fn own_file(&mut self, name: &str) -> std::io::Result<&mut OwnFile> {
        if !self.files.contains_key(name) {
            let flags = OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
            let file = File::from(openat(self.dir.as_fd(), name, flags, Mode::empty())?);
            let st = fstat(file.as_fd())?;
            let regular = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG;
            if !regular || st.st_uid != self.uid || st.st_nlink != 1 {
                return Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
            }
            self.files
                .insert(name.to_string(), OwnFile::live(file, st.st_size as u64));
        }
        Ok(self.files.get_mut(name).expect("just inserted"))
    }

    /// Rewrites this user's claim file `name` in place with `body` (of
    /// [`claim::CLAIM_LEN`] bytes, like every claim this version writes), a
    /// `released` claim or a live one.
    pub fn rewrite(&mut self, name: &str, body: &[u8], released: bool) -> std::io::Result<()> {
        let own = self.own_file(name)?;
        let written = own.file.write_all_at(body, 0).and_then(|()| {
            // A longer file of an older version: cut its tail.
            if own.len > body.len() as u64 {
                own.file.set_len(body.len() as u64)?;
            }
            Ok(())
        });
        match written {
            Ok(()) => {
                own.len = body.len() as u64;
                own.released = released;
            }
            Err(_) => {
                self.files.remove(name);
            }
        }
        written
    }

    /// Whether this user's claim file `name`, released, stays for the next
    /// lease of its port: while this user has at most `most` claim files, or
    /// while this process has it open and keeps fewer than `most` others it
    /// released.
    pub fn keeps_released(&self, name: &str, most: usize) -> bool {
        self.own.len() <= most
            || self.files.get(name).is_some_and(|own| {
                own.released || self.files.values().filter(|f| f.released).count() < most
            })
    }

    /// This user's claim file on `port` that the view knows of (the plain
    /// name first), if any.
    pub fn own_name(&self, port: u16) -> Option<String> {
        let plain = claim::plain_name(port, self.uid);
        let mut names = self.own.iter().filter(|(p, _)| *p == port);
        names
            .clone()
            .find(|(_, n)| *n == plain)
            .or_else(|| names.next())
            .map(|(_, n)| n.clone())
    }

    /// This user's claim files on `port` other than `keep`.
    pub fn remove_others(&mut self, port: u16, keep: &str) {
        let extra: Vec<String> = self
            .own
            .iter()
            .filter(|(p, n)| *p == port && n != keep)
            .map(|(_, n)| n.clone())
            .collect();
        for n in extra {
            self.remove(&n);
        }
    }

    /// Removes one claim file of this user (only if this user owns it: a
    /// squatter's file under our name stays where it is).
    pub fn remove(&mut self, name: &str) {
        self.own_change(|s| {
            let fd = s.dir.as_fd();
            let mine =
                fstatat(fd, name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok_and(|st| st.st_uid == s.uid);
            if mine {
                let _ = unlinkat(fd, name, UnlinkatFlags::NoRemoveDir);
            }
            s.own.retain(|(_, n)| n != name);
            s.files.remove(name);
        });
    }

    /// Removes this user's claim files on `port` that this view knows of,
    /// and the plain name when the view may be out of date.
    pub fn remove_port(&mut self, port: u16) {
        let plain = claim::plain_name(port, self.uid);
        let mut names: Vec<String> = self
            .own
            .iter()
            .filter(|(p, n)| *p == port && *n != plain)
            .map(|(_, n)| n.clone())
            .collect();
        let fresh = self.stamp.is_some() && self.stamp_now().ok() == self.stamp;
        if !fresh || self.own.iter().any(|(_, n)| *n == plain) {
            names.push(plain);
        }
        for n in names {
            self.remove(&n);
        }
    }

    /// Removes this user's claims whose holder is gone (or that are not
    /// claims at all).
    pub fn purge_dead(&mut self) {
        let fd = self.dir.as_fd();
        let dead: Vec<String> = self
            .own
            .iter()
            .filter(|(port, name)| {
                !matches!(claim::read(fd, name, *port, self.uid), Seen::Alive { .. })
            })
            .map(|(_, n)| n.clone())
            .collect();
        for name in dead {
            self.remove(&name);
        }
    }
}
