//! Exploring seeds: the sweep, the re-run that tells a race from nondeterminism, and `cargo test` integration.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::Report;
use crate::run::RunSpec;
use crate::scenario::Scenario;
use crate::seed::{self, Seeds};
use crate::strategy::{DecisionKind, Steering};
use crate::{Expect, Strategy};

/// The environment variable that sets the sweep: `DOSIM_SEEDS=0..20000`.
pub const ENV_SEEDS: &str = "DOSIM_SEEDS";

/// The environment variable that replays one seed: `DOSIM_SEED=41`.
pub const ENV_SEED: &str = "DOSIM_SEED";

/// What exploring a scenario found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The strategy that drew the runs' decisions.
    #[serde(default)]
    pub strategy: Strategy,
    /// Under `dfs`: how many schedules of the seed ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules_run: Option<u64>,
    /// Under `dfs`: whether those were every schedule there is, for every seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedules_complete: Option<bool>,
    /// Under `dfs`: how many injected faults one schedule could fire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dfs_faults: Option<u32>,
    /// Under `dfs`: how many operations one schedule could delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dfs_delays: Option<u32>,
    /// Under `dfs`: the most schedules each seed could run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dfs_bound: Option<u64>,
    /// How many distinct commit orders the runs exercised (operations by host, plane and kind,
    /// ids left out), counted up to [`ORDERS_MAX`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders: Option<u64>,
}

/// The most distinct commit orders a sweep counts; past it, the count says "at least".
pub const ORDERS_MAX: usize = 1_000_000;

impl Exploration {
    /// A sweep of `seeds` that has found nothing yet, having run no seed.
    pub(crate) fn clean(
        scenario: String,
        expect: Expect,
        seeds: String,
        strategy: Strategy,
    ) -> Self {
        Exploration {
            scenario,
            expect,
            found: Found::Clean,
            seeds,
            seeds_run: 0,
            first_failing_seed: None,
            report: None,
            problem: None,
            strategy,
            schedules_run: None,
            schedules_complete: None,
            dfs_faults: None,
            dfs_delays: None,
            dfs_bound: None,
            orders: None,
        }
    }

    /// Whether what was found is what the scenario expects.
    pub fn matches_expectation(&self) -> bool {
        matches!(
            (self.expect, self.found),
            (Expect::Race, Found::Race) | (Expect::Clean, Found::Clean)
        )
    }

    /// The replay line of the failing seed, if any.
    pub fn replay(&self) -> Option<String> {
        if let Some(line) = self
            .report
            .as_ref()
            .and_then(|report| report.replay.iter().find(|line| line.starts_with("dosim ")))
        {
            return Some(line.clone());
        }
        self.first_failing_seed
            .map(|seed| format!("dosim replay {} --seed {seed}", self.scenario))
    }

    /// What the sweep covered, in words: `50 seeds, 3 commit orders`, or for `dfs`,
    /// `all 24 orderings of commits of seed 0's timing, up to 1 fault, up to 1 delay`.
    pub fn coverage(&self) -> String {
        let orders = match self.orders {
            Some(1) => ", 1 commit order".to_owned(),
            Some(n) if n >= ORDERS_MAX as u64 => format!(", at least {n} commit orders"),
            Some(n) => format!(", {n} commit orders"),
            None => String::new(),
        };
        let Some(run) = self.schedules_run else {
            let seeds = if self.seeds_run == 1 {
                "1 seed".to_owned()
            } else {
                format!("{} seeds", self.seeds_run)
            };
            return format!("{seeds}{orders}");
        };
        let faults = match self.dfs_faults {
            Some(0) => "faults off".to_owned(),
            Some(1) => "up to 1 fault".to_owned(),
            Some(n) => format!("up to {n} faults"),
            None => "faults as drawn".to_owned(),
        };
        let faults = match self.dfs_delays {
            Some(0) => format!("{faults}, delays off"),
            Some(1) => format!("{faults}, up to 1 delay"),
            Some(n) => format!("{faults}, up to {n} delays"),
            None => faults,
        };
        let timing = if self.seeds_run == 1 {
            format!(
                "seed {}'s timing",
                self.seeds.split("..").next().unwrap_or("0")
            )
        } else {
            format!("the timings of seeds {}", self.seeds)
        };
        match self.schedules_complete {
            Some(true) if run == 1 => {
                format!("the only ordering of commits of {timing}, {faults}")
            }
            Some(true) => format!("all {run} orderings of commits of {timing}, {faults}"),
            _ if self.found != Found::Clean => format!(
                "{run} schedule{} of {timing}, {faults}",
                if run == 1 { "" } else { "s" }
            ),
            _ => format!(
                "{run} schedules of {timing}, {faults}; not every ordering: the bound of {} schedules per seed stopped it",
                self.dfs_bound.unwrap_or(0)
            ),
        }
    }
}

