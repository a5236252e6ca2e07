//! Steered runs: PCT priorities, forced schedules, and the schedule a run's decisions form.
//!
//! Under `pct` and `dfs` the operation gate ([`crate::gate`]) asks `Decisions`, as each
//! operation of every plane arrives, whether to delay it, and, among concurrent operations,
//! which commits next; the server's fault layer asks it whether each fault with a probability
//! fires. Those answers are the run's decisions; the list of them is its schedule, which
//! replays the run without the strategy that chose it. Under `random` nothing is asked, so its
//! runs stay exactly what the seed draws.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use parking_lot::Mutex;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::Strategy;

/// The default PCT depth: how many priority change points a run has, plus one.
pub const PCT_DEPTH_DEFAULT: u32 = 3;

/// The most PCT depth a run may have.
pub const PCT_DEPTH_MAX: u32 = 64;

/// How many operations reaching the gate PCT spreads its change points over.
pub const PCT_STEPS: u64 = 32;

/// The most decisions a schedule records; later decisions take the first choice unrecorded.
pub const DECISIONS_MAX: usize = 100_000;

/// The decisions of one run, with the strategy and seed that made them: written
/// `<strategy>:<seed>:<choice>.<choice>…` (`-` for none), such as `pct:7:1.0.0.1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The strategy that chose the decisions.
    pub strategy: Strategy,
    /// The seed of everything else: latency, host order, ids.
    pub seed: u64,
    /// The choice at each decision, in order: as an operation reaches the gate, 1 when it is
    /// delayed; when the gate admits one, the index among the waiting operations in arrival
    /// order; for a fault, 1 when it fired.
    pub choices: Vec<u32>,
}

/// A run of at least this many equal choices is written once with its count: `0*12`.
const RUN_WRITTEN_AS_COUNT: usize = 4;

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:", self.strategy, self.seed)?;
        if self.choices.is_empty() {
            return f.write_str("-");
        }
        let mut parts: Vec<String> = Vec::new();
        let mut index = 0;
        while index < self.choices.len() {
            let choice = self.choices[index];
            let run = self.choices[index..]
                .iter()
                .take_while(|&&next| next == choice)
                .count();
            if run >= RUN_WRITTEN_AS_COUNT {
                parts.push(format!("{choice}*{run}"));
            } else {
                parts.extend(std::iter::repeat_n(choice.to_string(), run));
            }
            index += run;
        }
        f.write_str(&parts.join("."))
    }
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(text: &str) -> Result<Schedule, String> {
        let malformed = || {
            format!("`{text}` is not a schedule: write <strategy>:<seed>:<choices>, such as pct:7:1.0.0 or pct:7:0*12.1")
        };
        let mut parts = text.trim().splitn(3, ':');
        let (Some(strategy), Some(seed), Some(choices)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let strategy = match strategy {
            "pct" => Strategy::Pct,
            "dfs" => Strategy::Dfs,
            "random" => {
                return Err("random runs have no schedule: replay them with --seed".to_owned())
            }
            _ => return Err(malformed()),
        };
        let seed = crate::seed::parse_seed(seed)?;
        let too_long = |count: usize| {
            format!("a schedule holds at most {DECISIONS_MAX} decisions, this one has {count}")
        };
        let mut parsed: Vec<u32> = Vec::new();
        if choices != "-" {
            for part in choices.split('.') {
                let (choice, count) = match part.split_once('*') {
                    Some((choice, count)) => {
                        (choice, count.parse::<usize>().map_err(|_| malformed())?)
                    }
                    None => (part, 1),
                };
                let choice = choice.parse::<u32>().map_err(|_| malformed())?;
                if count == 0 {
                    return Err(malformed());
                }
                let total = parsed.len().saturating_add(count);
                if total > DECISIONS_MAX {
                    return Err(too_long(total));
                }
                parsed.extend(std::iter::repeat_n(choice, count));
            }
        }
        let choices = parsed;
        Ok(Schedule {
            strategy,
            seed,
            choices,
        })
    }
}

/// How a run's decisions are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Steering {
    /// No gate; faults drawn from the seed.
    Random,
    /// PCT priorities over actors at the gate, with a delay at each change point; faults drawn
    /// from the seed.
    Pct { depth: u32 },
    /// Decisions taken from a list; past its end, the first choice (no fault, no delay). With
    /// `faults_max`, once that many faults have fired every later fault decision is "no fault"
    /// and is no choice (dfs's fault bound); `delays_max` bounds delays the same way.
    Forced {
        strategy: Strategy,
        choices: Vec<u32>,
        faults_max: Option<u32>,
        delays_max: Option<u32>,
    },
}

