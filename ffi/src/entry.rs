//! Registry entries for C: `portreg_entry`, its `portreg_holder`, and the
//! `portreg_entry_list` that `portreg_list` returns, each with read-only accessors.

use std::ffi::{c_char, CStr, CString};

use portreg_core::{Entry, Holder, State};

use crate::args::read;
use crate::args::{c_string, opt_ptr};
use crate::error::value_call;

/// One registry entry: a name, its port and state, its holder (if active),
/// description, meta and timestamps. Opaque; read it with the
/// `portreg_entry_*` accessors. An entry is either owned (from `portreg_get`,
/// freed with `portreg_entry_free`) or borrowed from the list or who result it
/// came from (never freed on its own). It never changes after it is made, so
/// any number of threads may read it at once.
pub struct portreg_entry {
    name: CString,
    port: u16,
    state: &'static CStr,
    holder: Option<portreg_holder>,
    reserved: bool,
    description: Option<CString>,
    meta: Vec<(CString, CString)>,
    created: CString,
    changed: CString,
    listening: Option<bool>,
}

/// The process holding an active entry: pid, start ticks and boot id (which
/// together identify it), start time, executable, command line, user, working directory and when
/// it took the lease. Opaque and borrowed from its entry.
pub struct portreg_holder {
    pid: u32,
    start_time: u64,
    start_ticks: u64,
    boot_id: CString,
    pid_ns: u64,
    exe: CString,
    cmdline: Vec<CString>,
    user: CString,
    cwd: CString,
    since: CString,
}

/// The entries of a registry, sorted by port then name. Opaque; owned by the
/// caller of `portreg_list` and freed with `portreg_list_free`. Read-only, so
/// any number of threads may read it at once.
pub struct portreg_entry_list {
    entries: Vec<portreg_entry>,
}

impl portreg_holder {
    fn new(h: &Holder) -> portreg_holder {
        portreg_holder {
            pid: h.pid,
            start_time: h.start_time,
            start_ticks: h.start_ticks.unwrap_or(0),
            boot_id: c_string(h.boot_id.as_deref().unwrap_or("")),
            pid_ns: h.pid_ns.unwrap_or(0),
            exe: c_string(&h.exe),
            cmdline: h.cmdline.iter().map(|a| c_string(a)).collect(),
            user: c_string(&h.user),
            cwd: c_string(&h.cwd),
            since: c_string(&h.since),
        }
    }
}

impl portreg_entry {
    pub(crate) fn new(e: &Entry) -> portreg_entry {
        portreg_entry {
            name: c_string(&e.name),
            port: e.port,
            state: match e.state {
                State::Active => c"active",
                State::Idle => c"idle",
                State::Reserved => c"reserved",
            },
            holder: e.holder.as_ref().map(portreg_holder::new),
            reserved: e.reserved,
            description: e.description.as_deref().map(c_string),
            meta: e
                .meta
                .iter()
                .map(|(k, v)| (c_string(k), c_string(v)))
                .collect(),
            created: c_string(&e.created),
            changed: c_string(&e.changed),
            listening: e.listening,
        }
    }
}

impl portreg_entry_list {
    pub(crate) fn new(entries: &[Entry]) -> portreg_entry_list {
        portreg_entry_list {
            entries: entries.iter().map(portreg_entry::new).collect(),
        }
    }
}

const NULL: *const c_char = std::ptr::null();

/// The number of entries in `list`.
///
/// Ownership: `list` stays the caller's.
/// NULL: a NULL `list` gives 0.
/// Threads: any number of threads may read one list at once.
#[no_mangle]
pub extern "C" fn portreg_list_len(list: *const portreg_entry_list) -> usize {
    read(list, 0, |l| l.entries.len())
}

/// The entry at `index` (0-based) of `list`, or NULL when `index` is not
/// below `portreg_list_len(list)`.
///
/// Ownership: the entry is borrowed from `list`: valid until
/// `portreg_list_free(list)`; never pass it to `portreg_entry_free`.
/// NULL: a NULL `list` gives NULL.
/// Threads: any number of threads may read one list at once.
#[no_mangle]
pub extern "C" fn portreg_list_get(
    list: *const portreg_entry_list,
    index: usize,
) -> *const portreg_entry {
    read(list, std::ptr::null(), |l| {
        l.entries
            .get(index)
            .map_or(std::ptr::null(), |e| e as *const portreg_entry)
    })
}

