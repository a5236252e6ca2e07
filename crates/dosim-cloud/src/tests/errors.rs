//! Every refusal: its exact DigitalOcean message and error id, and that it leaves the account untouched.

use super::fixture::{create, volume, world, World};
use crate::*;
use std::fmt::Debug;
use std::net::Ipv4Addr;

/// Builds the fixture with `config` changed, runs `setup`, then expects `call` to fail with `id` and `message` and to change nothing.
#[track_caller]
fn check<T: Debug>(
    config: impl FnOnce(&mut CloudConfig),
    setup: impl FnOnce(&mut World),
    call: impl FnOnce(&mut World) -> Result<T, Error>,
    id: &str,
    message: &str,
) {
    let mut cloud_config = CloudConfig::default();
    config(&mut cloud_config);
    let mut w = world(cloud_config);
    setup(&mut w);
    w.cloud.advance(w.now);
    let before = w.cloud.clone();
    let before_json = serde_json::to_value(&w.cloud).unwrap();
    let error = call(&mut w).expect_err("the call should be refused");
    assert_eq!((error.id(), error.message.as_str()), (id, message));
    assert!(
        serde_json::to_value(&w.cloud).unwrap() == before_json,
        "a refusal changed the account"
    );
    // The RNG is not in the dump; the next draw shows whether the refusal consumed any of it.
    let mut before = before;
    let probe = DatabaseCreate {
        name: "probe".into(),
        engine: "pg".into(),
        num_nodes: 1,
        size: "db-s-1vcpu-1gb".into(),
        region: "nyc1".into(),
        ..DatabaseCreate::default()
    };
    let next = |c: &mut Cloud| {
        c.create_database(w.now, probe.clone())
            .map(|d| (d.id, d.primary_user().password.clone()))
    };
    assert_eq!(
        next(&mut w.cloud),
        next(&mut before),
        "a refusal drew from the RNG"
    );
}

fn none(_: &mut CloudConfig) {}
fn nothing(_: &mut World) {}

const NOT_FOUND: &str = "The resource you requested could not be found.";
const DROPLET_PENDING: &str = "Droplet already has a pending event.";
const IP_PENDING: &str = "The floating IP already has a pending event.";
const UNPROCESSABLE: &str = "unprocessable_entity";

fn region_ip(region: &str) -> ReservedIpCreate {
    ReservedIpCreate {
        region: Some(region.into()),
        ..ReservedIpCreate::default()
    }
}

fn attach(w: &mut World, volume_id: VolumeId, droplet_id: DropletId) -> Result<ActionId, Error> {
    w.cloud.volume_action(
        w.now,
        VolumeActionTarget::Id(volume_id),
        VolumeAction::Attach { droplet_id },
    )
}

fn new_droplet(w: &mut World) {
    w.cloud
        .create_droplets(w.now, create(&["fresh"], "nyc3"))
        .unwrap();
}

/// The droplet `new_droplet` made.
fn fresh(w: &World) -> DropletId {
    w.cloud
        .droplets_view()
        .find(|d| d.name == "fresh")
        .unwrap()
        .id
}

#[test]
fn unknown_resources_are_not_found() {
    check(
        none,
        nothing,
        |w| w.cloud.droplet(w.now, DropletId(1)),
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        nothing,
        |w| w.cloud.delete_droplet(w.now, DropletId(1)),
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud
                .droplet_action(w.now, DropletId(1), DropletActionRequest::PowerOn)
        },
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        nothing,
        |w| w.cloud.action(w.now, ActionId(1)),
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        nothing,
        |w| w.cloud.volume(w.now, VolumeId(uuid::Uuid::nil())),
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        nothing,
        |w| w.cloud.delete_volume_by_name(w.now, "data", "sfo3"),
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        nothing,
        |w| {
            let v = w.data;
            attach(w, v, DropletId(1))
        },
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        nothing,
        |w| w.cloud.reserved_ip(w.now, Ipv4Addr::new(1, 2, 3, 4)),
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        nothing,
        |w| w.cloud.delete_reserved_ip(w.now, Ipv4Addr::new(1, 2, 3, 4)),
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        nothing,
        |w| w.cloud.database(w.now, DatabaseId(uuid::Uuid::nil())),
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_volume(
                w.now,
                VolumeCreate {
                    snapshot_id: Some("123".into()),
                    ..volume("snap", "nyc3")
                },
            )
        },
        "not_found",
        NOT_FOUND,
    );
}

#[test]
fn a_droplet_being_created_refuses_actions_attachments_and_assignments() {
    check(
        none,
        new_droplet,
        |w| {
            w.cloud
                .droplet_action(w.now, fresh(w), DropletActionRequest::PowerOff)
        },
        UNPROCESSABLE,
        DROPLET_PENDING,
    );
    check(
        none,
        new_droplet,
        |w| {
            let (v, d) = (w.data, fresh(w));
            attach(w, v, d)
        },
        UNPROCESSABLE,
        DROPLET_PENDING,
    );
    check(
        none,
        new_droplet,
        |w| {
            w.cloud.reserved_ip_action(
                w.now,
                w.ip,
                ReservedIpAction::Assign {
                    droplet_id: fresh(w),
                },
            )
        },
        UNPROCESSABLE,
        DROPLET_PENDING,
    );
    check(
        none,
        new_droplet,
        |w| {
            w.cloud.create_reserved_ip(
                w.now,
                ReservedIpCreate {
                    droplet_id: Some(fresh(w)),
                    ..ReservedIpCreate::default()
                },
            )
        },
        UNPROCESSABLE,
        DROPLET_PENDING,
    );
}

#[test]
fn a_droplet_with_an_action_in_flight_refuses_more() {
    let power_off = |w: &mut World| {
        w.cloud
            .droplet_action(w.now, w.web1, DropletActionRequest::PowerOff)
            .unwrap();
    };
    check(
        none,
        power_off,
        |w| {
            w.cloud
                .droplet_action(w.now, w.web1, DropletActionRequest::PowerOn)
        },
        UNPROCESSABLE,
        DROPLET_PENDING,
    );
    check(
        none,
        power_off,
        |w| {
            let (v, d) = (w.data, w.web1);
            attach(w, v, d)
        },
        UNPROCESSABLE,
        DROPLET_PENDING,
    );
    check(
        none,
        power_off,
        |w| {
            w.cloud
                .reserved_ip_action(w.now, w.ip, ReservedIpAction::Assign { droplet_id: w.web1 })
        },
        UNPROCESSABLE,
        DROPLET_PENDING,
    );
    // The attach itself holds the droplet, so detaching right after is refused until the attach completes.
    check(
        none,
        |w| {
            let (v, d) = (w.data, w.web1);
            attach(w, v, d).unwrap();
        },
        |w| {
            w.cloud.volume_action(
                w.now,
                VolumeActionTarget::Id(w.data),
                VolumeAction::Detach { droplet_id: w.web1 },
            )
        },
        UNPROCESSABLE,
        DROPLET_PENDING,
    );
    // Actions by tag are all or none: one droplet still being created refuses the lot.
    check(
        none,
        |w| {
            w.cloud
                .create_droplets(
                    w.now,
                    DropletCreate {
                        tags: vec!["web".into()],
                        ..create(&["tagged"], "nyc3")
                    },
                )
                .unwrap();
        },
        |w| {
            w.cloud
                .droplet_actions_by_tag(w.now, "web", DropletActionRequest::PowerOff)
        },
        UNPROCESSABLE,
        DROPLET_PENDING,
    );
}

