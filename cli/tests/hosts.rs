//! Shared hosts: real users (created here with useradd), each with a private
//! registry, leasing through the real `portreg` binary run as them. No two
//! users' leases may share a port; a user cannot remove or forge another's
//! claim. Needs root (to create users and switch to them): skipped otherwise.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{stderr, stdout};

struct User {
    name: String,
    uid: u32,
    gid: u32,
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn tool(name: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(name).exists())
}

/// Skips (with the reason printed) where users cannot be made or switched to.
fn can_run() -> bool {
    if !is_root() {
        println!("skipped: creating users and switching to them needs root");
        return false;
    }
    if !tool("useradd") || !tool("setpriv") {
        println!("skipped: useradd or setpriv is missing");
        return false;
    }
    true
}

/// Two test users and a fresh host for them; None (skipped, saying why)
/// where users cannot be made.
fn two_users() -> Option<(User, User, Host)> {
    if !can_run() {
        return None;
    }
    Some((user("portreg-t1"), user("portreg-t2"), Host::new()))
}

/// The test user `name`, created (system account, no home) when missing.
fn user(name: &str) -> User {
    let find = || nix::unistd::User::from_name(name).ok().flatten();
    if find().is_none() {
        let out = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ])
            .output()
            .unwrap();
        // Another test may have created it meanwhile.
        assert!(
            out.status.success() || find().is_some(),
            "useradd {name}: {}",
            stderr(&out)
        );
    }
    let u = find().expect("the user exists");
    User {
        name: name.into(),
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
    }
}

/// A place every test user can reach: the binary copied in (the build tree
/// may not be readable by them), a claims directory, private homes.
struct Host {
    dir: tempfile::TempDir,
    bin: PathBuf,
    claims: PathBuf,
}

impl Host {
    fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.path().join("portreg");
        std::fs::copy(common::bin(), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Like /tmp: anyone may create the claims directory in it.
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let claims = shared.join("claims");
        Host { dir, bin, claims }
    }

    /// `u`'s registry directory (portreg creates it, 0700, as `u`).
    fn home(&self, u: &User) -> PathBuf {
        let base = self.dir.path().join(format!("home-{}", u.name));
        if !base.exists() {
            std::fs::create_dir(&base).unwrap();
            std::os::unix::fs::chown(&base, Some(u.uid), Some(u.gid)).unwrap();
        }
        base.join("reg")
    }

    /// A command run as `u` with only the environment given here.
    fn as_user(&self, u: &User, program: &Path) -> Command {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", u.uid))
            .arg(format!("--regid={}", u.gid))
            .arg("--clear-groups")
            .arg("--")
            .arg(program)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("PORTREG_HOME", self.home(u))
            .env("PORTREG_CLAIMS_DIR", &self.claims);
        c
    }

    fn portreg(&self, u: &User, args: &[&str]) -> Output {
        self.as_user(u, &self.bin).args(args).output().unwrap()
    }

    fn sh(&self, u: &User, script: &str) -> Output {
        self.as_user(u, Path::new("/bin/sh"))
            .args(["-c", script])
            .output()
            .unwrap()
    }

    /// A process of `u` to hold leases (`--pid`), killed on drop. Returned
    /// once it is `sleep` running as `u`: setpriv starts as root and only
    /// then takes on the user and execs, and a lease for it before that
    /// would be for a process of root.
    fn holder(&self, u: &User) -> Holder {
        let child = self
            .as_user(u, Path::new("/bin/sleep"))
            .arg("600")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let ready = || {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let uid = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string));
            comm.trim() == "sleep" && uid == Some(u.uid.to_string())
        };
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while !ready() {
            assert!(
                std::time::Instant::now() < until,
                "the holder of {} never started",
                u.name
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        Holder(child)
    }

    fn lease(&self, u: &User, name: &str, holder: &Holder, range: &str) -> Output {
        let pid = holder.0.id().to_string();
        self.portreg(u, &["lease", name, "--pid", &pid, "--range", range])
    }
}

struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn port_of(o: &Output) -> u16 {
    assert!(o.status.success(), "lease failed: {}", stderr(o));
    stdout(o).trim().parse().unwrap()
}

/// `users` each start `per_user` `portreg lease` at one instant (a barrier
/// file), each user with its own registry; returns the port each user got
/// per lease and the failures' exit codes and messages.
fn race(users: &[&User], per_user: usize, range: &str) -> (Vec<Vec<u16>>, Vec<(i32, String)>) {
    let host = Host::new();
    let barrier = host.dir.path().join("go");
    let holders: Vec<Holder> = users.iter().map(|u| host.holder(u)).collect();
    let mut children = Vec::new();
    for (i, u) in users.iter().enumerate() {
        for n in 0..per_user {
            let script = format!(
                "while [ ! -e '{}' ]; do sleep 0.001; done; exec '{}' lease svc{n} --pid {} --range {range}",
                barrier.display(),
                host.bin.display(),
                holders[i].0.id()
            );
            let child = host
                .as_user(u, Path::new("/bin/sh"))
                .args(["-c", &script])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            children.push((i, child));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&barrier, b"").unwrap();
    let mut ports = vec![Vec::new(); users.len()];
    let mut failures = Vec::new();
    for (i, child) in children {
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            ports[i].push(stdout(&out).trim().parse::<u16>().unwrap());
        } else {
            let code = out.status.code().unwrap_or(-1);
            let err = stderr(&out);
            assert!(
                err.contains("[PORT_TAKEN]") || err.contains("[NO_FREE_PORT]"),
                "a failed lease names its code: exit {code}: {err}"
            );
            failures.push((code, err));
        }
    }
    drop(holders);
    (ports, failures)
}

fn racing(n_users: usize) {
    if !can_run() {
        return;
    }
    let names = ["portreg-t1", "portreg-t2", "portreg-t3"];
    let users: Vec<User> = names[..n_users].iter().map(|n| user(n)).collect();
    let refs: Vec<&User> = users.iter().collect();
    for trial in 1..=3 {
        // Fewer ports than 10 per user would need: the users must contend.
        let low = 27000 + 100 * (n_users as u16) + 20 * trial;
        let range = format!("{low}-{}", low + 10 * n_users as u16 + 4);
        let (ports, failures) = race(&refs, 10, &range);
        let mut owner: BTreeMap<u16, BTreeSet<usize>> = BTreeMap::new();
        for (i, ps) in ports.iter().enumerate() {
            let mine: BTreeSet<u16> = ps.iter().copied().collect();
            assert_eq!(
                mine.len(),
                ps.len(),
                "one user's leases are distinct: {ps:?}"
            );
            for p in ps {
                owner.entry(*p).or_default().insert(i);
            }
        }
        let shared = owner.values().filter(|u| u.len() > 1).count();
        let ok: usize = ports.iter().map(Vec::len).sum();
        println!(
            "race: {n_users} users x 10 leases, trial {trial}: {ok} leased, {} failed with a code, {shared} ports shared across users",
            failures.len()
        );
        assert_eq!(shared, 0, "ports handed to two users: {owner:?}");
        assert_eq!(ok + failures.len(), 10 * n_users);
        assert_eq!(
            ok,
            10 * n_users,
            "the range has room for everyone: {failures:?}"
        );
    }
}

#[test]
fn two_users_racing_never_share_a_port() {
    racing(2);
}

#[test]
fn three_users_racing_never_share_a_port() {
    racing(3);
}

