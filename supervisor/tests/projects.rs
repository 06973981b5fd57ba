//! `portreg up` and friends against real processes: Python, Node and shell
//! servers on loopback, each test with its own registry and port range.
//!
//! This binary has its own runner (harness = false): run with
//! PORTREG_TEST_AS_CLI set it *is* the portreg CLI, so the tests drive the
//! real command (which forks supervisors) from outside the test process.

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::*;

const SHOP: &str = r#"
project = "shop"

[services.db]
command = ["python3", "server.py", "2", "db.json"]
health = "tcp"

[services.migrate]
command = "python3 -c 'import socket, os; socket.create_connection((\"127.0.0.1\", int(os.environ[\"DB_PORT\"]))); print(\"migrated\")' && touch migrated"
port = false
depends_on = { db = "healthy" }

[services.api]
command = "python3 server.py 0 api.json"
depends_on = { db = "healthy", migrate = "completed" }
health = "/health"
env = { DATABASE_URL = "postgres://127.0.0.1:{db.port}/shop" }
restart = "on-failure"

[services.web]
command = ["node", "server.js", "web.json"]
depends_on = ["api"]

[services.worker]
command = "echo worker sees api at $API_URL; exec sleep 300"
port = false
depends_on = { api = "started" }
"#;

fn started_at(v: &serde_json::Value) -> f64 {
    v["started"].as_f64().unwrap()
}

