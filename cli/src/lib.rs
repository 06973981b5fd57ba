//! The `portreg` command line, as a library function so the Rust binary, the
//! Python package and the npm package all run the very same CLI.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use portreg_core::{Actor, Entry, LeaseRequest, PortRange, Registry, Released, State, Target};

mod host;
mod project;
mod run;
mod table;

const AFTER_HELP: &str = "\
Examples:
  portreg lease web                 lease a port for \"web\" (held by your shell)
  PORT=$(portreg lease api) && ./serve --port \"$PORT\"
  portreg list                      what is held and reserved, for people
  portreg list --all --json         everything, for scripts
  portreg get web                   print web's port (exit 1 if unknown)
  portreg reserve db 5432 -d 'postgres, pinned'
  portreg release web               make web idle (its port is remembered)

Registry: $PORTREG_HOME, else ~/.portreg (or --registry DIR).
Exit codes: 0 ok, 1 not found / nothing to do, 2 usage or invalid input,
3 LEASE_HELD, 4 PORT_TAKEN, 5 PORT_BUSY, 6 NO_FREE_PORT, 7 NOT_HOLDER,
8 REGISTRY_CORRUPT, 9 REGISTRY_VERSION, 10 PERMISSION, 11 IO, 12 PROCESS,
13 INTERNAL, 14 INVALID_CONFIG, 15 REGISTRY_FULL, 16 LOCK_TIMEOUT.";

