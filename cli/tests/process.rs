//! who, conflicts, kill, run and env against real processes and sockets.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::listener::python_listener;
use common::*;

fn have_ipv6() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn who_finds_a_listener_on_ipv6_loopback_only() {
    if !have_ipv6() {
        eprintln!("no IPv6 loopback here; skipping");
        return;
    }
    let reg = Reg::new();
    let mut child = python_listener("::1", 22300, false);
    let who = reg.json(&["who", "22300", "--json"]);
    let ls = who["listeners"].as_array().unwrap();
    assert_eq!(ls.len(), 1, "{who}");
    assert_eq!(ls[0]["pid"].as_u64().unwrap() as u32, child.id());
    assert_eq!(ls[0]["addrs"], serde_json::json!(["::1"]));
    assert!(ls[0]["cmdline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a.as_str().unwrap().contains("python")));
    let text = stdout(&reg.run(&["who", "22300"]));
    assert!(
        text.contains(&format!("pid {}", child.id())) && text.contains("::1"),
        "{text}"
    );
    // exact port match only: 2230 and 223 are other ports
    assert_eq!(reg.run(&["who", "2230"]).status.code(), Some(1));
    assert_eq!(reg.run(&["who", "223"]).status.code(), Some(1));
    // and the port is never handed out while it listens there
    let got = stdout(&reg.run(&["lease", "svc", "--range", "22300-22301"]));
    assert_eq!(got.trim(), "22301");
    // who NAME looks at the name's port
    let by_name = reg.json(&["who", "svc", "--json"]);
    assert_eq!(by_name["port"], 22301);
    assert_eq!(by_name["entry"]["name"], "svc");
    // :PORT is a port; an all-digit name is reached with --name
    assert_eq!(
        reg.json(&["who", ":22300", "--json"])["listeners"],
        who["listeners"]
    );
    let got = stdout(&reg.run(&["lease", "2048", "--range", "22300-22302"]));
    assert_eq!(got.trim(), "22302");
    let by_name = reg.json(&["who", "--name", "2048", "--json"]);
    assert_eq!(
        (&by_name["port"], &by_name["entry"]["name"]),
        (&22302.into(), &"2048".into())
    );
    let as_port = reg.run(&["who", "2048", "--json"]);
    assert_eq!(as_port.status.code(), Some(1), "nothing on port 2048");
    let as_port: serde_json::Value = serde_json::from_slice(&as_port.stdout).unwrap();
    assert_eq!(as_port["port"], 2048);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn kill_escalates_to_sigkill_within_timeout_plus_one_second() {
    let reg = Reg::new();
    let mut child = python_listener("127.0.0.1", 22310, true);
    let pid = child.id().to_string();
    reg.run(&["lease", "stubborn", "--pid", &pid, "--port", "22311"]);
    let t0 = Instant::now();
    let out = reg.run(&["kill", "stubborn", "--timeout", "1"]);
    let took = t0.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(took <= Duration::from_secs(2), "took {took:?}");
    let text = stdout(&out);
    assert!(text.contains(&pid) && text.contains("SIGKILL"), "{text}");
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9));
    assert_eq!(reg.json(&["get", "stubborn", "--json"])["state"], "idle");
    // nothing left to stop
    assert_eq!(reg.run(&["kill", "stubborn"]).status.code(), Some(1));
}

#[test]
fn kill_by_port_and_refusals() {
    let reg = Reg::new();
    let mut child = python_listener("127.0.0.1", 22320, false);
    let out = reg.run(&["kill", ":22320", "--timeout", "5"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("exited"), "{}", stdout(&out));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().unwrap().signal(), Some(15));
    assert_eq!(
        reg.run(&["kill", ":22320"]).status.code(),
        Some(1),
        "nothing listens any more"
    );
    // pid 1 is never signalled
    assert!(reg
        .run(&["lease", "init", "--pid", "1", "--range", "22321-22329"])
        .status
        .success());
    let out = reg.run(&["kill", "init"]);
    assert_eq!(out.status.code(), Some(12), "{}", stderr(&out));
    assert!(stderr(&out).contains("pid 1"));
}

#[test]
fn run_hands_a_listening_socket_as_fd3() {
    let reg = Reg::new();
    let server = r#"
import os, socket
assert os.environ["LISTEN_FDS"] == "1" and os.environ["LISTEN_PID"] == str(os.getpid())
s = socket.socket(fileno=3)
c, _ = s.accept()
c.sendall(("hello from " + os.environ["LISTEN_FDNAMES"] + " on " + os.environ["PORT"]).encode())
c.close()
"#;
    let mut run = reg
        .cmd()
        .args([
            "run",
            "sock",
            "--socket",
            "--range",
            "22330-22339",
            "--",
            "python3",
            "-c",
            server,
        ])
        .spawn()
        .unwrap();
    // the port is bound before the child starts: connect as soon as it is leased
    let mut port = 0u16;
    assert!(wait_for(
        || {
            let o = reg.run(&["get", "sock"]);
            port = stdout(&o).trim().parse().unwrap_or(0);
            port != 0
        },
        10.0
    ));
    let mut conn = None;
    assert!(wait_for(
        || {
            conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok();
            conn.is_some()
        },
        10.0
    ));
    let mut reply = String::new();
    conn.unwrap().read_to_string(&mut reply).unwrap();
    assert_eq!(reply, format!("hello from sock on {port}"));
    assert!(run.wait().unwrap().success());
    assert_eq!(reg.json(&["get", "sock", "--json"])["state"], "idle");
}

#[test]
fn run_releases_after_exit_and_after_kill_and_refuses_a_second_copy() {
    let reg = Reg::new();
    // exits on its own, with its status; {port} and env are filled in
    let out = reg.run(&[
        "run",
        "once",
        "--range",
        "22340-22349",
        "--",
        "sh",
        "-c",
        "echo $PORT $ONCE_PORT {port}; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7));
    let words: Vec<String> = stdout(&out).split_whitespace().map(String::from).collect();
    assert_eq!(words.len(), 3);
    assert!(words.iter().all(|w| w == &words[0]), "{words:?}");
    assert_eq!(reg.json(&["get", "once", "--json"])["state"], "idle");

    // killed: run reports 128+9 and the name is released
    let mut run = reg
        .cmd()
        .args(["run", "long", "--range", "22340-22349", "--", "sleep", "30"])
        .spawn()
        .unwrap();
    let mut holder = 0;
    assert!(wait_for(
        || {
            let v: serde_json::Value =
                serde_json::from_slice(&reg.run(&["get", "long", "--json"]).stdout)
                    .unwrap_or_default();
            holder = v["holder"]["pid"].as_u64().unwrap_or(0);
            v["holder"]["exe"] == "sleep"
        },
        10.0
    ));
    assert_ne!(
        holder as u32,
        run.id(),
        "the child is the holder, not portreg"
    );
    let second = reg.run(&["run", "long", "--", "sleep", "1"]);
    assert_eq!(second.status.code(), Some(3));
    assert!(
        stderr(&second).contains("already running on http://127.0.0.1:"),
        "{}",
        stderr(&second)
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(holder as i32),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    assert_eq!(run.wait().unwrap().code(), Some(137));
    assert_eq!(reg.json(&["get", "long", "--json"])["state"], "idle");

    // SIGTERM to portreg run is forwarded to the child
    let mut run = reg
        .cmd()
        .args([
            "run",
            "fwd",
            "--range",
            "22340-22349",
            "--",
            "python3",
            "-c",
            "import time; print('up', flush=True); time.sleep(30)",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(run.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(run.wait().unwrap().code(), Some(128 + 15));
    assert_eq!(reg.json(&["get", "fwd", "--json"])["state"], "idle");
}

#[test]
fn run_warns_when_the_child_never_listens() {
    let reg = Reg::new();
    let out = reg.run(&[
        "run",
        "quiet",
        "--range",
        "22350-22359",
        "--bind-timeout",
        "0.5",
        "--",
        "sleep",
        "1.5",
    ]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("has not listened on port"),
        "{}",
        stderr(&out)
    );
    let out = reg.run(&[
        "run", "loud", "--range", "22350-22359", "--bind-timeout", "3", "--", "python3", "-c",
        "import socket,sys,time; s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); time.sleep(1.5)",
        "{port}",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("has not listened"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn conflicts_name_a_foreign_listener_on_a_reserved_port() {
    let reg = Reg::new();
    reg.run(&["reserve", "db", "22360"]);
    assert_eq!(reg.run(&["conflicts"]).status.code(), Some(0), "none yet");
    let mut child = python_listener("127.0.0.1", 22360, false);
    let out = reg.run(&["conflicts", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a conflict, as a linter finding"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["entry"]["name"], "db");
    assert_eq!(
        v[0]["listeners"][0]["pid"].as_u64().unwrap() as u32,
        child.id()
    );
    assert!(stdout(&reg.run(&["conflicts"])).contains(&format!("pid {}", child.id())));
    child.kill().unwrap();
    child.wait().unwrap();
    // a holder's own listener is not a conflict
    let mut run = reg
        .cmd()
        .args(["run", "mine", "--port", "22361", "--", "python3", "-c",
               "import socket,time,os; s=socket.socket(); s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen(); print('ready', flush=True); time.sleep(30)"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(run.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        reg.run(&["conflicts"]).status.code(),
        Some(0),
        "{}",
        stdout(&reg.run(&["conflicts"]))
    );
    let list = stdout(&reg.run(&["list"]));
    assert!(
        list.lines().any(|l| l.starts_with("mine")
            && l.contains("listening")
            && !l.contains("not listening")),
        "{list}"
    );
    run.kill().unwrap();
    run.wait().unwrap();
}

#[test]
fn env_exports_quoted_and_refuses_clashing_names() {
    let reg = Reg::new();
    reg.run(&["lease", "web.front", "--range", "22370-22379"]);
    reg.run(&["reserve", "db", "22379"]);
    let out = reg.run(&["env"]);
    let text = stdout(&out);
    assert!(text.contains("export WEB_FRONT_PORT='22370'"), "{text}");
    assert!(
        text.contains("export DB_URL='http://127.0.0.1:22379'"),
        "{text}"
    );
    // the output really is shell: source it and read a variable back
    let mut sh = Command::new("sh")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    write!(
        sh.stdin.take().unwrap(),
        "{text}\necho \"$WEB_FRONT_PORT\"\n"
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(sh.wait_with_output().unwrap().stdout)
            .unwrap()
            .trim(),
        "22370"
    );
    let j = reg.json(&["env", "--format", "json", "db"]);
    assert_eq!(
        j,
        serde_json::json!({"DB_PORT": "22379", "DB_URL": "http://127.0.0.1:22379"})
    );
    assert!(stdout(&reg.run(&["env", "--format", "dotenv"]))
        .lines()
        .any(|l| l == "DB_PORT=22379"));
    reg.run(&["lease", "web-front", "--range", "22370-22379"]);
    let out = reg.run(&["env"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("WEB_FRONT_PORT") && stderr(&out).contains("[INVALID_NAME]"),
        "{}",
        stderr(&out)
    );
    assert_eq!(reg.run(&["env", "nobody"]).status.code(), Some(1));
}

#[test]
fn run_gives_the_command_default_signals_and_open_stdio() {
    let reg = Reg::new();
    // SIGPIPE at its default: `yes | head -1` ends because yes dies of it
    let out = reg.run(&[
        "run",
        "pipe",
        "--range",
        "22380-22389",
        "--bind-timeout",
        "0",
        "--",
        "sh",
        "-c",
        "yes | head -n 1; grep -E '^SigIgn' /proc/$$/status",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("y\n"), "{text}");
    let ign = text.lines().find(|l| l.starts_with("SigIgn")).unwrap();
    let mask = u64::from_str_radix(ign.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(
        mask & (1 << (13 - 1)),
        0,
        "SIGPIPE must not be ignored: {ign}"
    );
    assert_eq!(
        mask & (1 << (25 - 1)),
        0,
        "SIGXFSZ must not be ignored: {ign}"
    );
}