fn order_ports_and_env() {
    let env = Env::new();
    let dir = env.project("shop", SHOP);
    let t = Instant::now();
    let out = env.cli(&dir, &["up", "-d"]);
    let took = t.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        took >= Duration::from_secs(2),
        "db listens 2 s late, up returned after {took:?}"
    );
    let ps = env.ps(&dir);
    for s in ["db", "api", "web"] {
        assert_eq!(state_of(&ps, s), "healthy", "{ps}");
    }
    assert_eq!(state_of(&ps, "migrate"), "exited 0");
    assert_eq!(state_of(&ps, "worker"), "running");
    let (db, api, web) = (port_of(&ps, "db"), port_of(&ps, "api"), port_of(&ps, "web"));
    assert!(db != api && api != web && db != web);
    assert_eq!(service(&ps, "api")["name"], "api.shop");

    // api started only after the migration completed, which itself needed the database.
    let api_json = read_json(&dir.join("api.json"));
    let migrated = std::fs::metadata(dir.join("migrated"))
        .unwrap()
        .modified()
        .unwrap();
    let migrated = migrated
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(started_at(&api_json) >= migrated - 0.05);
    assert!(started_at(&api_json) >= started_at(&read_json(&dir.join("db.json"))) + 2.0);

    // Every service sees its own PORT and its siblings' exact ports.
    let e = &api_json["env"];
    assert_eq!(e["PORT"], api.to_string());
    assert_eq!(e["DB_PORT"], db.to_string());
    assert_eq!(e["WEB_PORT"], web.to_string());
    assert_eq!(e["WEB_URL"], format!("http://127.0.0.1:{web}"));
    assert_eq!(e["DATABASE_URL"], format!("postgres://127.0.0.1:{db}/shop"));
    assert_eq!(e["PORTREG_PROJECT"], "shop");
    assert_eq!(e["PORTREG_SERVICE"], "api");
    let w = &read_json(&dir.join("web.json"))["env"];
    assert_eq!(w["PORT"], web.to_string());
    assert_eq!(w["API_URL"], format!("http://127.0.0.1:{api}"));
    assert!(http_ok(api, "/health") && http_ok(web, "/"));
    let logs = env.cli(&dir, &["logs", "worker", "migrate"]);
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(
        logs.contains(&format!("worker sees api at http://127.0.0.1:{api}")),
        "{logs}"
    );
    assert!(logs.contains("migrate | migrated"), "{logs}");

    // The registry holds each port for the service's own process.
    let list = env.list();
    let entry = list.iter().find(|e| e["name"] == "api.shop").unwrap();
    assert_eq!(entry["state"], "active");
    assert_eq!(entry["holder"]["pid"], pid_of(&ps, "api"));

    // restart: same port, new process.
    let old = pid_of(&ps, "api");
    let out = env.cli(&dir, &["restart", "api"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ps2 = env.ps(&dir);
    assert_eq!(port_of(&ps2, "api"), api);
    assert_ne!(pid_of(&ps2, "api"), old);
    assert_eq!(
        service(&ps2, "api")["restarts"],
        1,
        "a restart by hand counts"
    );
    assert!(!alive(old));
    assert!(http_ok(api, "/"));

    // down stops everything and releases; up brings the same ports back.
    let pids: Vec<u32> = ["db", "api", "web", "worker"]
        .iter()
        .map(|s| pid_of(&ps2, s))
        .collect();
    let out = env.cli(&dir, &["down"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(pids.iter().all(|p| !alive(*p)), "all stopped: {pids:?}");
    assert!(
        env.list().iter().all(|e| e["state"] == "idle"),
        "{:?}",
        env.list()
    );
    let ps3 = env.ps(&dir);
    assert!(ps3["supervisor"].is_null());
    assert_eq!(state_of(&ps3, "api"), "stopped");
    assert_eq!(port_of(&ps3, "api"), api, "the port stays remembered");
    // Naming a service starts it and what it depends on, nothing else.
    let out = env.cli(&dir, &["up", "-d", "api"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let partial = env.ps(&dir);
    assert_eq!(state_of(&partial, "api"), "healthy");
    assert_eq!(state_of(&partial, "migrate"), "exited 0");
    assert_eq!(state_of(&partial, "web"), "stopped");
    // up with some running starts only the rest.
    let out = env.cli(&dir, &["up", "-d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rest = String::from_utf8_lossy(&out.stdout);
    assert!(
        rest.contains("web.shop") && !rest.contains("api.shop"),
        "{rest}"
    );
    assert!(
        !rest.contains("migrate"),
        "a completed task is not run again: {rest}"
    );
    let ps4 = env.ps(&dir);
    assert_eq!(pid_of(&ps4, "api"), pid_of(&partial, "api"));
    assert_eq!(
        (
            port_of(&ps4, "db"),
            port_of(&ps4, "api"),
            port_of(&ps4, "web")
        ),
        (db, api, web)
    );
    assert_eq!(env.cli(&dir, &["down"]).status.code(), Some(0));
}

fn failed_task_stops_the_start() {
    let env = Env::new();
    let dir = env.project(
        "shop",
        r#"
[services.db]
command = "python3 server.py 0"
[services.migrate]
command = "echo 'boom: relation users does not exist' >&2; exit 3"
port = false
depends_on = ["db"]
[services.api]
command = "python3 server.py 0 api.json"
depends_on = { migrate = "completed" }
"#,
    );
    let out = env.cli(&dir, &["up", "-d"]);
    assert_eq!(out.status.code(), Some(12), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap();
    assert!(
        last.contains("migrate") && last.contains("status 3") && last.ends_with("[PROCESS]"),
        "{err}"
    );
    assert!(err.contains("boom: relation users does not exist"), "{err}");
    assert!(!dir.join("api.json").exists(), "api must not start");
    let ps = env.ps(&dir);
    assert!(ps["supervisor"].is_null(), "{ps}");
    assert!(
        env.list().iter().all(|e| e["state"] != "active"),
        "{:?}",
        env.list()
    );
}

fn independent_services_start_in_parallel() {
    let env = Env::new();
    let mut toml = String::new();
    for i in 0..4 {
        toml += &format!("[services.s{i}]\ncommand = \"python3 server.py 2\"\n");
    }
    toml += "[services.a]\ncommand = \"python3 server.py 1\"\n";
    toml += "[services.b]\ncommand = \"python3 server.py 1\"\ndepends_on = [\"a\"]\n";
    let dir = env.project("par", &toml);
    let t = Instant::now();
    let out = env.cli(&dir, &["up", "-d"]);
    let took = t.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    println!("    6 services (4 x 2 s, a chain of 2 x 1 s): up in {took:.2?}; one after another would take 10 s");
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert_eq!(env.cli(&dir, &["down"]).status.code(), Some(0));
}

fn restart_policies_after_sigkill() {
    let env = Env::new();
    let dir = env.project(
        "rp",
        r#"
[services.api]
command = ["python3", "server.py", "0"]
restart = "on-failure"
[services.once]
command = "exec python3 server.py 0"
"#,
    );
    let out = env.cli(&dir, &["up", "-d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ps = env.ps(&dir);
    let (api_pid, api_port) = (pid_of(&ps, "api"), port_of(&ps, "api"));
    let once_pid = pid_of(&ps, "once");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(api_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(once_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let mut last = serde_json::Value::Null;
    let back = wait_for(20, || {
        last = env.ps(&dir);
        state_of(&last, "api") == "healthy" && service(&last, "api")["pid"] != api_pid
    });
    assert!(back, "api did not come back: {last}");
    assert_eq!(port_of(&last, "api"), api_port);
    assert_eq!(service(&last, "api")["restarts"], 1);
    assert!(http_ok(api_port, "/"));
    assert!(wait_for(5, || state_of(&env.ps(&dir), "once") == "exited 137"));
    assert_eq!(service(&env.ps(&dir), "once")["restarts"], 0);
    assert_eq!(env.cli(&dir, &["down"]).status.code(), Some(0));
}

fn two_checkouts_side_by_side() {
    let env = Env::new();
    let toml = "project = \"shop\"\n[services.api]\ncommand = \"python3 server.py 0\"\nhealth = \"/\"\n[services.web]\ncommand = [\"node\", \"server.js\"]\ndepends_on = [\"api\"]\n";
    let a = env.project("shop", toml);
    let b = env.project("shop-copy", toml);
    for d in [&a, &b] {
        let out = env.cli(d, &["up", "-d"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let (pa, pb) = (env.ps(&a), env.ps(&b));
    assert_eq!(service(&pa, "api")["name"], "api.shop");
    assert_eq!(service(&pb, "api")["name"], "api.shop-copy.shop");
    assert_eq!(pb["label"], "shop-copy");
    let ports: std::collections::BTreeSet<u16> = [&pa, &pb]
        .iter()
        .flat_map(|p| [port_of(p, "api"), port_of(p, "web")])
        .collect();
    assert_eq!(ports.len(), 4, "distinct ports: {pa} {pb}");
    for p in [&pa, &pb] {
        assert_eq!(state_of(p, "api"), "healthy");
        assert_eq!(state_of(p, "web"), "healthy");
    }
    let text_b = String::from_utf8_lossy(&env.cli(&b, &["ps"]).stdout).to_string();
    assert!(text_b.contains("checkout shop-copy") && text_b.contains("api.shop-copy.shop"));
    assert!(!text_b.contains(" api.shop "), "{text_b}");
    for d in [&a, &b] {
        assert_eq!(env.cli(d, &["down"]).status.code(), Some(0));
    }
    // Sticky: the copy keeps its names (and so its ports) next time.
    let out = env.cli(&b, &["up", "-d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let again = env.ps(&b);
    assert_eq!(service(&again, "api")["name"], "api.shop-copy.shop");
    assert_eq!(port_of(&again, "api"), port_of(&pb, "api"));
    assert_eq!(env.cli(&b, &["down"]).status.code(), Some(0));
}

fn detached_supervisor_survives_and_is_cleaned_up() {
    let env = Env::new();
    let dir = env.project(
        "det",
        "[services.api]\ncommand = \"sh -c 'python3 server.py 0'\"\n[services.web]\ncommand = [\"node\", \"server.js\"]\ndepends_on = [\"api\"]\n",
    );
    // The client runs in a session of its own that ends when it exits, as
    // a closed terminal would.
    let mut cmd = env.command(&dir, &["up", "-d"]);
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ps = env.ps(&dir);
    let sup = ps["supervisor"].as_u64().expect("a supervisor runs") as u32;
    let sid = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(sup as i32))).unwrap();
    // Double fork: a session of its own, whose leader has exited, so the
    // supervisor can never get a controlling terminal back.
    assert_ne!(sid, nix::unistd::getsid(None).unwrap());
    assert!(!alive(sid.as_raw() as u32));
    let stat = std::fs::read_to_string(format!("/proc/{sup}/stat")).unwrap();
    let tty_nr = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(4)
        .unwrap();
    assert_eq!(tty_nr, "0", "no controlling terminal");
    let (api, web) = (pid_of(&ps, "api"), pid_of(&ps, "web"));
    let (api_port, web_port) = (port_of(&ps, "api"), port_of(&ps, "web"));

    // SIGKILL the supervisor: its services live on, still holding their ports.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sup as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_for(5, || !alive(sup)));
    let ps = env.ps(&dir);
    assert!(ps["supervisor"].is_null());
    assert_eq!(state_of(&ps, "api"), "orphaned");
    for e in env.list() {
        if e["state"] == "active" {
            let pid = e["holder"]["pid"].as_u64().unwrap() as u32;
            assert!(alive(pid), "a port held by a dead process: {e}");
        }
    }
    // The next up stops what was left and starts afresh on the same ports.
    let out = env.cli(&dir, &["up", "-d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is gone; stopped what it left running"));
    assert!(!alive(api) && !alive(web));
    let ps = env.ps(&dir);
    assert_eq!(
        (port_of(&ps, "api"), port_of(&ps, "web")),
        (api_port, web_port)
    );
    assert_eq!(state_of(&ps, "web"), "healthy");
    let (api2, web2) = (pid_of(&ps, "api"), pid_of(&ps, "web"));
    // The sh -c tree goes as a whole.
    let out = env.cli(&dir, &["down"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!alive(api2) && !alive(web2));
    assert!(!portreg_core::Registry::is_listening(api_port));
    assert!(env.list().iter().all(|e| e["state"] == "idle"));
    let out = env.cli(&dir, &["down"]);
    assert_eq!(out.status.code(), Some(1), "nothing left to stop");
}

fn bad_files_start_and_lease_nothing() {
    let env = Env::new();
    let start = "command = \"touch started; python3 server.py 0\"";
    let cases: Vec<(String, &str)> = vec![
        (format!("[services.a]\n{start}\ndepends_on = [\"b\"]\n[services.b]\n{start}\ndepends_on = [\"a\"]\n"), "a -> b -> a"),
        (format!("[services.a]\n{start}\ndepends_on = [\"nope\"]\n"), "\"nope\""),
        (format!("[services.a]\n{start}\nrestrat = \"always\"\n"), "restrat"),
        (format!("[services.a]\n{start}\nport = [1\n"), "portreg.toml:3:"),
    ];
    for (toml, needle) in &cases {
        let dir = env.project("bad", toml);
        let out = env.cli(&dir, &["up", "-d"]);
        assert_eq!(out.status.code(), Some(14), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.contains(needle) && err.trim_end().ends_with("[INVALID_CONFIG]"),
            "{err}"
        );
        assert!(!dir.join("started").exists());
        assert!(env.list().is_empty(), "nothing leased: {:?}", env.list());
    }
    // An exact port another name holds: PORT_TAKEN, nothing started or held.
    let taken = env.range.split('-').next().unwrap().parse::<u16>().unwrap() + 7;
    let out = env.cli(env.work.path(), &["reserve", "other", &taken.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dir = env.project(
        "exact",
        &format!("[services.a]\n{start}\n[services.b]\n{start}\nport = {taken}\nexact = true\n"),
    );
    let out = env.cli(&dir, &["up", "-d"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.trim_end().ends_with("[PORT_TAKEN]"), "{err}");
    assert!(!dir.join("started").exists());
    assert!(
        env.list().iter().all(|e| e["state"] != "active"),
        "{:?}",
        env.list()
    );
}

fn foreground_stream_and_ctrl_c() {
    let env = Env::new();
    let dir = env.project(
        "fg",
        "[services.db]\ncommand = \"python3 server.py 0\"\n[services.api]\ncommand = [\"node\", \"server.js\"]\ndepends_on = [\"db\"]\n[services.web]\ncommand = \"exec python3 server.py 0\"\ndepends_on = [\"api\"]\n",
    );
    let mut child = env
        .command(&dir, &["up"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut lines = Vec::new();
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            let done = l.contains("service(s) up");
            lines.push(l);
            if done {
                break;
            }
        }
    }
    let all = lines.join("\n");
    assert!(all.contains("service(s) up"), "{all}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("api ") && l.contains("| node listening on")),
        "{all}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("db ") && l.contains("| python listening on")),
        "{all}"
    );
    let ps = env.ps(&dir);
    let pids: Vec<u32> = ["db", "api", "web"]
        .iter()
        .map(|s| pid_of(&ps, s))
        .collect();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
        lines.push(l);
    }
    let pos = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {lines:#?}"))
    };
    assert!(pos("web: stopped") < pos("api: stopped") && pos("api: stopped") < pos("db: stopped"));
    assert!(pids.iter().all(|p| !alive(*p)));
}

fn fifty_services_come_up_healthy() {
    let env = Env::new();
    // A hub, then 7 chains of 7 hanging off it: fan-out and depth. Each
    // service is a real listener: portreg binds the port and hands the
    // socket to the process (socket = true), which keeps it open.
    let mut toml = String::from("[services.hub]\ncommand = \"exec sleep 600\"\nsocket = true\n");
    for c in 0..7 {
        for k in 0..7 {
            let dep = if k == 0 {
                "hub".to_string()
            } else {
                format!("c{c}-{}", k - 1)
            };
            let health = if (c + k) % 2 == 0 { "tcp" } else { "listening" };
            toml += &format!(
                "[services.c{c}-{k}]\ncommand = \"exec sleep 600\"\nsocket = true\nhealth = \"{health}\"\ndepends_on = [\"{dep}\"]\n"
            );
        }
    }
    let dir = env.project("fifty", &toml);
    let t = Instant::now();
    let out = env.cli(&dir, &["up", "-d"]);
    let took = t.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ps = env.ps(&dir);
    let services = ps["services"].as_array().unwrap();
    assert_eq!(services.len(), 50);
    assert!(services.iter().all(|s| s["state"] == "healthy"), "{ps}");
    let ports: std::collections::BTreeSet<u64> = services
        .iter()
        .map(|s| s["port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports.len(), 50);
    println!(
        "    50 services (hub + 7 chains of 7) healthy in {took:.2?}: {:.1} ms per service, longest chain 8",
        took.as_secs_f64() * 1000.0 / 50.0
    );
    let t = Instant::now();
    assert_eq!(env.cli(&dir, &["down"]).status.code(), Some(0));
    println!("    and down in {:.2?}", t.elapsed());
    assert!(services
        .iter()
        .all(|s| !alive(s["pid"].as_u64().unwrap() as u32)));
}

fn a_hung_service_shows_unhealthy_then_recovers() {
    let env = Env::new();
    let dir = env.project(
        "hung",
        "[services.api]\ncommand = [\"python3\", \"server.py\", \"0\"]\nhealth = \"/\"\nhealth_interval = 0.1\n",
    );
    let out = env.cli(&dir, &["up", "-d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let pid = nix::unistd::Pid::from_raw(pid_of(&env.ps(&dir), "api") as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let mut last = serde_json::Value::Null;
    let went = wait_for(15, || {
        last = env.ps(&dir);
        state_of(&last, "api") == "unhealthy"
    });
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    assert!(went, "a stopped server is not healthy: {last}");
    assert!(wait_for(15, || state_of(&env.ps(&dir), "api") == "healthy"));
    assert_eq!(service(&env.ps(&dir), "api")["restarts"], 0);
    assert_eq!(env.cli(&dir, &["down"]).status.code(), Some(0));
}

fn socket_is_handed_over() {
    let env = Env::new();
    let dir = env.project(
        "sock",
        r#"
[services.api]
command = "python3 sock.py"
socket = true
health = "/"
[services.raw]
command = ["python3", "sock.py"]
socket = true
health = "/"
[services.envd]
command = "GREETING=hi python3 sock.py"
socket = true
health = "/"
"#,
    );
    // Serves on fd 3 only if it is the process LISTEN_PID names.
    std::fs::write(
        dir.join("sock.py"),
        r#"
import http.server, os, socket, sys
assert os.environ["LISTEN_FDS"] == "1" and int(os.environ["LISTEN_PID"]) == os.getpid(), dict(os.environ)
s = socket.socket(fileno=3)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(os.environ["LISTEN_FDNAMES"].encode())
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H, bind_and_activate=False)
srv.socket = s
srv.serve_forever()
"#,
    )
    .unwrap();
    let out = env.cli(&dir, &["up", "-d"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ps = env.ps(&dir);
    for s in ["api", "raw", "envd"] {
        assert_eq!(state_of(&ps, s), "healthy");
        assert!(http_ok(port_of(&ps, s), "/"));
    }
    assert_eq!(env.cli(&dir, &["down"]).status.code(), Some(0));

    // A compound command cannot hand the socket to one known process: the
    // start fails before anything is leased or started.
    let bad = env.project(
        "sockbad",
        "[services.ok]\ncommand = \"sleep 60\"\n[services.api]\ncommand = \"cd . && python3 sock.py\"\nsocket = true\n",
    );
    let before = env.list().len();
    let out = env.cli(&bad, &["up", "-d"]);
    assert_eq!(out.status.code(), Some(14), "{}", text(&out));
    assert!(text(&out).contains("[INVALID_CONFIG]"), "{}", text(&out));
    assert!(
        text(&out).contains("compound shell command"),
        "{}",
        text(&out)
    );
    assert_eq!(env.list().len(), before, "nothing leased: {:?}", env.list());
    assert!(env.ps(&bad)["services"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["state"] == "stopped"));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if std::env::var_os(AS_CLI).is_some() {
        std::process::exit(portreg_cli::run(&args[1..]));
    }
    let tests: Vec<(&str, fn())> = vec![
        ("order_ports_and_env", order_ports_and_env),
        ("failed_task_stops_the_start", failed_task_stops_the_start),
        (
            "independent_services_start_in_parallel",
            independent_services_start_in_parallel,
        ),
        (
            "restart_policies_after_sigkill",
            restart_policies_after_sigkill,
        ),
        ("socket_is_handed_over", socket_is_handed_over),
        (
            "a_hung_service_shows_unhealthy_then_recovers",
            a_hung_service_shows_unhealthy_then_recovers,
        ),
        ("two_checkouts_side_by_side", two_checkouts_side_by_side),
        (
            "detached_supervisor_survives_and_is_cleaned_up",
            detached_supervisor_survives_and_is_cleaned_up,
        ),
        (
            "bad_files_start_and_lease_nothing",
            bad_files_start_and_lease_nothing,
        ),
        ("foreground_stream_and_ctrl_c", foreground_stream_and_ctrl_c),
        (
            "fifty_services_come_up_healthy",
            fifty_services_come_up_healthy,
        ),
    ];
    let filter: Option<&String> = args.iter().skip(1).find(|a| !a.starts_with('-'));
    let (mut passed, mut failed) = (0, Vec::new());
    for (name, f) in tests {
        if filter.is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        println!("test {name} ...");
        match std::panic::catch_unwind(f) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed.push(name);
            }
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        failed.len()
    );
    if !failed.is_empty() {
        println!("failed: {failed:?}");
        std::process::exit(101);
    }
}
