//! Every refusal: its exact DigitalOcean message and error id, and that it leaves the account untouched.

use super::fixture::{create, pg_cluster, volume, world, World};
use crate::*;
use std::fmt::Debug;
use std::net::Ipv4Addr;

mod account;
mod databases;
mod droplets;
mod networking;
mod reserved_ips;
mod volumes;

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
    let probe = pg_cluster("probe", "nyc1");
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

/// Expects `call` to refuse each request with 422 and its message, each on a fresh fixture.
#[track_caller]
fn check_unprocessable<R, T: Debug>(
    call: impl Fn(&mut World, R) -> Result<T, Error>,
    cases: Vec<(R, String)>,
) {
    for (request, message) in cases {
        check(none, nothing, |w| call(w, request), UNPROCESSABLE, &message);
    }
}

/// Expects `call` to answer 404 on the default fixture.
#[track_caller]
fn check_not_found<T: Debug>(call: impl FnOnce(&mut World) -> Result<T, Error>) {
    check(none, nothing, call, "not_found", NOT_FOUND);
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
    w.act_on_volume(volume_id, VolumeAction::Attach { droplet_id })
}

impl World {
    /// `action` on the volume with `id`.
    fn act_on_volume(&mut self, id: VolumeId, action: VolumeAction) -> Result<ActionId, Error> {
        let target = VolumeActionTarget::Id(id);
        self.cloud.volume_action(self.now, target, action)
    }

    /// `action` on the volume called `name`, in `region`, or wherever it is without one.
    fn act_on_named_volume(
        &mut self,
        name: &str,
        region: Option<&str>,
        action: VolumeAction,
    ) -> Result<ActionId, Error> {
        let target = VolumeActionTarget::Name {
            name: name.into(),
            region: region.map(Into::into),
        };
        self.cloud.volume_action(self.now, target, action)
    }
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
    check_not_found(|w| w.cloud.droplet(w.now, DropletId(1)));
    check_not_found(|w| w.cloud.delete_droplet(w.now, DropletId(1)));
    check_not_found(|w| {
        w.cloud
            .droplet_action(w.now, DropletId(1), DropletActionRequest::PowerOn)
    });
    check_not_found(|w| w.cloud.action(w.now, ActionId(1)));
    check_not_found(|w| w.cloud.volume(w.now, VolumeId(uuid::Uuid::nil())));
    check_not_found(|w| w.cloud.delete_volume_by_name(w.now, "data", "sfo3"));
    check_not_found(|w| {
        let v = w.data;
        attach(w, v, DropletId(1))
    });
    check_not_found(|w| w.cloud.reserved_ip(w.now, Ipv4Addr::new(1, 2, 3, 4)));
    check_not_found(|w| w.cloud.delete_reserved_ip(w.now, Ipv4Addr::new(1, 2, 3, 4)));
    check_not_found(|w| w.cloud.database(w.now, DatabaseId(uuid::Uuid::nil())));
    check_not_found(|w| {
        w.cloud.create_volume(
            w.now,
            VolumeCreate {
                snapshot_id: Some("123".into()),
                ..volume("snap", "nyc3")
            },
        )
    });
}
