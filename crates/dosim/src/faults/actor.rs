//! Actor faults: an actor paused as a stopped process is, or crashed and perhaps restarted,
//! scheduled from the seed and applied between steps through a shared control that the
//! wrapper around the actor's future obeys.
//!
//! A pause stops polling the actor's future: its timers fire late, when it resumes. A crash drops
//! the future, and with it everything the actor held in memory; a restart runs the actor's
//! closure again with a fresh context. Tasks the actor's code spawned, such as the connection
//! tasks hyper and tokio-postgres run, are tasks of their own on the actor's host: they keep
//! running while it is paused, so a request already handed to its connection still reaches the
//! server, and they wind down when a crash drops the handles that fed them.
//!
//! Under `random` a fault starts at the moment the seed drew. Under `pct` and `dfs` it starts at
//! a fault point the strategy picks instead: the actor's `n`th sleep ending (`Actor::sleep`) or
//! operation reaching the operation gate (an API request, an SQL statement, a Valkey command, an
//! S3 write), counted together, in order. Those are where a stopped or killed process hurts: as
//! it wakes to act on what it holds (a lease, a lock, a plan), or with an operation it has sent
//! committing while it cannot hear of it. A race that needs a pause in a 300 ms window between a
//! grant and a write is hit at one seed in seventy by a moment drawn over 20 s, and at one in
//! [`FAULT_POINTS_MAX`] by a fault point.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use parking_lot::Mutex;

use super::{enabled, FaultId, FiredFault, Length, Timing};
use crate::history::{Belief, InjectedFault, Recorder};
use crate::strategy::FaultPoint;

/// A fault the harness injects into one actor: a pause or a crash.
///
/// ```
/// # use std::time::Duration;
/// # use dosim::ActorFault;
/// // pod-0 stops for 2 to 5 seconds, somewhere in its first second.
/// ActorFault::pause("pod-0")
///     .jitter(Duration::from_secs(1))
///     .lasting_between(Duration::from_secs(2), Duration::from_secs(5));
/// // pod-1 crashes at 3 s and comes back 10 s later, with nothing in memory.
/// ActorFault::crash("pod-1")
///     .at(Duration::from_secs(3))
///     .restart_after(Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ActorFault {
    kind: Kind,
    actor: String,
    timing: Timing,
    restart: bool,
    /// Whether `lasting` or `lasting_between` was called, which a crash needs a restart for.
    lasting_set: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pause,
    Crash,
}

impl ActorFault {
    /// Stops the actor for a while (default 1 s), as a stopped process: its code does not
    /// run, and its timers fire when it resumes.
    pub fn pause(actor: impl Into<String>) -> ActorFault {
        ActorFault {
            kind: Kind::Pause,
            actor: actor.into(),
            timing: Timing::new(Duration::from_secs(1)),
            restart: false,
            lasting_set: false,
        }
    }

    /// Kills the actor: its future is dropped, and with it everything it held in memory.
    /// Without [`ActorFault::restart`] it stays down and its result is `crashed`.
    pub fn crash(actor: impl Into<String>) -> ActorFault {
        ActorFault {
            kind: Kind::Crash,
            actor: actor.into(),
            timing: Timing::new(Duration::ZERO),
            restart: false,
            lasting_set: false,
        }
    }

    /// When the fault starts, in simulated time since the run started.
    pub fn at(mut self, at: Duration) -> ActorFault {
        self.timing.at = at;
        self
    }

    /// Starts the fault at a seeded random moment in `[at, at + jitter)`.
    pub fn jitter(mut self, jitter: Duration) -> ActorFault {
        self.timing.jitter = jitter;
        self
    }

    /// How long a pause lasts, or how long a restarted crash stays down.
    pub fn lasting(mut self, lasting: Duration) -> ActorFault {
        self.timing.length = Length::Fixed(lasting);
        self.lasting_set = true;
        self
    }

    /// Lasts a seeded random time in `[min, max]`, to the millisecond.
    pub fn lasting_between(mut self, min: Duration, max: Duration) -> ActorFault {
        self.timing.length = Length::Between(min, max);
        self.lasting_set = true;
        self
    }

    /// Happens in a seeded random share `probability` of runs (from 0 to 1; default 1).
    pub fn probability(mut self, probability: f64) -> ActorFault {
        self.timing.probability = Some(probability);
        self
    }

    /// Whether a crashed actor runs again (default false): its closure starts over with a
    /// fresh [`crate::Actor`] context, right away or after [`ActorFault::lasting`].
    pub fn restart(mut self, restart: bool) -> ActorFault {
        self.restart = restart;
        self
    }

    /// Restarts a crashed actor after `down` of simulated time.
    pub fn restart_after(self, down: Duration) -> ActorFault {
        self.restart(true).lasting(down)
    }

