//! The engine's API as the wire layer uses it: parameters, result columns, transaction status, deadlines, disconnects and multi-statement queries.

use dosim_pg::{Engine, EngineConfig, Outcome, SimTime, Value, WaitFor};

/// A step: a session (by index), the SQL, its parameters, and the simulated time it runs at.
type Step<'a> = (usize, &'a str, &'a [Value], u64);

/// Runs the steps on fresh sessions and renders every outcome, runnable list and deadline, one per line.
#[track_caller]
fn check(steps: &[Step], expect: &str) {
    let mut engine = Engine::new(EngineConfig::default());
    let sessions: Vec<_> = (0..3)
        .map(|_| engine.connect("defaultdb").expect("defaultdb exists"))
        .collect();
    let mut out = vec![];
    for (i, sql, params, at_ms) in steps {
        let now = SimTime::from_ms(*at_ms);
        let outcome = if *sql == "resume" {
            engine.resume(sessions[*i], now)
        } else if *sql == "disconnect" {
            engine.disconnect(sessions[*i]);
            Outcome::Done(vec![])
        } else if *sql == "advance" {
            engine.advance(now);
            Outcome::Done(vec![])
        } else {
            engine.execute(sessions[*i], sql, params, now)
        };
        let mut line = format!("{i}: {sql} -> ");
        match outcome {
            Outcome::Done(results) => {
                let parts: Vec<String> = results
                    .iter()
                    .map(|r| {
                        let cols: Vec<String> = r
                            .columns
                            .iter()
                            .map(|c| format!("{}:{}", c.name, c.ty.oid()))
                            .collect();
                        let rows: Vec<String> = r
                            .rows
                            .iter()
                            .map(|row| {
                                row.iter()
                                    .map(|v| v.to_text().unwrap_or_else(|| "NULL".into()))
                                    .collect::<Vec<_>>()
                                    .join(",")
                            })
                            .collect();
                        format!("{} [{}] {}", r.tag, cols.join(" "), rows.join(";"))
                            .trim_end()
                            .to_string()
                    })
                    .collect();
                line.push_str(&parts.join(" / "));
            }
            Outcome::Error { results, error } => {
                line.push_str(&format!(
                    "{} done, ERROR {} {}",
                    results.len(),
                    error.sqlstate,
                    error.message
                ));
            }
            Outcome::Blocked {
                results,
                waiting_for,
            } => {
                let what = match waiting_for {
                    WaitFor::Transaction(_) => "transaction".to_string(),
                    WaitFor::Advisory(k) => format!("advisory {k}"),
                };
                line.push_str(&format!("{} done, blocked on {what}", results.len()));
            }
        }
        let status: String = sessions
            .iter()
            .map(|s| engine.transaction_status(*s) as char)
            .collect();
        let mut line = line.trim_end().to_string();
        line.push_str(&format!(" | status {status}"));
        let runnable = engine.take_runnable();
        if !runnable.is_empty() {
            let idx: Vec<String> = runnable
                .iter()
                .map(|r| sessions.iter().position(|s| s == r).unwrap().to_string())
                .collect();
            line.push_str(&format!(" | runnable {}", idx.join(",")));
        }
        if let Some(d) = engine.next_deadline() {
            line.push_str(&format!(" | deadline {}", d.as_ms()));
        }
        out.push(line);
    }
    let actual = out.join("\n");
    let expect = expect
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(actual, expect, "\nactual:\n{actual}\n");
}

const SCHEMA: &str = "CREATE TABLE jobs (id bigserial PRIMARY KEY, name text NOT NULL, done boolean NOT NULL DEFAULT false, cost numeric(8, 2), created_at timestamptz NOT NULL DEFAULT now())";

