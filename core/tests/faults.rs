//! Fault injection against real processes: a write cut short by a file-size
//! limit, an immutable directory, files and processes of another user, a
//! missing parent. The previous registry always survives intact.

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use common::*;

/// Entry point of the worker processes these tests start (see common::worker).
#[test]
#[ignore = "run by the tests themselves, as a separate process"]
fn worker() {
    common::worker::main();
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn require_root() -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var_os("PORTREG_REQUIRE_ROOT").is_none(),
        "these tests need root (CI runs as root)"
    );
    eprintln!("not root: skipping (chown, chattr and setpriv need it)");
    false
}

/// Runs a worker as user `nobody` (uid 65534) on the registry at `registry`.
fn as_nobody(registry: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(bin())
        .args(worker::WORKER_ARGS)
        .arg("--registry")
        .arg(registry)
        .args(args)
        .output()
        .unwrap()
}

/// Sets or clears the immutable attribute of the registry directory.
fn chattr(reg: &Reg, flag: &str) {
    assert!(Command::new("chattr")
        .arg(flag)
        .arg(&reg.path)
        .status()
        .unwrap()
        .success());
}

fn snapshot(reg: &Reg) -> Vec<u8> {
    std::fs::read(reg.path.join("registry.json")).unwrap()
}

fn no_temp_files(reg: &Reg) {
    let names: Vec<String> = std::fs::read_dir(&reg.path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn write_cut_short_by_a_file_size_limit_is_io_and_changes_nothing() {
    let reg = Reg::new();
    for i in 0..20 {
        let out = reg.run(&[
            "lease",
            &format!("svc-{i}"),
            "--range",
            "22500-22599",
            "-d",
            "padding words",
        ]);
        assert!(out.status.success());
    }
    let before = snapshot(&reg);
    assert!(before.len() > 4000);
    let out = Command::new("prlimit")
        .arg("--fsize=2048")
        .arg(bin())
        .args(worker::WORKER_ARGS)
        .args(["--registry"])
        .arg(&reg.path)
        .args(["lease", "one-more", "--range", "22500-22599"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(11), "IO: {}", stderr(&out));
    assert!(
        stderr(&out).contains("[IO]") && stderr(&out).contains("registry.json"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&reg), before, "the previous registry is intact");
    no_temp_files(&reg);
    assert_eq!(reg.run(&["get", "one-more"]).status.code(), Some(1));
    // and without the limit it works
    assert!(reg
        .run(&["lease", "one-more", "--range", "22500-22599"])
        .status
        .success());
}

/// A registry kept open writes leases.json over itself once it wrote the
/// file last: a file-size limit below the file's length (lowered while the
/// process runs) would cut that write short, so it is not tried; the lease
/// fails with IO and leases.json keeps its last whole text.
#[test]
fn leases_file_edit_under_a_lowered_size_limit_changes_nothing() {
    let reg = Reg::new();
    let out = reg.run(&["relimit", "web", "300"]);
    assert_eq!(out.status.code(), Some(11), "IO: {}", stderr(&out));
    assert!(stderr(&out).contains("[IO]"), "{}", stderr(&out));
    let bytes = std::fs::read(reg.path.join("leases.json")).unwrap();
    assert!(bytes.len() > 300, "{} bytes", bytes.len());
    assert_eq!(
        portreg_core::fuzzing::leases_file(&bytes),
        Ok(0),
        "whole, and nothing held: {}",
        String::from_utf8_lossy(&bytes)
    );
    no_temp_files(&reg);
}

#[test]
fn immutable_directory_is_refused_and_changes_nothing() {
    if !require_root() {
        return;
    }
    let reg = Reg::new();
    assert!(reg
        .run(&["lease", "web", "--range", "22600-22609"])
        .status
        .success());
    let before = snapshot(&reg);
    chattr(&reg, "+i");
    let out = reg.run(&["lease", "api", "--range", "22600-22609"]);
    chattr(&reg, "-i");
    assert_eq!(out.status.code(), Some(10), "PERMISSION: {}", stderr(&out));
    assert!(stderr(&out).contains("cannot write"), "{}", stderr(&out));
    assert_eq!(snapshot(&reg), before);
    no_temp_files(&reg);
}

#[test]
fn another_users_files_and_processes_are_refused() {
    if !require_root() {
        return;
    }
    let reg = Reg::new();
    assert!(reg
        .run(&["lease", "web", "--range", "22610-22619"])
        .status
        .success());
    // a lock file owned by another user
    let lock = reg.path.join("registry.lock");
    nix::unistd::chown(&lock, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let out = reg.run(&["list"]);
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("registry.lock") && stderr(&out).contains("chown"),
        "{}",
        stderr(&out)
    );
    nix::unistd::chown(&lock, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
    assert!(reg.run(&["list"]).status.success());

    // the whole registry, seen by another user: refused, never shared
    std::fs::set_permissions(
        reg.path.parent().unwrap(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let out = as_nobody(&reg.path, &["list"]);
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    assert!(stderr(&out).contains("never shared"), "{}", stderr(&out));

    // killing another user's process: refused with a clear error
    let nobody_reg = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(nobody_reg.path(), Some(65534), Some(65534)).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:22620").unwrap();
    let theirs = nobody_reg.path().join("reg");
    let out = as_nobody(&theirs, &["kill", ":22620"]);
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    assert!(stderr(&out).contains("another user"), "{}", stderr(&out));
    drop(listener);
    // a name whose holder is another user's process (root's sleep here)
    let mut root_proc = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = root_proc.id().to_string();
    assert!(as_nobody(
        &theirs,
        &["lease", "rootly", "--pid", &pid, "--range", "22621-22629"]
    )
    .status
    .success());
    let out = as_nobody(&theirs, &["kill", "rootly", "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&pid) && stderr(&out).contains("belongs to root"),
        "{}",
        stderr(&out)
    );
    assert!(
        root_proc.try_wait().unwrap().is_none(),
        "and it was not signalled"
    );
    root_proc.kill().unwrap();
    root_proc.wait().unwrap();
    assert_eq!(
        std::fs::metadata(nobody_reg.path().join("reg"))
            .unwrap()
            .uid(),
        65534
    );
}

#[test]
fn missing_parent_and_full_range_give_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::worker()
        .arg("--registry")
        .arg(dir.path().join("no/such/parent/reg"))
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not exist") && stderr(&out).contains("[IO]"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("no").exists(), "nothing was created");

    let reg = Reg::new();
    for n in ["a", "b", "c"] {
        assert!(reg
            .run(&["lease", n, "--range", "22630-22632"])
            .status
            .success());
    }
    let out = reg.run(&["lease", "d", "--range", "22630-22632"]);
    assert_eq!(out.status.code(), Some(6));
    assert!(
        stderr(&out).contains("22630-22632") && stderr(&out).contains("widen the range"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn corrupt_file_that_cannot_be_moved_aside_is_registry_corrupt() {
    if !require_root() {
        return;
    }
    let reg = Reg::new();
    assert!(reg
        .run(&["lease", "web", "--range", "22640-22649"])
        .status
        .success());
    std::fs::write(reg.path.join("registry.json"), b"{ torn").unwrap();
    chattr(&reg, "+i");
    let out = reg.run(&["list"]);
    chattr(&reg, "-i");
    assert_eq!(
        out.status.code(),
        Some(8),
        "REGISTRY_CORRUPT: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("could not be moved aside")
            && stderr(&out).contains("[REGISTRY_CORRUPT]"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(reg.path.join("registry.json")).unwrap(),
        b"{ torn",
        "the bytes are untouched"
    );
    // once the directory can be written again, the normal path takes over
    let out = reg.run(&["list"]);
    assert!(
        out.status.success() && stderr(&out).contains("moved aside"),
        "{}",
        stderr(&out)
    );
}
