//! Network faults: partitions and holds between hosts, named by host, by role (the API, a
//! managed database by its name) or joined to start and end as one, scheduled from the seed and
//! applied to turmoil's network between steps.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use super::{enabled, FaultId, FiredFault, Length, Timing, LINKS_MAX};
use crate::history::{InjectedFault, Recorder};

/// One end of a network fault: a host by name, the API, or a managed database by the name its
/// [`crate::DatabaseSpec`] gives it.
///
/// A database's host is its connection host, which the seed draws; naming the database lets a
/// scenario cut it without knowing the host, and the run resolves the name when it starts.
/// A plain string is a host name (`"pod-0"`, [`crate::net::API_HOST`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A host by its name: an actor, a service, or [`crate::net::API_HOST`].
    Host(String),
    /// The DigitalOcean API's host, [`crate::net::API_HOST`].
    Api,
    /// The data plane of the managed database the scenario named so.
    Database(String),
}

impl Endpoint {
    /// A host by its name: an actor or a service.
    pub fn host(name: impl Into<String>) -> Endpoint {
        Endpoint::Host(name.into())
    }

    /// The DigitalOcean API.
    pub fn api() -> Endpoint {
        Endpoint::Api
    }

    /// The managed database called `name` in [`crate::Scenario::database`].
    pub fn database(name: impl Into<String>) -> Endpoint {
        Endpoint::Database(name.into())
    }
}

impl From<&str> for Endpoint {
    fn from(name: &str) -> Endpoint {
        Endpoint::Host(name.to_owned())
    }
}

impl From<String> for Endpoint {
    fn from(name: String) -> Endpoint {
        Endpoint::Host(name)
    }
}

impl From<&String> for Endpoint {
    fn from(name: &String) -> Endpoint {
        Endpoint::Host(name.clone())
    }
}

/// How reports name an endpoint: the host's name, or `database <name>`.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Host(name) => f.write_str(name),
            Endpoint::Api => f.write_str(crate::net::API_HOST),
            Endpoint::Database(name) => write!(f, "database {name}"),
        }
    }
}

/// A fault the harness injects into turmoil's network: one or more links between two hosts
/// each, cut or held together for a while.
///
/// ```
/// # use std::time::Duration;
/// # use dosim::{Endpoint, NetFault};
/// // Sometimes the primary loses the database for a few seconds.
/// NetFault::partition("pod-0", Endpoint::database("backend"))
///     .at(Duration::from_secs(1))
///     .jitter(Duration::from_secs(5))
///     .lasting_between(Duration::from_secs(1), Duration::from_secs(5))
///     .probability(0.5);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NetFault {
    links: Vec<Link>,
    timing: Timing,
    /// Misuse found while building, reported when the scenario is validated.
    errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    kind: LinkKind,
    a: Endpoint,
    b: Endpoint,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkKind {
    Partition,
    Hold,
}

/// How long a network fault lasts unless told.
const LASTING_DEFAULT: Duration = Duration::from_secs(1);

impl NetFault {
    fn new(kind: LinkKind, a: Endpoint, b: Endpoint) -> NetFault {
        NetFault {
            links: vec![Link { kind, a, b }],
            timing: Timing::new(LASTING_DEFAULT),
            errors: Vec::new(),
        }
    }

    /// Cuts the link between `a` and `b`: in-flight messages are lost and new ones
    /// vanish silently, so a request in flight hangs until the client's timeout.
    pub fn partition(a: impl Into<Endpoint>, b: impl Into<Endpoint>) -> NetFault {
        NetFault::new(LinkKind::Partition, a.into(), b.into())
    }

    /// Holds every message between `a` and `b`, then delivers them all at once.
    pub fn hold(a: impl Into<Endpoint>, b: impl Into<Endpoint>) -> NetFault {
        NetFault::new(LinkKind::Hold, a.into(), b.into())
    }

