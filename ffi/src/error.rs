//! Maps portreg-core's `Error` to `portreg_status` numbers, keeps each
//! thread's last error for `portreg_last_error`, and holds the panic boundary
//! every exported function runs inside.

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use portreg_core::{Error, ErrorCode, HeldBy};

use crate::args::copy_out;

/// What every fallible portreg call returns: `PORTREG_STATUS_OK` (0) or the
/// error's code. The numbers are stable and never reused; new codes are only
/// ever added at the end. `portreg_status_str` gives a code's name and
/// `portreg_last_error` the message of the failed call.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum portreg_status {
    /// Success.
    Ok = 0,
    /// A name is not 1-64 ASCII letters, digits, '.', '_', '-' starting with a
    /// letter or digit.
    InvalidName = 1,
    /// A port is not 1-65535, or an exact request has no port.
    InvalidPort = 2,
    /// A range is not LOW-HIGH with 1024 <= LOW <= HIGH <= 65535.
    InvalidRange = 3,
    /// The registry does not know the name.
    NotFound = 4,
    /// Another live process holds the name (`portreg_last_error_holder`
    /// gives its pid and port).
    LeaseHeld = 5,
    /// Another name holds or reserves the port asked for exactly.
    PortTaken = 6,
    /// A process outside the registry listens on the port asked for exactly.
    PortBusy = 7,
    /// Every port of the range is held, reserved or in use.
    NoFreePort = 8,
    /// Another process holds the name; only it (or a forced call) may release it.
    NotHolder = 9,
    /// A registry file is corrupt and could not be set aside.
    RegistryCorrupt = 10,
    /// A registry file is newer than this library: it is read, never written.
    RegistryVersion = 11,
    /// The registry directory belongs to another user or is writable by others,
    /// or a port needs privileges.
    Permission = 12,
    /// Reading or writing the registry failed.
    Io = 13,
    /// A process could not be inspected (e.g. the pid of a lease is not running).
    Process = 14,
    /// A bug in portreg (including a caught panic); please report it.
    Internal = 15,
    /// A `portreg.toml` cannot be used (syntax, unknown key or dependency, a
    /// cycle); nothing was started or leased.
    InvalidConfig = 16,
    /// A description or meta is refused: a control character (meta values
    /// only refuse NUL), or longer than its limit (description 1024 bytes,
    /// meta key 64 bytes, meta value 4096 bytes, 32 meta keys).
    InvalidText = 17,
    /// The change would make registry.json larger than every reader
    /// accepts (64 MiB); nothing was changed.
    RegistryFull = 18,
    /// Another process held the registry lock past the lock timeout
    /// (`PORTREG_LOCK_TIMEOUT`, default 30 s); nothing was changed.
    LockTimeout = 19,
    /// A bad argument that only C can pass: a NULL pointer where one is
    /// required, text that is not valid UTF-8, or a malformed meta string
    /// (the message names the argument). C only: the other languages cannot
    /// pass these, so the registry's codes have no counterpart.
    InvalidArgument = 20,
}

// The C numbers are portreg-core's ErrorCode numbers: a mismatch fails the build.
const _: () = {
    assert!(portreg_status::InvalidName as u32 == ErrorCode::InvalidName as u32);
    assert!(portreg_status::InvalidPort as u32 == ErrorCode::InvalidPort as u32);
    assert!(portreg_status::InvalidRange as u32 == ErrorCode::InvalidRange as u32);
    assert!(portreg_status::NotFound as u32 == ErrorCode::NotFound as u32);
    assert!(portreg_status::LeaseHeld as u32 == ErrorCode::LeaseHeld as u32);
    assert!(portreg_status::PortTaken as u32 == ErrorCode::PortTaken as u32);
    assert!(portreg_status::PortBusy as u32 == ErrorCode::PortBusy as u32);
    assert!(portreg_status::NoFreePort as u32 == ErrorCode::NoFreePort as u32);
    assert!(portreg_status::NotHolder as u32 == ErrorCode::NotHolder as u32);
    assert!(portreg_status::RegistryCorrupt as u32 == ErrorCode::RegistryCorrupt as u32);
    assert!(portreg_status::RegistryVersion as u32 == ErrorCode::RegistryVersion as u32);
    assert!(portreg_status::Permission as u32 == ErrorCode::Permission as u32);
    assert!(portreg_status::Io as u32 == ErrorCode::Io as u32);
    assert!(portreg_status::Process as u32 == ErrorCode::Process as u32);
    assert!(portreg_status::Internal as u32 == ErrorCode::Internal as u32);
    assert!(portreg_status::InvalidConfig as u32 == ErrorCode::InvalidConfig as u32);
    assert!(portreg_status::InvalidText as u32 == ErrorCode::InvalidText as u32);
    assert!(portreg_status::RegistryFull as u32 == ErrorCode::RegistryFull as u32);
    assert!(portreg_status::LockTimeout as u32 == ErrorCode::LockTimeout as u32);
};

