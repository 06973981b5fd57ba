//! Listening TCP sockets (IPv4 and IPv6) as the kernel sees them: the
//! sock_diag netlink interface first, the `/proc/net/tcp{,6}` text tables
//! where netlink is refused (seccomp, no `inet_diag` module).
//!
//! Why netlink: reading `/proc/net/tcp` makes the kernel walk every bucket of
//! the established-connection hash and format each line as text (several
//! milliseconds on an ordinary machine), while a sock_diag dump limited to
//! the LISTEN state walks only the listening hash and answers in binary
//! (tens of microseconds for a hundred sockets).
//!
//! Not a stable API: the registry uses it, tests and benches reach it.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::OnceLock;

/// One TCP socket in LISTEN state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenSocket {
    /// Local address and port (`0.0.0.0` / `::` for a wildcard bind; a
    /// dual-stack `::` listener appears once, as IPv6).
    pub addr: SocketAddr,
    /// Owner uid, as seen from this process's user namespace.
    pub uid: u32,
    /// Socket inode: what `/proc/PID/fd/N -> socket:[INODE]` points to.
    pub inode: u64,
}

/// Where the kernel's socket tables are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A `NETLINK_SOCK_DIAG` dump of LISTEN sockets.
    Netlink,
    /// The text tables `/proc/net/tcp` and `/proc/net/tcp6`.
    Procfs,
}

/// The source this process settled on: netlink when the first read through
/// it worked, procfs for the rest of the process when it was refused.
static CHOSEN: OnceLock<Source> = OnceLock::new();

/// Every listening TCP socket. `None` where neither source can be read.
pub fn listening_sockets() -> Option<Vec<ListenSocket>> {
    read_auto(None)
}

/// Ports with a TCP socket in LISTEN state on any address. Unlike a test
/// bind, reading them can never make a server that is just starting fail
/// with "address in use". `None` where neither source can be read.
pub fn listening_ports() -> Option<HashSet<u16>> {
    read_auto(None).map(|v| v.iter().map(|s| s.addr.port()).collect())
}

/// The listening TCP sockets on `port` (every address). Through netlink the
/// kernel filters by port itself. `None` where neither source can be read.
pub fn listening_on(port: u16) -> Option<Vec<ListenSocket>> {
    read_auto(Some(port))
}

/// The source `listening_*` read from (deciding it now if no read has yet).
pub fn source() -> Source {
    if let Some(s) = CHOSEN.get() {
        return *s;
    }
    let _ = read_auto(Some(0));
    CHOSEN.get().copied().unwrap_or(Source::Procfs)
}

/// Reads from `source` only, without falling back: the listening sockets
/// on `port`, or on every port for `None`. `None` if that source cannot be
/// read here.
#[doc(hidden)]
pub fn read(source: Source, port: Option<u16>) -> Option<Vec<ListenSocket>> {
    match source {
        Source::Netlink => netlink::read(port).ok(),
        Source::Procfs => procfs_text::read(port),
    }
}

fn read_auto(port: Option<u16>) -> Option<Vec<ListenSocket>> {
    match CHOSEN.get() {
        Some(Source::Procfs) => procfs_text::read(port),
        // Chosen earlier and failing now (out of file descriptors, say):
        // this one read comes from the text tables.
        Some(Source::Netlink) => netlink::read(port).ok().or_else(|| procfs_text::read(port)),
        None => match netlink::read(port) {
            Ok(v) => {
                let _ = CHOSEN.set(Source::Netlink);
                Some(v)
            }
            Err(_) => {
                let _ = CHOSEN.set(Source::Procfs);
                procfs_text::read(port)
            }
        },
    }
}

#[cfg(target_os = "linux")]
mod netlink {
    use std::io;
    use std::net::SocketAddr;

