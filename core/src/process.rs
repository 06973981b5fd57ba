//! Processes listening on ports, read from the kernel's socket tables through
//! the `listeners` crate (never by parsing lsof or netstat).

use std::net::SocketAddr;

/// One listening TCP socket and its process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortListener {
    pub pid: u32,
    pub name: String,
    pub addr: SocketAddr,
}

/// Every process listening on TCP `port` (exact match), sorted by pid and address.
pub fn listeners_on(port: u16) -> Vec<PortListener> {
    let Ok(all) = listeners::get_all() else {
        return Vec::new();
    };
    let mut v: Vec<PortListener> = all
        .into_iter()
        .filter(|l| {
            l.protocol == listeners::Protocol::TCP
                && l.socket.port() == port
                && l.state == listeners::SocketState::Listen
        })
        .map(|l| PortListener {
            pid: l.process.pid,
            name: l.process.name,
            addr: l.socket,
        })
        .collect();
    v.sort_by(|a, b| {
        a.pid
            .cmp(&b.pid)
            .then_with(|| a.addr.to_string().cmp(&b.addr.to_string()))
    });
    v.dedup();
    v
}

/// "pid 1234 python3 on [::1]:8080" for the first listener on `port`, when
/// it can be seen (another user's sockets may not be).
pub fn describe_listener(port: u16) -> Option<String> {
    let l = listeners_on(port);
    let first = l.first()?;
    let addrs: Vec<String> = l
        .iter()
        .filter(|x| x.pid == first.pid)
        .map(|x| x.addr.to_string())
        .collect();
    Some(format!(
        "pid {} {} on {}",
        first.pid,
        first.name,
        addrs.join(", ")
    ))
}
