//! registry.json's text kept up to date entry by entry.
//!
//! The file is pretty-printed JSON sorted by port then name, so adding,
//! changing or removing one name changes one stretch of it. [`Text`] keeps
//! the whole encoded file together with where each entry lies in it, and
//! edits that stretch in place: a new name in a registry of 10,000 entries
//! encodes one entry instead of all of them. The result is byte for byte
//! what `serde_json::to_vec_pretty` gives for the whole file (tests below).

use std::cmp::Ordering;

use crate::entry::StoredEntry;
use crate::store::{file_order, FORMAT_VERSION};

/// The start of registry.json, up to the first entry.
const HEAD: &[u8] = b"{\n  \"version\": 1,\n  \"entries\": [";
const _: () = assert!(FORMAT_VERSION == 1, "HEAD spells the version");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RegData;
    use std::collections::BTreeMap;

    fn entry(name: &str, port: u16, i: usize) -> StoredEntry {
        let mut meta = BTreeMap::new();
        if i % 2 == 0 {
            meta.insert(
                "project".to_string(),
                format!("/home/d\u{e9}v/p{i} \"q\"\n\t\\"),
            );
            meta.insert(
                "health".to_string(),
                "http://127.0.0.1/\u{1F600}".to_string(),
            );
        }
        StoredEntry {
            name: name.to_string(),
            port,
            reserved: i % 3 == 0,
            description: (i % 4 != 0).then(|| format!("line\none \u{7f}\u{1} {i}")),
            meta,
            created: "2026-01-01T00:00:00Z".to_string(),
            changed: format!("2026-01-02T00:00:{:02}Z", i % 60),
        }
    }

    /// What the file must be: serde_json's pretty output of the whole file.
    fn reference(entries: &[StoredEntry]) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct File<'a> {
            version: u64,
            entries: Vec<&'a StoredEntry>,
        }
        let mut refs: Vec<&StoredEntry> = entries.iter().collect();
        refs.sort_by(|a, b| file_order(a, b));
        let mut out = serde_json::to_vec_pretty(&File {
            version: FORMAT_VERSION,
            entries: refs,
        })
        .unwrap();
        out.push(b'\n');
        out
    }

    fn check(data: &mut RegData, what: &str) {
        let want = reference(&data.entries);
        assert_eq!(
            String::from_utf8_lossy(data.encode()),
            String::from_utf8_lossy(&want),
            "{what}"
        );
    }

    #[test]
    fn empty_and_single() {
        let mut data = RegData::from_entries(Vec::new(), FORMAT_VERSION);
        check(&mut data, "empty");
        data.insert(entry("a", 9000, 1));
        check(&mut data, "one");
        data.remove("A");
        check(&mut data, "emptied");
        data.insert(entry("b", 9000, 2));
        check(&mut data, "one again");
    }

    /// Thousands of random adds, changes (some moving an entry to another
    /// port, so to another place in the file) and removals, with few ports
    /// so that names often share one: after every step the kept text is
    /// the whole file's encoding.
    #[test]
    fn edits_in_place_match_a_full_encode() {
        let mut data = RegData::from_entries(Vec::new(), FORMAT_VERSION);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for step in 0..3000 {
            let which = next(40) as usize;
            // the same name in either case: one entry
            let name = if next(2) == 0 {
                format!("svc-{which}")
            } else {
                format!("SVC-{which}")
            };
            let op = next(10);
            if op < 6 {
                data.insert(entry(&name, 9000 + next(12) as u16, step));
            } else if op < 9 {
                data.remove(&name);
            } else {
                // a fresh encode must agree with the kept one
                let mut fresh = RegData::from_entries(data.entries.clone(), FORMAT_VERSION);
                assert_eq!(fresh.encode(), data.encode(), "step {step}");
            }
            check(&mut data, &format!("step {step}: op {op} on {name}"));
        }
        assert!(!data.entries.is_empty());
    }

    #[test]
    fn text_parses_back() {
        let mut data = RegData::from_entries(Vec::new(), FORMAT_VERSION);
        for i in 0..50 {
            data.insert(entry(&format!("n{i}"), 8000 + (i % 9) as u16, i));
        }
        let text = data.encode().to_vec();
        match crate::store::parse_registry(&text) {
            crate::store::RegRead::Ok(back) => assert_eq!(back.entries.len(), 50),
            crate::store::RegRead::Corrupt(why) => panic!("{why}"),
        }
    }
}