impl Steering {
    pub(crate) fn strategy(&self) -> Strategy {
        match self {
            Steering::Random => Strategy::Random,
            Steering::Pct { .. } => Strategy::Pct,
            Steering::Forced { strategy, .. } => *strategy,
        }
    }
}

/// Where a steered strategy starts an actor fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultPoint {
    /// At the moment the seed drew (`random`).
    Drawn,
    /// At the actor's `n`th fault point, from 1 (`pct`).
    At(u32),
    /// At whichever point the strategy decides, as the actor reaches each (`dfs`).
    Each,
}

/// What a decision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecisionKind {
    /// Which of the waiting operations commits next.
    Order,
    /// Whether an operation reaching the gate is delayed.
    Delay,
    /// Whether, or where, a fault starts.
    Fault,
}

/// The decisions of one steered run, shared by the gate and the fault decider.
pub(crate) struct Decisions {
    state: Mutex<DecisionState>,
}

struct DecisionState {
    steering: Steering,
    /// PCT: each actor's priority; the highest goes first.
    priorities: BTreeMap<String, i64>,
    /// PCT: the operations (numbered as they reach the gate, from 0) that are delayed, their
    /// actor dropping to the lowest priority.
    change_points: Vec<u64>,
    /// How many operations have reached the gate.
    arrivals: u64,
    /// How many fault decisions fired.
    faults_fired: u32,
    /// How many operations were delayed.
    delays: u32,
    /// Every decision: the choice and how many there were.
    taken: Vec<(u32, u32)>,
    /// What each decision was about.
    kinds: Vec<DecisionKind>,
}

impl Decisions {
    /// The decisions of a run over `actors` (every host that sends requests), steered as given,
    /// with PCT's random choices drawn from `rng`.
    pub(crate) fn new(
        steering: Steering,
        actors: &[String],
        rng: &mut rand_chacha::ChaCha8Rng,
    ) -> Decisions {
        let mut priorities = BTreeMap::new();
        let mut change_points = Vec::new();
        if let Steering::Pct { depth } = steering {
            let depth = i64::from(depth.clamp(1, PCT_DEPTH_MAX));
            let mut order: Vec<&String> = actors.iter().collect();
            order.shuffle(rng);
            for (rank, actor) in order.into_iter().enumerate() {
                priorities.insert(
                    actor.clone(),
                    depth + i64::try_from(rank).unwrap_or(i64::MAX - depth),
                );
            }
            for _ in 1..depth {
                change_points.push(rng.random_range(0..PCT_STEPS));
            }
        }
        Decisions {
            state: Mutex::new(DecisionState {
                steering,
                priorities,
                change_points,
                arrivals: 0,
                faults_fired: 0,
                delays: 0,
                taken: Vec::new(),
                kinds: Vec::new(),
            }),
        }
    }

    /// Picks which of the waiting requests (their actors, in arrival order) goes in next.
    pub(crate) fn choose_request(&self, waiting: &[&str]) -> usize {
        let mut state = self.state.lock();
        let alternatives = u32::try_from(waiting.len()).unwrap_or(u32::MAX);
        let forced = state.forced_next();
        let choice = match (&state.steering, forced) {
            (Steering::Forced { .. }, forced) => forced.unwrap_or(0).min(alternatives - 1),
            (Steering::Pct { .. }, _) => {
                let best = waiting
                    .iter()
                    .enumerate()
                    // Highest priority first; among equals, the earliest arrival.
                    .max_by_key(|(index, actor)| {
                        (
                            state.priorities.get(**actor).copied().unwrap_or(0),
                            std::cmp::Reverse(*index),
                        )
                    })
                    .map_or(0, |(index, _)| index);
                u32::try_from(best).unwrap_or(0)
            }
            (Steering::Random, _) => 0,
        };
        state.record(choice, alternatives, DecisionKind::Order);
        usize::try_from(choice).unwrap_or(0)
    }

