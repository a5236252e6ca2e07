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

use crate::checks::Violation;
use crate::faults::{FaultId, FaultSet, FiredFault};
use crate::outcome::RunOutcome;
use crate::report::{Minimal, Report};
use crate::run::{RunRecord, RunSpec};
use crate::scenario::Scenario;
use crate::strategy::{Schedule, Steering};

/// The most runs one shrink may take; past it the smallest failing set so far is reported.
pub const SHRINK_RUNS_MAX: u64 = 200;

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
            delays: 0,
        });
        return report;
    }
    let mut runs = 0u64;
    let mut last_failing: Option<(Vec<FaultId>, Vec<FiredFault>)> = None;
    let (needed, complete) = ddmin(&ids, SHRINK_RUNS_MAX, |subset| {
        runs += 1;
        let allowed: BTreeSet<FaultId> = subset.iter().copied().collect();
        let spec = RunSpec::steered(outcome.seed, steering).allowing(allowed);
        let record = crate::run::run(scenario, &spec);
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
            let spec = RunSpec::steered(outcome.seed, steering).allowing(needed_set);
            crate::run::run(scenario, &spec).fired
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
        delays: 0,
    });
    report
}

/// The command that replays a run as steered: `--seed` for `random` and `pct`, `--schedule`
/// for a forced list of decisions.
pub(crate) fn replay_command(scenario: &str, seed: u64, steering: &Steering) -> String {
    match steering {
        Steering::Random => format!("dosim replay {scenario} --seed {seed}"),
        Steering::Pct { depth } => {
            format!("dosim replay {scenario} --seed {seed} --strategy pct --pct-depth {depth}")
        }
        Steering::Forced {
            strategy, choices, ..
        } => format!(
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
pub(crate) fn report(
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
    if let Some(minimal) = &mut report.minimal {
        minimal.delays = record.delays;
    }
    if *steering != Steering::Random {
        let schedule = Schedule {
            strategy: steering.strategy(),
            seed: outcome.seed,
            choices: record.decisions.iter().map(|(choice, _)| *choice).collect(),
        };
        let exact = Steering::Forced {
            strategy: schedule.strategy,
            choices: schedule.choices.clone(),
            faults_max: None,
            delays_max: None,
        };
        report.replay = match steering {
            Steering::Pct { .. } => vec![
                replay_command(&outcome.scenario, outcome.seed, steering),
                replay_command(&outcome.scenario, outcome.seed, &exact),
            ],
            _ => vec![replay_command(&outcome.scenario, outcome.seed, &exact)],
        };
        let decisions = record
            .decisions
            .iter()
            .filter(|(_, alternatives)| *alternatives > 1)
            .count();
        report.schedule = Some(schedule.to_string());
        let plural = |count: u32| if count == 1 { "" } else { "s" };
        report.schedule_size = Some(format!(
            "{decisions} decision{}, {} injected fault{}, {} delay{}",
            if decisions == 1 { "" } else { "s" },
            record.faults_fired,
            plural(record.faults_fired),
            record.delays,
            plural(record.delays),
        ));
    }
    report
}

#[cfg(test)]
mod tests;
