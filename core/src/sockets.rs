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
//! Also the bind probe: whether the OS lets a port be bound on every
//! loopback and wildcard address.
//!
//! Not a stable API: the registry uses it, tests and benches reach it.

use crate::pid::PerProcess;
use std::collections::HashSet;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket as RawSocket, Type};

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

/// The kernel's number for the LISTEN state of a TCP socket.
pub const TCP_LISTEN: u8 = 10;

/// What the kernel says about one TCP socket found by its addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Socket {
    /// The uid that created it (0 for a connection in TIME_WAIT, which no
    /// process has any more).
    pub uid: u32,
    /// 0 when no process holds the socket (TIME_WAIT, orphaned).
    pub inode: u64,
    /// The TCP state as the kernel numbers it (10 is LISTEN).
    pub state: u8,
}

/// The TCP socket whose own address is `local` and whose peer is `remote`,
/// asked of the kernel for that one socket (a hash lookup, microseconds
/// however many connections the machine has). With `remote` on port 0 it
/// is the listener a connection to `local` would reach (127.0.0.1:P finds a
/// listener on 127.0.0.1, 0.0.0.0 or a dual-stack `::`). `Ok(None)`: no
/// such socket. Netlink only: an error where it is refused.
pub fn lookup(local: SocketAddr, remote: SocketAddr) -> std::io::Result<Option<Socket>> {
    netlink::lookup(local, remote)
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
static CHOSEN: PerProcess<Source> = PerProcess::new();

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
                CHOSEN.get_or_init(|| Source::Netlink);
                Some(v)
            }
            Err(_) => {
                CHOSEN.get_or_init(|| Source::Procfs);
                procfs_text::read(port)
            }
        },
    }
}

/// What the OS says about a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// A bind succeeds on 127.0.0.1, 0.0.0.0, ::1 and :: (v6only), where IPv6 exists.
    Free,
    /// Some process has it on at least one of those addresses.
    InUse,
    /// This user may not bind it (a port below 1024 without privileges).
    Denied,
}

/// The addresses a port must be bindable on to count as free, with whether
/// the IPv6 socket is v6-only.
pub const PROBE_ADDRS: [(SocketAddr, bool); 4] = [
    (
        SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
        false,
    ),
    (
        SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        false,
    ),
    (
        SocketAddr::new(std::net::IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
        true,
    ),
    (
        SocketAddr::new(std::net::IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        true,
    ),
];

/// Asks the OS whether `port` can be bound on every address a dev server might
/// use. A listener on any one of them (say only ::1, or :: v6only) makes the
/// port busy. SO_REUSEADDR is set, as servers set it, so a port lingering in
/// TIME_WAIT still counts as free.
///
/// On Linux one bind answers for all four addresses: a dual-stack socket
/// (:: with IPV6_V6ONLY off) is refused on a port that any TCP socket of
/// either family holds, whatever its address, since its wildcard covers
/// both. The tests put a listener on each of the four addresses (and on a
/// dual-stack ::) and check that it is seen. Where the machine has no IPv6
/// (the socket cannot be made, or the bind is refused for another reason
/// than the port) the IPv4 wildcard bind alone answers, as it always did
/// for IPv4.
pub fn probe(port: u16) -> Probe {
    #[cfg(target_os = "linux")]
    {
        let dual = SocketAddr::new(std::net::IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
        match try_bind(dual, false) {
            Ok(()) => return Probe::Free,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Probe::InUse,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Probe::Denied,
            Err(_) => {}
        }
        probe_each(port, &[PROBE_ADDRS[1], PROBE_ADDRS[3]])
    }
    #[cfg(not(target_os = "linux"))]
    probe_each(port, &PROBE_ADDRS)
}

/// A bind on each of `addrs` in turn: the first refusal answers.
fn probe_each(port: u16, addrs: &[(SocketAddr, bool)]) -> Probe {
    for &(addr, v6only) in addrs {
        let mut addr = addr;
        addr.set_port(port);
        match try_bind(addr, v6only) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Probe::InUse,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Probe::Denied,
            // No IPv6 on this machine (or this address family): nothing can listen there.
            Err(_) => {}
        }
    }
    Probe::Free
}

fn try_bind(addr: SocketAddr, v6only: bool) -> io::Result<()> {
    let socket = RawSocket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() && v6only_default() != Some(v6only) {
        socket.set_only_v6(v6only)?;
    }
    socket.bind(&addr.into())
}

/// What a new IPv6 socket's IPV6_V6ONLY is before anyone sets it: the
/// `net.ipv6.bindv6only` sysctl, read once (false on a stock Linux, so the
/// dual-stack probe sets nothing). `None` where it cannot be read: the
/// option is then always set.
fn v6only_default() -> Option<bool> {
    static DEFAULT: PerProcess<Option<bool>> = PerProcess::new();
    *DEFAULT.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            match std::fs::read("/proc/sys/net/ipv6/bindv6only")
                .ok()?
                .trim_ascii()
            {
                b"0" => Some(false),
                b"1" => Some(true),
                _ => None,
            }
        }
        #[cfg(not(target_os = "linux"))]
        None
    })
}

