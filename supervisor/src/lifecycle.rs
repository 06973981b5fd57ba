//! One service's life: start it (its port handed to it), read its output,
//! wait for it to be healthy, notice when it exits and restart it per its
//! policy, and stop its whole process group.

use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::process::Child;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use portreg_core::project::{Health, Service};
use portreg_core::Actor;

use crate::engine::{Status, Supervisor};
use crate::spawn::{self, Spec};
use crate::state::{now, Proc};

/// How long an exited service's output may take to reach its log.
const OUTPUT_DRAIN: Duration = Duration::from_secs(1);

fn key(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl Supervisor {
    /// Starts `s`; returns the generation of the process started.
    pub(crate) fn launch(self: &Arc<Self>, s: &Service) -> Result<u64, String> {
        let ports = self.ports();
        let port = ports.get(&s.name);
        let spec = Spec {
            command: self.project.command_of(s, &ports),
            cwd: &s.cwd,
            env: self.project.env_of(s, &ports),
            socket_port: if s.socket { port } else { None },
            name: &s.name,
        };
        let started = spawn::start(&spec).map_err(|e| e.to_string())?;
        let pid = started.child.id();
        let name = self.inst.registry_name(&s.name);
        if port.is_some() {
            if let Err(e) = self.reg.hand_over_with(&name, pid, false) {
                self.event(
                    &s.name,
                    &format!("could not record pid {pid} as the holder of {name}: {e}"),
                );
            }
        }
        let proc_ = Proc::of(pid);
        let gen = {
            let mut inner = self.lock();
            let v = inner.get_mut(&key(&s.name)).unwrap();
            v.gen += 1;
            v.pid = Some(pid);
            v.start_time = proc_.map(|p| p.start_time);
            v.started_at = Some(now());
            v.status = Status::Starting;
            v.started_once = true;
            v.exit_code = None;
            v.gen
        };
        self.cond.notify_all();
        self.save();
        self.event(
            &s.name,
            &match port {
                Some(p) => format!("started pid {pid} on port {p} as {name}"),
                None => format!("started pid {pid}"),
            },
        );
        let output_done = self.read_output(s, started.output);
        let me = Arc::clone(self);
        let svc = s.clone();
        let child = started.child;
        std::thread::spawn(move || me.monitor(svc, child, gen, output_done));
        Ok(gen)
    }

    /// Copies the service's output into its log (and the foreground
    /// stream) until the pipe closes; the receiver returned disconnects then.
    fn read_output(self: &Arc<Self>, s: &Service, fd: OwnedFd) -> mpsc::Receiver<()> {
        let me = Arc::clone(self);
        let name = s.name.clone();
        let log = self.lock()[&key(&s.name)].log.clone();
        let (done, output_done) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let _done = done;
            let mut r = BufReader::new(std::fs::File::from(fd));
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        let line = line.trim_end_matches(['\n', '\r']);
                        log.lock().unwrap_or_else(|e| e.into_inner()).line(line);
                        if let Some(e) = &me.echo {
                            e.line(&name, line);
                        }
                    }
                }
            }
        });
        output_done
    }

    /// Waits for `s` (generation `gen`) to pass its health check.
    pub(crate) fn await_health(self: &Arc<Self>, s: &Service, gen: u64) -> Result<(), String> {
        let ports = self.ports();
        let health = self.project.health_of(s, &ports);
        if health == Health::None {
            self.set(&s.name, |v| {
                if v.gen == gen && v.status == Status::Starting {
                    v.status = Status::Running;
                }
            });
            return Ok(());
        }
        let env = self.project.env_of(s, &ports);
        let port = ports.get(&s.name);
        let deadline = Instant::now() + s.health_timeout;
        let mut last: String;
        loop {
            let (pid, cur_gen, status, wanted) = {
                let inner = self.lock();
                let v = &inner[&key(&s.name)];
                (v.pid, v.gen, v.status, v.wanted)
            };
            if !wanted {
                return Err("stopped while starting".into());
            }
            if cur_gen != gen || pid.is_none() {
                return Err(match status {
                    Status::Exited(c) => format!("exited with status {c} before it was healthy"),
                    _ => "exited before it was healthy".into(),
                });
            }
            let probe = crate::health::probe(&health, port, pid.unwrap_or(0), &env, &s.cwd)
                .and_then(|_| match (&health, port) {
                    // A tcp or http answer on the service's own port proves
                    // little if another program took that port.
                    (Health::Tcp | Health::Http(_), Some(p)) if health_on_own_port(&health, p) => {
                        crate::health::owned_by(p, pid.unwrap_or(0))
                    }
                    _ => Ok(()),
                });
            match probe {
                Ok(()) => {
                    self.set(&s.name, |v| {
                        if v.gen == gen {
                            v.status = Status::Healthy;
                            v.detail = None;
                        }
                    });
                    self.event(&s.name, "healthy");
                    let me = Arc::clone(self);
                    let svc = s.clone();
                    std::thread::spawn(move || me.watch(&svc, gen));
                    return Ok(());
                }
                Err(why) => last = why,
            }
            if Instant::now() >= deadline {
                self.set(&s.name, |v| {
                    if v.gen == gen {
                        v.status = Status::Unhealthy;
                        v.detail = Some(last.clone());
                    }
                });
                return Err(format!(
                    "health check timed out after {}s; last probe: {last}",
                    s.health_timeout.as_secs_f64()
                ));
            }
            std::thread::sleep(
                s.health_interval
                    .min(deadline.saturating_duration_since(Instant::now()))
                    .max(Duration::from_millis(20)),
            );
        }
    }

    /// Keeps probing a healthy service (less often than while it starts)
    /// so that `ps` shows `unhealthy` when it stops answering, and
    /// `healthy` again when it recovers. Ends with the process.
    fn watch(&self, s: &Service, gen: u64) {
        let every = (s.health_interval * 10).clamp(Duration::from_secs(1), Duration::from_secs(30));
        loop {
            std::thread::sleep(every);
            let (pid, cur, wanted) = {
                let inner = self.lock();
                let v = &inner[&key(&s.name)];
                (v.pid, v.gen, v.wanted)
            };
            let Some(pid) = pid.filter(|_| cur == gen && wanted) else {
                return;
            };
            let ports = self.ports();
            let port = ports.get(&s.name);
            let r = match self.project.health_of(s, &ports) {
                // Who listens was settled at start; now only whether anyone does.
                Health::Listening => match port {
                    Some(p) if !portreg_core::Registry::is_listening(p) => {
                        Err(format!("nothing listens on port {p} any more"))
                    }
                    _ => Ok(()),
                },
                h => crate::health::probe(&h, port, pid, &self.project.env_of(s, &ports), &s.cwd),
            };
            let status = self.lock()[&key(&s.name)].status;
            match (r, status) {
                (Err(why), Status::Healthy) => {
                    self.set(&s.name, |v| {
                        if v.gen == gen {
                            v.status = Status::Unhealthy;
                            v.detail = Some(why.clone());
                        }
                    });
                    self.event(&s.name, &format!("unhealthy: {why}"));
                }
                (Ok(()), Status::Unhealthy) => {
                    self.set(&s.name, |v| {
                        if v.gen == gen {
                            v.status = Status::Healthy;
                            v.detail = None;
                        }
                    });
                    self.event(&s.name, "healthy again");
                }
                _ => {}
            }
        }
    }

    /// Reaps the service's process and decides what comes next.
    fn monitor(
        self: Arc<Self>,
        s: Service,
        mut child: Child,
        gen: u64,
        output_done: mpsc::Receiver<()>,
    ) {
        let pgid = child.id();
        let code = match child.wait() {
            Ok(st) => {
                use std::os::unix::process::ExitStatusExt;
                st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
            }
            Err(_) => 255,
        };
        // What the leader left behind goes with it (like a container).
        spawn::signal_group(pgid, Signal::SIGKILL);
        // Its last lines are in the log before anyone is told it exited (a
        // failed `up` quotes them); a process outside the group that keeps
        // the pipe open is not waited for long.
        let _ = output_done.recv_timeout(OUTPUT_DRAIN);
        let (stopping, wanted, restarts) = {
            let mut inner = self.lock();
            let v = inner.get_mut(&key(&s.name)).unwrap();
            if v.gen != gen {
                return;
            }
            v.pid = None;
            v.exit_code = Some(code);
            // Never shown healthy with no process, even for the moment
            // before a restart policy decides.
            v.status = if v.stopping {
                Status::Stopped
            } else {
                Status::Exited(code)
            };
            (v.stopping, v.wanted, v.policy_restarts)
        };
        self.cond.notify_all();
        if s.has_port && !stopping {
            // Keep the port for this service while the supervisor lives.
            if let Err(e) = self.lease_for_me(&s) {
                self.event(&s.name, &format!("could not keep its port: {e}"));
            }
        }
        let restart =
            wanted && !stopping && Self::should_restart(&s, code) && restarts < s.max_restarts;
        if !restart {
            self.set(&s.name, |v| {
                if v.gen == gen {
                    v.status = if stopping {
                        Status::Stopped
                    } else {
                        Status::Exited(code)
                    };
                }
            });
            if !stopping {
                self.event(&s.name, &format!("exited with status {code}"));
            }
            return;
        }
        let backoff = Duration::from_millis(500 * (1u64 << restarts.min(6)));
        self.set(&s.name, |v| {
            v.status = Status::Restarting;
            v.restarts += 1;
            v.policy_restarts += 1;
        });
        self.event(
            &s.name,
            &format!(
                "exited with status {code}; restarting in {:.1}s ({} of {})",
                backoff.as_secs_f64(),
                restarts + 1,
                s.max_restarts
            ),
        );
        std::thread::sleep(backoff);
        if !self.lock()[&key(&s.name)].wanted {
            self.set(&s.name, |v| v.status = Status::Stopped);
            return;
        }
        let r = self.launch(&s).and_then(|g| self.await_health(&s, g));
        if let Err(why) = r {
            self.event(&s.name, &format!("restart failed: {why}"));
        }
    }

    /// Stops one service's process group: its stop signal, then SIGKILL
    /// after its stop timeout. With `release`, its lease is released (the
    /// port stays remembered); without, the supervisor keeps the port.
    pub(crate) fn stop_one(&self, s: &Service, release: bool) {
        let pid = {
            let mut inner = self.lock();
            let v = inner.get_mut(&key(&s.name)).unwrap();
            v.wanted = false;
            v.stopping = true;
            v.pid
        };
        self.cond.notify_all();
        if let Some(pid) = pid {
            let sig = Signal::try_from(s.stop_signal).unwrap_or(Signal::SIGTERM);
            let done = spawn::stop_group(pid, sig, s.stop_timeout, || {
                self.lock()[&key(&s.name)].pid.is_none() && !spawn::group_alive(pid)
            });
            if !done {
                self.event(&s.name, &format!("process group {pid} survived SIGKILL"));
            } else {
                self.event(&s.name, "stopped");
            }
        }
        let name = self.inst.registry_name(&s.name);
        if s.has_port {
            if release {
                let _ = self.reg.release(&name, Actor::Force);
            } else if let Err(e) = self.lease_for_me(s) {
                self.event(&s.name, &format!("could not keep its port: {e}"));
            }
        }
        self.set(&s.name, |v| {
            v.status = Status::Stopped;
            v.stopping = false;
            v.started_once = false;
        });
    }

    /// Stops `names` (every service when empty) in reverse dependency
    /// order: a service stops once everything of the set that depends on
    /// it has stopped; independent ones stop in parallel.
    pub fn stop(self: &Arc<Self>, names: &[String], release: bool) -> Vec<String> {
        let list: Vec<Service> = if names.is_empty() {
            self.project.services.clone()
        } else {
            names
                .iter()
                .filter_map(|n| self.project.service(n).cloned())
                .collect()
        };
        let set: Vec<String> = list.iter().map(|s| key(&s.name)).collect();
        let threads: Vec<_> = list
            .iter()
            .map(|s| {
                let me = Arc::clone(self);
                let s = s.clone();
                let set = set.clone();
                std::thread::spawn(move || {
                    let dependents: Vec<String> = me
                        .project
                        .services
                        .iter()
                        .filter(|d| set.contains(&key(&d.name)))
                        .filter(|d| d.depends_on.iter().any(|(x, _)| key(x) == key(&s.name)))
                        .map(|d| key(&d.name))
                        .collect();
                    let mut inner = me.lock();
                    while dependents.iter().any(|d| {
                        let v = &inner[d];
                        v.pid.is_some() || v.stopping
                    }) {
                        inner = me
                            .cond
                            .wait_timeout(inner, Duration::from_millis(200))
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                    drop(inner);
                    me.stop_one(&s, release);
                })
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
        list.into_iter().map(|s| s.name).collect()
    }

    /// Whether any service still has a process or is about to restart.
    pub fn anything_running(&self) -> bool {
        self.lock().values().any(|v| {
            v.pid.is_some() || v.status == Status::Restarting || v.status == Status::Waiting
        })
    }

    /// Whether any service is still wanted up.
    pub fn anything_wanted(&self) -> bool {
        self.lock().values().any(|v| v.wanted)
    }
}

fn health_on_own_port(h: &Health, port: u16) -> bool {
    match h {
        Health::Tcp => true,
        Health::Http(u) => {
            u.starts_with(&format!("http://127.0.0.1:{port}/"))
                || u == &format!("http://127.0.0.1:{port}")
                || u.starts_with(&format!("http://localhost:{port}/"))
        }
        _ => false,
    }
}