    /// Why this fault, the scenario's `index`th, cannot run with these actors.
    pub(crate) fn errors(&self, index: usize, actors: &[&str]) -> Vec<String> {
        let kind = match self.kind {
            Kind::Pause => "pause",
            Kind::Crash => "crash",
        };
        let what = format!("actor fault {index} ({kind} of {})", self.actor);
        let mut errors = self.timing.errors(&what);
        if !actors.contains(&self.actor.as_str()) {
            errors.push(format!(
                "{what}: the scenario has no actor named {}",
                self.actor
            ));
        }
        match self.kind {
            Kind::Pause if self.restart => {
                errors.push(format!("{what}: only a crash restarts"));
            }
            Kind::Crash if self.lasting_set && !self.restart => errors.push(format!(
                "{what}: a crash without restart stays down; lasting needs restart(true)"
            )),
            _ => {}
        }
        errors
    }
}

/// The fault points a steered strategy picks among: an actor's first this many sleeps and
/// operations.
pub const FAULT_POINTS_MAX: u32 = 8;

/// What happened at a fault point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Point {
    /// The actor woke from a sleep.
    Woke,
    /// One of its operations reached the gate.
    Operation,
}

/// A fault that starts at a fault point, and when it started.
#[derive(Clone)]
struct Anchor {
    /// The fault point, from 1; or, under dfs, whichever point the decisions say.
    point: Where,
    kind: Kind,
    restart: bool,
    /// When and where the point was reached, once it has been.
    reached: Option<(u64, Point)>,
}

/// Which fault point an anchored fault starts at.
#[derive(Clone)]
enum Where {
    At(u32),
    Decided(Arc<crate::strategy::Decisions>),
}

impl std::fmt::Debug for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let point = match &self.point {
            Where::At(point) => point.to_string(),
            Where::Decided(_) => "decided".to_owned(),
        };
        f.debug_struct("Anchor")
            .field("point", &point)
            .field("reached", &self.reached)
            .finish_non_exhaustive()
    }
}

/// What the step loop tells one actor's wrapper, and what the wrapper tells it back.
#[derive(Debug, Default)]
pub(crate) struct ControlState {
    /// Pauses in effect; the actor runs when there are none.
    pauses: u32,
    /// A crash not yet carried out, and whether the actor restarts after it.
    crash: Option<bool>,
    /// Whether the actor is down after a crash, waiting for its restart.
    down: bool,
    /// Whether a down actor's restart is due.
    restart: bool,
    /// Whether the actor's last incarnation has ended, so faults no longer apply to it.
    finished: bool,
    /// The actor's task, to wake when it may run again.
    waker: Option<Waker>,
    /// The fault points reached so far, counted only while a fault waits for one.
    points: u32,
    /// The fault (at most one per actor) that starts at a fault point.
    anchor: Option<Anchor>,
}

/// Called at each fault point of the actor `control` belongs to: starts the fault anchored at
/// this point, if there is one, and says whether it did. A pause or crash started here takes
/// effect at once: the wrapper no longer polls the actor (or drops it) from its next poll.
pub(crate) fn reached_point(control: &ActorControl, point: Point, now_ms: u64) -> bool {
    let mut state = control.lock();
    let Some(anchor) = state.anchor.clone() else {
        return false;
    };
    if anchor.reached.is_some() || state.finished || state.points >= FAULT_POINTS_MAX {
        return false;
    }
    state.points += 1;
    let here = match &anchor.point {
        Where::At(point) => state.points == *point,
        Where::Decided(decisions) => decisions.fault_at_point(),
    };
    if !here {
        return false;
    }
    match anchor.kind {
        Kind::Pause => state.pauses = state.pauses.saturating_add(1),
        Kind::Crash => state.crash = Some(anchor.restart),
    }
    state.anchor = Some(Anchor {
        reached: Some((now_ms, point)),
        ..anchor
    });
    wake(&mut state);
    true
}

/// One actor's control, shared by the step loop and the wrapper around its future.
pub(crate) type ActorControl = Arc<Mutex<ControlState>>;

/// Wakes the actor's task, so its wrapper sees the new state in the next step.
fn wake(state: &mut ControlState) {
    if let Some(waker) = &state.waker {
        waker.wake_by_ref();
    }
}

/// How a controlled actor ended.
pub(crate) enum Ended<T> {
    /// Its last incarnation's future finished with this output.
    Finished(T),
    /// It crashed and was not restarted.
    Crashed,
}

/// An actor's future under its control: polled only while it runs, dropped at a crash, and
/// made again by `make` (given the incarnation, from 1) at a restart.
pub(crate) struct Controlled<F, M> {
    control: ActorControl,
    make: M,
    incarnation: u32,
    current: Option<Pin<Box<F>>>,
}

