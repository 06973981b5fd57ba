//! The `portreg` command line, as a library function so the Rust binary, the
//! Python package and the npm package all run the very same CLI.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{CommandFactory, FromArgMatches};

mod args;
mod commands;
mod generate;
mod host;
mod output;
mod project;
mod run;
mod table;

use args::Cli;

/// The code of a command line clap could not parse (unknown option, missing
/// argument, a value of the wrong type). Exit status 2, as for invalid input.
const USAGE: &str = "USAGE";

/// Set by the `portreg` binary, which exits as soon as [`run`] returns.
static EXITS_AFTER_RUN: AtomicBool = AtomicBool::new(false);

/// Tells [`run`] that the process exits as soon as it returns, as the
/// `portreg` binary does: a large result (a thousand entries are some ten
/// thousand allocations) is then left for the exit to reclaim instead of
/// being freed piece by piece. Callers that go on running (the Python and
/// Node packages) never call it.
pub fn exits_after_run() {
    EXITS_AFTER_RUN.store(true, Ordering::Relaxed);
}

/// Drops `value`, or, in a process that exits right after [`run`], leaves
/// it to the exit.
fn leave_to_exit<T>(value: T) {
    if EXITS_AFTER_RUN.load(Ordering::Relaxed) {
        std::mem::forget(value);
    }
}

/// Runs the CLI on `argv` (program name first) and returns the exit status.
/// Output goes to this process's stdout and stderr.
pub fn run<I, T>(argv: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match parse(argv) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help and --version: clap's own text on stdout.
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            let (message, code, status) = usage_error(&e);
            eprintln!("portreg: error: {message} [{code}]");
            return status;
        }
    };
    if let Err(message) = cli.check() {
        eprintln!("portreg: error: {message} [{USAGE}]");
        return 2;
    }
    // Generated from the definitions: no registry involved.
    match cli.command {
        args::Command::Completions { shell } => return generate::completions(shell),
        args::Command::Man => return generate::man(),
        _ => {}
    }
    match commands::dispatch(cli) {
        Ok(o) => o.code,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("portreg: error: {e} [{}]", e.code());
            e.code().exit_code()
        }
    }
}

/// `Cli::try_parse_from(argv)`, leaving the command definition it builds and
/// the matches it reads (a few hundred allocations) to the exit, when the
/// binary exits next. `get NAME` and `list` are read by [`quick_read`] instead.
fn parse<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    if let Some(cli) = quick_read(&argv) {
        return Ok(cli);
    }
    let mut cmd = Cli::command();
    let mut matches = cmd.try_get_matches_from_mut(argv)?;
    let cli = Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut cmd));
    leave_to_exit(matches);
    leave_to_exit(cmd);
    cli
}

/// The two commands run most, `portreg get NAME` (what a script runs for
/// each port it needs: `PORT=$(portreg get web)`) and `portreg list`, read
/// without clap. Before it reads a word, clap builds the definition of
/// every command and copies the global options into each. Of a `get` on a
/// registry of 100 names, that was 154,000 of 937,000 instructions
/// (callgrind), 53 of 160 page faults (`perf stat`) and 0.2 of 1.0 ms
/// (`hyperfine -N`).
///
/// Taken only for `get NAME` (UTF-8, not an option) and for `list` with
/// `--all` (`-a`) and `--host` at most once each after it, with the global
/// options anywhere, once each (`--json`, `--registry DIR`,
/// `--registry=DIR`): words clap reads the same way (the tests below hold
/// the two to it). Anything else, `--help` or a second name included, goes
/// to clap, which says what is wrong.
fn quick_read(argv: &[OsString]) -> Option<Cli> {
    let mut registry: Option<PathBuf> = None;
    let mut json = false;
    // The command's name and its arguments, then its options (which clap
    // takes only after its name).
    let mut words: Vec<&str> = Vec::with_capacity(2);
    let mut options: Vec<&str> = Vec::with_capacity(2);
    let mut rest = argv.iter().skip(1);
    while let Some(arg) = rest.next() {
        let bytes = arg.as_bytes();
        if arg == "--json" && !json {
            json = true;
        } else if arg == "--registry" && registry.is_none() {
            let dir = rest.next()?;
            if dir.is_empty() || dir.as_bytes().starts_with(b"-") {
                return None;
            }
            registry = Some(dir.into());
        } else if let Some(dir) = bytes.strip_prefix(b"--registry=") {
            if registry.is_some() || dir.is_empty() {
                return None;
            }
            registry = Some(OsStr::from_bytes(dir).into());
        } else if bytes.starts_with(b"-") {
            if words.is_empty() || options.len() == 2 {
                return None;
            }
            options.push(arg.to_str()?);
        } else if words.len() < 2 {
            words.push(arg.to_str()?);
        } else {
            return None;
        }
    }
    let command = match (&words[..], &options[..]) {
        (["get", name], []) => args::Command::Get {
            name: name.to_string(),
        },
        (["list"], options) => {
            let (mut all, mut host) = (false, false);
            for option in options {
                match *option {
                    "--all" | "-a" if !all => all = true,
                    "--host" if !host => host = true,
                    _ => return None,
                }
            }
            args::Command::List { all, host }
        }
        _ => return None,
    };
    Some(Cli {
        global: args::Global { registry, json },
        command,
    })
}

