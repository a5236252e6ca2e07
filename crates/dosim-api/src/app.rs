//! The request pipeline every request passes through, and the router that merges each resource's routes.
//!
//! In order: request id and history slot, trailing-slash normalisation, injected network
//! latency, authentication, the account cap, rate limits, the body limit, injected rejections
//! and processing latency, the operation gate, the handler (the commit), lost responses, and
//! finally the headers every response carries and the history entry.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::BodyExt;
use serde::Serialize;

use dosim_base::gate::{Operation, Plane};
use dosim_cloud::{Cloud, SimTime};

use crate::auth;
use crate::clock::unix_seconds;
use crate::error::ApiError;
use crate::exchange::{self, Arrival, Exchange, InFlight, Unheard};
use crate::faults;
use crate::ratelimit::RateStatus;
use crate::server::{Account, Server};
use dosim_base::faults::{FaultRequest, Service};

/// Longest `x-dosim-actor` value kept in the history.
const ACTOR_LEN_MAX: usize = 200;

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
    exchange: Arc<Exchange>,
    /// Whether the request may change the account (anything but GET and HEAD).
    mutating: bool,
}

impl Ctx {
    /// Runs `f` on this token's cloud at the current simulated time, and records the commit.
    pub fn cloud<R>(&self, f: impl FnOnce(&mut Cloud, SimTime) -> R) -> R {
        let inner = &self.server.inner;
        let mut state = inner.state.lock();
        let now = self.server.now();
        let account = state.account(inner, &self.token);
        let result = f(&mut account.cloud, now);
        if self.mutating {
            self.server.changed();
        }
        self.exchange.committed(now.0);
        result
    }

    /// Runs `f` on this token's account record (its cloud and its logs) at the current simulated
    /// time, without recording a commit: for checks that refuse before the model is touched.
    pub(crate) fn account<R>(&self, f: impl FnOnce(&mut Account, SimTime) -> R) -> R {
        let inner = &self.server.inner;
        let mut state = inner.state.lock();
        let now = self.server.now();
        f(state.account(inner, &self.token), now)
    }

    /// A short description of the response for the history.
    pub fn summary(&self, summary: impl Into<String>) {
        self.exchange.set_summary(summary.into());
    }

    /// An absolute URL on this server.
    pub fn url(&self, path: &str) -> String {
        [&*self.base_url, path].concat()
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
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    // Room for a droplet (1.4 KB) from the start: grown from serde_json's 128 bytes, the buffer
    // was copied four times on its way there.
    let mut bytes = Vec::with_capacity(RESPONSE_CAPACITY);
    serde_json::to_writer(&mut bytes, body).expect("a response body always serializes");
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// The bytes a JSON response body starts with room for.
const RESPONSE_CAPACITY: usize = 2048;

/// A JSON response with one object under its noun, `{"droplet": {…}}`, as DigitalOcean wraps
/// every object it answers with. The object is written straight out, not copied into a `Value`
/// first, so it keeps its own key order: a `Value`'s keys are sorted, and so are a rendered
/// object's fields (see `droplets::Rendered`).
pub fn json_wrapped(status: StatusCode, noun: &str, object: impl Serialize) -> Response {
    json_response(status, &Wrapped { noun, object })
}

/// `{noun: object}`, serialized without building a `Value`.
struct Wrapped<'a, T> {
    noun: &'a str,
    object: T,
}

impl<T: Serialize> Serialize for Wrapped<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.noun, &self.object)?;
        map.end()
    }
}

/// An empty 204.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The whole application: the pipeline around every route.
pub fn app(server: Server) -> Router {
    // Wrapping the routed service, rather than layering the router, lets the pipeline
    // rewrite the path before routing.
    Router::new().fallback_service(server.service())
}

