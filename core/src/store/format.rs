//! The two files' formats: parsing `registry.json` (strictly for this
//! version, leniently for a newer one) and `leases.json` (anything
//! unreadable means "nothing is held"), and encoding `leases.json`
//! (`registry.json` is encoded by the model, through the text module).

use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::model::RegData;
use super::order::port_then_name;
use super::records::{Borrowed, RawRecord, Records};
use crate::entry::{is_timestamp, name_key, validate_name, LeaseRecord, StoredEntry};

/// The file format version this code reads and writes.
pub const FORMAT_VERSION: u64 = 1;
const _: () = assert!(
    FORMAT_VERSION == super::text::HEAD_VERSION,
    "the encoded text spells the version"
);

#[derive(Serialize, Deserialize)]
struct RegistryFile<T> {
    version: u64,
    #[serde(default = "Vec::new")]
    entries: Vec<T>,
}

#[derive(Serialize, Deserialize)]
struct LeasesFile<T> {
    version: u64,
    #[serde(default = "Vec::new")]
    leases: Vec<T>,
}

/// How `registry.json` was found.
pub(crate) enum RegRead {
    Ok(RegData),
    /// Does not parse, or breaks a rule a valid file keeps; the reason.
    Corrupt(String),
}

/// Parses the bytes of `registry.json`. A newer version is read as far as
/// possible (entries this code cannot read are skipped) and never written.
pub(crate) fn parse_registry(bytes: &[u8]) -> RegRead {
    // The common case, a file of this version, parses straight into entries
    // (from text checked as UTF-8 once, not string by string).
    let text = std::str::from_utf8(bytes).ok();
    // As written by this version (see `read_as_written`): no serde.
    if let Some(entries) = text.and_then(super::text::read_as_written) {
        return check_entries(RegData::from_entries(entries, FORMAT_VERSION));
    }
    let parsed = text.and_then(|text| serde_json::from_str::<RegistryFile<StoredEntry>>(text).ok());
    if let Some(file) = parsed {
        if file.version == FORMAT_VERSION {
            return check_entries(RegData::from_entries(file.entries, file.version));
        }
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        // An empty file is what a crash before the first write can leave only
        // if something else made it; treat it as corrupt so the bytes are kept.
        return RegRead::Corrupt("the file is empty".into());
    }
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return RegRead::Corrupt(format!("not valid JSON ({e})")),
    };
    let Some(version) = value.get("version").and_then(|v| v.as_u64()) else {
        return RegRead::Corrupt("no \"version\" number".into());
    };
    if version == 0 {
        // Versions start at 1: no portreg wrote this, so nothing says what
        // its fields mean.
        return RegRead::Corrupt("\"version\" is 0, which no portreg writes".into());
    }
    if version > FORMAT_VERSION {
        let entries = readable::<StoredEntry>(&value, "entries")
            .into_iter()
            .filter(|e| entry_problem(e).is_none())
            .collect();
        return RegRead::Ok(RegData::from_entries(dedup(entries), version));
    }
    let file: RegistryFile<StoredEntry> = match serde_json::from_value(value) {
        Ok(f) => f,
        Err(e) => return RegRead::Corrupt(format!("unexpected content ({e})")),
    };
    check_entries(RegData::from_entries(file.entries, version))
}

fn check_entries(data: RegData) -> RegRead {
    if data.index.len() != data.entries.len() {
        return RegRead::Corrupt("a name appears twice".into());
    }
    for e in &data.entries {
        if let Some(why) = entry_problem(e) {
            return RegRead::Corrupt(why);
        }
    }
    RegRead::Ok(data)
}

/// What makes an entry one this code never writes: an invalid name, port
/// 0, or a date that is not RFC 3339 (which would otherwise be echoed to
/// every terminal and program that reads the registry).
fn entry_problem(e: &StoredEntry) -> Option<String> {
    if let Err(err) = validate_name(&e.name) {
        return Some(err.to_string());
    }
    if e.port == 0 {
        return Some(format!("entry {:?} has port 0", e.name));
    }
    for (field, value) in [("created", &e.created), ("changed", &e.changed)] {
        if !is_timestamp(value) {
            return Some(format!(
                "entry {:?} has a \"{field}\" that is not an RFC 3339 date ({:?})",
                e.name,
                value.chars().take(40).collect::<String>()
            ));
        }
    }
    None
}

