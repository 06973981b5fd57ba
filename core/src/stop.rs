//! Stopping processes: who may be signalled, a holder and its process group
//! as targets, and SIGTERM, a wait, then SIGKILL, each signal sent only to
//! the very process that was meant (pid and start ticks checked, through a
//! pidfd where the kernel has them).

use std::os::fd::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill as send_signal, Signal};
use serde::{Deserialize, Serialize};

use crate::entry::Holder;
use crate::error::{Error, Result};
use crate::liveness;

/// How one process was stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillReport {
    pub pid: u32,
    pub exe: String,
    /// Signals sent, in order: `["SIGTERM"]` or `["SIGTERM", "SIGKILL"]`.
    pub signals: Vec<String>,
    /// `exited` (after SIGTERM), `killed` (after SIGKILL) or `survived`.
    pub outcome: String,
    /// Milliseconds from SIGTERM until it was gone.
    pub waited_ms: u64,
}

/// Checks that `pid` may be signalled by this process: not pid 1, not
/// ourselves, not another user's (root too needs `any_user` for that).
pub fn check_killable(pid: u32, any_user: bool) -> Result<()> {
    if pid <= 1 {
        return Err(Error::Process(format!(
            "refusing to signal pid {pid}: that is the init process"
        )));
    }
    if pid == crate::pid::my_pid() {
        return Err(Error::Process(
            "refusing to signal portreg's own process".into(),
        ));
    }
    liveness::check_owner(pid, "stop it", any_user)
}

/// One process a kill aims at: its pid and its start in clock ticks,
/// checked again before every signal so that a reused pid is never hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Victim {
    pub pid: u32,
    pub start_ticks: u64,
    pub exe: String,
}

impl Victim {
    /// The process running as `pid` now, if any.
    pub fn current(pid: u32, exe: &str) -> Option<Victim> {
        let st = liveness::proc_stat(pid).filter(|s| !s.is_gone())?;
        Some(Victim {
            pid,
            start_ticks: st.start_ticks,
            exe: exe.to_string(),
        })
    }

    fn alive(&self) -> bool {
        liveness::is_alive(self.pid, Some(self.start_ticks)).unwrap_or(false)
    }
}

/// What stopping a name's holder aims at: the holder (when it still runs)
/// and, when it leads a process group of its own (as `portreg run` starts
/// commands), the group id, whose every member is stopped with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderTarget {
    pub holder: Option<Victim>,
    pub group: Option<i32>,
}

/// The holder of a name as a kill target. A holder whose pid is counted in
/// another pid namespace cannot be aimed at by pid: `PROCESS`, saying what
/// to do instead.
pub fn holder_target(h: &Holder, port: u16) -> Result<HolderTarget> {
    if h.pid_ns.is_some() && h.pid_ns != liveness::own_pid_ns() {
        return Err(Error::Process(format!(
            "the holder is pid {} of another pid namespace (a container?), which means another process here; stop it from inside, or stop what listens on its port with `portreg kill :{port}`",
            h.pid
        )));
    }
    let now = liveness::proc_stat(h.pid);
    let same = match (now, h.start_ticks) {
        (Some(st), Some(t)) => st.start_ticks == t,
        // a record of an older version: the registry found it alive just now
        (Some(_), None) => true,
        (None, _) => false,
    };
    let holder = now.filter(|st| same && !st.is_gone()).map(|st| Victim {
        pid: h.pid,
        start_ticks: st.start_ticks,
        exe: h.exe.clone(),
    });
    let own_group = nix::unistd::getpgrp().as_raw();
    let pgid = h.pid as i32;
    let group = match now {
        // The holder runs: its group, when it leads one that is not ours.
        Some(st) if same => (st.pgrp == pgid && pgid != own_group).then_some(pgid),
        // Its pid is another process's now: its group died with it (a pid
        // is not reused while a group of that id has members).
        Some(_) => None,
        // The holder is gone; members of the group it led may remain.
        None => (pgid != own_group).then_some(pgid),
    };
    Ok(HolderTarget { holder, group })
}

/// Every process of process group `pgid` (a scan of `/proc`: only `kill`
/// does it).
pub fn group_members(pgid: i32) -> Vec<Victim> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out: Vec<Victim> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let st = liveness::proc_stat(pid)?;
            (st.pgrp == pgid && !st.is_gone()).then(|| Victim {
                pid,
                start_ticks: st.start_ticks,
                exe: process_name(pid),
            })
        })
        .collect();
    out.sort_by_key(|v| v.pid);
    out
}

fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default()
}

/// One process being stopped.
struct Stopping {
    v: Victim,
    report: KillReport,
    done: bool,
}

