//! The arguments both profiling examples take: a catalog scenario's name and a count.

use std::process::ExitCode;

/// The allocator the `dosim` binary runs with, so that a profile counts what it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `SCENARIO N` from the command line, or the exit code after saying what is wrong.
pub fn scenario_and_count(usage: &str) -> Result<(dosim::Scenario, u64), ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, count] = args.as_slice() else {
        eprintln!("usage: {usage}");
        return Err(ExitCode::from(2));
    };
    let Ok(count) = count.parse::<u64>() else {
        eprintln!("N must be a whole number, got {count:?}");
        return Err(ExitCode::from(2));
    };
    let mut catalog = dosim_sims::catalog();
    let Some(index) = catalog.iter().position(|scenario| scenario.name() == name) else {
        eprintln!("no scenario named {name:?}");
        return Err(ExitCode::from(2));
    };
    Ok((catalog.swap_remove(index), count))
}