fn dedup(entries: Vec<StoredEntry>) -> Vec<StoredEntry> {
    let mut seen = std::collections::HashSet::new();
    entries
        .into_iter()
        .filter(|e| seen.insert(name_key(&e.name)))
        .collect()
}

/// The items of the array `key` in a file read only in part (a newer
/// version, or records this code cannot read): every item that parses, the
/// others skipped. Both files are read this way past their strict form.
fn readable<T: DeserializeOwned>(value: &serde_json::Value, key: &str) -> Vec<T> {
    value
        .get(key)
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|e| T::deserialize(e).ok()).collect())
        .unwrap_or_default()
}

/// How `leases.json` was found: records, the version, and a warning when it
/// had to be treated as empty.
pub(crate) struct LeasesRead {
    pub records: Records,
    pub version: u64,
    pub warning: Option<String>,
}

/// What a `leases.json` of `size` bytes, past the limit, is read as.
pub(crate) fn too_large_leases(path: &Path, size: u64) -> LeasesRead {
    LeasesRead {
        records: Records::default(),
        version: FORMAT_VERSION,
        warning: Some(format!(
            "{} is {size} bytes, far larger than any real one; treating it as \"nothing is held\"",
            path.display()
        )),
    }
}

/// Parses the bytes of `leases.json`; anything unreadable means "nothing is held".
pub(crate) fn parse_leases(bytes: impl Into<Vec<u8>>, path: &Path) -> LeasesRead {
    let empty = |warning| LeasesRead {
        records: Records::default(),
        version: FORMAT_VERSION,
        warning,
    };
    let bytes: Vec<u8> = bytes.into();
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return empty(None);
    }
    // The common case: every record has a name; holders are parsed later,
    // those of the names an operation asks about (see `records`).
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => {
            let text = Arc::new(text);
            if let Some((version @ 1.., records)) = super::leases_text::split_as_written(&text) {
                return LeasesRead {
                    records: Records {
                        parsed: Vec::new(),
                        raw: RawRecord::at(&text, records),
                    },
                    version,
                    warning: None,
                };
            }
            if let Ok(file) = serde_json::from_str::<LeasesFile<Borrowed>>(&text) {
                if file.version >= 1 {
                    return LeasesRead {
                        records: Records {
                            parsed: Vec::new(),
                            raw: RawRecord::of(&text, file.leases),
                        },
                        version: file.version,
                        warning: None,
                    };
                }
            }
            Arc::unwrap_or_clone(text).into_bytes()
        }
        Err(e) => e.into_bytes(),
    };
    let bytes = &bytes[..];
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return empty(Some(format!(
                "{} does not parse ({e}); treating it as \"nothing is held\"",
                path.display()
            )))
        }
    };
    let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version == 0 {
        return empty(Some(format!(
            "{} has no version; treating it as \"nothing is held\"",
            path.display()
        )));
    }
    // A newer or partly unreadable file: keep every record this code can read.
    let mut records: Vec<LeaseRecord> = readable(&value, "leases");
    records.retain(|r| is_timestamp(&r.holder.since));
    LeasesRead {
        records: records.into(),
        version,
        warning: None,
    }
}

/// Sorts `records` in file order (port, then name) and encodes them: what
/// a writer puts in `leases.json`, with the records kept as written.
pub(crate) fn encode_leases(records: &mut [LeaseRecord], port_of: impl Fn(&str) -> u16) -> Vec<u8> {
    records
        .sort_by(|a, b| port_then_name((port_of(&a.name), &a.name), (port_of(&b.name), &b.name)));
    let refs: Vec<&LeaseRecord> = records.iter().collect();
    serialize_leases(&refs, port_of)
}