#[cfg(target_os = "linux")]
mod netlink {
    use std::io;
    use std::net::SocketAddr;

    use netlink_packet_core::{
        NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
    };
    use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, TCP_LISTEN};
    use netlink_packet_sock_diag::inet::{
        ExtensionFlags, InetRequest, InetResponseHeader, SocketId, StateFlags,
    };
    use netlink_packet_sock_diag::SockDiagMessage;
    use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket as NlSocket};

    use super::{ListenSocket, Socket};

    /// The kernel sizes a dump's datagrams to the reader's buffer, capped at
    /// 32 KiB: a buffer this large is never truncated.
    const RECV_BUF: usize = 32 * 1024;

    pub(super) fn read(port: Option<u16>) -> io::Result<Vec<ListenSocket>> {
        let socket = open()?;
        let mut buf = vec![0u8; RECV_BUF];
        let mut out = Vec::new();
        // sock_diag dispatches on one address family per request.
        for (seq, family) in [(1, AF_INET), (2, AF_INET6)] {
            let mut socket_id = if family == AF_INET {
                SocketId::new_v4()
            } else {
                SocketId::new_v6()
            };
            // The kernel skips listeners whose local port differs from a
            // non-zero `idiag_sport`: an exact port filter without bytecode.
            socket_id.source_port = port.unwrap_or(0);
            let req = InetRequest {
                family,
                protocol: IPPROTO_TCP,
                extensions: ExtensionFlags::empty(),
                states: StateFlags::LISTEN,
                socket_id,
            };
            ask(&socket, req, true, seq, &mut buf, |h| {
                let p = h.socket_id.source_port;
                if h.state == TCP_LISTEN && port.is_none_or(|want| want == p) {
                    out.push(ListenSocket {
                        addr: SocketAddr::new(h.socket_id.source_address, p),
                        uid: h.uid,
                        inode: u64::from(h.inode),
                    });
                }
            })?;
        }
        Ok(out)
    }

    pub(super) fn lookup(local: SocketAddr, remote: SocketAddr) -> io::Result<Option<Socket>> {
        if local.is_ipv4() != remote.is_ipv4() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "both addresses must be of one family",
            ));
        }
        let socket = open()?;
        // One socket answers in a few hundred bytes; don't wait forever on a
        // kernel that never does.
        socket2::SockRef::from(&socket)
            .set_read_timeout(Some(std::time::Duration::from_secs(1)))?;
        let req = InetRequest {
            family: if local.is_ipv4() { AF_INET } else { AF_INET6 },
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id: SocketId {
                source_port: local.port(),
                destination_port: remote.port(),
                source_address: local.ip(),
                destination_address: remote.ip(),
                interface_id: 0,
                // INET_DIAG_NOCOOKIE: match by the addresses alone.
                cookie: [0xff; 8],
            },
        };
        let mut buf = vec![0u8; 4096];
        let mut found = None;
        let asked = ask(&socket, req, false, 1, &mut buf, |h| {
            found.get_or_insert(Socket {
                uid: h.uid,
                inode: u64::from(h.inode),
                state: h.state,
            });
        });
        match asked {
            Ok(()) => Ok(found),
            Err(e) if e.raw_os_error() == Some(libc_enoent()) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn libc_enoent() -> i32 {
        nix::errno::Errno::ENOENT as i32
    }

    fn open() -> io::Result<NlSocket> {
        let socket = NlSocket::new(NETLINK_SOCK_DIAG)?;
        socket.connect(&netlink_sys::SocketAddr::new(0, 0))?;
        Ok(socket)
    }

    /// Sends one request (a dump or a single-socket query) and hands every
    /// socket of the answer to `each`, until the kernel says it is done (a
    /// dump) or has answered (one socket).
    fn ask(
        socket: &NlSocket,
        req: InetRequest,
        dump: bool,
        seq: u32,
        buf: &mut [u8],
        mut each: impl FnMut(&InetResponseHeader),
    ) -> io::Result<()> {
        let mut header = NetlinkHeader::default();
        header.flags = if dump {
            NLM_F_REQUEST | NLM_F_DUMP
        } else {
            NLM_F_REQUEST
        };
        header.sequence_number = seq;
        let mut request = NetlinkMessage::new(header, SockDiagMessage::InetRequest(req).into());
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
                        each(&r.header);
                        if !dump {
                            return Ok(());
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::Error(_) if !dump => return Ok(()),
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
    pub(super) fn lookup(
        _local: std::net::SocketAddr,
        _remote: std::net::SocketAddr,
    ) -> std::io::Result<Option<super::Socket>> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

#[cfg(not(target_os = "linux"))]
mod procfs_text {
    pub(super) fn read(_port: Option<u16>) -> Option<Vec<super::ListenSocket>> {
        None
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};

    fn me() -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    #[test]
    fn lookup_finds_both_ends_of_a_loopback_connection_and_the_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let at = listener.local_addr().unwrap();
        let client = TcpStream::connect(at).unwrap();
        let (_server_side, peer) = listener.accept().unwrap();
        let c = lookup(peer, at).unwrap().expect("the client's socket");
        assert_eq!(c.uid, me());
        assert_ne!(c.inode, 0);
        assert_ne!(c.state, TCP_LISTEN);
        let l = lookup(at, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
            .unwrap()
            .expect("the listener");
        assert_eq!((l.uid, l.state), (me(), TCP_LISTEN));
        drop(client);
    }

    #[test]
    fn lookup_of_nothing_is_none() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert_eq!(
            lookup(to, SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))).unwrap(),
            None
        );
    }

    #[test]
    fn probe_sees_a_listener_on_each_address() {
        for (addr, port) in [("127.0.0.1", 31140), ("0.0.0.0", 31141)] {
            assert_eq!(probe(port), Probe::Free);
            let l = TcpListener::bind((addr, port)).unwrap();
            assert_eq!(probe(port), Probe::InUse, "{addr}");
            drop(l);
        }
    }

    #[test]
    fn lookup_on_ipv6_loopback() {
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            eprintln!("no IPv6 loopback here; skipping");
            return;
        };
        let at = listener.local_addr().unwrap();
        let l = lookup(at, SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)))
            .unwrap()
            .expect("the listener");
        assert_eq!((l.uid, l.state), (me(), TCP_LISTEN));
        let _client = TcpStream::connect(at).unwrap();
        let (_s, peer) = listener.accept().unwrap();
        assert_eq!(lookup(peer, at).unwrap().map(|s| s.uid), Some(me()));
    }
}
