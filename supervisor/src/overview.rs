//! Every checkout a registry has supervised, read from the files their
//! supervisors keep (`projects/KEY/state.json` and the lock), without
//! loading any portreg.toml: what the dashboard groups its entries by and
//! shows each service's health and restarts from.

use std::path::{Path, PathBuf};

use portreg_core::project::PROJECTS_DIR;
use serde::Serialize;

use crate::state::{self, Proc, ServiceState};

/// One checkout of a project as its supervisor last described it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckoutStatus {
    /// `PROJECT` or `LABEL.PROJECT`: the name of its folder under
    /// `projects/`, and how the dashboard's API names it.
    pub checkout: String,
    pub project: String,
    /// The checkout's label (None for the first checkout of the project).
    pub label: Option<String>,
    pub root: PathBuf,
    /// The live supervisor's pid; None when none runs.
    pub supervisor: Option<u32>,
    pub detached: bool,
    /// In the order of portreg.toml. Without a live supervisor a service
    /// whose process still runs is `orphaned`, any other `stopped`.
    pub services: Vec<ServiceState>,
}

/// The checkout of `registry_dir` whose folder is `key` (as
/// [`CheckoutStatus::checkout`] names it), if it has a state.
pub fn checkout(registry_dir: &Path, key: &str) -> Option<CheckoutStatus> {
    if key.is_empty() || key.starts_with('.') || key.contains(['/', '\0']) {
        return None;
    }
    read(&registry_dir.join(PROJECTS_DIR).join(key), key)
}

/// The folder of checkout `key` under `registry_dir`.
pub fn checkout_dir(registry_dir: &Path, key: &str) -> PathBuf {
    registry_dir.join(PROJECTS_DIR).join(key)
}

/// Every checkout with a supervisor state, sorted by project then label
/// (the first checkout first). A checkout whose folder is gone and whose
/// supervisor is not running is left out.
pub fn checkouts(registry_dir: &Path) -> Vec<CheckoutStatus> {
    let Ok(dir) = std::fs::read_dir(registry_dir.join(PROJECTS_DIR)) else {
        return Vec::new();
    };
    let mut out: Vec<CheckoutStatus> = dir
        .filter_map(|e| {
            let e = e.ok()?;
            let key = e.file_name().to_str()?.to_string();
            if !e.file_type().ok()?.is_dir() {
                return None;
            }
            read(&e.path(), &key)
        })
        .filter(|c| c.supervisor.is_some() || c.root.is_dir())
        .collect();
    out.sort_by(|a, b| {
        (a.project.to_ascii_lowercase(), &a.label).cmp(&(b.project.to_ascii_lowercase(), &b.label))
    });
    out
}

fn read(dir: &Path, key: &str) -> Option<CheckoutStatus> {
    let st = state::read_state(dir)?;
    // The lock is probed (taken for an instant when free) only while the
    // recorded supervisor still exists, to tell one that runs from one that
    // is exiting: a `portreg up` starting a new supervisor at that instant
    // must not find the lock taken by a reader.
    let running = st.supervisor.alive() && state::supervisor_running(dir);
    let mut services = st.services;
    if !running {
        for s in &mut services {
            let alive = match (s.pid, s.start_time) {
                (Some(pid), Some(start_time)) => Proc { pid, start_time }.alive(),
                _ => false,
            };
            if alive {
                s.state = "orphaned".into();
            } else {
                s.state = "stopped".into();
                s.pid = None;
                s.start_time = None;
                s.started_at = None;
            }
        }
    }
    Some(CheckoutStatus {
        checkout: key.to_string(),
        project: st.project,
        label: st.label,
        root: st.root,
        supervisor: running.then_some(st.supervisor.pid),
        detached: st.detached,
        services,
    })
}
