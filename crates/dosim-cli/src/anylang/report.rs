//! The report of one seed of `dosim test`, in the simulations' format, as text and JSON.

use std::collections::BTreeMap;

use dosim::report::{seconds, timeline_and_final_state};
use dosim_api::faults::InjectedFault;
use dosim_api::HistoryEntry;
use serde::Serialize;

use super::checks::Violation;
use super::gate::Strategy;
use super::run::Exit;

/// How many timeline lines a report shows before it elides the middle.
const TIMELINE_LINES_MAX: usize = 80;

/// One seed's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The command, its arguments joined by spaces.
    pub command: String,
    pub seed: u64,
    pub strategy: String,
    /// `failed` when a check failed, `clean` otherwise.
    pub outcome: String,
    /// How the command ended: `exit status N`, `timed out`, `killed by a signal`.
    pub exit: String,
    pub violations: Vec<Violation>,
    /// The injected faults, one line each.
    pub faults: Vec<String>,
    /// The API requests in commit order, one line each.
    pub timeline: Vec<String>,
    /// The account at the end, one resource per line.
    pub final_state: Vec<String>,
    /// Simulated milliseconds the run lasted.
    pub sim_ms: u64,
    /// Real milliseconds the command ran.
    pub wall_ms: u64,
    /// API requests the server saw.
    pub requests: usize,
    /// Requests the gate admitted, and the decisions among several waiting requests, as `choice/alternatives`.
    pub gate: String,
    /// The last lines the command wrote to standard error.
    pub stderr_tail: Vec<String>,
    /// How often replaying this seed failed the same check, when measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reproduction: Option<Reproduction>,
    /// The fewest injected faults that still fail the first check, when shrunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimal: Option<dosim::report::Minimal>,
    /// The server faults that fired, in the order they fired, each with its sentence.
    #[serde(skip)]
    pub fired: Vec<(dosim::faults::FaultId, String)>,
    /// How to replay this seed.
    pub replay: String,
}

/// What replaying a failing seed gave.
#[derive(Debug, Clone, Serialize)]
pub struct Reproduction {
    /// Replays run.
    pub runs: u32,
    /// Replays that failed the same first check.
    pub reproduced: u32,
}

/// What a report is built from.
pub struct Parts<'a> {
    pub command: String,
    pub seed: u64,
    pub strategy: Strategy,
    pub exit: Exit,
    pub violations: Vec<Violation>,
    pub history: &'a [HistoryEntry],
    pub state: &'a dosim::CloudState,
    pub sim_ms: u64,
    pub wall_ms: u64,
    pub decisions: &'a [(u32, u32)],
    pub admitted: u64,
    pub stderr_tail: Vec<String>,
    pub replay: String,
    pub fired: Vec<(dosim::faults::FaultId, String)>,
}

impl Report {
    pub fn new(parts: Parts<'_>) -> Report {
        let names = actor_names(parts.history);
        let start_ms = parts
            .history
            .iter()
            .map(|entry| entry.received_ms)
            .min()
            .unwrap_or(0);
        let decisions: Vec<String> = parts
            .decisions
            .iter()
            .map(|(choice, alternatives)| format!("{choice}/{alternatives}"))
            .collect();
        Report {
            command: parts.command,
            seed: parts.seed,
            strategy: parts.strategy.to_string(),
            outcome: if parts.violations.is_empty() {
                "clean"
            } else {
                "failed"
            }
            .to_owned(),
            exit: parts.exit.to_string(),
            violations: parts.violations,
            faults: faults(parts.history, &names, start_ms),
            timeline: timeline(parts.history, &names, start_ms),
            final_state: parts.state.summary_lines(),
            sim_ms: parts.sim_ms,
            wall_ms: parts.wall_ms,
            requests: parts.history.len(),
            gate: if decisions.is_empty() {
                format!("{} admitted, no choice made", parts.admitted)
            } else {
                format!(
                    "{} admitted, {} choices: {}",
                    parts.admitted,
                    decisions.len(),
                    decisions.join(" ")
                )
            },
            stderr_tail: parts.stderr_tail,
            reproduction: None,
            minimal: None,
            fired: parts.fired,
            replay: parts.replay,
        }
    }

    pub fn failed(&self) -> bool {
        !self.violations.is_empty()
    }

