//! Registries kept open (as a long-running app keeps one) reuse what they
//! last read or wrote while the files are unchanged: every change another
//! registry on the same directory makes must still be seen at once,
//! including a leases.json that comes back under the same inode with new
//! bytes (a spare file exchanged into place twice, or the file written in
//! place).

mod common;

use std::os::unix::fs::MetadataExt;

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

/// Each registry writes leases.json again through the spare its last write
/// left behind, as long as nobody else wrote since. Three registries writing
/// in every order, often twice in a row: after each write a registry opened
/// afresh reads exactly the leases held, and leases.json's spare never
/// becomes the file under leases.json's name.
#[test]
fn registries_taking_turns_never_write_into_the_file_readers_see() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reg");
    let regs = [open(&path), open(&path), open(&path)];
    let me = Actor::Pid(std::process::id());
    let names = ["a", "b", "c", "d", "e"];
    let mut held = [false; 5];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for step in 0..300 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Runs of the same registry are common: every third step switches.
        let r = &regs[((seed >> 8) % 3) as usize * usize::from(step % 3 == 0)];
        let i = (seed % 5) as usize;
        if held[i] {
            r.release(names[i], me).unwrap();
        } else {
            lease(r, names[i]);
        }
        held[i] = !held[i];
        let fresh = open(&path);
        for (k, name) in names.iter().enumerate() {
            let want = if held[k] { State::Active } else { State::Idle };
            match fresh.get(name).unwrap() {
                Some(e) => assert_eq!(e.state, want, "step {step}: {name}"),
                None => assert!(!held[k], "step {step}: {name} is held but unknown"),
            }
        }
        let spare = std::fs::read(path.join(".leases.json.spare")).ok();
        let live = std::fs::read(path.join("leases.json")).unwrap();
        let ino = |p: &str| {
            std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(path.join(p)).unwrap())
        };
        if spare.is_some() {
            assert_ne!(ino(".leases.json.spare"), ino("leases.json"), "step {step}");
        }
        assert!(
            serde_json::from_slice::<serde_json::Value>(&live).is_ok(),
            "step {step}: leases.json is whole"
        );
    }
}

/// The descriptors of this process that are open on `path`.
fn open_on(pid: u32, path: &std::path::Path) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == path))
        .count()
}

/// A registry keeps its lock file open between calls; a child made by fork
/// must not share it: a killed parent's lock would stay held for as long as
/// the child lives, and the child, locking the shared file, would think it
/// held a lock its parent holds. The child has no descriptor of it, and its
/// own calls take the lock anew.
#[test]
fn a_forked_child_shares_no_registry_lock_with_its_parent() {
    use nix::unistd::{fork, pipe, read, write, ForkResult};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reg");
    let reg = open(&path);
    let lock = path.join(portreg_core::LOCK_FILE);
    lease(&reg, "web");
    let me = std::process::id();
    assert_eq!(
        open_on(me, &lock),
        1,
        "the lock file is kept open between calls"
    );
    let (rx, tx) = pipe().unwrap();
    // SAFETY: the child reads /proc, makes one lease and a write, then _exits.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            let inherited = open_on(std::process::id(), &lock);
            let leased = reg
                .lease(&LeaseRequest::new("worker").range(PortRange::new(25600, 25699).unwrap()))
                .is_ok();
            let _ = write(&tx, &[inherited as u8, u8::from(leased)]);
            unsafe { nix::libc::_exit(0) };
        }
        ForkResult::Parent { child } => {
            drop(tx);
            let mut b = [0u8; 2];
            assert_eq!(read(&rx, &mut b).unwrap(), 2);
            let _ = nix::sys::wait::waitpid(child, None);
            assert_eq!(b[0], 0, "the child inherited the parent's registry lock");
            assert_eq!(b[1], 1, "the child could not lease");
        }
    }
    assert_eq!(open_on(me, &lock), 1);
    lease(&reg, "api");
}

