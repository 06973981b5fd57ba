//! Core `OwnLease` to the Python `Lease` (a context manager); the leases this
//! process made are released at interpreter exit by core's tracking.

use portreg_core::OwnLease;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::repr;
use crate::errors::{check, emit_warnings};
use crate::types::PyHolder;

/// Releases every lease this process made and still holds, and returns how
/// many it released. The `portreg` package registers it with `atexit`. A
/// forked child inherits the list but holds none of it, so releases nothing.
#[pyfunction]
pub fn release_at_exit(py: Python<'_>) -> usize {
    py.detach(portreg_core::tracking::release_all)
}

/// A port leased to a name for this process. Use it as a context manager to
/// release it on exit; otherwise it stays held until `release()` or until the
/// interpreter exits (dropping the object does not release it).
#[pyclass(module = "portreg", name = "Lease", frozen)]
pub struct PyLease(pub OwnLease);

#[pymethods]
impl PyLease {
    /// The name, spelled as first given.
    #[getter]
    fn name(&self) -> &str {
        &self.0.lease().name
    }
    /// The leased port.
    #[getter]
    fn port(&self) -> u16 {
        self.0.lease().port
    }
    /// "http://127.0.0.1:PORT"
    #[getter]
    fn url(&self) -> String {
        self.0.lease().url()
    }
    /// This process, as the registry records it.
    #[getter]
    fn holder(&self) -> PyHolder {
        PyHolder(self.0.lease().holder.clone())
    }
    /// True when this process already held the name and got the same lease back.
    #[getter]
    fn existing(&self) -> bool {
        self.0.lease().existing
    }
    /// True once `release()` (or leaving the `with` block) has released it.
    #[getter]
    fn released(&self) -> bool {
        self.0.is_released()
    }
    /// Releases the lease: the name turns idle and remembers its port.
    /// Returns True if this call released it, False if it was no longer held
    /// (released before, forgotten, or its holder record dropped).
    fn release(&self, py: Python<'_>) -> PyResult<bool> {
        let lease = &self.0;
        let done = check(py, py.detach(|| lease.release()))?;
        emit_warnings(py, lease.registry())?;
        Ok(done)
    }
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }
    /// Releases the lease; exceptions from the block propagate (returns None).
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.release(py)?;
        Ok(())
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let l = self.0.lease();
        format!(
            "Lease(name={}, port={}, url={}{})",
            repr(py, &l.name),
            l.port,
            repr(py, &l.url()),
            if self.released() { ", released" } else { "" }
        )
    }
}
