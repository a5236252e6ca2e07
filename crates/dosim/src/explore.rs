//! Exploring seeds: the sweep, the re-run that tells a race from nondeterminism, and `cargo test` integration.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::report::Report;
use crate::scenario::Scenario;
use crate::seed::{self, Seeds};
use crate::Expect;

/// The environment variable that sets the sweep: `DOSIM_SEEDS=0..20000`.
pub const ENV_SEEDS: &str = "DOSIM_SEEDS";

/// The environment variable that replays one seed: `DOSIM_SEED=41`.
pub const ENV_SEED: &str = "DOSIM_SEED";

/// What exploring a scenario found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Found {
    /// Some seed broke a check, and re-running it gave the same trace.
    Race,
    /// No seed broke a check.
    Clean,
    /// A seed gave two different traces: the run depends on something besides its seed.
    Nondeterministic,
    /// The scenario cannot run (no actors, a bad fault plan).
    Invalid,
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Found::Race => "race",
            Found::Clean => "clean",
            Found::Nondeterministic => "nondeterministic",
            Found::Invalid => "invalid",
        })
    }
}

/// The result of sweeping a range of seeds over one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Exploration {
    /// The scenario's name.
    pub scenario: String,
    /// What it expects.
    pub expect: Expect,
    /// What the sweep found.
    pub found: Found,
    /// The seeds asked for.
    pub seeds: String,
    /// How many seeds ran before the sweep stopped.
    pub seeds_run: u64,
    /// The first seed that broke a check (or ran two ways), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failing_seed: Option<u64>,
    /// The report of that seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// What went wrong, for `nondeterministic` and `invalid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl Exploration {
    /// Whether what was found is what the scenario expects.
    pub fn matches_expectation(&self) -> bool {
        matches!(
            (self.expect, self.found),
            (Expect::Race, Found::Race) | (Expect::Clean, Found::Clean)
        )
    }

    /// The replay line of the failing seed, if any.
    pub fn replay(&self) -> Option<String> {
        self.first_failing_seed
            .map(|seed| format!("dosim replay {} --seed {seed}", self.scenario))
    }
}

/// Runs `seeds` over `scenario` until one breaks a check, re-running that seed to make sure
/// its trace repeats. `progress` is called after each seed with the number run so far.
///
/// The first seed is always run twice, so every sweep also tests that the scenario is
/// deterministic, even one that finds nothing.
pub fn explore_seeds(
    scenario: &Scenario,
    seeds: &Seeds,
    mut progress: impl FnMut(u64),
) -> Exploration {
    let mut exploration = Exploration {
        scenario: scenario.name().to_owned(),
        expect: scenario.expectation(),
        found: Found::Clean,
        seeds: seeds.to_string(),
        seeds_run: 0,
        first_failing_seed: None,
        report: None,
        problem: None,
    };
    if let Err(error) = scenario.validate() {
        exploration.found = Found::Invalid;
        exploration.problem = Some(error);
        return exploration;
    }
    for seed in seeds.0.clone() {
        let outcome = scenario.run_seed(seed);
        exploration.seeds_run += 1;
        progress(exploration.seeds_run);
        let violations = scenario.verdict(&outcome);
        let first = seed == seeds.0.start;
        if violations.is_empty() && !first {
            continue;
        }
        let again = scenario.run_seed(seed);
        let (hash, hash_again) = (outcome.trace_hash(), again.trace_hash());
        if hash != hash_again {
            exploration.found = Found::Nondeterministic;
            exploration.first_failing_seed = Some(seed);
            exploration.problem = Some(nondeterminism(
                scenario.name(),
                seed,
                &outcome.trace(),
                &again.trace(),
                hash,
                hash_again,
            ));
            return exploration;
        }
        if violations.is_empty() {
            continue;
        }
        exploration.found = Found::Race;
        exploration.first_failing_seed = Some(seed);
        exploration.report = Some(Report::new(&outcome, scenario.expectation(), violations));
        return exploration;
    }
    exploration
}

/// Describes two runs of one seed that differ, naming the first line where they part.
fn nondeterminism(
    scenario: &str,
    seed: u64,
    trace: &str,
    trace_again: &str,
    hash: u64,
    hash_again: u64,
) -> String {
    let mut lines = trace.lines().zip(trace_again.lines()).enumerate();
    let first_difference = lines.find(|(_, (a, b))| a != b).map_or_else(
        || {
            format!(
                "one trace is a prefix of the other ({} vs {} lines)",
                trace.lines().count(),
                trace_again.lines().count()
            )
        },
        |(index, (a, b))| format!("line {}:\n  first run:  {a}\n  second run: {b}", index + 1),
    );
    format!(
        "nondeterminism in {scenario}, seed {seed}: two runs gave different traces ({hash:016x} vs {hash_again:016x}).\n\
         This is not a race: the run read something besides its seed (a HashMap's order, the wall clock, OS randomness, a thread).\n\
         First difference at {first_difference}"
    )
}

