//! Settings: where the registry lives, which range new ports come from
//! (`PORTREG_RANGE`, then `range` in the registry's `config.toml`, then the
//! default), and the limits every reader applies.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::port::{PortRange, PortRanges};

/// The default allocation range (8069 belongs to the dashboard).
pub const DEFAULT_RANGE: PortRange = PortRange {
    low: 8070,
    high: 8999,
};

/// The optional settings file in the registry directory.
pub const CONFIG_FILE: &str = "config.toml";

/// The environment variable that overrides the range.
pub const RANGE_VAR: &str = "PORTREG_RANGE";

/// The environment variable that sets how long a call waits for the
/// registry lock, in seconds.
pub const LOCK_TIMEOUT_VAR: &str = "PORTREG_LOCK_TIMEOUT";

/// How long a call waits for the registry lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest registry file read (a 10,000-entry registry is about 3 MB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

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

/// The registry's `config.toml`, read and parsed once when the registry is
/// opened: every setting it gives (range, lock timeout, claims) is taken
/// from this one read.
pub(crate) struct ConfigFile {
    pub path: PathBuf,
    /// Its text and that text parsed; `Ok(None)` when there is no such file.
    read: std::io::Result<Option<(String, Parsed)>>,
}

type Parsed = std::result::Result<toml::Table, toml::de::Error>;

