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
