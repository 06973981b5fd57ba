//! An entry as the API shows it: the entry's fields plus, for an active
//! entry, whether its port is being listened on. The same fields as
//! `portreg list --json` (a test holds the two together).

use std::collections::HashSet;

use portreg_core::{Entry, Registry, State};

#[derive(serde::Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub entry: Entry,
    pub listening: Option<bool>,
}

impl Row {
    /// `ports`: the listening ports from the kernel's socket tables, read
    /// once per listing (`None` where they cannot be read: a test bind).
    pub fn new(entry: Entry, ports: &Option<HashSet<u16>>) -> Row {
        let listening = (entry.state == State::Active).then(|| match ports {
            Some(set) => set.contains(&entry.port),
            None => Registry::is_listening(entry.port),
        });
        Row { entry, listening }
    }
}

/// Rows for `entries`, reading the socket tables once.
pub fn rows(entries: impl IntoIterator<Item = Entry>) -> Vec<Row> {
    let ports = portreg_core::process::listening_ports();
    entries.into_iter().map(|e| Row::new(e, &ports)).collect()
}
