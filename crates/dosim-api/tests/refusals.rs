//! Refused means unchanged, over HTTP: generated invalid requests to every mutating endpoint,
//! each followed by `GET /_dosim/state`, whose bytes must not move when the request was refused.

mod common;

use common::{Api, TOKEN};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

const DROPLET: &str =
    r#"{"name":"web-1","region":"nyc3","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64"}"#;

/// The fixture: one of each resource, a cluster with two pools (so that a pool moved to the
/// end of the list shows), and the ids the templates need.
struct Fixture {
    droplet: u64,
    volume: String,
    ip: String,
    db: String,
}

async fn fixture(api: &Api) -> Fixture {
    let droplet = api.call("POST", "/v2/droplets", Some(DROPLET)).await;
    let droplet = droplet.json["droplet"]["id"].as_u64().unwrap();
    let volume = api
        .call(
            "POST",
            "/v2/volumes",
            Some(r#"{"name":"pgdata","region":"nyc3","size_gigabytes":10}"#),
        )
        .await;
    let volume = volume.json["volume"]["id"].as_str().unwrap().to_owned();
    let ip = api
        .call("POST", "/v2/reserved_ips", Some(r#"{"region":"nyc3"}"#))
        .await;
    let ip = ip.json["reserved_ip"]["ip"].as_str().unwrap().to_owned();
    let db = api
        .call(
            "POST",
            "/v2/databases",
            Some(r#"{"name":"backend","engine":"pg","version":"16","region":"nyc3","size":"db-s-1vcpu-1gb","num_nodes":1}"#),
        )
        .await;
    let db = db.json["database"]["id"].as_str().unwrap().to_owned();
    for (path, body) in [
        ("dbs", r#"{"name":"alpha"}"#),
        ("users", r#"{"name":"app"}"#),
        (
            "pools",
            r#"{"name":"pool-1","mode":"transaction","size":10,"db":"alpha","user":"app"}"#,
        ),
        (
            "pools",
            r#"{"name":"pool-2","mode":"session","size":5,"db":"defaultdb"}"#,
        ),
    ] {
        let resp = api
            .call("POST", &format!("/v2/databases/{db}/{path}"), Some(body))
            .await;
        assert_eq!(resp.status, 201, "fixture {path}: {}", resp.raw);
    }
    api.advance_ms(120_000);
    Fixture {
        droplet,
        volume,
        ip,
        db,
    }
}

/// Every mutating endpoint with a body it would accept (or nearly), as a template to break.
fn templates(f: &Fixture) -> Vec<(&'static str, String, Value)> {
    let db = format!("/v2/databases/{}", f.db);
    vec![
        (
            "POST",
            "/v2/droplets".into(),
            serde_json::from_str(DROPLET).unwrap(),
        ),
        (
            "POST",
            format!("/v2/droplets/{}/actions", f.droplet),
            json!({"type": "resize", "size": "s-2vcpu-2gb"}),
        ),
        (
            "POST",
            "/v2/droplets/actions?tag_name=web".into(),
            json!({"type": "power_off"}),
        ),
        ("DELETE", "/v2/droplets?tag_name=".into(), Value::Null),
        (
            "POST",
            "/v2/volumes".into(),
            json!({"name": "other", "region": "nyc3", "size_gigabytes": 10}),
        ),
        (
            "POST",
            format!("/v2/volumes/{}/actions", f.volume),
            json!({"type": "resize", "size_gigabytes": 20, "region": "nyc3"}),
        ),
        (
            "POST",
            "/v2/volumes/actions".into(),
            json!({"type": "attach", "volume_name": "pgdata", "droplet_id": f.droplet, "region": "nyc3"}),
        ),
        (
            "DELETE",
            "/v2/volumes?name=missing&region=nyc3".into(),
            Value::Null,
        ),
        ("POST", "/v2/reserved_ips".into(), json!({"region": "nyc3"})),
        (
            "POST",
            format!("/v2/reserved_ips/{}/actions", f.ip),
            json!({"type": "assign", "droplet_id": f.droplet}),
        ),
        (
            "POST",
            format!("/v2/floating_ips/{}/actions", f.ip),
            json!({"type": "unassign"}),
        ),
        (
            "POST",
            "/v2/databases".into(),
            json!({"name": "other", "engine": "pg", "version": "16", "region": "nyc3", "size": "db-s-1vcpu-1gb", "num_nodes": 1}),
        ),
        ("POST", format!("{db}/dbs"), json!({"name": "beta"})),
        ("POST", format!("{db}/users"), json!({"name": "reader"})),
        (
            "POST",
            format!("{db}/pools"),
            json!({"name": "pool-3", "mode": "statement", "size": 2, "db": "alpha"}),
        ),
        (
            "PUT",
            format!("{db}/pools/pool-1"),
            json!({"mode": "session", "size": 12, "db": "alpha", "user": "app"}),
        ),
        ("DELETE", format!("{db}/dbs/missing"), Value::Null),
        ("DELETE", format!("{db}/users/missing"), Value::Null),
        ("DELETE", format!("{db}/pools/missing"), Value::Null),
        ("DELETE", "/v2/droplets/1".into(), Value::Null),
        (
            "DELETE",
            "/v2/volumes/00000000-0000-0000-0000-000000000000".into(),
            Value::Null,
        ),
        ("DELETE", "/v2/reserved_ips/192.0.2.1".into(), Value::Null),
        (
            "DELETE",
            "/v2/databases/00000000-0000-0000-0000-000000000000".into(),
            Value::Null,
        ),
    ]
}

/// Values that are wrong for most fields, in type or in range.
fn bad_value(rng: &mut ChaCha8Rng) -> Value {
    match rng.random_range(0..12) {
        0 => Value::Null,
        1 => json!(""),
        2 => json!(-1),
        3 => json!(0),
        4 => json!(1_000_000_000_000u64),
        5 => json!([]),
        6 => json!({}),
        7 => json!(true),
        8 => json!("x".repeat(rng.random_range(60..400))),
        9 => json!(1.5),
        10 => json!("nope"),
        _ => json!([[[[{"a": [1, {"b": null}]}]]]]),
    }
}

/// Bodies that are not JSON objects at all.
const NOT_OBJECTS: &[&str] = &[
    "",
    "{",
    "[]",
    "null",
    "\"a string\"",
    "{\"a\":",
    "\u{0}\u{1}\u{2}",
    "{\"name\": \"x\",}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
];

/// A broken variant of `template`'s body: a field dropped, a field given a bad value, an
/// unknown field's bad value, or no object at all.
fn mutate(rng: &mut ChaCha8Rng, valid: &Value) -> String {
    let Value::Object(fields) = valid else {
        return NOT_OBJECTS[rng.random_range(0..NOT_OBJECTS.len())].to_owned();
    };
    let mut fields: Map<String, Value> = fields.clone();
    let keys: Vec<String> = fields.keys().cloned().collect();
    match rng.random_range(0..10) {
        0 => return NOT_OBJECTS[rng.random_range(0..NOT_OBJECTS.len())].to_owned(),
        1 | 2 => {
            let key = &keys[rng.random_range(0..keys.len())];
            fields.remove(key);
        }
        _ => {
            for _ in 0..rng.random_range(1..=2) {
                let key = keys[rng.random_range(0..keys.len())].clone();
                fields.insert(key, bad_value(rng));
            }
        }
    }
    Value::Object(fields).to_string()
}

async fn state_bytes(api: &Api) -> String {
    let resp = api.send("GET", "/_dosim/state", None, None, &[]).await;
    assert_eq!(resp.status, 200);
    resp.raw
}

#[tokio::test]
async fn a_refused_request_leaves_the_state_dump_byte_identical() {
    let api = Api::new();
    let fixture = fixture(&api).await;
    let templates = templates(&fixture);
    let mut rng = ChaCha8Rng::seed_from_u64(9);

    // Cases named for the bugs they once caught, then generated ones.
    let db = format!("/v2/databases/{}", fixture.db);
    let mut cases: Vec<(String, String, Option<String>)> = vec![
        (
            "PUT".into(),
            format!("{db}/pools/pool-1"),
            Some(r#"{"mode":"session","size":100000,"db":"alpha"}"#.into()),
        ),
        (
            "PUT".into(),
            format!("{db}/pools/pool-1"),
            Some(r#"{"mode":"brew","size":5,"db":"alpha"}"#.into()),
        ),
        (
            "PUT".into(),
            format!("{db}/pools/pool-1"),
            Some(r#"{"mode":"session","size":5,"db":"missing"}"#.into()),
        ),
        (
            "PUT".into(),
            format!("{db}/pools/missing"),
            Some(r#"{"mode":"session","size":5,"db":"alpha"}"#.into()),
        ),
    ];
    for _ in 0..600 {
        let (method, path, valid) = &templates[rng.random_range(0..templates.len())];
        let body = if *method == "DELETE" {
            None
        } else {
            Some(mutate(&mut rng, valid))
        };
        cases.push(((*method).to_owned(), path.clone(), body));
    }

    let mut refused = 0;
    let mut before = state_bytes(&api).await;
    for (method, path, body) in &cases {
        let resp = api
            .send(method, path, Some(TOKEN), body.as_deref(), &[])
            .await;
        assert!(
            resp.status < 500,
            "{method} {path} {body:?}: {} {}",
            resp.status,
            resp.raw
        );
        let after = state_bytes(&api).await;
        if resp.status >= 400 {
            refused += 1;
            assert_eq!(
                resp.json.as_object().map(|o| o.len()),
                Some(3),
                "{method} {path}: error body {}",
                resp.raw
            );
            assert!(
                before == after,
                "{method} {path} {body:?} was refused with {} but changed the state",
                resp.status
            );
        }
        before = after;
    }
    assert!(refused >= 500, "only {refused} of {} refused", cases.len());
}
