//! Fault decisions: the trait a harness replaces to steer them, the seeded default, and the
//! draws one request takes when it arrives.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::plan::{DropResponse, FaultPlan, Latency, Reject};

/// The kind of a decision, so that a strategy can tell decisions apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// The time a request spends in transit before it reaches the API (`network_latency`).
    NetworkLatency,
    /// The time a request that reached the API takes to commit (`latency`).
    Latency,
    Reject,
    DropResponse,
}

/// Where a decision is drawn: the request and the rule that asked.
#[derive(Clone, Copy, Debug)]
pub struct DecisionPoint<'a> {
    pub kind: DecisionKind,
    /// The request's sequence number in the history.
    pub seq: u64,
    pub method: &'a str,
    pub path: &'a str,
    pub rule_index: usize,
}

/// How fault decisions are drawn. The default draws from a seeded `ChaCha8Rng`; a harness
/// replaces it to steer decisions (priorities, exhaustive enumeration).
pub trait FaultDecider: Send + 'static {
    /// Whether a fault with this probability happens.
    fn chance(&mut self, point: DecisionPoint<'_>, probability: f64) -> bool;
    /// A latency drawn from the rule's distribution.
    fn latency_ms(&mut self, point: DecisionPoint<'_>, latency: &Latency) -> u64;
}

/// Decisions drawn from a `ChaCha8Rng` seeded from the server seed.
#[derive(Clone, Debug)]
pub struct SeededDecider {
    rng: ChaCha8Rng,
}

impl SeededDecider {
    pub fn new(seed: u64) -> SeededDecider {
        SeededDecider {
            rng: dosim_base::rng(seed, dosim_base::Stream::Faults),
        }
    }
}

impl FaultDecider for SeededDecider {
    fn chance(&mut self, _point: DecisionPoint<'_>, probability: f64) -> bool {
        if probability >= 1.0 {
            return true;
        }
        if probability <= 0.0 {
            return false;
        }
        self.rng.random::<f64>() < probability
    }

    fn latency_ms(&mut self, _point: DecisionPoint<'_>, latency: &Latency) -> u64 {
        latency.draw_ms(&mut self.rng)
    }
}

/// The server's fault plan and how its decisions are drawn, behind one lock.
pub(crate) struct Faults {
    pub(crate) plan: FaultPlan,
    pub(crate) decider: Box<dyn FaultDecider>,
}

/// What a request's rule decided when the request arrived.
pub(crate) struct OnArrival {
    /// The rule that matched.
    pub(crate) rule: usize,
    /// How long the request takes to commit once it reached the API, if it is slowed at all.
    pub(crate) processing_latency_ms: Option<u64>,
    /// The rejection it gets instead of its commit, if any.
    pub(crate) reject: Option<Reject>,
    /// The rule's lost-response fault, decided only after the commit.
    pub(crate) drop_response: Option<DropResponse>,
}

/// A request as the decisions see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestAt<'a> {
    pub(crate) seq: u64,
    pub(crate) method: &'a str,
    /// The path without its query.
    pub(crate) path: &'a str,
}

impl Faults {
    /// Draws a request's network latency, before anything else happens to it: the rule's index
    /// and the milliseconds, if its rule slows it at all.
    pub(crate) fn network_latency(&mut self, request: RequestAt<'_>) -> Option<(usize, u64)> {
        let index = self.plan.matching_rule(request.method, request.path)?;
        let latency = self.plan.rules[index].network_latency.as_ref()?;
        let latency_ms = self
            .decider
            .latency_ms(request.point(DecisionKind::NetworkLatency, index), latency);
        (latency_ms > 0).then_some((index, latency_ms))
    }

    /// Draws, in this order, the processing latency and the rejection of a request that reached
    /// the API; `None` when no rule matches it.
    pub(crate) fn on_arrival(&mut self, request: RequestAt<'_>) -> Option<OnArrival> {
        let index = self.plan.matching_rule(request.method, request.path)?;
        let rule = &self.plan.rules[index];
        let point = |kind| request.point(kind, index);
        let processing_latency_ms = rule
            .latency
            .as_ref()
            .map(|latency| {
                self.decider
                    .latency_ms(point(DecisionKind::Latency), latency)
            })
            .filter(|&ms| ms > 0);
        let reject = rule.reject.as_ref().filter(|reject| {
            self.decider
                .chance(point(DecisionKind::Reject), reject.probability)
        });
        Some(OnArrival {
            rule: index,
            processing_latency_ms,
            reject: reject.cloned(),
            drop_response: rule.drop_response.clone(),
        })
    }

    /// Draws whether a committed request's response is lost.
    pub(crate) fn drops_response(
        &mut self,
        request: RequestAt<'_>,
        rule: usize,
        drop: &DropResponse,
    ) -> bool {
        self.decider.chance(
            request.point(DecisionKind::DropResponse, rule),
            drop.probability,
        )
    }
}

impl<'a> RequestAt<'a> {
    fn point(self, kind: DecisionKind, rule_index: usize) -> DecisionPoint<'a> {
        DecisionPoint {
            kind,
            seq: self.seq,
            method: self.method,
            path: self.path,
            rule_index,
        }
    }
}
