//! Unit tests of fault plan parsing and path matching.

use super::{path_matches, FaultPlan, RejectBody, Service};

#[track_caller]
fn check(pattern: &str, path: &str, expect: bool) {
    assert_eq!(path_matches(pattern, path), expect, "{pattern} vs {path}");
}

#[test]
fn patterns() {
    check("/v2/droplets", "/v2/droplets", true);
    check("/v2/droplets", "/v2/droplets/", true);
    check("/v2/droplets", "/v2/droplets/1", false);
    check("/v2/volumes/*/actions", "/v2/volumes/abc/actions", true);
    check("/v2/volumes/*/actions", "/v2/volumes/actions", false);
    check("/v2/**", "/v2/volumes/abc/actions", true);
    check("/v2/*", "/v2/volumes/abc", false);
}

#[test]
fn first_matching_rule_wins() {
    let plan = FaultPlan::from_toml(
        r#"
        [[rules]]
        method = "POST"
        path = "/v2/droplets"
        latency = 5
        [[rules]]
        path = "/v2/**"
        latency = { min_ms = 1, max_ms = 2 }
        "#,
    )
    .unwrap();
    let api = |method, path| plan.matching_rule(Service::Api, method, path);
    assert_eq!(api("POST", "/v2/droplets"), Some(0));
    assert_eq!(api("GET", "/v2/droplets"), Some(1));
    assert_eq!(api("GET", "/_dosim/state"), None);
}

#[test]
fn a_rule_matches_only_its_service() {
    let plan = FaultPlan::from_toml(
        r#"
        [[rules]]
        service = "spaces"
        method = "PUT"
        path = "/uploads/**"
        reject = { status = 503 }
        [[rules]]
        path = "/**"
        latency = 5
        "#,
    )
    .unwrap();
    assert_eq!(
        plan.matching_rule(Service::Spaces, "PUT", "/uploads/a/b.txt"),
        Some(0)
    );
    assert_eq!(
        plan.matching_rule(Service::Spaces, "GET", "/uploads/a/b.txt"),
        None
    );
    assert_eq!(
        plan.matching_rule(Service::Api, "PUT", "/uploads/a/b.txt"),
        Some(1)
    );
    let reject = plan.rules[0].reject.as_ref().unwrap();
    assert_eq!(reject.body_for(Service::Spaces), RejectBody::Xml);
    // An API rule is written without `service`, as before.
    assert!(!serde_json::to_string(&plan.rules[1])
        .unwrap()
        .contains("service"));
}

/// Each refused plan, with the message that names what to change.
#[test]
fn spaces_rules_are_checked() {
    let cases = [
        (
            r#"{"rules": [{"service": "spaces", "path": "/b/**", "reject": {"status": 429}}]}"#,
            "rule 0 (spaces * /b/**): reject.status must be 500 (InternalError) or 503 (SlowDown) for spaces",
        ),
        (
            r#"{"rules": [{"service": "spaces", "path": "/b/**", "reject": {"status": 503, "body": "json"}}]}"#,
            "rule 0 (spaces * /b/**): reject.body must be xml or html for spaces",
        ),
        (
            r#"{"rules": [{"path": "/v2/**", "reject": {"status": 503, "body": "xml"}}]}"#,
            "rule 0 (* /v2/**): reject.body must be json or html for the api",
        ),
        (
            r#"{"rules": [{"service": "valkey", "path": "/**"}]}"#,
            "invalid JSON fault plan: unknown variant `valkey`, expected `api` or `spaces`",
        ),
    ];
    for (plan, expect) in cases {
        let error = FaultPlan::from_json(plan).unwrap_err().0;
        assert!(
            error.starts_with(expect),
            "{plan}\n  gave {error}\n  want {expect}"
        );
    }
}
