//! The registry handle for C: `portreg_registry` over `portreg_core::Registry`,
//! with lease, release, get, list, reserve, forget, find_free and clean, plus
//! the one-call `portreg_lease_port` / `portreg_release_port` on the default
//! registry.

use std::collections::BTreeMap;
use std::ffi::c_char;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use portreg_core::{allocate, tracking, LeaseRequest, OwnLease, PortRange, Registry};

use crate::args::{self, copy_out, non_null};
use crate::entry::{portreg_entry, portreg_entry_list};
use crate::error::{portreg_status, status_call, value_call, Failure, FfiResult};

/// An open registry directory. Opaque; made by `portreg_registry_open`,
/// freed by `portreg_registry_free`. Every call on it takes the registry's
/// file lock, so one handle may be used from any number of threads at once,
/// and any number of processes may open the same directory.
pub struct portreg_registry {
    inner: Arc<Registry>,
}

// One handle is shared between C threads: keep the core type thread-safe.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<portreg_registry>();
};

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
    /// is refused (INVALID_NAME, the code for bad arguments).
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
fn range(low: u32, high: u32) -> FfiResult<Option<PortRange>> {
    if low == 0 && high == 0 {
        return Ok(None);
    }
    // Parsing the LOW-HIGH text gives the same checks and messages as every
    // other surface (a number above 65535 included).
    Ok(Some(format!("{low}-{high}").parse::<PortRange>()?))
}

pub(crate) fn port(n: u32) -> FfiResult<u16> {
    Ok(allocate::check_port(u64::from(n))?)
}

/// # Safety
/// `registry` is NULL or a live handle from `portreg_registry_open`.
pub(crate) unsafe fn handle<'a>(registry: *const portreg_registry) -> FfiResult<&'a Arc<Registry>> {
    match registry.as_ref() {
        Some(r) => Ok(&r.inner),
        None => Err(Failure::argument(
            "registry is NULL; pass the handle portreg_registry_open gave",
        )),
    }
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
    req.range = range(o.range_low, o.range_high)?;
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

/// Writes `v` through `out`, which the caller checked for NULL before acting.
///
/// # Safety
/// `out` is a valid pointer.
unsafe fn put<T>(out: *mut T, v: T) {
    out.write(v);
}

/// Opens (creating if needed, mode 0700) the registry in directory `path`,
/// or the default registry when `path` is NULL: $PORTREG_HOME if set, else
/// ~/.portreg. On success `*registry_out` is a new handle.
///
/// Errors: PERMISSION when the directory belongs to another user or is
/// writable by others; IO when it cannot be created or is not a directory;
/// INVALID_RANGE when PORTREG_RANGE or config.toml's range is malformed;
/// INVALID_NAME when `registry_out` is NULL.
///
/// Ownership: `path` is read during the call only (any bytes the OS takes
/// as a path). The handle is the caller's: free it with
/// `portreg_registry_free`.
/// NULL: `path` may be NULL (default registry); `registry_out` must not be.
/// `*registry_out` is written only on success.
/// Threads: safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_registry_open(
    path: *const c_char,
    registry_out: *mut *mut portreg_registry,
) -> portreg_status {
    status_call(|| {
        non_null(registry_out, "registry_out")?;
        let registry = match unsafe { args::opt_path(path) } {
            Some(p) => Arc::new(Registry::open(p)?),
            None => Arc::new(Registry::open_default()?),
        };
        let boxed = Box::new(portreg_registry { inner: registry });
        unsafe { put(registry_out, Box::into_raw(boxed)) };
        Ok(())
    })
}

/// Closes a registry handle. Leases taken through it stay: a lease belongs
/// to its holder process, not to the handle.
///
/// Ownership: takes `registry`; it is invalid afterwards. Free each handle
/// exactly once.
/// NULL: a NULL `registry` is ignored.
/// Threads: call it once no other thread uses the handle.
#[no_mangle]
pub extern "C" fn portreg_registry_free(registry: *mut portreg_registry) {
    value_call((), || {
        if !registry.is_null() {
            drop(unsafe { Box::from_raw(registry) });
        }
    })
}

