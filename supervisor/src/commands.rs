//! `portreg up`, `down`, `ps`, `logs` and `restart`: what they print and
//! the exit status they return. A running supervisor is asked over its
//! socket; without one, `ps` and `logs` read the files it left, and `up` /
//! `down` first stop whatever a supervisor that died (SIGKILL, a crash) left
//! running, so no port stays held by a process nobody supervises.

use std::io::Write;
use std::time::Duration;

use nix::sys::signal::Signal;
use portreg_core::{Actor, Error, Result};
use serde::Serialize;

use crate::control::{self, Answer, Request, Unreached};
use crate::state::{self, now, Proc, ServiceState, SupervisorLock};
use crate::{daemon, exit_code, logs, spawn, Checkout, UpFailure};

fn check_names(c: &Checkout, names: &[String]) -> Result<()> {
    c.project.closure(names).map(|_| ())
}

fn request(op: &str, names: &[String]) -> Request {
    Request {
        op: op.into(),
        services: names.to_vec(),
    }
}

fn no_answer(c: &Checkout) -> Error {
    Error::Process(format!(
        "the supervisor of {} holds {} but does not answer; try again, or stop it (`portreg kill` its pid)",
        c.inst.key(),
        c.dir.display()
    ))
}

/// Prints a failed start: the end of the service's log, then one error line.
pub fn print_failure(f: &UpFailure) -> i32 {
    let _ = std::io::stdout().flush();
    if !f.last_lines.is_empty() {
        eprintln!("portreg: last lines of {}'s output:", f.service);
        for l in &f.last_lines {
            eprintln!("  {} | {l}", f.service);
        }
    }
    let msg = if f.service.is_empty() || f.code != "PROCESS" {
        f.reason.clone()
    } else {
        format!("{} did not start: {}", f.service, f.reason)
    };
    eprintln!("portreg: error: {msg} [{}]", f.code);
    exit_code(&f.code)
}

fn print_answer(c: &Checkout, a: &Answer, verb: &str) -> i32 {
    if let Some(f) = &a.failure {
        return print_failure(f);
    }
    if a.services.is_empty() {
        println!(
            "{}: nothing to {verb}; every requested service is already in that state",
            c.inst.key()
        );
        return 0;
    }
    if let Some(st) = &a.state {
        for s in st
            .services
            .iter()
            .filter(|s| a.services.contains(&s.service))
        {
            println!(
                "{:<12} {:<28} {:<24} {}",
                s.service,
                s.name,
                s.url.as_deref().unwrap_or("-"),
                s.state
            );
        }
    }
    0
}

/// Stops what a dead supervisor of this checkout left running. Returns the
/// services stopped.
pub fn cleanup_orphans(c: &Checkout) -> Vec<String> {
    if state::supervisor_running(&c.dir) {
        return Vec::new();
    }
    let Some(st) = state::read_state(&c.dir) else {
        return Vec::new();
    };
    let mut stopped = Vec::new();
    for s in &st.services {
        let (Some(pid), Some(start_time)) = (s.pid, s.start_time) else {
            continue;
        };
        if !(Proc { pid, start_time }).alive() {
            continue;
        }
        let timeout = Duration::from_millis(s.stop_timeout_ms.clamp(100, 60_000));
        spawn::stop_group(pid, Signal::SIGTERM, timeout, || {
            !(Proc { pid, start_time }).alive() && !spawn::group_alive(pid)
        });
        let _ = c.reg.release(&s.name, Actor::Force);
        stopped.push(s.service.clone());
    }
    let _ = std::fs::remove_file(c.dir.join(state::STATE_FILE));
    if !stopped.is_empty() {
        eprintln!(
            "portreg: the supervisor of {} (pid {}) is gone; stopped what it left running: {}",
            c.inst.key(),
            st.supervisor.pid,
            stopped.join(", ")
        );
    }
    stopped
}

