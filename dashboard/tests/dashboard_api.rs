//! `portreg dashboard` over real HTTP on loopback: the refusals (no token,
//! foreign Origin, foreign Host) change nothing, the JSON API speaks the
//! same fields as `list --json`, a kill does not stall other requests, one
//! dashboard per registry, and NAME.localhost proxying (HTTP and WebSocket).
//! Ports: 26000-26799 (the browser suite uses 26800-26999; the many-clients
//! test 26200-26239).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Extra request headers, name and value.
type Headers<'a> = Vec<(&'a str, &'a str)>;

fn registry_files(reg: &Reg) -> (Vec<u8>, Vec<u8>) {
    let read = |f: &str| std::fs::read(reg.path.join(f)).unwrap_or_default();
    (read("registry.json"), read("leases.json"))
}

// ------------------------------------------------------------ a test HTTP server

/// Answers every request with "LABEL METHOD PATH host=HOST" until dropped.
struct TestServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    fn start(label: &'static str, port: u16, status: u16) -> TestServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        let mut r = BufReader::new(s.try_clone().unwrap());
                        let mut first = String::new();
                        if r.read_line(&mut first).is_err() {
                            continue;
                        }
                        let mut host = String::new();
                        let mut len = 0usize;
                        loop {
                            let mut l = String::new();
                            if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                                break;
                            }
                            let lower = l.to_ascii_lowercase();
                            if let Some(v) = lower.strip_prefix("host:") {
                                host = v.trim().to_string();
                            }
                            if let Some(v) = lower.strip_prefix("content-length:") {
                                len = v.trim().parse().unwrap_or(0);
                            }
                        }
                        let mut body = vec![0; len];
                        let _ = r.read_exact(&mut body);
                        let mut parts = first.split_whitespace();
                        let (method, path) =
                            (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                        let text = format!("{label} {method} {path} host={host}");
                        let _ = write!(
                            s,
                            "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                            text.len()
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        TestServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ------------------------------------------------------------ tests

#[test]
fn refused_requests_change_nothing() {
    let reg = Reg::new();
    let dash = Dash::start(&reg, 26001);
    let mut holder = Holder::new();
    lease(
        &reg,
        &["web", "--pid", &holder.pid(), "--range", "26010-26019"],
    );
    let before = registry_files(&reg);
    let p = dash.port;
    let own = dash.host.clone();
    let evil = "evil.example".to_string();
    let evil_port = format!("evil.example:{p}");
    let other_port = format!("localhost:{}", p + 1);
    let token = dash.token.as_str();
    let own_origin = format!("http://{own}");

    // (what, Host, extra headers) for POSTs that must all be refused
    let refused: Vec<(&str, &str, Headers)> = vec![
        ("no token", &own, vec![]),
        ("no token, own origin", &own, vec![("Origin", &own_origin)]),
        ("wrong token", &own, vec![("X-Portreg-Token", "0000")]),
        (
            "foreign Origin",
            &own,
            vec![
                ("X-Portreg-Token", token),
                ("Origin", "http://evil.example"),
            ],
        ),
        (
            "null Origin",
            &own,
            vec![("X-Portreg-Token", token), ("Origin", "null")],
        ),
        ("Host evil.example", &evil, vec![("X-Portreg-Token", token)]),
        (
            "Host evil.example:PORT",
            &evil_port,
            vec![("X-Portreg-Token", token), ("Origin", &own_origin)],
        ),
        (
            "another port",
            &other_port,
            vec![("X-Portreg-Token", token)],
        ),
    ];
    for path in [
        "/api/entries/web/release",
        "/api/entries/web/forget",
        "/api/entries/web/kill",
        "/api/clean",
    ] {
        for (what, host, headers) in &refused {
            let r = http(
                p,
                "POST",
                path,
                host,
                headers,
                "{\"timeout\": 0, \"force\": true}",
            );
            assert_eq!(r.status, 403, "{what} {path}: {}", r.text());
            assert_eq!(r.json()["code"], "PERMISSION", "{what} {path}");
            assert!(!r.json()["message"].as_str().unwrap().is_empty());
        }
    }
    // a CORS preflight is refused too, so a cross-site page cannot even ask
    let pre = http(
        p,
        "OPTIONS",
        "/api/clean",
        &own,
        &[
            ("Origin", "http://evil.example"),
            ("Access-Control-Request-Headers", "x-portreg-token"),
        ],
        "",
    );
    assert_eq!(pre.status, 403);
    assert!(pre.header("access-control-allow-origin").is_none());

    assert!(holder.alive(), "no refused kill reached the holder");
    assert_eq!(
        registry_files(&reg),
        before,
        "no refused request changed the registry"
    );
    assert_eq!(reg.json(&["get", "web", "--json"])["state"], "active");

    // GETs with a bad Host are refused and show nothing of the registry
    for host in [
        evil.as_str(),
        &evil_port,
        &other_port,
        "web.evil.example",
        "127.0.0.1",
    ] {
        for path in [
            "/",
            "/api/entries",
            "/api/entries/web",
            "/api/events",
            "/app.js",
            "/actions.js",
        ] {
            let r = http(p, "GET", path, host, &[], "");
            assert_eq!(r.status, 403, "GET {path} Host {host}");
            let text = r.text();
            assert!(!text.contains(token), "the token leaked to Host {host}");
            assert!(
                !text.contains("\"web\""),
                "registry content leaked to Host {host}"
            );
        }
    }
    // and a GET from a foreign page's script (Origin set) is refused as well
    let r = http(
        p,
        "GET",
        "/api/entries",
        &own,
        &[("Origin", "http://evil.example")],
        "",
    );
    assert_eq!(r.status, 403);

    // the page's own request goes through
    let r = dash.post("/api/entries/web/release", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["released"], true);
    assert_eq!(r.json()["pid"].to_string(), holder.pid());
    assert_eq!(reg.json(&["get", "web", "--json"])["state"], "idle");
    assert!(holder.alive(), "release does not stop the holder");
    // every localhost spelling of the dashboard's own address is accepted
    for host in [
        format!("localhost:{p}"),
        format!("[::1]:{p}"),
        format!("LocalHost:{p}"),
    ] {
        assert_eq!(
            http(p, "GET", "/api/entries", &host, &[], "").status,
            200,
            "{host}"
        );
    }
}

#[test]
fn api_speaks_the_same_fields_as_list_json() {
    let reg = Reg::new();
    let dash = Dash::start(&reg, 26002);
    let holder = Holder::new();
    let healthy = TestServer::start("ok", 26025, 200);
    lease(
        &reg,
        &[
            "web",
            "--pid",
            &holder.pid(),
            "--range",
            "26020-26024",
            "-d",
            "the web app",
            "--meta",
            "project=/src/web",
            "--meta",
            &format!("health=http://127.0.0.1:{}/health", healthy.port),
        ],
    );
    // sick's server runs in this process, its holder: no conflict
    lease(
        &reg,
        &[
            "sick",
            "--pid",
            &me(),
            "--port",
            "26026",
            "--exact",
            "--meta",
            "health=/health",
        ],
    );
    let _sick = TestServer::start("sick", 26026, 503);
    lease(
        &reg,
        &[
            "far",
            "--pid",
            &holder.pid(),
            "--range",
            "26020-26024",
            "--meta",
            "health=http://example.com/",
        ],
    );
    assert!(reg.run(&["reserve", "cache", "26027"]).status.success());

    let api = dash.get("/api/entries");
    assert_eq!(api.status, 200);
    assert!(api
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let cli = reg.json(&["list", "--all", "--json"]);
    assert_eq!(
        api.json(),
        cli,
        "GET /api/entries is `portreg list --all --json`"
    );
    let names: Vec<&str> = cli
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for n in ["web", "sick", "far", "cache", "portreg-dashboard"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }

    let one = dash.get("/api/entries/WEB");
    assert_eq!(one.status, 200);
    let web = one.json();
    let cli_web = cli
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "web")
        .unwrap();
    assert_eq!(&web, cli_web);
    assert_eq!(web["holder"]["pid"].to_string(), holder.pid());
    assert_eq!(web["meta"]["project"], "/src/web");
    assert_eq!(web["listening"], false, "nothing listens on web's port");

    let missing = dash.get("/api/entries/nope");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "NOT_FOUND");
    assert!(missing.json()["message"].as_str().unwrap().contains("nope"));
    let bad = dash.get("/api/entries/-bad");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["code"], "INVALID_NAME");
    assert_eq!(
        dash.post("/api/entries/nope/release", "").json()["code"],
        "NOT_FOUND"
    );
    assert_eq!(dash.get("/api/nothing").status, 404);
    assert_eq!(dash.get("/api/nothing").json()["code"], "NOT_FOUND");
    let wrong = dash.get("/api/clean");
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.header("allow"), Some("POST"));

    // health: 200 -> ok, 503 -> not ok, a URL off this machine -> not probed
    let health = dash.get("/api/health").json();
    let by = |n: &str| {
        health
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(by("web")["ok"], true, "{health}");
    assert_eq!(by("web")["status"], 200);
    assert_eq!(by("sick")["ok"], false);
    assert_eq!(by("sick")["status"], 503);
    assert_eq!(by("far")["ok"], Value::Null);
    assert!(by("far")["error"].as_str().unwrap().contains("not probed"));
    assert_eq!(
        health.as_array().unwrap().len(),
        3,
        "only entries with a health URL"
    );

    // conflicts: something outside the registry listens on cache's port
    let squatter = TcpListener::bind(("127.0.0.1", 26027)).unwrap();
    let conflicts = dash.get("/api/conflicts").json();
    let c = conflicts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["entry"]["name"] == "cache")
        .cloned();
    let c = c.unwrap_or_else(|| panic!("no conflict for cache: {conflicts}"));
    assert_eq!(
        c["listeners"][0]["pid"].to_string(),
        me(),
        "names the foreign process"
    );
    // `conflicts` finds some: exit 1, as a linter would (the JSON is printed all the same).
    let cli = reg.run(&["conflicts", "--json"]);
    assert_eq!(cli.status.code(), Some(1));
    assert_eq!(
        conflicts,
        serde_json::from_slice::<serde_json::Value>(&cli.stdout).unwrap()
    );
    drop(squatter);

    // actions: forget refuses a live lease unless forced; kill checks its body
    let held = dash.post("/api/entries/far/forget", "");
    assert_eq!(held.status, 409);
    assert_eq!(held.json()["code"], "LEASE_HELD");
    let forced = dash.post("/api/entries/far/forget", "{\"force\": true}");
    assert_eq!(forced.status, 200, "{}", forced.text());
    assert_eq!(forced.json()["name"], "far");
    assert_eq!(reg.run(&["get", "far"]).status.code(), Some(1));
    for body in ["{\"timeout\": -1}", "{\"timeout\": \"soon\"}", "not json"] {
        let r = dash.post("/api/entries/web/kill", body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
    }
    let cleaned = dash.post("/api/clean", "");
    assert_eq!(cleaned.status, 200);
    assert!(cleaned.json().is_array());
    // the dashboard's own lease is not for the page to touch
    for action in ["release", "forget", "kill"] {
        let r = dash.post(&format!("/api/entries/portreg-dashboard/{action}"), "");
        assert_eq!(r.status, 403, "{action}");
    }
    assert_eq!(
        reg.json(&["get", "portreg-dashboard", "--json"])["state"],
        "active"
    );

    // the page and its assets come from the binary, locked down
    let page = dash.get("/");
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    for asset in ["/app.js", "/actions.js", "/app.css", "/favicon.svg"] {
        let r = dash.get(asset);
        assert_eq!(r.status, 200, "{asset}");
        assert!(r.body.len() > 100, "{asset}");
    }
    assert!(
        !page.text().contains("http://cdn") && !page.text().contains("https://"),
        "nothing fetched from elsewhere"
    );
}

