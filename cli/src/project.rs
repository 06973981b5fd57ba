//! `portreg up`, `down`, `ps`, `logs`, `restart`: the project commands, thin
//! over portreg-supervisor.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use portreg_core::{Registry, Result};
use portreg_supervisor::{commands, Checkout};

// Which project file: `-f FILE`, else portreg.toml found from the cwd up (a
// plain comment: a doc comment would become the about text of each command).
#[derive(Args, Debug, Clone)]
pub struct FileArg {
    /// The project file (default: portreg.toml in this folder or the nearest parent)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum ProjectCommand {
    /// Start a project's services from portreg.toml: ports leased first, in
    /// dependency order, each once its dependencies are healthy
    #[command(
        after_help = "Examples:\n  portreg up                 # every service, output here, Ctrl-C stops them\n  portreg up -d              # in the background; returns once all are healthy\n  portreg up api             # api and what it depends on\n  portreg up -f dev/portreg.toml"
    )]
    Up {
        /// Only these services (and what they depend on)
        services: Vec<String>,
        /// Detach: a supervisor keeps the services running in the background
        #[arg(short = 'd', long = "detach")]
        detach: bool,
        #[command(flatten)]
        file: FileArg,
    },
    /// Stop a project's services (reverse dependency order); their ports stay remembered
    Down {
        /// Only these services (default: all)
        services: Vec<String>,
        #[command(flatten)]
        file: FileArg,
    },
    /// A project's services: name, registry name, port, state, pid, uptime, restarts, URL
    Ps {
        #[command(flatten)]
        file: FileArg,
    },
    /// Print a project's service logs (kept under the registry directory)
    Logs {
        /// Only these services (default: all)
        services: Vec<String>,
        /// Keep printing new lines
        #[arg(short = 'f', long = "follow")]
        follow: bool,
        /// Only the last N lines of each service
        #[arg(short = 'n', long = "lines", value_name = "N")]
        lines: Option<usize>,
        /// The project file (default: portreg.toml in this folder or the nearest parent)
        #[arg(long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Stop and start services again, on the same ports
    Restart {
        /// The services to restart
        #[arg(required = true)]
        services: Vec<String>,
        #[command(flatten)]
        file: FileArg,
    },
}

impl ProjectCommand {
    /// The command's name when it has no JSON output (all but `ps`).
    pub fn prints_no_json(&self) -> Option<&'static str> {
        match self {
            ProjectCommand::Up { .. } => Some("up"),
            ProjectCommand::Down { .. } => Some("down"),
            ProjectCommand::Ps { .. } => None,
            ProjectCommand::Logs { .. } => Some("logs"),
            ProjectCommand::Restart { .. } => Some("restart"),
        }
    }
}

pub fn run(reg: Registry, cmd: ProjectCommand, json: bool) -> Result<i32> {
    let cwd = std::env::current_dir().map_err(|e| portreg_core::Error::Io {
        context: "cannot read the current folder".into(),
        source: e,
    })?;
    let file = match &cmd {
        ProjectCommand::Up { file, .. }
        | ProjectCommand::Down { file, .. }
        | ProjectCommand::Ps { file }
        | ProjectCommand::Restart { file, .. } => file.file.clone(),
        ProjectCommand::Logs { file, .. } => file.clone(),
    };
    let record = matches!(cmd, ProjectCommand::Up { .. });
    let c = Checkout::open(reg, file.as_deref(), &cwd, record)?;
    match cmd {
        ProjectCommand::Up {
            services, detach, ..
        } => commands::up(&c, &services, detach),
        ProjectCommand::Down { services, .. } => commands::down(&c, &services),
        ProjectCommand::Ps { .. } => commands::ps(&c, json),
        ProjectCommand::Logs {
            services,
            follow,
            lines,
            ..
        } => commands::logs(&c, &services, follow, lines),
        ProjectCommand::Restart { services, .. } => commands::restart(&c, &services),
    }
}
