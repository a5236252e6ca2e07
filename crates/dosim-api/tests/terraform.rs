//! Terraform's round trip: each resource created with the body DigitalOcean's Terraform provider sends, then read back
//! the way its Read function reads it, so that every attribute the Read sets equals what the configuration said and
//! `terraform plan` after `apply` is empty.
//!
//! Each test names the provider file and function it mirrors (digitalocean/terraform-provider-digitalocean, under
//! `digitalocean/`), and the request bodies are what godo marshals from the provider's request structs.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::{Api, Resp};
use serde_json::{json, Value};

/// The body godo sends for `web-1` with nothing optional configured.
const PLAIN_DROPLET: &str = r#"{"name":"web-1","region":"nyc3","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64","ssh_keys":null,"backups":false,"ipv6":false,"private_networking":false,"monitoring":false,"tags":[]}"#;

/// One attribute the provider's Read sets into state: its name, where it comes from in the response body, and the
/// value the configuration (or the provider's normalization of the response) leads it to expect there.
type ReadBack<'a> = (&'a str, &'a str, Value);

#[track_caller]
fn check(resp: &Resp, status: u16, read_back: &[ReadBack]) {
    assert_eq!(resp.status, status, "body: {}", resp.raw);
    for (attribute, pointer, expect) in read_back {
        let found = resp.json.pointer(pointer);
        assert_eq!(
            found,
            Some(expect),
            "`{attribute}` reads {pointer}, which is {found:?}, not {expect}\nbody: {}",
            resp.raw
        );
    }
}

/// `method path` with `body`, which must answer `status`.
async fn expect(api: &Api, method: &str, path: &str, body: Option<&str>, status: u16) -> Resp {
    let resp = api.call(method, path, body).await;
    assert_eq!(resp.status, status, "{method} {path}: {}", resp.raw);
    resp
}

/// `GET path`, as the provider's Read reads it: 200, with every attribute in `read_back`.
async fn read_at(api: &Api, path: &str, read_back: &[ReadBack<'_>]) -> Resp {
    let resp = api.call("GET", path, None).await;
    check(&resp, 200, read_back);
    resp
}

/// The JSON at `pointer`, which must be there.
#[track_caller]
fn at<'a>(resp: &'a Resp, pointer: &str) -> &'a Value {
    resp.json
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {}", resp.raw))
}

#[track_caller]
fn text<'a>(resp: &'a Resp, pointer: &str) -> &'a str {
    at(resp, pointer)
        .as_str()
        .unwrap_or_else(|| panic!("{pointer} is not a string in {}", resp.raw))
}

/// Posts an action to `actions` with `body`, which must answer `status`, and waits for it to
/// complete, polling it under `poll` (`/v2/actions`, or a reserved IP's own actions).
async fn run_action(api: &Api, actions: &str, body: &str, status: u16, poll: &str) {
    let action = expect(api, "POST", actions, Some(body), status).await;
    let action_id = at(&action, "/action/id").as_u64().unwrap();
    wait_for_action(api, &format!("{poll}/{action_id}")).await;
}

/// Polls an action the way `util.WaitForAction` and the reserved IP refresh functions do, until it is `completed`.
async fn wait_for_action(api: &Api, path: &str) {
    for _ in 0..20 {
        let action = expect(api, "GET", path, None, 200).await;
        match text(&action, "/action/status") {
            "completed" => return,
            "in-progress" => api.advance_ms(3_000),
            other => panic!("action {path} ended {other}"),
        }
    }
    panic!("action {path} never completed");
}

/// `droplet/resource_droplet.go`: `resourceDigitalOceanDropletCreate` sends godo's `DropletCreateRequest`, waits with
/// `waitForDropletAttribute` until `status` is `active`, and `setDropletAttributes` (what `resourceDigitalOceanDropletRead`
/// calls after `GET /v2/droplets/{id}`) sets the state.
async fn create_droplet(api: &Api, body: &str) -> (u64, Resp) {
    let created = expect(api, "POST", "/v2/droplets", Some(body), 202).await;
    let id = at(&created, "/droplet/id").as_u64().expect("droplet id");
    for _ in 0..20 {
        let read = expect(api, "GET", &format!("/v2/droplets/{id}"), None, 200).await;
        if text(&read, "/droplet/status") == "active" && at(&read, "/droplet/locked") == false {
            return (id, read);
        }
        api.advance_ms(10_000);
    }
    panic!("droplet {id} never became active");
}