/// The environment variable that sets how many threads `explore()` uses inside `cargo test`.
pub const ENV_JOBS: &str = "DOSIM_JOBS";

/// The most threads one sweep may use.
pub const JOBS_MAX: usize = 1024;

/// Runs `seeds` over `scenario` until one breaks a check, re-running that seed to make sure
/// its trace repeats. `progress` is called as seeds finish, with the number run so far.
///
/// The first seed is always run twice, so every sweep also tests that the scenario is
/// deterministic, even one that finds nothing.
pub fn explore_seeds(scenario: &Scenario, seeds: &Seeds, progress: impl FnMut(u64)) -> Exploration {
    explore_seeds_jobs(scenario, seeds, 1, progress)
}

/// [`explore_seeds`] on `jobs` threads, each running its own simulation.
///
/// The result is the same as on one thread: threads take seeds in ascending order, a failure
/// stops them from taking larger seeds, and the smallest failing seed wins, whichever thread
/// finishes first. `seeds_run` counts the seeds a one-thread sweep would have run; threads may
/// have run a few more past the failure, and only the wall-clock rate shows it.
pub fn explore_seeds_jobs(
    scenario: &Scenario,
    seeds: &Seeds,
    jobs: usize,
    progress: impl FnMut(u64),
) -> Exploration {
    explore_strategy(scenario, seeds, jobs, scenario.strategy, progress)
}

/// [`explore_seeds_jobs`] under a strategy.
///
/// `random` and `pct` sweep the seeds. `dfs` takes each seed of the range in turn, its timing
/// (latencies, host order) fixed, and runs its schedules depth first: every commit order at the
/// gate and every fault choice up to the scenario's fault bound (default 1), until one breaks a
/// check, every schedule of every seed has run, or a seed reaches the scenario's bound (default
/// 10,000 schedules); `schedules_run`, `schedules_complete` and [`Exploration::coverage`] say
/// which. `dfs` runs on one thread. Every sweep counts the distinct commit orders it exercised.
pub fn explore_strategy(
    scenario: &Scenario,
    seeds: &Seeds,
    jobs: usize,
    strategy: Strategy,
    mut progress: impl FnMut(u64),
) -> Exploration {
    let mut exploration = Exploration::clean(
        scenario.name().to_owned(),
        scenario.expectation(),
        seeds.to_string(),
        strategy,
    );
    if let Err(error) = scenario.validate() {
        exploration.found = Found::Invalid;
        exploration.problem = Some(error);
        return exploration;
    }
    let orders = Orders::default();
    if strategy == Strategy::Dfs {
        exploration.dfs_faults = Some(scenario.dfs_faults);
        exploration.dfs_delays = Some(scenario.dfs_delays);
        exploration.dfs_bound = Some(scenario.dfs_bound);
        let mut schedules_run = 0u64;
        let mut complete = true;
        for seed in seeds.0.clone() {
            exploration.seeds_run += 1;
            let (verdict, run, seed_complete) =
                explore_dfs(scenario, seed, &orders, schedules_run, &mut progress);
            schedules_run += run;
            complete &= seed_complete;
            if !matches!(verdict, SeedVerdict::Clean) {
                record_failure(&mut exploration, seed, verdict);
                break;
            }
        }
        exploration.schedules_run = Some(schedules_run);
        exploration.schedules_complete = Some(complete && exploration.found == Found::Clean);
        exploration.orders = Some(orders.count(u64::MAX));
        return exploration;
    }
    let steering = scenario.steering(strategy);
    let total = seeds.len();
    let jobs = jobs
        .clamp(1, JOBS_MAX)
        .min(usize::try_from(total).unwrap_or(usize::MAX).max(1));
    let failure = if jobs == 1 {
        sweep_sequential(scenario, &steering, seeds, &orders, &mut progress)
    } else {
        sweep_parallel(scenario, &steering, seeds, jobs, &orders, &mut progress)
    };
    let last = failure.as_ref().map_or(u64::MAX, |(seed, _)| *seed);
    exploration.orders = Some(orders.count(last));
    match failure {
        None => exploration.seeds_run = total,
        Some((seed, verdict)) => {
            exploration.seeds_run = seed - seeds.0.start + 1;
            record_failure(&mut exploration, seed, verdict);
        }
    }
    exploration
}

