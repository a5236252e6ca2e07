//! Actor faults (pauses, crashes, restarts) and network faults by role, with probabilities, drawn
//! lengths and joined links, end to end: what each does to a run, how reports name it, how it
//! shrinks, and that a seed repeats with every kind.

use std::time::Duration;

use dosim::client::DropletCreate;
use dosim::faults::FaultSet;
use dosim::{
    checks, Actor, ActorFault, ActorPg, ActorResult, DatabaseSpec, Endpoint, Expect, FaultPlan,
    NetFault, RunOutcome, RunSpec, Scenario, Violation,
};
use rand::RngCore;

type Error = Box<dyn std::error::Error>;

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn create(name: &str) -> DropletCreate {
    DropletCreate::new(name, "s-1vcpu-1gb", "ubuntu-24-04-x64")
        .region("nyc3")
        .tag("web")
}

fn droplet_names(outcome: &RunOutcome) -> Vec<String> {
    let mut names: Vec<String> = outcome
        .final_state
        .droplets
        .iter()
        .map(|droplet| droplet.name.clone())
        .collect();
    names.sort();
    names
}

/// Each harness-injected fault as the report lists it: kind, target, detail.
fn injected(outcome: &RunOutcome) -> Vec<String> {
    outcome
        .faults
        .iter()
        .map(|fault| format!("{} {} ({})", fault.kind, fault.target, fault.detail))
        .collect()
}

/// The last value each belief of `actor` took, in the order stated, forgets included.
fn beliefs_of(outcome: &RunOutcome, actor: &str) -> Vec<String> {
    outcome
        .beliefs
        .iter()
        .filter(|belief| belief.actor == actor)
        .map(|belief| format!("{}={}", belief.key, belief.value.as_deref().unwrap_or("-")))
        .collect()
}

fn belief_ms(outcome: &RunOutcome, actor: &str, key: &str) -> u64 {
    outcome.beliefs_about(key)[actor]
        .as_deref()
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("{actor} believes nothing about {key}"))
}

#[test]
fn a_paused_actor_wakes_late_and_its_request_in_flight_still_commits() {
    // The server holds the create for 500 ms before committing it, so it commits while pod-0
    // is paused from 0.1 s to 2.1 s.
    let plan = FaultPlan::parse(
        r#"
        [[rules]]
        method = "POST"
        path = "/v2/droplets"
        latency = 500
        "#,
    )
    .expect("the plan parses");
    let scenario = Scenario::new("paused_in_flight")
        .faults(plan)
        .actor_fault(
            ActorFault::pause("pod-0")
                .at(ms(100))
                .lasting(Duration::from_secs(2)),
        )
        .actors(1, |cx: Actor| async move {
            let api = cx.client();
            let (droplets, request) = (api.droplets(), create("web"));
            let (created, ()) =
                tokio::join!(droplets.create(&request), cx.sleep(Duration::from_secs(1)));
            cx.believe("woke_ms", cx.now().as_millis());
            created.map(drop)
        })
        .check(checks::actors_ok());

    let paused = scenario.run(1);
    assert!(scenario.verdict(&paused).is_empty(), "{paused:?}");
    assert_eq!(injected(&paused), ["pause pod-0 (for 2.000s)"]);
    // The one-second timer fired only when the actor resumed.
    assert!(belief_ms(&paused, "pod-0", "woke_ms") >= 2100);
    // The server committed the create while the actor was stopped; the actor saw the
    // response only after it resumed.
    let commit_ms = paused.server_ops[0]
        .commit_ms
        .expect("the create committed");
    assert!((100..2100).contains(&commit_ms), "{commit_ms}");
    assert!(paused.ops[0].end_ms.is_some_and(|end| end >= 2100));
    assert_eq!(droplet_names(&paused), ["web"]);

    // Without the pause the timer fires on time.
    let unpaused = scenario.run(RunSpec::seed(1).faults(&FaultSet::default()));
    assert!(injected(&unpaused).is_empty());
    assert!(belief_ms(&unpaused, "pod-0", "woke_ms") < 1100);
}

