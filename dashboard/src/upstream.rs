//! Connections from the dashboard to services on this machine (the
//! NAME.localhost proxy and health probes), made only to a listener of the
//! dashboard's own user. Loopback is shared by every user: while a service
//! is down, or listens on 127.0.0.1 only, anyone may listen on its port at
//! the other address ([::1] v6-only), and would receive the requests, with
//! the cookies the browser sends to NAME.localhost.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::TcpStream;

use portreg_core::sockets;

/// Connects to the first address whose listener is this user's. The error
/// says, for every address, why not.
pub async fn connect_owned(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let me = nix::unistd::geteuid().as_raw();
    let mut why = Vec::new();
    let mut kind = io::ErrorKind::ConnectionRefused;
    for &a in addrs {
        let any = match a {
            SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
        };
        // The listener a connection to `a` would reach, as the kernel picks it.
        let owner = tokio::task::spawn_blocking(move || sockets::lookup(a, any))
            .await
            .map_err(io::Error::other)?;
        match owner {
            Ok(Some(s)) if s.state == sockets::TCP_LISTEN && s.uid == me => {}
            Ok(Some(s)) if s.state == sockets::TCP_LISTEN => {
                kind = io::ErrorKind::PermissionDenied;
                why.push(format!(
                    "{a} is held by another user (uid {}): nothing is forwarded there",
                    s.uid
                ));
                continue;
            }
            Ok(_) => {
                why.push(format!("nothing listens on {a}"));
                continue;
            }
            // No socket owners on this system (not Linux): connect as is.
            Err(e) if e.kind() == io::ErrorKind::Unsupported => {}
            Err(e) => {
                why.push(format!("cannot tell who listens on {a}: {e}"));
                continue;
            }
        }
        match TcpStream::connect(a).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => why.push(format!("{a}: {e}")),
        }
    }
    if why.is_empty() {
        why.push("no address to connect to".into());
    }
    Err(io::Error::new(kind, why.join("; ")))
}
