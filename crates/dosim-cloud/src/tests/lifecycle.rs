//! Lifecycles: time, locks, moves, the effects of deletes, failures, and determinism.

use super::fixture::{create, pg_cluster, volume, world, World, SEED};
use crate::*;
use std::fmt::Debug;

/// Compares what the account shows with what DigitalOcean would show.
#[track_caller]
fn check<T: PartialEq + Debug>(actual: T, expected: T) {
    assert_eq!(actual, expected);
}

fn status(cloud: &mut Cloud, id: DropletId, at: SimTime) -> (DropletStatus, bool, bool) {
    let d = cloud.droplet(at, id).unwrap();
    (d.status, d.locked, d.pending_action.is_some())
}

#[test]
fn rfc3339_renders_from_the_fixed_epoch() {
    check(SimTime(0).rfc3339(), "2026-01-01T00:00:00Z".to_string());
    check(SimTime(5_999).rfc3339(), "2026-01-01T00:00:05Z".to_string());
    check(
        SimTime::from_secs(86_400 * 59 + 3_661).rfc3339(),
        "2026-03-01T01:01:01Z".to_string(),
    );
    // 2028 is a leap year: day 365 + 365 + 59 after the epoch is 29 February.
    check(
        SimTime::from_secs(86_400 * (365 + 365 + 59)).rfc3339(),
        "2028-02-29T00:00:00Z".to_string(),
    );
    check(
        SimTime::from_secs(86_400 * 365 - 1).rfc3339(),
        "2026-12-31T23:59:59Z".to_string(),
    );
    check(SimTime(0).unix_secs(), 1_767_225_600);
}

#[test]
fn a_droplet_is_new_and_blocked_until_its_create_action_completes() {
    let mut cloud = Cloud::new(CloudConfig::default(), SEED);
    let (id, action_id) = cloud
        .create_droplets(SimTime(0), create(&["web"], "nyc3"))
        .unwrap()[0];
    let mut w = World {
        cloud,
        now: SimTime(0),
        web1: id,
        web2: id,
        far: id,
        data: VolumeId(uuid::Uuid::nil()),
        far_data: VolumeId(uuid::Uuid::nil()),
        ip: std::net::Ipv4Addr::UNSPECIFIED,
    };
    // The wire shows a new droplet unlocked, as the spec's example does, but its create action still blocks others.
    check(
        status(&mut w.cloud, id, SimTime(0)),
        (DropletStatus::New, false, true),
    );
    check(w.cloud.next_deadline(), Some(SimTime(30_000)));
    check(
        w.cloud.droplet(SimTime(29_999), id).unwrap().networks,
        Networks::default(),
    );
    check(
        w.cloud.action(SimTime(29_999), action_id).unwrap().status,
        ActionStatus::InProgress,
    );
    check(
        status(&mut w.cloud, id, SimTime(30_000)),
        (DropletStatus::Active, false, false),
    );
    let droplet = w.cloud.droplet(SimTime(30_000), id).unwrap();
    check(droplet.networks.v4.len(), 2);
    check(
        droplet
            .public_ipv4()
            .is_some_and(|ip| droplet.region().owns(ip)),
        true,
    );
    let action = w.cloud.action(SimTime(30_000), action_id).unwrap();
    check(
        (
            action.status,
            action.completed_at,
            action.action_type,
            action.resource_id,
        ),
        (
            ActionStatus::Completed,
            Some(SimTime(30_000)),
            "create",
            Some(id.0),
        ),
    );
    check(w.cloud.next_deadline(), None);
}

