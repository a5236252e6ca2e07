//! Runs seeds `0..N` of one catalog scenario and nothing else: no checks, no report, no floor.
//! It is the workload profiled for `docs/performance.md`, the same `Scenario::run` that
//! `dosim bench` times.
//!
//! ```sh
//! cargo build --release -p dosim-cli --example seeds
//! ./target/release/examples/seeds two_pods_create_one_volume 200
//! ```

#[path = "common/args.rs"]
mod args;

use std::process::ExitCode;

fn main() -> ExitCode {
    let (scenario, seeds) = match args::scenario_and_count("seeds SCENARIO N") {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let name = scenario.name();
    let mut ops = 0;
    for seed in 0..seeds {
        ops += scenario.run(seed).ops.len();
    }
    println!("{name}: {seeds} seeds, {ops} operations");
    ExitCode::SUCCESS
}