#[test]
fn a_lease_not_yet_bound_is_not_handed_to_another_user() {
    let Some((a, b, host)) = two_users() else {
        return;
    };
    let ha = host.holder(&a);
    let hb = host.holder(&b);
    let pa = port_of(&host.lease(&a, "web", &ha, "27900-27901"));
    let pb = port_of(&host.lease(&b, "web", &hb, "27900-27901"));
    assert_ne!(pa, pb, "nobody listens on {pa}, yet it is leased");
    // Asked for exactly, it is refused, naming the other user.
    let out = host.portreg(&b, &["lease", "api", "--port", &pa.to_string(), "--exact"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("portreg-t1"), "{}", stderr(&out));
    // Full range: NO_FREE_PORT, not A's port.
    let out = host.lease(&b, "db", &hb, &format!("{pa}-{pa}"));
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    // `who` and `list --host` show the claim: port, user, alive; no name.
    let who = host.portreg(&b, &["who", &pa.to_string()]);
    assert!(
        stdout(&who).contains("other user: portreg-t1"),
        "{}",
        stdout(&who)
    );
    let list = host.portreg(&b, &["list", "--host", "--json"]);
    let claims: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let theirs = claims
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["port"] == pa)
        .expect("A's claim is listed");
    assert_eq!(theirs["user"], "portreg-t1");
    assert_eq!(theirs["alive"], true);
    assert_eq!(theirs["mine"], false);
    assert!(
        !list.stdout.windows(3).any(|w| w == b"web"),
        "names stay private"
    );
    // Released by A, for its holder: B may have it.
    let ha_pid = ha.0.id().to_string();
    let out = host.portreg(&a, &["release", "web", "--pid", &ha_pid]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        port_of(&host.lease(&b, "db", &hb, &format!("{pa}-{pa}"))),
        pa
    );
}