/// The droplet as `setDropletAttributes` reads it: every configured attribute comes back as configured, the
/// `features` booleans match `backups`, `ipv6` and `monitoring`, and the computed ones have the types the state holds.
#[tokio::test]
async fn droplet_reads_back_as_configured() {
    let api = Api::new();
    // godo sends `ssh_keys` as null when none are configured, and `with_droplet_agent` only when set.
    let body = r#"{"name":"web-1","region":"nyc3","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64","ssh_keys":null,"backups":true,"ipv6":true,"private_networking":false,"monitoring":true,"tags":["web"],"with_droplet_agent":true}"#;
    let (id, read) = create_droplet(&api, body).await;
    let features = at(&read, "/droplet/features")
        .as_array()
        .expect("features")
        .clone();
    let feature = |name: &str| Value::Bool(features.iter().any(|f| f == name));
    let read_back: &[ReadBack] = &[
        ("name", "/droplet/name", json!("web-1")),
        ("region", "/droplet/region/slug", json!("nyc3")),
        ("size", "/droplet/size/slug", json!("s-1vcpu-1gb")),
        ("status", "/droplet/status", json!("active")),
        ("locked", "/droplet/locked", json!(false)),
        ("tags", "/droplet/tags", json!(["web"])),
        ("volume_ids", "/droplet/volume_ids", json!([])),
        // `resourceDigitalOceanDropletImport` reads the image slug back into `image`.
        ("image", "/droplet/image/slug", json!("ubuntu-24-04-x64")),
    ];
    check(&read, 200, read_back);
    assert_eq!(feature("backups"), json!(true), "backups");
    assert_eq!(feature("ipv6"), json!(true), "ipv6");
    assert_eq!(feature("monitoring"), json!(true), "monitoring");
    // `private_networking` is optional and computed: every droplet now has a VPC interface.
    assert_eq!(feature("private_networking"), json!(true));
    // `urn` is `do:droplet:<id>`, built by godo from the integer id.
    assert_eq!(at(&read, "/droplet/id"), &json!(id));
    for (attribute, pointer) in [
        ("disk", "/droplet/disk"),
        ("vcpus", "/droplet/vcpus"),
        ("memory", "/droplet/memory"),
    ] {
        assert!(at(&read, pointer).is_u64(), "{attribute}: {}", read.raw);
    }
    for (attribute, pointer) in [
        ("price_hourly", "/droplet/size/price_hourly"),
        ("price_monthly", "/droplet/size/price_monthly"),
    ] {
        assert!(at(&read, pointer).is_number(), "{attribute}: {}", read.raw);
    }
    assert!(
        text(&read, "/droplet/created_at").ends_with('Z'),
        "created_at"
    );
    // `vpc_uuid` is computed: the region's default VPC, which `GET /v2/vpcs` lists.
    let vpc_uuid = text(&read, "/droplet/vpc_uuid");
    let vpcs = api.call("GET", "/v2/vpcs", None).await;
    let default_vpc = at(&vpcs, "/vpcs")
        .as_array()
        .expect("vpcs")
        .iter()
        .find(|vpc| vpc["region"] == "nyc3" && vpc["default"] == true)
        .expect("nyc3's default VPC");
    assert_eq!(default_vpc["id"], vpc_uuid);
    // `FindIPv4AddrByType` and `FindIPv6AddrByType`: the first address of each type that parses; IPv6 in lowercase.
    let networks = at(&read, "/droplet/networks");
    let address = |family: &str, kind: &str| {
        networks[family]
            .as_array()
            .expect("networks")
            .iter()
            .find(|n| n["type"] == kind)
            .and_then(|n| n["ip_address"].as_str())
            .unwrap_or_else(|| panic!("no {kind} {family} address in {networks}"))
            .to_owned()
    };
    let public = address("v4", "public").parse::<Ipv4Addr>().unwrap();
    let private = address("v4", "private").parse::<Ipv4Addr>().unwrap();
    assert!(!public.is_private(), "ipv4_address {public}");
    assert!(private.is_private(), "ipv4_address_private {private}");
    let ipv6 = address("v6", "public");
    ipv6.parse::<Ipv6Addr>().unwrap();
    assert_eq!(ipv6, ipv6.to_lowercase(), "ipv6_address");
}

/// A droplet configured without the optional features reads them back as off, so `backups`, `ipv6` and
/// `monitoring` (defaults `false`) stay unchanged in the plan.
#[tokio::test]
async fn droplet_without_features_reads_them_off() {
    let api = Api::new();
    let body = r#"{"name":"web-2","region":"nyc3","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64","ssh_keys":null,"backups":false,"ipv6":false,"private_networking":false,"monitoring":false,"tags":[]}"#;
    let (_, read) = create_droplet(&api, body).await;
    let features = at(&read, "/droplet/features").as_array().unwrap();
    for name in ["backups", "ipv6", "monitoring"] {
        assert!(!features.iter().any(|f| f == name), "{name}: {}", read.raw);
    }
    check(&read, 200, &[("tags", "/droplet/tags", json!([]))]);
    // No IPv6 interface: `ipv6_address` reads as "".
    assert_eq!(at(&read, "/droplet/networks/v6"), &json!([]));
}