    /// When the fault starts, in simulated time since the run started.
    pub fn at(mut self, at: Duration) -> NetFault {
        self.timing.at = at;
        self
    }

    /// Starts the fault at a seeded random moment in `[at, at + jitter)`.
    pub fn jitter(mut self, jitter: Duration) -> NetFault {
        self.timing.jitter = jitter;
        self
    }

    /// How long the fault lasts (default 1 s).
    pub fn lasting(mut self, lasting: Duration) -> NetFault {
        self.timing.length = Length::Fixed(lasting);
        self
    }

    /// Lasts a seeded random time in `[min, max]`, to the millisecond.
    pub fn lasting_between(mut self, min: Duration, max: Duration) -> NetFault {
        self.timing.length = Length::Between(min, max);
        self
    }

    /// Happens in a seeded random share `probability` of runs (from 0 to 1; default 1).
    pub fn probability(mut self, probability: f64) -> NetFault {
        self.timing.probability = Some(probability);
        self
    }

    /// Adds `other`'s links to this fault: they start and end together, on this fault's
    /// timing, are one fault in reports and shrink as one id.
    ///
    /// `other` brings only its links; giving it a timing of its own is a scenario error.
    pub fn and(mut self, other: NetFault) -> NetFault {
        if other.timing != Timing::new(LASTING_DEFAULT) {
            self.errors.push(
                "a fault joined with and() takes this fault's timing; set at, jitter, \
                 lasting and probability on the first fault only"
                    .to_owned(),
            );
        }
        self.errors.extend(other.errors);
        self.links.extend(other.links);
        self
    }

    /// Why this fault, the scenario's `index`th, cannot run with these hosts and databases.
    pub(crate) fn errors(&self, index: usize, hosts: &[&str], databases: &[&str]) -> Vec<String> {
        let what = format!("network fault {index}");
        let mut errors: Vec<String> = self
            .errors
            .iter()
            .map(|error| format!("{what}: {error}"))
            .collect();
        errors.extend(self.timing.errors(&what));
        if self.links.len() > LINKS_MAX {
            errors.push(format!(
                "{what}: {} links is more than the {LINKS_MAX} one fault may join",
                self.links.len()
            ));
        }
        for link in &self.links {
            for end in [&link.a, &link.b] {
                match end {
                    Endpoint::Host(name) if !hosts.contains(&name.as_str()) => {
                        errors.push(format!(
                            "{what}: no actor or service is named {name}; name the API with \
                             Endpoint::api() and a database with Endpoint::database(..)"
                        ));
                    }
                    Endpoint::Database(name) if !databases.contains(&name.as_str()) => {
                        let known = if databases.is_empty() {
                            "the scenario has none".to_owned()
                        } else {
                            format!("it has {}", databases.join(", "))
                        };
                        errors.push(format!(
                            "{what}: the scenario has no database named {name} ({known})"
                        ));
                    }
                    _ => {}
                }
            }
            if canonical(&link.a) == canonical(&link.b) {
                errors.push(format!("{what}: both ends are {}", link.a));
            }
        }
        errors
    }
}

/// The run's host for an endpoint, given each database's name and host.
fn host_name(end: &Endpoint, databases: &[(String, String)]) -> Option<String> {
    match end {
        Endpoint::Host(name) => Some(name.clone()),
        Endpoint::Api => Some(crate::net::API_HOST.to_owned()),
        Endpoint::Database(name) => databases
            .iter()
            .find(|(database, _)| database == name)
            .map(|(_, host)| host.clone()),
    }
}

/// The endpoint with the API named one way, to compare two ends.
fn canonical(end: &Endpoint) -> Endpoint {
    match end {
        Endpoint::Host(name) if name == crate::net::API_HOST => Endpoint::Api,
        other => other.clone(),
    }
}

/// One link of a scheduled fault, with its ends resolved to the run's hosts.
struct ResolvedLink {
    kind: LinkKind,
    a: String,
    b: String,
    /// The ends as reports name them.
    a_label: String,
    b_label: String,
}

