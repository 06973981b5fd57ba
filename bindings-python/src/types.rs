//! Core records (`Holder`, `Entry`, `Cleaned`, `ListenerInfo`, `Who`,
//! `Conflict`, `KillReport`) to read-only Python objects with the same field
//! names, each with `to_dict()` giving its `--json` form.

use portreg_core::{Cleaned, Conflict, Entry, Holder, HostClaim, KillReport, ListenerInfo, Who};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{hash, repr, to_dict};

/// The process holding a lease: `pid`, `start_ticks` and `boot_id` identify
/// it (`lock` proves it alive from any pid namespace), the rest is for people.
#[pyclass(module = "portreg", name = "Holder", frozen, eq, skip_from_py_object)]
#[derive(PartialEq)]
pub struct PyHolder(pub Holder);

#[pymethods]
impl PyHolder {
    /// Process id.
    #[getter]
    fn pid(&self) -> u32 {
        self.0.pid
    }
    /// Process start time, seconds since the Unix epoch (for people: it
    /// moves with the wall clock).
    #[getter]
    fn start_time(&self) -> u64 {
        self.0.start_time
    }
    /// Process start in clock ticks since boot (defeats pid reuse); None in
    /// records of older versions.
    #[getter]
    fn start_ticks(&self) -> Option<u64> {
        self.0.start_ticks
    }
    /// The kernel boot the record was made in.
    #[getter]
    fn boot_id(&self) -> Option<&str> {
        self.0.boot_id.as_deref()
    }
    /// Inode of the pid namespace `pid` is counted in.
    #[getter]
    fn pid_ns(&self) -> Option<u64> {
        self.0.pid_ns
    }
    /// The holder lock that proves the holder alive, if any.
    #[getter]
    fn lock(&self) -> Option<&str> {
        self.0.lock.as_deref()
    }
    /// Executable name, e.g. "python3".
    #[getter]
    fn exe(&self) -> &str {
        &self.0.exe
    }
    /// Command line, one item per argument.
    #[getter]
    fn cmdline(&self) -> Vec<String> {
        self.0.cmdline.clone()
    }
    /// User name of the process owner.
    #[getter]
    fn user(&self) -> &str {
        &self.0.user
    }
    /// Working directory of the process.
    #[getter]
    fn cwd(&self) -> &str {
        &self.0.cwd
    }
    /// When the lease was taken (RFC 3339, UTC).
    #[getter]
    fn since(&self) -> &str {
        &self.0.since
    }
    /// The fields as a dict, as in the registry's JSON.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_dict(py, &self.0)
    }
    fn __hash__(&self) -> u64 {
        hash(&self.0)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Holder(pid={}, exe={}, since={})",
            self.0.pid,
            repr(py, &self.0.exe),
            repr(py, &self.0.since)
        )
    }
}

/// The registry's record for one name.
#[pyclass(module = "portreg", name = "Entry", frozen, eq, skip_from_py_object)]
#[derive(PartialEq)]
pub struct PyEntry(pub Entry);

#[pymethods]
impl PyEntry {
    /// The name, spelled as first given.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    /// The port the name holds, reserves or remembers.
    #[getter]
    fn port(&self) -> u16 {
        self.0.port
    }
    /// "active" (held by a live process), "idle" (port remembered) or "reserved".
    #[getter]
    fn state(&self) -> &'static str {
        self.0.state.as_str()
    }
    /// The live process holding the name, or None.
    #[getter]
    fn holder(&self) -> Option<PyHolder> {
        self.0.holder.clone().map(PyHolder)
    }
    /// True when the port is pinned by `reserve`.
    #[getter]
    fn reserved(&self) -> bool {
        self.0.reserved
    }
    /// Free text shown by `portreg list`, or None.
    #[getter]
    fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Extra facts (project dir, health URL...); a new dict on each access.
    #[getter]
    fn meta<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.0.meta {
            d.set_item(k, v)?;
        }
        Ok(d)
    }
    /// When the name was first registered (RFC 3339, UTC).
    #[getter]
    fn created(&self) -> &str {
        &self.0.created
    }
    /// When its port, reservation, description or meta last changed (RFC 3339, UTC).
    #[getter]
    fn changed(&self) -> &str {
        &self.0.changed
    }
    /// For an active entry, whether some process listens on its port (from
    /// the kernel's socket tables); None for idle and reserved entries.
    #[getter]
    fn listening(&self) -> Option<bool> {
        self.0.listening
    }
    /// "http://127.0.0.1:PORT"
    #[getter]
    fn url(&self) -> String {
        self.0.url()
    }
    /// The fields as a dict, as in `portreg list --json`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_dict(py, &self.0)
    }
    fn __hash__(&self) -> u64 {
        hash(&self.0)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let e = &self.0;
        let holder = match &e.holder {
            Some(h) => format!(", pid={}", h.pid),
            None => String::new(),
        };
        format!(
            "Entry(name={}, port={}, state={}{holder})",
            repr(py, &e.name),
            e.port,
            repr(py, e.state.as_str())
        )
    }
}