impl<F, M> Controlled<F, M>
where
    F: Future,
    M: FnMut(u32) -> F + Unpin,
{
    /// Runs `first`, the actor's first incarnation, under `control`.
    pub(crate) fn new(control: ActorControl, first: F, make: M) -> Controlled<F, M> {
        Controlled {
            control,
            make,
            incarnation: 0,
            current: Some(Box::pin(first)),
        }
    }
}

impl<F, M> Future for Controlled<F, M>
where
    F: Future,
    M: FnMut(u32) -> F + Unpin,
{
    type Output = Ended<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut state = this.control.lock();
        if !state
            .waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            state.waker = Some(cx.waker().clone());
        }
        if let Some(restart) = state.crash.take() {
            // Dropping the future may run the actor's own drop code, which must not find the
            // control locked.
            drop(state);
            this.current = None;
            state = this.control.lock();
            if !restart {
                state.finished = true;
                return Poll::Ready(Ended::Crashed);
            }
            state.down = true;
        }
        if state.down {
            if !state.restart {
                return Poll::Pending;
            }
            state.down = false;
            state.restart = false;
            drop(state);
            this.incarnation = this.incarnation.saturating_add(1);
            this.current = Some(Box::pin((this.make)(this.incarnation)));
            state = this.control.lock();
        }
        if state.pauses > 0 {
            return Poll::Pending;
        }
        drop(state);
        let Some(current) = this.current.as_mut() else {
            // Unreachable: the future is only missing while the actor is down.
            return Poll::Pending;
        };
        match current.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(output) => {
                this.current = None;
                this.control.lock().finished = true;
                Poll::Ready(Ended::Finished(output))
            }
        }
    }
}

/// A scheduled actor fault, with its start and length drawn from the seed.
pub(crate) struct ScheduledActorFault {
    index: usize,
    /// Where it starts: at its drawn moment, or at a fault point (its drawn start unused).
    point: FaultPoint,
    kind: Kind,
    /// The actor's index and name.
    actor: usize,
    name: String,
    restart: bool,
    enabled: bool,
    start_ms: u64,
    end_ms: u64,
    started: bool,
    ended: bool,
}

/// Draws each actor fault's timing in the order they were added, after the network faults'; a
/// steered strategy may then move the start of the first fault of each actor to a fault point
/// (`choose_point`, asked once per such fault, in order).
pub(super) fn schedule(
    faults: &[ActorFault],
    actors: &[&str],
    rng: &mut rand_chacha::ChaCha8Rng,
    allowed: Option<&BTreeSet<FaultId>>,
    choose_point: &mut dyn FnMut() -> FaultPoint,
) -> Result<Vec<ScheduledActorFault>, String> {
    let mut scheduled: Vec<ScheduledActorFault> = Vec::new();
    for (index, fault) in faults.iter().enumerate() {
        let drawn = fault.timing.draw(rng);
        let actor = actors
            .iter()
            .position(|name| *name == fault.actor)
            .ok_or_else(|| {
                format!(
                    "actor fault {index}: the scenario has no actor named {}",
                    fault.actor
                )
            })?;
        let id = match fault.kind {
            Kind::Pause => FaultId::Pause { index },
            Kind::Crash => FaultId::Crash { index },
        };
        // One anchored fault per actor: its control counts one sequence of points.
        let anchorable = !scheduled
            .iter()
            .any(|other| other.actor == actor && other.point != FaultPoint::Drawn);
        let point = if anchorable {
            choose_point()
        } else {
            FaultPoint::Drawn
        };
        scheduled.push(ScheduledActorFault {
            index,
            point,
            kind: fault.kind,
            actor,
            name: fault.actor.clone(),
            restart: fault.restart,
            enabled: enabled(id, drawn.happens, allowed),
            start_ms: drawn.start_ms,
            end_ms: drawn.start_ms.saturating_add(drawn.length_ms),
            started: false,
            ended: false,
        });
    }
    Ok(scheduled)
}

/// Hands each enabled fault that starts at a fault point to its actor's control, which starts it
/// when the actor reaches the point.
pub(super) fn anchor(
    scheduled: &[ScheduledActorFault],
    controls: &[ActorControl],
    decisions: Option<&Arc<crate::strategy::Decisions>>,
) {
    for entry in scheduled.iter().filter(|entry| entry.enabled) {
        let Some(control) = controls.get(entry.actor) else {
            continue;
        };
        let point = match (entry.point, decisions) {
            (FaultPoint::At(point), _) => Where::At(point),
            (FaultPoint::Each, Some(decisions)) => Where::Decided(decisions.clone()),
            _ => continue,
        };
        control.lock().anchor = Some(Anchor {
            point,
            kind: entry.kind,
            restart: entry.restart,
            reached: None,
        });
    }
}

