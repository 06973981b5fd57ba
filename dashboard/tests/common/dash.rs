//! The dashboard as a test drives it: a tiny HTTP/1.1 client, `portreg
//! dashboard` started on a registry (with the page's token), and processes
//! that hold leases.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::*;

// ------------------------------------------------------------ a tiny HTTP client

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(i) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_line = std::str::from_utf8(&b[..i]).unwrap();
        let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + size]);
        b = &b[i + 2 + size + 2..];
    }
}

/// One request on a fresh connection (`Connection: close`); `host` is sent
/// as the Host header.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

// ------------------------------------------------------------ the dashboard

pub struct Dash {
    pub child: Child,
    pub port: u16,
    pub token: String,
    pub host: String,
}

impl Dash {
    pub fn start(reg: &Reg, port: u16) -> Dash {
        let mut child = reg
            .cmd()
            .args(["dashboard", "--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        if !line.contains(&format!("http://127.0.0.1:{port}/")) {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("dashboard did not start: {line:?} {err}");
        }
        let host = format!("127.0.0.1:{port}");
        let page = http(port, "GET", "/", &host, &[], "");
        assert_eq!(page.status, 200);
        let text = page.text();
        let token = text
            .split("name=\"portreg-token\" content=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("the page carries the token")
            .to_string();
        assert_eq!(token.len(), 64, "{token}");
        Dash {
            child,
            port,
            token,
            host,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        http(self.port, "GET", path, &self.host, &[], "")
    }

    /// A POST the way the page sends it: token and own Origin.
    pub fn post(&self, path: &str, body: &str) -> Resp {
        let origin = format!("http://{}", self.host);
        http(
            self.port,
            "POST",
            path,
            &self.host,
            &[("X-Portreg-Token", &self.token), ("Origin", &origin)],
            body,
        )
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}

impl Drop for Dash {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process to hold leases (`sleep`), killed on drop.
pub struct Holder(pub Child);

impl Holder {
    pub fn new() -> Holder {
        Holder(Command::new("sleep").arg("120").spawn().unwrap())
    }
    pub fn pid(&self) -> String {
        self.0.id().to_string()
    }
    pub fn alive(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn lease(reg: &Reg, args: &[&str]) -> u16 {
    let out = reg.run(&[&["lease"], args].concat());
    assert!(out.status.success(), "lease {args:?}: {}", stderr(&out));
    stdout(&out).trim().parse().unwrap()
}

pub fn me() -> String {
    std::process::id().to_string()
}
