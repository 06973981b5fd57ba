//! Malformed, truncated, huge, deeply nested and non-UTF-8 registry files:
//! each gives the quarantine path (registry.json) or "nothing is held"
//! (leases.json) with a warning. Never a panic, never a hang.

use std::fs;
use std::time::{Duration, Instant};

use portreg_core::{LeaseRequest, PortRange, State};

mod common;

use common::{corrupt_files, fresh};

/// Writes `bytes` as registry.json and checks the reader quarantines them,
/// keeps them byte for byte, and carries on with a working registry.
fn assert_quarantined(bytes: &[u8], what: &str) {
    let (_d, reg) = fresh();
    fs::write(reg.path().join("registry.json"), bytes).unwrap();
    let t = Instant::now();
    let list = reg.list().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "{what}: took {:?}",
        t.elapsed()
    );
    assert!(list.is_empty(), "{what}");
    let w = reg.take_warnings();
    assert!(w.iter().any(|w| w.contains("moved aside")), "{what}: {w:?}");
    let aside = corrupt_files(&reg);
    assert_eq!(aside.len(), 1, "{what}");
    assert!(
        fs::read(&aside[0]).unwrap() == bytes,
        "{what}: bytes not kept"
    );
    reg.lease(&LeaseRequest::new("after").range(PortRange::new(21300, 21309).unwrap()))
        .unwrap();
}

#[test]
fn truncated_at_every_byte() {
    let (_d, reg) = fresh();
    let r = PortRange::new(21310, 21319).unwrap();
    for n in ["a", "b", "c"] {
        reg.lease(&LeaseRequest::new(n).range(r).description("some words"))
            .unwrap();
    }
    let full = fs::read(reg.path().join("registry.json")).unwrap();
    // every prefix that is not the whole document (nor the whole document
    // minus its trailing newline) must be caught
    let end = full.iter().rposition(|&b| b == b'}').unwrap();
    for cut in 0..=end {
        let prefix = &full[..cut];
        match portreg_core::fuzzing::registry_file(prefix) {
            Ok(n) => panic!("a prefix of {cut} bytes parsed as {n} entries"),
            Err(why) => assert!(!why.is_empty()),
        }
    }
    // and through the real reader, a few of them
    for cut in [0, 1, 10, full.len() / 2, end] {
        assert_quarantined(&full[..cut], &format!("truncated at {cut}"));
    }
}

#[test]
fn non_utf8_nested_and_wrong_shapes() {
    let mut nested = vec![b'['; 100_000];
    nested.extend(vec![b']'; 100_000]);
    let mut deep_object =
        b"{\"version\":1,\"entries\":[{\"name\":\"a\",\"port\":8070,\"meta\":".to_vec();
    deep_object.extend(b"{\"x\":".repeat(5_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("non-UTF-8 in a name", b"{\"version\":1,\"entries\":[{\"name\":\"caf\xe9\",\"port\":8070,\"created\":\"x\",\"changed\":\"x\"}]}".to_vec()),
        ("raw binary", (0..=255u8).cycle().take(4096).collect()),
        ("deeply nested arrays", nested),
        ("deeply nested object", deep_object),
        ("version as a string", br#"{"version":"1","entries":[]}"#.to_vec()),
        ("no version", br#"{"entries":[]}"#.to_vec()),
        ("entries not a list", br#"{"version":1,"entries":"frontend"}"#.to_vec()),
        ("port out of range", br#"{"version":1,"entries":[{"name":"a","port":70000,"created":"x","changed":"x"}]}"#.to_vec()),
        ("negative port", br#"{"version":1,"entries":[{"name":"a","port":-1,"created":"x","changed":"x"}]}"#.to_vec()),
        ("port zero", br#"{"version":1,"entries":[{"name":"a","port":0,"created":"x","changed":"x"}]}"#.to_vec()),
        ("invalid name", br#"{"version":1,"entries":[{"name":"a b","port":8070,"created":"x","changed":"x"}]}"#.to_vec()),
        ("same name twice", br#"{"version":1,"entries":[{"name":"a","port":8070,"created":"x","changed":"x"},{"name":"A","port":8071,"created":"x","changed":"x"}]}"#.to_vec()),
        ("only whitespace", b"   \n\t ".to_vec()),
        ("a JSON string", br#""registry""#.to_vec()),
        ("null", b"null".to_vec()),
    ];
    for (what, bytes) in cases {
        assert_quarantined(&bytes, what);
    }
}

#[test]
fn hundred_megabyte_file_is_not_read_into_memory() {
    let (_d, reg) = fresh();
    let path = reg.path().join("registry.json");
    let f = fs::File::create(&path).unwrap();
    f.set_len(100 << 20).unwrap(); // sparse: 100 MB of zeros
    drop(f);
    let t = Instant::now();
    assert!(reg.list().unwrap().is_empty());
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    let w = reg.take_warnings();
    assert!(
        w.iter()
            .any(|w| w.contains("larger than any real registry")),
        "{w:?}"
    );
    assert_eq!(
        fs::metadata(&corrupt_files(&reg)[0]).unwrap().len(),
        100 << 20
    );
    // the same for leases.json: nothing is held, with a warning
    let lf = fs::File::create(reg.path().join("leases.json")).unwrap();
    lf.set_len(100 << 20).unwrap();
    reg.lease(&LeaseRequest::new("x").range(PortRange::new(21320, 21329).unwrap()))
        .unwrap();
    assert_eq!(reg.get("x").unwrap().unwrap().state, State::Active);
}

#[test]
fn hostile_leases_files_mean_nothing_is_held() {
    let mut nested = vec![b'{'; 50_000];
    nested.extend(vec![b'}'; 50_000]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "truncated",
            br#"{"version":1,"leases":[{"name":"a","hol"#.to_vec(),
        ),
        (
            "non-UTF-8",
            b"{\"version\":1,\"leases\":[{\"name\":\"\xff\"}]}".to_vec(),
        ),
        ("nested", nested),
        ("binary", (0..=255u8).rev().cycle().take(1000).collect()),
        ("no version", br#"{"leases":[]}"#.to_vec()),
    ];
    for (what, bytes) in cases {
        assert!(
            portreg_core::fuzzing::leases_file(&bytes).is_err(),
            "{what}"
        );
        let (_d, reg) = fresh();
        let r = PortRange::new(21330, 21339).unwrap();
        reg.lease(&LeaseRequest::new("web").range(r)).unwrap();
        fs::write(reg.path().join("leases.json"), &bytes).unwrap();
        let e = reg.get("web").unwrap().unwrap();
        assert_eq!(e.state, State::Idle, "{what}");
        assert!(
            !reg.take_warnings().is_empty(),
            "{what}: a warning is given"
        );
        // and leasing again repairs it
        assert_eq!(
            reg.lease(&LeaseRequest::new("web").range(r)).unwrap().port,
            e.port
        );
        assert!(
            corrupt_files(&reg).is_empty(),
            "{what}: leases.json is never treated as corruption"
        );
    }
}