    /// The first failed check's name, if any.
    pub fn first_check(&self) -> Option<&str> {
        self.violations
            .first()
            .map(|violation| violation.check.as_str())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report holds only strings and numbers")
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        match self.first_check() {
            Some(check) => out.push_str(&format!(
                "failed: {check} in `{}`, seed {} ({})\n",
                self.command, self.seed, self.strategy
            )),
            None => out.push_str(&format!(
                "clean: `{}`, seed {} ({})\n",
                self.command, self.seed, self.strategy
            )),
        }
        if let Some(reproduction) = &self.reproduction {
            out.push_str(&format!(
                "  reproduced: {} of {} replays of this seed failed {} again\n",
                reproduction.reproduced,
                reproduction.runs,
                self.first_check().unwrap_or("a check")
            ));
        }
        for violation in &self.violations {
            out.push_str(&format!("  check failed: {}\n", violation.check));
            for line in violation.message.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
        out.push_str(&format!(
            "  command: {} after {} ms\n",
            self.exit, self.wall_ms
        ));
        if !self.stderr_tail.is_empty() && self.failed() {
            out.push_str("  its standard error ended:\n");
            for line in &self.stderr_tail {
                out.push_str(&format!("    | {line}\n"));
            }
        }
        if let Some(minimal) = &self.minimal {
            for line in minimal.lines() {
                out.push_str(&format!("{line}\n"));
            }
        }
        if self.faults.is_empty() {
            out.push_str("  faults: none\n");
        } else {
            out.push_str("  faults:\n");
            for fault in &self.faults {
                out.push_str(&format!("    {fault}\n"));
            }
        }
        out.push_str(&format!(
            "  timeline, in commit order ({} requests; gate: {}):\n",
            self.requests, self.gate
        ));
        timeline_and_final_state(&mut out, &self.timeline, self.sim_ms, &self.final_state);
        out.push_str(&format!("  replay: {}\n", self.replay));
        out
    }
}

/// Actors by name: an `x-dosim-actor` name as sent, a connection (its peer address) as
/// `conn-N` in the order connections first reached the server, since ports change between runs.
fn actor_names(history: &[HistoryEntry]) -> BTreeMap<String, String> {
    let mut by_seq: Vec<&HistoryEntry> = history.iter().collect();
    by_seq.sort_by_key(|entry| entry.seq);
    let mut names = BTreeMap::new();
    let mut connections = 0;
    for entry in by_seq {
        if names.contains_key(&entry.actor) {
            continue;
        }
        let name = if entry.actor.parse::<std::net::SocketAddr>().is_ok() {
            connections += 1;
            format!("conn-{connections}")
        } else {
            entry.actor.clone()
        };
        names.insert(entry.actor.clone(), name);
    }
    names
}

fn name<'a>(names: &'a BTreeMap<String, String>, actor: &'a str) -> &'a str {
    names.get(actor).map_or(actor, String::as_str)
}

fn describe(fault: &InjectedFault) -> String {
    match fault {
        InjectedFault::Latency {
            stage, latency_ms, ..
        } => format!("{stage:?} latency {latency_ms} ms").to_lowercase(),
        InjectedFault::Reject { status, .. } => format!("rejected with {status}"),
        InjectedFault::DropResponse { mode, .. } => {
            format!("response lost after commit ({mode:?})").to_lowercase()
        }
    }
}

fn faults(
    history: &[HistoryEntry],
    names: &BTreeMap<String, String>,
    start_ms: u64,
) -> Vec<String> {
    let mut entries: Vec<&HistoryEntry> = history
        .iter()
        .filter(|entry| entry.fault.is_some())
        .collect();
    entries.sort_by_key(|entry| entry.seq);
    entries
        .iter()
        .filter_map(|entry| {
            let fault = entry.fault.as_ref()?;
            Some(format!(
                "{} {}: {} {} {}",
                seconds(
                    entry
                        .committed_ms
                        .unwrap_or(entry.received_ms)
                        .saturating_sub(start_ms)
                ),
                describe(fault),
                name(names, &entry.actor),
                entry.method,
                entry.path
            ))
        })
        .collect()
}

fn timeline(
    history: &[HistoryEntry],
    names: &BTreeMap<String, String>,
    start_ms: u64,
) -> Vec<String> {
    let mut entries: Vec<&HistoryEntry> = history.iter().collect();
    entries.sort_by_key(|entry| (entry.committed_ms.unwrap_or(entry.received_ms), entry.seq));
    let actor_width = entries
        .iter()
        .map(|entry| name(names, &entry.actor).len())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<String> = Vec::new();
    let mut index = 0;
    while index < entries.len() {
        let entry = entries[index];
        let body = |entry: &HistoryEntry| {
            let mut result = entry.status.to_string();
            if let Some(summary) = &entry.summary {
                result.push_str(&format!(", {summary}"));
            }
            if let Some(fault) = &entry.fault {
                result.push_str(&format!(" [{}]", describe(fault)));
            }
            if entry.client_gone {
                result.push_str(" [never delivered]");
            }
            format!(
                "{:actor_width$}  {} {}  → {result}",
                name(names, &entry.actor),
                entry.method,
                entry.path
            )
        };
        let text = body(entry);
        // A poll loop repeats one request with one answer: show it once with its count.
        let mut repeats = 1;
        while index + repeats < entries.len() && body(entries[index + repeats]) == text {
            repeats += 1;
        }
        let at = |entry: &HistoryEntry| {
            seconds(
                entry
                    .committed_ms
                    .unwrap_or(entry.received_ms)
                    .saturating_sub(start_ms),
            )
        };
        if repeats == 1 {
            lines.push(format!("{} {text}", at(entry)));
        } else {
            lines.push(format!(
                "{} {text}  (×{repeats}, the last at {})",
                at(entry),
                at(entries[index + repeats - 1])
            ));
        }
        index += repeats;
    }
    if lines.len() > TIMELINE_LINES_MAX {
        let head = TIMELINE_LINES_MAX / 2;
        let tail = TIMELINE_LINES_MAX - head;
        let elided = lines.len() - head - tail;
        let mut shown: Vec<String> = lines[..head].to_vec();
        shown.push(format!(
            "… {elided} more lines (the history file has them) …"
        ));
        shown.extend_from_slice(&lines[lines.len() - tail..]);
        return shown;
    }
    lines
}
