//! What one seed's run produced: actor results, both ends' history, beliefs, faults, final state.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::history::{Belief, InjectedFault, Op};
use crate::state::CloudState;
use crate::Strategy;

/// How one actor's code ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ActorResult {
    /// The actor returned `Ok`.
    Ok,
    /// The actor returned `Err` with this message.
    Err {
        /// The error, rendered with `Display`.
        message: String,
    },
    /// The actor panicked.
    Panicked {
        /// The panic message.
        message: String,
    },
    /// The run hit its simulated-time limit before the actor finished.
    Unfinished,
    /// A scenario's [`crate::ActorFault::crash`] killed the actor and did not restart it.
    Crashed,
}

/// One actor's name and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActorOutcome {
    /// `pod-0`, `pod-1`, …
    pub name: String,
    /// How its code ended.
    pub result: ActorResult,
    /// Simulated milliseconds when it ended, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
}

/// One request as the API server saw it, joined to the client's record by request id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerOp {
    /// The `x-request-id` the server gave the request.
    pub request_id: String,
    /// The actor named by the `x-dosim-actor` header.
    pub actor: String,
    /// The method.
    pub method: String,
    /// The path and query.
    pub target: String,
    /// The status the server produced (possibly never delivered).
    pub status: u16,
    /// Simulated milliseconds when the request arrived.
    pub arrived_ms: u64,
    /// Simulated milliseconds when its change committed to the cloud, if it changed anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_ms: Option<u64>,
    /// The fault the server injected into it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// Everything one seed's run produced. Checks read this; reports render it.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// How the run's decisions were drawn.
    pub strategy: Strategy,
    /// Each actor's result, in actor order.
    pub actors: Vec<ActorOutcome>,
    /// Every operation the actors and service hosts sent, in invocation order.
    pub ops: Vec<Op>,
    /// Every request the server saw, in arrival order.
    pub server_ops: Vec<ServerOp>,
    /// Every operation of every plane, in the order the gate let it commit.
    pub commits: Vec<crate::gate::Commit>,
    /// Commits not kept because the run passed [`crate::gate::COMMITS_MAX`].
    #[serde(skip_serializing_if = "is_zero")]
    pub commits_dropped: u64,
    /// Every fault injected by the harness or the server, in time order.
    pub faults: Vec<InjectedFault>,
    /// Every belief stated, in order.
    pub beliefs: Vec<Belief>,
    /// The account before the actors started.
    pub initial_state: CloudState,
    /// The account when the run ended.
    pub final_state: CloudState,
    /// Simulated milliseconds the run lasted.
    pub sim_ms: u64,
    /// Steps the simulation took.
    pub steps: u64,
    /// Why the simulation stopped early (time limit, a host failing), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_error: Option<String>,
    /// Operations not recorded because the run passed the history limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub ops_dropped: u64,
    /// The run's PostgreSQL clusters, whose final data checks query with [`RunOutcome::database`].
    #[serde(skip)]
    pub databases: Vec<crate::pg::RunDatabase>,
    /// The run's Valkey clusters, whose final keyspace and command log checks read with [`RunOutcome::valkey`].
    #[serde(skip)]
    pub valkey_clusters: Vec<crate::valkey::RunValkey>,
    /// The run's Spaces, whose final buckets and request log checks read with [`RunOutcome::spaces`].
    #[serde(skip)]
    pub spaces: Option<crate::spaces::RunSpaces>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl RunOutcome {
    /// The outcome of a run that could not start: no actors ran, and `error` says why.
    pub(crate) fn refused(scenario: &str, seed: u64, strategy: Strategy, error: String) -> Self {
        RunOutcome {
            scenario: scenario.to_owned(),
            seed,
            strategy,
            actors: Vec::new(),
            ops: Vec::new(),
            server_ops: Vec::new(),
            commits: Vec::new(),
            commits_dropped: 0,
            faults: Vec::new(),
            beliefs: Vec::new(),
            initial_state: CloudState::default(),
            final_state: CloudState::default(),
            sim_ms: 0,
            steps: 0,
            sim_error: Some(error),
            ops_dropped: 0,
            databases: Vec::new(),
            valkey_clusters: Vec::new(),
            spaces: None,
        }
    }

    /// Each actor's last belief for `key`, in actor-name order (`None` when given up).
    pub fn beliefs_about(&self, key: &str) -> BTreeMap<String, Option<String>> {
        let mut latest = BTreeMap::new();
        for belief in self.beliefs.iter().filter(|belief| belief.key == key) {
            latest.insert(belief.actor.clone(), belief.value.clone());
        }
        latest
    }

    /// Every resource some actor saw in a successful response (`droplet 42`, `volume 7f3a…`).
    pub fn known_resources(&self) -> std::collections::BTreeSet<String> {
        self.ops
            .iter()
            .filter(|op| matches!(op.result, crate::history::OpResult::Status { status } if status < 300))
            .flat_map(|op| op.resources().iter().cloned())
            .collect()
    }

    /// The full, stable trace of the run: every field of every record, one per line.
    ///
    /// Two runs of one seed must produce the same trace; its hash is what replay compares.
    pub fn trace(&self) -> String {
        let mut lines = vec![format!(
            "scenario {} seed {} strategy {}",
            self.scenario, self.seed, self.strategy
        )];
        for op in &self.ops {
            lines.push(format!(
                "op {}",
                serde_json::to_string(op).unwrap_or_default()
            ));
        }
        for op in &self.server_ops {
            lines.push(format!(
                "server {}",
                serde_json::to_string(op).unwrap_or_default()
            ));
        }
        for commit in &self.commits {
            lines.push(format!(
                "commit {}",
                serde_json::to_string(commit).unwrap_or_default()
            ));
        }
        for fault in &self.faults {
            lines.push(format!(
                "fault {}",
                serde_json::to_string(fault).unwrap_or_default()
            ));
        }
        for belief in &self.beliefs {
            lines.push(format!(
                "belief {}",
                serde_json::to_string(belief).unwrap_or_default()
            ));
        }
        for actor in &self.actors {
            lines.push(format!(
                "actor {}",
                serde_json::to_string(actor).unwrap_or_default()
            ));
        }
        lines.push(format!(
            "final {}",
            serde_json::to_string(&self.final_state).unwrap_or_default()
        ));
        lines.push(format!(
            "end sim_ms={} steps={} error={:?} ops_dropped={}",
            self.sim_ms, self.steps, self.sim_error, self.ops_dropped
        ));
        let mut trace = lines.join("\n");
        trace.push('\n');
        trace
    }

    /// The hash of the order in which operations committed: each operation by its host, plane and
    /// kind (an API request's method and path with ids left out, an SQL statement with numbers
    /// left out), so that two runs that committed the same kinds of operation in the same order
    /// count as one order whatever ids and values they drew.
    pub fn commit_order_hash(&self) -> u64 {
        let mut hasher = crate::seed::Fnv1a::default();
        for commit in &self.commits {
            hasher.write(commit.actor.as_bytes());
            hasher.write(b" ");
            hasher.write(commit.plane.as_bytes());
            hasher.write(b" ");
            hasher.write(operation_kind(&commit.plane, &commit.summary).as_bytes());
            hasher.write(b"\n");
        }
        hasher.finish()
    }

    /// The stable hash of [`RunOutcome::trace`].
    pub fn trace_hash(&self) -> u64 {
        crate::seed::hash_text(&self.trace())
    }
}

/// An operation's kind: an API request's path with every segment holding a digit (an id) written
/// `#`; any other operation with each run of digits written `#`.
fn operation_kind(plane: &str, summary: &str) -> String {
    if plane == "api" {
        return summary
            .split('/')
            .map(|segment| {
                if segment.bytes().any(|byte| byte.is_ascii_digit()) && !segment.contains(' ') {
                    "#"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
    }
    let mut kind = String::with_capacity(summary.len());
    let mut in_digits = false;
    for c in summary.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                kind.push('#');
            }
            in_digits = true;
        } else {
            kind.push(c);
            in_digits = false;
        }
    }
    kind
}
