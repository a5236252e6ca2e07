//! A lease service with fencing tokens, and its client: what the fixed variants use to decide one owner.
//!
//! DigitalOcean has no lock: two hosts that both assign a reserved IP or attach a volume both
//! succeed, one after the other. The fixes decide the owner first, outside DigitalOcean, with a
//! lease from a small service of the user's own (in production: etcd, Consul, a database
//! advisory lock). This one runs on its own host with `Scenario::service("lease", lease::serve)`.
//!
//! `POST /leases/{name}` with `{"holder": "...", "ttl_ms": N}` grants the lease when it is free,
//! expired, or already the caller's (a renewal), and answers 200 with the lease and its fencing
//! token; while another holder's lease runs it answers 409 with that lease. A new grant always
//! gets a larger token than every earlier grant of that name, so a resource that remembers the
//! largest token it has seen can refuse a stale holder. `GET /leases/{name}` reads it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use dosim::client::{http, Bytes, HyperTransport, Transport};
use serde::{Deserialize, Serialize};

/// The host name the scenarios give the lease service.
pub const HOST: &str = "lease";
/// The port it listens on.
pub const PORT: u16 = 80;
/// The most leases the service keeps; past it, new names are refused.
pub const LEASES_MAX: usize = 1024;
/// The longest name or holder, in bytes.
pub const NAME_BYTES_MAX: usize = 128;
/// The longest lease, so a crashed holder is always replaced eventually.
pub const TTL_MAX: Duration = Duration::from_secs(3600);
/// How long a client waits for the service before it gives up on a call.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A granted lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// What is leased (`reserved-ip:192.0.2.7`).
    pub name: String,
    /// Who holds it.
    pub holder: String,
    /// The fencing token: larger for every new grant of this name.
    pub token: u64,
    /// Milliseconds since the service started at which the lease runs out.
    pub expires_ms: u64,
}

#[derive(Debug, Deserialize)]
struct AcquireBody {
    holder: String,
    ttl_ms: u64,
}

#[derive(Debug, Default)]
struct Leases {
    by_name: BTreeMap<String, Lease>,
    last_token: u64,
}

#[derive(Clone)]
struct Service {
    leases: Arc<Mutex<Leases>>,
    started: tokio::time::Instant,
}

impl Service {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

type Answer = (StatusCode, Json<serde_json::Value>);

fn refuse(status: StatusCode, message: &str) -> Answer {
    (status, Json(serde_json::json!({ "message": message })))
}

async fn acquire(
    State(service): State<Service>,
    Path(name): Path<String>,
    Json(body): Json<AcquireBody>,
) -> Answer {
    if name.is_empty() || name.len() > NAME_BYTES_MAX {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, "name: 1 to 128 bytes");
    }
    if body.holder.is_empty() || body.holder.len() > NAME_BYTES_MAX {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, "holder: 1 to 128 bytes");
    }
    let ttl_ms = u64::try_from(TTL_MAX.as_millis()).unwrap_or(u64::MAX);
    if body.ttl_ms == 0 || body.ttl_ms > ttl_ms {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, "ttl_ms: 1 to 3600000");
    }
    let now_ms = service.now_ms();
    let mut leases = service
        .leases
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let leases = &mut *leases;
    let current = leases.by_name.get(&name).cloned();
    let lease = match current {
        Some(lease) if lease.expires_ms > now_ms && lease.holder != body.holder => {
            return (
                StatusCode::CONFLICT,
                Json(serde_json::to_value(&lease).unwrap_or_default()),
            );
        }
        // A renewal keeps the token: the holder never lost the lease.
        Some(lease) if lease.expires_ms > now_ms => Lease {
            expires_ms: now_ms.saturating_add(body.ttl_ms),
            ..lease
        },
        _ => {
            if !leases.by_name.contains_key(&name) && leases.by_name.len() >= LEASES_MAX {
                return refuse(StatusCode::INSUFFICIENT_STORAGE, "too many leases");
            }
            leases.last_token += 1;
            Lease {
                name: name.clone(),
                holder: body.holder,
                token: leases.last_token,
                expires_ms: now_ms.saturating_add(body.ttl_ms),
            }
        }
    };
    leases.by_name.insert(name, lease.clone());
    (
        StatusCode::OK,
        Json(serde_json::to_value(&lease).unwrap_or_default()),
    )
}

async fn read(State(service): State<Service>, Path(name): Path<String>) -> Answer {
    let now_ms = service.now_ms();
    let leases = service
        .leases
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    match leases.by_name.get(&name) {
        Some(lease) if lease.expires_ms > now_ms => (
            StatusCode::OK,
            Json(serde_json::to_value(lease).unwrap_or_default()),
        ),
        _ => refuse(StatusCode::NOT_FOUND, "no lease"),
    }
}

/// The service's routes, with fresh state.
pub fn router() -> Router {
    let service = Service {
        leases: Arc::default(),
        started: tokio::time::Instant::now(),
    };
    Router::new()
        .route("/leases/{name}", post(acquire).get(read))
        .with_state(service)
}

/// Serves the lease service on this host until the run ends: pass it to `Scenario::service`.
pub async fn serve(_cx: dosim::Actor) -> std::io::Result<()> {
    dosim::net::serve_router(router(), PORT).await
}

/// What went wrong talking to the lease service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseError(pub String);

impl std::fmt::Display for LeaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "lease service: {}", self.0)
    }
}

impl std::error::Error for LeaseError {}

/// What asking for a lease answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The caller holds the lease.
    Granted(Lease),
    /// Someone else holds it.
    HeldBy(Lease),
}

/// A client of the lease service over the simulated network.
pub struct LeaseClient {
    base_url: String,
    transport: HyperTransport<dosim::net::TurmoilConnector>,
}

impl Default for LeaseClient {
    fn default() -> Self {
        LeaseClient::new(HOST)
    }
}

impl LeaseClient {
    /// A client of the service on `host`.
    pub fn new(host: &str) -> LeaseClient {
        LeaseClient {
            base_url: format!("http://{host}:{PORT}"),
            transport: HyperTransport::new(dosim::net::TurmoilConnector),
        }
    }

    async fn call(
        &self,
        method: http::Method,
        name: &str,
        body: Bytes,
    ) -> Result<(u16, Lease), LeaseError> {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}/leases/{name}", self.base_url))
            .header("content-type", "application/json")
            .body(body)
            .map_err(|error| LeaseError(error.to_string()))?;
        let response = tokio::time::timeout(TIMEOUT, self.transport.send(request))
            .await
            .map_err(|_| LeaseError(format!("no answer within {TIMEOUT:?}")))?
            .map_err(|error| LeaseError(error.to_string()))?;
        let status = response.status().as_u16();
        if status != 200 && status != 409 {
            return Err(LeaseError(format!(
                "{status}: {}",
                String::from_utf8_lossy(response.body())
            )));
        }
        let lease = serde_json::from_slice(response.body())
            .map_err(|error| LeaseError(format!("bad lease body: {error}")))?;
        Ok((status, lease))
    }

    /// Asks for the lease `name` for `holder`, for `ttl`; renews it if `holder` has it already.
    pub async fn acquire(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Acquired, LeaseError> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let body = serde_json::json!({ "holder": holder, "ttl_ms": ttl_ms }).to_string();
        match self
            .call(http::Method::POST, name, Bytes::from(body))
            .await?
        {
            (200, lease) => Ok(Acquired::Granted(lease)),
            (_, lease) => Ok(Acquired::HeldBy(lease)),
        }
    }
}