#[derive(Parser, Debug)]
#[command(
    name = "portreg",
    version,
    about = "Named port leases for local services, shared by every language",
    long_about = "portreg gives each named service a port from one registry that every process \
                  of yours shares (Rust, C, Python, Node, shell). A lease is held by a live \
                  process; when it exits the name turns idle and keeps its port for next time.",
    after_help = AFTER_HELP,
    disable_help_subcommand = true
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct Global {
    /// Registry directory (default: $PORTREG_HOME, else ~/.portreg)
    #[arg(long, global = true, value_name = "DIR")]
    registry: Option<PathBuf>,
    /// Print JSON for scripts instead of text for people
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Lease a port for NAME and print it; the holder is the calling shell or script
    #[command(
        after_help = "Examples:\n  portreg lease web\n  portreg lease api --port 8000          # 8000 if free, else another\n  portreg lease api --port 8000 --exact  # 8000 or fail\n  PORT=$(portreg lease web) && python -m http.server \"$PORT\""
    )]
    Lease {
        #[command(flatten)]
        want: Want,
        /// Holder process (default: the parent of this command, i.e. your shell or script)
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
        /// Extra facts, KEY=VALUE (repeatable): project dir, health URL...
        #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = portreg_core::parse_meta_fact)]
        meta: Vec<(String, String)>,
    },
    /// Release NAME: it turns idle and remembers its port
    Release { name: String },
    /// Print NAME's port (exit 1 if the registry does not know NAME)
    Get { name: String },
    /// List held and reserved names (--all adds idle ones)
    List {
        /// Include idle names (their holder is gone; the port is remembered)
        #[arg(long, short = 'a')]
        all: bool,
        /// Every port claim on this host, of every user (port, user, alive)
        #[arg(long)]
        host: bool,
    },
    /// Pin NAME to PORT (no process needed); running it again is harmless
    Reserve {
        name: String,
        #[arg(value_parser = parse_port)]
        port: u16,
        /// A description shown by `list`
        #[arg(short = 'd', long = "description", value_name = "TEXT")]
        description: Option<String>,
    },
    /// Remove NAME from the registry
    Forget {
        name: String,
        /// Forget it even while a live process holds it
        #[arg(long)]
        force: bool,
    },
    /// Rename OLD to NEW, keeping its port, reservation, description and holder
    #[command(
        after_help = "The entry keeps everything but its name; a process holding it keeps holding\n\
it under NEW. NEW may differ from OLD only in case, or be a name the registry\n\
does not know.\n\n\
Examples:\n  portreg rename web shop-web\n  portreg rename api API --force"
    )]
    Rename {
        /// The name the registry knows now
        old: String,
        /// The name it should have
        new: String,
        /// Rename it even while another live process holds it
        #[arg(long)]
        force: bool,
    },
    /// Print a port that is free right now (leases nothing: prefer `lease`)
    Find {
        #[arg(long, value_name = "A-B", value_parser = parse_range)]
        range: Option<PortRange>,
    },
    /// Drop leases whose holder has died (exit 1 if there were none)
    Clean,
    /// Who listens on PORT (or NAME's port), and which name claims it
    #[command(
        after_help = "A target of digits is a port (as is :PORT); names may start with a digit too,\n\
so give --name for a name made only of digits.\n\n\
Examples:\n  portreg who 8000\n  portreg who :8000\n  portreg who web\n  portreg who --name 2048\n  portreg who 8000 --json"
    )]
    Who {
        /// A port number (8000 or :8000), or a name
        target: String,
        /// Read TARGET as a name even when it is all digits
        #[arg(long)]
        name: bool,
    },
    /// Entries whose port another process listens on (exit 1 if none)
    Conflicts,
    /// Stop NAME's holder or whatever listens on :PORT (SIGTERM, wait, SIGKILL)
    #[command(
        after_help = "A target of digits is a port (as is :PORT); names may start with a digit too,\n\
so give --name for a name made only of digits.\n\n\
A holder that leads its own process group (`portreg run` starts commands so)\n\
is stopped with every process of its group. Another user's process needs\n\
--any-user, even as root.\n\n\
Examples:\n  portreg kill web            # the process holding web\n  portreg kill :8000          # whatever listens on port 8000\n  portreg kill 8000 --timeout 3"
    )]
    Kill {
        /// NAME, or a port (8000 or :8000)
        target: String,
        /// Read TARGET as a name even when it is all digits
        #[arg(long)]
        name: bool,
        /// Seconds to wait after SIGTERM before SIGKILL, 0 to 3600 (default 10)
        #[arg(long, value_name = "S")]
        timeout: Option<f64>,
        /// As root, also stop another user's process (refused without it)
        #[arg(long)]
        any_user: bool,
    },
    /// Lease NAME, run CMD on the port, release when it exits
    #[command(
        after_help = "CMD gets PORT, <NAME>_PORT and <NAME>_URL in its environment, and every {port}\n\
in its arguments is replaced by the port (many dev servers ignore $PORT).\n\n\
Examples:\n  portreg run api -- uvicorn app:app --port {port}\n  portreg run web -- npx vite --port {port} --strictPort\n  portreg run api --socket -- uvicorn app:app --fd 3   # socket handed over as fd 3"
    )]
    Run {
        #[command(flatten)]
        want: Want,
        /// Bind the port here and hand the listening socket to CMD as fd 3
        /// (systemd protocol: LISTEN_FDS=1, LISTEN_PID, LISTEN_FDNAMES=NAME)
        #[arg(long)]
        socket: bool,
        /// Address the --socket listener binds
        #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
        host: std::net::IpAddr,
        /// Warn when CMD has not listened on its port after this many seconds (0: never)
        #[arg(long, default_value_t = 30.0, value_name = "S")]
        bind_timeout: f64,
        /// The command and its arguments
        #[arg(last = true, required = true, value_name = "CMD")]
        cmd: Vec<OsString>,
    },
    /// Serve a live web page of every service on 127.0.0.1, with stable
    /// http://NAME.localhost:PORT/ URLs
    #[command(
        after_help = "The dashboard leases its port under the name portreg-dashboard; a second one\n\
started on the same registry says where the first runs and exits 1. --port is\n\
exact (bookmarks and NAME.localhost URLs name it): when the port is taken the\n\
dashboard says by whom and exits. `portreg reserve portreg-dashboard PORT`\n\
changes the default.\n\n\
Examples:\n  portreg dashboard                 # http://127.0.0.1:8069/\n  portreg dashboard --open          # and open it in your browser\n  portreg dashboard --port 9069\n  curl http://web.localhost:8069/   # whatever port web holds now"
    )]
    Dashboard {
        /// Port to serve on, exactly (default 8069, or the port
        /// portreg-dashboard is reserved on)
        #[arg(long, value_name = "P", value_parser = parse_port)]
        port: Option<u16>,
        /// Open the page in your browser (xdg-open) once it is serving
        #[arg(long)]
        open: bool,
    },
    #[command(flatten)]
    Project(project::ProjectCommand),
    /// Print NAME_PORT and NAME_URL for active and reserved names
    #[command(
        after_help = "Examples:\n  eval \"$(portreg env)\"\n  portreg env --format dotenv > .env\n  portreg env web api --format json"
    )]
    Env {
        /// sh (export lines), dotenv, or json
        #[arg(long, value_enum, default_value = "sh")]
        format: EnvFormat,
        /// Only these names (default: every active and reserved one)
        names: Vec<String>,
    },
}

