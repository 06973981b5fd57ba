//! What users of the CLI expect of it, against the real binary and real
//! processes: several fallback ranges, adopting a running server, a `run`
//! that cannot start, current holder details, a released name's own
//! listener, the SOCKET and STATE columns, `find` spreading concurrent
//! callers, `--meta` on run and reserve, and `list --host`'s exit status.

mod common;

use std::process::{Child, Command, Output, Stdio};

use common::listener::python_listener;
use common::*;

/// A python3 child listening on 127.0.0.1:`port`.
fn listener(port: u16) -> Child {
    python_listener("127.0.0.1", port, false)
}

fn stop(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

fn with_range(reg: &Reg, range: &str, args: &[&str]) -> Output {
    reg.cmd()
        .env("PORTREG_RANGE", range)
        .args(args)
        .output()
        .unwrap()
}

fn port_of(out: &Output) -> u16 {
    assert!(out.status.success(), "{}", stderr(out));
    stdout(out).trim().parse().unwrap()
}

fn entry(reg: &Reg, name: &str) -> Option<serde_json::Value> {
    reg.json(&["list", "--all", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .cloned()
}

#[test]
fn several_ranges_are_tried_in_order_from_env_config_and_option() {
    let reg = Reg::new();
    let env = "28000-28001,28010-28019";
    assert_eq!(port_of(&with_range(&reg, env, &["lease", "a"])), 28000);
    assert_eq!(port_of(&with_range(&reg, env, &["lease", "b"])), 28001);
    // The first range is full: the first free port of the next one.
    assert_eq!(port_of(&with_range(&reg, env, &["lease", "c"])), 28010);
    let squat = std::net::TcpListener::bind("127.0.0.1:28011").unwrap();
    assert_eq!(port_of(&with_range(&reg, env, &["lease", "d"])), 28012);
    drop(squat);

    // Only when every range is full: NO_FREE_PORT, naming all of them.
    let full = "28020-28020,28021-28021";
    for n in ["e", "f"] {
        port_of(&with_range(&reg, full, &["lease", n]));
    }
    let out = with_range(&reg, full, &["lease", "g"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("28020-28020,28021-28021")
            && stderr(&out).ends_with("[NO_FREE_PORT]\n"),
        "{}",
        stderr(&out)
    );

    // --range takes the same list, on lease and on find.
    let out = reg.run(&["lease", "h", "--range", "28020-28021,28030-28031"]);
    assert_eq!(port_of(&out), 28030);
    let found = port_of(&reg.run(&["find", "--range", "28020-28021,28040-28040"]));
    assert_eq!(found, 28040);

    // config.toml: a string with commas, or a list of strings.
    let file = reg.path.join("config.toml");
    std::fs::write(&file, "range = \"28050-28050,28060-28069\"\n").unwrap();
    assert_eq!(port_of(&reg.run(&["lease", "i"])), 28050);
    assert_eq!(port_of(&reg.run(&["lease", "j"])), 28060);
    std::fs::write(&file, "range = [\"28050-28050\", \"28070-28079\"]\n").unwrap();
    assert_eq!(port_of(&reg.run(&["lease", "k"])), 28070);

    // A bad list is INVALID_RANGE, naming the part that is wrong.
    for (how, out) in [
        ("env", with_range(&reg, "28000-28009,abc", &["lease", "x"])),
        (
            "option",
            reg.run(&["lease", "x", "--range", "28000-28009,"]),
        ),
        ("find", reg.run(&["find", "--range", "28000-28009,9000-80"])),
    ] {
        assert_eq!(out.status.code(), Some(2), "{how}: {}", stderr(&out));
        assert!(
            stderr(&out).ends_with("[INVALID_RANGE]\n"),
            "{how}: {}",
            stderr(&out)
        );
    }
    std::fs::write(&file, "range = [\"28050-28050\", 28070]\n").unwrap();
    let out = reg.run(&["lease", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("config.toml"), "{}", stderr(&out));
    std::fs::remove_file(&file).unwrap();
    assert!(entry(&reg, "x").is_none());
}

#[test]
fn lease_adopts_a_server_that_already_listens_but_no_one_else_s_port() {
    let reg = Reg::new();
    let server = listener(28100);
    let pid = server.id().to_string();
    let out = reg.run(&["lease", "web", "--port", "28100", "--exact", "--pid", &pid]);
    assert_eq!(port_of(&out), 28100);
    let e = entry(&reg, "web").unwrap();
    assert_eq!(e["state"], "active");
    assert_eq!(e["holder"]["pid"].as_u64().unwrap() as u32, server.id());
    // The server is the holder: its own socket is no conflict.
    assert_eq!(reg.run(&["conflicts"]).status.code(), Some(0));

    // Someone else listening there: still PORT_BUSY, whoever asks.
    let other = listener(28101);
    let bystander = Command::new("sleep").arg("30").spawn().unwrap();
    for pid in [Some(bystander.id().to_string()), None] {
        let mut args = vec!["lease", "api", "--port", "28101", "--exact"];
        if let Some(p) = &pid {
            args.extend(["--pid", p]);
        }
        let out = reg.run(&args);
        assert_eq!(out.status.code(), Some(5), "{pid:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(&format!("pid {}", other.id())));
    }
    assert!(entry(&reg, "api").is_none());
    for c in [server, other, bystander] {
        stop(c);
    }
}

#[test]
fn a_run_whose_command_cannot_start_leaves_the_registry_as_it_was() {
    let reg = Reg::new();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("not-executable.sh");
    std::fs::write(&plain, "#!/bin/sh\necho hi\n").unwrap();
    // Executable, but no format the kernel runs: exec itself fails.
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, [0x7f, b'E', b'L', b'F', 0, 1, 2, 3]).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let cases = [
        "/nonexistent/server".to_string(),
        "no-such-command-portreg-test".to_string(),
        plain.display().to_string(),
        dir.path().display().to_string(),
        garbage.display().to_string(),
    ];
    for cmd in &cases {
        let out = reg.run(&["run", "ghost", "--range", "28110-28119", "--", cmd]);
        assert_eq!(out.status.code(), Some(12), "{cmd}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with("portreg: error: cannot ") && err.ends_with("[PROCESS]\n"),
            "{cmd}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(entry(&reg, "ghost").is_none(), "{cmd} left an entry");
    }

    // A name that existed stays as it was.
    port_of(&reg.run(&["lease", "keep", "--range", "28110-28119", "-d", "kept"]));
    assert!(reg.run(&["release", "keep"]).status.success());
    let before = entry(&reg, "keep").unwrap();
    for cmd in &cases[..4] {
        let out = reg.run(&["run", "keep", "--", cmd]);
        assert_eq!(out.status.code(), Some(12), "{cmd}");
        assert_eq!(entry(&reg, "keep").unwrap(), before, "{cmd}");
    }
    let out = reg.run(&["run", "keep", "--", &cases[4]]);
    assert_eq!(out.status.code(), Some(12));
    let after = entry(&reg, "keep").unwrap();
    for field in ["port", "state", "description", "created"] {
        assert_eq!(after[field], before[field], "{field}");
    }
}

#[test]
fn list_and_who_show_the_holder_as_it_runs_now() {
    let reg = Reg::new();
    let mut run = reg
        .cmd()
        .args([
            "run",
            "web",
            "--range",
            "28120-28129",
            "--bind-timeout",
            "0",
        ])
        .args(["--", "sh", "-c", "sleep 0.3; exec sleep 30"])
        .spawn()
        .unwrap();
    let now = || {
        entry(&reg, "web")
            .and_then(|e| e.get("holder").cloned())
            .filter(|h| !h.is_null())
    };
    assert!(
        wait_for(
            || now().is_some_and(|h| h["cmdline"] == serde_json::json!(["sleep", "30"])),
            10.0
        ),
        "{:?}",
        now()
    );
    let h = now().unwrap();
    assert_eq!(h["exe"], "sleep");
    // The record still holds what was started; the display is current.
    let leases = std::fs::read_to_string(reg.path.join("leases.json")).unwrap();
    assert!(leases.contains("exec sleep 30"), "{leases}");
    let who = reg.json(&["who", "web", "--json"]);
    assert_eq!(
        who["entry"]["holder"]["cmdline"],
        serde_json::json!(["sleep", "30"])
    );
    let text = stdout(&reg.run(&["who", "web"]));
    assert!(
        text.contains("(sleep)") && text.contains("sleep 30"),
        "{text}"
    );
    unsafe { nix::libc::kill(run.id() as i32, nix::libc::SIGTERM) };
    run.wait().unwrap();
}

#[test]
fn a_released_name_s_own_listener_is_not_its_conflict() {
    let reg = Reg::new();
    // The holder is this test process (the parent of each portreg); the
    // server it starts outlives the release.
    let port = port_of(&reg.run(&["lease", "web", "--range", "28130-28139"]));
    let server = listener(port);
    let out = reg.run(&["release", "web"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = reg.run(&["conflicts"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let e = entry(&reg, "web").unwrap();
    assert_eq!(e["state"], "idle");
    assert_eq!(
        e["meta"]["portreg.released-listeners"]
            .as_str()
            .unwrap()
            .split(':')
            .next(),
        Some(server.id().to_string().as_str())
    );
    stop(server);

    // Another process on the idle name's port is a conflict all the same.
    let squatter = listener(port);
    let out = reg.run(&["conflicts", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["entry"]["name"], "web");
    stop(squatter);

    // The next lease of the name forgets the mark.
    port_of(&reg.run(&["lease", "web", "--range", "28130-28139"]));
    assert!(entry(&reg, "web").unwrap()["meta"]
        .get("portreg.released-listeners")
        .is_none());
}

#[test]
fn socket_column_is_blank_for_a_shell_and_a_held_reservation_says_so() {
    let reg = Reg::new();
    let script = r#""$P" --registry "$R" lease web --range 28140-28149 >/dev/null
"$P" --registry "$R" list; true"#;
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("P", bin())
        .env("R", &reg.path)
        .env_remove("PORTREG_RANGE")
        .output()
        .unwrap();
    let text = stdout(&out);
    let row = text.lines().find(|l| l.starts_with("web ")).unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[2..4], ["active", "-"], "{text}");
    assert!(!text.contains("not listening"), "{text}");

    // A process that is not a shell, not listening yet: it says so.
    port_of(&reg.run(&["lease", "api", "--range", "28140-28149"]));
    let text = stdout(&reg.run(&["list"]));
    let row = text.lines().find(|l| l.starts_with("api ")).unwrap();
    assert!(row.contains("not listening yet"), "{text}");

    // Reserved and held.
    assert!(reg.run(&["reserve", "db", "28148"]).status.success());
    assert_eq!(port_of(&reg.run(&["lease", "db"])), 28148);
    let text = stdout(&reg.run(&["list"]));
    let row = text.lines().find(|l| l.starts_with("db ")).unwrap();
    assert!(row.contains("active, reserved"), "{text}");
    let e = entry(&reg, "db").unwrap();
    assert_eq!(
        (&e["state"], &e["reserved"]),
        (&"active".into(), &true.into())
    );
}

#[test]
fn find_spreads_concurrent_callers_and_says_only_lease_is_race_free() {
    let reg = Reg::new();
    let mut all_same = 0;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..5 {
        let kids: Vec<Child> = (0..4)
            .map(|_| {
                reg.cmd()
                    .args(["find", "--range", "28200-28299"])
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let ports: Vec<u16> = kids
            .into_iter()
            .map(|k| port_of(&k.wait_with_output().unwrap()))
            .collect();
        assert!(
            ports.iter().all(|p| (28200..=28299).contains(p)),
            "{ports:?}"
        );
        seen.extend(ports.iter().copied());
        if ports.iter().all(|&p| p == ports[0]) {
            all_same += 1;
        }
    }
    // Eight candidates each: four equal picks are 1 in 512 per trial.
    assert!(
        all_same < 5,
        "every trial handed one port to all four callers"
    );
    assert!(seen.len() > 1, "{seen:?}");
    let help = stdout(&reg.run(&["find", "--help"]));
    assert!(help.contains("Only `lease` is race-free"), "{help}");
}

#[test]
fn run_and_reserve_take_meta_as_lease_does() {
    let reg = Reg::new();
    let out = reg.run(&["reserve", "db", "28160", "--meta", "a=1", "--meta", "b=two"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = entry(&reg, "db").unwrap();
    assert_eq!(e["meta"], serde_json::json!({"a": "1", "b": "two"}));
    // Again with other meta: replaced, as lease does.
    assert!(reg
        .run(&["reserve", "db", "28160", "--meta", "c=3"])
        .status
        .success());
    assert_eq!(
        entry(&reg, "db").unwrap()["meta"],
        serde_json::json!({"c": "3"})
    );

    let out = reg
        .cmd()
        .env("P", bin())
        .env("R", &reg.path)
        .args([
            "run",
            "web",
            "--range",
            "28161-28169",
            "--meta",
            "project=/src/web",
        ])
        .args(["--bind-timeout", "0", "--", "sh", "-c"])
        .arg("\"$P\" --registry \"$R\" get web --json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["state"], "active");
    assert_eq!(seen["meta"]["project"], "/src/web");

    for args in [
        &["reserve", "x", "28170", "--meta", "novalue"][..],
        &["run", "x", "--meta", "k\u{1b}=v", "--", "true"][..],
    ] {
        let out = reg.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    assert!(entry(&reg, "x").is_none());
}

#[test]
fn list_host_exits_zero_when_it_lists_even_nothing() {
    let reg = Reg::new();
    for args in [&["list", "--host"][..], &["list", "--host", "--json"]] {
        let out = reg
            .cmd()
            .env("PORTREG_CLAIMS_DIR", reg.path.join("no-claims"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(reg.run(&["list"]).status.code(), Some(0));
    let help = stdout(&reg.run(&["list", "--help"]));
    assert!(help.contains("Exit status: 0 whenever it lists"), "{help}");
}