#[test]
fn a_reserved_ip_with_an_action_in_flight_refuses_actions_and_delete() {
    let assign = |w: &mut World| {
        w.cloud
            .reserved_ip_action(w.now, w.ip, ReservedIpAction::Assign { droplet_id: w.web1 })
            .unwrap();
    };
    check(
        none,
        assign,
        |w| {
            w.cloud
                .reserved_ip_action(w.now, w.ip, ReservedIpAction::Assign { droplet_id: w.web2 })
        },
        UNPROCESSABLE,
        IP_PENDING,
    );
    check(
        none,
        assign,
        |w| {
            w.cloud
                .reserved_ip_action(w.now, w.ip, ReservedIpAction::Unassign)
        },
        UNPROCESSABLE,
        IP_PENDING,
    );
    check(
        none,
        assign,
        |w| w.cloud.delete_reserved_ip(w.now, w.ip),
        UNPROCESSABLE,
        IP_PENDING,
    );
}

#[test]
fn reserved_ip_rules() {
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_reserved_ip(
                w.now,
                ReservedIpCreate {
                    region: Some("nyc3".into()),
                    droplet_id: Some(w.web1),
                    project_id: None,
                },
            )
        },
        UNPROCESSABLE,
        "Cannot specify Droplet and region, they are mutually exclusive.",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud
                .create_reserved_ip(w.now, ReservedIpCreate::default())
        },
        UNPROCESSABLE,
        "You must specify either a Droplet or a region.",
    );
    check(
        |c| c.reserved_ip_limit = 1,
        nothing,
        |w| w.cloud.create_reserved_ip(w.now, region_ip("nyc3")),
        UNPROCESSABLE,
        "creating this reserved IP will exceed your reserved IP limit",
    );
    check(
        none,
        nothing,
        |w| w.cloud.create_reserved_ip(w.now, region_ip("mars1")),
        UNPROCESSABLE,
        "region: \"mars1\" is not a valid region",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_reserved_ip(
                w.now,
                ReservedIpCreate {
                    project_id: Some("nope".into()),
                    ..region_ip("nyc3")
                },
            )
        },
        UNPROCESSABLE,
        "project_id: \"nope\" is not a valid UUID",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud
                .reserved_ip_action(w.now, w.ip, ReservedIpAction::Assign { droplet_id: w.far })
        },
        UNPROCESSABLE,
        "The reserved IP and the Droplet must be in the same region.",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud
                .reserved_ip_action(w.now, w.ip, ReservedIpAction::Unassign)
        },
        UNPROCESSABLE,
        "The reserved IP is not assigned to a Droplet.",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.reserved_ip_action(
                w.now,
                w.ip,
                ReservedIpAction::Assign {
                    droplet_id: DropletId(1),
                },
            )
        },
        "not_found",
        NOT_FOUND,
    );
    // One reserved IP per droplet: a second address cannot be pointed at a droplet that holds one, nor created for it.
    let holds_one = |w: &mut World| {
        w.cloud
            .reserved_ip_action(w.now, w.ip, ReservedIpAction::Assign { droplet_id: w.web1 })
            .unwrap();
        w.now = w.now.plus_ms(w.cloud.config().reserved_ip_action_ms);
    };
    let holds_one_and_another = |w: &mut World| {
        holds_one(w);
        w.cloud
            .create_reserved_ip(w.now, region_ip("nyc3"))
            .unwrap();
    };
    check(
        none,
        holds_one_and_another,
        |w| {
            let ip = w.cloud.reserved_ips_view().last().unwrap().ip;
            w.cloud
                .reserved_ip_action(w.now, ip, ReservedIpAction::Assign { droplet_id: w.web1 })
        },
        UNPROCESSABLE,
        "The Droplet already has a reserved IP assigned.",
    );
    check(
        none,
        holds_one,
        |w| {
            w.cloud.create_reserved_ip(
                w.now,
                ReservedIpCreate {
                    droplet_id: Some(w.web1),
                    ..ReservedIpCreate::default()
                },
            )
        },
        UNPROCESSABLE,
        "The Droplet already has a reserved IP assigned.",
    );
    check(
        |c| c.delete_assigned_reserved_ip = false,
        holds_one,
        |w| w.cloud.delete_reserved_ip(w.now, w.ip),
        UNPROCESSABLE,
        "The reserved IP is assigned to a Droplet. Unassign it before releasing it.",
    );
}

