//! Shared helpers for the HTTP tests: a server on a manual clock, requests through `oneshot`, and JSON subset matching.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request};
use dosim_api::{ManualClock, Server, ServerConfig};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub const TOKEN: &str = "dop_v1_00000000000000000000000000000000000000000000000000000000000000aa";
pub const OTHER_TOKEN: &str =
    "dop_v1_00000000000000000000000000000000000000000000000000000000000000bb";
pub const BASE: &str = "http://dosim.test";

pub struct Api {
    pub server: Server,
    pub clock: Arc<ManualClock>,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub raw: String,
    pub json: Value,
    /// Set when the body failed to arrive (a dropped response).
    pub body_error: Option<String>,
}

impl Api {
    pub fn new() -> Api {
        Api::with(|_| {})
    }

    pub fn with(configure: impl FnOnce(&mut ServerConfig)) -> Api {
        let clock = Arc::new(ManualClock::new());
        let mut config = ServerConfig {
            seed: 7,
            base_url: Some(BASE.to_owned()),
            clock: clock.clone(),
            ..ServerConfig::default()
        };
        configure(&mut config);
        Api {
            server: Server::new(config),
            clock,
        }
    }

    pub fn advance_ms(&self, ms: u64) {
        self.clock.advance(Duration::from_millis(ms));
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<&str>) -> Resp {
        self.send(method, path, Some(TOKEN), body, &[]).await
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "dosim.test");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Body::from(body.unwrap_or("").to_owned()))
            .unwrap();
        let response = self.server.router().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let (raw, body_error) = match response.into_body().collect().await {
            Ok(collected) => (
                String::from_utf8(collected.to_bytes().to_vec()).unwrap(),
                None,
            ),
            Err(error) => (String::new(), Some(error.to_string())),
        };
        let json = if raw.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&raw).unwrap_or(Value::String(raw.clone()))
        };
        Resp {
            status,
            headers,
            raw,
            json,
            body_error,
        }
    }

    /// `GET path`, checked with [`check`]: 200, and a body containing `expect`.
    pub async fn check_get(&self, path: &str, expect: Value) -> Resp {
        let resp = self.call("GET", path, None).await;
        check_in(&format!("GET {path}: "), &resp, 200, expect);
        resp
    }

    /// The model's state without the clock reading, for before/after comparisons.
    pub fn state(&self) -> Value {
        self.server.state_dump()["accounts"].clone()
    }
}

/// Expects `status` and a body containing `expect`, with the headers every response carries and
/// no `date`; an error body's `request_id` is the response's `x-request-id`.
#[track_caller]
pub fn check(resp: &Resp, status: u16, expect: Value) {
    check_in("", resp, status, expect);
}

/// [`check`], its failures prefixed with `request`, for checks made away from the test's line.
#[track_caller]
fn check_in(request: &str, resp: &Resp, status: u16, expect: Value) {
    assert_eq!(resp.status, status, "{request}body: {}", resp.raw);
    if let Err(message) = contains(&resp.json, &expect) {
        panic!("{request}{message}\nbody: {}", resp.raw);
    }
    for header in [
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "x-request-id",
    ] {
        assert!(resp.headers.contains_key(header), "no {header} header");
    }
    assert!(
        !resp.headers.contains_key("date"),
        "a date header leaks the wall clock"
    );
    if status >= 400 {
        let request_id = resp.headers["x-request-id"].to_str().unwrap();
        assert_eq!(
            resp.json["request_id"], request_id,
            "error body and header disagree"
        );
    }
}

/// Whether `actual` contains everything in `expect`: objects by key, arrays element-wise with equal length,
/// and the string `"*"` matches any present value.
pub fn contains(actual: &Value, expect: &Value) -> Result<(), String> {
    match (actual, expect) {
        (_, Value::String(s)) if s == "*" => Ok(()),
        (Value::Object(a), Value::Object(e)) => {
            for (key, value) in e {
                let Some(found) = a.get(key) else {
                    return Err(format!("missing key {key:?}"));
                };
                contains(found, value).map_err(|m| format!("{key}.{m}"))?;
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(e)) => {
            if a.len() != e.len() {
                return Err(format!("array length {} != {}", a.len(), e.len()));
            }
            for (index, (found, value)) in a.iter().zip(e).enumerate() {
                contains(found, value).map_err(|m| format!("[{index}].{m}"))?;
            }
            Ok(())
        }
        (a, e) if a == e => Ok(()),
        (a, e) => Err(format!("{a} != {e}")),
    }
}
