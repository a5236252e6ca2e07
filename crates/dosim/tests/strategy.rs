//! Strategies end to end: `pct` and `dfs` find the races `random` finds, `dfs` covers a small
//! scenario's schedules in full, and a schedule replays its run without the strategy.

mod common;

use dosim::explore::{explore_strategy, Exploration, Found};
use dosim::strategy::Schedule;
use dosim::{Scenario, Seeds, Strategy};

fn volume_race(actors: usize) -> Scenario {
    common::volume_race("volume_race", actors)
}

fn volume_fixed(actors: usize) -> Scenario {
    common::volume_fixed("volume_fixed", actors)
}

fn lost_create() -> Scenario {
    common::lost_create("lost_create", 0.2)
}

fn explore(scenario: &Scenario, seeds: std::ops::Range<u64>, strategy: Strategy) -> Exploration {
    explore_strategy(scenario, &Seeds(seeds), 2, strategy, |_| {})
}

#[track_caller]
fn check_finds(
    scenario: Scenario,
    strategy: Strategy,
    found: Found,
    schedules: Option<(u64, bool)>,
) {
    let exploration = explore(&scenario, 0..50, strategy);
    assert_eq!(exploration.found, found, "{exploration:?}");
    assert_eq!(exploration.strategy, strategy);
    assert_eq!(
        exploration
            .schedules_run
            .zip(exploration.schedules_complete),
        schedules,
        "{} under {strategy}",
        scenario.name()
    );
}

#[test]
fn every_strategy_finds_the_races_and_spares_the_fixes() {
    for strategy in [Strategy::Random, Strategy::Pct] {
        check_finds(volume_race(2), strategy, Found::Race, None);
        check_finds(volume_race(3), strategy, Found::Race, None);
        check_finds(volume_fixed(2), strategy, Found::Clean, None);
        check_finds(lost_create(), strategy, Found::Race, None);
    }
    check_finds(volume_race(2), Strategy::Dfs, Found::Race, Some((1, false)));
    // The loser's create is lost on the second schedule: the first fault decision fires.
    check_finds(lost_create(), Strategy::Dfs, Found::Race, Some((2, false)));
}

#[test]
fn dfs_covers_a_small_scenario_in_full() {
    let two = explore(&volume_fixed(2), 0..1, Strategy::Dfs);
    assert_eq!(two.found, Found::Clean);
    assert_eq!(two.schedules_complete, Some(true), "{two:?}");
    assert_eq!(
        two.coverage(),
        format!(
            "all {} orderings of commits of seed 0's timing, up to 1 fault, up to 1 delay",
            two.schedules_run.unwrap_or(0)
        )
    );
    let three = explore(&volume_fixed(3), 0..1, Strategy::Dfs);
    assert_eq!(three.schedules_complete, Some(true), "{three:?}");
    assert!(
        three.schedules_run > two.schedules_run,
        "three pods have more orders than two: {three:?} vs {two:?}"
    );
    // A bound below the space's size stops short and says so.
    let bounded = explore(&volume_fixed(3).dfs_bound(2), 0..1, Strategy::Dfs);
    assert_eq!(
        (
            bounded.found,
            bounded.schedules_run,
            bounded.schedules_complete
        ),
        (Found::Clean, Some(2), Some(false))
    );
}

#[test]
fn pct_gives_the_same_result_on_any_number_of_threads() {
    for scenario in [volume_race(3), volume_fixed(3), lost_create()] {
        let one = explore_strategy(&scenario, &Seeds(1..30), 1, Strategy::Pct, |_| {});
        let two = explore_strategy(&scenario, &Seeds(1..30), 2, Strategy::Pct, |_| {});
        assert_eq!(one, two, "{}", scenario.name());
    }
}

#[track_caller]
fn check_schedule_replays(scenario: Scenario, strategy: Strategy) {
    let exploration = explore(&scenario, 0..50, strategy);
    let report = exploration.report.expect("a race");
    let schedule: Schedule = report
        .schedule
        .as_deref()
        .expect("a steered report has a schedule")
        .parse()
        .expect("the schedule parses");
    assert_eq!(schedule.strategy, strategy);
    assert_eq!(schedule.seed, report.seed);
    let replayed = scenario.report(dosim::RunSpec::schedule(&schedule));
    assert_eq!(
        replayed.trace_hash,
        report.trace_hash,
        "{}",
        replayed.to_text()
    );
    assert_eq!(replayed.violations, report.violations);
    assert_eq!(replayed.minimal, report.minimal);
    assert!(
        report.replay.contains(&format!(
            "dosim replay {} --schedule {schedule}",
            scenario.name()
        )),
        "{:?}",
        report.replay
    );
    // PCT also replays from the seed alone; dfs's seed names only its first schedule.
    if strategy == Strategy::Pct {
        assert_eq!(
            scenario.report(dosim::RunSpec::seed(report.seed).strategy(strategy)),
            report
        );
    }
}

