//! Hosting a supervisor: in the foreground (this process, its output on the
//! terminal, Ctrl-C stops everything) or detached (`up -d`: a grandchild
//! in a session of its own, so closing the terminal does not reach it,
//! reporting how the start went back through a pipe and then living on).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::libc;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::{fork, setsid, ForkResult};
use portreg_core::{Error, Result};

use crate::control::{self, Answer};
use crate::engine::{Supervisor, UpFailure};
use crate::output::Echo;
use crate::state::{self, SupervisorLock};
use crate::Checkout;

static SIGNALLED: AtomicBool = AtomicBool::new(false);

/// A detached supervisor's own log (`supervisor.log`), capped and rotated
/// like the services' logs.
static OWN_LOG: std::sync::OnceLock<std::sync::Mutex<crate::logs::LogWriter>> =
    std::sync::OnceLock::new();

/// Writes one of the supervisor's own messages: to its log when detached,
/// else to stderr.
pub(crate) fn say(msg: &str) {
    match OWN_LOG.get() {
        Some(log) => log.lock().unwrap_or_else(|e| e.into_inner()).line(msg),
        None => eprintln!("{msg}"),
    }
}

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::SeqCst);
}

/// Catches `signals`; returns the actions they had, for [`restore`].
fn catch(signals: &[Signal]) -> Vec<(Signal, SigAction)> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    let mut old = Vec::new();
    for &sig in signals {
        // SAFETY: the handler only stores to an atomic.
        if let Ok(prev) = unsafe { sigaction(sig, &action) } {
            old.push((sig, prev));
        }
    }
    old
}

