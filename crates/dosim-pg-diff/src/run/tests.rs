//! Unit tests for rendering PostgreSQL's messages in the scripts' form.

use super::*;
use crate::wire::Report;

fn report(severity: &str, code: &str, message: &str, detail: Option<&str>) -> Report {
    Report {
        severity: severity.into(),
        code: code.into(),
        message: message.into(),
        detail: detail.map(Into::into),
    }
}

fn row(values: &[Option<&str>]) -> Message {
    Message::DataRow(values.iter().map(|v| v.map(Into::into)).collect())
}

#[track_caller]
fn check(outcome: Outcome, want_detail: bool, expected: &[&str]) {
    assert_eq!(render(&outcome, want_detail), expected);
}

#[test]
fn notices_then_tag_then_rows() {
    check(
        Outcome::Done(vec![
            row(&[Some("1"), None]),
            Message::Notice(report("WARNING", "01000", "careful", None)),
            Message::CommandComplete("SELECT 1".into()),
            Message::Ready(b'I'),
        ]),
        false,
        &["WARNING: careful", "SELECT 1", "| 1 | NULL"],
    );
}

#[test]
fn empty_values_collapse() {
    check(
        Outcome::Done(vec![
            row(&[Some(""), Some("")]),
            Message::CommandComplete("SELECT 1".into()),
        ]),
        false,
        &["SELECT 1", "| |"],
    );
}

#[test]
fn results_before_an_error_and_detail_on_request() {
    let messages = vec![
        Message::CommandComplete("CREATE TABLE".into()),
        row(&[Some("1")]),
        Message::Error(report(
            "ERROR",
            "23505",
            "duplicate",
            Some("Key (id)=(1) already exists."),
        )),
        Message::Ready(b'I'),
    ];
    check(
        Outcome::Done(messages.clone()),
        false,
        &["CREATE TABLE", "ERROR 23505: duplicate"],
    );
    check(
        Outcome::Done(messages),
        true,
        &[
            "CREATE TABLE",
            "ERROR 23505: duplicate",
            "DETAIL: Key (id)=(1) already exists.",
        ],
    );
}

#[test]
fn blocked_and_stuck() {
    check(
        Outcome::Blocked(vec![Message::CommandComplete("BEGIN".into())]),
        false,
        &["BEGIN", "blocked"],
    );
    check(
        Outcome::Stuck(vec![]),
        false,
        &["(no answer within 10 s, and waiting for no lock)"],
    );
}
