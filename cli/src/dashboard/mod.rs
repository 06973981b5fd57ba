//! `portreg dashboard`: a live web page of every entry, a JSON API for it,
//! and stable `http://NAME.localhost:PORT/` URLs proxied to whatever port
//! NAME holds now. Served on 127.0.0.1 only, by the process that holds the
//! `portreg-dashboard` lease.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use portreg_core::{Actor, Error, ErrorCode, LeaseRequest, Registry, Released};

mod api;
mod health;
mod peer;
mod proxy;

/// The name the dashboard leases its own port under.
pub const LEASE_NAME: &str = "portreg-dashboard";
/// The port asked for when `--port` is not given (docs/design.md keeps 8069 out
/// of the default allocation range for it).
pub const DEFAULT_PORT: u16 = 8069;

/// What `portreg dashboard` was asked for.
pub struct Options {
    pub port: Option<u16>,
    pub open: bool,
}

/// Leases the dashboard's port, serves until SIGINT, SIGTERM or SIGHUP, then
/// releases the lease. Returns the exit status.
pub fn run(reg: Registry, opts: Options) -> portreg_core::Result<i32> {
    let me = std::process::id();
    // The port is exact: bookmarks and NAME.localhost URLs name it, so moving
    // silently to another port would break them. A reservation of
    // `portreg-dashboard` (`portreg reserve portreg-dashboard 9069`) changes
    // the default.
    let mut req = LeaseRequest::new(LEASE_NAME)
        .pid(me)
        .description("portreg dashboard");
    let reserved = reg.get(LEASE_NAME)?.filter(|e| e.reserved).map(|e| e.port);
    match (opts.port, reserved) {
        (Some(p), _) => req = req.port(p).exact(true),
        (None, Some(_)) => {}
        (None, None) => req = req.port(DEFAULT_PORT).exact(true),
    }
    let lease = match reg.lease(&req) {
        Ok(l) => l,
        Err(Error::LeaseHeld(h)) => {
            eprintln!(
                "portreg dashboard is already running at http://127.0.0.1:{}/ (pid {})",
                h.port, h.pid
            );
            return Ok(1);
        }
        Err(e) => return Err(e),
    };
    let reg = Arc::new(reg);
    let result = serve(reg.clone(), lease.port, opts.open);
    let released = match reg.release(LEASE_NAME, Actor::Pid(me)) {
        Ok(Released::Released { .. }) => true,
        // Someone released or forgot it while we ran: nothing left to do.
        Ok(Released::NotHeld) => false,
        Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::NotHolder) => false,
        Err(e) => {
            eprintln!("portreg: warning: could not release {LEASE_NAME}: {e}");
            false
        }
    };
    let signal = result?;
    println!(
        "portreg dashboard: stopped ({signal}){}",
        if released {
            format!("; {LEASE_NAME} released")
        } else {
            String::new()
        }
    );
    Ok(0)
}

fn random_token() -> portreg_core::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::Io {
            context: "cannot read /dev/urandom for the dashboard's token".into(),
            source: e,
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Serves until a signal comes; returns the signal's name.
fn serve(reg: Arc<Registry>, port: u16, open: bool) -> portreg_core::Result<&'static str> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            Error::PortBusy {
                port,
                process: portreg_core::process::describe_listener(port),
            }
        } else {
            Error::Io {
                context: format!("cannot listen on {addr}"),
                source: e,
            }
        }
    })?;
    listener.set_nonblocking(true).map_err(|e| Error::Io {
        context: "cannot set up the dashboard's socket".into(),
        source: e,
    })?;
    let token = random_token()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("portreg-dashboard")
        .build()
        .map_err(|e| Error::Io {
            context: "cannot start the dashboard's runtime".into(),
            source: e,
        })?;
    let dir = reg.path().display().to_string();
    let app = Arc::new(api::App::new(reg, port, token));
    let url = format!("http://127.0.0.1:{port}/");
    let outcome = rt.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| Error::Io {
            context: "cannot set up the dashboard's socket".into(),
            source: e,
        })?;
        let signals = Signals::new()?;
        println!(
            "portreg dashboard: {url}  (registry {dir}, pid {})",
            std::process::id()
        );
        println!("  stable URLs: http://NAME.localhost:{port}/ reach the port NAME holds now");
        println!("  Ctrl-C stops it");
        if open {
            open_browser(&url);
        }
        Ok::<_, Error>(api::serve(app, listener, signals.recv()).await)
    });
    // A kill still waiting in a blocking thread must not hold the exit up.
    rt.shutdown_timeout(Duration::from_millis(200));
    outcome
}

/// SIGINT, SIGTERM and SIGHUP, registered before the server starts so none
/// is lost between "listening" and "ready".
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> portreg_core::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        let make = |k: SignalKind| {
            signal(k).map_err(|e| Error::Io {
                context: "cannot install the dashboard's signal handlers".into(),
                source: e,
            })
        };
        Ok(Signals {
            int: make(SignalKind::interrupt())?,
            term: make(SignalKind::terminate())?,
            hup: make(SignalKind::hangup())?,
        })
    }

    async fn recv(mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}

/// Opens `url` with xdg-open when there is one; never fails the dashboard.
fn open_browser(url: &str) {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    match Command::new("xdg-open")
        .arg(url)
        // its own process group: a Ctrl-C meant for the dashboard must not
        // reach a browser that xdg-open started
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(_) => println!("  (no xdg-open here: open {url} in your browser)"),
    }
}
