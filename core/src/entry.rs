//! Names, entries and holders: the records of the registry and the views of
//! them that every surface returns (same field names in every language).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a service name against docs/design.md's rule and returns it unchanged.
pub fn validate_name(name: &str) -> Result<&str> {
    let why = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 64 characters")
    } else if !name.as_bytes()[0].is_ascii_alphanumeric() {
        Some("it must start with a letter or digit")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Some("it contains a character other than letters, digits, '.', '_' and '-'")
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::InvalidName {
            name: name.to_string(),
            why,
        }),
        None => Ok(name),
    }
}

/// Longest description accepted, in bytes of UTF-8.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
/// Most meta keys one entry may have.
pub const MAX_META_KEYS: usize = 32;
/// Longest meta key accepted, in bytes.
pub const MAX_META_KEY_BYTES: usize = 64;
/// Longest meta value accepted, in bytes.
pub const MAX_META_VALUE_BYTES: usize = 4096;

/// Characters no description or meta key may hold: control characters
/// (C0, DEL, C1: a terminal acts on them) and the characters that reorder
/// or break the text around them when shown (bidirectional controls, line
/// and paragraph separators).
fn is_refused_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Checks one piece of text against a length limit and, unless only NUL is
/// refused, the characters of [`is_refused_char`]. The text itself is never
/// echoed in the error (it may be huge, or act on a terminal).
fn check_text(what: &str, text: &str, limit: usize, only_nul: bool) -> Result<()> {
    if text.len() > limit {
        return Err(Error::InvalidText {
            what: what.to_string(),
            why: format!(
                "it is {} bytes, longer than the {limit} bytes allowed; shorten it",
                text.len()
            ),
        });
    }
    let bad = text.char_indices().find(|&(_, c)| {
        if only_nul {
            c == '\0'
        } else {
            is_refused_char(c)
        }
    });
    if let Some((at, c)) = bad {
        return Err(Error::InvalidText {
            what: what.to_string(),
            why: format!(
                "it holds the control character U+{:04X} at byte {at}; {}",
                u32::from(c),
                if only_nul {
                    "a meta value may hold any text but NUL"
                } else {
                    "use one line of printable text"
                }
            ),
        });
    }
    Ok(())
}

/// Checks a description: at most [`MAX_DESCRIPTION_BYTES`], no control
/// characters (`INVALID_TEXT` otherwise).
pub fn validate_description(d: &str) -> Result<()> {
    check_text("description", d, MAX_DESCRIPTION_BYTES, false)
}

/// Checks meta: at most [`MAX_META_KEYS`] keys, each 1 to
/// [`MAX_META_KEY_BYTES`] bytes without control characters, each value at
/// most [`MAX_META_VALUE_BYTES`] bytes without NUL (`INVALID_TEXT` otherwise).
pub fn validate_meta(meta: &BTreeMap<String, String>) -> Result<()> {
    if meta.len() > MAX_META_KEYS {
        return Err(Error::InvalidText {
            what: "meta".into(),
            why: format!(
                "it has {} keys, more than the {MAX_META_KEYS} allowed",
                meta.len()
            ),
        });
    }
    for (k, v) in meta {
        if k.is_empty() {
            return Err(Error::InvalidText {
                what: "meta key".into(),
                why: "it is empty; write KEY=VALUE with a key".into(),
            });
        }
        check_text("meta key", k, MAX_META_KEY_BYTES, false)?;
        let shown: String = k.chars().take(MAX_META_KEY_BYTES).collect();
        check_text(
            &format!("meta value of {shown:?}"),
            v,
            MAX_META_VALUE_BYTES,
            true,
        )?;
    }
    Ok(())
}

/// Reads one meta fact written `KEY=VALUE` (as `portreg lease --meta` and
/// the C options take them): the key is what comes before the first `=`
/// and must not be empty; the value may be, and may hold more `=`.
pub fn parse_meta_fact(s: &str) -> std::result::Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| {
            format!("{s:?} is not KEY=VALUE (a key, '=', then the value, e.g. project=/src/shop)")
        })
}

/// Whether `s` is a timestamp as the registry files hold them: RFC 3339 in
/// UTC (`2026-01-01T10:00:00Z`, fractions of a second allowed).
pub(crate) fn is_timestamp(s: &str) -> bool {
    humantime::parse_rfc3339(s).is_ok()
}

/// The case-folded key a name is stored under (`Frontend` and `frontend` are one name).
pub(crate) fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// The state of an entry, derived from the two registry files, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Held by a live process.
    Active,
    /// Its holder is gone; the port is remembered for the name.
    Idle,
    /// Pinned to a port by a person; no process needed.
    Reserved,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Idle => "idle",
            State::Reserved => "reserved",
        }
    }
}

