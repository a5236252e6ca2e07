//! The dosim command line.

mod anylang;
mod http1;
mod pg;
mod planes;
mod serve;
mod spaces;
mod valkey;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A seed allocates and frees thousands of small objects (requests, JSON, futures, records);
/// mimalloc's thread-local free lists serve them at a fraction of the system allocator's cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Deterministic simulation testbed for code that drives DigitalOcean.
#[derive(Debug, Parser)]
#[command(name = "dosim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the DigitalOcean API v2 fakes over HTTP on localhost.
    Serve(serve::ServeArgs),
    /// Runs a program in any language against a fresh server per seed, with the order of its
    /// concurrent requests drawn from the seed, and reports the seeds that fail a check.
    Test(anylang::TestArgs),
    #[command(flatten)]
    Harness(dosim::cli::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => match serve::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                // `{:#}` prints the chain of causes on one line; no backtrace for a user's mistake.
                eprintln!("error: {error:#}");
                ExitCode::from(2)
            }
        },
        Command::Test(args) => anylang::main(args),
        Command::Harness(command) => dosim::cli::run(command, &dosim_sims::catalog()),
    }
}