/// Frees a list from `portreg_list`, with every entry and string borrowed
/// from it.
///
/// Ownership: takes `list`; it and everything borrowed from it are invalid
/// afterwards. Free each list exactly once.
/// NULL: a NULL `list` is ignored.
/// Threads: call it once no other thread reads the list.
#[no_mangle]
pub extern "C" fn portreg_list_free(list: *mut portreg_entry_list) {
    value_call((), || {
        if !list.is_null() {
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

/// Frees an entry from `portreg_get`, with every string borrowed from it.
///
/// Ownership: takes `entry`. Only for entries `portreg_get` returned: an
/// entry borrowed from a list or a who result is freed with that.
/// NULL: a NULL `entry` is ignored.
/// Threads: call it once no other thread reads the entry.
#[no_mangle]
pub extern "C" fn portreg_entry_free(entry: *mut portreg_entry) {
    value_call((), || {
        if !entry.is_null() {
            drop(unsafe { Box::from_raw(entry) });
        }
    })
}

/// The entry's name, spelled as it was first given (names are
/// case-insensitive).
///
/// Ownership: borrowed from `entry`: valid while `entry` is.
/// NULL: a NULL `entry` gives NULL.
/// Threads: entries are read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_name(entry: *const portreg_entry) -> *const c_char {
    read(entry, NULL, |e| e.name.as_ptr())
}

/// The entry's port (held, remembered or reserved).
///
/// Ownership: `entry` stays the caller's (or its list's).
/// NULL: a NULL `entry` gives 0.
/// Threads: entries are read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_port(entry: *const portreg_entry) -> u16 {
    read(entry, 0, |e| e.port)
}

/// The entry's state: "active" (held by a live process), "idle" (its holder
/// is gone; the port is remembered) or "reserved" (pinned by a person).
///
/// Ownership: a static string; never free it.
/// NULL: a NULL `entry` gives NULL.
/// Threads: safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_state(entry: *const portreg_entry) -> *const c_char {
    read(entry, NULL, |e| e.state.as_ptr())
}

/// True when the entry is pinned by `portreg_reserve` (it may be active too,
/// when a process holds the reserved name).
///
/// Ownership: `entry` stays the caller's (or its list's).
/// NULL: a NULL `entry` gives false.
/// Threads: entries are read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_reserved(entry: *const portreg_entry) -> bool {
    read(entry, false, |e| e.reserved)
}

/// For an active entry, whether some process listens on its port (read
/// from the kernel's socket tables when the entry was read): 1 listening,
/// 0 not (yet); -1 for an idle or reserved entry.
///
/// Ownership: `entry` stays the caller's (or its list's).
/// NULL: a NULL `entry` gives -1.
/// Threads: entries are read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_listening(entry: *const portreg_entry) -> i32 {
    read(entry, -1, |e| match e.listening {
        Some(true) => 1,
        Some(false) => 0,
        None => -1,
    })
}

/// The pid of the process holding the entry, or 0 when it is not active.
/// `portreg_entry_holder` gives the rest of what is known about it.
///
/// Ownership: `entry` stays the caller's (or its list's).
/// NULL: a NULL `entry` gives 0.
/// Threads: entries are read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_holder_pid(entry: *const portreg_entry) -> u32 {
    read(entry, 0, |e| e.holder.as_ref().map_or(0, |h| h.pid))
}

/// The process holding the entry, or NULL when it is not active.
///
/// Ownership: borrowed from `entry`: valid while `entry` is.
/// NULL: a NULL `entry` gives NULL.
/// Threads: entries are read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_holder(entry: *const portreg_entry) -> *const portreg_holder {
    read(entry, std::ptr::null(), |e| {
        e.holder
            .as_ref()
            .map_or(std::ptr::null(), |h| h as *const portreg_holder)
    })
}

/// The entry's description, or NULL when it has none.
///
/// Ownership: borrowed from `entry`: valid while `entry` is.
/// NULL: a NULL `entry` gives NULL.
/// Threads: entries are read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_description(entry: *const portreg_entry) -> *const c_char {
    read(entry, NULL, |e| opt_ptr(&e.description))
}

/// When the entry was created, RFC 3339 UTC ("2025-01-31T12:00:00Z").
///
/// Ownership: borrowed from `entry`: valid while `entry` is.
/// NULL: a NULL `entry` gives NULL.
/// Threads: entries are read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_created(entry: *const portreg_entry) -> *const c_char {
    read(entry, NULL, |e| e.created.as_ptr())
}

/// When the entry's durable facts (port, reservation, description, meta)
/// last changed, RFC 3339 UTC.
///
/// Ownership: borrowed from `entry`: valid while `entry` is.
/// NULL: a NULL `entry` gives NULL.
/// Threads: entries are read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_changed(entry: *const portreg_entry) -> *const c_char {
    read(entry, NULL, |e| e.changed.as_ptr())
}

/// The number of meta facts (KEY=VALUE strings such as a project directory
/// or health URL) of the entry, sorted by key.
///
/// Ownership: `entry` stays the caller's (or its list's).
/// NULL: a NULL `entry` gives 0.
/// Threads: entries are read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_meta_len(entry: *const portreg_entry) -> usize {
    read(entry, 0, |e| e.meta.len())
}

/// The key of meta fact `index`, or NULL when `index` is not below
/// `portreg_entry_meta_len(entry)`.
///
/// Ownership: borrowed from `entry`: valid while `entry` is.
/// NULL: a NULL `entry` gives NULL.
/// Threads: entries are read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_meta_key(
    entry: *const portreg_entry,
    index: usize,
) -> *const c_char {
    read(entry, NULL, |e| {
        e.meta.get(index).map_or(NULL, |(k, _)| k.as_ptr())
    })
}