/// Creates `first` on its first run (what it finds in the cloud decides), then, a second later,
/// `second-<droplets it found>`; says what it found and its first random number.
async fn two_steps(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let found = api.droplets().list().tag("web").all().await?.len();
    cx.believe("found", found);
    cx.believe("draw", cx.rng().next_u64());
    if found == 0 {
        api.droplets().create(&create("first")).await?;
    }
    cx.sleep(Duration::from_secs(1)).await;
    api.droplets()
        .create(&create(&format!("second-{found}")))
        .await?;
    Ok(())
}

#[test]
fn a_crashed_actor_never_takes_its_next_step() {
    let scenario = Scenario::new("crashed")
        .actor_fault(ActorFault::crash("pod-0").at(ms(500)))
        .actors(1, two_steps)
        .check(checks::actors_ok());
    let outcome = scenario.run(2);
    assert_eq!(droplet_names(&outcome), ["first"]);
    assert_eq!(outcome.actors[0].result, ActorResult::Crashed);
    assert!(outcome.actors[0]
        .end_ms
        .is_some_and(|end| (500..510).contains(&end)));
    assert_eq!(injected(&outcome), ["crash pod-0 (not restarted)"]);
    // A deliberate crash is no failure of the actor's code, unless the scenario says so.
    assert!(scenario.verdict(&outcome).is_empty());
    let strict = scenario.clone().check(checks::no_crashed_actors());
    let violations: Vec<String> = strict
        .verdict(&outcome)
        .into_iter()
        .map(|violation| violation.message)
        .collect();
    assert_eq!(violations, ["pod-0 crashed and did not restart"]);
    // The crash forgot what the actor believed.
    let beliefs = beliefs_of(&outcome, "pod-0");
    assert_eq!(beliefs[0], "found=0");
    assert_eq!(&beliefs[2..], ["draw=-", "found=-"]);

    // Without the crash it takes both steps.
    let whole = scenario.run(RunSpec::seed(2).faults(&FaultSet::default()));
    assert_eq!(droplet_names(&whole), ["first", "second-0"]);
}

#[test]
fn a_restarted_actor_starts_over_with_only_what_it_stored_in_the_cloud() {
    let scenario = Scenario::new("restarted")
        .actor_fault(
            ActorFault::crash("pod-0")
                .at(ms(500))
                .restart_after(ms(200)),
        )
        .actors(1, two_steps)
        .check(checks::actors_ok())
        .check_fn("pod-0 ran once", |outcome| {
            let runs = outcome
                .beliefs
                .iter()
                .filter(|belief| belief.key == "found" && belief.value.is_some())
                .count();
            if runs == 1 {
                return Ok(());
            }
            Err(Violation::new(
                "pod-0 ran once",
                format!("it ran {runs} times"),
            ))
        });
    let outcome = scenario.run(2);
    // The second incarnation found the droplet the first stored, and nothing else survived.
    assert_eq!(droplet_names(&outcome), ["first", "second-1"]);
    assert_eq!(outcome.actors[0].result, ActorResult::Ok);
    assert!(outcome.actors[0].end_ms.is_some_and(|end| end > 1700));
    let beliefs = beliefs_of(&outcome, "pod-0");
    assert_eq!(beliefs.len(), 6, "{beliefs:?}");
    assert_eq!(
        (&beliefs[0][..6], &beliefs[2..5]),
        (
            "found=",
            &[
                "draw=-".to_owned(),
                "found=-".to_owned(),
                "found=1".to_owned()
            ][..]
        )
    );
    // A restart draws from a fresh random stream, not the crashed one's again.
    assert_ne!(beliefs[1], beliefs[5]);
    assert_eq!(injected(&outcome), ["crash pod-0 (restarted after 0.200s)"]);

    let report = scenario.report(2);
    let minimal = report.minimal.expect("a failing run is shrunk");
    assert_eq!(
        minimal.faults,
        ["pod-0 crashed at 0.500s, restarted at 0.700s"]
    );
    assert_eq!(minimal.fault_ids, "crash.0");
}

