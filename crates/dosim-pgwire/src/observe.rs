//! What a cluster tells its [`Observer`] about each connection: the session, each statement it ran with its parameters, outcome, lock waits and transaction boundaries, and the end.
//!
//! The records are the server's own view, built from the values the engine took and returned, not decoded again from the bytes on the wire.
//! They name nothing PostgreSQL-specific beyond SQL, SQLSTATEs and transaction states, so a plane with sessions and statements of its own can mirror them.
//! A connection keeps what it will tell in an `Observed`, which `conn.rs` fills as its statements run.

use std::sync::Arc;

use dosim_pg::{PgError, QueryResult, SimTime, Value};

/// The most rows of one statement's answer a record carries; [`StatementResult::row_count`] still counts them all.
pub const OBSERVED_ROWS_MAX: usize = 1000;

/// The longest summary of a statement the gate sees, in characters.
pub const SUMMARY_CHARS_MAX: usize = 120;

/// Told what each connection of a cluster does, from the connection's own task, never while the engine is locked.
///
/// Every method has an empty default, so an observer implements only what it reads.
pub trait Observer: Send + Sync {
    /// A client authenticated and got a session on its database.
    fn session_started(&self, _session: &SessionInfo, _at: SimTime) {}

    /// The server took a statement and is about to admit it through the gate and run it.
    fn statement_started(&self, _session: &SessionInfo, _statement: &StatementStart) {}

    /// A statement ended: the engine answered, refused it, or the connection ended first.
    ///
    /// Each `statement_started` is followed by one `statement_finished` for the same session before the next statement of that session starts.
    fn statement_finished(&self, _session: &SessionInfo, _statement: &StatementRecord) {}

    /// The connection ended, however it ended; its session has been closed (rolled back, locks released).
    fn session_ended(&self, _session: &SessionInfo, _at: SimTime) {}
}

/// One connection's session, as every event about it names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The cluster's number for the connection, from 0 in the order connections were handed to it; the gate's `session`.
    pub connection: u64,
    /// The label the caller gave the connection ([`crate::serve_connection_from`]); `unknown` when it gave none.
    pub peer: String,
    /// The database the session is on.
    pub database: String,
    /// The user it logged in as.
    pub user: String,
    /// What `pg_backend_pid()` returns to it and `BackendKeyData` told the client.
    pub backend_pid: u32,
}

/// Where a session's transaction stands, as `ReadyForQuery` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionStatus {
    /// No transaction block is open: the next statement runs in a transaction of its own.
    Idle,
    /// A transaction block is open.
    InBlock,
    /// A transaction block is open and failed: statements are refused until it ends.
    Failed,
}

impl TransactionStatus {
    /// The status from `ReadyForQuery`'s byte (`I`, `T`, `E`).
    pub(crate) fn from_byte(byte: u8) -> TransactionStatus {
        match byte {
            b'T' => TransactionStatus::InBlock,
            b'E' => TransactionStatus::Failed,
            _ => TransactionStatus::Idle,
        }
    }
}

/// A statement about to run: a simple query's whole string, or a portal's statement at its first `Execute`.
#[derive(Clone, Debug)]
pub struct StatementStart {
    /// The text, in full.
    pub sql: String,
    /// The parameters as the engine takes them, `$1` first.
    pub params: Vec<Value>,
    /// When the server took it, before the gate.
    pub started: SimTime,
}

/// A statement that ended, with everything a history or a serializability check needs of it.
#[derive(Clone, Debug)]
pub struct StatementRecord {
    /// The text, in full.
    pub sql: String,
    /// The parameters as the engine took them, `$1` first; empty for a statement refused before its parameters were decoded.
    pub params: Vec<Value>,
    /// When the server took it, before the gate.
    pub started: SimTime,
    /// When its outcome was known.
    pub finished: SimTime,
    /// Simulated milliseconds it spent waiting for row or advisory locks, over all its waits.
    pub lock_wait_ms: u64,
    /// The session's transaction before it ran: [`TransactionStatus::Idle`] means it began a transaction (its own, or a block it opened).
    pub transaction_before: TransactionStatus,
    /// The session's transaction after it: back to [`TransactionStatus::Idle`] means a transaction ended with it; `None` when the connection ended first.
    pub transaction_after: Option<TransactionStatus>,
    /// How it ended.
    pub outcome: StatementOutcome,
}

