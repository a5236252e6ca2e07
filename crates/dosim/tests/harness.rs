//! The harness end to end: small scenarios of our own, run as a user would, checked for races,
//! determinism, reports and replay.

mod common;

use std::time::Duration;

use dosim::checks;
use dosim::{Actor, Expect, Scenario};

fn two_pods_create_one_volume() -> Scenario {
    common::volume_race("two_pods_create_one_volume", 2)
}

fn two_pods_create_one_volume_fixed() -> Scenario {
    common::volume_fixed("two_pods_create_one_volume_fixed", 2)
}

/// A create whose response is lost half the time, retried by a godo-like policy: duplicates.
fn retried_create_duplicates() -> Scenario {
    common::lost_create("retried_create_duplicates", 0.5)
        .check(checks::actors_ok())
        .check(checks::no_orphans())
}

#[track_caller]
fn check_deterministic(scenario: Scenario, seeds: std::ops::Range<u64>) {
    for seed in seeds {
        let first = scenario.run(seed);
        let second = scenario.run(seed);
        assert!(
            !first.ops.is_empty(),
            "{} seed {seed} sent no requests: {:?}",
            scenario.name(),
            first.sim_error
        );
        assert_eq!(
            first.trace(),
            second.trace(),
            "{} seed {seed} ran two ways",
            scenario.name()
        );
    }
}

#[test]
fn a_seed_runs_the_same_twice() {
    check_deterministic(two_pods_create_one_volume(), 0..5);
    check_deterministic(two_pods_create_one_volume_fixed(), 0..5);
    check_deterministic(retried_create_duplicates(), 0..5);
}

#[test]
fn different_seeds_explore_different_interleavings() {
    let scenario = two_pods_create_one_volume();
    let hashes: std::collections::BTreeSet<u64> = (0..10)
        .map(|seed| scenario.run(seed).trace_hash())
        .collect();
    assert!(hashes.len() > 1, "ten seeds gave one trace");
}

#[test]
fn two_pods_create_one_volume_races() {
    two_pods_create_one_volume().explore();
}

#[test]
fn the_fixed_volume_code_stays_clean() {
    two_pods_create_one_volume_fixed().explore();
}

#[test]
fn retried_create_duplicates_races() {
    retried_create_duplicates().explore();
}

#[test]
fn a_race_report_starts_with_the_race_and_ends_with_the_replay_line() {
    let scenario = two_pods_create_one_volume();
    let exploration = dosim::explore::explore_seeds(&scenario, &dosim::Seeds(0..50), |_| {});
    let report = exploration
        .report
        .expect("the buggy volume code races within 50 seeds");
    let text = report.to_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "race in two_pods_create_one_volume, seed {} (random)",
            report.seed
        )
    );
    assert_eq!(
        lines[1],
        "  minimal: no faults needed; the interleaving alone breaks the check"
    );
    assert_eq!(lines[2], "  check failed: every actor finished Ok");
    assert!(
        lines[3].contains("409"),
        "the failure names the 409: {text}"
    );
    assert!(
        text.ends_with(&format!(
            "dosim replay two_pods_create_one_volume --seed {}\n",
            report.seed
        )),
        "{text}"
    );
    // The same seed replays to the same bytes.
    assert_eq!(scenario.report(report.seed).to_text(), text);
}

#[test]
fn a_lost_response_leaves_an_orphan_nobody_knows() {
    let scenario = retried_create_duplicates();
    let exploration = dosim::explore::explore_seeds(&scenario, &dosim::Seeds(0..50), |_| {});
    let report = exploration
        .report
        .expect("the retried create duplicates within 50 seeds");
    let checks_failed: Vec<&str> = report
        .violations
        .iter()
        .map(|violation| violation.check.as_str())
        .collect();
    assert_eq!(
        checks_failed,
        [
            "no duplicate droplets by tag create:",
            "no orphaned resources"
        ]
    );
    assert!(
        report
            .faults
            .iter()
            .any(|fault| fault.kind.starts_with("commit, then reset")),
        "{:?}",
        report.faults
    );
    let minimal = report.minimal.as_ref().expect("a race report is shrunk");
    assert_eq!(
        minimal.faults,
        ["the response to pod-0's POST /v2/droplets was lost after commit (reset)"]
    );
    assert!(
        report.to_text().lines().nth(1).is_some_and(|line| line
            == "  minimal: 1 fault needed: the response to pod-0's POST /v2/droplets was lost after commit (reset)"),
        "{}",
        report.to_text()
    );
}

