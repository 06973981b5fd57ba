//! A descendant of a lease's holder shares the holder's lease: what a
//! framework's reloader needs (the parent imports the app and leases, its
//! worker imports it again and leases the same name). Real process trees.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use portreg_core::{tracking, ErrorCode, LeaseRequest, OwnLease, PortRange, Registry, State};

/// `sh` that starts `sleep` as its own child and prints that child's pid: a
/// holder (the shell) with a descendant (the sleep).
struct Tree {
    sh: Child,
    grandchild: u32,
}

impl Tree {
    fn new() -> Tree {
        let mut sh = Command::new("sh")
            .args(["-c", "sleep 60 & echo $!; wait"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(sh.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        Tree {
            sh,
            grandchild: line.trim().parse().unwrap(),
        }
    }
    fn holder(&self) -> u32 {
        self.sh.id()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.grandchild.to_string())
            .status();
        let _ = self.sh.kill();
        let _ = self.sh.wait();
    }
}

fn fresh() -> (tempfile::TempDir, Arc<Registry>) {
    let dir = tempfile::tempdir().unwrap();
    let reg = Arc::new(Registry::open(dir.path().join("reg")).unwrap());
    reg.set_print_warnings(false);
    (dir, reg)
}

fn req(name: &str, pid: u32) -> LeaseRequest {
    let range: PortRange = "25500-25599".parse().unwrap();
    LeaseRequest::new(name).range(range).pid(pid)
}

#[test]
fn a_descendant_of_the_holder_gets_the_holders_lease() {
    let (_d, reg) = fresh();
    let tree = Tree::new();
    let first = reg.lease(&req("web", tree.holder())).unwrap();
    assert_eq!(first.holder.pid, tree.holder());

    let again = reg.lease(&req("web", tree.grandchild)).unwrap();
    assert_eq!(again.port, first.port);
    assert!(again.existing);
    assert_eq!(again.holder.pid, tree.holder(), "the holder is unchanged");
    let e = reg.get("web").unwrap().unwrap();
    assert_eq!(e.state, State::Active);
    assert_eq!(e.holder.unwrap().pid, tree.holder());
}

#[test]
fn anyone_else_still_gets_lease_held() {
    let (_d, reg) = fresh();
    let tree = Tree::new();
    let other = Tree::new();
    // The holder is the grandchild: neither its parent (the shell), nor this
    // test process (an ancestor), nor an unrelated process may share it.
    reg.lease(&req("web", tree.grandchild)).unwrap();
    for pid in [tree.holder(), std::process::id(), other.holder()] {
        let e = reg.lease(&req("web", pid)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::LeaseHeld, "pid {pid}");
    }
}

#[test]
fn releasing_a_shared_lease_leaves_it_to_the_holder() {
    let (_d, reg) = fresh();
    let tree = Tree::new();
    let held = reg.lease(&req("web", tree.holder())).unwrap();

    let shared = OwnLease::take(&reg, &req("web", tree.grandchild)).unwrap();
    assert_eq!(shared.lease().port, held.port);
    assert!(!shared.release().unwrap(), "nothing of its own to release");
    assert!(shared.is_released());
    let e = reg.get("web").unwrap().unwrap();
    assert_eq!(
        e.holder.unwrap().pid,
        tree.holder(),
        "still held by the shell"
    );

    // At exit nothing is released either: the holder owns it.
    tracking::release_all();
    assert_eq!(reg.get("web").unwrap().unwrap().state, State::Active);
}