/// Copies the registry's directory path into `buf` with snprintf semantics
/// (see `portreg_last_error`) and returns its full length.
///
/// Ownership: `buf` is the caller's.
/// NULL: a NULL `registry` gives 0 and writes nothing; `buf` may be NULL
/// when `len` is 0.
/// Threads: safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_registry_path(
    registry: *const portreg_registry,
    buf: *mut c_char,
    len: usize,
) -> usize {
    value_call(0, || match unsafe { registry.as_ref() } {
        Some(r) => unsafe { copy_out(r.inner.path().as_os_str().as_bytes(), buf, len) },
        None => 0,
    })
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
/// `port_out` must not be (INVALID_NAME). `*port_out` is written only on
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
/// NULL: `registry` and `name` must not be NULL (INVALID_NAME).
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

/// Looks up `name`. On success `*entry_out` is a new entry.
///
/// Errors: INVALID_NAME; NOT_FOUND when the registry does not know the name;
/// IO.
///
/// Ownership: `name` is read during the call only. The entry is the
/// caller's: free it with `portreg_entry_free`.
/// NULL: `registry`, `name` and `entry_out` must not be NULL (INVALID_NAME).
/// `*entry_out` is written only on success.
/// Threads: safe from any thread, also on one shared handle.
#[no_mangle]
pub extern "C" fn portreg_get(
    registry: *const portreg_registry,
    name: *const c_char,
    entry_out: *mut *mut portreg_entry,
) -> portreg_status {
    status_call(|| {
        let reg = unsafe { handle(registry) }?;
        let name = unsafe { args::name(name, "name") }?;
        non_null(entry_out, "entry_out")?;
        let entry = reg
            .get(name)?
            .ok_or_else(|| portreg_core::Error::NotFound {
                what: "name",
                name: name.to_string(),
            })?;
        let boxed = Box::new(portreg_entry::new(&entry));
        unsafe { put(entry_out, Box::into_raw(boxed)) };
        Ok(())
    })
}

/// Lists every entry of the registry (active, idle and reserved), sorted by
/// port then name. On success `*list_out` is a new list.
///
/// Errors: IO, PERMISSION.
///
/// Ownership: the list is the caller's: free it with `portreg_list_free`.
/// NULL: `registry` and `list_out` must not be NULL (INVALID_NAME).
/// `*list_out` is written only on success.
/// Threads: safe from any thread, also on one shared handle.
#[no_mangle]
pub extern "C" fn portreg_list(
    registry: *const portreg_registry,
    list_out: *mut *mut portreg_entry_list,
) -> portreg_status {
    status_call(|| {
        let reg = unsafe { handle(registry) }?;
        non_null(list_out, "list_out")?;
        let entries = reg.list()?;
        let boxed = Box::new(portreg_entry_list::new(&entries));
        unsafe { put(list_out, Box::into_raw(boxed)) };
        Ok(())
    })
}

/// Pins `name` to `port`: no process is needed, and no other name gets the
/// port. Asking again for the same pin is not an error. A process outside
/// the registry listening on the port only prints a warning.
///
/// Errors: INVALID_NAME; INVALID_PORT (not 1-65535); PORT_TAKEN when another
/// name holds or reserves the port; LEASE_HELD when a live process holds
/// `name` on another port; REGISTRY_VERSION; IO.
///
/// Ownership: `name` and `description` are read during the call only.
/// NULL: `description` may be NULL (keeps the entry's description);
/// `registry` and `name` must not be (INVALID_NAME).
/// Threads: safe from any thread, also on one shared handle.
#[no_mangle]
pub extern "C" fn portreg_reserve(
    registry: *const portreg_registry,
    name: *const c_char,
    port: u32,
    description: *const c_char,
) -> portreg_status {
    status_call(|| {
        let reg = unsafe { handle(registry) }?;
        let name = unsafe { args::name(name, "name") }?;
        let port = self::port(port)?;
        let description = unsafe { args::opt_text(description, "description") }?;
        reg.reserve(name, port, description)?;
        Ok(())
    })
}

/// Removes `name` from the registry: its port is no longer remembered or
/// reserved. A name held by another live process fails with LEASE_HELD
/// unless `force` (then PERMISSION if that process is another user's).
///
/// Errors: INVALID_NAME; NOT_FOUND; LEASE_HELD; PERMISSION;
/// REGISTRY_VERSION; IO.
///
/// Ownership: `name` is read during the call only.
/// NULL: `registry` and `name` must not be NULL (INVALID_NAME).
/// Threads: safe from any thread, also on one shared handle.
#[no_mangle]
pub extern "C" fn portreg_forget(
    registry: *const portreg_registry,
    name: *const c_char,
    force: bool,
) -> portreg_status {
    status_call(|| {
        let reg = unsafe { handle(registry) }?;
        let name = unsafe { args::name(name, "name") }?;
        reg.forget(name, force)?;
        Ok(())
    })
}

/// Finds a port that is free right now in `range_low`-`range_high` (both 0:
/// the registry's range), without leasing it. Prefer `portreg_lease`: only a
/// lease stops another process from taking the same port. On success
/// `*port_out` is the port.
///
/// Errors: INVALID_RANGE; NO_FREE_PORT; IO.
///
/// Ownership: nothing is retained.
/// NULL: `registry` and `port_out` must not be NULL (INVALID_NAME).
/// `*port_out` is written only on success.
/// Threads: safe from any thread, also on one shared handle.
#[no_mangle]
pub extern "C" fn portreg_find_free(
    registry: *const portreg_registry,
    range_low: u32,
    range_high: u32,
    port_out: *mut u16,
) -> portreg_status {
    status_call(|| {
        let reg = unsafe { handle(registry) }?;
        let range = range(range_low, range_high)?;
        non_null(port_out, "port_out")?;
        let port = reg.find_free(range)?;
        unsafe { put(port_out, port) };
        Ok(())
    })
}

/// Drops every lease whose holder has exited (those entries turn idle and
/// keep their ports) and leftovers of interrupted writes. On success
/// `*cleaned_out`, when given, is the number of leases dropped.
///
/// Errors: REGISTRY_VERSION, PERMISSION, IO.
///
/// Ownership: nothing is retained.
/// NULL: `registry` must not be NULL (INVALID_NAME); `cleaned_out` may be
/// NULL. `*cleaned_out` is written only on success.
/// Threads: safe from any thread, also on one shared handle.
#[no_mangle]
pub extern "C" fn portreg_clean(
    registry: *const portreg_registry,
    cleaned_out: *mut usize,
) -> portreg_status {
    status_call(|| {
        let reg = unsafe { handle(registry) }?;
        let cleaned = reg.clean()?;
        if !cleaned_out.is_null() {
            unsafe { put(cleaned_out, cleaned.len()) };
        }
        Ok(())
    })
}

/// Parses a range written as "LOW-HIGH" (e.g. "8070-8999"), the form the
/// CLI, PORTREG_RANGE and the other languages take, into the two numbers
/// that `portreg_lease_options` and `portreg_find_free` take.
///
/// Errors: INVALID_RANGE (not LOW-HIGH with 1024 <= LOW <= HIGH <= 65535,
/// or not UTF-8); INVALID_NAME when an argument is NULL.
///
/// Ownership: `text` is read during the call only.
/// NULL: no argument may be NULL. The out-parameters are written only on
/// success.
/// Threads: safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_range_parse(
    text: *const c_char,
    low_out: *mut u16,
    high_out: *mut u16,
) -> portreg_status {
    status_call(|| {
        non_null(text, "text")?;
        non_null(low_out, "low_out")?;
        non_null(high_out, "high_out")?;
        let text = unsafe { args::opt_text(text, "range") }
            .map_err(|f| Failure {
                status: portreg_status::InvalidRange,
                ..f
            })?
            .unwrap_or_default();
        let range: PortRange = text.parse()?;
        unsafe {
            put(low_out, range.low);
            put(high_out, range.high);
        }
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
/// NULL: `name` and `port_out` must not be NULL (INVALID_NAME). `*port_out`
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
/// NULL: `name` must not be NULL (INVALID_NAME).
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
