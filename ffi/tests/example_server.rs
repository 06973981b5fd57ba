//! The C example server, examples/c/http_server.c, built as C99 with cc and
//! as C++ with g++ against the libportreg.so of this build, then run as real
//! processes serving real HTTP on loopback: it serves its page and /health on
//! its leased port, a second copy says where the first runs and exits 1, and
//! SIGINT or SIGTERM releases the lease, which keeps the port for a restart.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use portreg_core::{Registry, State};

const NAME: &str = "c-example-test";
const WARN: [&str; 4] = ["-Wall", "-Wextra", "-Wpedantic", "-Werror"];

/// Where cargo put libportreg.so for this test: next to the test binary, in
/// target/<host>/debug/deps (cargo builds every crate type of the library
/// for the tests that need it).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe.parent().expect("target/<host>/debug/deps/TEST");
    assert!(
        dir.join("libportreg.so").is_file(),
        "no libportreg.so next to {}",
        exe.display()
    );
    dir.to_path_buf()
}

/// Compiles the example with `compiler` (and its language flags) into `out`.
fn compile(compiler: &[&str], out: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let lib = lib_dir();
    let mut cmd = Command::new(compiler[0]);
    cmd.current_dir(&root)
        .args(&compiler[1..])
        .args(WARN)
        .args(["-Iinclude", "examples/c/http_server.c"])
        // `-x none` ends a `-x c++`, which would otherwise apply to what follows.
        .args(["-x", "none", "-o"])
        .arg(out)
        .arg(format!("-L{}", lib.display()))
        .arg("-lportreg")
        .arg(format!("-Wl,-rpath,{}", lib.display()));
    let done = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (install build-essential): {e}", compiler[0]));
    assert!(
        done.status.success(),
        "{compiler:?} failed to build examples/c/http_server.c:\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
}

/// A test's own folder: its registry, logs and binaries.
struct Work {
    dir: PathBuf,
    home: PathBuf,
}

impl Work {
    fn new() -> Work {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "example-server-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("a clock after 1970")
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).expect("create the test folder");
        let home = dir.join("example-registry");
        Work { dir, home }
    }

    /// The example with this test's registry; ports stay in 23000-23999.
    fn command(&self, exe: &Path, range: &str) -> Command {
        let mut cmd = Command::new(exe);
        cmd.arg(NAME)
            .env("PORTREG_HOME", &self.home)
            .env("PORTREG_RANGE", range)
            .env("TMPDIR", &self.dir)
            .stdin(Stdio::null());
        cmd
    }

    fn entry(&self) -> portreg_core::Entry {
        let reg = Registry::open(&self.home).expect("open the example's registry");
        let entries = reg.list().expect("list the example's registry");
        entries
            .into_iter()
            .find(|e| e.name == NAME)
            .unwrap_or_else(|| panic!("{NAME} is not in the registry"))
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running example server; killed if the test ends while it runs.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts the example and waits (10 s at most) until it prints its URL.
    fn start(work: &Work, exe: &Path, log: &str) -> Server {
        let log = work.dir.join(log);
        let out = std::fs::File::create(&log).expect("create the server log");
        let err = out.try_clone().expect("dup the server log");
        let child = work
            .command(exe, "23600-23699")
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start http_server");
        let mut server = Server { child, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.output().contains("serving http") {
            if let Some(status) = server.child.try_wait().expect("poll http_server") {
                panic!(
                    "http_server exited at start ({status}):\n{}",
                    server.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "http_server printed no URL within 10 s:\n{}",
                server.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` (INT or TERM); the server must exit 0, say it released
    /// its port, and leave NAME idle on that port with no lease record.
    fn stop_and_check_released(mut self, signal: &str, port: u16, work: &Work) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} {} failed", self.pid());
        let status = self.child.wait().expect("wait for http_server");
        assert!(
            status.success(),
            "http_server exited with {status} after SIG{signal}"
        );
        let output = self.output();
        assert!(
            output.contains(&format!("released port {port}")),
            "http_server did not say it released port {port}:\n{output}"
        );
        // Released by the server itself, not merely dead: no lease record is left.
        let leases = std::fs::read_to_string(work.home.join("leases.json")).unwrap_or_default();
        assert!(
            !leases.contains(&format!("\"{NAME}\"")),
            "the lease of {NAME} is still recorded after SIG{signal}:\n{leases}"
        );
        let e = work.entry();
        assert!(
            e.state == State::Idle && e.holder.is_none() && e.port == port,
            "{NAME} is not idle on port {port} after SIG{signal}: {e:?}"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// GET `path` on 127.0.0.1:`port`: the status code and the body.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to http_server");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set a read timeout");
    // One write: the example reads its request with a single recv.
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).expect("send the request");
    let mut response = String::new();
    s.read_to_string(&mut response).expect("read the response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, body.to_string())
}

#[test]
fn the_example_server_serves_refuses_a_second_copy_and_releases_on_signals() {
    let work = Work::new();
    let c = work.dir.join("http_server");
    let cxx = work.dir.join("http_server-cxx");
    compile(&["cc", "-std=c99"], &c);
    compile(&["g++", "-x", "c++", "-std=c++11"], &cxx);

    let server = Server::start(&work, &c, "server1.log");
    let output = server.output();
    let url = output
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {output:?}"));
    let port: u16 = url["http://127.0.0.1:".len()..]
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|_| panic!("no port in {url}"));
    print!("{output}");

    let (status, page) = get(port, "/");
    assert_eq!(status, 200, "GET / answered {status}: {page}");
    assert!(
        page.contains(&format!("<h1>{NAME}</h1>")),
        "the page does not name {NAME}:\n{page}"
    );
    assert!(
        page.contains(&format!("pid {}", server.pid())),
        "the page does not show pid {}:\n{page}",
        server.pid()
    );
    let (status, health) = get(port, "/health");
    assert_eq!(
        (status, health.trim_end_matches('\n')),
        (200, "ok"),
        "/health did not answer ok"
    );
    assert_eq!(
        work.entry().port,
        port,
        "the registry does not give {NAME} port {port}"
    );

    // A second copy (the C++ build) for the same name, in the wider range.
    let Output {
        status,
        stdout,
        stderr,
    } = work
        .command(&cxx, "23000-23999")
        .output()
        .expect("run a second http_server");
    let second = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    print!("{second}");
    assert_eq!(
        status.code(),
        Some(1),
        "a second http_server for {NAME} exited {status}, not 1"
    );
    let expected = format!(
        "{NAME}: already running at http://127.0.0.1:{port} (pid {})",
        server.pid()
    );
    assert!(
        second.lines().any(|l| l == expected),
        "the second http_server did not point at the first: {second:?}"
    );

    server.stop_and_check_released("INT", port, &work);
    println!("SIGINT: released, {NAME} idle on {port}");

    let server = Server::start(&work, &c, "server2.log");
    assert!(
        server
            .output()
            .contains(&format!("serving http://127.0.0.1:{port}/")),
        "a restarted http_server did not get port {port} back:\n{}",
        server.output()
    );
    server.stop_and_check_released("TERM", port, &work);
    println!("restart got port {port} back; SIGTERM: released");
}
