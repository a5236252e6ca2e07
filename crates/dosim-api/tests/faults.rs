//! The fault layer, rate limits and the control endpoints, through the HTTP API.

mod common;

use common::{contains, Api, Resp, TOKEN};
use std::time::Duration;

use dosim_api::{DropMode, FaultPlan, InjectedFault, LatencyStage};
use serde_json::{json, Value};

#[track_caller]
fn check(resp: &Resp, status: u16, expect: Value) {
    assert_eq!(resp.status, status, "body: {}", resp.raw);
    if let Err(message) = contains(&resp.json, &expect) {
        panic!("{message}\nbody: {}", resp.raw);
    }
    for header in [
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "x-request-id",
    ] {
        assert!(resp.headers.contains_key(header), "no {header} header");
    }
}

const NOT_FOUND: &str = "The resource you requested could not be found.";

const DROPLET: &str =
    r#"{"name":"web-1","region":"nyc3","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64"}"#;

fn with_plan(toml: &str) -> Api {
    let plan = FaultPlan::from_toml(toml).unwrap();
    Api::with(|config| config.faults = plan)
}

fn n_droplets(api: &Api) -> usize {
    api.state()
        .as_object()
        .unwrap()
        .values()
        .map(|account| account["droplets"].as_object().unwrap().len())
        .sum()
}