impl portreg_status {
    pub(crate) fn from_code(code: ErrorCode) -> portreg_status {
        match code {
            ErrorCode::InvalidName => portreg_status::InvalidName,
            ErrorCode::InvalidPort => portreg_status::InvalidPort,
            ErrorCode::InvalidRange => portreg_status::InvalidRange,
            ErrorCode::NotFound => portreg_status::NotFound,
            ErrorCode::LeaseHeld => portreg_status::LeaseHeld,
            ErrorCode::PortTaken => portreg_status::PortTaken,
            ErrorCode::PortBusy => portreg_status::PortBusy,
            ErrorCode::NoFreePort => portreg_status::NoFreePort,
            ErrorCode::NotHolder => portreg_status::NotHolder,
            ErrorCode::RegistryCorrupt => portreg_status::RegistryCorrupt,
            ErrorCode::RegistryVersion => portreg_status::RegistryVersion,
            ErrorCode::Permission => portreg_status::Permission,
            ErrorCode::Io => portreg_status::Io,
            ErrorCode::Process => portreg_status::Process,
            ErrorCode::InvalidConfig => portreg_status::InvalidConfig,
            ErrorCode::InvalidText => portreg_status::InvalidText,
            ErrorCode::RegistryFull => portreg_status::RegistryFull,
            ErrorCode::LockTimeout => portreg_status::LockTimeout,
            // A code added to core after this library was built.
            _ => portreg_status::Internal,
        }
    }

    /// The docs/design.md spelling as a static C string.
    fn name(number: u32) -> Option<&'static CStr> {
        Some(match number {
            0 => c"OK",
            1 => c"INVALID_NAME",
            2 => c"INVALID_PORT",
            3 => c"INVALID_RANGE",
            4 => c"NOT_FOUND",
            5 => c"LEASE_HELD",
            6 => c"PORT_TAKEN",
            7 => c"PORT_BUSY",
            8 => c"NO_FREE_PORT",
            9 => c"NOT_HOLDER",
            10 => c"REGISTRY_CORRUPT",
            11 => c"REGISTRY_VERSION",
            12 => c"PERMISSION",
            13 => c"IO",
            14 => c"PROCESS",
            15 => c"INTERNAL",
            16 => c"INVALID_CONFIG",
            17 => c"INVALID_TEXT",
            18 => c"REGISTRY_FULL",
            19 => c"LOCK_TIMEOUT",
            20 => c"INVALID_ARGUMENT",
            _ => return None,
        })
    }
}

/// Why a call failed: its status, the message for `portreg_last_error`, and
/// the live holder for `LEASE_HELD`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: portreg_status,
    pub message: String,
    pub held_by: Option<HeldBy>,
}

impl Failure {
    /// A bad argument only C can pass: a NULL pointer, non-UTF-8 text.
    pub fn argument(message: impl Into<String>) -> Failure {
        Failure {
            status: portreg_status::InvalidArgument,
            message: message.into(),
            held_by: None,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            status: portreg_status::from_code(e.code()),
            message: e.to_string(),
            held_by: e.held_by().cloned(),
        }
    }
}

pub(crate) type FfiResult<T = ()> = Result<T, Failure>;

thread_local! {
    static LAST_ERROR: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

fn set_last_error(f: Option<Failure>) {
    // A thread being torn down has no slot any more; nothing to record then.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = f);
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error: portreg panicked ({what}); please report it")
}

/// The panic boundary and status mapping of every function that returns a
/// `portreg_status`: runs `f`, records its failure (or clears the slot on
/// success) as this thread's last error, and turns a panic into `INTERNAL`.
pub(crate) fn status_call(f: impl FnOnce() -> FfiResult) -> portreg_status {
    let outcome = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        Err(Failure {
            status: portreg_status::Internal,
            message: panic_message(&*payload),
            held_by: None,
        })
    });
    match outcome {
        Ok(()) => {
            set_last_error(None);
            portreg_status::Ok
        }
        Err(f) => {
            let status = f.status;
            set_last_error(Some(f));
            status
        }
    }
}

/// The panic boundary of the functions that return a value rather than a
/// status (accessors, frees): a panic gives `fallback`.
pub(crate) fn value_call<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// The name of a status code: "OK", "INVALID_NAME", "LEASE_HELD"... (the
/// docs/design.md spelling, the same in every language). A number that is not a
/// status gives "UNKNOWN".
///
/// Ownership: the returned string is static; never free it.
/// NULL: never returns NULL.
/// Threads: safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_status_str(status: u32) -> *const c_char {
    value_call(c"UNKNOWN".as_ptr(), || {
        portreg_status::name(status).unwrap_or(c"UNKNOWN").as_ptr()
    })
}

