//! Health dots: an entry whose meta has a `health` URL is probed from the
//! dashboard with a short GET. Only this machine is ever asked: http URLs on
//! 127.0.0.1, localhost or [::1] (or a bare path such as `/health`, meaning
//! the entry's own port); anything else is shown as not probed.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request};
use hyper_util::rt::TokioIo;
use portreg_core::{Entry, State};
use serde::Serialize;

use crate::guard::split_host;
use crate::upstream::connect_owned;

/// The meta key holding an entry's health URL.
pub const META_KEY: &str = "health";
/// How long a probe may take, connect to status line.
pub const TIMEOUT: Duration = Duration::from_millis(500);
/// A probe result is reused for this long while nothing about the entry
/// changes, so a dev server's log is not flooded with health checks.
const REUSE_FOR: Duration = Duration::from_secs(5);

/// One probe's outcome, as `GET /api/health` returns it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Health {
    pub name: String,
    pub url: String,
    /// true: answered with a 2xx or 3xx status; false: answered with another
    /// status, or not at all within the timeout; null: not probed.
    pub ok: Option<bool>,
    pub status: Option<u16>,
    /// Milliseconds until the status line arrived.
    pub ms: Option<u64>,
    /// Why it is not ok, or why it was not probed.
    pub error: Option<String>,
}

struct Target {
    host_header: String,
    addrs: Vec<SocketAddr>,
    path: String,
}

fn loopback(host: &str, port: u16) -> Option<Vec<SocketAddr>> {
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    match host {
        "localhost" => Some(vec![v4, v6]),
        "127.0.0.1" => Some(vec![v4]),
        "[::1]" => Some(vec![v6]),
        _ => None,
    }
}

