//! `cargo bench -p portreg-core --bench registry`: prints portreg's own
//! figures next to the floor they compare to. Figures, not assertions: a
//! noisy machine changes them, so nothing here fails a build.
//!
//! - the fsync floor on the registry's own disk: one temp-file write + fsync
//!   + rename + directory fsync of a registry-sized file;
//! - the median lease+release round trip of a name the registry knows, and
//!   the median first lease of a new name, on 10, 1,000 and 10,000 entries;
//! - leases/second with 16 processes contending on known names;
//! - the module-level functions' round trip: a registry opened per call
//!   against the shared one per directory.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portreg_core::{Actor, LeaseRequest, PortRange, Registry};

const RANGE: PortRange = PortRange {
    low: 12000,
    high: 20000,
};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// A registry of `n` idle entries, written directly in the file format (going
/// through `lease` would cost n fsyncs just to set up).
fn populate(dir: &Path, n: usize) -> Registry {
    let _ = fs::remove_dir_all(dir);
    let reg = Registry::open(dir).unwrap();
    let entries: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "name": format!("svc-{i:05}"),
                "port": 20001 + i as u32,
                "reserved": false,
                "description": format!("service number {i}"),
                "meta": {"project": format!("/home/dev/projects/p{i}")},
                "created": "2026-01-01T00:00:00Z",
                "changed": "2026-01-01T00:00:00Z",
            })
        })
        .collect();
    let text =
        serde_json::to_vec_pretty(&serde_json::json!({"version": 1, "entries": entries})).unwrap();
    fs::write(dir.join("registry.json"), text).unwrap();
    reg
}

/// One durable write the plain way: a new temp file, write, fsync, rename,
/// directory fsync.
fn fsync_floor_once(dir: &Path, bytes: &[u8], i: usize) -> Duration {
    let tmp = dir.join(format!(".floor.{i}.tmp"));
    let start = Instant::now();
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
    drop(f);
    fs::rename(&tmp, dir.join("floor.json")).unwrap();
    File::open(dir).unwrap().sync_all().unwrap();
    start.elapsed()
}

fn worker(dir: &str, name: &str, secs: f64) {
    let reg = Registry::open(dir).unwrap();
    reg.set_print_warnings(false);
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let mut ports = HashSet::new();
    let mut n = 0u64;
    while Instant::now() < until {
        let l = reg.lease(&LeaseRequest::new(name).range(RANGE)).unwrap();
        ports.insert(l.port);
        reg.release(name, Actor::me()).unwrap();
        n += 1;
    }
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    println!("{n} {}", ports.join(","));
}

