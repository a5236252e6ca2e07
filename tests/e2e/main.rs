//! End-to-end tests: real clients against `dosim serve`, the CLI, determinism.

mod cli;
mod client;
mod limits;
mod pg;
mod python;
