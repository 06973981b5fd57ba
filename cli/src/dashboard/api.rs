//! The dashboard's HTTP front: the Host / Origin / token checks every request
//! goes through, the page and its assets, the JSON API, and the live
//! snapshot stream the page listens to.

use std::collections::{BTreeSet, HashSet};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Router;
use portreg_core::{Actor, Conflict, Entry, ErrorCode, Registry, Released};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Mutex, Notify};

use super::{health, proxy, LEASE_NAME};
use crate::rows::Row;

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const FAVICON: &str = include_str!("assets/favicon.svg");

/// The header every state-changing request must carry the per-run token in.
pub const TOKEN_HEADER: &str = "x-portreg-token";
/// How often the live snapshot is recomputed while a page listens.
const TICK: Duration = Duration::from_secs(1);
/// Conflicts need a scan of every process's sockets: redone when the ports
/// or holders change, else at most this often.
const CONFLICT_EVERY: Duration = Duration::from_secs(5);
/// Longest POST body read (the API's bodies are a few bytes of JSON).
const MAX_BODY: usize = 64 * 1024;

/// Everything the handlers share.
pub struct App {
    reg: Arc<Registry>,
    pub port: u16,
    token: String,
    index: String,
    snapshot: watch::Sender<Arc<String>>,
    refresh: Notify,
    stop: watch::Sender<bool>,
    health: health::Cache,
    conflicts: Mutex<ConflictCache>,
}

#[derive(Default)]
struct ConflictCache {
    key: String,
    at: Option<Instant>,
    value: Vec<Conflict>,
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

/// Serves `listener` until `signal` resolves, then stops: live streams end,
/// idle connections close, and in-flight requests get two seconds.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    signal: impl Future<Output = &'static str>,
) -> &'static str {
    let router = Router::new().fallback(front).with_state(app.clone());
    let ticker = tokio::spawn(ticker(app.clone()));
    let mut stop = app.stop.subscribe();
    let listener = super::peer::SameUser::new(listener);
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

// ---------------------------------------------------------------- errors

/// An error as the API returns it: `{"code": "NOT_FOUND", "message": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    fn refused(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "PERMISSION", message)
    }
    fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", message)
    }
    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }
}

impl From<portreg_core::Error> for ApiError {
    fn from(e: portreg_core::Error) -> ApiError {
        let code = e.code();
        let status = match code {
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::InvalidName | ErrorCode::InvalidPort | ErrorCode::InvalidRange => {
                StatusCode::BAD_REQUEST
            }
            ErrorCode::LeaseHeld
            | ErrorCode::PortTaken
            | ErrorCode::PortBusy
            | ErrorCode::NoFreePort
            | ErrorCode::NotHolder
            | ErrorCode::RegistryVersion => StatusCode::CONFLICT,
            ErrorCode::Permission => StatusCode::FORBIDDEN,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, code.as_str(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"code": self.code, "message": self.message});
        (self.status, json_body(&body)).into_response()
    }
}

fn json_body<T: Serialize>(v: &T) -> Response {
    match serde_json::to_vec_pretty(v) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
        }
        Err(e) => ApiError::internal(format!("cannot encode JSON: {e}")).into_response(),
    }
}

// ---------------------------------------------------------------- who may ask

/// Where a request is going, by its Host.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// The dashboard itself: localhost, 127.0.0.1 or [::1] at its port.
    Own,
    /// `NAME.localhost` at the dashboard's port: proxied to NAME's port.
    Proxy(String),
}

/// Splits a Host value into a lower-cased host and its port, if any.
pub(super) fn split_host(value: &str) -> Option<(String, Option<u16>)> {
    let value = value.trim().to_ascii_lowercase();
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{inside}]"), port.map(str::to_string))
    } else {
        match value.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.to_string())),
            None => (value.clone(), None),
        }
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
    };
    (!host.is_empty()).then_some((host, port))
}

/// Decides from the Host header (and an absolute request URI's authority,
/// when there is one) whether a request is for the dashboard, for a stable
/// NAME.localhost URL, or refused (DNS rebinding: a page of another site
/// that resolves its name to 127.0.0.1 sends its own name as Host).
pub fn classify(port: u16, headers: &HeaderMap, uri: &axum::http::Uri) -> Result<Target, String> {
    let mut hosts: Vec<String> = Vec::new();
    for v in headers.get_all(header::HOST) {
        hosts.push(
            v.to_str()
                .map_err(|_| "the Host header is not text".to_string())?
                .to_string(),
        );
    }
    if let Some(a) = uri.authority() {
        hosts.push(a.as_str().to_string());
    }
    if hosts.is_empty() {
        return Err("the request has no Host header".into());
    }
    let mut target = None;
    for h in &hosts {
        let t = classify_one(port, h)?;
        if target.as_ref().is_some_and(|prev| *prev != t) {
            return Err("the request names two different hosts".into());
        }
        target = Some(t);
    }
    target.ok_or_else(|| "the request has no Host header".into())
}

