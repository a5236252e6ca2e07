//! The request pipeline every request passes through, and the router that merges each resource's routes.
//!
//! In order: request id and history slot, trailing-slash normalisation, authentication,
//! the account cap, rate limits, the body limit, injected latency and rejections, the
//! operation gate, the handler (the commit), lost responses, and finally the headers every
//! response carries.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::BodyExt;
use parking_lot::Mutex;
use serde_json::Value;

use dosim_base::gate::{Operation, Plane};
use dosim_cloud::{Cloud, SimTime};

use crate::auth;
use crate::clock::unix_seconds;
use crate::error::ApiError;
use crate::faults::{DecisionKind, DecisionPoint, DropMode, InjectedFault, RejectBody};
use crate::history::HistoryEntry;
use crate::ratelimit::RateStatus;
use crate::server::Server;

/// Longest `x-dosim-actor` value kept in the history.
const MAX_ACTOR_LEN: usize = 200;

/// The peer address of a connection, for servers that know it (the harness, `dosim serve`).
#[derive(Clone, Debug)]
pub struct PeerAddr(pub String);

/// What a handler needs to know about its request, and where it reports what it did.
#[derive(Clone)]
pub struct Ctx {
    pub server: Server,
    token: Arc<str>,
    pub request_id: Arc<str>,
    /// The base of absolute links, without a trailing slash.
    pub base_url: Arc<str>,
    record: Arc<Mutex<Record>>,
}

#[derive(Default)]
struct Record {
    committed_ms: Option<u64>,
    summary: Option<String>,
}

impl Ctx {
    /// Runs `f` on this token's cloud at the current simulated time, and records the commit.
    pub fn cloud<R>(&self, f: impl FnOnce(&mut Cloud, SimTime) -> R) -> R {
        let inner = &self.server.inner;
        let mut state = inner.state.lock();
        let now = self.server.now();
        let account = state.account(inner, &self.token);
        let result = f(&mut account.cloud, now);
        self.record.lock().committed_ms = Some(now.0);
        result
    }

    /// A short description of the response for the history.
    pub fn summary(&self, summary: impl Into<String>) {
        self.record.lock().summary = Some(summary.into());
    }

    /// An absolute URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Ctx, ApiError> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .ok_or_else(ApiError::server_error)
    }
}

