//! Is a holder still alive? pid plus start time, read for just the pids that
//! matter (a targeted sysinfo refresh, never a scan of every process).

use std::collections::HashMap;

use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System, UpdateKind};

use crate::entry::Holder;
use crate::error::{Error, Result};

fn system() -> Result<System> {
    System::new().map_err(|e| Error::Process(format!("cannot read the process table: {e}")))
}

fn refresh(sys: &mut System, pids: &[Pid], kind: ProcessRefreshKind) {
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(pids), false, kind.without_tasks());
}

/// Start times of the given pids that are alive (zombies count as dead: a
/// killed child its parent has not reaped holds no port).
pub fn start_times(pids: &[u32]) -> Result<HashMap<u32, u64>> {
    if pids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sys = system()?;
    // Many records may share one holder (a script that leased ten names).
    let mut list: Vec<Pid> = pids.iter().map(|&p| Pid::from_u32(p)).collect();
    list.sort_unstable();
    list.dedup();
    refresh(&mut sys, &list, ProcessRefreshKind::nothing());
    Ok(list
        .iter()
        .filter_map(|pid| {
            let p = sys.process(*pid)?;
            (p.status() != ProcessStatus::Zombie && p.status() != ProcessStatus::Dead)
                .then(|| (pid.as_u32(), p.start_time()))
        })
        .collect())
}

/// True when the process `holder` names is still the one running under its pid.
pub fn is_alive(holder: &Holder) -> Result<bool> {
    Ok(start_times(&[holder.pid])?.get(&holder.pid) == Some(&holder.start_time))
}

/// Describes a live process as a holder (`since` left empty for the caller).
pub fn describe(pid: u32) -> Result<Option<Holder>> {
    let mut sys = system()?;
    let p = Pid::from_u32(pid);
    refresh(
        &mut sys,
        &[p],
        ProcessRefreshKind::nothing()
            .with_cmd(UpdateKind::Always)
            .with_exe(UpdateKind::Always)
            .with_cwd(UpdateKind::Always)
            .with_user(UpdateKind::Always),
    );
    let Some(proc_) = sys.process(p) else {
        return Ok(None);
    };
    if matches!(proc_.status(), ProcessStatus::Zombie | ProcessStatus::Dead) {
        return Ok(None);
    }
    let uid = proc_.user_id().map(|u| **u);
    Ok(Some(Holder {
        pid,
        start_time: proc_.start_time(),
        exe: proc_.name().to_string_lossy().into_owned(),
        cmdline: proc_
            .cmd()
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect(),
        user: uid.map(user_name).unwrap_or_default(),
        cwd: proc_
            .cwd()
            .map(|c| c.display().to_string())
            .unwrap_or_default(),
        since: String::new(),
    }))
}

/// The uid that owns a process, if it is alive.
pub fn process_uid(pid: u32) -> Result<Option<u32>> {
    let mut sys = system()?;
    let p = Pid::from_u32(pid);
    refresh(
        &mut sys,
        &[p],
        ProcessRefreshKind::nothing().with_user(UpdateKind::Always),
    );
    Ok(sys.process(p).and_then(|p| p.user_id()).map(|u| **u))
}

/// A user name for a uid (the number when the name is unknown).
pub fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => uid.to_string(),
    }
}
