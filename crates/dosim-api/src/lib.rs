//! The DigitalOcean API v2 over HTTP, served on any listener.
//!
//! [`Server`] owns every account, the rate limits, the fault plan and the request history;
//! [`Server::router`] returns an `axum::Router` for any listener. Handlers live in one module
//! per resource, each with its own `router()`, merged in [`app`].

pub mod actions;
pub mod app;
pub mod auth;
pub mod body;
pub mod catalogue;
pub mod clock;
pub mod control;
pub mod databases;
pub mod domains;
pub mod droplets;
pub mod error;
mod exchange;
pub mod faults;
pub mod firewalls;
pub mod history;
mod list_edit;
pub mod load_balancers;
pub mod pagination;
pub mod projects;
pub mod ratelimit;
pub mod render;
pub mod reserved_ips;
pub mod server;
pub mod spaces_keys;
pub mod ssh_keys;
pub mod tags;
pub mod volumes;
pub mod vpcs;

pub use app::{Ctx, PeerAddr};
pub use auth::{fingerprint, token_for_seed};
pub use clock::{Clock, ManualClock, TokioClock};
pub use databases::DataPlane;
pub use error::ApiError;
pub use faults::{
    DecisionKind, DecisionPoint, DropMode, DropResponse, FaultDecider, FaultPlan, FaultRule,
    InjectedFault, Latency, LatencyStage, PlanError, Reject, RejectBody, SeededDecider, Service,
};
pub use history::{HistoryEntry, HistoryPage};
pub use ratelimit::RateLimitConfig;
pub use server::{Server, ServerConfig};