/// Every route, built once per process: inserting the routes into axum's tree, or even giving
/// the tree a state, costs more than a short simulated run, which makes a server per run. So the
/// routes take no state: a handler finds its server in its `Ctx`, and the control endpoints in
/// the request's extensions, both put there by the pipeline.
pub(crate) fn routes() -> &'static Router {
    static ROUTES: std::sync::OnceLock<Router> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| {
        Router::new()
            .merge(crate::droplets::router())
            .merge(crate::volumes::router())
            .merge(crate::reserved_ips::router())
            .merge(crate::actions::router())
            .merge(crate::databases::router())
            .merge(crate::tags::router())
            .merge(crate::domains::router())
            .merge(crate::ssh_keys::router())
            .merge(crate::vpcs::router())
            .merge(crate::projects::router())
            .merge(crate::firewalls::router())
            .merge(crate::load_balancers::router())
            .merge(crate::spaces_keys::router())
            .merge(crate::catalogue::router())
            .merge(crate::control::router())
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            // The pipeline has already read the body within `max_body_bytes`.
            .layer(DefaultBodyLimit::disable())
            // Giving the table its (empty) state once turns every handler into a finished
            // route, which a request copies (one box); a table without a state builds each
            // request's route from its handler again (the handler's boxes copied, the layer
            // above applied, the route boxed).
            .with_state(())
    })
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

pub(crate) async fn pipeline(
    State(server): State<Server>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    normalise_path(&mut parts.uri);
    let path = parts.uri.path().to_owned();
    let is_control = path == "/_dosim" || path.starts_with("/_dosim/");
    // A control request takes no sequence number and no request id from the seeded stream, so
    // looking at the server never shifts what the API answers.
    let (seq, request_id) = {
        let mut state = server.inner.state.lock();
        if is_control {
            (u64::MAX, state.next_control_request())
        } else {
            state.next_request()
        }
    };
    // From here the seq is held in flight until its entry is written, or the request abandoned.
    let in_flight = if is_control {
        InFlight::none()
    } else {
        InFlight::new(&server, seq)
    };
    let is_api = path.starts_with("/v2/") || path == "/v2";
    let method = parts.method.as_str().to_owned();
    let at = FaultRequest {
        service: Service::Api,
        seq,
        method: &method,
        path: &path,
    };

    // In transit: a client that gives up now cancels the request before the API sees it.
    let network_latency = if is_api {
        faults::network_latency(&server, at).await
    } else {
        None
    };

    let received = server.now();
    let exchange = Exchange::new(Arrival {
        seq,
        request_id,
        actor: actor(&parts),
        method: method.clone(),
        // Cut here already, so that a long query is never copied whole into the record.
        path: {
            let full = parts
                .uri
                .path_and_query()
                .map_or(path.as_str(), |pq| pq.as_str());
            crate::history::cut(full, crate::history::PATH_KEPT_MAX)
                .unwrap_or_else(|| full.to_owned())
        },
        received_ms: received.0,
        control: is_control,
        in_flight,
    });
    if let Some(fault) = network_latency {
        exchange.fault(fault);
    }

    let (token, rate) = match authorize(&server, &parts, &exchange, is_control, received) {
        Ok(admitted) => admitted,
        Err(refused) => {
            let (response, rate) = *refused;
            return finish(&server, &exchange, response, rate);
        }
    };
    let bytes = match read_body(&server, &parts.headers, body, &exchange).await {
        Ok(bytes) => bytes,
        Err(response) => return finish(&server, &exchange, response, rate),
    };

    if is_control {
        parts.extensions.insert(server.clone());
    }
    if let Some(token) = &token {
        let base_url = base_url(&server, &parts.headers);
        parts.extensions.insert(Ctx {
            server: server.clone(),
            token: Arc::from(token.as_str()),
            request_id: exchange.request_id.clone(),
            base_url: Arc::from(base_url.as_str()),
            exchange: exchange.clone(),
            mutating: !matches!(method.as_str(), "GET" | "HEAD"),
        });
    }
    if !is_api {
        let request = Request::from_parts(parts, Body::from(bytes));
        let (response, _unheard) =
            commit(server.clone(), exchange.clone(), None, request, next).await;
        return finish(&server, &exchange, response, rate);
    }

    // The API: the fault layer around the gate and the handler.
    let operation = Operation {
        plane: Plane::Api,
        server: server_host(&parts.headers),
        actor: exchange.actor(),
        session: None,
        summary: [method.as_str(), " ", path.as_str()].concat(),
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    let commit = commit(
        server.clone(),
        exchange.clone(),
        Some(operation),
        request,
        next,
    );
    let reply = faults::around_commit(&server, &exchange, at, rate, commit).await;
    // The entry is written before `reply._unheard` is dropped, so the client counts as served.
    finish(&server, &exchange, reply.response, reply.rate)
}

/// A request refused before its body is read: the response, and the rate status its headers show.
type Refused = Box<(Response, RateStatus)>;

/// Authentication and rate limits, for everything but the control endpoints (which need only the
/// control token, when the server has one): the caller's token and its rate status, or the
/// refusal with the rate status its headers show.
fn authorize(
    server: &Server,
    parts: &Parts,
    exchange: &Exchange,
    is_control: bool,
    received: SimTime,
) -> Result<(Option<String>, RateStatus), Refused> {
    if is_control {
        if let Some(expected) = &server.inner.control_token {
            let sent = parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if !sent.is_some_and(|sent| same_secret(sent.trim(), expected)) {
                let response = ApiError::unauthorized().render(&exchange.request_id);
                return Err(Box::new((response, unlimited(server, received))));
            }
        }
        return Ok((None, unlimited(server, received)));
    }
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(valid) = auth::parse_bearer(header) else {
        let response = ApiError::unauthorized().render(&exchange.request_id);
        return Err(Box::new((response, unlimited(server, received))));
    };
    let (checked, fingerprint) = rate_check(server, valid, received);
    exchange.set_account(fingerprint);
    match checked {
        Err(refusal) => Err(Box::new(refusal.into_response(
            &exchange.request_id,
            server,
            received,
        ))),
        Ok(status) => Ok((Some(valid.to_owned()), status)),
    }
}

/// The body, within its limit and its timeout, before anything can commit; a body announced
/// beyond the limit is refused before a byte of it is read.
async fn read_body(
    server: &Server,
    headers: &HeaderMap,
    body: Body,
    exchange: &Exchange,
) -> Result<axum::body::Bytes, Response> {
    let limit = server.inner.max_body_bytes;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::payload_too_large(limit).render(&exchange.request_id));
    }
    let collect = http_body_util::Limited::new(body, limit).collect();
    let collected = match server.inner.body_timeout {
        Some(timeout) => match tokio::time::timeout(timeout, collect).await {
            Ok(collected) => collected,
            Err(_) => {
                let response = ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "the request body did not arrive within {} s",
                        timeout.as_secs_f64()
                    ),
                )
                .render(&exchange.request_id);
                return Err(close(response));
            }
        },
        None => collect.await,
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) => {
            let api_error = if error.is::<http_body_util::LengthLimitError>() {
                ApiError::payload_too_large(limit)
            } else {
                ApiError::bad_request("error reading request body")
            };
            Err(api_error.render(&exchange.request_id))
        }
    }
}

