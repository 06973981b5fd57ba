//! Maps the registry's records (Entry, Holder, Who, Conflict, KillReport,
//! Cleaned) to plain JavaScript objects, and JS option objects to core
//! requests. Field names are those of `portreg list --json`, in every language.

use std::collections::BTreeMap;

use napi::bindgen_prelude::{Object, ToNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, Env, ValueType};
use napi_derive::napi;
use portreg_core::allocate::check_port_f64;
use portreg_core::{PortRanges, Result};

/// The process holding a lease: `pid`, `start_ticks` and `boot_id` identify
/// it (a reused pid has another start); `lock` proves it alive from any pid
/// namespace; the rest is for people.
#[napi(object, js_name = "Holder", use_nullable = true)]
pub struct JsHolder {
    pub pid: u32,
    /// Process start time, seconds since the Unix epoch (for people: it
    /// moves with the wall clock).
    #[napi(js_name = "start_time")]
    pub start_time: i64,
    /// Process start in clock ticks since boot; null in records of older versions.
    #[napi(js_name = "start_ticks")]
    pub start_ticks: Option<i64>,
    /// The kernel boot the record was made in.
    #[napi(js_name = "boot_id")]
    pub boot_id: Option<String>,
    /// Inode of the pid namespace `pid` is counted in.
    #[napi(js_name = "pid_ns")]
    pub pid_ns: Option<i64>,
    /// The holder lock that proves the holder alive, if any.
    pub lock: Option<String>,
    /// Executable name, e.g. `node`.
    pub exe: String,
    pub cmdline: Vec<String>,
    pub user: String,
    pub cwd: String,
    /// When the lease was taken (RFC 3339, UTC).
    pub since: String,
}

impl From<portreg_core::Holder> for JsHolder {
    fn from(h: portreg_core::Holder) -> Self {
        JsHolder {
            pid: h.pid,
            start_time: i64::try_from(h.start_time).unwrap_or(i64::MAX),
            start_ticks: h.start_ticks.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
            boot_id: h.boot_id,
            pid_ns: h.pid_ns.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
            lock: h.lock,
            exe: h.exe,
            cmdline: h.cmdline,
            user: h.user,
            cwd: h.cwd,
            since: h.since,
        }
    }
}

/// The registry's record for one name.
#[napi(object, js_name = "Entry", use_nullable = true)]
pub struct JsEntry {
    pub name: String,
    pub port: u32,
    /// `active`: held by a live process; `idle`: its holder is gone and the
    /// port is remembered; `reserved`: pinned by `reserve`.
    #[napi(ts_type = "'active' | 'idle' | 'reserved'")]
    pub state: String,
    pub holder: Option<JsHolder>,
    pub reserved: bool,
    pub description: Option<String>,
    pub meta: BTreeMap<String, String>,
    /// When the name was first seen (RFC 3339, UTC).
    pub created: String,
    /// When its port, reservation, description or meta last changed.
    pub changed: String,
    /// For an active entry, whether some process listens on its port (from
    /// the kernel's socket tables); null for idle and reserved entries.
    pub listening: Option<bool>,
}

impl From<portreg_core::Entry> for JsEntry {
    fn from(e: portreg_core::Entry) -> Self {
        JsEntry {
            name: e.name,
            port: e.port.into(),
            state: e.state.as_str().to_string(),
            holder: e.holder.map(Into::into),
            reserved: e.reserved,
            description: e.description,
            meta: e.meta,
            created: e.created,
            changed: e.changed,
            listening: e.listening,
        }
    }
}

/// A lease whose holder was gone, dropped by `clean`.
#[napi(object, js_name = "Cleaned", use_nullable = true)]
pub struct JsCleaned {
    pub name: String,
    /// The port the name remembers (null if the name itself is gone).
    pub port: Option<u32>,
    pub pid: u32,
}

impl From<portreg_core::Cleaned> for JsCleaned {
    fn from(c: portreg_core::Cleaned) -> Self {
        JsCleaned {
            name: c.name,
            port: c.port.map(Into::into),
            pid: c.pid,
        }
    }
}

/// A process listening on a port, with every address it listens on there.
#[napi(object, js_name = "Listener")]
pub struct JsListener {
    pub pid: u32,
    pub exe: String,
    pub cmdline: Vec<String>,
    pub user: String,
    /// e.g. `127.0.0.1`, `0.0.0.0`, `::1`, `::`
    pub addrs: Vec<String>,
}

impl From<portreg_core::ListenerInfo> for JsListener {
    fn from(l: portreg_core::ListenerInfo) -> Self {
        JsListener {
            pid: l.pid,
            exe: l.exe,
            cmdline: l.cmdline,
            user: l.user,
            addrs: l.addrs,
        }
    }
}

/// A port claim on this host (shared machines): the port, its user and
/// whether the holder is alive. Nothing of the user's registry.
#[napi(object, js_name = "HostClaim")]
pub struct JsHostClaim {
    pub port: u32,
    pub uid: u32,
    /// The user's name (the uid when the name is unknown).
    pub user: String,
    /// Whether the process holding the lease still runs.
    pub alive: bool,
    /// The calling user's own claim.
    pub mine: bool,
    /// False for claims beyond their user's cap: other users ignore them.
    pub honoured: bool,
}

impl From<portreg_core::HostClaim> for JsHostClaim {
    fn from(c: portreg_core::HostClaim) -> Self {
        JsHostClaim {
            port: c.port.into(),
            uid: c.uid,
            user: c.user,
            alive: c.alive,
            mine: c.mine,
            honoured: c.honoured,
        }
    }
}

