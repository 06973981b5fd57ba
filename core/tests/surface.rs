//! The registry's side of what users see: several ranges tried in order,
//! adopting a server that already listens, a released name's own listener,
//! holder details read when shown, meta on reservations, find_free's spread.
//! Real processes and real sockets.

mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command};

use portreg_core::{Actor, ErrorCode, LeaseRequest, PortRanges, Registry, State, RELEASED_META};

fn reg_with(config: Option<&str>) -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reg");
    if let Some(c) = config {
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("config.toml"), c).unwrap();
    }
    let r = Registry::open(&path).unwrap();
    r.set_print_warnings(false);
    (dir, r)
}

/// A python3 child listening on 127.0.0.1:`port`.
struct Server(Child);
impl Server {
    fn new(port: u16) -> Server {
        Server(common::listener::python_listener("127.0.0.1", port, false))
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn config_ranges_are_tried_in_order() {
    let (_d, reg) = reg_with(Some("range = [\"28300-28300\", \"28310-28319\"]\n"));
    assert_eq!(reg.default_ranges().to_string(), "28300-28300,28310-28319");
    assert_eq!(reg.default_range().to_string(), "28300-28300");
    assert_eq!(reg.lease(&LeaseRequest::new("a")).unwrap().port, 28300);
    assert_eq!(reg.lease(&LeaseRequest::new("b")).unwrap().port, 28310);
    let f = reg.find_free(None).unwrap();
    assert!((28311..=28318).contains(&f), "{f}");

    let tight: PortRanges = "28300-28300,28310-28310".parse().unwrap();
    let e = reg
        .lease(&LeaseRequest::new("c").range(tight.clone()))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::NoFreePort);
    assert!(e.to_string().contains("28300-28300,28310-28310"), "{e}");
    assert_eq!(
        reg.find_free(Some(tight)).unwrap_err().code(),
        ErrorCode::NoFreePort
    );

    let bad = tempfile::tempdir().unwrap();
    std::fs::write(
        bad.path().join("config.toml"),
        "range = \"28300-28309,x\"\n",
    )
    .unwrap();
    let e = Registry::open(bad.path()).err().unwrap();
    assert_eq!(e.code(), ErrorCode::InvalidRange);
}

#[test]
fn a_server_listening_on_the_port_is_adopted_as_its_holder() {
    let (_d, reg) = reg_with(None);
    let server = Server::new(28320);
    let want = |pid: Option<u32>| {
        let r = LeaseRequest::new("web").port(28320).exact(true);
        match pid {
            Some(p) => r.pid(p),
            None => r,
        }
    };
    // Not for a bystander, nor for this process leasing for itself.
    let mut bystander = Command::new("sleep").arg("30").spawn().unwrap();
    for pid in [Some(bystander.id()), None] {
        let e = reg.lease(&want(pid)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PortBusy, "{pid:?}");
    }
    let _ = bystander.kill();
    let _ = bystander.wait();
    let lease = reg.lease(&want(Some(server.pid()))).unwrap();
    assert_eq!((lease.port, lease.holder.pid), (28320, server.pid()));
    let e = reg.get("web").unwrap().unwrap();
    assert_eq!(e.state, State::Active);
    assert_eq!(e.listening, Some(true));
    assert!(reg.conflicts().unwrap().is_empty());
}

#[test]
fn what_a_released_lease_left_listening_is_not_a_conflict() {
    let (_d, reg) = reg_with(None);
    let r: PortRanges = "28330-28339".parse().unwrap();
    let port = reg
        .lease(&LeaseRequest::new("web").range(r.clone()))
        .unwrap()
        .port;
    let marked = || {
        let e = reg.get("web").unwrap().unwrap();
        e.meta.contains_key(RELEASED_META)
    };
    let server = Server::new(port);
    reg.release("web", Actor::me()).unwrap();
    let e = reg.get("web").unwrap().unwrap();
    assert_eq!(e.state, State::Idle);
    assert!(e.meta[RELEASED_META].starts_with(&format!("{}:", server.pid())));
    assert!(reg.conflicts().unwrap().is_empty());
    drop(server);
    let other = Server::new(port);
    let c = reg.conflicts().unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].listeners[0].pid, other.pid());
    drop(other);
    // A release with nothing listening writes no mark; a new lease drops one.
    reg.lease(&LeaseRequest::new("web").range(r)).unwrap();
    assert!(!marked());
    reg.release("web", Actor::me()).unwrap();
    assert!(!marked());
}

#[test]
fn holder_details_are_read_when_shown() {
    let (_d, reg) = reg_with(None);
    let mut child = Command::new("sh")
        .args(["-c", "sleep 0.3; exec sleep 30"])
        .spawn()
        .unwrap();
    let lease = reg
        .lease(
            &LeaseRequest::new("web")
                .range("28340-28349".parse::<PortRanges>().unwrap())
                .pid(child.id()),
        )
        .unwrap();
    assert_eq!(lease.holder.cmdline[0], "sh");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let holder = loop {
        let h = reg.get("web").unwrap().unwrap().holder.unwrap();
        if h.cmdline == ["sleep", "30"] || std::time::Instant::now() > until {
            break h;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(holder.cmdline, ["sleep", "30"]);
    assert_eq!(holder.exe, "sleep");
    assert_eq!(holder.pid, child.id());
    let listed = reg.list().unwrap();
    assert_eq!(listed[0].holder.as_ref().unwrap().cmdline, ["sleep", "30"]);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn reserve_records_meta() {
    let (_d, reg) = reg_with(None);
    let meta: BTreeMap<String, String> = [("team".to_string(), "db".to_string())].into();
    let e = reg.reserve_with("db", 28350, None, Some(&meta)).unwrap();
    assert_eq!(e.meta, meta);
    let e = reg.reserve("db", 28350, Some("postgres")).unwrap();
    assert_eq!(e.meta, meta, "no meta given keeps it");
    let bad: BTreeMap<String, String> = [("k\u{1b}".to_string(), "v".to_string())].into();
    let e = reg.reserve_with("db", 28350, None, Some(&bad)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidText);
}

#[test]
fn find_free_spreads_its_answers() {
    let (_d, reg) = reg_with(None);
    let r: PortRanges = "28360-28399".parse().unwrap();
    let seen: std::collections::BTreeSet<u16> = (0..40)
        .map(|_| reg.find_free(Some(r.clone())).unwrap())
        .collect();
    // Eight candidates: forty picks all alike would be 8^-39.
    assert!(seen.len() > 1, "{seen:?}");
    assert!(seen.iter().all(|p| r.contains(*p)), "{seen:?}");
}
