//! Python arguments to core values (ports as ints of any size, ranges as
//! "LOW-HIGH" or a (low, high) tuple, meta mappings) with core's errors for
//! bad values; core records to plain dicts through their serde form.

use std::collections::BTreeMap;

use portreg_core::allocate::{check_port, invalid_port};
use portreg_core::PortRanges;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString, PyTuple};

use crate::errors::to_pyerr;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// An int that does not fit a u64 (negative or huge) is still a port number
/// the caller got wrong: `INVALID_PORT`, never `OverflowError`.
pub fn port(obj: &Bound<'_, PyAny>) -> PyResult<u16> {
    let py = obj.py();
    if obj.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err("a port is an int, not bool"));
    }
    match obj.extract::<u64>() {
        Ok(n) => check_port(n).map_err(|e| to_pyerr(py, &e)),
        Err(e) if e.is_instance_of::<PyOverflowError>(py) => {
            Err(to_pyerr(py, &invalid_port(obj.str()?)))
        }
        Err(_) => Err(PyTypeError::new_err(format!(
            "a port is an int, not {}",
            type_name(obj)
        ))),
    }
}

pub fn opt_port(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u16>> {
    obj.filter(|o| !o.is_none()).map(port).transpose()
}

/// A tuple is spelled as "LOW-HIGH" and parsed by core, so both forms give
/// the same errors; a string may list several ranges ("3000-3099,8070-8999").
pub fn range(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<PortRanges>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let py = obj.py();
    let text = if let Ok(s) = obj.cast::<PyString>() {
        s.to_string()
    } else if obj.is_instance_of::<PyTuple>() || obj.is_instance_of::<PyList>() {
        let items: Vec<Bound<'_, PyAny>> = obj.extract()?;
        let ints = items.len() == 2
            && items
                .iter()
                .all(|i| i.is_instance_of::<PyInt>() && !i.is_instance_of::<PyBool>());
        if !ints {
            return Err(PyTypeError::new_err(
                "range is \"LOW-HIGH\" or a (low, high) tuple of two ints",
            ));
        }
        format!("{}-{}", items[0].str()?, items[1].str()?)
    } else {
        return Err(PyTypeError::new_err(format!(
            "range is \"LOW-HIGH\" or a (low, high) tuple, not {}",
            type_name(obj)
        )));
    };
    text.parse::<PortRanges>()
        .map(Some)
        .map_err(|e| to_pyerr(py, &e))
}

/// Any mapping of str to str (a dict, or anything `dict()` accepts).
pub fn meta(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<BTreeMap<String, String>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    if obj.is_instance_of::<PyDict>() {
        return obj.extract().map(Some);
    }
    let d = obj.py().get_type::<PyDict>().call1((obj,))?;
    d.extract().map(Some)
}

/// A core record as the plain dict its `--json` form spells (same keys, same
/// order), so `to_dict()` and the CLI's JSON cannot differ.
pub fn to_dict<'py, T: serde::Serialize>(py: Python<'py>, v: &T) -> PyResult<Bound<'py, PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let text = serde_json::to_string(v).map_err(|e| PyValueError::new_err(e.to_string()))?;
    LOADS.import(py, "json", "loads")?.call1((text,))
}

/// A hash of a frozen record that agrees with its `==` (which compares every
/// field): the hash of its serde form, which holds every field in a fixed order.
pub fn hash<T: serde::Serialize>(v: &T) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(v).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// Python's repr of a str, for `__repr__`s that read like Python.
pub fn repr(py: Python<'_>, s: &str) -> String {
    PyString::new(py, s)
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| format!("{s:?}"))
}
