//! `portreg completions SHELL` and `portreg man`: generated from the clap
//! definitions, so they always match the commands this binary parses.

use std::io::Write;

use clap::CommandFactory;

use crate::args::Cli;

/// Writes SHELL's completion script for `portreg` to stdout.
pub(crate) fn completions(shell: clap_complete::Shell) -> i32 {
    // Into memory first: clap_complete panics on a failed write.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "portreg", &mut script);
    let mut out = std::io::stdout().lock();
    finish(out.write_all(&script).and_then(|()| out.flush()))
}

/// Writes the man page (section 1, roff) to stdout.
pub(crate) fn man() -> i32 {
    let mut page = Vec::new();
    let rendered = clap_mangen::Man::new(Cli::command()).render(&mut page);
    let mut out = std::io::stdout().lock();
    finish(
        rendered
            .and_then(|()| out.write_all(&page))
            .and_then(|()| out.flush()),
    )
}

fn finish(r: std::io::Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        // The reader stopped early (`| head`): what it wanted, it has.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("portreg: error: cannot write to stdout: {e} [IO]");
            portreg_core::ErrorCode::Io.exit_code()
        }
    }
}
