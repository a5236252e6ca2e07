//! The built-in checks of `dosim test`: the command's exit status and invariants over the
//! account's final state that need no actor's beliefs.

use std::collections::BTreeMap;

use serde::Serialize;

use super::run::Exit;

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The check's name, as `--check` takes it.
    pub check: String,
    /// What is wrong, one or more lines.
    pub message: String,
}

/// The checks `--check` can name: name, whether it is on by default, what it checks.
pub const CHECKS: &[(&str, bool, &str)] = &[
    ("exit-status", true, "the command exits with status 0 before --timeout"),
    (
        "no-duplicate-droplets",
        true,
        "no two droplets share a name",
    ),
    (
        "no-duplicate-volumes",
        true,
        "no two volumes share a name in one region, counting names that start with another's (a create that lost often retries under a new name)",
    ),
    (
        "model-invariants",
        true,
        "the account's cross-references hold (a volume attached to at most one droplet, one reserved IP per droplet, …)",
    ),
    (
        "no-orphans",
        false,
        "no droplet or volume whose create response was lost (a lost-response fault, or the client gone) is left with no later request naming its id; a program that finds it again by listing is flagged too",
    ),
    (
        "no-unattached-volumes",
        false,
        "every volume ends attached to a droplet",
    ),
    (
        "no-unassigned-reserved-ips",
        false,
        "every reserved IP ends assigned to a droplet",
    ),
    (
        "no-detached-volumes",
        false,
        "no volume that was attached during the run ends attached to nothing",
    ),
    (
        "no-shared-tags",
        false,
        "no tag is on two droplets (for programs that claim a droplet by tagging it)",
    ),
    (
        "database-users-and-dbs-present",
        false,
        "the users and dbs named by --require-db-user and --require-db exist at the end (on whenever either flag is given)",
    ),
];

/// What the checks read beyond the final state and the history.
pub struct Facts<'a> {
    pub exit: &'a Exit,
    pub state: &'a dosim::CloudState,
    pub invariants: Result<(), String>,
    pub history: &'a [dosim_api::HistoryEntry],
    /// Volumes an attach action completed on during the run, by id.
    pub attached_once: std::collections::BTreeSet<String>,
    /// What `--require-db-user` and `--require-db` name.
    pub required: &'a [Required],
}

/// The names of the default checks, comma-separated, for `--help`.
pub fn defaults() -> Vec<String> {
    CHECKS
        .iter()
        .filter(|(_, default, _)| *default)
        .map(|(name, _, _)| (*name).to_owned())
        .collect()
}

/// Parses a `--check` value: a name from [`CHECKS`].
pub fn parse_check(text: &str) -> Result<String, String> {
    let text = text.trim();
    if CHECKS.iter().any(|(name, _, _)| *name == text) {
        return Ok(text.to_owned());
    }
    let names: Vec<&str> = CHECKS.iter().map(|(name, _, _)| *name).collect();
    Err(format!(
        "`{text}` is not a check: choose from {}",
        names.join(", ")
    ))
}

/// Runs the named checks.
pub fn run(names: &[String], facts: Facts<'_>) -> Vec<Violation> {
    let Facts {
        exit,
        state,
        invariants,
        history,
        attached_once,
        required,
    } = facts;
    let mut violations = Vec::new();
    for name in names {
        let failed = match name.as_str() {
            "exit-status" => (*exit != Exit::Code(0)).then(|| format!("the command {exit}")),
            "no-detached-volumes" => {
                let detached: Vec<String> = state
                    .volumes
                    .iter()
                    .filter(|v| v.droplet_ids.is_empty() && attached_once.contains(&v.id))
                    .map(|v| format!("{} ({})", v.name, v.id))
                    .collect();
                (!detached.is_empty()).then(|| {
                    format!(
                        "volumes attached during the run end attached to nothing: {}",
                        detached.join(", ")
                    )
                })
            }
            "no-shared-tags" => shared_tags(state),
            "database-users-and-dbs-present" => required_members(state, required),
            "no-duplicate-droplets" => duplicate_droplets(state),
            "no-duplicate-volumes" => duplicate_volumes(state),
            "model-invariants" => invariants.clone().err(),
            "no-orphans" => orphans(state, history),
            "no-unattached-volumes" => {
                let unattached: Vec<String> = state
                    .volumes
                    .iter()
                    .filter(|volume| volume.droplet_ids.is_empty())
                    .map(|volume| format!("{} ({})", volume.name, volume.id))
                    .collect();
                (!unattached.is_empty())
                    .then(|| format!("volumes attached to nothing: {}", unattached.join(", ")))
            }
            "no-unassigned-reserved-ips" => {
                let free: Vec<&str> = state
                    .reserved_ips
                    .iter()
                    .filter(|ip| ip.droplet_id.is_none())
                    .map(|ip| ip.ip.as_str())
                    .collect();
                (!free.is_empty())
                    .then(|| format!("reserved IPs assigned to nothing: {}", free.join(", ")))
            }
            _ => None,
        };
        if let Some(message) = failed {
            violations.push(Violation {
                check: name.clone(),
                message,
            });
        }
    }
    violations
}