/// Starts and ends the actor faults due at `now_ms`. A fault that comes due after its actor
/// has finished does nothing and is not recorded. A fault anchored at a fault point was started
/// by its actor's control when the point was reached; here it is recorded, and timed from then.
pub(super) fn apply(
    scheduled: &mut [ScheduledActorFault],
    controls: &[ActorControl],
    now_ms: u64,
    recorder: &Recorder,
    fired: &mut Vec<FiredFault>,
) {
    for entry in scheduled.iter_mut().filter(|entry| entry.enabled) {
        let Some(control) = controls.get(entry.actor) else {
            continue;
        };
        let anchored = entry.point != FaultPoint::Drawn;
        let reached = match anchored {
            true if !entry.started => {
                let reached = control
                    .lock()
                    .anchor
                    .as_ref()
                    .and_then(|anchor| anchor.reached);
                let Some((at_ms, point)) = reached else {
                    continue;
                };
                // Timed from the point: the step loop sees it at the step after.
                let length = entry.end_ms - entry.start_ms;
                entry.start_ms = at_ms;
                entry.end_ms = at_ms.saturating_add(length);
                Some(point)
            }
            _ => None,
        };
        if !entry.started && (reached.is_some() || (!anchored && now_ms >= entry.start_ms)) {
            entry.started = true;
            let mut state = control.lock();
            if state.finished && reached.is_none() {
                entry.ended = true;
                continue;
            }
            // A timed fault starts at the first step at or after its moment; an anchored one at
            // its point.
            let start_ms = if reached.is_some() {
                entry.start_ms
            } else {
                now_ms
            };
            let (name, at) = (&entry.name, crate::report::seconds(start_ms));
            let length = crate::report::seconds(entry.end_ms - entry.start_ms);
            // `at` names the moment; `at_then` is followed by more of the sentence.
            let at = match reached {
                Some(Point::Woke) => format!("{at}, as it woke from a sleep"),
                Some(Point::Operation) => {
                    format!("{at}, as an operation it sent reached the server")
                }
                None => at,
            };
            let at_then = if reached.is_some() {
                format!("{at},")
            } else {
                at.clone()
            };
            let (id, sentence, detail) = match entry.kind {
                Kind::Pause => {
                    // An anchored pause was counted when its point was reached.
                    if reached.is_none() {
                        state.pauses = state.pauses.saturating_add(1);
                    }
                    (
                        FaultId::Pause { index: entry.index },
                        format!("{name} was paused at {at_then} for {length}"),
                        format!("for {length}"),
                    )
                }
                Kind::Crash => {
                    if reached.is_none() {
                        state.crash = Some(entry.restart);
                    }
                    wake(&mut state);
                    if !entry.restart {
                        entry.ended = true;
                    }
                    let restarted =
                        crate::report::seconds(start_ms + (entry.end_ms - entry.start_ms));
                    (
                        FaultId::Crash { index: entry.index },
                        if entry.restart {
                            format!("{name} crashed at {at}, restarted at {restarted}")
                        } else {
                            format!("{name} crashed at {at_then} and stayed down")
                        },
                        if entry.restart {
                            format!("restarted after {length}")
                        } else {
                            "not restarted".to_owned()
                        },
                    )
                }
            };
            drop(state);
            fired.push(FiredFault {
                id,
                at_ms: start_ms,
                sentence,
            });
            recorder.fault(InjectedFault {
                at_ms: start_ms,
                kind: match entry.kind {
                    Kind::Pause => "pause",
                    Kind::Crash => "crash",
                }
                .to_owned(),
                target: entry.name.clone(),
                detail,
            });
            if entry.kind == Kind::Crash {
                forget_everything(recorder, &entry.name, start_ms);
            }
        }
        if entry.started && !entry.ended && now_ms >= entry.end_ms {
            entry.ended = true;
            let mut state = control.lock();
            match entry.kind {
                Kind::Pause => {
                    state.pauses = state.pauses.saturating_sub(1);
                    if state.pauses == 0 {
                        wake(&mut state);
                    }
                }
                Kind::Crash => {
                    state.restart = true;
                    wake(&mut state);
                }
            }
        }
    }
}

/// A crashed actor believes nothing any more: records it forgetting every key it held.
fn forget_everything(recorder: &Recorder, actor: &str, now_ms: u64) {
    let mut held: BTreeMap<String, bool> = BTreeMap::new();
    for belief in recorder
        .snapshot()
        .beliefs
        .into_iter()
        .filter(|belief| belief.actor == actor)
    {
        held.insert(belief.key, belief.value.is_some());
    }
    for (key, _) in held.into_iter().filter(|(_, holds)| *holds) {
        recorder.believe(Belief {
            at_ms: now_ms,
            actor: actor.to_owned(),
            key,
            value: None,
        });
    }
}
