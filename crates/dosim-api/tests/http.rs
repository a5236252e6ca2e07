//! The API over HTTP: status codes, envelopes, error bodies, tolerant input, pagination and the floating-IP alias.

mod common;

use common::{check, Api, Resp, BASE, OTHER_TOKEN, TOKEN};
use serde_json::{json, Value};

/// Method, path, token, body, expected status, expected subset of the body.
type Case<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    u16,
    Value,
);

const DROPLET: &str =
    r#"{"name":"web-1","region":"nyc3","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64"}"#;
const NOT_FOUND: &str = "The resource you requested could not be found.";

#[tokio::test]
async fn errors_are_digitalocean_shaped() {
    let api = Api::new();
    let unauthorized =
        json!({"id": "unauthorized", "message": "Unable to authenticate you.", "request_id": "*"});
    let cases: &[Case] = &[
        ("GET", "/v2/account", None, None, 401, unauthorized.clone()),
        (
            "GET",
            "/v2/account",
            Some("not-a-token"),
            None,
            401,
            unauthorized.clone(),
        ),
        (
            "GET",
            "/v2/account",
            Some("dop_v1_ABC"),
            None,
            401,
            unauthorized.clone(),
        ),
        (
            "GET",
            "/v2/account",
            Some("dop_v1_00000000000000000000000000000000000000000000000000000000000000AA"),
            None,
            401,
            unauthorized,
        ),
        (
            "GET",
            "/v2/nothing",
            Some(TOKEN),
            None,
            404,
            json!({"id": "not_found", "message": NOT_FOUND}),
        ),
        (
            "GET",
            "/v2/droplets/abc",
            Some(TOKEN),
            None,
            404,
            json!({"id": "not_found", "message": NOT_FOUND}),
        ),
        (
            "GET",
            "/v2/droplets/1",
            Some(TOKEN),
            None,
            404,
            json!({"id": "not_found", "message": NOT_FOUND}),
        ),
        (
            "GET",
            "/v2/volumes/not-a-uuid",
            Some(TOKEN),
            None,
            404,
            json!({"id": "not_found"}),
        ),
        (
            "GET",
            "/v2/reserved_ips/1.2.3.4",
            Some(TOKEN),
            None,
            404,
            json!({"id": "not_found"}),
        ),
        (
            "GET",
            "/v2/actions/0",
            Some(TOKEN),
            None,
            404,
            json!({"id": "not_found"}),
        ),
        (
            "PATCH",
            "/v2/droplets",
            Some(TOKEN),
            None,
            405,
            json!({"id": "method_not_allowed"}),
        ),
        (
            "PUT",
            "/v2/account",
            Some(TOKEN),
            None,
            405,
            json!({"id": "method_not_allowed"}),
        ),
        (
            "POST",
            "/v2/droplets",
            Some(TOKEN),
            Some("{not json"),
            400,
            json!({"id": "bad_request"}),
        ),
        (
            "POST",
            "/v2/droplets",
            Some(TOKEN),
            Some("[1,2]"),
            400,
            json!({"id": "bad_request"}),
        ),
        (
            "POST",
            "/v2/droplets",
            Some(TOKEN),
            Some(r#"{"size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64"}"#),
            422,
            json!({"id": "unprocessable_entity", "message": "name is required"}),
        ),
        (
            "POST",
            "/v2/droplets",
            Some(TOKEN),
            Some(r#"{"name":"a","size":1,"image":"ubuntu-24-04-x64"}"#),
            422,
            json!({"id": "unprocessable_entity", "message": "size must be a string"}),
        ),
        (
            "POST",
            "/v2/droplets",
            Some(TOKEN),
            Some(r#"{"name":"a","size":"s-1vcpu-1gb","image":"nope"}"#),
            422,
            json!({"id": "unprocessable_entity", "message": "You specified an invalid image for Droplet creation."}),
        ),
        (
            "POST",
            "/v2/volumes",
            Some(TOKEN),
            Some(r#"{"name":"v","region":"nyc3"}"#),
            422,
            json!({"message": "size_gigabytes is required"}),
        ),
        (
            "POST",
            "/v2/reserved_ips",
            Some(TOKEN),
            Some(r#"{"region":"nyc3","droplet_id":5}"#),
            422,
            json!({"message": "Cannot specify Droplet and region, they are mutually exclusive."}),
        ),
        (
            "DELETE",
            "/v2/droplets",
            Some(TOKEN),
            None,
            422,
            json!({"message": "tag_name is required"}),
        ),
        (
            "POST",
            "/v2/droplets/actions",
            Some(TOKEN),
            Some(r#"{"type":"reboot"}"#),
            422,
            json!({"id": "unprocessable_entity"}),
        ),
    ];
    // The account exists from its first request on; what must not change is its model.
    api.call("GET", "/v2/account", None).await;
    let before = api.state();
    for (method, path, token, body, status, expect) in cases {
        let resp = api.send(method, path, *token, *body, &[]).await;
        check(&resp, *status, expect.clone());
    }
    assert_eq!(api.state(), before, "a refused request changed the model");
}

#[tokio::test]
async fn body_over_the_limit_is_413_and_changes_nothing() {
    let api = Api::with(|config| config.max_body_bytes = 64);
    let body = format!(
        r#"{{"name":"{}","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64"}}"#,
        "a".repeat(100)
    );
    api.call("GET", "/v2/account", None).await;
    let before = api.state();
    let resp = api.call("POST", "/v2/droplets", Some(&body)).await;
    check(&resp, 413, json!({"id": "request_entity_too_large"}));
    assert_eq!(api.state(), before);
}

/// The bytes a `Value` of the same body would serialize to: keys sorted, nothing between tokens.
fn canonical(resp: &Resp) -> String {
    serde_json::to_string(&resp.json).unwrap()
}

#[tokio::test]
async fn droplet_and_list_bodies_are_written_as_their_json_values_would_be() {
    let api = Api::new();
    let created = api.call("POST", "/v2/droplets", Some(DROPLET)).await;
    let id = created.json["droplet"]["id"].as_u64().unwrap();
    api.call(
        "POST",
        "/v2/volumes",
        Some(r#"{"name":"v1","region":"nyc3","size_gigabytes":10}"#),
    )
    .await;
    api.advance_ms(60_000);
    let one = api.call("GET", &format!("/v2/droplets/{id}"), None).await;
    check(
        &one,
        200,
        json!({"droplet": {"status": "active", "networks": {"v4": [{"type": "public"}, {"type": "private"}]}}}),
    );
    for resp in [
        one,
        api.call("GET", "/v2/droplets", None).await,
        api.call("GET", "/v2/volumes", None).await,
        api.call("GET", "/v2/regions?per_page=2", None).await,
    ] {
        assert_eq!(resp.raw, canonical(&resp));
    }
}

#[tokio::test]
async fn droplets_create_list_get_delete_and_actions() {
    let api = Api::new();
    let created = api.call("POST", "/v2/droplets", Some(DROPLET)).await;
    check(
        &created,
        202,
        json!({
            "droplet": {"name": "web-1", "status": "new", "networks": {"v4": [], "v6": []}, "region": {"slug": "nyc3"},
                        "size": {"slug": "s-1vcpu-1gb"}, "image": {"slug": "ubuntu-24-04-x64"}, "kernel": null,
                        "backup_ids": [], "snapshot_ids": [], "next_backup_window": null, "volume_ids": [], "tags": [],
                        "features": "*", "memory": "*", "vcpus": "*", "disk": "*", "locked": false, "created_at": "2026-01-01T00:00:00Z",
                        "size_slug": "s-1vcpu-1gb"},
            "links": {"actions": [{"id": "*", "rel": "create", "href": "*"}]},
        }),
    );
    let id = created.json["droplet"]["id"].as_u64().unwrap();
    let action_id = created.json["links"]["actions"][0]["id"].as_u64().unwrap();
    assert_eq!(
        created.json["links"]["actions"][0]["href"],
        format!("{BASE}/v2/actions/{action_id}")
    );

    let multi = api
        .call("POST", "/v2/droplets", Some(r#"{"names":["a","b"],"region":"nyc3","size":"s-1vcpu-1gb","image":160232537,"tags":["t"]}"#))
        .await;
    check(
        &multi,
        202,
        json!({"droplets": [{"name": "a", "tags": ["t"]}, {"name": "b"}], "links": {"actions": [{"rel": "create"}, {"rel": "create"}]}}),
    );

    api.check_get(
        "/v2/droplets",
        json!({"droplets": [{"id": id}, {}, {}], "links": {}, "meta": {"total": 3}}),
    )
    .await;
    api.check_get(
        "/v2/droplets?tag_name=t",
        json!({"droplets": [{"name": "a"}, {"name": "b"}], "meta": {"total": 2}}),
    )
    .await;
    api.check_get("/v2/droplets?name=WEB-1", json!({"meta": {"total": 1}}))
        .await;
    api.check_get(&format!("/v2/droplets/{id}/actions/{action_id}"), json!({"action": {"id": action_id, "status": "in-progress", "type": "create", "resource_type": "droplet", "resource_id": id, "region_slug": "nyc3", "completed_at": null}})).await;
    let pending = api
        .call(
            "POST",
            &format!("/v2/droplets/{id}/actions"),
            Some(r#"{"type":"power_off"}"#),
        )
        .await;
    check(
        &pending,
        422,
        json!({"id": "unprocessable_entity", "message": "Droplet already has a pending event."}),
    );

    api.advance_ms(60_000);
    api.check_get(
        &format!("/v2/actions/{action_id}"),
        json!({"action": {"status": "completed", "completed_at": "2026-01-01T00:00:30Z"}}),
    )
    .await;
    api.check_get(
        &format!("/v2/droplets/{id}"),
        json!({"droplet": {"status": "active"}}),
    )
    .await;
    let off = api
        .call(
            "POST",
            &format!("/v2/droplets/{id}/actions"),
            Some(r#"{"type":"power_off"}"#),
        )
        .await;
    check(
        &off,
        201,
        json!({"action": {"type": "power_off", "status": "in-progress"}}),
    );
    api.check_get(
        &format!("/v2/droplets/{id}/actions"),
        json!({"actions": [{"type": "create"}, {"type": "power_off"}], "meta": {"total": 2}}),
    )
    .await;
    let by_tag = api
        .call(
            "POST",
            "/v2/droplets/actions?tag_name=t",
            Some(r#"{"type":"power_off"}"#),
        )
        .await;
    check(
        &by_tag,
        201,
        json!({"actions": [{"type": "power_off"}, {"type": "power_off"}]}),
    );
    check(
        &api.call(
            "POST",
            "/v2/droplets/actions?tag_name=t",
            Some(r#"{"type":"rename","name":"x"}"#),
        )
        .await,
        422,
        json!({}),
    );

    check(
        &api.call("DELETE", &format!("/v2/droplets/{id}"), None)
            .await,
        204,
        Value::Null,
    );
    check(
        &api.call("DELETE", "/v2/droplets?tag_name=t", None).await,
        204,
        Value::Null,
    );
    api.check_get(
        "/v2/droplets",
        json!({"droplets": [], "meta": {"total": 0}}),
    )
    .await;
}

#[tokio::test]
async fn tolerant_input() {
    let api = Api::new();
    let volume = api.call("POST", "/v2/volumes/", Some(r#"{"name":"pgdata","region":"nyc3","size_gigabytes":10,"description":"","snapshot_id":"","filesystem_type":"","filesystem_label":"","tags":null}"#)).await;
    check(
        &volume,
        201,
        json!({"volume": {"name": "pgdata", "tags": [], "droplet_ids": [], "region": {"slug": "nyc3"}}}),
    );
    let volume_id = volume.json["volume"]["id"].as_str().unwrap().to_owned();
    // godo sends every field, empty or null when unset, and volumes as objects.
    let godo = json!({"name": "db", "region": "nyc3", "size": "s-1vcpu-1gb", "image": "ubuntu-24-04-x64", "ssh_keys": null,
                      "backups": false, "ipv6": false, "private_networking": false, "monitoring": false, "tags": null,
                      "user_data": "", "vpc_uuid": "", "volumes": [{"id": volume_id}], "with_droplet_agent": null});
    let created = api
        .call("POST", "/v2/droplets", Some(&godo.to_string()))
        .await;
    check(
        &created,
        202,
        json!({"droplet": {"name": "db", "volume_ids": [volume_id]}}),
    );
    let by_name = json!({"name": "db2", "size": "s-1vcpu-1gb", "image": "129211873", "region": "nyc3", "volumes": []});
    check(
        &api.call("POST", "/v2/droplets", Some(&by_name.to_string()))
            .await,
        202,
        json!({"droplet": {"image": {"id": 129211873}}}),
    );
    api.check_get(
        "/v2/droplets/?unknown=1&per_page=",
        json!({"meta": {"total": 2}}),
    )
    .await;
    let with_content_type = api
        .send(
            "GET",
            "/v2/account",
            Some(TOKEN),
            None,
            &[("content-type", "application/json")],
        )
        .await;
    check(
        &with_content_type,
        200,
        json!({"account": {"droplet_limit": 25, "status": "active"}}),
    );
    let droplet_id = created.json["droplet"]["id"].as_u64().unwrap();
    check(
        &api.call("DELETE", &format!("/v2/droplets/{droplet_id}"), Some("{}"))
            .await,
        204,
        Value::Null,
    );
}

#[tokio::test]
async fn volumes_and_their_actions() {
    let api = Api::new();
    let droplet = api.call("POST", "/v2/droplets", Some(DROPLET)).await;
    let droplet_id = droplet.json["droplet"]["id"].as_u64().unwrap();
    let body = r#"{"name":"pgdata","region":"nyc3","size_gigabytes":10}"#;
    let volume = api.call("POST", "/v2/volumes", Some(body)).await;
    check(
        &volume,
        201,
        json!({"volume": {"name": "pgdata", "size_gigabytes": 10}}),
    );
    let id = volume.json["volume"]["id"].as_str().unwrap().to_owned();
    check(
        &api.call("POST", "/v2/volumes", Some(body)).await,
        409,
        json!({"id": "conflict", "message": "a volume with that name already exists"}),
    );
    let attach = format!(r#"{{"type":"attach","droplet_id":{droplet_id},"region":"nyc3"}}"#);
    check(
        &api.call("POST", &format!("/v2/volumes/{id}/actions"), Some(&attach))
            .await,
        422,
        json!({"message": "Droplet already has a pending event."}),
    );
    api.advance_ms(60_000);
    let attached = api
        .call("POST", &format!("/v2/volumes/{id}/actions"), Some(&attach))
        .await;
    check(
        &attached,
        202,
        json!({"action": {"type": "attach_volume", "resource_type": "volume"}}),
    );
    let action_id = attached.json["action"]["id"].as_u64().unwrap();
    api.check_get(
        &format!("/v2/volumes/{id}/actions/{action_id}"),
        json!({"action": {"id": action_id}}),
    )
    .await;
    api.check_get(
        &format!("/v2/volumes/{id}/actions"),
        json!({"actions": [{"id": action_id}]}),
    )
    .await;
    api.advance_ms(60_000);
    api.check_get(
        &format!("/v2/volumes/{id}"),
        json!({"volume": {"droplet_ids": [droplet_id]}}),
    )
    .await;
    check(
        &api.call("DELETE", &format!("/v2/volumes/{id}"), None).await,
        409,
        json!({"id": "conflict", "message": "A volume that's attached to a Droplet cannot be deleted. Please detach it first before deleting."}),
    );
    let detach = format!(
        r#"{{"type":"detach","volume_name":"pgdata","region":"nyc3","droplet_id":{droplet_id}}}"#
    );
    check(
        &api.call("POST", "/v2/volumes/actions", Some(&detach)).await,
        202,
        json!({"action": {"type": "detach_volume"}}),
    );
    api.advance_ms(60_000);
    check(
        &api.call(
            "POST",
            &format!("/v2/volumes/{id}/actions"),
            Some(r#"{"type":"resize","size_gigabytes":20}"#),
        )
        .await,
        202,
        json!({"action": {"type": "resize"}}),
    );
    api.check_get(
        "/v2/volumes?name=pgdata&region=nyc3",
        json!({"volumes": [{"id": id}], "meta": {"total": 1}}),
    )
    .await;
    check(
        &api.call("DELETE", "/v2/volumes?name=pgdata&region=nyc3", None)
            .await,
        204,
        Value::Null,
    );
    api.check_get("/v2/volumes", json!({"volumes": [], "meta": {"total": 0}}))
        .await;
}

#[tokio::test]
async fn reserved_ips_and_the_floating_ip_alias() {
    let api = Api::new();
    let droplet = api.call("POST", "/v2/droplets", Some(DROPLET)).await;
    let droplet_id = droplet.json["droplet"]["id"].as_u64().unwrap();
    api.advance_ms(60_000);
    for (segment, key, plural, resource_type) in [
        ("reserved_ips", "reserved_ip", "reserved_ips", "reserved_ip"),
        ("floating_ips", "floating_ip", "floating_ips", "floating_ip"),
    ] {
        let created = api
            .call(
                "POST",
                &format!("/v2/{segment}"),
                Some(r#"{"region":"nyc3"}"#),
            )
            .await;
        check(
            &created,
            202,
            json!({key: {"droplet": null, "locked": false, "region": {"slug": "nyc3"}}, "links": {}}),
        );
        let ip = created.json[key]["ip"].as_str().unwrap().to_owned();
        api.check_get(&format!("/v2/{segment}/{ip}"), json!({key: {"ip": ip}}))
            .await;
        let assign = format!(r#"{{"type":"assign","droplet_id":{droplet_id}}}"#);
        let action = api
            .call(
                "POST",
                &format!("/v2/{segment}/{ip}/actions"),
                Some(&assign),
            )
            .await;
        check(
            &action,
            201,
            json!({"action": {"type": "assign_ip", "resource_type": resource_type, "project_id": "*"}}),
        );
        let action_id = action.json["action"]["id"].as_u64().unwrap();
        api.check_get(
            &format!("/v2/{segment}/{ip}/actions/{action_id}"),
            json!({"action": {"resource_type": resource_type}}),
        )
        .await;
        api.check_get(
            &format!("/v2/{segment}/{ip}/actions"),
            json!({"actions": [{"id": action_id}]}),
        )
        .await;
        api.advance_ms(60_000);
        api.check_get(
            &format!("/v2/{segment}/{ip}"),
            json!({key: {"droplet": {"id": droplet_id}}}),
        )
        .await;
        check(
            &api.call(
                "POST",
                &format!("/v2/{segment}/{ip}/actions"),
                Some(r#"{"type":"unassign"}"#),
            )
            .await,
            201,
            json!({"action": {"type": "unassign_ip"}}),
        );
        api.advance_ms(60_000);
        check(
            &api.call("DELETE", &format!("/v2/{segment}/{ip}"), None)
                .await,
            204,
            Value::Null,
        );
        api.check_get(
            &format!("/v2/{segment}"),
            json!({plural: [], "meta": {"total": 0}}),
        )
        .await;
    }
    let on_droplet = api
        .call(
            "POST",
            "/v2/reserved_ips",
            Some(&format!(r#"{{"droplet_id":{droplet_id}}}"#)),
        )
        .await;
    check(
        &on_droplet,
        202,
        json!({"reserved_ip": {"locked": true}, "links": {"droplets": [{"id": droplet_id, "rel": "droplet", "href": format!("{BASE}/v2/droplets/{droplet_id}")}], "actions": [{"rel": "assign_ip"}]}}),
    );
}

#[tokio::test]
async fn pagination_links_are_absolute_and_keep_filters() {
    let api = Api::new();
    for name in ["a", "b", "c", "d", "e"] {
        let body = format!(r#"{{"name":"{name}","region":"nyc3","size_gigabytes":1}}"#);
        check(
            &api.call("POST", "/v2/volumes", Some(&body)).await,
            201,
            json!({}),
        );
    }
    let first = api
        .call("GET", "/v2/volumes?region=nyc3&per_page=2", None)
        .await;
    check(
        &first,
        200,
        json!({"volumes": [{"name": "a"}, {"name": "b"}], "meta": {"total": 5}, "links": {"pages": {
            "next": format!("{BASE}/v2/volumes?region=nyc3&page=2&per_page=2"),
            "last": format!("{BASE}/v2/volumes?region=nyc3&page=3&per_page=2"),
        }}}),
    );
    assert!(first.json["links"]["pages"].get("prev").is_none());
    let middle = api
        .call("GET", "/v2/volumes?region=nyc3&per_page=2&page=2", None)
        .await;
    check(
        &middle,
        200,
        json!({"volumes": [{"name": "c"}, {"name": "d"}], "links": {"pages": {"first": "*", "prev": "*", "next": "*", "last": "*"}}}),
    );
    let last = api.call("GET", "/v2/volumes?per_page=2&page=3", None).await;
    check(
        &last,
        200,
        json!({"volumes": [{"name": "e"}], "links": {"pages": {"first": format!("{BASE}/v2/volumes?page=1&per_page=2"), "prev": "*"}}}),
    );
    assert!(last.json["links"]["pages"].get("next").is_none());
    api.check_get(
        "/v2/volumes?per_page=500&page=0",
        json!({"meta": {"total": 5}, "links": {}}),
    )
    .await;
    api.check_get("/v2/volumes?per_page=0", json!({"volumes": [{"name": "a"}], "links": {"pages": {"next": format!("{BASE}/v2/volumes?page=2&per_page=1"), "last": "*"}}})).await;
    // Without a configured base URL, links use the request's Host header.
    let api = Api::with(|config| config.base_url = None);
    for name in ["a", "b"] {
        api.call(
            "POST",
            "/v2/volumes",
            Some(&format!(
                r#"{{"name":"{name}","region":"nyc3","size_gigabytes":1}}"#
            )),
        )
        .await;
    }
    api.check_get("/v2/volumes?per_page=1", json!({"links": {"pages": {"next": "http://dosim.test/v2/volumes?page=2&per_page=1", "last": "*"}}})).await;
}

/// Tags over HTTP: DigitalOcean's own error body for an invalid name, tagging by request, counts.
#[tokio::test]
async fn tags() {
    let api = Api::new();
    let invalid = api
        .call("POST", "/v2/tags", Some(r#"{"name":"not valid"}"#))
        .await;
    assert_eq!(invalid.status, 400, "{}", invalid.raw);
    assert_eq!(
        invalid.json,
        json!({
            "error": r#"Error validating resource tag: "tag-name \"not valid\" contains invalid characters""#,
            "messages": null,
            "root_causes": [r#"rpc error: code = InvalidArgument desc = Error validating resource tag: "tag-name \"not valid\" contains invalid characters""#],
        })
    );
    // A body the service cannot read gets the same shape (found by fuzzing against the spec).
    for body in ["[null, null]", "{}", "{\"name\": 7}"] {
        let unreadable = api.call("POST", "/v2/tags", Some(body)).await;
        assert_eq!(unreadable.status, 400, "{body}: {}", unreadable.raw);
        assert!(
            unreadable.json["error"].is_string(),
            "{body}: {}",
            unreadable.raw
        );
        assert_eq!(unreadable.json["messages"], Value::Null, "{body}");
        assert!(
            unreadable.json["root_causes"][0]
                .as_str()
                .is_some_and(|cause| cause.starts_with("rpc error: code = InvalidArgument")),
            "{body}: {}",
            unreadable.raw
        );
    }
    check(
        &api.call("POST", "/v2/tags", Some(r#"{"name":"Claimed"}"#))
            .await,
        201,
        json!({"tag": {"name": "Claimed", "resources": {"count": 0, "droplets": {"count": 0}}}}),
    );
    let droplet = api.call("POST", "/v2/droplets", Some(DROPLET)).await;
    let id = droplet.json["droplet"]["id"].as_u64().unwrap();
    // A droplet id given as a number is read as its decimal string.
    let resources =
        format!(r#"{{"resources":[{{"resource_id":{id},"resource_type":"droplet"}}]}}"#);
    let tagged = api
        .call("POST", "/v2/tags/Claimed/resources", Some(&resources))
        .await;
    assert_eq!(tagged.status, 204, "{}", tagged.raw);
    let uri = format!("{BASE}/v2/droplets/{id}");
    api.check_get("/v2/tags/Claimed", json!({"tag": {"resources": {"count": 1, "last_tagged_uri": uri, "droplets": {"count": 1, "last_tagged_uri": uri}}}})).await;
    check(
        &api.call("GET", "/v2/tags/claimed", None).await,
        404,
        json!({"id": "not_found"}),
    );
    check(
        &api.call(
            "POST",
            "/v2/tags/Claimed/resources",
            Some(r#"{"resources":[{"resource_type":"droplet"}]}"#),
        )
        .await,
        422,
        json!({"message": "resources[].resource_id is required"}),
    );
}

const KEY_1: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB ci@example";
const KEY_1_FINGERPRINT: &str = "d6:9a:30:45:17:cf:91:c4:27:94:f3:22:92:a3:00:0e";

/// SSH keys: fingerprints, DigitalOcean's refusals, keys named in droplet creates, and the
/// endpoint's own list limit of 10 a minute.
#[tokio::test]
async fn ssh_keys() {
    let api = Api::new();
    let body = |name: &str, key: &str| json!({"name": name, "public_key": key}).to_string();
    let created = api
        .call("POST", "/v2/account/keys", Some(&body("ci", KEY_1)))
        .await;
    check(
        &created,
        201,
        json!({"ssh_key": {"name": "ci", "fingerprint": KEY_1_FINGERPRINT, "public_key": KEY_1}}),
    );
    let id = created.json["ssh_key"]["id"].as_u64().unwrap();
    let refusals: [(&str, &str); 3] = [
        (KEY_1, "SSH Key is already in use on your account"),
        (
            "ssh-foo AAAA",
            "Key invalid type, we support 'ssh-rsa', 'ssh-dss', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', or 'ssh-ed25519'",
        ),
        // The blob says ssh-rsa while the line says ssh-ed25519.
        (
            "ssh-ed25519 AAAAB3NzaC1yc2EAAAAgAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=",
            "Fingerprint could not be generated, please make sure your key is valid",
        ),
    ];
    for (key, message) in refusals {
        check(
            &api.call("POST", "/v2/account/keys", Some(&body("other", key)))
                .await,
            422,
            json!({"id": "unprocessable_entity", "message": message}),
        );
    }
    api.check_get(
        &format!("/v2/account/keys/{KEY_1_FINGERPRINT}"),
        json!({"ssh_key": {"id": id}}),
    )
    .await;
    check(
        &api.call(
            "PUT",
            &format!("/v2/account/keys/{id}"),
            Some(r#"{"name":"deploy"}"#),
        )
        .await,
        200,
        json!({"ssh_key": {"name": "deploy", "fingerprint": KEY_1_FINGERPRINT}}),
    );
    // A droplet create names keys by id or fingerprint; an unknown one refuses it.
    let droplet = |keys: Value| {
        json!({"name": "web", "region": "nyc3", "size": "s-1vcpu-1gb", "image": "ubuntu-24-04-x64", "ssh_keys": keys})
            .to_string()
    };
    check(
        &api.call(
            "POST",
            "/v2/droplets",
            Some(&droplet(json!([id, KEY_1_FINGERPRINT]))),
        )
        .await,
        202,
        json!({"droplet": {"name": "web"}}),
    );
    check(
        &api.call(
            "POST",
            "/v2/droplets",
            Some(&droplet(json!([id, "main", "12"]))),
        )
        .await,
        422,
        json!({"message": "main, 12 are invalid key identifiers for Droplet creation."}),
    );
    // Ten lists a minute; the eleventh waits for the first to age out.
    for _ in 0..10 {
        api.check_get("/v2/account/keys", json!({"ssh_keys": [{"id": id}]}))
            .await;
    }
    let limited = api.call("GET", "/v2/account/keys", None).await;
    check(&limited, 429, json!({"id": "too_many_requests"}));
    assert_eq!(limited.headers["retry-after"], "60");
    check(
        &api.call(
            "DELETE",
            &format!("/v2/account/keys/{KEY_1_FINGERPRINT}"),
            None,
        )
        .await,
        204,
        Value::Null,
    );
}

#[tokio::test]
async fn catalogue() {
    let api = Api::new();
    api.check_get(
        "/v2/regions",
        json!({"regions": "*", "meta": {"total": "*"}, "links": "*"}),
    )
    .await;
    api.check_get(
        "/v2/sizes?per_page=1",
        json!({"sizes": [{"slug": "*", "price_monthly": "*"}]}),
    )
    .await;
    api.check_get("/v2/images", json!({"images": "*"})).await;
    api.check_get(
        "/v2/images/ubuntu-24-04-x64",
        json!({"image": {"id": 160232537}}),
    )
    .await;
    api.check_get(
        "/v2/images/160232537",
        json!({"image": {"slug": "ubuntu-24-04-x64"}}),
    )
    .await;
    check(
        &api.call("GET", "/v2/images/1", None).await,
        404,
        json!({"id": "not_found"}),
    );
}

#[tokio::test]
async fn tokens_are_isolated_accounts_and_capped() {
    let api = Api::with(|config| config.max_accounts = 1);
    check(
        &api.call(
            "POST",
            "/v2/volumes",
            Some(r#"{"name":"a","region":"nyc3","size_gigabytes":1}"#),
        )
        .await,
        201,
        json!({}),
    );
    let other = api
        .send("GET", "/v2/volumes", Some(OTHER_TOKEN), None, &[])
        .await;
    check(&other, 403, json!({"id": "forbidden"}));
    let api = Api::new();
    api.call(
        "POST",
        "/v2/volumes",
        Some(r#"{"name":"a","region":"nyc3","size_gigabytes":1}"#),
    )
    .await;
    check(
        &api.send("GET", "/v2/volumes", Some(OTHER_TOKEN), None, &[])
            .await,
        200,
        json!({"volumes": []}),
    );
    assert_eq!(api.server.accounts().len(), 2);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_responses() {
    async fn run() -> Vec<String> {
        let api = Api::new();
        let mut out = Vec::new();
        for (method, path, body) in [
            ("POST", "/v2/droplets", Some(DROPLET)),
            (
                "POST",
                "/v2/volumes",
                Some(r#"{"name":"a","region":"nyc3","size_gigabytes":1}"#),
            ),
            ("POST", "/v2/reserved_ips", Some(r#"{"region":"nyc3"}"#)),
            ("GET", "/v2/nothing", None),
        ] {
            let resp = api.call(method, path, body).await;
            out.push(format!(
                "{} {} {}",
                resp.status,
                resp.headers["x-request-id"].to_str().unwrap(),
                resp.raw
            ));
        }
        out
    }
    assert_eq!(run().await, run().await);
}
