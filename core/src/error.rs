//! One error type for every registry operation, with the stable codes that
//! every surface (CLI, C, Python, Node) spells the same way.

use std::fmt;
use std::path::PathBuf;

/// The stable error codes of docs/design.md. The numeric values are the C status
/// numbers and are never reused: new codes go at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum ErrorCode {
    InvalidName = 1,
    InvalidPort = 2,
    InvalidRange = 3,
    NotFound = 4,
    LeaseHeld = 5,
    PortTaken = 6,
    PortBusy = 7,
    NoFreePort = 8,
    NotHolder = 9,
    RegistryCorrupt = 10,
    RegistryVersion = 11,
    Permission = 12,
    Io = 13,
    Process = 14,
    Internal = 15,
    InvalidConfig = 16,
    InvalidText = 17,
    RegistryFull = 18,
    LockTimeout = 19,
}

impl ErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::InvalidName,
        ErrorCode::InvalidPort,
        ErrorCode::InvalidRange,
        ErrorCode::NotFound,
        ErrorCode::LeaseHeld,
        ErrorCode::PortTaken,
        ErrorCode::PortBusy,
        ErrorCode::NoFreePort,
        ErrorCode::NotHolder,
        ErrorCode::RegistryCorrupt,
        ErrorCode::RegistryVersion,
        ErrorCode::Permission,
        ErrorCode::Io,
        ErrorCode::Process,
        ErrorCode::Internal,
        ErrorCode::InvalidConfig,
        ErrorCode::InvalidText,
        ErrorCode::RegistryFull,
        ErrorCode::LockTimeout,
    ];

    /// The docs/design.md spelling, e.g. `LEASE_HELD`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidName => "INVALID_NAME",
            ErrorCode::InvalidPort => "INVALID_PORT",
            ErrorCode::InvalidRange => "INVALID_RANGE",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::LeaseHeld => "LEASE_HELD",
            ErrorCode::PortTaken => "PORT_TAKEN",
            ErrorCode::PortBusy => "PORT_BUSY",
            ErrorCode::NoFreePort => "NO_FREE_PORT",
            ErrorCode::NotHolder => "NOT_HOLDER",
            ErrorCode::RegistryCorrupt => "REGISTRY_CORRUPT",
            ErrorCode::RegistryVersion => "REGISTRY_VERSION",
            ErrorCode::Permission => "PERMISSION",
            ErrorCode::Io => "IO",
            ErrorCode::Process => "PROCESS",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::InvalidConfig => "INVALID_CONFIG",
            ErrorCode::InvalidText => "INVALID_TEXT",
            ErrorCode::RegistryFull => "REGISTRY_FULL",
            ErrorCode::LockTimeout => "LOCK_TIMEOUT",
        }
    }

    /// The CLI's exit status for this code (documented in the README):
    /// 1 not found, 2 bad input (like a usage error), 3 and up for the rest.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorCode::NotFound => 1,
            ErrorCode::InvalidName
            | ErrorCode::InvalidPort
            | ErrorCode::InvalidRange
            | ErrorCode::InvalidText => 2,
            ErrorCode::LeaseHeld => 3,
            ErrorCode::PortTaken => 4,
            ErrorCode::PortBusy => 5,
            ErrorCode::NoFreePort => 6,
            ErrorCode::NotHolder => 7,
            ErrorCode::RegistryCorrupt => 8,
            ErrorCode::RegistryVersion => 9,
            ErrorCode::Permission => 10,
            ErrorCode::Io => 11,
            ErrorCode::Process => 12,
            ErrorCode::Internal => 13,
            ErrorCode::InvalidConfig => 14,
            ErrorCode::RegistryFull => 15,
            ErrorCode::LockTimeout => 16,
        }
    }

    /// Parses the docs/design.md spelling back into a code.
    pub fn from_name(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who holds a name that someone else asked for: enough for an app to say
/// "already running on http://127.0.0.1:8070 (pid 1234)".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBy {
    pub name: String,
    pub pid: u32,
    pub port: u16,
    /// When the lease was taken (RFC 3339, UTC).
    pub since: String,
    /// The holder's working directory when it leased ("" if unknown): which
    /// checkout or project is running it.
    pub cwd: String,
}

impl HeldBy {
    /// `http://127.0.0.1:PORT`, where the holder serves (as `Entry::url`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// " in DIR", or nothing when the directory is unknown.
    fn in_dir(&self) -> String {
        match self.cwd.as_str() {
            "" => String::new(),
            d => format!(" in {d}"),
        }
    }
}

