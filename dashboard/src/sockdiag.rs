//! Whose is this TCP socket? Asked of the kernel for one socket by its
//! addresses (sock_diag netlink, SOCK_DIAG_BY_FAMILY without NLM_F_DUMP):
//! a hash lookup taking microseconds however many sockets the machine has,
//! where reading /proc/net/tcp walks every one of them (milliseconds, and
//! seconds under thousands of connections).
//!
//! The request and reply are the C structs of linux/inet_diag.h.

use std::io;
use std::net::SocketAddr;

/// TCP states as the kernel numbers them (include/net/tcp_states.h).
pub const TCP_LISTEN: u8 = 10;

/// What the kernel says about one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Socket {
    /// The uid that created the socket (0 for a connection in TIME_WAIT,
    /// which no process has any more).
    pub uid: u32,
    /// 0 when no process holds the socket (TIME_WAIT, orphaned).
    pub inode: u32,
    pub state: u8,
}

/// The TCP socket whose own address is `local` and whose peer is `remote`.
/// With `remote` on port 0 it is the listener that a connection to `local`
/// would reach (the kernel picks it as it would for a real connection:
/// `127.0.0.1:P` finds a listener on 127.0.0.1, 0.0.0.0 or a dual-stack
/// `::`). `Ok(None)`: no such socket.
#[cfg(target_os = "linux")]
pub fn lookup(local: SocketAddr, remote: SocketAddr) -> io::Result<Option<Socket>> {
    linux::lookup(local, remote)
}

#[cfg(not(target_os = "linux"))]
pub fn lookup(_local: SocketAddr, _remote: SocketAddr) -> io::Result<Option<Socket>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "socket owners are known on Linux only",
    ))
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::mem::size_of;
    use std::net::{IpAddr, SocketAddr};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    use super::Socket;

    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLMSG_ERROR: u16 = 2;
    const NLM_F_REQUEST: u16 = 1;

    #[repr(C)]
    #[derive(Clone, Copy)]
    struct NlMsgHdr {
        len: u32,
        kind: u16,
        flags: u16,
        seq: u32,
        pid: u32,
    }

    /// struct inet_diag_sockid: ports and addresses in network byte order.
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct SockId {
        sport: [u8; 2],
        dport: [u8; 2],
        src: [u8; 16],
        dst: [u8; 16],
        ifindex: u32,
        cookie: [u32; 2],
    }

    /// struct inet_diag_req_v2
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct ReqV2 {
        family: u8,
        protocol: u8,
        ext: u8,
        pad: u8,
        states: u32,
        id: SockId,
    }

    #[repr(C)]
    struct Request {
        hdr: NlMsgHdr,
        req: ReqV2,
    }

    /// struct inet_diag_msg
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct DiagMsg {
        family: u8,
        state: u8,
        timer: u8,
        retrans: u8,
        id: SockId,
        expires: u32,
        rqueue: u32,
        wqueue: u32,
        uid: u32,
        inode: u32,
    }

    fn addr_bytes(ip: IpAddr) -> [u8; 16] {
        let mut b = [0u8; 16];
        match ip {
            IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => b = v6.octets(),
        }
        b
    }

    pub fn lookup(local: SocketAddr, remote: SocketAddr) -> io::Result<Option<Socket>> {
        let family = if local.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        if local.is_ipv4() != remote.is_ipv4() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "both addresses must be of one family",
            ));
        }
        // SAFETY: plain socket(2); the fd is owned from here on.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let timeout = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        // SAFETY: a timeval of the size given, for SO_RCVTIMEO.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        let req = Request {
            hdr: NlMsgHdr {
                len: size_of::<Request>() as u32,
                kind: SOCK_DIAG_BY_FAMILY,
                flags: NLM_F_REQUEST,
                seq: 1,
                pid: 0,
            },
            req: ReqV2 {
                family: family as u8,
                protocol: libc::IPPROTO_TCP as u8,
                ext: 0,
                pad: 0,
                states: !0,
                id: SockId {
                    sport: local.port().to_be_bytes(),
                    dport: remote.port().to_be_bytes(),
                    src: addr_bytes(local.ip()),
                    dst: addr_bytes(remote.ip()),
                    ifindex: 0,
                    // INET_DIAG_NOCOOKIE: match by addresses alone
                    cookie: [!0, !0],
                },
            },
        };
        // SAFETY: an all-zero sockaddr_nl is valid; pid 0 is the kernel.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: req and kernel live across the call, with the sizes given.
        let sent = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                (&req as *const Request).cast(),
                size_of::<Request>(),
                0,
                (&kernel as *const libc::sockaddr_nl).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = [0u8; 1024];
        // SAFETY: buf is writable for its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        parse(&buf[..n as usize])
    }

    fn read<T: Copy>(buf: &[u8], at: usize) -> Option<T> {
        let bytes = buf.get(at..at + size_of::<T>())?;
        // SAFETY: T is a plain C struct or integer, any bit pattern is valid,
        // and the read is unaligned-safe.
        Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
    }

    fn parse(buf: &[u8]) -> io::Result<Option<Socket>> {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "short sock_diag reply");
        let hdr: NlMsgHdr = read(buf, 0).ok_or_else(bad)?;
        let body = size_of::<NlMsgHdr>();
        match hdr.kind {
            NLMSG_ERROR => {
                let err: i32 = read(buf, body).ok_or_else(bad)?;
                match -err {
                    0 | libc::ENOENT => Ok(None),
                    e => Err(io::Error::from_raw_os_error(e)),
                }
            }
            SOCK_DIAG_BY_FAMILY => {
                let m: DiagMsg = read(buf, body).ok_or_else(bad)?;
                Ok(Some(Socket {
                    uid: m.uid,
                    inode: m.inode,
                    state: m.state,
                }))
            }
            k => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected sock_diag reply type {k}"),
            )),
        }
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
    fn finds_both_ends_of_a_loopback_connection_and_the_listener() {
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
    fn nothing_there_is_none() {
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
    fn ipv6_loopback() {
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
