//! End-to-end tests: real clients against `dosim serve`, the CLI, determinism.

mod anylang;
mod cli;
mod client;
mod godo;
mod limits;
mod persist;
mod pg;
mod python;
mod valkey;
