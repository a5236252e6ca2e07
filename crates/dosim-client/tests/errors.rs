//! Error responses decode like godo reads them: JSON or not, with request ids and rate limits.

mod common;

use common::{run, Reply, Script};
use dosim_client::Error;

/// Sends `POST /v2/volumes` answered by `reply`, and renders the error and its classification.
#[track_caller]
fn check(reply: Reply, expect: &str) {
    let (error, last_rate) = run(async {
        let script = Script::new(vec![reply]);
        let client = script.client();
        let error = client
            .volumes()
            .create(&dosim_client::VolumeCreate::new("pgdata", "nyc3", 10))
            .await
            .unwrap_err();
        (error, client.rate_limit())
    });
    let api = error.api().expect("an API error");
    let mut flags = Vec::new();
    for (flag, set) in [
        ("not_found", error.is_not_found()),
        ("conflict", error.is_conflict()),
        ("already_exists", error.is_already_exists()),
        ("unprocessable", error.is_unprocessable()),
        ("pending_event", error.is_pending_event()),
        ("rate_limited", error.is_rate_limited()),
        ("ambiguous", error.is_ambiguous()),
    ] {
        if set {
            flags.push(flag);
        }
    }
    let actual = format!(
        "{error}\nid={:?} flags={flags:?}\nrate={:?}",
        api.id, api.rate
    );
    assert_eq!(actual, expect);
    assert_eq!(
        last_rate, api.rate,
        "the client remembers the last rate limit"
    );
}

