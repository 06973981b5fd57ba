//! Exit statuses a script can use under `set -e`: `clean` is maintenance
//! (0 whether or not anything was stale); `conflicts` is a check, as linters
//! are (0 when there is none, 1 when there are).

mod common;

use std::process::Command;

use common::*;

/// Runs `script` with `sh -e`, `$P` being portreg on `reg`'s registry.
fn sh_e(reg: &Reg, script: &str) -> std::process::Output {
    Command::new("sh")
        .arg("-ec")
        .arg(script)
        .env("P", bin())
        .env("R", &reg.path)
        .env_remove("PORTREG_HOME")
        .env_remove("PORTREG_RANGE")
        .output()
        .unwrap()
}

#[test]
fn clean_succeeds_under_set_e_with_and_without_stale_leases() {
    let reg = Reg::new();
    let out = sh_e(
        &reg,
        r#"
        "$P" --registry "$R" clean
        # a lease whose holder (this inner shell) exits at once
        sh -c '"$P" --registry "$R" lease stale --range 27400-27499 >/dev/null'
        "$P" --registry "$R" clean
        "$P" --registry "$R" clean
        echo survived
        "#,
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{}{}", text, stderr(&out));
    assert!(text.contains("dropped stale"), "{text}");
    assert!(text.trim_end().ends_with("survived"), "{text}");
    assert_eq!(
        stderr(&out).matches("nothing to clean").count(),
        2,
        "{}",
        stderr(&out)
    );
}

#[test]
fn conflicts_is_zero_when_none_and_one_when_some() {
    let reg = Reg::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    assert!(reg
        .run(&["reserve", "db", &port.to_string()])
        .status
        .success());
    let out = sh_e(&reg, r#""$P" --registry "$R" conflicts; echo survived"#);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "survived\n");

    // Something outside the registry listens on db's port.
    let _held = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let out = reg.run(&["conflicts"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("db"), "{}", stdout(&out));
    let out = reg.run(&["conflicts", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["entry"]["name"], "db");
    let out = sh_e(
        &reg,
        r#""$P" --registry "$R" conflicts >/dev/null; echo survived"#,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "", "set -e stopped the script");
}
