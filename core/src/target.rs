//! What `who` and `kill` act on and how long `kill` waits: one grammar and
//! one default for the CLI, C, Python, Node and the dashboard.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::entry::validate_name;
use crate::error::{Error, Result};
use crate::port::parse_port;

/// A name, or a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A registry name: `who` looks at its port, `kill` stops its holder.
    Name(String),
    /// A TCP port: `who` and `kill` look at whatever listens there.
    Port(u16),
}

impl Target {
    /// Reads a target as a person types it: `:PORT` is a port, and so is a
    /// target made only of digits; anything else is a name. Names may start
    /// with a digit, so a name made only of digits needs [`Target::name`]
    /// (the CLI's `--name`).
    pub fn parse(s: &str) -> Result<Target> {
        if let Some(p) = s.strip_prefix(':') {
            return Ok(Target::Port(parse_port(p)?));
        }
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Target::Port(parse_port(s)?));
        }
        Target::name(s)
    }

    /// Reads `s` as a name whatever it looks like.
    pub fn name(s: &str) -> Result<Target> {
        Ok(Target::Name(validate_name(s)?.to_string()))
    }
}

impl FromStr for Target {
    type Err = Error;
    fn from_str(s: &str) -> Result<Target> {
        Target::parse(s)
    }
}

impl fmt::Display for Target {
    /// `web` or `:8000`, the form [`Target::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Name(n) => f.write_str(n),
            Target::Port(p) => write!(f, ":{p}"),
        }
    }
}

/// How long `kill` waits after SIGTERM when the caller does not say.
pub const DEFAULT_KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest wait `kill` accepts: an hour.
pub const MAX_KILL_TIMEOUT: Duration = Duration::from_secs(3600);

/// `kill`'s wait after SIGTERM: the default (10 s) for `None`, else a number
/// of seconds from 0 to 3600, or `PROCESS` saying what was wrong.
pub fn kill_timeout(secs: Option<f64>) -> Result<Duration> {
    let Some(secs) = secs else {
        return Ok(DEFAULT_KILL_TIMEOUT);
    };
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d <= MAX_KILL_TIMEOUT => Ok(d),
        _ => Err(Error::Process(format!(
            "the kill timeout must be a number of seconds from 0 to {} (got {secs})",
            MAX_KILL_TIMEOUT.as_secs()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn grammar() {
        assert_eq!(Target::parse(":8000").unwrap(), Target::Port(8000));
        assert_eq!(Target::parse("8000").unwrap(), Target::Port(8000));
        assert_eq!(Target::parse("web").unwrap(), Target::Name("web".into()));
        assert_eq!(
            Target::parse("9lives").unwrap(),
            Target::Name("9lives".into())
        );
        assert_eq!(Target::name("2048").unwrap(), Target::Name("2048".into()));
        assert_eq!(
            Target::parse(":0").unwrap_err().code(),
            ErrorCode::InvalidPort
        );
        assert_eq!(
            Target::parse("70000").unwrap_err().code(),
            ErrorCode::InvalidPort
        );
        assert_eq!(
            Target::parse(":web").unwrap_err().code(),
            ErrorCode::InvalidPort
        );
        assert_eq!(
            Target::parse("").unwrap_err().code(),
            ErrorCode::InvalidName
        );
        assert_eq!(
            Target::parse("a b").unwrap_err().code(),
            ErrorCode::InvalidName
        );
        for t in [Target::Port(8000), Target::Name("web".into())] {
            assert_eq!(Target::parse(&t.to_string()).unwrap(), t);
        }
    }

    #[test]
    fn timeouts() {
        assert_eq!(kill_timeout(None).unwrap(), Duration::from_secs(10));
        assert_eq!(kill_timeout(Some(0.0)).unwrap(), Duration::ZERO);
        assert_eq!(
            kill_timeout(Some(2.5)).unwrap(),
            Duration::from_millis(2500)
        );
        assert_eq!(kill_timeout(Some(3600.0)).unwrap(), MAX_KILL_TIMEOUT);
        for bad in [-1.0, 3600.5, f64::NAN, f64::INFINITY] {
            assert_eq!(
                kill_timeout(Some(bad)).unwrap_err().code(),
                ErrorCode::Process,
                "{bad}"
            );
        }
    }
}
