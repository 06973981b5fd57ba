//! Listening sockets read from the kernel: both sources (sock_diag netlink
//! and the /proc/net/tcp text tables) see real listeners opened here, with
//! the right address, port and owner, and agree with each other.
#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use portreg_core::sockets::{self, ListenSocket, Source};
use socket2::{Domain, Protocol, Socket, Type};

const SOURCES: [Source; 2] = [Source::Netlink, Source::Procfs];

fn uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// The inode of the socket behind `fd`, as `/proc/self/fd` names it.
fn inode(fd: &impl AsRawFd) -> u64 {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    let link = link.to_string_lossy();
    link.strip_prefix("socket:[")
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not a socket: {link}"))
        .parse()
        .unwrap()
}

/// A TCP listener on `ip` (kernel-chosen port); `v6only` for IPv6.
fn listen(ip: IpAddr, v6only: bool) -> Option<Socket> {
    let domain = if ip.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).unwrap();
    if ip.is_ipv6() {
        s.set_only_v6(v6only).unwrap();
    }
    // No IPv6 on this host: the IPv6 cases have nothing to check.
    s.bind(&SocketAddr::new(ip, 0).into()).ok()?;
    s.listen(16).unwrap();
    Some(s)
}

fn port_of(s: &Socket) -> u16 {
    s.local_addr().unwrap().as_socket().unwrap().port()
}

fn read(source: Source) -> Vec<ListenSocket> {
    sockets::read(source, None).unwrap_or_else(|| panic!("{source:?} unreadable here"))
}

#[test]
fn each_source_sees_listeners_on_every_kind_of_address() {
    let cases = [
        (IpAddr::V4(Ipv4Addr::LOCALHOST), false),
        (IpAddr::V4(Ipv4Addr::UNSPECIFIED), false),
        (IpAddr::V6(Ipv6Addr::LOCALHOST), true),
        (IpAddr::V6(Ipv6Addr::UNSPECIFIED), true),
        // Dual-stack `::`: one IPv6 socket that also takes IPv4.
        (IpAddr::V6(Ipv6Addr::UNSPECIFIED), false),
    ];
    let mut opened = Vec::new();
    for (ip, v6only) in cases {
        if let Some(s) = listen(ip, v6only) {
            let want = ListenSocket {
                addr: SocketAddr::new(ip, port_of(&s)),
                uid: uid(),
                inode: inode(&s),
            };
            opened.push((s, want));
        }
    }
    assert!(opened.len() >= 2, "not even the IPv4 listeners opened");
    for source in SOURCES {
        let all = read(source);
        for (_, want) in &opened {
            assert!(
                all.contains(want),
                "{source:?} misses {want:?}; it saw {all:?}"
            );
            let on = sockets::read(source, Some(want.addr.port())).unwrap();
            assert_eq!(
                on,
                vec![want.clone()],
                "{source:?} on port {}",
                want.addr.port()
            );
        }
    }
    // The process-wide entry points agree with the forced sources.
    let ports = sockets::listening_ports().unwrap();
    for (_, want) in &opened {
        assert!(ports.contains(&want.addr.port()));
        assert_eq!(
            sockets::listening_on(want.addr.port()).unwrap(),
            vec![want.clone()]
        );
        assert!(sockets::listening_sockets().unwrap().contains(want));
    }
}

