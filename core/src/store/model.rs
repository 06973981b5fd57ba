//! The registry in memory: the durable entries indexed by case-folded name,
//! with their ports side by side and the file's text kept up to date as
//! they change.

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use super::text::Text;
use crate::entry::{name_key, StoredEntry};

/// The durable facts, indexed by case-folded name.
#[derive(Debug, Clone, Default)]
pub(crate) struct RegData {
    pub entries: Vec<StoredEntry>,
    pub index: FxHashMap<String, usize>,
    /// The version found on disk (FORMAT_VERSION for a new registry).
    pub version: u64,
    /// Each entry's port, parallel to `entries`: scanning the ports touches
    /// 2 bytes an entry instead of the whole entry.
    pub ports: Vec<u16>,
    /// registry.json's text for these entries, kept up to date entry by
    /// entry once it has been encoded (see [`Text`]).
    text: Option<Text>,
}

/// `name`'s key for a lookup: itself when it has no upper-case letter (the
/// usual case), so that finding it allocates nothing.
pub(crate) fn lookup_key(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name_key(name))
    } else {
        Cow::Borrowed(name)
    }
}

impl RegData {
    pub fn from_entries(entries: Vec<StoredEntry>, version: u64) -> RegData {
        let index = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (name_key(&e.name), i))
            .collect();
        let ports = entries.iter().map(|e| e.port).collect();
        RegData {
            entries,
            index,
            version,
            ports,
            text: None,
        }
    }

    pub fn get(&self, name: &str) -> Option<&StoredEntry> {
        self.position(name).map(|i| &self.entries[i])
    }

    /// Where `name`'s entry is in `entries`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(lookup_key(name).as_ref()).copied()
    }

    pub fn insert(&mut self, e: StoredEntry) {
        match self.index.get(&name_key(&e.name)) {
            Some(&i) => {
                if let Some(t) = &mut self.text {
                    t.remove(i);
                }
                self.ports[i] = e.port;
                self.entries[i] = e;
                if let Some(t) = &mut self.text {
                    t.insert(&self.entries, i);
                }
            }
            None => {
                let i = self.entries.len();
                self.index.insert(name_key(&e.name), i);
                self.ports.push(e.port);
                self.entries.push(e);
                if let Some(t) = &mut self.text {
                    t.insert(&self.entries, i);
                }
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<StoredEntry> {
        let i = self.index.remove(&name_key(name))?;
        if let Some(t) = &mut self.text {
            t.remove(i);
        }
        let e = self.entries.swap_remove(i);
        self.ports.swap_remove(i);
        if let Some(moved) = self.entries.get(i) {
            self.index.insert(name_key(&moved.name), i);
            if let Some(t) = &mut self.text {
                t.renumber(self.entries.len(), i);
            }
        }
        Some(e)
    }

    /// registry.json's text for these entries, sorted by port then name,
    /// pretty-printed: encoded in full the first time, then kept up to date
    /// by every change.
    pub fn encode(&mut self) -> &[u8] {
        self.text
            .get_or_insert_with(|| Text::build(&self.entries))
            .bytes()
    }

    /// The text, when it has been encoded.
    pub fn text(&self) -> Option<&[u8]> {
        self.text.as_ref().map(Text::bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::order::file_order;
    use crate::store::text::HEAD_VERSION as FORMAT_VERSION;
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
}
