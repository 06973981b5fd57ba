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

#[test]
fn forget_takes_several_names_and_globs_and_prints_each() {
    let reg = Reg::new();
    for (i, name) in ["test-a", "Test-B", "test-held", "web", "api", "db"]
        .iter()
        .enumerate()
    {
        let port = (27600 + i).to_string();
        assert!(reg.run(&["reserve", name, &port]).status.success());
    }
    // test-held is held by a live process other than the one forgetting.
    let mut holder = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = holder.id().to_string();
    let out = reg.run(&["lease", "test-held", "--pid", &pid]);
    assert!(out.status.success(), "{}", stderr(&out));

    // A held match refuses the whole glob, and says so.
    let out = reg.run(&["forget", "test-*"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("LEASE_HELD"), "{}", stderr(&out));
    assert_eq!(names(&reg).len(), 6);

    // Case-insensitive on names; every forgotten name printed.
    let out = reg.run(&["forget", "TEST-?", "web", "api"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for n in ["test-a", "Test-B", "web", "api"] {
        assert!(text.contains(&format!("forgot {n} ")), "{text}");
    }
    assert_eq!(names(&reg), ["db", "test-held"]);

    let out = reg.run(&["forget", "test-*", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("forgot test-held"),
        "{}",
        stdout(&out)
    );
    assert_eq!(names(&reg), ["db"]);

    // A glob matching nothing: said plainly, exit 1; an unknown name: NOT_FOUND.
    let out = reg.run(&["forget", "nope-*"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no name matches"), "{}", stderr(&out));
    let out = reg.run(&["forget", "db", "nope"]);
    assert!(stderr(&out).contains("NOT_FOUND"), "{}", stderr(&out));
    assert_eq!(
        names(&reg),
        ["db"],
        "nothing forgotten when one name is unknown"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
}

#[test]
fn a_temporary_lease_forgets_its_name_when_it_ends() {
    let reg = Reg::new();
    let out = reg.run(&["lease", "fixture", "--temporary", "--range", "27700-27799"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = reg.json(&["get", "fixture", "--json"]);
    assert_eq!(e["meta"]["portreg.temporary"], "1", "{e}");
    assert_eq!(e["state"], "active");
    assert!(reg.run(&["release", "fixture"]).status.success());
    assert!(names(&reg).is_empty(), "released: forgotten, not idle");

    // A holder that dies: `clean` forgets the name with its lease.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#""$P" --registry "$R" lease gone --temporary --range 27700-27799"#)
        .env("P", bin())
        .env("R", &reg.path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // An ordinary lease stays idle after release.
    assert!(reg
        .run(&["lease", "kept", "--range", "27700-27799"])
        .status
        .success());
    assert!(reg.run(&["release", "kept"]).status.success());
    assert_eq!(names(&reg), ["gone", "kept"]);
    let out = reg.run(&["clean"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(names(&reg), ["kept"]);

    // A lasting idle name leased as temporary goes at its release; the
    // holder asking again (without the flag) keeps the lease as it was taken.
    assert!(reg
        .run(&["lease", "kept", "--range", "27700-27799", "--temporary"])
        .status
        .success());
    assert!(reg.run(&["release", "kept"]).status.success());
    assert!(reg
        .run(&["lease", "fixture2", "--range", "27700-27799", "--temporary"])
        .status
        .success());
    assert!(reg
        .run(&["lease", "fixture2", "--range", "27700-27799"])
        .status
        .success());
    assert!(reg.run(&["release", "fixture2"]).status.success());
    assert!(names(&reg).is_empty(), "{:?}", names(&reg));
}
