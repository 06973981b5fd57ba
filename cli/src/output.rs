//! How a command's results reach stdout, and the status it asks to exit with.

use std::io::Write;

/// What a command asks `run` to print and exit with.
pub(crate) struct Outcome {
    pub(crate) code: i32,
}

impl Outcome {
    pub(crate) fn ok() -> Outcome {
        Outcome { code: 0 }
    }
    pub(crate) fn nothing() -> Outcome {
        Outcome { code: 1 }
    }
}

pub(crate) fn print_json<T: serde::Serialize>(v: &T) {
    // Buffered: stdout flushes at every newline, and pretty JSON has one per
    // field (`list --json` of 1,000 names made 27,002 writes).
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let _ = serde_json::to_writer_pretty(&mut out, v);
    let _ = writeln!(out);
    let _ = out.flush();
}

/// Prints the one error line (`portreg: error: MESSAGE [CODE]`) of a failure
/// the command words itself, and exits with the code's status.
pub(crate) fn fail(message: &str, code: portreg_core::ErrorCode) -> Outcome {
    let _ = std::io::stdout().flush();
    eprintln!("portreg: error: {message} [{code}]");
    Outcome {
        code: code.exit_code(),
    }
}
