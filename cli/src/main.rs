//! The `portreg` binary. It starts without Rust's runtime set-up (`no_main`):
//! that set-up installs a stack-overflow handler whose first step, under
//! glibc, has `pthread_getattr_np` read and parse /proc/self/maps, and whose
//! alternate signal stack costs five more system calls: 0.08 ms of the 1.1
//! ms a `portreg get` took. What else the set-up does that a command line relies on is
//! done here: the standard descriptors are reopened on /dev/null when closed,
//! SIGPIPE is ignored, and a panic still exits with status 101. Without the
//! handler, a stack overflow ends the process with SIGSEGV and no message.
#![no_main]

use std::ffi::{c_char, c_int, CStr, OsString};
use std::os::unix::ffi::OsStringExt;

use nix::libc;

#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // SAFETY: runs first, on the only thread; argv holds argc C strings, as
    // the C runtime passes them to main.
    let args: Vec<OsString> = unsafe {
        // Before anything is allocated, as the crate asks: a process forked
        // while another thread holds the allocator's lock (`portreg up
        // --detach`, `run`) finds it free in the child.
        #[cfg(target_os = "linux")]
        dlmalloc::enable_alloc_after_fork();
        reopen_closed_std_fds();
        // A write to a closed pipe (`portreg list | head -1`) fails with
        // EPIPE instead of killing the process, as under Rust's own start-up;
        // `run` puts SIGPIPE back to the default for the command it starts.
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        // Under a file-size limit (ulimit -f) a write past it would kill the
        // process with SIGXFSZ; ignored, the write fails with EFBIG and
        // portreg reports an IO error, the registry untouched.
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        (0..usize::try_from(argc).unwrap_or(0))
            .map(|i| OsString::from_vec(CStr::from_ptr(*argv.add(i)).to_bytes().to_vec()))
            .collect()
    };
    portreg_cli::exits_after_run();
    // A panic has printed its message through the hook; 101, as Rust's own
    // start-up exits with.
    let code = std::panic::catch_unwind(|| portreg_cli::run(args)).unwrap_or(101);
    // Flushes stdout, as returning from a Rust main would.
    std::process::exit(code);
}

/// Opens /dev/null on whichever of descriptors 0, 1 and 2 is closed, so that
/// no file portreg opens (registry.lock, a temp file) can take their place
/// and receive what is printed. One poll tells which are closed.
unsafe fn reopen_closed_std_fds() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    while libc::poll(fds.as_mut_ptr(), 3, 0) == -1 {
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // poll refused (RLIMIT_NOFILE below 3): ask each descriptor.
            for fd in &mut fds {
                if libc::fcntl(fd.fd, libc::F_GETFD) == -1 {
                    fd.revents = libc::POLLNVAL;
                }
            }
            break;
        }
    }
    for fd in fds.iter().filter(|fd| fd.revents & libc::POLLNVAL != 0) {
        // Descriptors are handed out lowest first: this one lands on fd.fd.
        if libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) != fd.fd {
            libc::abort();
        }
    }
}

/// `pow` for the glibc build, from the libm crate (musl's implementation, the
/// one the static build links). It is the only libm.so function the binary
/// calls (tokio's scheduler, in `portreg dashboard`); defined here, the
/// linker leaves libm.so out and no start pays for loading it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

/// The allocator, on Linux. musl's malloc (the static build's) hands memory
/// back to the kernel as soon as it is freed and maps it again for the next
/// use: on a registry of 1,000 names `portreg list` made 120 mmap and 58
/// munmap calls and 350 more page faults than under glibc (`strace -c`,
/// `perf stat`). Median of 300 runs each (`hyperfine -N`), musl's malloc
/// against this one: `list` of 1,000 names 5.8 to 4.3 ms, of 100 names 1.49
/// to 1.10 ms, `get` 0.75 to 0.62 ms, `--version` 0.55 to 0.45 ms. Under
/// glibc it is a little faster than glibc's own (`perf stat`, mean of 300
/// runs: `get` 1.20 to 1.11 ms; of 100 runs: `list` of 1,000 names 5.18 to
/// 4.97 ms), so both builds use it.
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
