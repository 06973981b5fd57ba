//! Process identity: is a holder still alive (pid plus start time, read
//! for just the pids that matter: a targeted sysinfo refresh, never a scan
//! of every process), who a process is, and whose it is.

use std::collections::HashMap;
use std::sync::Mutex;

use sysinfo::{Pid, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System, UpdateKind};

use crate::entry::Holder;
use crate::error::{Error, Result};

fn system() -> Result<System> {
    System::new().map_err(|e| Error::Process(format!("cannot read the process table: {e}")))
}

fn refresh(sys: &mut System, pids: &[Pid], kind: ProcessRefreshKind) {
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(pids), false, kind.without_tasks());
}

/// The one liveness rule: a holder is alive while a process with its pid
/// runs and started when the holder did (a reused pid has another start
/// time). Zombies count as dead: a killed child its parent has not reaped
/// holds no port.
///
/// The answer for a set of pids, read in one targeted refresh (many records
/// may share one holder: a script that leased ten names).
pub(crate) struct Running {
    start_times: HashMap<u32, u64>,
    me: Option<(u32, u64)>,
}

impl Running {
    /// Asks about `pids`; `me`, this process's own (pid, start time) when
    /// known, is alive by definition and never asked about.
    pub fn of(pids: &[u32], me: Option<(u32, u64)>) -> Result<Running> {
        let mut list: Vec<Pid> = pids
            .iter()
            .filter(|&&p| me.is_none_or(|(mp, _)| mp != p))
            .map(|&p| Pid::from_u32(p))
            .collect();
        let mut start_times = HashMap::new();
        if !list.is_empty() {
            let mut sys = system()?;
            list.sort_unstable();
            list.dedup();
            refresh(&mut sys, &list, ProcessRefreshKind::nothing());
            start_times = list
                .iter()
                .filter_map(|pid| {
                    let p = sys.process(*pid)?;
                    (p.status() != ProcessStatus::Zombie && p.status() != ProcessStatus::Dead)
                        .then(|| (pid.as_u32(), p.start_time()))
                })
                .collect();
        }
        Ok(Running { start_times, me })
    }

    /// Whether `pid` is alive and, when `start_time` is given, is still the
    /// process that started then.
    pub fn is_alive(&self, pid: u32, start_time: Option<u64>) -> bool {
        let st = match self.me {
            Some((mp, st)) if mp == pid => Some(st),
            _ => self.start_times.get(&pid).copied(),
        };
        match (st, start_time) {
            (Some(st), Some(want)) => st == want,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// When `pid` started, in the form holders record it (`Holder::start_time`);
/// `None` when no such process runs (or it is a zombie).
pub fn start_time(pid: u32) -> Option<u64> {
    Running::of(&[pid], None)
        .ok()?
        .start_times
        .get(&pid)
        .copied()
}

/// [`Running::is_alive`] for one process.
pub fn is_alive(pid: u32, start_time: Option<u64>) -> Result<bool> {
    Ok(Running::of(&[pid], None)?.is_alive(pid, start_time))
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

/// Refuses, with `PERMISSION`, to act on `pid` when it belongs to another
/// user (root may act on anyone's); `what` ends the message: "release it",
/// "stop it". A process that is gone passes: there is nobody to protect.
pub fn check_same_user(pid: u32, what: &str) -> Result<()> {
    let me = nix::unistd::geteuid().as_raw();
    match process_uid(pid)? {
        Some(uid) if uid != me && me != 0 => Err(Error::Permission(format!(
            "pid {pid} belongs to {} (uid {uid}), not to you; only that user (or root) can {what}",
            user_name(uid)
        ))),
        _ => Ok(()),
    }
}

/// How this process describes itself as a holder, shared by every Registry
/// it opens (the module-level functions open one per call). Keyed by pid, so
/// a forked child describes itself afresh.
static OWN_HOLDER: Mutex<Option<Holder>> = Mutex::new(None);

fn own_holder() -> Option<Holder> {
    let cached = OWN_HOLDER.lock().unwrap_or_else(|e| e.into_inner()).clone();
    cached.filter(|h| h.pid == std::process::id())
}

/// This process's (pid, start time), once it has described itself.
pub(crate) fn me() -> Option<(u32, u64)> {
    own_holder().map(|h| (h.pid, h.start_time))
}

/// The holder a lease of `pid` records (`since` left empty): `PROCESS` when
/// no such process runs.
pub(crate) fn holder(pid: u32) -> Result<Holder> {
    if pid == std::process::id() {
        if let Some(h) = own_holder() {
            return Ok(h);
        }
    }
    let h = describe(pid)?.ok_or_else(|| {
        Error::Process(format!(
            "no running process has pid {pid}; a lease needs a live holder"
        ))
    })?;
    if pid == std::process::id() {
        *OWN_HOLDER.lock().unwrap_or_else(|e| e.into_inner()) = Some(h.clone());
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_alive_only_with_its_own_start_time() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let h = describe(pid).unwrap().expect("the child runs");
        assert!(is_alive(pid, Some(h.start_time)).unwrap());
        assert!(is_alive(pid, None).unwrap());
        assert!(
            !is_alive(pid, Some(h.start_time + 1)).unwrap(),
            "a reused pid"
        );
        child.kill().unwrap();
        // killed but not yet reaped: a zombie holds nothing
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while is_alive(pid, None).unwrap() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!is_alive(pid, None).unwrap());
        child.wait().unwrap();
        assert!(!is_alive(pid, Some(h.start_time)).unwrap());
        assert!(describe(pid).unwrap().is_none());
    }

    #[test]
    fn own_process_needs_no_asking() {
        let me = holder(std::process::id()).unwrap();
        let running = Running::of(&[me.pid], Some((me.pid, me.start_time))).unwrap();
        assert!(running.is_alive(me.pid, Some(me.start_time)));
        assert!(!running.is_alive(me.pid, Some(me.start_time + 1)));
        assert!(check_same_user(me.pid, "release it").is_ok());
        assert_eq!(
            holder(u32::MAX / 2).unwrap_err().code(),
            crate::ErrorCode::Process
        );
    }
}
