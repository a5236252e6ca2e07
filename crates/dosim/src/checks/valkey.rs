//! Checks over what actors believed about locks: at most one holder at any simulated instant.

use std::collections::BTreeSet;

use super::{Check, Violation};
use crate::report::seconds;

/// At most one actor believes `key` (a lock it holds, `Actor::believe(key, …)` until `Actor::forget(key)`) at any simulated instant.
///
/// Judged from the beliefs in the order they were recorded: after each change, the actors that hold a belief about `key` must be at most one.
pub fn single_holder(key: impl Into<String>) -> Check {
    let key = key.into();
    let name = format!("one holder of {key} at a time");
    Check::new(name.clone(), move |outcome| {
        let mut holders: BTreeSet<String> = BTreeSet::new();
        for belief in outcome.beliefs.iter().filter(|b| b.key == key) {
            if belief.value.is_some() {
                holders.insert(belief.actor.clone());
            } else {
                holders.remove(&belief.actor);
            }
            if holders.len() > 1 {
                let who: Vec<String> = holders.iter().cloned().collect();
                return Err(Violation::new(
                    &name,
                    format!(
                        "{} held {key} at once at {}",
                        who.join(" and "),
                        seconds(belief.at_ms)
                    ),
                )
                .resources(who));
            }
        }
        Ok(())
    })
}
