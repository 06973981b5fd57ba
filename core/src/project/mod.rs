//! Projects: a `portreg.toml` at a project's root names its services, how to
//! start them, their ports and what they depend on. This module reads and
//! checks the file, works out the registry names of one checkout, and
//! substitutes ports into commands and environments. Starting anything is
//! the supervisor's business, not core's.

mod graph;
mod instance;
mod lookup;
mod parse;
mod subst;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

pub use instance::{git_branch, Instance, CHECKOUTS_FILE, PROJECTS_DIR};
pub use lookup::{ProjectPorts, ServicePort};
pub use subst::Ports;

/// The file a project is described in.
pub const PROJECT_FILE: &str = "portreg.toml";

/// How a service is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A string: run by `sh -c`.
    Shell(String),
    /// An array: executed directly (first item looked up on PATH).
    Exec(Vec<String>),
}

/// When a dependent may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The dependency's process has been started.
    Started,
    /// The dependency's health check has passed.
    Healthy,
    /// The dependency has exited with status 0 (a task).
    Completed,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Healthy => "healthy",
            Condition::Completed => "completed",
        }
    }
}

/// How a service shows it is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// No check: ready once started (the default for a service without a port).
    None,
    /// A process of the service listens on its port (the default with a port).
    Listening,
    /// The port accepts a TCP connection.
    Tcp,
    /// An HTTP GET answers 2xx or 3xx; the URL after substitution.
    Http(String),
    /// A command (run by `sh -c`) exits 0.
    Exec(String),
}

/// What to do when a service's process exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    No,
    OnFailure,
    Always,
}

impl Restart {
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::No => "no",
            Restart::OnFailure => "on-failure",
            Restart::Always => "always",
        }
    }
}

/// One `[services.NAME]` table, checked and with defaults filled in.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub command: Command,
    /// Where it runs (absolute; the project root by default).
    pub cwd: PathBuf,
    /// Extra environment, before substitution.
    pub env: BTreeMap<String, String>,
    /// Whether it gets a port (`port = false`: a task or worker).
    pub has_port: bool,
    /// The preferred port, if any.
    pub port: Option<u16>,
    /// Fail instead of moving off `port`.
    pub exact: bool,
    /// Bind the port here and hand the socket over as fd 3 (LISTEN_FDS).
    pub socket: bool,
    /// Dependencies in the order written, with their condition.
    pub depends_on: Vec<(String, Condition)>,
    pub health: Health,
    pub health_interval: Duration,
    pub health_timeout: Duration,
    pub restart: Restart,
    pub max_restarts: u32,
    /// Signal number sent first when stopping (SIGTERM by default).
    pub stop_signal: i32,
    pub stop_timeout: Duration,
    pub description: Option<String>,
    /// Where its table starts in the file (for error positions).
    pub(crate) at: usize,
}

/// A parsed, checked `portreg.toml`.
#[derive(Debug, Clone)]
pub struct Project {
    /// `project = "..."`, else the root folder's name.
    pub name: String,
    /// The folder holding the file.
    pub root: PathBuf,
    /// The file itself.
    pub file: PathBuf,
    /// Services in dependency order (each after everything it depends on;
    /// ties by name).
    pub services: Vec<Service>,
}

impl Project {
    /// Finds `portreg.toml` in `start` or the nearest parent and loads it.
    pub fn discover(start: &Path) -> Result<Project> {
        Project::load(&find(start)?)
    }

    /// Loads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Project> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::InvalidConfig(format!(
                    "{}: no such file; create a portreg.toml (see `portreg up --help`)",
                    path.display()
                ))
            } else {
                Error::io(format!("cannot read {}", path.display()), e)
            }
        })?;
        let path = std::path::absolute(path)
            .map_err(|e| Error::io(format!("cannot resolve {}", path.display()), e))?;
        Project::parse(&text, &path)
    }

    /// Parses `text` as if read from `path` (which names the root).
    pub fn parse(text: &str, path: &Path) -> Result<Project> {
        let root = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let (name, services) = parse::parse(text, path, &root)?;
        let services = graph::order(services, text, path)?;
        let project = Project {
            name,
            root,
            file: path.to_path_buf(),
            services,
        };
        subst::check(&project, text)?;
        Ok(project)
    }

    /// The service called `name` (case-insensitive).
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// `names` and everything they depend on, in dependency order; every
    /// service when `names` is empty. An unknown name is `NOT_FOUND`.
    pub fn closure(&self, names: &[String]) -> Result<Vec<&Service>> {
        graph::closure(self, names)
    }

    /// `names` and everything that depends on them, in dependency order;
    /// every service when `names` is empty.
    pub fn dependents(&self, names: &[String]) -> Result<Vec<&Service>> {
        graph::dependents(self, names)
    }
}

/// The nearest `portreg.toml` in `start` or one of its parents.
pub fn find(start: &Path) -> Result<PathBuf> {
    let start = std::path::absolute(start)
        .map_err(|e| Error::io(format!("cannot resolve {}", start.display()), e))?;
    let mut dir = Some(start.as_path());
    while let Some(d) = dir {
        let candidate = d.join(PROJECT_FILE);
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    Err(Error::InvalidConfig(format!(
        "no {PROJECT_FILE} in {} or any parent folder; create one at the project's root (see the Projects section of the README), or pass -f FILE",
        start.display()
    )))
}
