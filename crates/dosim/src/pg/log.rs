//! The history's SQL operations and each cluster's statement log, both filled from what the data plane's observer hears of each statement.

use std::collections::BTreeMap;
use std::sync::Arc;

use dosim_pg::{PgError, Value};
use dosim_pgwire::observe::one_line;
use dosim_pgwire::{
    Observer, SessionInfo, StatementOutcome, StatementRecord, StatementResult, StatementStart,
};
use parking_lot::Mutex;

use super::Rows;
use crate::history::Recorder;

/// The most statements one cluster's log keeps; past it the log says it is incomplete.
pub const LOGGED_STATEMENTS_MAX: usize = 10_000;

/// The most rows of one statement's answer the log keeps; a longer answer is logged as not comparable.
pub const LOGGED_ROWS_MAX: usize = dosim_pgwire::observe::OBSERVED_ROWS_MAX;

/// The longest statement text an operation keeps, in characters.
pub const SQL_CHARS_MAX: usize = dosim_pgwire::observe::SUMMARY_CHARS_MAX;

/// The most rows of a query's answer an operation shows.
const ROWS_SHOWN_MAX: usize = 3;

/// Every statement actors ran on one cluster, as its data plane ran them.
#[derive(Debug, Clone, Default)]
pub struct StatementLog {
    /// The statements, each connection's in the order it ran them; connections interleave in the order their statements ended.
    pub statements: Vec<LoggedStatement>,
    /// Why the log misses statements (too many), if it does.
    pub incomplete: Option<String>,
}

/// One statement (or one simple query's statements) as a connection ran it.
#[derive(Debug, Clone)]
pub struct LoggedStatement {
    /// The connection, numbered from 0 in the order the data plane accepted them.
    pub connection: u64,
    /// The connecting host.
    pub actor: String,
    /// The database the connection is on.
    pub database: String,
    /// The query text, in full.
    pub sql: String,
    /// The parameters as the engine took them, or why they are not known.
    pub params: Result<Vec<dosim_pg::Value>, String>,
    /// Simulated milliseconds when it was sent.
    pub invoke_ms: u64,
    /// How it ended.
    pub outcome: LoggedOutcome,
}

/// How a logged statement ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedOutcome {
    /// It ran; one result per statement of the query.
    Done(Vec<LoggedResult>),
    /// It failed after the statements in `results` completed.
    Error {
        /// The statements of the query that completed before the error.
        results: Vec<LoggedResult>,
        /// The SQLSTATE (`40001`).
        sqlstate: String,
        /// PostgreSQL's message.
        message: String,
    },
    /// No answer came before the connection closed or the run ended.
    Unanswered,
}

/// One statement's result: its command tag and its rows in PostgreSQL's text format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedResult {
    /// `SELECT 1`, `UPDATE 1`, `COMMIT`.
    pub tag: String,
    /// The rows, `None` when they cannot be compared (more than [`LOGGED_ROWS_MAX`]).
    pub rows: Option<Rows>,
}

/// Hears a cluster's statements, records each as an operation of the connecting host in the history, and logs each one the engine ran.
pub(crate) struct Recording {
    recorder: Recorder,
    log: Arc<Mutex<StatementLog>>,
    /// Each connection's running statement: its operation in the history, if recorded, and when it was sent.
    running: Mutex<BTreeMap<u64, (Option<u64>, u64)>>,
}

impl Recording {
    pub(crate) fn new(recorder: Recorder, log: Arc<Mutex<StatementLog>>) -> Recording {
        Recording {
            recorder,
            log,
            running: Mutex::default(),
        }
    }

    /// Adds a statement to the cluster's log, unless the log is full.
    fn log_statement(&self, statement: LoggedStatement) {
        let mut log = self.log.lock();
        if log.statements.len() >= LOGGED_STATEMENTS_MAX {
            log.incomplete.get_or_insert_with(|| {
                format!("the run ran more than {LOGGED_STATEMENTS_MAX} statements")
            });
            return;
        }
        log.statements.push(statement);
    }
}

impl Observer for Recording {
    fn statement_started(&self, session: &SessionInfo, statement: &StatementStart) {
        let invoke_ms = crate::history::now_ms();
        let seq = self.recorder.invoke_on(
            Some(session.connection),
            &session.peer,
            "SQL",
            &one_line(&statement.sql, SQL_CHARS_MAX),
            params_line(&statement.params),
            invoke_ms,
        );
        self.running
            .lock()
            .insert(session.connection, (seq, invoke_ms));
    }

