//! The live snapshot: entries, conflicts, health and the dashboard itself as
//! one JSON document, recomputed while a page listens and streamed to it as
//! server-sent events (`GET /api/events`).

use std::collections::{BTreeSet, HashSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use portreg_core::{Conflict, Entry, HostClaim};
use portreg_supervisor::overview::CheckoutStatus;
use serde::Serialize;

use crate::health;
use crate::reply::ApiError;
use crate::state::App;

/// How often the live snapshot is recomputed while a page listens.
const TICK: Duration = Duration::from_secs(1);
/// Conflicts need a scan of every process's sockets: redone when the ports
/// or holders change, else at most this often.
const CONFLICT_EVERY: Duration = Duration::from_secs(5);

#[derive(Serialize)]
struct Snapshot<'a> {
    entries: &'a [Entry],
    conflicts: &'a [Conflict],
    health: &'a [health::Health],
    /// Ports other users of this host hold (port, user, alive): the page
    /// marks them; nothing else of their leases is known.
    others: &'a [HostClaim],
    /// Checkouts of projects (`portreg up`) and their services' states.
    projects: &'a [CheckoutStatus],
    dashboard: DashboardInfo<'a>,
}

#[derive(Serialize)]
struct DashboardInfo<'a> {
    pid: u32,
    port: u16,
    registry: &'a str,
    version: &'static str,
}

/// The whole page's data as one JSON document.
async fn snapshot_json(app: &App) -> Result<String, ApiError> {
    let (rows, listening, others) = app
        .blocking(|reg| {
            let ports = portreg_core::process::listening_ports();
            let mut others = reg.host_claims().unwrap_or_default();
            others.retain(|c| !c.mine && c.alive && c.honoured);
            Ok((reg.list()?, ports, others))
        })
        .await?;
    let conflicts = conflicts(app, &rows, &listening).await?;
    let entries = &rows;
    let listening_of = |name: &str| {
        rows.iter()
            .find(|r| r.name == name)
            .and_then(|r| r.listening)
    };
    let health = app.health.refresh(entries, listening_of).await;
    let projects = crate::projects::list(app).await?;
    let dir = app.reg.path().display().to_string();
    let snap = Snapshot {
        entries: &rows,
        conflicts: &conflicts,
        health: &health,
        others: &others,
        projects: &projects,
        dashboard: DashboardInfo {
            pid: std::process::id(),
            port: app.port,
            registry: &dir,
            version: env!("CARGO_PKG_VERSION"),
        },
    };
    serde_json::to_string(&snap).map_err(|e| ApiError::internal(e.to_string()))
}

/// Conflicts, recomputed when an entry's port, state or holder changes or
/// a listener comes or goes on an entry's port, and every few seconds.
async fn conflicts(
    app: &App,
    rows: &[Entry],
    listening: &Option<HashSet<u16>>,
) -> Result<Vec<Conflict>, ApiError> {
    let ports: BTreeSet<u16> = rows.iter().map(|r| r.port).collect();
    let mut key = String::new();
    for r in rows {
        let pid = r.holder.as_ref().map(|h| h.pid).unwrap_or(0);
        key.push_str(&format!(
            "{}:{}:{}:{pid};",
            r.name,
            r.port,
            r.state.as_str()
        ));
    }
    if let Some(l) = listening {
        let mut on: Vec<u16> = l
            .intersection(&ports.iter().copied().collect())
            .copied()
            .collect();
        on.sort_unstable();
        key.push_str(&format!("{on:?}"));
    }
    let mut cache = app.conflicts.lock().await;
    let fresh = cache.at.is_some_and(|t| t.elapsed() < CONFLICT_EVERY) && cache.key == key;
    if !fresh {
        let entries: Vec<Entry> = rows.to_vec();
        cache.value =
            tokio::task::spawn_blocking(move || portreg_core::process::find_conflicts(&entries))
                .await
                .map_err(|e| ApiError::internal(format!("a conflicts task failed: {e}")))?;
        cache.key = key;
        cache.at = Some(Instant::now());
    }
    Ok(cache.value.clone())
}

/// Recomputes the snapshot every TICK (and at once when an action or a new
/// page asks), but only while some page is listening.
pub async fn ticker(app: Arc<App>) {
    let mut stop = app.stop.subscribe();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = app.refresh.notified() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if app.snapshot.receiver_count() == 0 {
            continue;
        }
        let json = match snapshot_json(&app).await {
            Ok(j) => j,
            Err(e) => {
                serde_json::json!({"error": {"code": e.code, "message": e.message}}).to_string()
            }
        };
        app.snapshot.send_replace(Arc::new(json));
    }
}

/// `GET /api/events`: server-sent events, one `snapshot` event (the JSON of
/// entries, conflicts, health and the dashboard itself) whenever it changes.
pub fn events(app: &Arc<App>) -> Response {
    let rx = app.snapshot.subscribe();
    app.refresh.notify_one();
    let stop = app.stop.subscribe();
    let stream = futures_util::stream::unfold(
        (rx, stop, Arc::new(String::new())),
        |(mut rx, mut stop, last)| async move {
            loop {
                tokio::select! {
                    r = rx.changed() => if r.is_err() { return None },
                    _ = stop.wait_for(|s| *s) => return None,
                }
                let cur = rx.borrow_and_update().clone();
                if !cur.is_empty() && cur != last {
                    let ev = Event::default().event("snapshot").data(cur.as_str());
                    return Some((Ok::<_, Infallible>(ev), (rx, stop, cur)));
                }
            }
        },
    );
    let mut resp = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}
