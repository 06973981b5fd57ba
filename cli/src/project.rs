//! `portreg up`, `down`, `ps`, `logs`, `restart`: the project commands, thin
//! over portreg-supervisor.

use std::path::PathBuf;

use clap::Args;
use portreg_core::{Registry, Result};
use portreg_supervisor::{commands, Checkout};

/// Which project file: `-f FILE`, else portreg.toml found from the cwd up.
#[derive(Args, Debug, Clone)]
pub struct FileArg {
    /// The project file (default: portreg.toml in this folder or the nearest parent)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Debug)]
pub enum Op {
    Up {
        services: Vec<String>,
        detach: bool,
    },
    Down {
        services: Vec<String>,
    },
    Ps,
    Logs {
        services: Vec<String>,
        follow: bool,
        lines: Option<usize>,
    },
    Restart {
        services: Vec<String>,
    },
}

pub fn run(reg: Registry, file: &FileArg, op: Op, json: bool) -> Result<i32> {
    let cwd = std::env::current_dir().map_err(|e| portreg_core::Error::Io {
        context: "cannot read the current folder".into(),
        source: e,
    })?;
    let record = matches!(op, Op::Up { .. });
    let c = Checkout::open(reg, file.file.as_deref(), &cwd, record)?;
    match op {
        Op::Up { services, detach } => commands::up(&c, &services, detach),
        Op::Down { services } => commands::down(&c, &services),
        Op::Ps => commands::ps(&c, json),
        Op::Logs {
            services,
            follow,
            lines,
        } => commands::logs(&c, &services, follow, lines),
        Op::Restart { services } => commands::restart(&c, &services),
    }
}
