//! Managed databases over HTTP: PostgreSQL clusters with their users, databases and pools, the
//! metrics endpoints Terraform reads back, and Valkey clusters with their eviction policy.

mod common;

use common::{check, Api};
use serde_json::{json, Value};

#[tokio::test]
async fn databases() {
    let api = Api::new();
    let body = r#"{"name":"backend","engine":"pg","version":"16","region":"nyc3","size":"db-s-1vcpu-1gb","num_nodes":1,"tags":["x"]}"#;
    let created = api.call("POST", "/v2/databases", Some(body)).await;
    check(
        &created,
        201,
        json!({"database": {"name": "backend", "engine": "pg", "status": "creating", "db_names": ["defaultdb"],
        "connection": {"uri": "*", "database": "*", "host": "*", "port": 25060, "user": "doadmin", "password": "*", "ssl": true},
        "users": [{"name": "doadmin", "role": "primary"}]}}),
    );
    let id = created.json["database"]["id"].as_str().unwrap().to_owned();
    check(
        &api.call("POST", "/v2/databases", Some(r#"{"name":"x"}"#))
            .await,
        422,
        json!({"message": "num_nodes is required"}),
    );
    api.check_get(
        "/v2/databases?tag_name=x",
        json!({"databases": [{"id": id}]}),
    )
    .await;
    api.check_get("/v2/databases?tag_name=y", json!({"databases": []}))
        .await;
    let base = format!("/v2/databases/{id}");
    check(
        &api.call("POST", &format!("{base}/dbs"), Some(r#"{"name":"alpha"}"#))
            .await,
        201,
        json!({"db": {"name": "alpha"}}),
    );
    api.check_get(
        &format!("{base}/dbs"),
        json!({"dbs": [{"name": "defaultdb"}, {"name": "alpha"}]}),
    )
    .await;
    api.check_get(
        &format!("{base}/dbs/alpha"),
        json!({"db": {"name": "alpha"}}),
    )
    .await;
    check(
        &api.call("GET", &format!("{base}/dbs/nope"), None).await,
        404,
        json!({"id": "not_found"}),
    );
    check(
        &api.call("POST", &format!("{base}/users"), Some(r#"{"name":"app"}"#))
            .await,
        201,
        json!({"user": {"name": "app", "role": "normal", "password": "*"}}),
    );
    api.check_get(
        &format!("{base}/users/app"),
        json!({"user": {"name": "app"}}),
    )
    .await;
    let pool = r#"{"name":"pool-1","mode":"transaction","size":10,"db":"alpha","user":"app"}"#;
    check(
        &api.call("POST", &format!("{base}/pools"), Some(pool)).await,
        201,
        json!({"pool": {"name": "pool-1", "size": 10, "connection": {"port": 25061}, "private_connection": "*"}}),
    );
    check(
        &api.call(
            "PUT",
            &format!("{base}/pools/pool-1"),
            Some(r#"{"mode":"session","size":5,"db":"alpha"}"#),
        )
        .await,
        204,
        Value::Null,
    );
    api.check_get(
        &format!("{base}/pools/pool-1"),
        json!({"pool": {"mode": "session", "size": 5}}),
    )
    .await;
    api.check_get(
        &format!("{base}/pools"),
        json!({"pools": [{"name": "pool-1"}]}),
    )
    .await;
    for path in ["pools/pool-1", "users/app", "dbs/alpha"] {
        check(
            &api.call("DELETE", &format!("{base}/{path}"), None).await,
            204,
            Value::Null,
        );
    }
    check(&api.call("DELETE", &base, None).await, 204, Value::Null);
    check(
        &api.call("GET", &base, None).await,
        404,
        json!({"id": "not_found"}),
    );
}

/// Terraform's provider reads `metrics_endpoints` back: a primary's, and a standby's with standbys.
#[tokio::test]
async fn databases_list_their_metrics_endpoints() {
    let api = Api::new();
    for (name, num_nodes, endpoints) in [("solo", 1, 1), ("trio", 3, 2)] {
        let body = format!(
            r#"{{"name":"{name}","engine":"pg","version":"16","region":"nyc3","size":"db-s-2vcpu-4gb","num_nodes":{num_nodes}}}"#
        );
        let created = api.call("POST", "/v2/databases", Some(&body)).await;
        check(&created, 201, json!({"database": {"name": name}}));
        let database = &created.json["database"];
        let host = database["connection"]["host"].as_str().unwrap();
        let mut expect = vec![json!({"host": host, "port": 9273})];
        if endpoints == 2 {
            expect.push(json!({"host": format!("replica-{host}"), "port": 9273}));
        }
        assert_eq!(
            database["metrics_endpoints"],
            Value::Array(expect),
            "{name}"
        );
    }
}

#[tokio::test]
async fn valkey_clusters() {
    let api = Api::new();
    let body = r#"{"name":"cache","engine":"valkey","region":"nyc3","size":"db-s-1vcpu-1gb","num_nodes":1}"#;
    let created = api.call("POST", "/v2/databases", Some(body)).await;
    check(
        &created,
        201,
        json!({"database": {"name": "cache", "engine": "valkey", "version": "8", "db_names": [],
        "connection": {"uri": "*", "database": "", "host": "*", "port": 25061, "user": "default", "password": "*", "ssl": true},
        "users": [{"name": "default", "role": "primary"}]}}),
    );
    let connection = &created.json["database"]["connection"];
    let password = connection["password"].as_str().unwrap();
    let host = connection["host"].as_str().unwrap();
    assert!(password.starts_with("AVNS_"), "{password}");
    assert_eq!(
        connection["uri"].as_str().unwrap(),
        format!("rediss://default:{password}@{host}:25061")
    );
    let base = format!(
        "/v2/databases/{}",
        created.json["database"]["id"].as_str().unwrap()
    );
    let policy = format!("{base}/eviction_policy");
    for (method, path, body, status, expect) in [
        (
            "GET",
            policy.as_str(),
            None,
            200,
            json!({"eviction_policy": "noeviction"}),
        ),
        (
            "PUT",
            policy.as_str(),
            Some(r#"{"eviction_policy":"allkeys_lru"}"#),
            204,
            Value::Null,
        ),
        (
            "GET",
            policy.as_str(),
            None,
            200,
            json!({"eviction_policy": "allkeys_lru"}),
        ),
        (
            "PUT",
            policy.as_str(),
            Some(r#"{"eviction_policy":"allkeys_lfu"}"#),
            422,
            json!({"id": "unprocessable_entity", "message": "eviction_policy: \"allkeys_lfu\" is not a valid eviction policy"}),
        ),
        (
            "PUT",
            policy.as_str(),
            Some("{}"),
            422,
            json!({"message": "eviction_policy is required"}),
        ),
        (
            "POST",
            &format!("{base}/users"),
            Some(r#"{"name":"app"}"#),
            422,
            json!({"message": "User management is not supported for this engine."}),
        ),
        (
            "POST",
            &format!("{base}/dbs"),
            Some(r#"{"name":"app"}"#),
            422,
            json!({"message": "Database management is not supported for this engine."}),
        ),
        (
            "POST",
            "/v2/databases",
            Some(
                r#"{"name":"old","engine":"redis","region":"nyc3","size":"db-s-1vcpu-1gb","num_nodes":1}"#,
            ),
            422,
            json!({"message": "engine: Caching (redis) clusters can no longer be created; use valkey"}),
        ),
        (
            "POST",
            "/v2/databases",
            Some(
                r#"{"name":"cache-ha","engine":"valkey","region":"nyc3","size":"db-s-1vcpu-1gb","num_nodes":2}"#,
            ),
            422,
            json!({"message": "num_nodes: 2 requires size db-s-1vcpu-2gb or larger for valkey"}),
        ),
    ] {
        check(&api.call(method, path, body).await, status, expect);
    }
    let pg =
        r#"{"name":"pg-main","engine":"pg","region":"nyc3","size":"db-s-1vcpu-1gb","num_nodes":1}"#;
    let pg = api.call("POST", "/v2/databases", Some(pg)).await;
    let pg_policy = format!(
        "/v2/databases/{}/eviction_policy",
        pg.json["database"]["id"].as_str().unwrap()
    );
    check(
        &api.call("GET", &pg_policy, None).await,
        422,
        json!({"message": "Eviction policy is only supported for Caching and Valkey clusters."}),
    );
}