/// Copies the message of this thread's last failed call into `buf` with
/// snprintf semantics: at most `len - 1` bytes and a terminating NUL are
/// written, and the full length of the message (without the NUL) is
/// returned, so a return value >= `len` means the message was truncated.
/// Every function returning a `portreg_status` sets the message on failure
/// and clears it (length 0) on success; this function does not change it.
/// Messages say what went wrong and what to do, e.g. "web is already leased
/// by pid 4242 on port 8070 ...".
///
/// Ownership: `buf` is the caller's; nothing is retained.
/// NULL: `buf` may be NULL when `len` is 0 (to learn the length first).
/// Threads: each thread has its own last error.
#[no_mangle]
pub extern "C" fn portreg_last_error(buf: *mut c_char, len: usize) -> usize {
    value_call(0, || {
        LAST_ERROR
            .try_with(|slot| match &*slot.borrow() {
                Some(f) => unsafe { copy_out(f.message.as_bytes(), buf, len) },
                None => unsafe { copy_out(b"", buf, len) },
            })
            .unwrap_or(0)
    })
}

/// After a call failed with `PORTREG_STATUS_LEASE_HELD` on this thread,
/// gives the live holder's pid and the port it holds, so a program can say
/// "already running at http://127.0.0.1:PORT (pid N)". Returns true and
/// writes the out-parameters when this thread's last error is LEASE_HELD;
/// returns false and writes nothing otherwise. Does not change the last error.
///
/// Ownership: the out-parameters are the caller's.
/// NULL: either out-parameter may be NULL (that value is not written).
/// Threads: each thread has its own last error.
#[no_mangle]
pub extern "C" fn portreg_last_error_holder(pid_out: *mut u32, port_out: *mut u16) -> bool {
    value_call(false, || {
        let held = LAST_ERROR
            .try_with(|slot| slot.borrow().as_ref().and_then(|f| f.held_by.clone()))
            .ok()
            .flatten();
        let Some(h) = held else {
            return false;
        };
        unsafe {
            if !pid_out.is_null() {
                *pid_out = h.pid;
            }
            if !port_out.is_null() {
                *port_out = h.port;
            }
        }
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        let n = portreg_last_error(std::ptr::null_mut(), 0);
        let mut buf = vec![0 as c_char; n + 1];
        assert_eq!(portreg_last_error(buf.as_mut_ptr(), buf.len()), n);
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn status_numbers_and_names_are_core_codes() {
        for code in ErrorCode::ALL {
            let status = portreg_status::from_code(code);
            assert_eq!(status as u32, code as u32, "{code}");
            let name = unsafe { CStr::from_ptr(portreg_status_str(status as u32)) };
            assert_eq!(name.to_str().unwrap(), code.as_str());
        }
        let ok = unsafe { CStr::from_ptr(portreg_status_str(0)) };
        assert_eq!(ok.to_str().unwrap(), "OK");
        // The C-only INVALID_ARGUMENT comes after every core code.
        assert!(portreg_status::InvalidArgument as u32 > ErrorCode::ALL.len() as u32);
        let unknown = unsafe {
            CStr::from_ptr(portreg_status_str(
                portreg_status::InvalidArgument as u32 + 1,
            ))
        };
        assert_eq!(unknown.to_str().unwrap(), "UNKNOWN");
    }

    #[test]
    fn a_panic_becomes_internal_with_its_message() {
        let status = status_call(|| panic!("boom in a test"));
        assert_eq!(status, portreg_status::Internal);
        let msg = last_error();
        assert!(msg.contains("boom in a test"), "{msg}");
        assert!(msg.contains("please report it"), "{msg}");
        assert_eq!(value_call(7, || panic!("accessor")), 7);
    }

    #[test]
    fn success_clears_the_last_error() {
        let status = status_call(|| Err(Failure::argument("first")));
        assert_eq!(status, portreg_status::InvalidArgument);
        assert_eq!(last_error(), "first");
        assert_eq!(status_call(|| Ok(())), portreg_status::Ok);
        assert_eq!(last_error(), "");
    }

    #[test]
    fn the_last_error_is_per_thread() {
        status_call(|| Err(Failure::argument("main thread")));
        let other = std::thread::spawn(|| {
            assert_eq!(last_error(), "");
            status_call(|| Err(Failure::argument("other thread")));
            last_error()
        })
        .join()
        .unwrap();
        assert_eq!(other, "other thread");
        assert_eq!(last_error(), "main thread");
    }

    #[test]
    fn lease_held_carries_the_holder() {
        let e = Error::LeaseHeld(HeldBy {
            name: "web".into(),
            pid: 4242,
            port: 8123,
            since: "2025-01-01T00:00:00Z".into(),
            cwd: "/srv/web".into(),
        });
        assert_eq!(status_call(|| Err(e.into())), portreg_status::LeaseHeld);
        let (mut pid, mut port) = (0u32, 0u16);
        assert!(portreg_last_error_holder(&mut pid, &mut port));
        assert_eq!((pid, port), (4242, 8123));
        assert!(last_error().contains("http://127.0.0.1:8123"));
        status_call(|| Ok(()));
        assert!(!portreg_last_error_holder(&mut pid, &mut port));
    }
}
