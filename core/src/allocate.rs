//! Which port a lease gets. The whole order lives here ([`choose`]):
//!
//! 1. a reserved name: its reserved port, or `PORT_TAKEN` / `PORT_BUSY`;
//! 2. an exact request: that port, or `PORT_TAKEN` / `PORT_BUSY`;
//! 3. the port the name remembers, if free;
//! 4. else the requested port, if free (a preference: ports below 1024 and
//!    browsers' bad ports are passed over);
//! 5. the lowest free port that no other name remembers, of the first
//!    range with room (ranges are tried in order);
//! 6. the port of the name idle longest, in any of the ranges (its entry
//!    stays, and takes the port back when it is free again); else
//!    `NO_FREE_PORT`.
//!
//! "Free" means no other name holds or reserves it, no other user of the
//! host has a live claim on it (`host`), and the OS lets it be bound on
//! every loopback and wildcard address ([`probe`]). A port the holder
//! itself listens on counts as free for its own request (adopting a server
//! that already runs: `lease NAME --port P --pid PID`); anyone else
//! listening there makes it `PORT_BUSY`.
//!
//! `find_free` ([`find_port`]) leases nothing: it picks at random among the
//! first few ports step 5 would give, so that callers asking at the same
//! moment rarely get the same port.

pub use crate::config::DEFAULT_RANGE;
pub use crate::port::{
    check_port, check_port_f64, ephemeral_range, ephemeral_warning, invalid_port, is_bad_port,
    parse_port, PortRange, PortRanges, BAD_PORTS,
};
pub use crate::sockets::{probe, Probe, PROBE_ADDRS};

use crate::entry::StoredEntry;
use crate::error::{Error, Result};
use crate::process::{describe_listener, listeners_on};
use crate::tx::Tx;

/// What a lease asks for, as far as choosing its port goes.
pub(crate) struct Want<'a> {
    /// The case-folded name.
    pub key: &'a str,
    /// The name's entry, when the registry knows it.
    pub existing: Option<&'a StoredEntry>,
    pub port: Option<u16>,
    pub exact: bool,
    /// Where a new port comes from, ranges tried in order.
    pub range: &'a PortRanges,
    /// The pid a lease is taken for, when it is not the calling process
    /// (`lease --pid PID`): a port only it listens on is free for it. A
    /// process leasing for itself is not given its own sockets: it binds
    /// the port it is given.
    pub holder: Option<u32>,
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
        check_specific(tx, e.port, key, want.holder)?;
        return Ok(e.port);
    }
    if want.exact {
        let p = want.port.unwrap_or(0);
        check_specific(tx, p, key, want.holder)?;
        return Ok(p);
    }
    // The range only governs new allocation: a name keeps its port.
    let remembered = want.existing.map(|e| e.port);
    let requested = want.port.filter(|&p| p >= 1024 && !is_bad_port(p));
    for p in [remembered, requested].into_iter().flatten() {
        if tx.taken_by_other(p, key)?.is_none()
            && crate::host::claimed_by_other(p).is_none()
            && bindable_for(p, want.holder)
        {
            return Ok(p);
        }
    }
    fresh_port(tx, key, want.range)
}

/// True when only `pid` listens on `port` (every listener the socket
/// tables show is that process): the port is its own.
fn listened_on_only_by(port: u16, pid: Option<u32>) -> bool {
    let Some(pid) = pid else {
        return false;
    };
    let ls = listeners_on(port);
    !ls.is_empty() && ls.iter().all(|l| l.pid == pid)
}

/// The OS lets `port` be bound, or only `holder` listens on it.
fn bindable_for(port: u16, holder: Option<u32>) -> bool {
    match probe(port) {
        Probe::Free => true,
        Probe::InUse => listened_on_only_by(port, holder),
        Probe::Denied => false,
    }
}