/// What `lease` and `run` ask for: a name and how to choose its port.
#[derive(Args, Debug)]
struct Want {
    /// The service's name: 1-64 letters, digits, '.', '_', '-' (case-insensitive)
    name: String,
    /// Preferred port (a preference unless --exact)
    #[arg(long, value_name = "P", value_parser = parse_port)]
    port: Option<u16>,
    /// Fail (PORT_TAKEN / PORT_BUSY) instead of moving off --port
    #[arg(long)]
    exact: bool,
    /// Where to allocate a new port, LOW-HIGH
    #[arg(long, value_name = "A-B", value_parser = parse_range)]
    range: Option<PortRange>,
    /// A description shown by `list`
    #[arg(short = 'd', long = "description", value_name = "TEXT")]
    description: Option<String>,
}

impl Want {
    fn request(self) -> LeaseRequest {
        let mut req = LeaseRequest::new(self.name);
        req.port = self.port;
        req.exact = self.exact;
        req.range = self.range;
        req.description = self.description;
        req
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum EnvFormat {
    Sh,
    Dotenv,
    Json,
}

/// 'it'\''s' quoting for POSIX shells.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn parse_port(s: &str) -> Result<u16, String> {
    portreg_core::allocate::parse_port(s).map_err(|e| format!("{e} [{}]", e.code()))
}

fn parse_range(s: &str) -> Result<PortRange, String> {
    s.parse::<PortRange>()
        .map_err(|e| format!("{e} [{}]", e.code()))
}

/// What a command asks `run` to print and exit with.
struct Outcome {
    code: i32,
}

impl Outcome {
    fn ok() -> Outcome {
        Outcome { code: 0 }
    }
    fn nothing() -> Outcome {
        Outcome { code: 1 }
    }
}

/// Runs the CLI on `argv` (program name first) and returns the exit status.
/// Output goes to this process's stdout and stderr.
pub fn run<I, T>(argv: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match dispatch(cli) {
        Ok(o) => o.code,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("portreg: error: {e} [{}]", e.code());
            e.code().exit_code()
        }
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

fn print_json<T: serde::Serialize>(v: &T) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, v);
    let _ = writeln!(out);
}