#[test]
fn a_released_claim_is_kept_for_the_next_lease_and_frees_the_port_for_others() {
    let Some((a, b, host)) = two_users() else {
        return;
    };
    let ha = host.holder(&a);
    let hb = host.holder(&b);
    let range = "27920-27920";
    let p = port_of(&host.lease(&a, "web", &ha, range));
    let file = host.claims.join(format!("{p}.{}", a.uid));
    let inode = std::fs::metadata(&file).unwrap().ino();
    let ha_pid = ha.0.id().to_string();
    let out = host.portreg(&a, &["release", "web", "--pid", &ha_pid]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The file stays, marked released: not shown, not honoured.
    assert_eq!(std::fs::metadata(&file).unwrap().ino(), inode);
    let list = host.portreg(&b, &["list", "--host", "--json"]);
    let claims: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert!(
        !claims.as_array().unwrap().iter().any(|c| c["port"] == p),
        "a released claim is listed: {claims}"
    );
    // A leases again: the same file, rewritten in place, alive again.
    assert_eq!(port_of(&host.lease(&a, "web", &ha, range)), p);
    assert_eq!(std::fs::metadata(&file).unwrap().ino(), inode);
    let out = host.lease(&b, "web", &hb, range);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    // Released again: B gets the port at once, no `clean` needed.
    let out = host.portreg(&a, &["release", "web", "--pid", &ha_pid]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(port_of(&host.lease(&b, "web", &hb, range)), p);
    // And A, asking again, is refused (B's live claim), its file untouched.
    let out = host.lease(&a, "web", &ha, range);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    // `clean` removes A's released file.
    let out = host.portreg(&a, &["clean"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!file.exists(), "a released claim survives clean");
}

#[test]
fn who_and_conflicts_name_another_users_claim() {
    let Some((a, b, host)) = two_users() else {
        return;
    };
    let ha = host.holder(&a);
    let p = port_of(&host.lease(&a, "web", &ha, "27930-27930"));
    // B pins a name to that port: its next lease could not have it.
    let out = host.portreg(&b, &["reserve", "db", &p.to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = host.portreg(&b, &["conflicts", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let conflicts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &conflicts[0];
    assert_eq!(c["entry"]["name"], "db");
    assert_eq!(c["claimed_by"][0]["user"], "portreg-t1");
    assert_eq!(c["claimed_by"][0]["alive"], true);
    let out = host.portreg(&b, &["conflicts"]);
    assert!(
        stdout(&out).contains("also leased by another user of this host: portreg-t1"),
        "{}",
        stdout(&out)
    );
    let out = host.portreg(&b, &["who", &p.to_string(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let who: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(who["host_claims"][0]["user"], "portreg-t1");
    assert_eq!(who["entry"]["name"], "db");
    // A sees no conflict of its own: the claim is its own.
    let out = host.portreg(&a, &["conflicts", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn a_killed_holders_port_goes_to_the_next_user() {
    let Some((a, b, host)) = two_users() else {
        return;
    };
    let mut ha = host.holder(&a);
    let hb = host.holder(&b);
    let p = port_of(&host.lease(&a, "web", &ha, "27910-27910"));
    let out = host.lease(&b, "web", &hb, "27910-27910");
    assert_eq!(
        out.status.code(),
        Some(6),
        "A holds {p}; B got: {}{}; claims: {:?}",
        stdout(&out),
        stderr(&out),
        std::fs::read_dir(&host.claims)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect::<Vec<_>>()
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ha.0.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    ha.0.wait().unwrap();
    assert_eq!(port_of(&host.lease(&b, "web", &hb, "27910-27910")), p);
    // A's next call removes its dead claim; B's stays.
    let out = host.portreg(&a, &["clean"]);
    assert!(out.status.code() == Some(0), "{}", stderr(&out));
    let names: Vec<String> = std::fs::read_dir(&host.claims)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![format!("{p}.{}", b.uid)]);
}

#[test]
fn another_user_cannot_remove_alter_or_forge_a_claim() {
    let Some((a, b, host)) = two_users() else {
        return;
    };
    let ha = host.holder(&a);
    let hb = host.holder(&b);
    let p = port_of(&host.lease(&a, "web", &ha, "27920-27920"));
    let claim = host.claims.join(format!("{p}.{}", a.uid));
    let c = claim.display();
    let before = std::fs::read(&claim).unwrap();
    for attack in [
        format!("rm -f '{c}'"),
        format!("mv '{c}' '{c}.x'"),
        format!("echo '{{}}' > '{c}'"),
        format!("ln -sf /etc/passwd '{c}'"),
        format!("chmod 666 '{c}'"),
    ] {
        let out = host.sh(&b, &attack);
        assert!(!out.status.success(), "{attack} succeeded");
    }
    assert_eq!(
        std::fs::read(&claim).unwrap(),
        before,
        "the claim is untouched"
    );
    assert_eq!(std::fs::metadata(&claim).unwrap().uid(), a.uid);
    let out = host.lease(&b, "web", &hb, "27920-27920");
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));

    // B forges claims under A's name, for ports A has not leased: they are
    // ignored by everyone, and A can still lease them.
    let forged = host.claims.join(format!("27921.{}", a.uid));
    let body = format!(
        r#"{{"port":27921,"uid":{},"pid":{},"start_ticks":0,"boot_id":""}}"#,
        a.uid,
        hb.0.id()
    );
    let out = host.sh(
        &b,
        &format!("printf '%s' '{body}' > '{}'", forged.display()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let ln = host.sh(
        &b,
        &format!("ln -s '{c}' '{}/27922.{}'", host.claims.display(), b.uid),
    );
    assert!(ln.status.success(), "{}", stderr(&ln));
    assert_eq!(port_of(&host.lease(&a, "api", &ha, "27921-27921")), 27921);
    // a symlink named as B's claim, pointing at A's live one, claims nothing
    assert_eq!(port_of(&host.lease(&a, "db", &ha, "27922-27922")), 27922);
    // and A's claim under the squatted name still keeps B out
    let out = host.lease(&b, "api", &hb, "27921-27921");
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));

    // Nothing of A's registry is readable by B.
    let home = host.home(&a);
    for f in ["registry.json", "leases.json"] {
        let out = host.sh(&b, &format!("cat '{}'", home.join(f).display()));
        assert!(!out.status.success(), "B read A's {f}");
    }
    let out = host.portreg(&b, &["--registry", home.to_str().unwrap(), "list"]);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    let all_claims: Vec<u8> = std::fs::read_dir(&host.claims)
        .unwrap()
        .flat_map(|e| std::fs::read(e.unwrap().path()).unwrap_or_default())
        .collect();
    // As JSON strings: a boot id in hex may well hold "db".
    for private in [&br#""web""#[..], br#""api""#, br#""db""#] {
        assert!(
            !all_claims.windows(private.len()).any(|w| w == private),
            "a claim names {}",
            String::from_utf8_lossy(private)
        );
    }
}

#[test]
fn a_shared_directory_another_user_could_tamper_with_is_refused() {
    let Some((a, b, host)) = two_users() else {
        return;
    };
    let ha = host.holder(&a);
    let c = host.claims.display().to_string();
    for (setup, says) in [
        (format!("mkdir -m 777 '{c}'"), "without the sticky bit"),
        (format!("mkdir -m 755 '{c}'"), "is not sticky"),
        (
            format!("mkdir -m 1777 /tmp/pt-$$ && ln -s /tmp/pt-$$ '{c}'"),
            "symbolic link",
        ),
    ] {
        let _ = std::fs::remove_file(&host.claims);
        let _ = std::fs::remove_dir_all(&host.claims);
        let out = host.sh(&b, &setup);
        assert!(out.status.success(), "{setup}: {}", stderr(&out));
        // Set on purpose (PORTREG_CLAIMS_DIR): refused, never used privately.
        let out = host.lease(&a, "web", &ha, "27930-27939");
        assert_eq!(out.status.code(), Some(10), "{setup}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(says) && err.contains(&c), "{setup}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
}

#[test]
fn a_flood_of_claims_and_junk_leaves_others_their_range() {
    let Some((a, b, host)) = two_users() else {
        return;
    };
    let ha = host.holder(&a);
    let hb = host.holder(&b);
    // Created by A (mode 1777), then flooded by B: live claims on 1000
    // ports (more than the cap of 512) and junk of every kind.
    port_of(&host.lease(&a, "first", &ha, "26990-26999"));
    let ticks = std::fs::read_to_string(format!("/proc/{}/stat", hb.0.id())).unwrap();
    let ticks: u64 = ticks[ticks.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let script = format!(
        r#"cd '{dir}' || exit 1
p=29000; while [ $p -lt 30000 ]; do
  printf '{{"port":%d,"uid":{uid},"pid":{pid},"start_ticks":{ticks},"boot_id":"{boot}"}}' $p > $p.{uid}
  p=$((p+1)); done
i=0; while [ $i -lt 300 ]; do : > junk$i; mkfifo fifo.$i; i=$((i+1)); done
mkdir 29600.{auid}; mkfifo 29601.{auid}; ln -s /etc/shadow 29602.{auid}
head -c 100000 /dev/zero > 29603.{auid}"#,
        dir = host.claims.display(),
        uid = b.uid,
        pid = hb.0.id(),
        ticks = ticks,
        boot = boot.trim(),
        auid = a.uid,
    );
    let out = host.sh(&b, &script);
    assert!(out.status.success(), "{}", stderr(&out));
    // B's claims beyond its cap (its lowest 512 ports: 29000-29511) are ignored.
    assert_eq!(
        port_of(&host.lease(&a, "web", &ha, "29000-29700")),
        29512,
        "the first port past B's cap"
    );
    // A's own leases step over B's junk under A's names.
    for (n, p) in [("x0", 29600), ("x1", 29601), ("x2", 29602), ("x3", 29603)] {
        let got = port_of(&host.lease(&a, n, &ha, &format!("{p}-{p}")));
        assert_eq!(got, p);
    }
    // B's honoured claims still keep A out.
    let out = host.lease(&a, "api", &ha, "29000-29511");
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    // And B's own lease beyond its cap is refused, saying why.
    let out = host.lease(&b, "more", &hb, "26000-26010");
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("cap"), "{}", stderr(&out));
}
