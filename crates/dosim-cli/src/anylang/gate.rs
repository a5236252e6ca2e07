//! The real-time operation gate of `dosim test`: it holds API requests that arrive close together
//! and lets them commit one at a time, in an order drawn from the seed.
//!
//! A program outside dosim cannot be paused between steps as turmoil's hosts are, so the gate
//! decides on real time. It lets the next request commit as soon as every open connection has a
//! request waiting (nothing else can arrive but on a new connection), and otherwise waits for the
//! connections that have none: until no request has arrived and no commit has finished for
//! `window`, or the oldest waiting request has waited `hold_max`. Which waiting request goes next
//! is the strategy's choice: `random` draws it from the seed, `pct` takes the actor with the
//! highest priority (drawn from the seed and the actor's name), lowering it at the change points.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dosim_base::gate::{Admission, Gate, Operation, Permit};
use dosim_base::{derive, Stream};
use parking_lot::Mutex;
use tokio::time::Instant;

/// The most decisions one run records.
const DECISIONS_MAX: usize = 100_000;

/// How the gate picks the next request among those waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// Uniformly among the waiting requests, drawn from the seed.
    Random,
    /// PCT: the waiting actor with the highest priority; priorities and change points from the seed.
    Pct,
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Strategy::Random => "random",
            Strategy::Pct => "pct",
        })
    }
}

/// How long the gate waits, in real time.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Quiet time (no arrival, no commit finished) after which the waiting requests are decided.
    pub window: Duration,
    /// The longest any request waits for others.
    pub hold_max: Duration,
}

/// The gate of one run; cheap to clone.
#[derive(Clone)]
pub struct WindowGate {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    wake: tokio::sync::Notify,
    timing: Timing,
}

struct State {
    waiting: Vec<Waiter>,
    busy: bool,
    connections: usize,
    last_event: Instant,
    /// When the last connection opened: until `window` after it, more may be on their way.
    last_connection: Instant,
    chooser: Chooser,
    /// The choice and the number of alternatives of each decision with more than one.
    decisions: Vec<(u32, u32)>,
    /// Every admission: how many requests were waiting when it was chosen.
    admitted: u64,
    stopped: bool,
}

struct Waiter {
    operation: Operation,
    since: Instant,
    release: tokio::sync::oneshot::Sender<()>,
}

struct Chooser {
    strategy: Strategy,
    seed: u64,
    decision: u64,
    /// PCT: priorities of the actors seen so far; the highest goes first.
    priorities: BTreeMap<String, i64>,
    /// PCT: the decisions after which the chosen actor drops below every initial priority.
    change_points: Vec<u64>,
    /// Connections named by their peer address get stable names in order of appearance.
    connections: BTreeMap<String, String>,
}

/// How many decisions PCT spreads its change points over.
const PCT_STEPS: u64 = 32;

impl Chooser {
    fn new(strategy: Strategy, seed: u64, depth: u32) -> Chooser {
        let base = derive(seed, Stream::Schedule);
        let change_points = (1..u64::from(depth.max(1)))
            .map(|point| {
                dosim_base::splitmix64(base ^ point.wrapping_mul(0xA24B_AED4_963E_E407)) % PCT_STEPS
            })
            .collect();
        Chooser {
            strategy,
            seed,
            decision: 0,
            priorities: BTreeMap::new(),
            change_points,
            connections: BTreeMap::new(),
        }
    }

    /// The actor's name for priorities: its `x-dosim-actor` name, or `conn-N` for the Nth
    /// connection seen, since peer ports change from run to run.
    fn key(&mut self, actor: &str) -> String {
        if actor.parse::<std::net::SocketAddr>().is_err() {
            return actor.to_owned();
        }
        let next = self.connections.len() + 1;
        self.connections
            .entry(actor.to_owned())
            .or_insert_with(|| format!("conn-{next}"))
            .clone()
    }

