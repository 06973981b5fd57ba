//! Who may ask: the Host, Origin and token checks every request goes
//! through (DNS rebinding, cross-site requests), and in `peer` the check
//! that a connection comes from the dashboard's own user at all.

use axum::http::{header, HeaderMap, Method};

use crate::reply::ApiError;

pub mod peer;

/// The header every state-changing request must carry the per-run token in.
pub const TOKEN_HEADER: &str = "x-portreg-token";

/// Where a request is going, by its Host.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// The dashboard itself: localhost, 127.0.0.1 or [::1] at its port.
    Own,
    /// `NAME.localhost` at the dashboard's port: proxied to NAME's port.
    Proxy(String),
}

/// Splits a Host value into a lower-cased host and its port, if any.
pub fn split_host(value: &str) -> Option<(String, Option<u16>)> {
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
pub fn check_caller(
    port: u16,
    token: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let o = origin.to_str().unwrap_or("?");
        if !own_origin(port, o) {
            return Err(ApiError::refused(format!(
                "refused: requests from origin {o:?} are not accepted; only the dashboard's own page (http://127.0.0.1:{}/) may call this API",
                port
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
        Some(t) if same_secret(t.as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::refused(
            "refused: wrong X-Portreg-Token (it changes every time the dashboard starts; reload the page)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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
