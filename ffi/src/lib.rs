//! The C ABI of portreg: `libportreg.so` / `libportreg.a`, declared in
//! `include/portreg.h` (generated from these sources by cbindgen in
//! build.rs). Each function is one portreg-core call plus conversion; the
//! rules every function keeps are in ffi/README.md, "C API conventions".
//!
//! One module per C type family: `error` (portreg_status, last error),
//! `registry` (portreg_registry and its operations), `entry` (portreg_entry,
//! portreg_holder, portreg_entry_list), `who` (portreg_who_info, portreg_listener).

// C type names are snake_case by the house style (portreg_registry...).
#![allow(non_camel_case_types)]
// Exported functions take raw pointers from C, where Rust's `unsafe` marker
// means nothing to the caller: each pointer is checked for NULL before use,
// and the rest of the contract is the doc comment cbindgen copies into the
// header.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_char, CStr};

mod args;

// Declared in the order the header presents them (rustfmt keeps groups apart).
pub mod error;

pub mod registry;

pub mod lease;

pub mod entry;

pub mod who;

pub use entry::{portreg_entry, portreg_entry_list, portreg_holder};
pub use error::portreg_status;
pub use lease::portreg_lease_options;
pub use registry::portreg_registry;
pub use who::{portreg_listener, portreg_who_info};

/// The library's version as a C string ("0.1.0"), the same as the header's
/// `PORTREG_VERSION` when header and library come from one build: compare
/// the two to catch a program built against another version's header.
///
/// Ownership: a static string; never free it.
/// NULL: never returns NULL.
/// Threads: safe from any thread.
#[no_mangle]
pub extern "C" fn portreg_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("the crate version has a NUL in it"),
        };
    error::value_call(VERSION.as_ptr(), || VERSION.as_ptr())
}

/// The longest name, in bytes: a buffer of `PORTREG_MAX_NAME_LEN + 1` holds
/// any name with its NUL.
pub const PORTREG_MAX_NAME_LEN: u32 = 64;

const _: () = assert!(PORTREG_MAX_NAME_LEN as usize == portreg_core::MAX_NAME_LEN);

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_the_crate_version() {
        let v = unsafe { std::ffi::CStr::from_ptr(super::portreg_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        // ffi/tests/header.rs keeps include/portreg.h equal to what ffi/src generates.
        let header = include_str!("../../include/portreg.h");
        let line = format!("#define PORTREG_VERSION \"{}\"", env!("CARGO_PKG_VERSION"));
        assert!(header.contains(&line), "{line}");
    }
}
