//! Reports: what a person reads when a seed finds a race, as stable text and as JSON.

use serde::{Deserialize, Serialize};

use crate::checks::Violation;
use crate::history::{InjectedFault, Op, OpResult};
use crate::outcome::RunOutcome;
use crate::{Expect, Strategy};

/// How many timeline lines a report shows before it elides the middle of a long run.
pub const TIMELINE_LINES_MAX: usize = 60;

/// One seed's verdict, ready to print or serialize. Holds no wall-clock time and no
/// addresses, so the same seed renders the same bytes on every run and machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// How the run's decisions were drawn.
    pub strategy: Strategy,
    /// What the scenario expects.
    pub expect: Expect,
    /// `race` when a check failed, `clean` otherwise.
    pub outcome: String,
    /// The checks that failed.
    pub violations: Vec<Violation>,
    /// Faults injected into the run.
    pub faults: Vec<InjectedFault>,
    /// The operations, one line each: time, actor, request, result.
    pub timeline: Vec<String>,
    /// The account at the end, one resource per line.
    pub final_state: Vec<String>,
    /// Simulated milliseconds the run lasted.
    pub sim_ms: u64,
    /// The stable hash of the run's full trace.
    pub trace_hash: String,
    /// How to replay this seed.
    pub replay: Vec<String>,
    /// The fewest injected faults under which the first failed check still fails; present in
    /// the reports of races that `explore` and `replay` show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimal: Option<Minimal>,
    /// The run's decisions under `pct` or `dfs`, replayable with `dosim replay --schedule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// How many real choices the schedule made and how many injected faults it fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_size: Option<String>,
}

impl Report {
    /// Builds the report of a run from its outcome and the checks it failed.
    pub fn new(outcome: &RunOutcome, expect: Expect, violations: Vec<Violation>) -> Report {
        let timeline = timeline(outcome, &violations);
        Report {
            scenario: outcome.scenario.clone(),
            seed: outcome.seed,
            strategy: outcome.strategy,
            expect,
            outcome: if violations.is_empty() {
                "clean".to_owned()
            } else {
                "race".to_owned()
            },
            violations,
            faults: outcome.faults.clone(),
            timeline,
            final_state: outcome.final_state.summary_lines(),
            sim_ms: outcome.sim_ms,
            trace_hash: format!("{:016x}", outcome.trace_hash()),
            replay: replay_lines(&outcome.scenario, outcome.seed),
            minimal: None,
            schedule: None,
            schedule_size: None,
        }
    }

    /// Whether a check failed.
    pub fn is_race(&self) -> bool {
        !self.violations.is_empty()
    }

    /// The report as JSON, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report holds only strings and numbers")
    }

    /// The report as text. The first lines say which faults the failure needs at least, then
    /// what failed, on which resources; then come the faults, the timeline, the final state and the replay line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let verdict = if self.is_race() { "race in" } else { "clean:" };
        out.push_str(&format!(
            "{verdict} {}, seed {} ({})\n",
            self.scenario, self.seed, self.strategy
        ));
        if let Some(minimal) = &self.minimal {
            for line in minimal.lines() {
                out.push_str(&line);
                out.push('\n');
            }
        }
        for violation in &self.violations {
            out.push_str(&format!("  check failed: {}\n", violation.check));
            for line in violation.message.lines() {
                out.push_str(&format!("    {line}\n"));
            }
            if !violation.resources.is_empty() {
                out.push_str(&format!(
                    "    involves: {}\n",
                    violation.resources.join(", ")
                ));
            }
        }
        if self.faults.is_empty() {
            out.push_str("  faults: none\n");
        } else {
            out.push_str("  faults:\n");
            for fault in &self.faults {
                let detail = if fault.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", fault.detail)
                };
                out.push_str(&format!(
                    "    {} {} {}{detail}\n",
                    seconds(fault.at_ms),
                    fault.kind,
                    fault.target
                ));
            }
        }
        out.push_str("  timeline, in commit order [sent–answered]:\n");
        timeline_and_final_state(&mut out, &self.timeline, self.sim_ms, &self.final_state);
        if let Some(schedule) = &self.schedule {
            match &self.schedule_size {
                Some(size) => out.push_str(&format!("  schedule: {schedule} ({size})\n")),
                None => out.push_str(&format!("  schedule: {schedule}\n")),
            }
        }
        for (index, line) in self.replay.iter().enumerate() {
            let label = if index == 0 {
                "  replay: "
            } else {
                "          "
            };
            out.push_str(&format!("{label}{line}\n"));
        }
        out
    }
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
    /// False when the shrink stopped at [`crate::shrink::SHRINK_RUNS_MAX`] runs before proving minimality.
    pub complete: bool,
    /// How to replay the minimal run, when it differs from the seed's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    /// How many operations the strategy delayed in this schedule (listed under faults); a
    /// delay is part of the interleaving, not an injected fault, and is not shrunk.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delays: u32,
}