#[test]
fn droplet_create_rules() {
    check(
        |c| c.droplet_limit = 3,
        nothing,
        |w| {
            w.cloud
                .create_droplets(w.now, create(&["one-more"], "nyc3"))
        },
        UNPROCESSABLE,
        "creating this/these droplet(s) will exceed your droplet limit",
    );
    check(
        |c| c.droplet_limit = 4,
        nothing,
        |w| w.cloud.create_droplets(w.now, create(&["a", "b"], "nyc3")),
        UNPROCESSABLE,
        "creating this/these droplet(s) will exceed your droplet limit",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_droplets(
                w.now,
                DropletCreate {
                    image: ImageRef::Slug("windows-11".into()),
                    ..create(&["a"], "nyc3")
                },
            )
        },
        UNPROCESSABLE,
        "You specified an invalid image for Droplet creation.",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_droplets(
                w.now,
                DropletCreate {
                    image: ImageRef::Id(42),
                    ..create(&["a"], "nyc3")
                },
            )
        },
        UNPROCESSABLE,
        "You specified an invalid image for Droplet creation.",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_droplets(
                w.now,
                DropletCreate {
                    size: "s-64vcpu-1tb".into(),
                    ..create(&["a"], "nyc3")
                },
            )
        },
        UNPROCESSABLE,
        "You specified an invalid size for Droplet creation.",
    );
    check(
        none,
        nothing,
        |w| w.cloud.create_droplets(w.now, create(&["a"], "mars1")),
        UNPROCESSABLE,
        "You specified an invalid region for Droplet creation.",
    );
    check(
        none,
        nothing,
        |w| w.cloud.create_droplets(w.now, create(&[], "nyc3")),
        UNPROCESSABLE,
        "names: between 1 and 10 names must be given",
    );
    check(
        none,
        nothing,
        |w| w.cloud.create_droplets(w.now, create(&["a"; 11], "nyc3")),
        UNPROCESSABLE,
        "names: between 1 and 10 names must be given",
    );
    check(none, nothing, |w| w.cloud.create_droplets(w.now, create(&["web_1"], "nyc3")), UNPROCESSABLE, "name: \"web_1\" is not a valid hostname; only a-z, A-Z, 0-9, '.' and '-' are allowed, it must end with a letter or digit, and it may be at most 255 characters");
    check(none, nothing, |w| w.cloud.create_droplets(w.now, create(&["web-"], "nyc3")), UNPROCESSABLE, "name: \"web-\" is not a valid hostname; only a-z, A-Z, 0-9, '.' and '-' are allowed, it must end with a letter or digit, and it may be at most 255 characters");
    check(none, nothing, |w| w.cloud.create_droplets(w.now, DropletCreate { tags: vec!["bad tag".into()], ..create(&["a"], "nyc3") }), UNPROCESSABLE, "tags: \"bad tag\" is not a valid tag name; only letters, numbers, ':', '-' and '_' are allowed, up to 255 characters");
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_droplets(
                w.now,
                DropletCreate {
                    user_data: Some("x".repeat(65537)),
                    ..create(&["a"], "nyc3")
                },
            )
        },
        UNPROCESSABLE,
        "user_data: must be at most 65536 bytes",
    );
}

#[test]
fn droplet_create_volume_allocations() {
    const INVALID: &str = "Invalid volume allocations";
    let with = |volumes: Vec<VolumeRef>| DropletCreate {
        volumes,
        ..create(&["a"], "nyc3")
    };
    check(
        none,
        nothing,
        |w| {
            w.cloud
                .create_droplets(w.now, with(vec![VolumeRef::Id("not-a-uuid".into())]))
        },
        UNPROCESSABLE,
        INVALID,
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud
                .create_droplets(w.now, with(vec![VolumeRef::Name("missing".into())]))
        },
        UNPROCESSABLE,
        INVALID,
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud
                .create_droplets(w.now, with(vec![VolumeRef::Id(w.far_data.to_string())]))
        },
        UNPROCESSABLE,
        INVALID,
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_droplets(
                w.now,
                with(vec![
                    VolumeRef::Id(w.data.to_string()),
                    VolumeRef::Name("data".into()),
                ]),
            )
        },
        UNPROCESSABLE,
        INVALID,
    );
    check(
        none,
        |w| {
            let (v, d) = (w.data, w.web1);
            attach(w, v, d).unwrap();
        },
        |w| {
            w.cloud
                .create_droplets(w.now, with(vec![VolumeRef::Name("data".into())]))
        },
        UNPROCESSABLE,
        INVALID,
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_droplets(
                w.now,
                DropletCreate {
                    volumes: vec![VolumeRef::Name("data".into())],
                    ..create(&["a", "b"], "nyc3")
                },
            )
        },
        UNPROCESSABLE,
        INVALID,
    );
}

#[test]
fn droplet_action_rules() {
    check(
        none,
        nothing,
        |w| {
            w.cloud.droplet_action(
                w.now,
                w.web1,
                DropletActionRequest::Resize {
                    size: "s-2vcpu-4gb".into(),
                    disk: true,
                },
            )
        },
        UNPROCESSABLE,
        "Droplet is currently on. Please power it off to run this event.",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.droplet_action(
                w.now,
                w.web1,
                DropletActionRequest::Resize {
                    size: "nope".into(),
                    disk: false,
                },
            )
        },
        UNPROCESSABLE,
        "You specified an invalid size for Droplet resize.",
    );
    check(none, nothing, |w| w.cloud.droplet_action(w.now, w.web1, DropletActionRequest::Rename { name: "no spaces".into() }), UNPROCESSABLE, "name: \"no spaces\" is not a valid hostname; only a-z, A-Z, 0-9, '.' and '-' are allowed, it must end with a letter or digit, and it may be at most 255 characters");
    check(
        none,
        nothing,
        |w| {
            w.cloud
                .droplet_actions_by_tag(w.now, "web", DropletActionRequest::Reboot)
        },
        UNPROCESSABLE,
        "type: reboot is not supported for actions by tag",
    );
}

#[test]
fn droplet_delete_refusals_when_configured() {
    let attached = |w: &mut World| {
        let (v, d) = (w.data, w.web1);
        attach(w, v, d).unwrap();
        w.now = w.now.plus_ms(w.cloud.config().volume_action_ms);
    };
    check(
        |c| c.auto_detach_on_droplet_delete = false,
        attached,
        |w| w.cloud.delete_droplet(w.now, w.web1),
        UNPROCESSABLE,
        "The Droplet has volumes attached. Detach them before destroying the Droplet.",
    );
    let assigned = |w: &mut World| {
        w.cloud
            .reserved_ip_action(w.now, w.ip, ReservedIpAction::Assign { droplet_id: w.web1 })
            .unwrap();
        w.now = w.now.plus_ms(w.cloud.config().reserved_ip_action_ms);
    };
    check(
        |c| c.auto_unassign_on_droplet_delete = false,
        assigned,
        |w| w.cloud.delete_droplet(w.now, w.web1),
        UNPROCESSABLE,
        "The Droplet has a reserved IP assigned. Unassign it before destroying the Droplet.",
    );
}

