//! `{port}`, `{url}`, `{SERVICE.port}`, `{SERVICE.url}`, `{project}` and
//! `{root}` in commands, environments and health checks, and the
//! environment every service is started with.

use std::collections::BTreeMap;

use super::{Command, Health, Project, Service};
use crate::error::Result;
use crate::process::env_prefix;

/// The port of every service that has one, by service name (any case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ports(BTreeMap<String, u16>);

impl Ports {
    pub fn new() -> Ports {
        Ports::default()
    }
    pub fn insert(&mut self, service: &str, port: u16) {
        self.0.insert(service.to_ascii_lowercase(), port);
    }
    pub fn get(&self, service: &str) -> Option<u16> {
        self.0.get(&service.to_ascii_lowercase()).copied()
    }
}

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// What one `{...}` stands for, or None to leave it as written (so that a
/// shell's `${HOME}` passes through).
enum Var<'a> {
    Port(&'a str),
    Url(&'a str),
    Project,
    Root,
}

fn var<'a>(inner: &'a str, own: &'a str) -> Option<Var<'a>> {
    match inner {
        "port" => Some(Var::Port(own)),
        "url" => Some(Var::Url(own)),
        "project" => Some(Var::Project),
        "root" => Some(Var::Root),
        _ => {
            let (svc, what) = inner.rsplit_once('.')?;
            if !super::parse::name_ok(svc) {
                return None;
            }
            match what {
                "port" => Some(Var::Port(svc)),
                "url" => Some(Var::Url(svc)),
                _ => None,
            }
        }
    }
}

/// Calls `f` on every `{...}` of `s` with its byte range, and returns `s`
/// with each replaced by what `f` gives (unchanged where `f` gives None).
fn each<'a>(s: &'a str, mut f: impl FnMut(&'a str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(['}', '{']) {
            Some(close) if after.as_bytes()[close] == b'}' => {
                let inner = &after[..close];
                match f(inner) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('{');
                        out.push_str(inner);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `s` with every substitution for `service` made. References to services
/// without a port were refused when the file was loaded; any left (a port
/// not known yet) stay as written.
pub fn substitute(s: &str, service: &str, project: &Project, ports: &Ports) -> String {
    each(s, |inner| match var(inner, service)? {
        Var::Port(svc) => ports.get(svc).map(|p| p.to_string()),
        Var::Url(svc) => ports.get(svc).map(url),
        Var::Project => Some(project.name.clone()),
        Var::Root => Some(project.root.display().to_string()),
    })
}

impl Project {
    /// The command of `service` with substitutions made.
    pub fn command_of(&self, service: &Service, ports: &Ports) -> Command {
        match &service.command {
            Command::Shell(s) => Command::Shell(substitute(s, &service.name, self, ports)),
            Command::Exec(argv) => Command::Exec(
                argv.iter()
                    .map(|a| substitute(a, &service.name, self, ports))
                    .collect(),
            ),
        }
    }

    /// The health check of `service` with substitutions made; a `/path` is
    /// turned into `http://127.0.0.1:PORT/path`.
    pub fn health_of(&self, service: &Service, ports: &Ports) -> Health {
        match &service.health {
            Health::Http(u) => {
                let u = substitute(u, &service.name, self, ports);
                match (u.starts_with('/'), ports.get(&service.name)) {
                    (true, Some(p)) => Health::Http(format!("{}{u}", url(p))),
                    _ => Health::Http(u),
                }
            }
            Health::Exec(c) => Health::Exec(substitute(c, &service.name, self, ports)),
            other => other.clone(),
        }
    }

    /// The variables `service` is started with, on top of the caller's
    /// environment: `PORT`, `<SIBLING>_PORT` / `<SIBLING>_URL` for every
    /// service with a port (itself included), `PORTREG_PROJECT`,
    /// `PORTREG_SERVICE`, then the file's `env` (which wins).
    pub fn env_of(&self, service: &Service, ports: &Ports) -> Vec<(String, String)> {
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        for s in &self.services {
            if let Some(p) = ports.get(&s.name) {
                let prefix = env_prefix(&s.name);
                vars.insert(format!("{prefix}_PORT"), p.to_string());
                vars.insert(format!("{prefix}_URL"), url(p));
            }
        }
        if let Some(p) = ports.get(&service.name) {
            vars.insert("PORT".into(), p.to_string());
        }
        vars.insert("PORTREG_PROJECT".into(), self.name.clone());
        vars.insert("PORTREG_SERVICE".into(), service.name.clone());
        for (k, v) in &service.env {
            vars.insert(k.clone(), substitute(v, &service.name, self, ports));
        }
        vars.into_iter().collect()
    }
}

/// Refuses substitutions that can never be made: `{port}` in a service
/// without a port, `{NAME.port}` naming no service or one without a port.
pub(crate) fn check(project: &Project, text: &str) -> Result<()> {
    for s in &project.services {
        let mut texts: Vec<&str> = match &s.command {
            Command::Shell(c) => vec![c.as_str()],
            Command::Exec(a) => a.iter().map(String::as_str).collect(),
        };
        texts.extend(s.env.values().map(String::as_str));
        if let Health::Http(u) | Health::Exec(u) = &s.health {
            texts.push(u);
        }
        for t in texts {
            let mut problem: Option<String> = None;
            each(t, |inner| {
                let target = match var(inner, &s.name) {
                    Some(Var::Port(svc)) | Some(Var::Url(svc)) => svc,
                    _ => return None,
                };
                if problem.is_some() {
                    return None;
                }
                problem = match project.service(target) {
                    None => Some(format!(
                        "{{{inner}}} in service {}: there is no service {target:?}",
                        s.name
                    )),
                    Some(t) if !t.has_port => Some(format!(
                        "{{{inner}}} in service {}: {} has `port = false`, so it has no port",
                        s.name, t.name
                    )),
                    _ => None,
                };
                None
            });
            if let Some(p) = problem {
                return Err(super::parse::bad(text, &project.file, s.at..s.at, p));
            }
        }
    }
    Ok(())
}