#[test]
fn plans_parse_from_toml_and_json_and_are_validated() {
    let toml = r#"
        [[rules]]
        method = "POST"
        path = "/v2/droplets"
        network_latency = { mean_ms = 30, max_ms = 90 }
        latency = { min_ms = 10, max_ms = 20 }
        reject = { status = 503, probability = 0.5, body = "html" }
        drop_response = { probability = 0.1, mode = "hang", hang_ms = 1000 }
        [[rules]]
        path = "/v2/volumes/*/actions"
        latency = 5
    "#;
    let from_toml = FaultPlan::from_toml(toml).unwrap();
    let from_json = FaultPlan::from_json(&serde_json::to_string(&from_toml).unwrap()).unwrap();
    assert_eq!(from_toml, from_json);
    assert_eq!(FaultPlan::parse(toml).unwrap(), from_toml);
    for (bad, message) in [
        (
            r#"[[rules]]
            path = "/v2/droplets"
            reject = { status = 404 }"#,
            "reject.status must be",
        ),
        (
            r#"[[rules]]
            path = "/v2/droplets"
            reject = { status = 500, probability = 2.0 }"#,
            "probability must be between 0 and 1",
        ),
        (
            r#"[[rules]]
            path = "v2"
            "#,
            "path must start with '/'",
        ),
        (
            r#"[[rules]]
            path = "/v2"
            latency = { min_ms = 5, max_ms = 1 }"#,
            "latency min_ms must not exceed max_ms",
        ),
        (
            r#"[[rules]]
            path = "/v2"
            network_latency = 600001"#,
            "network_latency is capped at 600000 ms",
        ),
        (
            r#"[[rules]]
            path = "/v2"
            colour = "red""#,
            "unknown field",
        ),
        ("", "missing field `rules`"),
        (
            r#"[[rules]]
            method = "BREW"
            path = "/v2""#,
            "method must be '*' or one of HTTP's",
        ),
        (
            r#"[[rules]]
            path = "/v2/**/actions""#,
            "'**' may only be the path's last segment",
        ),
    ] {
        let error = FaultPlan::from_toml(bad).unwrap_err().to_string();
        assert!(error.contains(message), "{error}");
    }
    for (bad, message) in [
        (
            "[]",
            "a plan is an object with \"rules\" (a list of rules), not an array",
        ),
        ("null", "not null"),
        ("{}", "missing field `rules`"),
        (r#"{"rules": {}}"#, "invalid type"),
        (
            r#"{"rules": [{"method": "BREW", "path": "/v2"}]}"#,
            "one of HTTP's",
        ),
        (r#"{"rules": [{"path": "/v2/**/x"}]}"#, "'**' may only be"),
        (
            &format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
            "recursion limit",
        ),
    ] {
        let error = FaultPlan::from_json(bad).unwrap_err().to_string();
        assert!(error.contains(message), "{bad:.40}: {error}");
    }
    for good in [
        r#"{"rules": []}"#,
        r#"{"rules": [{"method": "patch", "path": "/v2/**"}]}"#,
        r#"{"rules": [{"path": "/v2/droplets/*/actions"}]}"#,
    ] {
        FaultPlan::from_json(good).unwrap();
    }
}

#[tokio::test]
async fn reject_comes_before_the_commit() {
    let api = with_plan(
        "[[rules]]\nmethod = \"POST\"\npath = \"/v2/droplets\"\nreject = { status = 503 }\n",
    );
    let resp = api.call("POST", "/v2/droplets", Some(DROPLET)).await;
    check(
        &resp,
        503,
        json!({"id": "service_unavailable", "request_id": "*"}),
    );
    assert_eq!(n_droplets(&api), 0);
    // Only the matching method is rejected.
    api.check_get("/v2/droplets", json!({"droplets": []})).await;
    let history = api.server.history();
    assert!(matches!(
        history[0].fault,
        Some(InjectedFault::Reject { status: 503, .. })
    ));
    assert_eq!(history[0].committed_ms, None);
    assert_eq!(history[1].fault, None);
}

#[tokio::test]
async fn reject_with_an_html_body_and_a_429_with_retry_after() {
    let api =
        with_plan("[[rules]]\npath = \"/v2/**\"\nreject = { status = 504, body = \"html\" }\n");
    let resp = api.call("GET", "/v2/account", None).await;
    assert_eq!(resp.status, 504);
    assert!(resp.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(resp.raw.contains("Looks like something went wrong"));

    let api =
        with_plan("[[rules]]\npath = \"/v2/**\"\nreject = { status = 429, retry_after_s = 7 }\n");
    let resp = api.call("GET", "/v2/account", None).await;
    check(
        &resp,
        429,
        json!({"id": "too_many_requests", "message": "API Rate limit exceeded."}),
    );
    assert_eq!(resp.headers["retry-after"], "7");
    assert_eq!(resp.headers["ratelimit-remaining"], "0");
}

#[tokio::test]
async fn drop_response_commits_then_resets() {
    let api = with_plan("[[rules]]\nmethod = \"POST\"\npath = \"/v2/droplets\"\ndrop_response = { mode = \"reset\" }\n");
    let resp = api.call("POST", "/v2/droplets", Some(DROPLET)).await;
    assert!(resp.body_error.is_some(), "the body arrived: {}", resp.raw);
    assert_eq!(
        n_droplets(&api),
        1,
        "the create must commit although its response is lost"
    );
    let entry = &api.server.history()[0];
    assert!(matches!(
        entry.fault,
        Some(InjectedFault::DropResponse { .. })
    ));
    assert!(entry.committed_ms.is_some());
    assert!(entry.summary.as_deref().unwrap().starts_with("droplet "));
}

#[tokio::test]
async fn drop_response_can_hang_first() {
    let api = with_plan(
        "[[rules]]\npath = \"/v2/droplets\"\ndrop_response = { mode = \"hang\", hang_ms = 30 }\n",
    );
    let resp = api.call("POST", "/v2/droplets", Some(DROPLET)).await;
    assert!(resp.body_error.is_some());
    assert_eq!(n_droplets(&api), 1);
}

#[tokio::test]
async fn latency_is_recorded_and_probabilities_are_seeded() {
    let api =
        with_plan("[[rules]]\npath = \"/v2/account\"\nlatency = { min_ms = 1, max_ms = 3 }\n");
    api.check_get("/v2/account", json!({})).await;
    match api.server.history()[0].fault {
        Some(InjectedFault::Latency {
            latency_ms,
            stage: LatencyStage::Processing,
            ..
        }) => assert!((1..=3).contains(&latency_ms)),
        ref other => panic!("{other:?}"),
    }
    async fn outcomes() -> Vec<u16> {
        let api = with_plan(
            "[[rules]]\npath = \"/v2/account\"\nreject = { status = 500, probability = 0.5 }\n",
        );
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(api.call("GET", "/v2/account", None).await.status);
        }
        statuses
    }
    let first = outcomes().await;
    assert_eq!(
        first,
        outcomes().await,
        "the same seed must draw the same faults"
    );
    assert!(first.contains(&500) && first.contains(&200), "{first:?}");
}

#[tokio::test]
async fn faults_never_touch_control_endpoints() {
    let api = with_plan("[[rules]]\npath = \"/**\"\nreject = { status = 500 }\n");
    let resp = api.send("GET", "/_dosim/state", None, None, &[]).await;
    check(&resp, 200, json!({"accounts": {}}));
}

#[tokio::test]
async fn burst_limit_refuses_the_251st_request_of_a_minute() {
    let api = Api::new();
    for n in 0..250 {
        let resp = api.call("GET", "/v2/account", None).await;
        assert_eq!(resp.status, 200, "request {n}");
    }
    let refused = api.call("GET", "/v2/account", None).await;
    check(
        &refused,
        429,
        json!({"id": "too_many_requests", "message": "API Rate limit exceeded.", "request_id": "*"}),
    );
    assert_eq!(refused.headers["retry-after"], "60");
    assert_eq!(refused.headers["ratelimit-remaining"], "0");
    // Another token has its own budget.
    assert_eq!(
        api.send("GET", "/v2/account", Some(common::OTHER_TOKEN), None, &[])
            .await
            .status,
        200
    );
    api.advance_ms(60_000);
    let again = api.call("GET", "/v2/account", None).await;
    check(&again, 200, json!({}));
    assert_eq!(again.headers["ratelimit-remaining"], "4749");
}

#[tokio::test]
async fn hourly_limit_is_a_sliding_window() {
    let api = Api::with(|config| config.rate_limit.hourly = 3);
    for _ in 0..3 {
        api.check_get("/v2/account", json!({})).await;
    }
    api.advance_ms(1_000_000);
    let refused = api.call("GET", "/v2/account", None).await;
    check(&refused, 429, json!({"id": "too_many_requests"}));
    assert_eq!(refused.headers["retry-after"], "2600");
    // ratelimit-reset is when the oldest request expires: epoch + 1 h.
    assert_eq!(
        refused.headers["ratelimit-reset"],
        (1_767_225_600u64 + 3600).to_string()
    );
    api.advance_ms(2_600_000);
    api.check_get("/v2/account", json!({})).await;
}

#[tokio::test]
async fn control_endpoints() {
    let api = Api::new();
    api.call("POST", "/v2/droplets", Some(DROPLET)).await;
    let state = api.send("GET", "/_dosim/state", None, None, &[]).await;
    check(&state, 200, json!({"now": "2026-01-01T00:00:00Z"}));
    assert_eq!(state.json["accounts"].as_object().unwrap().len(), 1);
    let history = api
        .send(
            "GET",
            "/_dosim/history",
            None,
            None,
            &[("x-dosim-actor", "pod-0")],
        )
        .await;
    check(
        &history,
        200,
        json!({"history": [{"seq": 0, "method": "POST", "path": "/v2/droplets", "status": 202, "actor": "unknown",
                            "account": dosim_api::fingerprint(TOKEN), "received_ms": 0, "committed_ms": 0, "fault": null}]}),
    );
    assert!(
        !history.raw.contains(TOKEN),
        "the history must not reveal tokens"
    );

    let put = api
        .send(
            "PUT",
            "/_dosim/faults",
            None,
            Some(r#"{"rules":[{"method":"*","path":"/v2/droplets","reject":{"status":500}}]}"#),
            &[],
        )
        .await;
    check(
        &put,
        200,
        json!({"rules": [{"path": "/v2/droplets", "reject": {"status": 500}}]}),
    );
    check(
        &api.send("GET", "/_dosim/faults", None, None, &[]).await,
        200,
        json!({"rules": [{"method": "*"}]}),
    );
    check(
        &api.call("GET", "/v2/droplets", None).await,
        500,
        json!({"id": "server_error"}),
    );
    let bad = api
        .send(
            "PUT",
            "/_dosim/faults",
            None,
            Some(r#"{"rules":[{"path":"/v2","reject":{"status":200}}]}"#),
            &[],
        )
        .await;
    check(&bad, 400, json!({"id": "bad_request"}));
    for bad in [
        "[]",
        "{}",
        "",
        r#"{"rules":[{"method":"BREW","path":"/v2"}]}"#,
    ] {
        let resp = api
            .send("PUT", "/_dosim/faults", None, Some(bad), &[])
            .await;
        check(
            &resp,
            400,
            json!({"id": "bad_request", "message": "*", "request_id": "*"}),
        );
        assert_eq!(resp.json.as_object().unwrap().len(), 3, "{}", resp.raw);
    }
    // Refused plans left the old one in place.
    assert_eq!(api.server.fault_plan().rules.len(), 1);

    check(
        &api.send("POST", "/_dosim/reset", None, None, &[]).await,
        204,
        Value::Null,
    );
    assert!(api.server.accounts().is_empty());
    assert!(api.server.history().is_empty());
    // The plan survives a reset.
    assert_eq!(api.server.fault_plan().rules.len(), 1);
}

#[tokio::test]
async fn faults_accept_toml_by_content_type() {
    let api = Api::new();
    let toml = "[[rules]]\npath = \"/v2/volumes\"\nlatency = 1\n";
    let request = axum::http::Request::builder()
        .method("PUT")
        .uri("/_dosim/faults")
        .header("content-type", "application/toml")
        .body(axum::body::Body::from(toml))
        .unwrap();
    let response = tower::ServiceExt::oneshot(api.server.router(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(api.server.fault_plan().rules[0].path, "/v2/volumes");
}

#[tokio::test]
async fn the_history_says_what_each_request_did() {
    let api = with_plan("[[rules]]\npath = \"/v2/sizes\"\nreject = { status = 503 }\n");
    api.call("POST", "/v2/droplets", Some(DROPLET)).await;
    api.call("GET", "/v2/droplets/1", None).await;
    api.send("GET", "/v2/account", None, None, &[]).await;
    api.call("GET", "/v2/sizes", None).await;
    api.call("GET", "/v2/nowhere", None).await;
    let history = api.server.history();
    let seen: Vec<(u16, Option<&str>, bool)> = history
        .iter()
        .map(|entry| {
            (
                entry.status,
                entry.summary.as_deref(),
                entry.committed_ms.is_some(),
            )
        })
        .collect();
    let created = history[0].summary.as_deref().unwrap();
    assert!(created.starts_with("droplet "), "{created}");
    assert_eq!(
        seen,
        [
            (202, Some(created), true),
            (404, Some(NOT_FOUND), true),
            (401, None, false),
            (503, Some("Service unavailable"), false),
            (404, Some(NOT_FOUND), false),
        ]
    );
}

/// A client that gives up after 20 ms on a droplet create slowed by `rule`: what the model holds
/// and what the history says once everything in flight has finished.
async fn check_client_gives_up(rule: &str, n_expect: usize, fault_expect: Option<InjectedFault>) {
    let api = with_plan(&format!(
        "[[rules]]\nmethod = \"POST\"\npath = \"/v2/droplets\"\n{rule}\n"
    ));
    let call = api.call("POST", "/v2/droplets", Some(DROPLET));
    let gave_up = tokio::time::timeout(Duration::from_millis(20), call).await;
    assert!(
        gave_up.is_err(),
        "{rule}: the answer came before the client gave up"
    );
    // Long after every latency in these rules: whatever was going to commit has.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(n_droplets(&api), n_expect, "{rule}: droplets");
    let history = api.server.history();
    match fault_expect {
        None => assert!(history.is_empty(), "{rule}: {history:?}"),
        Some(fault) => {
            assert_eq!(history.len(), 1, "{rule}: {history:?}");
            let entry = &history[0];
            assert_eq!(entry.fault.as_ref(), Some(&fault), "{rule}");
            assert_eq!(entry.status, 202, "{rule}");
            assert!(entry.committed_ms.is_some(), "{rule}: no commit recorded");
            assert!(
                entry.client_gone,
                "{rule}: the history must say nobody heard"
            );
            let summary = entry.summary.as_deref().unwrap_or_default();
            assert!(summary.starts_with("droplet "), "{rule}: {summary}");
        }
    }
}

#[tokio::test]
async fn a_slow_request_that_reached_the_api_commits_after_its_client_gave_up() {
    // Processing latency: the request reached the API, so it creates the droplet regardless.
    check_client_gives_up(
        "latency = 200",
        1,
        Some(InjectedFault::Latency {
            rule: 0,
            stage: LatencyStage::Processing,
            latency_ms: 200,
        }),
    )
    .await;
    // A lost response that hangs: committed first, then nobody is left to hear.
    check_client_gives_up(
        "drop_response = { mode = \"hang\", hang_ms = 200 }",
        1,
        Some(InjectedFault::DropResponse {
            rule: 0,
            mode: DropMode::Hang,
            hang_ms: 200,
        }),
    )
    .await;
}

#[tokio::test]
async fn a_request_still_in_transit_is_cancelled_with_its_client() {
    // Network latency: the request never reached the API, so nothing happened there.
    check_client_gives_up("network_latency = 200", 0, None).await;
}

#[tokio::test]
async fn a_patient_client_hears_a_slow_request() {
    let api = with_plan("[[rules]]\npath = \"/v2/droplets\"\nnetwork_latency = 5\nlatency = 10\n");
    check(
        &api.call("POST", "/v2/droplets", Some(DROPLET)).await,
        202,
        json!({}),
    );
    assert_eq!(n_droplets(&api), 1);
    let entry = &api.server.history()[0];
    assert!(!entry.client_gone);
    // The history keeps the last fault that touched the request.
    assert_eq!(
        entry.fault,
        Some(InjectedFault::Latency {
            rule: 0,
            stage: LatencyStage::Processing,
            latency_ms: 10,
        })
    );
    let json = serde_json::to_value(entry).unwrap();
    assert_eq!(json["fault"]["stage"], "processing");
    assert!(json.get("client_gone").is_none(), "{json}");
}