impl ConfigFile {
    /// Reads `dir`'s config.toml, if any.
    pub fn read(dir: &Path) -> ConfigFile {
        let path = dir.join(CONFIG_FILE);
        let read = match std::fs::read_to_string(&path) {
            Ok(t) => {
                let parsed = t.parse();
                Ok(Some((t, parsed)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        };
        ConfigFile { path, read }
    }

    /// The file's settings, when it exists and parses (which reading the
    /// range reports otherwise).
    pub fn table(&self) -> Option<&toml::Table> {
        match &self.read {
            Ok(Some((_, Ok(table)))) => Some(table),
            _ => None,
        }
    }
}

/// The ranges of a registry, tried in order: `PORTREG_RANGE`, else
/// `range` in its `config.toml` (`config`), else [`DEFAULT_RANGE`]. Either may
/// list several ranges, `3000-3099,8070-8999`; the file may also give a
/// list of strings, `range = ["3000-3099", "8070-8999"]`.
pub(crate) fn configured_range(config: &ConfigFile) -> Result<PortRanges> {
    range_from(std::env::var_os(RANGE_VAR).as_deref(), config)
}

/// [`configured_range`] with the environment variable's value given.
fn range_from(env: Option<&OsStr>, config: &ConfigFile) -> Result<PortRanges> {
    if let Some(v) = env.filter(|v| !v.is_empty()) {
        let s = v.to_string_lossy();
        return s.parse().map_err(|e: Error| match e {
            Error::InvalidRange { value, why } => Error::InvalidRange {
                value,
                why: format!("{why} (from the environment variable PORTREG_RANGE)"),
            },
            other => other,
        });
    }
    let path = &config.path;
    let table = match &config.read {
        Ok(None) => return Ok(DEFAULT_RANGE.into()),
        Ok(Some((_, Ok(table)))) => table,
        Ok(Some((text, Err(e)))) => {
            return Err(Error::InvalidRange {
                value: path.display().to_string(),
                why: format!(
                    "{} does not parse as TOML: {}",
                    path.display(),
                    toml_error_line(text, e)
                ),
            })
        }
        Err(e) => {
            // The kernel's error again (the read's is kept with the file).
            let e = e.raw_os_error().map_or_else(
                || std::io::Error::new(e.kind(), e.to_string()),
                std::io::Error::from_raw_os_error,
            );
            return Err(Error::io(format!("cannot read {}", path.display()), e));
        }
    };
    let not_a_string = || {
        Error::InvalidRange {
        value: path.display().to_string(),
        why: "`range` must be a string such as \"8070-8999\" or \"3000-3099,8070-8999\", or a list of such strings".into(),
    }
    };
    let text = match table.get("range") {
        None => return Ok(DEFAULT_RANGE.into()),
        Some(toml::Value::String(s)) => s.clone(),
        Some(toml::Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(not_a_string))
            .collect::<Result<Vec<_>>>()?
            .join(","),
        Some(_) => return Err(not_a_string()),
    };
    text.parse().map_err(|e: Error| match e {
        Error::InvalidRange { value, why } => Error::InvalidRange {
            value,
            why: format!("{why} (from `range` in {})", path.display()),
        },
        other => other,
    })
}

/// How long a call on a registry waits for its lock:
/// `PORTREG_LOCK_TIMEOUT` (seconds, fractions allowed), else `lock_timeout`
/// in its `config.toml`, else [`DEFAULT_LOCK_TIMEOUT`]. A value that is not
/// a number of seconds is passed over with a warning (the second value):
/// a typo must not make a call wait forever or fail.
pub(crate) fn lock_timeout(config: &ConfigFile) -> (Duration, Option<String>) {
    let parse = |v: &str| {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 1e9)
            .map(Duration::from_secs_f64)
    };
    let bad = |v: &str, source: &str| {
        format!(
            "{source} is {v:?}, not a number of seconds; waiting for the registry lock at most {} s",
            DEFAULT_LOCK_TIMEOUT.as_secs()
        )
    };
    if let Some(v) = std::env::var_os(LOCK_TIMEOUT_VAR).filter(|v| !v.is_empty()) {
        let v = v.to_string_lossy();
        return match parse(&v) {
            Some(d) => (d, None),
            None => (DEFAULT_LOCK_TIMEOUT, Some(bad(&v, LOCK_TIMEOUT_VAR))),
        };
    }
    let Some(value) = config.table().and_then(|t| t.get("lock_timeout")) else {
        return (DEFAULT_LOCK_TIMEOUT, None);
    };
    let text = match value {
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::String(s) => s.clone(),
        _ => String::from("not a number"),
    };
    match parse(&text) {
        Some(d) => (d, None),
        None => (
            DEFAULT_LOCK_TIMEOUT,
            Some(bad(&text, "`lock_timeout` in config.toml")),
        ),
    }
}

/// The keys of `config.toml` that something reads.
pub(crate) const CONFIG_KEYS: [&str; 4] = ["range", "lock_timeout", "claims_dir", "claims_cap"];

/// One warning line for keys of the registry's `config.toml` that nothing
/// reads (most likely a misspelt setting, which would otherwise be ignored
/// without a word). A file that is missing or does not parse says nothing
/// here: reading the range reports the latter.
pub(crate) fn unknown_keys(config: &ConfigFile) -> Option<String> {
    let path = &config.path;
    let table = config.table()?;
    let unknown: Vec<String> = table
        .keys()
        .filter(|k| !CONFIG_KEYS.contains(&k.as_str()))
        .map(|k| format!("{k:?}"))
        .collect();
    if unknown.is_empty() {
        return None;
    }
    Some(format!(
        "unknown key{} {} in {}; known keys: {}",
        if unknown.len() == 1 { "" } else { "s" },
        unknown.join(", "),
        path.display(),
        CONFIG_KEYS.join(", ")
    ))
}

/// toml's error on one line, as every portreg error is: its message
/// (whose own lines are joined) and where it is, instead of toml's
/// multi-line excerpt of the file.
fn toml_error_line(text: &str, e: &toml::de::Error) -> String {
    let msg = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("{msg} at line {line}, column {column}")
        }
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    /// The range `env` (PORTREG_RANGE) and `dir`'s config.toml give.
    fn range_in(env: Option<&OsStr>, dir: &Path) -> Result<PortRanges> {
        range_from(env, &ConfigFile::read(dir))
    }

    fn why(r: Result<PortRanges>) -> String {
        match r {
            Err(Error::InvalidRange { why, .. }) => why,
            other => panic!("not INVALID_RANGE: {other:?}"),
        }
    }

    #[test]
    fn default_when_nothing_is_set() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(range_in(None, dir.path()).unwrap(), DEFAULT_RANGE.into());
        assert_eq!(
            range_in(Some(OsStr::new("")), dir.path()).unwrap(),
            DEFAULT_RANGE.into()
        );
        assert_eq!("8070-8999".parse::<PortRange>().unwrap(), DEFAULT_RANGE);
        std::fs::write(dir.path().join(CONFIG_FILE), "other = 1\n").unwrap();
        assert_eq!(range_in(None, dir.path()).unwrap(), DEFAULT_RANGE.into());
    }

