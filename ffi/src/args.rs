//! C arguments to Rust values and back: NUL-terminated input strings checked
//! (bounded for names), NULL checks, and output strings copied into caller
//! buffers with snprintf semantics.

use std::ffi::{c_char, CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use portreg_core::{Error, MAX_NAME_LEN};

use crate::error::{value_call, Failure, FfiResult};

/// Reads a name. At most `MAX_NAME_LEN + 1` bytes are looked at, so a name
/// that is too long (or not terminated at all) is refused without reading
/// past what a valid name could occupy.
///
/// # Safety
/// `p` is NULL or points to at least `MAX_NAME_LEN + 1` readable bytes or to
/// a NUL-terminated string.
pub(crate) unsafe fn name<'a>(p: *const c_char, what: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(Failure::argument(format!(
            "{what} is NULL; pass a NUL-terminated name such as \"frontend\""
        )));
    }
    let mut len = 0;
    while len <= MAX_NAME_LEN && *p.add(len) != 0 {
        len += 1;
    }
    let bytes = std::slice::from_raw_parts(p.cast::<u8>(), len);
    if len > MAX_NAME_LEN {
        return Err(Error::InvalidName {
            name: format!("{}...", String::from_utf8_lossy(&bytes[..16])),
            why: "it is longer than 64 characters",
        }
        .into());
    }
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::argument(format!(
            "{what} {:?} is not valid UTF-8 (bad byte at offset {}); pass an ASCII name",
            String::from_utf8_lossy(bytes),
            e.valid_up_to()
        ))
    })
}

/// Reads optional UTF-8 text (a description, a meta key): NULL gives None.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub(crate) unsafe fn opt_text<'a>(p: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    let bytes = CStr::from_ptr(p).to_bytes();
    std::str::from_utf8(bytes).map(Some).map_err(|e| {
        Failure::argument(format!(
            "{what} is not valid UTF-8 (bad byte at offset {}); pass UTF-8 text",
            e.valid_up_to()
        ))
    })
}

/// Reads an optional registry path: NULL gives None (the default registry).
/// Paths are bytes on Unix, so any bytes the OS accepts are taken as they are.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub(crate) unsafe fn opt_path(p: *const c_char) -> Option<PathBuf> {
    if p.is_null() {
        return None;
    }
    Some(PathBuf::from(OsStr::from_bytes(
        CStr::from_ptr(p).to_bytes(),
    )))
}

/// Checks that a required pointer (a handle or an out-parameter) is not NULL.
pub(crate) fn non_null<T>(p: *const T, what: &str) -> FfiResult<()> {
    if p.is_null() {
        return Err(Failure::argument(format!(
            "{what} is NULL; pass a valid pointer"
        )));
    }
    Ok(())
}

/// Copies `src` into `buf` with snprintf semantics and returns `src.len()`.
///
/// # Safety
/// `buf` is NULL or points to `len` writable bytes.
pub(crate) unsafe fn copy_out(src: &[u8], buf: *mut c_char, len: usize) -> usize {
    if !buf.is_null() && len > 0 {
        let n = src.len().min(len - 1);
        std::ptr::copy_nonoverlapping(src.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
    src.len()
}

/// Text from the registry as a C string. C strings cannot hold NUL, so an
/// embedded NUL (possible in a description written by another language)
/// becomes U+FFFD rather than silently cutting the text short.
pub(crate) fn c_string(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| {
        CString::new(s.replace('\0', "\u{FFFD}")).expect("every NUL was replaced")
    })
}

/// A pointer to an optional C string: NULL for None.
pub(crate) fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Reads through a pointer that may be NULL, inside a panic boundary: the
/// accessors' shape. NULL (or a panic) gives `fallback`.
pub(crate) fn read<T, R: Copy>(p: *const T, fallback: R, f: impl FnOnce(&T) -> R) -> R {
    value_call(fallback, || match unsafe { p.as_ref() } {
        Some(v) => f(v),
        None => fallback,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::portreg_status;

    #[test]
    fn copy_out_has_snprintf_semantics() {
        let mut buf = [b'x' as c_char; 8];
        unsafe {
            assert_eq!(copy_out(b"hello", std::ptr::null_mut(), 0), 5);
            assert_eq!(copy_out(b"hello", buf.as_mut_ptr(), 0), 5);
            assert_eq!(buf[0], b'x' as c_char);
            assert_eq!(copy_out(b"hello", buf.as_mut_ptr(), 3), 5);
            assert_eq!(CStr::from_ptr(buf.as_ptr()).to_bytes(), b"he");
            assert_eq!(copy_out(b"hello", buf.as_mut_ptr(), 6), 5);
            assert_eq!(CStr::from_ptr(buf.as_ptr()).to_bytes(), b"hello");
        }
    }

    #[test]
    fn names_are_read_bounded_and_checked() {
        // 100 bytes and no NUL: refused after looking at 65 of them.
        let long = [b'a' as c_char; 100];
        let e = unsafe { name(long.as_ptr(), "name") }.unwrap_err();
        assert_eq!(e.status, portreg_status::InvalidName);
        assert!(e.message.contains("longer than 64"), "{}", e.message);

        let bad = [0xffu8 as c_char, b'a' as c_char, 0];
        let e = unsafe { name(bad.as_ptr(), "name") }.unwrap_err();
        assert_eq!(e.status, portreg_status::InvalidArgument);
        assert!(e.message.contains("UTF-8"), "{}", e.message);

        let e = unsafe { name(std::ptr::null(), "name") }.unwrap_err();
        assert_eq!(e.status, portreg_status::InvalidArgument);
        assert!(e.message.contains("name is NULL"), "{}", e.message);

        let ok = c"frontend";
        assert_eq!(unsafe { name(ok.as_ptr(), "name") }.unwrap(), "frontend");
    }

    #[test]
    fn embedded_nul_is_replaced() {
        assert_eq!(c_string("a\0b").to_str().unwrap(), "a\u{FFFD}b");
    }
}