fn target(url: &str, entry_port: u16) -> Result<Target, String> {
    let url = url.trim();
    if url.starts_with('/') {
        return Ok(Target {
            host_header: format!("127.0.0.1:{entry_port}"),
            addrs: loopback("localhost", entry_port).unwrap_or_default(),
            path: url.split('#').next().unwrap_or("/").to_string(),
        });
    }
    let not_local = || {
        "not probed: only http:// URLs on 127.0.0.1, localhost or [::1] are probed \
         (the dashboard never sends requests off this machine)"
            .to_string()
    };
    let rest = match url.get(..7) {
        Some(s) if s.eq_ignore_ascii_case("http://") => &url[7..],
        _ => return Err(not_local()),
    };
    let cut = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(cut);
    let path = path.split('#').next().unwrap_or("");
    let path = match path {
        "" => "/".to_string(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_string(),
    };
    if authority.contains('@') {
        return Err(not_local());
    }
    let (host, port) = split_host(authority).ok_or_else(not_local)?;
    let port = port.unwrap_or(80);
    let addrs = loopback(&host, port).ok_or_else(not_local)?;
    Ok(Target {
        host_header: authority.to_string(),
        addrs,
        path,
    })
}

async fn probe(name: &str, url: &str, entry_port: u16) -> Health {
    let mut h = Health {
        name: name.to_string(),
        url: url.to_string(),
        ok: None,
        status: None,
        ms: None,
        error: None,
    };
    let t = match target(url, entry_port) {
        Ok(t) => t,
        Err(why) => {
            h.error = Some(why);
            return h;
        }
    };
    let started = Instant::now();
    let asked = tokio::time::timeout(TIMEOUT, async {
        let stream = connect_owned(&t.addrs).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(conn);
        let req = Request::get(&t.path)
            .header(header::HOST, &t.host_header)
            .header(header::USER_AGENT, "portreg-dashboard")
            .body(Body::empty())
            .map_err(std::io::Error::other)?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(std::io::Error::other)?;
        Ok::<u16, std::io::Error>(resp.status().as_u16())
    })
    .await;
    match asked {
        Ok(Ok(status)) => {
            h.ms = Some(started.elapsed().as_millis() as u64);
            h.status = Some(status);
            h.ok = Some((200..400).contains(&status));
            if h.ok == Some(false) {
                h.error = Some(format!("answered HTTP {status}"));
            }
        }
        Ok(Err(e)) => {
            h.ok = Some(false);
            h.error = Some(format!("no answer: {e}"));
        }
        Err(_) => {
            h.ok = Some(false);
            h.error = Some(format!("no answer within {} ms", TIMEOUT.as_millis()));
        }
    }
    h
}

async fn probe_entry(e: &Entry) -> Option<Health> {
    let url = e.meta.get(META_KEY)?;
    if e.state == State::Idle {
        return Some(Health {
            name: e.name.clone(),
            url: url.clone(),
            ok: None,
            status: None,
            ms: None,
            error: Some(format!(
                "not probed: {} is idle (no process holds it)",
                e.name
            )),
        });
    }
    Some(probe(&e.name, url, e.port).await)
}

/// Probes every entry that has a health URL, now, all at once.
pub async fn probe_all(entries: &[Entry]) -> Vec<Health> {
    futures_util::future::join_all(entries.iter().map(probe_entry))
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Recent results, so the live page does not probe every second.
#[derive(Default)]
pub struct Cache {
    map: Mutex<HashMap<String, (String, Instant, Health)>>,
}

impl Cache {
    /// Results for every entry with a health URL: reused while recent and
    /// while the entry's URL, state, holder and socket are unchanged.
    pub async fn refresh(
        &self,
        entries: &[Entry],
        listening: impl Fn(&str) -> Option<bool>,
    ) -> Vec<Health> {
        let key_of = |e: &Entry| {
            format!(
                "{}|{}|{}|{}|{:?}",
                e.meta.get(META_KEY).map(String::as_str).unwrap_or(""),
                e.port,
                e.state.as_str(),
                e.holder.as_ref().map(|h| h.pid).unwrap_or(0),
                listening(&e.name)
            )
        };
        let with_url: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.meta.contains_key(META_KEY))
            .collect();
        let mut todo = Vec::new();
        {
            let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            for e in &with_url {
                match map.get(&e.name) {
                    Some((k, at, _)) if *k == key_of(e) && at.elapsed() < REUSE_FOR => {}
                    _ => todo.push(*e),
                }
            }
        }
        let fresh = futures_util::future::join_all(todo.iter().map(|e| probe_entry(e))).await;
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        for (e, h) in todo.iter().zip(fresh) {
            if let Some(h) = h {
                map.insert(e.name.clone(), (key_of(e), Instant::now(), h));
            }
        }
        map.retain(|name, _| with_url.iter().any(|e| &e.name == name));
        with_url
            .iter()
            .filter_map(|e| map.get(&e.name).map(|(_, _, h)| h.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_urls_are_probed() {
        let t = target("http://127.0.0.1:8080/health?x=1#top", 1).unwrap();
        assert_eq!(t.path, "/health?x=1");
        assert_eq!(t.host_header, "127.0.0.1:8080");
        assert_eq!(t.addrs.len(), 1);
        let t = target("HTTP://localhost:3000", 1).unwrap();
        assert_eq!((t.path.as_str(), t.addrs.len()), ("/", 2));
        let t = target("http://[::1]:9000/ready", 1).unwrap();
        assert!(t.addrs[0].is_ipv6());
        let t = target("/healthz", 8071).unwrap();
        assert_eq!(t.host_header, "127.0.0.1:8071");
        assert_eq!(t.path, "/healthz");
        assert_eq!(target("http://localhost/", 1).unwrap().addrs[0].port(), 80);
        for bad in [
            "https://127.0.0.1:8080/health",
            "http://example.com/health",
            "http://10.0.0.1:80/",
            "http://user@127.0.0.1:80/",
            "http://127.0.0.1.evil.example/",
            "http://localhost.evil.example:80/",
            "ftp://localhost/",
            "health",
            "",
        ] {
            assert!(target(bad, 1).is_err(), "{bad}");
        }
    }
}
