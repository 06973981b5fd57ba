//! Other users of the machine: they cannot take `http://localhost:PORT`
//! from the dashboard by binding [::1]:PORT (browsers try ::1 first), and
//! the NAME.localhost proxy never forwards to their sockets.
//! Another user is `nobody`, through setpriv: root only (CI runs as root);
//! elsewhere each test says why it skips. Ports: 26610-26639.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use common::*;

/// Binds HOST:PORT (an IPv6 socket v6-only, as any user may) and answers
/// every request with "another user's server", printing "GOT <request
/// line>" for each; prints "bound" once listening, or "refused ERRNO".
const OTHER_USER_SERVER: &str = r#"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
try:
    s.bind((host, port)); s.listen()
except OSError as e:
    print("refused", e.errno, flush=True); sys.exit(0)
print("bound", flush=True)
while True:
    c, _ = s.accept()
    req = c.recv(65536)
    print("GOT", req.split(b"\r\n")[0].decode(errors="replace"), flush=True)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 22\r\nConnection: close\r\n\r\nanother user's server\n")
    c.close()
"#;

/// Why another user cannot be played here, if so.
fn cannot_run_as_another_user() -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root: cannot run a process as another user here; skipping");
    }
    if !std::path::Path::new("/usr/bin/setpriv").exists()
        || !std::path::Path::new("/usr/bin/python3").exists()
    {
        return Some("no /usr/bin/setpriv or /usr/bin/python3; skipping");
    }
    if TcpListener::bind("[::1]:0").is_err() {
        return Some("no IPv6 loopback here; skipping");
    }
    None
}

/// A server of `nobody` on HOST:PORT; returns it and its first line.
fn other_user_server(
    host: &str,
    port: u16,
) -> (Child, BufReader<std::process::ChildStdout>, String) {
    let mut child = Command::new("/usr/bin/setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .args([
            "/usr/bin/python3",
            "-c",
            OTHER_USER_SERVER,
            host,
            &port.to_string(),
        ])
        .current_dir("/")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    (child, out, line.trim().to_string())
}

#[test]
fn another_user_cannot_take_localhost_from_the_dashboard() {
    if let Some(why) = cannot_run_as_another_user() {
        eprintln!("{why}");
        return;
    }
    let reg = Reg::new();
    let dash = Dash::start(&reg, 26610);
    // While the dashboard runs, [::1]:PORT is its own.
    let (mut other, _, line) = other_user_server("::1", dash.port);
    let _ = other.kill();
    let _ = other.wait();
    assert_eq!(
        line, "refused 98",
        "another user's bind of [::1]:{}",
        dash.port
    );
    let page = http_to(
        "::1",
        dash.port,
        "GET",
        "/",
        &format!("[::1]:{}", dash.port),
    );
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains(&dash.token),
        "{page}"
    );
    drop(dash);

    // Another user's listener on [::1]:PORT: the dashboard does not start.
    let (mut other, _, line) = other_user_server("::1", 26611);
    assert_eq!(line, "bound");
    let out = reg.run(&["dashboard", "--port", "26611"]);
    let _ = other.kill();
    let _ = other.wait();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("26611") && err.contains("::1") && err.contains("PORT_BUSY"),
        "{err}"
    );
    assert_ne!(
        reg.json(&["get", "portreg-dashboard", "--json"])["state"],
        "active"
    );
}

#[test]
fn the_proxy_never_forwards_to_another_users_socket() {
    if let Some(why) = cannot_run_as_another_user() {
        eprintln!("{why}");
        return;
    }
    let reg = Reg::new();
    let dash = Dash::start(&reg, 26612);
    // Our service holds its port but is down; another user sits on [::1].
    let port = lease(&reg, &["down", "--pid", &me(), "--range", "26620-26629"]);
    let (mut other, mut out, line) = other_user_server("::1", port);
    assert_eq!(line, "bound");
    let host = format!("down.localhost:{}", dash.port);
    let r = http(
        dash.port,
        "GET",
        "/private",
        &host,
        &[("Cookie", "session=not-for-another-user")],
        "",
    );
    let _ = other.kill();
    let _ = other.wait();
    let mut seen = String::new();
    out.read_to_string(&mut seen).unwrap();
    assert_eq!(seen, "", "another user's listener received a request");
    assert_eq!(r.status, 502, "{}", r.text());
    let page = r.text();
    assert!(page.contains("down is not answering"), "{page}");
    assert!(page.contains("another user"), "{page}");
}

/// One GET over IPv6 or IPv4 loopback; the raw response.
fn http_to(ip: &str, port: u16, method: &str, path: &str, host: &str) -> String {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect((ip, port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw
}
