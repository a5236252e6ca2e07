//! Every response example in the spec decodes through the call that receives it.

mod common;

use common::{run, Reply, Script};
use dosim_client::{Client, Error, Page};

/// Runs the call that answers with `fixture` and renders what it decoded.
async fn decode(client: &Client, fixture: &str) -> Result<String, Error> {
    let op = fixture.split('_').next().unwrap();
    let kind = &fixture[..fixture.find(|c: char| c.is_ascii_digit()).unwrap()];
    fn page<T>(page: &Page<T>, each: impl Fn(&T) -> String) -> String {
        let items: Vec<String> = page.items.iter().map(each).collect();
        format!(
            "[{}] total={:?} next={:?}",
            items.join(", "),
            page.meta.total,
            page.next_page()
        )
    }
    let action = |a: &dosim_client::Action| {
        format!(
            "{} {} {:?} {}:{:?}",
            a.id, a.r#type, a.status, a.resource_type, a.resource_id
        )
    };
    Ok(match (op, kind) {
        (_, "droplets_create_") if fixture.contains("multiple") => {
            let created = client
                .droplets()
                .create_multiple(["a", "b"], &dosim_client::DropletCreate::new("", "s", "i"))
                .await?;
            let names: Vec<&str> = created.resource.iter().map(|d| d.name.as_str()).collect();
            let actions: Vec<u64> = created.actions.iter().map(|a| a.id).collect();
            format!(
                "{names:?} {:?} actions={actions:?}",
                created.resource[0].status
            )
        }
        (_, "droplets_create_") => {
            let created = client
                .droplets()
                .create(&dosim_client::DropletCreate::new("n", "s", "i"))
                .await?;
            let d = &created.resource;
            format!(
                "{} {} {:?} v4={} action={:?} {}",
                d.id,
                d.name,
                d.status,
                d.networks.v4.len(),
                created.action_id(),
                created.actions[0].rel
            )
        }
        (_, "droplets_get_") => {
            let d = client.droplets().get(1).await?;
            format!(
                "{} {} {:?} {}MB {} {:?} {:?} locked={} tags={:?} image={:?} backup={:?}",
                d.id,
                d.name,
                d.status,
                d.memory,
                d.size_slug,
                d.region_slug(),
                d.private_ipv4(),
                d.locked,
                d.tags,
                d.image.as_ref().and_then(|i| i.slug.clone()),
                d.next_backup_window.as_ref().map(|w| w.start.clone())
            )
        }
        (_, "droplets_list_") => page(&client.droplets().list().send().await?, |d| {
            format!("{} {} {:?}", d.id, d.name, d.status)
        }),
        ("dropletActions", "dropletActions_list_") => {
            page(&client.droplets().actions(1).send().await?, action)
        }
        ("dropletActions", "dropletActions_get_") => action(&client.droplets().action(1, 2).await?),
        ("dropletActions", "dropletActions_post_byTag_") => {
            let actions = client.droplets().actions_by_tag("web", "power_off").await?;
            actions.iter().map(action).collect::<Vec<_>>().join(", ")
        }
        ("dropletActions", "dropletActions_post_") => {
            action(&client.droplets().power_off(1).await?)
        }
        (_, "actions_get_") => action(&client.actions().get(1).await?),
        (_, "actions_list_") => page(&client.actions().list().send().await?, action),
        (_, "volumes_create_") => {
            let v = client
                .volumes()
                .create(&dosim_client::VolumeCreate::new("example", "nyc1", 10))
                .await?;
            format!(
                "{} {} {:?} {}GiB {} tags={:?}",
                v.id,
                v.name,
                v.region_slug(),
                v.size_gigabytes,
                v.filesystem_type,
                v.tags
            )
        }
        (_, "volumes_get_") => {
            let v = client.volumes().get("x").await?;
            format!(
                "{} {} {:?} {}GiB {:?} {}",
                v.id,
                v.name,
                v.region_slug(),
                v.size_gigabytes,
                v.droplet_id(),
                v.description
            )
        }
        (_, "volumes_list_") => page(&client.volumes().list().send().await?, |v| {
            format!("{} {:?}", v.name, v.region_slug())
        }),
        (_, "volumeActions_list_") => page(&client.volumes().actions("x").send().await?, action),
        (_, "volumeActions_get_") => action(&client.volumes().action("x", 1).await?),
        (_, "volumeActions_post_byId_") => action(&client.volumes().attach("x", 1, "nyc1").await?),
        (_, "volumeActions_post_") => {
            action(&client.volumes().attach_by_name("x", 1, "nyc1").await?)
        }
        (_, "reservedIPs_create_") | (_, "floatingIPs_create_") => {
            let ips = if op == "reservedIPs" {
                client.reserved_ips()
            } else {
                client.floating_ips()
            };
            let created = ips.create_for_droplet(1).await?;
            let droplets: Vec<u64> = created.links.droplets.iter().map(|d| d.id).collect();
            format!(
                "{} locked={} {:?} actions={:?} droplets={droplets:?}",
                created.resource.ip,
                created.resource.locked,
                created.resource.droplet_id(),
                created.action_id()
            )
        }
        (_, "reservedIPs_get_") | (_, "floatingIPs_get_") => {
            let ips = if op == "reservedIPs" {
                client.reserved_ips()
            } else {
                client.floating_ips()
            };
            let ip = ips.get("1.2.3.4").await?;
            format!(
                "{} {:?} {:?} locked={}",
                ip.ip,
                ip.droplet_id(),
                ip.region.as_ref().map(|r| &r.slug),
                ip.locked
            )
        }
        (_, "reservedIPs_list_") | (_, "floatingIPs_list_") => {
            let ips = if op == "reservedIPs" {
                client.reserved_ips()
            } else {
                client.floating_ips()
            };
            page(&ips.list().send().await?, |ip| {
                format!("{} {:?}", ip.ip, ip.droplet_id())
            })
        }
        (_, "reservedIPsActions_list_") => page(
            &client.reserved_ips().actions("1.2.3.4").send().await?,
            action,
        ),
        (_, "floatingIPsAction_list_") => page(
            &client.floating_ips().actions("1.2.3.4").send().await?,
            action,
        ),
        (_, "reservedIPsActions_get_") => {
            action(&client.reserved_ips().action("1.2.3.4", 1).await?)
        }
        (_, "floatingIPsAction_get_") => action(&client.floating_ips().action("1.2.3.4", 1).await?),
        (_, "reservedIPsActions_post_") => {
            action(&client.reserved_ips().assign("1.2.3.4", 1).await?)
        }
        (_, "floatingIPsAction_post_") => {
            action(&client.floating_ips().assign("1.2.3.4", 1).await?)
        }
        (_, "account_get_") => {
            let a = client.account().get().await?;
            format!(
                "{} {} droplet_limit={} {:?}",
                a.uuid,
                a.status,
                a.droplet_limit,
                a.team.map(|t| t.name)
            )
        }
        (_, "regions_list_") => page(&client.regions().list().send().await?, |r| {
            format!("{} {}", r.slug, r.available)
        }),
        (_, "sizes_list_") => page(&client.sizes().list().send().await?, |s| {
            format!("{} {}MB ${}", s.slug, s.memory, s.price_monthly)
        }),
        (_, "databases_list_clusters_") => {
            let clusters = client.databases().list().send().await?;
            clusters
                .iter()
                .map(|c| format!("{} {} {} {}", c.id, c.name, c.engine, c.status))
                .collect::<Vec<_>>()
                .join(", ")
        }
        (_, "databases_create_cluster_") | (_, "databases_get_cluster_") => {
            let c = if kind.contains("create") {
                client
                    .databases()
                    .create(&dosim_client::DatabaseCreate::new(
                        "backend",
                        "pg",
                        "nyc3",
                        "db-s-2vcpu-4gb",
                        2,
                    ))
                    .await?
            } else {
                client.databases().get("x").await?
            };
            let conn = c.connection.unwrap();
            format!(
                "{} {} {} {} {}:{} ssl={} users={} dbs={:?}",
                c.name,
                c.engine,
                c.status,
                c.region,
                conn.host,
                conn.port,
                conn.ssl,
                c.users.len(),
                c.db_names
            )
        }
        (_, "databases_list_users_") => {
            let users = client.databases().list_users("x").await?;
            users
                .iter()
                .map(|u| format!("{} {:?}", u.name, u.role))
                .collect::<Vec<_>>()
                .join(", ")
        }
        (_, "databases_add_user_") | (_, "databases_get_user_") => {
            let u = if kind.contains("add") {
                client
                    .databases()
                    .create_user("x", &dosim_client::DatabaseUserCreate::new("app-01"))
                    .await?
            } else {
                client.databases().get_user("x", "app-01").await?
            };
            format!(
                "{} {:?} password={} mysql={:?} settings={}",
                u.name,
                u.role,
                u.password.is_some(),
                u.mysql_settings.map(|m| m.auth_plugin),
                u.settings.is_some()
            )
        }
        (_, "databases_list_") => format!("{:?}", client.databases().list_dbs("x").await?),
        (_, "databases_add_") => format!("{:?}", client.databases().create_db("x", "alpha").await?),
        (_, "databases_get_") => format!("{:?}", client.databases().get_db("x", "alpha").await?),
        (_, "databases_list_connectionPools_") => {
            let pools = client.databases().list_pools("x").await?;
            pools
                .iter()
                .map(|p| format!("{} {} {}", p.name, p.mode, p.size))
                .collect::<Vec<_>>()
                .join(", ")
        }
        (_, "databases_add_connectionPool_") | (_, "databases_get_connectionPool_") => {
            let p = if kind.contains("add") {
                client
                    .databases()
                    .create_pool(
                        "x",
                        &dosim_client::ConnectionPoolCreate::new(
                            "backend-pool",
                            "transaction",
                            10,
                            "defaultdb",
                        ),
                    )
                    .await?
            } else {
                client.databases().get_pool("x", "backend-pool").await?
            };
            format!(
                "{} {} {} {} {:?} port={:?}",
                p.name,
                p.mode,
                p.size,
                p.db,
                p.user,
                p.connection.map(|c| c.port)
            )
        }
        _ => panic!("no call for fixture {fixture}"),
    })
}