fn contention(base: &Path, procs: usize, secs: f64) -> (f64, usize) {
    let dir = base.join("contention");
    let reg = populate(&dir, 10);
    for i in 0..procs {
        reg.lease(&LeaseRequest::new(format!("w{i}")).range(RANGE))
            .unwrap();
        reg.release(&format!("w{i}"), Actor::me()).unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    let start = Instant::now();
    let children: Vec<_> = (0..procs)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "--worker",
                    dir.to_str().unwrap(),
                    &format!("w{i}"),
                    &secs.to_string(),
                ])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = 0u64;
    let mut owner: HashMap<String, usize> = HashMap::new();
    let mut dups = 0;
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text.split_whitespace();
        total += it.next().unwrap().parse::<u64>().unwrap();
        for p in it.next().unwrap_or("").split(',').filter(|p| !p.is_empty()) {
            if let Some(prev) = owner.insert(p.to_string(), i) {
                if prev != i {
                    dups += 1;
                }
            }
        }
    }
    (total as f64 / start.elapsed().as_secs_f64(), dups)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--worker") {
        worker(&args[2], &args[3], args[4].parse().unwrap());
        return;
    }
    let base = std::env::var_os("PORTREG_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-registry"));
    fs::create_dir_all(&base).unwrap();
    println!(
        "portreg registry benchmark ({} cores; registry under {})",
        num_cpus(),
        base.display()
    );
    println!();
    println!(
        "{:>8}  {:>12}  {:>16}  {:>16}  {:>16}",
        "entries", "file size", "fsync floor", "known lease+rel", "new-name lease"
    );
    let mut rows = Vec::new();
    // PORTREG_BENCH_SIZES=10,1000 limits the registry sizes measured.
    let sizes: Vec<usize> = std::env::var("PORTREG_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 1_000, 10_000]);
    for &n in &sizes {
        let dir = base.join(format!("n{n}"));
        let reg = populate(&dir, n);
        reg.set_print_warnings(false);
        let size = fs::metadata(dir.join("registry.json")).unwrap().len();
        let bytes = fs::read(dir.join("registry.json")).unwrap();
        // known name: leased once so the registry knows it, then timed
        let known = LeaseRequest::new("known").range(RANGE);
        reg.lease(&known).unwrap();
        reg.release("known", Actor::me()).unwrap();
        let runs = if n >= 10_000 { 200 } else { 1000 };
        let mut t = Vec::new();
        for _ in 0..runs {
            let s = Instant::now();
            reg.lease(&known).unwrap();
            reg.release("known", Actor::me()).unwrap();
            t.push(s.elapsed());
        }
        let rt = median(t);

        // new name: first lease (durable write), then forget untimed to keep
        // the size. Each lease is timed right after one floor write of the
        // same file size, so both medians see the same disk: this virtual
        // disk's fsync time drifts by 2x from minute to minute.
        let mut t = Vec::new();
        let mut f = Vec::new();
        for i in 0..(if n >= 10_000 { 40 } else { 150 }) {
            f.push(fsync_floor_once(&dir, &bytes, i));
            let name = format!("fresh-{i}");
            let s = Instant::now();
            reg.lease(&LeaseRequest::new(&name).range(RANGE)).unwrap();
            t.push(s.elapsed());
            reg.forget(&name, false).unwrap();
        }
        let _ = fs::remove_file(dir.join("floor.json"));
        let floor = median(f);
        let first = median(t);
        println!(
            "{:>8}  {:>9} KiB  {:>16}  {:>16}  {:>16}",
            n,
            size / 1024,
            us(floor),
            us(rt),
            format!(
                "{} ({:.2}x)",
                us(first),
                first.as_secs_f64() / floor.as_secs_f64()
            )
        );
        rows.push((n, floor, rt, first));
    }
    module_level(&base);
    let procs = 16;
    if rows.len() < 3 {
        return; // a partial run (PORTREG_BENCH_SIZES): the table above is the result
    }
    let (rate, dups) = contention(&base, procs, 3.0);
    println!();
    println!("{procs} processes contending on known names for 3 s: {rate:.0} lease+release/s, {dups} duplicate ports");
    println!();
    println!("targets on this machine (figures, not assertions):");
    let mark = |ok: bool| if ok { "met" } else { "MISSED" };
    let r10 = rows[0].2;
    let r10k = rows[2].2;
    println!(
        "  known-name round trip at 10 entries < 300 µs: {} ({})",
        us(r10),
        mark(r10 < Duration::from_micros(300))
    );
    println!(
        "  known-name round trip at 10,000 entries < 5 ms: {} ({})",
        us(r10k),
        mark(r10k < Duration::from_millis(5))
    );
    for (n, floor, _, first) in &rows {
        let ratio = first.as_secs_f64() / floor.as_secs_f64();
        println!(
            "  new-name first lease within 1.2x of the floor at {n} entries: {ratio:.2}x ({})",
            mark(ratio <= 1.2)
        );
    }
    println!(
        "  16-way contention >= 3,000 leases/s, zero duplicates: {rate:.0}/s, {dups} dup ({})",
        mark(rate >= 3000.0 && dups == 0)
    );
}

/// What the module-level functions of every language cost for a known name:
/// a registry opened for each call (as they did) against the process-wide
/// one per directory they use now (`Registry::shared`).
fn module_level(base: &Path) {
    let dir = base.join("module");
    let _ = fs::remove_dir_all(&dir);
    let known = LeaseRequest::new("known").range(RANGE);
    let round = |reg: &Registry| {
        reg.set_print_warnings(false);
        reg.lease(&known).unwrap();
        reg.release("known", Actor::me()).unwrap();
    };
    round(&Registry::open(&dir).unwrap());
    let time = |f: &dyn Fn()| {
        let t: Vec<Duration> = (0..1000)
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed()
            })
            .collect();
        median(t)
    };
    let fresh = time(&|| round(&Registry::open(&dir).unwrap()));
    let shared = time(&|| round(&Registry::shared(&dir).unwrap()));
    println!();
    println!(
        "module-level known-name lease+release (10 entries): a registry opened per call {}, the shared registry {} ({:.2}x)",
        us(fresh),
        us(shared),
        shared.as_secs_f64() / fresh.as_secs_f64()
    );
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
