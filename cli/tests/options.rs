//! The command line's shape: `help SUBCOMMAND`, help text for every
//! argument, and `--json` only where it changes what is printed.

mod common;

use std::process::Command;

use common::*;

const COMMANDS: &[&str] = &[
    "lease",
    "release",
    "get",
    "list",
    "reserve",
    "forget",
    "rename",
    "find",
    "clean",
    "who",
    "conflicts",
    "kill",
    "run",
    "dashboard",
    "up",
    "down",
    "ps",
    "logs",
    "restart",
    "env",
];

fn help(cmd: &str) -> String {
    let out = Command::new(bin()).args(["help", cmd]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "help {cmd}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn help_subcommand_shows_the_same_text_as_dash_dash_help() {
    for cmd in COMMANDS {
        let text = help(cmd);
        let flag = Command::new(bin()).args([cmd, "--help"]).output().unwrap();
        assert_eq!(text, stdout(&flag), "help {cmd} differs from {cmd} --help");
        assert!(
            text.contains(&format!("Usage: portreg {cmd}")),
            "help {cmd}:\n{text}"
        );
    }
    let out = Command::new(bin()).args(["help", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("portreg: error: "));
}

#[test]
fn every_argument_and_option_has_help_text() {
    for cmd in COMMANDS {
        let text = help(cmd);
        for line in text.lines() {
            let l = line.trim_start();
            // An argument or option line: "<NAME>  text", "--range <A-B>  text".
            if !(l.starts_with('<') || l.starts_with("--") || l.starts_with("-")) {
                continue;
            }
            if line.starts_with("Usage") || !line.starts_with("  ") {
                continue;
            }
            let parts: Vec<&str> = l.splitn(2, "  ").collect();
            assert!(
                parts.len() == 2 && !parts[1].trim().is_empty(),
                "`portreg {cmd}`: no help text for {l:?}\n{text}"
            );
        }
    }
}

#[test]
fn json_is_refused_where_it_would_do_nothing() {
    let reg = Reg::new();
    for args in [
        &["run", "--json", "web", "--", "true"][..],
        &["--json", "run", "web", "--", "true"],
        &["dashboard", "--json"],
        &["up", "--json"],
        &["down", "--json"],
        &["logs", "--json"],
        &["restart", "--json", "api"],
    ] {
        let out = reg.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("--json") && err.ends_with("[USAGE]\n"),
            "{err}"
        );
        assert_eq!(stdout(&out), "");
    }
    // run --json started nothing: the registry does not know web.
    assert_eq!(reg.run(&["get", "web"]).status.code(), Some(1));
}

#[test]
fn env_json_is_format_json() {
    let reg = Reg::new();
    assert!(reg.run(&["reserve", "web", "8123"]).status.success());
    let a = reg.run(&["env", "--json"]);
    let b = reg.run(&["env", "--format", "json"]);
    let c = reg.run(&["env", "--format", "json", "--json"]);
    assert!(a.status.success() && b.status.success() && c.status.success());
    assert_eq!(stdout(&a), stdout(&b));
    assert_eq!(stdout(&a), stdout(&c));
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["WEB_PORT"], "8123");
    let out = reg.run(&["env", "--json", "--format", "dotenv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("[USAGE]"));
    assert!(stdout(&reg.run(&["env"])).starts_with("export WEB_PORT="));
}
