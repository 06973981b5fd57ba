//! Health probes: listening (a process of the service's group listens on
//! its port), tcp (the port accepts a connection), http (GET answers 2xx or
//! 3xx) and exec (a command exits 0). Each probe answers Ok or why not, and
//! the last "why not" is what a health timeout reports.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::Stdio;
use std::time::Duration;

use portreg_core::project::Health;
use portreg_core::Registry;

use crate::spawn::pgid_of;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// One probe of `health` for a service on `port` whose processes are in
/// group `pgid`, run with `env` (for exec probes).
pub fn probe(
    health: &Health,
    port: Option<u16>,
    pgid: u32,
    env: &[(String, String)],
    cwd: &std::path::Path,
) -> Result<(), String> {
    match health {
        Health::None => Ok(()),
        Health::Listening => {
            let port = port.ok_or("no port to listen on")?;
            if !Registry::is_listening(port) {
                return Err(format!("nothing listens on port {port} yet"));
            }
            owned_by(port, pgid)
        }
        Health::Tcp => {
            let port = port.ok_or("no port to connect to")?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)
                .map(|_| ())
                .map_err(|e| format!("connect to 127.0.0.1:{port}: {e}"))
        }
        Health::Http(url) => http_get(url),
        Health::Exec(cmd) => {
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(cmd)
                .current_dir(cwd)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
                .map_err(|e| format!("cannot run `{cmd}`: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                let err = String::from_utf8_lossy(&out.stderr);
                let last = err.lines().last().unwrap_or("").trim();
                Err(format!(
                    "`{cmd}` exited with {}{}",
                    out.status
                        .code()
                        .map_or("a signal".into(), |c| format!("status {c}")),
                    if last.is_empty() {
                        String::new()
                    } else {
                        format!(": {last}")
                    }
                ))
            }
        }
    }
}

/// Ok when a process of group `pgid` listens on `port` (or when the
/// listeners cannot be seen: another user's sockets hide their pid).
pub fn owned_by(port: u16, pgid: u32) -> Result<(), String> {
    // The usual answer, cheaply: the group's leader (or another process of
    // its group) holds a socket listening on the port. Only otherwise are
    // every process's sockets looked at, to name who listens instead.
    if group_listens(port, pgid) {
        return Ok(());
    }
    let listeners = portreg_core::process::listeners_on(port);
    if listeners.is_empty() || listeners.iter().any(|l| pgid_of(l.pid) == Some(pgid)) {
        Ok(())
    } else {
        Err(format!(
            "port {port} is listened on by {}, not by this service",
            listeners[0].summary()
        ))
    }
}

/// The inodes of the TCP sockets listening on `port` (IPv4 and IPv6), from
/// /proc/net/tcp and tcp6 of this network namespace.
fn listening_inodes(port: u16) -> Vec<u64> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st ... inode (column 9); 0A = LISTEN
            if cols.len() < 10 || cols[3] != "0A" {
                continue;
            }
            let local = cols[1].rsplit(':').next();
            if local.and_then(|h| u16::from_str_radix(h, 16).ok()) == Some(port) {
                if let Ok(inode) = cols[9].parse() {
                    out.push(inode);
                }
            }
        }
    }
    out
}

/// Whether a process of group `pgid` has one of the sockets listening on
/// `port` open: the leader first (usually the server itself), then the
/// other members of its group.
fn group_listens(port: u16, pgid: u32) -> bool {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        return false;
    }
    let holds = |pid: u32| {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            return false;
        };
        fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter_map(|target| {
                let t = target.to_str()?;
                t.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .parse::<u64>()
                    .ok()
            })
            .any(|inode| inodes.contains(&inode))
    };
    if holds(pgid) {
        return true;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != pgid && pgid_of(pid) == Some(pgid))
        .any(holds)
}

/// A plain HTTP/1.0 GET of an `http://HOST[:PORT]/PATH` URL; Ok on 2xx/3xx.
pub fn http_get(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url} is not an http:// URL"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (
            h,
            p.parse::<u16>().map_err(|_| format!("bad port in {url}"))?,
        ),
        _ => (hostport, 80),
    };
    let lookup = host.trim_start_matches('[').trim_end_matches(']');
    let addr = (lookup, port)
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host}: no address"))?;
    let mut s =
        TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).map_err(|e| format!("GET {url}: {e}"))?;
    let _ = s.set_read_timeout(Some(PROBE_TIMEOUT));
    let _ = s.set_write_timeout(Some(PROBE_TIMEOUT));
    // One write: a server that answers after its first read (and closes)
    // must not see the request in pieces.
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {hostport}\r\nUser-Agent: portreg-health\r\nConnection: close\r\n\r\n"
    );
    s.write_all(request.as_bytes())
        .map_err(|e| format!("GET {url}: {e}"))?;
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < 12 {
        match s.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(format!("GET {url}: {e}")),
        }
    }
    let head = String::from_utf8_lossy(&buf[..got]);
    let status: Option<u16> = head.split_whitespace().nth(1).and_then(|c| c.parse().ok());
    match status {
        Some(c) if (200..400).contains(&c) => Ok(()),
        Some(c) => Err(format!("GET {url} answered {c}")),
        None => Err(format!("GET {url}: not an HTTP answer")),
    }
}

#[cfg(test)]
mod tests {
    use super::owned_by;

    #[test]
    fn a_port_is_owned_only_by_the_group_that_listens_on_it() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mine = nix::unistd::getpgrp().as_raw() as u32;
        assert_eq!(owned_by(port, mine), Ok(()));
        // Another group (init's): refused, naming the process that listens.
        let why = owned_by(port, 1).unwrap_err();
        assert!(why.contains("not by this service"), "{why}");
        assert!(why.contains(&std::process::id().to_string()), "{why}");
        drop(l);
    }
}
