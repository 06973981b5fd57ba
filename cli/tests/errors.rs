//! Every failure, of a command or of the command line itself, is one line on
//! stderr: `portreg: error: MESSAGE [CODE]`, with the documented exit status.

mod common;

use std::process::Command;

use common::*;

/// Asserts `out` failed with `status` and printed exactly one error line
/// ending in `[code]`, and nothing on stdout.
fn assert_one_error_line(args: &[&str], out: &std::process::Output, status: i32, code: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(status), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line:\n{err}");
    assert!(
        err.starts_with("portreg: error: "),
        "{args:?}: no prefix: {err}"
    );
    assert!(
        err.trim_end().ends_with(&format!("[{code}]")),
        "{args:?}: want [{code}]: {err}"
    );
    assert_eq!(stdout(out), "", "{args:?}: stdout should be empty");
}

#[test]
fn command_line_errors_are_one_line_with_a_code() {
    let reg = Reg::new();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["kill", "web", "--timeout", "abc"], 2, "USAGE"),
        (&["kill", "web", "--timeout", "-1"], 2, "USAGE"),
        (&["kill", "web", "--timeout", "3601"], 2, "USAGE"),
        (&["lease"], 2, "USAGE"),
        (&["lease", "web", "--bogus"], 2, "USAGE"),
        (&["frobnicate"], 2, "USAGE"),
        (&["env", "--format", "xml"], 2, "USAGE"),
        (&["lease", "web", "--pid", "x"], 2, "USAGE"),
        (&["lease", "web", "--port", "0"], 2, "INVALID_PORT"),
        (&["reserve", "db", "70000"], 2, "INVALID_PORT"),
        (&["find", "--range", "5-1"], 2, "INVALID_RANGE"),
        (&["lease", "bad name"], 2, "INVALID_NAME"),
        (&["get", "nope"], 1, "NOT_FOUND"),
        (&["get", "--json", "nope"], 1, "NOT_FOUND"),
        (&["release", "nope"], 1, "NOT_FOUND"),
        (&["forget", "nope"], 1, "NOT_FOUND"),
    ];
    for (args, status, code) in cases {
        let out = reg.run(args);
        assert_one_error_line(args, &out, *status, code);
    }
}

#[test]
fn the_usage_error_names_the_bad_value_and_the_usage() {
    let reg = Reg::new();
    let err = stderr(&reg.run(&["kill", "web", "--timeout", "abc"]));
    assert!(err.contains("'abc'") && err.contains("--timeout"), "{err}");
    let err = stderr(&reg.run(&["lease"]));
    assert!(
        err.contains("<NAME>") && err.contains("Usage: portreg lease"),
        "{err}"
    );
}

#[test]
fn no_command_is_a_usage_error_and_help_is_not() {
    let out = Command::new(bin()).output().unwrap();
    assert_one_error_line(&[], &out, 2, "USAGE");
    let out = Command::new(bin()).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("Usage:"));
    assert_eq!(stderr(&out), "");
}