fn classify_one(port: u16, value: &str) -> Result<Target, String> {
    let refuse = || {
        format!(
            "Host {value:?} is not this dashboard's address; it answers only \
             localhost, 127.0.0.1, [::1] and NAME.localhost at port {port} \
             (open http://127.0.0.1:{port}/)"
        )
    };
    let (host, p) = split_host(value).ok_or_else(refuse)?;
    let port_ok = match p {
        Some(p) => p == port,
        None => port == 80,
    };
    if !port_ok {
        return Err(refuse());
    }
    if matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]") {
        return Ok(Target::Own);
    }
    match host.strip_suffix(".localhost") {
        Some(name) if portreg_core::validate_name(name).is_ok() => {
            Ok(Target::Proxy(name.to_string()))
        }
        _ => Err(refuse()),
    }
}

/// Origins the page itself can have.
fn own_origin(port: u16, origin: &str) -> bool {
    let o = origin.to_ascii_lowercase();
    ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .any(|h| o == format!("http://{h}:{port}"))
}

/// Constant-time comparison, so the token cannot be guessed byte by byte.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Cross-site requests: an Origin that is not the page's own is refused on
/// every method, and a state-changing method needs the per-run token (a
/// page of another site can neither read it nor send the header without a
/// CORS preflight, which is refused too).
fn check_caller(app: &App, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let o = origin.to_str().unwrap_or("?");
        if !own_origin(app.port, o) {
            return Err(ApiError::refused(format!(
                "refused: requests from origin {o:?} are not accepted; only the dashboard's own page (http://127.0.0.1:{}/) may call this API",
                app.port
            )));
        }
    }
    if method == Method::GET || method == Method::HEAD {
        return Ok(());
    }
    match headers.get(TOKEN_HEADER) {
        None => Err(ApiError::refused(format!(
            "refused: a {method} needs the dashboard's per-run token in the {} header; the dashboard page carries it",
            "X-Portreg-Token"
        ))),
        Some(t) if same_secret(t.as_bytes(), app.token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::refused(
            "refused: wrong X-Portreg-Token (it changes every time the dashboard starts; reload the page)",
        )),
    }
}

fn with_page_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cache-control", "no-store");
    resp
}

/// Every request comes here first.
async fn front(State(app): State<Arc<App>>, req: Request) -> Response {
    match classify(app.port, req.headers(), req.uri()) {
        Err(why) => with_page_headers(ApiError::refused(format!("refused: {why}")).into_response()),
        Ok(Target::Proxy(name)) => proxy::handle(app, name, req).await,
        Ok(Target::Own) => {
            let resp = match check_caller(&app, req.method(), req.headers()) {
                Err(e) => e.into_response(),
                Ok(()) => route(app, req)
                    .await
                    .unwrap_or_else(IntoResponse::into_response),
            };
            with_page_headers(resp)
        }
    }
}

// ---------------------------------------------------------------- routes

