//! Only the dashboard's own user may connect. Loopback is shared by every
//! user of the machine, and the page hands out the per-run token, so a
//! connection from another user's process (found in the kernel's socket
//! table, /proc/net/tcp) is closed before a byte of HTTP is read.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// A listener that accepts connections from this user's processes (and
/// root's) only.
pub struct SameUser {
    inner: TcpListener,
    uid: u32,
}

impl SameUser {
    pub fn new(inner: TcpListener) -> SameUser {
        SameUser {
            inner,
            uid: nix::unistd::geteuid().as_raw(),
        }
    }
}

impl axum::serve::Listener for SameUser {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let (stream, peer) = match self.inner.accept().await {
                Ok(x) => x,
                // out of file descriptors and the like: wait, do not spin
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let local = match stream.local_addr() {
                Ok(a) => a,
                Err(_) => continue,
            };
            match peer_uid(peer, local) {
                Some(uid) if uid != self.uid && uid != 0 => {
                    eprintln!(
                        "portreg dashboard: refused a connection from {peer}: it belongs to uid {uid}, \
                         and only uid {} (the dashboard's user) may use it",
                        self.uid
                    );
                    drop(stream);
                }
                _ => return (stream, peer),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// The uid owning the client end of the loopback connection `peer` ->
/// `local`, from /proc/net/tcp. None when it cannot be told (no /proc).
pub fn peer_uid(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    let (SocketAddr::V4(peer), SocketAddr::V4(local)) = (peer, local) else {
        return None;
    };
    let text = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let parse = |field: &str| -> Option<(Ipv4Addr, u16)> {
        let (ip, port) = field.split_once(':')?;
        let ip = u32::from_str_radix(ip, 16).ok()?;
        // the kernel prints the address's bytes as a native-endian word
        Some((
            Ipv4Addr::from(ip.to_ne_bytes()),
            u16::from_str_radix(port, 16).ok()?,
        ))
    };
    text.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (l, r, uid) = (cols.get(1)?, cols.get(2)?, cols.get(7)?);
        (parse(l)? == (*peer.ip(), peer.port()) && parse(r)? == (*local.ip(), local.port()))
            .then(|| uid.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_owner_of_a_loopback_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, peer) = listener.accept().unwrap();
        let uid = peer_uid(peer, server_side.local_addr().unwrap());
        assert_eq!(uid, Some(nix::unistd::geteuid().as_raw()));
        drop(client);
    }
}
