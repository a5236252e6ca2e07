//! End-to-end tests: real clients against `dosim serve`, the CLI, determinism.

mod client;
mod python;
