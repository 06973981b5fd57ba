//! One claim file: its name (`<port>.<uid>`, or `<port>.<uid>.<tag>` when a
//! squatter took the plain name), its content, and reading another user's
//! claim without trusting it: no links followed, no FIFO waited on, a size
//! cap, the owner checked against the uid in the name and in the content.
//! Liveness of a claim's holder: pid + start ticks from `/proc/PID/stat` and
//! the boot id, all readable across users.

use crate::pid::PerProcess;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};
use serde::{Deserialize, Serialize};

/// Largest claim file read; a real one is about 100 bytes.
pub(crate) const MAX_CLAIM_BYTES: u64 = 512;

/// A claim still being written (empty or torn) counts as live this long.
const PENDING_GRACE: Duration = Duration::from_secs(10);

/// Every claim this version writes is padded with spaces to this length,
/// so rewriting it in place is one write of the same size.
pub(crate) const CLAIM_LEN: usize = 200;

/// What a claim file holds. No name, description or command: a user's
/// registry stays private.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClaimFile {
    pub port: u16,
    pub uid: u32,
    pub pid: u32,
    pub start_ticks: u64,
    pub boot_id: String,
}

impl ClaimFile {
    /// The claim of `pid` (0: the lease was released; the file stays, to be
    /// rewritten by this user's next lease of the port).
    pub fn new(port: u16, uid: u32, pid: u32, start_ticks: u64) -> ClaimFile {
        ClaimFile {
            port,
            uid,
            pid,
            start_ticks,
            boot_id: boot_id().to_string(),
        }
    }

    /// The file's bytes: JSON, padded with spaces to [`CLAIM_LEN`].
    pub fn encode(&self) -> Vec<u8> {
        // serde_json's compact text, written directly (a test compares
        // them): a lease and a release each write one.
        let mut body = Vec::with_capacity(CLAIM_LEN.max(96 + self.boot_id.len()));
        let mut n = itoa::Buffer::new();
        body.extend_from_slice(b"{\"port\":");
        body.extend_from_slice(n.format(self.port).as_bytes());
        body.extend_from_slice(b",\"uid\":");
        body.extend_from_slice(n.format(self.uid).as_bytes());
        body.extend_from_slice(b",\"pid\":");
        body.extend_from_slice(n.format(self.pid).as_bytes());
        body.extend_from_slice(b",\"start_ticks\":");
        body.extend_from_slice(n.format(self.start_ticks).as_bytes());
        body.extend_from_slice(b",\"boot_id\":");
        serde_json::to_writer(&mut body, &self.boot_id).expect("writing to a Vec");
        body.push(b'}');
        if body.len() < CLAIM_LEN {
            body.resize(CLAIM_LEN, b' ');
        }
        body
    }
}

/// `<port>.<uid>` (the name a user's claim normally has).
pub(crate) fn plain_name(port: u16, uid: u32) -> String {
    format!("{port}.{uid}")
}

/// The port and uid a file name encodes, or None for anything else
/// (junk is skipped without being opened).
pub(crate) fn parse_name(name: &[u8]) -> Option<(u16, u32)> {
    let s = std::str::from_utf8(name).ok()?;
    let mut parts = s.splitn(3, '.');
    let port = digits(parts.next()?)?
        .parse::<u16>()
        .ok()
        .filter(|&p| p > 0)?;
    let uid = digits(parts.next()?)?.parse::<u32>().ok()?;
    match parts.next() {
        None => Some((port, uid)),
        Some(tag) if !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Some((port, uid))
        }
        Some(_) => None,
    }
}

fn digits(s: &str) -> Option<&str> {
    (!s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit())).then_some(s)
}

/// What reading one claim file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// A genuine claim whose holder runs (or cannot be shown not to).
    Alive { pid: u32 },
    /// A genuine claim whose holder is gone.
    Dead,
    /// A genuine claim whose lease was released (kept for the next lease).
    Released,
    /// Not a claim: wrong owner, type, link count, size or content.
    Bogus,
}

