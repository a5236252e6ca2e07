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

pub(crate) use apply::{around_commit, network_latency};
pub(crate) use decide::Faults;
pub use decide::{DecisionKind, DecisionPoint, FaultDecider, SeededDecider};
pub use dosim_base::faults::{DropMode, InjectedFault, LatencyStage, RejectBody, Service};
pub use plan::{
    path_matches, DropResponse, FaultPlan, FaultRule, Latency, PlanError, Reject, DEFAULT_HANG_MS,
    HANG_MS_MAX, LATENCY_MS_MAX, RULES_MAX,
};

#[cfg(test)]
mod tests;

/// The API server's plan and decider, for the other planes that take the plan's faults: a
/// request of another service draws from the same decider, in the order requests arrive, so one
/// seed decides every fault of a run and a harness's recording decider sees them all.
impl dosim_base::faults::FaultHook for crate::Server {
    fn network_latency(
        &self,
        request: dosim_base::faults::FaultRequest<'_>,
    ) -> Option<(usize, u64)> {
        self.inner.faults.lock().network_latency(request)
    }

    fn on_arrival(
        &self,
        request: dosim_base::faults::FaultRequest<'_>,
    ) -> Option<dosim_base::faults::Arrival> {
        self.inner.faults.lock().on_arrival(request)
    }

    fn lose_response(
        &self,
        request: dosim_base::faults::FaultRequest<'_>,
        rule: usize,
    ) -> Option<dosim_base::faults::Lost> {
        self.inner.faults.lock().lose_response(request, rule)
    }
}
