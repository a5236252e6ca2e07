//! The command line every dosim binary shares: `list`, `explore`, `replay`, `bench`.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use std::path::PathBuf;

use crate::explore::explore_strategy;
use crate::report::Report;
use crate::run::RunSpec;
use crate::scenario::Scenario;
use crate::seed::{parse_seed, Seeds};
use crate::sweep::{ExploreRow, Shard};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Text for people.
    #[default]
    Text,
    /// JSON for programs.
    Json,
}

/// Run, explore and replay dosim scenarios.
#[derive(Debug, Parser)]
#[command(name = "dosim", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The harness's subcommands; a binary with more commands (such as `serve`) flattens these into its own.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The scenarios this binary knows, with what each expects (race or clean).
    List(ListArgs),
    /// Runs seeds over scenarios and says whether each found what it expects.
    Explore(ExploreArgs),
    /// The report of one seed, identical on every run.
    Replay(ReplayArgs),
    /// Seeds per second of every scenario against its floors: bare turmoil and hyper with the same
    /// hosts and requests, the same with SQL over the PostgreSQL protocol or Spaces requests
    /// through aws-sdk-s3 to a minimal server, and the model floor (seed 0's requests sent again
    /// to the API in process, no network).
    Bench(BenchArgs),
    /// Merges the JSON results of several `explore` runs (the shards of one sweep) into one.
    Merge(MergeArgs),
}

/// `dosim list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `dosim explore`.
#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// Scenarios to explore (default: all).
    pub sims: Vec<String>,
    /// Seeds to run, `A..B` (default: each scenario's default sweep).
    #[arg(long, value_parser = parse_seeds)]
    pub seeds: Option<Seeds>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Threads to run seeds on (default: one per core). The results do not depend on it.
    #[arg(long, value_parser = crate::explore::parse_jobs)]
    pub jobs: Option<usize>,
    /// Runs only shard K of N: the Kth of N contiguous blocks of the seed range, for a CI matrix.
    /// `dosim merge` joins the shards' JSON results.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Writes each failing seed's report (`<scenario>-seed-<N>.txt`) and result (`.json`) into
    /// this folder, creating it.
    #[arg(long, value_name = "DIR")]
    pub save_failures: Option<PathBuf>,
    /// How decisions are drawn (default: each scenario's own, `random` unless it says):
    /// `random`, `pct` (priorities over actors order concurrent commits, and each change point
    /// delays an operation), or `dfs` (for each seed's timing, every order of concurrent
    /// commits, every fault choice up to `--dfs-faults` and every delay up to `--dfs-delays`,
    /// up to `--dfs-bound` schedules per seed).
    #[arg(long, value_enum)]
    pub strategy: Option<crate::Strategy>,
    /// PCT's depth: one more than the number of priority change points per run.
    #[arg(long, value_parser = parse_pct_depth)]
    pub pct_depth: Option<u32>,
    /// The most schedules `dfs` runs for one seed before it stops without covering its space.
    #[arg(long, value_parser = parse_dfs_bound)]
    pub dfs_bound: Option<u64>,
    /// How many injected faults one `dfs` schedule may fire (default 1; 0 explores orders only).
    #[arg(long, value_parser = parse_dfs_faults)]
    pub dfs_faults: Option<u32>,
    /// How many operations one `dfs` schedule may delay, holding each at its server until
    /// another host's operation commits (default 1; 0 explores orders only).
    #[arg(long, value_parser = parse_dfs_delays)]
    pub dfs_delays: Option<u32>,
}

