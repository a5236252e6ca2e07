//! Managed PostgreSQL in scenarios end to end: the cluster in the API, tokio-postgres over the simulated network, statements in the history, checks over the final data.

mod common;

use std::str::FromStr;
use std::time::Duration;

use dosim::pg::tokio_postgres;
use dosim::{checks, Actor, ActorPg, DatabaseSpec, RunOutcome, Scenario};

type Error = Box<dyn std::error::Error>;

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .database(
            DatabaseSpec::pg("backend")
                .setup("CREATE TABLE counters (id integer PRIMARY KEY, n bigint NOT NULL)")
                .setup("INSERT INTO counters VALUES (1, 0), (2, 0)"),
        )
        .check(checks::actors_ok())
        .max_sim_time(Duration::from_secs(30))
}

/// Runs one seed twice, checks the run repeats and its violations, and returns the outcome.
#[track_caller]
fn check(scenario: Scenario, violations: &[&str]) -> RunOutcome {
    common::run_seed_3_twice(&scenario, violations)
}

/// The SQL operations of the run: actor, statement, outcome.
fn sql_lines(outcome: &RunOutcome) -> Vec<String> {
    common::op_lines(outcome, "SQL")
}

async fn bump(cx: Actor) -> Result<(), Error> {
    let db = dosim::pg::connect_with(&cx.postgres_config("backend")?).await?;
    db.execute("UPDATE counters SET n = n + 1 WHERE id = $1", &[&1i32])
        .await?;
    Ok(())
}

#[test]
fn the_api_lists_the_cluster_whose_uri_reaches_the_data_plane() {
    let outcome = check(
        scenario("pg_connection").actor("app", |cx: Actor| async move {
            let clusters = cx.client().databases().list().send().await?;
            let connection = clusters
                .first()
                .and_then(|cluster| cluster.connection.clone())
                .ok_or("no cluster")?;
            let config = cx.postgres_config("backend")?;
            let host = match &config.get_hosts()[0] {
                tokio_postgres::config::Host::Tcp(host) => host.clone(),
                other => format!("{other:?}"),
            };
            assert_eq!(
                (
                    host.as_str(),
                    config.get_ports()[0],
                    config.get_user(),
                    config.get_dbname()
                ),
                (
                    connection.host.as_str(),
                    25060,
                    Some("doadmin"),
                    Some("defaultdb")
                )
            );
            // The URI as DigitalOcean gives it, sslmode=require included, connects.
            let config = tokio_postgres::Config::from_str(&connection.uri)?;
            let db = dosim::pg::connect_with(&config).await?;
            cx.sleep(Duration::from_millis(1500)).await;
            let row = db
                .query_one("SELECT now()::text, current_database()", &[])
                .await?;
            cx.believe("now", row.get::<_, String>(0));
            Ok::<_, Error>(())
        }),
        &[],
    );
    assert_eq!(outcome.databases.len(), 1);
    let now = &outcome.beliefs_about("now")["app"];
    // The engine's clock is the run's: a second and a half, plus the network's latency, after the epoch.
    assert!(
        now.as_deref()
            .is_some_and(|now| now.starts_with("2026-01-01 00:00:01.5")),
        "{now:?}"
    );
}

#[test]
fn checks_query_the_final_data() {
    check(
        scenario("pg_checks")
            .actors(2, bump)
            .check(checks::conserved(
                "the count",
                "SELECT sum(n) FROM counters",
                2,
            ))
            .check(checks::sql_equals(
                "SELECT id, n FROM counters ORDER BY id",
                "1, 2; 2, 0",
            ))
            .check(checks::serializable(&["counters"]))
            .check(checks::serializable(&["counters (n)"])),
        &[],
    );
    check(
        scenario("pg_checks_fail")
            .actors(2, bump)
            .check(checks::conserved("the count", "SELECT sum(n) FROM counters", 3))
            .check(checks::sql_equals("SELECT n FROM counters WHERE id = 2", "1"))
            .check(checks::sql_equals("SELECT nope FROM counters", ""))
            .check(checks::serializable(&["counters; DROP TABLE counters"]))
            .check(checks::serializable(&["counters (nope)"])),
        &[
            "the count stays 3: the count is 2 at the end of the run, not 3\n(SELECT sum(n) FROM counters)",
            "SELECT n FROM counters WHERE id = 2 returns 1: SELECT n FROM counters WHERE id = 2 returned \"0\" at the end of the run, not \"1\"",
            "SELECT nope FROM counters returns : SELECT nope FROM counters failed at the end of the run: ERROR 42703: column \"nope\" does not exist",
            "the committed history is serializable (counters; DROP TABLE counters): \"counters; DROP TABLE counters\" is not a table name or `table (column, …)`",
            "the committed history is serializable (counters (nope)): SELECT nope FROM counters failed at the end of the run: ERROR 42703: column \"nope\" does not exist",
        ],
    );
}

