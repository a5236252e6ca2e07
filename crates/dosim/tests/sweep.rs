//! Sweeps on several threads and across shards give the results of one sweep on one thread;
//! `--save-failures` writes each failing seed's files.

mod common;

use dosim::checks;
use dosim::explore::{explore_seeds_jobs, Exploration, Found};
use dosim::sweep::{merge, ExploreRow, Shard};
use dosim::{Expect, Scenario, Seeds};

fn two_pods_create_one_volume() -> Scenario {
    Scenario::new("two_pods_create_one_volume")
        .actors(2, common::ensure_volume)
        .check(checks::actors_ok())
        .expect(Expect::Race)
}

/// Races only when the lost response lands on the first attempt: failures are sparse, so the
/// smallest failing seed is not the sweep's first.
fn rare_lost_create() -> Scenario {
    common::lost_create("rare_lost_create", 0.1)
}

/// Never races: one pod, no faults.
fn one_pod() -> Scenario {
    Scenario::new("one_pod")
        .actors(1, common::ensure_volume)
        .check(checks::actors_ok())
        .expect(Expect::Clean)
}

const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Scenario>();
};

fn sweep(scenario: &Scenario, seeds: std::ops::Range<u64>, jobs: usize) -> Exploration {
    explore_seeds_jobs(scenario, &Seeds(seeds), jobs, |_| {})
}

#[track_caller]
fn check_jobs_agree(scenario: Scenario, seeds: std::ops::Range<u64>, found: Found) {
    let one = sweep(&scenario, seeds.clone(), 1);
    assert_eq!(one.found, found, "{one:?}");
    for jobs in [2, 3] {
        let many = sweep(&scenario, seeds.clone(), jobs);
        assert_eq!(
            one,
            many,
            "{} over {seeds:?}: --jobs {jobs} differs from --jobs 1",
            scenario.name()
        );
    }
}

#[test]
fn more_threads_give_the_same_result() {
    check_jobs_agree(two_pods_create_one_volume(), 0..40, Found::Race);
    check_jobs_agree(two_pods_create_one_volume(), 1..40, Found::Race);
    check_jobs_agree(rare_lost_create(), 1..60, Found::Race);
    check_jobs_agree(rare_lost_create(), 11..60, Found::Race);
    check_jobs_agree(one_pod(), 0..12, Found::Clean);
    check_jobs_agree(one_pod(), 3..4, Found::Clean);
}

#[test]
fn a_sparse_race_is_found_at_its_smallest_seed() {
    let scenario = rare_lost_create();
    let failing: Vec<u64> = (1..60)
        .filter(|&seed| !scenario.verdict(&scenario.run(seed)).is_empty())
        .collect();
    assert!(
        failing.len() >= 2 && failing[0] > 2,
        "the scenario must fail on a few seeds, none of them the first: {failing:?}"
    );
    let found = sweep(&scenario, 1..60, 2);
    assert_eq!(found.first_failing_seed, Some(failing[0]));
    assert_eq!(found.seeds_run, failing[0]);
    let after = sweep(&scenario, failing[0] + 1..60, 2);
    assert_eq!(after.first_failing_seed, Some(failing[1]));
}

#[track_caller]
fn check_shards_cover(seeds: std::ops::Range<u64>, count: u64) {
    let mut next = seeds.start;
    let len = seeds.end - seeds.start;
    for index in 1..=count {
        let block = Shard::new(index, count)
            .expect("a valid shard")
            .seeds(&Seeds(seeds.clone()))
            .0;
        assert_eq!(block.start, next, "shard {index}/{count} of {seeds:?}");
        let size = block.end - block.start;
        assert!(
            size == len / count || size == len / count + 1,
            "shard {index}/{count} of {seeds:?} holds {size} seeds"
        );
        next = block.end;
    }
    assert_eq!(next, seeds.end, "{count} shards of {seeds:?}");
}

#[test]
fn shards_split_the_range_exactly() {
    check_shards_cover(0..100, 1);
    check_shards_cover(0..100, 3);
    check_shards_cover(0..100, 100);
    check_shards_cover(5..12, 10);
    check_shards_cover(u64::MAX - 1000..u64::MAX, 7);
    check_shards_cover(0..100_000_000, 9_999);
}