/// A JSON response with DigitalOcean's content type.
pub fn json_response(status: StatusCode, value: &Value) -> Response {
    let bytes = serde_json::to_vec(value).expect("a JSON value always serializes");
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// An empty 204.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The whole application: the pipeline around every route.
pub fn app(server: Server) -> Router {
    let routes = Router::new()
        .merge(crate::droplets::router())
        .merge(crate::volumes::router())
        .merge(crate::reserved_ips::router())
        .merge(crate::actions::router())
        .merge(crate::databases::router())
        .merge(crate::catalogue::router())
        .merge(crate::control::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // The pipeline has already read the body within `max_body_bytes`.
        .layer(DefaultBodyLimit::disable())
        .with_state(server.clone());
    let pipeline = tower::Layer::layer(&from_fn_with_state(server, pipeline), routes);
    // Wrapping the routed service, rather than layering the router, lets the pipeline
    // rewrite the path before routing.
    Router::new().fallback_service(pipeline)
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// What the history needs from a request, gathered before the request is consumed.
struct Seen {
    seq: u64,
    request_id: String,
    account: Option<String>,
    actor: String,
    method: String,
    path: String,
    received_ms: u64,
}

async fn pipeline(State(server): State<Server>, request: Request, next: Next) -> Response {
    let received = server.now();
    let (seq, request_id) = server.inner.state.lock().next_request();
    let (mut parts, body) = request.into_parts();
    normalise_path(&mut parts.uri);
    let path = parts.uri.path().to_owned();
    let mut seen = Seen {
        seq,
        request_id: request_id.clone(),
        account: None,
        actor: actor(&parts),
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned()),
        received_ms: received.0,
    };
    let is_control = path == "/_dosim" || path.starts_with("/_dosim/");

    // Authentication and rate limits, for everything but the control endpoints.
    let mut token: Option<String> = None;
    let rate = if is_control {
        unlimited(&server, received)
    } else {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let Some(valid) = auth::parse_bearer(header) else {
            let status = unlimited(&server, received);
            return finish(
                &server,
                seen,
                ApiError::unauthorized().render(&request_id),
                status,
                None,
                None,
            );
        };
        seen.account = Some(auth::fingerprint(valid));
        token = Some(valid.to_owned());
        match rate_check(&server, valid, received) {
            Err(refusal) => {
                let (response, status) = refusal.into_response(&request_id, &server, received);
                return finish(&server, seen, response, status, None, None);
            }
            Ok(status) => status,
        }
    };

    // The body, within its limit, before anything can commit.
    let limit = server.inner.max_body_bytes;
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => {
            let api_error = if error.is::<http_body_util::LengthLimitError>() {
                ApiError::payload_too_large(limit)
            } else {
                ApiError::bad_request("error reading request body")
            };
            return finish(
                &server,
                seen,
                api_error.render(&request_id),
                rate,
                None,
                None,
            );
        }
    };

    // Injected latency and rejections, drawn in arrival order.
    let is_api = path.starts_with("/v2/") || path == "/v2";
    let mut fault: Option<InjectedFault> = None;
    let mut drop_rule = None;
    if is_api {
        let decision = draw_before(&server, seq, &seen.method, &path);
        if let Some((rule, latency_ms)) = decision.latency {
            fault = Some(InjectedFault::Latency { rule, latency_ms });
            tokio::time::sleep(std::time::Duration::from_millis(latency_ms)).await;
        }
        if let Some((rule, reject)) = decision.reject {
            fault = Some(InjectedFault::Reject {
                rule,
                status: reject.status,
                body: reject.body,
            });
            let response = rejection(&reject, &request_id);
            let status = RateStatus {
                remaining: if reject.status == 429 {
                    0
                } else {
                    rate.remaining
                },
                retry_after_ms: (reject.status == 429).then_some(reject.retry_after_s * 1000),
                ..rate
            };
            return finish(&server, seen, response, status, fault, None);
        }
        drop_rule = decision.drop;
    }

    // The handler: the commit.
    let record = Arc::new(Mutex::new(Record::default()));
    if let Some(token) = &token {
        let base_url = base_url(&server, &parts.headers);
        parts.extensions.insert(Ctx {
            server: server.clone(),
            token: Arc::from(token.as_str()),
            request_id: Arc::from(request_id.as_str()),
            base_url: Arc::from(base_url.as_str()),
            record: record.clone(),
        });
    }
    // The gate decides when the request commits; the permit is held only while the handler runs.
    let permit = if is_api {
        let operation = Operation {
            plane: Plane::Api,
            server: server_host(&parts.headers),
            actor: seen.actor.clone(),
            session: None,
            summary: format!("{} {path}", seen.method),
        };
        Some(server.gate().admit(operation).await)
    } else {
        None
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    drop(permit);
    let mut response = render_errors(response, &request_id).await;
    {
        let record = record.lock();
        if let Some(summary) = &record.summary {
            response.extensions_mut().insert(Summary(summary.clone()));
        }
        if let Some(committed_ms) = record.committed_ms {
            response.extensions_mut().insert(Committed(committed_ms));
        }
    }

    // A lost response: the commit stands, the client never hears of it.
    if let Some((rule, drop)) = drop_rule {
        let point = DecisionPoint {
            kind: DecisionKind::DropResponse,
            seq,
            method: &seen.method,
            path: &path,
            rule_index: rule,
        };
        let dropped = server
            .inner
            .faults
            .lock()
            .decider
            .chance(point, drop.probability);
        if dropped {
            fault = Some(InjectedFault::DropResponse {
                rule,
                mode: drop.mode,
                hang_ms: drop.hang_ms,
            });
            if drop.mode == DropMode::Hang {
                tokio::time::sleep(std::time::Duration::from_millis(drop.hang_ms)).await;
            }
            let (parts, _) = response.into_parts();
            response = Response::from_parts(parts, Body::new(ResetBody));
            response.headers_mut().remove(header::CONTENT_LENGTH);
        }
    }
    let committed = response.extensions().get::<Committed>().map(|c| c.0);
    finish(&server, seen, response, rate, fault, committed)
}

#[derive(Clone)]
struct Summary(String);

#[derive(Clone, Copy)]
struct Committed(u64);

/// Adds the headers every response carries and records the request in the history.
fn finish(
    server: &Server,
    seen: Seen,
    mut response: Response,
    rate: RateStatus,
    fault: Option<InjectedFault>,
    committed_ms: Option<u64>,
) -> Response {
    let headers = response.headers_mut();
    headers.insert("ratelimit-limit", HeaderValue::from(rate.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(rate.remaining));
    headers.insert(
        "ratelimit-reset",
        HeaderValue::from(unix_seconds(rate.reset_ms)),
    );
    if let Some(retry_after_ms) = rate.retry_after_ms {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_ms.div_ceil(1000).max(1)),
        );
    }
    if let Ok(value) = HeaderValue::from_str(&seen.request_id) {
        headers.insert("x-request-id", value);
    }
    let summary = response
        .extensions()
        .get::<Summary>()
        .map(|s| s.0.clone())
        .or_else(|| {
            response
                .extensions()
                .get::<ApiError>()
                .map(|e| e.message.clone())
        });
    let entry = HistoryEntry {
        seq: seen.seq,
        request_id: seen.request_id,
        account: seen.account,
        actor: seen.actor,
        method: seen.method,
        path: seen.path,
        received_ms: seen.received_ms,
        committed_ms,
        status: response.status().as_u16(),
        fault,
        summary,
    };
    // The history is of the API under test; the control endpoints that read it stay out of it.
    if !(entry.path == "/_dosim" || entry.path.starts_with("/_dosim/")) {
        server.inner.state.lock().history.push(entry);
    }
    response
}

/// Strips trailing slashes, which DigitalOcean ignores.
fn normalise_path(uri: &mut Uri) {
    let path = uri.path();
    if path.len() <= 1 || !path.ends_with('/') {
        return;
    }
    let trimmed = path.trim_end_matches('/');
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let rebuilt = match uri.query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_owned(),
    };
    if let Ok(path_and_query) = rebuilt.parse() {
        let mut uri_parts = uri.clone().into_parts();
        uri_parts.path_and_query = Some(path_and_query);
        if let Ok(new_uri) = Uri::from_parts(uri_parts) {
            *uri = new_uri;
        }
    }
}