/// How a statement ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatementOutcome {
    /// Every statement of the text ran; one result each.
    Done(Vec<StatementResult>),
    /// It failed after the statements in `results` completed.
    Failed {
        /// The statements of the text that completed before the error.
        results: Vec<StatementResult>,
        /// What the client was told.
        error: PgError,
    },
    /// `Parse` or `Bind` refused it, so the engine never ran it and the session's transaction did not change.
    Refused(PgError),
    /// The connection ended while the statement waited for a lock, or before its answer; the engine rolled the session back.
    Interrupted {
        /// The statements of the text that completed before.
        results: Vec<StatementResult>,
    },
}

/// One statement's result: its command tag and the rows it returned, in PostgreSQL's text format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementResult {
    /// `SELECT 1`, `UPDATE 1`, `COMMIT`.
    pub tag: String,
    /// The first [`OBSERVED_ROWS_MAX`] rows, `None` for NULL.
    pub rows: Vec<Vec<Option<String>>>,
    /// How many rows it returned.
    pub row_count: usize,
}

impl StatementResult {
    /// The observed part of an engine result.
    pub(crate) fn of(result: &QueryResult) -> StatementResult {
        StatementResult {
            tag: result.tag.clone(),
            rows: result
                .rows
                .iter()
                .take(OBSERVED_ROWS_MAX)
                .map(|row| row.iter().map(Value::to_text).collect())
                .collect(),
            row_count: result.rows.len(),
        }
    }
}

/// A session its cluster's observer hears of, and the statement it runs now.
pub(crate) struct Observed {
    pub(crate) observer: Arc<dyn Observer>,
    pub(crate) info: SessionInfo,
    /// The statement told as started and not yet as finished.
    pub(crate) running: Option<Running>,
}

/// What is known of a running statement so far.
pub(crate) struct Running {
    start: StatementStart,
    transaction_before: TransactionStatus,
    pub(crate) results: Vec<StatementResult>,
    pub(crate) lock_wait_ms: u64,
}

impl Observed {
    pub(crate) fn start(&mut self, start: StatementStart, transaction_before: TransactionStatus) {
        self.observer.statement_started(&self.info, &start);
        self.running = Some(Running {
            start,
            transaction_before,
            results: Vec::new(),
            lock_wait_ms: 0,
        });
    }

    /// Tells the observer the running statement ended, if one runs, with its results so far.
    pub(crate) fn finish(
        &mut self,
        now: SimTime,
        transaction_after: Option<TransactionStatus>,
        outcome: impl FnOnce(Vec<StatementResult>) -> StatementOutcome,
    ) {
        let Some(running) = self.running.take() else {
            return;
        };
        let record = StatementRecord {
            sql: running.start.sql,
            params: running.start.params,
            started: running.start.started,
            finished: now,
            lock_wait_ms: running.lock_wait_ms,
            transaction_before: running.transaction_before,
            transaction_after,
            outcome: outcome(running.results),
        };
        self.observer.statement_finished(&self.info, &record);
    }
}

/// A statement on one line, whitespace folded, cut to `chars_max` characters with an ellipsis.
pub fn one_line(sql: &str, chars_max: usize) -> String {
    // Word by word into one string: every statement of every run comes through here.
    let mut line = String::with_capacity(sql.len().min(chars_max.saturating_mul(4)));
    let mut chars = 0;
    for word in sql.split_whitespace() {
        let space = usize::from(chars > 0);
        let word_chars = word.chars().count();
        if chars + space + word_chars <= chars_max {
            if space == 1 {
                line.push(' ');
            }
            line.push_str(word);
            chars += space + word_chars;
            continue;
        }
        // Longer than the limit: one character less than it, then the ellipsis.
        let keep = chars_max.saturating_sub(1);
        while chars > keep {
            line.pop();
            chars -= 1;
        }
        let space = if space == 1 { " " } else { "" };
        line.extend(space.chars().chain(word.chars()).take(keep - chars));
        line.push('…');
        return line;
    }
    line
}
