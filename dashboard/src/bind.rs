//! The dashboard's port, held on 127.0.0.1 and on [::1]. Both: browsers ask
//! for `localhost` on ::1 first, and any user may bind a v6-only
//! [::1]:PORT, so whoever held it would be served at http://localhost:PORT,
//! an origin the page trusts. Where the machine has no IPv6 loopback at all
//! nobody can listen there, and 127.0.0.1 alone is served, with a warning.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

use portreg_core::Error;
use socket2::{Domain, Protocol, Socket, Type};

use portreg_core::sockets;

/// The dashboard's listening sockets (non-blocking).
pub struct Bound {
    pub v4: TcpListener,
    pub v6: Option<TcpListener>,
}

pub fn bind(port: u16) -> portreg_core::Result<Bound> {
    let v4 =
        listen(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), port)?.expect("IPv4 loopback exists");
    let v6 = listen(SocketAddr::from((Ipv6Addr::LOCALHOST, port)), port)?;
    if v6.is_none() {
        eprintln!(
            "portreg dashboard: warning: no IPv6 loopback on this machine; serving on 127.0.0.1 only"
        );
    }
    Ok(Bound { v4, v6 })
}

/// Listens on `addr` (v6-only for IPv6). `Ok(None)`: IPv6 is missing here.
fn listen(addr: SocketAddr, port: u16) -> portreg_core::Result<Option<TcpListener>> {
    let io_err = |e: io::Error| Error::Io {
        context: format!("cannot listen on {addr}"),
        source: e,
    };
    let socket = match Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)) {
        Ok(s) => s,
        Err(e) if addr.is_ipv6() && no_ipv6(&e) => return Ok(None),
        Err(e) => return Err(io_err(e)),
    };
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(io_err)?;
    }
    // as std's TcpListener::bind: a port in TIME_WAIT can be listened on
    socket.set_reuse_address(true).map_err(io_err)?;
    match socket.bind(&addr.into()) {
        Ok(()) => {}
        Err(e) if addr.is_ipv6() && no_ipv6(&e) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Err(busy(addr, port)),
        Err(e) => return Err(io_err(e)),
    }
    socket.listen(1024).map_err(io_err)?;
    socket.set_nonblocking(true).map_err(io_err)?;
    Ok(Some(socket.into()))
}

fn no_ipv6(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT)
    )
}

/// PORT_BUSY, naming who holds `addr` as well as can be told.
fn busy(addr: SocketAddr, port: u16) -> Error {
    let seen = portreg_core::process::describe_listener(port);
    let process = if addr.is_ipv6() {
        let any = SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0));
        let owner = match sockets::lookup(addr, any) {
            Ok(Some(s)) => format!(" of uid {}", s.uid),
            _ => String::new(),
        };
        Some(format!(
            "a socket{owner} on {addr}{}; the dashboard holds its port on both 127.0.0.1 and [::1], \
             as browsers try localhost on [::1] first",
            seen.map(|s| format!(": {s}")).unwrap_or_default()
        ))
    } else {
        seen
    };
    Error::PortBusy { port, process }
}