#[test]
fn both_sources_agree_on_the_full_set() {
    let _mine = [
        listen(IpAddr::V4(Ipv4Addr::LOCALHOST), false).unwrap(),
        listen(IpAddr::V4(Ipv4Addr::UNSPECIFIED), false).unwrap(),
    ];
    // Other programs (and tests running alongside) open and close listeners
    // between two reads: agree once two reads in a row match.
    let mut last = (BTreeSet::new(), BTreeSet::new());
    for _ in 0..50 {
        let nl: BTreeSet<_> = read(Source::Netlink).into_iter().collect();
        let pf: BTreeSet<_> = read(Source::Procfs).into_iter().collect();
        if nl == pf {
            assert!(!nl.is_empty());
            return;
        }
        last = (nl, pf);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (nl, pf) = last;
    panic!(
        "never agreed; only netlink: {:?}; only procfs: {:?}",
        nl.difference(&pf).collect::<Vec<_>>(),
        pf.difference(&nl).collect::<Vec<_>>()
    );
}

#[test]
fn a_closed_listener_disappears() {
    let s = listen(IpAddr::V4(Ipv4Addr::LOCALHOST), false).unwrap();
    let port = port_of(&s);
    for source in SOURCES {
        assert_eq!(sockets::read(source, Some(port)).unwrap().len(), 1);
    }
    drop(s);
    for source in SOURCES {
        assert_eq!(
            sockets::read(source, Some(port)).unwrap(),
            vec![],
            "{source:?} still sees port {port}"
        );
        assert!(read(source).iter().all(|l| l.addr.port() != port));
    }
}

#[test]
fn connected_sockets_are_not_listeners() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let (accepted, _) = server.accept().unwrap();
    let client_port = client.local_addr().unwrap().port();
    let client_inode = inode(&client);
    let accepted_inode = inode(&accepted);
    for source in SOURCES {
        let all = read(source);
        assert!(
            all.iter().all(|l| l.addr.port() != client_port),
            "{source:?} lists the client's port {client_port}"
        );
        assert!(
            all.iter()
                .all(|l| l.inode != client_inode && l.inode != accepted_inode),
            "{source:?} lists a connected socket"
        );
        // The accepted connection shares the listener's port: only the
        // listener itself is reported.
        let on = sockets::read(source, Some(server.local_addr().unwrap().port())).unwrap();
        assert_eq!(on.len(), 1, "{source:?}: {on:?}");
        assert_eq!(on[0].inode, inode(&server));
    }
}

#[test]
fn this_process_uses_netlink_where_the_kernel_allows_it() {
    let netlink_works = sockets::read(Source::Netlink, None).is_some();
    let want = if netlink_works {
        Source::Netlink
    } else {
        Source::Procfs
    };
    assert_eq!(sockets::source(), want);
}

/// Run in a child process (see the test below): refuses netlink sockets to
/// this thread with a seccomp filter, as a sandbox would, then reads.
#[test]
#[ignore = "run by falls_back_to_procfs_where_netlink_is_refused"]
fn child_with_netlink_refused() {
    use nix::libc;
    let own = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = own.local_addr().unwrap().port();
    // socket(AF_NETLINK, ...) fails with EPERM; every other call is allowed.
    let nr = libc::SYS_socket as u32;
    let mut filter = [
        bpf(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, 0),
        bpf(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, nr, 0, 3),
        bpf(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 16, 0, 0),
        bpf(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, 16, 0, 1),
        bpf(libc::BPF_RET, libc::SECCOMP_RET_ERRNO | 1, 0, 0),
        bpf(libc::BPF_RET, libc::SECCOMP_RET_ALLOW, 0, 0),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: plain prctl calls; `prog` outlives them and the kernel copies it.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        let mode = libc::SECCOMP_MODE_FILTER as libc::c_ulong;
        assert_eq!(libc::prctl(libc::PR_SET_SECCOMP, mode, &prog), 0);
    }
    // The first read decides the source for the process: it must already
    // answer from procfs.
    let on = sockets::listening_on(port).unwrap();
    assert_eq!(on.len(), 1);
    assert_eq!(on[0].inode, inode(&own));
    assert!(sockets::listening_ports().unwrap().contains(&port));
    assert_eq!(sockets::source(), Source::Procfs);
    assert!(sockets::read(Source::Netlink, None).is_none());
}

fn bpf(code: u32, k: u32, jt: u8, jf: u8) -> nix::libc::sock_filter {
    nix::libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

#[test]
fn falls_back_to_procfs_where_netlink_is_refused() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_with_netlink_refused",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
