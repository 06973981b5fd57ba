//! The `portreg` command as a person or a script uses it: output, exit codes,
//! the shared table of bad inputs, and who holds a lease taken from a shell.

mod common;

use std::process::{Command, Stdio};

use common::*;

#[test]
fn help_teaches_with_examples() {
    let out = Command::new(bin()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    for want in [
        "lease",
        "release",
        "list",
        "reserve",
        "forget",
        "find",
        "clean",
        "Examples:",
        "Exit codes:",
    ] {
        assert!(text.contains(want), "--help lacks {want}:\n{text}");
    }
    let out = Command::new(bin())
        .args(["lease", "--help"])
        .output()
        .unwrap();
    assert!(stdout(&out).contains("--exact"));
    let out = Command::new(bin()).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn exit_codes_are_the_documented_ones() {
    let reg = Reg::new();
    assert_eq!(reg.run(&["get", "nobody"]).status.code(), Some(1));
    assert_eq!(reg.run(&["lease", "bad name"]).status.code(), Some(2));
    assert_eq!(
        reg.run(&["lease", "x", "--port", "abc"]).status.code(),
        Some(2)
    );
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = sleeper.id().to_string();
    let held = reg.run(&["lease", "web", "--pid", &pid, "--range", "22200-22201"]);
    assert!(held.status.success());
    let port = stdout(&held).trim().to_string();
    let again = reg.run(&["lease", "web", "--range", "22200-22201"]);
    assert_eq!(again.status.code(), Some(3), "LEASE_HELD");
    let msg = stderr(&again);
    assert!(
        msg.contains("[LEASE_HELD]") && msg.contains(&pid) && msg.contains(&port),
        "{msg}"
    );
    assert_eq!(
        reg.run(&["lease", "api", "--port", &port, "--exact"])
            .status
            .code(),
        Some(4),
        "PORT_TAKEN"
    );
    // A listener of its own process: a socket of this test process could be
    // seen, for an instant, in a child another test is starting.
    let mut l = Command::new("python3")
        .args(["-c", "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',22202))\ns.listen()\nprint('up',flush=True)\ntime.sleep(60)"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut up = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(l.stdout.as_mut().unwrap()),
        &mut up,
    )
    .unwrap();
    assert_eq!(up.trim(), "up");
    let busy = reg.run(&["lease", "api", "--port", "22202", "--exact"]);
    assert_eq!(busy.status.code(), Some(5), "PORT_BUSY");
    assert!(
        stderr(&busy).contains(&format!("pid {}", l.id())),
        "names the process: {}",
        stderr(&busy)
    );
    l.kill().unwrap();
    l.wait().unwrap();
    reg.run(&["lease", "b", "--range", "22200-22201"]);
    assert_eq!(
        reg.run(&["lease", "c", "--range", "22200-22201"])
            .status
            .code(),
        Some(6),
        "NO_FREE_PORT"
    );
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    assert_eq!(
        reg.run(&["release", "web"]).status.code(),
        Some(1),
        "dead holder: nothing to release"
    );
}

#[test]
fn rename_moves_a_running_service_to_a_new_name() {
    let reg = Reg::new();
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = sleeper.id().to_string();
    let out = reg.run(&["lease", "web", "--pid", &pid, "--range", "22300-22309"]);
    let port = stdout(&out).trim().to_string();
    let refused = reg.run(&["rename", "web", "shop-web"]);
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("[LEASE_HELD]"),
        "{}",
        stderr(&refused)
    );
    let out = reg.run(&["rename", "web", "shop-web", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("renamed web to shop-web (port {port})")
    );
    let got = reg.run(&["get", "shop-web"]);
    assert_eq!(stdout(&got).trim(), port);
    let json: serde_json::Value =
        serde_json::from_slice(&reg.run(&["--json", "get", "shop-web"]).stdout).unwrap();
    assert_eq!(json["holder"]["pid"].to_string(), pid);
    assert_eq!(reg.run(&["get", "web"]).status.code(), Some(1));
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
}

#[test]
fn shared_release_rule() {
    // The CLI releases by name, for the shell that asked: here this test.
    let table: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/error-cases.json")).unwrap();
    for case in table["releases"]["cases"].as_array().unwrap() {
        let reg = Reg::new();
        let name = case["name"].as_str().unwrap();
        assert!(reg.run(&["lease", name]).status.success(), "{case}");
        // forget acts for whoever holds the name only with --force.
        let then: &[&str] = match case["then"].as_str().unwrap() {
            "forget" => &["forget", "--force"],
            _ => &["release"],
        };
        let out = reg.run(&[then, &[name]].concat());
        assert!(out.status.success(), "{case}: {}", stderr(&out));
        let out = reg.run(&["release", name]);
        match &case["name_release"] {
            serde_json::Value::Bool(false) => {
                assert_eq!(out.status.code(), Some(1), "{case}: {}", stderr(&out));
                assert!(stderr(&out).contains("nothing to do"), "{}", stderr(&out));
                assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
            }
            code => {
                let code = code.as_str().unwrap();
                assert_eq!(out.status.code(), Some(1), "{case}: {}", stderr(&out));
                assert!(
                    stderr(&out).contains(&format!("[{code}]")),
                    "{}",
                    stderr(&out)
                );
            }
        }
    }
}

#[test]
fn shared_error_table() {
    let table: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/error-cases.json")).unwrap();
    for case in table["cases"].as_array().unwrap() {
        // A row naming its surfaces applies to those only.
        if let Some(s) = case["surfaces"].as_array() {
            if !s.iter().any(|x| x == "cli") {
                continue;
            }
        }
        let reg = Reg::new();
        let name = case["name"].as_str().unwrap_or("");
        // flags first, then `--`, so a name like "-x" is taken as a name
        let op = case["op"].as_str().unwrap();
        if op == "project" {
            // The file is the portreg.toml of a fresh folder; `ps` reads it.
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("portreg.toml"),
                case["file"].as_str().unwrap(),
            )
            .unwrap();
            let out = reg
                .cmd()
                .arg("ps")
                .current_dir(dir.path())
                .output()
                .unwrap();
            let code = case["code"].as_str().unwrap();
            assert_eq!(out.status.code(), Some(14), "{case}: {}", stderr(&out));
            assert!(
                stderr(&out).contains(&format!("[{code}]")),
                "{case}: {}",
                stderr(&out)
            );
            continue;
        }
        let mut args: Vec<String> = vec![if op == "find_free" {
            "find".into()
        } else {
            op.into()
        }];
        if op != "reserve" {
            if let Some(p) = case.get("port") {
                args.extend(["--port".into(), p.to_string()]);
            }
        }
        if case["exact"] == true {
            args.push("--exact".into());
        }
        if let Some(r) = case["range"].as_str() {
            args.extend(["--range".into(), r.into()]);
        }
        if let Some(d) = case["description"].as_str() {
            args.push(format!("--description={d}"));
        }
        if let Some(m) = case["meta"].as_object() {
            for (k, v) in m {
                args.push(format!("--meta={k}={}", v.as_str().unwrap()));
            }
        }
        args.push("--".into());
        match op {
            "lease" | "get" | "release" | "forget" => args.push(name.into()),
            "reserve" => args.extend([name.into(), case["port"].to_string()]),
            "rename" => args.extend([name.into(), case["new"].as_str().unwrap().into()]),
            "find_free" => {}
            op => panic!("unknown op {op}"),
        }
        let out = reg.cmd().args(&args).output().unwrap();
        let code = case["code"].as_str().unwrap();
        let want_exit = if code == "NOT_FOUND" { 1 } else { 2 };
        assert_eq!(
            out.status.code(),
            Some(want_exit),
            "{case}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(&format!("[{code}]")),
            "{case}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn lease_from_a_script_is_held_by_the_script() {
    let reg = Reg::new();
    let script = format!(
        "PORT=$('{}' --registry '{}' lease web --range 22210-22219) || exit 9; echo \"$PORT\"; read line",
        bin().display(),
        reg.path.display()
    );
    let mut sh = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(sh.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let e = reg.json(&["get", "web", "--json"]);
    assert_eq!(e["state"], "active");
    assert_eq!(e["port"].as_u64().unwrap() as u16, port);
    assert_eq!(
        e["holder"]["pid"].as_u64().unwrap() as u32,
        sh.id(),
        "the script holds it"
    );
    drop(sh.stdin.take()); // the script reads EOF and exits
    sh.wait().unwrap();
    let e = reg.json(&["get", "web", "--json"]);
    assert_eq!(e["state"], "idle");
    assert_eq!(e["holder"], serde_json::Value::Null);
}

#[test]
fn list_table_and_json() {
    let reg = Reg::new();
    reg.run(&[
        "lease",
        "web",
        "--range",
        "22220-22229",
        "-d",
        "the front end",
        "--meta",
        "project=/src/web",
    ]);
    reg.run(&["reserve", "db", "22229", "-d", "postgres"]);
    reg.run(&["lease", "gone", "--range", "22220-22229"]);
    reg.run(&["release", "gone"]);
    let out = reg.run(&["list"]);
    let text = stdout(&out);
    let header = text.lines().next().unwrap();
    for col in [
        "NAME",
        "PORT",
        "STATE",
        "SOCKET",
        "PID",
        "UPTIME",
        "DESCRIPTION",
    ] {
        assert!(header.contains(col), "{text}");
    }
    assert!(
        text.contains("the front end")
            && text.contains("not listening yet")
            && text.contains("reserved")
    );
    assert!(
        !text.contains("gone ") && text.contains("1 idle name not shown"),
        "{text}"
    );
    let all = reg.json(&["list", "--all", "--json"]);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 3);
    let web = all.iter().find(|e| e["name"] == "web").unwrap();
    for field in [
        "name",
        "port",
        "state",
        "holder",
        "reserved",
        "description",
        "meta",
        "created",
        "changed",
    ] {
        assert!(web.get(field).is_some(), "missing {field}: {web}");
    }
    assert_eq!(web["meta"]["project"], "/src/web");
    for field in [
        "pid",
        "start_time",
        "exe",
        "cmdline",
        "user",
        "cwd",
        "since",
    ] {
        assert!(web["holder"].get(field).is_some(), "holder lacks {field}");
    }
    assert_eq!(reg.run(&["forget", "gone"]).status.code(), Some(0));
    assert_eq!(
        reg.json(&["list", "--all", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // find never hands out a held or reserved port
    let f: u16 = stdout(&reg.run(&["find", "--range", "22220-22229"]))
        .trim()
        .parse()
        .unwrap();
    assert!(f != 22229 && f != web["port"].as_u64().unwrap() as u16);
}

#[test]
fn corrupt_file_warning_is_printed() {
    let reg = Reg::new();
    reg.run(&["lease", "web", "--range", "22230-22239"]);
    std::fs::write(reg.path.join("registry.json"), b"{ not json").unwrap();
    let out = reg.run(&["list"]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("registry.json.corrupt-"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn list_shows_control_characters_of_an_older_registry_escaped() {
    let reg = Reg::new();
    assert!(reg.run(&["find"]).status.success(), "creates the registry");
    // What an earlier portreg accepted: ESC, BEL and a C1 CSI in a description.
    std::fs::write(
        reg.path.join("registry.json"),
        r#"{"version": 1, "entries": [{"name": "web", "port": 8070, "reserved": true,
            "description": "\u001b]0;pwned\u0007 \u001b[2J shop\u009b31m",
            "created": "2026-01-01T00:00:00Z", "changed": "2026-01-01T00:00:00Z"}]}"#,
    )
    .unwrap();
    let out = reg.run(&["list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "raw control characters: {text:?}"
    );
    assert!(
        text.contains(r"\u{1b}]0;pwned\u{7} \u{1b}[2J shop\u{9b}31m"),
        "{text}"
    );
    // --json keeps the text as it is (JSON escapes it itself).
    let json = reg.json(&["list", "--json"]);
    assert_eq!(
        json[0]["description"],
        "\u{1b}]0;pwned\u{7} \u{1b}[2J shop\u{9b}31m"
    );
}

/// Where new IPv6 sockets are IPv6-only by default (`net.ipv6.bindv6only`
/// = 1), the probe still asks for a dual-stack socket, so an IPv4 listener
/// keeps its port busy. Run in a network namespace of its own, where the
/// setting can be changed without touching the host's.
#[test]
fn an_ipv4_listener_is_seen_where_ipv6_sockets_are_v6_only_by_default() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: a network namespace of its own needs root (unshare -n)");
        return;
    }
    let reg = Reg::new();
    let script = r#"set -e
[ -w /proc/sys/net/ipv6/bindv6only ] || { echo "NO_IPV6"; exit 0; }
echo 1 > /proc/sys/net/ipv6/bindv6only
python3 -c "import socket,time
s=socket.socket(); s.bind(('0.0.0.0',22203)); s.listen(); print('up',flush=True); time.sleep(30)" > "$R.up" &
i=0; until [ -s "$R.up" ]; do i=$((i+1)); [ $i -lt 200 ] || exit 9; sleep 0.05; done
set +e
"$P" --registry "$R" lease api --port 22203 --exact; echo "busy=$?"
"$P" --registry "$R" lease web --port 22204 --exact; echo "free=$?"
kill $!
"#;
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", script])
        .env("P", bin())
        .env("R", &reg.path)
        .env_remove("PORTREG_HOME")
        .env_remove("PORTREG_RANGE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (text, err) = (stdout(&out), stderr(&out));
    if text.contains("NO_IPV6") {
        println!("skipped: this kernel has no IPv6, so no bindv6only to set");
        return;
    }
    assert!(
        text.contains("busy=5"),
        "an IPv4 listener went unseen: {text}{err}"
    );
    assert!(text.contains("free=0"), "{text}{err}");
}
