//! What the disk sees, observed with strace: a new name pays for one durable
//! write of registry.json (a new 0600 temp file, fsync, rename, directory
//! fsync); re-leasing a known name and releasing write only leases.json,
//! atomically (a file beside it swapped in by rename) and without any fsync.

mod common;

use std::process::Command;

use common::*;

/// Entry point of the worker processes these tests start (see common::worker).
#[test]
#[ignore = "run by the tests themselves, as a separate process"]
fn worker() {
    common::worker::main();
}

fn strace_available() -> bool {
    Command::new("strace")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs a worker process under strace and returns the file-system calls it made in
/// the registry directory, one per line.
fn traced(reg: &Reg, args: &[&str]) -> Vec<String> {
    let log = reg.path.with_extension("strace");
    let out = Command::new("strace")
        .args([
            "-f",
            "-e",
            // open too: musl's open() is that system call on x86_64.
            "trace=open,openat,fsync,fdatasync,rename,renameat,renameat2,linkat",
            "-o",
        ])
        .arg(&log)
        .arg(bin())
        .args(worker::WORKER_ARGS)
        .arg("--registry")
        .arg(&reg.path)
        .args(args)
        .env_remove("PORTREG_HOME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    let dir = reg.path.to_string_lossy().into_owned();
    // keep the calls on registry files and every fsync (fds are checked by order)
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            l.split_once(' ')
                .map(|(_, rest)| rest.trim().to_string())
                .unwrap_or_default()
        })
        .filter(|l| l.contains(&dir) || l.starts_with("fsync") || l.starts_with("fdatasync"))
        .filter(|l| !l.contains("registry.lock") && !l.contains("config.toml"))
        .collect();
    lines
}

fn require_strace() -> bool {
    if strace_available() {
        return true;
    }
    assert!(
        std::env::var_os("PORTREG_REQUIRE_STRACE").is_none(),
        "strace is required here (scripts/test-rust.sh installs it)"
    );
    eprintln!("strace not installed: skipping the syscall checks");
    false
}

#[test]
fn new_name_is_durable_known_name_and_release_never_fsync() {
    if !require_strace() {
        return;
    }
    let reg = Reg::new();
    assert!(reg
        .run(&["lease", "seed", "--range", "22400-22409"])
        .status
        .success());

    // under strace the parent is strace: name this test process as the holder
    let me = std::process::id().to_string();
    let calls = traced(
        &reg,
        &["lease", "web", "--range", "22400-22409", "--pid", &me],
    );
    let joined = calls.join("\n");
    let pos = |pat: &str| {
        calls
            .iter()
            .position(|l| l.contains(pat))
            .unwrap_or_else(|| panic!("no {pat:?} in\n{joined}"))
    };
    let fd_of = |line: &str| {
        line.rsplit("= ")
            .next()
            .and_then(|fd| fd.trim().parse::<u32>().ok())
            .unwrap_or_else(|| panic!("no fd in {line}"))
    };
    // The new file: either created without a name (O_TMPFILE, 0600) in the
    // registry directory, fsynced, then linked under a fresh temp name; or
    // created with that temp name (O_EXCL, 0600) and fsynced.
    let named = pos(".registry.json.");
    let (file_fd, created) = if calls[named].starts_with("linkat") {
        let created = calls
            .iter()
            .position(|l| l.contains("O_TMPFILE"))
            .unwrap_or_else(|| panic!("linked a file never created:\n{joined}"));
        assert!(created < named, "{joined}");
        let fd = fd_of(&calls[created]);
        assert!(
            calls[named].contains(&format!("\"/proc/self/fd/{fd}\"")),
            "{}",
            calls[named]
        );
        (fd, created)
    } else {
        assert!(calls[named].contains("O_EXCL"), "{}", calls[named]);
        (fd_of(&calls[named]), named)
    };
    assert!(calls[created].contains("0600"), "{}", calls[created]);
    let fsync_file = calls
        .iter()
        .position(|l| l.starts_with(&format!("fsync({file_fd})")))
        .unwrap_or_else(|| panic!("no fsync of the new file:\n{joined}"));
    assert!(created < fsync_file, "{joined}");
    let rename = pos("registry.json\")");
    assert!(calls[rename].starts_with("rename"), "{}", calls[rename]);
    assert!(fsync_file < rename, "fsync before rename:\n{joined}");
    // the directory: opened (its fd read from the open or openat line), then
    // fsynced through that fd after the rename
    let dir_open = calls
        .iter()
        .position(|l| {
            l.contains(&format!("\"{}\"", reg.path.display())) && !l.contains("O_TMPFILE")
        })
        .unwrap_or_else(|| panic!("directory never opened:\n{joined}"));
    assert!(calls[dir_open].starts_with("open"), "{joined}");
    let dir_fd = fd_of(&calls[dir_open]);
    assert!(
        calls[rename + 1..]
            .iter()
            .any(|l| l.starts_with(&format!("fsync({dir_fd})"))),
        "directory fsync after rename:\n{joined}"
    );
    let fsyncs = calls
        .iter()
        .filter(|l| l.starts_with("fsync") || l.starts_with("fdatasync"))
        .count();
    assert_eq!(fsyncs, 2, "exactly one durable write:\n{joined}");
    // leases.json: written through a temp or spare file in the directory,
    // then swapped in by a rename, never in place
    assert!(
        calls.iter().any(|l| l.contains(".leases.json.")),
        "{joined}"
    );
    assert!(
        !calls.iter().any(|l| l.starts_with("open")
            && l.contains("/leases.json\"")
            && l.contains("O_WRONLY")),
        "{joined}"
    );
    // and only once registry.json is in place: a writer killed in between
    // leaves the new entry idle, never a holder of a name the registry lacks
    let leases_in = calls
        .iter()
        .position(|l| l.starts_with("rename") && l.contains("/leases.json\""))
        .unwrap_or_else(|| panic!("no rename onto leases.json in\n{joined}"));
    assert!(
        rename < leases_in,
        "leases.json replaced before registry.json:\n{joined}"
    );

    // release and re-lease of a known name: no fsync, registry.json untouched
    for args in [
        &["release", "web"][..],
        &["lease", "web", "--range", "22400-22409", "--pid", &me][..],
    ] {
        let calls = traced(&reg, args);
        let joined = calls.join("\n");
        assert!(
            !calls
                .iter()
                .any(|l| l.starts_with("fsync") || l.starts_with("fdatasync")),
            "{args:?}:\n{joined}"
        );
        assert!(
            !calls.iter().any(|l| l.contains(".registry.json.")),
            "{args:?} rewrote registry.json:\n{joined}"
        );
        assert!(
            calls
                .iter()
                .any(|l| l.starts_with("rename") && l.contains("leases.json")),
            "{args:?}:\n{joined}"
        );
    }
}
