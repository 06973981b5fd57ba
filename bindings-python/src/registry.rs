//! Core `Registry` to the Python `Registry` class: one core call per method,
//! made with the GIL released.

use std::path::PathBuf;
use std::sync::Arc;

use portreg_core::{tracking, LeaseRequest, OwnLease, Registry, Target};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString};

use crate::convert;
use crate::errors::{check, emit_warnings};
use crate::lease::PyLease;
use crate::types::{PyCleaned, PyConflict, PyEntry, PyHostClaim, PyKillReport, PyWho};

/// A registry opened on a directory (default: $PORTREG_HOME, else ~/.portreg).
/// Every method takes the registry lock for its own duration only, so one
/// Registry can be shared by threads, and many processes can share the
/// directory.
#[pyclass(module = "portreg", name = "Registry", frozen)]
pub struct PyRegistry {
    inner: Arc<Registry>,
}

impl PyRegistry {
    /// Runs `f` on the core registry with the GIL released, then converts
    /// its error and re-issues its warnings.
    fn call<T: Send>(
        &self,
        py: Python<'_>,
        f: impl Send + FnOnce(&Registry) -> portreg_core::Result<T>,
    ) -> PyResult<T> {
        let reg = &*self.inner;
        let r = py.detach(|| f(reg));
        let out = check(py, r)?;
        emit_warnings(py, reg)?;
        Ok(out)
    }
}

#[pymethods]
impl PyRegistry {
    /// Opens (creating if needed) the registry in `path`, or the default one.
    /// Every Registry of one directory in this process shares one open
    /// registry (and its cache).
    #[new]
    #[pyo3(signature = (path=None))]
    fn new(py: Python<'_>, path: Option<PathBuf>) -> PyResult<Self> {
        let reg = py.detach(|| match path {
            Some(p) => Registry::shared(p),
            None => Registry::shared_default(),
        });
        let reg = check(py, reg)?;
        // Python shows warnings through its own `warnings` module.
        reg.set_print_warnings(false);
        Ok(PyRegistry { inner: reg })
    }

    /// The registry directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.path().to_path_buf()
    }

    /// The (low, high) range new ports come from when a call names none
    /// (PORTREG_RANGE, else config.toml's `range`, else 8070-8999).
    #[getter]
    fn default_range(&self) -> (u16, u16) {
        let r = self.inner.default_range();
        (r.low, r.high)
    }

    /// Leases a port for `name`, held by this process; see `portreg.lease`.
    #[pyo3(signature = (name, port=None, exact=false, range=None, description=None, meta=None, temporary=false))]
    #[allow(clippy::too_many_arguments)]
    fn lease(
        &self,
        py: Python<'_>,
        name: String,
        port: Option<&Bound<'_, PyAny>>,
        exact: bool,
        range: Option<&Bound<'_, PyAny>>,
        description: Option<String>,
        meta: Option<&Bound<'_, PyAny>>,
        temporary: bool,
    ) -> PyResult<PyLease> {
        let req = request(name, port, exact, range, description, meta, temporary)?;
        let reg = &self.inner;
        let r = py.detach(|| OwnLease::take(reg, &req));
        let lease = PyLease(check(py, r)?);
        emit_warnings(py, reg)?;
        Ok(lease)
    }

    /// Releases `name`; see `portreg.release`.
    #[pyo3(signature = (name, force=false))]
    fn release(&self, py: Python<'_>, name: &str, force: bool) -> PyResult<bool> {
        self.call(py, |reg| tracking::release_name(reg, name, force))
    }

    /// The entry for `name`, or None; see `portreg.get`.
    fn get(&self, py: Python<'_>, name: &str) -> PyResult<Option<PyEntry>> {
        Ok(self.call(py, |reg| reg.get(name))?.map(PyEntry))
    }

    /// Every entry, sorted by port; see `portreg.list`.
    fn list(&self, py: Python<'_>) -> PyResult<Vec<PyEntry>> {
        Ok(self
            .call(py, |reg| reg.list())?
            .into_iter()
            .map(PyEntry)
            .collect())
    }

    /// Pins `name` to `port`; see `portreg.reserve`.
    #[pyo3(signature = (name, port, description=None))]
    fn reserve(
        &self,
        py: Python<'_>,
        name: &str,
        port: &Bound<'_, PyAny>,
        description: Option<&str>,
    ) -> PyResult<PyEntry> {
        let port = convert::port(port)?;
        self.call(py, |reg| reg.reserve(name, port, description))
            .map(PyEntry)
    }

    /// Removes `name` from the registry; see `portreg.forget`.
    #[pyo3(signature = (name, force=false))]
    fn forget(&self, py: Python<'_>, name: &str, force: bool) -> PyResult<PyEntry> {
        self.call(py, |reg| tracking::forget_name(reg, name, force))
            .map(PyEntry)
    }

    /// Renames `old` to `new`; see `portreg.rename`.
    #[pyo3(signature = (old, new, force=false))]
    fn rename(&self, py: Python<'_>, old: &str, new: &str, force: bool) -> PyResult<PyEntry> {
        self.call(py, |reg| tracking::rename_name(reg, old, new, force))
            .map(PyEntry)
    }

    /// A port free right now, leasing nothing; see `portreg.find_free`.
    #[pyo3(signature = (range=None))]
    fn find_free(&self, py: Python<'_>, range: Option<&Bound<'_, PyAny>>) -> PyResult<u16> {
        let range = convert::range(range)?;
        self.call(py, |reg| reg.find_free(range))
    }

    /// Drops leases whose holder died; see `portreg.clean`.
    fn clean(&self, py: Python<'_>) -> PyResult<Vec<PyCleaned>> {
        Ok(self
            .call(py, |reg| reg.clean())?
            .into_iter()
            .map(PyCleaned)
            .collect())
    }

    /// Who listens on a port (an int, or a str ":8000" / "8000") or on a
    /// name's port (any other str), and which entry claims it; see `portreg.who`.
    fn who(&self, py: Python<'_>, target: &Bound<'_, PyAny>) -> PyResult<PyWho> {
        let target = to_target(py, target)?;
        self.call(py, |reg| reg.who(&target)).map(PyWho)
    }

    /// Entries whose port another process listens on; see `portreg.conflicts`.
    fn conflicts(&self, py: Python<'_>) -> PyResult<Vec<PyConflict>> {
        Ok(self
            .call(py, |reg| reg.conflicts())?
            .into_iter()
            .map(PyConflict)
            .collect())
    }

    /// Every port claim on this host, of every user; see `portreg.host_claims`.
    fn host_claims(&self, py: Python<'_>) -> PyResult<Vec<PyHostClaim>> {
        Ok(crate::types::host_claims(
            &self.call(py, |reg| reg.host_claims())?,
        ))
    }

    /// Stops a name's holder or whatever listens on a port; see `portreg.kill`.
    #[pyo3(signature = (target, timeout=None, any_user=false))]
    fn kill(
        &self,
        py: Python<'_>,
        target: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        any_user: bool,
    ) -> PyResult<Vec<PyKillReport>> {
        let target = to_target(py, target)?;
        let timeout = check(py, portreg_core::target::kill_timeout(timeout))?;
        Ok(self
            .call(py, |reg| reg.kill_with(&target, timeout, any_user))?
            .into_iter()
            .map(PyKillReport)
            .collect())
    }

    /// `<NAME>_PORT` and `<NAME>_URL` variables; see `portreg.env`.
    #[pyo3(signature = (names=None))]
    fn env<'py>(
        &self,
        py: Python<'py>,
        names: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let names = names.unwrap_or_default();
        let vars = self.call(py, |reg| reg.env(&names))?;
        let d = PyDict::new(py);
        for (k, v) in vars {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Registry({})",
            convert::repr(py, &self.inner.path().display().to_string())
        )
    }
}

