//! Replays the fuzz seeds and every input that ever broke a fuzz target
//! (fuzz/seeds, fuzz/regressions) through both file readers: each must give
//! a parse or a reason, never a panic.

use std::path::Path;

fn inputs(kind: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for dir in ["seeds", "regressions"] {
        let Ok(rd) = std::fs::read_dir(root.join(dir).join(kind)) else {
            continue;
        };
        for e in rd.flatten() {
            out.push((
                e.path().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn registry_file_inputs() {
    let all = inputs("registry_file");
    assert!(!all.is_empty(), "the seeds are there");
    for (path, bytes) in all {
        if let Err(why) = portreg_core::fuzzing::registry_file(&bytes) {
            assert!(!why.is_empty(), "{path}");
        }
    }
}

#[test]
fn leases_file_inputs() {
    let all = inputs("leases_file");
    assert!(!all.is_empty(), "the seeds are there");
    for (path, bytes) in all {
        if let Err(why) = portreg_core::fuzzing::leases_file(&bytes) {
            assert!(!why.is_empty(), "{path}");
        }
    }
}
