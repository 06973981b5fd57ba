//! `run` and `kill` with commands that start more processes: `sh -c`
//! chains, `npm run`, `npx`; and `run` inside another pid namespace.

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{stderr, stdout, wait_for, Reg};

struct Run(Child);
impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300)).is_ok()
}

fn state(reg: &Reg, name: &str) -> String {
    let v = reg.json(&["get", name, "--json"]);
    v["state"].as_str().unwrap().to_string()
}

fn start(reg: &Reg, name: &str, port: u16, cmd: &[&str], dir: Option<&std::path::Path>) -> Run {
    let p = port.to_string();
    let mut c = reg.cmd();
    c.args(["run", name, "--port", &p, "--exact", "--"])
        .args(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let run = Run(c.spawn().unwrap());
    assert!(
        wait_for(|| listening(port), 20.0),
        "{cmd:?} never listened on {port}"
    );
    run
}

/// `kill NAME` stops every process of the command's tree, reports each,
/// and leaves the port free and the name idle.
fn kill_stops_the_tree(reg: &Reg, name: &str, port: u16, mut run: Run) {
    assert_eq!(state(reg, name), "active");
    let out = reg.run(&["kill", name, "--timeout", "5", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reports: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let pids: Vec<String> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} {} {}", r["pid"], r["exe"], r["outcome"]))
        .collect();
    println!("kill {name} stopped: {}", pids.join("; "));
    assert!(
        !listening(port),
        "the server of {name} still listens on {port} after kill ({pids:?})"
    );
    assert!(pids.len() >= 2, "every process is reported: {pids:?}");
    assert_eq!(state(reg, name), "idle");
    assert!(wait_for(|| run.0.try_wait().unwrap().is_some(), 5.0));
}

#[test]
fn kill_stops_a_sh_chain_started_by_run() {
    let reg = Reg::new();
    let port = 23201;
    let run = start(
        &reg,
        "chain",
        port,
        &[
            "sh",
            "-c",
            "python3 -m http.server $PORT --bind 127.0.0.1 >/dev/null 2>&1; echo done",
        ],
        None,
    );
    kill_stops_the_tree(&reg, "chain", port, run);
}

#[test]
fn a_name_stays_active_while_its_group_listens_after_the_command_exited() {
    let reg = Reg::new();
    let port = 23202;
    // the command starts a server in the background and exits at once
    let run = start(
        &reg,
        "bg",
        port,
        &[
            "sh",
            "-c",
            "python3 -m http.server $PORT --bind 127.0.0.1 >/dev/null 2>&1 & exit 0",
        ],
        None,
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(listening(port));
    assert_eq!(state(&reg, "bg"), "active", "its server still listens");
    let taken = reg.run(&["lease", "other", "--port", &port.to_string(), "--exact"]);
    assert_eq!(taken.status.code(), Some(4), "{}", stderr(&taken));
    kill_stops_the_tree_after_exit(&reg, "bg", port, run);
}

fn kill_stops_the_tree_after_exit(reg: &Reg, name: &str, port: u16, mut run: Run) {
    let out = reg.run(&["kill", name, "--timeout", "5"]);
    println!("kill {name}: {}", stdout(&out).trim());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!listening(port));
    assert_eq!(state(reg, name), "idle");
    assert!(wait_for(|| run.0.try_wait().unwrap().is_some(), 5.0));
}

#[test]
fn sigterm_to_run_stops_the_whole_command() {
    let reg = Reg::new();
    let port = 23203;
    let mut run = start(
        &reg,
        "term",
        port,
        &[
            "sh",
            "-c",
            "python3 -m http.server $PORT --bind 127.0.0.1 >/dev/null 2>&1; echo done",
        ],
        None,
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(wait_for(|| run.0.try_wait().unwrap().is_some(), 10.0));
    assert!(!listening(port), "the server outlived portreg run");
    assert_eq!(state(&reg, "term"), "idle");
}

fn node_project() -> Option<tempfile::TempDir> {
    if Command::new("npm").arg("--version").output().is_err() {
        println!("skipped: npm is not installed");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = "require('http').createServer((q, s) => s.end('ok')).listen(+process.env.PORT, '127.0.0.1')";
    std::fs::write(
        dir.path().join("package.json"),
        serde_json::json!({
            "name": "proctree-demo",
            "version": "1.0.0",
            "private": true,
            "scripts": { "serve": format!("node -e \"{server}\"") },
        })
        .to_string(),
    )
    .unwrap();
    // a local package with a bin, which npx runs without the network
    let pkg = dir.path().join("node_modules/demo-server");
    std::fs::create_dir_all(pkg.join("bin")).unwrap();
    std::fs::write(
        pkg.join("package.json"),
        r#"{"name": "demo-server", "version": "1.0.0", "bin": {"demo-server": "bin/serve.js"}}"#,
    )
    .unwrap();
    let bin = pkg.join("bin/serve.js");
    std::fs::write(&bin, format!("#!/usr/bin/env node\n{server}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dotbin = dir.path().join("node_modules/.bin");
    std::fs::create_dir_all(&dotbin).unwrap();
    std::os::unix::fs::symlink("../demo-server/bin/serve.js", dotbin.join("demo-server")).unwrap();
    Some(dir)
}

#[test]
fn kill_stops_npm_run_and_its_server() {
    let Some(dir) = node_project() else { return };
    let reg = Reg::new();
    let port = 23204;
    let run = start(
        &reg,
        "npmweb",
        port,
        &["npm", "run", "serve"],
        Some(dir.path()),
    );
    kill_stops_the_tree(&reg, "npmweb", port, run);
}

#[test]
fn kill_stops_npx_and_its_server() {
    let Some(dir) = node_project() else { return };
    let offline = Command::new("npx")
        .args(["--offline", "--no-install", "node", "-e", "0"])
        .current_dir(dir.path())
        .output();
    if !offline.is_ok_and(|o| o.status.success()) {
        println!("skipped: npx does not run offline here");
        return;
    }
    let reg = Reg::new();
    let port = 23205;
    let run = start(
        &reg,
        "npxweb",
        port,
        &["npx", "--offline", "demo-server"],
        Some(dir.path()),
    );
    kill_stops_the_tree(&reg, "npxweb", port, run);
}

#[test]
fn run_in_another_pid_namespace_holds_its_name_until_killed() {
    if !nix::unistd::geteuid().is_root()
        || !Command::new("unshare")
            .args(["-p", "-f", "--mount-proc", "true"])
            .status()
            .is_ok_and(|s| s.success())
    {
        println!("skipped: a pid namespace needs root and unshare");
        return;
    }
    let reg = Reg::new();
    let port = 23206;
    let mut c = Command::new("unshare");
    c.args(["-p", "-f", "--mount-proc", "--kill-child"])
        .arg(common::bin())
        .arg("--registry")
        .arg(&reg.path)
        .args(["run", "nsweb", "--port", &port.to_string(), "--exact", "--"])
        .args([
            "python3",
            "-m",
            "http.server",
            "{port}",
            "--bind",
            "127.0.0.1",
        ])
        .env_remove("PORTREG_HOME")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut run = Run(c.spawn().unwrap());
    assert!(wait_for(|| listening(port), 20.0));
    for _ in 0..5 {
        assert_eq!(
            state(&reg, "nsweb"),
            "active",
            "held from another namespace"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let again = reg.run(&["lease", "nsweb"]);
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));
    run.0.kill().unwrap();
    run.0.wait().unwrap();
    assert!(wait_for(|| state(&reg, "nsweb") == "idle", 5.0));
}
