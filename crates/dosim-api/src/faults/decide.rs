//! Fault decisions: the trait a harness replaces to steer them, the seeded default, and the
//! draws one request takes when it arrives.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use dosim_base::faults::{Arrival, FaultRequest, Lost, Rejection, Service};

use super::plan::{FaultPlan, Latency};

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
    /// The service the request went to.
    pub service: Service,
    /// The request's sequence number in its service's history.
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

impl Faults {
    /// Draws a request's network latency, before anything else happens to it: the rule's index
    /// and the milliseconds, if its rule slows it at all.
    pub(crate) fn network_latency(&mut self, request: FaultRequest<'_>) -> Option<(usize, u64)> {
        let index = self
            .plan
            .matching_rule(request.service, request.method, request.path)?;
        let latency = self.plan.rules[index].network_latency.as_ref()?;
        let latency_ms = self
            .decider
            .latency_ms(point(request, DecisionKind::NetworkLatency, index), latency);
        (latency_ms > 0).then_some((index, latency_ms))
    }

    /// Draws, in this order, the processing latency and the rejection of a request that reached
    /// its service; `None` when no rule matches it.
    pub(crate) fn on_arrival(&mut self, request: FaultRequest<'_>) -> Option<Arrival> {
        let index = self
            .plan
            .matching_rule(request.service, request.method, request.path)?;
        let rule = &self.plan.rules[index];
        let point = |kind| point(request, kind, index);
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
        Some(Arrival {
            rule: index,
            processing_latency_ms,
            reject: reject.map(|reject| Rejection {
                status: reject.status,
                body: reject.body_for(request.service),
                retry_after_s: reject.retry_after_s,
            }),
            may_lose_response: rule.drop_response.is_some(),
        })
    }

    /// Draws whether rule `rule` loses a committed request's response.
    pub(crate) fn lose_response(&mut self, request: FaultRequest<'_>, rule: usize) -> Option<Lost> {
        let drop = self.plan.rules.get(rule)?.drop_response.as_ref()?;
        let lost = Lost {
            mode: drop.mode,
            hang_ms: drop.hang_ms,
        };
        let point = point(request, DecisionKind::DropResponse, rule);
        self.decider.chance(point, drop.probability).then_some(lost)
    }
}

fn point(request: FaultRequest<'_>, kind: DecisionKind, rule_index: usize) -> DecisionPoint<'_> {
    DecisionPoint {
        kind,
        service: request.service,
        seq: request.seq,
        method: request.method,
        path: request.path,
        rule_index,
    }
}
