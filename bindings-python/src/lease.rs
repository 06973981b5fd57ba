//! Core `Lease` to the Python `Lease` (a context manager), and the leases this
//! process made, released at interpreter exit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use portreg_core::{Actor, Error, Lease, Registry, Released};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::repr;
use crate::errors::{check, emit_warnings};
use crate::types::PyHolder;

/// A lease this process made, remembered so that `release_at_exit` can
/// release it when the interpreter exits normally.
struct Tracked {
    reg: Arc<Registry>,
    name: String,
    pid: u32,
}

static TRACKED: Mutex<Vec<Tracked>> = Mutex::new(Vec::new());

fn tracked() -> MutexGuard<'static, Vec<Tracked>> {
    TRACKED.lock().unwrap_or_else(|e| e.into_inner())
}

fn same(t: &Tracked, reg: &Registry, name: &str) -> bool {
    t.name.eq_ignore_ascii_case(name) && t.reg.path() == reg.path()
}

pub fn track(reg: &Arc<Registry>, name: &str) {
    let mut all = tracked();
    if !all.iter().any(|t| same(t, reg, name)) {
        all.push(Tracked {
            reg: reg.clone(),
            name: name.to_string(),
            pid: std::process::id(),
        });
    }
}

pub fn untrack(reg: &Registry, name: &str) {
    tracked().retain(|t| !same(t, reg, name));
}

/// Releases every lease this process made and still holds, and returns how
/// many it released. The `portreg` package registers it with `atexit`. A
/// forked child inherits the list but holds none of it, so releases nothing.
#[pyfunction]
pub fn release_at_exit(py: Python<'_>) -> usize {
    let me = std::process::id();
    let mine: Vec<Tracked> = {
        let mut all = tracked();
        let (mine, other) = std::mem::take(&mut *all)
            .into_iter()
            .partition(|t| t.pid == me);
        *all = other;
        mine
    };
    py.detach(|| {
        mine.iter()
            .filter(|t| {
                matches!(
                    t.reg.release(&t.name, Actor::Pid(me)),
                    Ok(Released::Released { .. })
                )
            })
            .count()
    })
}

/// A port leased to a name for this process. Use it as a context manager to
/// release it on exit; otherwise it stays held until `release()` or until the
/// interpreter exits (dropping the object does not release it).
#[pyclass(module = "portreg", name = "Lease", frozen)]
pub struct PyLease {
    lease: Lease,
    reg: Arc<Registry>,
    released: AtomicBool,
}

impl PyLease {
    pub fn new(lease: Lease, reg: Arc<Registry>) -> PyLease {
        track(&reg, &lease.name);
        PyLease {
            lease,
            reg,
            released: AtomicBool::new(false),
        }
    }
}

#[pymethods]
impl PyLease {
    /// The name, spelled as first given.
    #[getter]
    fn name(&self) -> &str {
        &self.lease.name
    }
    /// The leased port.
    #[getter]
    fn port(&self) -> u16 {
        self.lease.port
    }
    /// "http://127.0.0.1:PORT"
    #[getter]
    fn url(&self) -> String {
        self.lease.url()
    }
    /// This process, as the registry records it.
    #[getter]
    fn holder(&self) -> PyHolder {
        PyHolder(self.lease.holder.clone())
    }
    /// True when this process already held the name and got the same lease back.
    #[getter]
    fn existing(&self) -> bool {
        self.lease.existing
    }
    /// True once `release()` (or leaving the `with` block) has released it.
    #[getter]
    fn released(&self) -> bool {
        self.released.load(Ordering::SeqCst)
    }
    /// Releases the lease: the name turns idle and remembers its port.
    /// Returns True if this call released it, False if it was no longer held
    /// (released before, forgotten, or its holder record dropped).
    fn release(&self, py: Python<'_>) -> PyResult<bool> {
        if self.released.swap(true, Ordering::SeqCst) {
            return Ok(false);
        }
        let reg = &*self.reg;
        let name = self.lease.name.as_str();
        let done = match py.detach(|| reg.release(name, Actor::me())) {
            Ok(Released::Released { .. }) => true,
            Ok(Released::NotHeld) | Err(Error::NotFound { .. }) => false,
            Err(e) => {
                self.released.store(false, Ordering::SeqCst);
                return check(py, Err(e));
            }
        };
        untrack(reg, name);
        emit_warnings(py, reg)?;
        Ok(done)
    }
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.release(py)?;
        Ok(false)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Lease(name={}, port={}, url={}{})",
            repr(py, &self.lease.name),
            self.lease.port,
            repr(py, &self.lease.url()),
            if self.released() { ", released" } else { "" }
        )
    }
}
