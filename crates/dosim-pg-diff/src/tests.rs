//! Unit tests for reconciling found differences with the known ones, and for the limit on a script's sleeps.

use super::*;
use crate::run::parse;
use crate::script::Action;

fn diff(script: &str, lineno: usize, actual: &[&str]) -> Difference {
    Difference {
        script: script.into(),
        lineno,
        step: "a: SELECT 1".into(),
        expected: vec!["SELECT 1".into()],
        actual: actual.iter().map(|s| s.to_string()).collect(),
    }
}

const KNOWN: &[Known] = &[Known {
    script: "s",
    lineno: 3,
    postgres: &["SELECT 2"],
    fixme: "test entry",
}];

#[track_caller]
fn check(found: &[Difference], ran: &[&str], problems: &[&str]) {
    let ran: Vec<String> = ran.iter().map(|s| s.to_string()).collect();
    let got = reconcile(found, KNOWN, &ran);
    assert_eq!(got.len(), problems.len(), "{got:#?}");
    for (g, want) in got.iter().zip(problems) {
        assert!(g.contains(want), "{g:?} should contain {want:?}");
    }
}

#[test]
fn a_known_difference_that_occurs_passes() {
    check(&[diff("s", 3, &["SELECT 2"])], &["s"], &[]);
}

#[test]
fn an_unknown_difference_fails() {
    check(
        &[diff("s", 3, &["SELECT 2"]), diff("s", 5, &["SELECT 3"])],
        &["s"],
        &["not in KNOWN_DIFFERENCES:\ns.txt:5"],
    );
}

#[test]
fn a_known_difference_with_another_outcome_fails_twice() {
    check(
        &[diff("s", 3, &["SELECT 3"])],
        &["s"],
        &["not in KNOWN_DIFFERENCES", "no longer gives"],
    );
}

#[test]
fn a_known_difference_that_went_away_fails() {
    check(
        &[],
        &["s"],
        &["s.txt:3 (test entry), but PostgreSQL no longer gives"],
    );
}

#[test]
fn a_known_difference_of_a_script_that_did_not_run_fails() {
    check(&[], &["t"], &["did not run"]);
}

#[test]
fn scripts_parse_as_the_engine_runner_parses_them_but_sleeps_are_limited() {
    let lines = parse("a: SELECT 1\n  SELECT 1\nsleep 10000\n").unwrap();
    assert_eq!(
        lines.iter().map(|l| &l.action).collect::<Vec<_>>(),
        [
            &Action::Step {
                session: "a".into(),
                sql: "SELECT 1".into()
            },
            &Action::Sleep { ms: 10_000 },
        ]
    );
    assert_eq!(
        parse("a: SELECT 1\nsleep 10001\n").unwrap_err(),
        "line 2: sleep 10001 is longer than 10000 ms"
    );
    assert!(parse("  SELECT 1\n").unwrap_err().contains("line 1"));
}
