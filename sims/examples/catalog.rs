//! The race catalog as a command line: `list`, `explore`, `replay` and `bench` over every race.
//!
//! `cargo run --release -p dosim-sims --example catalog -- explore --seeds 0..1000`

fn main() -> std::process::ExitCode {
    dosim::cli::main(dosim_sims::catalog())
}
