//! The registry handle for C: `portreg_registry` over `portreg_core::Registry`,
//! with get, list, reserve, forget, rename, find_free and clean (leasing and
//! releasing are in `lease.rs`).

use std::ffi::c_char;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use portreg_core::{allocate, tracking, PortRange, Registry};

use crate::args::{self, copy_out, non_null};
use crate::entry::{portreg_entry, portreg_entry_list};
use crate::error::{portreg_status, status_call, value_call, Failure, FfiResult};
use crate::lease::range;

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

/// Writes `v` through `out`, which the caller checked for NULL before acting.
///
/// # Safety
/// `out` is a valid pointer.
pub(crate) unsafe fn put<T>(out: *mut T, v: T) {
    out.write(v);
}

/// Opens (creating if needed, mode 0700) the registry in directory `path`,
/// or the default registry when `path` is NULL: $PORTREG_HOME if set, else
/// ~/.portreg. On success `*registry_out` is a new handle.
///
/// Errors: PERMISSION when the directory belongs to another user or is
/// writable by others; IO when it cannot be created or is not a directory;
/// INVALID_RANGE when PORTREG_RANGE or config.toml's range is malformed;
/// INVALID_ARGUMENT when `registry_out` is NULL.
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

/// Looks up `name`. On success `*entry_out` is a new entry.
///
/// Errors: INVALID_NAME; NOT_FOUND when the registry does not know the name;
/// IO.
///
/// Ownership: `name` is read during the call only. The entry is the
/// caller's: free it with `portreg_entry_free`.
/// NULL: `registry`, `name` and `entry_out` must not be NULL (INVALID_ARGUMENT).
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
/// NULL: `registry` and `list_out` must not be NULL (INVALID_ARGUMENT).
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
/// `registry` and `name` must not be (INVALID_ARGUMENT).
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
/// NULL: `registry` and `name` must not be NULL (INVALID_ARGUMENT).
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
        tracking::forget_name(reg, name, force)?;
        Ok(())
    })
}

/// Renames `old` to `new`: the entry keeps its port, reservation,
/// description, meta and creation time, and a live holder keeps holding it
/// under `new`. `new` may differ from `old` only in case, or must be a name
/// the registry does not know. A name held by another live process fails
/// with LEASE_HELD unless `force` (then PERMISSION if that process is another
/// user's).
///
/// Errors: INVALID_NAME (for either name, or `new` already in the
/// registry); NOT_FOUND for an unknown `old`; LEASE_HELD; PERMISSION;
/// REGISTRY_VERSION; IO.
///
/// Ownership: `old` and `new` are read during the call only.
/// NULL: `registry`, `old` and `new` must not be NULL (INVALID_ARGUMENT).
/// Threads: safe from any thread, also on one shared handle.
#[no_mangle]
pub extern "C" fn portreg_rename(
    registry: *const portreg_registry,
    old: *const c_char,
    new: *const c_char,
    force: bool,
) -> portreg_status {
    status_call(|| {
        let reg = unsafe { handle(registry) }?;
        let old = unsafe { args::name(old, "old") }?;
        let new = unsafe { args::name(new, "new") }?;
        tracking::rename_name(reg, old, new, force)?;
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
/// NULL: `registry` and `port_out` must not be NULL (INVALID_ARGUMENT).
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
        let port = reg.find_free(range.map(Into::into))?;
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
/// NULL: `registry` must not be NULL (INVALID_ARGUMENT); `cleaned_out` may be
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
/// or not UTF-8); INVALID_ARGUMENT when an argument is NULL.
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
