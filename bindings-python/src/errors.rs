//! portreg-core `Error`s to the Python exceptions of `portreg._errors`, and
//! registry warnings to Python `warnings`.

use std::ffi::CString;

use portreg_core::{Error, Registry};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

/// The exception classes live in Python (`portreg/_errors.py`) because some
/// also derive from builtins (`PermissionError`, `OSError`), which needs
/// multiple inheritance.
static BY_CODE: PyOnceLock<Py<PyDict>> = PyOnceLock::new();
static BASE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static WARNING: PyOnceLock<Py<PyType>> = PyOnceLock::new();

const ERRORS_MODULE: &str = "portreg._errors";

/// The Python exception for a core error: the subclass for its code, with
/// the holder's name, pid, port and since for `LEASE_HELD`, and the OS errno
/// for `IO` when there is one.
pub fn to_pyerr(py: Python<'_>, e: &Error) -> PyErr {
    build(py, e).unwrap_or_else(|err| err)
}

fn build(py: Python<'_>, e: &Error) -> PyResult<PyErr> {
    let code = e.code().as_str();
    let msg = e.to_string();
    let classes = BY_CODE.import(py, ERRORS_MODULE, "ERRORS_BY_CODE")?;
    let exc = match (classes.get_item(code)?, e.held_by()) {
        (Some(cls), Some(h)) => {
            cls.call1((msg, h.name.as_str(), h.pid, h.port, h.since.as_str()))?
        }
        (Some(cls), None) => cls.call1((msg,))?,
        // A code newer than the Python package knows: still a PortregError
        // carrying that code.
        (None, _) => BASE
            .import(py, ERRORS_MODULE, "PortregError")?
            .call1((msg, code))?,
    };
    if let Error::Io { source, .. } = e {
        if let Some(errno) = source.raw_os_error() {
            exc.setattr("errno", errno)?;
        }
    }
    Ok(PyErr::from_value(exc))
}

/// Maps a core result to a Python one.
pub fn check<T>(py: Python<'_>, r: portreg_core::Result<T>) -> PyResult<T> {
    r.map_err(|e| to_pyerr(py, &e))
}

/// Re-issues the registry's warnings (corrupt file moved aside, range
/// overlapping the ephemeral ports...) as `portreg.PortregWarning`s, so
/// Python's warning filters and pytest see them.
pub fn emit_warnings(py: Python<'_>, reg: &Registry) -> PyResult<()> {
    let pending = reg.take_warnings();
    if pending.is_empty() {
        return Ok(());
    }
    let category = WARNING.import(py, ERRORS_MODULE, "PortregWarning")?;
    for w in pending {
        let msg = CString::new(w.replace('\0', " ")).unwrap_or_default();
        PyErr::warn(py, category.as_any(), &msg, 1)?;
    }
    Ok(())
}
