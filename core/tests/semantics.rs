//! Every allocation rule of docs/design.md against real processes and real sockets.
//! Each test uses its own registry and its own port range, so they run in parallel.

use std::collections::BTreeMap;
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command};

use portreg_core::{Actor, ErrorCode, LeaseRequest, PortRange, Registry, Released, State};

fn reg() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let r = Registry::open(dir.path().join("reg")).unwrap();
    r.set_print_warnings(false);
    (dir, r)
}

fn range(low: u16, high: u16) -> PortRange {
    PortRange::new(low, high).unwrap()
}

struct Sleeper(Child);
impl Sleeper {
    fn new() -> Sleeper {
        Sleeper(Command::new("sleep").arg("60").spawn().unwrap())
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}
impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn req(name: &str, r: PortRange) -> LeaseRequest {
    LeaseRequest::new(name).range(r)
}

#[test]
fn sticky_port_across_release_and_re_lease() {
    let (_d, reg) = reg();
    let r = range(21000, 21009);
    let a = reg.lease(&req("web", r)).unwrap();
    reg.lease(&req("api", r)).unwrap();
    assert_eq!(
        reg.release("web", Actor::me()).unwrap(),
        Released::Released {
            port: a.port,
            pid: std::process::id()
        }
    );
    assert_eq!(reg.get("web").unwrap().unwrap().state, State::Idle);
    let b = reg.lease(&req("web", r)).unwrap();
    assert_eq!(a.port, b.port, "a released name gets its port back");
    // case-insensitive, first spelling kept
    let c = reg.lease(&req("WEB", r)).unwrap();
    assert!(c.existing);
    assert_eq!(c.name, "web");
}

#[test]
fn port_of_is_the_port_get_shows_in_every_state() {
    let (d, reg) = reg();
    let r = range(21010, 21019);
    let held = reg.lease(&req("web", r)).unwrap();
    let idle = reg.lease(&req("api", r)).unwrap();
    reg.release("api", Actor::me()).unwrap();
    reg.reserve("db", 21019, None).unwrap();
    for (name, port) in [("web", held.port), ("API", idle.port), ("db", 21019)] {
        assert_eq!(reg.port_of(name).unwrap(), Some(port), "{name}");
        assert_eq!(reg.get(name).unwrap().map(|e| e.port), Some(port), "{name}");
    }
    assert_eq!(reg.port_of("nobody").unwrap(), None);
    assert_eq!(
        reg.port_of("not a name").unwrap_err().code(),
        ErrorCode::InvalidName
    );
    // Who holds a name never moves its port, not even a torn leases.json.
    fs::write(d.path().join("reg/leases.json"), "{ torn").unwrap();
    assert_eq!(reg.port_of("web").unwrap(), Some(held.port));
}

#[test]
fn idempotent_for_same_process_and_lease_held_for_another() {
    let (_d, reg) = reg();
    let r = range(21010, 21019);
    let first = reg.lease(&req("web", r)).unwrap();
    let again = reg.lease(&req("web", r)).unwrap();
    assert_eq!(first.port, again.port);
    assert!(!first.existing && again.existing);

    let other = Sleeper::new();
    let held = reg.lease(&req("api", r).pid(other.pid())).unwrap();
    let err = reg.lease(&req("api", r)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::LeaseHeld);
    let h = err.held_by().unwrap();
    assert_eq!((h.pid, h.port), (other.pid(), held.port));
    assert!(!h.since.is_empty());
    assert!(
        err.to_string()
            .contains(&format!("http://127.0.0.1:{}", held.port)),
        "{err}"
    );
    // releasing it from code, not being the holder
    assert_eq!(
        reg.release("api", Actor::me()).unwrap_err().code(),
        ErrorCode::NotHolder
    );
    assert!(matches!(
        reg.release("api", Actor::Force).unwrap(),
        Released::Released { .. }
    ));
}

#[test]
fn sigkilled_holder_turns_idle_even_unreaped() {
    let (_d, reg) = reg();
    let r = range(21020, 21029);
    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    let l = reg.lease(&req("svc", r).pid(child.id())).unwrap();
    assert_eq!(reg.get("svc").unwrap().unwrap().state, State::Active);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    // not reaped yet: a zombie holds nothing
    std::thread::sleep(std::time::Duration::from_millis(100));
    let e = reg.get("svc").unwrap().unwrap();
    assert_eq!(e.state, State::Idle);
    assert_eq!(e.port, l.port);
    child.wait().unwrap();
    // another process can now lease it, and gets the remembered port
    let me = reg.lease(&req("svc", r)).unwrap();
    assert_eq!(me.port, l.port);
}

#[test]
fn a_dead_holders_names_turn_idle_among_live_ones_in_order() {
    let (_d, reg) = reg();
    let r = range(21200, 21239);
    let live = Sleeper::new();
    let mut dead = Command::new("sleep").arg("60").spawn().unwrap();
    // Twenty names each, interleaved in the file's (port) order.
    for i in 0..40 {
        let pid = if i % 2 == 0 { live.pid() } else { dead.id() };
        reg.lease(&req(&format!("n{i:02}"), r).port(21200 + i).pid(pid))
            .unwrap();
    }
    dead.kill().unwrap();
    dead.wait().unwrap();
    let check = |reg: &Registry| {
        let mut all = reg.list().unwrap();
        all.retain(|e| e.name != "another");
        let names: Vec<String> = all.iter().map(|e| e.name.clone()).collect();
        let want: Vec<String> = (0..40).map(|i| format!("n{i:02}")).collect();
        assert_eq!(names, want, "port order kept");
        for (i, e) in all.iter().enumerate() {
            let (state, pid) = if i % 2 == 0 {
                (State::Active, Some(live.pid()))
            } else {
                (State::Idle, None)
            };
            assert_eq!(
                (e.state, e.holder.as_ref().map(|h| h.pid)),
                (state, pid),
                "{}",
                e.name
            );
        }
    };
    // A read judges them; a write drops the dead records for good.
    check(&reg);
    reg.lease(&req("another", r)).unwrap();
    reg.release("another", Actor::me()).unwrap();
    let text = fs::read_to_string(reg.path().join("leases.json")).unwrap();
    assert_eq!(text.matches("\"name\"").count(), 20, "{text}");
    check(&reg);
}

#[test]
fn pid_reuse_defeated_by_start_time() {
    let (_d, reg) = reg();
    let r = range(21030, 21039);
    let other = Sleeper::new();
    reg.lease(&req("svc", r).pid(other.pid())).unwrap();
    let path = reg.path().join("leases.json");
    let original = fs::read(&path).unwrap();
    let rewrite = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_slice(&original).unwrap();
        f(&mut v["leases"][0]["holder"]);
        fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        reg.get("svc").unwrap().unwrap()
    };
    // As if an earlier process with the same pid held it: another start.
    let e = rewrite(&|h| h["start_ticks"] = (h["start_ticks"].as_u64().unwrap() - 1).into());
    assert_eq!(
        e.state,
        State::Idle,
        "same pid, other start ticks: not the holder"
    );
    assert!(e.holder.is_none());
    // A record of an older version (start time in seconds only) is still
    // understood: the live holder stays active, a reused pid does not pass.
    let old = |h: &mut serde_json::Value, shift: u64| {
        let o = h.as_object_mut().unwrap();
        for k in ["start_ticks", "boot_id", "pid_ns", "lock"] {
            o.remove(k);
        }
        o["start_time"] = (o["start_time"].as_u64().unwrap() - shift).into();
    };
    let e = rewrite(&|h| old(h, 1000));
    assert_eq!(e.state, State::Idle, "an old record of an earlier process");
    let e = rewrite(&|h| old(h, 0));
    assert_eq!(e.state, State::Active, "an old record of a live holder");
    assert_eq!(e.holder.unwrap().pid, other.pid());
}