#[test]
fn a_crash_closes_the_actors_connections_and_its_open_transaction_rolls_back() {
    // pod-0 updates the row in a transaction it would commit a second later; pod-1 updates the
    // same row after pod-0 has crashed, and waits on pod-0's row lock unless the crash closed
    // pod-0's connection.
    let scenario = Scenario::new("crashed_in_transaction")
        .database(
            DatabaseSpec::pg("backend")
                .setup("CREATE TABLE counters (id integer PRIMARY KEY, n bigint NOT NULL)")
                .setup("INSERT INTO counters VALUES (1, 0)"),
        )
        .actor_fault(ActorFault::crash("pod-0").at(ms(500)))
        .actor("pod-0", |cx: Actor| async move {
            let db = dosim::pg::connect_with(&cx.postgres_config("backend")?).await?;
            db.batch_execute("BEGIN; UPDATE counters SET n = 1 WHERE id = 1")
                .await?;
            cx.sleep(Duration::from_secs(1)).await;
            db.batch_execute("COMMIT").await?;
            Ok::<(), Error>(())
        })
        .actor("pod-1", |cx: Actor| async move {
            cx.sleep(Duration::from_secs(1)).await;
            let db = dosim::pg::connect_with(&cx.postgres_config("backend")?).await?;
            let update = db.execute("UPDATE counters SET n = n + 10 WHERE id = 1", &[]);
            tokio::time::timeout(Duration::from_secs(2), update)
                .await
                .map_err(|_| "pod-1's update waited on a lock")??;
            Ok::<(), Error>(())
        })
        .check(checks::actors_ok())
        .check(checks::sql_equals("SELECT n FROM counters", "10"))
        .max_sim_time(Duration::from_secs(30));
    let outcome = scenario.run(5);
    assert_eq!(outcome.actors[0].result, ActorResult::Crashed);
    let violations: Vec<String> = scenario
        .verdict(&outcome)
        .into_iter()
        .map(|violation| violation.message)
        .collect();
    assert!(violations.is_empty(), "{violations:?}");
}

#[test]
fn a_partition_from_a_database_times_out_only_that_actors_sql() {
    // Both actors connect before the cut; pod-0's query is sent into it and never answered.
    let scenario = Scenario::new("partitioned_database")
        .database(DatabaseSpec::pg("backend"))
        .net_fault(
            NetFault::partition("pod-0", Endpoint::database("backend"))
                .at(ms(200))
                .lasting(Duration::from_secs(10)),
        )
        .actors(2, |cx: Actor| async move {
            let db = dosim::pg::connect_with(&cx.postgres_config("backend")?)
                .await
                .map_err(|error| error.to_string())?;
            cx.sleep(ms(300)).await;
            match tokio::time::timeout(Duration::from_secs(2), db.query_one("SELECT 1", &[])).await
            {
                Ok(result) => result.map(drop).map_err(|error| error.to_string()),
                Err(_) => Err("the query timed out".to_owned()),
            }
        })
        .check(checks::actors_ok())
        .max_sim_time(Duration::from_secs(30));
    let outcome = scenario.run(4);
    let results: Vec<&ActorResult> = outcome.actors.iter().map(|actor| &actor.result).collect();
    assert_eq!(
        results,
        [
            &ActorResult::Err {
                message: "the query timed out".to_owned()
            },
            &ActorResult::Ok
        ]
    );
    assert_eq!(
        injected(&outcome),
        ["partition pod-0 <-> database backend (for 10.000s)"]
    );
    let minimal = scenario.report(4).minimal.expect("a failing run is shrunk");
    assert_eq!(
        minimal.faults,
        ["the network between pod-0 and database backend was cut at 0.200s for 10.000s"]
    );

    let healthy = scenario.run(RunSpec::seed(4).faults(&FaultSet::default()));
    assert!(scenario.verdict(&healthy).is_empty(), "{healthy:?}");
}