fn record_failure(exploration: &mut Exploration, seed: u64, verdict: SeedVerdict) {
    match verdict {
        SeedVerdict::Clean => {}
        SeedVerdict::Race(report) => {
            exploration.found = Found::Race;
            exploration.first_failing_seed = Some(seed);
            exploration.report = Some(*report);
        }
        SeedVerdict::Nondeterministic(problem) => {
            exploration.found = Found::Nondeterministic;
            exploration.first_failing_seed = Some(seed);
            exploration.problem = Some(problem);
        }
    }
}

/// Runs one seed's schedules depth first, each seed's timing fixed and every order of its
/// concurrent commits (and fault choice, up to the fault bound) tried in turn. Returns the
/// verdict of the first failing schedule (or clean), how many schedules ran, and whether they
/// were all there are. `before` schedules ran on earlier seeds, for the progress count.
fn explore_dfs(
    scenario: &Scenario,
    seed: u64,
    orders: &Orders,
    before: u64,
    progress: &mut impl FnMut(u64),
) -> (SeedVerdict, u64, bool) {
    let mut prefix: Vec<u32> = Vec::new();
    let mut schedules_run = 0u64;
    let mut walk = DfsWalk::default();
    loop {
        let steering = Steering::Forced {
            strategy: Strategy::Dfs,
            choices: prefix.clone(),
            faults_max: Some(scenario.dfs_faults),
            delays_max: Some(scenario.dfs_delays),
        };
        let first = schedules_run == 0;
        let judged = judge_steered(scenario, &steering, first, seed);
        orders.insert(before + schedules_run, judged.order);
        schedules_run += 1;
        progress(before + schedules_run);
        if !matches!(judged.verdict, SeedVerdict::Clean) {
            return (judged.verdict, schedules_run, false);
        }
        match walk.next(judged.decisions, &judged.kinds) {
            None => return (SeedVerdict::Clean, schedules_run, true),
            Some(next) => prefix = next,
        }
        if schedules_run >= scenario.dfs_bound {
            return (SeedVerdict::Clean, schedules_run, false);
        }
    }
}

/// How dfs walks one seed's schedules, in three passes: first the schedules that differ from the
/// seed's own only in fault decisions (whether and where a fault starts), every other decision
/// at its first choice, deepest fault decision first; then, from the seed's own schedule again,
/// those that differ only in delay decisions, the same way; then every schedule depth first,
/// from the seed's own. A fault or a delay that matters early in a run (a crash at an actor's
/// first operation, a claim delayed past another worker's poll) is thus tried within a few
/// schedules, not after every ordering of the run's later operations; the last pass runs again
/// the few schedules the first two did.
#[derive(Default)]
struct DfsWalk {
    /// The pass: 0 flips faults, 1 flips delays, 2 walks everything.
    pass: u8,
    /// The decisions of the seed's first schedule and their kinds, where each pass starts.
    first: Option<Decided>,
}