#[test]
fn parameters_and_result_columns() {
    check(
        &[
            (0, SCHEMA, &[], 0),
            (
                0,
                "INSERT INTO jobs (name, cost) VALUES ($1, $2), ($3, NULL) RETURNING *",
                &[
                    Value::Text("build".into()),
                    Value::Text("1.5".into()),
                    Value::Text("test".into()),
                ],
                5_000,
            ),
            (
                1,
                "SELECT id, name FROM jobs WHERE id = $1 AND NOT done",
                &[Value::Int8(2)],
                6_000,
            ),
            (
                1,
                "SELECT count(*) AS n, sum(cost), max(id) FROM jobs WHERE created_at < now()",
                &[],
                7_000,
            ),
            (1, "SELECT $1 + 1", &[Value::Int4(41)], 7_000),
            (1, "SELECT $2", &[Value::Int4(41)], 7_000),
        ],
        "
        0: CREATE TABLE jobs (id bigserial PRIMARY KEY, name text NOT NULL, done boolean NOT NULL DEFAULT false, cost numeric(8, 2), created_at timestamptz NOT NULL DEFAULT now()) -> CREATE TABLE [] | status III
        0: INSERT INTO jobs (name, cost) VALUES ($1, $2), ($3, NULL) RETURNING * -> INSERT 0 2 [id:20 name:25 done:16 cost:1700 created_at:1184] 1,build,f,1.50,2026-01-01 00:00:05+00;2,test,f,NULL,2026-01-01 00:00:05+00 | status III
        1: SELECT id, name FROM jobs WHERE id = $1 AND NOT done -> SELECT 1 [id:20 name:25] 2,test | status III
        1: SELECT count(*) AS n, sum(cost), max(id) FROM jobs WHERE created_at < now() -> SELECT 1 [n:20 sum:1700 max:20] 2,1.50,2 | status III
        1: SELECT $1 + 1 -> SELECT 1 [?column?:23] 42 | status III
        1: SELECT $2 -> 0 done, ERROR 42P02 there is no parameter $2 | status III
        ",
    );
}

#[test]
fn multi_statement_query_is_one_implicit_transaction() {
    check(
        &[
            (0, SCHEMA, &[], 0),
            (
                0,
                "INSERT INTO jobs (name) VALUES ('a'); INSERT INTO jobs (id, name) VALUES (1, 'dup'); SELECT 1",
                &[],
                0,
            ),
            (1, "SELECT count(*) FROM jobs", &[], 0),
            (0, "BEGIN; INSERT INTO jobs (name) VALUES ('b')", &[], 0),
            (1, "SELECT count(*) FROM jobs", &[], 0),
            (0, "COMMIT; SELECT name FROM jobs", &[], 0),
        ],
        "
        0: CREATE TABLE jobs (id bigserial PRIMARY KEY, name text NOT NULL, done boolean NOT NULL DEFAULT false, cost numeric(8, 2), created_at timestamptz NOT NULL DEFAULT now()) -> CREATE TABLE [] | status III
        0: INSERT INTO jobs (name) VALUES ('a'); INSERT INTO jobs (id, name) VALUES (1, 'dup'); SELECT 1 -> 1 done, ERROR 23505 duplicate key value violates unique constraint \"jobs_pkey\" | status III
        1: SELECT count(*) FROM jobs -> SELECT 1 [count:20] 0 | status III
        0: BEGIN; INSERT INTO jobs (name) VALUES ('b') -> BEGIN [] / INSERT 0 1 [] | status TII
        1: SELECT count(*) FROM jobs -> SELECT 1 [count:20] 0 | status TII
        0: COMMIT; SELECT name FROM jobs -> COMMIT [] / SELECT 1 [name:25] b | status III
        ",
    );
}

#[test]
fn waits_deadlines_and_disconnects() {
    check(
        &[
            (0, SCHEMA, &[], 0),
            (0, "INSERT INTO jobs (name) VALUES ('a')", &[], 0),
            (0, "BEGIN; SELECT * FROM jobs FOR UPDATE", &[], 0),
            (1, "SET lock_timeout = '5s'", &[], 0),
            (1, "UPDATE jobs SET done = true RETURNING done", &[], 100),
            (2, "SELECT pg_advisory_lock(5)", &[], 200),
            (0, "SELECT pg_advisory_lock(5)", &[], 300),
            (1, "SELECT 1", &[], 400),
            (0, "advance", &[], 1_100),
            (0, "advance", &[], 1_300),
            (2, "disconnect", &[], 1_400),
            (0, "resume", &[], 1_400),
            (0, "COMMIT", &[], 1_500),
            (1, "resume", &[], 1_500),
        ],
        "
        0: CREATE TABLE jobs (id bigserial PRIMARY KEY, name text NOT NULL, done boolean NOT NULL DEFAULT false, cost numeric(8, 2), created_at timestamptz NOT NULL DEFAULT now()) -> CREATE TABLE [] | status III
        0: INSERT INTO jobs (name) VALUES ('a') -> INSERT 0 1 [] | status III
        0: BEGIN; SELECT * FROM jobs FOR UPDATE -> BEGIN [] / SELECT 1 [id:20 name:25 done:16 cost:1700 created_at:1184] 1,a,f,NULL,2026-01-01 00:00:00+00 | status TII
        1: SET lock_timeout = '5s' -> SET [] | status TII
        1: UPDATE jobs SET done = true RETURNING done -> 0 done, blocked on transaction | status TII | deadline 1100
        2: SELECT pg_advisory_lock(5) -> SELECT 1 [pg_advisory_lock:2278] | status TII | deadline 1100
        0: SELECT pg_advisory_lock(5) -> 0 done, blocked on advisory 5 | status TII | deadline 1100
        1: SELECT 1 -> 0 done, ERROR 08P01 another command is already in progress | status TII | deadline 1100
        0: advance -> | status TII | deadline 1300
        0: advance -> | status TII | deadline 5100
        2: disconnect -> | status TII | runnable 0 | deadline 5100
        0: resume -> SELECT 1 [pg_advisory_lock:2278] | status TII | deadline 5100
        0: COMMIT -> COMMIT [] | status III | runnable 1
        1: resume -> UPDATE 1 [done:16] t | status III
        ",
    );
}

