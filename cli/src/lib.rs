//! The `portreg` command line, as a library function so the Rust binary, the
//! Python package and the npm package all run the very same CLI.

use std::ffi::OsString;
use std::io::Write;
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
/// binary exits next. `portreg get NAME` is read by [`quick_get`] instead.
fn parse<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    if let Some(cli) = quick_get(&argv) {
        return Ok(cli);
    }
    let mut cmd = Cli::command();
    let mut matches = cmd.try_get_matches_from_mut(argv)?;
    let cli = Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut cmd));
    leave_to_exit(matches);
    leave_to_exit(cmd);
    cli
}

/// `portreg get NAME`, the call a script makes for each port it needs
/// (`PORT=$(portreg get web)`), read without clap. Before it reads a word,
/// clap builds the definition of every command and copies the global
/// options into each. Of a `get` on a registry of 100 names, that was
/// 154,000 of 937,000 instructions (callgrind), 53 of 160 page faults (`perf
/// stat`) and 0.2 of 1.0 ms (`hyperfine -N`). Taken only for exactly `get`
/// and one UTF-8 word that is not an option, which clap reads the same way
/// (the tests below hold the two to it); anything else, `--json` or `--help`
/// included, goes to clap.
fn quick_get(argv: &[OsString]) -> Option<Cli> {
    let [_, command, name] = argv else {
        return None;
    };
    let name = name.to_str()?;
    if command != "get" || name.starts_with('-') {
        return None;
    }
    Some(Cli {
        global: args::Global {
            registry: None,
            json: false,
        },
        command: args::Command::Get {
            name: name.to_string(),
        },
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
    fn get_and_a_name_is_read_without_clap_as_clap_reads_it() {
        for name in ["web", "Web.api-2", "help", "get", "", "ünï", "a b", "--"] {
            let argv = os(&["portreg", "get", name]);
            let quick = quick_get(&argv);
            if name.starts_with('-') {
                assert!(quick.is_none(), "{name}");
                continue;
            }
            let quick = quick.unwrap_or_else(|| panic!("{name:?} went to clap"));
            assert_eq!(format!("{quick:?}"), clap_reads(&argv), "{name:?}");
        }
        // Anything else is clap's.
        for argv in [
            os(&["portreg", "get"]),
            os(&["portreg", "get", "-web"]),
            os(&["portreg", "get", "-h"]),
            os(&["portreg", "get", "web", "--json"]),
            os(&["portreg", "--json", "get", "web"]),
            os(&["portreg", "get", "web", "api"]),
            os(&["portreg", "GET", "web"]),
            os(&["portreg", "lease", "web"]),
            vec![
                "portreg".into(),
                "get".into(),
                OsString::from_vec(vec![0xff, b'a']),
            ],
        ] {
            assert!(quick_get(&argv).is_none(), "{argv:?}");
        }
    }

    proptest! {
        /// On command lines made of words that clap reads in different
        /// ways, whatever the quick read answers, clap answers the same.
        #[test]
        fn the_quick_read_agrees_with_clap(
            words in prop::collection::vec(
                prop::sample::select(vec![
                    "get", "list", "web", "-", "--", "-w", "--json", "--registry",
                    "/tmp/r", "--help", "-V", "", "help", "ünï", "<0xff>",
                ]),
                0..4,
            ),
        ) {
            let argv: Vec<OsString> = std::iter::once("portreg")
                .chain(words)
                .map(|w| match w {
                    "<0xff>" => OsString::from_vec(vec![0xff]),
                    w => w.into(),
                })
                .collect();
            if let Some(quick) = quick_get(&argv) {
                prop_assert_eq!(format!("{quick:?}"), clap_reads(&argv));
            }
        }
    }
}
