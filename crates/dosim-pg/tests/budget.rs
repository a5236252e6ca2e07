//! The work budget: a statement that evaluates or visits too much is canceled with PostgreSQL's
//! `57014 canceling statement due to statement timeout`, its transaction fails as after any
//! error, and the session and the engine go on answering. The memory budget: a write past it is
//! refused with `53200 out of memory`, and deleted rows give their memory back.

mod common;

use common::run;
use dosim_pg::{Engine, EngineConfig, Outcome, SessionId, SimTime, Value};

/// An engine with two tables of `n` rows each.
fn engine_with_rows(config: EngineConfig, n: usize) -> (Engine, SessionId) {
    let mut engine = Engine::new(config);
    let s = engine.connect("defaultdb").expect("defaultdb exists");
    for table in ["a", "b"] {
        assert_eq!(
            run(&mut engine, s, &format!("CREATE TABLE {table} (id int)")),
            ""
        );
        let values: Vec<String> = (0..n).map(|i| format!("({i})")).collect();
        let sql = format!("INSERT INTO {table} VALUES {}", values.join(","));
        assert_eq!(run(&mut engine, s, &sql), "");
    }
    (engine, s)
}

const CANCELED: &str = "ERROR 57014 canceling statement due to statement timeout";

#[test]
fn a_statement_over_the_engines_budget_is_canceled() {
    let (mut engine, s) = engine_with_rows(
        EngineConfig {
            statement_work_max: 200_000,
            ..EngineConfig::default()
        },
        500,
    );
    // 250,000 pairs, each visited and its condition evaluated: over the budget.
    let heavy = "SELECT count(*) FROM a CROSS JOIN b WHERE a.id + b.id > 100000";
    assert_eq!(run(&mut engine, s, heavy), CANCELED);
    // The same query over fewer rows fits.
    assert_eq!(
        run(
            &mut engine,
            s,
            "SELECT count(*) FROM a CROSS JOIN b WHERE a.id < 10 AND b.id < 10"
        ),
        CANCELED,
        "the join still visits every pair before WHERE"
    );
    assert_eq!(
        run(&mut engine, s, "SELECT count(*) FROM a WHERE id < 10"),
        "10"
    );
    // Inside a transaction the cancel fails the transaction, as any error does.
    assert_eq!(run(&mut engine, s, "BEGIN"), "");
    assert_eq!(run(&mut engine, s, heavy), CANCELED);
    assert!(run(&mut engine, s, "SELECT 1").starts_with("ERROR 25P02"));
    assert_eq!(run(&mut engine, s, "ROLLBACK"), "");
    assert_eq!(run(&mut engine, s, "SELECT 1"), "1");
}

#[test]
fn statement_timeout_lowers_the_budget() {
    let (mut engine, s) = engine_with_rows(EngineConfig::default(), 300);
    // 90,000 pairs fit the default budget.
    let join = "SELECT count(*) FROM a CROSS JOIN b WHERE a.id >= b.id";
    assert_eq!(run(&mut engine, s, join), "45150");
    // A millisecond of statement_timeout buys 10,000 units: too few.
    assert_eq!(run(&mut engine, s, "SET statement_timeout = 1"), "");
    assert_eq!(run(&mut engine, s, join), CANCELED);
    assert_eq!(run(&mut engine, s, "SELECT count(*) FROM a"), "300");
    assert_eq!(run(&mut engine, s, "SET statement_timeout = 0"), "");
    assert_eq!(run(&mut engine, s, join), "45150");
}

#[test]
fn rows_past_the_memory_budget_are_refused_and_deletes_give_memory_back() {
    let mut engine = Engine::new(EngineConfig {
        memory_bytes_max: 50 << 20,
        ..EngineConfig::default()
    });
    let s = engine.connect("defaultdb").expect("defaultdb exists");
    assert_eq!(run(&mut engine, s, "CREATE TABLE blobs (body text)"), "");
    let big = Value::Text("x".repeat(10 << 20));
    let insert = |engine: &mut Engine| match engine.execute(
        s,
        "INSERT INTO blobs VALUES ($1)",
        std::slice::from_ref(&big),
        SimTime::ZERO,
    ) {
        Outcome::Done(_) => String::new(),
        Outcome::Error { error, .. } => format!("ERROR {} {}", error.sqlstate, error.message),
        Outcome::Blocked { .. } => "blocked".into(),
    };
    for _ in 0..4 {
        assert_eq!(insert(&mut engine), "");
    }
    let refused = insert(&mut engine);
    assert_eq!(refused, "ERROR 53200 out of memory");
    assert_eq!(run(&mut engine, s, "SELECT count(*) FROM blobs"), "4");
    // Once the delete commits and no transaction needs the old versions, their memory returns.
    assert_eq!(run(&mut engine, s, "DELETE FROM blobs"), "");
    for _ in 0..4 {
        assert_eq!(insert(&mut engine), "");
    }
    assert_eq!(run(&mut engine, s, "SELECT count(*) FROM blobs"), "4");
    // An open transaction's snapshot still needs deleted versions: they stay counted.
    let reader = engine.connect("defaultdb").expect("second session");
    assert_eq!(
        run(&mut engine, reader, "BEGIN ISOLATION LEVEL REPEATABLE READ"),
        ""
    );
    assert_eq!(run(&mut engine, reader, "SELECT count(*) FROM blobs"), "4");
    assert_eq!(run(&mut engine, s, "DELETE FROM blobs"), "");
    assert_eq!(insert(&mut engine), "ERROR 53200 out of memory");
    assert_eq!(run(&mut engine, reader, "SELECT count(*) FROM blobs"), "4");
    assert_eq!(run(&mut engine, reader, "COMMIT"), "");
    assert_eq!(run(&mut engine, s, "SELECT 1"), "1");
    assert_eq!(insert(&mut engine), "");
}