/// The commit: admission through the gate (for `/v2/` requests, which carry an operation), then
/// the handler; the permit is dropped as soon as the handler returns. From then on the response
/// travels with an [`Unheard`], so that the history learns of the commit even if the client never
/// does.
async fn commit(
    server: Server,
    exchange: Arc<Exchange>,
    operation: Option<Operation>,
    request: Request,
    next: Next,
) -> (Response, Unheard) {
    let permit = match operation {
        Some(operation) => Some(server.gate().admit(operation).await),
        None => None,
    };
    let response = exchange::scope(exchange.clone(), next.run(request)).await;
    drop(permit);
    let response = foreign_error(response, &exchange).await;
    let unheard = Unheard::new(server, exchange, response.status().as_u16());
    (response, unheard)
}

/// Adds the headers every response carries and records the request in the history.
fn finish(
    server: &Server,
    exchange: &Exchange,
    mut response: Response,
    rate: RateStatus,
) -> Response {
    // Names made once, not parsed from text at every response.
    const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
    const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
    const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
    const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
    let headers = response.headers_mut();
    headers.insert(LIMIT, HeaderValue::from(rate.limit));
    headers.insert(REMAINING, HeaderValue::from(rate.remaining));
    headers.insert(RESET, HeaderValue::from(unix_seconds(rate.reset_ms)));
    if let Some(retry_after_ms) = rate.retry_after_ms {
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_ms.div_ceil(1000).max(1)),
        );
    }
    if let Ok(value) = HeaderValue::from_str(&exchange.request_id) {
        headers.insert(REQUEST_ID, value);
    }
    exchange.record(server, response.status().as_u16());
    response
}

