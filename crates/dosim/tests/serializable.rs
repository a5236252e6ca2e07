//! The serializability search over hand-built statement logs: which committed histories some serial order explains, and what the check says when none does or it cannot decide.

use std::collections::BTreeMap;

use dosim::checks::{SerialError, SerialHistory, SERIAL_TRANSACTIONS_MAX};
use dosim::pg::{LoggedOutcome, LoggedResult, LoggedStatement};

const SETUP: &[&str] = &[
    "CREATE TABLE accounts (id integer PRIMARY KEY, balance bigint NOT NULL)",
    "INSERT INTO accounts VALUES (1, 100)",
];

/// One logged statement from a line `connection | sql | answer`, where the answer is a command
/// tag followed by `: rows` (columns joined by `,`, rows by `;`), `ERROR <sqlstate>`, or `?` for
/// no answer. Parameters are `$n = value` items after the SQL, separated by ` & `.
fn statement(line: &str) -> LoggedStatement {
    let parts: Vec<&str> = line.split(" | ").collect();
    assert_eq!(parts.len(), 3, "{line}");
    let connection: u64 = parts[0].trim().parse().expect("a connection number");
    let (sql, params) = match parts[1].split_once(" & ") {
        Some((sql, params)) => (
            sql,
            params
                .split(" & ")
                .map(|value| dosim_pg::Value::Text(value.to_owned()))
                .collect(),
        ),
        None => (parts[1], Vec::new()),
    };
    let answer = parts[2].trim();
    let outcome = if answer == "?" {
        LoggedOutcome::Unanswered
    } else if let Some(sqlstate) = answer.strip_prefix("ERROR ") {
        LoggedOutcome::Error {
            results: Vec::new(),
            sqlstate: sqlstate.to_owned(),
            message: String::new(),
        }
    } else {
        let (tag, rows) = match answer.split_once(": ") {
            Some((tag, rows)) => (tag, Some(rows_of(rows))),
            None => (answer, Some(Vec::new())),
        };
        LoggedOutcome::Done(vec![LoggedResult {
            tag: tag.to_owned(),
            rows,
        }])
    };
    LoggedStatement {
        connection,
        actor: format!("pod-{connection}"),
        database: "defaultdb".to_owned(),
        sql: sql.to_owned(),
        params: Ok(params),
        invoke_ms: 0,
        outcome,
    }
}

fn rows_of(text: &str) -> dosim::pg::Rows {
    text.split(';')
        .map(|row| {
            row.split(',')
                .map(|value| match value.trim() {
                    "NULL" => None,
                    value => Some(value.to_owned()),
                })
                .collect()
        })
        .collect()
}

/// Searches the log for a serial order, given the final `accounts` rows, and checks the answer:
/// `Ok` with the order as `T1 T2 …`, or the error's text (a prefix of it).
#[track_caller]
fn check(log: &[&str], accounts: &str, expect: Result<&str, &str>) {
    let history = SerialHistory {
        databases: vec!["defaultdb".to_owned()],
        setup_database: "defaultdb".to_owned(),
        setup_sql: SETUP.iter().map(|sql| (*sql).to_owned()).collect(),
        statements: log.iter().map(|line| statement(line)).collect(),
        final_tables: BTreeMap::from([("accounts".to_owned(), rows_of(accounts))]),
    };
    let found = history.serial_order().map(|order| {
        order
            .iter()
            .map(|index| format!("T{}", index + 1))
            .collect::<Vec<_>>()
            .join(" ")
    });
    match (&found, expect) {
        (Ok(order), Ok(expected)) => assert_eq!(order, expected),
        (Err(SerialError::NotSerializable(message)), Err(expected))
        | (Err(SerialError::Unchecked(message)), Err(expected)) => {
            let text = match &found {
                Err(SerialError::Unchecked(_)) => format!("cannot check: {message}"),
                _ => message.clone(),
            };
            assert!(text.starts_with(expected), "{text}");
        }
        _ => panic!("expected {expect:?}, found {found:?}"),
    }
}

