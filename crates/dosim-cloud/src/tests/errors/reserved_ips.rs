//! Refusals of reserved IP creates, actions and deletes.

use super::*;

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
    check_unprocessable(
        |w, request| w.cloud.create_reserved_ip(w.now, request),
        vec![
            (
                region_ip("mars1"),
                "region: \"mars1\" is not a valid region".into(),
            ),
            (
                ReservedIpCreate {
                    project_id: Some("nope".into()),
                    ..region_ip("nyc3")
                },
                "project_id: \"nope\" is not a valid UUID".into(),
            ),
        ],
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
    check_not_found(|w| {
        w.cloud.reserved_ip_action(
            w.now,
            w.ip,
            ReservedIpAction::Assign {
                droplet_id: DropletId(1),
            },
        )
    });
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
