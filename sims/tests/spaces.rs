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
        assert_eq!(op.resources(), ["object uploads/reports/daily.csv"]);
        assert!(op
            .request_id
            .as_deref()
            .is_some_and(|id| id.starts_with("tx")));
    }
    let written = puts
        .iter()
        .find(|op| op.response().is_some_and(|r| r.contains("etag")))
        .expect("the put that created the object shows its ETag");
    assert!(written
        .response()
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

mod faults {
    //! The fault plan's `service = "spaces"` rules in a simulation, with aws-sdk-s3: a lost
    //! response after a conditional PUT committed, found, shrunk to that one fault and replayed;
    //! an injected `SlowDown` in the history.

    use std::time::Duration;

    use dosim::spaces::sdk::aws_sdk_s3::primitives::ByteStream;
    use dosim::spaces::sdk::{self, aws_sdk_s3};
    use dosim::{Actor, Expect, FaultPlan, Scenario, SpacesSpec, Violation};

    const BUCKET: &str = "uploads";
    const KEY: &str = "reports/daily.csv";

    /// Publishes with `If-None-Match: *`, retrying a failed connection up to three times; a 412
    /// means another writer published first.
    async fn publish(cx: Actor) -> Result<(), Box<dyn std::error::Error>> {
        if cx.name() == "writer-b" {
            cx.sleep(Duration::from_millis(10)).await;
        }
        let s3: aws_sdk_s3::Client = sdk::client()?;
        let body = format!("report by {}", cx.name());
        for _ in 0..3 {
            let put = s3
                .put_object()
                .bucket(BUCKET)
                .key(KEY)
                .if_none_match("*")
                .body(ByteStream::from(body.clone().into_bytes()))
                .send()
                .await;
            match put {
                Ok(_) => {
                    cx.believe("published", &body);
                    return Ok(());
                }
                Err(error) if error.raw_response().is_some() => {
                    // 412: somebody else's report stands.
                    return Ok(());
                }
                Err(_) => cx.sleep(Duration::from_millis(100)).await,
            }
        }
        Err("gave up".into())
    }

    fn scenario(plan: &str) -> Scenario {
        Scenario::new("spaces_lost_conditional_put")
            .spaces(SpacesSpec::new("nyc3").bucket(BUCKET))
            .faults(FaultPlan::parse(plan).expect("the plan parses"))
            .actor("writer-a", publish)
            .actor("writer-b", publish)
            .check_fn("the published report has its writer", |outcome| {
                let Some(stored) = outcome.spaces().and_then(|s| s.object(BUCKET, KEY)) else {
                    return Ok(());
                };
                let stored = String::from_utf8_lossy(&stored).into_owned();
                let owned = outcome
                    .beliefs_about("published")
                    .values()
                    .any(|body| body.as_deref() == Some(stored.as_str()));
                if owned {
                    return Ok(());
                }
                Err(Violation::new(
                    "the published report has its writer",
                    format!(
                        "{BUCKET}/{KEY} holds {stored:?}, and no writer believes it published it"
                    ),
                ))
            })
            .max_sim_time(Duration::from_secs(10))
            .expect(Expect::Race)
    }

    #[test]
    fn a_lost_response_to_a_committed_conditional_put_is_found_shrunk_and_replayed() {
        // The second rule rejects reads the writers never send, and the API rule matches no
        // Spaces request: neither may fire.
        let scenario = scenario(
            r#"
            [[rules]]
            service = "spaces"
            method = "PUT"
            path = "/uploads/**"
            drop_response = { probability = 0.5 }

            [[rules]]
            service = "spaces"
            method = "GET"
            path = "/uploads/**"
            reject = { status = 503 }

            [[rules]]
            method = "PUT"
            path = "/**"
            reject = { status = 500 }
            "#,
        );
        let exploration = dosim::explore::explore_seeds(&scenario, &dosim::Seeds(0..50), |_| {});
        let report = exploration.report.expect("a race within 50 seeds");
        let text = report.to_text();
        if std::env::var_os("DOSIM_SHOW").is_some() {
            println!("{text}");
        }
        let minimal = report.minimal.clone().expect("race reports are shrunk");
        assert!(minimal.complete, "{text}");
        assert_eq!(minimal.faults.len(), 1, "{text}");
        assert!(minimal.fault_ids.starts_with("drop.0."), "{text}");
        let sentence = &minimal.faults[0];
        assert!(
            sentence
                .contains("'s PutObject uploads/reports/daily.csv was lost after commit (reset)"),
            "{text}"
        );
        assert!(
            report.faults.iter().any(
                |fault| fault.target == "PutObject uploads/reports/daily.csv"
                    && fault.kind == "commit, then reset the connection"
            ),
            "{text}"
        );

        // The seed replays byte for byte, and the commit the writer never heard of stands.
        let seed = exploration.first_failing_seed.expect("a failing seed");
        let first = scenario.run(seed);
        let second = scenario.run(seed);
        assert_eq!(first.trace(), second.trace());
        let stored = first.spaces().and_then(|s| s.object(BUCKET, KEY));
        assert!(stored.is_some(), "the lost PUT committed");
        let lost: Vec<_> = first
            .ops
            .iter()
            .filter(|op| matches!(op.result, dosim::OpResult::TransportError { .. }))
            .collect();
        assert!(!lost.is_empty(), "{:?}", first.ops);
    }

    #[test]
    fn an_injected_slow_down_is_s3_xml_and_commits_nothing() {
        let outcome = scenario(
            r#"
            [[rules]]
            service = "spaces"
            method = "PUT"
            path = "/uploads/**"
            reject = { status = 503 }
            "#,
        )
        .run(0);
        assert!(outcome.sim_error.is_none(), "{:?}", outcome.sim_error);
        assert!(outcome.spaces().unwrap().object(BUCKET, KEY).is_none());
        let puts: Vec<_> = outcome.ops.iter().filter(|op| op.method == "PUT").collect();
        assert_eq!(puts.len(), 2, "{:?}", outcome.ops);
        for op in puts {
            assert_eq!(op.result, dosim::OpResult::Status { status: 503 });
            assert_eq!(op.response(), Some("PutObject SlowDown"));
        }
    }
}

mod versions {
    //! `checks::spaces_version_as_believed` with aws-sdk-s3: two writers of a versioned bucket
    //! each believe the version they wrote is the live one; one of them is wrong.

    use std::time::Duration;

    use dosim::spaces::sdk::aws_sdk_s3::primitives::ByteStream;
    use dosim::spaces::sdk::{self, aws_sdk_s3};
    use dosim::{checks, Actor, Scenario, SpacesSpec};

    async fn write(cx: Actor) -> Result<(), Box<dyn std::error::Error>> {
        let s3: aws_sdk_s3::Client = sdk::client()?;
        let put = s3
            .put_object()
            .bucket("media")
            .key("cat.jpg")
            .body(ByteStream::from(cx.name().as_bytes().to_vec()))
            .send()
            .await?;
        cx.believe("live-version", put.version_id().unwrap_or("none"));
        Ok(())
    }

    #[test]
    fn a_writer_that_believes_a_replaced_version_is_live_is_named() {
        let scenario = Scenario::new("spaces_two_writers_one_version")
            .spaces(SpacesSpec::new("nyc3").versioned_bucket("media"))
            .actors(2, write)
            .check(checks::spaces_version_as_believed(
                "live-version",
                "media",
                "cat.jpg",
            ))
            .max_sim_time(Duration::from_secs(10));
        let outcome = scenario.run(0);
        assert!(outcome.sim_error.is_none(), "{:?}", outcome.sim_error);
        let violations = scenario.verdict(&outcome);
        assert_eq!(violations.len(), 1, "{violations:?}");
        let message = &violations[0].message;
        assert!(
            message.contains("believes version ")
                && message.contains(" of media/cat.jpg is current, but its current version is "),
            "{message}"
        );
        // Both wrote; the first writer's version is the one no longer live.
        let versions = outcome.spaces().unwrap().service().with_store(|store| {
            store.bucket("media").unwrap().objects["cat.jpg"]
                .versions
                .len()
        });
        assert_eq!(versions, 2);
    }
}
