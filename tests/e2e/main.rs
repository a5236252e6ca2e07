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

use std::time::Duration;

use dosim_client::{Client, HyperTransport};
use dosim_tests::Serve;

/// The typed client for `serve`'s API with `token`, over plain HTTP with a 10-second timeout.
fn api_client(serve: &Serve, token: &str) -> Client {
    Client::builder()
        .base_url(&serve.url)
        .token(token)
        .timeout(Duration::from_secs(10))
        .transport(HyperTransport::http())
        .build()
        .expect("the client configuration is valid")
}
