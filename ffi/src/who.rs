//! `portreg who` for C: `portreg_who_info` (what listens on a port and which
//! entry claims it) over `portreg_core::Who`, and its `portreg_listener`s.

use std::ffi::{c_char, CString};

use portreg_core::{ListenerInfo, Target, Who};

use crate::args::{self, c_string, read};
use crate::entry::portreg_entry;
use crate::error::{portreg_status, status_call, value_call};
use crate::registry::portreg_registry;

/// What `portreg_who` found on a port: the processes listening on it and
/// the registry entry that claims it. Opaque; owned by the caller and freed
/// with `portreg_who_info_free`. Read-only, so any number of threads may
/// read it at once.
pub struct portreg_who_info {
    port: u16,
    listeners: Vec<portreg_listener>,
    entry: Option<portreg_entry>,
}

/// One process listening on the port, with every address it listens on
/// there. Opaque and borrowed from its `portreg_who_info`.
pub struct portreg_listener {
    pid: u32,
    exe: CString,
    cmdline: Vec<CString>,
    user: CString,
    addrs: Vec<CString>,
}

impl portreg_listener {
    fn new(l: &ListenerInfo) -> portreg_listener {
        portreg_listener {
            pid: l.pid,
            exe: c_string(&l.exe),
            cmdline: l.cmdline.iter().map(|a| c_string(a)).collect(),
            user: c_string(&l.user),
            addrs: l.addrs.iter().map(|a| c_string(a)).collect(),
        }
    }
}

impl portreg_who_info {
    fn new(w: &Who) -> portreg_who_info {
        portreg_who_info {
            port: w.port,
            listeners: w.listeners.iter().map(portreg_listener::new).collect(),
            entry: w.entry.as_ref().map(portreg_entry::new),
        }
    }
}

const NULL: *const c_char = std::ptr::null();

/// # Safety
/// `out` is NULL or valid; checked by the caller before acting.
unsafe fn put(out: *mut *mut portreg_who_info, w: &Who) {
    out.write(Box::into_raw(Box::new(portreg_who_info::new(w))));
}

/// Names the processes listening on `port` (pid, executable, command line,
/// user, addresses), whether or not they hold a lease, and the entry that
/// claims the port (active, else reserved, else an idle one remembering it).
/// On success `*who_out` is a new result.
///
/// Errors: INVALID_PORT (not 1-65535); INVALID_ARGUMENT for a NULL argument; IO.
///
/// Ownership: the result is the caller's: free it with
/// `portreg_who_info_free`.
/// NULL: `registry` and `who_out` must not be NULL (INVALID_ARGUMENT).
/// `*who_out` is written only on success.
/// Threads: safe from any thread, also on one shared handle.
#[no_mangle]
pub extern "C" fn portreg_who(
    registry: *const portreg_registry,
    port: u32,
    who_out: *mut *mut portreg_who_info,
) -> portreg_status {
    status_call(|| {
        let reg = unsafe { crate::registry::handle(registry) }?;
        let port = crate::registry::port(port)?;
        args::non_null(who_out, "who_out")?;
        let who = reg.who(&Target::Port(port))?;
        unsafe { put(who_out, &who) };
        Ok(())
    })
}

/// `portreg_who` for the port that `name` holds, reserves or remembers.
///
/// Errors: INVALID_NAME; NOT_FOUND when the registry does not know the name;
/// IO.
///
/// Ownership: `name` is read during the call only. The result is the
/// caller's: free it with `portreg_who_info_free`.
/// NULL: `registry`, `name` and `who_out` must not be NULL (INVALID_ARGUMENT).
/// `*who_out` is written only on success.
/// Threads: safe from any thread, also on one shared handle.
#[no_mangle]
pub extern "C" fn portreg_who_name(
    registry: *const portreg_registry,
    name: *const c_char,
    who_out: *mut *mut portreg_who_info,
) -> portreg_status {
    status_call(|| {
        let reg = unsafe { crate::registry::handle(registry) }?;
        let name = unsafe { args::name(name, "name") }?;
        args::non_null(who_out, "who_out")?;
        let who = reg.who(&Target::name(name)?)?;
        unsafe { put(who_out, &who) };
        Ok(())
    })
}