/// `dosim merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Results of `dosim explore --format json`, one file per shard.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `dosim replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The scenario.
    pub sim: String,
    /// The seed, decimal or 0x-hex.
    #[arg(long, value_parser = parse_seed, required_unless_present = "schedule", default_value = "0", hide_default_value = true)]
    pub seed: u64,
    /// How decisions are drawn (default: the scenario's own), as in `explore`.
    #[arg(long, value_enum)]
    pub strategy: Option<crate::Strategy>,
    /// PCT's depth, as in `explore`.
    #[arg(long, value_parser = parse_pct_depth)]
    pub pct_depth: Option<u32>,
    /// Replays a schedule from a `pct` or `dfs` report (`pct:7:1.0.0.1`): its seed, and every
    /// decision taken from its list.
    #[arg(long, value_parser = parse_schedule, conflicts_with_all = ["seed", "strategy", "pct_depth"])]
    pub schedule: Option<crate::strategy::Schedule>,
    /// Prints the full trace instead of the report.
    #[arg(long)]
    pub trace: bool,
    /// Allows only these injected faults, as a report's `replay minimal` line lists them
    /// (`drop.0.0,net.1`, or `none`); every other fault decision is forced off.
    #[arg(long, value_name = "FAULTS", value_parser = parse_fault_set)]
    pub faults: Option<crate::faults::FaultSet>,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `dosim bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenarios to measure (default: all).
    pub sims: Vec<String>,
    /// Seeds per scenario.
    #[arg(long, default_value_t = 20)]
    pub seeds: u64,
    /// Threads for the parallel measurement (default: one per core).
    #[arg(long, value_parser = crate::explore::parse_jobs)]
    pub jobs: Option<usize>,
    /// Runs per strategy for the strategy table (runs to the first failure and failure rate
    /// under random, pct and dfs); 0 leaves the table out.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub strategy_runs: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

fn parse_seeds(text: &str) -> Result<Seeds, String> {
    text.parse()
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    text.parse()
}

fn parse_fault_set(text: &str) -> Result<crate::faults::FaultSet, String> {
    text.parse()
}

fn parse_schedule(text: &str) -> Result<crate::strategy::Schedule, String> {
    text.parse()
}

fn parse_pct_depth(text: &str) -> Result<u32, String> {
    let max = crate::strategy::PCT_DEPTH_MAX;
    match text.trim().parse::<u32>() {
        Ok(depth) if (1..=max).contains(&depth) => Ok(depth),
        _ => Err(format!(
            "`{text}` is not a PCT depth: write a whole number from 1 to {max}"
        )),
    }
}

fn parse_dfs_bound(text: &str) -> Result<u64, String> {
    let max = crate::scenario::DFS_BOUND_MAX;
    match text.trim().replace('_', "").parse::<u64>() {
        Ok(bound) if (1..=max).contains(&bound) => Ok(bound),
        _ => Err(format!(
            "`{text}` is not a dfs bound: write a whole number from 1 to {max}"
        )),
    }
}

fn parse_dfs_faults(text: &str) -> Result<u32, String> {
    let max = crate::scenario::DFS_FAULTS_MAX;
    match text.trim().parse::<u32>() {
        Ok(faults) if faults <= max => Ok(faults),
        _ => Err(format!(
            "`{text}` is not a dfs fault bound: write a whole number from 0 to {max}"
        )),
    }
}

fn parse_dfs_delays(text: &str) -> Result<u32, String> {
    let max = crate::scenario::DFS_DELAYS_MAX;
    match text.trim().parse::<u32>() {
        Ok(delays) if delays <= max => Ok(delays),
        _ => Err(format!(
            "`{text}` is not a dfs delay bound: write a whole number from 0 to {max}"
        )),
    }
}

/// The strategy settings a command line may give.
#[derive(Debug, Default, Clone, Copy)]
struct Tuning {
    pct_depth: Option<u32>,
    dfs_bound: Option<u64>,
    dfs_faults: Option<u32>,
    dfs_delays: Option<u32>,
}

/// The scenario with the command line's strategy settings applied.
fn configured(scenario: &Scenario, tuning: Tuning) -> std::borrow::Cow<'_, Scenario> {
    let Tuning {
        pct_depth,
        dfs_bound,
        dfs_faults,
        dfs_delays,
    } = tuning;
    if pct_depth.is_none() && dfs_bound.is_none() && dfs_faults.is_none() && dfs_delays.is_none() {
        return std::borrow::Cow::Borrowed(scenario);
    }
    let mut scenario = scenario.clone();
    if let Some(faults) = dfs_faults {
        scenario = scenario.dfs_faults(faults);
    }
    if let Some(delays) = dfs_delays {
        scenario = scenario.dfs_delays(delays);
    }
    if let Some(depth) = pct_depth {
        scenario = scenario.pct_depth(depth);
    }
    if let Some(bound) = dfs_bound {
        scenario = scenario.dfs_bound(bound);
    }
    std::borrow::Cow::Owned(scenario)
}

/// The default thread count: one per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// The whole command line for a binary whose scenarios are `scenarios`: parses the arguments,
/// runs the command, and returns the exit status.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     dosim::cli::main(vec![/* your scenarios */])
/// }
/// ```
pub fn main(scenarios: Vec<Scenario>) -> ExitCode {
    let cli = Cli::parse();
    run(cli.command, &scenarios)
}