#[test]
fn a_schedule_replays_its_run() {
    check_schedule_replays(volume_race(3), Strategy::Pct);
    check_schedule_replays(lost_create(), Strategy::Pct);
    check_schedule_replays(volume_race(2), Strategy::Dfs);
    check_schedule_replays(lost_create(), Strategy::Dfs);
}

#[test]
fn random_runs_have_no_gate_and_no_schedule() {
    let scenario = volume_race(2);
    let report = scenario.report(0);
    assert_eq!(report.schedule, None);
    assert_eq!(
        scenario.report(dosim::RunSpec::seed(0).strategy(Strategy::Random)),
        report
    );
    assert_eq!(
        scenario
            .run(dosim::RunSpec::seed(0).strategy(Strategy::Random))
            .trace(),
        scenario.run(0).trace()
    );
}

#[track_caller]
fn check_replay_flags(args: &[&str], expected: Result<(), &str>) {
    let parsed = <dosim::cli::Cli as clap::Parser>::try_parse_from(args);
    match expected {
        Ok(()) => assert!(parsed.is_ok(), "{args:?}: {parsed:?}"),
        Err(fragment) => {
            let message = parsed.expect_err("refused").to_string();
            assert!(message.contains(fragment), "{args:?}: {message}");
        }
    }
}

#[test]
fn replay_takes_a_seed_or_a_schedule() {
    check_replay_flags(&["dosim", "replay", "x", "--seed", "3"], Ok(()));
    check_replay_flags(
        &["dosim", "replay", "x", "--seed", "3", "--strategy", "pct"],
        Ok(()),
    );
    check_replay_flags(&["dosim", "replay", "x", "--schedule", "dfs:0:1.0"], Ok(()));
    check_replay_flags(&["dosim", "replay", "x"], Err("--seed"));
    check_replay_flags(
        &[
            "dosim",
            "replay",
            "x",
            "--seed",
            "1",
            "--schedule",
            "dfs:0:1",
        ],
        Err("cannot be used with"),
    );
    check_replay_flags(
        &["dosim", "replay", "x", "--schedule", "random:0:1"],
        Err("--seed"),
    );
    check_replay_flags(
        &["dosim", "explore", "--strategy", "bfs"],
        Err("--strategy"),
    );
    check_replay_flags(
        &["dosim", "explore", "--pct-depth", "0"],
        Err("--pct-depth"),
    );
    check_replay_flags(
        &["dosim", "explore", "--dfs-bound", "0"],
        Err("--dfs-bound"),
    );
}

#[test]
fn dfs_runs_every_seed_of_its_range_and_says_so() {
    let one = explore(&volume_fixed(2), 0..1, Strategy::Dfs);
    let three = explore(&volume_fixed(2), 0..3, Strategy::Dfs);
    assert_eq!((three.found, three.seeds_run), (Found::Clean, 3));
    assert_eq!(three.schedules_complete, Some(true), "{three:?}");
    assert!(three.schedules_run > one.schedules_run, "{three:?}");
    assert_eq!(
        three.coverage(),
        format!(
            "all {} orderings of commits of the timings of seeds 0..3, up to 1 fault, up to 1 delay",
            three.schedules_run.unwrap_or(0)
        )
    );
}

#[test]
fn dfs_fires_no_more_faults_than_its_bound() {
    // The duplicate needs one lost response: with faults off every schedule is clean, and the
    // space of orders alone is covered; with one fault allowed the second schedule finds it.
    let off = explore(
        &lost_create().dfs_faults(0).dfs_delays(0),
        0..1,
        Strategy::Dfs,
    );
    assert_eq!(
        (off.found, off.schedules_complete),
        (Found::Clean, Some(true)),
        "{off:?}"
    );
    assert!(
        off.coverage().ends_with("faults off, delays off"),
        "{}",
        off.coverage()
    );
    let one = explore(&lost_create(), 0..1, Strategy::Dfs);
    assert_eq!(one.found, Found::Race, "{one:?}");
    let report = one.report.expect("a race");
    assert_eq!(
        report.schedule_size.as_deref(),
        Some("3 decisions, 1 injected fault, 0 delays")
    );
}

#[test]
fn a_sweep_counts_the_commit_orders_it_exercised() {
    // Two pods that never meet at the same moment still commit in some order; a sweep sees
    // a handful of orders, not one per seed, since ids and values do not count.
    let exploration = explore(&volume_fixed(2), 0..40, Strategy::Random);
    let orders = exploration.orders.expect("every sweep counts orders");
    assert!((2..40).contains(&orders), "{exploration:?}");
    assert!(
        exploration
            .coverage()
            .starts_with(&format!("40 seeds, {orders} commit orders")),
        "{}",
        exploration.coverage()
    );
}
