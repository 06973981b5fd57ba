//! Real processes racing for the registry lock: many writers at once, and
//! writers killed by SIGKILL at random points.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Entry point of the worker processes these tests start (see common::worker).
#[test]
#[ignore = "run by the tests themselves, as a separate process"]
fn worker() {
    common::worker::main();
}

#[test]
fn thirty_two_processes_lease_at_once_without_duplicates() {
    let reg = Reg::new();
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("go");
    let n = 32;
    let children: Vec<_> = (0..n)
        .map(|i| {
            // Each process spins until the gate file appears, then execs the
            // worker (so its parent, the holder, is this test process).
            Command::new("sh")
                .arg("-c")
                .arg("while [ ! -e \"$1\" ]; do :; done; shift; exec \"$@\"")
                .arg("sh")
                .arg(&gate)
                .arg(bin())
                .args(worker::WORKER_ARGS)
                .arg("--registry")
                .arg(&reg.path)
                .args(["lease", &format!("svc-{i}"), "--range", "22000-22099"])
                .env_remove("PORTREG_HOME")
                .env_remove("PORTREG_RANGE")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&gate, b"").unwrap();
    let mut ports = HashMap::new();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "svc-{i}: {}", stderr(&out));
        let port: u16 = stdout(&out).trim().parse().unwrap();
        ports.insert(format!("svc-{i}"), port);
    }
    let distinct: HashSet<u16> = ports.values().copied().collect();
    assert_eq!(distinct.len(), n, "duplicate ports handed out: {ports:?}");
    let listed = reg.json(&["list", "--json"]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), n);
    for e in listed {
        let name = e["name"].as_str().unwrap();
        assert_eq!(e["port"].as_u64().unwrap() as u16, ports[name]);
        assert_eq!(e["state"], "active");
        assert_eq!(
            e["holder"]["pid"].as_u64().unwrap() as u32,
            std::process::id()
        );
    }
}

#[test]
fn sigkilled_writers_never_tear_the_registry_or_lose_a_completed_lease() {
    let reg = Reg::new();
    let mut completed: HashMap<String, u16> = HashMap::new();
    let mut killed = 0;
    let start = Instant::now();
    let mut round = 0;
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    while start.elapsed() < Duration::from_secs(6) {
        round += 1;
        let batch: Vec<(String, std::process::Child)> = (0..8)
            .map(|i| {
                let name = format!("w{round}-{i}");
                let child = reg
                    .cmd()
                    .args([
                        "lease",
                        &name,
                        "--range",
                        "22100-29999",
                        "-d",
                        "written while others die",
                    ])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                (name, child)
            })
            .collect();
        std::thread::sleep(Duration::from_micros(rand() % 4000));
        let mut batch: Vec<_> = batch
            .into_iter()
            .map(|(name, mut c)| {
                if rand() % 2 == 0 {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(c.id() as i32),
                        nix::sys::signal::SIGKILL,
                    );
                }
                let _ = c.try_wait();
                (name, c)
            })
            .collect();
        for (name, c) in batch.drain(..) {
            let out = c.wait_with_output().unwrap();
            if out.status.success() {
                completed.insert(name, stdout(&out).trim().parse().unwrap());
            } else {
                killed += 1;
            }
        }
        // After every round: the file parses, nothing was quarantined, and
        // every lease that completed is still there with its port.
        let v = reg.registry_json();
        let entries: HashMap<String, u16> = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_string(),
                    e["port"].as_u64().unwrap() as u16,
                )
            })
            .collect();
        for (name, port) in &completed {
            assert_eq!(
                entries.get(name),
                Some(port),
                "completed lease {name} lost in round {round}"
            );
        }
        let ports: HashSet<u16> = entries.values().copied().collect();
        assert_eq!(ports.len(), entries.len(), "two names share a port");
        let names: Vec<String> = std::fs::read_dir(&reg.path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.contains("corrupt")), "{names:?}");
    }
    assert!(
        killed > 10,
        "the test must really kill writers (killed {killed})"
    );
    assert!(
        completed.len() > 10,
        "and let some complete ({})",
        completed.len()
    );
    // A writer killed after its write but before printing leaves a lease the
    // test never heard of: more entries than completed leases is fine.
    assert!(reg.json(&["list", "--json"]).as_array().unwrap().len() >= completed.len());
}
