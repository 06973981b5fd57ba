//! Leasing and releasing for C: `portreg_lease` with `portreg_lease_options`,
//! `portreg_release`, the one-call `portreg_lease_port` /
//! `portreg_release_port` on the default registry, and
//! `portreg_release_all` for a process about to exit. Leases this process
//! takes for itself are remembered by core's tracking.

use std::collections::BTreeMap;
use std::ffi::c_char;

use portreg_core::{tracking, LeaseRequest, OwnLease, PortRange, Registry};

use crate::args::{self, non_null};
use crate::error::{portreg_status, status_call, value_call, Failure, FfiResult};
use crate::registry::{handle, port, portreg_registry, put};

/// Options for `portreg_lease`. Start from `portreg_lease_options_default()`
/// (or zero every field) and set what you need; every field's zero value
/// means "not given".
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct portreg_lease_options {
    /// True when `port` holds a preferred port.
    pub has_port: bool,
    /// The preferred port (1-65535; checked only when `has_port`). It is a
    /// preference: a name's reserved or remembered port comes first, and a
    /// taken port moves to a free one, unless `exact`.
    pub port: u32,
    /// Fail with PORT_TAKEN / PORT_BUSY rather than move off `port`
    /// (needs `has_port`, else INVALID_PORT).
    pub exact: bool,
    /// Where a new port is allocated, LOW-HIGH inclusive (1024 <= LOW <=
    /// HIGH <= 65535). Both 0: the registry's range (PORTREG_RANGE, then
    /// config.toml, then 8070-8999).
    pub range_low: u32,
    /// See `range_low`.
    pub range_high: u32,
    /// The holder's pid; 0 for the calling process. The holder must be alive
    /// (PROCESS otherwise); the lease lasts until it exits or releases.
    pub pid: u32,
    /// A description shown by `portreg list`, NUL-terminated UTF-8, read
    /// during the call only; NULL keeps the entry's description.
    pub description: *const c_char,
    /// Meta facts to record with the name (project directory, health URL,
    /// database path...): an array of `meta_len` strings `KEY=VALUE`, as
    /// `portreg lease --meta` takes them, NUL-terminated UTF-8, read during
    /// the call only. NULL keeps the entry's meta; an array replaces it
    /// (`meta_len` 0: no meta). A string without `=` or with an empty key
    /// is refused (INVALID_ARGUMENT).
    pub meta: *const *const c_char,
    /// The number of strings in `meta`.
    pub meta_len: usize,
}

impl Default for portreg_lease_options {
    fn default() -> Self {
        portreg_lease_options {
            has_port: false,
            port: 0,
            exact: false,
            range_low: 0,
            range_high: 0,
            pid: 0,
            description: std::ptr::null(),
            meta: std::ptr::null(),
            meta_len: 0,
        }
    }
}

/// Both 0: None (the registry's range); otherwise the checked range.
pub(crate) fn range(low: u32, high: u32) -> FfiResult<Option<PortRange>> {
    if low == 0 && high == 0 {
        return Ok(None);
    }
    // Parsing the LOW-HIGH text gives the same checks and messages as every
    // other surface (a number above 65535 included).
    Ok(Some(format!("{low}-{high}").parse::<PortRange>()?))
}

/// # Safety
/// `options` is NULL or points to a valid `portreg_lease_options` whose
/// `meta`, when not NULL, points to `meta_len` pointers.
unsafe fn lease_request(
    name: &str,
    options: *const portreg_lease_options,
) -> FfiResult<LeaseRequest> {
    let o = options.as_ref().copied().unwrap_or_default();
    let mut req = LeaseRequest::new(name);
    if o.has_port {
        req.port = Some(port(o.port)?);
    }
    req.exact = o.exact;
    req.range = range(o.range_low, o.range_high)?.map(Into::into);
    req.pid = (o.pid != 0).then_some(o.pid);
    req.description = args::opt_text(o.description, "options->description")?.map(String::from);
    if !o.meta.is_null() {
        let mut meta = BTreeMap::new();
        for i in 0..o.meta_len {
            let what = format!("options->meta[{i}]");
            let fact = args::opt_text(*o.meta.add(i), &what)?.ok_or_else(|| {
                Failure::argument(format!("{what} is NULL; pass meta_len KEY=VALUE strings"))
            })?;
            let (k, v) = portreg_core::parse_meta_fact(fact)
                .map_err(|why| Failure::argument(format!("{what}: {why}")))?;
            meta.insert(k, v);
        }
        req.meta = Some(meta);
    }
    Ok(req)
}

/// The default lease options: no preferred port, not exact, the registry's
/// range, the calling process as holder, no description.
///
/// Ownership: returned by value.
/// NULL: not applicable.
/// Threads: safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_lease_options_default() -> portreg_lease_options {
    value_call(
        portreg_lease_options::default(),
        portreg_lease_options::default,
    )
}

