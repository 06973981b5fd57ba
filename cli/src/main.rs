fn main() {
    // Under a file-size limit (ulimit -f) a write past it would kill the
    // process with SIGXFSZ; ignored, the write fails with EFBIG and portreg
    // reports an IO error, the registry untouched.
    // SAFETY: setting a signal to SIG_IGN before any thread starts.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGXFSZ,
            nix::sys::signal::SigHandler::SigIgn,
        );
    }
    portreg_cli::exits_after_run();
    let code = portreg_cli::run(std::env::args_os());
    std::process::exit(code);
}
