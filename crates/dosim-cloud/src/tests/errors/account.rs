//! Refusals of tags, domains and their records, and SSH keys.

use super::*;

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
    check_not_found(|w| w.cloud.tag(w.now, "web"));
    check(
        none,
        tagged,
        |w| w.cloud.tag(w.now, "WEB"),
        "not_found",
        NOT_FOUND,
    );
    check_not_found(|w| w.cloud.delete_tag(w.now, "web"));
    check_not_found(|w| {
        let web1 = w.web1;
        w.cloud
            .tag_resources(w.now, "web", &[target("droplet", web1)])
    });
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
    check_not_found(|w| {
        w.cloud
            .create_domain_record(w.now, "example.com", record("A", "api", "192.0.2.1"))
    });
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
    check_not_found(|w| w.cloud.ssh_key(w.now, "1"));
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
