//! `env`: variable prefixes, dotenv files other tools read, and
//! `<NAME>_PORT` in the environment as a port request.

mod common;

use std::process::Command;

use common::*;

#[test]
fn env_prefix_goes_before_every_variable() {
    let reg = Reg::new();
    assert!(reg.run(&["reserve", "web", "22381"]).status.success());
    let out = reg.run(&["env", "--prefix", "APP_"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("export APP_WEB_PORT='22381'\n"), "{text}");
    assert!(
        text.contains("export APP_WEB_URL='http://127.0.0.1:22381'\n"),
        "{text}"
    );
    assert!(!text.contains(" WEB_PORT"), "{text}");
    let j = reg.json(&["env", "--prefix", "X", "--json"]);
    assert_eq!(j["XWEB_PORT"], "22381");
    let dotenv = stdout(&reg.run(&["env", "--prefix", "P_", "--format", "dotenv"]));
    assert!(dotenv.lines().any(|l| l == "P_WEB_PORT=22381"), "{dotenv}");
    // a prefix that cannot start a variable name is a usage error
    for bad in ["1X", "A-B", "A B"] {
        let out = reg.run(&["env", "--prefix", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(stderr(&out).contains("[USAGE]"), "{}", stderr(&out));
        assert_eq!(stdout(&out), "");
    }
}

#[test]
fn env_dotenv_is_read_alike_by_docker_and_python_dotenv() {
    let reg = Reg::new();
    assert!(reg.run(&["reserve", "web", "22382"]).status.success());
    let out = reg.run(&["env", "--format", "dotenv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // docker's --env-file keeps everything after '=' literally: no quotes
    assert_eq!(
        text, "WEB_PORT=22382\nWEB_URL=http://127.0.0.1:22382\n",
        "{text}"
    );
    // python-dotenv is not a build dependency: check with it where installed
    let has_dotenv = Command::new("python3")
        .args(["-c", "import dotenv"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_dotenv {
        eprintln!("python-dotenv not installed: docker's reading checked only");
        return;
    }
    let file = reg.path.parent().unwrap().join(".env");
    std::fs::write(&file, &text).unwrap();
    let py = Command::new("python3")
        .arg("-c")
        .arg("import sys, json; from dotenv import dotenv_values; print(json.dumps(dotenv_values(sys.argv[1])))")
        .arg(&file)
        .output()
        .unwrap();
    assert!(py.status.success(), "{}", stderr(&py));
    let v: serde_json::Value = serde_json::from_slice(&py.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"WEB_PORT": "22382", "WEB_URL": "http://127.0.0.1:22382"})
    );
}

#[test]
fn unknown_config_keys_are_one_warning_line() {
    let reg = Reg::new();
    assert!(reg.run(&["list"]).status.success());
    let file = reg.path.join("config.toml");
    std::fs::write(&file, "rnage = \"22390-22399\"\n").unwrap();
    let out = reg.run(&["lease", "web"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("unknown key")).collect();
    assert_eq!(
        lines,
        [format!(
            "portreg: warning: unknown key \"rnage\" in {}; known keys: range, lock_timeout, claims_dir, claims_cap",
            file.display()
        )],
        "{err}"
    );
    // the misspelt range was not used
    let port: u16 = stdout(&out).trim().parse().unwrap();
    assert!(!(22390..=22399).contains(&port), "{port}");
    std::fs::write(&file, "range = \"22390-22399\"\n").unwrap();
    let out = reg.run(&["list"]);
    assert!(!stderr(&out).contains("unknown key"), "{}", stderr(&out));
}

#[test]
fn name_port_in_the_environment_is_an_exact_request() {
    let reg = Reg::new();
    let lease = |envs: &[(&str, &str)], args: &[&str]| {
        let mut c = reg.cmd();
        c.arg("lease").args(args).arg("--pid").arg("1");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = lease(&[("WEB_FRONT_PORT", "22401")], &["web.front"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "22401");
    // exact: a port held by another name fails instead of moving
    let out = lease(&[("API_PORT", "22401")], &["api"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("[PORT_TAKEN]"), "{}", stderr(&out));
    // --port wins over the variable
    let out = lease(&[("API_PORT", "22401")], &["api", "--port", "22402"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "22402");
    // a bad value names the variable
    let out = lease(&[("DB_PORT", "70000")], &["db"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("[INVALID_PORT]") && err.contains("DB_PORT"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // run honours it too
    let out = reg
        .cmd()
        .args(["run", "cache", "--", "sh", "-c", "echo $PORT"])
        .env("CACHE_PORT", "22403")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "22403");
    let out = reg
        .cmd()
        .args(["run", "cache2", "--", "true"])
        .env("CACHE2_PORT", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("CACHE2_PORT"), "{}", stderr(&out));
}
