//! How often each scenario of the catalog breaks a check: the first failing seed and the share of
//! failing seeds in a range, for `docs/catalog.md`.
//!
//! `cargo run --release -p dosim-sims --example failure_rate -- 0..1000 [SCENARIO…]`

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let seeds: dosim::Seeds = match args.next().map(|text| text.parse()) {
        Some(Ok(seeds)) => seeds,
        Some(Err(error)) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
        None => dosim::Seeds(0..1000),
    };
    let wanted: Vec<String> = args.collect();
    println!("scenario  expect  seeds  first failing  failing seeds");
    for scenario in dosim_sims::catalog() {
        if !wanted.is_empty() && !wanted.iter().any(|name| name == scenario.name()) {
            continue;
        }
        let mut first = None;
        let mut failing = 0u64;
        for seed in seeds.0.clone() {
            let outcome = scenario.run(seed);
            if !scenario.verdict(&outcome).is_empty() {
                failing += 1;
                first.get_or_insert(seed);
            }
        }
        println!(
            "{}  {}  {}  {}  {failing} ({:.1}%)",
            scenario.name(),
            scenario.expectation(),
            seeds,
            first.map_or("-".to_owned(), |seed| seed.to_string()),
            100.0 * failing as f64 / seeds.len().max(1) as f64
        );
    }
    ExitCode::SUCCESS
}