#[test]
fn a_lost_update_has_no_serial_order() {
    check(
        &[
            "0 | BEGIN | BEGIN",
            "0 | SELECT balance FROM accounts WHERE id = 1 | SELECT 1: 100",
            "1 | BEGIN | BEGIN",
            "1 | SELECT balance FROM accounts WHERE id = 1 | SELECT 1: 100",
            "0 | UPDATE accounts SET balance = 90 WHERE id = 1 | UPDATE 1",
            "0 | COMMIT | COMMIT",
            "1 | UPDATE accounts SET balance = 90 WHERE id = 1 | UPDATE 1",
            "1 | COMMIT | COMMIT",
        ],
        "1, 90",
        Err("no serial order of the 2 committed transactions gives the rows the run read and the tables it left:\n  \
             T1 pod-0 (connection 0): BEGIN; SELECT balance FROM accounts WHERE id = 1; UPDATE accounts SET balance = 90 WHERE id = 1; COMMIT\n  \
             T2 pod-1 (connection 1): BEGIN; SELECT balance FROM accounts WHERE id = 1; UPDATE accounts SET balance = 90 WHERE id = 1; COMMIT\n\
             closest order T1, T2: in T2, SELECT balance FROM accounts WHERE id = 1 returned (90) in the replay, but (100) in the run"),
    );
}

#[test]
fn a_history_that_ran_one_transaction_after_the_other_is_serializable() {
    check(
        &[
            "0 | BEGIN | BEGIN",
            "0 | SELECT balance FROM accounts WHERE id = 1 FOR UPDATE | SELECT 1: 100",
            "0 | UPDATE accounts SET balance = $1 WHERE id = $2 & 90 & 1 | UPDATE 1",
            "0 | COMMIT | COMMIT",
            "1 | BEGIN | BEGIN",
            "1 | SELECT balance FROM accounts WHERE id = 1 FOR UPDATE | SELECT 1: 90",
            "1 | UPDATE accounts SET balance = $1 WHERE id = $2 & 80 & 1 | UPDATE 1",
            "1 | COMMIT | COMMIT",
        ],
        "1, 80",
        Ok("T1 T2"),
    );
}

#[test]
fn the_search_finds_an_order_other_than_the_log_order() {
    // pod-0's transaction is logged first but read what pod-1's wrote, so pod-1's comes first.
    check(
        &[
            "0 | BEGIN | BEGIN",
            "0 | SELECT balance FROM accounts WHERE id = 1 | SELECT 1: 70",
            "0 | COMMIT | COMMIT",
            "1 | UPDATE accounts SET balance = 70 WHERE id = 1 | UPDATE 1",
        ],
        "1, 70",
        Ok("T2 T1"),
    );
}

#[test]
fn the_final_tables_must_match_too() {
    check(
        &["0 | UPDATE accounts SET balance = balance - 10 WHERE id = 1 | UPDATE 1"],
        "1, 100",
        Err("no serial order of the 1 committed transactions gives the rows the run read and the tables it left:\n  \
             T1 pod-0 (connection 0): UPDATE accounts SET balance = balance - 10 WHERE id = 1\n\
             closest order T1: accounts ends as (1, 90) in the replay, but as (1, 100) in the run"),
    );
}

#[test]
fn command_tags_and_errors_must_match() {
    check(
        &["0 | UPDATE accounts SET balance = 0 WHERE id = 2 | UPDATE 1"],
        "1, 100",
        Err("no serial order of the 1 committed transactions gives the rows the run read and the tables it left:\n  \
             T1 pod-0 (connection 0): UPDATE accounts SET balance = 0 WHERE id = 2\n\
             closest order T1: in T1, UPDATE accounts SET balance = 0 WHERE id = 2 answered UPDATE 0 in the replay, but UPDATE 1 in the run"),
    );
    // A unique violation the run saw inside a transaction that still committed after a savepoint.
    check(
        &[
            "0 | BEGIN | BEGIN",
            "0 | SAVEPOINT a | SAVEPOINT",
            "0 | INSERT INTO accounts VALUES (1, 5) | ERROR 23505",
            "0 | ROLLBACK TO SAVEPOINT a | ROLLBACK",
            "0 | INSERT INTO accounts VALUES (2, 5) | INSERT 0 1",
            "0 | COMMIT | COMMIT",
        ],
        "1, 100; 2, 5",
        Ok("T1"),
    );
    check(
        &[
            "0 | BEGIN | BEGIN",
            "0 | SAVEPOINT a | SAVEPOINT",
            "0 | INSERT INTO accounts VALUES (3, 5) | ERROR 23505",
            "0 | ROLLBACK TO SAVEPOINT a | ROLLBACK",
            "0 | COMMIT | COMMIT",
        ],
        "1, 100",
        Err("no serial order of the 1 committed transactions gives the rows the run read and the tables it left:\n  \
             T1 pod-0 (connection 0): BEGIN; SAVEPOINT a; INSERT INTO accounts VALUES (3, 5); ROLLBACK TO SAVEPOINT a; …\n\
             closest order T1: in T1, INSERT INTO accounts VALUES (3, 5) failed in the run (23505) but not in the replay"),
    );
}