#[test]
fn reserved_ports_are_honoured() {
    let (_d, reg) = reg();
    let r = range(21040, 21049);
    let e = reg.reserve("db", 21040, Some("pinned")).unwrap();
    assert_eq!((e.state, e.port), (State::Reserved, 21040));
    // same request twice is fine
    reg.reserve("db", 21040, None).unwrap();
    // others never get it, not even by asking
    let x = reg.lease(&req("x", r).port(21040)).unwrap();
    assert_ne!(x.port, 21040);
    let err = reg.lease(&req("y", r).port(21040).exact(true)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::PortTaken);
    assert!(err.to_string().contains("db"));
    assert_eq!(
        reg.reserve("z", 21040, None).unwrap_err().code(),
        ErrorCode::PortTaken
    );
    // the reserved name gets it
    let db = reg.lease(&req("db", r)).unwrap();
    assert_eq!(db.port, 21040);
    reg.release("db", Actor::me()).unwrap();
    assert_eq!(reg.get("db").unwrap().unwrap().state, State::Reserved);
}

#[test]
fn idle_names_ports_avoided_until_range_is_otherwise_full() {
    let (_d, reg) = reg();
    let r = range(21050, 21052);
    let a = reg.lease(&req("a", r)).unwrap();
    reg.release("a", Actor::me()).unwrap();
    let b = reg.lease(&req("b", r)).unwrap();
    let c = reg.lease(&req("c", r)).unwrap();
    assert!(b.port != a.port && c.port != a.port && b.port != c.port);
    // the range is otherwise full: now a's remembered port goes to d
    let d = reg.lease(&req("d", r)).unwrap();
    assert_eq!(d.port, a.port);
    // and a, asking again, moves: its old port is held by d
    let err = reg.lease(&req("a", r)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoFreePort);
    assert!(err.to_string().contains("21050-21052"));
}

