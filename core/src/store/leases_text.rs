//! leases.json's text, written field by field: byte for byte what
//! serde_json's pretty printer makes of the same records (a property test
//! compares the two on random records), at a fraction of its cost. Every
//! write of the file encodes every record in it, and the pretty printer
//! spent about 12,000 instructions on one record, most of them on dozens of
//! small writes of indentation and keys.
//!
//! Read back, a file laid out exactly as written here is split into its
//! records without serde (see [`split_as_written`]); any other text is left
//! to serde_json.

use std::ops::Range;

use super::layout::Cursor;
use crate::entry::{Holder, LeaseRecord};

use super::format::FORMAT_VERSION;

/// Appends the whole file (without the final newline) for `leases`, in
/// their order.
pub(crate) fn write_leases(out: &mut Vec<u8>, leases: &[&LeaseRecord]) {
    out.extend_from_slice(b"{\n  \"version\": ");
    number(out, FORMAT_VERSION);
    out.extend_from_slice(b",\n  \"leases\": ");
    array(out, leases, b"  ", |out, r| {
        out.extend_from_slice(b"{\n      \"name\": ");
        string(out, &r.name);
        out.extend_from_slice(b",\n      \"holder\": ");
        holder(out, &r.holder);
        out.extend_from_slice(b"\n    }");
    });
    out.extend_from_slice(b"\n}");
}

/// An array whose closing bracket is indented by `indent` (its items one
/// level deeper), `[]` when empty, as the pretty printer writes it.
fn array<T>(out: &mut Vec<u8>, items: &[T], indent: &[u8], item: impl Fn(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, x) in items.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        out.extend_from_slice(indent);
        out.extend_from_slice(b"  ");
        item(out, x);
    }
    if !items.is_empty() {
        out.push(b'\n');
        out.extend_from_slice(indent);
    }
    out.push(b']');
}

fn holder(out: &mut Vec<u8>, h: &Holder) {
    out.extend_from_slice(b"{\n        \"pid\": ");
    number(out, h.pid);
    out.extend_from_slice(b",\n        \"start_time\": ");
    number(out, h.start_time);
    out.extend_from_slice(b",\n        \"start_ticks\": ");
    option(out, h.start_ticks, number);
    out.extend_from_slice(b",\n        \"boot_id\": ");
    option(out, h.boot_id.as_deref(), string);
    out.extend_from_slice(b",\n        \"pid_ns\": ");
    option(out, h.pid_ns, number);
    out.extend_from_slice(b",\n        \"lock\": ");
    option(out, h.lock.as_deref(), string);
    out.extend_from_slice(b",\n        \"exe\": ");
    string(out, &h.exe);
    out.extend_from_slice(b",\n        \"cmdline\": ");
    array(out, &h.cmdline, b"        ", |out, arg| string(out, arg));
    out.extend_from_slice(b",\n        \"user\": ");
    string(out, &h.user);
    out.extend_from_slice(b",\n        \"cwd\": ");
    string(out, &h.cwd);
    out.extend_from_slice(b",\n        \"since\": ");
    string(out, &h.since);
    out.extend_from_slice(b"\n      }");
}

/// A leases.json's version and records: each a name and its holder's place
/// in the text.
pub(crate) type Split = (u64, Vec<(String, Range<usize>)>);

/// The version and the records (each name, and its holder's place in
/// `text`) of a leases.json laid out exactly as [`write_leases`] lays it
/// out, with names that need no escape; `None` for any other text, which
/// the caller then gives to serde_json. What this returns for a text is
/// what serde_json reads of it: the layout leaves no choice but the
/// holders' ends, and each holder is checked to be one whole JSON value
/// (a holder the same as the one before it, as a process's many names
/// are, is not checked again).
///
/// Why: serde_json finds a raw holder's end by reading every token of it,
/// about 6,000 instructions for a 500-byte holder: a quarter of a `list` of
/// 1,000 names. Here the end is the next line that closes the holder's
/// object at its indentation (JSON strings hold no raw newline).
pub(crate) fn split_as_written(text: &str) -> Option<Split> {
    const RECORD: &[u8] = b"{\n      \"name\": ";
    const HOLDER: &[u8] = b",\n      \"holder\": ";
    const HOLDER_END: &[u8] = b"\n      }";
    const RECORD_END: &[u8] = b"\n    }";
    let b = text.as_bytes();
    let mut c = Cursor::new(text);
    c.eat(b"{\n  \"version\": ")?;
    // No more digits than a u64 has.
    let version = c.number(19)?;
    c.eat(b",\n  \"leases\": [")?;
    let holder_end = memchr::memmem::Finder::new(HOLDER_END);
    // Sized once: every record's first line, which no string can hold.
    let mut records = Vec::with_capacity(memchr::memmem::find_iter(b, RECORD).count());
    let mut checked: Option<&[u8]> = None;
    if c.eat(b"]").is_none() {
        loop {
            c.eat(if records.is_empty() {
                b"\n    "
            } else {
                b",\n    "
            })?;
            c.eat(RECORD)?;
            // A name with an escape or a control character: serde's to read.
            let name = c.string()?;
            c.eat(HOLDER)?;
            // An object, from its first byte: serde_json's raw value starts
            // after any whitespace.
            let start = c.at();
            if b.get(start) != Some(&b'{') {
                return None;
            }
            let end = start + holder_end.find(&b[start..])? + HOLDER_END.len();
            let holder = &b[start..end];
            if !checked.is_some_and(|c| super::records::same_bytes(c, holder)) {
                serde_json::from_slice::<serde::de::IgnoredAny>(holder).ok()?;
                checked = Some(holder);
            }
            c.skip_to(end);
            c.eat(RECORD_END)?;
            records.push((name.to_string(), start..end));
            if c.eat(b"\n  ]").is_some() {
                break;
            }
        }
    }
    c.eat(b"\n}")?;
    c.at_end().then_some((version, records))
}