fn actor(parts: &Parts) -> String {
    if let Some(actor) = parts
        .headers
        .get("x-dosim-actor")
        .and_then(|v| v.to_str().ok())
    {
        return actor.chars().take(MAX_ACTOR_LEN).collect();
    }
    if let Some(peer) = parts.extensions.get::<PeerAddr>() {
        return peer.0.clone();
    }
    if let Some(info) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        return info.0.to_string();
    }
    "unknown".to_owned()
}

/// The host a request was sent to, without its port, for the gate: `api.digitalocean.com` in a
/// simulation; `api` when the request names none.
fn server_host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.parse::<axum::http::uri::Authority>().ok())
        .map(|authority| authority.host().to_owned())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "api".to_owned())
}

fn base_url(server: &Server, headers: &HeaderMap) -> String {
    if let Some(base) = &server.inner.base_url {
        return base.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// Headers for requests that are not counted (control endpoints, unauthenticated requests).
fn unlimited(server: &Server, now: SimTime) -> RateStatus {
    let limit = server.inner.rate_limit.hourly;
    RateStatus {
        limit,
        remaining: limit,
        reset_ms: now.0,
        retry_after_ms: None,
    }
}

enum Refusal {
    AccountCap,
    RateLimited(RateStatus),
}

impl Refusal {
    fn into_response(
        self,
        request_id: &str,
        server: &Server,
        now: SimTime,
    ) -> (Response, RateStatus) {
        match self {
            Refusal::AccountCap => {
                let error = ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "dosim holds at most {} accounts (one per token); reuse a token or POST /_dosim/reset",
                        server.inner.max_accounts
                    ),
                );
                (error.render(request_id), unlimited(server, now))
            }
            Refusal::RateLimited(status) => {
                (ApiError::too_many_requests().render(request_id), status)
            }
        }
    }
}