#[test]
fn only_committed_transactions_count() {
    check(
        &[
            // Rolled back.
            "0 | BEGIN | BEGIN",
            "0 | UPDATE accounts SET balance = 1 WHERE id = 1 | UPDATE 1",
            "0 | ROLLBACK | ROLLBACK",
            // Failed, so its COMMIT answered ROLLBACK.
            "1 | BEGIN | BEGIN",
            "1 | UPDATE accounts SET balance = 2 WHERE id = 1 | UPDATE 1",
            "1 | SELECT 1 / 0 | ERROR 22012",
            "1 | COMMIT | ROLLBACK",
            // A statement outside a transaction that failed.
            "2 | UPDATE accounts SET balance = 1 / 0 WHERE id = 1 | ERROR 22012",
            // Still open when the connection closed.
            "3 | BEGIN | BEGIN",
            "3 | UPDATE accounts SET balance = 3 WHERE id = 1 | UPDATE 1",
            // A refused COMMIT, as SERIALIZABLE refuses one.
            "4 | BEGIN | BEGIN",
            "4 | UPDATE accounts SET balance = 4 WHERE id = 1 | UPDATE 1",
            "4 | COMMIT | ERROR 40001",
            // The one that committed.
            "5 | UPDATE accounts SET balance = balance + 1 WHERE id = 1 | UPDATE 1",
        ],
        "1, 101",
        Ok("T1"),
    );
}

#[test]
fn an_unanswered_commit_may_or_may_not_have_happened() {
    let log = [
        "0 | BEGIN | BEGIN",
        "0 | UPDATE accounts SET balance = 50 WHERE id = 1 | UPDATE 1",
        "0 | COMMIT | ?",
        "1 | SELECT balance FROM accounts WHERE id = 1 | SELECT 1: 100",
    ];
    check(&log, "1, 50", Ok("T2 T1"));
    check(&log, "1, 100", Ok("T2"));
    check(
        &log,
        "1, 7",
        Err("no serial order of the 2 committed transactions gives the rows the run read and the tables it left:\n  \
             T1 pod-0 (connection 0, commit unanswered): BEGIN; UPDATE accounts SET balance = 50 WHERE id = 1; COMMIT\n  \
             T2 pod-1 (connection 1): SELECT balance FROM accounts WHERE id = 1\n\
             closest order T2, T1: accounts ends as (1, 50) in the replay, but as (1, 7) in the run"),
    );
}

#[test]
fn reads_of_the_clock_and_randomness_are_not_compared() {
    check(
        &[
            "0 | SELECT now(), balance FROM accounts | SELECT 1: 2030-01-01 00:00:00+00, 100",
            "0 | SELECT gen_random_uuid() | SELECT 1: 00000000-0000-0000-0000-000000000000",
            "0 | SELECT balance FROM accounts | SELECT 1: 100",
        ],
        "1, 100",
        Ok("T1 T2 T3"),
    );
}

#[test]
fn what_the_search_cannot_decide_is_said() {
    let many: Vec<String> = (0..=SERIAL_TRANSACTIONS_MAX)
        .map(|n| format!("{n} | SELECT balance FROM accounts | SELECT 1: 100"))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    check(
        &many,
        "1, 100",
        Err("cannot check: the run committed 9 transactions, more than the 8 whose orders this check searches"),
    );
    check(
        &["0 | BEGIN; UPDATE accounts SET balance = 1; COMMIT | COMMIT"],
        "1, 1",
        Err("cannot check: pod-0 (connection 0) sent transaction control inside a multi-statement query: BEGIN; UPDATE accounts SET balance = 1; COMMIT"),
    );
}
