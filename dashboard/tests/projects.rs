//! Projects in the dashboard's API: two checkouts of one project brought up
//! with `portreg up -d` (small Python and shell services), grouped with
//! their supervisor's view of each service (state, restarts); restart, stop
//! and start go through the checkout's running supervisor; forged requests
//! change nothing.
//! Ports: dashboard 26400, services 26410-26449 (this file's slice).

mod common;
use common::*;

use std::path::{Path, PathBuf};

use serde_json::Value;

const DASH: u16 = 26400;

const PROJECT: &str = r#"project = "dashshop"

[services.db]
command = "exec python3 -m http.server {port} --bind 127.0.0.1"
port = 26410
health = "tcp"

[services.api]
command = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
port = 26411
health = "/"
depends_on = ["db"]
stop_timeout = 3

[services.worker]
command = "while true; do sleep 0.2; done"
port = false
depends_on = { api = "healthy" }
"#;

/// A checkout of the project in `dir`, taken down (whatever a test did)
/// when dropped.
struct Checkout<'a> {
    reg: &'a Reg,
    dir: PathBuf,
}

impl<'a> Checkout<'a> {
    fn up(reg: &'a Reg, dir: PathBuf, toml: &str) -> Checkout<'a> {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("portreg.toml"), toml).unwrap();
        let c = Checkout { reg, dir };
        let out = c.cli(&["up", "-d"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "up -d: {}{}",
            stdout(&out),
            stderr(&out)
        );
        c
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        self.reg
            .cmd()
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap()
    }

    fn ps(&self) -> Value {
        let out = self.cli(&["ps", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        let _ = self.cli(&["down"]);
    }
}

fn checkout<'v>(projects: &'v Value, key: &str) -> &'v Value {
    projects
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["checkout"] == key)
        .unwrap_or_else(|| panic!("no checkout {key} in {projects:#}"))
}

fn service<'v>(c: &'v Value, name: &str) -> &'v Value {
    c["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {c:#}"))
}

fn alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn http_ok(port: u64) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port as u16)).is_ok()
}