#[test]
fn power_actions_lock_the_droplet_and_apply_when_they_complete() {
    let mut w = world(CloudConfig::default());
    let t = w.now;
    let action_id = w
        .cloud
        .droplet_action(t, w.web1, DropletActionRequest::PowerOff)
        .unwrap();
    check(
        status(&mut w.cloud, w.web1, t),
        (DropletStatus::Active, true, true),
    );
    check(
        status(&mut w.cloud, w.web1, t.plus_ms(10_000)),
        (DropletStatus::Off, false, false),
    );
    check(
        w.cloud
            .droplet_actions(t.plus_ms(10_000), w.web1)
            .unwrap()
            .last()
            .map(|a| (a.id, a.status)),
        Some((action_id, ActionStatus::Completed)),
    );
    w.cloud
        .droplet_action(
            t.plus_ms(10_000),
            w.web1,
            DropletActionRequest::Resize {
                size: "s-2vcpu-4gb".into(),
                disk: true,
            },
        )
        .unwrap();
    w.cloud.advance(t.plus_ms(20_000));
    w.cloud
        .droplet_action(t.plus_ms(20_000), w.web1, DropletActionRequest::PowerOn)
        .unwrap();
    let droplet = w.cloud.droplet(t.plus_ms(30_000), w.web1).unwrap();
    check(
        (droplet.status, droplet.size().slug, droplet.size().memory),
        (DropletStatus::Active, "s-2vcpu-4gb", 4096),
    );
}

#[test]
fn reserved_ip_assign_locks_both_and_moves_on_completion() {
    let mut w = world(CloudConfig::default());
    let t = w.now;
    w.cloud
        .reserved_ip_action(t, w.ip, ReservedIpAction::Assign { droplet_id: w.web1 })
        .unwrap();
    let ip = w.cloud.reserved_ip(t, w.ip).unwrap();
    check((ip.droplet_id, ip.locked), (None, true));
    check(
        status(&mut w.cloud, w.web1, t),
        (DropletStatus::Active, true, true),
    );
    let t = t.plus_ms(3_000);
    let ip = w.cloud.reserved_ip(t, w.ip).unwrap();
    check((ip.droplet_id, ip.locked), (Some(w.web1), false));
    // A move is a plain assign; until it completes the address still points at the old droplet.
    let move_id = w
        .cloud
        .reserved_ip_action(t, w.ip, ReservedIpAction::Assign { droplet_id: w.web2 })
        .unwrap();
    check(
        w.cloud
            .reserved_ip(t.plus_ms(2_999), w.ip)
            .unwrap()
            .droplet_id,
        Some(w.web1),
    );
    check(
        w.cloud
            .reserved_ip(t.plus_ms(3_000), w.ip)
            .unwrap()
            .droplet_id,
        Some(w.web2),
    );
    let action = w.cloud.action(t.plus_ms(3_000), move_id).unwrap();
    check(
        (action.action_type, action.resource_type, action.resource_id),
        (
            "assign_ip",
            ResourceType::ReservedIp,
            Some(u64::from(u32::from(w.ip))),
        ),
    );
    check(
        w.cloud
            .reserved_ip_actions(t.plus_ms(3_000), w.ip)
            .unwrap()
            .len(),
        2,
    );
}

#[test]
fn reserved_ip_created_for_a_droplet_is_assigned_by_its_action() {
    let mut w = world(CloudConfig::default());
    let t = w.now;
    let created = w
        .cloud
        .create_reserved_ip(
            t,
            ReservedIpCreate {
                droplet_id: Some(w.web1),
                ..ReservedIpCreate::default()
            },
        )
        .unwrap();
    check(created.droplet_id, Some(w.web1));
    let ip = w.cloud.reserved_ip(t, created.ip).unwrap();
    check(
        (ip.droplet_id, ip.locked, ip.region.as_str()),
        (None, true, "nyc3"),
    );
    let ip = w.cloud.reserved_ip(t.plus_ms(3_000), created.ip).unwrap();
    check((ip.droplet_id, ip.locked), (Some(w.web1), false));
    check(
        w.cloud
            .action(t.plus_ms(3_000), created.action_id.unwrap())
            .unwrap()
            .project_id,
        Some(w.cloud.default_project_id()),
    );
}