#[track_caller]
fn check_shard_text(text: &str, expected: Result<(u64, u64), &str>) {
    let parsed = text
        .parse::<Shard>()
        .map(|shard| (shard.index(), shard.count()));
    match expected {
        Ok(pair) => assert_eq!(parsed, Ok(pair), "{text}"),
        Err(fragment) => assert!(
            parsed.as_ref().is_err_and(|error| error.contains(fragment)),
            "{text}: {parsed:?}"
        ),
    }
}

#[test]
fn shard_flags() {
    check_shard_text("1/1", Ok((1, 1)));
    check_shard_text("3/8", Ok((3, 8)));
    check_shard_text(" 8/8 ", Ok((8, 8)));
    check_shard_text("0/8", Err("counts from 1 to N"));
    check_shard_text("9/8", Err("does not exist"));
    check_shard_text("1/0", Err("from 1 to 10000"));
    check_shard_text("1/10001", Err("from 1 to 10000"));
    check_shard_text("3", Err("write K/N"));
    check_shard_text("a/b", Err("write K/N"));
    check_shard_text("-1/4", Err("write K/N"));
}

/// A row without what a merge cannot reproduce: the wall-clock rate, and the count of commit
/// orders, since shards' orders overlap and their counts do not add up.
fn without_rate(mut row: ExploreRow) -> ExploreRow {
    row.seeds_per_second = 0.0;
    row.exploration.orders = None;
    row
}

#[track_caller]
fn check_merged_shards(scenario: Scenario, seeds: std::ops::Range<u64>, count: u64) {
    let whole = ExploreRow::new(sweep(&scenario, seeds.clone(), 1), 0.0);
    // Shards given out of order, as a CI matrix uploads them.
    let mut parts: Vec<ExploreRow> = (1..=count)
        .rev()
        .map(|index| {
            let block = Shard::new(index, count)
                .expect("a valid shard")
                .seeds(&Seeds(seeds.clone()));
            ExploreRow::new(explore_seeds_jobs(&scenario, &block, 2, |_| {}), 1.0)
        })
        .collect();
    // Through JSON, as the files are.
    let text = serde_json::to_string(&parts).expect("rows serialize");
    parts = serde_json::from_str(&text).expect("rows read back");
    let rate: f64 = parts.iter().map(|part| part.seeds_per_second).sum();
    let merged = merge(parts).expect("the shards merge");
    assert_eq!(merged.len(), 1);
    let merged = merged.into_iter().next().expect("one row");
    assert_eq!(merged.seeds_per_second, rate, "rates add up");
    assert_eq!(
        without_rate(merged),
        without_rate(whole),
        "{} over {seeds:?} in {count} shards",
        scenario.name()
    );
}

#[test]
fn merged_shards_give_the_whole_sweep() {
    check_merged_shards(rare_lost_create(), 1..60, 4);
    check_merged_shards(rare_lost_create(), 1..60, 1);
    check_merged_shards(rare_lost_create(), 1..60, 7);
    check_merged_shards(two_pods_create_one_volume(), 0..20, 3);
    check_merged_shards(one_pod(), 0..9, 3);
}

#[test]
fn merge_refuses_overlapping_or_disagreeing_parts() {
    let scenario = one_pod();
    let part = ExploreRow::new(sweep(&scenario, 0..3, 1), 1.0);
    let error = merge(vec![part.clone(), part.clone()]).expect_err("a shard given twice");
    assert!(error.contains("overlap"), "{error}");

    let mut other = ExploreRow::new(sweep(&scenario, 3..5, 1), 1.0);
    other.exploration.expect = Expect::Race;
    let error = merge(vec![part.clone(), other]).expect_err("two expectations");
    assert!(error.contains("disagree"), "{error}");

    let mut steered = ExploreRow::new(sweep(&scenario, 3..5, 1), 1.0);
    steered.exploration.strategy = dosim::Strategy::Pct;
    let error = merge(vec![part.clone(), steered]).expect_err("two strategies");
    assert!(error.contains("different strategies"), "{error}");

    // A gap is not an error: the union says which seeds were covered.
    let later = ExploreRow::new(sweep(&scenario, 7..9, 1), 1.0);
    let merged = merge(vec![later, part]).expect("disjoint parts merge");
    assert_eq!(merged[0].exploration.seeds, "0..3,7..9");
    assert_eq!(merged[0].exploration.seeds_run, 5);
}

