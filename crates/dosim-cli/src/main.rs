//! The dosim command line.

mod serve;

use clap::{Parser, Subcommand};

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
    #[command(flatten)]
    Harness(dosim::cli::Command),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        // The race catalog registers its scenarios here once it exists; until then `bench`
        // still measures the built-in provisioning scenario.
        Command::Harness(command) => {
            std::process::exit(i32::from(dosim::cli::run_status(command, &[])))
        }
    }
}
