//! Leases a process takes for itself through the bindings' shared code:
//! released once, remembered for release at exit, and the rule for releasing
//! what is no longer held (the shared table in tests/error-cases.json).

use std::sync::Arc;

use portreg_core::{tracking, ErrorCode, LeaseRequest, OwnLease, Registry, State};

/// `release_all` releases every lease this test process took: the tests that
/// take leases run one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn fresh() -> (tempfile::TempDir, Arc<Registry>) {
    let dir = tempfile::tempdir().unwrap();
    let reg = Arc::new(Registry::open(dir.path().join("reg")).unwrap());
    reg.set_print_warnings(false);
    (dir, reg)
}

fn req(name: &str) -> LeaseRequest {
    LeaseRequest::new(name).range("25400-25499".parse::<portreg_core::PortRange>().unwrap())
}

#[test]
fn shared_release_rule() {
    let table: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/error-cases.json")).unwrap();
    let _one = serial();
    for case in table["releases"]["cases"].as_array().unwrap() {
        let (_d, reg) = fresh();
        let name = case["name"].as_str().unwrap();
        let then = |lease: &OwnLease| match case["then"].as_str().unwrap() {
            "release" => assert!(lease.release().unwrap(), "{case}"),
            _ => {
                tracking::forget_name(&reg, name, false).unwrap();
            }
        };
        let lease = OwnLease::take(&reg, &req(name)).unwrap();
        then(&lease);
        assert_eq!(
            serde_json::Value::Bool(lease.release().unwrap()),
            case["lease_release"],
            "{case}"
        );
        assert!(lease.is_released());

        let lease = OwnLease::take(&reg, &req(name)).unwrap();
        then(&lease);
        match (
            &case["name_release"],
            tracking::release_name(&reg, name, false),
        ) {
            (serde_json::Value::Bool(want), Ok(got)) => assert_eq!(*want, got, "{case}"),
            (serde_json::Value::String(code), Err(e)) => {
                assert_eq!(e.code().as_str(), code, "{case}")
            }
            (want, got) => panic!("{case}: wanted {want}, got {got:?}"),
        }
    }
}

#[test]
fn release_all_releases_what_this_process_still_holds() {
    let _one = serial();
    let (_d, reg) = fresh();
    let a = OwnLease::take(&reg, &req("track-a")).unwrap();
    let _b = OwnLease::take(&reg, &req("track-b")).unwrap();
    let c = OwnLease::take(&reg, &req("track-c")).unwrap();
    assert!(c.release().unwrap());
    assert_eq!(
        tracking::release_all(),
        2,
        "a and b; c was released already"
    );
    for n in ["track-a", "track-b", "track-c"] {
        assert_eq!(reg.get(n).unwrap().unwrap().state, State::Idle, "{n}");
    }
    // The object answers false: nothing left. The port is remembered.
    assert!(!a.release().unwrap(), "released at exit already");
    let again = OwnLease::take(&reg, &req("track-a")).unwrap();
    assert_eq!(again.lease().port, a.lease().port);
    assert!(again.release().unwrap());
}

#[test]
fn a_lease_for_another_process_is_not_released_at_exit() {
    let _one = serial();
    let (_d, reg) = fresh();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let lease = OwnLease::take(&reg, &req("theirs").pid(child.id())).unwrap();
    assert_eq!(lease.lease().holder.pid, child.id());
    tracking::release_all();
    assert_eq!(reg.get("theirs").unwrap().unwrap().state, State::Active);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn another_live_holder_is_not_holder() {
    let (_d, reg) = fresh();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    reg.lease(&req("busy").pid(child.id())).unwrap();
    let e = tracking::release_name(&reg, "busy", false).unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotHolder);
    assert!(tracking::release_name(&reg, "busy", true).unwrap());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn shared_registry_is_one_per_directory_and_follows_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reg");
    let a = Registry::shared(&path).unwrap();
    let b = Registry::shared(&path).unwrap();
    assert!(Arc::ptr_eq(&a, &b), "the same open registry");
    // A new config.toml changes the range: the registry is opened anew.
    std::fs::write(path.join("config.toml"), "range = \"25500-25510\"\n").unwrap();
    let c = Registry::shared(&path).unwrap();
    assert!(!Arc::ptr_eq(&a, &c));
    assert_eq!(c.default_range().to_string(), "25500-25510");
    // A directory made writable by others is refused on the next call.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = Registry::shared(&path).err().expect("refused");
    assert_eq!(e.code(), ErrorCode::Permission);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(Registry::shared(&path).is_ok());
}