#[test]
fn a_partition_times_out_the_request_and_is_reported() {
    let scenario = Scenario::new("partitioned_list")
        .net_fault(
            dosim::NetFault::partition("pod-0", dosim::net::API_HOST)
                .at(Duration::from_millis(100))
                .lasting(Duration::from_secs(10)),
        )
        .client(|builder| builder.timeout(Duration::from_secs(2)))
        .actors(1, |cx: Actor| async move {
            // The first list reaches the API over a pooled connection; the second is sent on it
            // after the link is cut, and vanishes.
            cx.client().volumes().list().all().await?;
            cx.believe("reached-api", false);
            cx.sleep(Duration::from_millis(200)).await;
            cx.client().volumes().list().all().await?;
            cx.believe("reached-api", true);
            Ok::<(), dosim::client::Error>(())
        })
        .check(checks::actors_ok());
    let outcome = scenario.run(3);
    let report = dosim::Report::new(&outcome, Expect::Clean, scenario.verdict(&outcome));
    assert_eq!(outcome.ops.len(), 2);
    assert_eq!(outcome.ops[1].result, dosim::OpResult::Timeout);
    assert_eq!(outcome.ops[1].end_ms, Some(outcome.ops[1].invoke_ms + 2000));
    assert_eq!(report.faults.len(), 1, "{:?}", report.faults);
    assert_eq!(report.faults[0].kind, "partition");
    assert_eq!(
        outcome.beliefs_about("reached-api").get("pod-0"),
        Some(&Some("false".to_owned()))
    );
    assert!(
        report.to_text().contains("→ timeout  ["),
        "{}",
        report.to_text()
    );
    assert_eq!(
        report.violations.len(),
        1,
        "the actor's timeout fails actors_ok"
    );
}

#[test]
fn a_scenario_sets_the_rate_limits() {
    let scenario = Scenario::new("tight_rate_limit")
        .rate_limit(dosim::api::RateLimitConfig {
            hourly: 100,
            burst_per_minute: 3,
        })
        .actors(1, |cx: dosim::Actor| async move {
            let api = cx.client();
            for _ in 0..5 {
                match api.account().get().await {
                    Ok(_) => {}
                    Err(error) if error.is_rate_limited() => return Ok(()),
                    Err(error) => return Err(error),
                }
            }
            Err(dosim::client::Error::InvalidArgument(
                "five requests in a row were all answered".to_owned(),
            ))
        })
        .check(checks::actors_ok())
        .expect(dosim::Expect::Clean);
    let outcome = scenario.run(0);
    assert!(scenario.verdict(&outcome).is_empty(), "{}", outcome.trace());
    let statuses: Vec<String> = outcome
        .ops
        .iter()
        .map(|op| format!("{:?}", op.result))
        .collect();
    assert_eq!(
        statuses.len(),
        4,
        "three answered, the fourth refused: {statuses:?}"
    );
    assert!(statuses[3].contains("429"), "{statuses:?}");

    let refused = Scenario::new("no_requests_allowed")
        .rate_limit(dosim::api::RateLimitConfig {
            hourly: 0,
            burst_per_minute: 250,
        })
        .actors(1, |_cx: dosim::Actor| async move { Ok::<(), String>(()) });
    let error = refused
        .validate()
        .expect_err("a limit of 0 refuses everything");
    assert!(error.contains("at least 1"), "{error}");
}

