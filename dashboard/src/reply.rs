//! Responses the dashboard builds itself: API errors as JSON
//! (`{"code": "NOT_FOUND", "message": "..."}`), JSON bodies, and small HTML
//! pages with their own strict headers.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use portreg_core::ErrorCode;
use serde::Serialize;

/// An error as the API returns it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn refused(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "PERMISSION", message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }
}

impl ApiError {
    /// An error of one of portreg's codes, with the status the API gives it.
    pub fn of_code(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::new(status_of(code), code.as_str(), message)
    }
}

/// The HTTP status the API answers an error code with.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
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
    }
}

impl From<portreg_core::Error> for ApiError {
    fn from(e: portreg_core::Error) -> ApiError {
        ApiError::of_code(e.code(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"code": self.code, "message": self.message});
        (self.status, json_body(&body)).into_response()
    }
}

/// `v` as pretty JSON with a trailing newline.
pub fn json_body<T: Serialize>(v: &T) -> Response {
    match serde_json::to_vec_pretty(v) {
        Ok(mut bytes) => {
            bytes.push(b'\n');
            ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
        }
        Err(e) => ApiError::internal(format!("cannot encode JSON: {e}")).into_response(),
    }
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

/// A page the dashboard writes itself (inline styles, no scripts).
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
