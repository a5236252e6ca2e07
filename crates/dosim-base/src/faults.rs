//! The fault hook: how a data plane asks the run's fault plan what happens to one request, and
//! the record of a fault that was injected.
//!
//! The plan and the decider that draws its decisions belong to the API server
//! (`dosim_api::FaultPlan`): one plan, one seeded stream of decisions, one set of fault ids for
//! every service a rule may name ([`Service`]). The API applies its own rules; another plane
//! that takes the plan's faults (Spaces) holds a [`FaultHook`] and asks it at three points of
//! each request, in this order:
//! 1. [`FaultHook::network_latency`] when the request arrives, before anything else: the plane
//!    sleeps that long, and a client that gives up meanwhile cancels the request;
//! 2. [`FaultHook::on_arrival`] once the request has reached the service (after authentication
//!    and the service's own refusals, before the operation gate): a rejection instead of the
//!    commit, or a processing latency after which the commit runs whether the client still
//!    waits or not;
//! 3. [`FaultHook::lose_response`] after the commit, only when the arrival said the rule can
//!    lose responses: the commit stands and the client never hears of it.
//!
//! A request that matches no rule of its service draws nothing, so adding a plane's rules never
//! moves the decisions of another plane's requests.

use serde::{Deserialize, Serialize};

/// The service a fault-plan rule applies to.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// The DigitalOcean API v2 (`/v2/…` paths).
    #[default]
    Api,
    /// Spaces, the S3 API: paths are path-style `/{bucket}/{key}` whatever the addressing.
    Spaces,
}

impl Service {
    /// Whether this is the API, the default a rule need not name.
    pub fn is_api(&self) -> bool {
        *self == Service::Api
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Service::Api => "api",
            Service::Spaces => "spaces",
        })
    }
}

/// One request as the fault plan sees it.
#[derive(Clone, Copy, Debug)]
pub struct FaultRequest<'a> {
    pub service: Service,
    /// The request's sequence number in its service's history (the API's history, Spaces' log).
    pub seq: u64,
    pub method: &'a str,
    /// The path without its query (for Spaces, `/{bucket}/{key}`).
    pub path: &'a str,
}

/// What a rule decided for a request that reached its service.
#[derive(Clone, Debug, PartialEq)]
pub struct Arrival {
    /// The rule's index in the plan.
    pub rule: usize,
    /// How long the request takes to commit once it reached the service, if it is slowed.
    pub processing_latency_ms: Option<u64>,
    /// The rejection it gets instead of its commit, if any.
    pub reject: Option<Rejection>,
    /// Whether the rule may lose the response after the commit ([`FaultHook::lose_response`]).
    pub may_lose_response: bool,
}

/// An injected rejection: the status and the kind of body, resolved for the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub body: RejectBody,
    /// The `retry-after` of an injected 429, in seconds.
    pub retry_after_s: u64,
}

/// A response lost after its commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lost {
    pub mode: DropMode,
    /// How long a hung response waits before the connection is reset.
    pub hang_ms: u64,
}

/// How a plane asks the fault plan about its requests (see the module's documentation).
pub trait FaultHook: Send + Sync {
    /// The rule's index and the milliseconds the request spends in transit, if its rule slows it there.
    fn network_latency(&self, request: FaultRequest<'_>) -> Option<(usize, u64)>;
    /// The decisions for a request that reached the service; `None` when no rule matches it.
    fn on_arrival(&self, request: FaultRequest<'_>) -> Option<Arrival>;
    /// Whether rule `rule` loses this committed request's response, and how.
    fn lose_response(&self, request: FaultRequest<'_>, rule: usize) -> Option<Lost>;
}

/// The hook of a plane without faults.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFaults;

impl FaultHook for NoFaults {
    fn network_latency(&self, _: FaultRequest<'_>) -> Option<(usize, u64)> {
        None
    }

    fn on_arrival(&self, _: FaultRequest<'_>) -> Option<Arrival> {
        None
    }

    fn lose_response(&self, _: FaultRequest<'_>, _: usize) -> Option<Lost> {
        None
    }
}

/// A fault that was injected into one request, as a service's history records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InjectedFault {
    Latency {
        rule: usize,
        /// In transit (the client could cancel it) or at the service (the commit happened regardless).
        stage: LatencyStage,
        latency_ms: u64,
    },
    Reject {
        rule: usize,
        status: u16,
        body: RejectBody,
    },
    DropResponse {
        rule: usize,
        mode: DropMode,
        hang_ms: u64,
    },
}

/// Where a request was slowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyStage {
    /// In transit, before it reached the service (`network_latency`).
    Network,
    /// At the service, before its commit (`latency`).
    Processing,
}

/// The body of an injected rejection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RejectBody {
    /// DigitalOcean's JSON error body (the API's default).
    #[default]
    Json,
    /// S3's XML error body (Spaces' default): `SlowDown` for a 503, `InternalError` for a 500.
    Xml,
    /// An HTML error page, as a proxy in front of the service returns.
    Html,
}

/// How a response is lost after its commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DropMode {
    /// The connection is reset while the response is sent.
    #[default]
    Reset,
    /// Nothing is sent until `hang_ms` passes, then the connection is reset.
    Hang,
}
