//! A deterministic PostgreSQL engine for DigitalOcean's managed databases: MVCC, row and advisory locks, waits that the caller schedules; no I/O, no clock, no threads.
//!
//! One [`Engine`] is one database cluster.
//! Each connection is a [`SessionId`]; [`Engine::execute`] runs a query string and returns an [`Outcome`]: done, an error with PostgreSQL's SQLSTATE and exact message, or blocked on a lock.
//! A blocked session is resumed with [`Engine::resume`] once [`Engine::take_runnable`] lists it; time comes in as a [`SimTime`] argument and [`Engine::advance`] runs deadlock checks and timeouts.
//! SQL is parsed with sqlparser's PostgreSQL dialect; `docs/postgres.md` lists what is supported and what is refused.
//! [`script`] parses the interleaving scripts that the engine's tests and the differential suite against PostgreSQL share.

mod engine;
mod error;
mod eval;
mod exec;
pub mod script;
mod value;

use std::fmt;

pub use dosim_base::SimTime;
pub use engine::{DatabaseDump, Engine, EngineDump, TableDump};
pub use error::{sqlstate, PgError};
pub use exec::{
    on_stack, parse as parse_sql, placeholders_max, stack_depth_exceeded, stack_for,
    EXPR_DEPTH_MAX, PLACEHOLDER_MAX,
};
pub use value::{format_timestamptz, parse_timestamptz, Numeric, SqlType, Value};

/// One connection's handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

/// A transaction id, PostgreSQL's `xid`; savepoints get their own, as subtransactions do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxId(pub u64);

/// A transaction isolation level; READ UNCOMMITTED behaves as READ COMMITTED, as in PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Isolation {
    /// The name `SHOW transaction_isolation` prints.
    pub fn name(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read committed",
            Isolation::RepeatableRead => "repeatable read",
            Isolation::Serializable => "serializable",
        }
    }
}

/// An advisory lock's key: one `bigint`, or two `integer`s, which PostgreSQL keeps apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdvisoryKey {
    Int8(i64),
    Int4Pair(i32, i32),
}

impl fmt::Display for AdvisoryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdvisoryKey::Int8(k) => write!(f, "{k}"),
            AdvisoryKey::Int4Pair(a, b) => write!(f, "({a}, {b})"),
        }
    }
}

/// What a blocked statement waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitFor {
    /// A transaction (or savepoint) holding a row lock, or inserting a conflicting key, must end.
    Transaction(TxId),
    /// Another session holds this advisory lock.
    Advisory(AdvisoryKey),
}

/// A result column: its name and type, for `RowDescription`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnDesc {
    pub name: String,
    pub ty: SqlType,
}

/// A `NoticeResponse`: a warning or notice a statement raised without failing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// `WARNING` or `NOTICE`.
    pub severity: &'static str,
    pub sqlstate: &'static str,
    pub message: String,
}

/// One statement's result: its command tag (`SELECT 1`, `INSERT 0 1`, `UPDATE 2`, `BEGIN`), columns and rows.
#[derive(Clone, Debug)]
pub struct QueryResult {
    pub tag: String,
    pub columns: Vec<ColumnDesc>,
    pub rows: Vec<Vec<Value>>,
    pub notices: Vec<Notice>,
}

/// How a query string's run ended. `results` holds the statements that completed before the end.
#[derive(Clone, Debug)]
pub enum Outcome {
    Done(Vec<QueryResult>),
    Error {
        results: Vec<QueryResult>,
        error: PgError,
    },
    /// The session waits; resume it when [`Engine::take_runnable`] lists it.
    Blocked {
        results: Vec<QueryResult>,
        waiting_for: WaitFor,
    },
}

/// A cluster's fixed settings and limits.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Seeds `gen_random_uuid()`, so that a run's UUIDs depend on its seed alone.
    pub seed: u64,
    /// PostgreSQL's `deadlock_timeout`: how long a wait lasts before the waiter checks for a deadlock.
    pub deadlock_timeout_ms: u64,
    /// `default_transaction_isolation`; DigitalOcean keeps PostgreSQL's READ COMMITTED.
    pub default_isolation: Isolation,
    pub sql_bytes_max: usize,
    pub params_max: usize,
    pub sessions_max: usize,
    pub tables_max: usize,
    pub rows_per_statement_max: usize,
    /// Row versions a table may hold, live and dead; dead ones are vacuumed when no transaction is open.
    pub row_versions_max: usize,
    pub savepoints_max: usize,
    /// Units of work (expressions evaluated, rows visited) one run of a statement may do before
    /// it is canceled with `57014`, as `statement_timeout` would cancel it; see
    /// `exec::budget`.
    pub statement_work_max: u64,
    /// Bytes the cluster's row versions may take, live and dead, before a write is refused with
    /// `53200 out of memory`; dead versions count until a vacuum removes them.
    pub memory_bytes_max: u64,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            seed: 0,
            deadlock_timeout_ms: 1000,
            default_isolation: Isolation::ReadCommitted,
            sql_bytes_max: 1 << 20,
            params_max: 65_535,
            sessions_max: 100,
            tables_max: 1000,
            rows_per_statement_max: 10_000,
            row_versions_max: 100_000,
            savepoints_max: 64,
            statement_work_max: 50_000_000,
            memory_bytes_max: 256 << 20,
        }
    }
}

#[cfg(test)]
mod tests;