/// Runs one command over `scenarios`. Exit status: 0 on success (for `explore`, exactly when every
/// outcome matches its expectation), 1 when an outcome differs, 2 on bad arguments.
pub fn run(command: Command, scenarios: &[Scenario]) -> ExitCode {
    match command {
        Command::List(args) => list(&args, scenarios),
        Command::Explore(args) => explore(&args, scenarios),
        Command::Replay(args) => replay(&args, scenarios),
        Command::Bench(args) => crate::bench::bench(&args, scenarios),
        Command::Merge(args) => merge(&args),
    }
}

/// [`run`], as a process exit status number, for binaries whose `main` returns something else.
pub fn run_status(command: Command, scenarios: &[Scenario]) -> u8 {
    match command {
        Command::List(args) => status(list(&args, scenarios)),
        Command::Explore(args) => status(explore(&args, scenarios)),
        Command::Replay(args) => status(replay(&args, scenarios)),
        Command::Bench(args) => status(crate::bench::bench(&args, scenarios)),
        Command::Merge(args) => status(merge(&args)),
    }
}

fn status(code: ExitCode) -> u8 {
    // ExitCode hides its number; every path here returns one of these three.
    if code == ExitCode::SUCCESS {
        0
    } else if code == ExitCode::from(2) {
        2
    } else {
        1
    }
}

#[derive(Serialize)]
struct Listed<'a> {
    name: &'a str,
    expect: crate::Expect,
}

fn list(args: &ListArgs, scenarios: &[Scenario]) -> ExitCode {
    let listed: Vec<Listed<'_>> = scenarios
        .iter()
        .map(|scenario| Listed {
            name: scenario.name(),
            expect: scenario.expectation(),
        })
        .collect();
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&listed).expect("names and expectations serialize")
        ),
        Format::Text => {
            let width = listed
                .iter()
                .map(|item| item.name.len())
                .max()
                .unwrap_or(0)
                .max("scenario".len());
            println!("{:width$}  expect", "scenario");
            for item in &listed {
                println!("{:width$}  {}", item.name, item.expect);
            }
        }
    }
    ExitCode::SUCCESS
}

/// Picks the scenarios named in `sims`, or all of them; an unknown name is an error.
pub(crate) fn select<'a>(
    sims: &[String],
    scenarios: &'a [Scenario],
) -> Result<Vec<&'a Scenario>, String> {
    if sims.is_empty() {
        return Ok(scenarios.iter().collect());
    }
    sims.iter()
        .map(|name| {
            scenarios
                .iter()
                .find(|scenario| scenario.name() == name)
                .ok_or_else(|| {
                    let known = scenarios
                        .iter()
                        .map(Scenario::name)
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!("no scenario named {name}; known: {known}")
                })
        })
        .collect()
}

