//! The supervisor: one per checkout. It leases every port first, starts
//! services in dependency order (each as soon as its dependencies' conditions
//! hold, so independent ones start in parallel), watches health, applies
//! restart policies, and stops services in reverse order.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use portreg_core::project::{Condition, Health, Ports, Restart, Service};
use portreg_core::{Actor, Instance, LeaseRequest, Project, Registry};

use crate::logs::{log_path, LogWriter};
use crate::output::Echo;
use crate::state::{self, Proc, ProjectState, ServiceState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Stopped,
    Waiting,
    Starting,
    /// Started, and it has no health check.
    Running,
    Healthy,
    Unhealthy,
    Restarting,
    Exited(i32),
    Failed,
}

impl Status {
    fn label(self) -> String {
        match self {
            Status::Stopped => "stopped".into(),
            Status::Waiting => "waiting".into(),
            Status::Starting => "starting".into(),
            Status::Running => "running".into(),
            Status::Healthy => "healthy".into(),
            Status::Unhealthy => "unhealthy".into(),
            Status::Restarting => "restarting".into(),
            Status::Exited(c) => format!("exited {c}"),
            Status::Failed => "failed".into(),
        }
    }
}

pub(crate) struct Svc {
    pub port: Option<u16>,
    pub status: Status,
    pub pid: Option<u32>,
    pub start_time: Option<u64>,
    pub started_at: Option<u64>,
    /// Every start after the first: by its restart policy or by a
    /// `restart` request (what `ps` and the dashboard show).
    pub restarts: u32,
    /// Restarts by the policy since the service was last started by hand:
    /// the budget `max_restarts` counts and the backoff grows with.
    pub policy_restarts: u32,
    pub exit_code: Option<i32>,
    pub detail: Option<String>,
    /// Bumped at every start, so a late event of an old process is ignored.
    pub gen: u64,
    /// Should be running (false once stopped by `down`).
    pub wanted: bool,
    pub stopping: bool,
    pub started_once: bool,
    pub log: Arc<Mutex<LogWriter>>,
}

/// Why `up` did not bring everything up: the first service that failed,
/// why, and the end of its log.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct UpFailure {
    pub service: String,
    pub reason: String,
    pub last_lines: Vec<String>,
    /// The error code: `PROCESS` for a service that did not start, the
    /// registry's code (`PORT_TAKEN`...) when its port could not be leased.
    pub code: String,
}

pub struct Supervisor {
    pub project: Project,
    pub inst: Instance,
    pub(crate) reg: Arc<Registry>,
    pub dir: PathBuf,
    pub detached: bool,
    pub(crate) echo: Option<Echo>,
    pub(crate) inner: Mutex<BTreeMap<String, Svc>>,
    pub(crate) cond: Condvar,
    save_lock: Mutex<()>,
    pub me: Proc,
}