fn shared_tags(state: &dosim::CloudState) -> Option<String> {
    let mut by_tag: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for droplet in &state.droplets {
        for tag in &droplet.tags {
            by_tag
                .entry(tag.as_str())
                .or_default()
                .push(format!("{} ({})", droplet.name, droplet.id));
        }
    }
    let lines: Vec<String> = by_tag
        .into_iter()
        .filter(|(_, droplets)| droplets.len() > 1)
        .map(|(tag, droplets)| {
            format!(
                "tag {tag} is on {}: {}",
                droplets.len(),
                droplets.join(", ")
            )
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The users and dbs `--require-db-user` and `--require-db` name that no cluster of that name has at the end.
fn required_members(state: &dosim::CloudState, required: &[Required]) -> Option<String> {
    let lines: Vec<String> = required
        .iter()
        .filter(|r| {
            !state.databases.iter().any(|db| {
                db.name == r.cluster
                    && match r.kind {
                        MemberKind::User => db.users.contains(&r.name),
                        MemberKind::Db => db.dbs.contains(&r.name),
                    }
            })
        })
        .map(
            |r| match state.databases.iter().any(|db| db.name == r.cluster) {
                true => format!("cluster {} has no {} {}", r.cluster, r.kind, r.name),
                false => format!(
                    "no cluster {} (wanted its {} {})",
                    r.cluster, r.kind, r.name
                ),
            },
        )
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// A user or db that must exist at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required {
    pub cluster: String,
    pub kind: MemberKind,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    User,
    Db,
}

impl std::fmt::Display for MemberKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MemberKind::User => "user",
            MemberKind::Db => "db",
        })
    }
}

/// Parses `CLUSTER/NAME`, the value of `--require-db-user` and `--require-db`.
pub fn parse_member(text: &str) -> Result<(String, String), String> {
    match text.split_once('/') {
        Some((cluster, name)) if !cluster.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((cluster.to_owned(), name.to_owned()))
        }
        _ => Err(format!(
            "`{text}` is not CLUSTER/NAME: give the cluster's name and the user's or db's, as in `ledger/app`"
        )),
    }
}

fn duplicate_droplets(state: &dosim::CloudState) -> Option<String> {
    let mut by_name: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for droplet in &state.droplets {
        by_name
            .entry(droplet.name.as_str())
            .or_default()
            .push(droplet.id.to_string());
    }
    let lines: Vec<String> = by_name
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(name, ids)| format!("{} droplets named {name}: {}", ids.len(), ids.join(", ")))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

fn duplicate_volumes(state: &dosim::CloudState) -> Option<String> {
    let mut lines = Vec::new();
    for volume in &state.volumes {
        let others: Vec<String> = state
            .volumes
            .iter()
            .filter(|other| {
                other.id != volume.id
                    && other.region == volume.region
                    && other.name.starts_with(volume.name.as_str())
            })
            .map(|other| format!("{} ({})", other.name, other.id))
            .collect();
        if !others.is_empty() {
            lines.push(format!(
                "volume {} ({}) in {} has namesakes: {}",
                volume.name,
                volume.id,
                volume.region,
                others.join(", ")
            ));
        }
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Droplets and volumes created by a request whose response never reached the program, still
/// there at the end, that no later request names.
fn orphans(state: &dosim::CloudState, history: &[dosim_api::HistoryEntry]) -> Option<String> {
    let unheard = |entry: &dosim_api::HistoryEntry| {
        entry.client_gone
            || matches!(
                entry.fault,
                Some(dosim_api::faults::InjectedFault::DropResponse { .. })
            )
    };
    let mut lines = Vec::new();
    for entry in history {
        if entry.method != "POST" || !(200..300).contains(&entry.status) || !unheard(entry) {
            continue;
        }
        let Some(summary) = &entry.summary else {
            continue;
        };
        let created: Vec<(&str, String)> = if let Some(ids) = summary.strip_prefix("droplet ") {
            ids.split(',')
                .map(|id| ("droplet", id.trim().to_owned()))
                .collect()
        } else if let Some(id) = summary.strip_prefix("volume ") {
            vec![("volume", id.trim().to_owned())]
        } else {
            continue;
        };
        for (kind, id) in created {
            let exists = match kind {
                "droplet" => state
                    .droplets
                    .iter()
                    .any(|droplet| droplet.id.to_string() == id),
                _ => state.volumes.iter().any(|volume| volume.id == id),
            };
            let named_later = history
                .iter()
                .any(|later| later.seq > entry.seq && later.path.contains(id.as_str()));
            if exists && !named_later {
                lines.push(format!(
                    "{kind} {id}, created by {} {} (request {}), whose response was lost, is never named again",
                    entry.method, entry.path, entry.request_id
                ));
            }
        }
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}
