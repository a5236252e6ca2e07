//! Faults the harness injects and how it names them: fault identities that keep their meaning
//! across runs of one seed, the server's fault decider as the harness runs it (recording what
//! fired, and firing only an allowed set when shrinking), one sentence for each fault a report
//! shows, and the faults scheduled between steps: network faults ([`NetFault`], in `net.rs`) and
//! actor faults ([`ActorFault`], in `actor.rs`), whose timing both draw the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::history::{InjectedFault, Recorder};

mod actor;
mod net;

pub(crate) use actor::{reached_point, ActorControl, Controlled, Ended, Point};
pub use actor::{ActorFault, FAULT_POINTS_MAX};
pub use net::{Endpoint, NetFault};

/// The most fault ids a `--faults` list may hold.
pub const FAULT_IDS_MAX: usize = 10_000;

/// The most network faults one scenario may have.
pub const NET_FAULTS_MAX: usize = 1_000;

/// The most actor faults one scenario may have.
pub const ACTOR_FAULTS_MAX: usize = 1_000;

/// The most links one network fault may join with [`NetFault::and`].
pub const LINKS_MAX: usize = 64;

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
    /// The scenario's actor fault number `index`, a pause: `pause.<index>`.
    Pause {
        /// The index among the scenario's actor faults (pauses and crashes together).
        index: usize,
    },
    /// The scenario's actor fault number `index`, a crash: `crash.<index>`.
    Crash {
        /// The index among the scenario's actor faults (pauses and crashes together).
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
            FaultId::Pause { index } => write!(f, "pause.{index}"),
            FaultId::Crash { index } => write!(f, "crash.{index}"),
        }
    }
}

impl FromStr for FaultId {
    type Err = String;

