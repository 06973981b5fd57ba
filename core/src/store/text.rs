//! registry.json's text kept up to date entry by entry.
//!
//! The file is pretty-printed JSON sorted by port then name, so adding,
//! changing or removing one name changes one stretch of it. [`Text`] keeps
//! the whole encoded file together with where each entry lies in it, and
//! edits that stretch in place: a new name in a registry of 10,000 entries
//! encodes one entry instead of all of them. The result is byte for byte
//! what `serde_json::to_vec_pretty` gives for the whole file (the model tests check it).

use std::cmp::Ordering;

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
