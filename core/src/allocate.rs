//! Which port a lease gets. The whole order lives here ([`choose`]):
//!
//! 1. a reserved name: its reserved port, or `PORT_TAKEN` / `PORT_BUSY`;
//! 2. an exact request: that port, or `PORT_TAKEN` / `PORT_BUSY`;
//! 3. the port the name remembers, if free;
//! 4. else the requested port, if free (a preference: ports below 1024 and
//!    browsers' bad ports are passed over);
//! 5. the lowest free port of the range that no other name remembers;
//! 6. the port of the name idle longest (its entry stays, and takes the
//!    port back when it is free again); else `NO_FREE_PORT`.
//!
//! "Free" means no other name holds or reserves it, no other user of the
//! host has a live claim on it (`host`), and the OS lets it be bound on
//! every loopback and wildcard address ([`probe`]).

pub use crate::config::DEFAULT_RANGE;
pub use crate::port::{
    check_port, check_port_f64, ephemeral_range, ephemeral_warning, invalid_port, is_bad_port,
    parse_port, PortRange, BAD_PORTS,
};
pub use crate::sockets::{probe, Probe, PROBE_ADDRS};

use crate::entry::StoredEntry;
use crate::error::{Error, Result};
use crate::process::describe_listener;
use crate::tx::Tx;

/// What a lease asks for, as far as choosing its port goes.
pub(crate) struct Want<'a> {
    /// The case-folded name.
    pub key: &'a str,
    /// The name's entry, when the registry knows it.
    pub existing: Option<&'a StoredEntry>,
    pub port: Option<u16>,
    pub exact: bool,
    /// Where a new port comes from.
    pub range: PortRange,
}

/// The port a lease gets, in the order above. The records it depends on are
/// verified (and dead ones dropped) on the way.
pub(crate) fn choose(tx: &mut Tx, want: &Want) -> Result<u16> {
    let key = want.key;
    if let Some(e) = want.existing.filter(|e| e.reserved) {
        if want.exact && want.port != Some(e.port) {
            return Err(Error::InvalidPort {
                value: want.port.unwrap_or(0).to_string(),
                why: format!(
                    "{} is reserved on port {}; lease it without a port, or move the reservation with `portreg reserve {} PORT`",
                    e.name, e.port, e.name
                ),
            });
        }
        check_specific(tx, e.port, key)?;
        return Ok(e.port);
    }
    if want.exact {
        let p = want.port.unwrap_or(0);
        check_specific(tx, p, key)?;
        return Ok(p);
    }
    // The range only governs new allocation: a name keeps its port.
    let remembered = want.existing.map(|e| e.port);
    let requested = want.port.filter(|&p| p >= 1024 && !is_bad_port(p));
    for p in [remembered, requested].into_iter().flatten() {
        if is_free(tx, p, key)? {
            return Ok(p);
        }
    }
    fresh_port(tx, key, want.range)
}

/// Checks a port asked for specifically (exact, or reserved): no other name
/// holds or reserves it, and the OS lets it be bound.
pub(crate) fn check_specific(tx: &mut Tx, port: u16, key: &str) -> Result<()> {
    if let Some((other, state)) = tx.taken_by_other(port, key)? {
        return Err(Error::PortTaken { port, other, state });
    }
    if let Some(e) = crate::host::claimed_by_other(port) {
        return Err(e);
    }
    match probe(port) {
        Probe::Free => Ok(()),
        Probe::InUse => Err(Error::PortBusy {
            port,
            process: describe_listener(port),
        }),
        Probe::Denied => Err(Error::Permission(format!(
            "port {port} needs privileges to bind (ports below 1024 are reserved for root); choose a port of 1024 or above"
        ))),
    }
}

fn is_free(tx: &mut Tx, port: u16, key: &str) -> Result<bool> {
    Ok(tx.taken_by_other(port, key)?.is_none() && free_on_host(port))
}

/// No other user claims it and the OS lets it be bound.
fn free_on_host(port: u16) -> bool {
    crate::host::claimed_by_other(port).is_none() && probe(port) == Probe::Free
}

