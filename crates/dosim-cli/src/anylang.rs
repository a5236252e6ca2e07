//! `dosim test -- COMMAND`: explores a program written in any language against fresh servers,
//! one per seed, with the order of its concurrent requests drawn from the seed.

mod checks;
mod gate;
mod listen;
mod report;
mod run;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use dosim::cli::Format;
use dosim::faults::FaultId;
use dosim::Seeds;
use dosim_api::FaultPlan;

pub use gate::Strategy;
use report::{Report, Reproduction};

/// The most replays `--reproduce` runs.
const REPRODUCE_MAX: u32 = 1000;

/// The most runs shrinking a failing seed's faults takes.
const SHRINK_RUNS_MAX: u64 = 32;

#[derive(Debug, Args)]
#[command(after_help = after_help())]
pub struct TestArgs {
    /// Seeds to run, `A..B` (a fresh server for each). Default `0..20`.
    #[arg(long, value_parser = parse_seeds, conflicts_with = "seed")]
    seeds: Option<Seeds>,

    /// Runs this one seed (decimal or 0x-hex) and prints its report, failing or not.
    #[arg(long, value_parser = dosim::seed::parse_seed)]
    seed: Option<u64>,

    /// How the gate orders concurrent requests: `random` (uniform among those waiting) or `pct`
    /// (priorities per actor, lowered at seeded change points).
    #[arg(long, value_enum, default_value_t = Strategy::Random)]
    strategy: Strategy,

    /// PCT's depth: one more than its number of priority change points.
    #[arg(long, value_name = "D", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pct_depth: u32,

    /// Seconds one run of the command may take; then its process group is killed and the run fails `exit-status`.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    timeout: f64,

    /// Seeds run at once, each on its own server and its own copy of the command.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    jobs: u32,

    /// How much faster than real time simulated time runs (100: a droplet's 30 s boot takes 0.3 s).
    #[arg(long, value_name = "X", default_value_t = 100.0)]
    time_scale: f64,

    /// Fault plan file, TOML or JSON, as `dosim serve --faults` takes it.
    #[arg(long, value_name = "FILE")]
    faults: Option<PathBuf>,

    /// Fires only these of the plan's faults, as a report's `replay minimal` line lists them
    /// (`drop.0.1,reject.1.0`, or `none`); the others are drawn but do not fire.
    #[arg(long, value_name = "IDS", value_parser = parse_fault_set, requires = "faults")]
    only_faults: Option<dosim::faults::FaultSet>,

    /// Does not look for the fewest faults that still fail a failing seed.
    #[arg(long)]
    no_shrink: bool,

    /// A check to run (repeat for several); replaces the default set. See the list below.
    #[arg(long = "check", value_name = "NAME", value_parser = checks::parse_check)]
    checks: Vec<String>,

    /// A database user that must exist at the end, as CLUSTER/USER (repeat for several); turns on
    /// the `database-users-and-dbs-present` check.
    #[arg(long, value_name = "CLUSTER/USER", value_parser = checks::parse_member)]
    require_db_user: Vec<(String, String)>,

    /// A database (db) that must exist at the end, as CLUSTER/DB (repeat for several); turns on
    /// the `database-users-and-dbs-present` check.
    #[arg(long, value_name = "CLUSTER/DB", value_parser = checks::parse_member)]
    require_db: Vec<(String, String)>,

    /// A shell command run after the program, with DOSIM_STATE and DOSIM_HISTORY naming the
    /// final state dump and the request history (JSON files); the run fails when it exits non-zero.
    #[arg(long, value_name = "CMD")]
    check_command: Option<String>,

    /// Replays the first failing seed this many times and reports how often it failed the same check again.
    #[arg(long, value_name = "K", default_value_t = 10)]
    reproduce: u32,

    /// Writes each failing seed's report (text and JSON), its history, final state and output into this folder.
    #[arg(long, value_name = "DIR")]
    save_failures: Option<PathBuf>,

    /// Keeps running seeds after the first failure.
    #[arg(long)]
    keep_going: bool,

    /// Milliseconds of quiet (no request arriving, no commit finishing) after which the gate
    /// decides among the requests waiting, when some open connection has none waiting.
    #[arg(long, value_name = "MS", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    window_ms: u64,

    /// Output format of the result.
    #[arg(long, value_enum, default_value_t)]
    format: Format,