#[track_caller]
fn check(fixture: &str, expect: &str) {
    let status: u16 = fixture
        .split('_')
        .find_map(|part| part.parse().ok())
        .expect("a status in the name");
    let actual = run(async {
        let script = Script::new(vec![Reply::fixture(status, fixture)]);
        decode(&script.client(), fixture).await
    });
    match actual {
        Ok(actual) => assert_eq!(actual, expect, "{fixture}"),
        Err(e) => panic!("{fixture}: {e}"),
    }
}

#[test]
fn every_fixture_has_a_case() {
    let source = include_str!("decode.rs");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".json")
            && !name.contains("_request_")
            && !source.contains(&format!("\"{name}\""))
        {
            missing.push(name);
        }
    }
    missing.sort();
    assert!(
        missing.is_empty(),
        "fixtures without a decode case: {missing:#?}"
    );
}

#[test]
fn account_get_200_synth() {
    check(
        "account_get_200_synth.json",
        "b6fr89dbf6d9156cace5f3c78dc9851d957381ef active droplet_limit=25 Some(\"My Team\")",
    );
}

#[test]
fn actions_get_200_synth() {
    check(
        "actions_get_200_synth.json",
        "36804636 create Completed droplet:Some(3164444)",
    );
}

#[test]
fn actions_list_200_synth() {
    check(
        "actions_list_200_synth.json",
        "[36804636 create Completed droplet:Some(3164444)] total=Some(1) next=None",
    );
}

