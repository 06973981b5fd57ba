//! registry.json's text kept up to date entry by entry.
//!
//! The file is pretty-printed JSON sorted by port then name, so adding,
//! changing or removing one name changes one stretch of it. [`Text`] keeps
//! the whole encoded file together with where each entry lies in it, and
//! edits that stretch in place: a new name in a registry of 10,000 entries
//! encodes one entry instead of all of them. The result is byte for byte
//! what `serde_json::to_vec_pretty` gives for the whole file (the model tests check it).

use std::cmp::Ordering;

use super::layout::Cursor;
use super::order::file_order;
use crate::entry::StoredEntry;

/// The format version [`HEAD`] spells (the format module checks it is its own).
pub(super) const HEAD_VERSION: u64 = 1;
/// The start of registry.json, up to the first entry.
const HEAD: &[u8] = b"{\n  \"version\": 1,\n  \"entries\": [";
/// What comes before the first entry, and before each one after it.
const FIRST: &[u8] = b"\n    ";
const NEXT: &[u8] = b",\n    ";
/// The end of the file with entries, and without.
const TAIL: &[u8] = b"\n  ]\n}\n";
const EMPTY_TAIL: &[u8] = b"]\n}\n";

/// The encoded file and, in file order, the stretch each entry occupies
/// (its separator included).
#[derive(Debug, Clone)]
pub(crate) struct Text {
    bytes: Vec<u8>,
    spans: Vec<Span>,
}

#[derive(Debug, Clone, Copy)]
struct Span {
    /// Index of the entry in the registry's entry list.
    entry: usize,
    start: usize,
    len: usize,
}