/// `portreg up [SERVICE...] [-d]`.
pub fn up(c: &Checkout, names: &[String], detach: bool) -> Result<i32> {
    check_names(c, names)?;
    state::ensure_dir(&c.dir)?;
    match control::request_running(&c.dir, "up", names) {
        Ok(a) => return Ok(print_answer(c, &a, "start")),
        Err(Unreached::NoAnswer) => return Err(no_answer(c)),
        Err(Unreached::NotRunning) => {}
    }
    cleanup_orphans(c);
    if detach {
        let a = daemon::detached(c, names)?;
        return Ok(print_answer(c, &a, "start"));
    }
    let Some(lock) = SupervisorLock::try_take(&c.dir)? else {
        let a = control::ask(&c.dir, &request("up", names)).ok_or_else(|| no_answer(c))?;
        return Ok(print_answer(c, &a, "start"));
    };
    match daemon::foreground(c, names, lock) {
        Ok(code) => Ok(code),
        Err(f) => Ok(print_failure(&f)),
    }
}

/// `portreg down [SERVICE...]`.
pub fn down(c: &Checkout, names: &[String]) -> Result<i32> {
    check_names(c, names)?;
    let answer = match control::request_running(&c.dir, "down", names) {
        Ok(a) => Some(a),
        Err(Unreached::NoAnswer) => return Err(no_answer(c)),
        Err(Unreached::NotRunning) => None,
    };
    if let Some(a) = answer {
        for s in &a.services {
            println!("stopped {s} ({})", c.inst.registry_name(s));
        }
        // When everything stopped the supervisor ends; wait for it so that
        // the next command sees no supervisor.
        let all_stopped = a
            .state
            .as_ref()
            .is_some_and(|st| st.services.iter().all(|s| s.state == "stopped"));
        if all_stopped {
            let until = std::time::Instant::now() + Duration::from_secs(10);
            while state::supervisor_running(&c.dir) && std::time::Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        return Ok(0);
    }
    let stopped = cleanup_orphans(c);
    if stopped.is_empty() {
        eprintln!(
            "portreg: nothing of {} is running; nothing to stop",
            c.inst.key()
        );
        return Ok(1);
    }
    Ok(0)
}

/// `portreg restart SERVICE...`.
pub fn restart(c: &Checkout, names: &[String]) -> Result<i32> {
    check_names(c, names)?;
    match control::request_running(&c.dir, "restart", names) {
        Ok(a) => Ok(print_answer(c, &a, "restart")),
        Err(Unreached::NoAnswer) => Err(no_answer(c)),
        Err(Unreached::NotRunning) => {
            eprintln!(
                "portreg: no supervisor runs {}; `portreg up` starts it",
                c.inst.key()
            );
            Ok(1)
        }
    }
}

/// What `ps` shows: the checkout and its services.
#[derive(Serialize, Debug, Clone)]
pub struct Status {
    pub project: String,
    pub label: Option<String>,
    pub root: std::path::PathBuf,
    /// The live supervisor's pid, if one runs.
    pub supervisor: Option<u32>,
    pub services: Vec<ServiceState>,
}

/// The state of every service of the checkout, from its supervisor when
/// one runs, else from the registry and what a dead supervisor left.
pub fn status(c: &Checkout) -> Result<Status> {
    let running = state::supervisor_running(&c.dir);
    let live = if running {
        control::ask(&c.dir, &request("state", &[])).and_then(|a| a.state)
    } else {
        None
    };
    let (supervisor, services) = match live {
        Some(st) => (Some(st.supervisor.pid), st.services),
        None => {
            let (_, known) = c.project.lookup(&c.reg)?;
            let left = state::read_state(&c.dir);
            let services = known
                .into_iter()
                .map(|k| {
                    let old = left
                        .as_ref()
                        .and_then(|l| l.services.iter().find(|s| s.service == k.service));
                    let orphan = old.filter(|o| match (o.pid, o.start_time) {
                        (Some(pid), Some(start_time)) => Proc { pid, start_time }.alive(),
                        _ => false,
                    });
                    ServiceState {
                        service: k.service,
                        name: k.name,
                        port: k.port,
                        state: if orphan.is_some() {
                            "orphaned".into()
                        } else {
                            "stopped".into()
                        },
                        pid: orphan.and_then(|o| o.pid),
                        start_time: orphan.and_then(|o| o.start_time),
                        started_at: orphan.and_then(|o| o.started_at),
                        restarts: old.map_or(0, |o| o.restarts),
                        exit_code: None,
                        url: k.url,
                        detail: None,
                        stop_timeout_ms: 0,
                    }
                })
                .collect();
            (None, services)
        }
    };
    Ok(Status {
        project: c.project.name.clone(),
        label: c.inst.label.clone(),
        root: c.project.root.clone(),
        supervisor,
        services,
    })
}

fn uptime(started: Option<u64>) -> String {
    let Some(t) = started else { return "-".into() };
    let s = now().saturating_sub(t);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}h{}m", s / 3600, (s % 3600) / 60),
    }
}