#[test]
fn projects_are_grouped_and_restarted_or_stopped_through_their_supervisor() {
    let reg = Reg::new();
    let work = tempfile::tempdir().unwrap();
    let main = Checkout::up(&reg, work.path().join("dashshop"), PROJECT);
    // Another folder with the same project name: a checkout of its own.
    let copy = Checkout::up(&reg, work.path().join("feature-x"), PROJECT);
    let dash = Dash::start(&reg, DASH);

    // ---- grouping: both checkouts, each service with its supervisor's view
    let projects = dash.get("/api/projects");
    assert_eq!(projects.status, 200, "{}", projects.text());
    let projects = projects.json();
    assert_eq!(projects.as_array().unwrap().len(), 2, "{projects:#}");
    let first = checkout(&projects, "dashshop");
    assert_eq!(first["project"], "dashshop");
    assert_eq!(first["label"], Value::Null);
    assert_eq!(first["root"], main.dir.to_str().unwrap());
    let second = checkout(&projects, "feature-x.dashshop");
    assert_eq!(second["label"], "feature-x");
    assert_eq!(second["root"], copy.dir.to_str().unwrap());
    for c in [first, second] {
        assert!(
            c["supervisor"].as_u64().is_some(),
            "a live supervisor: {c:#}"
        );
        assert_eq!(service(c, "db")["state"], "healthy");
        assert_eq!(service(c, "api")["state"], "healthy");
        assert_eq!(service(c, "worker")["state"], "running");
        for s in ["db", "api", "worker"] {
            assert_eq!(service(c, s)["restarts"], 0);
        }
    }
    assert_eq!(service(first, "api")["name"], "api.dashshop");
    assert_eq!(service(second, "api")["name"], "api.feature-x.dashshop");
    assert_eq!(service(first, "api")["port"], 26411);
    let api2_port = service(second, "api")["port"].as_u64().unwrap();
    assert_ne!(api2_port, 26411, "the second checkout has ports of its own");
    assert_eq!(service(first, "worker")["port"], Value::Null);
    // What ps says is what the dashboard says.
    let ps = main.ps();
    for s in ["db", "api", "worker"] {
        let p = ps["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["service"] == s)
            .unwrap();
        assert_eq!(p["pid"], service(first, s)["pid"], "{s}");
        assert_eq!(p["port"], service(first, s)["port"], "{s}");
    }
    // The live snapshot carries the same projects.
    let snap = snapshot(&dash);
    assert_eq!(snap["projects"].as_array().unwrap().len(), 2, "{snap:#}");
    assert_eq!(
        service(checkout(&snap["projects"], "dashshop"), "api")["state"],
        "healthy"
    );

    // ---- forged requests are refused and change nothing
    let api_pid = service(first, "api")["pid"].as_u64().unwrap();
    let state_file = reg.path.join("projects/dashshop/state.json");
    let before = std::fs::read(&state_file).unwrap();
    let path = "/api/projects/dashshop/services/api/restart";
    let origin = format!("http://{}", dash.host);
    let forged: Vec<(&str, Resp)> = vec![
        (
            "no token",
            http(DASH, "POST", path, &dash.host, &[("Origin", &origin)], ""),
        ),
        (
            "wrong token",
            http(
                DASH,
                "POST",
                path,
                &dash.host,
                &[("X-Portreg-Token", &"0".repeat(64)), ("Origin", &origin)],
                "",
            ),
        ),
        (
            "foreign Origin",
            http(
                DASH,
                "POST",
                path,
                &dash.host,
                &[
                    ("X-Portreg-Token", &dash.token),
                    ("Origin", "http://evil.example"),
                ],
                "",
            ),
        ),
        (
            "foreign Host",
            http(
                DASH,
                "POST",
                path,
                "evil.example",
                &[("X-Portreg-Token", &dash.token)],
                "",
            ),
        ),
        (
            "stop with a foreign Host",
            http(
                DASH,
                "POST",
                "/api/projects/dashshop/services/api/stop",
                &format!("evil.example:{DASH}"),
                &[("X-Portreg-Token", &dash.token)],
                "",
            ),
        ),
    ];
    for (why, r) in &forged {
        assert_eq!(r.status, 403, "{why}: {}", r.text());
        assert_eq!(r.json()["code"], "PERMISSION", "{why}");
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(alive(api_pid), "a refused request stops nothing");
    assert_eq!(
        std::fs::read(&state_file).unwrap(),
        before,
        "a refused request changes no state"
    );

    // ---- restart: same port, a new process, restarts + 1
    let r = dash.post(path, "");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = r.json();
    assert_eq!(r["checkout"], "dashshop");
    assert_eq!(r["service"], "api");
    assert_eq!(r["action"], "restart");
    assert_eq!(r["state"]["state"], "healthy");
    assert_eq!(r["state"]["port"], 26411);
    assert_eq!(r["state"]["restarts"], 1);
    let new_pid = r["state"]["pid"].as_u64().unwrap();
    assert_ne!(new_pid, api_pid);
    assert!(!alive(api_pid), "the old process is gone");
    assert!(http_ok(26411));
    let listed = dash.get("/api/projects").json();
    let api = service(checkout(&listed, "dashshop"), "api");
    assert_eq!(
        (api["restarts"].clone(), api["pid"].clone()),
        (1.into(), new_pid.into())
    );
    assert_eq!(service(&main.ps(), "api")["restarts"], 1, "ps agrees");
    let e = reg.json(&["get", "api.dashshop", "--json"]);
    assert_eq!(
        e["holder"]["pid"], new_pid,
        "the new process holds the lease"
    );
    // The other checkout was not touched.
    let other = service(checkout(&listed, "feature-x.dashshop"), "api");
    assert_eq!(other["restarts"], 0);
    assert_eq!(other["pid"], service(second, "api")["pid"]);

    // ---- stop: the service stops and its lease is released
    let r = dash.post("/api/projects/dashshop/services/api/stop", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["state"]["state"], "stopped");
    assert_eq!(r.json()["changed"], serde_json::json!(["api"]));
    assert!(wait_for(|| !alive(new_pid), 5.0));
    let e = reg.json(&["get", "api.dashshop", "--json"]);
    assert_eq!(e["state"], "idle");
    assert_eq!(e["port"], 26411, "the port stays remembered");
    let listed = dash.get("/api/projects").json();
    let c = checkout(&listed, "dashshop");
    assert_eq!(service(c, "api")["state"], "stopped");
    assert_eq!(service(c, "api")["pid"], Value::Null);
    assert_eq!(service(c, "db")["state"], "healthy", "only api stopped");
    assert!(c["supervisor"].as_u64().is_some());

    // ---- start: back on its port
    let r = dash.post("/api/projects/dashshop/services/api/start", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["state"]["state"], "healthy");
    assert_eq!(r.json()["state"]["port"], 26411);

    // ---- errors
    let r = dash.post("/api/projects/nope/services/api/restart", "");
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (404, "NOT_FOUND".into())
    );
    assert!(r.json()["message"].as_str().unwrap().contains("dashshop"));
    let r = dash.post("/api/projects/dashshop/services/nope/restart", "");
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (404, "NOT_FOUND".into())
    );
    assert!(r.json()["message"].as_str().unwrap().contains("api"));
    let r = dash.get("/api/projects/dashshop/services/api/restart");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    let r = dash.post("/api/projects", "");
    assert_eq!(r.status, 405);

    // ---- without a supervisor: shown stopped, and restart says why not
    let out = copy.cli(&["down"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listed = dash.get("/api/projects").json();
    let c = checkout(&listed, "feature-x.dashshop");
    assert_eq!(c["supervisor"], Value::Null);
    assert!(c["services"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["state"] == "stopped" && s["pid"].is_null()));
    let r = dash.post("/api/projects/feature-x.dashshop/services/api/restart", "");
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["code"], "PROCESS");
    assert!(r.json()["message"].as_str().unwrap().contains("portreg up"));
}

/// The first `snapshot` event of /api/events.
fn snapshot(dash: &Dash) -> Value {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", dash.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "GET /api/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        dash.host
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(r.read_line(&mut line).unwrap() > 0, "the stream ended");
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            return serde_json::from_str(data).unwrap();
        }
    }
}