async fn route(app: Arc<App>, req: Request) -> Result<Response, ApiError> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let wrong_method = |allow: &'static str| {
        let mut r = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "NOT_FOUND",
            format!("{method} is not allowed on {path}; use {allow}"),
        )
        .into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        Ok(r)
    };
    match segs.as_slice() {
        [""] if get => Ok(page(&app.index, "text/html; charset=utf-8")),
        ["app.js"] if get => Ok(page(APP_JS, "text/javascript; charset=utf-8")),
        ["app.css"] if get => Ok(page(APP_CSS, "text/css; charset=utf-8")),
        ["favicon.svg"] if get => Ok(page(FAVICON, "image/svg+xml")),
        [""] | ["app.js"] | ["app.css"] | ["favicon.svg"] => wrong_method("GET"),
        ["api", "entries"] if get => Ok(json_body(&app.blocking(rows).await?)),
        ["api", "entries", name] if get => {
            let name = name.to_string();
            let row = app
                .blocking(move |reg| {
                    let e = reg.get(&name)?.ok_or(portreg_core::Error::NotFound {
                        what: "name",
                        name,
                    })?;
                    Ok(crate::rows::rows([e]).remove(0))
                })
                .await?;
            Ok(json_body(&row))
        }
        ["api", "health"] if get => {
            let entries = app.blocking(|reg| reg.list()).await?;
            Ok(json_body(&health::probe_all(&entries).await))
        }
        ["api", "conflicts"] if get => {
            let c = app.blocking(|reg| reg.list().map(|e| portreg_core::process::find_conflicts(&e))).await?;
            Ok(json_body(&c))
        }
        ["api", "events"] if get => Ok(events(&app)),
        ["api", "entries"] | ["api", "health"] | ["api", "conflicts"] | ["api", "events"] => {
            wrong_method("GET")
        }
        ["api", "entries", _] => wrong_method("GET"),
        ["api", "clean"] if post => {
            let cleaned = app.blocking(|reg| reg.clean()).await?;
            app.refresh.notify_one();
            Ok(json_body(&cleaned))
        }
        ["api", "entries", name, action @ ("release" | "forget" | "kill")] if post => {
            let (name, action) = (name.to_string(), action.to_string());
            let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
                .await
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "IO", format!("cannot read the request body: {e}")))?;
            let out = act(&app, &name, &action, &body).await;
            app.refresh.notify_one();
            out
        }
        ["api", "clean"] | ["api", "entries", _, "release" | "forget" | "kill"] => wrong_method("POST"),
        ["api", ..] => Err(ApiError::not_found(format!(
            "no API endpoint {path}; see GET /api/entries, /api/entries/NAME, /api/health, /api/conflicts"
        ))),
        _ => Err(ApiError::not_found(format!(
            "nothing at {path}; the dashboard is at /"
        ))),
    }
}

fn page(body: &str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body.to_string()).into_response()
}

#[derive(Deserialize, Default)]
struct KillBody {
    timeout: Option<f64>,
}

#[derive(Deserialize, Default)]
struct ForgetBody {
    #[serde(default)]
    force: bool,
}

fn parse_body<T: for<'de> Deserialize<'de> + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "PROCESS",
            format!("the request body is not the JSON this endpoint takes: {e}"),
        )
    })
}

/// release, forget or kill one entry.
async fn act(app: &App, name: &str, action: &str, body: &Bytes) -> Result<Response, ApiError> {
    portreg_core::validate_name(name)?;
    if name.eq_ignore_ascii_case(LEASE_NAME) {
        return Err(ApiError::refused(format!(
            "{LEASE_NAME} is this dashboard's own lease; stop the dashboard (Ctrl-C, or kill pid {}) to release it",
            std::process::id()
        )));
    }
    let name = name.to_string();
    match action {
        "release" => {
            let n = name.clone();
            let r = app
                .blocking(move |reg| reg.release(&n, Actor::Force))
                .await?;
            Ok(json_body(&match r {
                Released::Released { port, pid } => {
                    serde_json::json!({"name": name, "released": true, "port": port, "pid": pid})
                }
                Released::NotHeld => serde_json::json!({"name": name, "released": false}),
            }))
        }
        "forget" => {
            let b: ForgetBody = parse_body(body)?;
            let e = app.blocking(move |reg| reg.forget(&name, b.force)).await?;
            Ok(json_body(&e))
        }
        _ => {
            let b: KillBody = parse_body(body)?;
            let timeout = portreg_core::target::kill_timeout(b.timeout)
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "PROCESS", e.to_string()))?;
            // The wait (up to the timeout) happens on a blocking thread: the
            // page and the API keep answering meanwhile.
            let reports = app
                .blocking(move |reg| reg.kill(&portreg_core::Target::Name(name), timeout))
                .await?;
            Ok(json_body(&reports))
        }
    }
}

// ---------------------------------------------------------------- entries

fn rows(reg: &Registry) -> portreg_core::Result<Vec<Row>> {
    Ok(crate::rows::rows(reg.list()?))
}

// ---------------------------------------------------------------- live snapshot

#[derive(Serialize)]
struct Snapshot<'a> {
    entries: &'a [Row],
    conflicts: &'a [Conflict],
    health: &'a [health::Health],
    dashboard: DashboardInfo<'a>,
}

#[derive(Serialize)]
struct DashboardInfo<'a> {
    pid: u32,
    port: u16,
    registry: &'a str,
    version: &'static str,
}

