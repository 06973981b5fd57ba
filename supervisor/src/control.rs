//! Clients talk to a running supervisor over a Unix socket in its
//! checkout's folder: one JSON request line, one JSON answer, then the
//! connection closes. A socket (rather than signals and files) gives every
//! request an answer once it is done: `down` returns when the services have
//! stopped, `up` when they are healthy or have failed. Only the user can
//! reach it: the folder is 0700.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use portreg_core::{Error, Result};
use serde::{Deserialize, Serialize};

use crate::engine::{Supervisor, UpFailure};
use crate::state::{ProjectState, SOCKET_FILE};

#[derive(Serialize, Deserialize, Debug)]
pub struct Request {
    /// up, down, restart or state.
    pub op: String,
    #[serde(default)]
    pub services: Vec<String>,
}

#[derive(Serialize, Deserialize)]
pub struct Answer {
    pub ok: bool,
    /// The services this request started or stopped.
    #[serde(default)]
    pub services: Vec<String>,
    pub failure: Option<UpFailure>,
    pub state: Option<ProjectState>,
}

/// Serves requests until the process ends; sets `quit` after a `down` of
/// every service.
pub fn serve(sup: Arc<Supervisor>, listener: UnixListener, quit: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let sup = Arc::clone(&sup);
            let quit = Arc::clone(&quit);
            std::thread::spawn(move || handle(&sup, conn, &quit));
        }
    });
}

fn handle(sup: &Arc<Supervisor>, conn: UnixStream, quit: &AtomicBool) {
    // Set once the answer is written: the supervisor exits when it sees
    // the flag, and the client of a `down` that stopped everything would
    // otherwise find the connection closed before its answer.
    let mut quit_after = false;
    let mut line = String::new();
    if BufReader::new(&conn).read_line(&mut line).is_err() {
        return;
    }
    let answer = match serde_json::from_str::<Request>(&line) {
        Err(e) => Answer {
            ok: false,
            services: vec![],
            failure: Some(UpFailure {
                service: String::new(),
                reason: format!("bad request: {e}"),
                last_lines: vec![],
                code: "INTERNAL".into(),
            }),
            state: None,
        },
        Ok(req) => {
            let (ok, services, failure) = match req.op.as_str() {
                "up" => match sup.up(&req.services) {
                    Ok(s) => (true, s, None),
                    Err(f) => (false, vec![], Some(f)),
                },
                "restart" => match sup.restart(&req.services) {
                    Ok(s) => (true, s, None),
                    Err(f) => (false, vec![], Some(f)),
                },
                "down" => {
                    let s = sup.stop(&req.services, true);
                    quit_after = !sup.anything_wanted();
                    (true, s, None)
                }
                _ => (true, vec![], None),
            };
            Answer {
                ok,
                services,
                failure,
                state: Some(sup.snapshot()),
            }
        }
    };
    let mut w = &conn;
    let _ = serde_json::to_writer(&mut w, &answer);
    let _ = w.write_all(b"\n");
    if quit_after {
        quit.store(true, Ordering::SeqCst);
    }
}

/// Binds the checkout's socket (a stale one from a dead supervisor is
/// replaced: the caller holds the supervisor lock).
pub fn bind(dir: &Path) -> Result<UnixListener> {
    let path = dir.join(SOCKET_FILE);
    let _ = std::fs::remove_file(&path);
    UnixListener::bind(&path).map_err(|e| {
        Error::Process(format!(
            "cannot listen on {} ({e}); a Unix socket path must be under 108 bytes: set PORTREG_HOME to a shorter folder",
            path.display()
        ))
    })
}

/// Why a request found no supervisor to answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreached {
    /// No supervisor runs the checkout (its lock is free).
    NotRunning,
    /// One holds the lock but did not answer on its socket.
    NoAnswer,
}

/// Asks the running supervisor of the checkout whose folder is `dir` to
/// `op` (`up`, `down`, `restart` or `state`) `services`, and waits until it
/// is done: what `portreg up`, `down` and `restart` do when a supervisor
/// runs, and what the dashboard's restart and stop buttons do.
pub fn request_running(dir: &Path, op: &str, services: &[String]) -> Result<Answer, Unreached> {
    if !crate::state::supervisor_running(dir) {
        return Err(Unreached::NotRunning);
    }
    let req = Request {
        op: op.into(),
        services: services.to_vec(),
    };
    ask(dir, &req).ok_or(Unreached::NoAnswer)
}

/// Sends one request to the supervisor of `dir` and waits for its answer.
/// None when no supervisor answers.
pub fn ask(dir: &Path, req: &Request) -> Option<Answer> {
    let mut conn = UnixStream::connect(dir.join(SOCKET_FILE)).ok()?;
    let mut text = serde_json::to_string(req).ok()?;
    text.push('\n');
    conn.write_all(text.as_bytes()).ok()?;
    let mut line = String::new();
    BufReader::new(&conn).read_line(&mut line).ok()?;
    serde_json::from_str(&line).ok()
}