/// Steps 5 and 6: the lowest free port of `range` that no other name
/// remembers; failing that, the port an idle name has remembered longest.
/// `key` is the name asking ("" for none: `find_free`).
pub(crate) fn fresh_port(tx: &mut Tx, key: &str, range: PortRange) -> Result<u16> {
    // Ports other names remember, as a bitmap: no allocation per entry.
    let data = tx.data();
    let own = data.index.get(key).copied();
    let mut remembered = vec![0u64; 1 << 10];
    for (i, &p) in data.ports.iter().enumerate() {
        if Some(i) != own {
            remembered[usize::from(p >> 6)] |= 1 << (p & 63);
        }
    }
    let is_remembered = |p: u16| remembered[usize::from(p >> 6)] & (1 << (p & 63)) != 0;
    for port in range.low..=range.high {
        if is_bad_port(port) || is_remembered(port) {
            continue;
        }
        if free_on_host(port) {
            return Ok(port);
        }
    }
    // The range is otherwise full: the oldest idle name gives up its port.
    let held = tx.held_keys()?;
    let mut idle: Vec<(String, u16)> = tx
        .data()
        .entries
        .iter()
        .filter(|e| {
            let k = crate::entry::name_key(&e.name);
            !e.reserved
                && k != key
                && !held.contains(&k)
                && range.contains(e.port)
                && !is_bad_port(e.port)
        })
        .map(|e| (e.changed.clone(), e.port))
        .collect();
    idle.sort();
    let mut tried = std::collections::HashSet::new();
    for (_, port) in idle {
        if tried.insert(port) && is_free(tx, port, key)? {
            return Ok(port);
        }
    }
    Err(Error::NoFreePort {
        low: range.low,
        high: range.high,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{name_key, LeaseRecord};
    use crate::store::{LeasesRead, RegData, FORMAT_VERSION};
    use crate::ErrorCode;
    use std::net::TcpListener;
    use std::sync::Arc;

    fn entry(name: &str, port: u16, reserved: bool, changed: &str) -> StoredEntry {
        StoredEntry {
            name: name.into(),
            port,
            reserved,
            description: None,
            meta: Default::default(),
            created: changed.into(),
            changed: changed.into(),
        }
    }

    /// A transaction over `entries`, the names in `held` held by this process.
    fn tx(entries: Vec<StoredEntry>, held: &[&str]) -> Tx {
        let me = crate::liveness::holder(std::process::id()).unwrap();
        let records = held
            .iter()
            .map(|n| LeaseRecord {
                name: n.to_string(),
                holder: me.clone(),
            })
            .collect();
        let read = LeasesRead {
            records,
            version: FORMAT_VERSION,
            warning: None,
        };
        Tx::new(
            Arc::new(RegData::from_entries(entries, FORMAT_VERSION)),
            read,
            crate::liveness::Context::new(std::path::Path::new("/nonexistent")),
        )
    }

    fn pick(
        tx: &mut Tx,
        name: &str,
        port: Option<u16>,
        exact: bool,
        range: PortRange,
    ) -> Result<u16> {
        let key = name_key(name);
        let existing = tx.data().get(name).cloned();
        choose(
            tx,
            &Want {
                key: &key,
                existing: existing.as_ref(),
                port,
                exact,
                range,
            },
        )
    }

    fn range(low: u16, high: u16) -> PortRange {
        PortRange::new(low, high).unwrap()
    }

    #[test]
    fn reserved_then_remembered_then_requested() {
        let r = range(31110, 31119);
        let mut t = tx(
            vec![
                entry("pinned", 31115, true, "a"),
                entry("known", 31113, false, "a"),
            ],
            &[],
        );
        // 1. a reserved name gets its port, whatever it prefers
        assert_eq!(
            pick(&mut t, "pinned", Some(31111), false, r).unwrap(),
            31115
        );
        let e = pick(&mut t, "pinned", Some(31111), true, r).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidPort);
        // 3. the remembered port wins over the requested one
        assert_eq!(pick(&mut t, "known", Some(31111), false, r).unwrap(), 31113);
        // 4. unless it is busy: then the requested port
        let busy = TcpListener::bind(("127.0.0.1", 31113)).unwrap();
        assert_eq!(pick(&mut t, "known", Some(31111), false, r).unwrap(), 31111);
        // and with no usable request, the lowest fresh port of the range
        assert_eq!(pick(&mut t, "known", Some(80), false, r).unwrap(), 31110);
        drop(busy);
        // 4. a new name: the requested port when free, not below 1024 nor bad
        assert_eq!(pick(&mut t, "new", Some(31118), false, r).unwrap(), 31118);
        assert_eq!(
            pick(&mut t, "new", Some(31115), false, r).unwrap(),
            31110,
            "reserved elsewhere"
        );
        assert_eq!(pick(&mut t, "new", Some(6666), false, r).unwrap(), 31110);
    }

    #[test]
    fn exact_requests_are_checked_not_moved() {
        let r = range(31120, 31129);
        let mut t = tx(vec![entry("web", 31121, false, "a")], &["web"]);
        assert_eq!(pick(&mut t, "api", Some(31122), true, r).unwrap(), 31122);
        let e = pick(&mut t, "api", Some(31121), true, r).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PortTaken, "held by a live process");
        let busy = TcpListener::bind(("0.0.0.0", 31123)).unwrap();
        let e = pick(&mut t, "api", Some(31123), true, r).unwrap_err();
        assert_eq!(e.code(), ErrorCode::PortBusy);
        drop(busy);
        // an exact port outside the range, even a bad one, is allowed
        assert_eq!(pick(&mut t, "api", Some(6665), true, r).unwrap(), 6665);
    }

    #[test]
    fn fresh_ports_skip_bad_and_remembered_then_take_the_oldest_idle() {
        // 6665-6669 are bad ports: only 6664 and 6670 can be handed out
        let r = range(6664, 6670);
        let mut t = tx(
            vec![
                entry("old", 6664, false, "2026-01-01T00:00:00Z"),
                entry("newer", 6670, false, "2026-02-01T00:00:00Z"),
            ],
            &[],
        );
        // both remembered: the name idle longest gives up its port
        assert_eq!(fresh_port(&mut t, "x", r).unwrap(), 6664);
        let mut t = tx(
            vec![
                entry("old", 6664, false, "2026-01-01T00:00:00Z"),
                entry("newer", 6670, false, "2026-02-01T00:00:00Z"),
            ],
            &["old"],
        );
        // a held name keeps its port
        assert_eq!(fresh_port(&mut t, "x", r).unwrap(), 6670);
        let mut t = tx(
            vec![entry("a", 6664, true, "a"), entry("b", 6670, false, "a")],
            &["b"],
        );
        let e = fresh_port(&mut t, "x", r).unwrap_err();
        assert_eq!(e.code(), ErrorCode::NoFreePort);
        assert!(e.to_string().contains("6664-6670"), "{e}");
        // the lowest port no other name remembers comes first
        let mut t = tx(vec![entry("a", 31130, false, "a")], &[]);
        assert_eq!(fresh_port(&mut t, "x", range(31130, 31139)).unwrap(), 31131);
        assert_eq!(
            fresh_port(&mut t, "a", range(31130, 31139)).unwrap(),
            31130,
            "its own"
        );
    }
}
