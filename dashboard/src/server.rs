//! The dashboard's runtime and lifetime: bind (`bind`), serve every
//! request through `routes::front`, stop cleanly on SIGINT, SIGTERM or
//! SIGHUP.

use std::future::Future;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use portreg_core::{Error, Registry};

use crate::bind;
use crate::guard::peer::SameUser;
use crate::routes;
use crate::snapshot;
use crate::state::App;

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
pub fn serve(reg: Arc<Registry>, port: u16, open: bool) -> portreg_core::Result<&'static str> {
    let bound = bind::bind(port)?;
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
    let app = Arc::new(App::new(reg, port, token));
    let url = format!("http://127.0.0.1:{port}/");
    let outcome = rt.block_on(async {
        let tokio_listener = |l: std::net::TcpListener| {
            tokio::net::TcpListener::from_std(l).map_err(|e| Error::Io {
                context: "cannot set up the dashboard's socket".into(),
                source: e,
            })
        };
        let v4 = tokio_listener(bound.v4)?;
        let v6 = bound.v6.map(tokio_listener).transpose()?;
        let listener = SameUser::new(v4, v6);
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
        Ok::<_, Error>(serve_until(app, listener, signals.recv()).await)
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

/// Serves `listener` until `signal` resolves, then stops: live streams end,
/// idle connections close, and in-flight requests get two seconds.
async fn serve_until(
    app: Arc<App>,
    listener: SameUser,
    signal: impl Future<Output = &'static str>,
) -> &'static str {
    let router = Router::new()
        .fallback(routes::front)
        .with_state(app.clone());
    let ticker = tokio::spawn(snapshot::ticker(app.clone()));
    let mut stop = app.stop.subscribe();
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        let _ = stop.wait_for(|s| *s).await;
    });
    let server = tokio::spawn(async move { server.await });
    let sig = signal.await;
    app.stop.send_replace(true);
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    ticker.abort();
    sig
}
