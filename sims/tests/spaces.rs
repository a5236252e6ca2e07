//! Spaces with aws-sdk-s3 in simulations: the fixes that rely on conditional PUT fail where Spaces ignores the condition, an ETag precondition does not guard a metadata-only copy, and a seed replays the same.

use dosim::Expect;

#[test]
fn upload_if_absent_fix_fails_where_the_condition_is_ignored() {
    let scenario = dosim_sims::spaces_upload_if_absent::ignored();
    assert_eq!(scenario.expectation(), Expect::Race);
    scenario.explore();
}

#[test]
fn lock_flag_fix_fails_where_the_condition_is_ignored() {
    let scenario = dosim_sims::spaces_lock_flag::ignored();
    assert_eq!(scenario.expectation(), Expect::Race);
    scenario.explore();
}

#[test]
fn copy_metadata_if_match_does_not_see_a_metadata_only_copy() {
    let scenario = dosim_sims::spaces_copy_metadata::if_match();
    assert_eq!(scenario.expectation(), Expect::Race);
    scenario.explore();
}

#[test]
fn every_request_is_in_the_history_with_its_object_and_etag() {
    let outcome = dosim_sims::spaces_upload_if_absent::fixed().run(3);
    assert!(outcome.sim_error.is_none(), "{:?}", outcome.sim_error);
    let puts: Vec<_> = outcome
        .ops
        .iter()
        .filter(|op| op.method == "PUT" && op.target.starts_with("/uploads/reports/daily.csv"))
        .collect();
    assert_eq!(puts.len(), 2, "{:?}", outcome.ops);
    let statuses: Vec<_> = puts.iter().map(|op| format!("{:?}", op.result)).collect();
    assert!(statuses.iter().any(|s| s.contains("200")), "{statuses:?}");
    assert!(statuses.iter().any(|s| s.contains("412")), "{statuses:?}");
    for op in &puts {
        assert_eq!(
            op.resources,
            vec!["object uploads/reports/daily.csv".to_owned()]
        );
        assert!(op
            .request_id
            .as_deref()
            .is_some_and(|id| id.starts_with("tx")));
    }
    let written = puts
        .iter()
        .find(|op| op.response.as_deref().is_some_and(|r| r.contains("etag")))
        .expect("the put that created the object shows its ETag");
    assert!(written
        .response
        .as_deref()
        .unwrap_or("")
        .starts_with("PutObject etag "));
}

#[test]
fn a_seed_replays_byte_for_byte() {
    for scenario in [
        dosim_sims::spaces_upload_if_absent::buggy(),
        dosim_sims::spaces_lock_flag::fixed(),
        dosim_sims::spaces_copy_metadata::buggy(),
    ] {
        for seed in [0, 7] {
            let first = scenario.run(seed);
            let second = scenario.run(seed);
            assert!(first.sim_error.is_none(), "{:?}", first.sim_error);
            assert_eq!(
                first.trace(),
                second.trace(),
                "{} seed {seed}",
                scenario.name()
            );
        }
    }
}
