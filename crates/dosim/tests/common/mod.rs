//! Client code and scenarios the harness's own tests share: the volume check-then-create race and
//! a droplet create whose response may be lost.

// Each test binary uses its own subset.
#![allow(dead_code)]

use std::time::Duration;

use dosim::client::{DropletCreate, RetryPolicy, VolumeCreate};
use dosim::{checks, Actor, Expect, FaultPlan, OpResult, RunOutcome, Scenario};

/// Check-then-create without handling the loser's 409: the buggy volume code.
pub async fn ensure_volume(cx: Actor) -> Result<(), dosim::client::Error> {
    let api = cx.client();
    let existing = api
        .volumes()
        .list()
        .name("pgdata")
        .region("nyc3")
        .all()
        .await?;
    if existing.is_empty() {
        api.volumes()
            .create(&VolumeCreate::new("pgdata", "nyc3", 100))
            .await?;
    }
    Ok(())
}

/// The fix: a 409 means another pod won; read the volume back and adopt it.
pub async fn ensure_volume_fixed(cx: Actor) -> Result<(), dosim::client::Error> {
    let api = cx.client();
    match ensure_volume(cx).await {
        Err(error) if error.is_conflict() => {
            let adopted = api
                .volumes()
                .list()
                .name("pgdata")
                .region("nyc3")
                .all()
                .await?;
            if adopted.is_empty() {
                return Err(error);
            }
            Ok(())
        }
        result => result,
    }
}

/// `actors` pods run `ensure_volume`: one of them gets a 409 when both list before either creates.
pub fn volume_race(name: &str, actors: usize) -> Scenario {
    Scenario::new(name)
        .actors(actors, ensure_volume)
        .check(checks::actors_ok())
        .check(checks::unique_volume_name("pgdata", "nyc3"))
        .expect(Expect::Race)
}

/// The fixed volume code under the same checks.
pub fn volume_fixed(name: &str, actors: usize) -> Scenario {
    Scenario::new(name)
        .actors(actors, ensure_volume_fixed)
        .check(checks::actors_ok())
        .check(checks::unique_volume_name("pgdata", "nyc3"))
        .expect(Expect::Clean)
}

/// One droplet create, retried by a godo-like policy, whose response is lost after the commit
/// with `probability`: a lost first response makes a duplicate.
pub fn lost_create(name: &str, probability: f64) -> Scenario {
    let plan = FaultPlan::parse(&format!(
        r#"
        [[rules]]
        method = "POST"
        path = "/v2/droplets"
        drop_response = {{ probability = {probability}, mode = "reset" }}
        "#
    ))
    .expect("the plan parses");
    Scenario::new(name)
        .faults(plan)
        .client(|builder| {
            builder
                .timeout(Duration::from_secs(5))
                .retry(RetryPolicy::godo())
        })
        .actors(1, |cx: Actor| async move {
            let request = DropletCreate::new("web-1", "s-1vcpu-1gb", "ubuntu-24-04-x64")
                .region("nyc3")
                .tag("create:web-1");
            cx.client().droplets().create(&request).await.map(drop)
        })
        .check(checks::no_duplicate_droplets_by_tag("create:"))
        .expect(Expect::Race)
}

/// Runs seed 3 twice: no simulation error, exactly `violations` (each `check: message`), and the
/// same trace both times; returns the first run's outcome.
#[track_caller]
pub fn run_seed_3_twice(scenario: &Scenario, violations: &[&str]) -> RunOutcome {
    let outcome = scenario.run(3);
    assert_eq!(outcome.sim_error, None);
    let found: Vec<String> = scenario
        .verdict(&outcome)
        .into_iter()
        .map(|violation| format!("{}: {}", violation.check, violation.message))
        .collect();
    assert_eq!(found, violations);
    assert_eq!(scenario.run(3).trace(), outcome.trace(), "the seed repeats");
    outcome
}

/// The run's operations of one data plane (`SQL`, `VALKEY`), one line each: actor, target, outcome.
pub fn op_lines(outcome: &RunOutcome, method: &str) -> Vec<String> {
    outcome
        .ops
        .iter()
        .filter(|op| op.method == method)
        .map(|op| {
            let result = match &op.result {
                OpResult::Answered => op.response().unwrap_or_default().to_owned(),
                other => format!("{other:?}"),
            };
            format!("{} {} → {result}", op.actor, op.target)
        })
        .collect()
}