#[test]
fn destroying_a_droplet_detaches_volumes_unassigns_ips_and_ends_its_actions() {
    let mut w = world(CloudConfig::default());
    let t = w.now;
    w.cloud
        .volume_action(
            t,
            VolumeActionTarget::Id(w.data),
            VolumeAction::Attach { droplet_id: w.web1 },
        )
        .unwrap();
    let t = t.plus_ms(3_000);
    let assign = w
        .cloud
        .reserved_ip_action(t, w.ip, ReservedIpAction::Assign { droplet_id: w.web1 })
        .unwrap();
    w.cloud.delete_droplet(t, w.web1).unwrap();
    check(
        w.cloud.droplet(t, w.web1).map(|d| d.id),
        Err(Error::new(ErrorKind::NotFound, msg::NOT_FOUND)),
    );
    check(w.cloud.volume(t, w.data).unwrap().droplet_ids, vec![]);
    let ip = w.cloud.reserved_ip(t, w.ip).unwrap();
    check((ip.droplet_id, ip.locked), (None, false));
    check(
        w.cloud.action(t, assign).unwrap().status,
        ActionStatus::Errored,
    );
    let last = w.cloud.actions(t).last().cloned().unwrap();
    check(
        (last.action_type, last.status, last.resource_id),
        ("destroy", ActionStatus::Completed, Some(w.web1.0)),
    );
    // Nothing that was pending for the droplet fires later.
    w.cloud.advance(t.plus_ms(60_000));
    check(
        w.cloud
            .reserved_ip(t.plus_ms(60_000), w.ip)
            .unwrap()
            .droplet_id,
        None,
    );
    w.cloud.delete_volume(t.plus_ms(60_000), w.data).unwrap();
}

#[test]
fn volume_actions_apply_at_commit_and_complete_later() {
    let mut w = world(CloudConfig::default());
    let t = w.now;
    let id = w
        .cloud
        .volume_action(
            t,
            VolumeActionTarget::Name {
                name: "data".into(),
                region: None,
            },
            VolumeAction::Attach { droplet_id: w.web1 },
        )
        .unwrap();
    check(w.cloud.volume(t, w.data).unwrap().droplet_ids, vec![w.web1]);
    check(w.cloud.droplet(t, w.web1).unwrap().volume_ids, vec![w.data]);
    let action = w.cloud.action(t, id).unwrap();
    check(
        (
            action.status,
            action.action_type,
            action.resource_type,
            action.resource_id,
        ),
        (
            ActionStatus::InProgress,
            "attach_volume",
            ResourceType::Volume,
            None,
        ),
    );
    check(
        w.cloud.action(t.plus_ms(3_000), id).unwrap().status,
        ActionStatus::Completed,
    );
    w.cloud
        .volume_action(
            t.plus_ms(3_000),
            VolumeActionTarget::Id(w.data),
            VolumeAction::Resize { size_gigabytes: 20 },
        )
        .unwrap();
    check(
        w.cloud
            .volume(t.plus_ms(3_000), w.data)
            .unwrap()
            .size_gigabytes,
        20,
    );
    check(
        w.cloud
            .volume_actions(t.plus_ms(3_000), w.data)
            .unwrap()
            .len(),
        2,
    );
}

#[test]
fn zero_durations_complete_actions_in_the_response() {
    let mut w = world(CloudConfig {
        volume_action_ms: 0,
        reserved_ip_action_ms: 0,
        ..CloudConfig::default()
    });
    let t = w.now;
    let id = w
        .cloud
        .volume_action(
            t,
            VolumeActionTarget::Id(w.data),
            VolumeAction::Attach { droplet_id: w.web1 },
        )
        .unwrap();
    check(
        w.cloud.action(t, id).unwrap().status,
        ActionStatus::Completed,
    );
    check(
        status(&mut w.cloud, w.web1, t),
        (DropletStatus::Active, false, false),
    );
    w.cloud
        .reserved_ip_action(t, w.ip, ReservedIpAction::Assign { droplet_id: w.web1 })
        .unwrap();
    check(
        w.cloud.reserved_ip(t, w.ip).unwrap().droplet_id,
        Some(w.web1),
    );
}

#[test]
fn a_failed_create_removes_the_droplet_and_frees_its_volume() {
    let mut cloud = Cloud::new(
        CloudConfig {
            action_error_probability: 1.0,
            ..CloudConfig::default()
        },
        SEED,
    );
    let volume_id = cloud
        .create_volume(SimTime(0), volume("boot", "nyc3"))
        .unwrap()
        .id;
    let req = DropletCreate {
        volumes: vec![VolumeRef::Id(volume_id.to_string())],
        ..create(&["doomed"], "nyc3")
    };
    let (id, action_id) = cloud.create_droplets(SimTime(0), req).unwrap()[0];
    check(
        cloud.volume(SimTime(0), volume_id).unwrap().droplet_ids,
        vec![id],
    );
    check(
        cloud.action(SimTime(30_000), action_id).unwrap().status,
        ActionStatus::Errored,
    );
    check(cloud.droplet(SimTime(30_000), id).is_err(), true);
    check(
        cloud
            .volume(SimTime(30_000), volume_id)
            .unwrap()
            .droplet_ids,
        vec![],
    );
}

