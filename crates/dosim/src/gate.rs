//! The harness's operation gate: every data plane (the API, each PostgreSQL cluster, and the
//! planes after them) admits each operation through it just before the operation commits.
//!
//! Under `random` the gate admits at once and only records the order of commits, so a run is
//! exactly what it was without it. Under `pct` and `dfs` it holds operations and lets them
//! commit one at a time, in the order the run's `Decisions` pick. It decides between steps of
//! the simulation, among the operations that are really concurrent: those waiting at the gate,
//! and, while a request from another host is still in flight toward a gated server, it waits
//! for that request too (at most the network's longest latency and a few ticks), since in a
//! real network either could have arrived first. Nothing is held when nothing else is in
//! flight, so a lone request pays at most one tick.
//!
//! The strategy may also *delay* an operation as it reaches the gate (PCT at its change points,
//! dfs within its bound): the operation is held at its server, as a slow server or network
//! would hold it, until an operation of another host commits or waits beside it, every other
//! actor has finished, or the plane's longest delay passes. A delay is how a systematic
//! strategy reaches races whose operations are not concurrent but a moment apart: the second
//! host's read that lands between the first one's read and write. Each delay is listed in the
//! report's faults.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use dosim_base::gate::{Admission, Gate, Operation, Permit, Plane};
use parking_lot::Mutex;

use crate::strategy::Decisions;

/// How long the gate lets one operation hold it before it decides the next anyway, so that an
/// operation that never drops its permit cannot stall every plane.
pub const HOLD_MAX: Duration = Duration::from_millis(50);

/// The most commits a run records for its commit order; later ones are counted, not kept.
pub const COMMITS_MAX: usize = 100_000;

/// One commit, in the order the gate admitted it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Commit {
    /// Simulated milliseconds since the run started, when it was admitted.
    pub at_ms: u64,
    /// Its plane.
    pub plane: String,
    /// The host that sent it.
    pub actor: String,
    /// Its session (a PostgreSQL connection's process id), if its plane has sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
    /// What it was: `POST /v2/volumes`, an SQL statement.
    pub summary: String,
    /// When the strategy delayed it: how long it was held at its server, and the host whose
    /// commit ended the delay (none when the longest delay ran out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delayed: Option<Delayed>,
}

/// A delay the strategy gave an operation at the gate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Delayed {
    /// Simulated milliseconds from its arrival at the gate to its commit.
    pub held_ms: u64,
    /// What ended it: `until pod-1's operation committed`, `until pod-1's operation waited
    /// beside it`, `until every other actor had finished`, `until the longest delay ran out`.
    pub until: String,
}

/// The longest the strategy may hold a delayed operation at its server, per plane.
///
/// A delay is meant to change the order of commits, not to time clients out: each plane's
/// default stays below what its usual client waits. The API's client waits a minute, and
/// tokio-postgres and aws-sdk-s3 wait as long as it takes, so their operations may be held 5 s;
/// redis-rs gives up on a command after 500 ms, so a Valkey command is held at most 400 ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayMax(BTreeMap<Plane, Duration>);

impl DelayMax {
    /// The longest delay of an operation on `plane`.
    pub fn get(&self, plane: Plane) -> Duration {
        self.0.get(&plane).copied().unwrap_or(DELAY_MAX_DEFAULT)
    }

    /// Sets the longest delay of operations on `plane`.
    pub(crate) fn set(&mut self, plane: Plane, delay_max: Duration) {
        self.0.insert(plane, delay_max);
    }

    /// Sets the longest delay of operations on every plane.
    pub(crate) fn set_all(&mut self, delay_max: Duration) {
        for plane in [Plane::Api, Plane::Postgres, Plane::Valkey, Plane::Spaces] {
            self.0.insert(plane, delay_max);
        }
    }
}

impl Default for DelayMax {
    fn default() -> DelayMax {
        let mut delay_max = DelayMax(BTreeMap::new());
        delay_max.set_all(DELAY_MAX_DEFAULT);
        delay_max.set(Plane::Valkey, VALKEY_DELAY_MAX_DEFAULT);
        delay_max
    }
}

/// The longest delay of an API request, an SQL statement or a Spaces request, by default.
pub const DELAY_MAX_DEFAULT: Duration = Duration::from_secs(5);

/// The longest delay of a Valkey command, by default: below redis-rs's 500 ms response timeout.
pub const VALKEY_DELAY_MAX_DEFAULT: Duration = Duration::from_millis(400);

/// The gate of one run.
pub(crate) struct RunGate {
    decisions: Option<Arc<Decisions>>,
    /// The longest a delayed operation of each plane is held.
    delay_max: DelayMax,
    state: Mutex<GateState>,
    /// Each actor's fault control: an operation reaching the gate is a fault point of its actor.
    controls: Mutex<BTreeMap<String, crate::faults::ActorControl>>,
}

