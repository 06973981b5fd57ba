//! portreg-core: named port leases for local services, kept in one on-disk
//! registry that every language shares.
//!
//! ```no_run
//! let lease = portreg_core::lease("frontend")?;
//! println!("serving on {}", lease.url());
//! portreg_core::release("frontend")?;
//! # Ok::<(), portreg_core::Error>(())
//! ```

// Which file owns which rule:
//
// | module      | owns                                                        |
// |-------------|-------------------------------------------------------------|
// | `entry`     | names and their grammar; entries, holders, states           |
// | `port`      | port numbers and ranges: parsing, bad ports, ephemeral range |
// | `config`    | the registry directory, the configured range, file limits   |
// | `liveness`  | process identity: alive (pid + start ticks + boot), owner   |
// | `holdlock`  | the lock a holder keeps open: alive from any pid namespace  |
// | `store`     | the files: model, formats, durable writes, lock, cache      |
// | `tx`        | one locked operation: records checked and pruned lazily     |
// | `allocate`  | the whole port-choice order                                 |
// | `request`   | what callers ask for (LeaseRequest, Actor)                  |
// | `lease`     | leasing and handing over: who holds a name's port           |
// | `registry`  | the operations: release, get, reserve, forget, rename, ...  |
// | `process`   | listeners and conflicts                                     |
// | `stop`      | stopping processes: verified signals, groups, escalation    |
// | `sockets`   | the kernel's TCP socket tables, one-socket lookup, bind probe |
// | `services`  | operations that look at processes: who, kill, env           |
// | `target`    | the who/kill target grammar; kill's timeout and its bounds  |
// | `tracking`  | leases a process took for itself; release once, all at exit |
// | `shared`    | one open Registry per directory behind module-level calls   |
// | `project`   | portreg.toml: parsing, dependency graph, substitutions, checkouts |
// | `host`      | host-wide claims: no two users' leases share a port         |
// | `error`     | the one error type and its stable codes                     |
//
// Imports only go down this list's dependency order (entry, port, error and
// config at the bottom; registry and services at the top): see
// docs/design.md, "Code map".

pub mod allocate;
mod config;
mod entry;
mod error;
mod holdlock;
mod host;
mod lease;
mod liveness;
mod pid;
mod port;
pub mod process;
pub mod project;
mod registry;
mod request;
mod services;
mod shared;
#[doc(hidden)]
pub mod sockets;
mod stop;
mod store;
pub mod target;
pub mod tracking;
mod tx;

pub use config::{default_dir, DEFAULT_RANGE, MAX_FILE_BYTES};
pub use entry::is_glob;
pub use entry::{
    parse_meta_fact, validate_description, validate_meta, validate_name, Cleaned, Entry, Holder,
    Lease, Released, State, MAX_DESCRIPTION_BYTES, MAX_META_KEYS, MAX_META_KEY_BYTES,
    MAX_META_VALUE_BYTES, MAX_NAME_LEN,
};
pub use error::{Error, ErrorCode, HeldBy, Result};
pub use host::{HostClaim, CLAIMS_CAP_VAR, CLAIMS_DIR_VAR, DEFAULT_CLAIMS_CAP, DEFAULT_CLAIMS_DIR};
pub use port::{PortRange, PortRanges};
pub use process::{Conflict, ListenerInfo, Who};
pub use project::{Instance, Project, ServicePort};
pub use registry::Registry;
pub use request::{Actor, LeaseRequest, RELEASED_META, TEMPORARY_META};
pub use services::EnvVar;
pub use stop::KillReport;
pub use store::{FORMAT_VERSION, LEASES_FILE, LOCK_FILE, REGISTRY_FILE};
pub use target::Target;
pub use tracking::OwnLease;

/// Entry points for fuzzing the file readers (not a stable API).
#[doc(hidden)]
pub mod fuzzing {
    /// Parses bytes as `registry.json`: the number of entries, or why it is corrupt.
    pub fn registry_file(bytes: &[u8]) -> Result<usize, String> {
        match crate::store::parse_registry(bytes) {
            crate::store::RegRead::Ok(d) => Ok(d.entries.len()),
            crate::store::RegRead::Corrupt(why) => Err(why),
        }
    }

    /// Parses bytes as `leases.json`: the records kept, or the warning given.
    pub fn leases_file(bytes: &[u8]) -> Result<usize, String> {
        let r = crate::store::parse_leases(bytes, std::path::Path::new("leases.json"));
        match r.warning {
            Some(w) => Err(w),
            None => Ok(r.records.len()),
        }
    }
}

/// Leases a port for `name` in the default registry, held by this process.
pub fn lease(name: &str) -> Result<Lease> {
    Registry::shared_default()?.lease(&LeaseRequest::new(name))
}

/// Releases this process's lease on `name` in the default registry.
pub fn release(name: &str) -> Result<Released> {
    Registry::shared_default()?.release(name, Actor::me())
}

/// The entry for `name` in the default registry.
pub fn get(name: &str) -> Result<Option<Entry>> {
    Registry::shared_default()?.get(name)
}

/// Every entry of the default registry.
pub fn list() -> Result<Vec<Entry>> {
    Registry::shared_default()?.list()
}

/// Pins `name` to `port` in the default registry.
pub fn reserve(name: &str, port: u16, description: Option<&str>) -> Result<Entry> {
    Registry::shared_default()?.reserve(name, port, description)
}

/// Removes `name` from the default registry.
pub fn forget(name: &str) -> Result<Entry> {
    Registry::shared_default()?.forget(name, false)
}

/// A port free right now in the default registry's range.
pub fn find_free() -> Result<u16> {
    Registry::shared_default()?.find_free(None)
}

/// Drops dead holders from the default registry.
pub fn clean() -> Result<Vec<Cleaned>> {
    Registry::shared_default()?.clean()
}
