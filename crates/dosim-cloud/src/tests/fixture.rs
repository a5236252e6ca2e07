//! A small account that the tests start from: three active droplets, two detached volumes, one reserved IP.

use crate::*;
use std::net::Ipv4Addr;

pub(super) const SEED: u64 = 0x5eed_0042;

/// The account and the handles of what is in it.
pub(super) struct World {
    pub cloud: Cloud,
    pub now: SimTime,
    /// Active, in nyc3.
    pub web1: DropletId,
    /// Active, in nyc3.
    pub web2: DropletId,
    /// Active, in sfo3.
    pub far: DropletId,
    /// Detached, in nyc3, 10 GiB.
    pub data: VolumeId,
    /// Detached, in sfo3.
    pub far_data: VolumeId,
    /// Unassigned, in nyc3.
    pub ip: Ipv4Addr,
}

pub(super) fn create(names: &[&str], region: &str) -> DropletCreate {
    DropletCreate {
        names: names.iter().map(|n| n.to_string()).collect(),
        region: Some(region.to_string()),
        ..DropletCreate::new("", "s-1vcpu-1gb", ImageRef::Slug("ubuntu-24-04-x64".into()))
    }
}

pub(super) fn volume(name: &str, region: &str) -> VolumeCreate {
    VolumeCreate {
        name: name.to_string(),
        size_gigabytes: 10,
        region: region.to_string(),
        ..VolumeCreate::default()
    }
}

/// A one-node PostgreSQL cluster of the smallest size.
pub(super) fn pg_cluster(name: &str, region: &str) -> DatabaseCreate {
    DatabaseCreate {
        name: name.to_string(),
        engine: "pg".into(),
        num_nodes: 1,
        size: "db-s-1vcpu-1gb".into(),
        region: region.to_string(),
        ..DatabaseCreate::default()
    }
}

pub(super) fn world(config: CloudConfig) -> World {
    let provision_ms = config.droplet_provision_ms;
    let mut cloud = Cloud::new(config, SEED);
    let t0 = SimTime::ZERO;
    let ids = cloud
        .create_droplets(t0, create(&["web-1", "web-2"], "nyc3"))
        .unwrap();
    let far = cloud.create_droplets(t0, create(&["far"], "sfo3")).unwrap()[0].0;
    let data = cloud.create_volume(t0, volume("data", "nyc3")).unwrap().id;
    let far_data = cloud
        .create_volume(t0, volume("far-data", "sfo3"))
        .unwrap()
        .id;
    let ip = cloud
        .create_reserved_ip(
            t0,
            ReservedIpCreate {
                region: Some("nyc3".into()),
                ..ReservedIpCreate::default()
            },
        )
        .unwrap()
        .ip;
    let now = SimTime(provision_ms);
    cloud.advance(now);
    World {
        cloud,
        now,
        web1: ids[0].0,
        web2: ids[1].0,
        far,
        data,
        far_data,
        ip,
    }
}
