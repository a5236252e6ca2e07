//! Shrinking: the fewest injected faults that still break the check, found by delta debugging
//! over the run's recorded fault decisions.
//!
//! A run records every fault decision the server's fault layer makes (a rejection, a lost
//! response) and every network fault the harness starts, each under a [`FaultId`] that names
//! it by kind, fault-plan rule and occurrence, not by time, so that it keeps its meaning when
//! other faults are removed. Replaying the seed with only some ids allowed forces every other
//! decision to "no fault" while the random streams advance exactly as before; delta debugging
//! (ddmin) over those sets finds a 1-minimal set under which the same check still fails.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::checks::Violation;
use crate::outcome::RunOutcome;
use crate::report::Report;
use crate::scenario::{RunRecord, Scenario};
use crate::strategy::{Schedule, Steering};
use crate::Strategy;

/// The most runs one shrink may take; past it the smallest failing set so far is reported.
pub const SHRINK_RUNS_MAX: u64 = 200;

/// The most fault ids a `--faults` list may hold.
pub const FAULT_IDS_MAX: usize = 10_000;

/// Which server fault a decision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServerFaultKind {
    /// A rejection before the commit.
    Reject,
    /// A response lost after the commit.
    Drop,
}

/// One fault decision of a run, named so that it keeps its meaning across runs of one seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultId {
    /// The `occurrence`th decision (from 0) of this kind under fault-plan rule `rule`:
    /// written `reject.<rule>.<occurrence>` or `drop.<rule>.<occurrence>`.
    Server {
        /// Reject or drop.
        kind: ServerFaultKind,
        /// The index of the fault-plan rule that matched the request.
        rule: usize,
        /// How many decisions of this kind and rule came before it in the run.
        occurrence: u64,
    },
    /// The scenario's network fault number `index`, in the order they were added: `net.<index>`.
    Net {
        /// The index among the scenario's network faults.
        index: usize,
    },
}

impl fmt::Display for FaultId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultId::Server {
                kind,
                rule,
                occurrence,
            } => {
                let kind = match kind {
                    ServerFaultKind::Reject => "reject",
                    ServerFaultKind::Drop => "drop",
                };
                write!(f, "{kind}.{rule}.{occurrence}")
            }
            FaultId::Net { index } => write!(f, "net.{index}"),
        }
    }
}

impl FromStr for FaultId {
    type Err = String;

    fn from_str(text: &str) -> Result<FaultId, String> {
        let malformed = || {
            format!("`{text}` is not a fault: write drop.<rule>.<n>, reject.<rule>.<n> or net.<n>")
        };
        let parts: Vec<&str> = text.trim().split('.').collect();
        let number = |part: &str| part.parse::<u64>().map_err(|_| malformed());
        match parts.as_slice() {
            ["net", index] => Ok(FaultId::Net {
                index: usize::try_from(number(index)?).map_err(|_| malformed())?,
            }),
            [kind @ ("drop" | "reject"), rule, occurrence] => Ok(FaultId::Server {
                kind: if *kind == "drop" {
                    ServerFaultKind::Drop
                } else {
                    ServerFaultKind::Reject
                },
                rule: usize::try_from(number(rule)?).map_err(|_| malformed())?,
                occurrence: number(occurrence)?,
            }),
            _ => Err(malformed()),
        }
    }
}

/// A set of fault ids, as `--faults` takes it: `none`, or ids joined by commas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultSet(pub BTreeSet<FaultId>);

impl fmt::Display for FaultSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let ids: Vec<String> = self.0.iter().map(FaultId::to_string).collect();
        f.write_str(&ids.join(","))
    }
}

impl FromStr for FaultSet {
    type Err = String;

