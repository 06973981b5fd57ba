//! Process identity against real processes: a wall-clock step, a pid
//! reused at once, a holder in another pid namespace, another user's
//! process. The namespace cases need root (`unshare`); without it each test
//! prints why it was skipped.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, stdout, Reg};

#[test]
#[ignore = "the worker process of the multi-process tests"]
fn worker() {
    common::worker::main();
}

/// Why a root-only test cannot run here, if it cannot.
fn needs_root(what: &str) -> bool {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: {what} needs root (unshare, setpriv)");
        return false;
    }
    if Command::new("unshare")
        .args(["-m", "-p", "-f", "--mount-proc", "true"])
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        println!("skipped: {what} needs `unshare -m -p -f --mount-proc`, which fails here");
        return false;
    }
    true
}

/// The state `list --all` shows for `name`.
fn state(reg: &Reg, name: &str) -> String {
    let out = reg.run(&["list", "--all"]);
    stdout(&out)
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&name)).then(|| f[2].to_string())
        })
        .unwrap_or_else(|| panic!("{name} not listed: {}", stdout(&out)))
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_clock_step_does_not_make_a_live_holder_look_dead() {
    if !needs_root("a simulated clock step") {
        return;
    }
    let reg = Reg::new();
    let sleeper = Kill(Command::new("sleep").arg("60").spawn().unwrap());
    let pid = sleeper.0.id().to_string();
    let out = reg.run(&["lease", "svc", "--pid", &pid, "--range", "23100-23109"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(state(&reg, "svc"), "active");
    // The kernel's idea of the boot's wall-clock time (btime) moves with
    // every clock step: show the holder's checker a /proc/stat whose btime
    // is an hour earlier, as after `date -s` or an NTP step.
    let dir = tempfile::tempdir().unwrap();
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let stepped: String = stat
        .lines()
        .map(|l| match l.strip_prefix("btime ") {
            Some(t) => format!("btime {}\n", t.trim().parse::<u64>().unwrap() - 3600),
            None => format!("{l}\n"),
        })
        .collect();
    let alt = dir.path().join("stat");
    std::fs::write(&alt, stepped).unwrap();
    let inside = |args: &[&str]| {
        let mut c = Command::new("unshare");
        c.args([
            "-m",
            "sh",
            "-c",
            r#"mount --bind "$0" /proc/stat && exec "$@""#,
        ])
        .arg(&alt)
        .arg(common::bin())
        .args(common::worker::WORKER_ARGS)
        .arg("--registry")
        .arg(&reg.path)
        .args(args)
        .env_remove("PORTREG_HOME");
        c.output().unwrap()
    };
    let seen = inside(&["list", "--all"]);
    let text = stdout(&seen);
    println!("after a clock step of one hour: {}", text.trim());
    assert!(seen.status.success(), "{}", stderr(&seen));
    assert!(
        text.contains("svc 23100 active"),
        "the live holder must stay active after a clock step: {text}"
    );
    // and from outside too, after the stepped view wrote what it saw
    assert_eq!(state(&reg, "svc"), "active");
}

#[test]
fn a_pid_reused_at_once_is_not_the_holder_and_is_never_signalled() {
    if !needs_root("reusing a pid (ns_last_pid)") {
        return;
    }
    let reg = Reg::new();
    // Start in the first part of a second since boot (what start times in
    // seconds counted), so the reuse surely happens within the holder's
    // second.
    let boot_fraction = || {
        let up = std::fs::read_to_string("/proc/uptime").unwrap();
        let secs = up.split_whitespace().next().unwrap();
        secs.split_once('.')
            .map_or(0, |(_, f)| f.parse::<u32>().unwrap())
    };
    while boot_fraction() > 20 {
        std::thread::sleep(Duration::from_millis(5));
    }
    // In a new pid namespace, pids are small and ns_last_pid chooses the
    // next one: the holder dies and a new process gets its pid at once.
    let script = r#"
        W="$0"
        sleep 60 & old=$!
        "$W" "$@" lease svc --pid $old --range 23110-23119 >/dev/null || exit 9
        kill -9 $old; wait $old 2>/dev/null
        sleep 0.05
        echo $((old - 1)) > /proc/sys/kernel/ns_last_pid
        sleep 60 & new=$!
        [ "$new" = "$old" ] || { echo "no reuse: $old then $new"; exit 8; }
        "$W" "$@" list --all | tail -n 1
        "$W" "$@" kill svc --timeout 1 | tail -n 1; echo "kill exit $?"
        kill -0 $new && echo "reused pid $new still alive"
        kill $new
    "#;
    let out = Command::new("unshare")
        .args(["-p", "-f", "--mount-proc", "sh", "-c", script])
        .arg(common::bin())
        .args(common::worker::WORKER_ARGS)
        .arg("--registry")
        .arg(&reg.path)
        .env_remove("PORTREG_HOME")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{}", text.trim());
    assert!(!text.contains("no reuse"), "{text} {}", stderr(&out));
    assert!(
        text.contains("svc 23110 idle"),
        "a reused pid must not pass for the holder: {text} {}",
        stderr(&out)
    );
    assert!(
        text.contains("still alive"),
        "kill must never signal the reused pid: {text}"
    );
}

#[test]
fn a_holder_in_another_pid_namespace_is_alive_while_it_runs_and_freed_when_killed() {
    if !needs_root("a holder in another pid namespace") {
        return;
    }
    let reg = Reg::new();
    let mut holder = Command::new("unshare");
    holder
        .args(["-p", "-f", "--mount-proc", "--kill-child"])
        .arg(common::bin())
        .args(common::worker::WORKER_ARGS)
        .arg("--registry")
        .arg(&reg.path)
        .args(["hold", "svc", "--range", "23120-23129"])
        .env_remove("PORTREG_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut holder = Kill(holder.spawn().unwrap());
    let mut lines = BufReader::new(holder.0.stdout.take().unwrap()).lines();
    let port = loop {
        let l = lines.next().expect("the holder prints its port").unwrap();
        if let Ok(p) = l.trim().parse::<u16>() {
            break p;
        }
    };
    assert_eq!(port, 23120);
    let rec = reg.json(&["list", "--all", "--json"]);
    let h = &rec[0]["holder"];
    println!(
        "holder in its namespace: pid {}, pid_ns {}, lock {}",
        h["pid"], h["pid_ns"], h["lock"]
    );
    // Its pid means another process out here (pid 1 is init): the name
    // must stay active all along, and nobody else gets it.
    for _ in 0..5 {
        assert_eq!(state(&reg, "svc"), "active");
        std::thread::sleep(Duration::from_millis(100));
    }
    let other = reg.run(&["lease", "svc", "--range", "23120-23129"]);
    assert_eq!(other.status.code(), Some(3), "{}", stderr(&other));
    let kill = reg.run(&["kill", "svc"]);
    assert_eq!(kill.status.code(), Some(12), "{}", stderr(&kill));
    assert!(stderr(&kill).contains("another pid namespace"));
    // SIGKILL: the kernel drops its lock, the name turns idle.
    holder.0.kill().unwrap();
    holder.0.wait().unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while state(&reg, "svc") != "idle" && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(state(&reg, "svc"), "idle");
    // and `clean` leaves no lock file behind
    reg.run(&["list"]);
    let _ = portreg_core::Registry::open(&reg.path).unwrap().clean();
    let left: Vec<_> = std::fs::read_dir(&reg.path)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".holder-"))
        .collect();
    assert!(left.is_empty(), "stale holder locks: {left:?}");
}

#[test]
fn root_stops_another_users_process_only_with_any_user() {
    if !nix::unistd::geteuid().is_root() {
        println!("skipped: stopping another user's process as root needs root");
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        println!("skipped: setpriv is not installed");
        return;
    }
    let reg = Reg::new();
    let port = 23131u16;
    let mut server = Kill(
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .args(["/usr/bin/python3", "-m", "http.server", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .current_dir("/")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = server.0.id();
    let until = Instant::now() + Duration::from_secs(10);
    while !portreg_core::Registry::is_listening(port) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let lease = reg.run(&[
        "lease",
        "nobodys",
        "--pid",
        &pid.to_string(),
        "--port",
        "23130",
    ]);
    assert!(lease.status.success(), "{}", stderr(&lease));
    for target in ["nobodys", ":23131"] {
        let out = reg.run(&["kill", target, "--timeout", "1"]);
        println!("kill {target} as root: {}", stderr(&out).trim());
        assert_eq!(out.status.code(), Some(10), "PERMISSION for {target}");
        assert!(stderr(&out).contains("--any-user"));
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "nothing was signalled"
        );
    }
    let out = reg.run(&["kill", ":23131", "--timeout", "3", "--any-user"]);
    println!("with --any-user: {}", stdout(&out).trim());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&pid.to_string()));
    let status = server.0.wait().unwrap();
    assert!(!status.success());
    // the holder is gone: its name is idle
    assert_eq!(state(&reg, "nobodys"), "idle");
}
