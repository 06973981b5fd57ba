//! Service logs: capped in size, rotated to SERVICE.log.1, and read back
//! (tail) across the rotation.

use portreg_supervisor::logs::{log_path, tail, LogWriter};

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