#[test]
fn volume_create_rules() {
    check(
        none,
        nothing,
        |w| w.cloud.create_volume(w.now, volume("data", "nyc3")),
        "conflict",
        "a volume with that name already exists",
    );
    check(
        |c| c.volume_conflict_id = VolumeConflictId::AlreadyExists,
        nothing,
        |w| w.cloud.create_volume(w.now, volume("data", "nyc3")),
        "already_exists",
        "a volume with that name already exists",
    );
    check(
        |c| c.volume_limit = 2,
        nothing,
        |w| w.cloud.create_volume(w.now, volume("third", "nyc3")),
        "forbidden",
        "capacity limit exceeded",
    );
    check(
        |c| c.regions_without_storage = vec!["blr1".into()],
        nothing,
        |w| w.cloud.create_volume(w.now, volume("x", "blr1")),
        UNPROCESSABLE,
        "Storage is not supported for this region",
    );
    check(none, nothing, |w| w.cloud.create_volume(w.now, volume("Data", "nyc3")), UNPROCESSABLE, "name: \"Data\" is invalid; it must be lowercase and be composed only of numbers, letters and '-', up to a limit of 64 characters, and it must begin with a letter");
    check(none, nothing, |w| w.cloud.create_volume(w.now, volume("1data", "nyc3")), UNPROCESSABLE, "name: \"1data\" is invalid; it must be lowercase and be composed only of numbers, letters and '-', up to a limit of 64 characters, and it must begin with a letter");
    check(none, nothing, |w| w.cloud.create_volume(w.now, volume(&"a".repeat(65), "nyc3")), UNPROCESSABLE, &format!("name: \"{}\" is invalid; it must be lowercase and be composed only of numbers, letters and '-', up to a limit of 64 characters, and it must begin with a letter", "a".repeat(65)));
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_volume(
                w.now,
                VolumeCreate {
                    size_gigabytes: 0,
                    ..volume("x", "nyc3")
                },
            )
        },
        UNPROCESSABLE,
        "size_gigabytes: must be between 1 and 16384",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_volume(
                w.now,
                VolumeCreate {
                    size_gigabytes: 16385,
                    ..volume("x", "nyc3")
                },
            )
        },
        UNPROCESSABLE,
        "size_gigabytes: must be between 1 and 16384",
    );
    check(
        none,
        nothing,
        |w| w.cloud.create_volume(w.now, volume("x", "mars1")),
        UNPROCESSABLE,
        "region: \"mars1\" is not a valid region",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_volume(
                w.now,
                VolumeCreate {
                    filesystem_type: Some("ntfs".into()),
                    ..volume("x", "nyc3")
                },
            )
        },
        UNPROCESSABLE,
        "filesystem_type: \"ntfs\" is not supported; use ext4 or xfs",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_volume(
                w.now,
                VolumeCreate {
                    filesystem_label: Some("l".into()),
                    ..volume("x", "nyc3")
                },
            )
        },
        UNPROCESSABLE,
        "filesystem_label: may only be given together with filesystem_type",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_volume(
                w.now,
                VolumeCreate {
                    filesystem_type: Some("xfs".into()),
                    filesystem_label: Some("thirteen-char".into()),
                    ..volume("x", "nyc3")
                },
            )
        },
        UNPROCESSABLE,
        "filesystem_label: must be at most 12 characters for xfs",
    );
}

#[test]
fn volume_action_rules() {
    let attached = |w: &mut World| {
        let (v, d) = (w.data, w.web1);
        attach(w, v, d).unwrap();
        w.now = w.now.plus_ms(w.cloud.config().volume_action_ms);
    };
    check(none, attached, |w| w.cloud.delete_volume(w.now, w.data), "conflict", "A volume that's attached to a Droplet cannot be deleted. Please detach it first before deleting.");
    check(none, attached, |w| w.cloud.delete_volume_by_name(w.now, "data", "nyc3"), "conflict", "A volume that's attached to a Droplet cannot be deleted. Please detach it first before deleting.");
    check(
        none,
        attached,
        |w| {
            let (v, d) = (w.data, w.web1);
            attach(w, v, d)
        },
        UNPROCESSABLE,
        "This volume is already attached",
    );
    check(
        none,
        attached,
        |w| {
            let (v, d) = (w.data, w.web2);
            attach(w, v, d)
        },
        UNPROCESSABLE,
        "This volume is already attached to another Droplet",
    );
    check(
        none,
        attached,
        |w| {
            w.cloud.volume_action(
                w.now,
                VolumeActionTarget::Id(w.data),
                VolumeAction::Detach { droplet_id: w.web2 },
            )
        },
        "not_found",
        "error detaching volume from droplet: volume is not attached to droplet",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.volume_action(
                w.now,
                VolumeActionTarget::Name {
                    name: "data".into(),
                    region: None,
                },
                VolumeAction::Detach { droplet_id: w.web1 },
            )
        },
        "not_found",
        "error detaching volume from droplet: volume is not attached to droplet",
    );
    check(
        none,
        nothing,
        |w| {
            let (v, d) = (w.far_data, w.web1);
            attach(w, v, d)
        },
        UNPROCESSABLE,
        "The volume and the Droplet must be in the same region.",
    );
    let more = |w: &mut World| {
        let (v, d) = (w.data, w.web1);
        attach(w, v, d).unwrap();
        w.cloud
            .create_volume(w.now, volume("more", "nyc3"))
            .unwrap();
        w.now = w.now.plus_ms(w.cloud.config().volume_action_ms);
    };
    check(
        |c| c.volumes_per_droplet_max = 1,
        more,
        |w| {
            w.cloud.volume_action(
                w.now,
                VolumeActionTarget::Name {
                    name: "more".into(),
                    region: Some("nyc3".into()),
                },
                VolumeAction::Attach { droplet_id: w.web1 },
            )
        },
        UNPROCESSABLE,
        "cannot attach more volumes to the Droplet",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.volume_action(
                w.now,
                VolumeActionTarget::Id(w.data),
                VolumeAction::Resize { size_gigabytes: 10 },
            )
        },
        UNPROCESSABLE,
        "Volumes may only be resized upwards.",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.volume_action(
                w.now,
                VolumeActionTarget::Id(w.data),
                VolumeAction::Resize { size_gigabytes: 5 },
            )
        },
        UNPROCESSABLE,
        "Volumes may only be resized upwards.",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.volume_action(
                w.now,
                VolumeActionTarget::Id(w.data),
                VolumeAction::Resize {
                    size_gigabytes: 20_000,
                },
            )
        },
        UNPROCESSABLE,
        "size_gigabytes: must be between 1 and 16384",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.volume_action(
                w.now,
                VolumeActionTarget::Name {
                    name: "data".into(),
                    region: Some("sfo3".into()),
                },
                VolumeAction::Attach { droplet_id: w.far },
            )
        },
        "not_found",
        NOT_FOUND,
    );
}

