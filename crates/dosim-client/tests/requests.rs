//! Requests go out exactly as DigitalOcean expects: method, path, query and JSON body.

mod common;

use common::{fixture, run, Reply, Script};
use dosim_client::{
    Client, ConnectionPoolCreate, ConnectionPoolUpdate, DatabaseCreate, DatabaseUserCreate,
    DropletCreate, SshKey, VolumeCreate,
};

/// Makes the call named `call`; its result is irrelevant here, only what was sent.
async fn call(client: &Client, call: &str) {
    let droplet =
        || DropletCreate::new("example.com", "s-1vcpu-1gb", "ubuntu-20-04-x64").region("nyc3");
    let _ = match call {
        "droplets.create" => client
            .droplets()
            .create(&droplet().tags(["web"]).ssh_keys(vec![
                SshKey::Id(289794),
                SshKey::Fingerprint("3b:16".into()),
            ]))
            .await
            .map(drop),
        "droplets.create image id" => client
            .droplets()
            .create(
                &DropletCreate::new("a", "s-1vcpu-1gb", 6918990)
                    .volumes(["v-1"])
                    .ipv6(true),
            )
            .await
            .map(drop),
        "droplets.create_multiple" => client
            .droplets()
            .create_multiple(["sub-01", "sub-02"], &droplet())
            .await
            .map(drop),
        "droplets.get" => client.droplets().get(3164444).await.map(drop),
        "droplets.list" => client.droplets().list().send().await.map(drop),
        "droplets.list tag" => client
            .droplets()
            .list()
            .tag("env:prod")
            .per_page(200)
            .page(2)
            .send()
            .await
            .map(drop),
        "droplets.list name" => client
            .droplets()
            .list()
            .name("web 1/a&b")
            .send()
            .await
            .map(drop),
        "droplets.delete" => client.droplets().delete(3164444).await,
        "droplets.delete_by_tag" => client.droplets().delete_by_tag("awesome").await,
        "droplets.actions" => client.droplets().actions(3164444).send().await.map(drop),
        "droplets.action" => client.droplets().action(3164444, 36804636).await.map(drop),
        "droplets.power_off" => client.droplets().power_off(1).await.map(drop),
        "droplets.power_on" => client.droplets().power_on(1).await.map(drop),
        "droplets.shutdown" => client.droplets().shutdown(1).await.map(drop),
        "droplets.reboot" => client.droplets().reboot(1).await.map(drop),
        "droplets.power_cycle" => client.droplets().power_cycle(1).await.map(drop),
        "droplets.rename" => client
            .droplets()
            .rename(1, "nifty-new-name")
            .await
            .map(drop),
        "droplets.resize" => client
            .droplets()
            .resize(1, "s-2vcpu-2gb", true)
            .await
            .map(drop),
        "droplets.actions_by_tag" => client
            .droplets()
            .actions_by_tag("awesome", "power_off")
            .await
            .map(drop),
        "volumes.create" => {
            let request = VolumeCreate::new("ext4-example", "nyc1", 10)
                .description("Block store for examples")
                .filesystem("ext4")
                .filesystem_label("ext4_volume_01");
            client.volumes().create(&request).await.map(drop)
        }
        "volumes.create tags" => client
            .volumes()
            .create(&VolumeCreate::new("pgdata", "nyc3", 100).tags(["pod-0"]))
            .await
            .map(drop),
        "volumes.get" => client
            .volumes()
            .get("506f78a4-e098-11e5-ad9f-000f53306ae1")
            .await
            .map(drop),
        "volumes.list" => client
            .volumes()
            .list()
            .name("pgdata")
            .region("nyc3")
            .send()
            .await
            .map(drop),
        "volumes.delete" => client.volumes().delete("506f78a4").await,
        "volumes.delete_by_name" => client.volumes().delete_by_name("example", "nyc1").await,
        "volumes.attach" => client
            .volumes()
            .attach_with_tags(
                "7724db7c",
                11612190,
                "nyc1",
                &["aninterestingtag".to_owned()],
            )
            .await
            .map(drop),
        "volumes.detach" => client
            .volumes()
            .detach("7724db7c", 11612190, "nyc1")
            .await
            .map(drop),
        "volumes.resize" => client
            .volumes()
            .resize("7724db7c", 100, "nyc1")
            .await
            .map(drop),
        "volumes.attach_by_name" => client
            .volumes()
            .attach_by_name("example", 11612190, "nyc1")
            .await
            .map(drop),
        "volumes.detach_by_name" => client
            .volumes()
            .detach_by_name("example", 11612190, "nyc1")
            .await
            .map(drop),
        "volumes.actions" => client.volumes().actions("7724db7c").send().await.map(drop),
        "volumes.action" => client
            .volumes()
            .action("7724db7c", 72531856)
            .await
            .map(drop),
        "reserved_ips.create_in_region" => client
            .reserved_ips()
            .create_in_region("nyc3")
            .await
            .map(drop),
        "reserved_ips.create_for_droplet" => client
            .reserved_ips()
            .create_for_droplet(2457247)
            .await
            .map(drop),
        "reserved_ips.get" => client.reserved_ips().get("45.55.96.47").await.map(drop),
        "reserved_ips.list" => client.reserved_ips().list().send().await.map(drop),
        "reserved_ips.delete" => client.reserved_ips().delete("45.55.96.47").await,
        "reserved_ips.assign" => client
            .reserved_ips()
            .assign("45.55.96.47", 8219222)
            .await
            .map(drop),
        "reserved_ips.unassign" => client
            .reserved_ips()
            .unassign("45.55.96.47")
            .await
            .map(drop),
        "reserved_ips.actions" => client
            .reserved_ips()
            .actions("45.55.96.47")
            .send()
            .await
            .map(drop),
        "reserved_ips.action" => client
            .reserved_ips()
            .action("45.55.96.47", 72531856)
            .await
            .map(drop),
        "floating_ips.create_in_region" => client
            .floating_ips()
            .create_in_region("nyc3")
            .await
            .map(drop),
        "floating_ips.assign" => client
            .floating_ips()
            .assign("45.55.96.47", 8219222)
            .await
            .map(drop),
        "floating_ips.delete" => client.floating_ips().delete("45.55.96.47").await,
        "floating_ips.list" => client.floating_ips().list().send().await.map(drop),
        "actions.get" => client.actions().get(36804636).await.map(drop),
        "actions.list" => client.actions().list().per_page(50).send().await.map(drop),
        "account.get" => client.account().get().await.map(drop),
        "regions.list" => client.regions().list().send().await.map(drop),
        "sizes.list" => client.sizes().list().send().await.map(drop),
        "databases.create" => {
            let request = DatabaseCreate::new("backend", "pg", "nyc3", "db-s-2vcpu-4gb", 2)
                .version("14")
                .storage_size_mib(61440)
                .tags(["production"]);
            client.databases().create(&request).await.map(drop)
        }
        "databases.list" => client
            .databases()
            .list()
            .tag("production")
            .send()
            .await
            .map(drop),
        "databases.get" => client.databases().get("9cc10173").await.map(drop),
        "databases.delete" => client.databases().delete("9cc10173").await,
        "databases.create_db" => client
            .databases()
            .create_db("9cc10173", "alpha")
            .await
            .map(drop),
        "databases.list_dbs" => client.databases().list_dbs("9cc10173").await.map(drop),
        "databases.get_db" => client
            .databases()
            .get_db("9cc10173", "alpha")
            .await
            .map(drop),
        "databases.delete_db" => client.databases().delete_db("9cc10173", "alpha").await,
        "databases.create_user" => client
            .databases()
            .create_user("9cc10173", &DatabaseUserCreate::new("app-01"))
            .await
            .map(drop),
        "databases.list_users" => client.databases().list_users("9cc10173").await.map(drop),
        "databases.get_user" => client
            .databases()
            .get_user("9cc10173", "app-01")
            .await
            .map(drop),
        "databases.delete_user" => client.databases().delete_user("9cc10173", "app-01").await,
        "databases.create_pool" => {
            let request = ConnectionPoolCreate::new("backend-pool", "transaction", 10, "defaultdb")
                .user("doadmin");
            client
                .databases()
                .create_pool("9cc10173", &request)
                .await
                .map(drop)
        }
        "databases.list_pools" => client.databases().list_pools("9cc10173").await.map(drop),
        "databases.get_pool" => client
            .databases()
            .get_pool("9cc10173", "backend-pool")
            .await
            .map(drop),
        "databases.update_pool" => {
            let request = ConnectionPoolUpdate {
                mode: "transaction".into(),
                size: 10,
                db: "defaultdb".into(),
                user: Some("doadmin".into()),
            };
            client
                .databases()
                .update_pool("9cc10173", "backend-pool", &request)
                .await
        }
        "databases.delete_pool" => {
            client
                .databases()
                .delete_pool("9cc10173", "backend-pool")
                .await
        }
        other => panic!("no call named {other}"),
    };
}

