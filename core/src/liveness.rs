//! Process identity: is a holder still alive (pid plus start time in clock
//! ticks since boot plus the boot id, read from `/proc/PID/stat` for just
//! the pids that matter, never a scan of every process; or its holder lock
//! still held), who a process is, and whose it is.

use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

use crate::entry::Holder;
use crate::error::{Error, Result};
use crate::holdlock;
use crate::pid::PerProcess;

fn system() -> Result<System> {
    System::new().map_err(|e| Error::Process(format!("cannot read the process table: {e}")))
}

fn refresh(sys: &mut System, pids: &[Pid], kind: ProcessRefreshKind) {
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(pids), false, kind.without_tasks());
}

/// What `/proc/PID/stat` says about a process that matters to its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// One-letter state (`R`, `S`, `Z`...).
    pub state: u8,
    /// Process group id.
    pub pgrp: i32,
    /// Start time in clock ticks since boot (field 22).
    pub start_ticks: u64,
}

impl ProcStat {
    /// A zombie or dead process holds nothing (a killed child its parent has
    /// not reaped yet).
    pub fn is_gone(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Reads the fields of a `/proc/PID/stat` text after the command name,
/// which may hold spaces and parentheses: they start after the last `)`.
pub fn parse_stat(text: &[u8]) -> Option<ProcStat> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is field 3 (state), so field N is fields[N - 3]
    Some(ProcStat {
        state: *fields.first()?.as_bytes().first()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// `/proc/PID/stat` of a running process, `None` when there is none.
pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    if pid == 0 {
        return None;
    }
    parse_stat(&std::fs::read(format!("/proc/{pid}/stat")).ok()?)
}

/// This boot of the kernel (`/proc/sys/kernel/random/boot_id`); the same
/// inside containers, which share the kernel.
pub fn boot_id() -> Option<String> {
    static ID: PerProcess<Option<String>> = PerProcess::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    })
    .clone()
}

/// The inode of the pid namespace this process counts pids in
/// (`/proc/self/ns/pid` reads `pid:[INODE]`). Cached per pid: a forked
/// child asks again.
pub fn own_pid_ns() -> Option<u64> {
    static NS: PerProcess<Option<u64>> = PerProcess::new();
    *NS.get_or_init(|| {
        std::fs::read_link("/proc/self/ns/pid").ok().and_then(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
        })
    })
}

fn clock_ticks_per_second() -> u64 {
    static HZ: PerProcess<u64> = PerProcess::new();
    *HZ.get_or_init(|| {
        nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .and_then(|v| u64::try_from(v).ok())
            .filter(|&v| v > 0)
            .unwrap_or(100)
    })
}

/// The wall-clock time of the boot as the kernel tells it now (`btime` of
/// `/proc/stat`): it moves whenever the clock is stepped.
fn boot_time() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A start in ticks as seconds since the Unix epoch, as the process table
/// (and records of older versions) spell it: boot time plus whole seconds.
fn epoch_seconds(start_ticks: u64, boot_time: u64) -> u64 {
    boot_time + start_ticks / clock_ticks_per_second()
}

/// Whose records need no asking: this process (pid and start ticks), and
/// where holder locks live (the registry directory).
#[derive(Debug, Clone)]
pub(crate) struct Context {
    me: Option<(u32, u64)>,
    dir: PathBuf,
}

impl Context {
    /// For a registry in `dir`, from this process.
    pub fn new(dir: &Path) -> Context {
        Context {
            me: me(),
            dir: dir.to_path_buf(),
        }
    }

