//! `cargo bench -p portreg-core --bench sockets`: the median time to list
//! the listening TCP ports from each source (sock_diag netlink, the
//! /proc/net/tcp{,6} text tables), and to look up one port through the
//! kernel's port filter or a full dump filtered here. Figures, not
//! assertions: nothing here fails a build.

use std::collections::HashSet;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use portreg_core::sockets::{self, ListenSocket, Source};

const CALLS: usize = 200;

fn median(f: impl Fn()) -> Duration {
    f();
    let mut v: Vec<Duration> = (0..CALLS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v[v.len() / 2]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ports(v: Vec<ListenSocket>) -> HashSet<u16> {
    v.iter().map(|s| s.addr.port()).collect()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // One listener of our own, so the one-port lookup has something to find.
    let own = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = own.local_addr().unwrap().port();
    report(port);
    // A busier machine: 100 more listeners.
    let _more: Vec<TcpListener> = (0..100)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    report(port);
    println!("this process reads from {:?}", sockets::source());
}

fn report(port: u16) {
    let count = |s| sockets::read(s, None).map(|v| v.len());
    println!(
        "listening TCP sockets: {:?} via netlink, {:?} via procfs; {} calls each, median",
        count(Source::Netlink),
        count(Source::Procfs),
        CALLS
    );
    for source in [Source::Netlink, Source::Procfs] {
        if sockets::read(source, None).is_none() {
            println!("  {source:?}: unreadable here");
            continue;
        }
        let all = median(|| {
            std::hint::black_box(sockets::read(source, None).map(ports));
        });
        let one = median(|| {
            std::hint::black_box(sockets::read(source, Some(port)));
        });
        println!(
            "  {source:?}: listening_ports() {}, listening_on(port) {}",
            us(all),
            us(one)
        );
    }
    if sockets::read(Source::Netlink, None).is_some() {
        let dump_then_filter = median(|| {
            let v = sockets::read(Source::Netlink, None).unwrap();
            std::hint::black_box(v.into_iter().filter(|s| s.addr.port() == port).count());
        });
        println!(
            "  Netlink one port, full dump filtered in userspace: {}",
            us(dump_then_filter)
        );
    }
}
