//! What every part of the dashboard shares: the registry, the port and
//! per-run token, the rendered page, and the live snapshot's channels and
//! caches.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;

use portreg_core::{Conflict, Registry};
use tokio::sync::{watch, Mutex, Notify};

use crate::health;
use crate::reply::{html_escape, ApiError};

/// The name the dashboard leases its own port under.
pub const LEASE_NAME: &str = "portreg-dashboard";
/// The port asked for when `--port` is not given (docs/design.md keeps 8069 out
/// of the default allocation range for it).
pub const DEFAULT_PORT: u16 = 8069;

const INDEX_HTML: &str = include_str!("assets/index.html");

/// Everything the handlers share.
pub struct App {
    pub reg: Arc<Registry>,
    pub port: u16,
    pub token: String,
    pub index: String,
    /// The latest snapshot JSON, for every page listening to /api/events.
    pub snapshot: watch::Sender<Arc<String>>,
    /// Recompute the snapshot now (an action changed something).
    pub refresh: Notify,
    /// Set once when the dashboard stops.
    pub stop: watch::Sender<bool>,
    pub health: health::Cache,
    pub conflicts: Mutex<ConflictCache>,
    /// The last `GET /api/entries` body and when the read behind it began.
    pub entries: Mutex<Option<(Instant, Bytes)>>,
}

/// The last conflict scan, and what it was computed from.
#[derive(Default)]
pub struct ConflictCache {
    pub key: String,
    pub at: Option<Instant>,
    pub value: Vec<Conflict>,
}

impl App {
    pub fn new(reg: Arc<Registry>, port: u16, token: String) -> App {
        let index = INDEX_HTML
            .replace("{{TOKEN}}", &token)
            .replace("{{PORT}}", &port.to_string())
            .replace(
                "{{REGISTRY}}",
                &html_escape(&reg.path().display().to_string()),
            )
            .replace("{{VERSION}}", env!("CARGO_PKG_VERSION"));
        App {
            reg,
            port,
            token,
            index,
            snapshot: watch::channel(Arc::new(String::new())).0,
            refresh: Notify::new(),
            stop: watch::channel(false).0,
            health: health::Cache::default(),
            conflicts: Mutex::new(ConflictCache::default()),
            entries: Mutex::new(None),
        }
    }

    /// Runs a registry call on a blocking thread (it takes a file lock and
    /// may look at processes).
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Registry) -> portreg_core::Result<T> + Send + 'static,
    {
        let reg = self.reg.clone();
        tokio::task::spawn_blocking(move || f(&reg))
            .await
            .map_err(|e| ApiError::internal(format!("a registry task failed: {e}")))?
            .map_err(ApiError::from)
    }
}
