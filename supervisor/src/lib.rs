//! portreg-supervisor: brings a project of `portreg.toml` up and down.
//! Every port is leased before anything starts, each service is told its
//! siblings' ports, services start in dependency order once their
//! dependencies are healthy (or started, or completed), and a second
//! checkout of the same project runs beside the first under its own names.
//!
//! The CLI's `up`, `down`, `ps`, `logs` and `restart` are the functions of
//! [`commands`]; a running supervisor is reached through [`control`].

pub mod commands;
pub mod control;
mod daemon;
mod engine;
mod health;
mod lifecycle;
pub mod logs;
mod output;
pub mod overview;
mod spawn;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use portreg_core::{Error, ErrorCode, Instance, Project, Registry, Result};

pub use engine::{Supervisor, UpFailure};
pub use health::http_get;
pub use state::{ProjectState, ServiceState};

/// One checkout of a project, with the registry it leases from and the
/// folder its supervisor keeps its state in.
pub struct Checkout {
    pub project: Project,
    pub inst: Instance,
    pub reg: Arc<Registry>,
    pub dir: PathBuf,
}

impl Checkout {
    /// Loads `file` (or finds portreg.toml from `cwd` up) and works out
    /// which checkout it is. `record` writes a new checkout's label down
    /// (what `up` does); reads leave the record alone.
    pub fn open(reg: Registry, file: Option<&Path>, cwd: &Path, record: bool) -> Result<Checkout> {
        let project = match file {
            Some(f) => Project::load(&cwd.join(f))?,
            None => Project::discover(cwd)?,
        };
        let inst = Instance::resolve(reg.path(), &project, record)?;
        let dir = inst.state_dir(reg.path());
        Ok(Checkout {
            project,
            inst,
            reg: Arc::new(reg),
            dir,
        })
    }
}

/// A registry or config error as a start failure.
pub(crate) fn failure_of(e: &Error) -> UpFailure {
    UpFailure {
        service: String::new(),
        reason: e.to_string(),
        last_lines: Vec::new(),
        code: e.code().as_str().into(),
    }
}

/// A registry or config error as a supervisor's answer.
pub(crate) fn error_answer(e: &Error) -> control::Answer {
    control::Answer {
        ok: false,
        services: Vec::new(),
        failure: Some(failure_of(e)),
        state: None,
    }
}

/// The exit status for a failure's code.
pub fn exit_code(code: &str) -> i32 {
    ErrorCode::from_name(code).map_or(12, |c| c.exit_code())
}
