//! Faults the harness injects and how it names them: fault identities that keep their meaning
//! across runs of one seed, the server's fault decider as the harness runs it (recording what
//! fired, and firing only an allowed set when shrinking), one sentence for each fault a report
//! shows, and the network faults scheduled between steps.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::history::{InjectedFault, Recorder};

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
pub(crate) fn describe_fired_server_fault(
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

/// A fault the harness injects into turmoil's network between two hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetFault {
    kind: NetFaultKind,
    a: String,
    b: String,
    at: Duration,
    jitter: Duration,
    lasting: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NetFaultKind {
    Partition,
    Hold,
}

impl NetFault {
    /// Cuts the link between hosts `a` and `b`: in-flight messages are lost and new ones
    /// vanish silently, so a request in flight hangs until the client's timeout.
    pub fn partition(a: impl Into<String>, b: impl Into<String>) -> NetFault {
        NetFault {
            kind: NetFaultKind::Partition,
            a: a.into(),
            b: b.into(),
            at: Duration::ZERO,
            jitter: Duration::ZERO,
            lasting: Duration::from_secs(1),
        }
    }

    /// Holds every message between `a` and `b`, then delivers them all at once.
    pub fn hold(a: impl Into<String>, b: impl Into<String>) -> NetFault {
        NetFault {
            kind: NetFaultKind::Hold,
            a: a.into(),
            b: b.into(),
            at: Duration::ZERO,
            jitter: Duration::ZERO,
            lasting: Duration::from_secs(1),
        }
    }

    /// When the fault starts, in simulated time since the run started.
    pub fn at(mut self, at: Duration) -> NetFault {
        self.at = at;
        self
    }

    /// Starts the fault at a seeded random moment in `[at, at + jitter)`.
    pub fn jitter(mut self, jitter: Duration) -> NetFault {
        self.jitter = jitter;
        self
    }

    /// How long the fault lasts.
    pub fn lasting(mut self, lasting: Duration) -> NetFault {
        self.lasting = lasting;
        self
    }
}

/// A scheduled network fault, with its start drawn from the seed.
pub(crate) struct ScheduledNetFault {
    fault: NetFault,
    index: usize,
    enabled: bool,
    start_ms: u64,
    end_ms: u64,
    started: bool,
    ended: bool,
}

/// Draws when each of the scenario's network faults starts, in the order they were added; only
/// those in `allowed`, when it is given, will happen, but every start is drawn so the stream
/// stays aligned.
pub(crate) fn schedule_net_faults(
    net_faults: &[NetFault],
    rng: &mut rand_chacha::ChaCha8Rng,
    allowed: Option<&BTreeSet<FaultId>>,
) -> Vec<ScheduledNetFault> {
    net_faults
        .iter()
        .enumerate()
        .map(|(index, fault)| {
            let jitter_ms = u64::try_from(fault.jitter.as_millis()).unwrap_or(u64::MAX);
            let offset_ms = if jitter_ms == 0 {
                0
            } else {
                rand::Rng::random_range(rng, 0..jitter_ms)
            };
            let start_ms = u64::try_from(fault.at.as_millis())
                .unwrap_or(u64::MAX)
                .saturating_add(offset_ms);
            let end_ms = start_ms
                .saturating_add(u64::try_from(fault.lasting.as_millis()).unwrap_or(u64::MAX));
            ScheduledNetFault {
                fault: fault.clone(),
                index,
                enabled: allowed.is_none_or(|allowed| allowed.contains(&FaultId::Net { index })),
                start_ms,
                end_ms,
                started: false,
                ended: false,
            }
        })
        .collect()
}

pub(crate) fn apply_net_faults(
    sim: &turmoil::Sim<'_>,
    scheduled: &mut [ScheduledNetFault],
    now_ms: u64,
    recorder: &Recorder,
    fired: &mut Vec<FiredFault>,
) {
    for entry in scheduled.iter_mut().filter(|entry| entry.enabled) {
        let (a, b) = (entry.fault.a.as_str(), entry.fault.b.as_str());
        if !entry.started && now_ms >= entry.start_ms {
            entry.started = true;
            let lasting = crate::report::seconds(entry.end_ms - entry.start_ms);
            fired.push(FiredFault {
                id: FaultId::Net { index: entry.index },
                at_ms: now_ms,
                sentence: match entry.fault.kind {
                    NetFaultKind::Partition => format!(
                        "the network between {a} and {b} was cut at {} for {lasting}",
                        crate::report::seconds(now_ms)
                    ),
                    NetFaultKind::Hold => format!(
                        "messages between {a} and {b} were held at {} for {lasting}",
                        crate::report::seconds(now_ms)
                    ),
                },
            });
            let kind = match entry.fault.kind {
                NetFaultKind::Partition => {
                    sim.partition(a, b);
                    "partition"
                }
                NetFaultKind::Hold => {
                    sim.hold(a, b);
                    "hold"
                }
            };
            recorder.fault(InjectedFault {
                at_ms: now_ms,
                kind: kind.to_owned(),
                target: format!("{a} <-> {b}"),
                detail: format!(
                    "for {}",
                    crate::report::seconds(entry.end_ms - entry.start_ms)
                ),
            });
        }
        if entry.started && !entry.ended && now_ms >= entry.end_ms {
            entry.ended = true;
            match entry.fault.kind {
                NetFaultKind::Partition => sim.repair(a, b),
                NetFaultKind::Hold => sim.release(a, b),
            }
        }
    }
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