#[test]
fn json_errors() {
    check(
        Reply::json(409, r#"{"id":"conflict","message":"a volume with that name already exists","request_id":"f049e453"}"#),
        "POST /v2/volumes: 409 (request \"f049e453\") a volume with that name already exists\nid=Some(\"conflict\") flags=[\"conflict\", \"already_exists\"]\nrate=None",
    );
    check(
        Reply::json(409, r#"{"id":"already_exists","message":"volume name is not unique","request_id":"f049e453"}"#),
        "POST /v2/volumes: 409 (request \"f049e453\") volume name is not unique\nid=Some(\"already_exists\") flags=[\"conflict\", \"already_exists\"]\nrate=None",
    );
    check(
        Reply::json(409, r#"{"id":"conflict","message":"Attached volumes cannot be deleted."}"#),
        "POST /v2/volumes: 409 Attached volumes cannot be deleted.\nid=Some(\"conflict\") flags=[\"conflict\"]\nrate=None",
    );
    check(
        Reply::json(422, r#"{"id":"unprocessable_entity","message":"name: a user named \"app\" already exists"}"#),
        "POST /v2/volumes: 422 name: a user named \"app\" already exists\nid=Some(\"unprocessable_entity\") flags=[\"already_exists\", \"unprocessable\"]\nrate=None",
    );
    check(
        Reply::json(422, r#"{"id":"unprocessable_entity","message":"Droplet already has a pending event."}"#),
        "POST /v2/volumes: 422 Droplet already has a pending event.\nid=Some(\"unprocessable_entity\") flags=[\"unprocessable\", \"pending_event\"]\nrate=None",
    );
    check(
        Reply::json(422, r#"{"id":"unprocessable_entity","message":"The floating IP already has a pending event."}"#),
        "POST /v2/volumes: 422 The floating IP already has a pending event.\nid=Some(\"unprocessable_entity\") flags=[\"unprocessable\", \"pending_event\"]\nrate=None",
    );
    check(
        Reply::json(404, r#"{"id":"not_found","message":"The resource you requested could not be found."}"#)
            .with_header("x-request-id", "4d9d8375"),
        "POST /v2/volumes: 404 (request \"4d9d8375\") The resource you requested could not be found.\nid=Some(\"not_found\") flags=[\"not_found\"]\nrate=None",
    );
    check(
        Reply::json(422, r#"{"id":"unprocessable_entity","message":"Storage is not supported for this region","request_id":"","extra":[1]}"#),
        "POST /v2/volumes: 422 Storage is not supported for this region\nid=Some(\"unprocessable_entity\") flags=[\"unprocessable\"]\nrate=None",
    );
}

#[test]
fn non_json_errors() {
    check(
        Reply::json(500, "Server was unable to give you a response."),
        "POST /v2/volumes: 500 Server was unable to give you a response.\nid=None flags=[]\nrate=None",
    );
    check(
        Reply::json(504, &format!("<html>{}</html>", "x".repeat(600))),
        &format!(
            "POST /v2/volumes: 504 <html>{}…\nid=None flags=[]\nrate=None",
            "x".repeat(506)
        ),
    );
    check(
        Reply::json(502, ""),
        "POST /v2/volumes: 502 \nid=None flags=[]\nrate=None",
    );
    check(
        Reply::json(400, r#"{"id":"bad_request"}"#),
        "POST /v2/volumes: 400 {\"id\":\"bad_request\"}\nid=Some(\"bad_request\") flags=[]\nrate=None",
    );
}

#[test]
fn rate_limit_headers() {
    check(
        Reply::json(429, r#"{"id":"too_many_requests","message":"API Rate limit exceeded."}"#)
            .with_header("RateLimit-Limit", "5000")
            .with_header("ratelimit-remaining", "0")
            .with_header("rateLimit-reset", "1402425459")
            .with_header("Retry-After", "29"),
        "POST /v2/volumes: 429 API Rate limit exceeded.\nid=Some(\"too_many_requests\") flags=[\"rate_limited\"]\nrate=Some(RateLimit { limit: 5000, remaining: 0, reset: 1402425459, retry_after: Some(29s) })",
    );
    check(
        Reply::json(401, r#"{"id":"unauthorized","message":"Unable to authenticate you."}"#)
            .with_header("ratelimit-limit", "5000")
            .with_header("ratelimit-remaining", "4816")
            .with_header("ratelimit-reset", "garbage"),
        "POST /v2/volumes: 401 Unable to authenticate you.\nid=Some(\"unauthorized\") flags=[]\nrate=Some(RateLimit { limit: 5000, remaining: 4816, reset: 0, retry_after: None })",
    );
}

#[test]
fn success_remembers_rate_limit_and_bad_bodies_are_decode_errors() {
    let (rate, error) = run(async {
        let script = Script::new(vec![
            Reply::fixture(200, "account_get_200_synth.json")
                .with_header("ratelimit-limit", "5000")
                .with_header("ratelimit-remaining", "4999"),
            Reply::json(200, r#"{"account": {"droplet_limit": "many"}}"#),
        ]);
        let client = script.client();
        client.account().get().await.unwrap();
        let rate = client.rate_limit();
        (rate, client.account().get().await.unwrap_err())
    });
    assert_eq!(rate.map(|r| (r.limit, r.remaining)), Some((5000, 4999)));
    let Error::Decode {
        status,
        body_excerpt,
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(
        (*status, body_excerpt.as_str()),
        (200, r#"{"account": {"droplet_limit": "many"}}"#)
    );
    assert!(
        error
            .to_string()
            .starts_with("could not decode a 200 response (invalid type: string \"many\""),
        "{error}"
    );
}

/// A resource decodes from its key alone: other members are skipped whatever they hold, a body
/// without the key or with text after the object is a decode error that says so.
#[test]
fn a_resource_decodes_from_its_key_and_the_rest_is_skipped() {
    let account = common::fixture("account_get_200_synth.json");
    let inner = account
        .trim()
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .expect("the fixture is one object");
    let (decoded, missing, trailing) = run(async {
        let script = Script::new(vec![
            Reply::json(
                200,
                &format!(
                    r#"{{"links": {{"pages": {{}}}}, "extra": [1, {{"x": null}}, "s"], {inner}, "meta": {{"total": 1}}}}"#
                ),
            ),
            Reply::json(200, r#"{"acct": {"droplet_limit": 25}}"#),
            Reply::json(200, &format!("{account} trailing")),
        ]);
        let client = script.client();
        (
            client.account().get().await,
            client.account().get().await.unwrap_err(),
            client.account().get().await.unwrap_err(),
        )
    });
    assert_eq!(decoded.expect("decodes").droplet_limit, 25);
    for (error, text) in [
        (&missing, "missing field `account`"),
        (&trailing, "trailing characters"),
    ] {
        assert!(
            matches!(error, Error::Decode { status: 200, .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains(text), "{error}");
    }
}

/// A create's resource and its links decode in one pass: links may be absent or `null`, the
/// resource may not.
#[test]
fn a_create_decodes_its_resource_and_links_together() {
    let request = dosim_client::DropletCreate::new("web-1", "s-1vcpu-1gb", "ubuntu-24-04-x64");
    let (linked, unlinked, missing) = run(async {
        let script = Script::new(vec![
            Reply::json(
                202,
                r#"{"links": {"actions": [{"id": 7, "rel": "create", "href": "x"}]}, "droplet": {"id": 3, "name": "web-1"}}"#,
            ),
            Reply::json(202, r#"{"droplet": {"id": 4}, "links": null}"#),
            Reply::json(202, r#"{"links": {"actions": []}}"#),
        ]);
        let client = script.client();
        (
            client.droplets().create(&request).await,
            client.droplets().create(&request).await,
            client.droplets().create(&request).await.unwrap_err(),
        )
    });
    let linked = linked.expect("decodes");
    assert_eq!((linked.resource.id, linked.action_id()), (3, Some(7)));
    let unlinked = unlinked.expect("decodes");
    assert_eq!((unlinked.resource.id, unlinked.action_id()), (4, None));
    assert!(
        matches!(missing, Error::Decode { status: 202, .. }),
        "{missing:?}"
    );
    assert!(
        missing.to_string().contains("missing field `droplet`"),
        "{missing}"
    );
}