/// Who listens on a port, and which entry claims it.
#[napi(object, js_name = "Who", use_nullable = true)]
pub struct JsWho {
    pub port: u32,
    /// Processes listening on the port (empty when none can be seen).
    pub listeners: Vec<JsListener>,
    /// The entry that claims the port (active or reserved, else an idle one
    /// that remembers it), or null.
    pub entry: Option<JsEntry>,
    /// Other users' claims on the port (shared machines).
    pub host_claims: Vec<JsHostClaim>,
}

impl From<portreg_core::Who> for JsWho {
    fn from(w: portreg_core::Who) -> Self {
        JsWho {
            port: w.port.into(),
            listeners: w.listeners.into_iter().map(Into::into).collect(),
            entry: w.entry.map(Into::into),
            host_claims: w.host_claims.into_iter().map(Into::into).collect(),
        }
    }
}

/// An entry whose port is listened on by a process other than its holder,
/// or (active or reserved) whose port another user's live lease claims.
#[napi(object, js_name = "Conflict")]
pub struct JsConflict {
    pub entry: JsEntry,
    pub listeners: Vec<JsListener>,
    /// Other users' live claims on the port: the entry's next lease cannot
    /// have it (shared machines).
    pub claimed_by: Vec<JsHostClaim>,
}

impl From<portreg_core::Conflict> for JsConflict {
    fn from(c: portreg_core::Conflict) -> Self {
        JsConflict {
            entry: c.entry.into(),
            listeners: c.listeners.into_iter().map(Into::into).collect(),
            claimed_by: c.claimed_by.into_iter().map(Into::into).collect(),
        }
    }
}

/// How `kill` stopped one process.
#[napi(object, js_name = "KillReport")]
pub struct JsKillReport {
    pub pid: u32,
    pub exe: String,
    /// Signals sent, in order: `["SIGTERM"]` or `["SIGTERM", "SIGKILL"]`.
    pub signals: Vec<String>,
    /// `exited` (after SIGTERM), `killed` (after SIGKILL), `survived`, or
    /// `already gone`.
    pub outcome: String,
    /// Milliseconds from SIGTERM until it was gone.
    #[napi(js_name = "waited_ms")]
    pub waited_ms: i64,
}

impl From<portreg_core::KillReport> for JsKillReport {
    fn from(r: portreg_core::KillReport) -> Self {
        JsKillReport {
            pid: r.pid,
            exe: r.exe,
            signals: r.signals,
            outcome: r.outcome,
            waited_ms: i64::try_from(r.waited_ms).unwrap_or(i64::MAX),
        }
    }
}

/// `env`'s variables (`WEB_PORT`, `WEB_URL`...) as an object, in the
/// registry's order.
pub struct EnvVars(pub Vec<(String, String)>);

impl TypeName for EnvVars {
    fn type_name() -> &'static str {
        "Record<string, string>"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for EnvVars {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let mut obj = Object::new(&Env::from_raw(env))?;
        for (k, v) in val.0 {
            obj.set(k, v)?;
        }
        unsafe { Object::to_napi_value(env, obj) }
    }
}

impl ValidateNapiValue for EnvVars {}

/// Options of `lease`.
#[napi(object)]
pub struct LeaseOptions {
    /// A preferred port: used if free, else another is chosen (unless `exact`).
    pub port: Option<f64>,
    /// Fail with `PORT_TAKEN` / `PORT_BUSY` instead of moving off `port`.
    pub exact: Option<bool>,
    /// Where to allocate a new port, `"LOW-HIGH"` or `[LOW, HIGH]` (default:
    /// `PORTREG_RANGE`, the registry's config.toml, else 8070-8999).
    // The package entry (args.js) turns `[LOW, HIGH]` into `"LOW-HIGH"`.
    #[napi(ts_type = "string | [number, number]")]
    pub range: Option<String>,
    /// Shown by `portreg list`.
    pub description: Option<String>,
    /// Extra facts: project dir, health URL...
    pub meta: Option<BTreeMap<String, String>>,
    /// Forget the name when the lease ends (released, or this process gone
    /// and `clean` run) instead of keeping it idle: for test fixtures.
    pub temporary: Option<bool>,
}

/// Options of `release` and `forget`.
#[napi(object)]
pub struct ForceOptions {
    /// `release`: release even when another live process of yours holds the
    /// name. `forget`: forget it even while it is held.
    pub force: Option<bool>,
}

/// Options of `reserve`.
#[napi(object)]
pub struct ReserveOptions {
    /// Shown by `portreg list`.
    pub description: Option<String>,
}

/// Options of `findFree`.
#[napi(object)]
pub struct FindOptions {
    /// `"LOW-HIGH"` or `[LOW, HIGH]` (default: the registry's range).
    // The package entry (args.js) turns `[LOW, HIGH]` into `"LOW-HIGH"`.
    #[napi(ts_type = "string | [number, number]")]
    pub range: Option<String>,
}

/// Options of `kill`.
#[napi(object)]
pub struct KillOptions {
    /// Seconds to wait after SIGTERM before SIGKILL (default 10).
    pub timeout: Option<f64>,
    /// As root, also stop another user's process (default false).
    pub any_user: Option<bool>,
}

/// A JS number as a port: a whole number from 1 to 65535, else `INVALID_PORT`.
pub fn port(n: f64) -> Result<u16> {
    check_port_f64(n)
}

/// A `"LOW-HIGH"` string (or several joined by commas, tried in order) as
/// ranges, else `INVALID_RANGE`.
pub fn range(s: Option<String>) -> Result<Option<PortRanges>> {
    s.map(|s| s.parse()).transpose()
}