/// `expect` is `METHOD path`, then the body on the next line when there is one.
/// A body starting with `@` names a request example in `tests/data/`, compared as JSON.
#[track_caller]
fn check(name: &str, expect: &str) {
    let sent = run(async {
        let script = Script::new(vec![Reply::json(200, "{}")]);
        call(&script.client(), name).await;
        script.sent()
    });
    assert_eq!(sent.len(), 1, "{name}: one request");
    let request = &sent[0];
    let (line, body) = expect.split_once('\n').unwrap_or((expect, ""));
    assert_eq!(
        format!("{} {}", request.method, request.path),
        line,
        "{name}"
    );
    if body.is_empty() {
        assert_eq!(request.body, "", "{name}: no body");
        assert!(
            request.headers.get("content-type").is_none(),
            "{name}: no content type without a body"
        );
        return;
    }
    let expected: serde_json::Value = match body.strip_prefix('@') {
        Some(file) => serde_json::from_str(&fixture(file)).unwrap(),
        None => serde_json::from_str(body).unwrap(),
    };
    let actual: serde_json::Value =
        serde_json::from_str(&request.body).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(actual, expected, "{name}");
    assert_eq!(
        request.headers["content-type"], "application/json",
        "{name}"
    );
}

#[test]
fn headers_on_every_request() {
    let sent = run(async {
        let script = Script::new(vec![Reply::json(200, "{}")]);
        let _ = script.client().account().get().await;
        script.sent()
    });
    let request = &sent[0];
    assert_eq!(request.uri, "http://api.test:8080/v2/account");
    assert_eq!(request.headers["authorization"], "Bearer t0ken");
    assert_eq!(request.headers["accept"], "application/json");
    assert_eq!(request.headers["x-dosim-actor"], "pod-0");
    assert_eq!(
        request.headers["user-agent"],
        concat!("dosim-client/", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn base_url_without_trailing_slash_or_with_prefix() {
    let uris = run(async {
        let mut uris = Vec::new();
        for base in [
            "http://api.test:8080",
            "http://api.test:8080///",
            "http://api.test/prefix/",
        ] {
            let script = Script::new(vec![Reply::json(200, "{}")]);
            let client = Client::builder()
                .base_url(base)
                .transport(script.clone())
                .build()
                .unwrap();
            let _ = client.droplets().get(1).await;
            uris.push(script.sent()[0].uri.clone());
        }
        uris
    });
    assert_eq!(
        uris,
        [
            "http://api.test:8080/v2/droplets/1",
            "http://api.test:8080/v2/droplets/1",
            "http://api.test/prefix/v2/droplets/1"
        ]
    );
}

#[test]
fn bad_configuration_is_refused() {
    for base in ["", "api.test:8080", "http://api.test/?q=1", "http:// bad"] {
        let built = Client::builder().base_url(base).build();
        assert!(
            matches!(built, Err(dosim_client::Error::InvalidArgument(_))),
            "{base:?} was accepted"
        );
    }
    let built = Client::builder().header("x bad", "v").build();
    assert!(matches!(
        built,
        Err(dosim_client::Error::InvalidArgument(_))
    ));
    let built = Client::builder().token("line\nbreak").build();
    assert!(matches!(
        built,
        Err(dosim_client::Error::InvalidArgument(_))
    ));
}

#[test]
fn invalid_arguments_send_nothing() {
    let (errors, sent) = run(async {
        let script = Script::new(vec![]);
        let client = script.client();
        let template = DropletCreate::new("", "s-1vcpu-1gb", "ubuntu-20-04-x64");
        let errors = vec![
            client
                .droplets()
                .create_multiple(Vec::<String>::new(), &template)
                .await
                .unwrap_err()
                .to_string(),
            client
                .droplets()
                .create_multiple((0..11).map(|i| format!("n{i}")), &template)
                .await
                .unwrap_err()
                .to_string(),
            client
                .droplets()
                .list()
                .per_page(201)
                .send()
                .await
                .unwrap_err()
                .to_string(),
            client
                .droplets()
                .list()
                .page(0)
                .send()
                .await
                .unwrap_err()
                .to_string(),
            client
                .droplets()
                .delete_by_tag("")
                .await
                .unwrap_err()
                .to_string(),
        ];
        (errors, script.sent())
    });
    assert_eq!(
        errors,
        [
            "invalid argument: create_multiple takes 1 to 10 names, not 0",
            "invalid argument: create_multiple takes 1 to 10 names, not 11",
            "invalid argument: per_page must be 1 to 200, not 201",
            "invalid argument: page starts at 1",
            "invalid argument: delete_by_tag needs a tag",
        ]
    );
    assert!(sent.is_empty());
}

#[test]
fn droplets() {
    check(
        "droplets.create",
        "POST /v2/droplets\n{\"name\":\"example.com\",\"region\":\"nyc3\",\"size\":\"s-1vcpu-1gb\",\"image\":\"ubuntu-20-04-x64\",\"ssh_keys\":[289794,\"3b:16\"],\"tags\":[\"web\"]}",
    );
    check(
        "droplets.create image id",
        "POST /v2/droplets\n{\"name\":\"a\",\"size\":\"s-1vcpu-1gb\",\"image\":6918990,\"ipv6\":true,\"volumes\":[\"v-1\"]}",
    );
    check(
        "droplets.create_multiple",
        "POST /v2/droplets\n{\"names\":[\"sub-01\",\"sub-02\"],\"region\":\"nyc3\",\"size\":\"s-1vcpu-1gb\",\"image\":\"ubuntu-20-04-x64\"}",
    );
    check("droplets.get", "GET /v2/droplets/3164444");
    check("droplets.list", "GET /v2/droplets");
    check(
        "droplets.list tag",
        "GET /v2/droplets?tag_name=env%3Aprod&page=2&per_page=200",
    );
    check(
        "droplets.list name",
        "GET /v2/droplets?name=web%201%2Fa%26b",
    );
    check("droplets.delete", "DELETE /v2/droplets/3164444");
    check(
        "droplets.delete_by_tag",
        "DELETE /v2/droplets?tag_name=awesome",
    );
    check("droplets.actions", "GET /v2/droplets/3164444/actions");
    check(
        "droplets.action",
        "GET /v2/droplets/3164444/actions/36804636",
    );
    check(
        "droplets.power_off",
        "POST /v2/droplets/1/actions\n{\"type\":\"power_off\"}",
    );
    check(
        "droplets.power_on",
        "POST /v2/droplets/1/actions\n{\"type\":\"power_on\"}",
    );
    check(
        "droplets.shutdown",
        "POST /v2/droplets/1/actions\n{\"type\":\"shutdown\"}",
    );
    check(
        "droplets.reboot",
        "POST /v2/droplets/1/actions\n{\"type\":\"reboot\"}",
    );
    check(
        "droplets.power_cycle",
        "POST /v2/droplets/1/actions\n{\"type\":\"power_cycle\"}",
    );
    check(
        "droplets.rename",
        "POST /v2/droplets/1/actions\n{\"type\":\"rename\",\"name\":\"nifty-new-name\"}",
    );
    check(
        "droplets.resize",
        "POST /v2/droplets/1/actions\n{\"type\":\"resize\",\"size\":\"s-2vcpu-2gb\",\"disk\":true}",
    );
    check(
        "droplets.actions_by_tag",
        "POST /v2/droplets/actions?tag_name=awesome\n{\"type\":\"power_off\"}",
    );
}

#[test]
fn volumes() {
    check(
        "volumes.create",
        "POST /v2/volumes\n@volumes_create_request_ext4_volume.json",
    );
    check("volumes.create tags", "POST /v2/volumes\n{\"name\":\"pgdata\",\"size_gigabytes\":100,\"region\":\"nyc3\",\"tags\":[\"pod-0\"]}");
    check(
        "volumes.get",
        "GET /v2/volumes/506f78a4-e098-11e5-ad9f-000f53306ae1",
    );
    check("volumes.list", "GET /v2/volumes?name=pgdata&region=nyc3");
    check("volumes.delete", "DELETE /v2/volumes/506f78a4");
    check(
        "volumes.delete_by_name",
        "DELETE /v2/volumes?name=example&region=nyc1",
    );
    check("volumes.attach", "POST /v2/volumes/7724db7c/actions\n@volumeActions_post_byId_request_volumeactionattach.json");
    check("volumes.detach", "POST /v2/volumes/7724db7c/actions\n@volumeActions_post_byId_request_volumeactiondetach.json");
    check("volumes.resize", "POST /v2/volumes/7724db7c/actions\n@volumeActions_post_byId_request_volumeactionresize.json");
    check(
        "volumes.attach_by_name",
        "POST /v2/volumes/actions\n{\"type\":\"attach\",\"volume_name\":\"example\",\"droplet_id\":11612190,\"region\":\"nyc1\"}",
    );
    check(
        "volumes.detach_by_name",
        "POST /v2/volumes/actions\n@volumeActions_post_request_volumeactiondetach.json",
    );
    check("volumes.actions", "GET /v2/volumes/7724db7c/actions");
    check(
        "volumes.action",
        "GET /v2/volumes/7724db7c/actions/72531856",
    );
}

#[test]
fn reserved_and_floating_ips() {
    check(
        "reserved_ips.create_in_region",
        "POST /v2/reserved_ips\n{\"region\":\"nyc3\"}",
    );
    check(
        "reserved_ips.create_for_droplet",
        "POST /v2/reserved_ips\n{\"droplet_id\":2457247}",
    );
    check("reserved_ips.get", "GET /v2/reserved_ips/45.55.96.47");
    check("reserved_ips.list", "GET /v2/reserved_ips");
    check("reserved_ips.delete", "DELETE /v2/reserved_ips/45.55.96.47");
    check(
        "reserved_ips.assign",
        "POST /v2/reserved_ips/45.55.96.47/actions\n{\"type\":\"assign\",\"droplet_id\":8219222}",
    );
    check(
        "reserved_ips.unassign",
        "POST /v2/reserved_ips/45.55.96.47/actions\n{\"type\":\"unassign\"}",
    );
    check(
        "reserved_ips.actions",
        "GET /v2/reserved_ips/45.55.96.47/actions",
    );
    check(
        "reserved_ips.action",
        "GET /v2/reserved_ips/45.55.96.47/actions/72531856",
    );
    check(
        "floating_ips.create_in_region",
        "POST /v2/floating_ips\n{\"region\":\"nyc3\"}",
    );
    check(
        "floating_ips.assign",
        "POST /v2/floating_ips/45.55.96.47/actions\n{\"type\":\"assign\",\"droplet_id\":8219222}",
    );
    check("floating_ips.delete", "DELETE /v2/floating_ips/45.55.96.47");
    check("floating_ips.list", "GET /v2/floating_ips");
}

#[test]
fn actions_account_catalogue() {
    check("actions.get", "GET /v2/actions/36804636");
    check("actions.list", "GET /v2/actions?per_page=50");
    check("account.get", "GET /v2/account");
    check("regions.list", "GET /v2/regions");
    check("sizes.list", "GET /v2/sizes");
}

#[test]
fn databases() {
    check(
        "databases.create",
        "POST /v2/databases\n@databases_create_cluster_request_create_a_new_database_cluster.json",
    );
    check("databases.list", "GET /v2/databases?tag_name=production");
    check("databases.get", "GET /v2/databases/9cc10173");
    check("databases.delete", "DELETE /v2/databases/9cc10173");
    check(
        "databases.create_db",
        "POST /v2/databases/9cc10173/dbs\n{\"name\":\"alpha\"}",
    );
    check("databases.list_dbs", "GET /v2/databases/9cc10173/dbs");
    check("databases.get_db", "GET /v2/databases/9cc10173/dbs/alpha");
    check(
        "databases.delete_db",
        "DELETE /v2/databases/9cc10173/dbs/alpha",
    );
    check(
        "databases.create_user",
        "POST /v2/databases/9cc10173/users\n{\"name\":\"app-01\"}",
    );
    check("databases.list_users", "GET /v2/databases/9cc10173/users");
    check(
        "databases.get_user",
        "GET /v2/databases/9cc10173/users/app-01",
    );
    check(
        "databases.delete_user",
        "DELETE /v2/databases/9cc10173/users/app-01",
    );
    check(
        "databases.create_pool",
        "POST /v2/databases/9cc10173/pools\n@databases_add_connectionPool_request_default.json",
    );
    check("databases.list_pools", "GET /v2/databases/9cc10173/pools");
    check(
        "databases.get_pool",
        "GET /v2/databases/9cc10173/pools/backend-pool",
    );
    check("databases.update_pool", "PUT /v2/databases/9cc10173/pools/backend-pool\n@databases_update_connectionPool_request_default.json");
    check(
        "databases.delete_pool",
        "DELETE /v2/databases/9cc10173/pools/backend-pool",
    );
}
