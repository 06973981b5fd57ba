//! The registry lock seen from outside: a stopped process holding it, and a
//! registry on a read-only mount or with a lock file nobody may write.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, stdout, wait_for, Reg};

/// `flock(1)` holding the registry lock of `reg`, then stopped (SIGSTOP).
struct StoppedHolder(Child);

impl StoppedHolder {
    fn start(reg: &Reg) -> StoppedHolder {
        let lock = reg.path.join("registry.lock");
        // --close: flock(1) itself holds the lock, not its command; a group
        // of its own so the test can end both.
        let child = Command::new("flock")
            .args(["--exclusive", "--close"])
            .arg(&lock)
            .args(["sleep", "120"])
            .process_group(0)
            .spawn()
            .expect("flock(1) from util-linux");
        let pid = child.id();
        // flock(1) holds the lock once it runs its command.
        assert!(
            wait_for(
                || std::fs::read_to_string("/proc/locks")
                    .unwrap()
                    .lines()
                    .any(|l| l.contains(&format!(" {pid} ")) && !l.contains("->")),
                10.0
            ),
            "flock never took the lock"
        );
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGSTOP,
        )
        .unwrap();
        StoppedHolder(child)
    }
}

impl Drop for StoppedHolder {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-(self.0.id() as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

#[test]
fn a_stopped_lock_holder_is_named_and_waited_for_only_so_long() {
    let reg = Reg::new();
    let out = reg.run(&["reserve", "keep", "23950"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = std::fs::read(reg.path.join("registry.json")).unwrap();
    let holder = StoppedHolder::start(&reg);
    let pid = holder.0.id();

    let t = Instant::now();
    let out = reg
        .cmd()
        .env("PORTREG_LOCK_TIMEOUT", "2.5")
        .args(["lease", "web", "--range", "23960-23969"])
        .output()
        .unwrap();
    let took = t.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(16), "{err}");
    assert!(err.contains("[LOCK_TIMEOUT]"), "{err}");
    assert!(
        took >= Duration::from_millis(2400) && took < Duration::from_secs(10),
        "{took:?}"
    );
    // Said once, early, who holds the lock; and the error names it too.
    let waiting: Vec<&str> = err.lines().filter(|l| l.contains("waiting")).collect();
    assert_eq!(waiting.len(), 1, "{err}");
    assert!(
        waiting[0].contains(&format!("pid {pid}")) && waiting[0].contains("flock"),
        "{err}"
    );
    let last = err.lines().last().unwrap();
    assert!(last.contains(&format!("pid {pid}")), "{err}");
    assert_eq!(
        std::fs::read(reg.path.join("registry.json")).unwrap(),
        before,
        "a call that gave up changed the registry"
    );

    // Reads give up the same way.
    let out = reg
        .cmd()
        .env("PORTREG_LOCK_TIMEOUT", "0.5")
        .args(["list", "--all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(16), "{}", stderr(&out));

    // Once the holder is gone, the same call works at once.
    drop(holder);
    let out = reg
        .cmd()
        .env("PORTREG_LOCK_TIMEOUT", "2")
        .args(["list", "--all"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("keep"));
}

#[test]
fn a_bad_lock_timeout_is_named_and_passed_over() {
    let reg = Reg::new();
    for bad in ["soon", "-1", "nan"] {
        let out = reg
            .cmd()
            .env("PORTREG_LOCK_TIMEOUT", bad)
            .args(["list"])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(err.contains("PORTREG_LOCK_TIMEOUT"), "{bad}: {err}");
    }
}

fn as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Runs `script` as root in a private mount namespace, with `$P` the
/// portreg binary and `$R` the registry, after bind-mounting `$R` read-only.
fn on_read_only_mount(reg: &Reg, script: &str) -> std::process::Output {
    let setup = r#"set -e
mount --make-rprivate /
mount --bind "$R" "$R"
mount -o remount,bind,ro "$R"
"#;
    Command::new("unshare")
        .args(["-m", "sh", "-c", &format!("{setup}{script}")])
        .env("P", common::bin())
        .env("R", &reg.path)
        .env_remove("PORTREG_HOME")
        .env_remove("PORTREG_RANGE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_read_only_registry_can_be_read() {
    if !as_root() {
        println!("skipped: a read-only bind mount needs root");
        return;
    }
    let reg = Reg::new();
    assert!(reg.run(&["reserve", "keep", "23951"]).status.success());
    let out = on_read_only_mount(
        &reg,
        r#"set +e
"$P" --registry "$R" list --all; echo "list=$?"
"$P" --registry "$R" get keep; echo "get=$?"
"$P" --registry "$R" lease web --range 23970-23979; echo "lease=$?"
touch "$R/probe" 2>/dev/null && echo "WRITABLE"
"#,
    );
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(!text.contains("WRITABLE"), "the mount is not read-only");
    assert!(
        text.contains("list=0") && text.contains("keep"),
        "{text}{err}"
    );
    assert!(
        text.contains("get=0") && text.contains("23951"),
        "{text}{err}"
    );
    assert!(text.contains("lease=11"), "{text}{err}");
    assert!(err.contains("read-only"), "{err}");
    assert!(err.contains("[IO]"), "{err}");
    let warnings = err.lines().filter(|l| l.contains("warning")).count();
    assert_eq!(warnings, 2, "one warning per read: {err}");
}

#[test]
fn a_lock_file_nobody_may_write_still_allows_reads() {
    if as_root() {
        println!(
            "skipped: file modes do not stop root, so a read-only lock file means nothing here"
        );
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let reg = Reg::new();
    assert!(reg.run(&["reserve", "keep", "23952"]).status.success());
    let lock = reg.path.join("registry.lock");
    std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o400)).unwrap();
    let out = reg.run(&["list", "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("keep"));
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
    let out = reg.run(&["lease", "web", "--range", "23980-23989"]);
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
}
