//! leases.json's text, written field by field: byte for byte what
//! serde_json's pretty printer makes of the same records (a property test
//! compares the two on random records), at a fraction of its cost. Every
//! write of the file encodes every record in it, and the pretty printer
//! spent about 12,000 instructions on one record, most of them on dozens of
//! small writes of indentation and keys.

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