    fn from_str(text: &str) -> Result<FaultSet, String> {
        let text = text.trim();
        if text == "none" {
            return Ok(FaultSet::default());
        }
        let ids = text
            .split(',')
            .map(str::parse)
            .collect::<Result<BTreeSet<FaultId>, String>>()?;
        if ids.len() > FAULT_IDS_MAX {
            return Err(format!(
                "a fault list holds at most {FAULT_IDS_MAX} faults, this one has {}",
                ids.len()
            ));
        }
        Ok(FaultSet(ids))
    }
}

/// A fault that happened in a run: which decision, when, and what it did, in one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredFault {
    /// The decision.
    pub id: FaultId,
    /// Simulated milliseconds since the run started.
    pub at_ms: u64,
    /// What it did: `the response to pod-0's POST /v2/droplets was lost after commit (reset)`.
    pub sentence: String,
}

/// The shrinking section of a report: the fewest faults that still break the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minimal {
    /// The check that must still fail: the first one the seed broke.
    pub check: String,
    /// How many faults the seed's own run injected.
    pub faults_injected: usize,
    /// The faults needed, one sentence each, in time order; empty when the interleaving alone
    /// breaks the check.
    pub faults: Vec<String>,
    /// The needed faults as a `--faults` list.
    pub fault_ids: String,
    /// Runs the shrink took.
    pub runs: u64,
    /// False when the shrink stopped at [`SHRINK_RUNS_MAX`] runs before proving minimality.
    pub complete: bool,
    /// How to replay the minimal run, when it differs from the seed's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
}

impl Minimal {
    /// The section as report lines, indented as the report's other sections.
    pub fn lines(&self) -> Vec<String> {
        let qualifier = if self.complete {
            ""
        } else {
            " (shrinking stopped at its run limit; a smaller set may exist)"
        };
        let mut lines = Vec::new();
        match self.faults.as_slice() {
            [] => lines.push(format!(
                "  minimal: no faults needed; the interleaving alone breaks the check{qualifier}"
            )),
            [only] => lines.push(format!("  minimal: 1 fault needed: {only}{qualifier}")),
            many => {
                lines.push(format!(
                    "  minimal: {} faults needed{qualifier}:",
                    many.len()
                ));
                for fault in many {
                    lines.push(format!("    {fault}"));
                }
            }
        }
        if let Some(replay) = &self.replay {
            lines.push(format!("    replay minimal: {replay}"));
        }
        lines
    }
}

/// What a fault decider records for the harness: the decisions that fired, with the request's
/// sequence number.
pub(crate) type FiredDecisions = Arc<Mutex<Vec<(FaultId, u64)>>>;

/// The server's fault decider under the harness: draws exactly as the default decider does,
/// so a plain run is unchanged, records which decisions fired, and, when given a set of
/// allowed ids, fires those and no others.
pub(crate) struct RecordingDecider {
    inner: dosim_api::SeededDecider,
    steered: Option<Arc<crate::strategy::Decisions>>,
    allowed: Option<BTreeSet<FaultId>>,
    counts: BTreeMap<(ServerFaultKind, usize), u64>,
    fired: FiredDecisions,
}

impl RecordingDecider {
    pub(crate) fn new(
        server_seed: u64,
        steered: Option<Arc<crate::strategy::Decisions>>,
        allowed: Option<BTreeSet<FaultId>>,
        fired: FiredDecisions,
    ) -> RecordingDecider {
        RecordingDecider {
            inner: dosim_api::SeededDecider::new(server_seed),
            steered,
            allowed,
            counts: BTreeMap::new(),
            fired,
        }
    }
}

impl dosim_api::FaultDecider for RecordingDecider {
    fn chance(&mut self, point: dosim_api::DecisionPoint<'_>, probability: f64) -> bool {
        // Always drawn, so the stream stays where the seed's own run has it.
        let drawn = self.inner.chance(point, probability);
        let drawn = match &self.steered {
            Some(steered) => steered.choose_fault(drawn, probability),
            None => drawn,
        };
        let kind = match point.kind {
            dosim_api::DecisionKind::Reject => ServerFaultKind::Reject,
            dosim_api::DecisionKind::DropResponse => ServerFaultKind::Drop,
            dosim_api::DecisionKind::Latency => return drawn,
            dosim_api::DecisionKind::NetworkLatency => return drawn,
        };
        let count = self.counts.entry((kind, point.rule_index)).or_insert(0);
        let id = FaultId::Server {
            kind,
            rule: point.rule_index,
            occurrence: *count,
        };
        *count += 1;
        let fire = match &self.allowed {
            None => drawn,
            Some(allowed) => allowed.contains(&id),
        };
        if fire {
            self.fired.lock().push((id, point.seq));
        }
        fire
    }