#[test]
fn joined_partitions_start_end_and_shrink_as_one_fault() {
    let scenario = Scenario::new("joined_partitions")
        .net_fault(
            NetFault::partition("pod-0", Endpoint::api())
                .and(NetFault::partition("pod-1", Endpoint::api()))
                .at(ms(1))
                .lasting(Duration::from_secs(5)),
        )
        .client(|builder| builder.timeout(Duration::from_secs(1)))
        .actors(2, |cx: Actor| async move {
            cx.client().droplets().list().all().await.map(drop)
        })
        .check(checks::actors_ok());
    let report = scenario.report(0);
    assert_eq!(
        injected(&scenario.run(0)),
        [
            "partition pod-0 <-> api.digitalocean.com (for 5.000s)",
            "partition pod-1 <-> api.digitalocean.com (for 5.000s)"
        ]
    );
    let minimal = report.minimal.expect("a failing run is shrunk");
    assert_eq!(minimal.fault_ids, "net.0");
    assert_eq!(
        minimal.faults,
        [
            "the network between pod-0 and api.digitalocean.com was cut and the network between \
          pod-1 and api.digitalocean.com was cut at 0.001s for 5.000s"
        ]
    );
}

#[test]
fn a_fault_with_a_probability_happens_in_some_seeds_only() {
    let scenario = Scenario::new("sometimes")
        .net_fault(
            NetFault::partition("pod-0", Endpoint::api())
                .at(ms(10))
                .lasting_between(ms(100), ms(900))
                .probability(0.5),
        )
        .actor_fault(ActorFault::pause("pod-0").probability(0.5))
        .client(|builder| builder.timeout(Duration::from_secs(2)))
        .actors(1, |cx: Actor| async move {
            cx.client().account().get().await.map(drop)
        });
    let mut seen: Vec<(bool, bool)> = Vec::new();
    let mut lengths = std::collections::BTreeSet::new();
    for seed in 0..16 {
        let outcome = scenario.run(seed);
        let has = |kind: &str| outcome.faults.iter().any(|fault| fault.kind == kind);
        seen.push((has("partition"), has("pause")));
        lengths.extend(
            outcome
                .faults
                .iter()
                .filter(|fault| fault.kind == "partition")
                .map(|fault| fault.detail.clone()),
        );
    }
    for (which, name) in [(0, "partition"), (1, "pause")] {
        let fired = seen
            .iter()
            .filter(|pair| if which == 0 { pair.0 } else { pair.1 })
            .count();
        assert!(
            (1..16).contains(&fired),
            "the {name} fired in {fired} of 16 seeds"
        );
    }
    assert!(lengths.len() > 1, "the drawn lengths: {lengths:?}");
    // A seed that drew "no pause" pauses when the fault is allowed, as a shrunk set replays it.
    let seed = seen
        .iter()
        .position(|pair| !pair.1)
        .expect("some seed has no pause");
    let forced = scenario.run(
        RunSpec::seed(u64::try_from(seed).expect("small"))
            .faults(&"pause.0".parse().expect("the id parses")),
    );
    assert_eq!(injected(&forced), ["pause pod-0 (for 1.000s)"]);
}

