//! Processes and ports: who listens where (read from the kernel's socket
//! tables through the `listeners` crate, never by parsing lsof or netstat),
//! and conflicts between the registry and reality (stopping a process is
//! `stop.rs`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::entry::{Entry, Holder, State};
use crate::request::RELEASED_META;

use crate::error::{Error, Result};
use crate::host::HostClaim;
use crate::liveness;
/// The processes of a process group (how `run` knows its command's tree is
/// gone); see `stop.rs`.
pub use crate::stop::group_members;

/// A process listening on a port, with every address it listens on there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerInfo {
    pub pid: u32,
    pub exe: String,
    pub cmdline: Vec<String>,
    pub user: String,
    /// e.g. `127.0.0.1`, `0.0.0.0`, `::1`, `::`
    pub addrs: Vec<String>,
}

impl ListenerInfo {
    /// "pid 1234 python3 on ::1"
    pub fn summary(&self) -> String {
        format!("pid {} {} on {}", self.pid, self.exe, self.addrs.join(", "))
    }
}

/// What `who` finds on a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Who {
    pub port: u16,
    /// Processes listening on the port (empty when none can be seen).
    pub listeners: Vec<ListenerInfo>,
    /// The registry entry that claims the port (active or reserved; else an
    /// idle one that remembers it), if any.
    pub entry: Option<Entry>,
    /// Other users' claims on the port (shared hosts): who else leased it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_claims: Vec<HostClaim>,
}

/// An entry whose port is listened on by a process other than its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub entry: Entry,
    pub listeners: Vec<ListenerInfo>,
    /// Other users' live claims on the entry's port (shared hosts): its next
    /// lease cannot have that port.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claimed_by: Vec<HostClaim>,
}

/// When `pid` started, in clock ticks since boot; `None` when no such
/// process runs. With the pid (and the boot), it names a process so that a
/// reused pid is never taken for it.
pub fn start_ticks(pid: u32) -> Option<u64> {
    liveness::start_ticks(pid)
}

/// Every process listening on TCP `port` (exact match), one per pid.
pub fn listeners_on(port: u16) -> Vec<ListenerInfo> {
    listeners_by_port(Some(port))
        .remove(&port)
        .unwrap_or_default()
}

/// Listening TCP sockets grouped by port (all ports, or just `only`).
pub fn listeners_by_port(only: Option<u16>) -> BTreeMap<u16, Vec<ListenerInfo>> {
    let Ok(all) = listeners::get_all() else {
        return BTreeMap::new();
    };
    let mut raw: BTreeMap<(u16, u32), (String, Vec<SocketAddr>)> = BTreeMap::new();
    for l in all {
        if l.protocol != listeners::Protocol::TCP
            || l.state != listeners::SocketState::Listen
            || only.is_some_and(|p| p != l.socket.port())
        {
            continue;
        }
        let e = raw
            .entry((l.socket.port(), l.process.pid))
            .or_insert_with(|| (l.process.name, Vec::new()));
        e.1.push(l.socket);
    }
    let mut out: BTreeMap<u16, Vec<ListenerInfo>> = BTreeMap::new();
    for ((port, pid), (name, mut addrs)) in raw {
        addrs.sort_by_key(|a| (a.is_ipv6(), a.ip()));
        addrs.dedup();
        let h = liveness::describe(pid).ok().flatten();
        out.entry(port).or_default().push(ListenerInfo {
            pid,
            exe: h
                .as_ref()
                .map(|h| h.exe.clone())
                .filter(|e| !e.is_empty())
                .unwrap_or(name),
            cmdline: h.as_ref().map(|h| h.cmdline.clone()).unwrap_or_default(),
            user: h.map(|h| h.user).unwrap_or_default(),
            addrs: addrs.iter().map(|a| a.ip().to_string()).collect(),
        });
    }
    out
}

/// Ports with a TCP socket in LISTEN state on any address, from the
/// kernel's socket tables (see [`crate::sockets`]). Unlike a test bind,
/// reading them can never make a server that is just starting fail with
/// "address in use". `None` where the tables cannot be read.
pub fn listening_ports() -> Option<std::collections::HashSet<u16>> {
    crate::sockets::listening_ports()
}

/// Sets `listening` on each active entry: whether some process listens on
/// its port (the socket tables read once for all of them); `None` for idle
/// and reserved entries, and where the tables cannot be read, a test bind.
pub fn mark_listening(entries: &mut [Entry]) {
    if !entries.iter().any(|e| e.state == State::Active) {
        return;
    }
    let ports = if let [one] = entries {
        crate::sockets::listening_on(one.port).map(|v| v.iter().map(|s| s.addr.port()).collect())
    } else {
        listening_ports()
    };
    for e in entries.iter_mut().filter(|e| e.state == State::Active) {
        e.listening = Some(match &ports {
            Some(set) => set.contains(&e.port),
            None => crate::sockets::probe(e.port) == crate::sockets::Probe::InUse,
        });
    }
}

/// "pid 1234 python3 on ::1" for the first listener on `port`, when it can
/// be seen (another user's sockets may not be).
pub fn describe_listener(port: u16) -> Option<String> {
    listeners_on(port).first().map(ListenerInfo::summary)
}

/// True when `pid` is `ancestor` or one of its descendants (a server started
/// by the script that holds the lease is the holder's, not a conflict).
pub fn is_same_or_descendant(pid: u32, ancestor: u32) -> bool {
    let Ok(mut sys) = System::new() else {
        return false;
    };
    let mut cur = Pid::from_u32(pid);
    for _ in 0..64 {
        if cur.as_u32() == ancestor {
            return true;
        }
        sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[cur]),
            false,
            ProcessRefreshKind::nothing().without_tasks(),
        );
        match sys.process(cur).and_then(|p| p.parent()) {
            Some(parent) if parent.as_u32() > 1 => cur = parent,
            _ => return false,
        }
    }
    false
}