#[test]
fn no_free_port_when_range_exhausted() {
    let (_d, reg) = reg();
    let r = range(21060, 21061);
    reg.lease(&req("a", r)).unwrap();
    reg.lease(&req("b", r)).unwrap();
    assert_eq!(
        reg.lease(&req("c", r)).unwrap_err().code(),
        ErrorCode::NoFreePort
    );
    assert_eq!(
        reg.find_free(Some(r.into())).unwrap_err().code(),
        ErrorCode::NoFreePort
    );
}

fn listen_on(addr: &str, v6only: bool) -> socket2::Socket {
    listen_with(addr, v6only, false)
}

fn listen_with(addr: &str, v6only: bool, reuse: bool) -> socket2::Socket {
    let addr: SocketAddr = addr.parse().unwrap();
    let s = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    if addr.is_ipv6() {
        s.set_only_v6(v6only).unwrap();
    }
    s.set_reuse_address(reuse).unwrap();
    s.bind(&addr.into()).unwrap();
    s.listen(8).unwrap();
    s
}

#[test]
fn foreign_listener_on_any_address_makes_port_busy() {
    let have_v6 = TcpListener::bind("[::1]:0").is_ok();
    // Each address docs/design.md names, plus a dual-stack :: listener, each with
    // and without SO_REUSEADDR (most servers set it; the probe does too).
    let cases: &[(&str, bool)] = &[
        ("127.0.0.1", false),
        ("0.0.0.0", false),
        ("[::1]", true),
        ("[::]", true),
        ("[::]", false),
    ];
    for reuse in [false, true] {
        for (i, (host, v6only)) in cases.iter().enumerate() {
            if host.starts_with('[') && !have_v6 {
                continue;
            }
            let (_d, reg) = reg();
            let low = 21600 + 10 * i as u16 + 50 * u16::from(reuse);
            let _l = listen_with(&format!("{host}:{low}"), *v6only, reuse);
            let what = format!("{host} (v6only {v6only}, SO_REUSEADDR {reuse})");
            let got = reg.lease(&req("svc", range(low, low + 5))).unwrap();
            assert_ne!(got.port, low, "listener on {what} must make {low} busy");
            let err = reg
                .lease(&req("other", range(low, low + 5)).port(low).exact(true))
                .unwrap_err();
            assert_eq!(err.code(), ErrorCode::PortBusy, "{what}");
            assert_ne!(
                reg.find_free(Some(range(low, low + 5).into())).unwrap(),
                low,
                "{what}"
            );
        }
    }
}

