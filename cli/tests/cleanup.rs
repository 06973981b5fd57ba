//! Getting rid of short-lived names: `clean --idle AGE`, `forget` of several
//! names or a glob, and leases that forget themselves on release.

mod common;

use std::time::Duration;

use common::*;

fn names(reg: &Reg) -> Vec<String> {
    let v = reg.json(&["list", "--all", "--json"]);
    let mut n: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

#[test]
fn clean_idle_forgets_only_names_idle_longer_than_age() {
    let reg = Reg::new();
    let range = ["--range", "27500-27599"];
    for name in ["old-a", "old-b", "held"] {
        let out = reg.run(&[&["lease", name][..], &range[..]].concat());
        assert!(out.status.success(), "{}", stderr(&out));
    }
    for name in ["old-a", "old-b"] {
        assert!(reg.run(&["release", name]).status.success());
    }
    assert!(reg.run(&["reserve", "kept", "27598"]).status.success());
    std::thread::sleep(Duration::from_millis(2100));
    // Leased (and released) just now: idle, but not for long.
    assert!(reg
        .run(&["lease", "fresh", "--range", "27500-27599"])
        .status
        .success());
    assert!(reg.run(&["release", "fresh"]).status.success());

    // Nothing idle for an hour: said plainly, exit 0, nothing forgotten.
    let out = reg.run(&["clean", "--idle", "1h"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing to clean") && stderr(&out).contains("1h"),
        "{}",
        stderr(&out)
    );
    assert_eq!(names(&reg), ["fresh", "held", "kept", "old-a", "old-b"]);

    let out = reg.run(&["clean", "--idle", "2s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("forgot old-a") && text.contains("forgot old-b"),
        "{text}"
    );
    // held: a live holder (this test); kept: reserved; fresh: idle < 2 s.
    assert_eq!(names(&reg), ["fresh", "held", "kept"]);

    let v = reg.json(&["clean", "--idle", "2s", "--json"]);
    assert_eq!(v["dropped"], serde_json::json!([]));
    assert_eq!(v["forgotten"], serde_json::json!([]));

    let out = reg.run(&["clean", "--idle", "soon"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("30m"), "{}", stderr(&out));
}
