//! This process's pid, kept once asked: glibc no longer caches it, and a
//! lease needs it a dozen times.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

/// This process's pid, asked of the kernel once (a lease asks for it a
/// dozen times, each a system call) and again in a child made by fork: the
/// child handler registered with `pthread_atfork` forgets it there.
pub(crate) fn my_pid() -> u32 {
    static PID: AtomicU32 = AtomicU32::new(0);
    static FORGET_IN_CHILD: Once = Once::new();
    extern "C" fn forget() {
        PID.store(0, Ordering::Relaxed);
    }
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    FORGET_IN_CHILD.call_once(|| {
        // SAFETY: registers a handler that only stores to an atomic, which
        // is safe in a freshly forked child.
        unsafe { nix::libc::pthread_atfork(None, None, Some(forget)) };
    });
    let pid = std::process::id();
    PID.store(pid, Ordering::Relaxed);
    pid
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pid is asked of the kernel once, and again in a forked child
    /// (whose leases must name the child, not its parent).
    #[test]
    fn my_pid_is_the_childs_own_after_fork() {
        use nix::unistd::{fork, pipe, read, write, ForkResult};
        assert_eq!(my_pid(), std::process::id());
        let (rx, tx) = pipe().unwrap();
        // SAFETY: the child only loads and stores an atomic, makes one
        // system call, writes to a pipe and exits.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let ok = my_pid() == std::process::id() && my_pid() != 0;
                let _ = write(&tx, &[u8::from(ok)]);
                unsafe { nix::libc::_exit(0) };
            }
            ForkResult::Parent { child } => {
                drop(tx);
                let mut b = [0u8; 1];
                assert_eq!(read(&rx, &mut b).unwrap(), 1);
                let _ = nix::sys::wait::waitpid(child, None);
                assert_eq!(b[0], 1, "the child saw its parent's pid");
                assert_eq!(my_pid(), std::process::id());
            }
        }
    }
}