/// Entries whose port another process listens on: anyone for idle and
/// reserved entries but the processes their last lease left listening when
/// it was released ([`RELEASED_META`]), anyone outside the holder's process
/// tree for active ones.
pub fn find_conflicts(entries: &[Entry]) -> Vec<Conflict> {
    let by_port = listeners_by_port(None);
    let mut out = Vec::new();
    for e in entries {
        let Some(ls) = by_port.get(&e.port) else {
            continue;
        };
        let own = released_listeners(e.meta.get(RELEASED_META).map(String::as_str));
        let foreign: Vec<ListenerInfo> = ls
            .iter()
            .filter(|l| match (&e.state, &e.holder) {
                (State::Active, Some(h)) => !is_same_or_descendant(l.pid, h.pid),
                _ => !own
                    .iter()
                    .any(|&(pid, ticks)| pid == l.pid && start_ticks(pid) == Some(ticks)),
            })
            .cloned()
            .collect();
        if !foreign.is_empty() {
            out.push(Conflict {
                entry: e.clone(),
                listeners: foreign,
                claimed_by: Vec::new(),
            });
        }
    }
    out
}

/// The [`RELEASED_META`] value for a lease of `holder` released while it
/// (or a process it started) listened on `port`: those processes, each as
/// `PID:START_TICKS`; `None` when none of them listens there. Cheap when
/// nothing listens on the port at all (the usual release): the port binds,
/// so the socket tables are not read.
pub(crate) fn released_mark(port: u16, holder: &Holder) -> Option<String> {
    if crate::sockets::probe(port) == crate::sockets::Probe::Free {
        return None;
    }
    let own: Vec<String> = listeners_on(port)
        .iter()
        .filter(|l| is_same_or_descendant(l.pid, holder.pid))
        .filter_map(|l| start_ticks(l.pid).map(|t| format!("{}:{t}", l.pid)))
        .collect();
    (!own.is_empty()).then(|| own.join(","))
}

/// The processes a [`RELEASED_META`] value names.
fn released_listeners(mark: Option<&str>) -> Vec<(u32, u64)> {
    mark.unwrap_or("")
        .split(',')
        .filter_map(|p| {
            let (pid, ticks) = p.trim().split_once(':')?;
            Some((pid.parse().ok()?, ticks.parse().ok()?))
        })
        .collect()
}

/// Brings each live holder's executable and command line up to date, read
/// from /proc when the process is still the one recorded (same pid and
/// start, same boot and pid namespace): a script that exec'd its server
/// shows the server. Otherwise the recorded details stay. A process that
/// holds many names (a test runner, a supervisor) is read once.
pub fn refresh_holders(entries: &mut [Entry]) {
    // Each distinct holder's command, read once; then every entry's
    // holder updated from it (no key copied per entry).
    type Identity<'a> = (u32, Option<u64>, Option<&'a str>, Option<u64>);
    let mut commands: Vec<Option<(String, Vec<String>)>> = Vec::new();
    let of_entries: Vec<Option<usize>> = {
        let mut seen: FxHashMap<Identity<'_>, usize> = FxHashMap::default();
        entries
            .iter()
            .map(|e| {
                let h = e.holder.as_ref()?;
                let key = (h.pid, h.start_ticks, h.boot_id.as_deref(), h.pid_ns);
                Some(*seen.entry(key).or_insert_with(|| {
                    commands.push(current_command(h));
                    commands.len() - 1
                }))
            })
            .collect()
    };
    for (e, i) in entries.iter_mut().zip(of_entries) {
        if let (Some(h), Some(Some((exe, cmdline)))) = (e.holder.as_mut(), i.map(|i| &commands[i]))
        {
            h.exe.clone_from(exe);
            h.cmdline.clone_from(cmdline);
        }
    }
}

fn current_command(h: &Holder) -> Option<(String, Vec<String>)> {
    let ticks = h.start_ticks?;
    let here = |a: Option<&str>, b: Option<String>| a.is_none() || b.is_none() || a == b.as_deref();
    if !here(h.boot_id.as_deref(), liveness::boot_id())
        || h.pid_ns
            .is_some_and(|ns| liveness::own_pid_ns().is_some_and(|o| o != ns))
        || start_ticks(h.pid) != Some(ticks)
    {
        return None;
    }
    let raw = std::fs::read(format!("/proc/{}/cmdline", h.pid)).ok()?;
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", h.pid)).ok()?;
    // Read again: the details must be of the process that started then.
    if start_ticks(h.pid) != Some(ticks) || raw.is_empty() {
        return None;
    }
    let cmdline: Vec<String> = raw
        .strip_suffix(b"\0")
        .unwrap_or(&raw)
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let comm = comm.trim_end_matches('\n').to_string();
    // comm is cut at 15 bytes: the program's file name when it starts so.
    let base = cmdline
        .first()
        .and_then(|a| a.rsplit('/').next())
        .filter(|b| b.starts_with(&comm) && !comm.is_empty());
    Some((base.map(str::to_string).unwrap_or(comm), cmdline))
}

/// `WEB_PORT` / `WEB_URL` spelling of a name: upper-cased, `.` and `-` to `_`.
pub fn env_prefix(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == '.' || c == '-' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

/// A number of seconds (a kill timeout, a bind timeout) as a duration: 0 or
/// more and finite, else `PROCESS` naming `what`.
pub fn seconds(secs: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        Error::Process(format!(
            "{what} must be a number of seconds, 0 or more (got {secs})"
        ))
    })
}
