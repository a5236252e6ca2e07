//! The `/_dosim/` control endpoints: reset, state, history and the fault plan.
//!
//! They need no account token: they are for the person or harness running the server, not for
//! the client under test, and they are never rate limited or faulted. When the server has a
//! control token, the pipeline asks for it on each of them.

use axum::body::{Body, Bytes};
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::json;

use crate::app::{json_response, no_content};
use crate::error::ApiError;
use crate::faults::FaultPlan;
use crate::history::HistoryEntry;
use crate::server::Server;

pub fn router() -> Router {
    Router::new()
        .route("/_dosim/reset", post(reset))
        .route("/_dosim/state", get(state))
        .route("/_dosim/history", get(history))
        .route("/_dosim/faults", get(get_faults).put(put_faults))
}

async fn reset(Extension(server): Extension<Server>) -> Response {
    server.reset();
    no_content()
}

/// The state dump; passwords are redacted unless the query says `secrets=true`.
async fn state(Extension(server): Extension<Server>, RawQuery(query): RawQuery) -> Response {
    let secrets = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .any(|pair| pair == "secrets=true");
    let dump = if secrets {
        server.state_dump()
    } else {
        server.state_dump_redacted()
    };
    json_response(StatusCode::OK, &dump)
}

/// Entries in one page of `GET /_dosim/history` unless `limit` says otherwise.
pub const HISTORY_PAGE_DEFAULT: usize = 1000;
/// The largest page of `GET /_dosim/history`.
pub const HISTORY_PAGE_MAX: usize = 10_000;
/// Entries serialized into each chunk of a history page's body.
const HISTORY_CHUNK: usize = 128;

/// `GET /_dosim/history?after=SEQ&limit=N`: up to `limit` entries with `seq` above `after`, in
/// `seq` order, `next_after`, the `after` of the next page (null on the last), and
/// `waiting_for`, the oldest seq still in flight, from which entries are held back (null when
/// none is). The page is copied under the lock and serialized as it is sent, a chunk at a time.
async fn history(
    Extension(server): Extension<Server>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut after = None;
    let mut limit = HISTORY_PAGE_DEFAULT;
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "after" => {
                after = Some(value.parse::<u64>().map_err(|_| {
                    ApiError::bad_request("after must be a history entry's seq (an integer from 0)")
                })?);
            }
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=HISTORY_PAGE_MAX).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "limit must be an integer from 1 to {HISTORY_PAGE_MAX}"
                        ))
                    })?;
            }
            _ => {}
        }
    }
    let page = server.history_page(after, limit);
    let next_after = if page.more {
        page.entries.last().map(|entry| entry.seq)
    } else {
        None
    };
    let or_null = |seq: Option<u64>| seq.map_or_else(|| "null".to_owned(), |seq| seq.to_string());
    let mut response = Response::new(Body::new(HistoryBody {
        entries: page.entries.into_iter(),
        first: true,
        tail: Some(format!(
            "],\"next_after\":{},\"waiting_for\":{}}}",
            or_null(next_after),
            or_null(page.waiting_for)
        )),
    }));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(response)
}

/// A history page's body: `{"history":[`, then the entries a chunk at a time, then the tail.
struct HistoryBody {
    entries: std::vec::IntoIter<HistoryEntry>,
    first: bool,
    tail: Option<String>,
}

impl http_body::Body for HistoryBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let mut chunk = Vec::new();
        if this.first {
            chunk.extend_from_slice(b"{\"history\":[");
        }
        for (i, entry) in this.entries.by_ref().take(HISTORY_CHUNK).enumerate() {
            if !(this.first && i == 0) {
                chunk.push(b',');
            }
            serde_json::to_writer(&mut chunk, &entry).expect("an entry always serializes");
        }
        this.first = false;
        if this.entries.len() == 0 {
            if let Some(tail) = this.tail.take() {
                chunk.extend_from_slice(tail.as_bytes());
            }
        }
        if chunk.is_empty() {
            return std::task::Poll::Ready(None);
        }
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(chunk)))))
    }
}

async fn get_faults(Extension(server): Extension<Server>) -> Response {
    json_response(StatusCode::OK, &json!(server.fault_plan()))
}

/// Replaces the fault plan. JSON unless the content type says TOML.
async fn put_faults(
    Extension(server): Extension<Server>,
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
