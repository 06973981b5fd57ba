//! Stable URLs: `http://NAME.localhost:PORT/` (PORT being the dashboard's)
//! is forwarded to the port NAME holds now, WebSocket upgrades included, so
//! a bookmark survives a port change. An unknown or idle name gets a page
//! listing the names that can be reached.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use portreg_core::{Entry, State};

use crate::reply::{html_escape, html_response};
use crate::state::{App, LEASE_NAME};
use crate::upstream::connect_owned;

/// Serves a request whose Host is `NAME.localhost:PORT`.
pub async fn handle(app: Arc<App>, name: String, req: Request) -> Response {
    let n = name.clone();
    let entry = match app.blocking(move |reg| reg.get(&n)).await {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    match entry {
        Some(e) if e.port == app.port => {
            // NAME is the dashboard itself: forwarding would loop.
            let to = format!("http://localhost:{}/", app.port);
            (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
        }
        Some(e) if e.state != State::Idle => forward(&app, e, req).await,
        Some(e) => {
            let why = format!(
                "<b>{n}</b> is idle: no process holds it. It last ran on port {port}; start it \
                 again (for example <code>portreg run {n} -- your command</code>) and reload this page.",
                n = html_escape(&e.name),
                port = e.port
            );
            directory(
                &app,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("{} is not running", e.name),
                &why,
            )
            .await
        }
        None => {
            let why = format!(
                "The registry has no service called <b>{}</b>. Names are given by \
                 <code>portreg lease NAME</code> or <code>portreg run NAME -- ...</code>.",
                html_escape(&name)
            );
            directory(
                &app,
                StatusCode::NOT_FOUND,
                &format!("No service called {name}"),
                &why,
            )
            .await
        }
    }
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// Removes the headers that describe one connection rather than the message
/// (RFC 9110 section 7.6.1), including any the Connection header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for h in named {
        headers.remove(h);
    }
    for h in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(h);
    }
}

async fn forward(app: &App, e: Entry, mut req: Request) -> Response {
    let upgrade = is_upgrade(req.headers())
        .then(|| req.headers().get(header::UPGRADE).cloned())
        .flatten();
    let client_side = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    let host = parts.headers.get(header::HOST).cloned();
    parts.uri = parts
        .uri
        .path_and_query()
        .and_then(|pq| pq.as_str().parse::<Uri>().ok())
        .unwrap_or_else(|| Uri::from_static("/"));
    parts.version = Version::HTTP_11;
    strip_hop_by_hop(&mut parts.headers);
    if let Some(u) = &upgrade {
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        parts.headers.insert(header::UPGRADE, u.clone());
    }
    // The Host stays NAME.localhost:PORT (dev servers allow *.localhost and
    // build their links and hot-reload sockets from it); these say the rest.
    if let Some(h) = host {
        parts.headers.insert("x-forwarded-host", h);
    }
    parts
        .headers
        .insert("x-forwarded-proto", HeaderValue::from_static("http"));
    parts
        .headers
        .insert("x-forwarded-for", HeaderValue::from_static("127.0.0.1"));

    let port = e.port;
    let addrs = [
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ];
    let stream = match connect_owned(&addrs).await {
        Ok(s) => s,
        Err(err) => {
            let why = format!(
                "<b>{n}</b> holds port {port}, but no server of yours accepts connections on \
                 127.0.0.1:{port} or [::1]:{port} ({err}). If it is still starting, reload in a moment.",
                n = html_escape(&e.name),
                err = html_escape(&err.to_string())
            );
            return directory(
                app,
                StatusCode::BAD_GATEWAY,
                &format!("{} is not answering", e.name),
                &why,
            )
            .await;
        }
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    {
        Ok(x) => x,
        Err(err) => return bad_gateway(app, &e, &err.to_string()).await,
    };
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let mut resp = match sender
        .send_request(axum::http::Request::from_parts(parts, body))
        .await
    {
        Ok(r) => r,
        Err(err) => return bad_gateway(app, &e, &err.to_string()).await,
    };
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_side) = client_side {
            let server_side = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                if let (Ok(c), Ok(s)) = (client_side.await, server_side.await) {
                    let _ =
                        tokio::io::copy_bidirectional(&mut TokioIo::new(c), &mut TokioIo::new(s))
                            .await;
                }
            });
            let (parts, _) = resp.into_parts();
            return Response::from_parts(parts, Body::empty());
        }
    }
    let (mut parts, body) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, Body::new(body))
}

