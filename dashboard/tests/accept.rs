//! The accept path stays cheap: the check that a connection comes from the
//! dashboard's own user must not slow down as connections pile up.
//! Ports: 26600-26609.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

/// Raises this process's open-file limit to its hard limit (the test holds
/// a thousand sockets).
fn raise_nofile() -> libc::rlim_t {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit with a valid rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    lim.rlim_cur
}

#[test]
fn the_api_answers_while_a_thousand_idle_connections_are_open() {
    const IDLE: usize = 1000;
    if raise_nofile() < (IDLE as libc::rlim_t) + 200 {
        eprintln!("the open-file limit is below {} here; skipping", IDLE + 200);
        return;
    }
    let reg = Reg::new();
    let dash = Dash::start(&reg, 26600);
    let started = Instant::now();
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(TcpStream::connect(("127.0.0.1", dash.port)).unwrap());
    }
    let opened = started.elapsed();
    // Each request on a fresh connection, as a browser's would be.
    let asked = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", dash.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET /api/entries HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        dash.host
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let took = asked.elapsed();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(raw.contains("\"portreg-dashboard\""), "{raw}");
    assert!(
        took < Duration::from_secs(2),
        "/api/entries took {took:?} with {IDLE} idle connections open (opening them took {opened:?})"
    );
    eprintln!("{IDLE} idle connections opened in {opened:?}; /api/entries answered in {took:?}");
    // and the page itself
    let page = dash.get("/");
    assert_eq!(page.status, 200);
    drop(idle);
}
