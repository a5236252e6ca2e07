//! Shrinking end to end: a race report's minimal section keeps only the faults the failed check
//! needs, and the minimal set replays to the same failure.

use std::time::Duration;

use dosim::checks;
use dosim::client::{DropletCreate, RetryPolicy};
use dosim::faults::FaultSet;
use dosim::{Actor, Expect, FaultPlan, NetFault, Scenario, Violation};

/// A retried create under a fault plan that also refuses and delays harmless reads, with a
/// network hold that only slows things down: many faults fire, few matter.
fn noisy_retried_create(droplets_max: usize) -> Scenario {
    let plan = FaultPlan::parse(
        r#"
        [[rules]]
        method = "POST"
        path = "/v2/droplets"
        drop_response = { probability = 0.6, mode = "reset" }

        [[rules]]
        method = "GET"
        path = "/v2/account"
        reject = { status = 503, probability = 0.5 }
        "#,
    )
    .expect("the plan parses");
    Scenario::new(format!("noisy_retried_create_{droplets_max}"))
        .faults(plan)
        .net_fault(
            NetFault::hold("pod-0", dosim::net::API_HOST)
                .at(Duration::from_millis(1))
                .lasting(Duration::from_millis(50)),
        )
        .client(|builder| {
            builder
                .timeout(Duration::from_secs(5))
                .retry(RetryPolicy::godo())
        })
        .actors(1, |cx: Actor| async move {
            let api = cx.client();
            for _ in 0..3 {
                api.account().get().await?;
            }
            let request = DropletCreate::new("web-1", "s-1vcpu-1gb", "ubuntu-24-04-x64")
                .region("nyc3")
                .tag("create:web-1");
            api.droplets().create(&request).await?;
            api.account().get().await.map(drop)
        })
        .check_fn(format!("at most {droplets_max} droplets"), move |outcome| {
            let count = outcome.final_state.droplets.len();
            if count <= droplets_max {
                return Ok(());
            }
            Err(Violation::new(
                format!("at most {droplets_max} droplets"),
                format!("{count} droplets exist"),
            ))
        })
        .expect(Expect::Race)
}

/// Shrinks the first racing seed in `0..100` and checks the minimal section and its replay.
#[track_caller]
fn check_shrinks_to(scenario: Scenario, expected: &[&str]) {
    let exploration = dosim::explore::explore_seeds(&scenario, &dosim::Seeds(0..100), |_| {});
    let report = exploration.report.expect("a race within 100 seeds");
    let minimal = report.minimal.clone().expect("race reports are shrunk");
    assert!(minimal.complete, "{minimal:?}");
    assert!(
        minimal.faults_injected > expected.len(),
        "the seed must inject more faults than needed, to show shrinking: {}",
        report.to_text()
    );
    assert_eq!(minimal.faults, expected, "{}", report.to_text());
    assert_eq!(minimal.check, report.violations[0].check);

    // The minimal set replays: the same check fails, and only the minimal faults fire.
    let faults: FaultSet = minimal.fault_ids.parse().expect("the ids parse");
    assert_eq!(faults.0.len(), expected.len());
    let outcome = scenario.run(dosim::RunSpec::seed(report.seed).faults(&faults));
    let violations = scenario.verdict(&outcome);
    assert_eq!(violations[0].check, minimal.check);
    let kinds: Vec<&str> = outcome
        .faults
        .iter()
        .map(|fault| fault.kind.as_str())
        .collect();
    assert_eq!(kinds.len(), expected.len(), "{kinds:?}");
    assert_eq!(
        minimal.replay,
        Some(format!(
            "dosim replay {} --seed {} --faults {}",
            scenario.name(),
            report.seed,
            minimal.fault_ids
        ))
    );
    // Replays of one seed shrink the same way.
    assert_eq!(scenario.report(report.seed), report);
}

#[test]
fn shrinking_keeps_only_the_lost_responses_the_check_needs() {
    let lost = "the response to pod-0's POST /v2/droplets was lost after commit (reset)";
    check_shrinks_to(noisy_retried_create(1), &[lost]);
    check_shrinks_to(noisy_retried_create(2), &[lost, lost]);
}

#[test]
fn a_run_without_faults_needs_none() {
    let scenario = Scenario::new("three_creates")
        .actors(1, |cx: Actor| async move {
            for _ in 0..2 {
                let request =
                    DropletCreate::new("web-1", "s-1vcpu-1gb", "ubuntu-24-04-x64").region("nyc3");
                cx.client().droplets().create(&request).await?;
            }
            Ok::<(), dosim::client::Error>(())
        })
        .check(checks::no_duplicate_droplets_by_name());
    let report = scenario.report(0);
    let minimal = report.minimal.expect("a race report is shrunk");
    assert_eq!(
        (minimal.faults_injected, minimal.faults.len(), minimal.runs),
        (0, 0, 0)
    );
    assert_eq!(minimal.replay, None);
}

#[test]
fn a_partition_the_race_needs_is_kept() {
    // The second list is sent while the link is cut; without the cut there is no timeout.
    let scenario = Scenario::new("partitioned_list")
        .net_fault(
            NetFault::partition("pod-0", dosim::net::API_HOST)
                .at(Duration::from_millis(100))
                .lasting(Duration::from_secs(10)),
        )
        .net_fault(
            NetFault::hold("pod-0", dosim::net::API_HOST)
                .at(Duration::from_millis(5))
                .lasting(Duration::from_millis(20)),
        )
        .client(|builder| builder.timeout(Duration::from_secs(2)))
        .actors(1, |cx: Actor| async move {
            cx.client().volumes().list().all().await?;
            cx.sleep(Duration::from_millis(200)).await;
            cx.client().volumes().list().all().await?;
            Ok::<(), dosim::client::Error>(())
        })
        .check(checks::actors_ok());
    let report = scenario.report(3);
    let minimal = report.minimal.expect("a race report is shrunk");
    assert_eq!(minimal.faults_injected, 2, "{:?}", report.faults);
    assert_eq!(minimal.fault_ids, "net.0");
    assert_eq!(
        minimal.faults,
        ["the network between pod-0 and api.digitalocean.com was cut at 0.100s for 10.000s"]
    );
}
