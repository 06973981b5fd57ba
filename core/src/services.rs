//! Registry operations that look at running processes: who, conflicts, kill
//! and env. They read the registry under its lock, then let go of it before
//! touching sockets tables or waiting on a process.

use std::time::Duration;

use crate::entry::State;
use crate::error::{Error, Result};
use crate::process::{self, Conflict, KillReport, Who};
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
        Ok(Who {
            port,
            listeners: process::listeners_on(port),
            entry,
        })
    }

    /// Entries whose port is listened on by a process other than their holder
    /// (or by anyone, for idle and reserved entries).
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        Ok(process::find_conflicts(&self.list()?))
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

    /// Stops a name's holder (after checking its pid and start time) or the
    /// processes listening on a port: SIGTERM, wait up to `timeout`, SIGKILL.
    /// An empty result means there was nothing to stop.
    pub fn kill(&self, target: &Target, timeout: Duration) -> Result<Vec<KillReport>> {
        let victims: Vec<(u32, Option<u64>, String)> = match target {
            Target::Name(name) => {
                let entry = self.get(name)?.ok_or_else(|| Error::NotFound {
                    what: "name",
                    name: name.to_string(),
                })?;
                entry
                    .holder
                    .as_ref()
                    .map(process::holder_target)
                    .into_iter()
                    .collect()
            }
            Target::Port(port) => {
                let seen: Vec<_> = process::listeners_on(*port)
                    .into_iter()
                    .map(|l| (l.pid, None, l.exe))
                    .collect();
                if seen.is_empty() && Registry::is_listening(*port) {
                    return Err(Error::Permission(format!(
                        "port {port} is in use by a process portreg cannot see, most likely another user's; only that user (or root) can stop it"
                    )));
                }
                seen
            }
        };
        for (pid, _, _) in &victims {
            process::check_killable(*pid)?;
        }
        victims
            .iter()
            .map(|(pid, st, exe)| process::terminate(*pid, *st, exe, timeout))
            .collect()
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
