//! `portreg release NAME` acts for the calling shell's own lease (its parent
//! process, as `lease` records) or a dead holder; another live holder needs
//! `--force`, so a late release cannot free a running service's port.

mod common;

use std::process::{Child, Command, Stdio};

use common::*;

fn sleeper() -> Child {
    Command::new("sleep")
        .arg("60")
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

fn holder_pid(reg: &Reg, name: &str) -> Option<u64> {
    reg.json(&["get", name, "--json"])["holder"]["pid"].as_u64()
}

/// Runs `script` in `sh`, `$P` being portreg on `reg`'s registry.
fn sh(reg: &Reg, script: &str) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("P", bin())
        .env("R", &reg.path)
        .env_remove("PORTREG_HOME")
        .env_remove("PORTREG_RANGE")
        .output()
        .unwrap()
}

#[test]
fn another_live_holder_is_refused_without_force() {
    let reg = Reg::new();
    let mut svc = sleeper();
    let pid = svc.id().to_string();
    assert!(reg.run(&["lease", "svc", "--pid", &pid]).status.success());

    // This test process is the CLI's parent, not the holder.
    let out = reg.run(&["release", "svc"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("portreg: error: svc is held by pid "),
        "{err}"
    );
    assert!(
        err.contains("--force") && err.ends_with("[NOT_HOLDER]\n"),
        "{err}"
    );
    assert_eq!(stdout(&out), "");
    assert_eq!(holder_pid(&reg, "svc"), Some(svc.id() as u64), "still held");

    // The holder itself, named with --pid, may release.
    let out = reg.run(&["release", "svc", "--pid", &pid]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(holder_pid(&reg, "svc"), None);

    assert!(reg.run(&["lease", "svc", "--pid", &pid]).status.success());
    let out = reg.run(&["release", "svc", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("released svc"), "{}", stdout(&out));
    assert_eq!(holder_pid(&reg, "svc"), None);
    svc.kill().unwrap();
    svc.wait().unwrap();
}

#[test]
fn a_script_releases_its_own_lease() {
    let reg = Reg::new();
    let out = sh(
        &reg,
        r#"PORT=$("$P" --registry "$R" lease own) && "$P" --registry "$R" release own"#,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("released own"), "{}", stdout(&out));
}

#[test]
fn a_late_release_from_an_earlier_script_leaves_the_running_service_alone() {
    let reg = Reg::new();
    // An earlier run's script leased web and is gone; a service holds web now.
    let out = sh(
        &reg,
        r#""$P" --registry "$R" lease web --range 27600-27699"#,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let port = stdout(&out).trim().to_string();
    let mut svc = sleeper();
    let svc_pid = svc.id().to_string();
    let out = reg.run(&["lease", "web", "--pid", &svc_pid]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), port, "the idle name kept its port");

    // The earlier script's EXIT trap, run late from another shell.
    let out = sh(&reg, r#""$P" --registry "$R" release web"#);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(holder_pid(&reg, "web"), Some(svc.id() as u64));
    // So the next lease of web does not get the service's port.
    let out = sh(&reg, r#""$P" --registry "$R" lease web"#);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("[LEASE_HELD]"), "{}", stderr(&out));
    svc.kill().unwrap();
    svc.wait().unwrap();
}

#[test]
fn a_dead_holder_counts_as_none() {
    let reg = Reg::new();
    let out = sh(
        &reg,
        r#""$P" --registry "$R" lease gone --range 27700-27799"#,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let port: u64 = stdout(&out).trim().parse().unwrap();
    // The shell that held it has exited: releasing needs no --force.
    let out = reg.run(&["release", "gone"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing to do"), "{}", stderr(&out));
    let e = reg.json(&["get", "gone", "--json"]);
    assert_eq!(e["state"], "idle");
    assert_eq!(e["port"].as_u64(), Some(port));
}