    fn choose(&mut self, actors: &[&str]) -> usize {
        let decision = self.decision;
        self.decision += 1;
        let draw = dosim_base::splitmix64(
            derive(self.seed, Stream::Schedule)
                ^ decision.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let keys: Vec<String> = actors.iter().map(|actor| self.key(actor)).collect();
        match self.strategy {
            Strategy::Random => {
                // Drawn over the actors' stable names, not their arrival order, which the
                // program's timing decides.
                let mut order: Vec<usize> = (0..keys.len()).collect();
                order.sort_by(|a, b| keys[*a].cmp(&keys[*b]).then(a.cmp(b)));
                let position = usize::try_from(draw % keys.len() as u64).unwrap_or(0);
                order[position]
            }
            Strategy::Pct => {
                let depth = i64::try_from(self.change_points.len()).unwrap_or(0) + 1;
                for key in &keys {
                    if !self.priorities.contains_key(key) {
                        let drawn = dosim_base::hash_text(&format!("{}:{key}", self.seed)) >> 2;
                        let priority = depth + i64::try_from(drawn).unwrap_or(i64::MAX / 2);
                        self.priorities.insert(key.clone(), priority);
                    }
                }
                let best = keys
                    .iter()
                    .enumerate()
                    .max_by_key(|(index, key)| {
                        (
                            self.priorities.get(*key).copied().unwrap_or(0),
                            std::cmp::Reverse(*index),
                        )
                    })
                    .map_or(0, |(index, _)| index);
                if let Some(position) = self
                    .change_points
                    .iter()
                    .position(|&point| point == decision)
                {
                    let lowered = i64::try_from(self.change_points.len() - position).unwrap_or(0);
                    self.priorities.insert(keys[best].clone(), lowered);
                }
                best
            }
        }
    }
}

impl WindowGate {
    /// A gate for one run with `seed`, and its driver task, which runs until [`WindowGate::stop`].
    pub fn start(strategy: Strategy, seed: u64, pct_depth: u32, timing: Timing) -> WindowGate {
        let gate = WindowGate {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    waiting: Vec::new(),
                    busy: false,
                    connections: 0,
                    last_event: Instant::now(),
                    last_connection: Instant::now(),
                    chooser: Chooser::new(strategy, seed, pct_depth),
                    decisions: Vec::new(),
                    admitted: 0,
                    stopped: false,
                }),
                wake: tokio::sync::Notify::new(),
                timing,
            }),
        };
        tokio::spawn(gate.clone().drive());
        gate
    }

    /// The gate as the server takes it.
    pub fn handle(&self) -> Arc<dyn Gate> {
        Arc::new(self.clone())
    }

    /// A connection opened.
    pub fn connection_opened(&self) {
        let mut state = self.inner.state.lock();
        state.connections += 1;
        state.last_connection = Instant::now();
        drop(state);
        self.inner.wake.notify_one();
    }

    /// A connection closed.
    pub fn connection_closed(&self) {
        let mut state = self.inner.state.lock();
        state.connections = state.connections.saturating_sub(1);
        drop(state);
        self.inner.wake.notify_one();
    }

    /// Stops deciding: every waiting request and every later one is admitted at once.
    pub fn stop(&self) {
        let mut state = self.inner.state.lock();
        state.stopped = true;
        for waiter in state.waiting.drain(..) {
            let _ = waiter.release.send(());
        }
        drop(state);
        self.inner.wake.notify_one();
    }

    /// The decisions that had a choice, as `choice/alternatives`, and how many requests were admitted.
    pub fn decisions(&self) -> (Vec<(u32, u32)>, u64) {
        let state = self.inner.state.lock();
        (state.decisions.clone(), state.admitted)
    }

    async fn drive(self) {
        loop {
            let deadline = {
                let mut state = self.inner.state.lock();
                if state.stopped {
                    return;
                }
                self.next_deadline(&mut state)
            };
            match deadline {
                Some(deadline) => {
                    tokio::select! {
                        () = self.inner.wake.notified() => {}
                        () = tokio::time::sleep_until(deadline) => {}
                    }
                }
                None => self.inner.wake.notified().await,
            }
        }
    }

    /// Admits the next request if it is time, and says when to look again (`None`: at the next event).
    fn next_deadline(&self, state: &mut State) -> Option<Instant> {
        if state.busy {
            return None;
        }
        // A request whose client gave up is no longer a choice.
        state.waiting.retain(|waiter| !waiter.release.is_closed());
        let oldest = state.waiting.iter().map(|waiter| waiter.since).min()?;
        let timing = self.inner.timing;
        let deadline = (state.last_event.max(state.last_connection) + timing.window)
            .min(oldest + timing.hold_max);
        let now = Instant::now();
        // Every open connection has a request waiting, and none opened lately: nothing else
        // is coming but on a connection not yet made.
        let everyone_waits = state.waiting.len() >= state.connections
            && now >= state.last_connection + timing.window;
        if !everyone_waits && now < deadline {
            return Some(deadline);
        }
        let index = if state.waiting.len() == 1 {
            0
        } else {
            let actors: Vec<&str> = state
                .waiting
                .iter()
                .map(|waiter| waiter.operation.actor.as_str())
                .collect();
            let alternatives = u32::try_from(actors.len()).unwrap_or(u32::MAX);
            let index = state.chooser.choose(&actors).min(actors.len() - 1);
            if state.decisions.len() < DECISIONS_MAX {
                state
                    .decisions
                    .push((u32::try_from(index).unwrap_or(0), alternatives));
            }
            index
        };
        let waiter = state.waiting.remove(index);
        if waiter.release.send(()).is_ok() {
            state.busy = true;
            state.admitted += 1;
            return None;
        }
        // Its client went away meanwhile: decide again at once.
        Some(Instant::now())
    }

    fn release(&self) {
        let mut state = self.inner.state.lock();
        state.busy = false;
        state.last_event = Instant::now();
        drop(state);
        self.inner.wake.notify_one();
    }
}