#[test]
fn databases_add_201_default() {
    check("databases_add_201_default.json", "Db { name: \"alpha\" }");
}

#[test]
fn databases_add_connectionpool_201_default() {
    check(
        "databases_add_connectionPool_201_default.json",
        "backend-pool transaction 10 defaultdb Some(\"doadmin\") port=Some(25061)",
    );
}

#[test]
fn databases_add_user_201_kafka_user() {
    check(
        "databases_add_user_201_kafka_user.json",
        "app-03 Some(\"normal\") password=true mysql=None settings=true",
    );
}

#[test]
fn databases_add_user_201_new_user() {
    check(
        "databases_add_user_201_new_user.json",
        "app-01 Some(\"normal\") password=true mysql=None settings=false",
    );
}

#[test]
fn databases_add_user_201_new_user_for_postgres_with_replication_rights() {
    check(
        "databases_add_user_201_new_user_for_postgres_with_replication_rights.json",
        "app-02 Some(\"normal\") password=true mysql=None settings=true",
    );
}

#[test]
fn databases_add_user_201_new_user_with_mysql_auth_plugin() {
    check(
        "databases_add_user_201_new_user_with_mysql_auth_plugin.json",
        "app-02 Some(\"normal\") password=true mysql=Some(\"mysql_native_password\") settings=false",
    );
}

