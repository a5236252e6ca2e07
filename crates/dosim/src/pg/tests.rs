//! Unit tests of the recording observer: statements as the data plane reports them, and the operations and log entries they become.

use dosim_pg::{PgError, SimTime, Value};
use dosim_pgwire::{
    Observer, SessionInfo, StatementOutcome, StatementRecord, StatementResult, StatementStart,
    TransactionStatus,
};

use super::log::{LoggedOutcome, Recording};
use crate::history::{OpResult, Recorder};

/// A statement as the observer reports it: its text, parameters, lock wait and outcome.
struct Ran {
    sql: &'static str,
    params: Vec<Value>,
    lock_wait_ms: u64,
    outcome: StatementOutcome,
}

fn ran(sql: &'static str, params: Vec<Value>, outcome: StatementOutcome) -> Ran {
    Ran {
        sql,
        params,
        lock_wait_ms: 0,
        outcome,
    }
}

/// A result with every row shown: `rows` as text, `None` for NULL.
fn result(tag: &str, rows: &[&[Option<&str>]]) -> StatementResult {
    StatementResult {
        tag: tag.to_owned(),
        rows: rows
            .iter()
            .map(|row| row.iter().map(|cell| cell.map(str::to_owned)).collect())
            .collect(),
        row_count: rows.len(),
    }
}

fn done(results: Vec<StatementResult>) -> StatementOutcome {
    StatementOutcome::Done(results)
}

fn error(sqlstate: &'static str, message: &str) -> PgError {
    PgError::new(sqlstate, message)
}

/// Reports the statements on connection 3 of `pod-0` and checks each operation's line (`connection target [request] → response`) and each log entry (`sql → outcome`).
#[track_caller]
fn check(statements: Vec<Ran>, expect_ops: &[&str], expect_log: &[&str]) {
    let recorder = Recorder::default();
    let log = std::sync::Arc::default();
    let recording = Recording::new(recorder.clone(), std::sync::Arc::clone(&log));
    let session = SessionInfo {
        connection: 3,
        peer: "pod-0".to_owned(),
        database: "defaultdb".to_owned(),
        user: "doadmin".to_owned(),
        backend_pid: 1004,
    };
    for statement in statements {
        recording.statement_started(
            &session,
            &StatementStart {
                sql: statement.sql.to_owned(),
                params: statement.params.clone(),
                started: SimTime::ZERO,
            },
        );
        recording.statement_finished(
            &session,
            &StatementRecord {
                sql: statement.sql.to_owned(),
                params: statement.params,
                started: SimTime::ZERO,
                finished: SimTime::from_ms(statement.lock_wait_ms),
                lock_wait_ms: statement.lock_wait_ms,
                transaction_before: TransactionStatus::Idle,
                transaction_after: Some(TransactionStatus::Idle),
                outcome: statement.outcome,
            },
        );
    }
    let ops: Vec<String> = recorder
        .snapshot()
        .ops
        .iter()
        .map(|op| {
            assert_eq!((op.actor.as_str(), op.method.as_str()), ("pod-0", "SQL"));
            let request = op.request().map_or(String::new(), |r| format!(" {r}"));
            let result = match &op.result {
                OpResult::Answered => op.response().unwrap_or_default().to_owned(),
                other => format!("{other:?}"),
            };
            format!("{:?} {}{request} → {result}", op.connection, op.target)
        })
        .collect();
    assert_eq!(ops, expect_ops);
    let logged: Vec<String> = log
        .lock()
        .statements
        .iter()
        .map(|statement| {
            assert_eq!(
                (statement.connection, statement.actor.as_str()),
                (3, "pod-0")
            );
            let outcome = match &statement.outcome {
                LoggedOutcome::Done(results) => format!("{results:?}"),
                other => format!("{other:?}"),
            };
            format!("{} {:?} → {outcome}", statement.sql, statement.params)
        })
        .collect();
    assert_eq!(logged, expect_log);
}