#[test]
fn database_rules() {
    let db = |name: &str| DatabaseCreate {
        name: name.into(),
        engine: "pg".into(),
        num_nodes: 1,
        size: "db-s-1vcpu-1gb".into(),
        region: "nyc3".into(),
        ..DatabaseCreate::default()
    };
    let one = |w: &mut World| {
        w.cloud.create_database(w.now, db("backend")).unwrap();
    };
    let first = |w: &World| w.cloud.databases_view().next().unwrap().id;
    check(
        none,
        one,
        |w| w.cloud.create_database(w.now, db("backend")),
        UNPROCESSABLE,
        "a database cluster with that name already exists",
    );
    check(none, nothing, |w| w.cloud.create_database(w.now, db("my_db")), UNPROCESSABLE, "name: \"my_db\" is invalid; it must be 3 to 63 characters of lowercase letters, numbers and '-', begin with a letter and not end with '-'");
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_database(
                w.now,
                DatabaseCreate {
                    engine: "redis".into(),
                    ..db("cache")
                },
            )
        },
        UNPROCESSABLE,
        "engine: Caching (redis) clusters can no longer be created; use valkey",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_database(
                w.now,
                DatabaseCreate {
                    engine: "oracle".into(),
                    ..db("x-db")
                },
            )
        },
        UNPROCESSABLE,
        "engine: \"oracle\" is not a supported engine",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_database(
                w.now,
                DatabaseCreate {
                    version: Some("9".into()),
                    ..db("x-db")
                },
            )
        },
        UNPROCESSABLE,
        "version: \"9\" is not a supported version of pg",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_database(
                w.now,
                DatabaseCreate {
                    num_nodes: 4,
                    ..db("x-db")
                },
            )
        },
        UNPROCESSABLE,
        "num_nodes: must be between 1 and 3",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud.create_database(
                w.now,
                DatabaseCreate {
                    size: "db-huge".into(),
                    ..db("x-db")
                },
            )
        },
        UNPROCESSABLE,
        "size: \"db-huge\" is not a valid database size",
    );
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.create_database_user(w.now, id, "doadmin")
        },
        UNPROCESSABLE,
        "name: a user named \"doadmin\" already exists",
    );
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.delete_database_user(w.now, id, "doadmin")
        },
        UNPROCESSABLE,
        "The primary user cannot be deleted.",
    );
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.create_database_db(w.now, id, "defaultdb")
        },
        UNPROCESSABLE,
        "name: a database named \"defaultdb\" already exists",
    );
    let pool = |name: &str, size: i64| PoolCreate {
        name: name.into(),
        mode: "transaction".into(),
        size,
        db: "defaultdb".into(),
        user: None,
    };
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.create_database_pool(w.now, id, pool("ab", 5))
        },
        UNPROCESSABLE,
        "name: \"ab\" is invalid; it must be 3 to 60 characters of letters, numbers, '-' and '_'",
    );
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.create_database_pool(
                w.now,
                id,
                PoolCreate {
                    mode: "eager".into(),
                    ..pool("app", 5)
                },
            )
        },
        UNPROCESSABLE,
        "mode: \"eager\" is invalid; use session, transaction or statement",
    );
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.create_database_pool(w.now, id, pool("app", 23))
        },
        UNPROCESSABLE,
        "size: must be between 1 and 22, the backend connections left in this cluster",
    );
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.create_database_pool(
                w.now,
                id,
                PoolCreate {
                    db: "nope".into(),
                    ..pool("app", 5)
                },
            )
        },
        UNPROCESSABLE,
        "db: database \"nope\" does not exist",
    );
    check(
        none,
        |w| {
            w.cloud
                .create_database(
                    w.now,
                    DatabaseCreate {
                        engine: "mysql".into(),
                        ..db("backend")
                    },
                )
                .unwrap();
        },
        |w| {
            let id = first(w);
            w.cloud.create_database_pool(w.now, id, pool("app", 5))
        },
        UNPROCESSABLE,
        "Connection pools are only supported for PostgreSQL clusters.",
    );
    check(
        none,
        |w| {
            w.cloud
                .create_database(
                    w.now,
                    DatabaseCreate {
                        engine: "valkey".into(),
                        ..db("cache")
                    },
                )
                .unwrap();
        },
        |w| {
            let id = first(w);
            w.cloud.create_database_user(w.now, id, "app")
        },
        UNPROCESSABLE,
        "User management is not supported for this engine.",
    );
}

fn target(resource_type: &str, resource_id: impl ToString) -> TagTarget {
    TagTarget {
        resource_type: resource_type.into(),
        resource_id: resource_id.to_string(),
    }
}

#[test]
fn tag_requests_are_refused_whole() {
    let tagged = |w: &mut World| {
        w.cloud.create_tag(w.now, "web").unwrap();
    };
    // An unknown tag, under any other capitalization too.
    check(
        none,
        nothing,
        |w| w.cloud.tag(w.now, "web"),
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        tagged,
        |w| w.cloud.tag(w.now, "WEB"),
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        nothing,
        |w| w.cloud.delete_tag(w.now, "web"),
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        nothing,
        |w| {
            let web1 = w.web1;
            w.cloud
                .tag_resources(w.now, "web", &[target("droplet", web1)])
        },
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        nothing,
        |w| w.cloud.create_tag(w.now, "has space"),
        "bad_request",
        r#"Error validating resource tag: "tag-name \"has space\" contains invalid characters""#,
    );
    check(
        none,
        tagged,
        |w| w.cloud.tag_resources(w.now, "web", &[]),
        "bad_request",
        "resources: at least one resource is required",
    );
    // One missing resource refuses the whole request: the droplet before it stays untagged.
    check(
        none,
        tagged,
        |w| {
            let web1 = w.web1;
            w.cloud.tag_resources(
                w.now,
                "web",
                &[target("droplet", web1), target("droplet", 1)],
            )
        },
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        tagged,
        |w| {
            let data = w.data;
            w.cloud
                .untag_resources(w.now, "web", &[target("volume", data), target("image", 7)])
        },
        "not_found",
        NOT_FOUND,
    );
    check(
        none,
        tagged,
        |w| {
            let web1 = w.web1;
            w.cloud
                .tag_resources(w.now, "web", &[target("kettle", web1)])
        },
        "bad_request",
        "resource_type: \"kettle\" is not one of droplet, database, image, volume, volume_snapshot",
    );
    check(
        none,
        tagged,
        |w| {
            let data = w.data;
            w.cloud
                .tag_resources(w.now, "web", &[target("droplet", data)])
        },
        "not_found",
        NOT_FOUND,
    );
}

fn record(record_type: &str, name: &str, data: &str) -> DomainRecordSpec {
    DomainRecordSpec {
        record_type: Some(record_type.into()),
        name: Some(name.into()),
        data: Some(data.into()),
        ..DomainRecordSpec::default()
    }
}