    fn latency_ms(
        &mut self,
        point: dosim_api::DecisionPoint<'_>,
        latency: &dosim_api::faults::Latency,
    ) -> u64 {
        self.inner.latency_ms(point, latency)
    }
}

/// Describes a server fault that fired, from the request it hit.
pub(crate) fn describe_server_fault(
    id: FaultId,
    entry: Option<&dosim_api::HistoryEntry>,
    plan: &dosim_api::FaultPlan,
) -> FiredFault {
    let Some(entry) = entry else {
        return FiredFault {
            id,
            at_ms: 0,
            sentence: format!("fault {id} (its request left the server's history)"),
        };
    };
    let request = format!("{}'s {} {}", entry.actor, entry.method, entry.path);
    let sentence = match (id, &entry.fault) {
        (
            _,
            Some(dosim_api::InjectedFault::DropResponse {
                mode: dosim_api::DropMode::Hang,
                hang_ms,
                ..
            }),
        ) => format!(
            "the response to {request} was lost after commit (hung {}, then reset)",
            crate::report::seconds(*hang_ms)
        ),
        (_, Some(dosim_api::InjectedFault::DropResponse { .. })) => {
            format!("the response to {request} was lost after commit (reset)")
        }
        (_, Some(dosim_api::InjectedFault::Reject { status, .. })) => {
            format!("{request} was refused with {status} before commit")
        }
        (
            FaultId::Server {
                kind: ServerFaultKind::Reject,
                rule,
                ..
            },
            _,
        ) => {
            let status = plan
                .rules
                .get(rule)
                .and_then(|rule| rule.reject.as_ref())
                .map_or(0, |reject| reject.status);
            format!("{request} was refused with {status} before commit")
        }
        _ => format!("the response to {request} was lost after commit"),
    };
    FiredFault {
        id,
        at_ms: entry.received_ms,
        sentence,
    }
}

/// Delta debugging (Zeller and Hildebrandt's ddmin): a 1-minimal subset of `items` for which
/// `fails` holds, given that it holds for all of them. `fails` is asked about each subset at
/// most once. Returns the subset and whether the search finished within `runs_max` questions.
pub fn ddmin<T: Clone + Ord>(
    items: &[T],
    runs_max: u64,
    mut fails: impl FnMut(&[T]) -> bool,
) -> (Vec<T>, bool) {
    let mut asked: BTreeMap<Vec<T>, bool> = BTreeMap::new();
    let mut runs = 0u64;
    // None when the budget is spent.
    let mut ask = |subset: Vec<T>| -> Option<bool> {
        if let Some(&answer) = asked.get(&subset) {
            return Some(answer);
        }
        if runs >= runs_max {
            return None;
        }
        runs += 1;
        let answer = fails(&subset);
        asked.insert(subset, answer);
        Some(answer)
    };
    match ask(Vec::new()) {
        Some(true) => return (Vec::new(), true),
        Some(false) => {}
        None => return (items.to_vec(), false),
    }
    let mut current = items.to_vec();
    let mut granularity = 2usize;
    while current.len() >= 2 {
        let chunks = split(&current, granularity);
        let mut reduced = false;
        for chunk in &chunks {
            match ask(chunk.clone()) {
                Some(true) => {
                    current = chunk.clone();
                    granularity = 2;
                    reduced = true;
                    break;
                }
                Some(false) => {}
                None => return (current, false),
            }
        }
        if !reduced && granularity > 2 {
            for index in 0..chunks.len() {
                let complement: Vec<T> = chunks
                    .iter()
                    .enumerate()
                    .filter(|(other, _)| *other != index)
                    .flat_map(|(_, chunk)| chunk.iter().cloned())
                    .collect();
                match ask(complement.clone()) {
                    Some(true) => {
                        current = complement;
                        granularity = (granularity - 1).max(2);
                        reduced = true;
                        break;
                    }
                    Some(false) => {}
                    None => return (current, false),
                }
            }
        }
        if !reduced {
            if granularity >= current.len() {
                break;
            }
            granularity = (granularity * 2).min(current.len());
        }
    }
    (current, true)
}

