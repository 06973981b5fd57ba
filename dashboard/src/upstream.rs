//! Connections from the dashboard to services on this machine (the
//! NAME.localhost proxy and health probes).

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpStream;

/// Connects to the first address that accepts.
pub async fn connect_any(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address to connect to")))
}