fn rate_check(server: &Server, token: &str, now: SimTime) -> Result<RateStatus, Refusal> {
    let inner = &server.inner;
    let mut state = inner.state.lock();
    if !state.accounts.contains_key(token) && state.accounts.len() >= inner.max_accounts {
        return Err(Refusal::AccountCap);
    }
    let account = state.account(inner, token);
    let status = account.rate_log.check(inner.rate_limit, now.0);
    match status.retry_after_ms {
        Some(_) => Err(Refusal::RateLimited(status)),
        None => Ok(status),
    }
}

struct BeforeCommit {
    latency: Option<(usize, u64)>,
    reject: Option<(usize, crate::faults::Reject)>,
    drop: Option<(usize, crate::faults::DropResponse)>,
}

fn draw_before(server: &Server, seq: u64, method: &str, path: &str) -> BeforeCommit {
    let mut faults = server.inner.faults.lock();
    let faults = &mut *faults;
    let mut decision = BeforeCommit {
        latency: None,
        reject: None,
        drop: None,
    };
    let Some(index) = faults.plan.matching_rule(method, path) else {
        return decision;
    };
    let rule = &faults.plan.rules[index];
    let point = |kind| DecisionPoint {
        kind,
        seq,
        method,
        path,
        rule_index: index,
    };
    if let Some(latency) = &rule.latency {
        let latency_ms = faults
            .decider
            .latency_ms(point(DecisionKind::Latency), latency);
        if latency_ms > 0 {
            decision.latency = Some((index, latency_ms));
        }
    }
    if let Some(reject) = &rule.reject {
        if faults
            .decider
            .chance(point(DecisionKind::Reject), reject.probability)
        {
            decision.reject = Some((index, reject.clone()));
        }
    }
    decision.drop = rule.drop_response.clone().map(|drop| (index, drop));
    decision
}

/// An injected rejection's response.
fn rejection(reject: &crate::faults::Reject, request_id: &str) -> Response {
    let status = StatusCode::from_u16(reject.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if reject.body == RejectBody::Html {
        let reason = status.canonical_reason().unwrap_or("Error");
        let page = format!(
            "<!DOCTYPE html>\n<html>\n<head><title>{code} {reason}</title></head>\n<body>\n\
             <h1>{code} {reason}</h1>\n<p>Looks like something went wrong. If this continues, please open a support ticket so we can help you out.</p>\n\
             </body>\n</html>\n",
            code = status.as_u16()
        );
        let mut response = (status, page).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return response;
    }
    let error = match reject.status {
        429 => ApiError::too_many_requests(),
        502 => ApiError::new(status, "bad_gateway", "Bad gateway"),
        503 => ApiError::new(status, "service_unavailable", "Service unavailable"),
        504 => ApiError::new(status, "gateway_timeout", "Gateway time-out"),
        _ => ApiError::server_error(),
    };
    let mut response = error.render(request_id);
    response.extensions_mut().insert(error);
    response
}

/// Gives every error DigitalOcean's body, with the request id.
async fn render_errors(response: Response, request_id: &str) -> Response {
    if let Some(error) = response.extensions().get::<ApiError>().cloned() {
        let (parts, _) = response.into_parts();
        let mut rendered = error.render(request_id);
        *rendered.extensions_mut() = parts.extensions;
        rendered
            .headers_mut()
            .extend(parts.headers.into_iter().filter_map(|(name, value)| {
                name.filter(|n| n != header::CONTENT_LENGTH && n != header::CONTENT_TYPE)
                    .map(|n| (n, value))
            }));
        return rendered;
    }
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !status.is_client_error() && !status.is_server_error() || is_json {
        return response;
    }
    // An error from outside the handlers (a framework rejection): keep its text as the message.
    let (_, body) = response.into_parts();
    let text = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_owned();
    let mut error = match status {
        StatusCode::NOT_FOUND => ApiError::not_found(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(status, "request_entity_too_large", message.clone())
        }
        s if s.is_server_error() => ApiError::server_error(),
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::unprocessable(message.clone()),
        _ => ApiError::bad_request(message.clone()),
    };
    if error.message.is_empty() {
        error.message = status.canonical_reason().unwrap_or("error").to_owned();
    }
    let mut rendered = error.render(request_id);
    rendered.extensions_mut().insert(error);
    rendered
}

/// A response body that fails at once, so that hyper aborts the connection mid-response.
struct ResetBody;

impl HttpBody for ResetBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "dosim: the fault plan dropped this response",
        ))))
    }
}