#[test]
fn remembered_port_taken_by_outsider_moves_name() {
    let (_d, reg) = reg();
    let r = range(21150, 21155);
    let a = reg.lease(&req("web", r)).unwrap();
    reg.release("web", Actor::me()).unwrap();
    let _l = listen_on(&format!("127.0.0.1:{}", a.port), false);
    let b = reg.lease(&req("web", r)).unwrap();
    assert_ne!(a.port, b.port);
    assert_eq!(reg.get("web").unwrap().unwrap().port, b.port);
}

#[test]
fn browsers_bad_ports_skipped() {
    let (_d, reg) = reg();
    // 6665-6669 are on the WHATWG bad-ports list
    let got = reg.lease(&req("irc-ish", range(6665, 6670))).unwrap();
    assert_eq!(got.port, 6670);
    assert_eq!(
        reg.find_free(Some(range(10080, 10081).into())).unwrap(),
        10081
    );
    // asked for exactly, a bad port is allowed
    let exact = reg
        .lease(&req("x", range(6665, 6670)).port(6666).exact(true))
        .unwrap();
    assert_eq!(exact.port, 6666);
}

#[test]
fn preferred_port_then_fallback() {
    let (_d, reg) = reg();
    let r = range(21160, 21169);
    let a = reg.lease(&req("a", r).port(21165)).unwrap();
    assert_eq!(a.port, 21165);
    let b = reg.lease(&req("b", r).port(21165)).unwrap();
    assert_eq!(b.port, 21160, "a preference moves when taken");
    let err = reg.lease(&req("c", r).port(21165).exact(true)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::PortTaken);
}

#[test]
fn description_and_meta_are_kept() {
    let (_d, reg) = reg();
    let mut meta = BTreeMap::new();
    meta.insert("project".to_string(), "/src/app".to_string());
    let r = range(21170, 21179);
    reg.lease(&req("app", r).description("the app").meta(meta.clone()))
        .unwrap();
    let e = reg.get("app").unwrap().unwrap();
    assert_eq!(e.description.as_deref(), Some("the app"));
    assert_eq!(e.meta, meta);
    let h = e.holder.unwrap();
    assert_eq!(h.pid, std::process::id());
    assert!(!h.exe.is_empty() && !h.cmdline.is_empty() && !h.user.is_empty() && !h.cwd.is_empty());
}

#[test]
fn forget_by_glob_is_all_or_nothing_and_keeps_other_records() {
    let (_d, reg) = reg();
    let r = range(21240, 21269);
    let other = Sleeper::new();
    for i in 0..10 {
        reg.lease(&req(&format!("web-{i}"), r)).unwrap();
        reg.lease(&req(&format!("api-{i}"), r).pid(other.pid()))
            .unwrap();
    }
    reg.lease(&req("web-other", r).pid(other.pid())).unwrap();
    // One of the names the glob gives is another process's: nothing goes.
    let err = reg.forget_many(&["web-*"], false).unwrap_err();
    assert_eq!(err.code(), ErrorCode::LeaseHeld);
    assert!(err.to_string().contains("web-other"), "{err}");
    assert_eq!(reg.list().unwrap().len(), 21);
    let gone = reg.forget_many(&["web-*"], true).unwrap();
    assert_eq!(gone.len(), 11);
    assert!(gone.iter().all(|e| e.state == State::Active));
    let left = reg.list().unwrap();
    assert_eq!(left.len(), 10);
    assert!(left.iter().all(
        |e| e.name.starts_with("api-") && e.holder.as_ref().map(|h| h.pid) == Some(other.pid())
    ));
    let text = fs::read_to_string(reg.path().join("leases.json")).unwrap();
    assert!(!text.contains("web-"), "{text}");
    assert_eq!(text.matches("\"name\"").count(), 10, "{text}");
}