/// `portreg ps [--json]`.
pub fn ps(c: &Checkout, json: bool) -> Result<i32> {
    let st = status(c)?;
    if json {
        let mut out = std::io::stdout().lock();
        let _ = serde_json::to_writer_pretty(&mut out, &st);
        let _ = writeln!(out);
        return Ok(0);
    }
    let checkout = match &st.label {
        Some(l) => format!("checkout {l}"),
        None => "main checkout".into(),
    };
    let sup = match st.supervisor {
        Some(p) => format!("supervisor pid {p}"),
        None => "no supervisor running".into(),
    };
    println!("{} ({checkout}, {}) - {sup}", st.project, st.root.display());
    let rows: Vec<[String; 8]> = st
        .services
        .iter()
        .map(|s| {
            [
                s.service.clone(),
                s.name.clone(),
                s.port.map_or("-".into(), |p| p.to_string()),
                s.state.clone(),
                s.pid.map_or("-".into(), |p| p.to_string()),
                if s.pid.is_some() {
                    uptime(s.started_at)
                } else {
                    "-".into()
                },
                s.restarts.to_string(),
                s.url.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let head = [
        "SERVICE", "NAME", "PORT", "STATE", "PID", "UPTIME", "RESTARTS", "URL",
    ];
    let mut w = head.map(str::len);
    for r in &rows {
        for (i, cell) in r.iter().enumerate() {
            w[i] = w[i].max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<width$}  ", width = w[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(head.to_vec());
    for r in &rows {
        line(r.iter().map(String::as_str).collect());
    }
    Ok(0)
}

/// `portreg logs [SERVICE...] [-f] [-n N]`.
pub fn logs(c: &Checkout, names: &[String], follow: bool, n: Option<usize>) -> Result<i32> {
    check_names(c, names)?;
    let list: Vec<String> = if names.is_empty() {
        c.project.services.iter().map(|s| s.name.clone()).collect()
    } else {
        names
            .iter()
            .filter_map(|n| c.project.service(n).map(|s| s.name.clone()))
            .collect()
    };
    let dir = c.dir.join(state::LOGS_DIR);
    let paths: Vec<_> = list.iter().map(|s| logs::log_path(&dir, s)).collect();
    let width = list.iter().map(String::len).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for (s, p) in list.iter().zip(&paths) {
        for l in logs::tail(p, n.unwrap_or(usize::MAX)) {
            let _ = writeln!(out, "{s:<width$} | {l}");
        }
    }
    let _ = out.flush();
    drop(out);
    if follow {
        logs::follow(&paths, |i, l| {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{:<width$} | {l}", list[i]).is_ok() && out.flush().is_ok()
        });
    }
    Ok(0)
}
