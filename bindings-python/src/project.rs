//! Core `ProjectPorts` to the Python `Project`: a project's services and
//! their ports, read from portreg.toml and the registry without starting
//! anything (for a pytest fixture that needs the running API's URL).

use std::path::PathBuf;

use portreg_core::project::{ProjectPorts, ServicePort};
use portreg_core::Registry;
use pyo3::prelude::*;

use crate::errors::check;

/// One service of a project: its name in portreg.toml, its registry name,
/// and its port, URL, state and holder pid when the registry knows them.
#[pyclass(
    module = "portreg",
    name = "ProjectService",
    frozen,
    get_all,
    skip_from_py_object
)]
#[derive(Clone)]
pub struct PyProjectService {
    service: String,
    name: String,
    port: Option<u16>,
    url: Option<String>,
    state: Option<String>,
    pid: Option<u32>,
}

impl From<&ServicePort> for PyProjectService {
    fn from(s: &ServicePort) -> Self {
        PyProjectService {
            service: s.service.clone(),
            name: s.name.clone(),
            port: s.port,
            url: s.url.clone(),
            state: s.state.clone(),
            pid: s.pid,
        }
    }
}

#[pymethods]
impl PyProjectService {
    /// Its name in portreg.toml (`api`).
    #[getter]
    fn service(&self) -> &str {
        &self.service
    }
    /// Its registry name (`api.shop`, or `api.LABEL.shop` in another checkout).
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }
    /// Its port, or None when it has none (yet).
    #[getter]
    fn port(&self) -> Option<u16> {
        self.port
    }
    /// `http://127.0.0.1:PORT`, or None without a port.
    #[getter]
    fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
    /// `active`, `idle` or `reserved` when the registry knows the name.
    #[getter]
    fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }
    /// The pid holding its lease, if any.
    #[getter]
    fn pid(&self) -> Option<u32> {
        self.pid
    }
    fn __repr__(&self) -> String {
        format!(
            "ProjectService(service={:?}, name={:?}, port={}, state={})",
            self.service,
            self.name,
            self.port.map_or("None".into(), |p| p.to_string()),
            self.state.as_deref().unwrap_or("None")
        )
    }
}

/// A project (portreg.toml) and its services' ports in the registry.
#[pyclass(module = "portreg", name = "Project", frozen)]
pub struct PyProject(ProjectPorts);

#[pymethods]
impl PyProject {
    /// The project's name (`project = ...`, else its folder's name).
    #[getter]
    fn name(&self) -> &str {
        &self.0.project
    }
    /// This checkout's label, or None for the first checkout.
    #[getter]
    fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }
    /// The folder holding portreg.toml.
    #[getter]
    fn root(&self) -> PathBuf {
        self.0.root.clone()
    }
    /// Every service, in dependency order.
    #[getter]
    fn services(&self) -> Vec<PyProjectService> {
        self.0.services.iter().map(Into::into).collect()
    }
    /// The port of `service`, or None when it has none yet; NotFoundError
    /// for a name that is not a service of the project.
    fn port(&self, py: Python<'_>, service: &str) -> PyResult<Option<u16>> {
        Ok(check(py, self.0.service(service))?.port)
    }
    /// `http://127.0.0.1:PORT` of `service`, or None when it has no port yet.
    fn url(&self, py: Python<'_>, service: &str) -> PyResult<Option<String>> {
        Ok(check(py, self.0.service(service))?.url.clone())
    }
    fn __repr__(&self) -> String {
        format!(
            "Project(name={:?}, label={:?}, services=[{}])",
            self.0.project,
            self.0.label,
            self.0
                .services
                .iter()
                .map(|s| s.service.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Reads the project at `path` (a portreg.toml, or a folder searched
/// upwards; default: the current folder) against the registry at
/// `registry` (default: $PORTREG_HOME, else ~/.portreg).
#[pyfunction]
#[pyo3(signature = (path=None, registry=None))]
pub fn project(
    py: Python<'_>,
    path: Option<PathBuf>,
    registry: Option<PathBuf>,
) -> PyResult<PyProject> {
    let r = py.detach(|| {
        let reg = match registry {
            Some(p) => Registry::shared(p)?,
            None => Registry::shared_default()?,
        };
        let path = match path {
            Some(p) => p,
            None => std::env::current_dir().map_err(|e| portreg_core::Error::Io {
                context: "cannot read the current folder".into(),
                source: e,
            })?,
        };
        ProjectPorts::read(&reg, &path)
    });
    Ok(PyProject(check(py, r)?))
}
