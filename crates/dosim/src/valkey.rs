//! Managed Caching for Valkey in a scenario: the cluster in the account's model, its data plane on its own turmoil host, each command in the history, and the final keyspace for checks.
//!
//! `Scenario::database(DatabaseSpec::valkey("locks"))` creates the cluster in the account before the actors start, as `POST /v2/databases` with `engine: "valkey"` would, so `GET /v2/databases` lists it with its `connection` object.
//! The harness then runs a host named as the cluster's connection host, serving `dosim_valkeywire` on port 25061 with the `default` user's password, TLS off.
//! Actors use ordinary redis-rs: [`connect`] opens a `redis::aio::MultiplexedConnection` over turmoil's TCP, the one thing that differs from a program talking to DigitalOcean.
//!
//! The data plane tells the harness of every command it runs, through its observer, and the harness records each as an operation of the connecting host with the method `VALKEY` and the connection's number: the command as sent, and the reply (or that it blocked, and for how long).
//! The same events fill each cluster's [`CommandLog`], with the keys that expired; after the run, [`RunOutcome::valkey`](crate::RunOutcome::valkey) reads the final keyspace.
//!
//! Choices where a simulation differs from DigitalOcean:
//! - The cluster serves from the start, as if provisioned long ago, whatever its status in the model.
//! - TLS is off, since turmoil's network carries plain bytes; the `rediss://` URI's host, port, user and password are what [`connect`] uses.
//! - [`connect`] skips redis-rs's `CLIENT SETINFO` at connection time, so timelines show the program's own commands.
//! - `maxmemory` is three quarters of the node size's memory, counted as the engine counts bytes (`docs/valkey.md`).
//!
//! The module's parts: what actors use to connect (`connect.rs`), the scenario's wiring of each cluster (`run.rs`), and the command log with the observer that fills it and the history (`log.rs`).

mod connect;
mod log;
mod run;

pub use connect::{connect, connect_with, connection_info, redis_info, ConnectError, ValkeyInfo};
pub(crate) use connect::{enter, RunGuard};
pub use log::{CommandLog, LoggedCommand, COMMAND_CHARS_MAX, LOGGED_COMMANDS_MAX};
pub use run::RunValkey;
pub(crate) use run::{create, finish, host};

pub use dosim_valkey::{ExpiredKey, Reply};
pub use redis;

/// The port of a cluster's TLS connection, as on DigitalOcean.
pub const PORT: u16 = 25061;

/// The most Valkey clusters one scenario may have.
pub const CLUSTERS_MAX: usize = 4;

#[cfg(test)]
mod tests;