#[test]
fn waits_and_rollbacks_are_in_the_history() {
    // pod-0 holds the row for a second; pod-1's update waits for it. pod-2 never commits, so its update is rolled back when it disconnects.
    let outcome = check(
        scenario("pg_waits")
            .actor("holder", |cx: Actor| async move {
                let mut db = dosim::pg::connect_with(&cx.postgres_config("backend")?).await?;
                let tx = db.transaction().await?;
                tx.execute("UPDATE counters SET n = n + 10 WHERE id = $1", &[&1i32])
                    .await?;
                cx.sleep(Duration::from_secs(1)).await;
                tx.commit().await?;
                Ok::<_, Error>(())
            })
            .actor("waiter", |cx: Actor| async move {
                cx.sleep(Duration::from_millis(300)).await;
                bump(cx).await
            })
            .actor("quitter", |cx: Actor| async move {
                let mut db = dosim::pg::connect_with(&cx.postgres_config("backend")?).await?;
                let tx = db.transaction().await?;
                tx.execute("UPDATE counters SET n = 99 WHERE id = $1", &[&2i32])
                    .await?;
                drop(tx);
                drop(db);
                Ok::<_, Error>(())
            })
            .check(checks::sql_equals(
                "SELECT id, n FROM counters ORDER BY id",
                "1, 11; 2, 0",
            ))
            // The quitter's rolled-back update is no transaction of the history.
            .check(checks::serializable(&["counters"])),
        &[],
    );
    let lines = sql_lines(&outcome);
    let waited: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains("waited"))
        .collect();
    assert_eq!(waited.len(), 1, "{lines:#?}");
    assert!(
        waited[0].starts_with("waiter UPDATE counters SET n = n + 1 WHERE id = $1 → waited 0.")
            && waited[0].ends_with(", UPDATE 1"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line == "quitter UPDATE counters SET n = 99 WHERE id = $1 → UPDATE 1"),
        "{lines:#?}"
    );
}

#[test]
fn a_bad_database_spec_is_refused_before_the_run() {
    let outcome = Scenario::new("pg_bad")
        .database(DatabaseSpec::pg("backend").setup("CREATE TABLE t (id date)"))
        .actors(1, bump)
        .run(0);
    assert_eq!(
        outcome.sim_error.as_deref(),
        Some("database cluster backend: setup SQL failed: ERROR 0A000: type DATE is not supported")
    );
    let outcome = Scenario::new("pg_bad_region")
        .database(DatabaseSpec::pg("backend").region("mars1"))
        .actors(1, bump)
        .run(0);
    assert!(
        outcome
            .sim_error
            .as_deref()
            .is_some_and(|error| error.starts_with("database cluster backend: ")),
        "{:?}",
        outcome.sim_error
    );
}

#[test]
fn the_statement_log_keeps_each_statement_in_full() {
    let long_name = "x".repeat(150);
    let outcome = check(
        scenario("pg_log").actor("app", move |cx: Actor| {
            let long_name = long_name.clone();
            async move {
                let mut db = dosim::pg::connect_with(&cx.postgres_config("backend")?).await?;
                let tx = db.transaction().await?;
                let sql = format!("SELECT id, n, '{long_name}' AS long_name FROM counters WHERE n >= $1 ORDER BY id");
                tx.query(sql.as_str(), &[&0i64]).await?;
                tx.execute("UPDATE counters SET n = $1 WHERE id = $2", &[&5i64, &2i32])
                    .await?;
                tx.commit().await?;
                let _ = db.simple_query("SELECT 1; SELECT nope").await;
                Ok::<_, Error>(())
            }
        }),
        &[],
    );
    // The history's SQL operations name the connection the log names.
    let connections: Vec<Option<u64>> = outcome
        .ops
        .iter()
        .filter(|op| op.method == "SQL")
        .map(|op| op.connection)
        .collect();
    assert_eq!(connections, [Some(0); 5]);
    let log = outcome.databases[0].statements();
    assert_eq!(log.incomplete, None);
    let lines: Vec<String> = log
        .statements
        .iter()
        .map(|statement| {
            let params: Vec<String> = statement
                .params
                .as_ref()
                .map(|params| params.iter().map(|value| format!("{value:?}")).collect())
                .unwrap_or_default();
            let outcome = match &statement.outcome {
                dosim::pg::LoggedOutcome::Done(results) => results
                    .iter()
                    .map(|result| format!("{} {:?}", result.tag, result.rows))
                    .collect::<Vec<_>>()
                    .join(" / "),
                other => format!("{other:?}"),
            };
            format!(
                "{} {} {} {} [{}] → {outcome}",
                statement.connection,
                statement.actor,
                statement.database,
                statement.sql.replace(&"x".repeat(150), "x…"),
                params.join(", ")
            )
        })
        .collect();
    let long = format!("Some(\"{}\")", "x".repeat(150));
    assert_eq!(
        lines,
        [
            "0 app defaultdb START TRANSACTION [] → START TRANSACTION Some([])".to_owned(),
            format!(
                "0 app defaultdb SELECT id, n, 'x…' AS long_name FROM counters WHERE n >= $1 ORDER BY id [Int8(0)] → SELECT 2 Some([[Some(\"1\"), Some(\"0\"), {long}], [Some(\"2\"), Some(\"0\"), {long}]])"
            ),
            "0 app defaultdb UPDATE counters SET n = $1 WHERE id = $2 [Int8(5), Int4(2)] → UPDATE 1 Some([])".to_owned(),
            "0 app defaultdb COMMIT [] → COMMIT Some([])".to_owned(),
            "0 app defaultdb SELECT 1; SELECT nope [] → Error { results: [LoggedResult { tag: \"SELECT 1\", rows: Some([[Some(\"1\")]]) }], sqlstate: \"42703\", message: \"column \\\"nope\\\" does not exist\" }".to_owned(),
        ]
    );
}