fn explore(args: &ExploreArgs, scenarios: &[Scenario]) -> ExitCode {
    let selected = match select(&args.sims, scenarios) {
        Ok(selected) => selected,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &args.save_failures {
        if let Err(error) = std::fs::create_dir_all(dir) {
            eprintln!("error: --save-failures: {}: {error}", dir.display());
            return ExitCode::from(2);
        }
    }
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    let mut rows = Vec::new();
    for scenario in selected {
        let scenario = configured(
            scenario,
            Tuning {
                pct_depth: args.pct_depth,
                dfs_bound: args.dfs_bound,
                dfs_faults: args.dfs_faults,
                dfs_delays: args.dfs_delays,
            },
        );
        let scenario = scenario.as_ref();
        let strategy = args.strategy.unwrap_or(scenario.strategy);
        let seeds = args
            .seeds
            .clone()
            .unwrap_or(Seeds(0..scenario.seeds_default));
        let seeds = match args.shard {
            Some(shard) => shard.seeds(&seeds),
            None => seeds,
        };
        let (total, unit) = if strategy == crate::Strategy::Dfs {
            (
                scenario.dfs_bound.saturating_mul(seeds.len()),
                "schedules at most",
            )
        } else {
            (seeds.len(), "seeds")
        };
        let started = crate::bench::WallClock::start();
        let mut stderr = std::io::stderr();
        // A progress line rewritten in place helps at a terminal; in a CI log every rewrite would
        // pile up on one line, so there only the line each scenario ends with is written.
        let live = std::io::IsTerminal::is_terminal(&stderr);
        let exploration = explore_strategy(scenario, &seeds, jobs, strategy, |run| {
            if live && (run == 1 || run % 10 == 0 || run == total) {
                let _ = write!(
                    stderr,
                    "\rexplore {}: {run}/{total} {unit}",
                    scenario.name()
                );
                let _ = stderr.flush();
            }
        });
        let found = match exploration.found {
            crate::explore::Found::Clean => "no race".to_owned(),
            found => found.to_string(),
        };
        let _ = writeln!(
            stderr,
            "{}explore {}: {}, {found}",
            if live { "\r\x1b[2K" } else { "" },
            scenario.name(),
            exploration.coverage(),
        );
        rows.push(ExploreRow::new(exploration, started.elapsed_s()));
    }
    if let Some(dir) = &args.save_failures {
        match crate::sweep::save_failures(dir, &rows) {
            Ok(written) => {
                for path in written {
                    eprintln!("saved {}", path.display());
                }
            }
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        }
    }
    print_rows(&rows, args.format)
}

fn merge(args: &MergeArgs) -> ExitCode {
    let merged = crate::sweep::read_results(&args.results).and_then(crate::sweep::merge);
    match merged {
        Ok(rows) => print_rows(&rows, args.format),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

/// Prints explore results; exit 0 exactly when every one matches its expectation.
fn print_rows(rows: &[ExploreRow], format: Format) -> ExitCode {
    let all_match = rows.iter().all(|row| row.matches_expectation);
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(rows).expect("explorations serialize")
        ),
        Format::Text => print!("{}", explore_table(rows)),
    }
    if all_match {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn explore_table(rows: &[ExploreRow]) -> String {
    let header = [
        "scenario",
        "expect",
        "outcome",
        "seeds",
        "first failing",
        "seeds/s",
        "replay",
    ]
    .map(str::to_owned);
    let mut table = vec![header.to_vec()];
    for row in rows {
        let exploration = &row.exploration;
        let outcome = if row.matches_expectation {
            exploration.found.to_string()
        } else {
            format!("{} (MISMATCH)", exploration.found)
        };
        table.push(vec![
            exploration.scenario.clone(),
            exploration.expect.to_string(),
            outcome,
            match exploration.schedules_run {
                Some(_) => exploration.coverage(),
                None => exploration.seeds_run.to_string(),
            },
            exploration
                .first_failing_seed
                .map_or("-".to_owned(), |seed| seed.to_string()),
            format!("{:.1}", row.seeds_per_second),
            exploration.replay().unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    let mut out = render_table(&table);
    for row in rows.iter().filter(|row| !row.matches_expectation) {
        if let Some(problem) = &row.exploration.problem {
            out.push_str(&format!("\n{problem}\n"));
        } else if let Some(report) = &row.exploration.report {
            out.push_str(&format!("\n{}", report.to_text()));
        }
    }
    out
}

/// Renders rows as a left-aligned table with two spaces between columns.
pub(crate) fn render_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(column, cell)| format!("{cell:width$}", width = widths[column]))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn replay(args: &ReplayArgs, scenarios: &[Scenario]) -> ExitCode {
    let scenario = match select(std::slice::from_ref(&args.sim), scenarios) {
        Ok(selected) => selected[0],
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = scenario.validate() {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    let scenario = configured(
        scenario,
        Tuning {
            pct_depth: args.pct_depth,
            ..Tuning::default()
        },
    );
    let scenario = scenario.as_ref();
    let strategy = args.strategy.unwrap_or(scenario.strategy);
    let seed = args
        .schedule
        .as_ref()
        .map_or(args.seed, |schedule| schedule.seed);
    let mut spec = match &args.schedule {
        Some(schedule) => RunSpec::schedule(schedule),
        None => RunSpec::seed(seed).strategy(strategy),
    };
    if let Some(faults) = &args.faults {
        spec = spec.faults(faults);
    }
    if args.trace {
        print!("{}", scenario.run(&spec).trace());
        return ExitCode::SUCCESS;
    }
    let report = match &args.faults {
        Some(faults) => {
            let outcome = scenario.run(&spec);
            let mut report =
                Report::new(&outcome, scenario.expectation(), scenario.verdict(&outcome));
            let base =
                crate::shrink::replay_command(scenario.name(), seed, &spec.steering(scenario));
            report.replay = vec![format!("{base} --faults {faults}")];
            report
        }
        None => scenario.report(&spec),
    };
    match args.format {
        Format::Json => println!("{}", report.to_json()),
        Format::Text => print!("{}", report.to_text()),
    }
    ExitCode::SUCCESS
}
