//! Starting one service in a process group of its own and stopping that
//! whole group: `sh -c "npm run dev"` starts npm, which starts node; the
//! signal goes to all of them, not just to sh.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use portreg_core::project::Command;
use portreg_core::{Error, Result};

/// What to start.
pub struct Spec<'a> {
    pub command: Command,
    pub cwd: &'a Path,
    pub env: Vec<(String, String)>,
    /// Hand a listening socket on this port over as fd 3 (LISTEN_FDS).
    pub socket_port: Option<u16>,
    pub name: &'a str,
}

/// A started service: the child (leader of its own process group) and the
/// read end of the pipe carrying its stdout and stderr.
pub struct Started {
    pub child: Child,
    pub output: OwnedFd,
}

fn listen(port: u16) -> std::io::Result<socket2::Socket> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(s)
}

/// How a string command with `socket = true` runs so that the program
/// that gets the socket is the shell's own process (whose pid LISTEN_PID
/// names): `exec COMMAND`, or `exec env COMMAND` when it starts with
/// `VAR=value` words. A compound command (`cd x && y`, `a; b`, a pipeline,
/// a subshell, a shell keyword) cannot hand the socket to one known
/// process: that is an error naming what to write instead.
pub(crate) fn socket_shell(cmd: &str) -> std::result::Result<String, String> {
    let s = cmd.trim();
    let s = s.strip_prefix("exec ").map_or(s, str::trim_start);
    let compound = || {
        format!(
            "socket = true hands the listening socket to one program, and `{s}` is a compound \
             shell command (the program that gets the socket would not be the process \
             LISTEN_PID names); write one command (`VAR=value` words first are fine), an \
             array, or a script that ends with `exec PROGRAM`, and use `cwd` and `env` \
             instead of `cd` and `export`"
        )
    };
    let chars: Vec<char> = s.chars().collect();
    let (mut single, mut double, mut escaped, mut back, mut subst) =
        (false, false, false, false, 0u32);
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| chars[j]);
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if !single => escaped = true,
            '\'' if !double && !back && subst == 0 => single = !single,
            _ if single => {}
            '"' if !back && subst == 0 => double = !double,
            '`' => back = !back,
            '(' if prev == Some('$') => subst += 1,
            ')' if subst > 0 => subst -= 1,
            _ if double || back || subst > 0 => {}
            ';' | '|' | '\n' | '(' | ')' => return Err(compound()),
            // `2>&1`, `>&2` and `&>` are redirections, not `&` or `&&`.
            '&' if !matches!(prev, Some('>' | '<')) && chars.get(i + 1) != Some(&'>') => {
                return Err(compound())
            }
            _ => {}
        }
    }
    let first = s.split_whitespace().next().unwrap_or("");
    const KEYWORDS: [&str; 14] = [
        "cd", "if", "for", "while", "until", "case", "{", "!", "export", "set", "source", ".",
        "eval", "exec",
    ];
    if KEYWORDS.contains(&first) {
        return Err(compound());
    }
    let assignment = first.split_once('=').is_some_and(|(name, _)| {
        let mut n = name.chars();
        n.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && n.all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    Ok(if assignment {
        format!("exec env {s}")
    } else {
        format!("exec {s}")
    })
}

/// Starts `spec`: stdin from /dev/null, stdout and stderr into one pipe,
/// in a new process group, with the caller's environment plus `spec.env`.
pub fn start(spec: &Spec) -> Result<Started> {
    let socket = match spec.socket_port {
        Some(p) => Some(listen(p).map_err(|e| {
            Error::Process(format!(
                "{}: cannot listen on 127.0.0.1:{p} to hand the socket over: {e}",
                spec.name
            ))
        })?),
        None => None,
    };
    let mut cmd = match (&spec.command, socket.is_some()) {
        (Command::Shell(s), false) => {
            let mut c = std::process::Command::new("/bin/sh");
            c.arg("-c").arg(s);
            c
        }
        // LISTEN_PID must be the pid of the program that gets the socket:
        // the shell exports its own pid and then becomes the program.
        (Command::Shell(s), true) => {
            let run =
                socket_shell(s).map_err(|why| Error::Process(format!("{}: {why}", spec.name)))?;
            let mut c = std::process::Command::new("/bin/sh");
            c.arg("-c")
                .arg(format!("LISTEN_PID=$$; export LISTEN_PID; {run}"));
            c
        }
        (Command::Exec(argv), false) => {
            let mut c = std::process::Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
        (Command::Exec(argv), true) => {
            let mut c = std::process::Command::new("/bin/sh");
            c.arg("-c")
                .arg("LISTEN_PID=$$; export LISTEN_PID; exec \"$@\"")
                .arg("sh")
                .args(argv);
            c
        }
    };
    if !spec.cwd.is_dir() {
        return Err(Error::Process(format!(
            "{}: its cwd {} is not a folder",
            spec.name,
            spec.cwd.display()
        )));
    }
    cmd.current_dir(spec.cwd);
    for k in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
        cmd.env_remove(k);
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    if socket.is_some() {
        cmd.env("LISTEN_FDS", "1").env("LISTEN_FDNAMES", spec.name);
    }
    // Close-on-exec, so that a service started at the same moment by another
    // thread does not keep this one's pipe open.
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::Process(format!("cannot make a pipe: {e}")))?;
    let wr2 = wr
        .try_clone()
        .map_err(|e| Error::Process(format!("cannot make a pipe: {e}")))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(wr))
        .stderr(Stdio::from(wr2));
    let sock_fd = socket.as_ref().map(|s| s.as_raw_fd());
    // SAFETY: only async-signal-safe calls (setpgid, dup2, fcntl) between
    // fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if nix::libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(fd) = sock_fd {
                if fd == 3 {
                    nix::libc::fcntl(3, nix::libc::F_SETFD, 0);
                } else if nix::libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| {
        let what = match &spec.command {
            Command::Exec(a) => a[0].clone(),
            Command::Shell(_) => "/bin/sh".into(),
        };
        Error::Process(format!("{}: cannot start {what}: {e}", spec.name))
    })?;
    // The child has its own copies; ours must go so the pipe ends at exit.
    drop(cmd);
    drop(socket);
    Ok(Started { child, output: rd })
}

