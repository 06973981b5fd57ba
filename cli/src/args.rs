//! The command line's shape: every command, option and help text (clap).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use portreg_core::{LeaseRequest, PortRanges};

use crate::project;

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
Errors are one line on stderr: `portreg: error: MESSAGE [CODE]`.
Exit codes: 0 ok, 1 not found / nothing to do / `conflicts` found some,
2 usage (USAGE) or invalid input,
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
    after_help = AFTER_HELP
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct Global {
    /// Registry directory (default: $PORTREG_HOME, else ~/.portreg)
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) registry: Option<PathBuf>,
    /// Print JSON for scripts instead of text for people (refused by run,
    /// dashboard, up, down, logs and restart, which print no result of their own)
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub(crate) enum Command {
    /// Lease a port for NAME and print it; the holder is the calling shell or script
    #[command(
        after_help = "Examples:\n  portreg lease web\n  portreg lease api --port 8000          # 8000 if free, else another\n  portreg lease api --port 8000 --exact  # 8000 or fail\n  PORT=$(portreg lease web) && python -m http.server \"$PORT\"\n\n\
Without --port, <NAME>_PORT in the environment (NAME upper-cased, '.' and '-' as '_',\n\
as `portreg env` prints it) asks for exactly that port:\n  \
WEB_PORT=3000 portreg lease web          # 3000 or fail"
    )]
    Lease {
        #[command(flatten)]
        want: Want,
        /// Holder process (default: the parent of this command, i.e. your shell or
        /// script). A server already listening on --port P may be given as its
        /// own holder: `lease NAME --port P --exact --pid PID` adopts it.
        #[arg(long, value_name = "PID")]
        pid: Option<u32>,
    },
    /// Release NAME, held by your shell or script: it turns idle and remembers its port
    #[command(
        after_help = "Acts for the holder `lease` records: the parent of this command (your shell or\n\
script), or --pid. A lease another live process holds is refused (NOT_HOLDER)\n\
unless --force: a late release (an EXIT trap, an orphaned script) would free\n\
the port of a running service. A holder that has died counts as none.\n\n\
Examples:\n  PORT=$(portreg lease web) && ...; portreg release web\n  portreg release web --force   # whoever holds it"
    )]
    Release {
        /// The name to release
        name: String,
        /// The holder to release for (default: the parent of this command, as `lease`)
        #[arg(long, value_name = "PID", conflicts_with = "force")]
        pid: Option<u32>,
        /// Release it even while another live process (of yours) holds it
        #[arg(long)]
        force: bool,
    },
    /// Print NAME's port (exit 1 if the registry does not know NAME)
    Get {
        /// The name to look up
        name: String,
    },
    /// List held and reserved names (--all adds idle ones)
    #[command(
        after_help = "SOCKET is `listening` when some process listens on the name's port, `not\n\
listening yet` when the holder is a server that has not bound it yet, and `-`\n\
for idle and reserved names and for a shell holding the lease for the commands\n\
it starts (a shell never listens itself). PID and the command shown by --json\n\
are the holder's as it runs now (a script that exec'd its server shows the\n\
server). A reserved name that is held shows as `active, reserved`.\n\n\
Examples:\n  portreg list\n  portreg list --all --json\n  portreg list --host\n\n\
Exit status: 0 whenever it lists, also when there is nothing to list (with or\n\
without --host; it says so), 2 and up for an error."
    )]
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
        /// The name to pin
        name: String,
        /// The port it keeps, 1-65535
        #[arg(value_parser = parse_port)]
        port: u16,
        /// A description shown by `list`
        #[arg(short = 'd', long = "description", value_name = "TEXT")]
        description: Option<String>,
        /// Extra facts, KEY=VALUE (repeatable), as `lease --meta`
        #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = portreg_core::parse_meta_fact)]
        meta: Vec<(String, String)>,
    },
    /// Remove NAME from the registry
    #[command(
        after_help = "Each NAME is a name or a glob of * and ? (quote it: the shell would expand it),\n\
matched on names ignoring case. Every forgotten name is printed. A name held by\n\
another live process needs --force; without it nothing is forgotten.\n\n\
Examples:\n  portreg forget old-api\n  portreg forget web api db\n  portreg forget 'test-*'\n\n\
Exit status: 0 when something was forgotten, 1 when a glob matched nothing,\n\
2 and up for an error (an unknown NAME is NOT_FOUND)."
    )]
    Forget {
        /// The names to remove, or globs such as 'test-*'
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
        /// Forget them even while a live process holds one
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
    #[command(
        after_help = "The port is picked at random among the first few free ports no name\n\
remembers, so that scripts asking at the same moment rarely get the same one;\n\
rarely is not never. Only `lease` is race-free: a leased port is handed to no\n\
one else, while a found one can be taken by anyone before you bind it.\n\n\
Examples:\n  portreg find\n  portreg find --range 3000-3099,8070-8999\n  \
PORT=$(portreg lease web)   # instead, when the port must stay yours"
    )]
    Find {
        /// Where to look, LOW-HIGH, or several tried in order: 3000-3099,8070-8999
        /// (default: PORTREG_RANGE, the config, else 8070-8999)
        #[arg(long, value_name = "A-B[,C-D]", value_parser = parse_range)]
        range: Option<PortRanges>,
    },
    /// Drop leases whose holder has died (exit 0 whether or not there were any)
    #[command(
        after_help = "With --idle AGE, also forget names nobody holds whose entry last changed\n\
(was last leased, pinned or renamed) more than AGE ago; reserved names stay.\n\
AGE is a duration such as 30m, 2h or 7d. With --json and --idle the output is\n\
{\"dropped\": [...], \"forgotten\": [...]}.\n\n\
Examples:\n  portreg clean\n  portreg clean --idle 7d\n\n\
Exit status: 0 whether or not anything was stale (safe under `set -e`),\n\
2 and up for an error."
    )]
    Clean {
        /// Also forget names idle longer than AGE (30m, 2h, 7d)
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        idle: Option<std::time::Duration>,
    },
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
    /// Entries whose port another process listens on (a check: exit 1 if any)
    #[command(
        after_help = "Exit status, as linters have it: 0 when there are no conflicts, 1 when there\n\
are (listed on stdout), 2 and up for an error.\n\n\
Examples:\n  portreg conflicts || echo \"some port is taken\"\n  portreg conflicts --json"
    )]
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
        #[arg(long, value_name = "S", value_parser = parse_kill_timeout, allow_negative_numbers = true)]
        timeout: Option<std::time::Duration>,
        /// As root, also stop another user's process (refused without it)
        #[arg(long)]
        any_user: bool,
    },
    /// Lease NAME, run CMD on the port, release when it exits
    #[command(
        after_help = "CMD gets PORT, <NAME>_PORT and <NAME>_URL in its environment, and every {port}\n\
in its arguments is replaced by the port (many dev servers ignore $PORT). Without --port,\n\
<NAME>_PORT in the environment asks for exactly that port, as with `lease`.\n\n\
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
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell)
    #[command(
        hide = true,
        after_help = "Examples:\n  source <(portreg completions bash)\n  portreg completions zsh > ~/.zfunc/_portreg\n  portreg completions fish > ~/.config/fish/completions/portreg.fish"
    )]
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) of portreg
    #[command(
        hide = true,
        after_help = "Examples:\n  portreg man | man -l -\n  portreg man > ~/.local/share/man/man1/portreg.1"
    )]
    Man,
    /// Print NAME_PORT and NAME_URL for active and reserved names
    #[command(
        after_help = "--json is --format json. dotenv writes KEY=value lines without \
quotes, read alike by `docker run --env-file` and python-dotenv.\n\n\
Examples:\n  eval \"$(portreg env)\"\n  portreg env --format dotenv > .env\n  \
portreg env --prefix APP_ web    # APP_WEB_PORT, APP_WEB_URL\n  portreg env web api --format json"
    )]
    Env {
        /// sh (export lines, the default), dotenv, or json (same as --json)
        #[arg(long, value_enum)]
        format: Option<EnvFormat>,
        /// Put P before every variable: P + WEB_PORT (letters, digits, '_'; not a digit first)
        #[arg(long, value_name = "P", value_parser = env_prefix_arg)]
        prefix: Option<String>,
        /// Only these names (default: every active and reserved one)
        names: Vec<String>,
    },
}

