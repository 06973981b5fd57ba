//! A child forked while other threads of its parent are leasing (a pre-fork
//! server with threads, a test harness) leases at once: it never waits on a
//! lock that one of those threads held at the fork, which no thread of the
//! child will ever free.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult};
use portreg_core::{LeaseRequest, OwnLease, PortRange, Registry};

const FORKS: usize = 150;

fn range() -> PortRange {
    PortRange::new(25700, 25799).unwrap()
}

/// Waits up to `limit` for `child` to exit: its exit code, or, if it still
/// runs (it is then killed), where each of its threads waits.
fn exit_code(child: nix::unistd::Pid, limit: Duration) -> Result<i32, String> {
    let start = Instant::now();
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)).unwrap() {
            WaitStatus::Exited(_, code) => return Ok(code),
            WaitStatus::Signaled(_, sig, _) => return Ok(128 + sig as i32),
            _ if start.elapsed() > limit => {
                let waits = waiting(child);
                let _ = kill(child, Signal::SIGKILL);
                let _ = waitpid(child, None);
                return Err(waits);
            }
            _ => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// Each thread of `pid`: the kernel function it sleeps in (a futex: a
/// lock in memory; flock: the registry's lock) and its system call.
fn waiting(pid: nix::unistd::Pid) -> String {
    let read = |p: std::path::PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten();
    tasks
        .flatten()
        .map(|t| {
            let (wchan, syscall) = (read(t.path().join("wchan")), read(t.path().join("syscall")));
            let call = syscall.split(' ').next().unwrap_or("").trim().to_string();
            format!(
                "thread {:?}: in {wchan:?}, system call {call}",
                t.file_name()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn a_child_forked_next_to_leasing_threads_leases_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reg");
    let reg = Registry::shared(&path).unwrap();
    reg.set_print_warnings(false);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // Two threads lease and release through the process-wide registry
        // and the list of the process's own leases, as a binding does.
        for t in 0..2 {
            let (path, stop) = (&path, &stop);
            s.spawn(move || {
                let req = LeaseRequest::new(format!("thread-{t}")).range(range());
                while !stop.load(Ordering::Relaxed) {
                    let reg = Registry::shared(path).unwrap();
                    let own = OwnLease::take(&reg, &req).unwrap();
                    own.release().unwrap();
                    // A breath between leases: two threads leasing back to
                    // back could keep the child from the registry's lock
                    // (flock is not fair), which is not what is tested.
                    std::thread::sleep(Duration::from_micros(100));
                }
            });
        }
        // A child that waits longer than the registry's lock timeout (30 s)
        // ends with an error, which is told apart from a hang.
        let mut hung = None;
        for k in 0..FORKS {
            // SAFETY: the child leases, releases and _exits; the allocator
            // and the registry's files are all it touches.
            let (rx, tx) = nix::unistd::pipe().unwrap();
            match unsafe { fork() }.unwrap() {
                ForkResult::Child => {
                    let done = Registry::shared(&path).and_then(|reg| {
                        let own =
                            OwnLease::take(&reg, &LeaseRequest::new("child").range(range()))?;
                        own.release()
                    });
                    if let Err(e) = &done {
                        let _ = nix::unistd::write(&tx, e.to_string().as_bytes());
                    }
                    unsafe { nix::libc::_exit(if done.is_ok() { 0 } else { 1 }) };
                }
                ForkResult::Parent { child } => match exit_code(child, Duration::from_secs(40)) {
                    Ok(0) => {}
                    Ok(code) => {
                        drop(tx);
                        let mut said = Vec::new();
                        let _ = std::io::Read::read_to_end(&mut std::fs::File::from(rx), &mut said);
                        let said = String::from_utf8_lossy(&said);
                        hung = Some(format!("child {k} failed to lease (exit {code}): {said}"));
                    }
                    Err(waits) => {
                        hung = Some(format!(
                            "child {k} of {FORKS} hung, by a lock held by a thread of its parent at the fork? {waits}"
                        ))
                    }
                },
            }
            if hung.is_some() {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        if let Some(why) = hung {
            panic!("{why}");
        }
    });
}
