//! Service logs: capped in size, rotated to SERVICE.log.1, and read back
//! (tail) across the rotation.

use std::io::Write;

use portreg_supervisor::logs::{log_path, tail, LogWriter};

/// Set when this test binary is re-executed to write a log through stdio.
const STDIO_CHILD: &str = "PORTREG_TEST_STDIO_LOG";

#[test]
fn a_log_is_capped_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(dir.path(), "api");
    let mut w = LogWriter::open(path.clone()).with_cap(1000);
    for i in 0..300 {
        w.line(&format!("line {i:04}"));
    }
    let cur = std::fs::metadata(&path).unwrap().len();
    let old = std::fs::metadata(dir.path().join("api.log.1"))
        .unwrap()
        .len();
    assert!(cur <= 1000 && old <= 1000, "{cur} {old}");
    assert!(
        !dir.path().join("api.log.2").exists(),
        "one old file is kept"
    );
    // The newest lines, in order, reading through the rotation when needed.
    let last = tail(&path, 3);
    assert_eq!(last, ["line 0297", "line 0298", "line 0299"]);
    let many = tail(&path, 120);
    assert_eq!(many.len(), 120);
    assert_eq!(many.last().unwrap(), "line 0299");
    assert_eq!(many[0], "line 0180");
    // A new writer appends to what is there.
    let mut again = LogWriter::open(path.clone()).with_cap(1000);
    again.line("after restart");
    assert_eq!(tail(&path, 2), ["line 0299", "after restart"]);
}

/// supervisor.log: the supervisor's messages and anything else it prints
/// (stdout, stderr: a panic) stay under the cap, across rotations.
#[test]
fn a_log_that_is_also_stdio_stays_capped() {
    if let Some(path) = std::env::var_os(STDIO_CHILD) {
        let mut w = LogWriter::open(path.into()).with_cap(1000).with_stdio();
        for i in 0..300 {
            w.line(&format!("line {i:04}"));
            if i % 10 == 0 {
                let _ = std::io::stderr().write_all(format!("stray {i:04}\n").as_bytes());
            }
        }
        // No test harness output into the log.
        std::process::exit(0);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("supervisor.log");
    std::fs::write(&path, "x".repeat(5000)).unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "a_log_that_is_also_stdio_stays_capped"])
        .env(STDIO_CHILD, &path)
        .status()
        .unwrap();
    assert!(status.success());
    let cur = std::fs::read_to_string(&path).unwrap();
    let old = std::fs::read_to_string(dir.path().join("supervisor.log.1")).unwrap();
    // A stray write may pass the cap until the next line rotates the file.
    assert!(
        cur.len() <= 1000 + 11 && old.len() <= 1000 + 11,
        "{} {}",
        cur.len(),
        old.len()
    );
    assert!(!old.contains("xxx"), "the oversized log was rotated away");
    assert!(cur.ends_with("line 0299\n"), "{cur}");
    assert!(
        cur.contains("stray 0290"),
        "stderr follows the current file: {cur}"
    );
}