#[test]
fn a_kill_does_not_stall_other_requests() {
    let reg = Reg::new();
    let dash = Dash::start(&reg, 26003);
    // a holder that ignores SIGTERM: the kill waits its whole timeout
    let mut child = Command::new("python3")
        .args(["-c", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(120)"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    lease(
        &reg,
        &[
            "stubborn",
            "--pid",
            &child.id().to_string(),
            "--range",
            "26030-26039",
        ],
    );

    let (port, host, token) = (dash.port, dash.host.clone(), dash.token.clone());
    let started = Instant::now();
    let killer = std::thread::spawn(move || {
        let r = http(
            port,
            "POST",
            "/api/entries/stubborn/kill",
            &host,
            &[("X-Portreg-Token", &token)],
            "{\"timeout\": 2}",
        );
        (r, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(400));
    let mut answered = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let r = dash.get("/api/entries/stubborn");
        assert_eq!(r.status, 200);
        answered.push((t.elapsed(), Instant::now()));
    }
    let (kill, kill_done) = killer.join().unwrap();
    assert_eq!(kill.status, 200, "{}", kill.text());
    for (took, at) in &answered {
        assert!(
            *at < kill_done,
            "a GET was answered only after the kill finished"
        );
        assert!(
            *took < Duration::from_millis(1500),
            "a GET took {took:?} during the kill"
        );
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the kill waited its timeout"
    );
    let report = &kill.json()[0];
    assert_eq!(report["pid"].to_string(), child.id().to_string());
    assert_eq!(report["signals"], serde_json::json!(["SIGTERM", "SIGKILL"]));
    assert_eq!(report["outcome"], "killed");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    assert_eq!(reg.json(&["get", "stubborn", "--json"])["state"], "idle");
}

#[test]
fn many_clients_at_once_each_see_every_lease_made_before_they_asked() {
    let reg = Reg::new();
    let dash = Arc::new(Dash::start(&reg, 26200));
    let holder = Holder::new();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<JoinHandle<usize>> = (0..8)
        .map(|_| {
            let (dash, done, stop) = (dash.clone(), done.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut answers = 0;
                while !stop.load(Ordering::SeqCst) {
                    let before = done.load(Ordering::SeqCst);
                    let r = dash.get("/api/entries");
                    assert_eq!(r.status, 200, "{}", r.text());
                    let names: Vec<String> = r
                        .json()
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e["name"].as_str().unwrap().to_string())
                        .collect();
                    for i in 0..before {
                        assert!(
                            names.contains(&format!("svc-{i}")),
                            "svc-{i} was leased before this request, yet not in {names:?}"
                        );
                    }
                    answers += 1;
                }
                answers
            })
        })
        .collect();
    for i in 0..20 {
        let name = format!("svc-{i}");
        lease(
            &reg,
            &[&name, "--pid", &holder.pid(), "--range", "26210-26239"],
        );
        done.store(i + 1, Ordering::SeqCst);
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    let answers: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(answers >= 8, "{answers} answers");
}

#[test]
fn one_dashboard_per_registry_and_a_clean_stop() {
    let reg = Reg::new();
    for sig in ["TERM", "INT"] {
        let mut dash = Dash::start(&reg, 26004);
        let second = reg.run(&["dashboard", "--port", "26005"]);
        assert_eq!(second.status.code(), Some(1));
        assert_eq!(
            stderr(&second).trim(),
            format!(
                "portreg dashboard is already running at http://127.0.0.1:26004/ (pid {})",
                dash.child.id()
            )
        );
        let e = reg.json(&["get", "portreg-dashboard", "--json"]);
        assert_eq!(e["state"], "active");
        assert_eq!(e["port"], 26004);
        assert_eq!(e["holder"]["pid"].to_string(), dash.child.id().to_string());

        dash.signal(sig);
        let t = Instant::now();
        let status = loop {
            if let Some(s) = dash.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "SIG{sig} did not stop the dashboard"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(0), "SIG{sig}");
        let mut out = String::new();
        dash.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(out.contains("portreg-dashboard released"), "{out}");
        let e = reg.json(&["get", "portreg-dashboard", "--json"]);
        assert_eq!(e["state"], "idle", "SIG{sig} released the lease");
        assert!(
            TcpStream::connect(("127.0.0.1", 26004)).is_err(),
            "nothing serves any more"
        );
    }
    // a port taken by another program: say by whom, hold nothing
    let squatter = TcpListener::bind(("127.0.0.1", 26006)).unwrap();
    let busy = reg.run(&["dashboard", "--port", "26006"]);
    assert_eq!(busy.status.code(), Some(5), "{}", stderr(&busy));
    assert!(
        stderr(&busy).contains("PORT_BUSY") && stderr(&busy).contains("26006"),
        "{}",
        stderr(&busy)
    );
    assert_ne!(
        reg.json(&["get", "portreg-dashboard", "--json"])["state"],
        "active"
    );
    drop(squatter);
}

/// A WebSocket echo server in python3 with a hand-written handshake; it
/// echoes text frames until a close frame.
const WS_ECHO: &str = r#"
import base64, hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
print("ready", flush=True)
c, _ = s.accept()
head = b""
while b"\r\n\r\n" not in head:
    head += c.recv(1)
key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key:")][0]
accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
path = head.split(b" ")[1]
c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\nX-Echo-Path: " + path + b"\r\n\r\n")
def exact(n):
    b = b""
    while len(b) < n:
        chunk = c.recv(n - len(b))
        if not chunk: sys.exit(0)
        b += chunk
    return b
while True:
    h = exact(2)
    op, n = h[0] & 0x0F, h[1] & 0x7F
    if n == 126: n = int.from_bytes(exact(2), "big")
    mask = exact(4) if h[1] & 0x80 else b"\0\0\0\0"
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(exact(n)))
    if op == 8:
        c.sendall(b"\x88\x00"); break
    reply = b"echo: " + data
    c.sendall(bytes([0x81, len(reply)]) + reply)