/// The process holding a lease. `pid`, `start_ticks` and `boot_id` identify
/// it (a reused pid has another start); `pid_ns` says which pid namespace the
/// pid is counted in, `lock` names the lock that proves it alive from any
/// namespace (see docs/design.md "Process identity"); the rest is for people.
/// Records written before `start_ticks` existed carry only `start_time`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// Process start time, seconds since the Unix epoch (for people: it moves
    /// with the wall clock, so it no longer identifies the process).
    pub start_time: u64,
    /// Process start time in clock ticks since boot (field 22 of
    /// `/proc/PID/stat`); `None` in records of older versions.
    #[serde(default)]
    pub start_ticks: Option<u64>,
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`) when the
    /// record was made: a record of another boot has no live holder.
    #[serde(default)]
    pub boot_id: Option<String>,
    /// Inode of the pid namespace `pid` is counted in (`/proc/PID/ns/pid`).
    #[serde(default)]
    pub pid_ns: Option<u64>,
    /// The holder lock (a file in the registry directory that the holding
    /// process, or the `portreg run` supervising it, keeps locked while it
    /// lives), when there is one.
    #[serde(default)]
    pub lock: Option<String>,
    /// Executable name, e.g. `python3`.
    #[serde(default)]
    pub exe: String,
    #[serde(default)]
    pub cmdline: Vec<String>,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub cwd: String,
    /// When the lease was taken (RFC 3339, UTC).
    pub since: String,
}

impl Holder {
    /// Whether `other` names the same process: pid and start ticks (and
    /// boot and pid namespace where both records say), or, for a record of
    /// an older version, pid and start time in seconds.
    pub fn same_process(&self, other: &Holder) -> bool {
        let known = |a: &Option<String>, b: &Option<String>| a.is_none() || b.is_none() || a == b;
        self.pid == other.pid
            && known(&self.boot_id, &other.boot_id)
            && (self.pid_ns.is_none() || other.pid_ns.is_none() || self.pid_ns == other.pid_ns)
            && match (self.start_ticks, other.start_ticks) {
                (Some(a), Some(b)) => a == b,
                _ => self.start_time == other.start_time,
            }
    }
}

/// A durable record of `registry.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredEntry {
    pub name: String,
    pub port: u16,
    #[serde(default)]
    pub reserved: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    pub created: String,
    pub changed: String,
}

impl StoredEntry {
    /// A name seen for the first time, on `port`, created and changed at `stamp`.
    pub fn new(name: &str, port: u16, stamp: &str) -> StoredEntry {
        StoredEntry {
            name: name.to_string(),
            port,
            reserved: false,
            description: None,
            meta: BTreeMap::new(),
            created: stamp.to_string(),
            changed: stamp.to_string(),
        }
    }
}

/// A live record of `leases.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LeaseRecord {
    pub name: String,
    pub holder: Holder,
}

/// What `get`, `list` and every `--json` return for one name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub port: u16,
    pub state: State,
    pub holder: Option<Holder>,
    pub reserved: bool,
    pub description: Option<String>,
    pub meta: BTreeMap<String, String>,
    pub created: String,
    pub changed: String,
    /// For an active entry, whether some process listens on its port (from
    /// the kernel's socket tables); `None` for idle and reserved entries.
    pub listening: Option<bool>,
}

impl Entry {
    pub(crate) fn from_stored(e: &StoredEntry, holder: Option<Holder>) -> Entry {
        Entry::from_owned(e.clone(), holder)
    }

    /// [`Entry::from_stored`] of an entry no one else needs: its texts move.
    pub(crate) fn from_owned(e: StoredEntry, holder: Option<Holder>) -> Entry {
        let state = match (&holder, e.reserved) {
            (Some(_), _) => State::Active,
            (None, true) => State::Reserved,
            (None, false) => State::Idle,
        };
        Entry {
            name: e.name,
            port: e.port,
            state,
            holder,
            reserved: e.reserved,
            description: e.description,
            meta: e.meta,
            created: e.created,
            changed: e.changed,
            listening: None,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A port leased to a name for a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub name: String,
    pub port: u16,
    pub holder: Holder,
    /// True when the caller already held this lease and got it back unchanged.
    pub existing: bool,
}

impl Lease {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// What `release` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// The lease was released; the name now remembers this port.
    Released { port: u16, pid: u32 },
    /// Nobody alive held the name; nothing to do.
    NotHeld,
}

/// One stale lease dropped by `clean`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cleaned {
    pub name: String,
    pub port: Option<u16>,
    pub pid: u32,
}

/// True when `pattern` is a glob rather than a name: it holds `*` or `?`,
/// which no name may hold.
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// Shell-style match of `name` against `pattern`: `*` any run of characters,
/// `?` any one; both already case-folded by the caller.
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod glob_tests {
    use super::glob_match;

    #[test]
    fn globs_match_as_a_shell_does() {
        assert!(glob_match("test-*", "test-a"));
        assert!(glob_match("test-*", "test-"));
        assert!(!glob_match("test-*", "atest-a"));
        assert!(glob_match("*-db", "web-db"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*a*b*", "xxaxxbxx"));
        assert!(!glob_match("*a*b", "xxaxxbxx"));
        assert!(glob_match("*", "anything"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "a",
            "frontend",
            "my-project.db",
            "9lives",
            "A_b-c.d",
            &"x".repeat(64),
        ] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-x",
            ".x",
            "_x",
            "a b",
            "caf\u{e9}",
            "a/b",
            &"x".repeat(65),
            "a:b",
        ] {
            let e = validate_name(bad).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::InvalidName, "{bad}");
        }
    }
}
