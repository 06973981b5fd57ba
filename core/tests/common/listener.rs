//! A real listening process for the tests: python3 bound to a port. Shared
//! by core's and the CLI's tests (cli/tests/common includes this file).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A python3 child listening on `host`:`port` (v6only for an IPv6 host),
/// optionally ignoring SIGTERM; returned once it says "ready".
pub fn python_listener(host: &str, port: u16, ignore_term: bool) -> Child {
    let code = format!(
        r#"
import signal, socket, sys, time
if {ignore}: signal.signal(signal.SIGTERM, signal.SIG_IGN)
fam = socket.AF_INET6 if ":" in "{host}" else socket.AF_INET
s = socket.socket(fam)
if fam == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind(("{host}", {port})); s.listen()
print("ready", flush=True)
time.sleep(60)
"#,
        ignore = if ignore_term { "True" } else { "False" }
    );
    let mut c = Command::new("python3")
        .arg("-c")
        .arg(code)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(c.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    c
}
