//! `dosim bench`: seeds per second of each scenario, its floors (`floor.rs`: bare turmoil + hyper,
//! the PostgreSQL floor, the model floor), and provisioning speed.

use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{BenchArgs, Format};
use crate::explore::{failure_rate, FailureRate};
use crate::floor::ActorLoad;
use crate::scenario::Scenario;
use crate::Strategy;

/// A wall-clock stopwatch, for measuring throughput only: its readings never enter a run,
/// a trace or a report.
pub(crate) struct WallClock(std::time::Instant);

impl WallClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "benchmarks measure wall time; runs never read it"
    )]
    pub(crate) fn start() -> WallClock {
        WallClock(std::time::Instant::now())
    }

    pub(crate) fn elapsed_s(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// One cell of the strategy table: runs to the first failure and the failure rate.
fn rate_cell(rate: &FailureRate) -> String {
    let first = rate
        .runs_to_first_failure
        .map_or("none".to_owned(), |runs| runs.to_string());
    let percent = if rate.runs == 0 {
        0.0
    } else {
        100.0 * rate.failures as f64 / rate.runs as f64
    };
    format!("{first} ({percent:.1}%)")
}

/// Each strategy over a scenario, `runs` runs each: seeds `0..runs` under `random` and `pct`,
/// and under `dfs` the schedules of seed 0's timing, then seed 1's, until `runs` have run.
pub fn strategy_rates(scenario: &Scenario, runs: u64, jobs: usize) -> Vec<FailureRate> {
    [Strategy::Random, Strategy::Pct, Strategy::Dfs]
        .into_iter()
        .map(|strategy| failure_rate(scenario, strategy, runs, jobs))
        .collect()
}

/// One scenario's measurement.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// The scenario.
    pub scenario: String,
    /// Seeds run.
    pub seeds: u64,
    /// Hosts in the world: actors, services and the API host.
    pub hosts: usize,
    /// HTTP requests per seed (in seed 0's run).
    pub requests: usize,
    /// Seeds per wall-clock second through dosim, on one thread.
    pub seeds_per_second: f64,
    /// Threads of the parallel measurement (`--jobs`).
    pub jobs: usize,
    /// Seeds per wall-clock second through dosim on `jobs` threads, one simulation each.
    pub seeds_per_second_jobs: f64,
    /// Each strategy's runs to the first failure and failure rate (see [`strategy_rates`]).
    pub strategies: Vec<FailureRate>,
    /// Seeds per wall-clock second of bare turmoil + hyper with the same hosts and requests.
    pub floor_seeds_per_second: f64,
    /// How many times slower dosim is than the floor.
    pub ratio: f64,
    /// For a scenario with SQL statements: seeds per wall-clock second of the PostgreSQL floor
    /// (its SQL statements over the PostgreSQL protocol to a minimal server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pg_floor_seeds_per_second: Option<f64>,
    /// How many times slower dosim is than the PostgreSQL floor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pg_ratio: Option<f64>,
    /// For a scenario with Spaces requests: seeds per wall-clock second of the S3 floor (its
    /// Spaces requests made with aws-sdk-s3 to a minimal server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_floor_seeds_per_second: Option<f64>,
    /// How many times slower dosim is than the S3 floor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_ratio: Option<f64>,
    /// For a scenario whose operations are all API requests: seeds per wall-clock second of the
    /// model floor, seed 0's requests sent again to a fresh API server in process, no network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_floor_seeds_per_second: Option<f64>,
    /// How many times slower dosim is than the model floor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_ratio: Option<f64>,
    /// Simulated seconds per wall-clock second through dosim.
    pub sim_seconds_per_second: f64,
}

#[derive(Debug, Clone, Serialize)]
struct BenchResult {
    scenarios: Vec<BenchRow>,
    provisioning: BenchRow,
}