/// Compares two secrets in time that depends on their lengths only.
fn same_secret(sent: &str, expected: &str) -> bool {
    sent.len() == expected.len()
        && sent
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Asks the connection to close after this response (its request's body was not read to its end).
fn close(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
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
        // No more bytes than the limit is no more characters either: copied whole.
        if actor.len() <= ACTOR_LEN_MAX {
            return actor.to_owned();
        }
        return actor.chars().take(ACTOR_LEN_MAX).collect();
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
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    // A bare name (letters, digits, dots, dashes; no port, user or brackets) is its own host,
    // as parsing it would say; parsing every request's `Host` showed in a short seed's profile.
    if let Some(host) = host.filter(|host| {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    }) {
        return host.to_owned();
    }
    host.and_then(|h| h.parse::<axum::http::uri::Authority>().ok())
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

/// Counts the request against its account's limits, and names the account (its fingerprint,
/// kept with the account rather than hashed again for every request).
fn rate_check(server: &Server, token: &str, now: SimTime) -> (Result<RateStatus, Refusal>, String) {
    let inner = &server.inner;
    let mut state = inner.state.lock();
    if !state.accounts.contains_key(token) && state.accounts.len() >= inner.max_accounts {
        return (Err(Refusal::AccountCap), auth::fingerprint(token));
    }
    let account = state.account(inner, token);
    let status = account.rate_log.check(inner.rate_limit, now.0);
    let checked = match status.retry_after_ms {
        Some(_) => Err(Refusal::RateLimited(status)),
        None => Ok(status),
    };
    (checked, account.fingerprint.clone())
}

/// Gives an error from outside the handlers (a framework rejection, in plain text) DigitalOcean's
/// body with the request id, keeping its text as the message; the handlers' own errors render
/// themselves.
async fn foreign_error(response: Response, exchange: &Exchange) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !status.is_client_error() && !status.is_server_error() || is_json {
        return response;
    }
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
    exchange.summary_unless_set(&error.message);
    error.render(&exchange.request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bare name is taken as it is, and it is what parsing the authority gives.
    #[test]
    fn server_host_is_the_host_part_of_the_host_header() {
        let parsed = |host: &str| {
            host.parse::<axum::http::uri::Authority>()
                .ok()
                .map(|authority| authority.host().to_owned())
                .filter(|host| !host.is_empty())
                .unwrap_or_else(|| "api".to_owned())
        };
        for host in [
            "api.digitalocean.com",
            "API.Example.COM",
            "localhost",
            "127.0.0.1",
            "-lead",
            "trail.",
            "host:8080",
            "[::1]:80",
            "user@host",
            "bad host",
            ":80",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, host.parse().expect("a header value"));
            assert_eq!(server_host(&headers), parsed(host), "{host}");
        }
        assert_eq!(server_host(&HeaderMap::new()), "api");
    }

    #[test]
    fn actor_is_cut_to_its_length_in_characters() {
        let request = |actor: &str| {
            axum::http::Request::builder()
                .header("x-dosim-actor", actor)
                .body(())
                .expect("a request")
                .into_parts()
                .0
        };
        assert_eq!(actor(&request("pod-0")), "pod-0");
        let exactly = "a".repeat(ACTOR_LEN_MAX);
        assert_eq!(actor(&request(&exactly)), exactly);
        let long = "b".repeat(ACTOR_LEN_MAX + 5);
        assert_eq!(actor(&request(&long)).len(), ACTOR_LEN_MAX);
    }
}
