//! `cargo bench -p portreg-core --bench host`: what the host-wide claim
//! adds to a lease. The median lease+release round trip of a known name on
//! a registry kept open, with sharing off (`claims_dir = "off"`), with an
//! empty claims directory (a host with no other users), and (as root) with
//! 100 and 2,000 other users' claims in it. Interleaved, so all see the
//! same machine. Figures, not assertions.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use portreg_core::{Actor, LeaseRequest, Registry};

const ROUNDS: usize = 3000;

fn open(dir: &Path, claims: &str) -> Registry {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!("range = \"23000-23099\"\nclaims_dir = \"{claims}\"\n"),
    )
    .unwrap();
    let reg = Registry::open(dir).unwrap();
    reg.set_print_warnings(false);
    // First lease: the name is known from now on (no fsync in the loop).
    reg.lease(&LeaseRequest::new("web")).unwrap();
    reg.release("web", Actor::me()).unwrap();
    reg
}

fn round_trip(reg: &Registry) -> Duration {
    let t = Instant::now();
    reg.lease(&LeaseRequest::new("web")).unwrap();
    reg.release("web", Actor::me()).unwrap();
    t.elapsed()
}

/// `n` live claims of another uid (root only: the files must be theirs).
fn foreign_claims(dir: &Path, n: u16) -> bool {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    if !nix::unistd::geteuid().is_root() {
        return false;
    }
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let ticks: u64 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    for i in 0..n {
        let port = 40000 + i;
        let path = dir.join(format!("{port}.54321"));
        let body = format!(
            r#"{{"port":{port},"uid":54321,"pid":{},"start_ticks":{ticks},"boot_id":"{}"}}"#,
            std::process::id(),
            boot.trim()
        );
        std::fs::write(&path, body).unwrap();
        std::os::unix::fs::chown(&path, Some(54321), Some(54321)).unwrap();
    }
    true
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    // Each case names its claims directory in its config.toml; the
    // environment variable would put every case in one directory.
    for var in ["PORTREG_CLAIMS_DIR", "PORTREG_CLAIMS_CAP"] {
        if std::env::var_os(var).is_some_and(|v| !v.is_empty()) {
            eprintln!("host bench: unset {var} first: it overrides every case's setting");
            std::process::exit(2);
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    let empty = base.join("claims-empty");
    let hundred = base.join("claims-100");
    let many = base.join("claims-2000");
    let mut cases: Vec<(&str, Registry)> = vec![
        ("sharing off", open(&base.join("r-off"), "off")),
        (
            "empty claims directory",
            open(&base.join("r-empty"), empty.to_str().unwrap()),
        ),
    ];
    // tmpfs, as /run/portreg is: creating and removing a claim costs less.
    let shm = tempfile::tempdir_in("/dev/shm").ok();
    if let Some(shm) = &shm {
        let claims = shm.path().join("claims");
        cases.push((
            "empty, on tmpfs (/dev/shm)",
            open(&base.join("r-shm"), claims.to_str().unwrap()),
        ));
    }
    if foreign_claims(&hundred, 100) && foreign_claims(&many, 2000) {
        cases.push((
            "100 other users' claims",
            open(&base.join("r-100"), hundred.to_str().unwrap()),
        ));
        cases.push((
            "2,000 other users' claims",
            open(&base.join("r-2000"), many.to_str().unwrap()),
        ));
    } else {
        println!("(not root: the cases with other users' claims are skipped)");
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(ROUNDS); cases.len()];
    for _ in 0..ROUNDS {
        for (i, (_, reg)) in cases.iter().enumerate() {
            times[i].push(round_trip(reg));
        }
    }
    let medians: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            us(t[t.len() / 2])
        })
        .collect();
    println!("lease+release of a known name, median of {ROUNDS} (registry kept open):");
    for ((label, _), m) in cases.iter().zip(&medians) {
        println!(
            "  {label:<28} {m:>7.1} µs   (+{:.1} µs over sharing off)",
            m - medians[0]
        );
    }
    // The check alone (no claim written): find_free on an unchanged directory.
    let mut checks = Vec::new();
    for (label, reg) in &cases {
        let mut t: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                reg.find_free(None).unwrap();
                t.elapsed()
            })
            .collect();
        t.sort();
        checks.push((label, us(t[t.len() / 2])));
    }
    println!("find_free (the free-port check alone, nothing written), median of {ROUNDS}:");
    for (label, m) in &checks {
        println!(
            "  {label:<28} {m:>7.1} µs   (+{:.1} µs over sharing off)",
            m - checks[0].1
        );
    }
    cases.clear();
}