/// A stale lease dropped by `clean()`: its holder had died.
#[pyclass(module = "portreg", name = "Cleaned", frozen, eq, skip_from_py_object)]
#[derive(PartialEq)]
pub struct PyCleaned(pub Cleaned);

#[pymethods]
impl PyCleaned {
    /// The name whose lease was dropped.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    /// Its port, or None if the registry no longer knows the name.
    #[getter]
    fn port(&self) -> Option<u16> {
        self.0.port
    }
    /// The pid of the dead holder.
    #[getter]
    fn pid(&self) -> u32 {
        self.0.pid
    }
    /// The fields as a dict, as in `portreg clean --json`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_dict(py, &self.0)
    }
    fn __hash__(&self) -> u64 {
        hash(&self.0)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let port = match self.0.port {
            Some(p) => p.to_string(),
            None => "None".into(),
        };
        format!(
            "Cleaned(name={}, port={port}, pid={})",
            repr(py, &self.0.name),
            self.0.pid
        )
    }
}

/// A process listening on a port, with every address it listens on there.
#[pyclass(
    module = "portreg",
    name = "ListenerInfo",
    frozen,
    eq,
    skip_from_py_object
)]
#[derive(PartialEq)]
pub struct PyListenerInfo(pub ListenerInfo);

#[pymethods]
impl PyListenerInfo {
    /// Process id.
    #[getter]
    fn pid(&self) -> u32 {
        self.0.pid
    }
    /// Executable name.
    #[getter]
    fn exe(&self) -> &str {
        &self.0.exe
    }
    /// Command line, one item per argument (empty when it cannot be read).
    #[getter]
    fn cmdline(&self) -> Vec<String> {
        self.0.cmdline.clone()
    }
    /// User name of the process owner.
    #[getter]
    fn user(&self) -> &str {
        &self.0.user
    }
    /// Addresses it listens on, e.g. ["127.0.0.1", "::1"].
    #[getter]
    fn addrs(&self) -> Vec<String> {
        self.0.addrs.clone()
    }
    /// The fields as a dict, as in `portreg who --json`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_dict(py, &self.0)
    }
    fn __hash__(&self) -> u64 {
        hash(&self.0)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "ListenerInfo(pid={}, exe={}, addrs={:?})",
            self.0.pid,
            repr(py, &self.0.exe),
            self.0.addrs
        )
    }
}

fn listeners(l: &[ListenerInfo]) -> Vec<PyListenerInfo> {
    l.iter().cloned().map(PyListenerInfo).collect()
}

/// A port claim on this host (shared machines): the port, its user and
/// whether the holder is alive. Nothing of the user's registry.
#[pyclass(
    module = "portreg",
    name = "HostClaim",
    frozen,
    eq,
    skip_from_py_object
)]
#[derive(PartialEq)]
pub struct PyHostClaim(pub HostClaim);

#[pymethods]
impl PyHostClaim {
    /// The claimed port.
    #[getter]
    fn port(&self) -> u16 {
        self.0.port
    }
    /// The claiming user's uid.
    #[getter]
    fn uid(&self) -> u32 {
        self.0.uid
    }
    /// The claiming user's name (the uid when the name is unknown).
    #[getter]
    fn user(&self) -> &str {
        &self.0.user
    }
    /// Whether the process holding the lease still runs.
    #[getter]
    fn alive(&self) -> bool {
        self.0.alive
    }
    /// Whether it is the calling user's own claim.
    #[getter]
    fn mine(&self) -> bool {
        self.0.mine
    }
    /// False for claims beyond their user's cap: other users ignore them.
    #[getter]
    fn honoured(&self) -> bool {
        self.0.honoured
    }
    /// The fields as a dict, as in `portreg list --host --json`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_dict(py, &self.0)
    }
    fn __hash__(&self) -> u64 {
        hash(&self.0)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let c = &self.0;
        format!(
            "HostClaim(port={}, user={}, alive={}, mine={})",
            c.port,
            repr(py, &c.user),
            if c.alive { "True" } else { "False" },
            if c.mine { "True" } else { "False" }
        )
    }
}

