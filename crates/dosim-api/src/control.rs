//! The `/_dosim/` control endpoints: reset, state, history and the fault plan.
//!
//! They need no token: they are for the person or harness running the server, not for the
//! client under test, and they are never rate limited or faulted.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use crate::app::{json_response, no_content};
use crate::error::ApiError;
use crate::faults::FaultPlan;
use crate::server::Server;

pub fn router() -> Router<Server> {
    Router::new()
        .route("/_dosim/reset", post(reset))
        .route("/_dosim/state", get(state))
        .route("/_dosim/history", get(history))
        .route("/_dosim/faults", get(get_faults).put(put_faults))
}

async fn reset(State(server): State<Server>) -> Response {
    server.reset();
    no_content()
}

async fn state(State(server): State<Server>) -> Response {
    json_response(StatusCode::OK, &server.state_dump())
}

async fn history(State(server): State<Server>) -> Response {
    let entries = server.history();
    json_response(StatusCode::OK, &json!({ "history": entries }))
}

async fn get_faults(State(server): State<Server>) -> Response {
    json_response(StatusCode::OK, &json!(server.fault_plan()))
}

/// Replaces the fault plan. JSON unless the content type says TOML.
async fn put_faults(
    State(server): State<Server>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the fault plan is not UTF-8"))?;
    let is_toml = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("toml"));
    let plan = if is_toml {
        FaultPlan::from_toml(text)
    } else {
        FaultPlan::from_json(text)
    };
    let plan = plan.map_err(|e| ApiError::bad_request(e.to_string()))?;
    server.set_fault_plan(plan.clone());
    Ok(json_response(StatusCode::OK, &json!(plan)))
}