async fn bad_gateway(app: &App, e: &Entry, err: &str) -> Response {
    let why = format!(
        "<b>{n}</b> on port {port} did not answer the request: {err}.",
        n = html_escape(&e.name),
        port = e.port,
        err = html_escape(err)
    );
    directory(
        app,
        StatusCode::BAD_GATEWAY,
        &format!("{} did not answer", e.name),
        &why,
    )
    .await
}

/// A small page saying what went wrong and listing every name that can be
/// reached through a stable URL.
async fn directory(app: &App, status: StatusCode, title: &str, why_html: &str) -> Response {
    let port = app.port;
    let entries = app.blocking(|reg| reg.list()).await.unwrap_or_default();
    let mut items = String::new();
    for e in entries
        .iter()
        .filter(|e| e.state != State::Idle && !e.name.eq_ignore_ascii_case(LEASE_NAME))
    {
        let n = html_escape(&e.name);
        let desc = e
            .description
            .as_deref()
            .map(|d| format!(" <span class=d>{}</span>", html_escape(d)))
            .unwrap_or_default();
        items.push_str(&format!(
            "<li><a href=\"http://{n}.localhost:{port}/\">{n}.localhost:{port}</a> \
             <span class=p>port {p} &middot; {s}</span>{desc}</li>\n",
            p = e.port,
            s = e.state.as_str()
        ));
    }
    if items.is_empty() {
        items = "<li class=none>No service is running or reserved right now.</li>".into();
    }
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} &middot; portreg</title>
<style>
:root {{ color-scheme: light dark; --fg:#1d2433; --muted:#5c6577; --bg:#f6f7f9; --card:#fff; --line:#e3e6ec; --accent:#2f6fec; }}
@media (prefers-color-scheme: dark) {{ :root {{ --fg:#e6e9ef; --muted:#98a1b3; --bg:#12151b; --card:#1a1e26; --line:#2a303b; --accent:#7aa5ff; }} }}
body {{ margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif; background:var(--bg); color:var(--fg); }}
main {{ max-width:640px; margin:12vh auto; padding:0 20px; }}
.card {{ background:var(--card); border:1px solid var(--line); border-radius:12px; padding:24px 28px; }}
h1 {{ font-size:20px; margin:0 0 8px; }}
p {{ color:var(--muted); margin:0 0 18px; }}
code {{ font:13px ui-monospace,SFMono-Regular,Menlo,monospace; background:color-mix(in srgb,var(--line) 60%,transparent); padding:1px 5px; border-radius:4px; }}
h2 {{ font-size:13px; text-transform:uppercase; letter-spacing:.06em; color:var(--muted); margin:22px 0 8px; }}
ul {{ list-style:none; padding:0; margin:0; }}
li {{ padding:8px 0; border-top:1px solid var(--line); }}
a {{ color:var(--accent); text-decoration:none; font-family:ui-monospace,SFMono-Regular,Menlo,monospace; font-size:14px; }}
a:hover {{ text-decoration:underline; }}
.p, .d, .none {{ color:var(--muted); font-size:13px; }}
.d::before {{ content:"— "; }}
footer {{ margin-top:16px; font-size:13px; color:var(--muted); }}
</style></head>
<body><main><div class="card">
<h1>{title_h}</h1>
<p>{why_html}</p>
<h2>Running and reserved services</h2>
<ul>
{items}</ul>
</div>
<footer>portreg &middot; <a href="http://localhost:{port}/">dashboard</a></footer>
</main></body></html>
"#,
        title = html_escape(title),
        title_h = html_escape(title),
    );
    html_response(status, html)
}