impl App {
    /// The whole page's data as one JSON document.
    async fn snapshot_json(&self) -> Result<String, ApiError> {
        let (rows, listening) = self
            .blocking(|reg| {
                let ports = portreg_core::process::listening_ports();
                let rows: Vec<Row> = reg
                    .list()?
                    .into_iter()
                    .map(|e| Row::new(e, &ports))
                    .collect();
                Ok((rows, ports))
            })
            .await?;
        let conflicts = self.conflicts(&rows, &listening).await?;
        let entries: Vec<Entry> = rows.iter().map(|r| r.entry.clone()).collect();
        let listening_of = |name: &str| {
            rows.iter()
                .find(|r| r.entry.name == name)
                .and_then(|r| r.listening)
        };
        let health = self.health.refresh(&entries, listening_of).await;
        let dir = self.reg.path().display().to_string();
        let snap = Snapshot {
            entries: &rows,
            conflicts: &conflicts,
            health: &health,
            dashboard: DashboardInfo {
                pid: std::process::id(),
                port: self.port,
                registry: &dir,
                version: env!("CARGO_PKG_VERSION"),
            },
        };
        serde_json::to_string(&snap).map_err(|e| ApiError::internal(e.to_string()))
    }

    /// Conflicts, recomputed when an entry's port, state or holder changes or
    /// a listener comes or goes on an entry's port, and every few seconds.
    async fn conflicts(
        &self,
        rows: &[Row],
        listening: &Option<HashSet<u16>>,
    ) -> Result<Vec<Conflict>, ApiError> {
        let ports: BTreeSet<u16> = rows.iter().map(|r| r.entry.port).collect();
        let mut key = String::new();
        for r in rows {
            let pid = r.entry.holder.as_ref().map(|h| h.pid).unwrap_or(0);
            key.push_str(&format!(
                "{}:{}:{}:{pid};",
                r.entry.name,
                r.entry.port,
                r.entry.state.as_str()
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
        let mut cache = self.conflicts.lock().await;
        let fresh = cache.at.is_some_and(|t| t.elapsed() < CONFLICT_EVERY) && cache.key == key;
        if !fresh {
            let entries: Vec<Entry> = rows.iter().map(|r| r.entry.clone()).collect();
            cache.value = tokio::task::spawn_blocking(move || {
                portreg_core::process::find_conflicts(&entries)
            })
            .await
            .map_err(|e| ApiError::internal(format!("a conflicts task failed: {e}")))?;
            cache.key = key;
            cache.at = Some(Instant::now());
        }
        Ok(cache.value.clone())
    }
}

/// Recomputes the snapshot every TICK (and at once when an action or a new
/// page asks), but only while some page is listening.
async fn ticker(app: Arc<App>) {
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
        let json = match app.snapshot_json().await {
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
fn events(app: &Arc<App>) -> Response {
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

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The body of a response the dashboard builds itself.
pub fn html_response(status: StatusCode, html: String) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        Body::from(html),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(h: &str) -> Result<Target, String> {
        let mut m = HeaderMap::new();
        m.insert(header::HOST, HeaderValue::from_str(h).unwrap());
        classify(8069, &m, &"/".parse().unwrap())
    }

    #[test]
    fn hosts() {
        for ok in [
            "localhost:8069",
            "127.0.0.1:8069",
            "[::1]:8069",
            "LOCALHOST:8069",
        ] {
            assert_eq!(host(ok), Ok(Target::Own), "{ok}");
        }
        assert_eq!(host("web.localhost:8069"), Ok(Target::Proxy("web".into())));
        assert_eq!(
            host("My-App.db.localhost:8069"),
            Ok(Target::Proxy("my-app.db".into()))
        );
        for bad in [
            "evil.example:8069",
            "localhost:8070",
            "localhost",
            "127.0.0.1",
            "localhost.:8069",
            "127.0.0.2:8069",
            "[::2]:8069",
            "a b.localhost:8069",
            ".localhost:8069",
            "-x.localhost:8069",
            "localhost:8069:8069",
            "localhost:",
            "[::1]8069",
            "evil.example",
            "localhost.evil.example:8069",
        ] {
            assert!(host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn absolute_uri_must_agree_with_host() {
        let mut m = HeaderMap::new();
        m.insert(header::HOST, HeaderValue::from_static("localhost:8069"));
        let uri: axum::http::Uri = "http://evil.example:8069/api/entries".parse().unwrap();
        assert!(classify(8069, &m, &uri).is_err());
        assert!(classify(8069, &HeaderMap::new(), &"/".parse().unwrap()).is_err());
    }

    #[test]
    fn origins() {
        assert!(own_origin(8069, "http://localhost:8069"));
        assert!(own_origin(8069, "http://127.0.0.1:8069"));
        assert!(own_origin(8069, "http://[::1]:8069"));
        assert!(!own_origin(8069, "http://localhost:8070"));
        assert!(!own_origin(8069, "https://localhost:8069"));
        assert!(!own_origin(8069, "null"));
        assert!(!own_origin(8069, "http://web.localhost:8069"));
    }

    #[test]
    fn secrets() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }
}
