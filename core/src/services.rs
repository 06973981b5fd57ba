//! Registry operations that look at running processes: who, conflicts, kill
//! and env. They read the registry under its lock, then let go of it before
//! touching sockets tables or waiting on a process.

use std::time::Duration;

use crate::entry::State;
use crate::error::{Error, Result};
use crate::host::HostClaim;
use crate::process::{self, Conflict, Who};
use crate::stop::{self, KillReport};
use crate::target::Target;
use crate::Registry;

/// How `env` spells one variable: name and value.
pub type EnvVar = (String, String);

impl Registry {
    /// The processes listening on a port (or on a name's port) and the
    /// entry that claims it: for a port, its active entry, else the one that
    /// reserves it, else an idle one that remembers it.
    pub fn who(&self, target: &Target) -> Result<Who> {
        let (port, entry) = match target {
            Target::Name(name) => {
                let entry = self.get(name)?.ok_or_else(|| Error::NotFound {
                    what: "name",
                    name: name.to_string(),
                })?;
                (entry.port, Some(entry))
            }
            Target::Port(port) => {
                let port = *port;
                crate::allocate::check_port(u64::from(port))?;
                let entries = self.list()?;
                let claim = |s: State| {
                    entries
                        .iter()
                        .find(|e| e.port == port && e.state == s)
                        .cloned()
                };
                let entry = claim(State::Active)
                    .or_else(|| claim(State::Reserved))
                    .or_else(|| claim(State::Idle));
                (port, entry)
            }
        };
        // A claims directory that cannot be read fails leases, with the
        // reason; it does not stop `who` from answering.
        let mut host_claims = self.host_claims().unwrap_or_default();
        host_claims.retain(|c| c.port == port && !c.mine);
        Ok(Who {
            port,
            listeners: process::listeners_on(port),
            entry,
            host_claims,
        })
    }

    /// Entries whose port is listened on by a process other than their holder
    /// (or by anyone, for idle and reserved entries), and active or reserved
    /// entries whose port another user's live claim holds (their next lease
    /// cannot have it): those come last, with `claimed_by` and no listeners.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        let entries = self.list()?;
        let mut out = process::find_conflicts(&entries);
        let claims = self.host_claims().unwrap_or_default();
        let others = |port: u16| -> Vec<HostClaim> {
            claims
                .iter()
                .filter(|c| c.port == port && !c.mine && c.alive && c.honoured)
                .cloned()
                .collect()
        };
        for e in entries.iter().filter(|e| e.state != State::Idle) {
            let claimed_by = others(e.port);
            if claimed_by.is_empty() {
                continue;
            }
            match out.iter_mut().find(|c| c.entry.name == e.name) {
                Some(c) => c.claimed_by = claimed_by,
                None => out.push(Conflict {
                    entry: e.clone(),
                    listeners: Vec::new(),
                    claimed_by,
                }),
            }
        }
        Ok(out)
    }

    /// True when some process listens on `port` (TCP, any address), from
    /// the kernel's socket tables; where those cannot be read, from a test
    /// bind on every probed address.
    pub fn is_listening(port: u16) -> bool {
        match process::listening_ports() {
            Some(ports) => ports.contains(&port),
            None => crate::sockets::probe(port) == crate::sockets::Probe::InUse,
        }
    }

    /// Stops a name's holder (after checking its pid and start) or the
    /// processes listening on a port: SIGTERM, wait up to `timeout`, SIGKILL.
    /// Only this user's processes, even as root: see [`Registry::kill_with`].
    /// An empty result means there was nothing to stop.
    pub fn kill(&self, target: &Target, timeout: Duration) -> Result<Vec<KillReport>> {
        self.kill_with(target, timeout, false)
    }

    /// [`Registry::kill`]; with `any_user`, root may also stop another
    /// user's process (the CLI's `--any-user`; never the dashboard). A
    /// holder that leads a process group of its own (as `portreg run`
    /// starts commands) is stopped with every process of its group, each
    /// reported; a name held through `run` turns idle once the group is gone.
    pub fn kill_with(
        &self,
        target: &Target,
        timeout: Duration,
        any_user: bool,
    ) -> Result<Vec<KillReport>> {
        let reports = match target {
            Target::Name(name) => {
                let entry = self.get(name)?.ok_or_else(|| Error::NotFound {
                    what: "name",
                    name: name.to_string(),
                })?;
                let Some(h) = entry.holder.as_ref() else {
                    return Ok(Vec::new());
                };
                let aim = stop::holder_target(h, entry.port)?;
                if aim.holder.is_none()
                    && aim.group.is_none_or(|g| stop::group_members(g).is_empty())
                {
                    return Ok(Vec::new());
                }
                let reports = stop::terminate_all(
                    aim.holder.into_iter().collect(),
                    aim.group,
                    any_user,
                    timeout,
                )?;
                // The supervisor of a group (`portreg run`) releases the
                // name once the group is gone: give it a moment, so that
                // the name is idle when kill returns.
                let until = std::time::Instant::now() + Duration::from_secs(2);
                while std::time::Instant::now() < until
                    && self
                        .get(name)?
                        .and_then(|e| e.holder)
                        .is_some_and(|now| now.same_process(h))
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                reports
            }
            Target::Port(port) => {
                let seen: Vec<stop::Victim> = process::listeners_on(*port)
                    .into_iter()
                    .filter_map(|l| stop::Victim::current(l.pid, &l.exe))
                    .collect();
                if seen.is_empty() && Registry::is_listening(*port) {
                    return Err(Error::Permission(format!(
                        "port {port} is in use by a process portreg cannot see, most likely another user's; only that user (or root) can stop it"
                    )));
                }
                if seen.is_empty() {
                    return Ok(Vec::new());
                }
                stop::terminate_all(seen, None, any_user, timeout)?
            }
        };
        Ok(reports)
    }

    /// `<NAME>_PORT` and `<NAME>_URL` for active and reserved entries (or just
    /// `names`, which must exist). Two names that spell the same variable are
    /// an error, never a silent overwrite.
    pub fn env(&self, names: &[String]) -> Result<Vec<EnvVar>> {
        let entries = self.list()?;
        let mut picked = Vec::new();
        if names.is_empty() {
            picked.extend(entries.into_iter().filter(|e| e.state != State::Idle));
        } else {
            for n in names {
                crate::validate_name(n)?;
                let e = entries
                    .iter()
                    .find(|e| e.name.eq_ignore_ascii_case(n))
                    .ok_or_else(|| Error::NotFound {
                        what: "name",
                        name: n.clone(),
                    })?;
                picked.push(e.clone());
            }
        }
        let mut seen: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        let mut out = Vec::new();
        for e in picked {
            let prefix = process::env_prefix(&e.name);
            if let Some(other) = seen.insert(prefix.clone(), e.name.clone()) {
                if !other.eq_ignore_ascii_case(&e.name) {
                    return Err(Error::NameClash {
                        a: other,
                        b: e.name.clone(),
                        var: format!("{prefix}_PORT"),
                    });
                }
                continue;
            }
            out.push((format!("{prefix}_PORT"), e.port.to_string()));
            out.push((format!("{prefix}_URL"), e.url()));
        }
        Ok(out)
    }
}