pub fn host_claims(c: &[HostClaim]) -> Vec<PyHostClaim> {
    c.iter().cloned().map(PyHostClaim).collect()
}

/// What `who()` finds on a port: the processes listening there and the
/// registry entry that claims it.
#[pyclass(module = "portreg", name = "Who", frozen, eq, skip_from_py_object)]
#[derive(PartialEq)]
pub struct PyWho(pub Who);

#[pymethods]
impl PyWho {
    /// The port looked at.
    #[getter]
    fn port(&self) -> u16 {
        self.0.port
    }
    /// Processes listening on the port (empty when none can be seen).
    #[getter]
    fn listeners(&self) -> Vec<PyListenerInfo> {
        listeners(&self.0.listeners)
    }
    /// The entry claiming the port (active or reserved, else an idle one
    /// remembering it), or None.
    #[getter]
    fn entry(&self) -> Option<PyEntry> {
        self.0.entry.clone().map(PyEntry)
    }
    /// Other users' claims on the port (shared machines).
    #[getter]
    fn host_claims(&self) -> Vec<PyHostClaim> {
        host_claims(&self.0.host_claims)
    }
    /// The fields as a dict, as in `portreg who --json`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_dict(py, &self.0)
    }
    fn __hash__(&self) -> u64 {
        hash(&self.0)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let pids: Vec<u32> = self.0.listeners.iter().map(|l| l.pid).collect();
        let entry = match &self.0.entry {
            Some(e) => repr(py, &e.name),
            None => "None".into(),
        };
        format!(
            "Who(port={}, listener_pids={pids:?}, entry={entry})",
            self.0.port
        )
    }
}

/// An entry whose port is listened on by a process other than its holder,
/// or (active or reserved) whose port another user's live lease claims.
#[pyclass(module = "portreg", name = "Conflict", frozen, eq, skip_from_py_object)]
#[derive(PartialEq)]
pub struct PyConflict(pub Conflict);

#[pymethods]
impl PyConflict {
    /// The entry whose port is taken.
    #[getter]
    fn entry(&self) -> PyEntry {
        PyEntry(self.0.entry.clone())
    }
    /// The processes on that port that are not its holder.
    #[getter]
    fn listeners(&self) -> Vec<PyListenerInfo> {
        listeners(&self.0.listeners)
    }
    /// Other users' live claims on the port: the entry's next lease cannot
    /// have it (shared machines).
    #[getter]
    fn claimed_by(&self) -> Vec<PyHostClaim> {
        host_claims(&self.0.claimed_by)
    }
    /// The fields as a dict, as in `portreg conflicts --json`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_dict(py, &self.0)
    }
    fn __hash__(&self) -> u64 {
        hash(&self.0)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let pids: Vec<u32> = self.0.listeners.iter().map(|l| l.pid).collect();
        format!(
            "Conflict(name={}, port={}, listener_pids={pids:?})",
            repr(py, &self.0.entry.name),
            self.0.entry.port
        )
    }
}

/// How `kill()` stopped one process.
#[pyclass(
    module = "portreg",
    name = "KillReport",
    frozen,
    eq,
    skip_from_py_object
)]
#[derive(PartialEq)]
pub struct PyKillReport(pub KillReport);

#[pymethods]
impl PyKillReport {
    /// Process id.
    #[getter]
    fn pid(&self) -> u32 {
        self.0.pid
    }
    /// Executable name.
    #[getter]
    fn exe(&self) -> &str {
        &self.0.exe
    }
    /// Signals sent, in order: ["SIGTERM"] or ["SIGTERM", "SIGKILL"].
    #[getter]
    fn signals(&self) -> Vec<String> {
        self.0.signals.clone()
    }
    /// "exited" (after SIGTERM), "killed" (after SIGKILL), "survived" or "already gone".
    #[getter]
    fn outcome(&self) -> &str {
        &self.0.outcome
    }
    /// Milliseconds from SIGTERM until it was gone.
    #[getter]
    fn waited_ms(&self) -> u64 {
        self.0.waited_ms
    }
    /// The fields as a dict, as in `portreg kill --json`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_dict(py, &self.0)
    }
    fn __hash__(&self) -> u64 {
        hash(&self.0)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "KillReport(pid={}, exe={}, outcome={}, signals={:?})",
            self.0.pid,
            repr(py, &self.0.exe),
            repr(py, &self.0.outcome),
            self.0.signals
        )
    }
}
