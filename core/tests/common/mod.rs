#![allow(dead_code)]
//! Helpers shared by the multi-process tests: a private registry, and the
//! worker process (this test binary started again, see [`worker`]) that
//! acts on it from outside the test process.

pub mod listener;
pub mod worker;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The worker program: this test binary (started with
/// [`worker::WORKER_ARGS`] before its own words).
pub fn bin() -> PathBuf {
    std::env::current_exe().unwrap()
}

/// A worker process; its words follow.
pub fn worker() -> Command {
    let mut c = Command::new(bin());
    c.args(worker::WORKER_ARGS);
    c.env_remove("PORTREG_HOME").env_remove("PORTREG_RANGE");
    c
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

    /// A worker on this registry. Its claims go to a directory of this
    /// registry's own: a test that leases hundreds of names for this test
    /// process (its workers' holder) would otherwise fill the user's
    /// per-user cap on the machine's shared directory, and every other
    /// test running beside it would be refused.
    pub fn cmd(&self) -> Command {
        let mut c = worker();
        c.arg("--registry").arg(&self.path);
        c.env("PORTREG_CLAIMS_DIR", self._dir.path().join("claims"));
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
        serde_json::from_str(&stdout(&out)).unwrap()
    }

    pub fn registry_json(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.path.join("registry.json")).unwrap()).unwrap()
    }
}

/// What the worker printed (after the test harness's own first line).
pub fn stdout(o: &Output) -> String {
    let text = String::from_utf8_lossy(&o.stdout);
    match text.find(worker::PREAMBLE) {
        Some(i) => text[i + worker::PREAMBLE.len()..].to_string(),
        None => text.into_owned(),
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A registry of its own in a temporary directory, warnings not printed.
pub fn fresh() -> (tempfile::TempDir, portreg_core::Registry) {
    let dir = tempfile::tempdir().unwrap();
    let r = portreg_core::Registry::open(dir.path().join("reg")).unwrap();
    r.set_print_warnings(false);
    (dir, r)
}

/// The files a corrupt registry.json was moved aside to.
pub fn corrupt_files(reg: &portreg_core::Registry) -> Vec<PathBuf> {
    files_starting(reg.path(), "registry.json.corrupt-")
}

/// The files in `dir` whose names start with `prefix`.
pub fn files_starting(dir: &std::path::Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect()
}
