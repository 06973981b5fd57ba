//! Shell completions and the man page, generated from the clap definitions.

mod common;

use std::process::Command;

use common::*;

fn generated(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    assert_eq!(stderr(&out), "");
    stdout(&out)
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn bash_completion_registers_for_portreg() {
    let script = format!(
        "source <('{}' completions bash) && complete -p portreg",
        bin().display()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("-F _portreg portreg"),
        "{}",
        stdout(&out)
    );
    // It completes the subcommands and their options.
    let script = format!(
        "source <('{}' completions bash) && COMP_WORDS=(portreg le) COMP_CWORD=1 \
         && _portreg portreg le portreg && echo \"${{COMPREPLY[@]}}\"",
        bin().display()
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "lease", "{}", stderr(&out));
}

#[test]
fn zsh_and_fish_completions_name_every_command() {
    for shell in ["zsh", "fish"] {
        let text = generated(&["completions", shell]);
        for cmd in ["lease", "release", "conflicts", "env", "run"] {
            assert!(text.contains(cmd), "{shell} completion lacks {cmd}");
        }
        if have(shell) {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), &text).unwrap();
            let out = Command::new(shell)
                .arg("-n")
                .arg(file.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{shell} -n: {}", stderr(&out));
        } else {
            eprintln!("skipped `{shell} -n` on the {shell} completion: {shell} is not installed");
        }
    }
}

#[test]
fn the_man_page_renders() {
    let page = generated(&["man"]);
    assert!(page.contains(".TH portreg 1"), "{page}");
    if !have("man") {
        eprintln!("skipped rendering with `man -l`: man is not installed");
        return;
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &page).unwrap();
    let out = Command::new("man")
        .arg("-l")
        .arg(file.path())
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .unwrap();
    assert!(out.status.success(), "man -l: {}", stderr(&out));
    let text = stdout(&out);
    for want in ["NAME", "SYNOPSIS", "lease", "--registry"] {
        assert!(text.contains(want), "man page lacks {want}:\n{text}");
    }
}

#[test]
fn completions_and_man_are_hidden_from_help_and_refuse_json() {
    let help = generated(&["--help"]);
    assert!(
        !help.lines().any(|l| {
            let w = l.split_whitespace().next();
            w == Some("completions") || w == Some("man")
        }),
        "{help}"
    );
    let out = Command::new(bin())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).ends_with("[USAGE]\n"), "{}", stderr(&out));
    let out = Command::new(bin())
        .args(["man", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
