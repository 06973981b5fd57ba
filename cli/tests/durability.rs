//! What the disk sees, observed with strace: a new name pays for one durable
//! write of registry.json (temp file O_EXCL 0600, fsync, rename, directory
//! fsync); re-leasing a known name and releasing write only leases.json,
//! atomically (a file beside it swapped in by rename) and without any fsync.

mod common;

use std::process::Command;

use common::*;

fn strace_available() -> bool {
    Command::new("strace")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs portreg under strace and returns the file-system calls it made in
/// the registry directory, one per line.
fn traced(reg: &Reg, args: &[&str]) -> Vec<String> {
    let log = reg.path.with_extension("strace");
    let out = Command::new("strace")
        .args([
            "-f",
            "-e",
            "trace=openat,fsync,fdatasync,rename,renameat,renameat2",
            "-o",
        ])
        .arg(&log)
        .arg(bin())
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
    let tmp = pos(".registry.json.");
    assert!(
        calls[tmp].contains("O_EXCL") && calls[tmp].contains("0600"),
        "{}",
        calls[tmp]
    );
    let fsync_file = tmp
        + 1
        + calls[tmp + 1..]
            .iter()
            .position(|l| l.starts_with("fsync"))
            .expect("fsync of the temp file");
    let rename = pos("registry.json\")");
    assert!(calls[rename].starts_with("rename"), "{}", calls[rename]);
    assert!(fsync_file < rename, "fsync before rename:\n{joined}");
    let dir_open = rename + 1;
    assert!(
        calls[dir_open].starts_with("openat")
            && calls[dir_open].contains(&format!("\"{}\"", reg.path.display())),
        "{joined}"
    );
    assert!(
        calls[dir_open + 1].starts_with("fsync"),
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
        !calls.iter().any(|l| l.starts_with("openat")
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
