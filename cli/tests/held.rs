//! A refused lease says who holds the name: pid, directory, port and URL.

mod common;

use std::process::Command;

use common::*;

#[test]
fn lease_held_names_the_holders_directory_pid_port_and_url() {
    let reg = Reg::new();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().canonicalize().unwrap();
    let mut holder = Command::new("sleep")
        .arg("30")
        .current_dir(&dir)
        .spawn()
        .unwrap();
    let pid = holder.id().to_string();
    let out = reg.run(&["lease", "web", "--pid", &pid, "--range", "27800-27899"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let port = stdout(&out).trim().to_string();

    let out = reg.run(&["lease", "web", "--range", "27800-27899"]);
    assert_eq!(out.status.code(), Some(3));
    let msg = stderr(&out);
    assert!(msg.contains("[LEASE_HELD]"), "{msg}");
    assert!(msg.contains(&format!("pid {pid} on port {port}")), "{msg}");
    assert!(
        msg.contains(&format!("http://127.0.0.1:{port}/ in {})", dir.display())),
        "{msg}"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
}
