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