/// Gives the host process (Python, Node) its own signal handling back.
fn restore(old: Vec<(Signal, SigAction)>) {
    for (sig, action) in old {
        // SAFETY: puts back what was there before `catch`.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

/// Runs the supervisor until it is told to stop: Ctrl-C / SIGTERM, a
/// `down` of everything, or (in the foreground) every service has ended.
fn live(sup: &Arc<Supervisor>, quit: &AtomicBool, until_idle: bool) {
    loop {
        if SIGNALLED.load(Ordering::SeqCst) || quit.load(Ordering::SeqCst) {
            break;
        }
        if until_idle && !sup.anything_running() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    sup.stop(&[], true);
    sup.save();
    let _ = std::fs::remove_file(sup.dir.join(state::SOCKET_FILE));
}

/// `up` in the foreground. Returns the exit status, or why the start failed.
pub fn foreground(c: &Checkout, names: &[String], lock: SupervisorLock) -> Result<i32, UpFailure> {
    let all: Vec<String> = c.project.services.iter().map(|s| s.name.clone()).collect();
    let mut echo_names = all.clone();
    echo_names.push("portreg".into());
    let sup = Supervisor::new(
        c.project.clone(),
        c.inst.clone(),
        c.reg.clone(),
        c.dir.clone(),
        false,
        Some(Echo::new(&echo_names)),
    );
    SIGNALLED.store(false, Ordering::SeqCst);
    let old = catch(&[Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP]);
    let quit = Arc::new(AtomicBool::new(false));
    let listener = control::bind(&c.dir).map_err(|e| crate::failure_of(&e))?;
    control::serve(Arc::clone(&sup), listener, Arc::clone(&quit));
    if let Err(f) = sup.up(names) {
        sup.stop(&[], true);
        let _ = std::fs::remove_file(c.dir.join(state::SOCKET_FILE));
        drop(lock);
        restore(old);
        return Err(f);
    }
    live(&sup, &quit, true);
    drop(lock);
    restore(old);
    Ok(if SIGNALLED.load(Ordering::SeqCst) {
        130
    } else {
        0
    })
}

/// `up -d`: starts a detached supervisor and returns its answer about the
/// start (the services started, or the failure).
pub fn detached(c: &Checkout, names: &[String]) -> Result<Answer> {
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::Process(format!("cannot make a pipe: {e}")))?;
    let log = c.dir.join("supervisor.log");
    // Flush what this process printed so the children do not print it again.
    let _ = std::io::stdout().flush();
    // SAFETY: the child goes on in a copy of this process with one thread;
    // it uses no lock another thread could have held (no stdout, no
    // registry cache shared with other threads) before it starts its own.
    match unsafe { fork() }.map_err(|e| Error::Process(format!("cannot fork: {e}")))? {
        ForkResult::Parent { child } => {
            drop(wr);
            let _ = nix::sys::wait::waitpid(child, None);
            let mut text = String::new();
            let _ = std::fs::File::from(rd).read_to_string(&mut text);
            serde_json::from_str(&text).map_err(|_| {
                Error::Process(format!(
                    "the supervisor ended before it reported; see {}",
                    log.display()
                ))
            })
        }
        ForkResult::Child => {
            drop(rd);
            let _ = setsid();
            match unsafe { fork() } {
                Ok(ForkResult::Child) => {}
                _ => unsafe { libc::_exit(0) },
            }
            let code = supervise(c, names, wr, &log);
            unsafe { libc::_exit(code) }
        }
    }
}

/// Points stdio at /dev/null and the supervisor's log, and closes every
/// other descriptor inherited from the process that ran `up -d` (but
/// `keep`, the pipe to report on): a caller waiting for EOF on one of its
/// pipes must not wait for the supervisor's whole life.
fn redirect(log: &std::path::Path, keep: i32) {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds {
        if fd > 2 && fd != keep {
            unsafe { libc::close(fd) };
        }
    }
    use std::os::unix::fs::OpenOptionsExt;
    let null = std::fs::File::open("/dev/null");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(log);
    unsafe {
        if let Ok(n) = &null {
            libc::dup2(n.as_raw_fd(), 0);
        }
        if let Ok(o) = &out {
            libc::dup2(o.as_raw_fd(), 1);
            libc::dup2(o.as_raw_fd(), 2);
        }
    }
}

/// The detached supervisor's life; returns its exit status.
fn supervise(c: &Checkout, names: &[String], ready: OwnedFd, log: &std::path::Path) -> i32 {
    redirect(log, ready.as_raw_fd());
    let _ = OWN_LOG.set(std::sync::Mutex::new(
        crate::logs::LogWriter::open(log.to_path_buf()).with_stdio(),
    ));
    let _ = std::env::set_current_dir(&c.project.root);
    let mut ready = Some(std::fs::File::from(ready));
    let mut report = |a: &Answer| {
        if let Some(mut f) = ready.take() {
            let _ = serde_json::to_writer(&mut f, a);
        }
    };
    let lock = match SupervisorLock::try_take(&c.dir) {
        Ok(Some(l)) => l,
        _ => {
            // Another supervisor started meanwhile: hand the request to it.
            let a = control::ask(
                &c.dir,
                &control::Request {
                    op: "up".into(),
                    services: names.to_vec(),
                },
            );
            if let Some(a) = a {
                report(&a);
            }
            return 0;
        }
    };
    SIGNALLED.store(false, Ordering::SeqCst);
    let _ = catch(&[Signal::SIGINT, Signal::SIGTERM]);
    // The terminal is gone by design: a hangup must not stop the services.
    let _ = unsafe { nix::sys::signal::signal(Signal::SIGHUP, SigHandler::SigIgn) };
    // A registry of its own: nothing of the parent's state is trusted
    // across the fork.
    let reg = match portreg_core::Registry::open(c.reg.path()) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            report(&crate::error_answer(&e));
            return 1;
        }
    };
    let sup = Supervisor::new(
        c.project.clone(),
        c.inst.clone(),
        reg,
        c.dir.clone(),
        true,
        None,
    );
    let quit = Arc::new(AtomicBool::new(false));
    match control::bind(&c.dir) {
        Ok(l) => control::serve(Arc::clone(&sup), l, Arc::clone(&quit)),
        Err(e) => {
            report(&crate::error_answer(&e));
            return 1;
        }
    }
    say(&format!(
        "portreg: supervisor pid {} for {} started",
        std::process::id(),
        c.inst.key()
    ));
    match sup.up(names) {
        Ok(started) => report(&Answer {
            ok: true,
            services: started,
            failure: None,
            state: Some(sup.snapshot()),
        }),
        Err(f) => {
            sup.stop(&[], true);
            report(&Answer {
                ok: false,
                services: vec![],
                failure: Some(f),
                state: Some(sup.snapshot()),
            });
            let _ = std::fs::remove_file(c.dir.join(state::SOCKET_FILE));
            return 1;
        }
    }
    live(&sup, &quit, false);
    say(&format!(
        "portreg: supervisor pid {} for {} stopped",
        std::process::id(),
        c.inst.key()
    ));
    drop(lock);
    0
}