#[test]
fn domain_and_record_refusals() {
    let zone = |w: &mut World| {
        w.cloud.create_domain(w.now, "example.com", None).unwrap();
    };
    let u = UNPROCESSABLE;
    check(
        none,
        nothing,
        |w| w.cloud.create_domain(w.now, "localhost", None),
        u,
        "name: \"localhost\" is not a valid domain name",
    );
    check(
        none,
        nothing,
        |w| w.cloud.create_domain(w.now, "example.com", Some("1.2.3")),
        u,
        "ip_address: \"1.2.3\" is not an IPv4 address",
    );
    check(
        none,
        zone,
        |w| w.cloud.create_domain(w.now, "EXAMPLE.com", None),
        u,
        "Name already exists",
    );
    check(
        none,
        nothing,
        |w| {
            w.cloud
                .create_domain_record(w.now, "example.com", record("A", "api", "192.0.2.1"))
        },
        "not_found",
        NOT_FOUND,
    );
    // (record, message) on an existing zone.
    let refused: [(DomainRecordSpec, &str); 8] = [
        (
            record("A", "api", "2001:db8::1"),
            "data: \"2001:db8::1\" is not an IPv4 address",
        ),
        (
            record("AAAA", "api", "192.0.2.1"),
            "data: \"192.0.2.1\" is not an IPv6 address",
        ),
        (
            record("CNAME", "www", "not a host"),
            "data: \"not a host\" is not a valid host name",
        ),
        (
            record("MX", "@", "mail.example.com."),
            "priority is required for MX records",
        ),
        (
            record("SPF", "@", "v=spf1"),
            "type: \"SPF\" is not one of A, AAAA, CAA, CNAME, MX, NS, SOA, SRV, TXT",
        ),
        (
            record("SOA", "@", "1800"),
            "type: SOA records cannot be created; update the domain's own",
        ),
        (
            record("A", "bad name", "192.0.2.1"),
            "name: \"bad name\" is not a valid record name",
        ),
        (
            DomainRecordSpec {
                ttl: Some(5),
                ..record("A", "api", "192.0.2.1")
            },
            "ttl: must be at least 30 seconds",
        ),
    ];
    for (spec, message) in refused {
        check(
            none,
            zone,
            move |w| w.cloud.create_domain_record(w.now, "example.com", spec),
            u,
            message,
        );
    }
    check(
        none,
        zone,
        |w| {
            let soa = w.cloud.domain(w.now, "example.com").unwrap().records[0].id;
            w.cloud.delete_domain_record(w.now, "example.com", soa)
        },
        u,
        "SOA records cannot be deleted",
    );
}

const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB ci";

#[test]
fn ssh_key_refusals() {
    let keyed = |w: &mut World| {
        w.cloud.create_ssh_key(w.now, "ci", ED25519).unwrap();
    };
    let u = UNPROCESSABLE;
    check(
        none,
        keyed,
        |w| w.cloud.create_ssh_key(w.now, "again", ED25519),
        u,
        msg::SSH_KEY_IN_USE,
    );
    check(
        none,
        nothing,
        |w| w.cloud.create_ssh_key(w.now, "ci", "ssh-foo AAAA"),
        u,
        msg::SSH_KEY_INVALID_TYPE,
    );
    check(
        none,
        nothing,
        |w| w.cloud.create_ssh_key(w.now, "ci", "ssh-ed25519 !!!"),
        u,
        msg::SSH_KEY_NO_FINGERPRINT,
    );
    check(
        none,
        nothing,
        |w| w.cloud.create_ssh_key(w.now, " ", ED25519),
        u,
        "name: must be 1 to 255 characters",
    );
    check(
        none,
        nothing,
        |w| w.cloud.ssh_key(w.now, "1"),
        "not_found",
        NOT_FOUND,
    );
    // A droplet create that names an unknown key is refused before it draws anything.
    check(
        none,
        keyed,
        |w| {
            let known = w.cloud.ssh_keys(w.now)[0].fingerprint.clone();
            w.cloud.create_droplets(
                w.now,
                DropletCreate {
                    ssh_keys: vec![known, "main".into(), "7".into()],
                    ..create(&["web"], "nyc3")
                },
            )
        },
        u,
        "main, 7 are invalid key identifiers for Droplet creation.",
    );
}

fn vpc_in(name: &str, region: &str, ip_range: Option<&str>) -> VpcCreate {
    VpcCreate {
        name: name.into(),
        region: region.into(),
        description: None,
        ip_range: ip_range.map(str::to_owned),
    }
}

#[test]
fn vpc_refusals() {
    let apps = |w: &mut World| {
        w.cloud
            .create_vpc(w.now, vpc_in("apps", "nyc3", Some("10.200.0.0/24")))
            .unwrap();
    };
    let u = UNPROCESSABLE;
    let private = "ip_range: must be in range of private addresses as defined in RFC1918, no smaller than /28 and no larger than /16";
    let refused: [(VpcCreate, &str); 6] = [
        (
            vpc_in("has space", "nyc3", None),
            "name: \"has space\" may only contain alphanumeric characters, dashes, and periods",
        ),
        (vpc_in("apps", "nyc3", None), msg::VPC_NAME_TAKEN),
        (
            vpc_in("other", "nyc3", Some("10.200.0.128/25")),
            msg::VPC_RANGE_OVERLAPS,
        ),
        (vpc_in("other", "nyc3", Some("8.8.8.0/24")), private),
        (vpc_in("other", "nyc3", Some("10.0.0.0/12")), private),
        (
            vpc_in("other", "nyc3", Some("10.300.0.0/24")),
            "ip_range: \"10.300.0.0/24\" is not a network in CIDR notation",
        ),
    ];
    for (request, message) in refused {
        check(
            none,
            apps,
            move |w| w.cloud.create_vpc(w.now, request),
            u,
            message,
        );
    }
    // A default VPC's own range is taken too.
    check(
        none,
        nothing,
        |w| {
            w.cloud
                .create_vpc(w.now, vpc_in("x", "nyc3", Some("10.108.0.0/16")))
        },
        u,
        msg::VPC_RANGE_OVERLAPS,
    );
    check(
        none,
        apps,
        |w| {
            let id = w.cloud.vpcs(w.now).last().unwrap().id;
            let mut request = create(&["far"], "sfo3");
            request.vpc_uuid = Some(id.to_string());
            w.cloud.create_droplets(w.now, request)
        },
        u,
        "vpc_uuid: the VPC must be in the same region as the Droplet",
    );
    check(
        none,
        nothing,
        |w| {
            let mut request = create(&["lost"], "nyc3");
            request.vpc_uuid = Some("5a4981aa-9653-4bd1-bef5-d6bff52042e4".into());
            w.cloud.create_droplets(w.now, request)
        },
        u,
        "vpc_uuid: no VPC 5a4981aa-9653-4bd1-bef5-d6bff52042e4 on this account",
    );
    check(
        none,
        nothing,
        |w| {
            let default = w.cloud.default_vpc("nyc3").unwrap();
            w.cloud.update_vpc(
                w.now,
                default,
                VpcUpdate {
                    default: Some(false),
                    ..VpcUpdate::default()
                },
            )
        },
        u,
        msg::VPC_DEFAULT_UNSET,
    );
    check(
        none,
        nothing,
        |w| {
            let default = w.cloud.default_vpc("nyc3").unwrap();
            w.cloud.delete_vpc(w.now, default)
        },
        "forbidden",
        msg::VPC_DEFAULT_DELETE,
    );
}