/// A run's decisions (the choice and how many there were) and what each was about.
type Decided = (Vec<(u32, u32)>, Vec<DecisionKind>);

impl DfsWalk {
    /// The choices of the schedule after one that took `decisions` (`kinds` saying what each
    /// was about); `None` when every schedule has run.
    fn next(&mut self, decisions: Vec<(u32, u32)>, kinds: &[DecisionKind]) -> Option<Vec<u32>> {
        let (first, first_kinds) = self
            .first
            .get_or_insert_with(|| (decisions.clone(), kinds.to_vec()))
            .clone();
        let (mut decisions, mut kinds) = (decisions, kinds.to_vec());
        loop {
            let kind = match self.pass {
                0 => DecisionKind::Fault,
                1 => DecisionKind::Delay,
                _ => return next_schedule(decisions),
            };
            let deepest = (0..decisions.len()).rev().find(|&index| {
                let (choice, alternatives) = decisions[index];
                kinds.get(index) == Some(&kind) && choice + 1 < alternatives
            });
            if let Some(index) = deepest {
                let mut next: Vec<u32> = decisions[..index].iter().map(|(c, _)| *c).collect();
                next.push(decisions[index].0 + 1);
                return Some(next);
            }
            self.pass += 1;
            if self.pass == 2 {
                return next_schedule(first);
            }
            (decisions, kinds) = (first.clone(), first_kinds.clone());
        }
    }
}

/// The choices of the schedule after one that took `decisions`, depth first: the deepest decision
/// with an untried alternative takes its next one. `None` when every schedule has run.
fn next_schedule(mut decisions: Vec<(u32, u32)>) -> Option<Vec<u32>> {
    while let Some((choice, alternatives)) = decisions.pop() {
        if choice + 1 < alternatives {
            let mut next: Vec<u32> = decisions.iter().map(|(choice, _)| *choice).collect();
            next.push(choice + 1);
            return Some(next);
        }
    }
    None
}

/// The distinct commit orders of a sweep's runs, each with the first run (by seed, or under
/// `dfs` by schedule number) that had it, shared by its threads. Counted only up to the sweep's
/// result, so that threads that ran past a failure do not change the count.
#[derive(Default)]
struct Orders(parking_lot::Mutex<std::collections::BTreeMap<u64, u64>>);

impl Orders {
    /// Notes that run `run` had commit order `order`: each order is kept once, with the first
    /// run that had it, so a long sweep over few orders holds few entries.
    fn insert(&self, run: u64, order: u64) {
        let mut first_run = self.0.lock();
        let full = first_run.len() >= ORDERS_MAX;
        match first_run.entry(order) {
            std::collections::btree_map::Entry::Occupied(mut first) => {
                *first.get_mut() = (*first.get()).min(run);
            }
            std::collections::btree_map::Entry::Vacant(new) if !full => {
                new.insert(run);
            }
            std::collections::btree_map::Entry::Vacant(_) => {}
        }
    }

    /// How many distinct orders the runs numbered up to `last` had.
    fn count(&self, last: u64) -> u64 {
        let first_run = self.0.lock();
        first_run.values().filter(|first| **first <= last).count() as u64
    }
}

/// What one seed showed.
enum SeedVerdict {
    Clean,
    Race(Box<Report>),
    Nondeterministic(String),
}

/// What judging one run showed: its verdict, its decisions and its commit order's hash.
struct Judged {
    verdict: SeedVerdict,
    decisions: Vec<(u32, u32)>,
    kinds: Vec<DecisionKind>,
    order: u64,
}

/// Runs one seed, and runs it again when it fails or is the sweep's first seed, to tell a race
/// from nondeterminism.
fn judge(
    scenario: &Scenario,
    steering: &Steering,
    first_seed: u64,
    seed: u64,
    orders: &Orders,
) -> SeedVerdict {
    let judged = judge_steered(scenario, steering, seed == first_seed, seed);
    orders.insert(seed, judged.order);
    judged.verdict
}

