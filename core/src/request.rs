//! What callers hand to the registry's operations: a lease request, and who
//! is releasing or forgetting.

use std::collections::BTreeMap;

use crate::port::PortRanges;

/// What a caller asks `lease` for. Only the name is required.
#[derive(Debug, Clone, Default)]
pub struct LeaseRequest {
    pub name: String,
    /// A preferred port (a preference unless `exact`).
    pub port: Option<u16>,
    /// Fail with `PORT_TAKEN` / `PORT_BUSY` rather than move off `port`.
    pub exact: bool,
    /// Where to allocate a new port, ranges tried in order (default: the
    /// registry's).
    pub range: Option<PortRanges>,
    /// The holder (default: the calling process).
    pub pid: Option<u32>,
    pub description: Option<String>,
    pub meta: Option<BTreeMap<String, String>>,
    /// Forget the name when this lease ends (released, or its holder found
    /// dead by `clean`) instead of keeping it idle: for test fixtures and
    /// one-off scripts. Recorded in the entry's meta as
    /// [`TEMPORARY_META`] = "1" so every process sees it.
    pub temporary: bool,
}

/// The meta key marking an entry whose lease was taken as temporary.
pub const TEMPORARY_META: &str = "portreg.temporary";

/// The meta key naming the processes (`PID:START_TICKS`, comma-separated)
/// of a released lease that still listened on its port when it was
/// released: they are the name's own, not a conflict of it. The next lease
/// of the name drops it.
pub const RELEASED_META: &str = "portreg.released-listeners";

impl LeaseRequest {
    pub fn new(name: impl Into<String>) -> LeaseRequest {
        LeaseRequest {
            name: name.into(),
            ..Default::default()
        }
    }
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
    pub fn exact(mut self, exact: bool) -> Self {
        self.exact = exact;
        self
    }
    pub fn range(mut self, range: impl Into<PortRanges>) -> Self {
        self.range = Some(range.into());
        self
    }
    pub fn pid(mut self, pid: u32) -> Self {
        self.pid = Some(pid);
        self
    }
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }
    pub fn meta(mut self, meta: BTreeMap<String, String>) -> Self {
        self.meta = Some(meta);
        self
    }
    pub fn temporary(mut self, temporary: bool) -> Self {
        self.temporary = temporary;
        self
    }
}

/// Who is releasing or forgetting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A process acting for itself: only the holder may release.
    Pid(u32),
    /// A person (the CLI) or a forced call: releases whichever process of the
    /// same user holds the name.
    Force,
}

impl Actor {
    /// The calling process.
    pub fn me() -> Actor {
        Actor::Pid(crate::pid::my_pid())
    }
}