#[test]
fn answers_and_errors() {
    check(
        vec![
            ran("BEGIN", vec![], done(vec![result("BEGIN", &[])])),
            ran(
                "CREATE TABLE t (id int);\n  SELECT   1",
                vec![],
                done(vec![
                    result("CREATE TABLE", &[]),
                    result("SELECT 1", &[&[Some("1")]]),
                ]),
            ),
            ran(
                "UPDATE t SET x = 1; SELECT nope",
                vec![],
                StatementOutcome::Failed {
                    results: vec![result("UPDATE 0", &[])],
                    error: error("42703", "column \"nope\" does not exist"),
                },
            ),
            ran("", vec![], done(vec![])),
        ],
        &[
            "Some(3) BEGIN → BEGIN",
            // Several statements in one string are one operation, on one line.
            "Some(3) CREATE TABLE t (id int); SELECT 1 → CREATE TABLE; SELECT 1: (1)",
            "Some(3) UPDATE t SET x = 1; SELECT nope → UPDATE 0; ERROR 42703: column \"nope\" does not exist",
            "Some(3)  → EMPTY",
        ],
        &[
            "BEGIN Ok([]) → [LoggedResult { tag: \"BEGIN\", rows: Some([]) }]",
            "CREATE TABLE t (id int);\n  SELECT   1 Ok([]) → [LoggedResult { tag: \"CREATE TABLE\", rows: Some([]) }, LoggedResult { tag: \"SELECT 1\", rows: Some([[Some(\"1\")]]) }]",
            "UPDATE t SET x = 1; SELECT nope Ok([]) → Error { results: [LoggedResult { tag: \"UPDATE 0\", rows: Some([]) }], sqlstate: \"42703\", message: \"column \\\"nope\\\" does not exist\" }",
            " Ok([]) → []",
        ],
    );
}

#[test]
fn parameters_rows_and_waits() {
    let five_rows: Vec<&[Option<&str>]> = vec![
        &[Some("1"), None],
        &[Some("2"), Some("b")],
        &[Some("3"), Some("c")],
        &[Some("4"), Some("d")],
        &[Some("5"), Some("e")],
    ];
    check(
        vec![
            ran(
                "UPDATE accounts SET balance = $1, note = $3 WHERE id = $2",
                vec![Value::Int8(90), Value::Int4(1), Value::Null],
                done(vec![result("UPDATE 1", &[])]),
            ),
            Ran {
                lock_wait_ms: 10,
                ..ran(
                    "UPDATE doctors SET on_call = $1 WHERE name = $2",
                    vec![Value::Bool(false), Value::Text("bob".to_owned())],
                    StatementOutcome::Failed {
                        results: vec![],
                        error: error(
                            "40001",
                            "could not serialize access due to concurrent update",
                        ),
                    },
                )
            },
            ran(
                "SELECT id, note FROM t",
                vec![],
                done(vec![result("SELECT 5", &five_rows)]),
            ),
        ],
        &[
            "Some(3) UPDATE accounts SET balance = $1, note = $3 WHERE id = $2 (90, 1, NULL) → UPDATE 1",
            "Some(3) UPDATE doctors SET on_call = $1 WHERE name = $2 (f, 'bob') → waited 0.010s, ERROR 40001: could not serialize access due to concurrent update",
            // More rows than shown end with an ellipsis.
            "Some(3) SELECT id, note FROM t → SELECT 5: (1, NULL) (2, b) (3, c) …",
        ],
        &[
            "UPDATE accounts SET balance = $1, note = $3 WHERE id = $2 Ok([Int8(90), Int4(1), Null]) → [LoggedResult { tag: \"UPDATE 1\", rows: Some([]) }]",
            "UPDATE doctors SET on_call = $1 WHERE name = $2 Ok([Bool(false), Text(\"bob\")]) → Error { results: [], sqlstate: \"40001\", message: \"could not serialize access due to concurrent update\" }",
            "SELECT id, note FROM t Ok([]) → [LoggedResult { tag: \"SELECT 5\", rows: Some([[Some(\"1\"), None], [Some(\"2\"), Some(\"b\")], [Some(\"3\"), Some(\"c\")], [Some(\"4\"), Some(\"d\")], [Some(\"5\"), Some(\"e\")]]) }]",
        ],
    );
}

#[test]
fn refused_interrupted_and_too_long_answers() {
    let mut capped = result("SELECT 1001", &[&[Some("1")]]);
    capped.row_count = 1001;
    check(
        vec![
            // Parse refused it: the client saw the error, but the engine never ran it, so the log leaves it out.
            ran(
                "SELECT * FROM missing",
                vec![],
                StatementOutcome::Refused(error("42P01", "relation \"missing\" does not exist")),
            ),
            // Outside a simulation the world is being torn down: the operation stays unfinished.
            ran(
                "SELECT pg_advisory_lock(1)",
                vec![],
                StatementOutcome::Interrupted { results: vec![] },
            ),
            ran("SELECT generate_series(1, 1001)", vec![], done(vec![capped])),
        ],
        &[
            "Some(3) SELECT * FROM missing → ERROR 42P01: relation \"missing\" does not exist",
            "Some(3) SELECT pg_advisory_lock(1) → Unfinished",
            "Some(3) SELECT generate_series(1, 1001) → SELECT 1001: (1) …",
        ],
        &[
            "SELECT pg_advisory_lock(1) Ok([]) → Unanswered",
            // An answer longer than the log keeps is not comparable.
            "SELECT generate_series(1, 1001) Ok([]) → [LoggedResult { tag: \"SELECT 1001\", rows: None }]",
        ],
    );
}