fn key(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl Supervisor {
    pub fn new(
        project: Project,
        inst: Instance,
        reg: Arc<Registry>,
        dir: PathBuf,
        detached: bool,
        echo: Option<Echo>,
    ) -> Arc<Supervisor> {
        let logs = dir.join(state::LOGS_DIR);
        let _ = state::ensure_dir(&logs);
        let svcs = project
            .services
            .iter()
            .map(|s| {
                let log = LogWriter::open(log_path(&logs, &s.name));
                (
                    key(&s.name),
                    Svc {
                        port: None,
                        status: Status::Stopped,
                        pid: None,
                        start_time: None,
                        started_at: None,
                        restarts: 0,
                        policy_restarts: 0,
                        exit_code: None,
                        detail: None,
                        gen: 0,
                        wanted: false,
                        stopping: false,
                        started_once: false,
                        log: Arc::new(Mutex::new(log)),
                    },
                )
            })
            .collect();
        let me = Proc::of(std::process::id()).unwrap_or(Proc {
            pid: std::process::id(),
            start_time: 0,
        });
        Arc::new(Supervisor {
            project,
            inst,
            reg,
            dir,
            detached,
            echo,
            inner: Mutex::new(svcs),
            cond: Condvar::new(),
            save_lock: Mutex::new(()),
            me,
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Svc>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn service(&self, name: &str) -> &Service {
        self.project
            .service(name)
            .expect("services come from the project")
    }

    /// A line from portreg itself about `service` (stderr; the log file
    /// of a detached supervisor).
    pub(crate) fn event(&self, service: &str, msg: &str) {
        match &self.echo {
            Some(e) => e.line("portreg", &format!("{service}: {msg}")),
            None => crate::daemon::say(&format!("portreg: {}: {service}: {msg}", self.inst.key())),
        }
        if let Some(s) = self.lock().get(&key(service)) {
            s.log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .line(&format!("[portreg] {msg}"));
        }
    }

    /// Writes `state.json` from the current state.
    pub fn save(&self) {
        let _order = self.save_lock.lock().unwrap_or_else(|e| e.into_inner());
        let snapshot = self.snapshot();
        let _ = state::write_state(&self.dir, &snapshot);
    }

    pub fn snapshot(&self) -> ProjectState {
        let inner = self.lock();
        let services = self
            .project
            .services
            .iter()
            .map(|s| {
                let v = &inner[&key(&s.name)];
                ServiceState {
                    service: s.name.clone(),
                    name: self.inst.registry_name(&s.name),
                    port: v.port,
                    state: v.status.label(),
                    pid: v.pid,
                    start_time: v.start_time,
                    started_at: v.started_at,
                    restarts: v.restarts,
                    exit_code: v.exit_code,
                    url: v.port.map(|p| format!("http://127.0.0.1:{p}")),
                    detail: v.detail.clone(),
                    stop_timeout_ms: s.stop_timeout.as_millis() as u64,
                }
            })
            .collect();
        ProjectState {
            version: 1,
            project: self.project.name.clone(),
            label: self.inst.label.clone(),
            root: self.project.root.clone(),
            supervisor: self.me,
            detached: self.detached,
            services,
        }
    }

    pub(crate) fn ports(&self) -> Ports {
        let inner = self.lock();
        let mut p = Ports::new();
        for s in &self.project.services {
            if let Some(port) = inner[&key(&s.name)].port {
                p.insert(&s.name, port);
            }
        }
        p
    }

    /// Leases `service`'s port for the supervisor itself (before it starts,
    /// and between restarts, so the port stays the service's).
    pub(crate) fn lease_for_me(&self, s: &Service) -> portreg_core::Result<u16> {
        let mut req = LeaseRequest::new(self.inst.registry_name(&s.name));
        req.port = s.port;
        req.exact = s.exact;
        req.pid = Some(std::process::id());
        req.description = s
            .description
            .clone()
            .or_else(|| Some(format!("{} of project {}", s.name, self.inst.key())));
        let mut meta = BTreeMap::new();
        meta.insert("portreg.project".to_string(), self.project.name.clone());
        meta.insert("portreg.service".to_string(), s.name.clone());
        meta.insert(
            "portreg.root".to_string(),
            self.project.root.display().to_string(),
        );
        if let Some(l) = &self.inst.label {
            meta.insert("portreg.checkout".to_string(), l.clone());
        }
        req.meta = Some(meta);
        Ok(self.reg.lease(&req)?.port)
    }

    /// Leases the port of every service in `list` that is not running yet.
    /// On failure the leases taken here are released and nothing starts.
    pub(crate) fn lease_all(&self, list: &[&Service]) -> portreg_core::Result<()> {
        let mut taken: Vec<String> = Vec::new();
        for s in list {
            let running = self.lock()[&key(&s.name)].pid.is_some();
            if !s.has_port || running {
                continue;
            }
            match self.lease_for_me(s) {
                Ok(port) => {
                    self.lock().get_mut(&key(&s.name)).unwrap().port = Some(port);
                    taken.push(s.name.clone());
                }
                Err(e) => {
                    for t in &taken {
                        let _ = self.reg.release(&self.inst.registry_name(t), Actor::me());
                        self.lock().get_mut(&key(t)).unwrap().port = None;
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Whether `dep` meets `cond` now: Some(true) yes, Some(false) never
    /// will (with why), None not yet.
    fn condition(
        &self,
        inner: &BTreeMap<String, Svc>,
        dep: &str,
        cond: Condition,
    ) -> Result<bool, String> {
        let d = &inner[&key(dep)];
        let has_check = self.service(dep).health != Health::None;
        match (cond, d.status) {
            (_, Status::Failed) => Err(format!("{dep} failed to start")),
            (Condition::Started, _) if d.started_once => Ok(true),
            (Condition::Healthy, Status::Healthy) => Ok(true),
            (Condition::Healthy, Status::Running) if !has_check => Ok(true),
            (Condition::Healthy, Status::Unhealthy) => Err(format!("{dep} is unhealthy")),
            (Condition::Healthy, Status::Exited(c)) => Err(format!("{dep} exited with status {c}")),
            (Condition::Completed, Status::Exited(0)) => Ok(true),
            (Condition::Completed, Status::Exited(c)) => {
                Err(format!("{dep} exited with status {c}"))
            }
            (_, Status::Stopped) if !d.wanted => Err(format!("{dep} is stopped")),
            _ => Ok(false),
        }
    }

    /// Waits until every dependency of `s` meets its condition.
    fn wait_deps(&self, s: &Service) -> Result<(), String> {
        let mut inner = self.lock();
        loop {
            if !inner[&key(&s.name)].wanted {
                return Err("stopped before it started".into());
            }
            let mut ready = true;
            for (dep, cond) in &s.depends_on {
                match self.condition(&inner, dep, *cond) {
                    Ok(true) => {}
                    Ok(false) => ready = false,
                    Err(why) => return Err(format!("not started: {why}")),
                }
            }
            if ready {
                return Ok(());
            }
            inner = self
                .cond
                .wait_timeout(inner, Duration::from_millis(500))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    pub(crate) fn set(&self, name: &str, f: impl FnOnce(&mut Svc)) {
        {
            let mut inner = self.lock();
            if let Some(s) = inner.get_mut(&key(name)) {
                f(s);
            }
        }
        self.cond.notify_all();
        self.save();
    }

    /// Brings up `names` and what they depend on (every service when empty).
    /// Services already running are left as they are.
    pub fn up(self: &Arc<Self>, names: &[String]) -> Result<Vec<String>, UpFailure> {
        let fail = |e: portreg_core::Error| UpFailure {
            service: self.project.name.clone(),
            reason: e.to_string(),
            last_lines: Vec::new(),
            code: e.code().as_str().into(),
        };
        let list = self.project.closure(names).map_err(fail)?;
        // A command that cannot receive its socket fails the start before
        // anything is leased or started.
        for s in &list {
            if let (true, portreg_core::project::Command::Shell(c)) = (s.socket, &s.command) {
                if let Err(why) = crate::spawn::socket_shell(c) {
                    return Err(UpFailure {
                        service: s.name.clone(),
                        reason: format!(
                            "{}: service {}: {why}",
                            self.project.file.display(),
                            s.name
                        ),
                        last_lines: Vec::new(),
                        code: "INVALID_CONFIG".into(),
                    });
                }
            }
        }
        self.lease_all(&list).map_err(fail)?;
        let mut todo = Vec::new();
        {
            let mut inner = self.lock();
            for s in &list {
                let v = inner.get_mut(&key(&s.name)).unwrap();
                // A task that already completed under this supervisor is
                // done, unless it is asked for by name.
                let named = names.iter().any(|n| n.eq_ignore_ascii_case(&s.name));
                let completed = v.status == Status::Exited(0) && v.wanted;
                if v.pid.is_none() && v.status != Status::Restarting && (named || !completed) {
                    v.wanted = true;
                    v.stopping = false;
                    v.started_once = false;
                    v.status = Status::Waiting;
                    v.detail = None;
                    v.exit_code = None;
                    todo.push(s.name.clone());
                }
            }
        }
        self.save();
        let started = Instant::now();
        let threads: Vec<_> = todo
            .iter()
            .map(|name| {
                let me = Arc::clone(self);
                let name = name.clone();
                std::thread::spawn(move || {
                    let s = me.service(&name).clone();
                    let r = me
                        .wait_deps(&s)
                        .and_then(|_| me.launch(&s))
                        .and_then(|gen| me.await_health(&s, gen));
                    if let Err(why) = &r {
                        me.set(&s.name, |v| {
                            if !matches!(v.status, Status::Exited(_) | Status::Unhealthy) {
                                v.status = Status::Failed;
                            }
                            v.detail = Some(why.clone());
                        });
                    }
                    r
                })
            })
            .collect();
        let results: Vec<Result<(), String>> = threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| Err("internal error".into())))
            .collect();
        // The cause is the first service, in dependency order, that failed
        // by itself (a task that exited non-zero has no error of its own:
        // its dependents report it); the others only did not start.
        let first: Option<(String, String)> = {
            let inner = self.lock();
            let failed_itself = todo.iter().zip(&results).find_map(|(n, r)| {
                let v = &inner[&key(n)];
                match (r, v.status) {
                    (Err(e), _) if !e.starts_with("not started") => Some((n.clone(), e.clone())),
                    (_, Status::Exited(c)) if c != 0 => {
                        Some((n.clone(), format!("exited with status {c}")))
                    }
                    _ => None,
                }
            });
            failed_itself.or_else(|| {
                todo.iter()
                    .zip(&results)
                    .find_map(|(n, r)| r.as_ref().err().map(|e| (n.clone(), e.clone())))
            })
        };
        let waiting: Vec<&String> = todo
            .iter()
            .zip(&results)
            .filter(|(_, r)| matches!(r, Err(e) if e.starts_with("not started")))
            .map(|(n, _)| n)
            .collect();
        if let Some((name, why)) = first {
            let why = if waiting.is_empty() {
                why
            } else {
                let mut w: Vec<&str> = waiting.iter().take(5).map(|s| s.as_str()).collect();
                let more = format!("and {} more", waiting.len().saturating_sub(5));
                if waiting.len() > 5 {
                    w.push(&more);
                }
                format!("{why} (so these did not start: {})", w.join(", "))
            };
            return Err(UpFailure {
                service: name.clone(),
                reason: why,
                last_lines: crate::logs::tail(
                    &log_path(&self.dir.join(state::LOGS_DIR), &name),
                    10,
                )
                .into_iter()
                .filter(|l| !l.starts_with("[portreg]"))
                .collect(),
                code: "PROCESS".into(),
            });
        }
        if !todo.is_empty() {
            self.event(
                "project",
                &format!(
                    "{} service(s) up in {:.2}s",
                    todo.len(),
                    started.elapsed().as_secs_f64()
                ),
            );
        }
        Ok(todo)
    }

    /// Restarts `names` (stop, start again on the same port).
    /// A restart by hand counts in `restarts` and gives the restart policy
    /// its whole budget back.
    pub fn restart(self: &Arc<Self>, names: &[String]) -> Result<Vec<String>, UpFailure> {
        self.stop(names, false);
        {
            let mut inner = self.lock();
            for n in names {
                if let Some(v) = inner.get_mut(&key(n)) {
                    v.restarts += 1;
                    v.policy_restarts = 0;
                }
            }
        }
        self.up(names)
    }

    /// Whether a policy restarts a process that exited with `code`.
    pub(crate) fn should_restart(s: &Service, code: i32) -> bool {
        match s.restart {
            Restart::No => false,
            Restart::OnFailure => code != 0,
            Restart::Always => true,
        }
    }
}
