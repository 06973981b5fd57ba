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