    /// The program to run, after `--`, with its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

fn after_help() -> String {
    let mut text = String::from("Checks (--check NAME; * marks the default set):\n");
    for (name, default, what) in checks::CHECKS {
        let mark = if *default { "*" } else { " " };
        text.push_str(&format!("  {mark} {name}: {what}\n"));
    }
    text.push_str(
        "\nThe command's environment: DIGITALOCEAN_API_URL (http://127.0.0.1:PORT), DIGITALOCEAN_END_POINT (…/v2/),\n\
         DIGITALOCEAN_TOKEN and DIGITALOCEAN_ACCESS_TOKEN, TF_VAR_do_api_url and TF_VAR_do_token, DOSIM_SEED;\n\
         Spaces at AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_S3, SPACES_ENDPOINT_URL) with a full-access key pair in\n\
         AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and SPACES_ACCESS_KEY_ID / SPACES_SECRET_ACCESS_KEY), AWS_REGION=nyc3.\n\
         Managed PostgreSQL and Valkey clusters the program creates answer at their connection URIs on loopback.\n\
         Name a thread's requests with an `x-dosim-actor` header; otherwise each connection is an actor.\n\
         Exit status: 0 when no seed fails, 1 when one does, 2 on bad flags. See docs/test-any-language.md.",
    );
    text
}

fn parse_seeds(text: &str) -> Result<Seeds, String> {
    text.parse()
}

fn parse_fault_set(text: &str) -> Result<dosim::faults::FaultSet, String> {
    text.parse()
}

/// The validated flags every run shares.
pub struct Config {
    command: Vec<String>,
    strategy: Strategy,
    pct_depth: u32,
    timeout: Duration,
    time_scale: f64,
    faults: FaultPlan,
    faults_flag: Option<PathBuf>,
    /// `--only-faults`.
    only_faults: Option<dosim::faults::FaultSet>,
    checks: Vec<String>,
    check_command: Option<String>,
    /// What `--require-db-user` and `--require-db` name.
    required: Vec<checks::Required>,
    window: Duration,
    hold_max: Duration,
}

impl Config {
    /// The faults `--only-faults` allows, if it was given.
    fn allowed(&self) -> Option<&BTreeSet<FaultId>> {
        self.only_faults.as_ref().map(|set| &set.0)
    }

