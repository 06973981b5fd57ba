#![allow(dead_code)]
//! Helpers shared by the dashboard's test files: run the real `portreg`
//! binary (the dashboard is `portreg dashboard`).

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

mod dash;
pub use dash::*;

/// The `portreg` binary: $PORTREG_BIN, else the one `cargo build -p
/// portreg-cli` makes with this build's settings (a no-op when it is up to
/// date; it lives in another package, so cargo does not hand its path to
/// these tests).
pub fn bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("PORTREG_BIN") {
            return PathBuf::from(p);
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args(["build", "-p", "portreg-cli", "--bin", "portreg"])
            .args(["--message-format", "json-render-diagnostics"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("cannot run cargo to build portreg");
        assert!(out.status.success(), "cargo build -p portreg-cli failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["target"]["name"] == "portreg")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo built no portreg executable")
    })
    .clone()
}

pub struct Reg {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Reg {
    pub fn new() -> Reg {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reg");
        Reg { _dir: dir, path }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.arg("--registry").arg(&self.path);
        c.env_remove("PORTREG_HOME").env_remove("PORTREG_RANGE");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn wait_for(mut f: impl FnMut() -> bool, secs: f64) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
    while std::time::Instant::now() < until {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    f()
}