#[test]
fn databases_come_online_after_provisioning() {
    let mut cloud = Cloud::new(CloudConfig::default(), SEED);
    let req = pg_cluster("backend", "nyc3");
    let db = cloud.create_database(SimTime(0), req).unwrap();
    check(
        (db.status, db.version.as_str(), db.db_names.clone()),
        (
            DatabaseStatus::Creating,
            "17",
            vec!["defaultdb".to_string()],
        ),
    );
    let admin = db.primary_user().clone();
    check(
        (
            admin.name.as_str(),
            admin.role,
            admin.password.starts_with("AVNS_"),
        ),
        ("doadmin", DatabaseUserRole::Primary, true),
    );
    let host = format!(
        "backend-do-user-{}-0.db.ondigitalocean.com",
        cloud.account().account_number
    );
    let connection = db.connection();
    check(
        connection.uri.clone(),
        format!(
            "postgres://doadmin:{}@{host}:25060/defaultdb?sslmode=require",
            admin.password
        ),
    );
    check(
        (connection.host.clone(), connection.port, connection.ssl),
        (host.clone(), 25060, true),
    );
    check(db.private_connection().host, format!("private-{host}"));
    check(
        cloud.database(SimTime(299_999), db.id).unwrap().status,
        DatabaseStatus::Creating,
    );
    check(
        cloud.database(SimTime(300_000), db.id).unwrap().status,
        DatabaseStatus::Online,
    );
    cloud
        .create_database_user(SimTime(300_000), db.id, "app")
        .unwrap();
    let pool = cloud
        .create_database_pool(
            SimTime(300_000),
            db.id,
            PoolCreate {
                name: "app-pool".into(),
                mode: "transaction".into(),
                size: 10,
                db: "defaultdb".into(),
                user: Some("app".into()),
            },
        )
        .unwrap();
    let db = cloud.database(SimTime(300_000), db.id).unwrap();
    let pool_connection = db.pool_connection(&pool);
    check(
        (
            pool_connection.port,
            pool_connection.user.as_str(),
            pool_connection.database.as_str(),
        ),
        (25061, "app", "app-pool"),
    );
}

#[test]
fn listing_filters_by_name_ignoring_case_and_by_tag() {
    let mut w = world(CloudConfig::default());
    let t = w.now;
    w.cloud
        .create_droplets(
            t,
            DropletCreate {
                tags: vec!["web".into()],
                ..create(&["WEB-1"], "nyc3")
            },
        )
        .unwrap();
    let names = |ds: Vec<Droplet>| ds.into_iter().map(|d| d.name).collect::<Vec<_>>();
    check(
        names(w.cloud.droplets(
            t,
            DropletFilter {
                name: Some("web-1".into()),
                tag_name: None,
            },
        )),
        vec!["web-1".to_string(), "WEB-1".to_string()],
    );
    check(
        names(w.cloud.droplets(
            t,
            DropletFilter {
                tag_name: Some("web".into()),
                name: None,
            },
        )),
        vec!["WEB-1".to_string()],
    );
    check(
        w.cloud
            .volumes(
                t,
                VolumeFilter {
                    name: None,
                    region: Some("sfo3".into()),
                },
            )
            .len(),
        1,
    );
}

#[test]
fn time_never_goes_backwards() {
    let mut w = world(CloudConfig::default());
    let t = w.now;
    w.cloud
        .droplet_action(t, w.web1, DropletActionRequest::PowerOff)
        .unwrap();
    w.cloud.advance(t.plus_ms(10_000));
    // A late caller with an older clock reading sees the latest state, not the past.
    check(
        status(&mut w.cloud, w.web1, t),
        (DropletStatus::Off, false, false),
    );
    check(w.cloud.now(), t.plus_ms(10_000));
}

