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

/// A repeatable stream of pseudo-random numbers (xorshift64) from `seed`.
fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
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
    let mut rand = xorshift(0x9e3779b97f4a7c15);
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

/// A registry kept open that wrote leases.json last writes it again in
/// place. Writers doing that in a loop (one, or two taking turns) are
/// killed at random moments: leases.json always parses with no warning,
/// and a lease another process holds all along is never lost.
#[test]
fn sigkilled_writers_editing_leases_in_place_never_tear_it() {
    use std::io::{BufRead, BufReader};
    let reg = Reg::new();
    let mut holder = reg
        .cmd()
        .args(["hold", "steady", "--range", "23100-23199"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The first line a worker prints that is not the test harness's.
    let said = |out: std::process::ChildStdout| {
        let mut out = BufReader::new(out);
        let mut line = String::new();
        while line.trim().is_empty() || line == worker::PREAMBLE {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "a worker said nothing"
            );
        }
        (line.trim().to_string(), out)
    };
    let (port, _held_out) = said(holder.stdout.take().unwrap());
    let steady: u16 = port.parse().expect("the holder's port");
    let mut rand = xorshift(0x2545_f491_4f6c_dd1d);
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed() < Duration::from_secs(5) {
        rounds += 1;
        let writers: Vec<_> = ["churn-a", "churn-b"][..1 + rounds % 2]
            .iter()
            .map(|name| {
                let mut c = reg
                    .cmd()
                    .args(["churn", name, "--range", "23100-23199"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                let (line, out) = said(c.stdout.take().unwrap());
                assert_eq!(line, "ready", "round {rounds}");
                (c, out)
            })
            .collect();
        std::thread::sleep(Duration::from_micros(rand() % 3000));
        for (mut c, _out) in writers {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::SIGKILL,
            );
            let status = c.wait().unwrap();
            assert_eq!(
                std::os::unix::process::ExitStatusExt::signal(&status),
                Some(9),
                "round {rounds}: a writer stopped before it was killed"
            );
        }
        let bytes = std::fs::read(reg.path.join("leases.json")).unwrap();
        let read = portreg_core::fuzzing::leases_file(&bytes);
        assert!(read.is_ok(), "round {rounds}: {read:?}");
        let list = reg.json(&["list", "--json"]);
        let steady_now = list
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "steady");
        assert!(
            steady_now.is_some_and(|e| e["state"] == "active" && e["port"] == steady),
            "round {rounds}: {list}"
        );
    }
    assert!(
        rounds > 20,
        "the test must really kill writers ({rounds} rounds)"
    );
    drop(holder.stdin.take());
    holder.wait().unwrap();
}
