//! Refusals of VPCs, firewalls and load balancers, and how those resources keep their lists.

use super::*;

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