/// One line for a clap error: its message with the usage it names, the code
/// of a portreg value that failed to parse (INVALID_PORT...) or USAGE, and
/// the exit status.
fn usage_error(e: &clap::Error) -> (String, &'static str, i32) {
    if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let message = "a command is required (`portreg --help` lists them). \
                       Usage: portreg [OPTIONS] <COMMAND>";
        return (message.to_string(), USAGE, 2);
    }
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim);
    let first: Vec<&str> = lines.by_ref().take_while(|l| !l.is_empty()).collect();
    let joined = first.join(" ");
    let mut message = joined
        .strip_prefix("error: ")
        .unwrap_or(&joined)
        .to_string();
    for line in lines {
        if let Some(tip) = line.strip_prefix("tip: ") {
            message.push_str(&format!("; tip: {tip}"));
        } else if let Some(usage) = line.strip_prefix("Usage: ") {
            message.push_str(&format!(". Usage: {usage}"));
        }
    }
    let inner = std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<portreg_core::Error>())
        .map(|pe| pe.code());
    match inner {
        Some(code) => (message, code.as_str(), code.exit_code()),
        None => (message, USAGE, 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use proptest::prelude::*;
    use std::os::unix::ffi::OsStringExt;

    /// What clap makes of `argv`: the command line read, or the error's kind.
    fn clap_reads(argv: &[OsString]) -> String {
        match Cli::try_parse_from(argv) {
            Ok(cli) => format!("{cli:?}"),
            Err(e) => format!("error {:?}", e.kind()),
        }
    }

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn get_and_list_are_read_without_clap_as_clap_reads_them() {
        let mut taken: Vec<Vec<OsString>> = ["web", "Web.api-2", "help", "get", "", "ünï", "a b"]
            .iter()
            .map(|name| os(&["portreg", "get", name]))
            .collect();
        taken.extend([
            os(&["portreg", "--registry", "/tmp/r", "get", "web"]),
            os(&["portreg", "get", "web", "--registry=/tmp/r"]),
            os(&["portreg", "get", "--registry", "get", "web"]),
            os(&["portreg", "--json", "get", "web"]),
            os(&["portreg", "get", "--json", "web", "--registry", "/tmp/r"]),
            os(&["portreg", "list"]),
            os(&["portreg", "list", "-a"]),
            os(&["portreg", "--json", "list", "--all", "--host"]),
            os(&["portreg", "list", "--host", "--registry", "/tmp/r", "--all"]),
            vec![
                "portreg".into(),
                "--registry".into(),
                OsString::from_vec(vec![0xff]),
                "get".into(),
                "web".into(),
            ],
        ]);
        for argv in &taken {
            let quick = quick_read(argv).unwrap_or_else(|| panic!("{argv:?} went to clap"));
            assert_eq!(format!("{quick:?}"), clap_reads(argv), "{argv:?}");
        }
        // Anything else is clap's.
        for argv in [
            os(&["portreg", "get"]),
            os(&["portreg", "get", "-web"]),
            os(&["portreg", "get", "--"]),
            os(&["portreg", "get", "--", "web"]),
            os(&["portreg", "get", "-h"]),
            os(&["portreg", "get", "web", "--help"]),
            os(&["portreg", "--json", "--json", "get", "web"]),
            os(&["portreg", "--registry", "get", "web"]),
            os(&["portreg", "--registry=", "get", "web"]),
            os(&["portreg", "--registry", "-r", "get", "web"]),
            os(&["portreg", "--registry=a", "--registry=b", "get", "web"]),
            os(&["portreg", "get", "web", "api"]),
            os(&["portreg", "GET", "web"]),
            os(&["portreg", "lease", "web"]),
            os(&["portreg", "web", "get"]),
            os(&["portreg", "list", "web"]),
            os(&["portreg", "list", "-a", "--all"]),
            os(&["portreg", "list", "--host", "--host"]),
            os(&["portreg", "list", "-ah"]),
            os(&["portreg", "list", "--all=true"]),
            os(&["portreg", "--all", "list"]),
            os(&["portreg", "get", "--all", "web"]),
            vec![
                "portreg".into(),
                "get".into(),
                OsString::from_vec(vec![0xff, b'a']),
            ],
        ] {
            assert!(quick_read(&argv).is_none(), "{argv:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// On command lines made of words that clap reads in different
        /// ways, whatever the quick read answers, clap answers the same.
        /// Most start with a global option or a command the quick read
        /// takes, so that it answers often (about one case in ten).
        #[test]
        fn the_quick_read_agrees_with_clap(
            head in prop::sample::select(vec![
                "get", "list", "--json", "--registry", "--registry=/tmp/r", "lease", "-a",
            ]),
            tail in prop::collection::vec(
                prop_oneof![
                    // Words the quick read takes...
                    3 => prop::sample::select(vec![
                        "get", "list", "web", "--json", "-a", "--all", "--host",
                        "--registry=/tmp/r",
                    ]),
                    // ...and words it leaves to clap, or that clap reads
                    // in another way.
                    1 => prop::sample::select(vec![
                        "-", "--", "-w", "--registry", "--registry=", "/tmp/r", "--help",
                        "-V", "", "help", "ünï", "<0xff>", "-ah",
                    ]),
                ],
                0..4,
            ),
        ) {
            let words = std::iter::once(head).chain(tail);
            let argv: Vec<OsString> = std::iter::once("portreg")
                .chain(words)
                .map(|w| match w {
                    "<0xff>" => OsString::from_vec(vec![0xff]),
                    w => w.into(),
                })
                .collect();
            if let Some(quick) = quick_read(&argv) {
                prop_assert_eq!(format!("{quick:?}"), clap_reads(&argv));
            }
        }
    }
}