/// Runs the benchmark and prints it.
pub(crate) fn bench(args: &BenchArgs, scenarios: &[Scenario]) -> ExitCode {
    let selected = match crate::cli::select(&args.sims, scenarios) {
        Ok(selected) => selected,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let seeds = args.seeds.clamp(1, 100_000);
    let jobs = args
        .jobs
        .unwrap_or_else(crate::cli::default_jobs)
        .clamp(1, crate::explore::JOBS_MAX);
    let mut rows = Vec::new();
    for scenario in selected {
        if let Err(error) = scenario.validate() {
            eprintln!("skipping {}: {error}", scenario.name());
            continue;
        }
        eprint!("\rbench {} …", scenario.name());
        let mut row = measure_jobs(scenario, seeds, jobs);
        if args.strategy_runs > 0 {
            row.strategies = strategy_rates(scenario, args.strategy_runs, jobs);
        }
        rows.push(row);
    }
    eprint!("\rbench provisioning …");
    let provisioning = measure_jobs(&provisioning_scenario(), seeds.min(5), jobs);
    eprintln!("\rbench done.              ");
    let result = BenchResult {
        scenarios: rows,
        provisioning,
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&result).expect("numbers serialize")
        ),
        Format::Text => {
            let mut table = vec![[
                "scenario",
                "hosts",
                "requests",
                "seeds/s",
                "jobs",
                "seeds/s (jobs)",
                "speedup",
                "floor seeds/s",
                "floor/dosim",
                "pg floor/dosim",
                "s3 floor/dosim",
                "model floor/dosim",
                "sim s/wall s",
            ]
            .map(str::to_owned)
            .to_vec()];
            for row in result
                .scenarios
                .iter()
                .chain(std::iter::once(&result.provisioning))
            {
                table.push(vec![
                    row.scenario.clone(),
                    row.hosts.to_string(),
                    row.requests.to_string(),
                    format!("{:.1}", row.seeds_per_second),
                    row.jobs.to_string(),
                    format!("{:.1}", row.seeds_per_second_jobs),
                    format!(
                        "{:.2}",
                        if row.seeds_per_second > 0.0 {
                            row.seeds_per_second_jobs / row.seeds_per_second
                        } else {
                            0.0
                        }
                    ),
                    format!("{:.1}", row.floor_seeds_per_second),
                    format!("{:.2}", row.ratio),
                    row.pg_ratio
                        .map_or("-".to_owned(), |ratio| format!("{ratio:.2}")),
                    row.s3_ratio
                        .map_or("-".to_owned(), |ratio| format!("{ratio:.2}")),
                    row.model_ratio
                        .map_or("-".to_owned(), |ratio| format!("{ratio:.2}")),
                    format!("{:.0}", row.sim_seconds_per_second),
                ]);
            }
            print!("{}", crate::cli::render_table(&table));
            println!();
            if args.strategy_runs > 0 {
                println!();
                print!(
                    "{}",
                    strategy_table(&result.scenarios, scenarios, args.strategy_runs)
                );
            }
        }
    }
    ExitCode::SUCCESS
}

/// The strategy table: for each scenario and strategy, runs to the first failure and the
/// failure rate, and the distinct commit orders each strategy exercised.
fn strategy_table(rows: &[BenchRow], scenarios: &[Scenario], runs: u64) -> String {
    let mut table = vec![[
        "scenario",
        "expect",
        "random",
        "pct",
        "dfs",
        "orders random/pct/dfs",
        "dfs seeds covered",
    ]
    .map(str::to_owned)
    .to_vec()];
    for row in rows {
        let rate = |strategy| row.strategies.iter().find(|rate| rate.strategy == strategy);
        let cell = |strategy| rate(strategy).map_or("-".to_owned(), rate_cell);
        let orders =
            |strategy| rate(strategy).map_or("-".to_owned(), |rate| rate.orders.to_string());
        let expect = scenarios
            .iter()
            .find(|scenario| scenario.name() == row.scenario)
            .map_or("-".to_owned(), |scenario| {
                scenario.expectation().to_string()
            });
        table.push(vec![
            row.scenario.clone(),
            expect,
            cell(Strategy::Random),
            cell(Strategy::Pct),
            cell(Strategy::Dfs),
            format!(
                "{}/{}/{}",
                orders(Strategy::Random),
                orders(Strategy::Pct),
                orders(Strategy::Dfs)
            ),
            rate(Strategy::Dfs)
                .and_then(|rate| rate.seeds_covered)
                .map_or("-".to_owned(), |seeds| seeds.to_string()),
        ]);
    }
    format!(
        "runs to the first failure (failure rate) over {runs} runs: seeds 0..{runs} under random and pct, schedules of seeds 0, 1, … under dfs\n{}",
        crate::cli::render_table(&table)
    )
}

/// Measures one scenario and its floor over the same number of seeds, on one thread.
pub fn measure(scenario: &Scenario, seeds: u64) -> BenchRow {
    measure_jobs(scenario, seeds, 1)
}

/// Seeds in one turn of [`measure_jobs`]: dosim runs a block, then each floor the same block.
const BLOCK_SEEDS: u64 = 10;

