//! The dashboard's own routes: every request comes to `front`, which sends
//! NAME.localhost to the proxy and checks the rest (Host, Origin, token)
//! before serving the page, its assets, and the JSON API.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use portreg_core::{Actor, Entry, Registry, Released, Target};
use serde::Deserialize;

use crate::guard;
use crate::health;
use crate::projects;
use crate::proxy;
use crate::reply::{json_body, ApiError};
use crate::snapshot;
use crate::state::{App, LEASE_NAME};

const APP_JS: &str = include_str!("assets/app.js");
const ACTIONS_JS: &str = include_str!("assets/actions.js");
const APP_CSS: &str = include_str!("assets/app.css");
const FAVICON: &str = include_str!("assets/favicon.svg");
/// Longest POST body read (the API's bodies are a few bytes of JSON).
const MAX_BODY: usize = 64 * 1024;

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
pub async fn front(State(app): State<Arc<App>>, req: Request) -> Response {
    match guard::classify(app.port, req.headers(), req.uri()) {
        Err(why) => with_page_headers(ApiError::refused(format!("refused: {why}")).into_response()),
        Ok(guard::Target::Proxy(name)) => proxy::handle(app, name, req).await,
        Ok(guard::Target::Own) => {
            let resp = match guard::check_caller(app.port, &app.token, req.method(), req.headers())
            {
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
        ["actions.js"] if get => Ok(page(ACTIONS_JS, "text/javascript; charset=utf-8")),
        ["app.css"] if get => Ok(page(APP_CSS, "text/css; charset=utf-8")),
        ["favicon.svg"] if get => Ok(page(FAVICON, "image/svg+xml")),
        [""] | ["app.js"] | ["actions.js"] | ["app.css"] | ["favicon.svg"] => wrong_method("GET"),
        ["api", "entries"] if get => entries(&app).await,
        ["api", "entries", name] if get => {
            let name = name.to_string();
            let row = app
                .blocking(move |reg| {
                    reg.get(&name)?.ok_or(portreg_core::Error::NotFound {
                        what: "name",
                        name,
                    })
                })
                .await?;
            Ok(json_body(&row))
        }
        ["api", "health"] if get => {
            let entries = app.blocking(|reg| reg.list()).await?;
            Ok(json_body(&health::probe_all(&entries).await))
        }
        ["api", "conflicts"] if get => {
            let c = app.blocking(|reg| reg.conflicts()).await?;
            Ok(json_body(&c))
        }
        ["api", "events"] if get => Ok(snapshot::events(&app)),
        ["api", "projects"] if get => Ok(json_body(&projects::list(&app).await?)),
        ["api", "projects"] => wrong_method("GET"),
        ["api", "projects", checkout, "services", service, action @ ("restart" | "stop" | "start")]
            if post =>
        {
            let out = projects::act(&app, checkout, service, action).await;
            app.refresh.notify_one();
            out
        }
        ["api", "projects", _, "services", _, "restart" | "stop" | "start"] => {
            wrong_method("POST")
        }
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
            "no API endpoint {path}; see GET /api/entries, /api/entries/NAME, /api/health, /api/conflicts, /api/projects"
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
                .blocking(move |reg| reg.kill(&Target::Name(name), timeout))
                .await?;
            Ok(json_body(&reports))
        }
    }
}

fn all_rows(reg: &Registry) -> portreg_core::Result<Vec<Entry>> {
    reg.list()
}

/// `GET /api/entries`. Many clients at once share reads: a request is
/// answered by the newest read that began after it arrived, waiting for the
/// next one if none did. So every answer is as new as its request (a lease
/// that returned before the request is in it), while 200 clients polling
/// together cost one read per wave instead of 200.
async fn entries(app: &App) -> Result<Response, ApiError> {
    let asked = std::time::Instant::now();
    let mut last = app.entries.lock().await;
    let body = match last.as_ref() {
        Some((began, body)) if *began >= asked => body.clone(),
        _ => {
            let began = std::time::Instant::now();
            let rows = app.blocking(all_rows).await?;
            let mut bytes = serde_json::to_vec_pretty(&rows)
                .map_err(|e| ApiError::internal(format!("cannot encode JSON: {e}")))?;
            bytes.push(b'\n');
            let body = Bytes::from(bytes);
            *last = Some((began, body.clone()));
            body
        }
    };
    drop(last);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
