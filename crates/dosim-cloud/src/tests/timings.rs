//! Timings: provisioning and action times fixed or drawn from a distribution, and what a drawn
//! timing does to the seed's other draws.

use super::fixture::{create, pg_cluster, SEED};
use crate::*;

/// Creates three droplets, powers them off by tag and one on again, under `config`; returns the
/// account and how long each action was given, in creation order.
fn run(config: CloudConfig) -> (Cloud, Vec<u64>) {
    let mut cloud = Cloud::new(config, SEED);
    let mut request = create(&["web-1", "web-2", "web-3"], "nyc3");
    request.tags = vec!["web".into()];
    cloud.create_droplets(SimTime(0), request).unwrap();
    let ids: Vec<DropletId> = cloud.droplets_view().map(|d| d.id).collect();
    let later = SimTime(1_000_000);
    cloud
        .droplet_actions_by_tag(later, "web", DropletActionRequest::PowerOff)
        .unwrap();
    cloud
        .droplet_action(SimTime(2_000_000), ids[1], DropletActionRequest::PowerOn)
        .unwrap();
    let durations = cloud
        .actions_view()
        .map(|a| a.deadline.0 - a.started_at.0)
        .collect();
    (cloud, durations)
}

/// The account's state without its configuration, and its next draws, for comparing runs.
fn fingerprint(mut cloud: Cloud) -> (serde_json::Value, DatabaseId) {
    let mut dump = serde_json::to_value(&cloud).unwrap();
    dump.as_object_mut().unwrap().remove("config");
    let probe = pg_cluster("probe", "nyc1");
    let next = cloud.create_database(cloud.now(), probe).unwrap().id;
    (dump, next)
}

#[track_caller]
fn check(
    provision: Option<Delay>,
    action: Option<Delay>,
    same_as_default: bool,
    in_range: (u64, u64),
) {
    let config = CloudConfig {
        droplet_provision: provision.clone(),
        droplet_action: action.clone(),
        ..CloudConfig::default()
    };
    let (cloud, durations) = run(config.clone());
    let (again, durations_again) = run(config);
    assert_eq!(
        durations, durations_again,
        "the same seed draws the same times"
    );
    assert_eq!(fingerprint(cloud.clone()), fingerprint(again));
    let (default, _) = run(CloudConfig::default());
    assert_eq!(
        fingerprint(cloud) == fingerprint(default),
        same_as_default,
        "{provision:?}, {action:?}: whether the seed replays as without timings"
    );
    for ms in durations {
        assert!(
            (in_range.0..=in_range.1).contains(&ms),
            "{provision:?}, {action:?}: {ms} ms"
        );
    }
}

#[test]
fn timings() {
    // Fixed values never draw, so every id and address is the default's.
    check(
        Some(Delay::Fixed { fixed_ms: 30_000 }),
        Some(Delay::Millis(10_000)),
        true,
        (10_000, 30_000),
    );
    check(None, None, true, (10_000, 30_000));
    // Distributions draw from the account's RNG, after everything the request already drew.
    check(
        Some(Delay::Uniform {
            min_ms: 20_000,
            max_ms: 60_000,
        }),
        None,
        false,
        (10_000, 60_000),
    );
    check(
        None,
        Some(Delay::Exponential {
            mean_ms: 5_000,
            max_ms: 8_000,
        }),
        false,
        (0, 30_000),
    );
}

#[test]
fn drawn_times_differ_between_droplets() {
    let config = CloudConfig {
        droplet_provision: Some(Delay::Uniform {
            min_ms: 1,
            max_ms: 1_000_000,
        }),
        ..CloudConfig::default()
    };
    let (_, durations) = run(config);
    assert!(
        durations[0] != durations[1] || durations[1] != durations[2],
        "{durations:?}"
    );
}

#[test]
fn timings_scale_and_parse() {
    let mut config: CloudConfig = serde_json::from_str(
        r#"{"droplet_provision": {"min_ms": 1000, "max_ms": 3000}, "droplet_action": 500}"#,
    )
    .unwrap();
    assert_eq!(
        config.droplet_provision,
        Some(Delay::Uniform {
            min_ms: 1000,
            max_ms: 3000
        })
    );
    assert_eq!(config.droplet_action, Some(Delay::Millis(500)));
    assert_eq!(
        config.droplet_provision_ms, 30_000,
        "the rest is the default"
    );
    config.scale_times(0.5);
    assert_eq!(
        config.droplet_provision,
        Some(Delay::Uniform {
            min_ms: 500,
            max_ms: 1500
        })
    );
    assert_eq!(config.droplet_action, Some(Delay::Millis(250)));
    assert_eq!(config.droplet_provision_ms, 15_000);
}