/// A scheduled network fault, with its start and length drawn from the seed.
pub(crate) struct ScheduledNetFault {
    links: Vec<ResolvedLink>,
    index: usize,
    enabled: bool,
    start_ms: u64,
    end_ms: u64,
    started: bool,
    ended: bool,
}

/// Draws each network fault's timing in the order they were added and resolves its ends.
pub(super) fn schedule(
    net_faults: &[NetFault],
    databases: &[crate::pg::RunDatabase],
    rng: &mut rand_chacha::ChaCha8Rng,
    allowed: Option<&BTreeSet<FaultId>>,
) -> Result<Vec<ScheduledNetFault>, String> {
    let hosts: Vec<(String, String)> = databases
        .iter()
        .map(|database| (database.info().name.clone(), database.info().host.clone()))
        .collect();
    let mut scheduled = Vec::new();
    for (index, fault) in net_faults.iter().enumerate() {
        let drawn = fault.timing.draw(rng);
        let mut links = Vec::new();
        for link in &fault.links {
            let resolve = |end: &Endpoint| {
                host_name(end, &hosts).ok_or_else(|| {
                    format!("network fault {index}: the run has no database called {end}")
                })
            };
            links.push(ResolvedLink {
                kind: link.kind,
                a: resolve(&link.a)?,
                b: resolve(&link.b)?,
                a_label: link.a.to_string(),
                b_label: link.b.to_string(),
            });
        }
        let id = FaultId::Net { index };
        scheduled.push(ScheduledNetFault {
            links,
            index,
            enabled: enabled(id, drawn.happens, allowed),
            start_ms: drawn.start_ms,
            end_ms: drawn.start_ms.saturating_add(drawn.length_ms),
            started: false,
            ended: false,
        });
    }
    Ok(scheduled)
}

/// Starts and ends the network faults due at `now_ms`.
pub(super) fn apply(
    sim: &turmoil::Sim<'_>,
    scheduled: &mut [ScheduledNetFault],
    now_ms: u64,
    recorder: &Recorder,
    fired: &mut Vec<FiredFault>,
) {
    for entry in scheduled.iter_mut().filter(|entry| entry.enabled) {
        if !entry.started && now_ms >= entry.start_ms {
            entry.started = true;
            let lasting = crate::report::seconds(entry.end_ms - entry.start_ms);
            let phrases: Vec<String> = entry
                .links
                .iter()
                .map(|link| {
                    let (a, b) = (&link.a_label, &link.b_label);
                    match link.kind {
                        LinkKind::Partition => format!("the network between {a} and {b} was cut"),
                        LinkKind::Hold => format!("messages between {a} and {b} were held"),
                    }
                })
                .collect();
            fired.push(FiredFault {
                id: FaultId::Net { index: entry.index },
                at_ms: now_ms,
                sentence: format!(
                    "{} at {} for {lasting}",
                    join_and(&phrases),
                    crate::report::seconds(now_ms)
                ),
            });
            for link in &entry.links {
                let (a, b) = (link.a.as_str(), link.b.as_str());
                let kind = match link.kind {
                    LinkKind::Partition => {
                        sim.partition(a, b);
                        "partition"
                    }
                    LinkKind::Hold => {
                        sim.hold(a, b);
                        "hold"
                    }
                };
                recorder.fault(InjectedFault {
                    at_ms: now_ms,
                    kind: kind.to_owned(),
                    target: format!("{} <-> {}", link.a_label, link.b_label),
                    detail: format!("for {lasting}"),
                });
            }
        }
        if entry.started && !entry.ended && now_ms >= entry.end_ms {
            entry.ended = true;
            for link in &entry.links {
                let (a, b) = (link.a.as_str(), link.b.as_str());
                match link.kind {
                    LinkKind::Partition => sim.repair(a, b),
                    LinkKind::Hold => sim.release(a, b),
                }
            }
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(phrases: &[String]) -> String {
    match phrases {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
