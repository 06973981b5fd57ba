//! Small promises of docs/design.md checked against real files: a version
//! no portreg wrote, dates that are not RFC 3339, a config.toml that does
//! not parse, and links planted in the registry directory.

use std::fs;
use std::os::unix::fs::symlink;

use portreg_core::{ErrorCode, LeaseRequest, PortRange, Registry};

mod common;

use common::{corrupt_files, fresh};

/// `bytes` as registry.json are moved aside whole, and the registry goes on empty.
fn assert_quarantined(bytes: &str, what: &str) {
    let (_d, reg) = fresh();
    fs::write(reg.path().join("registry.json"), bytes).unwrap();
    let list = reg.list().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(list.is_empty(), "{what}: read {list:?}");
    let w = reg.take_warnings();
    assert!(w.iter().any(|w| w.contains("moved aside")), "{what}: {w:?}");
    let aside = corrupt_files(&reg);
    assert_eq!(aside.len(), 1, "{what}");
    assert_eq!(fs::read_to_string(&aside[0]).unwrap(), bytes, "{what}");
}

const DATES: &str = r#""created": "2026-01-01T00:00:00Z", "changed": "2026-01-01T00:00:00Z""#;

#[test]
fn version_zero_is_corrupt_not_rewritten_as_one() {
    assert_quarantined(
        &format!(r#"{{"version": 0, "entries": [{{"name": "web", "port": 8070, {DATES}}}]}}"#),
        "version 0",
    );
}

#[test]
fn dates_that_are_not_rfc3339_are_corrupt() {
    for (what, created, changed) in [
        ("words", "yesterday", "2026-01-01T00:00:00Z"),
        (
            "escape sequence",
            "2026-01-01T00:00:00Z",
            "\\u001b]0;owned\\u0007",
        ),
        ("empty", "", "2026-01-01T00:00:00Z"),
        ("no zone", "2026-01-01T00:00:00", "2026-01-01T00:00:00Z"),
    ] {
        assert_quarantined(
            &format!(
                r#"{{"version": 1, "entries": [{{"name": "web", "port": 8070, "created": "{created}", "changed": "{changed}"}}]}}"#
            ),
            what,
        );
    }
    // Fractional seconds are still RFC 3339: kept.
    let (_d, reg) = fresh();
    fs::write(
        reg.path().join("registry.json"),
        r#"{"version": 1, "entries": [{"name": "web", "port": 8070, "created": "2026-01-01T00:00:00.5Z", "changed": "2026-01-01T00:00:00Z"}]}"#,
    )
    .unwrap();
    assert_eq!(reg.list().unwrap().len(), 1);
}

#[test]
fn a_lease_record_with_a_bad_since_is_not_echoed() {
    let (_d, reg) = fresh();
    let r = PortRange::new(21420, 21429).unwrap();
    reg.lease(&LeaseRequest::new("web").range(r)).unwrap();
    let path = reg.path().join("leases.json");
    let text = fs::read_to_string(&path).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["leases"][0]["holder"]["since"] = "\u{1b}[2Jsoon".into();
    fs::write(&path, v.to_string()).unwrap();
    let e = reg.get("web").unwrap().unwrap();
    if let Some(h) = &e.holder {
        assert!(
            humantime::parse_rfc3339(&h.since).is_ok(),
            "echoed {:?}",
            h.since
        );
    }
}

#[test]
fn a_config_parse_error_is_one_line_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("reg");
    Registry::open(&reg).unwrap();
    fs::write(
        reg.join("config.toml"),
        "# settings\nrange = \"8070-8999\nother = 1\n",
    )
    .unwrap();
    let e = Registry::open(&reg)
        .err()
        .expect("a bad config.toml is an error");
    assert_eq!(e.code(), ErrorCode::InvalidRange);
    let msg = e.to_string();
    assert!(!msg.contains('\n'), "one line: {msg}");
    assert!(msg.contains("line 2"), "says where: {msg}");
    assert!(msg.contains("config.toml"), "{msg}");
}

#[test]
fn a_dangling_lock_link_is_refused_and_nothing_is_created_outside() {
    let (d, reg) = fresh();
    let outside = d.path().join("outside-the-registry");
    let lock = reg.path().join("registry.lock");
    let _ = fs::remove_file(&lock);
    symlink(&outside, &lock).unwrap();
    let reg = Registry::open(reg.path()).unwrap();
    reg.set_print_warnings(false);
    let e = reg.list().unwrap_err();
    assert_eq!(e.code(), ErrorCode::Permission, "{e}");
    assert!(e.to_string().contains("link"), "{e}");
    let e = reg
        .lease(&LeaseRequest::new("web").range(PortRange::new(21430, 21439).unwrap()))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Permission, "{e}");
    assert!(!outside.exists(), "a file was created through the link");
}

#[test]
fn registry_files_are_not_read_through_links() {
    let (d, reg) = fresh();
    let elsewhere = d.path().join("elsewhere.json");
    fs::write(
        &elsewhere,
        format!(r#"{{"version": 1, "entries": [{{"name": "web", "port": 8070, {DATES}}}]}}"#),
    )
    .unwrap();
    symlink(&elsewhere, reg.path().join("registry.json")).unwrap();
    let e = reg.list().unwrap_err();
    assert_eq!(e.code(), ErrorCode::Permission, "{e}");
    assert!(e.to_string().contains("link"), "{e}");
}
