//! Runs seeds `0..N` of one catalog scenario and nothing else: no checks, no report, no floor.
//! It is the workload profiled for `docs/performance.md`, the same `Scenario::run` that
//! `dosim bench` times.
//!
//! ```sh
//! cargo build --release -p dosim-cli --example seeds
//! ./target/release/examples/seeds two_pods_create_one_volume 200
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, seeds] = args.as_slice() else {
        eprintln!("usage: seeds SCENARIO N");
        return ExitCode::from(2);
    };
    let Ok(seeds) = seeds.parse::<u64>() else {
        eprintln!("N must be a whole number, got {seeds:?}");
        return ExitCode::from(2);
    };
    let catalog = dosim_sims::catalog();
    let Some(scenario) = catalog.iter().find(|scenario| scenario.name() == name) else {
        eprintln!("no scenario named {name:?}");
        return ExitCode::from(2);
    };
    let mut ops = 0;
    for seed in 0..seeds {
        ops += scenario.run(seed).ops.len();
    }
    println!("{name}: {seeds} seeds, {ops} operations");
    ExitCode::SUCCESS
}