fn option<T>(out: &mut Vec<u8>, v: Option<T>, write: fn(&mut Vec<u8>, T)) {
    match v {
        Some(v) => write(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

fn number(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A JSON string: as it is between quotes when nothing in it needs an
/// escape, else escaped by serde_json itself (which escapes exactly `"`,
/// `\` and the control characters below U+0020).
fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        serde_json::to_writer(&mut *out, s).expect("writing to a Vec");
        return;
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Serialize)]
    struct File<'a> {
        version: u64,
        leases: &'a [&'a LeaseRecord],
    }

    fn by_serde(leases: &[&LeaseRecord]) -> Vec<u8> {
        serde_json::to_vec_pretty(&File {
            version: FORMAT_VERSION,
            leases,
        })
        .unwrap()
    }

    fn by_hand(leases: &[&LeaseRecord]) -> Vec<u8> {
        let mut out = Vec::new();
        write_leases(&mut out, leases);
        out
    }

    /// Any text: ASCII, quotes, backslashes, every control character, DEL,
    /// and characters beyond ASCII.
    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                4 => prop::char::range('a', 'z'),
                1 => prop::sample::select(vec!['"', '\\', '/', '\u{7f}', 'é', '中', '😀', ' ']),
                1 => prop::char::range('\u{0}', '\u{1f}'),
            ],
            0..12,
        )
        .prop_map(|c| c.into_iter().collect())
    }

    fn record() -> impl Strategy<Value = LeaseRecord> {
        (
            text(),
            (
                any::<u32>(),
                any::<u64>(),
                any::<Option<u64>>(),
                any::<Option<u64>>(),
            ),
            (proptest::option::of(text()), proptest::option::of(text())),
            (
                text(),
                prop::collection::vec(text(), 0..4),
                text(),
                text(),
                text(),
            ),
        )
            .prop_map(
                |(
                    name,
                    (pid, start_time, start_ticks, pid_ns),
                    (boot_id, lock),
                    (exe, cmdline, user, cwd, since),
                )| {
                    LeaseRecord {
                        name,
                        holder: Holder {
                            pid,
                            start_time,
                            start_ticks,
                            boot_id,
                            pid_ns,
                            lock,
                            exe,
                            cmdline,
                            user,
                            cwd,
                            since,
                        },
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn the_same_bytes_as_serde_pretty(records in prop::collection::vec(record(), 0..4)) {
            let refs: Vec<&LeaseRecord> = records.iter().collect();
            prop_assert_eq!(
                String::from_utf8(by_hand(&refs)).unwrap(),
                String::from_utf8(by_serde(&refs)).unwrap()
            );
        }
    }

    #[derive(serde::Deserialize)]
    struct Read<'a> {
        version: u64,
        #[serde(borrow)]
        leases: Vec<ReadRecord<'a>>,
    }

    #[derive(serde::Deserialize)]
    struct ReadRecord<'a> {
        name: String,
        #[serde(borrow)]
        holder: &'a serde_json::value::RawValue,
    }

    /// What serde_json reads of `text`, as [`split_as_written`] answers.
    fn by_serde_read(text: &str) -> Option<Split> {
        let file: Read = serde_json::from_str(text).ok()?;
        let base = text.as_ptr() as usize;
        let records = file
            .leases
            .into_iter()
            .map(|r| {
                let start = r.holder.get().as_ptr() as usize - base;
                (r.name, start..start + r.holder.get().len())
            })
            .collect();
        Some((file.version, records))
    }

    /// Text as written, with one byte put in, taken out or changed.
    fn mutated() -> impl Strategy<Value = String> {
        crate::store::changed::one_byte(
            prop::collection::vec(record(), 0..4)
                .prop_map(|records| by_hand(&records.iter().collect::<Vec<_>>())),
        )
    }

    proptest! {
        /// Any file as written reads as serde_json reads it, and without
        /// serde whenever no name needs an escape.
        #[test]
        fn a_file_as_written_splits_as_serde_reads_it(records in prop::collection::vec(record(), 0..5)) {
            let refs: Vec<&LeaseRecord> = records.iter().collect();
            let text = String::from_utf8(by_hand(&refs)).unwrap();
            let fast = split_as_written(&text);
            if records.iter().all(|r| !r.name.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\')) {
                prop_assert!(fast.is_some(), "not split: {}", text);
            }
            if let Some(fast) = fast {
                prop_assert_eq!(Some(fast), by_serde_read(&text));
            }
        }

        /// Whatever a changed byte makes of the text, a split is what
        /// serde_json reads of it (most changes leave it to serde_json).
        #[test]
        fn a_changed_file_splits_as_serde_reads_it_or_not_at_all(text in mutated()) {
            if let Some(fast) = split_as_written(&text) {
                prop_assert_eq!(Some(fast), by_serde_read(&text), "{}", text);
            }
        }
    }

    #[test]
    fn what_is_left_to_serde() {
        let r = |name: &str, exe: &str| LeaseRecord {
            name: name.into(),
            holder: Holder {
                pid: 1,
                start_time: 2,
                start_ticks: Some(3),
                boot_id: None,
                pid_ns: None,
                lock: None,
                exe: exe.into(),
                cmdline: vec!["a".into()],
                user: String::new(),
                cwd: String::new(),
                since: "2026-01-01T00:00:00Z".into(),
            },
        };
        let text = |records: &[LeaseRecord]| {
            String::from_utf8(by_hand(&records.iter().collect::<Vec<_>>())).unwrap()
        };
        let two = text(&[r("web", "x"), r("api", "x")]);
        let split = split_as_written(&two).unwrap();
        assert_eq!(Some(split.clone()), by_serde_read(&two));
        assert_eq!(&two[split.1[0].1.clone()], &two[split.1[1].1.clone()]);
        // The final newline a writer adds, and none.
        assert!(split_as_written(&format!("{two}\n")).is_some());
        assert!(split_as_written(&text(&[])).is_some());
        // An escaped name, a name with a tab, another layout, a newer
        // field, a holder that is not one JSON value: serde_json's to read.
        assert!(split_as_written(&text(&[r("a\"b", "x")])).is_none());
        assert!(split_as_written(&text(&[r("a\tb", "x")])).is_none());
        let compact =
            serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&two).unwrap())
                .unwrap();
        assert!(split_as_written(&compact).is_none());
        assert!(
            split_as_written(&two.replacen("\"leases\"", "\"extra\": 1,\n  \"leases\"", 1))
                .is_none()
        );
        let broken = two.replacen("\"pid\": 1,", "\"pid\": 1,,", 1);
        assert!(split_as_written(&broken).is_none() && by_serde_read(&broken).is_none());
        // A holder with a line that closes an object at its indentation
        // before its end: not split short.
        let nested = two.replacen("\"pid\": 1,", "\"pid\": 1,\n        \"x\": {\n      },", 1);
        assert_eq!(split_as_written(&nested), None);
        assert!(by_serde_read(&nested).is_some());
        // Leading zeros in the version are not JSON.
        assert!(split_as_written(&two.replacen("\"version\": 1", "\"version\": 01", 1)).is_none());
        // A holder after more whitespace than written: serde_json's value
        // starts after it.
        let spaced = two.replacen("\"holder\": {", "\"holder\":  {", 1);
        assert!(split_as_written(&spaced).is_none() && by_serde_read(&spaced).is_some());
    }

    #[test]
    fn an_empty_file_and_an_empty_command_line() {
        assert_eq!(by_hand(&[]), by_serde(&[]));
        let r = LeaseRecord {
            name: "web".into(),
            holder: Holder {
                pid: 1,
                start_time: 2,
                start_ticks: None,
                boot_id: None,
                pid_ns: None,
                lock: None,
                exe: String::new(),
                cmdline: Vec::new(),
                user: String::new(),
                cwd: String::new(),
                since: "2026-01-01T00:00:00Z".into(),
            },
        };
        assert_eq!(by_hand(&[&r]), by_serde(&[&r]));
    }
}
