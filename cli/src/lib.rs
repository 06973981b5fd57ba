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
/// binary exits next.
fn parse<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut cmd = Cli::command();
    let mut matches = cmd.try_get_matches_from_mut(argv)?;
    let cli = Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut cmd));
    leave_to_exit(matches);
    leave_to_exit(cmd);
    cli
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