/// [`judge`], also returning the run's decisions and commit order.
fn judge_steered(scenario: &Scenario, steering: &Steering, first: bool, seed: u64) -> Judged {
    let record = crate::run::run(scenario, &RunSpec::steered(seed, steering));
    let order = record.outcome.commit_order_hash();
    let violations = scenario.verdict(&record.outcome);
    let judged = |verdict| Judged {
        verdict,
        decisions: record.decisions.clone(),
        kinds: record.kinds.clone(),
        order,
    };
    if violations.is_empty() && !first {
        return judged(SeedVerdict::Clean);
    }
    let outcome = &record.outcome;
    let again = crate::run::run(scenario, &RunSpec::steered(seed, steering)).outcome;
    let (hash, hash_again) = (outcome.trace_hash(), again.trace_hash());
    if hash != hash_again {
        let problem = nondeterminism(
            scenario.name(),
            seed,
            &outcome.trace(),
            &again.trace(),
            hash,
            hash_again,
        );
        return judged(SeedVerdict::Nondeterministic(problem));
    }
    if violations.is_empty() {
        return judged(SeedVerdict::Clean);
    }
    let report = crate::shrink::report(scenario, steering, &record, violations);
    judged(SeedVerdict::Race(Box::new(report)))
}

fn sweep_sequential(
    scenario: &Scenario,
    steering: &Steering,
    seeds: &Seeds,
    orders: &Orders,
    progress: &mut impl FnMut(u64),
) -> Option<(u64, SeedVerdict)> {
    for (run, seed) in seeds.0.clone().enumerate() {
        let verdict = judge(scenario, steering, seeds.0.start, seed, orders);
        progress(run as u64 + 1);
        if !matches!(verdict, SeedVerdict::Clean) {
            return Some((seed, verdict));
        }
    }
    None
}

fn sweep_parallel(
    scenario: &Scenario,
    steering: &Steering,
    seeds: &Seeds,
    jobs: usize,
    orders: &Orders,
    progress: &mut impl FnMut(u64),
) -> Option<(u64, SeedVerdict)> {
    use std::sync::atomic::{AtomicU64, Ordering};

    // Offsets, not seeds, so that a range ending at u64::MAX cannot wrap the counter.
    let next_offset = AtomicU64::new(0);
    let smallest_failure = AtomicU64::new(u64::MAX);
    let done = AtomicU64::new(0);
    let first: parking_lot::Mutex<Option<(u64, SeedVerdict)>> = parking_lot::Mutex::new(None);
    let (start, total) = (seeds.0.start, seeds.len());
    // Runs the next seed; false when there is none left worth running.
    let step = || {
        let offset = next_offset.fetch_add(1, Ordering::SeqCst);
        if offset >= total {
            return false;
        }
        let seed = start + offset;
        // Seeds past a known failure cannot change the result.
        if seed > smallest_failure.load(Ordering::SeqCst) {
            return false;
        }
        let verdict = judge(scenario, steering, start, seed, orders);
        if !matches!(verdict, SeedVerdict::Clean) {
            smallest_failure.fetch_min(seed, Ordering::SeqCst);
            let mut first = first.lock();
            if first.as_ref().is_none_or(|(best, _)| seed < *best) {
                *first = Some((seed, verdict));
            }
        }
        done.fetch_add(1, Ordering::SeqCst);
        true
    };
    std::thread::scope(|scope| {
        // The calling thread is one of the workers, and the one that reports progress, so a
        // sweep on N cores keeps N threads busy and none waking up to count.
        for _ in 1..jobs {
            scope.spawn(|| while step() {});
        }
        while step() {
            progress(done.load(Ordering::SeqCst));
        }
    });
    progress(done.load(Ordering::SeqCst));
    first.into_inner()
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

/// How many threads a `cargo test` sweep uses: `DOSIM_JOBS`, or one, since `cargo test` already
/// runs tests on every core.
pub fn jobs_from_env() -> Result<usize, String> {
    match std::env::var(ENV_JOBS) {
        Err(_) => Ok(1),
        Ok(text) => parse_jobs(&text).map_err(|error| format!("{ENV_JOBS}: {error}")),
    }
}

/// Parses a thread count: a whole number from 1 to [`JOBS_MAX`].
pub fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(jobs) if (1..=JOBS_MAX).contains(&jobs) => Ok(jobs),
        _ => Err(format!(
            "`{text}` is not a thread count: write a whole number from 1 to {JOBS_MAX}"
        )),
    }
}

