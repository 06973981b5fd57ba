//! The ports of a project's services as the registry knows them, without
//! starting anything: what `portreg.project()` reads in Python and Node.

use serde::Serialize;

use super::{Instance, Ports, Project};
use crate::entry::State;
use crate::error::Result;
use crate::registry::Registry;

/// One service of a checkout and its entry in the registry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServicePort {
    /// The service's name in portreg.toml (`api`).
    pub service: String,
    /// Its registry name (`api.shop`, `api.feature-x.shop`).
    pub name: String,
    /// Its port, when the registry knows one (None for `port = false` or
    /// a service never brought up).
    pub port: Option<u16>,
    /// `http://127.0.0.1:PORT` when there is a port.
    pub url: Option<String>,
    /// `active`, `idle` or `reserved` when the registry knows the name.
    pub state: Option<String>,
    /// The pid holding the lease, if any.
    pub pid: Option<u32>,
}

impl Project {
    /// Every service of this checkout with what the registry knows of it,
    /// in dependency order. Reads only: nothing is leased or recorded.
    pub fn lookup(&self, reg: &Registry) -> Result<(Instance, Vec<ServicePort>)> {
        let inst = Instance::resolve(reg.path(), self, false)?;
        let entries = reg.list()?;
        let mut out = Vec::with_capacity(self.services.len());
        for s in &self.services {
            let name = inst.registry_name(&s.name);
            let e = entries
                .iter()
                .find(|e| e.name.eq_ignore_ascii_case(&name))
                .filter(|_| s.has_port);
            out.push(ServicePort {
                service: s.name.clone(),
                name,
                port: e.map(|e| e.port),
                url: e.map(|e| e.url()),
                state: e.map(|e| e.state.as_str().to_string()),
                pid: e
                    .filter(|e| e.state == State::Active)
                    .and_then(|e| e.holder.as_ref())
                    .map(|h| h.pid),
            });
        }
        Ok((inst, out))
    }

    /// The ports of [`Project::lookup`] as a [`Ports`] map.
    pub fn known_ports(list: &[ServicePort]) -> Ports {
        let mut p = Ports::new();
        for s in list {
            if let Some(port) = s.port {
                p.insert(&s.service, port);
            }
        }
        p
    }
}

/// A project's services and their ports, read without starting anything:
/// what `portreg.project()` gives in Python and Node.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectPorts {
    pub project: String,
    /// The checkout's label (None for the first checkout).
    pub label: Option<String>,
    pub root: std::path::PathBuf,
    pub file: std::path::PathBuf,
    pub services: Vec<ServicePort>,
}

impl ProjectPorts {
    /// Reads the project at `path` (a portreg.toml, or a folder to search
    /// from, upwards) and what `reg` knows of its services.
    pub fn read(reg: &Registry, path: &std::path::Path) -> Result<ProjectPorts> {
        let project = if path.is_file() {
            Project::load(path)?
        } else {
            Project::discover(path)?
        };
        let (inst, services) = project.lookup(reg)?;
        Ok(ProjectPorts {
            project: project.name,
            label: inst.label,
            root: project.root,
            file: project.file,
            services,
        })
    }

    /// The service called `name`; `NOT_FOUND` names the services there are.
    pub fn service(&self, name: &str) -> Result<&ServicePort> {
        self.services
            .iter()
            .find(|s| s.service.eq_ignore_ascii_case(name))
            .ok_or_else(|| crate::error::Error::NotFound {
                what: "service",
                name: format!(
                    "{name} (services of {}: {})",
                    self.project,
                    self.services
                        .iter()
                        .map(|s| s.service.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }
}