#[test]
fn the_action_history_is_capped_keeping_actions_in_progress() {
    let mut w = world(CloudConfig {
        actions_max: 4,
        ..CloudConfig::default()
    });
    let t = w.now;
    for n in 0..3 {
        w.cloud
            .droplet_action(t.plus_ms(n * 10_000), w.web1, DropletActionRequest::Reboot)
            .unwrap();
    }
    let actions = w.cloud.actions(t.plus_ms(20_000));
    check(actions.len(), 4);
    check(
        actions.last().map(|a| a.status),
        Some(ActionStatus::InProgress),
    );
}

#[test]
fn a_run_depends_on_its_seed_alone() {
    let run = |seed: u64| {
        let mut cloud = Cloud::new(CloudConfig::default(), seed);
        cloud
            .create_droplets(SimTime(0), create(&["a", "b"], "nyc3"))
            .unwrap();
        cloud
            .create_volume(SimTime(10), volume("v", "nyc3"))
            .unwrap();
        cloud
            .create_reserved_ip(
                SimTime(20),
                ReservedIpCreate {
                    region: Some("nyc3".into()),
                    ..ReservedIpCreate::default()
                },
            )
            .unwrap();
        cloud.advance(SimTime(60_000));
        serde_json::to_value(&cloud).unwrap()
    };
    check(run(1), run(1));
    let (a, b) = (run(1), run(2));
    check(a["droplets"] == b["droplets"], false);
    check(a["reserved_ips"] == b["reserved_ips"], false);
    check(a["volumes"] == b["volumes"], false);
}

#[test]
fn ids_and_addresses_look_like_digitaloceans_and_never_repeat() {
    let mut cloud = Cloud::new(
        CloudConfig {
            droplet_limit: 200,
            ..CloudConfig::default()
        },
        SEED,
    );
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.extend(
            cloud
                .create_droplets(SimTime(n), create(&["a"; 10], "nyc1"))
                .unwrap(),
        );
    }
    cloud.advance(SimTime(60_000));
    check(
        ids.windows(2)
            .all(|p| p[1].0 .0 == p[0].0 .0 + 1 && p[1].1 .0 == p[0].1 .0 + 1),
        true,
    );
    check((316_400_000..316_500_000).contains(&ids[0].0 .0), true);
    let mut addresses: Vec<_> = cloud
        .droplets_view()
        .flat_map(|d| d.networks.v4.iter().map(|n| n.ip_address))
        .collect();
    let n_addresses = addresses.len();
    addresses.sort();
    addresses.dedup();
    check((n_addresses, addresses.len()), (400, 400));
}

/// A droplet's action list shows the attach and the assign that lock it per the configured choice.
#[test]
fn locking_actions_are_listed_on_the_droplet_as_configured() {
    // (choice, types listed while both run, types listed after both finished)
    let cases: [(LockingActionsListed, &[&str], &[&str]); 3] = [
        (LockingActionsListed::WhileRunning, &["attach_volume"], &[]),
        (
            LockingActionsListed::Always,
            &["attach_volume"],
            &["attach_volume", "assign_ip"],
        ),
        (LockingActionsListed::Never, &[], &[]),
    ];
    for (listed, running, finished) in cases {
        let config = CloudConfig {
            locking_actions_listed: listed,
            ..CloudConfig::default()
        };
        let mut w = world(config);
        let t = w.now;
        let types = |cloud: &mut Cloud, at: SimTime, id: DropletId| -> Vec<&'static str> {
            cloud
                .droplet_actions(at, id)
                .unwrap()
                .into_iter()
                .filter(|a| a.resource_type != ResourceType::Droplet)
                .map(|a| a.action_type)
                .collect()
        };
        w.cloud
            .volume_action(
                t,
                VolumeActionTarget::Id(w.data),
                VolumeAction::Attach { droplet_id: w.web1 },
            )
            .unwrap();
        check(types(&mut w.cloud, t, w.web1), running.to_vec());
        // The other droplet's list never shows it.
        check(types(&mut w.cloud, t, w.web2), Vec::new());
        let later = t.plus_ms(10_000);
        w.cloud
            .reserved_ip_action(later, w.ip, ReservedIpAction::Assign { droplet_id: w.web1 })
            .unwrap();
        let done = later.plus_ms(10_000);
        check(types(&mut w.cloud, done, w.web1), finished.to_vec());
    }
}
