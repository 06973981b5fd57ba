//! The worker: what the multi-process tests run as a separate process. Each
//! test binary is its own worker program: the tests start it again with
//! [`WORKER_ARGS`], which makes the test harness run only the ignored test
//! `worker`, and that test calls [`main`] on the words after `--`.
//!
//! It speaks the few commands the tests need, in the portreg CLI's words,
//! through the Rust API, and reports as the CLI does: the port (or JSON) on
//! stdout, `portreg: error: MESSAGE [CODE]` on stderr, and the code's exit
//! status; 1 when there was nothing to do.

use std::io::Write;
use std::path::PathBuf;

use portreg_core::{Actor, LeaseRequest, Registry, Released, State, Target};

/// Arguments that make a test binary act as the worker; the worker's own
/// words follow.
pub const WORKER_ARGS: [&str; 7] = [
    "--exact",
    "--ignored",
    "--nocapture",
    "--test-threads=1",
    "-q",
    "worker",
    "--",
];

/// What the harness prints before the worker runs.
pub const PREAMBLE: &str = "running 1 test\n";

/// Runs the worker on the words after `--` and exits with its status. Does
/// nothing when the binary was not started as a worker.
pub fn main() {
    let args: Vec<String> = std::env::args().skip_while(|a| a != "--").skip(1).collect();
    if args.is_empty() {
        return;
    }
    // As the portreg binary does: under a file-size limit a write past it
    // fails with EFBIG (an IO error, the registry untouched) instead of
    // killing the process with SIGXFSZ.
    // SAFETY: ignoring a signal installs no handler code.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGXFSZ,
            nix::sys::signal::SigHandler::SigIgn,
        );
    }
    let code = match run(&args) {
        Ok(code) => code,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("portreg: error: {e} [{}]", e.code());
            e.code().exit_code()
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// The value after `flag`, if given.
fn opt<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn flag(args: &[String], flag: &str) -> bool {
    args.iter().any(|a| a == flag)
}

fn run(args: &[String]) -> portreg_core::Result<i32> {
    let registry = PathBuf::from(opt(args, "--registry").expect("--registry PATH"));
    let i = args.iter().position(|a| a == "--registry").unwrap() + 2;
    let (cmd, rest) = args[i..].split_first().expect("a command");
    let name = rest.first().map(String::as_str).unwrap_or("");
    let reg = Registry::open(&registry)?;
    match cmd.as_str() {
        "lease" => {
            let mut req = LeaseRequest::new(name);
            if let Some(r) = opt(rest, "--range") {
                req.range = Some(r.parse()?);
            }
            if let Some(p) = opt(rest, "--port") {
                req.port = Some(portreg_core::allocate::parse_port(p)?);
            }
            req.exact = flag(rest, "--exact");
            req.description = opt(rest, "-d").map(str::to_string);
            // the holder: the given pid, else the parent (the shell or script)
            req.pid = Some(match opt(rest, "--pid") {
                Some(p) => p.parse().expect("--pid PID"),
                None => nix::unistd::getppid().as_raw() as u32,
            });
            println!("{}", reg.lease(&req)?.port);
            Ok(0)
        }
        "hold" => {
            // This process holds the lease until its stdin closes.
            let mut req = LeaseRequest::new(name);
            if let Some(r) = opt(rest, "--range") {
                req.range = Some(r.parse()?);
            }
            println!("{}", reg.lease(&req)?.port);
            let _ = std::io::stdout().flush();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
            Ok(0)
        }
        "churn" => {
            // Leases and releases NAME on this one registry until killed,
            // so that it writes leases.json again and again (in place, once
            // it wrote the file last); says "ready" after the first round.
            let mut req = LeaseRequest::new(name);
            if let Some(r) = opt(rest, "--range") {
                req.range = Some(r.parse()?);
            }
            let me = Actor::Pid(std::process::id());
            for round in 0u64.. {
                reg.lease(&req)?;
                reg.release(name, me)?;
                if round == 0 {
                    println!("ready");
                    let _ = std::io::stdout().flush();
                }
            }
            Ok(0)
        }
        "relimit" => {
            // Leases and releases NAME on this one registry (so that it
            // holds leases.json for an edit in place), lowers its own
            // file-size limit to BYTES, then leases NAME again.
            let bytes: u64 = rest[1].parse().expect("BYTES");
            let me = Actor::Pid(std::process::id());
            for _ in 0..2 {
                reg.lease(&LeaseRequest::new(name))?;
                reg.release(name, me)?;
            }
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_FSIZE, bytes, bytes)
                .expect("setrlimit");
            println!("{}", reg.lease(&LeaseRequest::new(name))?.port);
            Ok(0)
        }
        "release" => match reg.release(name, Actor::Force)? {
            Released::Released { port, pid } => {
                println!("released {name} (port {port}, was held by pid {pid})");
                Ok(0)
            }
            Released::NotHeld => {
                eprintln!("portreg: {name} is not held by any live process; nothing to do");
                Ok(1)
            }
        },
        "reserve" => {
            let port = portreg_core::allocate::parse_port(&rest[1])?;
            println!("{}", reg.reserve(name, port, None)?.port);
            Ok(0)
        }
        "forget" => {
            reg.forget(name, flag(rest, "--force"))?;
            Ok(0)
        }
        "rename" => {
            let new = rest.get(1).map(String::as_str).unwrap_or_default();
            reg.rename(name, new, flag(rest, "--force"))?;
            Ok(0)
        }
        "get" => match reg.get(name)? {
            Some(e) => {
                println!("{}", e.port);
                Ok(0)
            }
            None => {
                eprintln!("portreg: {name:?} is not in the registry");
                Ok(1)
            }
        },
        "list" => {
            let all = flag(rest, "--all");
            let entries: Vec<_> = reg
                .list()?
                .into_iter()
                .filter(|e| all || e.state != State::Idle)
                .collect();
            if flag(rest, "--json") {
                println!("{}", serde_json::to_string_pretty(&entries).unwrap());
            } else {
                for e in &entries {
                    println!("{} {} {}", e.name, e.port, e.state.as_str());
                }
            }
            Ok(0)
        }
        "kill" => {
            let target: Target = name.parse()?;
            let secs: f64 = opt(rest, "--timeout").map_or(5.0, |t| t.parse().unwrap());
            let timeout = portreg_core::target::kill_timeout(Some(secs))?;
            let reports = reg.kill_with(&target, timeout, flag(rest, "--any-user"))?;
            for r in &reports {
                println!("{} {} {}", r.pid, r.exe, r.outcome);
            }
            Ok(if reports.is_empty() { 1 } else { 0 })
        }
        other => panic!("the worker does not know {other:?}"),
    }
}