/// A kept lock file whose name was removed and made again (a registry
/// directory emptied by hand) is given up: the next call locks the file the
/// name now points to, so it waits for whoever holds that one.
#[test]
fn a_kept_lock_file_replaced_by_another_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reg");
    std::fs::create_dir(&path).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    std::fs::write(path.join("config.toml"), "lock_timeout = 0.3\n").unwrap();
    let reg = open(&path);
    lease(&reg, "web");
    let lock = path.join(portreg_core::LOCK_FILE);
    std::fs::remove_file(&lock).unwrap();
    std::fs::write(&lock, "").unwrap();
    std::fs::set_permissions(&lock, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // Another process holds the new lock file (-o: flock(1) itself, not
    // the sleep it starts, so that killing it frees the lock).
    let mut holder = std::process::Command::new("flock")
        .arg("-o")
        .arg(&lock)
        .args(["sleep", "5"])
        .spawn()
        .expect("flock(1) from util-linux");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let out = loop {
        let out = std::process::Command::new("flock")
            .args(["-n", "-x"])
            .arg(&lock)
            .arg("true")
            .status()
            .unwrap();
        if !out.success() || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(!out.success(), "the holder never took the lock");
    let err = reg
        .lease(&LeaseRequest::new("api").range(PortRange::new(25600, 25699).unwrap()))
        .unwrap_err();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(err.code(), portreg_core::ErrorCode::LockTimeout, "{err}");
    lease(&reg, "api");
}

/// A registry kept open keeps its claim files open too (the shared claims
/// directory, PORTREG_CLAIMS_DIR): releasing and leasing a name again
/// rewrites its claim file in place, also when this user has more claim
/// files than are kept for released ports (64). Such a release used to
/// remove the file, and the next lease created it again and read the whole
/// directory to see any claim made meanwhile: with a hundred other leases
/// held, a round trip took twice as long (0.4 ms with a thousand).
#[test]
fn a_claim_file_kept_open_is_rewritten_in_place_past_the_kept_count() {
    let dir = tempfile::tempdir().unwrap();
    let claims = dir.path().join("claims");
    let path = dir.path().join("reg");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(
        path.join("config.toml"),
        format!("claims_dir = {:?}\n", claims.display().to_string()),
    )
    .unwrap();
    let r = open(&path);
    let range = PortRange::new(25700, 25899).unwrap();
    let lease = |name: &str| r.lease(&LeaseRequest::new(name).range(range)).unwrap().port;
    for i in 0..100 {
        lease(&format!("held-{i}"));
    }
    let claim_of = |port: u16| {
        std::fs::read_dir(&claims)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{port}."))
            })
    };
    let me = Actor::Pid(std::process::id());
    let port = lease("extra");
    let file = claim_of(port).expect("the lease's claim file");
    let inode = std::fs::metadata(&file).unwrap().ino();
    for _ in 0..3 {
        r.release("extra", me).unwrap();
        let body = std::fs::read_to_string(&file).expect("kept after release");
        assert!(body.contains("\"pid\":0"), "marked released: {body}");
        assert_eq!(std::fs::metadata(&file).unwrap().ino(), inode);
        assert_eq!(lease("extra"), port);
        assert_eq!(
            std::fs::metadata(&file).unwrap().ino(),
            inode,
            "rewritten in place"
        );
    }
    assert_eq!(std::fs::read_dir(&claims).unwrap().count(), 101);
}

/// Whether this file system gives every change made after a `stat` a new
/// ctime (Linux 6.13+ on ext4, xfs, btrfs, tmpfs), found as portreg does.
fn fine_ctime(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let f = dir.join("ctime-probe");
    std::fs::write(&f, "").unwrap();
    let mut last = None;
    (0..3).all(|_| {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let m = std::fs::metadata(&f).unwrap();
        let now = (m.ctime(), m.ctime_nsec());
        let rising = last.is_none_or(|l| now > l);
        last = Some(now);
        rising
    })
}

/// A registry that wrote leases.json last writes it again in place, padded
/// to its length, while text and file fit in a page: another registry kept
/// open sees each of those writes at once, and a registry opened afresh
/// reads the same. Once the text outgrows a page the file is replaced whole
/// again, exactly as long as its text.
#[test]
fn leases_written_in_place_are_seen_at_once_and_outgrow_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reg");
    let (a, b) = (open(&path), open(&path));
    let me = Actor::Pid(std::process::id());
    let leases = path.join("leases.json");
    let ino = || std::fs::metadata(&leases).unwrap().ino();
    let whole = |step: &str| {
        let bytes = std::fs::read(&leases).unwrap();
        let read = portreg_core::fuzzing::leases_file(&bytes);
        assert!(read.is_ok(), "{step}: {read:?}");
        bytes
    };
    // Where ctime is coarse, a registry reads leases.json on every call and
    // so never holds it for an edit: the file is still right, but replaced.
    let in_place = fine_ctime(dir.path());
    if !in_place {
        eprintln!("skipping the in-place checks: this file system's ctime is coarse");
    }
    // The first lease makes the file, the first release puts a spare in
    // place, the second lease grows it (a longer text is exchanged in).
    for _ in 0..2 {
        lease(&a, "web");
        a.release("web", me).unwrap();
    }
    let first = ino();
    for step in 0..100 {
        let held = step % 2 == 0;
        if held {
            lease(&a, "web");
        } else {
            a.release("web", me).unwrap();
        }
        let want = if held { State::Active } else { State::Idle };
        assert_eq!(
            state(&b, "web"),
            want,
            "step {step}: the registry kept open"
        );
        assert_eq!(state(&open(&path), "web"), want, "step {step}: a fresh one");
        whole(&format!("step {step}"));
        if in_place {
            assert_eq!(ino(), first, "step {step}: written in place");
        }
    }
    // Enough holders for more than a page of text.
    let names: Vec<String> = (0..16)
        .map(|i| format!("a-service-with-a-long-name-{i}"))
        .collect();
    for name in &names {
        lease(&a, name);
    }
    let bytes = whole("outgrown");
    assert!(bytes.len() > 4096, "{} bytes", bytes.len());
    assert!(bytes.ends_with(b"}\n"), "exactly its text, no padding");
    for name in &names {
        assert_eq!(state(&b, name), State::Active, "{name}");
        a.release(name, me).unwrap();
        assert_eq!(state(&b, name), State::Idle, "{name}");
    }
    whole("emptied");
}