impl Cli {
    /// What clap cannot check: `--json` where it would do nothing, and
    /// `env --json` with another `--format`. The message of a usage error.
    pub(crate) fn check(&self) -> Result<(), String> {
        let json = self.global.json;
        let silent = match &self.command {
            Command::Run { .. } => Some("run"),
            Command::Dashboard { .. } => Some("dashboard"),
            Command::Completions { .. } => Some("completions"),
            Command::Man => Some("man"),
            Command::Project(p) => p.prints_no_json(),
            Command::Env {
                format: Some(f), ..
            } if json && *f != EnvFormat::Json => {
                return Err(format!(
                    "env: --json is --format json; it cannot go with --format {}",
                    f.name()
                ))
            }
            _ => None,
        };
        match silent {
            Some(cmd) if json => Err(format!(
                "{cmd} does not take --json: it prints no result a script could read as JSON"
            )),
            _ => Ok(()),
        }
    }
}

// What `lease` and `run` ask for: a name and how to choose its port (a plain
// comment: a doc comment would become the about text of both commands).
#[derive(Args, Debug)]
pub(crate) struct Want {
    /// The service's name: 1-64 letters, digits, '.', '_', '-' (case-insensitive)
    name: String,
    /// Preferred port (a preference unless --exact)
    #[arg(long, value_name = "P", value_parser = parse_port)]
    port: Option<u16>,
    /// Fail (PORT_TAKEN / PORT_BUSY) instead of moving off --port
    #[arg(long)]
    exact: bool,
    /// Where to allocate a new port, LOW-HIGH, or several tried in order:
    /// 3000-3099,8070-8999 (default: PORTREG_RANGE, the config, else 8070-8999)
    #[arg(long, value_name = "A-B[,C-D]", value_parser = parse_range)]
    range: Option<PortRanges>,
    /// A description shown by `list`
    #[arg(short = 'd', long = "description", value_name = "TEXT")]
    description: Option<String>,
    /// Forget NAME when the lease ends (released, or its holder gone and
    /// `clean` run) instead of keeping it idle: for tests and one-off scripts
    #[arg(long)]
    temporary: bool,
    /// Extra facts, KEY=VALUE (repeatable): project dir, health URL...
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = portreg_core::parse_meta_fact)]
    meta: Vec<(String, String)>,
}