impl Gate for WindowGate {
    fn admit(&self, operation: Operation) -> Admission {
        let gate = self.clone();
        let (release, released) = tokio::sync::oneshot::channel();
        {
            let mut state = gate.inner.state.lock();
            if state.stopped {
                return Box::pin(std::future::ready(Permit::free()));
            }
            let now = Instant::now();
            state.last_event = now;
            state.waiting.push(Waiter {
                operation,
                since: now,
                release,
            });
        }
        gate.inner.wake.notify_one();
        Box::pin(async move {
            match released.await {
                Ok(()) => Permit::on_release(move || gate.release()),
                // The gate stopped: commit rather than hang.
                Err(_) => Permit::free(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_choices_depend_on_the_seed_alone() {
        let run = |seed| {
            let mut chooser = Chooser::new(Strategy::Random, seed, 3);
            (0..20)
                .map(|_| chooser.choose(&["a", "b", "c"]))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7).iter().all(|&choice| choice < 3));
    }

    fn operation(actor: &str) -> Operation {
        Operation {
            plane: dosim_base::gate::Plane::Api,
            server: "127.0.0.1".to_owned(),
            actor: actor.to_owned(),
            session: None,
            summary: format!("POST /v2/volumes from {actor}"),
        }
    }

    /// Two connections, one request each, arriving in the given order: which commits first.
    async fn first_of_two(seed: u64, arrival: [&'static str; 2]) -> String {
        let gate = WindowGate::start(
            Strategy::Random,
            seed,
            3,
            Timing {
                // Far above the 2 ms between the two arrivals, even on a loaded machine.
                window: Duration::from_millis(200),
                hold_max: Duration::from_secs(4),
            },
        );
        gate.connection_opened();
        gate.connection_opened();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for actor in arrival {
            let admission = gate.admit(operation(actor));
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                let permit = admission.await;
                order.lock().push(actor.to_owned());
                drop(permit);
            }));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        for task in tasks {
            task.await.expect("the task ends");
        }
        gate.stop();
        let first = order.lock()[0].clone();
        first
    }

    #[tokio::test]
    async fn the_seed_not_the_arrival_order_picks_which_request_commits_first() {
        let mut firsts = std::collections::BTreeSet::new();
        for seed in 0..8 {
            let one = first_of_two(seed, ["worker-1", "worker-2"]).await;
            let other = first_of_two(seed, ["worker-2", "worker-1"]).await;
            assert_eq!(
                one, other,
                "seed {seed}: the same choice whichever arrives first"
            );
            firsts.insert(one);
        }
        assert_eq!(firsts.len(), 2, "some seeds pick each worker: {firsts:?}");
    }

    #[tokio::test]
    async fn a_lone_request_waits_for_no_window() {
        let gate = WindowGate::start(
            Strategy::Pct,
            1,
            3,
            Timing {
                window: Duration::from_secs(3600),
                hold_max: Duration::from_secs(3600),
            },
        );
        gate.connection_opened();
        // The connection opened a window ago: nothing else can be coming.
        gate.inner.state.lock().last_connection -= Duration::from_secs(7200);
        let permit = tokio::time::timeout(Duration::from_secs(10), gate.admit(operation("solo")))
            .await
            .expect("admitted without waiting for the window");
        drop(permit);
        assert_eq!(gate.decisions(), (Vec::new(), 1));
        gate.stop();
    }

    #[test]
    fn pct_names_connections_by_order_of_appearance_and_keeps_the_top_actor() {
        let mut chooser = Chooser::new(Strategy::Pct, 3, 1);
        let first = chooser.choose(&["127.0.0.1:5000", "127.0.0.1:6000"]);
        let mut other = Chooser::new(Strategy::Pct, 3, 1);
        // Other ports, same order of appearance: the same choice.
        assert_eq!(other.choose(&["127.0.0.1:7000", "127.0.0.1:8000"]), first);
        // Without change points the same actor keeps winning.
        for _ in 0..10 {
            assert_eq!(chooser.choose(&["127.0.0.1:5000", "127.0.0.1:6000"]), first);
        }
    }
}