impl Text {
    /// Encodes every entry.
    pub fn build(entries: &[StoredEntry]) -> Text {
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_unstable_by(|&a, &b| file_order(&entries[a], &entries[b]));
        let mut bytes = HEAD.to_vec();
        let mut spans = Vec::with_capacity(order.len());
        for (k, &i) in order.iter().enumerate() {
            let start = bytes.len();
            bytes.extend_from_slice(if k == 0 { FIRST } else { NEXT });
            bytes.extend_from_slice(&entry_text(&entries[i]));
            spans.push(Span {
                entry: i,
                start,
                len: bytes.len() - start,
            });
        }
        bytes.extend_from_slice(if order.is_empty() { EMPTY_TAIL } else { TAIL });
        Text { bytes, spans }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Adds the text of `entries[i]`, an entry it does not hold yet.
    pub fn insert(&mut self, entries: &[StoredEntry], i: usize) {
        let new = &entries[i];
        if self.spans.is_empty() {
            *self = Text::build(std::slice::from_ref(new));
            self.spans[0].entry = i;
            return;
        }
        let k = self
            .spans
            .partition_point(|s| file_order(&entries[s.entry], new) == Ordering::Less);
        let body = entry_text(new);
        let (pos, added, span) = if k == 0 {
            // Before the old first entry, which now needs a comma.
            let start = HEAD.len();
            let mut ins = Vec::with_capacity(FIRST.len() + body.len() + 1);
            ins.extend_from_slice(FIRST);
            ins.extend_from_slice(&body);
            ins.push(b',');
            self.bytes.splice(start..start, ins);
            self.spans[0].len += 1;
            let len = FIRST.len() + body.len();
            (
                start,
                len + 1,
                Span {
                    entry: i,
                    start,
                    len,
                },
            )
        } else {
            let prev = self.spans[k - 1];
            let start = prev.start + prev.len;
            let mut ins = Vec::with_capacity(NEXT.len() + body.len());
            ins.extend_from_slice(NEXT);
            ins.extend_from_slice(&body);
            let len = ins.len();
            self.bytes.splice(start..start, ins);
            (
                start,
                len,
                Span {
                    entry: i,
                    start,
                    len,
                },
            )
        };
        for s in &mut self.spans[k..] {
            if k == 0 && s.start == pos {
                s.start += span.len; // the old first: its comma sits where it began
            } else {
                s.start += added;
            }
        }
        self.spans.insert(k, span);
    }

    /// Drops the text of `entries[i]` (before it is removed or changed).
    pub fn remove(&mut self, i: usize) {
        let Some(k) = self.spans.iter().position(|s| s.entry == i) else {
            return;
        };
        let s = self.spans[k];
        let (cut, removed) = if self.spans.len() == 1 {
            // The last entry: the file closes its list straight after HEAD.
            self.bytes.truncate(HEAD.len());
            self.bytes.extend_from_slice(EMPTY_TAIL);
            self.spans.clear();
            return;
        } else if k == 0 {
            // The next entry becomes the first and loses its comma.
            let end = self.spans[1].start + 1;
            self.spans[1].len -= 1;
            (s.start..end, end - s.start)
        } else {
            (s.start..s.start + s.len, s.len)
        };
        self.bytes.drain(cut);
        self.spans.remove(k);
        for t in &mut self.spans[k..] {
            t.start -= removed;
        }
        if k == 0 {
            self.spans[0].start = HEAD.len();
        }
    }

    /// The entry at index `from` now lives at index `to` of the entry list.
    pub fn renumber(&mut self, from: usize, to: usize) {
        if let Some(s) = self.spans.iter_mut().find(|s| s.entry == from) {
            s.entry = to;
        }
    }
}

/// One entry pretty-printed at the depth it has in the file (inside
/// `"entries": [...]`): serde_json's own output with every line after the
/// first indented four more spaces. JSON strings never hold a raw newline,
/// so every `\n` is a line break of the layout.
fn entry_text(e: &StoredEntry) -> Vec<u8> {
    let flat = serde_json::to_vec_pretty(e).expect("entry serializes");
    let lines = flat.iter().filter(|&&b| b == b'\n').count();
    let mut out = Vec::with_capacity(flat.len() + 4 * lines);
    for &b in &flat {
        out.push(b);
        if b == b'\n' {
            out.extend_from_slice(b"    ");
        }
    }
    out
}

/// The entries of a registry.json laid out exactly as [`Text`] lays it out,
/// at this format version, with strings that need no escape; `None` for
/// any other text, which the caller then gives to serde_json. What this
/// returns for a text is what serde_json reads of it: the layout leaves no
/// choice, strings without escapes are their own bytes, and a port is
/// read as serde_json reads a u16 (a leading zero or one beyond 65535 is
/// left to it).
///
/// Why: serde_json spent 5.6 M instructions on the 1,000 entries of a
/// `list`, a third of it all, most of them matching keys and walking its
/// visitors; the layout names each key in its place.
pub(crate) fn read_as_written(text: &str) -> Option<Vec<StoredEntry>> {
    let mut c = Cursor::new(text);
    c.eat(HEAD)?;
    // Sized once (every entry's first line, which no string can hold): a
    // Vec grown by doubling copied a thousand entries into fresh pages.
    let mut entries = Vec::with_capacity(memchr::memmem::find_iter(text.as_bytes(), ENTRY).count());
    if c.eat(b"]\n}").is_none() {
        loop {
            c.eat(if entries.is_empty() { FIRST } else { NEXT })?;
            entries.push(entry(&mut c)?);
            if c.eat(b"\n  ]\n}").is_some() {
                break;
            }
        }
    }
    c.at_end().then_some(entries)
}

/// How each entry starts, after its separator.
const ENTRY: &[u8] = b"{\n      \"name\": ";

/// One entry, from its first line to its closing brace.
fn entry(c: &mut Cursor) -> Option<StoredEntry> {
    c.eat(ENTRY)?;
    let name = c.string()?.to_string();
    c.eat(b",\n      \"port\": ")?;
    let port = c.number(5)?;
    c.eat(b",\n      \"reserved\": ")?;
    let reserved = if c.eat(b"true").is_some() {
        true
    } else {
        c.eat(b"false")?;
        false
    };
    c.eat(b",\n      \"description\": ")?;
    let description = match c.eat(b"null") {
        Some(()) => None,
        None => Some(c.string()?.to_string()),
    };
    c.eat(b",\n      \"meta\": ")?;
    let mut meta = std::collections::BTreeMap::new();
    if c.eat(b"{}").is_none() {
        c.eat(b"{")?;
        loop {
            c.eat(b"\n        ")?;
            let key = c.string()?.to_string();
            c.eat(b": ")?;
            let value = c.string()?.to_string();
            // A key given twice: serde_json's to read (its last wins).
            if meta.insert(key, value).is_some() {
                return None;
            }
            if c.eat(b",").is_none() {
                break;
            }
        }
        c.eat(b"\n      }")?;
    }
    c.eat(b",\n      \"created\": ")?;
    let created = c.string()?.to_string();
    c.eat(b",\n      \"changed\": ")?;
    let changed = c.string()?.to_string();
    c.eat(b"\n    }")?;
    Some(StoredEntry {
        name,
        port,
        reserved,
        description,
        meta,
        created,
        changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Deserialize)]
    struct File {
        version: u64,
        entries: Vec<StoredEntry>,
    }

    /// What serde_json reads of `text` at this version.
    fn by_serde(text: &str) -> Option<Vec<StoredEntry>> {
        let file: File = serde_json::from_str(text).ok()?;
        (file.version == HEAD_VERSION).then_some(file.entries)
    }

    /// Any text: ASCII, quotes, backslashes, control characters, beyond ASCII.
    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                6 => prop::char::range('a', 'z'),
                1 => prop::sample::select(vec!['"', '\\', '/', '\u{7f}', 'é', '中', ' ', '\n']),
            ],
            0..8,
        )
        .prop_map(|c| c.into_iter().collect())
    }

    fn entry() -> impl Strategy<Value = StoredEntry> {
        (
            text(),
            any::<u16>(),
            any::<bool>(),
            proptest::option::of(text()),
            prop::collection::btree_map(text(), text(), 0..3),
            (text(), text()),
        )
            .prop_map(
                |(name, port, reserved, description, meta, (created, changed))| StoredEntry {
                    name,
                    port,
                    reserved,
                    description,
                    meta,
                    created,
                    changed,
                },
            )
    }

    fn plain(e: &StoredEntry) -> bool {
        let ok = |s: &str| !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
        ok(&e.name)
            && e.description.as_deref().is_none_or(ok)
            && e.meta.iter().all(|(k, v)| ok(k) && ok(v))
            && ok(&e.created)
            && ok(&e.changed)
    }

    /// The text of `entries` as written, with one byte put in, taken out or
    /// changed.
    fn mutated() -> impl Strategy<Value = String> {
        crate::store::changed::one_byte(
            prop::collection::vec(entry(), 0..4)
                .prop_map(|entries| Text::build(&entries).bytes().to_vec()),
        )
    }

    proptest! {
        /// A file as written reads as serde_json reads it, and without
        /// serde whenever no string needs an escape.
        #[test]
        fn a_file_as_written_reads_as_serde_reads_it(entries in prop::collection::vec(entry(), 0..5)) {
            let text = String::from_utf8(Text::build(&entries).bytes().to_vec()).unwrap();
            let fast = read_as_written(&text);
            if entries.iter().all(plain) {
                prop_assert!(fast.is_some(), "not read: {}", text);
            }
            if let Some(fast) = fast {
                prop_assert_eq!(Some(fast), by_serde(&text));
            }
        }

        /// Whatever a changed byte makes of the text, what is read is what
        /// serde_json reads (most changes leave it to serde_json).
        #[test]
        fn a_changed_file_reads_as_serde_reads_it_or_not_at_all(text in mutated()) {
            if let Some(fast) = read_as_written(&text) {
                prop_assert_eq!(Some(fast), by_serde(&text), "{}", text);
            }
        }
    }

    #[test]
    fn what_is_left_to_serde() {
        let e = |name: &str, port: u16| StoredEntry::new(name, port, "2026-01-01T00:00:00Z");
        let mut two = vec![e("web", 8000), e("api", 8001)];
        two[0].meta.insert("portreg.project".into(), "shop".into());
        two[0].meta.insert("owner".into(), "me".into());
        two[1].description = Some("the api".into());
        two[1].reserved = true;
        let text = String::from_utf8(Text::build(&two).bytes().to_vec()).unwrap();
        assert_eq!(read_as_written(&text), by_serde(&text));
        assert_eq!(read_as_written(&text).map(|v| v.len()), Some(2));
        let empty = String::from_utf8(Text::build(&[]).bytes().to_vec()).unwrap();
        assert_eq!(read_as_written(&empty), Some(Vec::new()));
        assert!(read_as_written(text.trim_end()).is_some());
        // Another version, a leading zero, a port beyond a u16, a key given
        // twice, an escape, a newer field: serde_json's to read.
        for (from, to) in [
            ("\"version\": 1", "\"version\": 2"),
            ("\"port\": 8000", "\"port\": 08000"),
            ("\"port\": 8000", "\"port\": 65536"),
            ("\"owner\": \"me\"", "\"portreg.project\": \"me\""),
            ("\"web\"", "\"w\\u0065b\""),
            (
                "\"reserved\": false",
                "\"reserved\": false,\n      \"extra\": 1",
            ),
            // Not JSON at all: a raw tab in a string.
            ("\"web\"", "\"w\tb\""),
        ] {
            let changed = text.replacen(from, to, 1);
            assert_ne!(changed, text, "{from}");
            assert_eq!(read_as_written(&changed), None, "{to}");
        }
        // serde_json reads the key given twice (the last wins) and the escape.
        assert!(
            by_serde(&text.replacen("\"owner\": \"me\"", "\"portreg.project\": \"me\"", 1))
                .is_some()
        );
        assert!(by_serde(&text.replacen("\"web\"", "\"w\\u0065b\"", 1)).is_some());
    }
}
