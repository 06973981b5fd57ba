//! Core `ProjectPorts` to the JS `Project`: a project's services and their
//! ports, read from portreg.toml and the registry without starting anything
//! (so a Vite config or a test can find the running API).

use napi::Env;
use napi_derive::napi;
use portreg_core::project::{ProjectPorts, ServicePort};
use portreg_core::Registry;

use crate::error::sync;

/// One service of a project and what the registry knows of it.
#[napi(object, js_name = "ProjectService", use_nullable = true)]
pub struct JsProjectService {
    /// Its name in portreg.toml (`api`).
    pub service: String,
    /// Its registry name (`api.shop`, or `api.LABEL.shop` in another checkout).
    pub name: String,
    pub port: Option<u32>,
    pub url: Option<String>,
    #[napi(ts_type = "'active' | 'idle' | 'reserved'")]
    pub state: Option<String>,
    pub pid: Option<u32>,
}

impl From<&ServicePort> for JsProjectService {
    fn from(s: &ServicePort) -> Self {
        JsProjectService {
            service: s.service.clone(),
            name: s.name.clone(),
            port: s.port.map(u32::from),
            url: s.url.clone(),
            state: s.state.clone(),
            pid: s.pid,
        }
    }
}

/// A project (portreg.toml) and its services' ports in the registry.
#[napi]
pub struct Project(ProjectPorts);

#[napi]
impl Project {
    /// The project's name (`project = ...`, else its folder's name).
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.0.project.clone()
    }

    /// This checkout's label, or null for the first checkout.
    #[napi(getter)]
    pub fn label(&self) -> Option<String> {
        self.0.label.clone()
    }

    /// The folder holding portreg.toml.
    #[napi(getter)]
    pub fn root(&self) -> String {
        self.0.root.display().to_string()
    }

    /// Every service, in dependency order.
    #[napi(getter)]
    pub fn services(&self) -> Vec<JsProjectService> {
        self.0.services.iter().map(Into::into).collect()
    }

    /// The port of `service`, or null when it has none yet; throws
    /// `NOT_FOUND` for a name that is not a service of the project.
    #[napi]
    pub fn port(&self, env: Env, service: String) -> napi::Result<Option<u32>> {
        sync(&env, || Ok(self.0.service(&service)?.port.map(u32::from)))
    }

    /// `http://127.0.0.1:PORT` of `service`, or null when it has no port yet.
    #[napi]
    pub fn url(&self, env: Env, service: String) -> napi::Result<Option<String>> {
        sync(&env, || Ok(self.0.service(&service)?.url.clone()))
    }
}

/// Reads the project at `path` (a portreg.toml, or a folder searched upwards;
/// default: the current folder) against the registry at `registry` (default:
/// $PORTREG_HOME, else ~/.portreg), starting nothing. Throws
/// `INVALID_CONFIG` for a file that cannot be used.
#[napi]
pub fn project(env: Env, path: Option<String>, registry: Option<String>) -> napi::Result<Project> {
    sync(&env, || {
        let reg = match registry {
            Some(p) => Registry::shared(p)?,
            None => Registry::shared_default()?,
        };
        let path = match path {
            Some(p) => std::path::PathBuf::from(p),
            None => std::env::current_dir().map_err(|e| portreg_core::Error::Io {
                context: "cannot read the current folder".into(),
                source: e,
            })?,
        };
        Ok(Project(ProjectPorts::read(&reg, &path)?))
    })
}