/// Reads `name` in `dir` as a claim of `uid` on `port`.
pub(crate) fn read(dir: BorrowedFd, name: &str, port: u16, uid: u32) -> Seen {
    let flags = OFlag::O_RDONLY
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_NOCTTY
        | OFlag::O_CLOEXEC;
    let Ok(fd) = openat(dir, name, flags, Mode::empty()) else {
        return Seen::Bogus;
    };
    let Ok(st) = fstat(fd.as_fd()) else {
        return Seen::Bogus;
    };
    let regular = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG;
    // A second link could be another user's file under a forged name.
    if !regular || st.st_uid != uid || st.st_nlink != 1 || st.st_size as u64 > MAX_CLAIM_BYTES {
        return Seen::Bogus;
    }
    let mut bytes = Vec::with_capacity(256);
    let mut file = std::fs::File::from(fd);
    if (&mut file)
        .take(MAX_CLAIM_BYTES)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return Seen::Bogus;
    }
    match serde_json::from_slice::<ClaimFile>(&bytes) {
        Ok(c) if c.port == port && c.uid == uid => {
            if c.pid == 0 {
                Seen::Released
            } else if holder_alive(c.pid, c.start_ticks, &c.boot_id) {
                Seen::Alive { pid: c.pid }
            } else {
                Seen::Dead
            }
        }
        Ok(_) => Seen::Bogus,
        // Being written right now (created, not yet filled): live for a
        // moment, so a claim is never missed; junk once it is old.
        Err(_) => {
            let mtime = SystemTime::UNIX_EPOCH + Duration::new(st.st_mtime.max(0) as u64, 0);
            let young = SystemTime::now()
                .duration_since(mtime)
                .is_ok_and(|age| age < PENDING_GRACE);
            if young && bytes.len() < MAX_CLAIM_BYTES as usize {
                Seen::Alive { pid: 0 }
            } else {
                Seen::Bogus
            }
        }
    }
}

/// This boot's id (empty where the kernel does not say).
pub(crate) fn boot_id() -> &'static str {
    static ID: PerProcess<String> = PerProcess::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    })
}

/// A process's start time in clock ticks since boot, from `/proc/PID/stat`
/// (field 22), and whether it is a zombie. None when it cannot be read.
pub(crate) fn start_ticks(pid: u32) -> Option<(u64, bool)> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and ')': fields resume
    // after its last ')'.
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    let ticks = fields.nth(18)?.parse().ok()?;
    Some((ticks, state == "Z" || state == "X"))
}

/// [`start_ticks`] of a lease's holder; this process's own are read once.
pub(crate) fn holder_ticks(pid: u32) -> Option<(u64, bool)> {
    static OWN: PerProcess<u64> = PerProcess::new();
    if pid != crate::pid::my_pid() {
        return start_ticks(pid);
    }
    // A forked child reads its own.
    if let Some(&t) = OWN.get() {
        return Some((t, false));
    }
    let (t, zombie) = start_ticks(pid)?;
    OWN.get_or_init(|| t);
    Some((t, zombie))
}

/// Whether the process that made a claim still runs: same boot, same pid,
/// same start ticks, not a zombie. A pid that exists but whose `/proc`
/// entry is hidden (hidepid) counts as alive: a claim is never dropped on a
/// guess.
pub(crate) fn holder_alive(pid: u32, ticks: u64, boot: &str) -> bool {
    if boot != boot_id() || pid == 0 {
        return false;
    }
    match start_ticks(pid) {
        Some((t, zombie)) => t == ticks && !zombie,
        None => {
            let Ok(raw) = i32::try_from(pid) else {
                return false;
            };
            match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
                Ok(()) | Err(Errno::EPERM) => true,
                Err(_) => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_encode_port_and_uid_and_nothing_else() {
        assert_eq!(parse_name(b"8070.1000"), Some((8070, 1000)));
        assert_eq!(parse_name(b"8070.0.x7f3"), Some((8070, 0)));
        for junk in [
            &b"8070"[..],
            b"8070.",
            b".8070.1",
            b"0.1000",
            b"70000.1",
            b"8070.1000.",
            b"8070.1000.a/b",
            b"8070.-1",
            b"8070.1000.tmp.x",
            b"junk",
        ] {
            assert_eq!(parse_name(junk), None, "{}", String::from_utf8_lossy(junk));
        }
        assert_eq!(plain_name(8070, 1000), "8070.1000");
    }

    #[test]
    fn a_claim_is_serde_jsons_compact_text_padded() {
        let boots = ["", "4d49fb2f-c77d-4db8-a3a1-21d372e31caa", "a\"b\\c\u{1}é"];
        for (i, boot) in boots.iter().enumerate() {
            let c = ClaimFile {
                port: [1, 8070, u16::MAX][i],
                uid: [0, 1000, u32::MAX][i],
                pid: [0, 42, u32::MAX][i],
                start_ticks: [0, 123_456, u64::MAX][i],
                boot_id: boot.to_string(),
            };
            let mut want = serde_json::to_vec(&c).unwrap();
            want.resize(want.len().max(CLAIM_LEN), b' ');
            assert_eq!(
                String::from_utf8(c.encode()).unwrap(),
                String::from_utf8(want).unwrap()
            );
            let back: ClaimFile = serde_json::from_slice(&c.encode()).unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn own_process_is_alive_and_a_wrong_tick_or_boot_is_not() {
        let me = std::process::id();
        let (ticks, zombie) = start_ticks(me).expect("own stat");
        assert!(!zombie);
        assert!(holder_alive(me, ticks, boot_id()));
        assert!(!holder_alive(me, ticks + 1, boot_id()));
        assert!(!holder_alive(me, ticks, "another-boot"));
        assert!(!holder_alive(u32::MAX / 2, ticks, boot_id()));
    }
}
