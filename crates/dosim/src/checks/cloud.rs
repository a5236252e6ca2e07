//! Built-in checks over the cloud's final state, the actors' results and their beliefs.

use std::collections::{BTreeMap, BTreeSet};

use super::{Check, Violation};
use crate::outcome::ActorResult;

/// Every actor finished and returned `Ok`, except those a scenario's
/// [`crate::ActorFault::crash`] left down: a deliberate crash is not a failure of the actor's
/// code. Add [`no_crashed_actors`] to count it as one.
pub fn actors_ok() -> Check {
    const NAME: &str = "every actor finished Ok";
    Check::new(NAME, |outcome| {
        let failed: Vec<_> = outcome
            .actors
            .iter()
            .filter(|actor| !matches!(actor.result, ActorResult::Ok | ActorResult::Crashed))
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        let message = failed
            .iter()
            .map(|actor| match &actor.result {
                ActorResult::Ok | ActorResult::Crashed => unreachable!("filtered out above"),
                ActorResult::Err { message } => format!("{} failed: {message}", actor.name),
                ActorResult::Panicked { message } => format!("{} panicked: {message}", actor.name),
                ActorResult::Unfinished => {
                    format!("{} did not finish before the run's time limit", actor.name)
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        Err(Violation::new(NAME, message).resources(failed.iter().map(|actor| actor.name.clone())))
    })
}

/// No actor was left down by a crash: with [`actors_ok`], every actor's last incarnation
/// finished `Ok`.
pub fn no_crashed_actors() -> Check {
    const NAME: &str = "no actor left crashed";
    Check::new(NAME, |outcome| {
        let crashed: Vec<String> = outcome
            .actors
            .iter()
            .filter(|actor| actor.result == ActorResult::Crashed)
            .map(|actor| actor.name.clone())
            .collect();
        if crashed.is_empty() {
            return Ok(());
        }
        Err(Violation::new(
            NAME,
            format!("{} crashed and did not restart", crashed.join(", ")),
        )
        .resources(crashed))
    })
}

/// No two droplets share a name (one logical create made one droplet).
pub fn no_duplicate_droplets_by_name() -> Check {
    const NAME: &str = "no duplicate droplets by name";
    Check::new(NAME, |outcome| {
        let mut by_name: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for droplet in &outcome.final_state.droplets {
            by_name
                .entry(droplet.name.as_str())
                .or_default()
                .push(droplet.id);
        }
        duplicates(NAME, "named", by_name)
    })
}

/// No two droplets share a tag starting with `prefix` (the tag a logical create carries).
pub fn no_duplicate_droplets_by_tag(prefix: impl Into<String>) -> Check {
    let prefix = prefix.into();
    Check::new(
        format!("no duplicate droplets by tag {prefix}"),
        move |outcome| {
            let mut by_tag: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
            for droplet in &outcome.final_state.droplets {
                for tag in droplet
                    .tags
                    .iter()
                    .filter(|tag| tag.starts_with(prefix.as_str()))
                {
                    by_tag.entry(tag.as_str()).or_default().push(droplet.id);
                }
            }
            duplicates(
                &format!("no duplicate droplets by tag {prefix}"),
                "tagged",
                by_tag,
            )
        },
    )
}

fn duplicates(check: &str, how: &str, groups: BTreeMap<&str, Vec<u64>>) -> Result<(), Violation> {
    let duplicated: Vec<_> = groups
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .collect();
    if duplicated.is_empty() {
        return Ok(());
    }
    let message = duplicated
        .iter()
        .map(|(key, ids)| {
            format!(
                "{} droplets {how} {key}: {}",
                ids.len(),
                ids.iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let resources = duplicated
        .iter()
        .flat_map(|(_, ids)| ids.iter().map(|id| format!("droplet {id}")));
    Err(Violation::new(check, message).resources(resources.collect::<Vec<_>>()))
}

/// At most one volume called `name` exists in `region`, counting names that start with
/// `name` too, since check-then-create code that loses often retries under a new name.
pub fn unique_volume_name(name: impl Into<String>, region: impl Into<String>) -> Check {
    let (name, region) = (name.into(), region.into());
    Check::new(
        format!("at most one volume {name} in {region}"),
        move |outcome| {
            let matching: Vec<_> = outcome
                .final_state
                .volumes
                .iter()
                .filter(|volume| volume.region == region && volume.name.starts_with(name.as_str()))
                .collect();
            if matching.len() <= 1 {
                return Ok(());
            }
            let names = matching
                .iter()
                .map(|volume| format!("{} ({})", volume.name, crate::history::short(&volume.id)))
                .collect::<Vec<_>>();
            Err(Violation::new(
                format!("at most one volume {name} in {region}"),
                format!(
                    "{} volumes for {name} in {region}: {}",
                    matching.len(),
                    names.join(", ")
                ),
            )
            .resources(
                matching
                    .iter()
                    .map(|volume| format!("volume {}", volume.id))
                    .collect::<Vec<_>>(),
            ))
        },
    )
}

/// Every resource the run created is known to some actor: it appeared in a successful
/// response one of them received. A create whose response was lost, and that nobody found
/// again, leaves an orphan that costs money and that no code will ever clean up.
pub fn no_orphans() -> Check {
    const NAME: &str = "no orphaned resources";
    Check::new(NAME, |outcome| {
        let initial: BTreeSet<String> =
            outcome.initial_state.resource_names().into_iter().collect();
        let known = outcome.known_resources();
        let orphans: Vec<String> = outcome
            .final_state
            .resource_names()
            .into_iter()
            .filter(|resource| !initial.contains(resource) && !known.contains(resource))
            .collect();
        if orphans.is_empty() {
            return Ok(());
        }
        let message = format!(
            "created during the run but never seen by any actor: {}",
            orphans
                .iter()
                .map(|resource| short_resource(resource))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Err(Violation::new(NAME, message).resources(orphans))
    })
}

/// Every volume the run created ends attached to a droplet.
pub fn no_unattached_volumes() -> Check {
    const NAME: &str = "no unattached volumes";
    Check::new(NAME, |outcome| {
        let initial: BTreeSet<String> = outcome
            .initial_state
            .volumes
            .iter()
            .map(|volume| volume.id.clone())
            .collect();
        let leaked: Vec<_> = outcome
            .final_state
            .volumes
            .iter()
            .filter(|volume| volume.droplet_ids.is_empty() && !initial.contains(&volume.id))
            .collect();
        if leaked.is_empty() {
            return Ok(());
        }
        let names = leaked
            .iter()
            .map(|volume| format!("{} ({})", volume.name, crate::history::short(&volume.id)))
            .collect::<Vec<_>>();
        Err(Violation::new(
            NAME,
            format!("volumes left attached to nothing: {}", names.join(", ")),
        )
        .resources(
            leaked
                .iter()
                .map(|volume| format!("volume {}", volume.id))
                .collect::<Vec<_>>(),
        ))
    })
}

/// The reserved IP has one owner, and the actors agree with the cloud about who it is.
///
/// Actors state their view with `cx.believe(key, droplet_id)` (and `cx.forget(key)` when they
/// step down). At the end, the actors still holding a belief must all name the same droplet,
/// and that droplet must be the one a reserved IP is actually assigned to.
pub fn reserved_ip_single_owner(key: impl Into<String>) -> Check {
    let key = key.into();
    let name = format!("one owner of the reserved IP ({key})");
    Check::new(name.clone(), move |outcome| {
        let beliefs: BTreeMap<String, String> = outcome
            .beliefs_about(&key)
            .into_iter()
            .filter_map(|(actor, value)| Some((actor, value?)))
            .collect();
        let believed: BTreeSet<&str> = beliefs.values().map(String::as_str).collect();
        let describe = || {
            beliefs
                .iter()
                .map(|(actor, value)| format!("{actor} believes droplet {value} owns it"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if believed.len() > 1 {
            let resources: Vec<String> = beliefs
                .keys()
                .cloned()
                .chain(believed.iter().map(|id| format!("droplet {id}")))
                .collect();
            return Err(Violation::new(
                &name,
                format!(
                    "{} hosts believe they own it: {}",
                    beliefs.len(),
                    describe()
                ),
            )
            .resources(resources));
        }
        let Some(owner) = believed.into_iter().next() else {
            return Ok(());
        };
        let assigned: Vec<_> = outcome
            .final_state
            .reserved_ips
            .iter()
            .filter(|reserved_ip| {
                reserved_ip.droplet_id.map(|id| id.to_string()).as_deref() == Some(owner)
            })
            .collect();
        if !assigned.is_empty() {
            return Ok(());
        }
        let actual = outcome
            .final_state
            .reserved_ips
            .iter()
            .map(|reserved_ip| {
                format!(
                    "{} is assigned to {}",
                    reserved_ip.ip,
                    reserved_ip
                        .droplet_id
                        .map_or("nothing".to_owned(), |id| format!("droplet {id}"))
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut resources: Vec<String> = outcome
            .final_state
            .reserved_ips
            .iter()
            .map(|reserved_ip| format!("reserved_ip {}", reserved_ip.ip))
            .collect();
        resources.push(format!("droplet {owner}"));
        Err(Violation::new(
            &name,
            format!(
                "{}, but {}",
                describe(),
                if actual.is_empty() {
                    "no reserved IP exists".to_owned()
                } else {
                    actual
                }
            ),
        )
        .resources(resources))
    })
}

fn short_resource(resource: &str) -> String {
    match resource.split_once(' ') {
        Some((kind, id)) => format!("{kind} {}", crate::history::short(id)),
        None => resource.to_owned(),
    }
}
