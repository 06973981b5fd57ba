//! `portreg run NAME -- CMD...`: lease, start CMD on the port, hand the lease
//! to the child, forward signals, release when it exits, exit with its status.

use std::ffi::{CString, OsString};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::libc;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult};
use portreg_core::{Actor, Error, LeaseRequest, Registry};

pub struct RunArgs {
    pub req: LeaseRequest,
    pub socket: bool,
    pub host: IpAddr,
    pub bind_timeout: Duration,
    pub cmd: Vec<OsString>,
}

/// The command's process group (its pid): signals go to all of it.
static GROUP: AtomicI32 = AtomicI32::new(0);
/// Set once a stop signal (INT, TERM, HUP) was forwarded.
static STOPPING: AtomicBool = AtomicBool::new(false);

extern "C" fn forward(sig: libc::c_int) {
    // The command runs in a process group of its own: whoever signals
    // `portreg run` (kill, a script's Ctrl-C) means the whole command.
    let group = GROUP.load(Ordering::SeqCst);
    if group > 0 {
        STOPPING.store(true, Ordering::SeqCst);
        unsafe { libc::kill(-group, sig) };
    }
}

fn install_forwarding() {
    let action = SigAction::new(
        SigHandler::Handler(forward),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only uses atomics and kill(2), both async-signal-safe.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

/// True when `portreg run` is the terminal's foreground job: the command's
/// group then gets the terminal (as a shell gives it to a job), so that it
/// can read it and Ctrl-C / Ctrl-Z reach all of it.
fn owns_terminal() -> bool {
    unsafe { libc::isatty(0) == 1 && libc::tcgetpgrp(0) == libc::getpgrp() }
}

/// Gives the terminal to process group `pgid` (ours, or the command's).
fn give_terminal(pgid: libc::pid_t) {
    // SAFETY: plain syscalls; SIGTTOU is ignored by the supervisor, so a
    // call from the background does not stop it.
    unsafe { libc::tcsetpgrp(0, pgid) };
}

/// Whether any process of group `pgid` still runs (zombies do not count).
fn group_alive(pgid: i32) -> bool {
    let exists = unsafe { libc::kill(-pgid, 0) } == 0;
    exists && !portreg_core::process::group_members(pgid).is_empty()
}

/// How long the group may outlive a forwarded stop signal before the rest
/// of it is killed.
const GROUP_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A file this process may execute.
fn is_executable(p: &std::path::Path) -> bool {
    p.metadata().is_ok_and(|m| m.is_file())
        && nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok()
}

/// The program to execute, as execvp would find it; else why it cannot
/// start, checked before anything is leased.
fn find_program(prog: &OsString) -> Result<PathBuf, Error> {
    let p = PathBuf::from(prog);
    let shown = prog.to_string_lossy();
    let cannot =
        |why: &str| Error::Process(format!("cannot run {shown}: {why}; nothing was leased"));
    if prog.as_bytes().contains(&b'/') {
        return match p.metadata() {
            Err(e) => Err(cannot(&e.to_string())),
            Ok(m) if m.is_dir() => Err(cannot("it is a directory")),
            Ok(_) if !is_executable(&p) => Err(cannot(
                "it is not executable (chmod +x it, or name its interpreter)",
            )),
            Ok(_) => Ok(p),
        };
    }
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(&p))
                .find(|c| is_executable(c))
        })
        .ok_or_else(|| cannot("command not found in PATH"))
}

fn cstring(b: &[u8]) -> Result<CString, Error> {
    CString::new(b)
        .map_err(|_| Error::Process("an argument or variable contains a NUL byte".into()))
}