    use netlink_packet_core::{
        NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
    };
    use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, TCP_LISTEN};
    use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
    use netlink_packet_sock_diag::SockDiagMessage;
    use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket};

    use super::ListenSocket;

    /// The kernel sizes a dump's datagrams to the reader's buffer, capped at
    /// 32 KiB: a buffer this large is never truncated.
    const RECV_BUF: usize = 32 * 1024;

    pub(super) fn read(port: Option<u16>) -> io::Result<Vec<ListenSocket>> {
        let socket = Socket::new(NETLINK_SOCK_DIAG)?;
        socket.connect(&netlink_sys::SocketAddr::new(0, 0))?;
        let mut buf = vec![0u8; RECV_BUF];
        let mut out = Vec::new();
        // sock_diag dispatches on one address family per request.
        for (seq, family) in [(1, AF_INET), (2, AF_INET6)] {
            dump(&socket, family, seq, port, &mut buf, &mut out)?;
        }
        Ok(out)
    }

    fn dump(
        socket: &Socket,
        family: u8,
        seq: u32,
        port: Option<u16>,
        buf: &mut [u8],
        out: &mut Vec<ListenSocket>,
    ) -> io::Result<()> {
        let mut socket_id = if family == AF_INET {
            SocketId::new_v4()
        } else {
            SocketId::new_v6()
        };
        // The kernel skips listeners whose local port differs from a
        // non-zero `idiag_sport`: an exact port filter without bytecode.
        socket_id.source_port = port.unwrap_or(0);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        header.sequence_number = seq;
        let mut request = NetlinkMessage::new(
            header,
            SockDiagMessage::InetRequest(InetRequest {
                family,
                protocol: IPPROTO_TCP,
                extensions: ExtensionFlags::empty(),
                states: StateFlags::LISTEN,
                socket_id,
            })
            .into(),
        );
        request.finalize();
        let mut bytes = vec![0u8; request.buffer_len()];
        request.serialize(&mut bytes);
        socket.send(&bytes, 0)?;

        loop {
            let n = socket.recv(&mut &mut buf[..], 0)?;
            if n > buf.len() {
                return Err(invalid("sock_diag reply truncated"));
            }
            let mut at = 0;
            while at < n {
                let msg = NetlinkMessage::<SockDiagMessage>::deserialize(&buf[at..n])
                    .map_err(|e| invalid(&e.to_string()))?;
                let len = msg.header.length as usize;
                if len == 0 {
                    return Err(invalid("sock_diag message of length 0"));
                }
                if msg.header.sequence_number != seq {
                    at += align(len);
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => {
                        let h = &r.header;
                        let p = h.socket_id.source_port;
                        if h.state == TCP_LISTEN && port.is_none_or(|want| want == p) {
                            out.push(ListenSocket {
                                addr: SocketAddr::new(h.socket_id.source_address, p),
                                uid: h.uid,
                                inode: u64::from(h.inode),
                            });
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::Overrun(_) => return Err(invalid("sock_diag overrun")),
                    _ => {}
                }
                at += align(len);
            }
        }
    }

    fn align(len: usize) -> usize {
        (len + 3) & !3
    }

    fn invalid(why: &str) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, why.to_string())
    }
}

#[cfg(target_os = "linux")]
mod procfs_text {
    use procfs::net::{TcpNetEntry, TcpState};

    use super::ListenSocket;

    /// Both tables, or the one that can be read (no `tcp6` without IPv6).
    pub(super) fn read(port: Option<u16>) -> Option<Vec<ListenSocket>> {
        let v4 = procfs::net::tcp().ok();
        let v6 = procfs::net::tcp6().ok();
        if v4.is_none() && v6.is_none() {
            return None;
        }
        Some(
            v4.into_iter()
                .chain(v6)
                .flatten()
                .filter(|e| e.state == TcpState::Listen)
                .filter(|e| port.is_none_or(|p| p == e.local_address.port()))
                .map(|e: TcpNetEntry| ListenSocket {
                    addr: e.local_address,
                    uid: e.uid,
                    inode: e.inode,
                })
                .collect(),
        )
    }
}

#[cfg(not(target_os = "linux"))]
mod netlink {
    pub(super) fn read(_port: Option<u16>) -> std::io::Result<Vec<super::ListenSocket>> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

#[cfg(not(target_os = "linux"))]
mod procfs_text {
    pub(super) fn read(_port: Option<u16>) -> Option<Vec<super::ListenSocket>> {
        None
    }
}
