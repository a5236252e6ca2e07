//! Domains and records: the zone a create makes, records that share names, filters, updates.

use super::fixture::world;
use crate::*;

fn a(name: &str, ip: &str) -> DomainRecordSpec {
    DomainRecordSpec {
        record_type: Some("A".into()),
        name: Some(name.into()),
        data: Some(ip.into()),
        ..DomainRecordSpec::default()
    }
}

/// A record as `TYPE name data ttl`.
fn line(record: &DomainRecord) -> String {
    format!(
        "{} {} {} {}",
        record.record_type, record.name, record.data, record.ttl
    )
}

#[test]
fn a_domain_starts_with_its_zone_and_records_may_share_a_name() {
    let mut w = world(CloudConfig::default());
    let now = w.now;
    let cloud = &mut w.cloud;
    let domain = cloud
        .create_domain(now, "Example.com", Some("192.0.2.1"))
        .unwrap();
    assert_eq!(domain.name, "example.com");
    assert_eq!(
        domain.records.iter().map(line).collect::<Vec<_>>(),
        [
            "SOA @ 1800 1800",
            "NS @ ns1.digitalocean.com 1800",
            "NS @ ns2.digitalocean.com 1800",
            "NS @ ns3.digitalocean.com 1800",
            "A @ 192.0.2.1 1800",
        ]
    );
    assert!(domain
        .zone_file()
        .starts_with("$ORIGIN example.com.\n$TTL 1800\nexample.com. IN SOA ns1.digitalocean.com. hostmaster.example.com. "));
    assert!(domain
        .zone_file()
        .ends_with("example.com. 1800 IN A 192.0.2.1\n"));

    // Two workers "ensuring" api.example.com: two records, with their own ids.
    let first = cloud
        .create_domain_record(now, "example.com", a("api", "203.0.113.10"))
        .unwrap();
    let second = cloud
        .create_domain_record(now, "example.com", a("api", "203.0.113.10"))
        .unwrap();
    assert_eq!(second.id, first.id + 1);
    let api_records = |cloud: &mut Cloud| {
        cloud
            .domain_records(
                now,
                "example.com",
                &DomainRecordFilter {
                    name: Some("api.example.com".into()),
                    record_type: Some("a".into()),
                },
            )
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(api_records(cloud), vec![first.id, second.id]);

    // An update changes the fields given; the SOA's TTL is the zone's.
    let moved = cloud
        .update_domain_record(
            now,
            "example.com",
            second.id,
            DomainRecordSpec {
                data: Some("203.0.113.11".into()),
                ttl: Some(60),
                ..DomainRecordSpec::default()
            },
        )
        .unwrap();
    assert_eq!(line(&moved), "A api 203.0.113.11 60");
    let soa = domain.records[0].id;
    cloud
        .update_domain_record(
            now,
            "example.com",
            soa,
            DomainRecordSpec {
                ttl: Some(300),
                ..DomainRecordSpec::default()
            },
        )
        .unwrap();
    assert_eq!(cloud.domain(now, "example.com").unwrap().ttl, 300);

    cloud
        .delete_domain_record(now, "example.com", first.id)
        .unwrap();
    assert_eq!(api_records(cloud), vec![second.id]);
    cloud.delete_domain(now, "EXAMPLE.com").unwrap();
    assert!(cloud.domains(now).is_empty());
    cloud.check_invariants().unwrap();
}