/// This process's holder lock file in `dir`, when it is there and this
/// process holds its lock (a POSIX lock, listed in /proc/locks).
fn holder_lock_held(dir: &std::path::Path) -> bool {
    let me = std::process::id();
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    common::files_starting(dir, ".holder-")
        .into_iter()
        .any(|p| {
            let ino = std::fs::metadata(&p).unwrap().ino();
            locks.lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.get(1) == Some(&"POSIX")
                    && f.get(4) == Some(&me.to_string().as_str())
                    && f.get(5).is_some_and(|d| d.ends_with(&format!(":{ino}")))
            })
        })
}

/// A registry kept open takes its holder lock once per directory: when the
/// directory is moved away and made again under its name, the next lease
/// takes the lock in the new one (else another pid namespace would judge
/// the lease dead).
#[test]
fn a_replaced_directory_gets_the_holder_lock_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reg");
    let r = open(&path);
    lease(&r, "web");
    lease(&r, "api");
    assert!(holder_lock_held(&path), "held in the first directory");
    std::fs::rename(&path, dir.path().join("reg.old")).unwrap();
    std::fs::create_dir(&path).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    lease(&r, "db");
    assert!(holder_lock_held(&path), "held in the new directory too");
    assert_eq!(state(&open(&path), "db"), State::Active);
}

/// A registry kept open asks the files it holds open whether they changed
/// only while its lock file is still the one under the directory's name: a
/// directory moved away, and another with other names put in its place,
/// is read afresh at the next call, names and holders.
#[test]
fn a_directory_put_in_place_of_another_is_read_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reg");
    let r = open(&path);
    lease(&r, "web");
    assert_eq!(state(&r, "web"), State::Active);
    assert_eq!(
        state(&r, "web"),
        State::Active,
        "a second read, from the copy kept"
    );
    let other_path = dir.path().join("other");
    let other = open(&other_path);
    let api = lease(&other, "api");
    other
        .release("api", Actor::Pid(std::process::id()))
        .unwrap();
    drop(other);
    std::fs::rename(&path, dir.path().join("reg.old")).unwrap();
    std::fs::rename(&other_path, &path).unwrap();
    assert!(
        r.get("web").unwrap().is_none(),
        "web was only in the old directory"
    );
    let e = r
        .get("api")
        .unwrap()
        .expect("api, from the directory now in place");
    assert_eq!((e.port, e.state), (api, State::Idle));
    let names: Vec<String> = r.list().unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["api"]);

    // Once more, with a torn registry.json in the directory put in place:
    // it is moved aside and the registry starts empty, never filled again
    // from the copy of the directory that went away.
    let torn = dir.path().join("torn");
    std::fs::create_dir(&torn).unwrap();
    std::fs::set_permissions(&torn, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    std::fs::write(torn.join("registry.json"), "{ torn").unwrap();
    std::fs::set_permissions(
        torn.join("registry.json"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::rename(&path, dir.path().join("reg.older")).unwrap();
    std::fs::rename(&torn, &path).unwrap();
    assert!(
        r.get("api").unwrap().is_none(),
        "api was only in the directory that went away"
    );
    lease(&r, "db");
    let names: Vec<String> = r.list().unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["db"]);
    assert!(
        common::files_starting(&path, "registry.json.corrupt").len() == 1,
        "the torn file is kept aside"
    );
}

/// The same, when the first call after the swap reads registry.json alone
/// (`portreg get NAME` asks only for a port): leases.json's copy of the old
/// directory must not be taken for the new one's at the call after.
#[test]
fn a_directory_put_in_place_shows_its_own_holders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reg");
    let r = open(&path);
    lease(&r, "web");
    for _ in 0..3 {
        // From the second read on, leases.json's copy is kept.
        assert_eq!(state(&r, "web"), State::Active);
    }
    let other_path = dir.path().join("other");
    let other = open(&other_path);
    let api = lease(&other, "api");
    std::fs::rename(&path, dir.path().join("reg.old")).unwrap();
    std::fs::rename(&other_path, &path).unwrap();
    assert_eq!(r.port_of("api").unwrap(), Some(api));
    assert_eq!(
        state(&r, "api"),
        State::Active,
        "api is held in the directory now in place"
    );
    assert!(r.get("web").unwrap().is_none());
    drop(other);
}