impl Want {
    /// The request; without --port, a `<NAME>_PORT` set in the environment
    /// (the variable `env` prints for NAME) is the user's override: that
    /// port exactly.
    pub(crate) fn request(self) -> portreg_core::Result<LeaseRequest> {
        let (port, exact) = match self.port {
            Some(p) => (Some(p), self.exact),
            None => match port_from_env(&self.name)? {
                Some(p) => (Some(p), true),
                None => (None, self.exact),
            },
        };
        let mut req = LeaseRequest::new(self.name);
        req.port = port;
        req.exact = exact;
        req.range = self.range;
        req.description = self.description;
        req.temporary = self.temporary;
        if !self.meta.is_empty() {
            req.meta = Some(self.meta.into_iter().collect());
        }
        Ok(req)
    }
}

/// `<NAME>_PORT` from the environment, if set and not empty.
fn port_from_env(name: &str) -> portreg_core::Result<Option<u16>> {
    let var = format!("{}_PORT", portreg_core::process::env_prefix(name));
    let Some(v) = std::env::var_os(&var).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    parse_port(&v.to_string_lossy())
        .map(Some)
        .map_err(|e| match e {
            portreg_core::Error::InvalidPort { value, why } => portreg_core::Error::InvalidPort {
                value,
                why: format!("{why} (from the environment variable {var})"),
            },
            other => other,
        })
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EnvFormat {
    Sh,
    Dotenv,
    Json,
}

impl EnvFormat {
    fn name(self) -> &'static str {
        match self {
            EnvFormat::Sh => "sh",
            EnvFormat::Dotenv => "dotenv",
            EnvFormat::Json => "json",
        }
    }
}

pub(crate) fn parse_port(s: &str) -> portreg_core::Result<u16> {
    portreg_core::allocate::parse_port(s)
}

pub(crate) fn parse_range(s: &str) -> portreg_core::Result<PortRanges> {
    s.parse::<PortRanges>()
}

/// `clean --idle`: a duration such as 90s, 30m, 2h or 7d.
pub(crate) fn parse_age(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration such as 30m, 2h or 7d ({e})"))
}

/// `kill --timeout`: seconds, 0 to 3600.
pub(crate) fn parse_kill_timeout(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    portreg_core::target::kill_timeout(Some(secs)).map_err(|e| e.to_string())
}

/// `env --prefix`: what can start a variable name in every shell.
fn env_prefix_arg(s: &str) -> Result<String, String> {
    let ok = s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} cannot start a variable name: use letters, digits and '_', not a digit first"
        ))
    }
}