#[test]
fn save_failures_writes_the_report_and_the_result() {
    let dir = std::env::temp_dir().join(format!("dosim-save-failures-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cli = <dosim::cli::Cli as clap::Parser>::try_parse_from([
        "dosim",
        "explore",
        "--seeds",
        "0..10",
        "--jobs",
        "2",
        "--format",
        "json",
        "--save-failures",
        dir.to_str().expect("a UTF-8 temporary folder"),
    ])
    .expect("the arguments parse");
    let status = dosim::cli::run_status(
        cli.command,
        &[two_pods_create_one_volume(), one_pod(), rare_lost_create()],
    );
    assert_eq!(status, 0, "every scenario matches its expectation");

    let expected = sweep(&two_pods_create_one_volume(), 0..10, 1);
    let seed = expected.first_failing_seed.expect("the volume race");
    let stem = dir.join(format!("two_pods_create_one_volume-seed-{seed}"));
    let text = std::fs::read_to_string(stem.with_extension("txt")).expect("the report");
    assert_eq!(
        text,
        expected.report.as_ref().expect("a report").to_text(),
        "the saved report is the report"
    );
    let json = std::fs::read_to_string(stem.with_extension("json")).expect("the result");
    let row: ExploreRow = serde_json::from_str(&json).expect("the result reads back");
    assert_eq!(row.exploration, expected);

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("the folder exists")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let rare = sweep(&rare_lost_create(), 0..10, 1);
    let mut expected_names = vec![
        format!("two_pods_create_one_volume-seed-{seed}.json"),
        format!("two_pods_create_one_volume-seed-{seed}.txt"),
    ];
    if let Some(rare_seed) = rare.first_failing_seed {
        expected_names.push(format!("rare_lost_create-seed-{rare_seed}.json"));
        expected_names.push(format!("rare_lost_create-seed-{rare_seed}.txt"));
    }
    expected_names.sort();
    assert_eq!(names, expected_names, "only failing seeds are saved");
    let _ = std::fs::remove_dir_all(&dir);
}

#[track_caller]
fn check_bad_flag(args: &[&str], fragment: &str) {
    let error = <dosim::cli::Cli as clap::Parser>::try_parse_from(args)
        .expect_err("the arguments are refused");
    let message = error.to_string();
    assert!(message.contains(fragment), "{args:?}: {message}");
}

#[test]
fn bad_sweep_flags_name_the_flag() {
    check_bad_flag(&["dosim", "explore", "--shard", "5/4"], "--shard");
    check_bad_flag(&["dosim", "explore", "--shard", "5/4"], "does not exist");
    check_bad_flag(&["dosim", "explore", "--jobs", "0"], "--jobs");
    check_bad_flag(&["dosim", "explore", "--jobs", "many"], "thread count");
    check_bad_flag(&["dosim", "merge"], "<RESULTS>");
}

/// The `dosim` command lines of `docs/nightly-fuzz.yml`, with the workflow's variables filled
/// in: `explore … --shard "$SHARD/$SHARDS" …` and `merge results/*.json …`.
fn workflow_command_lines() -> Vec<Vec<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/nightly-fuzz.yml");
    let workflow = std::fs::read_to_string(&path).expect("docs/nightly-fuzz.yml exists");
    let joined = workflow.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|line| line.split_once("cargo run --release --locked -- "))
        .map(|(_, args)| {
            let args = args
                .split(['>', '|'])
                .next()
                .expect("split yields one part")
                .replace("\"$SEEDS\"", "0..100")
                .replace("\"$SHARD/$SHARDS\"", "3/8")
                .replace(
                    "results/*.json",
                    "results/result-1.json results/result-2.json",
                );
            std::iter::once("dosim".to_owned())
                .chain(args.split_whitespace().map(str::to_owned))
                .collect()
        })
        .collect()
}

#[test]
fn the_nightly_workflow_uses_flags_that_exist() {
    let lines = workflow_command_lines();
    let commands: Vec<&str> = lines.iter().map(|line| line[1].as_str()).collect();
    assert_eq!(
        commands,
        ["explore", "merge", "merge", "merge"],
        "{lines:?}"
    );
    for line in &lines {
        assert!(!line.iter().any(|arg| arg.contains('$')), "{line:?}");
        if let Err(error) = <dosim::cli::Cli as clap::Parser>::try_parse_from(line) {
            panic!("{line:?}: {error}");
        }
    }
}