/// The value of meta fact `index`, or NULL when `index` is not below
/// `portreg_entry_meta_len(entry)`.
///
/// Ownership: borrowed from `entry`: valid while `entry` is.
/// NULL: a NULL `entry` gives NULL.
/// Threads: entries are read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_meta_value(
    entry: *const portreg_entry,
    index: usize,
) -> *const c_char {
    read(entry, NULL, |e| {
        e.meta.get(index).map_or(NULL, |(_, v)| v.as_ptr())
    })
}

/// The value of the meta fact named `key` (exact match), or NULL when the
/// entry has no such key.
///
/// Ownership: borrowed from `entry`: valid while `entry` is; `key` is only
/// read during the call.
/// NULL: a NULL `entry` or `key` gives NULL.
/// Threads: entries are read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_entry_meta_get(
    entry: *const portreg_entry,
    key: *const c_char,
) -> *const c_char {
    read(entry, NULL, |e| {
        if key.is_null() {
            return NULL;
        }
        let key = unsafe { CStr::from_ptr(key) };
        e.meta
            .iter()
            .find(|(k, _)| k.as_c_str() == key)
            .map_or(NULL, |(_, v)| v.as_ptr())
    })
}

/// The holder's pid.
///
/// Ownership: `holder` is borrowed from its entry.
/// NULL: a NULL `holder` gives 0.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_holder_pid(holder: *const portreg_holder) -> u32 {
    read(holder, 0, |h| h.pid)
}

/// The holder's start time in seconds since the Unix epoch, for people (it
/// moves with the wall clock; `portreg_holder_start_ticks` identifies).
///
/// Ownership: `holder` is borrowed from its entry.
/// NULL: a NULL `holder` gives 0.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_holder_start_time(holder: *const portreg_holder) -> u64 {
    read(holder, 0, |h| h.start_time)
}

/// The holder's start in clock ticks since boot (with the pid and boot id
/// it tells a live holder from a later process that reused the pid); 0 in
/// records of older versions.
///
/// Ownership: `holder` is borrowed from its entry.
/// NULL: a NULL `holder` gives 0.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_holder_start_ticks(holder: *const portreg_holder) -> u64 {
    read(holder, 0, |h| h.start_ticks)
}

/// The kernel boot id the record was made in ("" when unknown).
///
/// Ownership: borrowed from the entry `holder` came from.
/// NULL: a NULL `holder` gives NULL.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_holder_boot_id(holder: *const portreg_holder) -> *const c_char {
    read(holder, NULL, |h| h.boot_id.as_ptr())
}

/// The inode of the pid namespace the holder's pid is counted in (0 when
/// unknown).
///
/// Ownership: `holder` is borrowed from its entry.
/// NULL: a NULL `holder` gives 0.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_holder_pid_ns(holder: *const portreg_holder) -> u64 {
    read(holder, 0, |h| h.pid_ns)
}

/// The holder's executable name, e.g. "python3" ("" when unknown).
///
/// Ownership: borrowed from the entry `holder` came from.
/// NULL: a NULL `holder` gives NULL.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_holder_exe(holder: *const portreg_holder) -> *const c_char {
    read(holder, NULL, |h| h.exe.as_ptr())
}

/// The user the holder runs as ("" when unknown).
///
/// Ownership: borrowed from the entry `holder` came from.
/// NULL: a NULL `holder` gives NULL.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_holder_user(holder: *const portreg_holder) -> *const c_char {
    read(holder, NULL, |h| h.user.as_ptr())
}

/// The holder's working directory when it took the lease ("" when unknown).
///
/// Ownership: borrowed from the entry `holder` came from.
/// NULL: a NULL `holder` gives NULL.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_holder_cwd(holder: *const portreg_holder) -> *const c_char {
    read(holder, NULL, |h| h.cwd.as_ptr())
}

/// When the holder took the lease, RFC 3339 UTC.
///
/// Ownership: borrowed from the entry `holder` came from.
/// NULL: a NULL `holder` gives NULL.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_holder_since(holder: *const portreg_holder) -> *const c_char {
    read(holder, NULL, |h| h.since.as_ptr())
}

/// The number of arguments of the holder's command line.
///
/// Ownership: `holder` is borrowed from its entry.
/// NULL: a NULL `holder` gives 0.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_holder_cmdline_len(holder: *const portreg_holder) -> usize {
    read(holder, 0, |h| h.cmdline.len())
}

/// Argument `index` of the holder's command line, or NULL when `index` is
/// not below `portreg_holder_cmdline_len(holder)`.
///
/// Ownership: borrowed from the entry `holder` came from.
/// NULL: a NULL `holder` gives NULL.
/// Threads: read-only; safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_holder_cmdline_get(
    holder: *const portreg_holder,
    index: usize,
) -> *const c_char {
    read(holder, NULL, |h| {
        h.cmdline.get(index).map_or(NULL, |a| a.as_ptr())
    })
}