#[test]
fn databases_create_cluster_201_default() {
    check(
        "databases_create_cluster_201_default.json",
        "backend pg creating nyc3 backend-do-user-19081923-0.db.ondigitalocean.com:25060 ssl=true users=1 dbs=[\"defaultdb\"]",
    );
}

#[test]
fn databases_get_200_default() {
    check("databases_get_200_default.json", "Db { name: \"alpha\" }");
}

#[test]
fn databases_get_cluster_200_default() {
    check(
        "databases_get_cluster_200_default.json",
        "backend pg creating nyc3 backend-do-user-19081923-0.db.ondigitalocean.com:25060 ssl=true users=1 dbs=[\"defaultdb\"]",
    );
}

#[test]
fn databases_get_connectionpool_200_default() {
    check(
        "databases_get_connectionPool_200_default.json",
        "backend-pool transaction 10 defaultdb Some(\"doadmin\") port=Some(25061)",
    );
}

#[test]
fn databases_get_user_200_kafka_user() {
    check(
        "databases_get_user_200_kafka_user.json",
        "app-03 Some(\"normal\") password=true mysql=None settings=true",
    );
}

#[test]
fn databases_get_user_200_new_user() {
    check(
        "databases_get_user_200_new_user.json",
        "app-01 Some(\"normal\") password=true mysql=None settings=false",
    );
}

#[test]
fn databases_get_user_200_new_user_for_postgres_with_replication_rights() {
    check(
        "databases_get_user_200_new_user_for_postgres_with_replication_rights.json",
        "app-02 Some(\"normal\") password=true mysql=None settings=true",
    );
}

#[test]
fn databases_get_user_200_new_user_with_mysql_auth_plugin() {
    check(
        "databases_get_user_200_new_user_with_mysql_auth_plugin.json",
        "app-02 Some(\"normal\") password=true mysql=Some(\"mysql_native_password\") settings=false",
    );
}

#[test]
fn databases_list_200_default() {
    check(
        "databases_list_200_default.json",
        "[Db { name: \"alpha\" }, Db { name: \"defaultdb\" }]",
    );
}

#[test]
fn databases_list_clusters_200_default() {
    check(
        "databases_list_clusters_200_default.json",
        "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30 backend pg online",
    );
}

#[test]
fn databases_list_connectionpools_200_default() {
    check(
        "databases_list_connectionPools_200_default.json",
        "reporting-pool session 10, backend-pool transaction 10",
    );
}

#[test]
fn databases_list_users_200_default() {
    check(
        "databases_list_users_200_default.json",
        "app-01 Some(\"normal\"), app-02 Some(\"normal\"), doadmin Some(\"primary\")",
    );
}

#[test]
fn dropletactions_get_200_synth() {
    check(
        "dropletActions_get_200_synth.json",
        "36804636 create Completed droplet:Some(3164444)",
    );
}

#[test]
fn dropletactions_list_200_default() {
    check(
        "dropletActions_list_200_default.json",
        "[982864273 create Completed droplet:Some(3164444)] total=Some(1) next=None",
    );
}

#[test]
fn dropletactions_post_201_synth() {
    check(
        "dropletActions_post_201_synth.json",
        "36804636 create Completed droplet:Some(3164444)",
    );
}

#[test]
fn dropletactions_post_bytag_201_synth() {
    check(
        "dropletActions_post_byTag_201_synth.json",
        "36804636 create Completed droplet:Some(3164444)",
    );
}

