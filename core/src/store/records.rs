//! The records of `leases.json` as read: every record's name at once, its
//! holder parsed only when an operation asks about that name, so that a
//! `get` of one name among a thousand parses one holder, not a thousand.

use std::ops::Range;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::entry::{is_timestamp, Holder, LeaseRecord};

/// A record whose holder is still the text it was read as: a range of the
/// file's text, which all the records of one read share (no copy of it).
#[derive(Debug, Clone)]
pub(crate) struct RawRecord {
    pub name: String,
    file: Arc<String>,
    holder: Range<usize>,
}

/// A record as parsed from the file's text, its holder borrowed.
#[derive(Deserialize)]
pub(crate) struct Borrowed<'a> {
    name: String,
    #[serde(borrow)]
    holder: &'a RawValue,
}

impl RawRecord {
    /// The records of `file`, parsed from it into `borrowed`.
    pub fn of(file: &Arc<String>, borrowed: Vec<Borrowed<'_>>) -> Vec<RawRecord> {
        let base = file.as_ptr() as usize;
        borrowed
            .into_iter()
            .map(|b| {
                let text = b.holder.get();
                let start = text.as_ptr() as usize - base;
                RawRecord {
                    name: b.name,
                    file: Arc::clone(file),
                    holder: start..start + text.len(),
                }
            })
            .collect()
    }

    /// The records of `file`, each a name and its holder's place in it.
    pub fn at(file: &Arc<String>, records: Vec<(String, Range<usize>)>) -> Vec<RawRecord> {
        records
            .into_iter()
            .map(|(name, holder)| RawRecord {
                name,
                file: Arc::clone(file),
                holder,
            })
            .collect()
    }

    /// The record, when its holder parses and its `since` is a date; `None`
    /// drops it, as a record this code cannot read is always dropped.
    pub fn parse(self) -> Option<LeaseRecord> {
        let holder = self.holder()?;
        Some(LeaseRecord {
            name: self.name,
            holder,
        })
    }

    /// The holder's text as read (records of one process share it).
    pub fn holder_text(&self) -> &str {
        &self.file[self.holder.clone()]
    }

    /// The record with `holder`, parsed from this record's holder text (or
    /// from the same text in another record).
    pub fn with_holder(self, holder: Holder) -> LeaseRecord {
        LeaseRecord {
            name: self.name,
            holder,
        }
    }

    pub fn holder(&self) -> Option<Holder> {
        let holder: Holder = serde_json::from_str(self.holder_text()).ok()?;
        is_timestamp(&holder.since).then_some(holder)
    }
}

/// Whether `a` and `b` are the same bytes: how a record's holder text is
/// found to be the one before it (a process's many names share one).
/// glibc's memcmp compares 32 bytes at a time; musl's, which the static
/// build links, one at a time: there the two holder comparisons of a `list`
/// of 1,000 names were 6.9 M of its 20.5 M instructions, so other libcs
/// compare eight bytes at a time here.
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if cfg!(target_env = "gnu") {
        a == b
    } else {
        same_words(a, b)
    }
}

fn same_words(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().expect("8 bytes"));
    (&mut x).zip(&mut y).all(|(p, q)| word(p) == word(q)) && x.remainder() == y.remainder()
}

/// The records read from `leases.json`: some parsed, the rest as read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Records {
    pub parsed: Vec<LeaseRecord>,
    pub raw: Vec<RawRecord>,
}

impl Records {
    /// Every record that can be read, parsed.
    pub fn all(self) -> Vec<LeaseRecord> {
        let mut out = self.parsed;
        out.extend(self.raw.into_iter().filter_map(RawRecord::parse));
        out
    }

    /// How many records can be read (parsing the ones not parsed yet).
    pub fn len(&self) -> usize {
        self.parsed.len() + self.raw.iter().filter(|r| r.holder().is_some()).count()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Vec<LeaseRecord>> for Records {
    fn from(parsed: Vec<LeaseRecord>) -> Records {
        Records {
            parsed,
            raw: Vec::new(),
        }
    }
}

impl FromIterator<LeaseRecord> for Records {
    fn from_iter<I: IntoIterator<Item = LeaseRecord>>(iter: I) -> Records {
        Records::from(iter.into_iter().collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The same answer as `==`, for texts of any length, equal, of one
        /// length, and differing in one byte anywhere (the last chunk too).
        #[test]
        fn same_bytes_and_same_words_are_equality(
            a in prop::collection::vec(any::<u8>(), 0..40),
            b in prop::collection::vec(any::<u8>(), 0..40),
            flip in any::<prop::sample::Index>(),
        ) {
            for same in [same_bytes, same_words] {
                prop_assert_eq!(same(&a, &b), a == b);
                prop_assert!(same(&a, &a.clone()));
                if !a.is_empty() {
                    let mut c = a.clone();
                    c[flip.index(a.len())] ^= 1;
                    prop_assert!(!same(&a, &c));
                }
            }
        }
    }
}