/// Which seeds a `cargo test` run explores: `DOSIM_SEED` (one seed) over `DOSIM_SEEDS` over the scenario's default.
pub fn seeds_from_env(default_count: u64) -> Result<(Seeds, bool), String> {
    if let Ok(text) = std::env::var(ENV_SEED) {
        let seed = seed::parse_seed(&text).map_err(|error| format!("{ENV_SEED}: {error}"))?;
        return Ok((Seeds(seed..seed.saturating_add(1)), true));
    }
    if let Ok(text) = std::env::var(ENV_SEEDS) {
        let seeds = text
            .parse::<Seeds>()
            .map_err(|error| format!("{ENV_SEEDS}: {error}"))?;
        return Ok((seeds, false));
    }
    Ok((Seeds(0..default_count), false))
}

impl Scenario {
    /// Explores the scenario inside a `#[test]`, panicking with the report when the outcome
    /// differs from the expectation.
    ///
    /// - Seeds: `DOSIM_SEED=N` replays one seed (and prints its report); `DOSIM_SEEDS=A..B`
    ///   widens the sweep; otherwise the scenario's default (50 seeds from 0).
    /// - `Expect::Clean`: the first seed that breaks a check fails the test with its report.
    /// - `Expect::Race`: the test passes when a seed breaks a check, and the report of the
    ///   first such seed in the default sweep is asserted as an insta snapshot named after the
    ///   scenario, in the `snapshots/` folder next to the calling test. Review new or changed
    ///   reports with `cargo insta review`; with `CI` set, insta never writes them.
    /// - A seed whose two runs differ fails the test as nondeterminism, never as a race.
    #[track_caller]
    pub fn explore(&self) {
        let caller = std::panic::Location::caller();
        let (seeds, replay) = match seeds_from_env(self.seeds_default) {
            Ok(seeds) => seeds,
            Err(error) => panic!("{error}"),
        };
        if replay {
            let outcome = self.run_seed(seeds.0.start);
            let report = Report::new(&outcome, self.expect, self.verdict(&outcome));
            println!("{}", report.to_text());
        }
        let exploration = explore_seeds(self, &seeds, |_| {});
        match (exploration.found, self.expect) {
            (Found::Invalid | Found::Nondeterministic, _) => {
                panic!("{}", exploration.problem.unwrap_or_default());
            }
            (Found::Race, Expect::Clean) => {
                let report = exploration.report.expect("a race has a report");
                panic!(
                    "{} expects clean, but seed {} breaks a check:\n\n{}",
                    self.name,
                    report.seed,
                    report.to_text()
                );
            }
            (Found::Clean, Expect::Race) => {
                panic!("{} expects a race, but none of seeds {seeds} broke a check; widen the sweep with {ENV_SEEDS}=A..B", self.name);
            }
            (Found::Race, Expect::Race) => {
                let report = exploration.report.expect("a race has a report");
                if self.snapshot && !replay && std::env::var_os(ENV_SEEDS).is_none() {
                    assert_report_snapshot(&self.name, &report, caller);
                }
            }
            (Found::Clean, Expect::Clean) => {}
        }
    }
}

/// Asserts a report as the insta snapshot `<scenario>.snap` beside the calling test file.
fn assert_report_snapshot(name: &str, report: &Report, caller: &std::panic::Location<'_>) {
    let mut settings = insta::Settings::clone_current();
    if let Some(folder) = snapshot_folder(caller.file()) {
        settings.set_snapshot_path(folder);
    }
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_info(&serde_json::json!({ "scenario": report.scenario, "seed": report.seed, "strategy": report.strategy.to_string() }));
    settings.set_description(format!("replay: {}", report.replay.join("  or  ")));
    settings.bind(|| insta::assert_snapshot!(name.to_owned(), report.to_text()));
}

/// The `snapshots/` folder next to the test file that called `explore`: found by resolving the
/// caller's workspace-relative path against the crate's manifest folder and its ancestors.
fn snapshot_folder(caller_file: &str) -> Option<PathBuf> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let caller = Path::new(caller_file);
    if caller.is_absolute() {
        return caller.parent().map(|parent| parent.join("snapshots"));
    }
    manifest
        .ancestors()
        .map(|base| base.join(caller))
        .find(|candidate| candidate.is_file())
        .and_then(|file| file.parent().map(|parent| parent.join("snapshots")))
}
