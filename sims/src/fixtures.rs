//! The initial clouds the races start from: droplets, volumes and reserved IPs that already exist.
//!
//! These run inside `Scenario::cloud`, on the account model directly, at simulated time zero.
//! Scenarios that start with droplets set `droplet_provision_ms` to 0 so those droplets are
//! `active` when the actors start, as long-running hosts are.

use dosim::cloud::{self, Cloud, DropletCreate, ImageRef, ReservedIpCreate, SimTime, VolumeCreate};

/// The region every race runs in.
pub const REGION: &str = "nyc3";
/// The droplet size every race uses.
pub const SIZE: &str = "s-1vcpu-1gb";
/// The image every race uses.
pub const IMAGE: &str = "ubuntu-24-04-x64";

/// Creates one droplet called `name` with `tags` in [`REGION`]; returns its id.
///
/// Panics if the model refuses, which only a mistake in the scenario can cause.
pub fn droplet(cloud: &mut Cloud, name: &str, tags: &[&str]) -> u64 {
    let mut request = DropletCreate::new(name, SIZE, ImageRef::Slug(IMAGE.to_owned()));
    request.region = Some(REGION.to_owned());
    request.tags = tags.iter().map(|tag| (*tag).to_owned()).collect();
    let created = cloud
        .create_droplets(SimTime::ZERO, request)
        .expect("the scenario's droplet is valid");
    created[0].0 .0
}

/// Creates an unattached volume called `name` of 10 GiB with `tags` in [`REGION`]; returns its id.
pub fn volume(cloud: &mut Cloud, name: &str, tags: &[&str]) -> String {
    let request = VolumeCreate {
        name: name.to_owned(),
        size_gigabytes: 10,
        region: REGION.to_owned(),
        description: None,
        snapshot_id: None,
        filesystem_type: None,
        filesystem_label: None,
        tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
    };
    cloud
        .create_volume(SimTime::ZERO, request)
        .expect("the scenario's volume is valid")
        .id
        .to_string()
}

/// Reserves an unassigned IP in [`REGION`]; returns the address.
pub fn reserved_ip(cloud: &mut Cloud) -> String {
    cloud
        .create_reserved_ip(
            SimTime::ZERO,
            ReservedIpCreate {
                region: Some(REGION.to_owned()),
                droplet_id: None,
                project_id: None,
            },
        )
        .expect("the scenario's reserved IP is valid")
        .ip
        .to_string()
}

/// DigitalOcean's defaults with actions shortened to half a second, and droplets that exist at
/// the start already `active`: the races depend on the order of events, not on their length.
pub fn quick_config() -> cloud::CloudConfig {
    cloud::CloudConfig {
        droplet_provision_ms: 0,
        droplet_action_ms: 500,
        volume_action_ms: 500,
        reserved_ip_action_ms: 500,
        ..cloud::CloudConfig::default()
    }
}