"#;

fn ws_frame(text: &str) -> Vec<u8> {
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut f = vec![0x81, 0x80 | text.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

fn read_ws_text(s: &mut TcpStream) -> String {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    assert_eq!(h[0], 0x81, "a final text frame");
    let mut payload = vec![0; (h[1] & 0x7F) as usize];
    s.read_exact(&mut payload).unwrap();
    String::from_utf8(payload).unwrap()
}

#[test]
fn stable_urls_proxy_http_and_websockets() {
    let reg = Reg::new();
    let dash = Dash::start(&reg, 26007);
    let p = dash.port;
    let front = format!("frontend.localhost:{p}");

    // frontend on one port...
    let port_a = lease(
        &reg,
        &["frontend", "--pid", &me(), "--range", "26040-26044"],
    );
    let a = TestServer::start("A", port_a, 200);
    let r = http(p, "GET", "/x/y?z=1", &front, &[], "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), format!("A GET /x/y?z=1 host={front}"));
    // the dashboard's API is not reachable under a service's name, and a
    // POST there goes to the service (no token: it is the service's business)
    let r = http(p, "POST", "/api/clean", &front, &[], "");
    assert_eq!(r.text(), format!("A POST /api/clean host={front}"));

    // ...then on another: the same URL follows it
    drop(a);
    assert!(reg.run(&["forget", "frontend", "--force"]).status.success());
    let port_b = lease(
        &reg,
        &["frontend", "--pid", &me(), "--range", "26045-26049"],
    );
    assert_ne!(port_a, port_b);
    let _b = TestServer::start("B", port_b, 200);
    let r = http(p, "GET", "/", &front, &[], "");
    assert_eq!(r.text(), format!("B GET / host={front}"));

    // WebSocket: a real upgrade through the proxy and echoed frames
    let ws_port = lease(&reg, &["ws", "--pid", &me(), "--range", "26050-26059"]);
    let mut echo = Command::new("python3")
        .args(["-c", WS_ECHO, &ws_port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(echo.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", p)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /hmr?v=1 HTTP/1.1\r\nHost: ws.localhost:{p}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    // RFC 6455's example key has this accept value
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    assert!(head.contains("x-echo-path: /hmr?v=1"), "{head}");
    s.write_all(&ws_frame("hello through portreg")).unwrap();
    assert_eq!(read_ws_text(&mut s), "echo: hello through portreg");
    s.write_all(&ws_frame("and again")).unwrap();
    assert_eq!(read_ws_text(&mut s), "echo: and again");
    s.write_all(&[0x88, 0x80, 0, 0, 0, 0]).unwrap();
    let mut close = [0u8; 2];
    s.read_exact(&mut close).unwrap();
    assert_eq!(close[0], 0x88);
    assert!(echo.wait().unwrap().success());

    // a service listening on IPv6 loopback only is reached too
    if TcpListener::bind("[::1]:0").is_ok() {
        let v6_port = lease(&reg, &["six", "--pid", &me(), "--range", "26060-26069"]);
        let mut six = Command::new("python3")
            .args(["-m", "http.server", "--bind", "::1", &v6_port.to_string()])
            .current_dir(&reg.path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert!(wait_for(
            || TcpStream::connect(("::1", v6_port)).is_ok(),
            10.0
        ));
        let r = http(
            p,
            "GET",
            "/registry.json",
            &format!("six.localhost:{p}"),
            &[],
            "",
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.text().contains("\"frontend\""));
        let _ = six.kill();
        let _ = six.wait();
    }

    // unknown, idle, and not answering: friendly pages listing what runs
    let r = http(p, "GET", "/", &format!("nope.localhost:{p}"), &[], "");
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let page = r.text();
    assert!(page.contains("No service called nope"), "{page}");
    assert!(
        page.contains(&format!("href=\"http://frontend.localhost:{p}/\"")),
        "{page}"
    );
    assert!(
        !page.contains(&format!("portreg-dashboard.localhost:{p}")),
        "the dashboard is not listed as a service"
    );

    let idle_port = lease(&reg, &["gone", "--pid", &me(), "--range", "26070-26079"]);
    assert!(reg.run(&["release", "gone"]).status.success());
    let r = http(p, "GET", "/", &format!("gone.localhost:{p}"), &[], "");
    assert_eq!(r.status, 503);
    assert!(
        r.text().contains("gone is not running") && r.text().contains(&format!("port {idle_port}"))
    );
    assert!(r
        .text()
        .contains(&format!("http://frontend.localhost:{p}/")));

    lease(&reg, &["silent", "--pid", &me(), "--range", "26080-26089"]);
    let r = http(p, "GET", "/", &format!("silent.localhost:{p}"), &[], "");
    assert_eq!(r.status, 502);
    assert!(r.text().contains("silent is not answering"), "{}", r.text());

    // the dashboard's own name leads to the dashboard, not into a loop
    let r = http(
        p,
        "GET",
        "/",
        &format!("portreg-dashboard.localhost:{p}"),
        &[],
        "",
    );
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some(format!("http://localhost:{p}/").as_str())
    );
    // a Host that is neither the dashboard nor NAME.localhost at its port
    assert_eq!(
        http(
            p,
            "GET",
            "/",
            &format!("frontend.localhost:{}", p + 1),
            &[],
            ""
        )
        .status,
        403
    );
    assert_eq!(
        http(p, "GET", "/", "frontend.localhost", &[], "").status,
        403
    );
}

#[test]
fn live_events_stream_snapshots() {
    let reg = Reg::new();
    let dash = Dash::start(&reg, 26008);
    let holder = Holder::new();
    let mut s = TcpStream::connect(("127.0.0.1", dash.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /api/events HTTP/1.1\r\nHost: {}\r\n\r\n", dash.host).unwrap();
    let mut r = BufReader::new(s);
    let mut read_snapshot = || -> Value {
        loop {
            let mut l = String::new();
            assert!(r.read_line(&mut l).unwrap() > 0, "the stream ended");
            if let Some(data) = l.trim_end().strip_prefix("data: ") {
                return serde_json::from_str(data).unwrap();
            }
        }
    };
    let first = read_snapshot();
    assert_eq!(first["dashboard"]["port"], dash.port);
    assert_eq!(first["entries"].as_array().unwrap().len(), 1, "{first}");
    // a lease taken from elsewhere shows up in the next snapshot by itself
    lease(
        &reg,
        &["late", "--pid", &holder.pid(), "--range", "26090-26099"],
    );
    let t = Instant::now();
    let next = loop {
        let s = read_snapshot();
        if s["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "late")
        {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(8));
    };
    let late = next["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "late")
        .unwrap();
    assert_eq!(late["state"], "active");
    assert!(next["conflicts"].is_array() && next["health"].is_array());
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "took {:?}",
        t.elapsed()
    );
}

/// A python3 client that GETs / from the dashboard at argv[1] and prints
/// whatever came back before the connection closed.
const FETCH: &str = r#"
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % port)
data = b""
while True:
    try:
        b = s.recv(65536)
    except ConnectionResetError:
        break
    if not b:
        break
    data += b
print(data.decode(errors="replace"))
"#;

fn fetch_as(uid: Option<u32>, port: u16) -> String {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", FETCH, &port.to_string()]);
    if let Some(uid) = uid {
        cmd.uid(uid).gid(uid);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn other_users_cannot_connect() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("not root: cannot run a client as another user here; skipping");
        return;
    }
    let reg = Reg::new();
    let dash = Dash::start(&reg, 26009);
    let mine = fetch_as(None, dash.port);
    assert!(
        mine.starts_with("HTTP/1.1 200") && mine.contains(&dash.token),
        "{mine}"
    );
    let theirs = fetch_as(Some(65534), dash.port);
    assert!(
        theirs.trim().is_empty(),
        "another user got an answer: {theirs}"
    );
    assert!(!theirs.contains(&dash.token));
}
