//! Only the dashboard's own user may connect. Loopback is shared by every
//! user of the machine, and the page hands out the per-run token, so a
//! connection from another user's process is closed before a byte of HTTP
//! is read.
//!
//! The owner of the client's socket is asked of the kernel for that one
//! socket (`sock_diag`: microseconds, however many connections are open),
//! on a blocking thread, and several connections are checked at once: a
//! pile of idle connections cannot slow the accepts behind it, nor stall
//! the runtime that serves the page.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use portreg_core::sockets;

/// Listeners (127.0.0.1, and [::1] where there is IPv6) that hand out
/// connections from this user's processes (and root's) only.
pub struct SameUser {
    v4: TcpListener,
    v6: Option<TcpListener>,
    uid: u32,
    checks: JoinSet<Option<(TcpStream, SocketAddr)>>,
}

impl SameUser {
    pub fn new(v4: TcpListener, v6: Option<TcpListener>) -> SameUser {
        SameUser {
            v4,
            v6,
            uid: nix::unistd::geteuid().as_raw(),
            checks: JoinSet::new(),
        }
    }
}

async fn accept_any(
    v4: &TcpListener,
    v6: Option<&TcpListener>,
) -> io::Result<(TcpStream, SocketAddr)> {
    match v6 {
        None => v4.accept().await,
        Some(v6) => tokio::select! {
            r = v4.accept() => r,
            r = v6.accept() => r,
        },
    }
}

/// Whether the client end of `peer` -> `local` may be served.
pub fn allowed(peer: SocketAddr, local: SocketAddr, me: u32) -> Result<(), String> {
    // Without the peer's socket the kernel answers with a listener on the
    // peer's port, if any: not the client either.
    let client = sockets::lookup(peer, local)
        .map(|found| found.filter(|s| s.state != sockets::TCP_LISTEN && s.inode != 0));
    match client {
        // A process of ours, or of root. A socket no process holds any more
        // (inode 0: the client closed it) has no owner to trust.
        Ok(Some(s)) if s.uid == me || s.uid == 0 => Ok(()),
        Ok(Some(s)) => Err(format!(
            "it belongs to uid {}, and only uid {me} (the dashboard's user) may use it",
            s.uid
        )),
        Ok(_) => Err("its client socket is gone".into()),
        // No socket owners here at all (not Linux): as before, serve.
        Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(()),
        Err(e) => Err(format!("its owner cannot be told: {e}")),
    }
}

impl axum::serve::Listener for SameUser {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        let me = self.uid;
        loop {
            tokio::select! {
                Some(done) = self.checks.join_next(), if !self.checks.is_empty() => {
                    if let Ok(Some(ok)) = done {
                        return ok;
                    }
                }
                accepted = accept_any(&self.v4, self.v6.as_ref()) => {
                    let (stream, peer) = match accepted {
                        Ok(x) => x,
                        // out of file descriptors and the like: wait, do not spin
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    self.checks.spawn(async move {
                        let local = stream.local_addr().ok()?;
                        let verdict =
                            tokio::task::spawn_blocking(move || allowed(peer, local, me))
                                .await
                                .ok()?;
                        match verdict {
                            Ok(()) => Some((stream, peer)),
                            Err(why) => {
                                eprintln!("portreg dashboard: refused a connection from {peer}: {why}");
                                None
                            }
                        }
                    });
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.v4.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_of_this_user_is_allowed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, peer) = listener.accept().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let local = server_side.local_addr().unwrap();
        assert_eq!(allowed(peer, local, me), Ok(()));
        // as seen by a dashboard of another uid
        let other = if me == 0 { 65534 } else { me + 1 };
        if me != 0 {
            assert!(allowed(peer, local, other)
                .unwrap_err()
                .contains(&me.to_string()));
        }
        drop(client);
    }
}
