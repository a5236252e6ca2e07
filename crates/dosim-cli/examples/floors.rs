//! Measures one catalog scenario against its floors, as `dosim bench` does for each row, and
//! nothing else (no provisioning row, no strategy table): the workload
//! `scripts/floor-instructions.py` counts instructions of under callgrind, where a ratio does
//! not move with the machine's load as a wall-clock one does.
//!
//! ```sh
//! cargo build --release -p dosim-cli --example floors
//! ./target/release/examples/floors two_pods_create_one_volume 20
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, seeds] = args.as_slice() else {
        eprintln!("usage: floors SCENARIO N");
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
    let row = dosim::bench::measure(scenario, seeds.max(1));
    println!(
        "{name}: {:.1} seeds/s, HTTP floor ÷ dosim {:.2}",
        row.seeds_per_second, row.ratio
    );
    ExitCode::SUCCESS
}
