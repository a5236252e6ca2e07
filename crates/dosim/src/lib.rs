//! Deterministic simulation of code that drives DigitalOcean: scenarios, faults, checks, reports.
//!
//! A [`Scenario`] runs the user's own client code as concurrent actors against faithful fakes of
//! the DigitalOcean API, inside a seeded turmoil world. Every run depends on its seed alone: a
//! seed that finds a race replays byte for byte, and the report says how.

use std::fmt;

use serde::Serialize;

pub mod actor;
pub mod bench;
mod bench_support;
pub mod checks;
pub mod cli;
pub mod explore;
pub mod faults;
mod floor;
pub mod gate;
pub mod history;
pub mod net;
pub mod outcome;
pub mod pg;
pub mod report;
pub mod run;
pub mod scenario;
pub mod seed;
pub mod shrink;
pub mod spaces;
pub mod state;
pub mod strategy;
pub mod sweep;
pub mod transport;
pub mod valkey;

pub use actor::{Actor, ActorRng, SimClock};
pub use checks::{Check, Violation};
pub use dosim_base::gate::Plane;
pub use faults::{ActorFault, Endpoint, NetFault};
pub use history::{Belief, InjectedFault, Op, OpResult};
pub use outcome::{ActorOutcome, ActorResult, RunOutcome, ServerOp};
pub use pg::{ActorPg, DatabaseSpec};
pub use report::Report;
pub use run::RunSpec;
pub use scenario::Scenario;
pub use seed::Seeds;
pub use spaces::SpacesSpec;
pub use state::CloudState;
pub use state::{DatabaseState, PoolState};

pub use dosim_api::{self as api, FaultPlan, FaultRule};
pub use dosim_client::{self as client, Client};
pub use dosim_cloud::{self as cloud, Cloud, CloudConfig};

/// What a scenario expects exploring it to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// Some seed must break a check: the buggy variant of a race.
    Race,
    /// No seed may break a check: the fixed variant, or ordinary code.
    Clean,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expect::Race => "race",
            Expect::Clean => "clean",
        })
    }
}

/// How the decisions of a run are drawn.
///
/// `random` draws every decision (host order, message latency, injected faults) from the seed.
/// `pct` and `dfs` also put a gate in front of every data plane that decides the order in which
/// concurrent operations reach their commit, and which operations are delayed; see [`strategy`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Decisions drawn uniformly at random from the seed.
    #[default]
    Random,
    /// PCT-style priorities over actors decide the commit order of concurrent operations; at a
    /// few random change points per run an operation is delayed and its actor drops to the
    /// lowest priority.
    Pct,
    /// Every commit order, delay and fault choice of each seed's timing, enumerated, up to
    /// bounds on delays, faults and schedules.
    Dfs,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Random => "random",
            Strategy::Pct => "pct",
            Strategy::Dfs => "dfs",
        })
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}

#[cfg(test)]
mod tests;