/// pod-0 checks for the droplet, thinks for 200 ms, then creates it; pod-1 does the same half a
/// second later. Only a pause of pod-0 between its check and its create lets pod-1 check in
/// between; the other faults only slow things down.
fn paused_check_then_create() -> Scenario {
    let ensure = |delay: Duration| {
        move |cx: Actor| async move {
            cx.sleep(delay).await;
            let api = cx.client();
            let found = api.droplets().list().tag("web").all().await?;
            cx.sleep(ms(200)).await;
            if found.is_empty() {
                api.droplets().create(&create("web")).await?;
            }
            Ok::<(), dosim::client::Error>(())
        }
    };
    Scenario::new("paused_check_then_create")
        .net_fault(
            NetFault::hold("pod-1", Endpoint::api())
                .at(ms(1))
                .lasting(ms(20)),
        )
        .actor_fault(ActorFault::pause("pod-1").at(ms(10)).lasting(ms(100)))
        .actor_fault(
            ActorFault::pause("pod-0")
                .at(ms(100))
                .jitter(ms(20))
                .lasting(Duration::from_secs(2)),
        )
        .actor_fault(ActorFault::crash("pod-1").at(ms(200)).restart(true))
        .actor("pod-0", ensure(Duration::ZERO))
        .actor("pod-1", ensure(ms(500)))
        .check(checks::no_duplicate_droplets_by_name())
        .expect(Expect::Race)
}

#[test]
fn a_race_that_needs_a_pause_shrinks_to_that_pause() {
    let scenario = paused_check_then_create();
    let report = scenario.report(0);
    let minimal = report
        .minimal
        .clone()
        .expect("the race is found and shrunk");
    assert_eq!(minimal.faults_injected, 4, "{}", report.to_text());
    assert!(minimal.complete);
    assert_eq!(minimal.fault_ids, "pause.1");
    let [only] = minimal.faults.as_slice() else {
        panic!("{}", report.to_text());
    };
    assert!(
        only.starts_with("pod-0 was paused at 0.1") && only.ends_with(" for 2.000s"),
        "{only}"
    );
    assert!(report
        .to_text()
        .contains(&format!("minimal: 1 fault needed: {only}")));
    // The minimal set replays to the same failure, and nothing fails without it.
    let faults: FaultSet = minimal.fault_ids.parse().expect("the ids parse");
    let replayed = scenario.run(RunSpec::seed(0).faults(&faults));
    assert_eq!(injected(&replayed).len(), 1);
    assert_eq!(scenario.verdict(&replayed)[0].check, minimal.check);
    let clean = scenario.run(RunSpec::seed(0).faults(&FaultSet::default()));
    assert!(scenario.verdict(&clean).is_empty());
}

#[test]
fn a_seed_repeats_with_every_new_fault_kind() {
    let scenario = Scenario::new("every_kind")
        .database(DatabaseSpec::pg("backend"))
        .net_fault(
            NetFault::partition("pod-0", Endpoint::database("backend"))
                .and(NetFault::hold("pod-1", Endpoint::api()))
                .at(ms(20))
                .jitter(ms(50))
                .lasting_between(ms(50), ms(500))
                .probability(1.0),
        )
        .actor_fault(
            ActorFault::pause("pod-0")
                .jitter(ms(300))
                .lasting_between(ms(100), ms(1000)),
        )
        .actor_fault(
            ActorFault::crash("pod-1")
                .at(ms(300))
                .restart_after(ms(100)),
        )
        .actor_fault(ActorFault::crash("pod-2").jitter(ms(400)).probability(1.0))
        .client(|builder| builder.timeout(Duration::from_secs(2)))
        .actors(3, |cx: Actor| async move {
            // Each round's errors are beliefs, so every actor lives long enough for its faults.
            let api = cx.client();
            for round in 0..5 {
                let name = format!("{}-{round}", cx.name());
                let created = api.droplets().create(&create(&name)).await;
                cx.believe("create", format!("{round} {}", created.is_ok()));
                let query = async {
                    let db = dosim::pg::connect_with(&cx.postgres_config("backend")?).await?;
                    db.query_one("SELECT 1", &[]).await?;
                    Ok::<(), Error>(())
                };
                let queried = tokio::time::timeout(Duration::from_secs(1), query).await;
                cx.believe("query", format!("{round} {:?}", queried.map(|r| r.is_ok())));
                cx.sleep(ms(100)).await;
            }
            Ok::<(), Error>(())
        })
        .max_sim_time(Duration::from_secs(60));
    for seed in [3, 11] {
        let first = scenario.run(seed);
        let kinds: std::collections::BTreeSet<&str> = first
            .faults
            .iter()
            .map(|fault| fault.kind.as_str())
            .collect();
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            ["crash", "hold", "partition", "pause"],
            "{:?}",
            first.faults
        );
        assert_eq!(first.trace(), scenario.run(seed).trace(), "seed {seed}");
    }
}