/// Splits `items` into `n` chunks of nearly equal size, in order.
fn split<T: Clone>(items: &[T], n: usize) -> Vec<Vec<T>> {
    let n = n.clamp(1, items.len().max(1));
    (0..n)
        .map(|index| items[items.len() * index / n..items.len() * (index + 1) / n].to_vec())
        .filter(|chunk| !chunk.is_empty())
        .collect()
}

/// The report of a failing run, with its minimal section: shrinks the run's faults to the
/// fewest under which its first failed check still fails.
pub(crate) fn shrunk_report(
    scenario: &Scenario,
    steering: &Steering,
    outcome: &RunOutcome,
    fired: &[FiredFault],
    violations: Vec<Violation>,
) -> Report {
    let mut report = Report::new(outcome, scenario.expectation(), violations);
    let Some(check) = report.violations.first().map(|v| v.check.clone()) else {
        return report;
    };
    let ids: Vec<FaultId> = fired.iter().map(|fault| fault.id).collect();
    if ids.is_empty() {
        report.minimal = Some(Minimal {
            check,
            faults_injected: 0,
            faults: Vec::new(),
            fault_ids: FaultSet::default().to_string(),
            runs: 0,
            complete: true,
            replay: None,
        });
        return report;
    }
    let mut runs = 0u64;
    let mut last_failing: Option<(Vec<FaultId>, Vec<FiredFault>)> = None;
    let (needed, complete) = ddmin(&ids, SHRINK_RUNS_MAX, |subset| {
        runs += 1;
        let allowed: BTreeSet<FaultId> = subset.iter().copied().collect();
        let record = scenario.run_recorded(outcome.seed, steering, Some(&allowed));
        let (outcome, fired) = (record.outcome, record.fired);
        let fails = scenario
            .verdict(&outcome)
            .iter()
            .any(|violation| violation.check == check);
        if fails {
            last_failing = Some((subset.to_vec(), fired));
        }
        fails
    });
    let needed_set: BTreeSet<FaultId> = needed.iter().copied().collect();
    let same_as_seed = needed.len() == ids.len();
    // The sentences come from the run that showed the set suffices; a kept decision that the
    // changed run never reached is not a fault it needed.
    let described: Vec<FiredFault> = match last_failing {
        _ if same_as_seed => fired.to_vec(),
        Some((subset, fired)) if subset == needed => fired,
        _ => {
            runs += 1;
            scenario
                .run_recorded(outcome.seed, steering, Some(&needed_set))
                .fired
        }
    };
    let mut described = described;
    described.sort_by_key(|fault| fault.at_ms);
    let fault_ids = FaultSet(described.iter().map(|fault| fault.id).collect()).to_string();
    report.minimal = Some(Minimal {
        check,
        faults_injected: ids.len(),
        faults: described
            .iter()
            .map(|fault| fault.sentence.clone())
            .collect(),
        replay: (!same_as_seed).then(|| {
            format!(
                "{} --faults {fault_ids}",
                replay_command(&outcome.scenario, outcome.seed, steering)
            )
        }),
        fault_ids,
        runs,
        complete,
    });
    report
}

