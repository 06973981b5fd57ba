//! This process's own: its pid, kept once asked (glibc no longer caches it,
//! and a lease needs it a dozen times), and [`PerProcess`] values, which a
//! child made by `fork` makes afresh instead of inheriting.
//!
//! Nothing here takes a lock. A child forked while another thread of its
//! parent held a lock inherits that lock held, by a thread the child does
//! not have, and would wait on it for ever: a pre-fork server whose threads
//! lease, or a test harness that forks next to other tests, must not hang.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

static PID: AtomicU32 = AtomicU32::new(0);

/// How many forks lie between the process that started this program and
/// this one, counted in each child by the `pthread_atfork` handler.
static FORKS: AtomicU64 = AtomicU64::new(0);

extern "C" fn in_child() {
    PID.store(0, Ordering::Relaxed);
    FORKS.fetch_add(1, Ordering::Relaxed);
}

/// Registers [`in_child`] once. No `Once`: a fork during another thread's
/// `call_once` would leave the child's copy running for ever. Two threads
/// racing here may both register it; a child then counts two forks, which
/// is as good as one.
fn watch_forks() {
    static WATCHING: AtomicBool = AtomicBool::new(false);
    if !WATCHING.load(Ordering::Acquire) {
        // SAFETY: the handler only stores to atomics, which is safe in a
        // freshly forked child.
        unsafe { nix::libc::pthread_atfork(None, None, Some(in_child)) };
        WATCHING.store(true, Ordering::Release);
    }
}

/// This process's pid, asked of the kernel once (a lease asks for it a
/// dozen times, each a system call) and again in a child made by fork.
pub(crate) fn my_pid() -> u32 {
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    watch_forks();
    let pid = std::process::id();
    PID.store(pid, Ordering::Relaxed);
    pid
}

/// Whether this process was made by `fork` from one that had used portreg
/// (and so may have had threads of its own: see `store::lock`).
pub(crate) fn forked() -> bool {
    whoami().1 > 0
}

/// Which process a [`PerProcess`] value was made in: the pid tells a child
/// from its parent even before the fork handler is registered, and the fork
/// count tells a child from an ancestor whose pid it was given again.
fn whoami() -> (u32, u64) {
    let pid = my_pid();
    (pid, FORKS.load(Ordering::Relaxed))
}

struct Slot<T> {
    made_in: (u32, u64),
    value: T,
}

/// A process-wide value made on first use, without a lock, and made afresh
/// in a forked child (which never touches its parent's copy: that copy may
/// be a `Mutex` some thread of the parent held at the fork).
///
/// A value is never dropped: a parent's copy left behind in a child is
/// leaked there, once per fork.
pub(crate) struct PerProcess<T> {
    slot: AtomicPtr<Slot<T>>,
}

// SAFETY: the value is shared between threads by reference only.
unsafe impl<T: Send + Sync> Sync for PerProcess<T> {}

impl<T> PerProcess<T> {
    pub(crate) const fn new() -> Self {
        PerProcess {
            slot: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// This process's value, if it has made one.
    pub(crate) fn get(&self) -> Option<&T> {
        let me = whoami();
        // SAFETY: a published slot is never freed.
        let slot = unsafe { self.slot.load(Ordering::Acquire).as_ref() }?;
        (slot.made_in == me).then_some(&slot.value)
    }

    /// This process's value, made by `make` if it has none yet. Threads
    /// racing to make the first one may each call `make`; one value wins.
    pub(crate) fn get_or_init(&self, make: impl FnOnce() -> T) -> &T {
        let me = whoami();
        let mut seen = self.slot.load(Ordering::Acquire);
        // SAFETY: a published slot is never freed.
        if let Some(slot) = unsafe { seen.as_ref() } {
            if slot.made_in == me {
                return &slot.value;
            }
        }
        let ours = Box::into_raw(Box::new(Slot {
            made_in: me,
            value: make(),
        }));
        loop {
            match self
                .slot
                .compare_exchange(seen, ours, Ordering::AcqRel, Ordering::Acquire)
            {
                // SAFETY: published just now, never freed.
                Ok(_) => return unsafe { &(*ours).value },
                Err(now) => {
                    // SAFETY: a published slot is never freed.
                    if let Some(slot) = unsafe { now.as_ref() } {
                        if slot.made_in == me {
                            // SAFETY: `ours` was never published.
                            drop(unsafe { Box::from_raw(ours) });
                            return &slot.value;
                        }
                    }
                    seen = now;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::unistd::{fork, pipe, read, write, ForkResult};

    /// Runs `child` in a forked child and returns the byte it answers.
    fn in_a_child(child: impl FnOnce() -> u8) -> u8 {
        let (rx, tx) = pipe().unwrap();
        // SAFETY: the children below touch atomics, a mutex made in the
        // child, a pipe and _exit.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let _ = write(&tx, &[child()]);
                unsafe { nix::libc::_exit(0) };
            }
            ForkResult::Parent { child } => {
                drop(tx);
                let mut b = [0u8; 1];
                let n = read(&rx, &mut b).unwrap();
                let _ = nix::sys::wait::waitpid(child, None);
                assert_eq!(n, 1, "the child answered nothing");
                b[0]
            }
        }
    }

    /// The pid is asked of the kernel once, and again in a forked child
    /// (whose leases must name the child, not its parent).
    #[test]
    fn my_pid_is_the_childs_own_after_fork() {
        assert_eq!(my_pid(), std::process::id());
        let ok = in_a_child(|| u8::from(my_pid() == std::process::id() && my_pid() != 0));
        assert_eq!(ok, 1, "the child saw its parent's pid");
        assert_eq!(my_pid(), std::process::id());
    }

    /// A child forked while its parent holds a per-process mutex makes its
    /// own instead of waiting for ever on the parent's, and the parent's
    /// value stays the parent's.
    #[test]
    fn a_child_forked_while_the_lock_is_held_gets_its_own() {
        static HELD: PerProcess<std::sync::Mutex<u32>> = PerProcess::new();
        let guard = HELD
            .get_or_init(|| std::sync::Mutex::new(7))
            .lock()
            .unwrap();
        let seen = in_a_child(|| {
            let mine = HELD.get().is_none();
            let mut v = HELD
                .get_or_init(|| std::sync::Mutex::new(1))
                .lock()
                .unwrap();
            *v += 1;
            if mine {
                *v as u8
            } else {
                0
            }
        });
        assert_eq!(seen, 2, "the child used its parent's value");
        assert_eq!(*guard, 7);
    }

    /// Threads racing to make the first value all get the same one.
    #[test]
    fn racing_threads_share_one_value() {
        static ONE: PerProcess<String> = PerProcess::new();
        let seen: Vec<usize> = std::thread::scope(|s| {
            let all: Vec<_> = (0..8)
                .map(|i| {
                    s.spawn(move || ONE.get_or_init(|| i.to_string()) as *const String as usize)
                })
                .collect();
            all.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(seen.windows(2).all(|w| w[0] == w[1]));
    }
}