fn dispatch(cli: Cli) -> portreg_core::Result<Outcome> {
    let g = &cli.global;
    let reg = open(g)?;
    match cli.command {
        Command::Lease { want, pid, meta } => {
            let mut req = want.request();
            req.pid = Some(pid.unwrap_or_else(|| nix::unistd::getppid().as_raw() as u32));
            if !meta.is_empty() {
                req.meta = Some(meta.into_iter().collect());
            }
            let lease = reg.lease(&req)?;
            if g.json {
                let entry = reg.get(&lease.name)?;
                print_json(&entry);
            } else {
                println!("{}", lease.port);
            }
            Ok(Outcome::ok())
        }
        Command::Release { name } => match reg.release(&name, Actor::Force)? {
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
        },
        Command::Get { name } => match reg.get(&name)? {
            Some(e) => {
                if g.json {
                    print_json(&e);
                } else {
                    println!("{}", e.port);
                }
                Ok(Outcome::ok())
            }
            None => {
                if g.json {
                    println!("null");
                }
                eprintln!("portreg: {name:?} is not in the registry; `portreg list --all` shows the names it knows");
                Ok(Outcome::nothing())
            }
        },
        Command::List { host: true, .. } => Ok(match host::list(&reg, g.json)? {
            true => Outcome::ok(),
            false => Outcome::nothing(),
        }),
        Command::List { all, .. } => {
            let mut entries: Vec<Entry> = reg.list()?;
            if !g.json {
                // For people, the services of a project (`portreg up`) sit
                // together, one checkout after another, after everything
                // else in port order. --json keeps port order.
                entries.sort_by_key(|e| {
                    e.meta
                        .get("portreg.project")
                        .map(|p| (p.clone(), e.meta.get("portreg.checkout").cloned()))
                });
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
            Ok(Outcome::ok())
        }
        Command::Reserve {
            name,
            port,
            description,
        } => {
            let e = reg.reserve(&name, port, description.as_deref())?;
            if g.json {
                print_json(&e);
            } else {
                println!("reserved {} on port {}", e.name, e.port);
            }
            Ok(Outcome::ok())
        }
        Command::Forget { name, force } => {
            let e = reg.forget(&name, force)?;
            if g.json {
                print_json(&e);
            } else {
                println!("forgot {} (port {})", e.name, e.port);
            }
            Ok(Outcome::ok())
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
        Command::Clean => {
            let cleaned = reg.clean()?;
            if g.json {
                print_json(&cleaned);
            } else if cleaned.is_empty() {
                eprintln!("portreg: every lease has a live holder; nothing to clean");
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
            }
            Ok(if cleaned.is_empty() {
                Outcome::nothing()
            } else {
                Outcome::ok()
            })
        }
        Command::Who { target, name } => {
            let who = reg.who(&target_arg(&target, name)?)?;
            let others = host::others_on(&reg, who.port)?;
            let found = !who.listeners.is_empty() || who.entry.is_some() || !others.is_empty();
            if g.json {
                print_json(&host::who_json(&who, &others));
            } else {
                table::print_who(&who);
                host::print_others(&others);
            }
            Ok(if found {
                Outcome::ok()
            } else {
                Outcome::nothing()
            })
        }
        Command::Conflicts => {
            let conflicts = reg.conflicts()?;
            let clashes = host::clashes(&reg)?;
            if g.json {
                print_json(&host::conflicts_json(&conflicts, &clashes));
            } else if conflicts.is_empty() && clashes.is_empty() {
                eprintln!("portreg: no conflicts: no entry's port is taken by a process outside the registry");
            } else {
                table::print_conflicts(&conflicts);
                host::print_clashes(&clashes);
            }
            Ok(if conflicts.is_empty() && clashes.is_empty() {
                Outcome::nothing()
            } else {
                Outcome::ok()
            })
        }
        Command::Kill {
            target,
            name,
            timeout,
            any_user,
        } => {
            let timeout = portreg_core::target::kill_timeout(timeout)?;
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
            let req = want.request();
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
        Command::Env { format, names } => {
            let vars = reg.env(&names)?;
            let format = if g.json { EnvFormat::Json } else { format };
            match format {
                EnvFormat::Json => {
                    let map: serde_json::Map<String, serde_json::Value> =
                        vars.into_iter().map(|(k, v)| (k, v.into())).collect();
                    print_json(&map);
                }
                EnvFormat::Sh => vars
                    .iter()
                    .for_each(|(k, v)| println!("export {k}={}", sh_quote(v))),
                EnvFormat::Dotenv => vars
                    .iter()
                    .for_each(|(k, v)| println!("{k}={}", sh_quote(v))),
            }
            Ok(Outcome::ok())
        }
    }
}
