//! Interleaving scripts: sessions take turns running SQL, and each step's result, error or wait is checked against the script.
//!
//! The format is `dosim_pg::script`'s, shared with the differential suite against a real PostgreSQL (`docs/postgres.md`).
//! A step with no expectation lines must succeed without waiting; its result is not compared.
//! Sessions connect on first use, in order of appearance, to `defaultdb`.
//! A statement that finishes must be claimed by a `resumes:` block before the next step.

use std::collections::BTreeMap;

use dosim_pg::script::{self, normalize, Action};
use dosim_pg::{Engine, EngineConfig, Outcome, QueryResult, SessionId, SimTime};

fn render_result(r: &QueryResult, lines: &mut Vec<String>) {
    for n in &r.notices {
        lines.push(format!("{}: {}", n.severity, n.message));
    }
    lines.push(r.tag.clone());
    for row in &r.rows {
        let cells: Vec<String> = row
            .iter()
            .map(|v| v.to_text().unwrap_or_else(|| "NULL".to_string()))
            .collect();
        lines.push(normalize(&format!("| {}", cells.join(" | "))));
    }
}

/// Renders an outcome in the script's form; DETAIL only when the script asks for it.
fn render(outcome: &Outcome, want_detail: bool) -> Vec<String> {
    let mut lines = vec![];
    match outcome {
        Outcome::Done(results) => {
            for r in results {
                render_result(r, &mut lines);
            }
        }
        Outcome::Error { results, error } => {
            for r in results {
                render_result(r, &mut lines);
            }
            lines.push(format!("ERROR {}: {}", error.sqlstate, error.message));
            if want_detail {
                if let Some(d) = &error.detail {
                    lines.push(format!("DETAIL: {d}"));
                }
            }
        }
        Outcome::Blocked { results, .. } => {
            for r in results {
                render_result(r, &mut lines);
            }
            lines.push("blocked".to_string());
        }
    }
    lines
}

struct Runner {
    engine: Engine,
    sessions: BTreeMap<String, SessionId>,
    names: BTreeMap<SessionId, String>,
    now: SimTime,
    finished: BTreeMap<String, Outcome>,
}

impl Runner {
    fn session(&mut self, name: &str) -> SessionId {
        if let Some(id) = self.sessions.get(name) {
            return *id;
        }
        let id = self.engine.connect("defaultdb").expect("defaultdb exists");
        self.sessions.insert(name.to_string(), id);
        self.names.insert(id, name.to_string());
        id
    }

    /// Resumes every session whose wait ended; those that finish are kept for a `resumes:` block.
    fn settle(&mut self) {
        loop {
            let runnable = self.engine.take_runnable();
            if runnable.is_empty() {
                return;
            }
            for id in runnable {
                let outcome = self.engine.resume(id, self.now);
                if !matches!(outcome, Outcome::Blocked { .. }) {
                    let name = self.names[&id].clone();
                    let previous = self.finished.insert(name.clone(), outcome);
                    assert!(
                        previous.is_none(),
                        "{name} finished twice without a resumes: block"
                    );
                }
            }
        }
    }
}

#[track_caller]
fn check(name: &str) {
    let path = format!("{}/tests/scripts/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    let script = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut runner = Runner {
        engine: Engine::new(EngineConfig::default()),
        sessions: BTreeMap::new(),
        names: BTreeMap::new(),
        now: SimTime::ZERO,
        finished: BTreeMap::new(),
    };
    let lines = script::parse(&script).unwrap_or_else(|e| panic!("{name}.txt: {e}"));
    for line in lines {
        let want_detail = script::wants_detail(&line);
        let (expected, lineno) = (line.expected, line.lineno);
        let where_ = format!("{name}.txt:{lineno}");
        match line.action {
            Action::Step { session, sql } => {
                assert!(
                    runner.finished.is_empty(),
                    "{where_}: unclaimed finished statements: {:?}",
                    runner.finished
                );
                let id = runner.session(&session);
                let outcome = runner.engine.execute(id, &sql, &[], runner.now);
                runner.settle();
                if expected.is_empty() {
                    assert!(
                        matches!(outcome, Outcome::Done(_)),
                        "{where_}: {session}: {sql}\nexpected success, got {outcome:#?}"
                    );
                } else {
                    let actual = render(&outcome, want_detail);
                    assert_eq!(
                        actual, expected,
                        "{where_}: {session}: {sql}\nactual (left) differs from the script (right)"
                    );
                }
            }
            Action::Resumes { session } => {
                let outcome = runner.finished.remove(&session).unwrap_or_else(|| {
                    panic!(
                        "{where_}: {session} did not finish; finished: {:?}",
                        runner.finished.keys().collect::<Vec<_>>()
                    )
                });
                let actual = render(&outcome, want_detail);
                assert_eq!(
                    actual, expected,
                    "{where_}: {session} resumes\nactual (left) differs from the script (right)"
                );
            }
            Action::Sleep { ms } => {
                runner.now = runner.now.plus_ms(ms);
                runner.engine.advance(runner.now);
                runner.settle();
            }
        }
    }
    assert!(
        runner.finished.is_empty(),
        "{name}: unclaimed finished statements at the end: {:?}",
        runner.finished
    );
}

#[test]
fn read_committed_lost_update() {
    check("read_committed_lost_update");
}

#[test]
fn select_for_update_serializes_read_modify_write() {
    check("select_for_update");
}

#[test]
fn atomic_update_reevaluates_after_wait() {
    check("atomic_update_epq");
}

#[test]
fn eval_plan_qual_rechecks_where() {
    check("epq_recheck_where");
}

#[test]
fn repeatable_read_concurrent_update() {
    check("repeatable_read_concurrent_update");
}

#[test]
fn snapshots_per_statement_and_per_transaction() {
    check("snapshots");
}

#[test]
fn serializable_write_skew() {
    check("serializable_write_skew");
}

#[test]
fn deadlock_detected() {
    check("deadlock");
}

#[test]
fn advisory_locks() {
    check("advisory_locks");
}

#[test]
fn unique_and_not_null() {
    check("unique_and_not_null");
}

#[test]
fn savepoints_and_transaction_settings() {
    check("savepoints");
}

#[test]
fn lock_timeout_nowait_skip_locked() {
    check("lock_timeouts");
}

#[test]
fn unsupported_statements() {
    check("unsupported");
}

#[test]
fn waiters_are_served_first_come_first_served() {
    check("lock_queue");
}

#[test]
fn sql_surface() {
    check("sql_surface");
}

#[test]
fn serializable_pivot_and_non_conflicts() {
    check("serializable_pivot");
}

#[test]
fn group_by_and_having() {
    check("grouping");
}

#[test]
fn settings_are_transactional() {
    check("settings");
}

#[test]
fn create_and_drop_index() {
    check("indexes");
}

#[test]
fn uncorrelated_subqueries() {
    check("subqueries");
}

#[test]
fn rollback_undoes_created_tables_and_indexes() {
    check("ddl_rollback");
}

#[test]
fn expressions_and_errors() {
    check("expressions");
}

#[test]
fn concurrency_edge_cases() {
    check("concurrency");
}

#[test]
fn locks_and_conflicts() {
    check("locks_and_conflicts");
}

#[test]
fn insert_select() {
    check("insert_select");
}

#[test]
fn joins() {
    check("joins");
}

#[test]
fn check_constraints() {
    check("checks");
}

#[test]
fn foreign_keys() {
    check("foreign_keys");
}
