//! Measures one catalog scenario against its floors, as `dosim bench` does for each row, and
//! nothing else (no provisioning row, no strategy table): the workload
//! `scripts/floor-instructions.py` counts instructions of under callgrind, where a ratio does
//! not move with the machine's load as a wall-clock one does.
//!
//! ```sh
//! cargo build --release -p dosim-cli --example floors
//! ./target/release/examples/floors two_pods_create_one_volume 20
//! ```

#[path = "common/args.rs"]
mod args;

use std::process::ExitCode;

fn main() -> ExitCode {
    let (scenario, seeds) = match args::scenario_and_count("floors SCENARIO N") {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let row = dosim::bench::measure(&scenario, seeds.max(1));
    let mut line = format!(
        "{}: {:.1} seeds/s, HTTP floor ÷ dosim {:.2}",
        scenario.name(),
        row.seeds_per_second,
        row.ratio
    );
    for (floor, ratio) in [
        ("PostgreSQL", row.pg_ratio),
        ("S3", row.s3_ratio),
        ("model", row.model_ratio),
    ] {
        if let Some(ratio) = ratio {
            line.push_str(&format!(", {floor} floor ÷ dosim {ratio:.2}"));
        }
    }
    println!("{line}");
    ExitCode::SUCCESS
}