#[test]
fn forget_and_clean() {
    let (_d, reg) = reg();
    let r = range(21180, 21189);
    let other = Sleeper::new();
    reg.lease(&req("held", r).pid(other.pid())).unwrap();
    assert_eq!(
        reg.forget("held", false).unwrap_err().code(),
        ErrorCode::LeaseHeld
    );
    reg.forget("held", true).unwrap();
    assert!(reg.get("held").unwrap().is_none());
    assert_eq!(
        reg.forget("held", false).unwrap_err().code(),
        ErrorCode::NotFound
    );
    assert_eq!(
        reg.release("nope", Actor::me()).unwrap_err().code(),
        ErrorCode::NotFound
    );

    let mut child = Command::new("sleep").arg("60").spawn().unwrap();
    reg.lease(&req("doomed", r).pid(child.id())).unwrap();
    reg.lease(&req("alive", r).pid(other.pid())).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let cleaned = reg.clean().unwrap();
    assert_eq!(cleaned.len(), 1);
    assert_eq!(cleaned[0].name, "doomed");
    assert!(reg.clean().unwrap().is_empty());
    let leases = fs::read_to_string(reg.path().join("leases.json")).unwrap();
    assert!(leases.contains("alive") && !leases.contains("doomed"));
}

#[test]
fn invalid_input_gets_its_code() {
    let (_d, reg) = reg();
    assert_eq!(
        reg.lease(&LeaseRequest::new("bad name"))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidName
    );
    assert_eq!(
        reg.lease(&LeaseRequest::new("")).unwrap_err().code(),
        ErrorCode::InvalidName
    );
    assert_eq!(
        reg.lease(&LeaseRequest::new("ok").port(0))
            .unwrap_err()
            .code(),
        ErrorCode::InvalidPort
    );
    assert_eq!(
        reg.reserve("ok", 0, None).unwrap_err().code(),
        ErrorCode::InvalidPort
    );
    assert_eq!(
        PortRange::new(9000, 8000).unwrap_err().code(),
        ErrorCode::InvalidRange
    );
    assert_eq!(
        reg.get("no/slash").unwrap_err().code(),
        ErrorCode::InvalidName
    );
    let err = reg
        .lease(&LeaseRequest::new("ghost").pid(99_999_999))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Process);
}