/// Checks a port asked for specifically (exact, or reserved): no other name
/// holds or reserves it, and the OS lets it be bound, or only `holder`
/// listens on it.
pub(crate) fn check_specific(tx: &mut Tx, port: u16, key: &str, holder: Option<u32>) -> Result<()> {
    if let Some((other, state)) = tx.taken_by_other(port, key)? {
        return Err(Error::PortTaken { port, other, state });
    }
    if let Some(e) = crate::host::claimed_by_other(port) {
        return Err(e);
    }
    match probe(port) {
        Probe::Free => Ok(()),
        Probe::InUse if listened_on_only_by(port, holder) => Ok(()),
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

/// Steps 5 and 6: the lowest free port of the first range with room that
/// no other name remembers; failing that, the port an idle name has
/// remembered longest. `key` is the name asking.
pub(crate) fn fresh_port(tx: &mut Tx, key: &str, range: &PortRanges) -> Result<u16> {
    match free_ports(tx, key, range, 1).first() {
        Some(&p) => Ok(p),
        None => oldest_idle_port(tx, key, range),
    }
}

/// How many free ports `find_free` picks among.
const FIND_SPREAD: usize = 8;

/// `find_free`: a port picked at random among the first [`FIND_SPREAD`]
/// that step 5 would give, so that concurrent callers rarely meet; failing
/// any, step 6's.
pub(crate) fn find_port(tx: &mut Tx, range: &PortRanges) -> Result<u16> {
    let free = free_ports(tx, "", range, FIND_SPREAD);
    if free.is_empty() {
        return oldest_idle_port(tx, "", range);
    }
    Ok(free[random_below(free.len())])
}

/// A number below `n` (> 0), different from one process and call to the next.
fn random_below(n: usize) -> usize {
    use std::hash::{BuildHasher, Hasher};
    // RandomState's keys are random per process and per call.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(crate::pid::my_pid());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    (h.finish() % n as u64) as usize
}

/// Up to `want` free ports no other name remembers, lowest first, from the
/// first range on.
fn free_ports(tx: &mut Tx, key: &str, range: &PortRanges, want: usize) -> Vec<u16> {
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
    let mut found = Vec::new();
    for r in range.iter() {
        for port in r.low..=r.high {
            if is_bad_port(port) || is_remembered(port) || found.contains(&port) {
                continue;
            }
            if free_on_host(port) {
                found.push(port);
                if found.len() >= want {
                    return found;
                }
            }
        }
    }
    found
}

/// Step 6: every range is otherwise full, so the name idle longest (in any
/// of them) gives up its port.
fn oldest_idle_port(tx: &mut Tx, key: &str, range: &PortRanges) -> Result<u16> {
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
        range: range.to_string(),
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
        let me = crate::liveness::holder(crate::pid::my_pid()).unwrap();
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
        let range = PortRanges::from(range);
        let key = name_key(name);
        let existing = tx.data().get(name).cloned();
        choose(
            tx,
            &Want {
                key: &key,
                existing: existing.as_ref(),
                port,
                exact,
                range: &range,
                holder: None,
            },
        )
    }

    fn range(low: u16, high: u16) -> PortRange {
        PortRange::new(low, high).unwrap()
    }

    fn ranges(low: u16, high: u16) -> PortRanges {
        range(low, high).into()
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
        assert_eq!(fresh_port(&mut t, "x", &r.into()).unwrap(), 6664);
        let mut t = tx(
            vec![
                entry("old", 6664, false, "2026-01-01T00:00:00Z"),
                entry("newer", 6670, false, "2026-02-01T00:00:00Z"),
            ],
            &["old"],
        );
        // a held name keeps its port
        assert_eq!(fresh_port(&mut t, "x", &r.into()).unwrap(), 6670);
        let mut t = tx(
            vec![entry("a", 6664, true, "a"), entry("b", 6670, false, "a")],
            &["b"],
        );
        let e = fresh_port(&mut t, "x", &r.into()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::NoFreePort);
        assert!(e.to_string().contains("6664-6670"), "{e}");
        let two: PortRanges = "6664-6670,31140-31149".parse().unwrap();
        assert_eq!(
            fresh_port(&mut t, "x", &two).unwrap(),
            31140,
            "the next range"
        );
        // the lowest port no other name remembers comes first
        let mut t = tx(vec![entry("a", 31130, false, "a")], &[]);
        assert_eq!(
            fresh_port(&mut t, "x", &ranges(31130, 31139)).unwrap(),
            31131
        );
        assert_eq!(
            fresh_port(&mut t, "a", &ranges(31130, 31139)).unwrap(),
            31130,
            "its own"
        );
    }

    #[test]
    fn ranges_are_tried_in_order() {
        let two: PortRanges = "31150-31151,31160-31169".parse().unwrap();
        let mut t = tx(vec![entry("a", 31150, false, "a")], &["a"]);
        assert_eq!(fresh_port(&mut t, "x", &two).unwrap(), 31151);
        let busy = TcpListener::bind(("127.0.0.1", 31151)).unwrap();
        assert_eq!(fresh_port(&mut t, "x", &two).unwrap(), 31160);
        drop(busy);
        let found = find_port(&mut t, &two).unwrap();
        assert!(
            found == 31151 || (31160..=31166).contains(&found),
            "{found}"
        );
    }

    #[test]
    fn a_port_only_the_holder_listens_on_is_its_own() {
        let r = PortRanges::from(range(31170, 31179));
        let mut t = tx(vec![], &[]);
        let server = TcpListener::bind(("127.0.0.1", 31171)).unwrap();
        let want = |holder| Want {
            key: "adopted",
            existing: None,
            port: Some(31171),
            exact: true,
            range: &r,
            holder,
        };
        assert_eq!(
            choose(&mut t, &want(Some(crate::pid::my_pid()))).unwrap(),
            31171
        );
        for other in [Some(1), None] {
            let e = choose(&mut t, &want(other)).unwrap_err();
            assert_eq!(e.code(), ErrorCode::PortBusy);
        }
        let mut not_exact = want(Some(crate::pid::my_pid()));
        not_exact.exact = false;
        assert_eq!(choose(&mut t, &not_exact).unwrap(), 31171);
        not_exact.holder = None;
        assert_eq!(choose(&mut t, &not_exact).unwrap(), 31170, "moved off");
        drop(server);
    }
}
