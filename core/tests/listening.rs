//! `listening` on an entry: whether some process listens on an active
//! entry's port, from the kernel's socket tables, the same through `get`
//! and `list` (every language shows this field).

use std::net::TcpListener;

use portreg_core::{LeaseRequest, Registry, State};

#[test]
fn an_active_entry_says_whether_its_port_is_listened_on() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path().join("reg")).unwrap();
    reg.set_print_warnings(false);
    let range: portreg_core::PortRange = "25600-25699".parse().unwrap();
    let lease = reg.lease(&LeaseRequest::new("web").range(range)).unwrap();
    reg.reserve("pinned", 25700, None).unwrap();

    let e = reg.get("web").unwrap().unwrap();
    assert_eq!((e.state, e.listening), (State::Active, Some(false)));

    // Listening on ::1 only still counts (the kernel's tables, not a probe
    // of 127.0.0.1).
    let l = TcpListener::bind(("::1", lease.port))
        .or_else(|_| TcpListener::bind(("127.0.0.1", lease.port)))
        .unwrap();
    assert_eq!(reg.get("web").unwrap().unwrap().listening, Some(true));
    let all = reg.list().unwrap();
    let web = all.iter().find(|e| e.name == "web").unwrap();
    assert_eq!(web.listening, Some(true));
    let pinned = all.iter().find(|e| e.name == "pinned").unwrap();
    assert_eq!((pinned.state, pinned.listening), (State::Reserved, None));
    drop(l);
    assert_eq!(reg.get("web").unwrap().unwrap().listening, Some(false));

    reg.release("web", portreg_core::Actor::me()).unwrap();
    let e = reg.get("web").unwrap().unwrap();
    assert_eq!((e.state, e.listening), (State::Idle, None));
    let json = serde_json::to_value(&e).unwrap();
    assert!(json.get("listening").unwrap().is_null(), "{json}");
}