fn https_rule(target: FirewallTarget) -> FirewallRule {
    FirewallRule {
        protocol: "tcp".into(),
        ports: "443".into(),
        target,
    }
}

fn anywhere() -> FirewallTarget {
    FirewallTarget {
        addresses: vec!["0.0.0.0/0".into()],
        ..FirewallTarget::default()
    }
}

#[test]
fn firewall_refusals() {
    let u = UNPROCESSABLE;
    let spec = |rule: FirewallRule| FirewallSpec {
        name: "web".into(),
        inbound_rules: vec![rule],
        ..FirewallSpec::default()
    };
    let refused: [(FirewallSpec, &str); 6] = [
        (
            FirewallSpec { name: "-web".into(), ..spec(https_rule(anywhere())) },
            "name: \"-web\" must begin with an alphanumeric character, followed by alphanumeric characters, '.' or '-'",
        ),
        (spec(FirewallRule { ports: "any".into(), ..https_rule(anywhere()) }), msg::FIREWALL_PORTS),
        (spec(FirewallRule { ports: "9000-8000".into(), ..https_rule(anywhere()) }), msg::FIREWALL_PORTS),
        (
            spec(https_rule(FirewallTarget { addresses: vec!["10.0.0.0/33".into()], ..FirewallTarget::default() })),
            msg::FIREWALL_ADDRESS,
        ),
        (
            spec(https_rule(FirewallTarget { droplet_ids: vec![1], ..FirewallTarget::default() })),
            msg::FIREWALL_ADDRESS,
        ),
        (
            spec(https_rule(FirewallTarget::default())),
            "a rule needs at least one address, droplet, load balancer, Kubernetes cluster or tag",
        ),
    ];
    for (request, message) in refused {
        check(
            none,
            nothing,
            move |w| w.cloud.create_firewall(w.now, request),
            u,
            message,
        );
    }
    let made = |w: &mut World| {
        w.cloud
            .create_firewall(w.now, spec(https_rule(anywhere())))
            .unwrap();
    };
    check(
        none,
        made,
        |w| {
            let id = w.cloud.firewalls(w.now)[0].id;
            let web1 = w.web1.0;
            w.cloud.firewall_droplets(w.now, id, &[web1, 1], true)
        },
        u,
        "droplet_ids: 1 is not a Droplet on this account",
    );
}

/// `all` is every port, as Terraform's provider sends it, and reads back as "0"; ICMP reads back "0" whatever it was given.
#[test]
fn firewall_ports_read_back_normalized() {
    let mut w = world(CloudConfig::default());
    let now = w.now;
    let rule = |protocol: &str, ports: &str| FirewallRule {
        protocol: protocol.into(),
        ports: ports.into(),
        target: anywhere(),
    };
    let firewall = w
        .cloud
        .create_firewall(
            now,
            FirewallSpec {
                name: "web".into(),
                inbound_rules: vec![
                    rule("tcp", "all"),
                    rule("udp", "all"),
                    rule("icmp", "1-65535"),
                ],
                outbound_rules: vec![rule("tcp", "1-65535")],
                ..FirewallSpec::default()
            },
        )
        .unwrap();
    let ports = |rules: &[FirewallRule]| rules.iter().map(|r| r.ports.clone()).collect::<Vec<_>>();
    assert_eq!(ports(&firewall.inbound_rules), ["0", "0", "0"]);
    assert_eq!(ports(&firewall.outbound_rules), ["1-65535"]);
}

#[test]
fn a_firewall_put_replaces_its_droplets_and_the_add_endpoint_does_not() {
    let mut w = world(CloudConfig::default());
    let now = w.now;
    let (web1, web2) = (w.web1.0, w.web2.0);
    let spec = FirewallSpec {
        name: "web".into(),
        inbound_rules: vec![https_rule(anywhere())],
        droplet_ids: vec![web1],
        ..FirewallSpec::default()
    };
    let id = w.cloud.create_firewall(now, spec.clone()).unwrap().id;
    // A PUT built from an older read loses web1.
    let stale = FirewallSpec {
        droplet_ids: vec![web2],
        ..spec
    };
    assert_eq!(
        w.cloud
            .replace_firewall(now, id, stale)
            .unwrap()
            .droplet_ids,
        vec![web2]
    );
    w.cloud.firewall_droplets(now, id, &[web1], true).unwrap();
    assert_eq!(
        w.cloud.firewall(now, id).unwrap().droplet_ids,
        vec![web2, web1]
    );
    // A destroyed droplet drops out of the listing; a tag brings droplets in by tag.
    w.cloud.delete_droplet(now, DropletId(web2)).unwrap();
    assert_eq!(w.cloud.firewall(now, id).unwrap().droplet_ids, vec![web1]);
    w.cloud
        .firewall_tags(now, id, &["web".into()], true)
        .unwrap();
    assert_eq!(w.cloud.firewall(now, id).unwrap().tags, vec!["web"]);
}

fn lb_spec(droplet_ids: Vec<u64>) -> LoadBalancerSpec {
    LoadBalancerSpec {
        name: "web-lb".into(),
        region: "nyc3".into(),
        size_unit: 1,
        forwarding_rules: vec![ForwardingRule {
            entry_protocol: "http".into(),
            entry_port: 80,
            target_protocol: "http".into(),
            target_port: 8080,
            certificate_id: String::new(),
            tls_passthrough: false,
        }],
        droplet_ids,
        http_idle_timeout_seconds: 60,
        ..LoadBalancerSpec::default()
    }
}

