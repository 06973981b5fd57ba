//! Helpers for the project tests: a private registry and port range, the
//! CLI run as a real process, and small servers written to the project.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Set when this test binary is re-executed to act as the `portreg` CLI.
pub const AS_CLI: &str = "PORTREG_TEST_AS_CLI";

/// A registry, a port range of its own and a folder for projects.
pub struct Env {
    pub reg: tempfile::TempDir,
    pub work: tempfile::TempDir,
    pub range: String,
    projects: std::cell::RefCell<Vec<PathBuf>>,
}

impl Drop for Env {
    /// A test that fails half-way leaves no supervisor or service behind.
    fn drop(&mut self) {
        for dir in self.projects.borrow().iter() {
            let _ = self.command(dir, &["down"]).output();
        }
    }
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Env {
    pub fn new() -> Env {
        // A range per test and per run, away from the default range that
        // other suites use at the same time.
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let base = 20000 + ((std::process::id() * 7 + n * 37) % 200) * 150;
        Env {
            reg: tempfile::tempdir().unwrap(),
            work: tempfile::tempdir().unwrap(),
            range: format!("{base}-{}", base + 149),
            projects: Default::default(),
        }
    }

    /// Writes `portreg.toml` (and the helper servers) into `work/NAME`.
    pub fn project(&self, name: &str, toml: &str) -> PathBuf {
        let dir = self.work.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("portreg.toml"), toml).unwrap();
        std::fs::write(dir.join("server.py"), SERVER_PY).unwrap();
        std::fs::write(dir.join("server.js"), SERVER_JS).unwrap();
        self.projects.borrow_mut().push(dir.clone());
        dir
    }

    pub fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(std::env::current_exe().unwrap());
        c.arg("portreg")
            .args(args)
            .current_dir(dir)
            .env(AS_CLI, "1")
            .env("PORTREG_HOME", self.reg.path())
            .env("PORTREG_RANGE", &self.range)
            .stdin(Stdio::null());
        c
    }

    /// Runs the CLI in `dir` and returns its output.
    pub fn cli(&self, dir: &Path, args: &[&str]) -> Output {
        self.command(dir, args).output().unwrap()
    }

    /// `ps --json` in `dir`.
    pub fn ps(&self, dir: &Path) -> Value {
        let out = self.cli(dir, &["ps", "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `list --all --json`.
    pub fn list(&self) -> Vec<Value> {
        let out = self.cli(self.work.path(), &["list", "--all", "--json"]);
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn service<'a>(ps: &'a Value, name: &str) -> &'a Value {
    ps["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {ps}"))
}

pub fn port_of(ps: &Value, name: &str) -> u16 {
    service(ps, name)["port"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} has no port: {ps}")) as u16
}

pub fn pid_of(ps: &Value, name: &str) -> u32 {
    service(ps, name)["pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} has no pid: {ps}")) as u32
}

pub fn state_of(ps: &Value, name: &str) -> String {
    service(ps, name)["state"].as_str().unwrap().to_string()
}

/// Polls `f` until it is true or `secs` have passed.
pub fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

pub fn alive(pid: u32) -> bool {
    // A zombie is not alive: read the state from /proc.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s[s.rfind(')').unwrap() + 1..].trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

pub fn http_ok(port: u16, path: &str) -> bool {
    portreg_supervisor::http_get(&format!("http://127.0.0.1:{port}{path}")).is_ok()
}

/// Reads the JSON a helper server wrote about itself.
pub fn read_json(path: &Path) -> Value {
    assert!(
        wait_for(10, || path.exists()),
        "{} was not written",
        path.display()
    );
    let mut v = Value::Null;
    wait_for(5, || {
        v = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        !v.is_null()
    });
    v
}

/// A Python HTTP server: waits DELAY seconds (argv[1]) before listening on
/// $PORT, writes its environment as JSON to argv[2] if given, and answers
/// 200 on every path.
pub const SERVER_PY: &str = r#"
import http.server, json, os, sys, time
delay = float(sys.argv[1]) if len(sys.argv) > 1 else 0
if len(sys.argv) > 2:
    with open(sys.argv[2] + ".tmp", "w") as f:
        json.dump({"env": dict(os.environ), "started": time.time()}, f)
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
time.sleep(delay)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok\n")
    def log_message(self, *a):
        pass
print("python listening on", os.environ["PORT"], flush=True)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

/// A Node HTTP server on $PORT that answers 200 and writes its environment
/// to argv[2] if given.
pub const SERVER_JS: &str = r#"
const fs = require('fs');
if (process.argv[2]) {
  fs.writeFileSync(process.argv[2] + '.tmp', JSON.stringify({ env: process.env }));
  fs.renameSync(process.argv[2] + '.tmp', process.argv[2]);
}
require('http').createServer((q, r) => { r.end('ok\n'); })
  .listen(Number(process.env.PORT), '127.0.0.1', () => console.log('node listening on', process.env.PORT));
"#;
