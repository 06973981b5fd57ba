//! One name's port read straight from the bytes of `registry.json`, for a
//! caller that reads the file once and asks about one name (`portreg get
//! NAME`): every entry is parsed and checked as [`parse_registry`] checks
//! it, with its texts borrowed from the bytes instead of copied, and no
//! model is built. Anything else (a text with escapes, another version, a
//! file that breaks a rule) is left to [`parse_registry`], which says what
//! is wrong with it.
//!
//! [`parse_registry`]: super::format::parse_registry

use std::borrow::Cow;
use std::fmt;

use rustc_hash::FxHashSet;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::format::FORMAT_VERSION;
use super::model::lookup_key;
use crate::entry::{is_timestamp, validate_name};

/// An entry as `StoredEntry` reads it, its texts borrowed (a text with an
/// escape does not borrow, and the whole read is given up).
#[derive(Deserialize)]
struct Entry<'a> {
    name: &'a str,
    port: u16,
    #[serde(default)]
    #[allow(dead_code)]
    reserved: bool,
    #[serde(default, borrow)]
    #[allow(dead_code)]
    description: Option<&'a str>,
    #[serde(default)]
    #[allow(dead_code)]
    meta: Meta,
    created: &'a str,
    changed: &'a str,
}

/// A `meta` object, checked (texts to texts) and not kept.
#[derive(Default)]
struct Meta;

impl<'de> Deserialize<'de> for Meta {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Meta, D::Error> {
        struct Texts;
        impl<'de> Visitor<'de> for Texts {
            type Value = Meta;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Meta, A::Error> {
                while map.next_entry::<&'de str, &'de str>()?.is_some() {}
                Ok(Meta)
            }
        }
        d.deserialize_map(Texts)
    }
}

#[derive(Deserialize)]
struct File<'a> {
    version: u64,
    #[serde(default, borrow)]
    entries: Vec<Entry<'a>>,
}

/// The port of `name` (`Some(None)`: the registry does not know it) when
/// `bytes` are a valid `registry.json` of this version with no escaped
/// text; `None` otherwise.
pub(crate) fn port_in(bytes: &[u8], name: &str) -> Option<Option<u16>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let file: File<'_> = serde_json::from_str(text).ok()?;
    if file.version != FORMAT_VERSION {
        return None;
    }
    let wanted = lookup_key(name);
    let mut seen: FxHashSet<Cow<'_, str>> = FxHashSet::default();
    seen.reserve(file.entries.len());
    let mut port = None;
    for e in &file.entries {
        let valid = validate_name(e.name).is_ok()
            && e.port != 0
            && is_timestamp(e.created)
            && is_timestamp(e.changed);
        let key = lookup_key(e.name);
        if key == wanted {
            port = Some(e.port);
        }
        if !valid || !seen.insert(key) {
            return None;
        }
    }
    Some(port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::format::{parse_registry, RegRead};
    use proptest::prelude::*;

    /// What the full read says of `name` in `text`: its port, or `None`
    /// for a file it calls corrupt or reads only in part (another version).
    fn full(text: &str, name: &str) -> Option<Option<u16>> {
        match parse_registry(text.as_bytes()) {
            RegRead::Ok(d) if d.version == FORMAT_VERSION => Some(d.get(name).map(|e| e.port)),
            _ => None,
        }
    }

    const E: &str = r#""created": "2026-01-01T00:00:00Z", "changed": "2026-01-01T00:00:00Z""#;

    fn file(entries: &[String]) -> String {
        format!(r#"{{"version": 1, "entries": [{}]}}"#, entries.join(","))
    }

    #[test]
    fn the_port_of_a_valid_file_and_nothing_from_any_other() {
        let good = file(&[
            format!(r#"{{"name": "web", "port": 8071, {E}}}"#),
            format!(
                r#"{{"name": "Api", "port": 8070, "reserved": true, "description": "d", "meta": {{"k": "v"}}, "colour": 1, {E}}}"#
            ),
        ]);
        assert_eq!(port_in(good.as_bytes(), "API"), Some(Some(8070)));
        assert_eq!(port_in(good.as_bytes(), "web"), Some(Some(8071)));
        assert_eq!(port_in(good.as_bytes(), "db"), Some(None));
        assert_eq!(port_in(br#"{"version": 1}"#, "web"), Some(None));
        // Each of these is left to the full read.
        let one = |entry: &str| {
            file(&[
                format!(r#"{{"name": "web", "port": 8071, {E}}}"#),
                entry.to_string(),
            ])
        };
        let others = [
            String::new(),
            "{ torn".into(),
            r#"{"version": 2, "entries": []}"#.into(),
            one(&format!(r#"{{"name": "WEB", "port": 8072, {E}}}"#)),
            one(&format!(r#"{{"name": "a", "port": 0, {E}}}"#)),
            one(&format!(r#"{{"name": "-a", "port": 1, {E}}}"#)),
            one(
                r#"{"name": "a", "port": 1, "created": "yesterday", "changed": "2026-01-01T00:00:00Z"}"#,
            ),
            one(&format!(
                r#"{{"name": "a", "port": 1, "meta": {{"k": 1}}, {E}}}"#
            )),
            one(&format!(
                r#"{{"name": "a", "port": 1, "description": 5, {E}}}"#
            )),
            one(&format!(
                r#"{{"name": "a", "port": 1, "description": "say \"hi\"", {E}}}"#
            )),
            one(&format!(r#"{{"name": "\u0061", "port": 1, {E}}}"#)),
            one(r#"{"name": "a"}"#),
        ];
        for text in &others {
            assert_eq!(port_in(text.as_bytes(), "web"), None, "{text}");
        }
        // The full read agrees wherever the quick one answers.
        for text in others.iter().chain([&good]) {
            if let Some(port) = port_in(text.as_bytes(), "web") {
                assert_eq!(Some(port), full(text, "web"), "{text}");
            }
        }
    }

    proptest! {
        /// On files made of entries valid and not, the quick read answers
        /// only what the full read answers, and answers every valid file
        /// without escapes.
        #[test]
        fn agrees_with_the_full_read(
            entries in prop::collection::vec(
                (
                    prop::sample::select(vec!["web", "Web", "api", "db", "-x", "a.b"]),
                    prop::sample::select(vec![0u16, 1, 8070, 65535]),
                    prop::sample::select(vec![
                        r#""description": "d""#,
                        r#""description": null"#,
                        r#""meta": {"k": "v", "k": "w"}"#,
                        r#""meta": []"#,
                        r#""reserved": "yes""#,
                        r#""created": "2026-13-01T00:00:00Z""#,
                        r#""other": [1, {"x": null}]"#,
                    ]),
                ),
                0..5,
            ),
            name in prop::sample::select(vec!["web", "WEB", "db", "nope"]),
        ) {
            let entries: Vec<String> = entries
                .iter()
                .map(|(n, p, extra)| {
                    let stamps = if extra.contains("created") {
                        r#""changed": "2026-01-01T00:00:00Z""#
                    } else {
                        E
                    };
                    format!(r#"{{"name": "{n}", "port": {p}, {extra}, {stamps}}}"#)
                })
                .collect();
            let text = file(&entries);
            let quick = port_in(text.as_bytes(), name);
            let full = full(&text, name);
            if quick.is_some() {
                prop_assert_eq!(quick, full, "{}", text);
            } else {
                prop_assert!(full.is_none(), "the quick read gave up on a file the full read takes: {}", text);
            }
        }
    }
}