/// `resourceDigitalOceanDropletUpdate` with a new `size`: power off and wait for `status` `off`, resize (godo's
/// `DropletActions.Resize` with `resize_disk`) and wait on the action, power on and wait for `active`; the Read then
/// shows the new size slug and the size's `disk`, `vcpus` and `memory`.
#[tokio::test]
async fn droplet_resize_reads_back_the_new_size() {
    let api = Api::new();
    let (id, _) = create_droplet(
        &api,
        r#"{"name":"web-1","region":"nyc3","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64","ssh_keys":null,"backups":false,"ipv6":false,"private_networking":false,"monitoring":false,"tags":null}"#,
    )
    .await;
    let actions = format!("/v2/droplets/{id}/actions");
    let wait_for_status = |status: &'static str| {
        let api = &api;
        async move {
            for _ in 0..20 {
                let read = api.call("GET", &format!("/v2/droplets/{id}"), None).await;
                if text(&read, "/droplet/status") == status && at(&read, "/droplet/locked") == false
                {
                    return read;
                }
                api.advance_ms(10_000);
            }
            panic!("droplet {id} never became {status}");
        }
    };
    expect(&api, "POST", &actions, Some(r#"{"type":"power_off"}"#), 201).await;
    wait_for_status("off").await;
    run_action(
        &api,
        &actions,
        r#"{"type":"resize","size":"s-2vcpu-2gb","disk":true}"#,
        201,
        "/v2/actions",
    )
    .await;
    expect(&api, "POST", &actions, Some(r#"{"type":"power_on"}"#), 201).await;
    let read = wait_for_status("active").await;
    let size = api.call("GET", "/v2/sizes?per_page=200", None).await;
    let slug = at(&size, "/sizes")
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slug"] == "s-2vcpu-2gb")
        .expect("s-2vcpu-2gb is in the catalogue")
        .clone();
    check(
        &read,
        200,
        &[
            ("size", "/droplet/size/slug", json!("s-2vcpu-2gb")),
            ("disk", "/droplet/disk", slug["disk"].clone()),
            ("vcpus", "/droplet/vcpus", slug["vcpus"].clone()),
            ("memory", "/droplet/memory", slug["memory"].clone()),
            (
                "price_monthly",
                "/droplet/size/price_monthly",
                slug["price_monthly"].clone(),
            ),
            ("tags", "/droplet/tags", json!([])),
        ],
    );
}

/// `volume/resource_volume.go`: `resourceDigitalOceanVolumeCreate` sends godo's `VolumeCreateRequest` (no `omitempty`,
/// so unset strings go as ""), then `resourceDigitalOceanVolumeRead` reads `GET /v2/volumes/{id}`.
#[tokio::test]
async fn volume_reads_back_as_configured() {
    let api = Api::new();
    for (body, description, filesystem_type, filesystem_label) in [
        (
            r#"{"region":"nyc3","name":"data-1","description":"logs","size_gigabytes":10,"snapshot_id":"","filesystem_type":"ext4","filesystem_label":"logs","tags":["web"]}"#,
            "logs",
            "ext4",
            "logs",
        ),
        // Nothing optional configured: the Read sets `description` and the file system only when they are not "".
        (
            r#"{"region":"nyc3","name":"data-2","description":"","size_gigabytes":5,"snapshot_id":"","filesystem_type":"","filesystem_label":"","tags":[]}"#,
            "",
            "",
            "",
        ),
    ] {
        let created = expect(&api, "POST", "/v2/volumes", Some(body), 201).await;
        let id = text(&created, "/volume/id").to_owned();
        let request: Value = serde_json::from_str(body).unwrap();
        let read = api.call("GET", &format!("/v2/volumes/{id}"), None).await;
        check(
            &read,
            200,
            &[
                ("name", "/volume/name", request["name"].clone()),
                ("region", "/volume/region/slug", json!("nyc3")),
                (
                    "size",
                    "/volume/size_gigabytes",
                    request["size_gigabytes"].clone(),
                ),
                ("tags", "/volume/tags", request["tags"].clone()),
                ("droplet_ids", "/volume/droplet_ids", json!([])),
            ],
        );
        for (attribute, pointer, expect) in [
            ("description", "/volume/description", description),
            (
                "filesystem_type",
                "/volume/filesystem_type",
                filesystem_type,
            ),
            (
                "filesystem_label",
                "/volume/filesystem_label",
                filesystem_label,
            ),
        ] {
            // godo decodes null as "", which the Read skips like "".
            let found = at(&read, pointer).as_str().unwrap_or("");
            assert_eq!(found, expect, "{attribute}: {}", read.raw);
        }
        // `urn` is `do:volume:<id>`, from the id.
        assert!(uuid_like(&id), "{id}");
    }
}

/// `resourceDigitalOceanVolumeUpdate` grows a volume with godo's `StorageActions.Resize` (the region included),
/// waits on the action with `util.WaitForAction`, and reads it back: `size` must be the new one.
#[tokio::test]
async fn volume_resize_reads_back_the_new_size() {
    let api = Api::new();
    let created = expect(
        &api,
        "POST",
        "/v2/volumes",
        Some(r#"{"region":"nyc3","name":"data-1","description":"","size_gigabytes":10,"snapshot_id":"","filesystem_type":"","filesystem_label":"","tags":null}"#),
        201,
    )
    .await;
    let id = text(&created, "/volume/id").to_owned();
    run_action(
        &api,
        &format!("/v2/volumes/{id}/actions"),
        r#"{"type":"resize","size_gigabytes":20,"region":"nyc3"}"#,
        202,
        "/v2/actions",
    )
    .await;
    read_at(
        &api,
        &format!("/v2/volumes/{id}"),
        &[
            ("size", "/volume/size_gigabytes", json!(20)),
            // godo sends unset tags as null; they read back as none.
            ("tags", "/volume/tags", json!([])),
        ],
    )
    .await;
}

fn uuid_like(text: &str) -> bool {
    text.len() == 36 && text.chars().filter(|&c| c == '-').count() == 4
}

/// `volume/resource_volume_attachment.go`: `resourceDigitalOceanVolumeAttachmentCreate` attaches with
/// `POST /v2/volumes/{id}/actions` and waits on the action; `resourceDigitalOceanVolumeAttachmentRead` keeps the
/// attachment only while `droplet_ids[0]` of `GET /v2/volumes/{id}` is the droplet. The droplet's Read then shows
/// the volume in `volume_ids` (optional and computed), and the volume's Read in `droplet_ids` (computed).
#[tokio::test]
async fn volume_attachment_reads_back() {
    let api = Api::new();
    let (droplet_id, _) = create_droplet(&api, PLAIN_DROPLET).await;
    let volume = api
        .call(
            "POST",
            "/v2/volumes",
            Some(r#"{"region":"nyc3","name":"data-1","description":"","size_gigabytes":10,"snapshot_id":"","filesystem_type":"","filesystem_label":"","tags":[]}"#),
        )
        .await;
    let volume_id = text(&volume, "/volume/id").to_owned();
    // The create first reads the volume and attaches only if `droplet_ids[0]` is not the droplet.
    read_at(
        &api,
        &format!("/v2/volumes/{volume_id}"),
        &[("droplet_ids", "/volume/droplet_ids", json!([]))],
    )
    .await;
    // godo's `StorageActions.Attach` body.
    let attach = format!(r#"{{"type":"attach","droplet_id":{droplet_id}}}"#);
    // `util.WaitForAction` polls `GET /v2/actions/{id}`.
    run_action(
        &api,
        &format!("/v2/volumes/{volume_id}/actions"),
        &attach,
        202,
        "/v2/actions",
    )
    .await;
    read_at(
        &api,
        &format!("/v2/volumes/{volume_id}"),
        &[("droplet_id", "/volume/droplet_ids/0", json!(droplet_id))],
    )
    .await;
    read_at(
        &api,
        &format!("/v2/droplets/{droplet_id}"),
        &[("volume_ids", "/droplet/volume_ids", json!([volume_id]))],
    )
    .await;
    // `resourceDigitalOceanVolumeAttachmentDelete` detaches with `StorageActions.DetachByDropletID`; the attachment's
    // Read then finds `droplet_ids` empty and drops it from state.
    let detach = format!(r#"{{"type":"detach","droplet_id":{droplet_id}}}"#);
    run_action(
        &api,
        &format!("/v2/volumes/{volume_id}/actions"),
        &detach,
        202,
        "/v2/actions",
    )
    .await;
    read_at(
        &api,
        &format!("/v2/volumes/{volume_id}"),
        &[("droplet_ids", "/volume/droplet_ids", json!([]))],
    )
    .await;
}

/// `reservedip/resource_reserved_ip.go` and `resource_reserved_ip_assignment.go`: the reserved IP is created in a
/// region (`ReservedIPCreateRequest`, `omitempty` on every field), assigned with `ReservedIPActions.Assign`, whose
/// action the refresh functions poll at `GET /v2/reserved_ips/{ip}/actions/{id}`. `resourceDigitalOceanReservedIPRead`
/// reads `region` from the droplet when `droplet_id` is configured and from the reserved IP otherwise, and `ip_address`;
/// `resourceDigitalOceanReservedIPAssignmentRead` keeps the assignment only while `droplet.id` is the droplet.
#[tokio::test]
async fn reserved_ip_and_assignment_read_back() {
    let api = Api::new();
    let (droplet_id, _) = create_droplet(&api, PLAIN_DROPLET).await;
    let created = expect(
        &api,
        "POST",
        "/v2/reserved_ips",
        Some(r#"{"region":"nyc3"}"#),
        202,
    )
    .await;
    let ip = text(&created, "/reserved_ip/ip").to_owned();
    ip.parse::<Ipv4Addr>().unwrap();
    let path = format!("/v2/reserved_ips/{ip}");
    // Unassigned: `region` from the reserved IP, `droplet` null (godo's nil).
    read_at(
        &api,
        &path,
        &[
            ("ip_address", "/reserved_ip/ip", json!(ip)),
            ("region", "/reserved_ip/region/slug", json!("nyc3")),
            ("droplet_id", "/reserved_ip/droplet", Value::Null),
        ],
    )
    .await;
    let assign = format!(r#"{{"type":"assign","droplet_id":{droplet_id}}}"#);
    run_action(
        &api,
        &format!("{path}/actions"),
        &assign,
        201,
        &format!("{path}/actions"),
    )
    .await;
    // Assigned: `droplet_id` and `region` both from the droplet object.
    read_at(
        &api,
        &path,
        &[
            ("ip_address", "/reserved_ip/ip", json!(ip)),
            ("droplet_id", "/reserved_ip/droplet/id", json!(droplet_id)),
            ("region", "/reserved_ip/droplet/region/slug", json!("nyc3")),
            ("region", "/reserved_ip/region/slug", json!("nyc3")),
        ],
    )
    .await;
    // The legacy `digitalocean_floating_ip` resources read the same object under its old name.
    read_at(
        &api,
        &format!("/v2/floating_ips/{ip}"),
        &[
            ("ip_address", "/floating_ip/ip", json!(ip)),
            ("droplet_id", "/floating_ip/droplet/id", json!(droplet_id)),
        ],
    )
    .await;
}

/// `database/resource_database_cluster.go`: `resourceDigitalOceanDatabaseClusterCreate` sends godo's
/// `DatabaseCreateRequest`, polls `GET /v2/databases/{id}` every 15 s until `status` is `online`
/// (`waitForDatabaseCluster`), sets the maintenance window with `PUT /v2/databases/{id}/maintenance`, and
/// `resourceDigitalOceanDatabaseClusterRead` sets the state from `GET /v2/databases/{id}`.
#[tokio::test]
async fn database_cluster_reads_back_as_configured() {
    let api = Api::new();
    let project = expect(
        &api,
        "POST",
        "/v2/projects",
        Some(r#"{"name":"data","purpose":"Service or API","environment":"Production"}"#),
        201,
    )
    .await;
    let project_id = text(&project, "/project/id").to_owned();
    let body = format!(
        r#"{{"name":"orders","engine":"pg","version":"16","size":"db-s-2vcpu-4gb","region":"nyc3","num_nodes":2,"tags":["data"],"project_id":"{project_id}","storage_size_mib":61440}}"#
    );
    let created = expect(&api, "POST", "/v2/databases", Some(&body), 201).await;
    let id = text(&created, "/database/id").to_owned();
    // The create response already carries the connection, and with it the password the provider keeps.
    let password = text(&created, "/database/connection/password").to_owned();
    assert!(!password.is_empty());
    let path = format!("/v2/databases/{id}");
    let mut online = false;
    for _ in 0..40 {
        let read = expect(&api, "GET", &path, None, 200).await;
        if text(&read, "/database/status") == "online" {
            online = true;
            break;
        }
        api.advance_ms(15_000);
    }
    assert!(online, "the cluster never came online");
    // `expandMaintWindowOpts`: godo's `DatabaseUpdateMaintenanceRequest` with the configured day and hour.
    expect(
        &api,
        "PUT",
        &format!("{path}/maintenance"),
        Some(r#"{"day":"friday","hour":"13:00"}"#),
        204,
    )
    .await;
    let read = api.call("GET", &path, None).await;
    check(
        &read,
        200,
        &[
            ("name", "/database/name", json!("orders")),
            ("engine", "/database/engine", json!("pg")),
            ("version", "/database/version", json!("16")),
            ("size", "/database/size", json!("db-s-2vcpu-4gb")),
            ("region", "/database/region", json!("nyc3")),
            ("node_count", "/database/num_nodes", json!(2)),
            // Read with `strconv.FormatUint`, compared with the configured string.
            (
                "storage_size_mib",
                "/database/storage_size_mib",
                json!(61440),
            ),
            ("tags", "/database/tags", json!(["data"])),
            ("project_id", "/database/project_id", json!(project_id)),
            (
                "maintenance_window.day",
                "/database/maintenance_window/day",
                json!("friday"),
            ),
            // The provider's DiffSuppressFunc takes "13:00:00" for the configured "13:00".
            (
                "maintenance_window.hour",
                "/database/maintenance_window/hour",
                json!("13:00:00"),
            ),
            ("password", "/database/connection/password", json!(password)),
        ],
    );
    // `private_network_uuid` (optional, computed) is the region's default VPC when none is configured.
    let vpc = api
        .call(
            "GET",
            &format!("/v2/vpcs/{}", text(&read, "/database/private_network_uuid")),
            None,
        )
        .await;
    check(
        &vpc,
        200,
        &[
            ("private_network_uuid", "/vpc/region", json!("nyc3")),
            ("private_network_uuid", "/vpc/default", json!(true)),
        ],
    );
    // `setDatabaseConnectionInfo`: `host`, `port`, `database`, `user` from `connection`; `uri` is `connection.uri`
    // with the user and the state's password put back, which must parse as a URL; `private_host` and `private_uri`
    // from `private_connection`.
    for (key, prefix) in [("connection", ""), ("private_connection", "private-")] {
        let host = text(&read, &format!("/database/{key}/host")).to_owned();
        let port = at(&read, &format!("/database/{key}/port"))
            .as_u64()
            .unwrap();
        let user = text(&read, &format!("/database/{key}/user")).to_owned();
        let database = text(&read, &format!("/database/{key}/database")).to_owned();
        let uri = text(&read, &format!("/database/{key}/uri")).to_owned();
        assert!(host.starts_with(prefix), "{key}.host {host}");
        assert_eq!(user, "doadmin", "{key}.user");
        assert_eq!(database, "defaultdb", "{key}.database");
        assert_eq!(
            uri,
            format!("postgres://{user}:{password}@{host}:{port}/{database}?sslmode=require"),
            "{key}.uri"
        );
    }
    // `metrics_endpoints`: a primary's and, with a standby, the standby's, each a host and a port.
    let host = text(&read, "/database/connection/host").to_owned();
    check(
        &read,
        200,
        &[(
            "metrics_endpoints",
            "/database/metrics_endpoints",
            json!([{"host": host, "port": 9273}, {"host": format!("replica-{host}"), "port": 9273}]),
        )],
    );
    // `urn` is `do:dbaas:<id>`, from the id.
    assert!(uuid_like(&id), "{id}");
}

/// A cluster configured without `maintenance_window`, `project_id` or `storage_size_mib` sends none of them; the
/// Read still finds a maintenance window to dereference and the computed values in the types the state holds.
#[tokio::test]
async fn database_cluster_computed_fields_have_their_types() {
    let api = Api::new();
    let created = expect(
        &api,
        "POST",
        "/v2/databases",
        Some(r#"{"name":"cache","engine":"valkey","version":"8","size":"db-s-1vcpu-1gb","region":"nyc3","num_nodes":1,"tags":[]}"#),
        201,
    )
    .await;
    let id = text(&created, "/database/id").to_owned();
    let read = api.call("GET", &format!("/v2/databases/{id}"), None).await;
    assert!(
        at(&read, "/database/maintenance_window").is_object(),
        "{}",
        read.raw
    );
    assert!(at(&read, "/database/storage_size_mib").is_u64());
    assert!(uuid_like(text(&read, "/database/project_id")));
    assert!(uuid_like(text(&read, "/database/private_network_uuid")));
    check(
        &read,
        200,
        &[
            ("tags", "/database/tags", json!([])),
            ("version", "/database/version", json!("8")),
        ],
    );
    // `eviction_policy`, when configured, is set with `PUT …/eviction_policy` and read with `GET …/eviction_policy`.
    expect(
        &api,
        "PUT",
        &format!("/v2/databases/{id}/eviction_policy"),
        Some(r#"{"eviction_policy":"allkeys_lru"}"#),
        204,
    )
    .await;
    read_at(
        &api,
        &format!("/v2/databases/{id}/eviction_policy"),
        &[("eviction_policy", "/eviction_policy", json!("allkeys_lru"))],
    )
    .await;
}

/// A maintenance window the API cannot read is refused and changes nothing; the day is read in any case and shown in
/// lowercase, the hour with seconds.
#[tokio::test]
async fn database_maintenance_window_is_checked() {
    let api = Api::new();
    let created = api
        .call(
            "POST",
            "/v2/databases",
            Some(r#"{"name":"orders","engine":"pg","version":"16","size":"db-s-1vcpu-1gb","region":"nyc3","num_nodes":1}"#),
        )
        .await;
    let id = text(&created, "/database/id").to_owned();
    let path = format!("/v2/databases/{id}/maintenance");
    for body in [
        r#"{"day":"someday","hour":"13:00"}"#,
        r#"{"day":"friday","hour":"25:00"}"#,
        r#"{"day":"friday","hour":"1300"}"#,
        r#"{"day":"friday","hour":"13:00:00:00"}"#,
        r#"{"hour":"13:00"}"#,
        r#"{"day":"friday"}"#,
    ] {
        let before = api.state();
        let refused = api.call("PUT", &path, Some(body)).await;
        assert_eq!(refused.status, 422, "{body}: {}", refused.raw);
        assert_eq!(api.state(), before, "{body} changed the state");
    }
    expect(
        &api,
        "PUT",
        &path,
        Some(r#"{"day":"Sunday","hour":"7:05"}"#),
        204,
    )
    .await;
    read_at(
        &api,
        &format!("/v2/databases/{id}"),
        &[
            ("day", "/database/maintenance_window/day", json!("sunday")),
            (
                "hour",
                "/database/maintenance_window/hour",
                json!("07:05:00"),
            ),
        ],
    )
    .await;
    expect(
        &api,
        "PUT",
        "/v2/databases/00000000-0000-4000-8000-000000000000/maintenance",
        Some(r#"{"day":"friday","hour":"13:00"}"#),
        404,
    )
    .await;
}

/// MySQL's extras in `database/resource_database_cluster.go` and `resource_database_user.go`: with `sql_mode`
/// configured, the create sets it with `PUT /v2/databases/{id}/sql_mode` and the Read compares
/// `GET /v2/databases/{id}/sql_mode` with it; `setDatabaseUserAttributes` reads `mysql_settings.auth_plugin` into
/// `mysql_auth_plugin`, whose DiffSuppressFunc takes `caching_sha2_password` for an unset plugin, and which a user
/// of another engine must not carry.
#[tokio::test]
async fn database_mysql_sql_mode_and_auth_plugin_read_back() {
    let api = Api::new();
    let created = expect(
        &api,
        "POST",
        "/v2/databases",
        Some(r#"{"name":"shop","engine":"mysql","version":"8","size":"db-s-1vcpu-1gb","region":"nyc3","num_nodes":1,"tags":[]}"#),
        201,
    )
    .await;
    let id = text(&created, "/database/id").to_owned();
    let base = format!("/v2/databases/{id}");
    let mode = expect(&api, "GET", &format!("{base}/sql_mode"), None, 200).await;
    assert!(!text(&mode, "/sql_mode").is_empty());
    // godo's `SetSQLMode` joins the modes with commas; the Read compares the string as configured.
    expect(
        &api,
        "PUT",
        &format!("{base}/sql_mode"),
        Some(r#"{"sql_mode":"ANSI,TRADITIONAL"}"#),
        204,
    )
    .await;
    read_at(
        &api,
        &format!("{base}/sql_mode"),
        &[("sql_mode", "/sql_mode", json!("ANSI,TRADITIONAL"))],
    )
    .await;
    for body in [
        r#"{"sql_mode":"ansi"}"#,
        r#"{"sql_mode":"ANSI,,TRADITIONAL"}"#,
        r#"{"sql_mode":""}"#,
    ] {
        let before = api.state();
        let refused = api
            .call("PUT", &format!("{base}/sql_mode"), Some(body))
            .await;
        assert_eq!(refused.status, 422, "{body}: {}", refused.raw);
        assert_eq!(api.state(), before, "{body} changed the state");
    }

    // Users: no plugin configured reads back as MySQL 8's default; a configured one as configured.
    for (body, name, plugin) in [
        (r#"{"name":"app"}"#, "app", "caching_sha2_password"),
        (
            r#"{"name":"legacy","mysql_settings":{"auth_plugin":"mysql_native_password"}}"#,
            "legacy",
            "mysql_native_password",
        ),
    ] {
        let created = api.call("POST", &format!("{base}/users"), Some(body)).await;
        check(
            &created,
            201,
            &[(
                "mysql_auth_plugin",
                "/user/mysql_settings/auth_plugin",
                json!(plugin),
            )],
        );
        read_at(
            &api,
            &format!("{base}/users/{name}"),
            &[(
                "mysql_auth_plugin",
                "/user/mysql_settings/auth_plugin",
                json!(plugin),
            )],
        )
        .await;
    }
    read_at(
        &api,
        &format!("{base}/users/doadmin"),
        &[(
            "mysql_auth_plugin",
            "/user/mysql_settings/auth_plugin",
            json!("caching_sha2_password"),
        )],
    )
    .await;
    expect(
        &api,
        "POST",
        &format!("{base}/users"),
        Some(r#"{"name":"odd","mysql_settings":{"auth_plugin":"sha256_password"}}"#),
        422,
    )
    .await;

    // PostgreSQL has neither: its users carry no `mysql_settings`, and its SQL mode is refused.
    let pg = api
        .call(
            "POST",
            "/v2/databases",
            Some(r#"{"name":"orders","engine":"pg","version":"16","size":"db-s-1vcpu-1gb","region":"nyc3","num_nodes":1}"#),
        )
        .await;
    let pg_base = format!("/v2/databases/{}", text(&pg, "/database/id"));
    let user = expect(
        &api,
        "POST",
        &format!("{pg_base}/users"),
        Some(r#"{"name":"app","mysql_settings":{"auth_plugin":"mysql_native_password"}}"#),
        201,
    )
    .await;
    assert_eq!(
        user.json["user"].get("mysql_settings"),
        None,
        "{}",
        user.raw
    );
    expect(&api, "GET", &format!("{pg_base}/sql_mode"), None, 422).await;
}

/// `database/resource_database_db.go`, `resource_database_user.go` and `resource_database_connection_pool.go`: each
/// is created with godo's request (`DatabaseCreateDBRequest`, `DatabaseCreateUserRequest`,
/// `DatabaseCreatePoolRequest`) and read back with `GET …/dbs/{name}` (existence only), `GET …/users/{name}` (`role`,
/// "normal" when empty, and `password`) and `GET …/pools/{name}` (`name`, `user`, `mode`, `size`, `db_name` from `db`,
/// and `setConnectionPoolInfo`'s `host`, `port`, `password`, `uri`, `private_host`, `private_uri`).
#[tokio::test]
async fn database_db_user_and_pool_read_back_as_configured() {
    let api = Api::new();
    let created = api
        .call(
            "POST",
            "/v2/databases",
            Some(r#"{"name":"orders","engine":"pg","version":"16","size":"db-s-2vcpu-4gb","region":"nyc3","num_nodes":1,"tags":[]}"#),
        )
        .await;
    let id = text(&created, "/database/id").to_owned();
    let base = format!("/v2/databases/{id}");

    // resourceDigitalOceanDatabaseDBCreate, then resourceDigitalOceanDatabaseDBRead.
    expect(
        &api,
        "POST",
        &format!("{base}/dbs"),
        Some(r#"{"name":"shop"}"#),
        201,
    )
    .await;
    read_at(
        &api,
        &format!("{base}/dbs/shop"),
        &[("name", "/db/name", json!("shop"))],
    )
    .await;

    // resourceDigitalOceanDatabaseUserCreate keeps the create response's password; the Read must not lose it.
    let user = expect(
        &api,
        "POST",
        &format!("{base}/users"),
        Some(r#"{"name":"app"}"#),
        201,
    )
    .await;
    let password = text(&user, "/user/password").to_owned();
    assert!(!password.is_empty());
    let read = api.call("GET", &format!("{base}/users/app"), None).await;
    check(
        &read,
        200,
        &[
            ("name", "/user/name", json!("app")),
            ("password", "/user/password", json!(password)),
        ],
    );
    let role = at(&read, "/user/role").as_str().unwrap_or("");
    assert!(role == "normal" || role.is_empty(), "role {role}");

    // Pools with and without a user: `user` is optional and not computed, so a pool configured without one must
    // read back without one, or every plan would replace it.
    for (body, user) in [
        (
            r#"{"name":"pool-app","user":"app","mode":"transaction","size":5,"db":"shop"}"#,
            "app",
        ),
        (
            r#"{"name":"pool-any","mode":"session","size":3,"db":"shop"}"#,
            "",
        ),
        // godo's `DatabaseCreatePoolRequest` has no `omitempty`: an unset user is sent as "".
        (
            r#"{"user":"","name":"pool-inbound","size":2,"db":"shop","mode":"statement"}"#,
            "",
        ),
    ] {
        let request: Value = serde_json::from_str(body).unwrap();
        let name = request["name"].as_str().unwrap();
        expect(&api, "POST", &format!("{base}/pools"), Some(body), 201).await;
        let read = api.call("GET", &format!("{base}/pools/{name}"), None).await;
        check(
            &read,
            200,
            &[
                ("name", "/pool/name", json!(name)),
                ("mode", "/pool/mode", request["mode"].clone()),
                ("size", "/pool/size", request["size"].clone()),
                ("db_name", "/pool/db", json!("shop")),
            ],
        );
        let found_user = read
            .json
            .pointer("/pool/user")
            .and_then(Value::as_str)
            .unwrap_or("");
        assert_eq!(found_user, user, "{name}: {}", read.raw);
        for (key, prefix) in [("connection", ""), ("private_connection", "private-")] {
            let host = text(&read, &format!("/pool/{key}/host")).to_owned();
            let port = at(&read, &format!("/pool/{key}/port")).as_u64().unwrap();
            let uri = text(&read, &format!("/pool/{key}/uri")).to_owned();
            assert!(host.starts_with(prefix), "{name} {key}.host {host}");
            assert!(
                uri.contains(&format!("@{host}:{port}/{name}?")),
                "{name} {key}.uri {uri}"
            );
        }
        assert!(!text(&read, "/pool/connection/password").is_empty());
    }
}

/// `firewall/resource_firewall.go`: `resourceDigitalOceanFirewallCreate` sends godo's `FirewallRequest`
/// (`firewallRequest`) and `resourceDigitalOceanFirewallRead` flattens `GET /v2/firewalls/{id}` with
/// `flattenFirewallInboundRules` and `flattenFirewallOutboundRules` (`firewall/firewalls.go`): a rule's "0" reads as
/// `port_range = "all"`, except for ICMP, whose port range is left unset; every rule needs its `sources` or
/// `destinations` object, which the flatteners dereference.
#[tokio::test]
async fn firewall_rules_read_back_as_configured() {
    let api = Api::new();
    let (droplet_id, _) = create_droplet(
        &api,
        r#"{"name":"web-1","region":"nyc3","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64","ssh_keys":null,"backups":false,"ipv6":false,"private_networking":false,"monitoring":false,"tags":["web"]}"#,
    )
    .await;
    // The provider's acceptance configurations: a single port, a range, `all`, ICMP without ports, tags as sources.
    let body = format!(
        r#"{{"name":"web-fw","inbound_rules":[{{"protocol":"tcp","ports":"22","sources":{{"addresses":["0.0.0.0/0","::/0"]}}}},{{"protocol":"tcp","ports":"all","sources":{{"addresses":["192.168.1.1/32"]}}}},{{"protocol":"icmp","sources":{{"addresses":["192.168.1.1/32"]}}}},{{"protocol":"tcp","ports":"443","sources":{{"addresses":["192.168.1.0/24","2002:1001:1:2::/64"],"tags":["web"]}}}}],"outbound_rules":[{{"protocol":"udp","ports":"53","destinations":{{"addresses":["0.0.0.0/0","::/0"]}}}},{{"protocol":"tcp","ports":"8000-9000","destinations":{{"droplet_ids":[{droplet_id}]}}}}],"droplet_ids":[{droplet_id}],"tags":["web"]}}"#
    );
    let created = expect(&api, "POST", "/v2/firewalls", Some(&body), 202).await;
    let id = text(&created, "/firewall/id").to_owned();
    let read = api.call("GET", &format!("/v2/firewalls/{id}"), None).await;
    check(
        &read,
        200,
        &[
            ("name", "/firewall/name", json!("web-fw")),
            ("status", "/firewall/status", json!("succeeded")),
            ("pending_changes", "/firewall/pending_changes", json!([])),
            ("droplet_ids", "/firewall/droplet_ids", json!([droplet_id])),
            ("tags", "/firewall/tags", json!(["web"])),
        ],
    );
    assert!(text(&read, "/firewall/created_at").ends_with('Z'));
    // What each configured rule becomes in state after the provider's flattening.
    let inbound = flatten_rules(at(&read, "/firewall/inbound_rules"), "sources");
    assert_eq!(
        inbound,
        vec![
            rule("tcp", Some("22"), "addresses", json!(["0.0.0.0/0", "::/0"])),
            rule("tcp", Some("all"), "addresses", json!(["192.168.1.1/32"])),
            rule("icmp", None, "addresses", json!(["192.168.1.1/32"])),
            json!({"protocol": "tcp", "port_range": "443", "addresses": ["192.168.1.0/24", "2002:1001:1:2::/64"], "tags": ["web"]}),
        ],
        "inbound_rule: {}",
        read.raw
    );
    let outbound = flatten_rules(at(&read, "/firewall/outbound_rules"), "destinations");
    assert_eq!(
        outbound,
        vec![
            rule("udp", Some("53"), "addresses", json!(["0.0.0.0/0", "::/0"])),
            rule("tcp", Some("8000-9000"), "droplet_ids", json!([droplet_id])),
        ],
        "outbound_rule: {}",
        read.raw
    );
    // `resourceDigitalOceanFirewallUpdate` PUTs the same request; the read back is unchanged.
    expect(
        &api,
        "PUT",
        &format!("/v2/firewalls/{id}"),
        Some(&body),
        200,
    )
    .await;
    let again = api.call("GET", &format!("/v2/firewalls/{id}"), None).await;
    assert_eq!(
        flatten_rules(at(&again, "/firewall/inbound_rules"), "sources"),
        inbound
    );
    // godo sends what is not configured as null: no outbound rules, no droplets.
    let minimal = r#"{"name":"ssh-only","inbound_rules":[{"protocol":"tcp","ports":"22","sources":{"addresses":["0.0.0.0/0"]}}],"outbound_rules":null,"droplet_ids":null,"tags":[]}"#;
    let created = expect(&api, "POST", "/v2/firewalls", Some(minimal), 202).await;
    let id = text(&created, "/firewall/id").to_owned();
    let read = api.call("GET", &format!("/v2/firewalls/{id}"), None).await;
    check(
        &read,
        200,
        &[
            ("droplet_ids", "/firewall/droplet_ids", json!([])),
            ("tags", "/firewall/tags", json!([])),
        ],
    );
    assert_eq!(
        flatten_rules(at(&read, "/firewall/outbound_rules"), "destinations"),
        Vec::<Value>::new()
    );
}

/// A configured rule as `flattenFirewallInboundRules` leaves it, with one kind of target.
fn rule(protocol: &str, port_range: Option<&str>, target: &str, values: Value) -> Value {
    let mut rule = json!({ "protocol": protocol });
    if let Some(port_range) = port_range {
        rule["port_range"] = json!(port_range);
    }
    rule[target] = values;
    rule
}

/// The provider's flattening of the API's rules: "0" becomes "all" for TCP and UDP and disappears for ICMP; each
/// non-empty target list is kept. A rule without its target object would be a nil dereference in the provider.
fn flatten_rules(rules: &Value, key: &str) -> Vec<Value> {
    rules
        .as_array()
        .expect("rules are an array")
        .iter()
        .map(|rule| {
            let protocol = rule["protocol"].as_str().expect("protocol");
            let ports = rule["ports"].as_str().expect("ports are a string");
            let mut flat = json!({ "protocol": protocol });
            match (ports, protocol) {
                ("0", "icmp") => {}
                ("0", _) => flat["port_range"] = json!("all"),
                (ports, _) => flat["port_range"] = json!(ports),
            }
            let target = rule[key]
                .as_object()
                .unwrap_or_else(|| panic!("a rule without {key}: {rule}"));
            for name in [
                "addresses",
                "droplet_ids",
                "load_balancer_uids",
                "kubernetes_ids",
                "tags",
            ] {
                if let Some(values) = target
                    .get(name)
                    .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
                {
                    flat[name] = values.clone();
                }
            }
            flat
        })
        .collect()
}
