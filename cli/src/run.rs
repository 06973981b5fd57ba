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
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use portreg_core::{Actor, Error, LeaseRequest, Registry};

pub struct RunArgs {
    pub req: LeaseRequest,
    pub socket: bool,
    pub host: IpAddr,
    pub bind_timeout: Duration,
    pub cmd: Vec<OsString>,
}

static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // A signal the terminal sent (Ctrl-C) already reached the child through
    // its process group; forward only the ones sent to us alone (kill).
    let from_tty = !info.is_null() && unsafe { (*info).si_code } == libc::SI_KERNEL;
    let child = CHILD.load(Ordering::SeqCst);
    if child > 0 && !from_tty {
        unsafe { libc::kill(child, sig) };
    }
}

fn install_forwarding() {
    let action = SigAction::new(
        SigHandler::SigAction(forward),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only reads an atomic and calls kill(2), both async-signal-safe.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

fn find_program(prog: &OsString) -> Option<PathBuf> {
    let p = PathBuf::from(prog);
    if prog.as_bytes().contains(&b'/') {
        return Some(p);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path).map(|d| d.join(&p)).find(|c| {
            use std::os::unix::fs::PermissionsExt;
            c.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
    })
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

    let Some(first) = args.cmd.first() else {
        return Err(Error::Process("no command given after --".into()));
    };
    let Some(program) = find_program(first) else {
        let _ = reg.release(&name, Actor::me());
        return Err(Error::Process(format!(
            "command not found: {}",
            first.to_string_lossy()
        )));
    };
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
            let _ = reg.release(&name, Actor::me());
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
        let _ = reg.release(&name, Actor::me());
        let err = std::io::Error::from_raw_os_error(i32::from_ne_bytes(errno_buf));
        return Err(Error::Process(format!(
            "cannot execute {}: {err}",
            program.display()
        )));
    }
    CHILD.store(child.as_raw(), Ordering::SeqCst);
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
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, c)) => break c,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::Process(format!("lost track of the command: {e}"))),
        }
    };
    done.store(true, Ordering::SeqCst);
    CHILD.store(0, Ordering::SeqCst);
    for actor in [Actor::Pid(child.as_raw() as u32), Actor::me()] {
        if let Ok(portreg_core::Released::Released { .. }) = reg.release(&name, actor) {
            break;
        }
    }
    Ok(code)
}