/// Frees a result from `portreg_who` or `portreg_who_name`, with its
/// listeners, entry and strings.
///
/// Ownership: takes `who`; it and everything borrowed from it are invalid
/// afterwards. Free each result exactly once.
/// NULL: a NULL `who` is ignored.
/// Threads: call it once no other thread reads the result.
#[no_mangle]
pub extern "C" fn portreg_who_info_free(who: *mut portreg_who_info) {
    value_call((), || {
        if !who.is_null() {
            drop(unsafe { Box::from_raw(who) });
        }
    })
}

/// The port that was looked at.
///
/// Ownership: `who` stays the caller's.
/// NULL: a NULL `who` gives 0.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_who_info_port(who: *const portreg_who_info) -> u16 {
    read(who, 0, |w| w.port)
}

/// The number of processes seen listening on the port (0 when none can be
/// seen: another user's sockets may be hidden).
///
/// Ownership: `who` stays the caller's.
/// NULL: a NULL `who` gives 0.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_who_info_listeners_len(who: *const portreg_who_info) -> usize {
    read(who, 0, |w| w.listeners.len())
}

/// Listener `index` (sorted by pid), or NULL when `index` is not below
/// `portreg_who_info_listeners_len(who)`.
///
/// Ownership: borrowed from `who`: valid until `portreg_who_info_free(who)`.
/// NULL: a NULL `who` gives NULL.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_who_info_listener(
    who: *const portreg_who_info,
    index: usize,
) -> *const portreg_listener {
    read(who, std::ptr::null(), |w| {
        w.listeners
            .get(index)
            .map_or(std::ptr::null(), |l| l as *const portreg_listener)
    })
}

/// The registry entry that claims the port, or NULL when none does.
///
/// Ownership: borrowed from `who`: valid until `portreg_who_info_free(who)`;
/// never pass it to `portreg_entry_free`.
/// NULL: a NULL `who` gives NULL.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_who_info_entry(who: *const portreg_who_info) -> *const portreg_entry {
    read(who, std::ptr::null(), |w| {
        w.entry
            .as_ref()
            .map_or(std::ptr::null(), |e| e as *const portreg_entry)
    })
}

/// The listening process's pid.
///
/// Ownership: `listener` is borrowed from its who result.
/// NULL: a NULL `listener` gives 0.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_listener_pid(listener: *const portreg_listener) -> u32 {
    read(listener, 0, |l| l.pid)
}

/// The listening process's executable name ("" when unknown).
///
/// Ownership: borrowed from the who result `listener` came from.
/// NULL: a NULL `listener` gives NULL.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_listener_exe(listener: *const portreg_listener) -> *const c_char {
    read(listener, NULL, |l| l.exe.as_ptr())
}

/// The user the listening process runs as ("" when unknown).
///
/// Ownership: borrowed from the who result `listener` came from.
/// NULL: a NULL `listener` gives NULL.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_listener_user(listener: *const portreg_listener) -> *const c_char {
    read(listener, NULL, |l| l.user.as_ptr())
}

/// The number of arguments of the listening process's command line.
///
/// Ownership: `listener` is borrowed from its who result.
/// NULL: a NULL `listener` gives 0.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_listener_cmdline_len(listener: *const portreg_listener) -> usize {
    read(listener, 0, |l| l.cmdline.len())
}

/// Argument `index` of the listening process's command line, or NULL when
/// `index` is not below `portreg_listener_cmdline_len(listener)`.
///
/// Ownership: borrowed from the who result `listener` came from.
/// NULL: a NULL `listener` gives NULL.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_listener_cmdline_get(
    listener: *const portreg_listener,
    index: usize,
) -> *const c_char {
    read(listener, NULL, |l| {
        l.cmdline.get(index).map_or(NULL, |a| a.as_ptr())
    })
}

/// The number of addresses the process listens on at this port.
///
/// Ownership: `listener` is borrowed from its who result.
/// NULL: a NULL `listener` gives 0.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_listener_addrs_len(listener: *const portreg_listener) -> usize {
    read(listener, 0, |l| l.addrs.len())
}

/// Address `index` the process listens on ("127.0.0.1", "0.0.0.0", "::1",
/// "::"), or NULL when `index` is not below
/// `portreg_listener_addrs_len(listener)`.
///
/// Ownership: borrowed from the who result `listener` came from.
/// NULL: a NULL `listener` gives NULL.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_listener_addr_get(
    listener: *const portreg_listener,
    index: usize,
) -> *const c_char {
    read(listener, NULL, |l| {
        l.addrs.get(index).map_or(NULL, |a| a.as_ptr())
    })
}