#[test]
fn files_are_private_and_pretty() {
    let (_d, reg) = reg();
    reg.lease(&req("web", range(21190, 21199))).unwrap();
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(reg.path()), 0o700);
    for f in ["registry.json", "leases.json", "registry.lock"] {
        assert_eq!(mode(&reg.path().join(f)), 0o600, "{f}");
    }
    let text = fs::read_to_string(reg.path().join("registry.json")).unwrap();
    assert!(text.starts_with("{\n  \"version\": 1,"), "{text}");
    // no temp files left behind
    let names: Vec<String> = fs::read_dir(reg.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn directory_writable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("reg");
    fs::create_dir(&p).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).unwrap();
    let err = Registry::open(&p).err().unwrap();
    assert_eq!(err.code(), ErrorCode::Permission);
    assert!(err.to_string().contains("chmod 700"), "{err}");
    let err = Registry::open(dir.path().join("missing/parent/reg"))
        .err()
        .unwrap();
    assert_eq!(err.code(), ErrorCode::Io);
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn corrupt_registry_is_moved_aside_never_overwritten() {
    let (_d, reg) = reg();
    reg.lease(&req("web", range(21200, 21209))).unwrap();
    let bad = b"{\"version\": 1, \"entries\": [ {\"name\": \"web\", \"po".to_vec();
    fs::write(reg.path().join("registry.json"), &bad).unwrap();
    let entries = reg.list().unwrap();
    assert!(entries.is_empty());
    let w = reg.take_warnings();
    assert!(w.iter().any(|w| w.contains("corrupt-")), "{w:?}");
    let aside: Vec<_> = fs::read_dir(reg.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("registry.json.corrupt-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(fs::read(&aside[0]).unwrap(), bad, "the bad bytes are kept");
    // work goes on
    reg.lease(&req("api", range(21200, 21209))).unwrap();
    // a second corruption in the same second does not overwrite the first
    fs::write(reg.path().join("registry.json"), b"garbage").unwrap();
    reg.list().unwrap();
    let n = fs::read_dir(reg.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("registry.json.corrupt-")
        })
        .count();
    assert_eq!(n, 2);
}

#[test]
fn torn_leases_file_means_nothing_held() {
    let (_d, reg) = reg();
    let r = range(21210, 21219);
    let a = reg.lease(&req("web", r)).unwrap();
    fs::write(reg.path().join("leases.json"), b"{\"version\": 1, \"lea").unwrap();
    let e = reg.get("web").unwrap().unwrap();
    assert_eq!((e.state, e.port), (State::Idle, a.port));
    assert!(reg
        .take_warnings()
        .iter()
        .any(|w| w.contains("leases.json")));
}

#[test]
fn newer_version_is_read_never_written() {
    let (_d, reg) = reg();
    let text = r#"{"version": 2, "entries": [{"name": "future", "port": 21220, "reserved": true, "created": "2030-01-01T00:00:00Z", "changed": "2030-01-01T00:00:00Z", "shiny": 1}], "more": {}}"#;
    fs::write(reg.path().join("registry.json"), text).unwrap();
    let e = reg.get("future").unwrap().unwrap();
    assert_eq!(e.port, 21220);
    let err = reg.lease(&req("web", range(21221, 21229))).unwrap_err();
    assert_eq!(err.code(), ErrorCode::RegistryVersion);
    assert_eq!(
        reg.reserve("x", 21225, None).unwrap_err().code(),
        ErrorCode::RegistryVersion
    );
    assert_eq!(
        fs::read_to_string(reg.path().join("registry.json")).unwrap(),
        text
    );
}

#[test]
fn config_and_env_range() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("reg");
    fs::create_dir(&p).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(p.join("config.toml"), "range = \"21230-21239\"\n").unwrap();
    let reg = Registry::open(&p).unwrap();
    assert_eq!(reg.default_range(), range(21230, 21239));
    fs::write(p.join("config.toml"), "range = \"21239-21230\"\n").unwrap();
    assert_eq!(
        Registry::open(&p).err().unwrap().code(),
        ErrorCode::InvalidRange
    );
}

#[test]
fn releasing_by_same_holder_records_new_description_and_meta() {
    let (_d, reg) = reg();
    let r = range(21240, 21249);
    reg.lease(&req("app", r).description("first")).unwrap();
    let mut meta = BTreeMap::new();
    meta.insert(
        "health".to_string(),
        "http://127.0.0.1:21240/health".to_string(),
    );
    let again = reg
        .lease(&req("app", r).description("second").meta(meta.clone()))
        .unwrap();
    assert!(again.existing);
    let e = reg.get("app").unwrap().unwrap();
    assert_eq!(e.description.as_deref(), Some("second"));
    assert_eq!(e.meta, meta);
    assert_eq!(e.state, State::Active);
}

