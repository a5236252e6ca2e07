//! VPCs: the defaults, ranges drawn and given, moving the default, members, and full networks.

use super::fixture::{create, world};
use crate::*;

fn vpc(name: &str, ip_range: Option<&str>) -> VpcCreate {
    VpcCreate {
        name: name.into(),
        region: "nyc3".into(),
        description: None,
        ip_range: ip_range.map(str::to_owned),
    }
}

#[test]
fn vpcs_hold_their_droplets_and_one_default_per_region() {
    let mut w = world(CloudConfig::default());
    let now = w.now;
    let cloud = &mut w.cloud;
    let defaults = cloud.vpcs(now);
    let nyc3 = defaults
        .iter()
        .find(|v| v.region == "nyc3")
        .expect("nyc3 has a default VPC")
        .clone();
    assert_eq!((nyc3.name.as_str(), nyc3.default), ("default-nyc3", true));
    assert_eq!(nyc3.ip_range.prefix(), 20);

    // Without a range, the first free /20 from 10.100.0.0; with one, exactly it.
    let drawn = cloud.create_vpc(now, vpc("apps", None)).unwrap();
    assert_eq!(drawn.ip_range.to_string(), "10.100.0.0/20");
    let small = cloud
        .create_vpc(now, vpc("small", Some("192.168.5.0/28")))
        .unwrap();
    assert!(!small.default);

    // Droplets in the small VPC take its addresses, 13 of them, then it is full.
    for batch in [10, 3] {
        let names: Vec<String> = (0..batch).map(|i| format!("s-{batch}-{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut request = create(&names, "nyc3");
        request.vpc_uuid = Some(small.id.to_string());
        cloud.create_droplets(now, request).unwrap();
    }
    let members = cloud.vpc_members(now, small.id).unwrap();
    assert_eq!(members.len(), 13);
    cloud.advance(now.plus_ms(60_000));
    for droplet in cloud.droplets(now, DropletFilter::default()) {
        if droplet.vpc_uuid == small.id {
            let private = droplet
                .networks
                .v4
                .iter()
                .find(|n| n.network_type == NetworkType::Private)
                .expect("a private address")
                .ip_address;
            assert!(
                Ipv4Net::parse(&format!("{private}/32"))
                    .is_some_and(|one| small.ip_range.overlaps(one)),
                "{private} outside {}",
                small.ip_range
            );
        }
    }
    let mut full = create(&["one-more"], "nyc3");
    full.vpc_uuid = Some(small.id.to_string());
    assert_eq!(
        cloud
            .create_droplets(now, full.clone())
            .unwrap_err()
            .message,
        msg::VPC_FULL
    );
    // A destroyed droplet's address is free again.
    let gone = cloud.vpc_members(now, small.id).unwrap()[0].urn.clone();
    let gone: u64 = gone.trim_start_matches("do:droplet:").parse().unwrap();
    cloud.delete_droplet(now, DropletId(gone)).unwrap();
    cloud.create_droplets(now, full).unwrap();
    assert_eq!(cloud.vpc_members(now, small.id).unwrap().len(), 13);

    // Making "apps" the default moves new droplets there and leaves one default in nyc3.
    cloud
        .update_vpc(
            now,
            drawn.id,
            VpcUpdate {
                default: Some(true),
                ..VpcUpdate::default()
            },
        )
        .unwrap();
    let id = cloud
        .create_droplets(now, create(&["in-apps"], "nyc3"))
        .unwrap()[0]
        .0;
    assert_eq!(cloud.droplet(now, id).unwrap().vpc_uuid, drawn.id);
    assert!(!cloud.vpc(now, nyc3.id).unwrap().default);
    // The new default cannot be deleted, and neither can a VPC with members (the old default
    // still holds the fixture's droplets).
    assert_eq!(
        cloud.delete_vpc(now, nyc3.id).unwrap_err().message,
        msg::VPC_HAS_MEMBERS
    );
    assert_eq!(
        cloud.delete_vpc(now, drawn.id).unwrap_err().message,
        msg::VPC_DEFAULT_DELETE
    );
    assert_eq!(
        cloud.delete_vpc(now, small.id).unwrap_err().message,
        msg::VPC_HAS_MEMBERS
    );
    cloud.check_invariants().unwrap();
}