    fn from_str(text: &str) -> Result<FaultId, String> {
        let malformed = || {
            format!(
                "`{text}` is not a fault: write drop.<rule>.<n>, reject.<rule>.<n>, net.<n>, \
                 pause.<n> or crash.<n>"
            )
        };
        let parts: Vec<&str> = text.trim().split('.').collect();
        let number = |part: &str| part.parse::<u64>().map_err(|_| malformed());
        let index = |part: &str| usize::try_from(number(part)?).map_err(|_| malformed());
        match parts.as_slice() {
            ["net", n] => Ok(FaultId::Net { index: index(n)? }),
            ["pause", n] => Ok(FaultId::Pause { index: index(n)? }),
            ["crash", n] => Ok(FaultId::Crash { index: index(n)? }),
            [kind @ ("drop" | "reject"), rule, occurrence] => Ok(FaultId::Server {
                kind: if *kind == "drop" {
                    ServerFaultKind::Drop
                } else {
                    ServerFaultKind::Reject
                },
                rule: index(rule)?,
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

/// What a fault decider records for the harness: the decisions that fired, with the service of
/// the request and its sequence number there (in the API's history or in Spaces' log).
pub type FiredDecisions = Arc<Mutex<Vec<(FaultId, dosim_api::Service, u64)>>>;

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
            self.fired.lock().push((id, point.service, point.seq));
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

/// A server's fault decider for a server outside the harness (`dosim test`): it draws as the
/// seeded default does, so a plain run is unchanged, fires only `allowed` when given (shrinking,
/// `--only-faults`), and records each fault that fired with its request's sequence number.
pub fn recording_decider(
    server_seed: u64,
    allowed: Option<BTreeSet<FaultId>>,
) -> (Box<dyn dosim_api::FaultDecider>, FiredDecisions) {
    let fired: FiredDecisions = Arc::default();
    let decider = RecordingDecider::new(server_seed, None, allowed, fired.clone());
    (Box::new(decider), fired)
}

/// Describes each server fault that fired (`fired`, as a recording decider records them), from
/// the request it hit: in the API's `history`, or in the log of `spaces`.
pub fn describe_fired(
    fired: &[(FaultId, dosim_api::Service, u64)],
    history: &[dosim_api::HistoryEntry],
    spaces: Option<&dosim_spaces::Spaces>,
    plan: &dosim_api::FaultPlan,
) -> Vec<FiredFault> {
    fired
        .iter()
        .map(|&(id, service, seq)| match service {
            dosim_api::Service::Spaces => describe_fired_spaces_fault(
                id,
                spaces.and_then(|spaces| spaces.log_entry(seq)).as_ref(),
                plan,
            ),
            _ => {
                describe_fired_server_fault(id, history.iter().find(|entry| entry.seq == seq), plan)
            }
        })
        .collect()
}

/// The faults Spaces' log records that change what a client sees (rejections and lost
/// responses; latency is in the log only), for a report's list of faults.
pub(crate) fn spaces_faults(spaces: &dosim_spaces::Spaces) -> Vec<InjectedFault> {
    spaces
        .log()
        .iter()
        .filter_map(|entry| {
            entry
                .fault
                .as_ref()
                .filter(|fault| !matches!(fault, dosim_api::InjectedFault::Latency { .. }))
                .map(|fault| spaces_fault(entry, fault))
        })
        .collect()
}

/// Describes a server fault that fired, from the request it hit.
pub fn describe_fired_server_fault(
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
    FiredFault {
        id,
        at_ms: entry.received_ms,
        sentence: fired_sentence(id, &request, entry.fault.as_ref(), None, plan),
    }
}

/// Describes a fault that fired on a Spaces request, from the request's log entry; a rejection
/// names the S3 error code it answered with.
pub fn describe_fired_spaces_fault(
    id: FaultId,
    entry: Option<&dosim_spaces::LogEntry>,
    plan: &dosim_api::FaultPlan,
) -> FiredFault {
    let Some(entry) = entry else {
        return FiredFault {
            id,
            at_ms: 0,
            sentence: format!("fault {id} (its Spaces request left the service's log)"),
        };
    };
    let request = format!(
        "{}'s {} {}",
        entry.actor,
        entry.operation,
        spaces_resource(entry)
    );
    let code = Some(entry.error.unwrap_or("(HTML page)"));
    FiredFault {
        id,
        at_ms: entry.at_ms,
        sentence: fired_sentence(id, &request, entry.fault.as_ref(), code, plan),
    }
}

/// The sentence for fault `id` on `request` (`pod-0's POST /v2/droplets`), from the fault its
/// service recorded, or from the plan's rule when it recorded none; `code` follows a
/// rejection's status (S3's error code).
fn fired_sentence(
    id: FaultId,
    request: &str,
    recorded: Option<&dosim_api::InjectedFault>,
    code: Option<&str>,
    plan: &dosim_api::FaultPlan,
) -> String {
    let refused = |status: u16| match code {
        Some(code) => format!("{request} was refused with {status} {code} before commit"),
        None => format!("{request} was refused with {status} before commit"),
    };
    match (id, recorded) {
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
        (_, Some(dosim_api::InjectedFault::Reject { status, .. })) => refused(*status),
        (
            FaultId::Server {
                kind: ServerFaultKind::Reject,
                rule,
                ..
            },
            _,
        ) => refused(
            plan.rules
                .get(rule)
                .and_then(|rule| rule.reject.as_ref())
                .map_or(0, |reject| reject.status),
        ),
        _ => format!("the response to {request} was lost after commit"),
    }
}

/// `bucket/key`, `bucket` or `/` for a Spaces request.
pub(crate) fn spaces_resource(entry: &dosim_spaces::LogEntry) -> String {
    match (&entry.bucket, &entry.key) {
        (Some(bucket), Some(key)) => format!("{bucket}/{key}"),
        (Some(bucket), None) => bucket.clone(),
        _ => "/".to_owned(),
    }
}

/// A Spaces request's injected fault, for the report's list of faults.
fn spaces_fault(entry: &dosim_spaces::LogEntry, fault: &dosim_api::InjectedFault) -> InjectedFault {
    InjectedFault {
        at_ms: entry.at_ms,
        kind: describe_server_fault(fault),
        target: format!("{} {}", entry.operation, spaces_resource(entry)),
        detail: format!(
            "{}, request {}",
            entry.actor,
            crate::history::short(&entry.request_id)
        ),
    }
}

/// The report's line for an operation the strategy delayed at the gate, if this one was.
pub(crate) fn delay_fault(commit: &crate::gate::Commit) -> Option<InjectedFault> {
    let delayed = commit.delayed.as_ref()?;
    Some(InjectedFault {
        at_ms: commit.at_ms.saturating_sub(delayed.held_ms),
        kind: "delay".to_owned(),
        target: format!("{} {}", commit.plane, commit.summary),
        detail: format!(
            "{}, held at the server {} {}",
            commit.actor,
            crate::report::seconds(delayed.held_ms),
            delayed.until
        ),
    })
}

pub(crate) fn server_fault(
    entry: &dosim_api::HistoryEntry,
    fault: &dosim_api::InjectedFault,
) -> InjectedFault {
    InjectedFault {
        at_ms: entry.received_ms,
        kind: describe_server_fault(fault),
        target: format!("{} {}", entry.method, entry.path),
        detail: format!(
            "{}, request {}",
            entry.actor,
            crate::history::short(&entry.request_id)
        ),
    }
}

pub(crate) fn describe_server_fault(fault: &dosim_api::InjectedFault) -> String {
    match fault {
        dosim_api::InjectedFault::Latency {
            latency_ms,
            stage: dosim_api::faults::LatencyStage::Network,
            ..
        } => format!("network latency {latency_ms}ms"),
        dosim_api::InjectedFault::Latency { latency_ms, .. } => format!("latency {latency_ms}ms"),
        dosim_api::InjectedFault::Reject { status, body, .. } => format!(
            "reject {status}{}",
            if matches!(body, dosim_api::RejectBody::Html) {
                " (HTML body)"
            } else {
                ""
            }
        ),
        dosim_api::InjectedFault::DropResponse { mode, hang_ms, .. } => match mode {
            dosim_api::DropMode::Reset => "commit, then reset the connection".to_owned(),
            dosim_api::DropMode::Hang => format!("commit, then hang {hang_ms}ms and reset"),
        },
    }
}

/// How long a scheduled fault lasts: a fixed time, or one drawn from a range when the run starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Length {
    Fixed(Duration),
    Between(Duration, Duration),
}

/// When a scheduled fault starts, how long it lasts and how likely it is to happen: what network
/// and actor faults share, and draw the same way.
#[derive(Debug, Clone, PartialEq)]
struct Timing {
    at: Duration,
    jitter: Duration,
    length: Length,
    /// `None` when never set: such a fault always happens and draws nothing for it.
    probability: Option<f64>,
}

/// One scheduled fault's draws.
struct Drawn {
    start_ms: u64,
    length_ms: u64,
    /// Whether the probability drew "happens"; true when the fault has no probability.
    happens: bool,
}

impl Timing {
    fn new(length: Duration) -> Timing {
        Timing {
            at: Duration::ZERO,
            jitter: Duration::ZERO,
            length: Length::Fixed(length),
            probability: None,
        }
    }

    /// Draws the start, then whether it happens, then the length, each only when the fault
    /// uses it, so that adding an option to one fault never shifts the draws of a fault
    /// without it.
    fn draw(&self, rng: &mut rand_chacha::ChaCha8Rng) -> Drawn {
        let jitter_ms = millis(self.jitter);
        let offset_ms = if jitter_ms == 0 {
            0
        } else {
            rand::Rng::random_range(rng, 0..jitter_ms)
        };
        let happens = match self.probability {
            None => true,
            Some(probability) => rand::Rng::random::<f64>(rng) < probability,
        };
        let length_ms = match self.length {
            Length::Fixed(length) => millis(length),
            Length::Between(min, max) => {
                let (min, max) = (millis(min), millis(max));
                rand::Rng::random_range(rng, min.min(max)..=max.max(min))
            }
        };
        Drawn {
            start_ms: millis(self.at).saturating_add(offset_ms),
            length_ms,
            happens,
        }
    }

    /// Why these settings cannot be scheduled, for the fault described as `what`.
    fn errors(&self, what: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(probability) = self.probability {
            if !(0.0..=1.0).contains(&probability) {
                errors.push(format!(
                    "{what}: the probability must be from 0 to 1, not {probability}"
                ));
            }
        }
        if let Length::Between(min, max) = self.length {
            if max < min {
                errors.push(format!(
                    "{what}: lasting_between's max {max:?} is below its min {min:?}"
                ));
            }
        }
        errors
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Whether a scheduled fault happens: as drawn, or, when the run allows only some faults,
/// exactly when its id is allowed.
fn enabled(id: FaultId, happens: bool, allowed: Option<&BTreeSet<FaultId>>) -> bool {
    allowed.map_or(happens, |allowed| allowed.contains(&id))
}

/// A run's network and actor faults, drawn when it starts and applied between steps.
pub(crate) struct Scheduled {
    net: Vec<net::ScheduledNetFault>,
    actors: Vec<actor::ScheduledActorFault>,
    controls: Vec<ActorControl>,
}

/// Draws when each of the scenario's network faults, then each of its actor faults, starts,
/// whether it happens and how long it lasts, in the order they were added, and resolves the
/// endpoints network faults name to the run's host names.
///
/// Only those in `allowed`, when it is given, will happen, but every draw is made so the stream
/// stays aligned. `choose_point` is the strategy's say on where actor faults start (a fault
/// point, or `None` for the drawn moment; see `actor.rs`).
pub(crate) fn schedule(
    scenario: &crate::scenario::Scenario,
    databases: &[crate::pg::RunDatabase],
    rng: &mut rand_chacha::ChaCha8Rng,
    allowed: Option<&BTreeSet<FaultId>>,
    choose_point: &mut dyn FnMut() -> crate::strategy::FaultPoint,
    decisions: Option<&Arc<crate::strategy::Decisions>>,
) -> Result<Scheduled, String> {
    let net = net::schedule(&scenario.net_faults, databases, rng, allowed)?;
    let actor_names: Vec<&str> = scenario
        .actors
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    let actors = actor::schedule(
        &scenario.actor_faults,
        &actor_names,
        rng,
        allowed,
        choose_point,
    )?;
    let controls: Vec<ActorControl> = actor_names
        .iter()
        .map(|_| ActorControl::default())
        .collect();
    actor::anchor(&actors, &controls, decisions);
    Ok(Scheduled {
        net,
        actors,
        controls,
    })
}

impl Scheduled {
    /// Each actor's control, in actor order, for the wrapper around its future.
    pub(crate) fn controls(&self) -> &[ActorControl] {
        &self.controls
    }

    /// Starts and ends the faults due at `now_ms`, recording each that starts.
    pub(crate) fn apply(
        &mut self,
        sim: &turmoil::Sim<'_>,
        now_ms: u64,
        recorder: &Recorder,
        fired: &mut Vec<FiredFault>,
    ) {
        net::apply(sim, &mut self.net, now_ms, recorder, fired);
        actor::apply(&mut self.actors, &self.controls, now_ms, recorder, fired);
    }
}

/// Validates the scenario's network and actor faults against its hosts and databases.
pub(crate) fn validate(scenario: &crate::scenario::Scenario) -> Vec<String> {
    let mut errors = Vec::new();
    let actors: Vec<&str> = scenario
        .actors
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    let mut hosts: Vec<&str> = actors.clone();
    hosts.extend(scenario.services.iter().map(|(name, _)| name.as_str()));
    hosts.push(crate::net::API_HOST);
    let databases: Vec<&str> = scenario
        .databases
        .iter()
        .map(|spec| spec.name.as_str())
        .collect();
    if scenario.net_faults.len() > NET_FAULTS_MAX {
        errors.push(format!(
            "{} network faults is more than the {NET_FAULTS_MAX} a scenario may have",
            scenario.net_faults.len()
        ));
    }
    for (index, fault) in scenario.net_faults.iter().enumerate() {
        errors.extend(fault.errors(index, &hosts, &databases));
    }
    if scenario.actor_faults.len() > ACTOR_FAULTS_MAX {
        errors.push(format!(
            "{} actor faults is more than the {ACTOR_FAULTS_MAX} a scenario may have",
            scenario.actor_faults.len()
        ));
    }
    for (index, fault) in scenario.actor_faults.iter().enumerate() {
        errors.extend(fault.errors(index, &actors));
    }
    errors
}
