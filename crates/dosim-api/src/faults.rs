//! The fault layer: the plan (per-endpoint latency, rejections before the commit, responses lost
//! after it), how its decisions are drawn, and applying them around each `/v2/` request's commit.
//!
//! - `plan.rs`: the rules, read from TOML or JSON and checked against their limits;
//! - `decide.rs`: the [`FaultDecider`] a harness may replace, the seeded default, and the draws
//!   each request takes;
//! - `apply.rs`: the layer itself, which the pipeline runs the commit inside.

mod apply;
mod decide;
mod plan;

use serde::{Deserialize, Serialize};

pub(crate) use apply::{around_commit, network_latency};
pub use decide::{DecisionKind, DecisionPoint, FaultDecider, SeededDecider};
pub(crate) use decide::{Faults, RequestAt};
pub use plan::{
    path_matches, DropMode, DropResponse, FaultPlan, FaultRule, Latency, PlanError, Reject,
    RejectBody, DEFAULT_HANG_MS, HANG_MS_MAX, LATENCY_MS_MAX, RULES_MAX,
};

/// A fault that was injected into one request, as recorded in the history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InjectedFault {
    Latency {
        rule: usize,
        /// In transit (the client could cancel it) or at the API (the commit happened regardless).
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
    /// In transit, before it reached the API (`network_latency`).
    Network,
    /// At the API, before its commit (`latency`).
    Processing,
}

#[cfg(test)]
mod tests;