#[derive(Default)]
struct GateState {
    waiting: Vec<Waiter>,
    /// The operation now committing, if one is: its admission number and when it was admitted.
    busy: Option<(u64, u64)>,
    /// How many operations have been admitted.
    admitted: u64,
    commits: Vec<Commit>,
    commits_dropped: u64,
}

struct Waiter {
    operation: Operation,
    since_ms: u64,
    /// A delayed operation: held until this time, unless another host's operation commits first.
    held_until_ms: Option<u64>,
    /// Whether it was delayed, and the host whose commit ended the delay, if one did.
    delayed: Option<Option<String>>,
    /// Sends the waiter its admission number.
    release: tokio::sync::oneshot::Sender<u64>,
}

impl RunGate {
    /// A gate that steers with `decisions`, or only records when there are none (`random`),
    /// holding a delayed operation for at most its plane's `delay_max`.
    pub(crate) fn new(decisions: Option<Arc<Decisions>>, delay_max: DelayMax) -> Arc<RunGate> {
        Arc::new(RunGate {
            decisions,
            delay_max,
            state: Mutex::new(GateState::default()),
            controls: Mutex::new(BTreeMap::new()),
        })
    }

    /// The actors' fault controls, by name.
    pub(crate) fn set_controls(&self, controls: BTreeMap<String, crate::faults::ActorControl>) {
        *self.controls.lock() = controls;
    }

    /// The gate as the planes take it.
    pub(crate) fn handle(self: &Arc<RunGate>) -> Arc<dyn Gate> {
        Arc::new(Handle(self.clone()))
    }

    /// Whether the gate holds operations (under `pct` and `dfs`).
    pub(crate) fn steers(&self) -> bool {
        self.decisions.is_some()
    }

    /// The hosts whose operations wait at the gate now.
    pub(crate) fn waiting_actors(&self) -> BTreeSet<String> {
        let state = self.state.lock();
        state
            .waiting
            .iter()
            .map(|waiter| waiter.operation.actor.clone())
            .collect()
    }

    /// Called between steps: lets the next operation commit when the gate is free and no other
    /// request is on its way (`in_flight`), or has waited for it long enough (`wait_max_ms`).
    /// A delayed operation also ends its delay when no actor but its own is `running`.
    pub(crate) fn settle(
        &self,
        now_ms: u64,
        in_flight: bool,
        wait_max_ms: u64,
        running: &BTreeSet<&str>,
    ) {
        let Some(decisions) = &self.decisions else {
            return;
        };
        let mut state = self.state.lock();
        if let Some((_, since_ms)) = state.busy {
            if now_ms.saturating_sub(since_ms) < millis(HOLD_MAX) {
                return;
            }
            state.busy = None;
        }
        // An operation whose client gave up is no longer a choice.
        state.waiting.retain(|waiter| !waiter.release.is_closed());
        // A delayed operation is no choice until its delay ends, or until an operation of
        // another host waits beside it (delayed too, perhaps): then the order is the choice.
        // The alternatives are in arrival order, the delayed ones last, so that the first
        // choice keeps a delay's meaning.
        let waiting = &state.waiting;
        let mut eligible: Vec<usize> = (0..waiting.len())
            .filter(|&index| {
                let waiter = &waiting[index];
                let actor = waiter.operation.actor.as_str();
                waiter
                    .held_until_ms
                    .is_none_or(|until_ms| now_ms >= until_ms)
                    || waiting.iter().any(|other| other.operation.actor != actor)
                    || running.iter().all(|other| *other == actor)
            })
            .collect();
        eligible.sort_by_key(|&index| waiting[index].delayed.is_some());
        let Some(oldest_ms) = eligible
            .iter()
            .map(|&index| state.waiting[index].since_ms)
            .min()
        else {
            return;
        };
        if in_flight && now_ms.saturating_sub(oldest_ms) < wait_max_ms {
            return;
        }
        let chosen = if eligible.len() == 1 {
            0
        } else {
            let actors: Vec<&str> = eligible
                .iter()
                .map(|&index| state.waiting[index].operation.actor.as_str())
                .collect();
            decisions.choose_request(&actors).min(eligible.len() - 1)
        };
        let until = state.waiting[eligible[chosen]]
            .delayed
            .as_ref()
            .map(|ended_by| delay_end(&state.waiting, eligible[chosen], ended_by, now_ms));
        let waiter = state.waiting.remove(eligible[chosen]);
        let admission = state.admitted;
        if waiter.release.send(admission).is_ok() {
            state.admitted += 1;
            state.busy = Some((admission, now_ms));
            // Another host's commit ends the delays of the operations held for it.
            for held in &mut state.waiting {
                if held.held_until_ms.is_some() && held.operation.actor != waiter.operation.actor {
                    held.held_until_ms = None;
                    held.delayed = Some(Some(waiter.operation.actor.clone()));
                }
            }
            let delayed = until.map(|until| Delayed {
                held_ms: now_ms.saturating_sub(waiter.since_ms),
                until,
            });
            record(&mut state, now_ms, &waiter.operation, delayed);
        }
    }