/// Measures one scenario and its floor over the same number of seeds, then the scenario again
/// on `jobs` threads.
pub fn measure_jobs(scenario: &Scenario, seeds: u64, jobs: usize) -> BenchRow {
    let (reference, capture) = crate::floor::capturing(|| scenario.run(0));
    let requests = capture.requests;
    // Each actor's operations and how long it lived: an actor that ends early stops costing
    // steps, in dosim and in the floors alike.
    let per_actor: Vec<ActorLoad> = reference
        .actors
        .iter()
        .map(|actor| {
            let ops = reference.ops.iter().filter(|op| op.actor == actor.name);
            let sql = ops.clone().filter(|op| op.method == "SQL").count();
            let s3 = (capture.spaces_actors.iter())
                .filter(|sender| **sender == actor.name)
                .count();
            ActorLoad {
                http: ops.count().saturating_sub(sql + s3),
                sql,
                s3,
                lifetime_ms: actor.end_ms.unwrap_or(reference.sim_ms),
            }
        })
        .collect();
    let hosts = scenario.host_count();
    let services = hosts.saturating_sub(1 + per_actor.len());

    let has_sql = per_actor.iter().any(|load| load.sql > 0);
    let has_s3 = cfg!(feature = "s3-sdk") && per_actor.iter().any(|load| load.s3 > 0);
    // Only where every operation is an API request: the model floor sends nothing else.
    let has_model = requests.len() == reference.ops.len();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime builds");

    // dosim and its floors take turns over blocks of seeds, so that a machine whose speed
    // drifts (a shared host, a neighbour's build) slows them alike and the ratios hold.
    let mut sim_ms = 0u64;
    let (mut dosim_s, mut floor_s, mut pg_floor_s, mut model_s) = (0.0, 0.0, 0.0, 0.0);
    #[cfg_attr(not(feature = "s3-sdk"), allow(unused_mut))]
    let mut s3_floor_s = 0.0;
    let mut block_start = 0;
    while block_start < seeds {
        let block = block_start..seeds.min(block_start + BLOCK_SEEDS);
        block_start = block.end;

        let started = WallClock::start();
        for seed in block.clone() {
            sim_ms += scenario.run(seed).sim_ms;
        }
        dosim_s += started.elapsed_s();

        let started = WallClock::start();
        for seed in block.clone() {
            // A floor is plain turmoil, hyper and tokio-postgres; it does not fail (its tests
            // run it).
            let _ = crate::floor::http_floor_run(seed, scenario.tick, services, &per_actor);
        }
        floor_s += started.elapsed_s();

        if has_sql {
            let started = WallClock::start();
            // The floor's PostgreSQL server is one of the scenario's database hosts, not one
            // more beside them.
            let pg_services = services.saturating_sub(usize::from(!scenario.databases.is_empty()));
            for seed in block.clone() {
                let _ = crate::floor::pg_floor_run(seed, scenario.tick, pg_services, &per_actor);
            }
            pg_floor_s += started.elapsed_s();
        }

        #[cfg(feature = "s3-sdk")]
        if has_s3 {
            let started = WallClock::start();
            for seed in block.clone() {
                let _ = crate::floor::s3_floor_run(seed, scenario.tick, services, &per_actor);
            }
            s3_floor_s += started.elapsed_s();
        }

        if has_model {
            let started = WallClock::start();
            for _ in block {
                let _ = crate::floor::model_floor_run(scenario, &requests, &runtime);
            }
            model_s += started.elapsed_s();
        }
    }
    let pg_floor_s = has_sql.then_some(pg_floor_s);
    let s3_floor_s = has_s3.then_some(s3_floor_s);
    let model_s = has_model.then_some(model_s);

    let per_second = |seconds: f64| {
        if seconds > 0.0 {
            seeds as f64 / seconds
        } else {
            0.0
        }
    };
    let (seeds_per_second, floor_seeds_per_second) = (per_second(dosim_s), per_second(floor_s));
    let ratio = |floor: f64| {
        if seeds_per_second > 0.0 {
            floor / seeds_per_second
        } else {
            0.0
        }
    };
    let pg_floor_seeds_per_second = pg_floor_s.map(per_second);
    let model_floor_seeds_per_second = model_s.map(per_second);
    let s3_floor_seeds_per_second = s3_floor_s.map(per_second);
    let seeds_per_second_jobs = if jobs == 1 {
        seeds_per_second
    } else {
        let started = WallClock::start();
        run_on_threads(scenario, seeds, jobs);
        per_second(started.elapsed_s())
    };
    BenchRow {
        scenario: scenario.name().to_owned(),
        seeds,
        hosts,
        requests: reference.ops.len(),
        seeds_per_second,
        jobs,
        seeds_per_second_jobs,
        strategies: Vec::new(),
        floor_seeds_per_second,
        ratio: ratio(floor_seeds_per_second),
        pg_floor_seeds_per_second,
        pg_ratio: pg_floor_seeds_per_second.map(ratio),
        s3_floor_seeds_per_second,
        s3_ratio: s3_floor_seeds_per_second.map(ratio),
        model_floor_seeds_per_second,
        model_ratio: model_floor_seeds_per_second.map(ratio),
        sim_seconds_per_second: if dosim_s > 0.0 {
            sim_ms as f64 / 1000.0 / dosim_s
        } else {
            0.0
        },
    }
}

/// Runs seeds `0..seeds` on `jobs` threads, as `explore --jobs` does.
fn run_on_threads(scenario: &Scenario, seeds: u64, jobs: usize) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let next = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::SeqCst);
                if seed >= seeds {
                    break;
                }
                scenario.run(seed);
            });
        }
    });
}

/// A scenario dominated by a provisioning wait: one droplet that takes a minute to boot,
/// polled every second until it is active.
pub fn provisioning_scenario() -> Scenario {
    let config = dosim_cloud::CloudConfig {
        droplet_provision_ms: 60_000,
        ..Default::default()
    };
    Scenario::new("provisioning_one_minute")
        .cloud_config(config)
        .actors(1, |cx: crate::Actor| async move {
            crate::bench_support::create_and_wait(&cx).await
        })
}
