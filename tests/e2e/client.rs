//! The typed Rust client against the `dosim` binary's `serve` over real TCP.

use std::time::Duration;

use dosim_client::{
    Client, ConnectionPoolCreate, DatabaseCreate, DomainRecordEdit, DropletCreate, Firewall,
    FirewallTarget, ForwardingRule, InboundRule, LoadBalancer, ProjectEdit, SshKey, TagResource,
    TaggedCount, VolumeCreate, VpcEdit,
};
use dosim_tests::Serve;

use crate::api_client;

/// A token of DigitalOcean's shape; each distinct one is an isolated account.
fn token(n: u8) -> String {
    format!("dop_v1_{}", format!("{n:02x}").repeat(32))
}

async fn wait(api: &Client, action_id: u64) {
    api.wait_for_action(action_id)
        .poll_interval(Duration::from_millis(20))
        .timeout(Duration::from_secs(20))
        .await
        .expect("the action completes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_client_against_dosim_serve() {
    // --time-scale 100: a 30 s boot takes 0.3 s of wall time.
    let serve = Serve::start(&["--seed", "3", "--time-scale", "100"]);
    let api = api_client(&serve, &serve.token);

    assert!(api.droplets().list().all().await.unwrap().is_empty());

    let create = DropletCreate::new("web-1", "s-1vcpu-1gb", "ubuntu-24-04-x64")
        .region("nyc3")
        .tag("e2e");
    let created = api.droplets().create(&create).await.unwrap();
    assert_eq!(created.resource.status, dosim_client::DropletStatus::New);
    wait(&api, created.action_id().expect("a create action")).await;
    let droplet = api
        .wait_for_droplet_active(created.resource.id)
        .poll_interval(Duration::from_millis(20))
        .await
        .unwrap();
    assert!(droplet.public_ipv4().is_some());

    // The rate-limit state of the last response reaches the caller.
    let rate = api
        .rate_limit()
        .expect("every response carries ratelimit headers");
    assert_eq!(rate.limit, 5000);
    assert!(rate.remaining < 5000);

    // A volume, a typed 409 for the duplicate, an attach.
    let volume = api
        .volumes()
        .create(&VolumeCreate::new("pgdata", "nyc3", 100))
        .await
        .unwrap();
    let duplicate = api
        .volumes()
        .create(&VolumeCreate::new("pgdata", "nyc3", 100))
        .await
        .expect_err("volume names are unique per region");
    assert!(duplicate.is_conflict(), "{duplicate}");
    let body = duplicate.api().expect("an API error");
    assert_eq!(body.status, 409);
    assert!(body.message.contains("already exists"), "{}", body.message);
    assert!(body.request_id.is_some());
    let attach = api
        .volumes()
        .attach(&volume.id, droplet.id, "nyc3")
        .await
        .unwrap();
    wait(&api, attach.id).await;
    assert_eq!(
        api.volumes().get(&volume.id).await.unwrap().droplet_ids,
        vec![droplet.id]
    );

    // A second droplet still booting refuses the reserved IP with DigitalOcean's pending event.
    let second = api
        .droplets()
        .create(&DropletCreate::new("web-2", "s-1vcpu-1gb", "ubuntu-24-04-x64").region("nyc3"))
        .await
        .unwrap();
    let ip = api
        .reserved_ips()
        .create_in_region("nyc3")
        .await
        .unwrap()
        .resource
        .ip;
    let early = api
        .reserved_ips()
        .assign(&ip, second.resource.id)
        .await
        .expect_err("a droplet being created has a pending event");
    assert!(early.is_pending_event(), "{early}");
    assert_eq!(
        early.api().unwrap().message,
        "Droplet already has a pending event."
    );
    wait(&api, second.action_id().unwrap()).await;

    // Assign, then reassign: the IP moves; the legacy floating-IP paths see the same IP.
    let first = api.reserved_ips().assign(&ip, droplet.id).await.unwrap();
    wait(&api, first.id).await;
    let moved = api
        .reserved_ips()
        .assign(&ip, second.resource.id)
        .await
        .unwrap();
    wait(&api, moved.id).await;
    let held = api.floating_ips().get(&ip).await.unwrap();
    assert_eq!(
        held.droplet.map(|d| d.id),
        Some(second.resource.id),
        "the last assign wins"
    );

    // Pagination follows links built from the server's own base URL.
    for n in 0..45 {
        api.volumes()
            .create(&VolumeCreate::new(format!("vol-{n}"), "sfo3", 1))
            .await
            .unwrap();
    }
    let page = api.volumes().list().per_page(20).send().await.unwrap();
    assert_eq!(page.items.len(), 20);
    assert_eq!(page.meta.total, Some(46));
    let all = api.volumes().list().per_page(20).all().await.unwrap();
    assert_eq!(all.len(), 46);

    // A managed PostgreSQL cluster's control plane.
    let cluster = api
        .databases()
        .create(&DatabaseCreate::new("backend", "pg", "nyc3", "db-s-1vcpu-1gb", 1).version("16"))
        .await
        .unwrap();
    assert_eq!(cluster.status, "creating");
    let connection = api.databases().connection(&cluster.id).await.unwrap();
    // `dosim serve` serves the cluster on a local port, so its connection shows that instead of 25060.
    assert_eq!(connection.host, "127.0.0.1");
    assert_ne!(connection.port, 25060);
    assert!(connection.uri.starts_with("postgres://doadmin:"));
    api.databases()
        .create_db(&cluster.id, "ledger")
        .await
        .unwrap();
    api.databases()
        .create_pool(
            &cluster.id,
            &ConnectionPoolCreate::new("ledger-pool", "transaction", 10, "ledger"),
        )
        .await
        .unwrap();
    assert_eq!(
        api.databases()
            .get_pool(&cluster.id, "ledger-pool")
            .await
            .unwrap()
            .name,
        "ledger-pool"
    );

    // Claim by tagging: the droplet created with "e2e" carries it; a second tag is created and
    // put on the droplet and the cluster, counted, filtered on, and deleted.
    let e2e = api.tags().get("e2e").await.unwrap();
    assert_eq!(e2e.resources.droplets.count, 1);
    let claimed = api.tags().create("Claimed").await.unwrap();
    assert_eq!(claimed.resources.total.count, 0);
    assert_eq!(api.tags().create("claimed").await.unwrap().name, "Claimed");
    api.tags()
        .tag(
            "Claimed",
            &[
                TagResource::droplet(droplet.id),
                TagResource::database(&cluster.id),
            ],
        )
        .await
        .unwrap();
    let claimed = api.tags().get("Claimed").await.unwrap();
    assert_eq!(
        (
            claimed.resources.total.count,
            claimed.resources.droplets.count
        ),
        (2, 1)
    );
    assert!(claimed
        .resources
        .total
        .last_tagged_uri
        .is_some_and(|uri| uri.ends_with(&format!("/v2/databases/{}", cluster.id))));
    let names: Vec<String> = api
        .tags()
        .list()
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|tag| tag.name)
        .collect();
    assert_eq!(names, ["Claimed", "e2e"]);
    let refused = api
        .tags()
        .tag("Claimed", &[TagResource::droplet(1)])
        .await
        .expect_err("no droplet 1");
    assert!(refused.is_not_found());
    api.tags()
        .untag("Claimed", &[TagResource::droplet(droplet.id)])
        .await
        .unwrap();
    assert_eq!(
        api.tags().get("Claimed").await.unwrap().resources.droplets,
        TaggedCount::default()
    );
    api.tags().delete("Claimed").await.unwrap();
    assert!(api.tags().get("Claimed").await.unwrap_err().is_not_found());

    // SSH keys: a droplet create names one by fingerprint; an unknown one is refused.
    let key = api
        .ssh_keys()
        .create(
            "ci",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB ci",
        )
        .await
        .unwrap();
    assert_eq!(
        api.ssh_keys().get(&key.fingerprint).await.unwrap().id,
        key.id
    );
    let again = api
        .ssh_keys()
        .create("again", &key.public_key)
        .await
        .expect_err("the key is on the account already");
    assert_eq!(
        again.api().unwrap().message,
        "SSH Key is already in use on your account"
    );
    let with_key = DropletCreate::new("keyed", "s-1vcpu-1gb", "ubuntu-24-04-x64")
        .region("nyc3")
        .ssh_keys(vec![SshKey::Fingerprint(key.fingerprint.clone())]);
    api.droplets().create(&with_key).await.unwrap();
    let unknown = DropletCreate::new("unkeyed", "s-1vcpu-1gb", "ubuntu-24-04-x64")
        .region("nyc3")
        .ssh_keys(vec![SshKey::Id(1)]);
    let refused = api.droplets().create(&unknown).await.unwrap_err();
    assert_eq!(
        refused.api().unwrap().message,
        "1 are invalid key identifiers for Droplet creation."
    );
    api.ssh_keys().delete(&key.id.to_string()).await.unwrap();

    // Projects: a project holding a droplet refuses deletion; emptied, it goes once the
    // relocation (10 s of server time) is over.
    let staging = api
        .projects()
        .create(&ProjectEdit::new("staging", "Web Application"))
        .await
        .unwrap();
    let urn = format!("do:droplet:{}", droplet.id);
    let moved = api
        .projects()
        .assign(&staging.id, std::slice::from_ref(&urn))
        .await
        .unwrap();
    assert_eq!(moved[0].urn, urn);
    let refused = api.projects().delete(&staging.id).await.unwrap_err();
    assert_eq!(refused.status(), Some(412));
    api.projects().assign("default", &[urn]).await.unwrap();
    // Once the relocation is over the empty project goes; how long that takes in wall time
    // depends on the machine, so poll.
    let mut deleted = false;
    for _ in 0..200 {
        match api.projects().delete(&staging.id).await {
            Ok(()) => {
                deleted = true;
                break;
            }
            Err(error) if error.status() == Some(412) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("deleting the emptied project: {error}"),
        }
    }
    assert!(deleted, "the project was never deleted");

    // Firewalls: a droplet added to one lists it among its firewalls.
    let firewall = api
        .firewalls()
        .create(&Firewall {
            name: "web".into(),
            inbound_rules: vec![InboundRule {
                protocol: "tcp".into(),
                ports: "443".into(),
                sources: FirewallTarget {
                    addresses: vec!["0.0.0.0/0".into()],
                    ..FirewallTarget::default()
                },
            }],
            ..Firewall::default()
        })
        .await
        .unwrap();
    api.firewalls()
        .add_droplets(&firewall.id, &[droplet.id])
        .await
        .unwrap();
    let on_droplet = api.firewalls().for_droplet(droplet.id).all().await.unwrap();
    assert_eq!(on_droplet.len(), 1);
    assert_eq!(on_droplet[0].droplet_ids, vec![droplet.id]);
    api.firewalls().delete(&firewall.id).await.unwrap();

    // Load balancers: new, then active with an address; droplets join once it is active.
    let http = ForwardingRule {
        entry_protocol: "http".into(),
        entry_port: 80,
        target_protocol: "http".into(),
        target_port: 8080,
        ..ForwardingRule::default()
    };
    let lb = api
        .load_balancers()
        .create(&LoadBalancer {
            name: "web-lb".into(),
            region: "nyc3".into(),
            forwarding_rules: vec![http],
            ..LoadBalancer::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (lb.status.as_str(), lb.ip.as_str(), lb.region.as_str()),
        ("new", "", "nyc3")
    );
    let early = api
        .load_balancers()
        .add_droplets(&lb.id, &[droplet.id])
        .await;
    assert_eq!(early.unwrap_err().status(), Some(422));
    let mut active = lb.clone();
    for _ in 0..500 {
        active = api.load_balancers().get(&lb.id).await.unwrap();
        if active.status == "active" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(active.status, "active");
    assert!(!active.ip.is_empty());
    api.load_balancers()
        .add_droplets(&lb.id, &[droplet.id])
        .await
        .unwrap();
    let listed = api.load_balancers().list().all().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].droplet_ids, vec![droplet.id]);
    api.load_balancers().delete(&lb.id).await.unwrap();

    // VPCs: a droplet created in one is its member; the VPC cannot go while it is.
    let vpc = api
        .vpcs()
        .create(&VpcEdit::new("apps", "nyc3").ip_range("10.250.0.0/24"))
        .await
        .unwrap();
    let mut in_vpc = DropletCreate::new("in-vpc", "s-1vcpu-1gb", "ubuntu-24-04-x64").region("nyc3");
    in_vpc.vpc_uuid = Some(vpc.id.clone());
    let member = api.droplets().create(&in_vpc).await.unwrap().resource;
    let members = api.vpcs().members(&vpc.id).all().await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].urn, format!("do:droplet:{}", member.id));
    let busy = api.vpcs().delete(&vpc.id).await.unwrap_err();
    assert_eq!(busy.status(), Some(409));

    // DNS: two records with one name are two records; the list filters by name and type.
    let domain = api
        .domains()
        .create("example.com", Some("192.0.2.1"))
        .await
        .unwrap();
    assert_eq!(domain.ttl, Some(1800));
    for _ in 0..2 {
        api.domains()
            .create_record(
                "example.com",
                &DomainRecordEdit::new("A", "api", "203.0.113.10"),
            )
            .await
            .unwrap();
    }
    let api_records = api
        .domains()
        .records("example.com")
        .name("api.example.com")
        .record_type("A")
        .all()
        .await
        .unwrap();
    assert_eq!(api_records.len(), 2);
    let moved = api
        .domains()
        .update_record(
            "example.com",
            api_records[1].id,
            &DomainRecordEdit {
                data: Some("203.0.113.11".into()),
                ..DomainRecordEdit::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (moved.name.as_str(), moved.data.as_str()),
        ("api", "203.0.113.11")
    );
    api.domains()
        .delete_record("example.com", api_records[0].id)
        .await
        .unwrap();
    api.domains().delete("example.com").await.unwrap();
    assert!(api.domains().list().all().await.unwrap().is_empty());

    // Another token sees none of it; a malformed one is refused.
    let other = api_client(&serve, &token(9));
    assert!(other.volumes().list().all().await.unwrap().is_empty());
    let denied = api_client(&serve, "not-a-token")
        .droplets()
        .list()
        .all()
        .await
        .expect_err("a malformed token is refused");
    assert_eq!(denied.status(), Some(401));
    assert_eq!(denied.api().unwrap().message, "Unable to authenticate you.");

    // 404 for a droplet that never existed.
    let missing = api.droplets().get(1).await.expect_err("no droplet 1");
    assert!(missing.is_not_found());
}