    /// The registry directory, where holder locks are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The one liveness rule (docs/design.md "Process identity"). A holder is
/// alive while its holder lock is held, or, when its pid is counted in this
/// pid namespace and the record is of this boot, while a process with its
/// pid runs (not a zombie) and started at its start ticks (records of older
/// versions: at its start time in seconds, as they were compared then).
///
/// The answer for a set of holders, read once per pid (many records may
/// share one holder: a script that leased ten names).
pub(crate) struct Running<'a> {
    stats: FxHashMap<u32, Option<ProcStat>>,
    boot_time: u64,
    ns: Option<u64>,
    boot: Option<String>,
    ctx: &'a Context,
    /// This process's holder lock token.
    own: Option<String>,
    /// Each holder lock asked about, and whether it is held: a process that
    /// holds many names has one lock, tested once (an open, an fcntl and a
    /// close each time).
    locks: std::cell::RefCell<FxHashMap<String, bool>>,
}

impl<'a> Running<'a> {
    /// Reads what judging `holders` needs.
    pub fn of(holders: &[&Holder], ctx: &'a Context) -> Running<'a> {
        let mut stats = FxHashMap::default();
        let mut old = false;
        for h in holders {
            old |= h.start_ticks.is_none();
            if ctx
                .me
                .is_some_and(|(p, t)| p == h.pid && h.start_ticks == Some(t))
            {
                continue;
            }
            stats.entry(h.pid).or_insert_with(|| proc_stat(h.pid));
        }
        Running {
            stats,
            boot_time: if old { boot_time() } else { 0 },
            ns: own_pid_ns(),
            boot: boot_id(),
            ctx,
            own: own_token(),
            locks: Default::default(),
        }
    }

    /// Whether the process `h` names is alive.
    pub fn is_alive(&self, h: &Holder) -> bool {
        let here = h.pid_ns.is_none() || h.pid_ns == self.ns;
        if here
            && self
                .ctx
                .me
                .is_some_and(|(p, t)| p == h.pid && h.start_ticks == Some(t))
        {
            return true;
        }
        if h.boot_id.is_some() && self.boot.is_some() && h.boot_id != self.boot {
            return false;
        }
        if let Some(lock) = &h.lock {
            // Looked up before it is copied: a thousand names of one process
            // share one lock.
            let known = self.locks.borrow().get(lock.as_str()).copied();
            let held = known.unwrap_or_else(|| {
                let held = holdlock::is_held(&self.ctx.dir, lock, self.own.as_deref());
                self.locks.borrow_mut().insert(lock.clone(), held);
                held
            });
            if held {
                return true;
            }
        }
        if !here {
            // Its pid means another process here, or none: only its lock speaks for it.
            return false;
        }
        let Some(st) = self.stats.get(&h.pid).copied().flatten() else {
            return false;
        };
        !st.is_gone()
            && match h.start_ticks {
                Some(t) => st.start_ticks == t,
                None => epoch_seconds(st.start_ticks, self.boot_time) == h.start_time,
            }
    }

    /// A record of an older version whose holder is alive, with the fields
    /// that identify it without the wall clock filled in (so that a later
    /// clock step cannot make it look dead).
    pub fn upgraded(&self, h: &Holder) -> Option<Holder> {
        if h.start_ticks.is_some() || h.pid_ns.is_some() {
            return None;
        }
        let st = self.stats.get(&h.pid).copied().flatten()?;
        let mut h = h.clone();
        h.start_ticks = Some(st.start_ticks);
        h.boot_id = self.boot.clone();
        h.pid_ns = self.ns;
        Some(h)
    }
}

/// When `pid` started, in clock ticks since boot (how holders are told
/// apart); `None` when no such process runs (or it is a zombie).
pub fn start_ticks(pid: u32) -> Option<u64> {
    proc_stat(pid)
        .filter(|st| !st.is_gone())
        .map(|st| st.start_ticks)
}

/// Whether `pid` is alive (not a zombie) and, when `start_ticks` is given,
/// is still the process that started then.
pub fn is_alive(pid: u32, start_ticks: Option<u64>) -> Result<bool> {
    Ok(match proc_stat(pid) {
        Some(st) if !st.is_gone() => start_ticks.is_none_or(|t| t == st.start_ticks),
        _ => false,
    })
}

/// Describes a live process as a holder (`since` left empty for the caller).
pub fn describe(pid: u32) -> Result<Option<Holder>> {
    let Some(st) = proc_stat(pid).filter(|st| !st.is_gone()) else {
        return Ok(None);
    };
    let mut sys = system()?;
    let p = Pid::from_u32(pid);
    // A process caught just after its exec shows an empty command line for
    // an instant (the kernel lets a vfork parent go before it sets the new
    // one up): look again briefly rather than record nothing.
    for _ in 0..20 {
        refresh(
            &mut sys,
            &[p],
            ProcessRefreshKind::nothing()
                .with_cmd(UpdateKind::Always)
                .with_exe(UpdateKind::Always)
                .with_cwd(UpdateKind::Always)
                .with_user(UpdateKind::Always),
        );
        if sys.process(p).is_none_or(|q| !q.cmd().is_empty()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let Some(proc_) = sys.process(p) else {
        return Ok(None);
    };
    // Read again: the details must be of the process that started then.
    if proc_stat(pid).map(|s| s.start_ticks) != Some(st.start_ticks) {
        return Ok(None);
    }
    let uid = proc_.user_id().map(|u| **u);
    Ok(Some(Holder {
        pid,
        start_time: epoch_seconds(st.start_ticks, boot_time()),
        start_ticks: Some(st.start_ticks),
        boot_id: boot_id(),
        pid_ns: own_pid_ns(),
        lock: None,
        exe: proc_.name().to_string_lossy().into_owned(),
        cmdline: proc_
            .cmd()
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect(),
        user: uid.map(user_name).unwrap_or_default(),
        cwd: proc_
            .cwd()
            .map(|c| c.display().to_string())
            .unwrap_or_default(),
        since: String::new(),
    }))
}

/// The uid that owns a process, if it is alive.
pub fn process_uid(pid: u32) -> Result<Option<u32>> {
    let mut sys = system()?;
    let p = Pid::from_u32(pid);
    refresh(
        &mut sys,
        &[p],
        ProcessRefreshKind::nothing().with_user(UpdateKind::Always),
    );
    Ok(sys.process(p).and_then(|p| p.user_id()).map(|u| **u))
}

/// A user name for a uid (the number when the name is unknown).
pub fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => uid.to_string(),
    }
}

/// Refuses, with `PERMISSION`, to act on `pid` when it belongs to another
/// user (root may act on anyone's); `what` ends the message: "release it",
/// "stop it". A process that is gone passes: there is nobody to protect.
pub fn check_same_user(pid: u32, what: &str) -> Result<()> {
    check_owner(pid, what, true)
}

/// [`check_same_user`], where root may act on another user's process only
/// when `root_may` (signals: only with an explicit `--any-user`).
pub fn check_owner(pid: u32, what: &str, root_may: bool) -> Result<()> {
    let me = nix::unistd::geteuid().as_raw();
    match process_uid(pid)? {
        Some(uid) if uid != me && !(me == 0 && root_may) => {
            let who = if me == 0 {
                "as root, pass --any-user to"
            } else {
                "only that user (or root) can"
            };
            Err(Error::Permission(format!(
                "pid {pid} belongs to {} (uid {uid}), not to you; {who} {what}",
                user_name(uid)
            )))
        }
        _ => Ok(()),
    }
}

/// How this process describes itself as a holder, shared by every Registry
/// it opens (the module-level functions open one per call). A forked child
/// describes itself afresh.
static OWN_HOLDER: PerProcess<Holder> = PerProcess::new();

/// This process's (pid, start ticks), once it has described itself.
pub(crate) fn me() -> Option<(u32, u64)> {
    OWN_HOLDER.get().and_then(|h| Some((h.pid, h.start_ticks?)))
}

/// This process's holder lock token: its pid namespace, pid and start
/// ticks, once it has described itself.
/// Made once per process (a lease asks for it each time).
pub(crate) fn own_token() -> Option<String> {
    static TOKEN: PerProcess<String> = PerProcess::new();
    let (pid, ticks) = me()?;
    let token = TOKEN.get_or_init(|| format!("{}-{pid}-{ticks}", own_pid_ns().unwrap_or(0)));
    Some(token.clone())
}

/// Takes this process's holder lock in the registry `dir` (once per
/// directory) and returns its token for the lease record.
pub(crate) fn hold_lock(dir: &Path) -> Result<String> {
    if me().is_none() {
        holder(crate::pid::my_pid())?;
    }
    let token = own_token()
        .ok_or_else(|| Error::Internal("this process has no start ticks to lock by".into()))?;
    holdlock::hold(dir, &token)?;
    Ok(token)
}

/// The holder a lease of `pid` records (`since` left empty): `PROCESS` when
/// no such process runs.
pub(crate) fn holder(pid: u32) -> Result<Holder> {
    if pid == crate::pid::my_pid() {
        if let Some(h) = OWN_HOLDER.get() {
            return Ok(h.clone());
        }
    }
    let h = describe(pid)?.ok_or_else(|| {
        Error::Process(format!(
            "no running process has pid {pid}; a lease needs a live holder"
        ))
    })?;
    if pid == crate::pid::my_pid() {
        return Ok(OWN_HOLDER.get_or_init(|| h).clone());
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_come_after_the_last_parenthesis() {
        let text = b"42 (a) b (c) R) S 1 77 77 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 1 2";
        let st = parse_stat(text).unwrap();
        assert_eq!((st.state, st.pgrp, st.start_ticks), (b'S', 77, 123456));
        assert!(parse_stat(b"42 (cut").is_none());
    }

    #[test]
    fn a_process_is_alive_only_with_its_own_start_ticks() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let h = describe(pid).unwrap().expect("the child runs");
        let ticks = h.start_ticks.expect("ticks recorded");
        assert_eq!(h.boot_id, boot_id());
        assert_eq!(h.pid_ns, own_pid_ns());
        assert!(is_alive(pid, Some(ticks)).unwrap());
        assert!(is_alive(pid, None).unwrap());
        assert!(!is_alive(pid, Some(ticks + 1)).unwrap(), "a reused pid");
        let ctx = Context::new(Path::new("/nonexistent"));
        let running = Running::of(&[&h], &ctx);
        assert!(running.is_alive(&h));
        let other_boot = Holder {
            boot_id: Some("another-boot".into()),
            ..h.clone()
        };
        assert!(!running.is_alive(&other_boot), "a record of another boot");
        let other_ns = Holder {
            pid_ns: Some(1),
            ..h.clone()
        };
        assert!(
            !Running::of(&[&other_ns], &ctx).is_alive(&other_ns),
            "a pid of another namespace, without a lock, proves nothing"
        );
        // a record of an older version: start time in seconds, as the
        // process table gave it then
        let old = Holder {
            start_ticks: None,
            boot_id: None,
            pid_ns: None,
            ..h.clone()
        };
        let running = Running::of(&[&old], &ctx);
        assert!(running.is_alive(&old));
        assert_eq!(running.upgraded(&old).unwrap().start_ticks, Some(ticks));
        child.kill().unwrap();
        // killed but not yet reaped: a zombie holds nothing
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while is_alive(pid, None).unwrap() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(!is_alive(pid, None).unwrap());
        child.wait().unwrap();
        assert!(!is_alive(pid, Some(ticks)).unwrap());
        assert!(describe(pid).unwrap().is_none());
    }

    #[test]
    fn own_process_needs_no_asking() {
        let me = holder(crate::pid::my_pid()).unwrap();
        let ctx = Context::new(Path::new("/nonexistent"));
        let running = Running::of(&[&me], &ctx);
        assert!(running.is_alive(&me));
        let older = Holder {
            start_ticks: me.start_ticks.map(|t| t + 1),
            ..me.clone()
        };
        assert!(!running.is_alive(&older));
        assert!(check_same_user(me.pid, "release it").is_ok());
        assert_eq!(
            holder(u32::MAX / 2).unwrap_err().code(),
            crate::ErrorCode::Process
        );
    }
}
