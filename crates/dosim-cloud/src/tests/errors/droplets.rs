//! Refusals of droplet creates, actions and deletes, and of anything asked of a droplet that is busy.

use super::*;

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
        |w| w.act_on_volume(w.data, VolumeAction::Detach { droplet_id: w.web1 }),
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
    check_unprocessable(
        |w, request| w.cloud.create_droplets(w.now, request),
        vec![
            (DropletCreate { image: ImageRef::Slug("windows-11".into()), ..create(&["a"], "nyc3") }, "You specified an invalid image for Droplet creation.".into()),
            (DropletCreate { image: ImageRef::Id(42), ..create(&["a"], "nyc3") }, "You specified an invalid image for Droplet creation.".into()),
            (DropletCreate { size: "s-64vcpu-1tb".into(), ..create(&["a"], "nyc3") }, "You specified an invalid size for Droplet creation.".into()),
            (create(&["a"], "mars1"), "You specified an invalid region for Droplet creation.".into()),
            (create(&[], "nyc3"), "names: between 1 and 10 names must be given".into()),
            (create(&["a"; 11], "nyc3"), "names: between 1 and 10 names must be given".into()),
            (create(&["web_1"], "nyc3"), "name: \"web_1\" is not a valid hostname; only a-z, A-Z, 0-9, '.' and '-' are allowed, it must end with a letter or digit, and it may be at most 255 characters".into()),
            (create(&["web-"], "nyc3"), "name: \"web-\" is not a valid hostname; only a-z, A-Z, 0-9, '.' and '-' are allowed, it must end with a letter or digit, and it may be at most 255 characters".into()),
            (DropletCreate { tags: vec!["bad tag".into()], ..create(&["a"], "nyc3") }, "tags: \"bad tag\" is not a valid tag name; only letters, numbers, ':', '-' and '_' are allowed, up to 255 characters".into()),
            (DropletCreate { user_data: Some("x".repeat(65537)), ..create(&["a"], "nyc3") }, "user_data: must be at most 65536 bytes".into()),
        ],
    );
}

#[test]
fn droplet_create_volume_allocations() {
    const INVALID: &str = "Invalid volume allocations";
    let with = |volumes: Vec<VolumeRef>| DropletCreate {
        volumes,
        ..create(&["a"], "nyc3")
    };
    check_unprocessable(
        |w, request| w.cloud.create_droplets(w.now, request),
        vec![
            (
                with(vec![VolumeRef::Id("not-a-uuid".into())]),
                INVALID.into(),
            ),
            (
                with(vec![VolumeRef::Name("missing".into())]),
                INVALID.into(),
            ),
        ],
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