#[track_caller]
fn check_invalid(scenario: Scenario, fragment: &str) {
    let scenario = scenario.actors(2, |_cx: Actor| async { Ok::<(), Error>(()) });
    match scenario.validate() {
        Ok(()) => panic!("{} is valid; expected {fragment}", scenario.name()),
        Err(error) => assert!(error.contains(fragment), "{error}"),
    }
    let outcome = scenario.run(0);
    assert!(outcome
        .sim_error
        .is_some_and(|error| error.contains(fragment)));
}

#[test]
fn faults_that_cannot_happen_are_scenario_errors() {
    let partition = |b: Endpoint| NetFault::partition("pod-0", b);
    check_invalid(
        Scenario::new("no_such_database")
            .database(DatabaseSpec::pg("backend"))
            .net_fault(partition(Endpoint::database("frontend"))),
        "network fault 0: the scenario has no database named frontend (it has backend)",
    );
    check_invalid(
        Scenario::new("no_database").net_fault(partition(Endpoint::database("backend"))),
        "the scenario has no database named backend (the scenario has none)",
    );
    check_invalid(
        Scenario::new("no_such_host").net_fault(partition("backend".into())),
        "network fault 0: no actor or service is named backend",
    );
    check_invalid(
        Scenario::new("same_ends")
            .net_fault(NetFault::partition(Endpoint::api(), dosim::net::API_HOST)),
        "both ends are api.digitalocean.com",
    );
    check_invalid(
        Scenario::new("probability").net_fault(partition(Endpoint::api()).probability(1.5)),
        "network fault 0: the probability must be from 0 to 1, not 1.5",
    );
    check_invalid(
        Scenario::new("lengths")
            .actor_fault(ActorFault::pause("pod-1").lasting_between(ms(500), ms(100))),
        "actor fault 0 (pause of pod-1): lasting_between's max 100ms is below its min 500ms",
    );
    check_invalid(
        Scenario::new("joined_timing").net_fault(
            partition(Endpoint::api()).and(NetFault::partition("pod-1", Endpoint::api()).at(ms(5))),
        ),
        "a fault joined with and() takes this fault's timing",
    );
    check_invalid(
        Scenario::new("no_such_actor").actor_fault(ActorFault::crash("pod-7")),
        "actor fault 0 (crash of pod-7): the scenario has no actor named pod-7",
    );
    check_invalid(
        Scenario::new("pause_restart").actor_fault(ActorFault::pause("pod-0").restart(true)),
        "only a crash restarts",
    );
    check_invalid(
        Scenario::new("crash_lasting").actor_fault(ActorFault::crash("pod-0").lasting(ms(5))),
        "a crash without restart stays down; lasting needs restart(true)",
    );
}

#[test]
fn actor_fault_ids_parse_and_print() {
    let set: FaultSet = "crash.3, pause.0,net.1".parse().expect("the ids parse");
    assert_eq!(set.to_string(), "net.1,pause.0,crash.3");
    let error = "pause.x".parse::<FaultSet>().expect_err("not an id");
    assert!(error.contains("pause.<n> or crash.<n>"), "{error}");
}