#[test]
fn droplets_create_202_multiple_droplet_create_response() {
    check(
        "droplets_create_202_multiple_droplet_create_response.json",
        "[\"sub-01.example.com\", \"sub-02.example.com\"] New actions=[7515, 7516]",
    );
}

#[test]
fn droplets_create_202_single_droplet_create_response() {
    check(
        "droplets_create_202_single_droplet_create_response.json",
        "3164444 example.com New v4=0 action=Some(7515) create",
    );
}

#[test]
fn droplets_get_200_single_droplet() {
    check(
        "droplets_get_200_single_droplet.json",
        "3164444 example.com Active 1024MB s-1vcpu-1gb Some(\"nyc3\") Some(\"10.128.192.124\") locked=false tags=[\"web\", \"env:prod\"] image=Some(\"ubuntu-20-04-x64\") backup=Some(\"2020-07-30T00:00:00Z\")",
    );
}

#[test]
fn droplets_list_200_all_droplets() {
    check(
        "droplets_list_200_all_droplets.json",
        "[3164444 example.com Active, 3164459 assets.example.com Active, 3164412 stage.example.com Active] total=Some(3) next=None",
    );
}

#[test]
fn droplets_list_200_droplets_filtered_by_tag() {
    check(
        "droplets_list_200_droplets_filtered_by_tag.json",
        "[3164444 example.com Active, 3164459 assets.example.com Active] total=Some(2) next=None",
    );
}

#[test]
fn droplets_list_200_gpu_droplets() {
    check(
        "droplets_list_200_gpu_droplets.json",
        "[448543583 ml-ai-ubuntu-gpu-h100x1-80gb-tor1 Active] total=Some(1) next=None",
    );
}

#[test]
fn floatingipsaction_get_200_default() {
    check(
        "floatingIPsAction_get_200_default.json",
        "72531856 assign_ip Completed floating_ip:Some(758604968)",
    );
}

#[test]
fn floatingipsaction_list_200_default() {
    check(
        "floatingIPsAction_list_200_default.json",
        "[72531856 reserve_ip Completed floating_ip:Some(758604197)] total=Some(1) next=None",
    );
}

#[test]
fn floatingipsaction_post_201_default() {
    check(
        "floatingIPsAction_post_201_default.json",
        "72531856 assign_ip Completed floating_ip:Some(758604968)",
    );
}

#[test]
fn floatingips_create_202_floating_ip_assigning() {
    check(
        "floatingIPs_create_202_floating_ip_assigning.json",
        "45.55.96.47 locked=true None actions=Some(1088924622) droplets=[213939433]",
    );
}

#[test]
fn floatingips_create_202_floating_ip_reserving() {
    check(
        "floatingIPs_create_202_floating_ip_reserving.json",
        "45.55.96.47 locked=false None actions=None droplets=[]",
    );
}

#[test]
fn floatingips_get_200_floating_ip_assigned() {
    check(
        "floatingIPs_get_200_floating_ip_assigned.json",
        "45.55.96.47 Some(3164444) Some(\"nyc3\") locked=false",
    );
}

#[test]
fn floatingips_get_200_floating_ip_reserved() {
    check(
        "floatingIPs_get_200_floating_ip_reserved.json",
        "45.55.96.47 None Some(\"nyc3\") locked=false",
    );
}

#[test]
fn floatingips_list_200_default() {
    check(
        "floatingIPs_list_200_default.json",
        "[45.55.96.47 None] total=Some(1) next=None",
    );
}

#[test]
fn regions_list_200_default() {
    check(
        "regions_list_200_default.json",
        "[nyc3 true] total=Some(13) next=Some(2)",
    );
}

#[test]
fn reservedipsactions_get_200_default() {
    check(
        "reservedIPsActions_get_200_default.json",
        "72531856 assign_ip Completed reserved_ip:Some(758604968)",
    );
}

#[test]
fn reservedipsactions_list_200_default() {
    check(
        "reservedIPsActions_list_200_default.json",
        "[72531856 reserve_ip Completed reserved_ip:Some(758604197)] total=Some(1) next=None",
    );
}

