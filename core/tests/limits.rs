//! What a caller may write into the registry: descriptions and meta within
//! their limits and free of control characters, and never a registry.json
//! larger than readers accept (which they would move aside, emptying the
//! registry for everyone).

use std::collections::BTreeMap;
use std::fs;

use portreg_core::{
    ErrorCode, LeaseRequest, PortRange, Registry, MAX_DESCRIPTION_BYTES, MAX_FILE_BYTES,
    MAX_META_KEYS, MAX_META_KEY_BYTES, MAX_META_VALUE_BYTES,
};

fn fresh() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let r = Registry::open(dir.path().join("reg")).unwrap();
    r.set_print_warnings(false);
    (dir, r)
}

fn range() -> PortRange {
    PortRange::new(21440, 21499).unwrap()
}

fn lease(name: &str) -> LeaseRequest {
    LeaseRequest::new(name).range(range())
}

/// The registry still answers with `names`, nothing was moved aside, and
/// registry.json is as it was.
fn assert_intact(reg: &Registry, names: &[&str], bytes: &[u8]) {
    let fresh = Registry::open(reg.path()).unwrap();
    fresh.set_print_warnings(false);
    let listed: Vec<String> = fresh.list().unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(listed, names);
    assert!(fresh.take_warnings().is_empty());
    assert_eq!(fs::read(reg.path().join("registry.json")).unwrap(), bytes);
}

#[test]
fn a_65_mib_description_is_refused_before_anything_is_written() {
    let (_d, reg) = fresh();
    reg.reserve("keep", 21440, Some("a reservation")).unwrap();
    let before = fs::read(reg.path().join("registry.json")).unwrap();
    let huge = "x".repeat(65 << 20);
    let e = reg.lease(&lease("huge").description(huge)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidText, "{e}");
    assert!(e.to_string().contains("1024"), "says the limit: {e}");
    assert!(e.to_string().len() < 400, "does not echo the text");
    assert_intact(&reg, &["keep"], &before);
}

#[test]
fn every_limit_is_exact() {
    let (_d, reg) = fresh();
    let at = |n: usize| "d".repeat(n);
    reg.lease(&lease("a").description(at(MAX_DESCRIPTION_BYTES)))
        .unwrap();
    let e = reg
        .lease(&lease("b").description(at(MAX_DESCRIPTION_BYTES + 1)))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidText, "{e}");
    let e = reg
        .reserve("b", 21441, Some(&at(MAX_DESCRIPTION_BYTES + 1)))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidText, "{e}");

    let meta = |keys: usize, klen: usize, vlen: usize| -> BTreeMap<String, String> {
        (0..keys)
            .map(|i| (format!("{i:0>klen$}"), "v".repeat(vlen)))
            .collect()
    };
    reg.lease(&lease("m").meta(meta(
        MAX_META_KEYS,
        MAX_META_KEY_BYTES,
        MAX_META_VALUE_BYTES,
    )))
    .unwrap();
    for (what, m) in [
        ("keys", meta(MAX_META_KEYS + 1, 4, 1)),
        ("key length", meta(1, MAX_META_KEY_BYTES + 1, 1)),
        ("value length", meta(1, 4, MAX_META_VALUE_BYTES + 1)),
        ("empty key", [(String::new(), "v".to_string())].into()),
    ] {
        let e = reg.lease(&lease("n").meta(m)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidText, "{what}: {e}");
    }
    assert!(reg.get("n").unwrap().is_none(), "nothing was written");
}

#[test]
fn control_characters_are_refused() {
    let (_d, reg) = fresh();
    for d in [
        "\u{1b}[31mred",
        "bell\u{7}",
        "nul\0",
        "line\nbreak",
        "tab\t",
        "c1\u{9b}",
    ] {
        let e = reg.lease(&lease("x").description(d)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidText, "{d:?}: {e}");
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
        let e = reg.reserve("x", 21450, Some(d)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidText, "{d:?}: {e}");
        let m: BTreeMap<String, String> = [(format!("k{d}"), "v".to_string())].into();
        let e = reg.lease(&lease("x").meta(m)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidText, "key {d:?}: {e}");
    }
    let nul: BTreeMap<String, String> = [("k".to_string(), "a\0b".to_string())].into();
    let e = reg.lease(&lease("x").meta(nul)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidText, "NUL in a value: {e}");
    // Other text is fine, and a value may hold a line break.
    let ok: BTreeMap<String, String> = [("cmd".to_string(), "a\nb\tc".to_string())].into();
    reg.lease(&lease("x").description("caf\u{e9} \u{1F600} \"q\"").meta(ok))
        .unwrap();
    assert!(reg.get("x").unwrap().is_some());
}

/// Many calls, each within every limit, that together would pass the size
/// readers accept: the one that would is refused, and the registry stays
/// readable with everything it held.
#[test]
fn many_calls_never_make_a_file_readers_refuse() {
    let (_d, reg) = fresh();
    // A registry an earlier portreg could have written, just under the cap:
    // entries with the largest meta allowed (escaped control characters make
    // each value take six times its length in the file).
    let value = "\u{1}".repeat(MAX_META_VALUE_BYTES);
    let meta: serde_json::Map<String, serde_json::Value> = (0..MAX_META_KEYS)
        .map(|i| (format!("k{i}"), value.clone().into()))
        .collect();
    let entry = |i: usize| {
        serde_json::json!({
            "name": format!("old{i}"), "port": 30000 + i, "reserved": true, "meta": meta,
            "created": "2026-01-01T00:00:00Z", "changed": "2026-01-01T00:00:00Z",
        })
    };
    let one = serde_json::to_vec_pretty(&entry(0)).unwrap().len() as u64;
    let n = ((MAX_FILE_BYTES - 3 * one) / one) as usize;
    let file = serde_json::json!({"version": 1, "entries": (0..n).map(entry).collect::<Vec<_>>()});
    let mut text = serde_json::to_vec_pretty(&file).unwrap();
    text.push(b'\n');
    assert!(text.len() as u64 <= MAX_FILE_BYTES);
    fs::write(reg.path().join("registry.json"), &text).unwrap();
    assert_eq!(reg.list().unwrap().len(), n);

    let big: BTreeMap<String, String> = (0..MAX_META_KEYS)
        .map(|i| (format!("k{i}"), value.clone()))
        .collect();
    let mut refused = None;
    for i in 0..10 {
        match reg.lease(&lease(&format!("new{i}")).meta(big.clone())) {
            Ok(_) => {}
            Err(e) => {
                refused = Some((i, e));
                break;
            }
        }
    }
    let (i, e) = refused.expect("the registry never filled up");
    assert_eq!(e.code(), ErrorCode::RegistryFull, "{e}");
    assert!(i >= 1, "some calls fit before the cap");
    let size = fs::metadata(reg.path().join("registry.json"))
        .unwrap()
        .len();
    assert!(size <= MAX_FILE_BYTES, "{size}");
    let fresh = Registry::open(reg.path()).unwrap();
    fresh.set_print_warnings(false);
    assert_eq!(fresh.list().unwrap().len(), n + i);
    assert!(fresh.take_warnings().is_empty());
    // Smaller changes still work, and forgetting makes room again.
    fresh.forget("old0", true).unwrap();
    fresh.lease(&lease("again").meta(big)).unwrap();
}