fn is_zero(count: &u32) -> bool {
    *count == 0
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
        let interleaving = match self.delays {
            0 => "the interleaving alone breaks the check".to_owned(),
            1 => "the interleaving, with the one delay under faults, breaks the check".to_owned(),
            n => format!("the interleaving, with the {n} delays under faults, breaks the check"),
        };
        match self.faults.as_slice() {
            [] => lines.push(format!(
                "  minimal: no faults needed; {interleaving}{qualifier}"
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

/// The two ways to replay a seed: inside `cargo test`, and with the command line.
pub fn replay_lines(scenario: &str, seed: u64) -> Vec<String> {
    vec![
        format!("DOSIM_SEED={seed} cargo test {scenario}"),
        format!("dosim replay {scenario} --seed {seed}"),
    ]
}

/// Simulated milliseconds as seconds with three decimals: `0.058s`.
pub fn seconds(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// The sections a run's report and `dosim test`'s end alike: the timeline's lines, under the
/// heading the caller wrote, then the account's final state after `sim_ms`.
pub fn timeline_and_final_state(
    out: &mut String,
    timeline: &[String],
    sim_ms: u64,
    final_state: &[String],
) {
    for line in timeline {
        out.push_str(&format!("    {line}\n"));
    }
    out.push_str(&format!("  final state after {}:\n", seconds(sim_ms)));
    if final_state.is_empty() {
        out.push_str("    (no resources)\n");
    }
    for line in final_state {
        out.push_str(&format!("    {line}\n"));
    }
}

/// Where an operation sits in the timeline: when the server committed it (or, without a commit,
/// when the server saw it, or when it was sent), then the order it was sent in.
fn commit_keys(outcome: &RunOutcome) -> Vec<(u64, u64)> {
    let by_request_id: std::collections::BTreeMap<&str, &crate::outcome::ServerOp> = outcome
        .server_ops
        .iter()
        .map(|op| (op.request_id.as_str(), op))
        .collect();
    // A request whose response never arrived has no request id on the client's side: it is the
    // next server entry of the same actor and request that no answered operation claimed.
    let claimed: std::collections::BTreeSet<&str> = outcome
        .ops
        .iter()
        .filter_map(|op| op.request_id.as_deref())
        .collect();
    let mut unclaimed: Vec<&crate::outcome::ServerOp> = outcome
        .server_ops
        .iter()
        .filter(|op| !claimed.contains(op.request_id.as_str()))
        .collect();
    outcome
        .ops
        .iter()
        .map(|op| {
            let server = match op.request_id.as_deref() {
                Some(id) => by_request_id.get(id).copied(),
                None if op.method == "SQL" => None,
                None => unclaimed
                    .iter()
                    .position(|server| {
                        server.actor == op.actor
                            && server.method == op.method
                            && server.target == op.target
                            && server.arrived_ms >= op.invoke_ms
                    })
                    .map(|index| unclaimed.remove(index)),
            };
            let at_ms = server
                .map(|server| server.commit_ms.unwrap_or(server.arrived_ms))
                .unwrap_or(op.invoke_ms);
            (at_ms, op.seq)
        })
        .collect()
}

/// The timeline: every operation in the order the server committed it, each line headed by the
/// commit time and ending with when it was sent and answered.
fn timeline(outcome: &RunOutcome, violations: &[Violation]) -> Vec<String> {
    let keys = commit_keys(outcome);
    let mut order: Vec<usize> = (0..outcome.ops.len()).collect();
    order.sort_by_key(|&index| keys[index]);
    let ops: Vec<&Op> = order.iter().map(|&index| &outcome.ops[index]).collect();
    let at: Vec<u64> = order.iter().map(|&index| keys[index].0).collect();
    let actor_width = ops.iter().map(|op| op.actor.len()).max().unwrap_or(0);
    let method_width = ops.iter().map(|op| op.method.len()).max().unwrap_or(0);
    let requests: Vec<String> = ops
        .iter()
        .map(|op| match op.request() {
            Some(request) => format!("{} {request}", op.target),
            None => op.target.clone(),
        })
        .collect();
    let request_width = requests
        .iter()
        .map(|request| request.chars().count())
        .max()
        .unwrap_or(0)
        .min(60);
    let line = |op: &Op, request: &String| {
        let result = match &op.result {
            OpResult::Status { status } => match op.response() {
                Some(response) => format!("{status}, {response}"),
                None => status.to_string(),
            },
            OpResult::Answered => op.response().unwrap_or_default().to_owned(),
            OpResult::Timeout => "timeout".to_owned(),
            OpResult::TransportError { message } => format!("error: {message}"),
            OpResult::Unfinished => "no answer before the run ended".to_owned(),
        };
        format!(
            "{:actor_width$}  {:method_width$}  {:request_width$}  → {result}",
            op.actor, op.method, request
        )
    };
    let span = |op: &Op| match op.end_ms {
        Some(end_ms) => format!("[{}–{}]", seconds(op.invoke_ms), seconds(end_ms)),
        None => format!("[{}–]", seconds(op.invoke_ms)),
    };
    // A poll loop repeats one request with one answer many times; show such a run once, with
    // its count and the time of its last request, so the lines that differ stay in view.
    let involved = |op: &Op| {
        violations.iter().any(|violation| {
            violation.resources.iter().any(|resource| {
                *resource == op.actor || op.resources().iter().any(|seen| seen == resource)
            })
        })
    };
    let mut lines: Vec<(String, bool)> = Vec::new();
    let mut index = 0;
    while index < ops.len() {
        let first = ops[index];
        let body = line(first, &requests[index]);
        let mut repeats = 1;
        while index + repeats < ops.len()
            && line(ops[index + repeats], &requests[index + repeats]) == body
        {
            repeats += 1;
        }
        let when = seconds(at[index]);
        let text = if repeats == 1 {
            format!("{when} {body}  {}", span(first))
        } else {
            let last = seconds(at[index + repeats - 1]);
            format!("{when} {body}  (×{repeats}, the last at {last})")
        };
        let keep = ops[index..index + repeats].iter().any(|op| involved(op));
        lines.push((text, keep));
        index += repeats;
    }
    if lines.len() <= TIMELINE_LINES_MAX {
        return lines.into_iter().map(|(text, _)| text).collect();
    }
    // The head and tail stay; from the middle, the lines about the failed checks' resources.
    let head = TIMELINE_LINES_MAX / 3;
    let tail = TIMELINE_LINES_MAX - head;
    let middle = head..lines.len() - tail;
    let mut shown: Vec<String> = Vec::new();
    let mut elided = 0usize;
    let mut kept_in_middle = 0usize;
    for (index, (text, keep)) in lines.iter().enumerate() {
        let in_middle = middle.contains(&index);
        if in_middle && !(*keep && kept_in_middle < TIMELINE_LINES_MAX) {
            elided += 1;
            continue;
        }
        if elided > 0 {
            shown.push(format!(
                "… {elided} more operations (the full trace has them: --trace) …"
            ));
            elided = 0;
        }
        if in_middle {
            kept_in_middle += 1;
        }
        shown.push(text.clone());
    }
    shown
}
