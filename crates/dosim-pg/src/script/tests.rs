//! Unit tests for the interleaving-script parser: each script is rendered back one action a line, or as its error.

use super::{is_dosim_only, parse, Action};

/// Parses `script` and renders each action as `lineno action => expectations`, or the error.
#[track_caller]
fn check(script: &str, expect: &[&str]) {
    let actual: Vec<String> = match parse(script) {
        Ok(lines) => lines
            .iter()
            .map(|l| {
                let action = match &l.action {
                    Action::Step { session, sql } => format!("step {session} {sql:?}"),
                    Action::Resumes { session } => format!("resumes {session}"),
                    Action::Sleep { ms } => format!("sleep {ms}"),
                };
                format!("{} {action} => {:?}", l.lineno, l.expected)
            })
            .collect(),
        Err(e) => vec![format!("error: {e}")],
    };
    assert_eq!(actual, expect, "script:\n{script}");
}

#[test]
fn steps_resumes_and_sleeps() {
    check(
        "-- comment\n\na: SELECT 1,  2\n  SELECT 1\n  | 1 |   2\nsleep 20\nb resumes:\n  UPDATE 1\n",
        &[
            r#"3 step a "SELECT 1,  2" => ["SELECT 1", "| 1 | 2"]"#,
            "6 sleep 20 => []",
            r#"7 resumes b => ["UPDATE 1"]"#,
        ],
    );
}

#[test]
fn a_step_without_expectations_and_a_long_sleep() {
    // The engine's runner simulates time, so the parser takes any sleep; the differential runner limits its own.
    check(
        "setup: CREATE TABLE t (id int)\nsleep 99999999\n",
        &[
            r#"1 step setup "CREATE TABLE t (id int)" => []"#,
            "2 sleep 99999999 => []",
        ],
    );
}

#[test]
fn malformed_lines_are_errors_naming_the_line() {
    check(
        "  SELECT 1\n",
        &["error: line 1: expectation before any step"],
    );
    check(
        "-- x\na SELECT 1\n",
        &[r#"error: line 2: expected `session: SQL`, got "a SELECT 1""#],
    );
    check(
        "sleep soon\n",
        &[r#"error: line 1: sleep takes milliseconds, got "soon""#],
    );
}

#[test]
fn dosim_only_is_said_on_the_first_line() {
    assert!(is_dosim_only("-- dosim-only: refusals\na: SELECT 1\n"));
    assert!(!is_dosim_only("a: SELECT 1\n-- dosim-only\n"));
}