/// A who/kill target: an int is a port, a str follows core's grammar
/// (`:8000` and `8000` are ports, anything else a name).
fn to_target(py: Python<'_>, target: &Bound<'_, PyAny>) -> PyResult<Target> {
    if target.is_instance_of::<PyString>() {
        let s: String = target.extract()?;
        check(py, Target::parse(&s))
    } else if target.is_instance_of::<PyBool>() {
        Err(PyTypeError::new_err(
            "a target is a name, a port as an int, or \":PORT\", not bool",
        ))
    } else {
        Ok(Target::Port(convert::port(target)?))
    }
}

/// `portreg.lease` on the default registry in one native call: the same as
/// `Registry().lease(...)`, without making a Registry object nor leaving
/// and taking the GIL twice (the arguments come in order from the
/// package's `lease`).
#[pyfunction]
#[pyo3(signature = (name, port, exact, range, description, meta, temporary))]
#[allow(clippy::too_many_arguments)]
pub fn lease_default(
    py: Python<'_>,
    name: String,
    port: Option<&Bound<'_, PyAny>>,
    exact: bool,
    range: Option<&Bound<'_, PyAny>>,
    description: Option<String>,
    meta: Option<&Bound<'_, PyAny>>,
    temporary: bool,
) -> PyResult<PyLease> {
    let req = request(name, port, exact, range, description, meta, temporary)?;
    let r = py.detach(|| {
        let reg = Registry::shared_default()?;
        // Python shows warnings through its own `warnings` module.
        reg.set_print_warnings(false);
        OwnLease::take(&reg, &req).map(|l| (l, reg))
    });
    let (lease, reg) = check(py, r)?;
    emit_warnings(py, &reg)?;
    Ok(PyLease(lease))
}

/// A lease request from `lease`'s Python arguments.
fn request(
    name: String,
    port: Option<&Bound<'_, PyAny>>,
    exact: bool,
    range: Option<&Bound<'_, PyAny>>,
    description: Option<String>,
    meta: Option<&Bound<'_, PyAny>>,
    temporary: bool,
) -> PyResult<LeaseRequest> {
    Ok(LeaseRequest {
        name,
        port: convert::opt_port(port)?,
        exact,
        range: convert::range(range)?,
        pid: None,
        description,
        meta: convert::meta(meta)?,
        temporary,
    })
}