pub(crate) fn serialize_leases(records: &[&LeaseRecord], port_of: impl Fn(&str) -> u16) -> Vec<u8> {
    let mut refs: Vec<(&LeaseRecord, u16)> =
        records.iter().map(|r| (*r, port_of(&r.name))).collect();
    refs.sort_unstable_by(|a, b| port_then_name((a.1, &a.0.name), (b.1, &b.0.name)));
    let leases: Vec<&LeaseRecord> = refs.into_iter().map(|(r, _)| r).collect();
    // Sized once: growing from serde's 128 bytes took four reallocations,
    // the last of them past 1 KiB, where glibc first consolidates its free
    // small chunks, on every write.
    let size = 48 + leases.iter().map(|r| size_hint(r)).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    super::leases_text::write_leases(&mut out, &leases);
    out.push(b'\n');
    out
}

/// About how many bytes `r` takes in leases.json: its texts, plus the keys,
/// numbers and indentation around them (a text needing escapes takes more,
/// and the buffer grows).
fn size_hint(r: &LeaseRecord) -> usize {
    let h = &r.holder;
    let texts = [&r.name, &h.exe, &h.user, &h.cwd, &h.since]
        .iter()
        .map(|t| t.len())
        .sum::<usize>()
        + h.boot_id.as_ref().map_or(0, String::len)
        + h.lock.as_ref().map_or(0, String::len)
        + h.cmdline.iter().map(|a| a.len() + 14).sum::<usize>();
    texts + 440
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Holder;

    fn reg(bytes: &str) -> RegData {
        match parse_registry(bytes.as_bytes()) {
            RegRead::Ok(d) => d,
            RegRead::Corrupt(why) => panic!("{why}: {bytes}"),
        }
    }

    fn corrupt(bytes: &str) -> String {
        match parse_registry(bytes.as_bytes()) {
            RegRead::Ok(d) => panic!("read {} entries from {bytes}", d.entries.len()),
            RegRead::Corrupt(why) => why,
        }
    }

    const E: &str = r#""created": "2026-01-01T00:00:00Z", "changed": "2026-01-01T00:00:00Z""#;

    #[test]
    fn registry_round_trip() {
        let mut data = reg(&format!(
            r#"{{"version": 1, "entries": [
                {{"name": "web", "port": 8071, {E}}},
                {{"name": "Api", "port": 8070, "reserved": true, "description": "d", "meta": {{"k": "v"}}, {E}}}
            ]}}"#
        ));
        assert_eq!(data.version, FORMAT_VERSION);
        let text = data.encode().to_vec();
        let back = reg(std::str::from_utf8(&text).unwrap());
        assert_eq!(back.entries.len(), 2);
        // written in file order: port, then name
        assert_eq!(back.entries[0].name, "Api");
        assert!(back.entries[0].reserved);
        assert_eq!(back.entries[0].meta["k"], "v");
        assert_eq!(back.get("WEB").map(|e| e.port), Some(8071));
        let mut again = RegData::from_entries(back.entries.clone(), FORMAT_VERSION);
        assert_eq!(again.encode(), &text[..], "the encoding is stable");
        assert!(reg(r#"{"version": 1}"#).entries.is_empty());
    }

    #[test]
    fn this_version_is_read_strictly() {
        assert!(corrupt("").contains("empty"));
        assert!(corrupt(" \n").contains("empty"));
        assert!(corrupt("{ torn").contains("not valid JSON"));
        assert!(corrupt(r#"{"entries": []}"#).contains("version"));
        let twice = format!(
            r#"{{"version": 1, "entries": [{{"name": "a", "port": 1, {E}}}, {{"name": "A", "port": 2, {E}}}]}}"#
        );
        assert!(corrupt(&twice).contains("twice"));
        let zero = format!(r#"{{"version": 1, "entries": [{{"name": "a", "port": 0, {E}}}]}}"#);
        assert!(corrupt(&zero).contains("port 0"));
        let bad_name =
            format!(r#"{{"version": 1, "entries": [{{"name": "-a", "port": 1, {E}}}]}}"#);
        corrupt(&bad_name);
        let unreadable = r#"{"version": 1, "entries": [{"name": "a"}]}"#;
        assert!(corrupt(unreadable).contains("unexpected content"));
    }

    #[test]
    fn a_newer_registry_is_read_as_far_as_possible() {
        let data = reg(&format!(
            r#"{{"version": 7, "future": true, "entries": [
                {{"name": "ok", "port": 9001, "colour": "new field", {E}}},
                {{"name": "no-port", {E}}},
                {{"name": "-bad", "port": 9002, {E}}},
                {{"name": "zero", "port": 0, {E}}},
                {{"name": "OK", "port": 9003, {E}}},
                "not an entry"
            ]}}"#
        ));
        assert_eq!(data.version, 7);
        let names: Vec<&str> = data.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["ok"], "readable, valid, first spelling kept");
        assert!(reg(r#"{"version": 2, "entries": "changed shape"}"#)
            .entries
            .is_empty());
    }

    fn holder(pid: u32) -> Holder {
        Holder {
            pid,
            start_time: 5,
            start_ticks: Some(7),
            boot_id: None,
            pid_ns: None,
            lock: None,
            exe: "x".into(),
            cmdline: vec![],
            user: "u".into(),
            cwd: "/".into(),
            since: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn leases_round_trip_in_file_order() {
        let a = LeaseRecord {
            name: "b".into(),
            holder: holder(1),
        };
        let b = LeaseRecord {
            name: "a".into(),
            holder: holder(2),
        };
        let c = LeaseRecord {
            name: "C".into(),
            holder: holder(3),
        };
        let ports = |n: &str| if n == "C" { 10 } else { 20 };
        let text = serialize_leases(&[&a, &b, &c], ports);
        assert!(text.ends_with(b"}\n"));
        let back = parse_leases(text, Path::new("leases.json"));
        assert_eq!(back.warning, None);
        assert_eq!(back.version, FORMAT_VERSION);
        let records = back.records.all();
        let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["C", "a", "b"]);
        assert_eq!(records[1], b);
    }

    #[test]
    fn unreadable_leases_mean_nothing_is_held() {
        let path = Path::new("/r/leases.json");
        let empty = parse_leases(b"", path);
        assert!(empty.records.is_empty() && empty.warning.is_none());
        for (bytes, says) in [
            (&b"{ torn"[..], "does not parse"),
            (b"{\"leases\": []}", "no version"),
        ] {
            let r = parse_leases(bytes, path);
            assert!(r.records.is_empty());
            let w = r.warning.unwrap();
            assert!(w.contains(says) && w.contains("/r/leases.json"), "{w}");
        }
    }

    #[test]
    fn newer_or_partly_unreadable_leases_keep_what_can_be_read() {
        let good = serde_json::to_value(LeaseRecord {
            name: "web".into(),
            holder: holder(9),
        })
        .unwrap();
        for version in [1, 4] {
            let v =
                serde_json::json!({"version": version, "leases": [good, {"name": "no holder"}, 3]});
            let r = parse_leases(v.to_string().as_bytes(), Path::new("leases.json"));
            assert_eq!(r.version, version);
            assert_eq!(r.warning, None);
            assert_eq!(r.records.len(), 1);
            assert_eq!(r.records.all()[0].holder.pid, 9);
        }
    }
    #[test]
    fn text_parses_back() {
        let mut data = RegData::from_entries(Vec::new(), FORMAT_VERSION);
        for i in 0..50 {
            let meta = [("k".to_string(), format!("\"{i}\"\n"))].into();
            data.insert(StoredEntry {
                name: format!("n{i}"),
                port: 8000 + (i % 9) as u16,
                reserved: i % 3 == 0,
                description: Some(format!("d\u{1}{i}")),
                meta,
                created: "2026-01-01T00:00:00Z".into(),
                changed: "2026-01-01T00:00:00Z".into(),
            });
        }
        let text = data.encode().to_vec();
        match parse_registry(&text) {
            RegRead::Ok(back) => assert_eq!(back.entries.len(), 50),
            RegRead::Corrupt(why) => panic!("{why}"),
        }
    }
}