/// `pod-0` sleeps three times and notes when it woke; `pod-1` sends three requests. Each has a
/// fault timed long after it has finished, which under `random` never happens.
fn fault_points() -> Scenario {
    const CHECK: &str = "pod-0 was never paused";
    Scenario::new("fault_points")
        .actor_fault(
            ActorFault::pause("pod-0")
                .at(Duration::from_secs(30))
                .lasting(Duration::from_secs(1)),
        )
        .actor_fault(ActorFault::crash("pod-1").at(Duration::from_secs(30)))
        .actor("pod-0", |cx: Actor| async move {
            for n in 1..=3 {
                cx.sleep(ms(100)).await;
                cx.believe(format!("woke-{n}"), cx.now().as_millis().to_string());
            }
            Ok::<(), Error>(())
        })
        .actor("pod-1", |cx: Actor| async move {
            for _ in 0..3 {
                cx.client().account().get().await?;
            }
            Ok::<(), Error>(())
        })
        .check_fn(CHECK, |outcome| {
            match outcome.faults.iter().find(|f| f.kind == "pause") {
                None => Ok(()),
                Some(fault) => Err(Violation::new(
                    CHECK,
                    format!("{} {}", fault.kind, fault.target),
                )),
            }
        })
        .max_sim_time(Duration::from_secs(60))
        .expect(Expect::Race)
}

#[test]
fn steered_strategies_start_actor_faults_at_fault_points() {
    let scenario = fault_points();
    for seed in 0..5 {
        let outcome = scenario.run(seed);
        assert!(
            outcome.faults.is_empty(),
            "random keeps the drawn moment: {:?}",
            outcome.faults
        );
    }
    let (mut paused, mut crashed) = (0, 0);
    for seed in 0..40 {
        let spec = RunSpec::seed(seed).strategy(dosim::Strategy::Pct);
        let outcome = scenario.run(spec.clone());
        assert_eq!(
            outcome.trace(),
            scenario.run(spec).trace(),
            "seed {seed} repeats"
        );
        for fault in &outcome.faults {
            match fault.kind.as_str() {
                // Paused as it woke from its nth sleep: that wake-up is a second late, the ones
                // before it on time.
                "pause" => {
                    paused += 1;
                    let woke: Vec<u64> = (1..=3)
                        .map(|n| belief_ms(&outcome, "pod-0", &format!("woke-{n}")))
                        .collect();
                    let late = woke
                        .iter()
                        .enumerate()
                        .position(|(index, at)| *at >= 100 * (index as u64 + 1) + 1000)
                        .expect("one wake-up is late");
                    assert_eq!(fault.at_ms, 100 * (late as u64 + 1), "{woke:?}");
                }
                // Crashed as its nth request reached the API: it sent none after it, and that
                // request commits or, its client gone before the gate let it through, is
                // withdrawn.
                "crash" => {
                    crashed += 1;
                    let sent = outcome.ops.iter().filter(|op| op.actor == "pod-1").count();
                    assert!((1..=3).contains(&sent), "{sent}");
                    let answered = outcome
                        .server_ops
                        .iter()
                        .filter(|op| op.actor == "pod-1")
                        .count();
                    assert!(
                        answered == sent || answered + 1 == sent,
                        "{:?}",
                        outcome.server_ops
                    );
                }
                // PCT also delays the operations at its change points.
                "delay" => {}
                other => panic!("{other}"),
            }
        }
    }
    // Eight points are drawn from; pod-0 reaches three, pod-1 three.
    assert!(paused > 3 && paused < 30, "{paused}");
    assert!(crashed > 3 && crashed < 30, "{crashed}");

    // The report names the point, and the fault shrinks like any other.
    let failing = (0..40)
        .map(|seed| scenario.report(RunSpec::seed(seed).strategy(dosim::Strategy::Pct)))
        .find(|report| report.faults.iter().any(|fault| fault.kind == "pause"))
        .expect("a paused seed");
    let text = failing.to_text();
    assert!(
        text.contains(", as it woke from a sleep, for 1.000s"),
        "{text}"
    );

    // dfs decides at each point: its first schedule stops nobody, and a later one does.
    let dfs = dosim::explore::explore_strategy(
        &scenario,
        &dosim::Seeds(0..1),
        1,
        dosim::Strategy::Dfs,
        |_| {},
    );
    let report = dfs.report.expect("dfs finds a stopped actor");
    assert!(dfs.schedules_run.unwrap_or(0) > 1);
    assert!(report.to_text().contains("as it"), "{}", report.to_text());
}
