//! `portreg dashboard`: a live web page of every entry, a JSON API for it,
//! and stable `http://NAME.localhost:PORT/` URLs proxied to whatever port
//! NAME holds now. Served on loopback only, by the process that holds the
//! `portreg-dashboard` lease.
//!
//! Modules, leaves first: `reply` (error and page responses),
//! `upstream` (connections to services), `guard` (who may ask), `health`,
//! `state` (what the handlers share), `projects` (checkouts of `portreg up`
//! and their supervisors), `snapshot` (the live stream),
//! `proxy` (NAME.localhost), `routes` (the page and API), `bind` (the
//! port on 127.0.0.1 and [::1]), `server` (runtime, signals).

use std::sync::Arc;

use portreg_core::{Actor, Error, ErrorCode, LeaseRequest, Registry, Released};

mod bind;
mod guard;
mod health;
mod projects;
mod proxy;
mod reply;
mod routes;
mod server;
mod snapshot;
mod state;
mod upstream;

pub use state::{DEFAULT_PORT, LEASE_NAME};

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
    let result = server::serve(reg.clone(), lease.port, opts.open);
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