    fn statement_finished(&self, session: &SessionInfo, statement: &StatementRecord) {
        let started = self.running.lock().remove(&session.connection);
        let (seq, invoke_ms) = started.unwrap_or((None, crate::history::now_ms()));
        if let Some(outcome) = logged_outcome(&statement.outcome) {
            self.log_statement(LoggedStatement {
                connection: session.connection,
                actor: session.peer.clone(),
                database: session.database.clone(),
                sql: statement.sql.clone(),
                params: Ok(statement.params.clone()),
                invoke_ms,
                outcome,
            });
        }
        let Some(seq) = seq else { return };
        let now = crate::history::now_ms();
        let Some(answer) = answer_line(&statement.outcome) else {
            let message = "the connection closed before an answer";
            self.recorder.connection_closed(seq, now, message);
            return;
        };
        let response = if statement.lock_wait_ms > 0 {
            format!(
                "waited {}, {answer}",
                crate::report::seconds(statement.lock_wait_ms)
            )
        } else {
            answer
        };
        self.recorder.answered(seq, now, response);
    }
}

/// How the log keeps a statement's outcome; `None` for a statement the engine never ran.
fn logged_outcome(outcome: &StatementOutcome) -> Option<LoggedOutcome> {
    let logged = |results: &[StatementResult]| -> Vec<LoggedResult> {
        results
            .iter()
            .map(|result| LoggedResult {
                tag: result.tag.clone(),
                rows: (result.row_count <= LOGGED_ROWS_MAX).then(|| result.rows.clone()),
            })
            .collect()
    };
    Some(match outcome {
        StatementOutcome::Done(results) => LoggedOutcome::Done(logged(results)),
        StatementOutcome::Failed { results, error } => LoggedOutcome::Error {
            results: logged(results),
            sqlstate: error.sqlstate.to_owned(),
            message: error.message.clone(),
        },
        // Parse or Bind refused it: the engine never saw it, and the session's transaction is as it was.
        StatementOutcome::Refused(_) => return None,
        StatementOutcome::Interrupted { .. } => LoggedOutcome::Unanswered,
    })
}

/// The parameters for the timeline: `(90, 1, 'bob', NULL)`, or `None` without any.
fn params_line(params: &[Value]) -> Option<String> {
    if params.is_empty() {
        return None;
    }
    let shown: Vec<String> = params
        .iter()
        .map(|value| match value {
            Value::Null => "NULL".to_owned(),
            Value::Text(text) => format!("'{}'", one_line(text, 40)),
            Value::Void => "void".to_owned(),
            other => one_line(&other.to_text().unwrap_or_default(), 40),
        })
        .collect();
    Some(format!("({})", shown.join(", ")))
}

/// What the client was answered, for the timeline: each statement's tag with its first rows, then the error; `None` for no answer.
fn answer_line(outcome: &StatementOutcome) -> Option<String> {
    let answers =
        |results: &[StatementResult]| -> Vec<String> { results.iter().map(with_rows).collect() };
    Some(match outcome {
        StatementOutcome::Done(results) if results.is_empty() => "EMPTY".to_owned(),
        StatementOutcome::Done(results) => answers(results).join("; "),
        StatementOutcome::Failed { results, error } => {
            let mut lines = answers(results);
            lines.push(error_line(error));
            lines.join("; ")
        }
        StatementOutcome::Refused(error) => error_line(error),
        StatementOutcome::Interrupted { .. } => return None,
    })
}

/// A command tag with the first rows a query returned: `SELECT 1: (100)`.
fn with_rows(result: &StatementResult) -> String {
    if result.rows.is_empty() {
        return result.tag.clone();
    }
    let mut shown: Vec<String> = result
        .rows
        .iter()
        .take(ROWS_SHOWN_MAX)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .map(|cell| {
                    cell.as_deref()
                        .map_or("NULL".to_owned(), |text| one_line(text, 40))
                })
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect();
    if result.row_count > ROWS_SHOWN_MAX {
        shown.push("…".to_owned());
    }
    format!("{}: {}", result.tag, shown.join(" "))
}

/// An error as `ERROR 40001: could not serialize access …`.
fn error_line(error: &PgError) -> String {
    format!(
        "{} {}: {}",
        error.severity(),
        error.sqlstate,
        one_line(&error.message, 80)
    )
}
