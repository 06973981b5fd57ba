//! The `portreg` command line, as a library function so the Rust binary, the
//! Python package and the npm package all run the very same CLI.

use std::ffi::OsString;
use std::io::Write;

use clap::Parser;

mod args;
mod commands;
mod host;
mod output;
mod project;
mod run;
mod table;

use args::Cli;

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
    match commands::dispatch(cli) {
        Ok(o) => o.code,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("portreg: error: {e} [{}]", e.code());
            e.code().exit_code()
        }
    }
}
