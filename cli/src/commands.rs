//! What each command does: dispatch from the parsed command line to the
//! registry, and the text or JSON it prints.

use portreg_core::{Actor, Entry, Registry, Released, State, Target};

use crate::args::{Cli, Command, EnvFormat, Global};
use crate::output::{fail, print_json, Outcome};
use crate::{generate, host, project, run, table};

/// 'it'\''s' quoting for POSIX shells.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// One `KEY=value` line that `docker run --env-file` (which keeps the
/// value literally) and python-dotenv (which reads quotes, `#` comments and
/// trailing blanks) both read as `value`; a value they would read apart is
/// refused rather than written.
fn dotenv_line(key: &str, value: &str) -> portreg_core::Result<String> {
    let why = if value.contains(['\n', '\r']) {
        Some("it contains a line break")
    } else if value.starts_with(['"', '\'', '`']) {
        Some("it starts with a quote")
    } else if value.trim() != value || value.contains(" #") || value.contains("\t#") {
        Some("blanks at its ends or before a '#' are read differently by dotenv readers")
    } else {
        None
    };
    match why {
        Some(why) => Err(portreg_core::Error::InvalidText {
            what: format!("value of {key} for a dotenv file ({value:?})"),
            why: format!("{why}; use --format sh or --format json"),
        }),
        None => Ok(format!("{key}={value}")),
    }
}

fn open(g: &Global) -> portreg_core::Result<Registry> {
    match &g.registry {
        Some(p) => Registry::open(p),
        None => Registry::open_default(),
    }
}

/// A who/kill target as typed, or read as a name with `--name`.
fn target_arg(s: &str, as_name: bool) -> portreg_core::Result<Target> {
    if as_name {
        Target::name(s)
    } else {
        Target::parse(s)
    }
}

