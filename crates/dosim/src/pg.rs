//! Managed PostgreSQL clusters in a scenario: the cluster in the account's model, its data plane on its own turmoil host, each statement in the history, and the final data for checks.
//!
//! `Scenario::database(DatabaseSpec::pg("backend"))` creates the cluster in the account before the
//! actors start, as `POST /v2/databases` would, so `GET /v2/databases` lists it with its
//! `connection` object. The harness then runs a host named as the cluster's connection host,
//! serving `dosim_pgwire` on port 25060 with the cluster's users and databases, TLS off.
//! Actors connect with ordinary tokio-postgres: [`ActorPg::postgres_config`] gives the connection
//! details as a `tokio_postgres::Config`, and [`connect`] opens a connection over turmoil's TCP.
//!
//! The data plane tells the harness of every statement it runs, through its observer, and the
//! harness records each as an operation of the connecting host with the method `SQL` and the
//! connection's number: what was sent, its parameters as the engine took them, and how it ended
//! (the command tag, the first rows a query returned, the error), with the time it waited for a
//! lock. A statement has no HTTP status: its operation's result is `OpResult::Answered`, with
//! the outcome as its response. The same events fill each cluster's [`StatementLog`], which `checks::serializable`
//! reads. After the run, [`RunOutcome::database`](crate::RunOutcome::database) runs SQL against the
//! final data, which `checks::conserved` and `checks::sql_equals` use.
//!
//! Choices where a simulation differs from DigitalOcean:
//! - The cluster is created at time zero and its status is the model's (`creating` until
//!   `CloudConfig::database_provision_ms` has passed; set it to 0 for a cluster that is `online`
//!   from the start), but its data plane serves from the start, as if it had been provisioned long ago.
//! - Connection pools are served on port 25061 of the cluster's host, as `dosim_pgwire`'s
//!   PgBouncer model does (`docs/postgres.md`, "Connection pools"); the database a pool's client
//!   names is the pool's name, as in the pool's `connection` object.
//! - TLS is off, since turmoil's network carries plain bytes and a handshake would draw randomness
//!   outside the seed; [`connect_with`] takes `sslmode=require` as `prefer`.
//! - Users, databases and pools created through the API while the run goes on join the data
//!   plane as they commit; a deleted database stays reachable (the engine cannot drop one).
//!
//! The module's parts: the spec and what actors use to connect (`connect.rs`), the scenario's
//! wiring of each cluster (`run.rs`: create, host, finish, and the cluster after the run), and the
//! statement log with the observer that fills it and the history (`log.rs`).

mod connect;
mod log;
mod plane;
mod run;

pub use connect::{
    connect, connect_with, connection_info, pool_config, postgres_config, ActorPg, ConnectError,
    ConnectionInfo, DatabaseSpec,
};
pub(crate) use connect::{enter, RunGuard};
pub use log::{
    LoggedOutcome, LoggedResult, LoggedStatement, StatementLog, LOGGED_ROWS_MAX,
    LOGGED_STATEMENTS_MAX, SQL_CHARS_MAX,
};
pub use plane::pool_settings;
pub(crate) use plane::Plane;
pub use run::RunDatabase;
pub(crate) use run::{create, finish, host};

pub use tokio_postgres;

/// The port of a cluster's primary connection, as on DigitalOcean.
pub const PORT: u16 = 25060;

/// The port of a cluster's connection pools (PgBouncer), as on DigitalOcean.
pub const POOL_PORT: u16 = 25061;

/// The most clusters one scenario may have.
pub const DATABASES_MAX: usize = 4;

/// The most bytes of setup SQL one cluster may have.
pub const SETUP_SQL_BYTES_MAX: usize = 1 << 20;

/// A query's rows in PostgreSQL's text format, `None` for NULL.
pub type Rows = Vec<Vec<Option<String>>>;

/// Engine rows in PostgreSQL's text format.
pub(crate) fn text_rows(rows: &[Vec<dosim_pg::Value>]) -> Rows {
    rows.iter()
        .map(|row| row.iter().map(dosim_pg::Value::to_text).collect())
        .collect()
}

/// Rows as one line: columns joined by `, `, rows by `; `.
pub fn render_rows(rows: &[Vec<Option<String>>]) -> String {
    rows.iter()
        .map(|row| {
            row.iter()
                .map(|value| value.as_deref().unwrap_or("NULL"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