    #[test]
    fn unknown_keys_make_one_warning_line() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(unknown_keys(&ConfigFile::read(dir.path())), None);
        let file = dir.path().join(CONFIG_FILE);
        std::fs::write(&file, "range = \"7000-7099\"\nlock_timeout = 3\n").unwrap();
        assert_eq!(unknown_keys(&ConfigFile::read(dir.path())), None);
        std::fs::write(&file, "rnage = \"7000-7099\"\nclaims_cap = 3\n").unwrap();
        let w = unknown_keys(&ConfigFile::read(dir.path())).unwrap();
        assert!(w.starts_with("unknown key \"rnage\" in "), "{w}");
        assert!(
            w.ends_with("config.toml; known keys: range, lock_timeout, claims_dir, claims_cap"),
            "{w}"
        );
        std::fs::write(&file, "a = 1\n[b]\nc = 2\n").unwrap();
        let w = unknown_keys(&ConfigFile::read(dir.path())).unwrap();
        assert!(w.starts_with("unknown keys \"a\", \"b\" in "), "{w}");
        assert!(!w.contains('\n'));
    }

    #[test]
    fn environment_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "range = \"7000-7099\"\n").unwrap();
        assert_eq!(
            range_in(None, dir.path()).unwrap(),
            PortRange::new(7000, 7099).unwrap().into()
        );
        assert_eq!(
            range_in(Some(OsStr::new("9100-9199")), dir.path()).unwrap(),
            PortRange::new(9100, 9199).unwrap().into()
        );
        let w = why(range_in(Some(OsStr::new("9199-9100")), dir.path()));
        assert!(w.contains("PORTREG_RANGE"), "{w}");
        let w = why(range_in(Some(OsStr::new("9100-9199,x")), dir.path()));
        assert!(w.contains("PORTREG_RANGE") && w.contains("\"x\""), "{w}");
    }

    #[test]
    fn several_ranges_from_either_place() {
        let dir = tempfile::tempdir().unwrap();
        let two = || "3000-3099,8070-8999".parse::<PortRanges>().unwrap();
        let env = OsStr::new("3000-3099,8070-8999");
        assert_eq!(range_in(Some(env), dir.path()).unwrap(), two());
        let file = dir.path().join(CONFIG_FILE);
        std::fs::write(&file, "range = \"3000-3099, 8070-8999\"\n").unwrap();
        assert_eq!(range_in(None, dir.path()).unwrap(), two());
        std::fs::write(&file, "range = [\"3000-3099\", \"8070-8999\"]\n").unwrap();
        assert_eq!(range_in(None, dir.path()).unwrap(), two());
    }

    #[test]
    fn a_bad_file_says_where_the_range_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(CONFIG_FILE);
        std::fs::write(&file, "range = \"80-90\"\n").unwrap();
        let w = why(range_in(None, dir.path()));
        assert!(w.contains("1024") && w.contains("config.toml"), "{w}");
        std::fs::write(&file, "range = 8080\n").unwrap();
        assert!(why(range_in(None, dir.path())).contains("must be a string"));
        std::fs::write(&file, "range = [8080]\n").unwrap();
        assert!(why(range_in(None, dir.path())).contains("list of such strings"));
        std::fs::write(&file, "range = []\n").unwrap();
        assert!(why(range_in(None, dir.path())).contains("must be a string"));
        std::fs::write(&file, "range = \"3000-3099,9000-80\"\n").unwrap();
        let w = why(range_in(None, dir.path()));
        assert!(w.contains("9000-80") && w.contains("config.toml"), "{w}");
        std::fs::write(&file, "range = [").unwrap();
        let e = range_in(None, dir.path()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRange);
        assert!(e.to_string().contains("TOML"), "{e}");
    }
}
