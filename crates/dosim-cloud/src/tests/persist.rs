//! An account saved and loaded mid-flight carries on exactly as the original: the same state,
//! the same ids and passwords drawn next.

use super::fixture::*;
use crate::*;

fn database() -> DatabaseCreate {
    DatabaseCreate {
        name: "ledger".into(),
        engine: "pg".into(),
        version: Some("16".into()),
        num_nodes: 1,
        size: "db-s-1vcpu-1gb".into(),
        region: "nyc3".into(),
        tags: vec![],
        storage_size_mib: None,
        private_network_uuid: None,
        project_id: None,
    }
}

/// Each step's JSON outcome, so that two accounts can be compared call by call.
fn carry_on(cloud: &mut Cloud, now: SimTime) -> Vec<String> {
    let mut seen = Vec::new();
    let later = SimTime(now.0 + 600_000);
    let created = cloud.create_droplets(later, create(&["after"], "nyc3"));
    seen.push(format!("{created:?}"));
    let db = cloud.create_database(later, database());
    seen.push(format!("{db:?}"));
    seen.push(format!(
        "{:?}",
        cloud.create_volume(later, volume("late", "nyc3"))
    ));
    seen.push(serde_json::to_string(&*cloud).unwrap());
    seen
}

#[test]
fn a_saved_account_loads_and_carries_on_as_the_original() {
    let World {
        mut cloud,
        now,
        web1,
        ..
    } = world(CloudConfig::default());
    // Work in flight when it is saved: an action and a cluster still creating.
    cloud
        .droplet_action(now, web1, DropletActionRequest::PowerOff)
        .unwrap();
    let db = cloud.create_database(now, database()).unwrap();
    cloud.create_database_user(now, db.id, "app").ok();

    let text = serde_json::to_string(&cloud.to_saved()).unwrap();
    let saved: SavedCloud = serde_json::from_str(&text).unwrap();
    let mut loaded = Cloud::from_saved(saved).unwrap();
    assert_eq!(
        serde_json::to_string(&loaded).unwrap(),
        serde_json::to_string(&cloud).unwrap()
    );
    assert_eq!(carry_on(&mut loaded, now), carry_on(&mut cloud, now));
}

/// A change that damages a saved account.
type Damage = fn(&mut serde_json::Value);

#[test]
fn a_damaged_save_is_refused() {
    let World { cloud, .. } = world(CloudConfig::default());
    let good = serde_json::to_value(cloud.to_saved()).unwrap();
    // (what is changed, the error it gives)
    let cases: Vec<(Damage, &str)> = vec![
        (|v| v["rng_seed"] = "zz".into(), "rng_seed"),
        (|v| v["rng_word_pos"] = "x".into(), "rng_word_pos"),
        (
            |v| {
                let actions = v["cloud"]["actions"].as_object_mut().unwrap();
                let first = actions.values_mut().next().unwrap();
                first["type"] = "brew".into();
            },
            "unknown action type",
        ),
        (
            |v| {
                let volumes = v["cloud"]["volumes"].as_object_mut().unwrap();
                let first = volumes.values_mut().next().unwrap();
                first["droplet_ids"] = serde_json::json!([12345]);
            },
            "12345",
        ),
    ];
    for (change, message) in cases {
        let mut damaged = good.clone();
        change(&mut damaged);
        let error = match serde_json::from_value::<SavedCloud>(damaged) {
            Err(e) => e.to_string(),
            Ok(saved) => Cloud::from_saved(saved).unwrap_err(),
        };
        assert!(error.contains(message), "{message}: {error}");
    }
}