pub(crate) fn dispatch(cli: Cli) -> portreg_core::Result<Outcome> {
    let g = &cli.global;
    let reg = open(g)?;
    match cli.command {
        Command::Lease { want, pid } => {
            let mut req = want.request()?;
            req.pid = Some(pid.unwrap_or_else(parent_pid));
            let lease = reg.lease(&req)?;
            if g.json {
                let entry = reg.get(&lease.name)?;
                print_json(&entry);
            } else {
                println!("{}", lease.port);
            }
            Ok(Outcome::ok())
        }
        Command::Release { name, pid, force } => {
            let actor = if force {
                Actor::Force
            } else {
                Actor::Pid(pid.unwrap_or_else(parent_pid))
            };
            release(&reg, g, name, actor)
        }
        Command::Get { name } => {
            // The port alone needs registry.json alone; --json describes the
            // whole entry (holder, listening).
            let shown = if g.json {
                reg.get(&name)?.map(|e| print_json(&e))
            } else {
                reg.port_of(&name)?.map(|port| println!("{port}"))
            };
            // With registry.json's parsed entries, which it keeps.
            crate::leave_to_exit(reg);
            match shown {
                Some(()) => Ok(Outcome::ok()),
                None => Err(portreg_core::Error::NotFound { what: "name", name }),
            }
        }
        // A listing, as `list` without --host: 0 even when it is empty
        // (it says so); only an error is not.
        Command::List { host: true, .. } => {
            host::list(&reg, g.json)?;
            Ok(Outcome::ok())
        }
        Command::List { all, .. } => {
            let mut entries: Vec<Entry> = reg.list()?;
            if !g.json {
                // For people, the services of a project (`portreg up`) sit
                // together, one checkout after another, after everything
                // else in port order. --json keeps port order.
                fn key(e: &Entry) -> Option<(&String, Option<&String>)> {
                    let project = e.meta.get("portreg.project")?;
                    Some((project, e.meta.get("portreg.checkout")))
                }
                entries.sort_by(|a, b| key(a).cmp(&key(b)));
            }
            let total = entries.len();
            let shown: Vec<Entry> = entries
                .into_iter()
                .filter(|e| all || e.state != State::Idle)
                .collect();
            if g.json {
                print_json(&shown);
            } else {
                let hidden = total - shown.len();
                table::print_entries(&shown, hidden);
            }
            crate::leave_to_exit(shown);
            Ok(Outcome::ok())
        }
        Command::Reserve {
            name,
            port,
            description,
            meta,
        } => {
            let meta: Option<std::collections::BTreeMap<String, String>> =
                (!meta.is_empty()).then(|| meta.into_iter().collect());
            let e = reg.reserve_with(&name, port, description.as_deref(), meta.as_ref())?;
            if g.json {
                print_json(&e);
            } else {
                println!("reserved {} on port {}", e.name, e.port);
            }
            Ok(Outcome::ok())
        }
        Command::Forget { names, force } => {
            let patterns: Vec<&str> = names.iter().map(String::as_str).collect();
            let gone = reg.forget_many(&patterns, force)?;
            if g.json {
                // One plain name keeps its single-entry answer.
                match (&names[..], &gone[..]) {
                    ([n], [e]) if !portreg_core::is_glob(n) => print_json(e),
                    _ => print_json(&gone),
                }
            } else if gone.is_empty() {
                eprintln!("portreg: no name matches {}", names.join(" "));
            } else {
                for e in &gone {
                    println!("forgot {} (port {})", e.name, e.port);
                }
            }
            Ok(if gone.is_empty() {
                Outcome::nothing()
            } else {
                Outcome::ok()
            })
        }
        Command::Rename { old, new, force } => {
            let e = reg.rename(&old, &new, force)?;
            if g.json {
                print_json(&e);
            } else {
                println!("renamed {old} to {} (port {})", e.name, e.port);
            }
            Ok(Outcome::ok())
        }
        Command::Find { range } => {
            let port = reg.find_free(range)?;
            if g.json {
                print_json(&serde_json::json!({ "port": port }));
            } else {
                println!("{port}");
            }
            Ok(Outcome::ok())
        }
        Command::Clean { idle } => {
            let cleaned = reg.clean()?;
            let forgotten = match idle {
                Some(age) => reg.forget_idle(age)?,
                None => Vec::new(),
            };
            if g.json {
                match idle {
                    Some(_) => {
                        print_json(&serde_json::json!({"dropped": cleaned, "forgotten": forgotten}))
                    }
                    None => print_json(&cleaned),
                }
            } else if cleaned.is_empty() && forgotten.is_empty() {
                match idle {
                    Some(age) => eprintln!(
                        "portreg: nothing to clean: every lease has a live holder and no name has been idle longer than {}",
                        humantime::format_duration(age)
                    ),
                    None => eprintln!("portreg: nothing to clean: every lease has a live holder"),
                }
            } else {
                for c in &cleaned {
                    match c.port {
                        Some(p) => println!(
                            "dropped {} (port {p}): holder pid {} is gone",
                            c.name, c.pid
                        ),
                        None => {
                            println!("dropped a lease on unknown name {} (pid {})", c.name, c.pid)
                        }
                    }
                }
                for e in &forgotten {
                    println!(
                        "forgot {} (port {}): idle since {}",
                        e.name, e.port, e.changed
                    );
                }
            }
            // Maintenance, not a check: nothing stale is success too.
            Ok(Outcome::ok())
        }
        Command::Who { target, name } => {
            let who = reg.who(&target_arg(&target, name)?)?;
            let found =
                !who.listeners.is_empty() || who.entry.is_some() || !who.host_claims.is_empty();
            if g.json {
                print_json(&who);
            } else {
                table::print_who(&who);
                host::print_others(&who.host_claims);
            }
            Ok(if found {
                Outcome::ok()
            } else {
                Outcome::nothing()
            })
        }
        Command::Conflicts => {
            let conflicts = reg.conflicts()?;
            if g.json {
                print_json(&conflicts);
            } else if conflicts.is_empty() {
                eprintln!("portreg: no conflicts: no entry's port is taken by a process outside the registry");
            } else {
                table::print_conflicts(&conflicts);
                host::print_clashes(&conflicts);
            }
            // A check, as linters do: 0 when all is well, 1 when it found something.
            Ok(if conflicts.is_empty() {
                Outcome::ok()
            } else {
                Outcome::nothing()
            })
        }
        Command::Kill {
            target,
            name,
            timeout,
            any_user,
        } => {
            let timeout = timeout.unwrap_or(portreg_core::target::kill_timeout(None)?);
            let t = target_arg(&target, name)?;
            let reports = reg.kill_with(&t, timeout, any_user)?;
            if g.json {
                print_json(&reports);
            } else if reports.is_empty() {
                match &t {
                    Target::Name(n) => {
                        eprintln!("portreg: {n} is not held by a live process; nothing to stop")
                    }
                    Target::Port(p) => {
                        eprintln!("portreg: nothing (that you can see) listens on port {p}; nothing to stop")
                    }
                }
            } else {
                for r in &reports {
                    println!("{}", table::kill_line(r));
                }
            }
            if reports.iter().any(|r| r.outcome == "survived") {
                return Err(portreg_core::Error::Process(
                    "a process survived SIGKILL".into(),
                ));
            }
            Ok(if reports.is_empty() {
                Outcome::nothing()
            } else {
                Outcome::ok()
            })
        }
        Command::Run {
            want,
            socket,
            host,
            bind_timeout,
            cmd,
        } => {
            let req = want.request()?;
            let bind_timeout = portreg_core::process::seconds(bind_timeout, "--bind-timeout")?;
            let code = run::run(
                &reg,
                run::RunArgs {
                    req,
                    socket,
                    host,
                    bind_timeout,
                    cmd,
                },
            )?;
            Ok(Outcome { code })
        }
        #[cfg(feature = "dashboard")]
        Command::Dashboard { port, open } => {
            let opts = portreg_dashboard::Options { port, open };
            let code = portreg_dashboard::run(reg, opts)?;
            Ok(Outcome { code })
        }
        #[cfg(not(feature = "dashboard"))]
        Command::Dashboard { .. } => {
            eprintln!(
                "portreg: this portreg was built without the dashboard (cargo feature `dashboard`)"
            );
            Ok(Outcome { code: 2 })
        }
        Command::Project(cmd) => Ok(Outcome {
            code: project::run(reg, cmd, g.json)?,
        }),
        // `run` answers these before opening a registry; the same here.
        Command::Completions { shell } => Ok(Outcome {
            code: generate::completions(shell),
        }),
        Command::Man => Ok(Outcome {
            code: generate::man(),
        }),
        Command::Env {
            format,
            prefix,
            names,
        } => {
            let mut vars = reg.env(&names)?;
            if let Some(p) = prefix {
                vars.iter_mut().for_each(|(k, _)| k.insert_str(0, &p));
            }
            let format = format.unwrap_or(if g.json {
                EnvFormat::Json
            } else {
                EnvFormat::Sh
            });
            match format {
                EnvFormat::Json => {
                    let map: serde_json::Map<String, serde_json::Value> =
                        vars.into_iter().map(|(k, v)| (k, v.into())).collect();
                    print_json(&map);
                }
                EnvFormat::Sh => vars
                    .iter()
                    .for_each(|(k, v)| println!("export {k}={}", sh_quote(v))),
                EnvFormat::Dotenv => {
                    let lines = vars
                        .iter()
                        .map(|(k, v)| dotenv_line(k, v))
                        .collect::<portreg_core::Result<Vec<_>>>()?;
                    lines.iter().for_each(|l| println!("{l}"));
                }
            }
            Ok(Outcome::ok())
        }
    }
}