/// registry.json is re-read only when it changed. portreg itself always
/// replaces the file, but a person may edit it in place (same inode, same
/// size): the very next call must see the edit, and the next write must
/// keep it.
#[test]
fn edit_in_place_is_seen_at_once_and_kept() {
    use std::io::{Seek, SeekFrom, Write};
    let (_d, reg) = reg();
    let r = range(21700, 21709);
    reg.reserve("db", 21705, Some("aaaa")).unwrap();
    reg.lease(&req("web", r).description("first")).unwrap();
    assert_eq!(reg.get("db").unwrap().unwrap().port, 21705);
    let path = reg.path().join("registry.json");
    let edit = |from: &str, to: &str| {
        assert_eq!(from.len(), to.len());
        let text = fs::read_to_string(&path).unwrap();
        let at = text
            .find(from)
            .unwrap_or_else(|| panic!("{from} in {text}"));
        let mut f = fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.seek(SeekFrom::Start(at as u64)).unwrap();
        f.write_all(to.as_bytes()).unwrap();
    };
    for (from, to, want) in [
        ("\"aaaa\"", "\"bbbb\"", ("bbbb", 21705)),
        ("\"bbbb\"", "\"cccc\"", ("cccc", 21705)),
        ("21705", "21707", ("cccc", 21707)),
    ] {
        edit(from, to);
        let e = reg.get("db").unwrap().unwrap();
        assert_eq!((e.description.as_deref(), e.port), (Some(want.0), want.1));
    }
    // a write right after keeps the edits, and a new name avoids 21707
    let api = reg.lease(&req("api", range(21707, 21709))).unwrap();
    assert_ne!(api.port, 21707);
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\"cccc\"") && text.contains("21707"),
        "{text}"
    );
}

#[test]
fn rename_keeps_port_reservation_details_and_holder() {
    let (_d, reg) = reg();
    let r = range(25800, 25809);
    let mut meta = BTreeMap::new();
    meta.insert("project".to_string(), "/src/shop".to_string());
    let s = Sleeper::new();
    let held = reg
        .lease(
            &req("web", r)
                .pid(s.pid())
                .description("front")
                .meta(meta.clone()),
        )
        .unwrap();
    let before = reg.get("web").unwrap().unwrap();

    // Another live process holds it: only with force.
    let e = reg.rename("web", "shop-web", false).unwrap_err();
    assert_eq!(e.code(), ErrorCode::LeaseHeld);
    let e = reg.rename("web", "shop-web", true).unwrap();
    assert_eq!((e.name.as_str(), e.port), ("shop-web", held.port));
    assert!(reg.get("web").unwrap().is_none(), "the old name is gone");
    let after = reg.get("shop-web").unwrap().unwrap();
    assert_eq!(after.state, State::Active);
    assert_eq!(
        after.holder.as_ref().unwrap().pid,
        s.pid(),
        "the holder keeps it"
    );
    assert_eq!(after.description.as_deref(), Some("front"));
    assert_eq!(
        (after.meta.clone(), after.created.clone()),
        (meta, before.created)
    );

    // A case-only rename is a new spelling; a taken name is refused.
    reg.reserve("db", 25810, None).unwrap();
    assert_eq!(
        reg.rename("shop-web", "db", true).unwrap_err().code(),
        ErrorCode::InvalidName
    );
    let e = reg.rename("DB", "Db", false).unwrap();
    assert_eq!(
        (e.name.as_str(), e.state, e.port),
        ("Db", State::Reserved, 25810)
    );
    assert_eq!(
        reg.rename("never-seen", "x", false).unwrap_err().code(),
        ErrorCode::NotFound
    );
    assert_eq!(
        reg.rename("Db", "bad name", false).unwrap_err().code(),
        ErrorCode::InvalidName
    );

    // The holder's exit frees the new name, which remembers the port.
    drop(s);
    let mine = reg.lease(&req("shop-web", r)).unwrap();
    assert_eq!(mine.port, held.port);
}