    /// The command line that replays `seed`, firing only `allowed` of the plan's faults when given.
    fn replay_line(&self, seed: u64, allowed: Option<&BTreeSet<FaultId>>) -> String {
        let mut line = format!("dosim test --seed {seed} --strategy {}", self.strategy);
        if let Some(faults) = &self.faults_flag {
            line.push_str(&format!(" --faults {}", faults.display()));
        }
        if let Some(allowed) = allowed {
            let set = dosim::faults::FaultSet(allowed.clone());
            line.push_str(&format!(" --only-faults {set}"));
        }
        line.push_str(" -- ");
        line.push_str(&self.command.join(" "));
        line
    }
}

/// `dosim test`: 0 when no seed fails, 1 when one does, 2 when it cannot run.
pub fn main(args: TestArgs) -> ExitCode {
    match run(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn validate(args: &TestArgs) -> anyhow::Result<Config> {
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        anyhow::bail!(
            "--time-scale must be a number greater than 0, got {}",
            args.time_scale
        );
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 86_400.0) {
        anyhow::bail!(
            "--timeout must be a number of seconds from 0 to 86400, got {}",
            args.timeout
        );
    }
    if args.reproduce > REPRODUCE_MAX {
        anyhow::bail!(
            "--reproduce must be at most {REPRODUCE_MAX}, got {}",
            args.reproduce
        );
    }
    let faults = match &args.faults {
        Some(path) => {
            crate::serve::read_plan(path).with_context(|| format!("--faults {}", path.display()))?
        }
        None => FaultPlan::default(),
    };
    let window = Duration::from_millis(args.window_ms);
    let required: Vec<checks::Required> = args
        .require_db_user
        .iter()
        .map(|m| (m, checks::MemberKind::User))
        .chain(args.require_db.iter().map(|m| (m, checks::MemberKind::Db)))
        .map(|((cluster, name), kind)| checks::Required {
            cluster: cluster.clone(),
            kind,
            name: name.clone(),
        })
        .collect();
    let mut checks = if args.checks.is_empty() {
        checks::defaults()
    } else {
        args.checks.clone()
    };
    let present = "database-users-and-dbs-present";
    if !required.is_empty() && !checks.iter().any(|c| c == present) {
        checks.push(present.to_owned());
    }
    Ok(Config {
        command: args.command.clone(),
        strategy: args.strategy,
        pct_depth: args.pct_depth,
        timeout: Duration::from_secs_f64(args.timeout),
        time_scale: args.time_scale,
        faults,
        faults_flag: args.faults.clone(),
        only_faults: args.only_faults.clone(),
        checks,
        check_command: args.check_command.clone(),
        required,
        window,
        hold_max: window * 20,
    })
}

/// Runs the sweep; `Ok(true)` when no seed failed.
fn run(args: TestArgs) -> anyhow::Result<bool> {
    let config = Arc::new(validate(&args)?);
    let seeds = match args.seed {
        Some(seed) => seed..seed.saturating_add(1),
        None => args.seeds.clone().map_or(0..20, |seeds| seeds.0),
    };
    let work = std::env::temp_dir().join(format!("dosim-test-{}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let outcome = runtime.block_on(sweep(
        config.clone(),
        seeds.clone(),
        args.jobs,
        args.keep_going,
        work.clone(),
    ));
    let result = finish(&args, &config, &runtime, outcome, seeds, &work);
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Measures reproduction, saves and prints the sweep's result.
fn finish(
    args: &TestArgs,
    config: &Config,
    runtime: &tokio::runtime::Runtime,
    outcome: anyhow::Result<(Vec<Report>, u64, f64)>,
    seeds: std::ops::Range<u64>,
    work: &std::path::Path,
) -> anyhow::Result<bool> {
    let (mut reports, seeds_run, elapsed) = outcome?;
    reports.sort_by_key(|report| report.seed);
    if !args.no_shrink {
        if let Some(first) = reports.iter_mut().find(|report| report.failed()) {
            first.minimal = runtime.block_on(shrink(config, first, work))?;
        }
    }
    if args.reproduce > 0 {
        if let Some(first) = reports.iter_mut().find(|report| report.failed()) {
            let reproduction = runtime.block_on(reproduce(config, first, args.reproduce, work))?;
            first.reproduction = Some(reproduction);
        }
    }
    if let Some(dir) = &args.save_failures {
        save(dir, &reports, work)?;
    }
    let seeds_per_second = if elapsed > 0.0 {
        seeds_run as f64 / elapsed
    } else {
        0.0
    };
    print(args, config, &reports, seeds, seeds_run, seeds_per_second)?;
    Ok(!reports.iter().any(Report::failed))
}

/// Runs the seeds on `jobs` workers, in ascending order; stops taking seeds after a failure
/// unless `keep_going`. Returns the reports of failing seeds (every seed's with `--seed`), how
/// many seeds ran and the seconds it took.
async fn sweep(
    config: Arc<Config>,
    seeds: std::ops::Range<u64>,
    jobs: u32,
    keep_going: bool,
    work: PathBuf,
) -> anyhow::Result<(Vec<Report>, u64, f64)> {
    let next = Arc::new(AtomicU64::new(seeds.start));
    let stop = Arc::new(AtomicBool::new(false));
    let ran = Arc::new(AtomicU64::new(0));
    let single = seeds.end - seeds.start == 1;
    let started = tokio::time::Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..jobs {
        let (config, next, stop, ran, work) = (
            config.clone(),
            next.clone(),
            stop.clone(),
            ran.clone(),
            work.clone(),
        );
        let end = seeds.end;
        workers.spawn(async move {
            let mut reports = Vec::new();
            loop {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let seed = next.fetch_add(1, Ordering::SeqCst);
                if seed >= end {
                    break;
                }
                let dir = work.join(format!("seed-{seed}"));
                let report = run::run_seed(&config, seed, &dir, config.allowed()).await?;
                ran.fetch_add(1, Ordering::SeqCst);
                progress(&report);
                if report.failed() {
                    if !keep_going {
                        stop.store(true, Ordering::SeqCst);
                    }
                    keep_files(&dir, &work, seed);
                }
                if report.failed() || single {
                    reports.push(report);
                }
                let _ = std::fs::remove_dir_all(&dir);
            }
            anyhow::Ok(reports)
        });
    }
    let mut reports = Vec::new();
    while let Some(joined) = workers.join_next().await {
        reports.extend(joined.context("a worker stopped")??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok((reports, ran.load(Ordering::SeqCst), elapsed))
}

/// Keeps a failing seed's files (output, state, history) beside the sweep's folder for `--save-failures`.
fn keep_files(dir: &std::path::Path, work: &std::path::Path, seed: u64) {
    let kept = work.join(format!("kept-{seed}"));
    let _ = std::fs::rename(dir, kept);
}

fn progress(report: &Report) {
    let verdict = match report.first_check() {
        Some(check) => format!("failed {check}"),
        None => "clean".to_owned(),
    };
    eprintln!(
        "dosim test: seed {} {verdict} ({} requests, {} ms)",
        report.seed, report.requests, report.wall_ms
    );
}

/// Looks for the fewest of a failing seed's injected faults that still fail its first check:
/// each fault in turn is left out, and stays out when the seed still fails that check without it.
/// `None` when no fault fired (nothing to shrink).
async fn shrink(
    config: &Config,
    report: &Report,
    work: &std::path::Path,
) -> anyhow::Result<Option<dosim::report::Minimal>> {
    if report.fired.is_empty() {
        return Ok(None);
    }
    let check = report.first_check().unwrap_or_default().to_owned();
    let mut needed: Vec<(FaultId, String)> = report.fired.clone();
    let (mut runs, mut complete) = (0u64, true);
    let mut i = 0;
    while i < needed.len() {
        if runs == SHRINK_RUNS_MAX {
            complete = false;
            break;
        }
        let trial: BTreeSet<FaultId> = needed
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, (id, _))| *id)
            .collect();
        let dir = work.join(format!("shrink-{}-{runs}", report.seed));
        let run = run::run_seed(config, report.seed, &dir, Some(&trial)).await?;
        let _ = std::fs::remove_dir_all(&dir);
        runs += 1;
        let still = run.violations.iter().any(|v| v.check == check);
        eprintln!(
            "dosim test: shrinking seed {}: without {} it {}",
            report.seed,
            needed[i].0,
            if still { "still fails" } else { "passes" }
        );
        if still {
            needed.remove(i);
        } else {
            i += 1;
        }
    }
    let ids: BTreeSet<FaultId> = needed.iter().map(|(id, _)| *id).collect();
    let replay =
        (ids.len() < report.fired.len()).then(|| config.replay_line(report.seed, Some(&ids)));
    Ok(Some(dosim::report::Minimal {
        check,
        faults_injected: report.fired.len(),
        faults: needed.into_iter().map(|(_, sentence)| sentence).collect(),
        fault_ids: dosim::faults::FaultSet(ids).to_string(),
        runs,
        complete,
        replay,
        delays: 0,
    }))
}

/// Replays the report's seed `runs` times and counts the replays that fail its first check again.
async fn reproduce(
    config: &Config,
    report: &Report,
    runs: u32,
    work: &std::path::Path,
) -> anyhow::Result<Reproduction> {
    let check = report.first_check().unwrap_or_default().to_owned();
    let mut reproduced = 0;
    for attempt in 0..runs {
        let dir = work.join(format!("replay-{}-{attempt}", report.seed));
        let replay = run::run_seed(config, report.seed, &dir, config.allowed()).await?;
        let _ = std::fs::remove_dir_all(&dir);
        let again = replay
            .violations
            .iter()
            .any(|violation| violation.check == check);
        eprintln!(
            "dosim test: replay {} of seed {}: {}",
            attempt + 1,
            report.seed,
            if again {
                "failed again"
            } else {
                "did not fail"
            }
        );
        reproduced += u32::from(again);
    }
    Ok(Reproduction { runs, reproduced })
}

fn save(dir: &std::path::Path, reports: &[Report], work: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--save-failures {}: cannot create it", dir.display()))?;
    for report in reports.iter().filter(|report| report.failed()) {
        let stem = format!("seed-{}", report.seed);
        std::fs::write(dir.join(format!("{stem}.txt")), report.to_text())?;
        std::fs::write(dir.join(format!("{stem}.json")), report.to_json())?;
        let kept = work.join(format!("kept-{}", report.seed));
        for file in ["history.json", "state.json", "stdout.txt", "stderr.txt"] {
            let _ = std::fs::copy(kept.join(file), dir.join(format!("{stem}-{file}")));
        }
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct Summary<'a> {
    command: String,
    seeds: String,
    strategy: String,
    seeds_run: u64,
    seeds_per_second: f64,
    failed: bool,
    reports: &'a [Report],
}

fn print(
    args: &TestArgs,
    config: &Config,
    reports: &[Report],
    seeds: std::ops::Range<u64>,
    seeds_run: u64,
    seeds_per_second: f64,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let summary = Summary {
                command: config.command.join(" "),
                seeds: format!("{}..{}", seeds.start, seeds.end),
                strategy: config.strategy.to_string(),
                seeds_run,
                seeds_per_second: (seeds_per_second * 100.0).round() / 100.0,
                failed: reports.iter().any(Report::failed),
                reports,
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
        }
        Format::Text => {
            for report in reports {
                write!(out, "{}", report.to_text())?;
            }
            if !reports.iter().any(Report::failed) {
                writeln!(
                    out,
                    "clean: `{}` over seeds {}..{} ({}): {seeds_run} seeds, {seeds_per_second:.2} seeds/s",
                    config.command.join(" "),
                    seeds.start,
                    seeds.end,
                    config.strategy
                )?;
            } else {
                writeln!(
                    out,
                    "{seeds_run} seed(s) run, {seeds_per_second:.2} seeds/s"
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