/// Leases a port for `name`, held by the calling process (or `options->pid`)
/// until it exits or releases it. Ports are tried in this order: the name's
/// reserved port, the port it remembers, the preferred port, the lowest free
/// port of the range. Leasing a name this process already holds gives the
/// same port again. On success `*port_out` is the port.
///
/// Errors: INVALID_NAME, INVALID_PORT, INVALID_RANGE for bad input;
/// LEASE_HELD when another live process holds the name (see
/// `portreg_last_error_holder`); PORT_TAKEN / PORT_BUSY for an exact port
/// that is not free; NO_FREE_PORT; PROCESS when `options->pid` is not
/// running; REGISTRY_VERSION, PERMISSION, IO.
///
/// Ownership: `name` and `options` (with its description and meta) are
/// read during the call only.
/// NULL: `options` may be NULL (the defaults); `registry`, `name` and
/// `port_out` must not be (INVALID_ARGUMENT). `*port_out` is written only on
/// success.
/// Threads: safe from any thread, also on one shared handle.
#[no_mangle]
pub extern "C" fn portreg_lease(
    registry: *const portreg_registry,
    name: *const c_char,
    options: *const portreg_lease_options,
    port_out: *mut u16,
) -> portreg_status {
    status_call(|| {
        let reg = unsafe { handle(registry) }?;
        let name = unsafe { args::name(name, "name") }?;
        let req = unsafe { lease_request(name, options) }?;
        non_null(port_out, "port_out")?;
        let lease = OwnLease::take(reg, &req)?;
        unsafe { put(port_out, lease.lease().port) };
        Ok(())
    })
}

/// Releases `name`: its entry turns idle and remembers the port for the
/// next lease. Releasing a name nobody holds is not an error. Without
/// `force` only the holder may release (NOT_HOLDER otherwise); with `force`
/// any holder of the same user is released (PERMISSION for another user's).
///
/// Errors: INVALID_NAME; NOT_FOUND when the registry does not know the name;
/// NOT_HOLDER; PERMISSION; REGISTRY_VERSION; IO.
///
/// Ownership: `name` is read during the call only.
/// NULL: `registry` and `name` must not be NULL (INVALID_ARGUMENT).
/// Threads: safe from any thread, also on one shared handle.
#[no_mangle]
pub extern "C" fn portreg_release(
    registry: *const portreg_registry,
    name: *const c_char,
    force: bool,
) -> portreg_status {
    status_call(|| {
        let reg = unsafe { handle(registry) }?;
        let name = unsafe { args::name(name, "name") }?;
        tracking::release_name(reg, name, force)?;
        Ok(())
    })
}

/// The common case in one call: leases a port for `name` in the default
/// registry ($PORTREG_HOME, else ~/.portreg) with the default options, held
/// by the calling process until it exits or calls `portreg_release_port`.
/// On success `*port_out` is the port. Errors as for `portreg_lease` and
/// `portreg_registry_open`.
///
/// Ownership: `name` is read during the call only.
/// NULL: `name` and `port_out` must not be NULL (INVALID_ARGUMENT). `*port_out`
/// is written only on success.
/// Threads: safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_lease_port(name: *const c_char, port_out: *mut u16) -> portreg_status {
    status_call(|| {
        let name = unsafe { args::name(name, "name") }?;
        non_null(port_out, "port_out")?;
        let lease = OwnLease::take(&Registry::shared_default()?, &LeaseRequest::new(name))?;
        unsafe { put(port_out, lease.lease().port) };
        Ok(())
    })
}

/// Releases this process's lease on `name` in the default registry, the
/// counterpart of `portreg_lease_port`. Errors as for `portreg_release`
/// without force.
///
/// Ownership: `name` is read during the call only.
/// NULL: `name` must not be NULL (INVALID_ARGUMENT).
/// Threads: safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_release_port(name: *const c_char) -> portreg_status {
    status_call(|| {
        let name = unsafe { args::name(name, "name") }?;
        tracking::release_name(&*Registry::shared_default()?, name, false)?;
        Ok(())
    })
}

/// Releases every lease this process took through `portreg_lease` or
/// `portreg_lease_port` and still holds, and returns how many it released.
/// Call it before a normal exit, or register it: `atexit(portreg_release_all_at_exit)`.
/// A lease this process does not release is freed anyway once it exits (the
/// registry sees its holder gone); releasing writes the idle state at once.
/// A forked child releases nothing of its parent's.
///
/// Ownership: nothing is passed.
/// NULL: not applicable.
/// Threads: safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_release_all() -> usize {
    value_call(0, tracking::release_all)
}

/// `portreg_release_all` in the shape `atexit` takes.
///
/// Ownership: nothing is passed.
/// NULL: not applicable.
/// Threads: safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_release_all_at_exit() {
    value_call((), || {
        tracking::release_all();
    })
}
