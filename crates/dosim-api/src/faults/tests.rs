//! Unit tests of fault plan parsing and path matching.

use super::{path_matches, FaultPlan};

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
    assert_eq!(plan.matching_rule("POST", "/v2/droplets"), Some(0));
    assert_eq!(plan.matching_rule("GET", "/v2/droplets"), Some(1));
    assert_eq!(plan.matching_rule("GET", "/_dosim/state"), None);
}