/// Runs the command; returns the exit status for `portreg` to exit with.
pub fn run(reg: &Registry, args: RunArgs) -> Result<i32, Error> {
    let name = args.req.name.clone();
    let mut req = args.req;
    req.pid = Some(std::process::id());
    // A command that cannot start leaves the registry as it was: checked
    // before leasing, and should exec fail all the same, a name this run
    // created is forgotten again (one that existed is released, as after
    // any run).
    let Some(first) = args.cmd.first() else {
        return Err(Error::Process("no command given after --".into()));
    };
    let program = find_program(first)?;
    let existed = reg.get(&name)?.is_some();
    let undo = || {
        if existed {
            let _ = reg.release(&name, Actor::me());
        } else {
            let _ = reg.forget(&name, false);
        }
    };
    let lease = match reg.lease(&req) {
        Ok(l) => l,
        Err(Error::LeaseHeld(h)) => {
            eprintln!(
                "portreg: {} is already running on http://127.0.0.1:{}, pid {} (since {}); not starting a second copy",
                h.name, h.port, h.pid, h.since
            );
            return Ok(3);
        }
        Err(e) => return Err(e),
    };
    let port = lease.port;
    let prefix = portreg_core::process::env_prefix(&lease.name);
    let port_s = port.to_string();
    let argv: Vec<CString> = args
        .cmd
        .iter()
        .map(|a| match a.to_str() {
            Some(s) => cstring(s.replace("{port}", &port_s).as_bytes()),
            None => cstring(a.as_bytes()),
        })
        .collect::<Result<_, _>>()?;
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| {
            !matches!(
                k.to_str(),
                Some("LISTEN_FDS" | "LISTEN_PID" | "LISTEN_FDNAMES")
            )
        })
        .collect();
    env.push(("PORT".into(), port_s.clone().into()));
    env.push((format!("{prefix}_PORT").into(), port_s.clone().into()));
    env.push((format!("{prefix}_URL").into(), lease.url().into()));

    let listener = if args.socket {
        let addr = SocketAddr::new(args.host, port);
        let s = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            None,
        )
        .and_then(|s| {
            s.set_reuse_address(true)?;
            if addr.is_ipv6() {
                s.set_only_v6(false)?;
            }
            s.bind(&addr.into())?;
            s.listen(1024)?;
            Ok(s)
        })
        .map_err(|e| {
            undo();
            Error::Process(format!("cannot listen on {addr}: {e}"))
        })?;
        env.push(("LISTEN_FDS".into(), "1".into()));
        env.push(("LISTEN_FDNAMES".into(), lease.name.clone().into()));
        Some(s)
    } else {
        None
    };
    let mut envp: Vec<CString> = env
        .iter()
        .map(|(k, v)| {
            let mut b = k.as_bytes().to_vec();
            b.push(b'=');
            b.extend_from_slice(v.as_bytes());
            cstring(&b)
        })
        .collect::<Result<_, _>>()?;
    // LISTEN_PID must be the child's own pid: reserve room, fill it in after fork.
    let pid_slot = listener.as_ref().map(|_| {
        envp.push(cstring(b"LISTEN_PID=0000000000").expect("no NUL"));
        envp.len() - 1
    });
    let prog_c = cstring(program.as_os_str().as_bytes())?;
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|c| c.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|c| c.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    let sock_fd = listener.as_ref().map(|s| s.as_raw_fd());
    let foreground = owns_terminal();

    // A close-on-exec pipe tells the parent when the child has exec'd (EOF)
    // or why it could not (an errno), so the holder recorded is the command,
    // not a copy of portreg.
    let mut pipe_fds = [0 as libc::c_int; 2];
    if unsafe { libc::pipe2(pipe_fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::Process(format!(
            "cannot start the command: {}",
            std::io::Error::last_os_error()
        )));
    }
    let [exec_rd, exec_wr] = pipe_fds;

    // SAFETY: the child only calls async-signal-safe functions (dup2, fcntl,
    // getpid, execve, write, _exit) on memory prepared before the fork.
    let child = match unsafe { fork() } {
        Err(e) => return Err(Error::Process(format!("cannot start the command: {e}"))),
        Ok(ForkResult::Child) => unsafe {
            if let Some(fd) = sock_fd {
                if fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0);
                } else {
                    libc::dup2(fd, 3);
                }
                if let Some(i) = pid_slot {
                    let buf = envp[i].as_ptr() as *mut u8;
                    let mut pid = libc::getpid() as u32;
                    let digits = b"LISTEN_PID=".len();
                    let mut tmp = [0u8; 10];
                    let mut n = 0;
                    loop {
                        tmp[n] = b'0' + (pid % 10) as u8;
                        n += 1;
                        pid /= 10;
                        if pid == 0 {
                            break;
                        }
                    }
                    for k in 0..n {
                        *buf.add(digits + k) = tmp[n - 1 - k];
                    }
                    *buf.add(digits + n) = 0;
                }
            }
            libc::close(exec_rd);
            // A process group of its own, so that kill and signals reach
            // every process the command starts (npx, sh -c, nodemon...);
            // and the terminal, when portreg run had it.
            libc::setpgid(0, 0);
            if foreground {
                let mut block: libc::sigset_t = std::mem::zeroed();
                let mut old: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut block);
                libc::sigaddset(&mut block, libc::SIGTTOU);
                libc::sigprocmask(libc::SIG_BLOCK, &block, &mut old);
                libc::tcsetpgrp(0, libc::getpid());
                libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            }
            // The command gets the terminal as a shell would give it: stdio
            // open across exec (Node marks them close-on-exec) and SIGPIPE /
            // SIGXFSZ at their defaults (Rust and Node ignore them, and an
            // ignored signal survives exec).
            for fd in 0..3 {
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags >= 0 {
                    libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
                }
            }
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::signal(libc::SIGXFSZ, libc::SIG_DFL);
            libc::execve(prog_c.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr());
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            libc::write(exec_wr, (&errno as *const i32).cast(), 4);
            libc::_exit(127);
        },
        Ok(ForkResult::Parent { child }) => child,
    };
    // Also from this side, so that neither order of the two races.
    unsafe { libc::setpgid(child.as_raw(), child.as_raw()) };
    if foreground {
        unsafe { libc::signal(libc::SIGTTOU, libc::SIG_IGN) };
        give_terminal(child.as_raw());
    }
    unsafe { libc::close(exec_wr) };
    let mut errno_buf = [0u8; 4];
    let n = loop {
        let n = unsafe { libc::read(exec_rd, errno_buf.as_mut_ptr().cast(), 4) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break n;
    };
    unsafe { libc::close(exec_rd) };
    if n == 4 {
        let _ = waitpid(child, None);
        if foreground {
            give_terminal(unsafe { libc::getpgrp() });
        }
        undo();
        let err = std::io::Error::from_raw_os_error(i32::from_ne_bytes(errno_buf));
        return Err(Error::Process(format!(
            "cannot execute {}: {err}; {}",
            program.display(),
            if existed {
                "its name was released again"
            } else {
                "nothing was kept in the registry"
            }
        )));
    }
    GROUP.store(child.as_raw(), Ordering::SeqCst);
    install_forwarding();
    drop(listener);
    let _ = reg.hand_over(&name, child.as_raw() as u32);

    let done = Arc::new(AtomicBool::new(false));
    if !args.socket && !args.bind_timeout.is_zero() {
        let done = done.clone();
        let timeout = args.bind_timeout;
        let what = args.cmd[0].to_string_lossy().into_owned();
        std::thread::spawn(move || {
            let start = Instant::now();
            while !done.load(Ordering::SeqCst) {
                if Registry::is_listening(port) {
                    return;
                }
                if start.elapsed() >= timeout {
                    eprintln!(
                        "portreg: warning: {what} has not listened on port {port} after {}s; does it read $PORT? Pass the port in its arguments with {{port}}, e.g. `-- {what} --port {{port}}`",
                        timeout.as_secs()
                    );
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
    }

    let code = loop {
        match waitpid(child, Some(WaitPidFlag::WUNTRACED)) {
            Ok(WaitStatus::Exited(_, c)) => break c,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(WaitStatus::Stopped(..)) if foreground => {
                // Ctrl-Z stopped the command: stop too, so the shell sees
                // the job stopped; on `fg`, hand the terminal back.
                give_terminal(unsafe { libc::getpgrp() });
                unsafe { libc::raise(libc::SIGTSTP) };
                give_terminal(child.as_raw());
                unsafe { libc::kill(-child.as_raw(), libc::SIGCONT) };
            }
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::Process(format!("lost track of the command: {e}"))),
        }
    };
    if foreground {
        give_terminal(unsafe { libc::getpgrp() });
    }
    // The command may have left processes of its group running (`sh -c
    // 'server &'`, a wrapper that exited first): the lease stays held, by
    // this process's holder lock, until the whole group is gone, so that
    // the name is never idle while something of it may still listen. After
    // a forwarded stop signal, what outlives it by GROUP_STOP_TIMEOUT is
    // killed.
    let mut stop_since: Option<Instant> = None;
    while group_alive(child.as_raw()) {
        if STOPPING.load(Ordering::SeqCst) {
            let since = *stop_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= GROUP_STOP_TIMEOUT {
                unsafe { libc::kill(-child.as_raw(), libc::SIGKILL) };
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done.store(true, Ordering::SeqCst);
    GROUP.store(0, Ordering::SeqCst);
    for actor in [Actor::Pid(child.as_raw() as u32), Actor::me()] {
        if let Ok(portreg_core::Released::Released { .. }) = reg.release(&name, actor) {
            break;
        }
    }
    Ok(code)
}
