#![allow(dead_code)]
//! Helpers shared by the CLI test files: run the real `portreg` binary.

#[path = "../../../core/tests/common/listener.rs"]
pub mod listener;

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_portreg"))
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

    pub fn registry_json(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.path.join("registry.json")).unwrap()).unwrap()
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
