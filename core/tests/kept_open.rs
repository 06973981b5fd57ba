//! Registries kept open (as a long-running app keeps one) reuse what they
//! last read or wrote while the files are unchanged: every change another
//! registry on the same directory makes must still be seen at once,
//! including a leases.json that comes back under the same inode with new
//! bytes (a spare file exchanged into place twice).

use portreg_core::{Actor, LeaseRequest, PortRange, Registry, State};

fn open(path: &std::path::Path) -> Registry {
    let r = Registry::open(path).unwrap();
    r.set_print_warnings(false);
    r
}

fn state(r: &Registry, name: &str) -> State {
    r.get(name).unwrap().expect("known name").state
}

fn lease(r: &Registry, name: &str) -> u16 {
    let range = PortRange::new(25600, 25699).unwrap();
    r.lease(&LeaseRequest::new(name).range(range)).unwrap().port
}

#[test]
fn two_registries_on_one_directory_see_each_others_leases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reg");
    let a = open(&path);
    let b = open(&path);
    let me = Actor::Pid(std::process::id());

    let port = lease(&a, "web");
    assert_eq!(state(&b, "web"), State::Active, "b sees a's lease");
    a.release("web", me).unwrap();
    assert_eq!(state(&b, "web"), State::Idle, "b sees a's release");
    assert_eq!(state(&a, "web"), State::Idle, "a sees its own release");

    // a's last write is cached by a; b writes twice, so that the second of
    // b's writes puts new bytes in the very file a cached (the spare).
    assert_eq!(lease(&a, "web"), port);
    lease(&b, "api");
    lease(&b, "db");
    let listed: Vec<(String, State)> = a
        .list()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.state))
        .collect();
    for name in ["web", "api", "db"] {
        assert!(
            listed.contains(&(name.to_string(), State::Active)),
            "a lists {name} active: {listed:?}"
        );
    }
    b.release("api", me).unwrap();
    b.release("db", me).unwrap();
    assert_eq!(state(&a, "api"), State::Idle);
    assert_eq!(state(&a, "db"), State::Idle);
    assert_eq!(state(&b, "web"), State::Active);
    a.release("web", me).unwrap();
    assert_eq!(state(&b, "web"), State::Idle);
}

#[test]
fn a_hand_edited_leases_file_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reg");
    let a = open(&path);
    lease(&a, "web");
    assert_eq!(state(&a, "web"), State::Active);
    // Emptied in place (not replaced): the same inode, new size and times.
    std::fs::write(
        path.join("leases.json"),
        "{\"version\": 1, \"leases\": []}\n",
    )
    .unwrap();
    assert_eq!(state(&a, "web"), State::Idle);
}
