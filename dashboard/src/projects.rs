//! Projects brought up by `portreg up`: each checkout's services as its
//! supervisor describes them (state, health, restarts), and restart / stop
//! / start of one service, sent to that checkout's running supervisor
//! exactly as `portreg restart`, `portreg down SERVICE` and `portreg up
//! SERVICE` send them.

use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::Response;
use portreg_core::ErrorCode;
use portreg_supervisor::control::{self, Unreached};
use portreg_supervisor::overview::{self, CheckoutStatus};

use crate::reply::{json_body, ApiError};
use crate::state::App;

/// Every checkout with a supervisor state (see [`overview::checkouts`]).
pub async fn list(app: &App) -> Result<Vec<CheckoutStatus>, ApiError> {
    let dir = app.reg.path().to_path_buf();
    tokio::task::spawn_blocking(move || overview::checkouts(&dir))
        .await
        .map_err(|e| ApiError::internal(format!("a projects task failed: {e}")))
}

/// The request a button sends to the supervisor.
fn op_of(action: &str) -> &'static str {
    match action {
        "restart" => "restart",
        "stop" => "down",
        _ => "up",
    }
}

/// `POST /api/projects/{checkout}/services/{service}/{restart|stop|start}`.
pub async fn act(
    app: &App,
    checkout: &str,
    service: &str,
    action: &str,
) -> Result<Response, ApiError> {
    let dir: PathBuf = app.reg.path().to_path_buf();
    let (checkout, service, action) = (
        checkout.to_string(),
        service.to_string(),
        action.to_string(),
    );
    tokio::task::spawn_blocking(move || act_blocking(&dir, &checkout, &service, &action))
        .await
        .map_err(|e| ApiError::internal(format!("a project task failed: {e}")))?
}

fn act_blocking(
    registry: &std::path::Path,
    checkout: &str,
    service: &str,
    action: &str,
) -> Result<Response, ApiError> {
    let Some(c) = overview::checkout(registry, checkout) else {
        let known: Vec<String> = overview::checkouts(registry)
            .into_iter()
            .map(|c| c.checkout)
            .collect();
        return Err(ApiError::not_found(format!(
            "no project checkout {checkout} in this registry (checkouts: {})",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )));
    };
    let Some(svc) = c
        .services
        .iter()
        .find(|s| s.service.eq_ignore_ascii_case(service))
    else {
        return Err(ApiError::not_found(format!(
            "{checkout} has no service {service} (services: {})",
            c.services
                .iter()
                .map(|s| s.service.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let name = svc.service.clone();
    let dir = overview::checkout_dir(registry, checkout);
    let answer = match control::request_running(&dir, op_of(action), std::slice::from_ref(&name)) {
        Ok(a) => a,
        Err(Unreached::NotRunning) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "PROCESS",
                format!(
                    "no supervisor runs {checkout}; `portreg up` in {} starts it",
                    c.root.display()
                ),
            ))
        }
        Err(Unreached::NoAnswer) => {
            return Err(ApiError::of_code(
                ErrorCode::Process,
                format!("the supervisor of {checkout} holds its lock but does not answer"),
            ))
        }
    };
    if let Some(f) = answer.failure {
        let code = ErrorCode::from_name(&f.code).unwrap_or(ErrorCode::Internal);
        let mut message = if f.service.is_empty() {
            f.reason
        } else {
            format!("{} did not start: {}", f.service, f.reason)
        };
        if !f.last_lines.is_empty() {
            message.push_str(&format!("; last lines: {}", f.last_lines.join(" | ")));
        }
        return Err(ApiError::of_code(code, message));
    }
    let state = answer
        .state
        .and_then(|st| st.services.into_iter().find(|s| s.service == name));
    Ok(json_body(&serde_json::json!({
        "checkout": checkout,
        "service": name,
        "action": action,
        "changed": answer.services,
        "state": state,
    })))
}