#[test]
fn reservedipsactions_post_201_default() {
    check(
        "reservedIPsActions_post_201_default.json",
        "72531856 assign_ip Completed reserved_ip:Some(758604968)",
    );
}

#[test]
fn reservedips_create_202_reserved_ip_assigning() {
    check(
        "reservedIPs_create_202_reserved_ip_assigning.json",
        "45.55.96.47 locked=true None actions=Some(1088924622) droplets=[213939433]",
    );
}

#[test]
fn reservedips_create_202_reserved_ip_reserving() {
    check(
        "reservedIPs_create_202_reserved_ip_reserving.json",
        "45.55.96.47 locked=false None actions=None droplets=[]",
    );
}

#[test]
fn reservedips_get_200_reserved_ip_assigned() {
    check(
        "reservedIPs_get_200_reserved_ip_assigned.json",
        "45.55.96.47 Some(3164444) Some(\"nyc3\") locked=false",
    );
}

#[test]
fn reservedips_get_200_reserved_ip_reserved() {
    check(
        "reservedIPs_get_200_reserved_ip_reserved.json",
        "45.55.96.47 None Some(\"nyc3\") locked=false",
    );
}

#[test]
fn reservedips_list_200_default() {
    check(
        "reservedIPs_list_200_default.json",
        "[45.55.96.47 None] total=Some(1) next=None",
    );
}

#[test]
fn sizes_list_200_default() {
    check(
        "sizes_list_200_default.json",
        "[s-1vcpu-1gb 1024MB $5] total=Some(64) next=Some(2)",
    );
}

#[test]
fn volumeactions_get_200_volume_action_attach_response() {
    check(
        "volumeActions_get_200_volume_action_attach_response.json",
        "72531856 attach_volume Completed volume:None",
    );
}

#[test]
fn volumeactions_get_200_volumeactiondetachresponse() {
    check(
        "volumeActions_get_200_volumeactiondetachresponse.json",
        "68212773 detach_volume InProgress backend:None",
    );
}

#[test]
fn volumeactions_list_200_default() {
    check(
        "volumeActions_list_200_default.json",
        "[72531856 attach_volume Completed volume:None] total=Some(1) next=None",
    );
}

#[test]
fn volumeactions_post_202_volume_action_attach_response() {
    check(
        "volumeActions_post_202_volume_action_attach_response.json",
        "72531856 attach_volume Completed volume:None",
    );
}

#[test]
fn volumeactions_post_202_volumeactiondetachresponse() {
    check(
        "volumeActions_post_202_volumeactiondetachresponse.json",
        "68212773 detach_volume InProgress backend:None",
    );
}

#[test]
fn volumeactions_post_byid_202_volume_action_attach_response() {
    check(
        "volumeActions_post_byId_202_volume_action_attach_response.json",
        "72531856 attach_volume Completed volume:None",
    );
}

#[test]
fn volumeactions_post_byid_202_volumeactiondetachresponse() {
    check(
        "volumeActions_post_byId_202_volumeactiondetachresponse.json",
        "68212773 detach_volume InProgress backend:None",
    );
}

#[test]
fn volumes_create_201_default() {
    check(
        "volumes_create_201_default.json",
        "506f78a4-e098-11e5-ad9f-000f53306ae1 example Some(\"nyc1\") 10GiB ext4 tags=[]",
    );
}

#[test]
fn volumes_get_200_default() {
    check(
        "volumes_get_200_default.json",
        "506f78a4-e098-11e5-ad9f-000f53306ae1 example Some(\"nyc1\") 10GiB None Block store for examples",
    );
}

#[test]
fn volumes_list_200_all_volumes() {
    check(
        "volumes_list_200_all_volumes.json",
        "[example Some(\"nyc1\"), example Some(\"nyc3\")] total=Some(2) next=None",
    );
}

#[test]
fn volumes_list_200_filtered_by_name() {
    check(
        "volumes_list_200_filtered_by_name.json",
        "[example Some(\"nyc1\")] total=Some(1) next=None",
    );
}

#[test]
fn volumes_list_200_filtered_by_region() {
    check(
        "volumes_list_200_filtered_by_region.json",
        "[example Some(\"nyc1\")] total=Some(1) next=None",
    );
}