#[test]
fn a_response_still_hanging_when_the_run_ends_is_listed_as_lost() {
    // The create commits, then its response hangs for an hour; the client gives up after a
    // second and the run ends long before the hang would: the fault must still be reported,
    // with its request.
    let plan = dosim::FaultPlan::parse(
        r#"
        [[rules]]
        method = "POST"
        path = "/v2/volumes"
        drop_response = { mode = "hang", hang_ms = 3600000 }
        "#,
    )
    .expect("the plan parses");
    let scenario = Scenario::new("hang_past_the_end")
        .faults(plan)
        .client(|builder| {
            builder
                .timeout(Duration::from_secs(1))
                .retry(dosim::client::RetryPolicy::none())
        })
        .actor("pod-0", |cx: Actor| async move {
            let request = dosim::client::VolumeCreate::new("pgdata", "nyc3", 100);
            cx.client().volumes().create(&request).await.map(drop)
        })
        .check(checks::actors_ok())
        .expect(Expect::Race);
    let report = scenario.report(0);
    let text = report.to_text();
    assert!(
        text.contains("commit, then hang 3600000ms and reset POST /v2/volumes"),
        "{text}"
    );
    assert!(!text.contains("left the server's history"), "{text}");
    assert!(
        text.contains(
            "1 fault needed: the response to pod-0's POST /v2/volumes was lost after commit"
        ),
        "{text}"
    );
}

/// Code that compares "now" with `created_at` gets the simulation's clock, which agrees with the
/// API's timestamps, so an age computed in a run is the simulated time that passed.
async fn droplet_age(cx: Actor) -> Result<(), dosim::client::Error> {
    use dosim::client::WallClock;
    let clock = cx.clock();
    let api = cx.client();
    let before = clock.now();
    let created = api
        .droplets()
        .create(
            &dosim::client::DropletCreate::new(cx.name(), "s-1vcpu-1gb", "ubuntu-24-04-x64")
                .region("nyc3"),
        )
        .await?;
    let after = clock.now();
    let created_at = created.resource.created_at;
    // The API writes whole seconds.
    let second = |t: dosim::client::Timestamp| t.unix_ms().div_euclid(1000);
    let agrees = second(before) <= second(created_at) && second(created_at) <= second(after);
    cx.sleep(Duration::from_secs(90)).await;
    let age = clock
        .now()
        .duration_since(created_at)
        .unwrap_or(Duration::ZERO);
    let aged = (Duration::from_secs(90)..Duration::from_secs(92)).contains(&age);
    if agrees && aged {
        Ok(())
    } else {
        Err(dosim::client::Error::InvalidArgument(format!(
            "clock {before}..{after}, created_at {created_at}, age after 90 s {age:?}"
        )))
    }
}

#[test]
fn the_simulated_clock_agrees_with_created_at() {
    Scenario::new("droplet_age")
        .actor("janitor", droplet_age)
        .check(checks::actors_ok())
        .default_seeds(5)
        .expect(Expect::Clean)
        .explore();
}

/// An operation built by hand, as a check's own tests build one, reads, prints and serializes
/// with the summaries it was given.
#[test]
fn an_operation_built_by_hand_keeps_its_summaries() {
    let mut op = dosim::Op::new(
        3,
        "pod-1",
        "POST",
        "/v2/volumes",
        12,
        dosim::OpResult::Timeout,
    )
    .with_request("name=pgdata")
    .with_response(
        Some("volume 7f3a…".to_owned()),
        vec!["volume 7f3a…".to_owned()],
    );
    op.end_ms = Some(40);
    op.request_id = Some("req-1".to_owned());
    assert_eq!(op.request(), Some("name=pgdata"));
    assert_eq!(op.response(), Some("volume 7f3a…"));
    assert_eq!(op.resources(), ["volume 7f3a…"]);
    let debug = format!("{op:?}");
    assert!(
        debug.contains(r#"request: Some("name=pgdata")"#) && debug.contains("resources: ["),
        "{debug}"
    );
    assert_eq!(
        serde_json::to_string(&op).unwrap(),
        r#"{"seq":3,"actor":"pod-1","method":"POST","target":"/v2/volumes","request":"name=pgdata","invoke_ms":12,"end_ms":40,"request_id":"req-1","result":{"kind":"timeout"},"response":"volume 7f3a…","resources":["volume 7f3a…"]}"#
    );
    let bare = dosim::Op::new(
        0,
        "pod-0",
        "GET",
        "/v2/account",
        0,
        dosim::OpResult::Unfinished,
    );
    assert_eq!((bare.request(), bare.response()), (None, None));
    assert!(bare.resources().is_empty());
}