    /// Every commit so far, in order, and how many were not kept.
    pub(crate) fn commits(&self) -> (Vec<Commit>, u64) {
        let state = self.state.lock();
        (state.commits.clone(), state.commits_dropped)
    }

    /// The permit of admission `admission` was dropped: the gate is free, unless it already let
    /// another operation in after this one held it too long.
    fn release(&self, admission: u64) {
        let mut state = self.state.lock();
        if state.busy.is_some_and(|(busy, _)| busy == admission) {
            state.busy = None;
        }
    }
}

/// What ended the delay of the waiting operation at `index`, which is about to commit:
/// `ended_by`, the host whose commit ended it, if one did.
fn delay_end(waiting: &[Waiter], index: usize, ended_by: &Option<String>, now_ms: u64) -> String {
    let waiter = &waiting[index];
    if let Some(host) = ended_by {
        return format!("until {host}'s operation committed");
    }
    if waiter
        .held_until_ms
        .is_some_and(|until_ms| now_ms >= until_ms)
    {
        return "until the longest delay ran out".to_owned();
    }
    match waiting
        .iter()
        .find(|other| other.operation.actor != waiter.operation.actor)
    {
        Some(other) => format!(
            "until {}'s operation waited beside it",
            other.operation.actor
        ),
        None => "until every other actor had finished".to_owned(),
    }
}

fn record(state: &mut GateState, now_ms: u64, operation: &Operation, delayed: Option<Delayed>) {
    if state.commits.len() >= COMMITS_MAX {
        state.commits_dropped += 1;
        return;
    }
    state.commits.push(Commit {
        at_ms: now_ms,
        plane: operation.plane.to_string(),
        actor: operation.actor.clone(),
        session: operation.session,
        summary: operation.summary.clone(),
        delayed,
    });
}

struct Handle(Arc<RunGate>);

impl Gate for Handle {
    fn admit(&self, operation: Operation) -> Admission {
        let gate = self.0.clone();
        let now_ms = crate::history::now_ms();
        if !gate.steers() {
            record(&mut gate.state.lock(), now_ms, &operation, None);
            return Box::pin(std::future::ready(Permit::free()));
        }
        // Only a steered run has fault points, and an operation reaching the gate is one.
        if let Some(control) = gate.controls.lock().get(&operation.actor) {
            crate::faults::reached_point(control, crate::faults::Point::Operation, now_ms);
        }
        let delay = gate
            .decisions
            .as_ref()
            .is_some_and(|decisions| decisions.choose_delay(&operation.actor));
        let held_until_ms =
            delay.then(|| now_ms.saturating_add(millis(gate.delay_max.get(operation.plane))));
        let (release, released) = tokio::sync::oneshot::channel();
        gate.state.lock().waiting.push(Waiter {
            operation,
            since_ms: now_ms,
            held_until_ms,
            delayed: delay.then_some(None),
            release,
        });
        Box::pin(async move {
            // A closed channel means the run is ending; commit rather than hang.
            match released.await {
                Ok(admission) => Permit::on_release(move || gate.release(admission)),
                Err(_) => Permit::free(),
            }
        })
    }
}

/// Whether a request from a host other than `excluding` is in flight toward one of `servers`.
pub(crate) fn request_in_flight(
    sim: &turmoil::Sim<'_>,
    servers: &BTreeSet<IpAddr>,
    excluding: &BTreeSet<IpAddr>,
) -> bool {
    let mut found = false;
    sim.links(|links| {
        for link in links {
            let (a, b) = link.pair();
            if !servers.contains(&a) && !servers.contains(&b) {
                continue;
            }
            for sent in link {
                let (source, destination) = sent.pair();
                // A new connection (its SYN) is a request on its way too.
                let data = match sent.protocol() {
                    turmoil::Protocol::Tcp(turmoil::Segment::Data(_, bytes)) => !bytes.is_empty(),
                    turmoil::Protocol::Tcp(turmoil::Segment::Syn(_)) => true,
                    _ => false,
                };
                if data && servers.contains(&destination.ip()) && !excluding.contains(&source.ip())
                {
                    found = true;
                    return;
                }
            }
        }
    });
    found
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