/// A registry error. Every message says what went wrong and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid name {name:?}: {why}. Use 1-64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. \"frontend\", \"my-app.api\")")]
    InvalidName { name: String, why: &'static str },

    #[error(
        "names {a:?} and {b:?} both become {var}; rename one of them, or pass the names you want"
    )]
    NameClash { a: String, b: String, var: String },

    #[error("invalid port {value:?}: {why}")]
    InvalidPort { value: String, why: String },

    #[error("invalid range {value:?}: {why}. Write it as LOW-HIGH, e.g. 8070-8999, with 1024 <= LOW <= HIGH <= 65535 (several, tried in order: 3000-3099,8070-8999)")]
    InvalidRange { value: String, why: String },

    #[error(
        "{what} {name:?} is not in the registry; `portreg list --all` shows the names it knows"
    )]
    NotFound { what: &'static str, name: String },

    #[error("{} is already leased by pid {} on port {} since {} (running at {}/{}); stop that process first (`portreg kill {}`) or use another name", .0.name, .0.pid, .0.port, .0.since, .0.url(), .0.in_dir(), .0.name)]
    LeaseHeld(HeldBy),

    #[error("port {port} is already taken by {other:?} in the registry ({state}); ask for another port, or `portreg forget {other}` if that name is no longer wanted")]
    PortTaken {
        port: u16,
        other: String,
        state: &'static str,
    },

    #[error("port {port} is in use by a process outside the registry{}; stop it (`portreg kill :{port}`) or ask for another port", match .process { Some(p) => format!(" ({p})"), None => String::new() })]
    PortBusy { port: u16, process: Option<String> },

    #[error("port {port} is leased by user {user} on this host (a claim in {dir}); ask for another port, or ask {user} to release it")]
    ClaimedByUser {
        port: u16,
        user: String,
        dir: PathBuf,
    },

    #[error("you already hold {cap} live port claims on this host (the per-user cap, in {dir}); release some (`portreg list`, `portreg release NAME`, `portreg clean`) or raise claims_cap in config.toml or PORTREG_CLAIMS_CAP")]
    ClaimCap { cap: usize, dir: PathBuf },

    #[error("no free port in {range}: every port is held, reserved or in use; widen the range or add one (--range, PORTREG_RANGE, e.g. 3000-3099,8070-8999) or free some (`portreg clean`, `portreg forget NAME`)")]
    NoFreePort { range: String },

    #[error("{name:?} is held by pid {pid}, not by pid {caller}; only the holder releases it (or force the release)")]
    NotHolder { name: String, pid: u32, caller: u32 },

    #[error("registry file {path} is corrupt: {why}; nothing was changed. Move it aside by hand (mv {path} {path}.bad) to start afresh, or restore it")]
    RegistryCorrupt { path: PathBuf, why: String },

    #[error("registry file {path} has version {found}, newer than this portreg understands ({known}); it was read but will not be written. Upgrade portreg to change it")]
    RegistryVersion {
        path: PathBuf,
        found: u64,
        known: u64,
    },

    #[error("invalid {what}: {why}")]
    InvalidText { what: String, why: String },

    #[error("{} would grow to {size} bytes, past the {limit} bytes every portreg reads; nothing was changed. Forget names you no longer need (`portreg list --all`, `portreg forget NAME`) or shorten their descriptions and meta", .path.display())]
    RegistryFull {
        path: PathBuf,
        size: u64,
        limit: u64,
    },

    #[error("the registry lock {} is still held{} after {secs} s; nothing was changed. If that process is stopped (Ctrl-Z, SIGSTOP) or hung, resume or end it; or wait longer with PORTREG_LOCK_TIMEOUT=SECONDS", .path.display(), match .holder { Some(h) => format!(" by {h}"), None => String::new() })]
    LockTimeout {
        path: PathBuf,
        holder: Option<String>,
        secs: f64,
    },

    #[error("{0}")]
    Permission(String),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Process(String),

    #[error("internal error: {0}; please report it")]
    Internal(String),

    /// A `portreg.toml` that cannot be used: `FILE:LINE:COLUMN: what; fix`.
    #[error("{0}")]
    InvalidConfig(String),
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidName { .. } | Error::NameClash { .. } => ErrorCode::InvalidName,
            Error::InvalidPort { .. } => ErrorCode::InvalidPort,
            Error::InvalidRange { .. } => ErrorCode::InvalidRange,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::LeaseHeld(_) => ErrorCode::LeaseHeld,
            Error::PortTaken { .. } | Error::ClaimedByUser { .. } => ErrorCode::PortTaken,
            Error::PortBusy { .. } => ErrorCode::PortBusy,
            Error::NoFreePort { .. } | Error::ClaimCap { .. } => ErrorCode::NoFreePort,
            Error::NotHolder { .. } => ErrorCode::NotHolder,
            Error::RegistryCorrupt { .. } => ErrorCode::RegistryCorrupt,
            Error::RegistryVersion { .. } => ErrorCode::RegistryVersion,
            Error::InvalidText { .. } => ErrorCode::InvalidText,
            Error::RegistryFull { .. } => ErrorCode::RegistryFull,
            Error::LockTimeout { .. } => ErrorCode::LockTimeout,
            Error::Permission(_) => ErrorCode::Permission,
            Error::Io { .. } => ErrorCode::Io,
            Error::Process(_) => ErrorCode::Process,
            Error::Internal(_) => ErrorCode::Internal,
            Error::InvalidConfig(_) => ErrorCode::InvalidConfig,
        }
    }

    /// The live holder, for `LEASE_HELD`.
    pub fn held_by(&self) -> Option<&HeldBy> {
        match self {
            Error::LeaseHeld(h) => Some(h),
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        if source.kind() == std::io::ErrorKind::PermissionDenied {
            return Error::Permission(format!(
                "{}: {source}; check the owner and mode of the registry directory (it must be yours, mode 0700)",
                context.into()
            ));
        }
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