    /// Whether the operation of `actor` that has just reached the gate is delayed: held at its
    /// server until an operation of another host commits or waits beside it, every other actor
    /// has finished, or its plane's longest delay passes (see [`crate::gate`]).
    ///
    /// Every operation reaching the gate is a decision of two alternatives (the first, "not
    /// delayed"). PCT delays the operations at its change points and drops their actor to the
    /// lowest priority, so that what another host does next, even a moment later and not
    /// concurrently, can come first (the delay-bounded form of PCT for timed programs). dfs
    /// decides at each operation, within its bound on delays.
    pub(crate) fn choose_delay(&self, actor: &str) -> bool {
        let mut state = self.state.lock();
        let arrival = state.arrivals;
        state.arrivals += 1;
        let forced = state.forced_next();
        let (delay, alternatives) = match &state.steering {
            Steering::Random => return false,
            Steering::Forced {
                delays_max: Some(max),
                ..
            } if state.delays >= *max => (false, 1),
            Steering::Forced { .. } => (forced.unwrap_or(0) > 0, 2),
            Steering::Pct { .. } => (state.change_points.contains(&arrival), 2),
        };
        if delay {
            state.delays += 1;
            if let Some(position) = state.change_points.iter().position(|&at| at == arrival) {
                // The jth of d - 1 change points drops the actor to priority d - j, below every
                // initial priority (d and up).
                let priority = i64::try_from(state.change_points.len() - position).unwrap_or(0);
                state.priorities.insert(actor.to_owned(), priority);
            }
        }
        state.record(u32::from(delay), alternatives, DecisionKind::Delay);
        delay
    }

    /// Whether a fault happens, given what the seed drew for it.
    pub(crate) fn choose_fault(&self, drawn: bool, probability: f64) -> bool {
        let mut state = self.state.lock();
        // A certain or impossible fault is no choice.
        if probability >= 1.0 || probability <= 0.0 {
            return drawn;
        }
        let forced = state.forced_next();
        let (fire, alternatives) = match &state.steering {
            Steering::Forced {
                faults_max: Some(max),
                ..
            } if state.faults_fired >= *max => (false, 1),
            Steering::Forced { .. } => (forced.unwrap_or(0) > 0, 2),
            Steering::Pct { .. } | Steering::Random => (drawn, 2),
        };
        state.faults_fired += u32::from(fire);
        state.record(u32::from(fire), alternatives, DecisionKind::Fault);
        fire
    }

    /// Where an actor fault starts (see `faults::actor`). PCT draws one of the actor's first
    /// `points_max` fault points, as a decision of `points_max` alternatives (so a recorded PCT
    /// schedule replays it); dfs decides at each point, as the actor reaches it, whether the
    /// fault starts there ([`Decisions::fault_at_point`]); `random` keeps the drawn moment.
    pub(crate) fn choose_fault_point(
        &self,
        points_max: u32,
        rng: &mut rand_chacha::ChaCha8Rng,
    ) -> FaultPoint {
        let mut state = self.state.lock();
        let choice = match (&state.steering, state.steering.strategy()) {
            (Steering::Random, _) => return FaultPoint::Drawn,
            (Steering::Pct { .. }, _) => rng.random_range(0..points_max),
            (Steering::Forced { .. }, Strategy::Pct) => {
                state.forced_next().unwrap_or(0).min(points_max - 1)
            }
            (Steering::Forced { .. }, _) => return FaultPoint::Each,
        };
        state.record(choice, points_max, DecisionKind::Fault);
        FaultPoint::At(choice + 1)
    }

    /// Under dfs, at an actor's fault point: whether its fault starts here, a decision of two
    /// alternatives (the first, "not here"), counted against dfs's fault bound like a server
    /// fault; no decision once the bound is reached.
    pub(crate) fn fault_at_point(&self) -> bool {
        let mut state = self.state.lock();
        let forced = state.forced_next();
        let fire = match &state.steering {
            Steering::Forced {
                faults_max: Some(max),
                ..
            } if state.faults_fired >= *max => return false,
            Steering::Forced { .. } => forced.unwrap_or(0) > 0,
            Steering::Pct { .. } | Steering::Random => return false,
        };
        state.faults_fired += u32::from(fire);
        state.record(u32::from(fire), 2, DecisionKind::Fault);
        fire
    }

    /// How many fault decisions fired so far.
    pub(crate) fn faults_fired(&self) -> u32 {
        self.state.lock().faults_fired
    }

    /// How many operations were delayed so far.
    pub(crate) fn delays(&self) -> u32 {
        self.state.lock().delays
    }

    /// Every decision so far: the choice and how many there were.
    pub(crate) fn taken(&self) -> Vec<(u32, u32)> {
        self.state.lock().taken.clone()
    }

    /// What each decision so far was about.
    pub(crate) fn kinds(&self) -> Vec<DecisionKind> {
        self.state.lock().kinds.clone()
    }
}

impl DecisionState {
    fn forced_next(&self) -> Option<u32> {
        match &self.steering {
            Steering::Forced { choices, .. } => choices.get(self.taken.len()).copied(),
            _ => None,
        }
    }

    fn record(&mut self, choice: u32, alternatives: u32, kind: DecisionKind) {
        if self.taken.len() < DECISIONS_MAX {
            self.taken.push((choice, alternatives));
            self.kinds.push(kind);
        }
    }
}

#[cfg(test)]
mod tests;