/// SIGTERM to every victim (and every member of `group`, also those that
/// join it meanwhile), wait up to `timeout` for all of them to be gone,
/// then SIGKILL what remains and wait up to one more second. Each signal
/// goes to the process that was checked (a pidfd where the kernel has
/// them). Returns one report per process stopped, the first victims first.
/// Holds no lock while waiting.
pub fn terminate_all(
    victims: Vec<Victim>,
    group: Option<i32>,
    any_user: bool,
    timeout: Duration,
) -> Result<Vec<KillReport>> {
    let mut all: Vec<Victim> = victims;
    if let Some(g) = group {
        for m in group_members(g) {
            if !all.iter().any(|v| v.pid == m.pid) {
                all.push(m);
            }
        }
    }
    for v in &all {
        check_killable(v.pid, any_user)?;
    }
    let started = Instant::now();
    let mut procs: Vec<Stopping> = all
        .into_iter()
        .map(|v| Stopping {
            report: KillReport {
                pid: v.pid,
                exe: v.exe.clone(),
                signals: Vec::new(),
                outcome: "already gone".into(),
                waited_ms: 0,
            },
            v,
            done: false,
        })
        .collect();
    let round = |procs: &mut Vec<Stopping>, sig: Signal, limit: Duration| -> Result<bool> {
        let until = Instant::now() + limit;
        loop {
            if let Some(g) = group {
                for m in group_members(g) {
                    if !procs.iter().any(|p| p.v.pid == m.pid && !p.done)
                        && check_killable(m.pid, any_user).is_ok()
                    {
                        procs.push(Stopping {
                            report: KillReport {
                                pid: m.pid,
                                exe: m.exe.clone(),
                                signals: Vec::new(),
                                outcome: "already gone".into(),
                                waited_ms: 0,
                            },
                            v: m,
                            done: false,
                        });
                    }
                }
            }
            for p in procs.iter_mut().filter(|p| !p.done) {
                let name = sig.as_str().to_string();
                if !p.v.alive() {
                    p.done = true;
                    if !p.report.signals.is_empty() {
                        let killed = p.report.signals.last().is_some_and(|s| s == "SIGKILL");
                        p.report.outcome = if killed { "killed" } else { "exited" }.into();
                        p.report.waited_ms = started.elapsed().as_millis() as u64;
                    }
                } else if !p.report.signals.contains(&name) && signal_verified(&p.v, sig)? {
                    p.report.signals.push(name);
                }
            }
            if procs.iter().all(|p| p.done) {
                return Ok(true);
            }
            if Instant::now() >= until {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    if !round(&mut procs, Signal::SIGTERM, timeout)?
        && !round(&mut procs, Signal::SIGKILL, Duration::from_secs(1))?
    {
        for p in procs.iter_mut().filter(|p| !p.done) {
            p.report.outcome = "survived".into();
            p.report.waited_ms = started.elapsed().as_millis() as u64;
        }
    }
    // Members found gone before any signal were not stopped by us.
    let first = procs.first().map(|p| p.v.pid);
    Ok(procs
        .into_iter()
        .filter(|p| !p.report.signals.is_empty() || Some(p.v.pid) == first)
        .map(|p| p.report)
        .collect())
}

/// Sends `sig` to `v` if it is still the process that started at its
/// ticks; false when it is gone. With a pidfd (Linux 5.3+) the process is
/// pinned before the check, so the signal cannot reach a successor.
fn signal_verified(v: &Victim, sig: Signal) -> Result<bool> {
    use nix::libc;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, v.pid as libc::pid_t, 0) };
    if fd < 0 {
        let e = nix::errno::Errno::last();
        if e == nix::errno::Errno::ESRCH {
            return Ok(false);
        }
        if !v.alive() {
            return Ok(false);
        }
        send(nix::unistd::Pid::from_raw(v.pid as i32), sig)?;
        return Ok(true);
    }
    // SAFETY: fd was just returned by pidfd_open and is owned here.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) };
    if !v.alive() {
        return Ok(false);
    }
    // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r == 0 {
        return Ok(true);
    }
    match nix::errno::Errno::last() {
        nix::errno::Errno::ESRCH => Ok(false),
        nix::errno::Errno::EPERM => Err(Error::Permission(format!(
            "not allowed to signal pid {}; it belongs to another user",
            v.pid
        ))),
        e => Err(Error::Process(format!(
            "cannot send {sig} to pid {}: {e}",
            v.pid
        ))),
    }
}

fn send(pid: nix::unistd::Pid, sig: Signal) -> Result<()> {
    match send_signal(pid, sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(nix::errno::Errno::EPERM) => Err(Error::Permission(format!(
            "not allowed to signal pid {pid}; it belongs to another user"
        ))),
        Err(e) => Err(Error::Process(format!(
            "cannot send {sig} to pid {pid}: {e}"
        ))),
    }
}