/// The process `lease` and `release` act for by default: the one that ran
/// this command (your shell or script).
fn parent_pid() -> u32 {
    nix::unistd::getppid().as_raw() as u32
}

/// `release`: for the holder `actor` names; a live holder that is another
/// process is refused with the way to force it.
fn release(
    reg: &Registry,
    g: &Global,
    name: String,
    actor: Actor,
) -> portreg_core::Result<Outcome> {
    let released = match reg.release(&name, actor) {
        Err(portreg_core::Error::NotHolder { name, pid, caller }) => {
            return Ok(fail(
                &format!(
                    "{name} is held by pid {pid}, a live process; this command acts for pid \
                     {caller} (the shell or script that ran it, or --pid), and releasing \
                     another's lease would free the port under it. Stop that process, or \
                     `portreg release {name} --force` to release it anyway"
                ),
                portreg_core::ErrorCode::NotHolder,
            ))
        }
        r => r?,
    };
    match released {
        Released::Released { port, pid } => {
            if g.json {
                print_json(
                    &serde_json::json!({"name": name, "released": true, "port": port, "pid": pid}),
                );
            } else {
                println!("released {name} (port {port}, was held by pid {pid})");
            }
            Ok(Outcome::ok())
        }
        Released::NotHeld => {
            if g.json {
                print_json(&serde_json::json!({"name": name, "released": false}));
            } else {
                eprintln!("portreg: {name} is not held by any live process; nothing to do");
            }
            Ok(Outcome::nothing())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::dotenv_line;

    #[test]
    fn dotenv_lines_are_literal_or_refused() {
        assert_eq!(
            dotenv_line("WEB_URL", "http://127.0.0.1:8080").unwrap(),
            "WEB_URL=http://127.0.0.1:8080"
        );
        for bad in ["a\nb", "a\rb", "'x'", "\"x", "x ", " x", "a #b"] {
            let e = dotenv_line("K", bad).unwrap_err();
            assert_eq!(e.code(), portreg_core::ErrorCode::InvalidText, "{bad:?}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }
}