impl Scenario {
    /// The report of one seed, as `explore` and `replay` show it: when a check fails, its first
    /// section is the minimal set of injected faults under which that check still fails.
    pub fn report(&self, seed: u64) -> Report {
        self.steered_report(seed, &Steering::Random)
    }

    /// [`Scenario::report`] under a strategy.
    pub fn report_with(&self, seed: u64, strategy: Strategy) -> Report {
        self.steered_report(seed, &self.steering(strategy))
    }

    /// The report of a schedule, shrunk the same way.
    pub fn report_schedule(&self, schedule: &Schedule) -> Report {
        let steering = Steering::Forced {
            strategy: schedule.strategy,
            choices: schedule.choices.clone(),
        };
        self.steered_report(schedule.seed, &steering)
    }

    pub(crate) fn steered_report(&self, seed: u64, steering: &Steering) -> Report {
        let record = self.run_recorded(seed, steering, None);
        let violations = self.verdict(&record.outcome);
        steered_report(self, steering, &record, violations)
    }

    /// Runs one seed with only the fault decisions in `faults` allowed to fire: every other
    /// rejection, lost response or network fault is forced off, and each allowed one fires
    /// when its decision comes up. This replays a shrunk report's minimal set.
    pub fn run_seed_with_faults(&self, seed: u64, faults: &FaultSet) -> RunOutcome {
        self.run_recorded(seed, &Steering::Random, Some(&faults.0))
            .outcome
    }

    /// [`Scenario::run_seed_with_faults`] under a strategy, or a schedule's decisions.
    pub fn run_steered_with_faults(
        &self,
        seed: u64,
        strategy: Strategy,
        schedule: Option<&Schedule>,
        faults: &FaultSet,
    ) -> RunOutcome {
        let steering = match schedule {
            Some(schedule) => Steering::Forced {
                strategy: schedule.strategy,
                choices: schedule.choices.clone(),
            },
            None => self.steering(strategy),
        };
        let seed = schedule.map_or(seed, |schedule| schedule.seed);
        self.run_recorded(seed, &steering, Some(&faults.0)).outcome
    }
}

/// The command that replays a run as steered: `--seed` for `random` and `pct`, `--schedule`
/// for a forced list of decisions.
pub(crate) fn replay_command(scenario: &str, seed: u64, steering: &Steering) -> String {
    match steering {
        Steering::Random => format!("dosim replay {scenario} --seed {seed}"),
        Steering::Pct { depth } => {
            format!("dosim replay {scenario} --seed {seed} --strategy pct --pct-depth {depth}")
        }
        Steering::Forced { strategy, choices } => format!(
            "dosim replay {scenario} --schedule {}",
            Schedule {
                strategy: *strategy,
                seed,
                choices: choices.clone(),
            }
        ),
    }
}

/// The report of a recorded run: shrunk when a check failed, and, for a steered run, with its
/// schedule and the lines that replay it.
pub(crate) fn steered_report(
    scenario: &Scenario,
    steering: &Steering,
    record: &RunRecord,
    violations: Vec<Violation>,
) -> Report {
    let outcome = &record.outcome;
    let mut report = if violations.is_empty() {
        Report::new(outcome, scenario.expectation(), violations)
    } else {
        shrunk_report(scenario, steering, outcome, &record.fired, violations)
    };
    if *steering != Steering::Random {
        let schedule = Schedule {
            strategy: steering.strategy(),
            seed: outcome.seed,
            choices: record.decisions.iter().map(|(choice, _)| *choice).collect(),
        };
        let exact = Steering::Forced {
            strategy: schedule.strategy,
            choices: schedule.choices.clone(),
        };
        report.replay = match steering {
            Steering::Pct { .. } => vec![
                replay_command(&outcome.scenario, outcome.seed, steering),
                replay_command(&outcome.scenario, outcome.seed, &exact),
            ],
            _ => vec![replay_command(&outcome.scenario, outcome.seed, &exact)],
        };
        report.schedule = Some(schedule.to_string());
    }
    report
}

#[cfg(test)]
mod tests;