#[test]
fn load_balancer_refusals() {
    let none = |_: &mut CloudConfig| {};
    let nothing = |_: &mut World| {};
    let u = "unprocessable_entity";
    let with = |f: fn(&mut LoadBalancerSpec)| {
        let mut spec = lb_spec(vec![]);
        f(&mut spec);
        spec
    };
    let refused: Vec<(LoadBalancerSpec, &str)> = vec![
        (
            with(|s| s.forwarding_rules.clear()),
            "forwarding_rules: at least one forwarding rule is required",
        ),
        (
            with(|s| s.forwarding_rules[0].entry_protocol = "ftp".into()),
            "forwarding_rules: entry_protocol \"ftp\" is not one of http, https, http2, http3, tcp, udp",
        ),
        (
            with(|s| s.forwarding_rules[0].entry_protocol = "https".into()),
            "forwarding_rules: an https entry needs a certificate_id or tls_passthrough",
        ),
        (
            with(|s| s.forwarding_rules[0].entry_protocol = "udp".into()),
            "forwarding_rules: udp must be both the entry and the target protocol",
        ),
        (
            with(|s| s.forwarding_rules.push(s.forwarding_rules[0].clone())),
            "forwarding_rules: entry_port 80 is used by more than one rule",
        ),
        (
            with(|s| {
                s.droplet_ids = vec![1];
                s.tag = Some("web".into());
            }),
            msg::LB_DROPLETS_AND_TAG,
        ),
        (
            with(|s| s.droplet_ids = vec![1]),
            "droplet_ids: 1 is not a Droplet on this account",
        ),
        (
            with(|s| s.size_unit = 0),
            "size_unit: must be between 1 and 100",
        ),
        (
            with(|s| s.http_idle_timeout_seconds = 5),
            "http_idle_timeout_seconds: must be between 30 and 600",
        ),
        (
            with(|s| s.region = "atlantis1".into()),
            "region: \"atlantis1\" is not a region",
        ),
        (
            with(|s| s.project_id = Some(uuid::Uuid::nil())),
            msg::LB_PROJECT,
        ),
    ];
    for (request, message) in refused {
        check(
            none,
            nothing,
            move |w| w.cloud.create_load_balancer(w.now, request),
            u,
            message,
        );
    }
    check(
        none,
        nothing,
        |w| {
            let far = w.far.0;
            w.cloud.create_load_balancer(w.now, lb_spec(vec![far]))
        },
        u,
        msg::LB_DROPLET_REGION,
    );
    // Droplets cannot be added while the load balancer provisions, nor to one that targets a tag.
    let made = |w: &mut World| {
        w.cloud
            .create_load_balancer(w.now, lb_spec(vec![]))
            .unwrap();
    };
    check(
        none,
        made,
        |w| {
            let id = w.cloud.load_balancers(w.now)[0].id;
            let web1 = w.web1.0;
            w.cloud.load_balancer_droplets(w.now, id, &[web1], true)
        },
        u,
        msg::LB_NOT_ACTIVE,
    );
    let tagged = |w: &mut World| {
        let mut spec = lb_spec(vec![]);
        spec.tag = Some("web".into());
        w.cloud.create_load_balancer(w.now, spec).unwrap();
        w.now = w.now.plus_ms(60_000);
    };
    check(
        none,
        tagged,
        |w| {
            let id = w.cloud.load_balancers(w.now)[0].id;
            let web1 = w.web1.0;
            w.cloud.load_balancer_droplets(w.now, id, &[web1], true)
        },
        u,
        msg::LB_DROPLETS_AND_TAG,
    );
    let ten = |w: &mut World| {
        for _ in 0..LOAD_BALANCERS_MAX {
            w.cloud
                .create_load_balancer(w.now, lb_spec(vec![]))
                .unwrap();
        }
    };
    check(
        none,
        ten,
        |w| w.cloud.create_load_balancer(w.now, lb_spec(vec![])),
        u,
        msg::LB_LIMIT,
    );
}

#[test]
fn load_balancers_provision_then_lose_droplets_to_a_stale_put() {
    let mut w = world(CloudConfig::default());
    let (now, web1, web2) = (w.now, w.web1.0, w.web2.0);
    let lb = w
        .cloud
        .create_load_balancer(now, lb_spec(vec![web1]))
        .unwrap();
    assert_eq!(lb.status(now), "new");
    assert_eq!(lb.health_check, HealthCheck::default());
    let active = now.plus_ms(60_000);
    assert_eq!(
        w.cloud.load_balancer(active, lb.id).unwrap().status(active),
        "active"
    );
    // Two deploy jobs each read the droplets, add their own and PUT the whole load balancer:
    // the second PUT, built from the same read, drops the first one's droplet.
    let mut first = lb_spec(vec![web1, web2]);
    first.name = lb.name.clone();
    w.cloud.replace_load_balancer(active, lb.id, first).unwrap();
    let stale = lb_spec(vec![web1]);
    let after = w.cloud.replace_load_balancer(active, lb.id, stale).unwrap();
    assert_eq!(after.droplet_ids, vec![web1]);
    // The additive endpoint changes only what it names.
    w.cloud
        .load_balancer_droplets(active, lb.id, &[web2], true)
        .unwrap();
    assert_eq!(
        w.cloud.load_balancer(active, lb.id).unwrap().droplet_ids,
        vec![web1, web2]
    );
    // Rules are added and removed by value; the last one stays.
    let tcp = ForwardingRule {
        entry_protocol: "tcp".into(),
        entry_port: 5432,
        target_protocol: "tcp".into(),
        target_port: 5432,
        certificate_id: String::new(),
        tls_passthrough: false,
    };
    w.cloud
        .load_balancer_rules(active, lb.id, std::slice::from_ref(&tcp), true)
        .unwrap();
    let http = after.forwarding_rules[0].clone();
    w.cloud
        .load_balancer_rules(active, lb.id, std::slice::from_ref(&http), false)
        .unwrap();
    assert_eq!(
        w.cloud
            .load_balancer(active, lb.id)
            .unwrap()
            .forwarding_rules,
        vec![tcp.clone()]
    );
    let last = w
        .cloud
        .load_balancer_rules(active, lb.id, &[tcp], false)
        .unwrap_err();
    assert_eq!(
        last.message,
        "forwarding_rules: at least one forwarding rule is required"
    );
    // A destroyed droplet leaves the load balancer; deleting it leaves nothing behind.
    w.cloud.delete_droplet(active, DropletId(web2)).unwrap();
    assert_eq!(
        w.cloud.load_balancer(active, lb.id).unwrap().droplet_ids,
        vec![web1]
    );
    w.cloud.delete_load_balancer(active, lb.id).unwrap();
    assert!(w.cloud.load_balancers(active).is_empty());
    w.cloud.check_invariants().unwrap();
}