/// Whether any process is left in process group `pgid`.
pub fn group_alive(pgid: u32) -> bool {
    pgid > 1 && killpg(Pid::from_raw(pgid as i32), None).is_ok()
}

/// Sends `sig` to every process of group `pgid` (never group 0 or 1).
pub fn signal_group(pgid: u32, sig: Signal) {
    if pgid > 1 {
        let _ = killpg(Pid::from_raw(pgid as i32), sig);
    }
}

/// Signals a group, waits up to `timeout` for it to empty, then SIGKILLs
/// it. `gone` says whether the group is empty (for a group whose leader is
/// our child, the caller must also reap the leader, which `gone` can do).
pub fn stop_group(
    pgid: u32,
    sig: Signal,
    timeout: Duration,
    mut gone: impl FnMut() -> bool,
) -> bool {
    signal_group(pgid, sig);
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if gone() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(pgid, Signal::SIGKILL);
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        if gone() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The process group of `pid` (field 5 of /proc/PID/stat).
pub fn pgid_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::socket_shell;

    #[test]
    fn a_socket_command_is_one_program() {
        let ok = |c: &str| socket_shell(c).unwrap();
        assert_eq!(ok("python3 srv.py {port}"), "exec python3 srv.py {port}");
        assert_eq!(ok("  exec node srv.js"), "exec node srv.js");
        assert_eq!(
            ok("FOO=1 BAR='a b' python3 srv.py"),
            "exec env FOO=1 BAR='a b' python3 srv.py"
        );
        assert_eq!(
            ok("srv --flag 'a;b' \"x && y\" 2>&1"),
            "exec srv --flag 'a;b' \"x && y\" 2>&1"
        );
        assert_eq!(
            ok("srv $(cat args) `id -u` >log &>all"),
            "exec srv $(cat args) `id -u` >log &>all"
        );
        assert_eq!(ok("srv a\\;b"), "exec srv a\\;b");
        for bad in [
            "cd backend && python3 srv.py",
            "python3 a.py; python3 b.py",
            "srv | tee log",
            "srv &",
            "(srv)",
            "export A=1 srv",
            "if true; then srv; fi",
            "a || b",
        ] {
            let why = socket_shell(bad).unwrap_err();
            assert!(why.contains("compound shell command"), "{bad}: {why}");
        }
    }
}