/// [`Scenario::explore`]: the sweep, and the panic or snapshot its outcome calls for.
pub(crate) fn explore_in_test(scenario: &Scenario, caller: &std::panic::Location<'_>) {
    let (seeds, replay) = match seeds_from_env(scenario.seeds_default) {
        Ok(seeds) => seeds,
        Err(error) => panic!("{error}"),
    };
    if replay {
        let report = scenario.report(RunSpec::seed(seeds.0.start).strategy(scenario.strategy));
        println!("{}", report.to_text());
    }
    let jobs = match jobs_from_env() {
        Ok(jobs) => jobs,
        Err(error) => panic!("{error}"),
    };
    let exploration = explore_seeds_jobs(scenario, &seeds, jobs, |_| {});
    match (exploration.found, scenario.expect) {
        (Found::Invalid | Found::Nondeterministic, _) => {
            panic!("{}", exploration.problem.unwrap_or_default());
        }
        (Found::Race, Expect::Clean) => {
            let report = exploration.report.expect("a race has a report");
            panic!(
                "{} expects clean, but seed {} breaks a check:\n\n{}",
                scenario.name,
                report.seed,
                report.to_text()
            );
        }
        (Found::Clean, Expect::Race) if scenario.strategy == Strategy::Dfs => {
            panic!(
                "{} expects a race, but none of the {} dfs schedules of seed {} broke a check{}",
                scenario.name,
                exploration.schedules_run.unwrap_or(0),
                seeds.0.start,
                if exploration.schedules_complete == Some(true) {
                    ", and they are all there are"
                } else {
                    "; raise the bound with Scenario::dfs_bound"
                }
            );
        }
        (Found::Clean, Expect::Race) => {
            panic!("{} expects a race, but none of seeds {seeds} broke a check; widen the sweep with {ENV_SEEDS}=A..B", scenario.name);
        }
        (Found::Race, Expect::Race) => {
            let report = exploration.report.expect("a race has a report");
            if scenario.snapshot && !replay && std::env::var_os(ENV_SEEDS).is_none() {
                assert_report_snapshot(&scenario.name, &report, caller);
            }
        }
        (Found::Clean, Expect::Clean) => {}
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

/// How often a strategy's runs break a check: what `dosim bench` reports per strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRate {
    /// The strategy.
    pub strategy: Strategy,
    /// Runs made: seeds `0..runs` under `random` and `pct`; under `dfs`, schedules of seed 0's
    /// timing first, then seed 1's, and so on.
    pub runs: u64,
    /// Runs that broke a check.
    pub failures: u64,
    /// How many runs it took to the first failure (1 when the first run fails), if any failed.
    pub runs_to_first_failure: Option<u64>,
    /// Distinct commit orders among the runs.
    pub orders: u64,
    /// Under `dfs`: how many seeds' schedules were all run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds_covered: Option<u64>,
}

/// Runs `runs` runs of `scenario` under `strategy` without stopping at a failure, and counts
/// the failures. Unlike a sweep it does not re-run failures or build reports; the result does not
/// depend on `jobs`.
pub fn failure_rate(
    scenario: &Scenario,
    strategy: Strategy,
    runs: u64,
    jobs: usize,
) -> FailureRate {
    let orders = Orders::default();
    let mut rate = FailureRate {
        strategy,
        runs: 0,
        failures: 0,
        runs_to_first_failure: None,
        orders: 0,
        seeds_covered: None,
    };
    if strategy == Strategy::Dfs {
        let mut covered = 0u64;
        for seed in 0..runs {
            let mut prefix: Vec<u32> = Vec::new();
            let mut walk = DfsWalk::default();
            loop {
                let steering = Steering::Forced {
                    strategy,
                    choices: prefix.clone(),
                    faults_max: Some(scenario.dfs_faults),
                    delays_max: Some(scenario.dfs_delays),
                };
                let record = crate::run::run(scenario, &RunSpec::steered(seed, &steering));
                orders.insert(rate.runs, record.outcome.commit_order_hash());
                rate.runs += 1;
                if !scenario.verdict(&record.outcome).is_empty() {
                    rate.failures += 1;
                    rate.runs_to_first_failure.get_or_insert(rate.runs);
                }
                match walk.next(record.decisions, &record.kinds) {
                    None => {
                        covered += 1;
                        break;
                    }
                    Some(next) if rate.runs < runs => prefix = next,
                    Some(_) => break,
                }
            }
            if rate.runs >= runs {
                break;
            }
        }
        rate.seeds_covered = Some(covered);
        rate.orders = orders.count(u64::MAX);
        return rate;
    }
    let steering = scenario.steering(strategy);
    let failing = parking_lot::Mutex::new(std::collections::BTreeSet::new());
    let next = std::sync::atomic::AtomicU64::new(0);
    let work = || loop {
        let seed = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if seed >= runs {
            return;
        }
        let outcome = crate::run::run(scenario, &RunSpec::steered(seed, &steering)).outcome;
        orders.insert(seed, outcome.commit_order_hash());
        if !scenario.verdict(&outcome).is_empty() {
            failing.lock().insert(seed);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..jobs.clamp(1, JOBS_MAX) {
            scope.spawn(work);
        }
        work();
    });
    let failing = failing.into_inner();
    rate.runs = runs;
    rate.failures = failing.len() as u64;
    rate.runs_to_first_failure = failing.first().map(|seed| seed + 1);
    rate.orders = orders.count(u64::MAX);
    rate
}

#[cfg(test)]
mod dfs_walk_tests {
    use super::DfsWalk;
    use crate::strategy::DecisionKind::{Delay, Fault, Order};

    /// The first pass flips fault decisions only, deepest first, with every other decision at
    /// its first choice; the second, from the seed's own schedule, flips delay decisions; the
    /// last starts over from the seed's own schedule, depth first.
    #[test]
    fn faults_then_delays_then_every_schedule() {
        let mut walk = DfsWalk::default();
        // A delay decision, an ordering decision of three, a fault decision, an ordering
        // decision of two.
        let kinds = [Delay, Order, Fault, Order];
        let first = vec![(0, 2), (0, 3), (0, 2), (0, 2)];
        assert_eq!(walk.next(first.clone(), &kinds), Some(vec![0, 0, 1]));
        // With the fault fired, the bound leaves later fault decisions no choice; the delay
        // pass starts from the seed's own schedule.
        let faulted = vec![(0, 2), (0, 3), (1, 2), (0, 2)];
        assert_eq!(walk.next(faulted, &kinds), Some(vec![1]));
        // With the delay taken, the walk starts over from the seed's own schedule, depth first:
        // the last ordering decision's next choice.
        let delayed = vec![(1, 2), (0, 3), (0, 2), (0, 2)];
        assert_eq!(walk.next(delayed, &kinds), Some(vec![0, 0, 0, 1]));
        assert_eq!(
            walk.next(vec![(0, 2), (0, 3), (0, 2), (1, 2)], &kinds),
            Some(vec![0, 0, 1])
        );
        assert_eq!(walk.next(vec![(1, 2), (2, 3)], &[Delay, Order]), None);
    }
}