/// The wire layer shares one engine between connection tasks behind a mutex, so it must be `Send`.
#[test]
fn engine_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Engine>();
}

/// `gen_random_uuid()` gives version 4 UUIDs that depend on the engine's seed alone.
#[test]
fn gen_random_uuid_is_seeded() {
    let uuids = |seed: u64| {
        let mut engine = Engine::new(EngineConfig {
            seed,
            ..EngineConfig::default()
        });
        let s = engine.connect("defaultdb").expect("defaultdb exists");
        let Outcome::Done(results) = engine.execute(
            s,
            "SELECT gen_random_uuid(), gen_random_uuid()",
            &[],
            SimTime::ZERO,
        ) else {
            panic!("gen_random_uuid failed");
        };
        results[0].rows[0]
            .iter()
            .map(|v| v.to_text().expect("not null"))
            .collect::<Vec<_>>()
    };
    let first = uuids(7);
    assert_eq!(first, uuids(7));
    assert_ne!(first, uuids(8));
    assert_ne!(first[0], first[1]);
    for u in &first {
        assert_eq!(u.len(), 36, "{u}");
        assert_eq!(&u[14..15], "4", "version nibble of {u}");
        assert!(
            matches!(&u[19..20], "8" | "9" | "a" | "b"),
            "variant of {u}"
        );
    }
}

/// Many writes, rollbacks and vacuums later, the visible rows and the unique keys are still right.
#[test]
fn vacuum_keeps_rows_and_keys() {
    let mut engine = Engine::new(EngineConfig::default());
    let a = engine.connect("defaultdb").expect("defaultdb exists");
    let mut run = |sql: &str| match engine.execute(a, sql, &[], SimTime::ZERO) {
        Outcome::Done(results) => results
            .last()
            .map(|r| {
                let rows: Vec<String> = r
                    .rows
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|v| v.to_text().unwrap_or_default())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .collect();
                format!("{} {}", r.tag, rows.join(";"))
                    .trim_end()
                    .to_string()
            })
            .unwrap_or_default(),
        Outcome::Error { error, .. } => format!("ERROR {}", error.sqlstate),
        Outcome::Blocked { .. } => "blocked".to_string(),
    };
    run("CREATE TABLE kv (k int PRIMARY KEY, v int NOT NULL)");
    for round in 0..50 {
        run(&format!("INSERT INTO kv VALUES ({round}, 0)"));
        run(&format!(
            "BEGIN; INSERT INTO kv VALUES ({}, 1); ROLLBACK",
            round + 1000
        ));
        run("UPDATE kv SET v = v + 1");
        if round % 3 == 0 {
            run(&format!("DELETE FROM kv WHERE k = {round}"));
        }
    }
    assert_eq!(run("SELECT count(*), sum(v) FROM kv"), "SELECT 1 33,833");
    assert_eq!(run("INSERT INTO kv VALUES (1, 0)"), "ERROR 23505");
    assert_eq!(run("INSERT INTO kv VALUES (0, 0)"), "INSERT 0 1");
    assert_eq!(run("INSERT INTO kv VALUES (1000, 0)"), "INSERT 0 1");
    assert_eq!(run("SELECT k FROM kv WHERE k >= 1000"), "SELECT 1 1000");
}

/// `version()` and `SHOW server_version` agree on the version the engine reports.
#[test]
fn version_reported() {
    let mut engine = Engine::new(EngineConfig::default());
    let s = engine.connect("defaultdb").expect("defaultdb exists");
    let Outcome::Done(results) = engine.execute(
        s,
        "SELECT version(); SHOW server_version",
        &[],
        SimTime::ZERO,
    ) else {
        panic!("version() failed");
    };
    let version = results[0].rows[0][0].to_text().expect("not null");
    let server_version = results[1].rows[0][0].to_text().expect("not null");
    assert!(
        version.starts_with(&format!("PostgreSQL {server_version} on ")),
        "{version} / {server_version}"
    );
}
