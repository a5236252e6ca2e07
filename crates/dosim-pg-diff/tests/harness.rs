//! Tests of the harness itself against the reference server: scripts that agree with PostgreSQL pass, and each way a script can be wrong is reported at its line.

use dosim_pg_diff::run_script;
use dosim_pg_diff::server::Reference;
use dosim_pg_diff::wire::Conn;

const SETUP: &str = "\
setup: CREATE TABLE t (id int PRIMARY KEY, v int)
setup: INSERT INTO t VALUES (1, 0)
";

/// Runs `body` after the two setup lines; `expected` lists each difference's line (in the whole script) and PostgreSQL's outcome.
#[track_caller]
fn check(reference: &Reference, admin: &mut Conn, body: &str, expected: &[(usize, &[&str])]) {
    let text = format!("{SETUP}{body}");
    let found =
        run_script(&reference.target, admin, "harness", &text).unwrap_or_else(|e| panic!("{e}"));
    let found: Vec<(usize, Vec<String>)> =
        found.into_iter().map(|d| (d.lineno, d.actual)).collect();
    let expected: Vec<(usize, Vec<String>)> = expected
        .iter()
        .map(|(l, a)| (*l, a.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(found, expected, "script:\n{text}");
}

#[test]
fn the_harness_reports_what_postgresql_does() {
    let reference = Reference::start().unwrap_or_else(|e| panic!("{e}"));
    let mut admin = Conn::connect(&reference.target, &reference.target.database)
        .unwrap_or_else(|e| panic!("{e}"));
    let admin = &mut admin;

    // A waiter, its release, and a notice, all as PostgreSQL has them.
    check(
        &reference,
        admin,
        "\
a: BEGIN
  BEGIN
a: UPDATE t SET v = 1 WHERE id = 1
  UPDATE 1
b: UPDATE t SET v = 2 WHERE id = 1 RETURNING v
  blocked
a: COMMIT
  COMMIT
b resumes:
  UPDATE 1
  | 2
a: DROP TABLE IF EXISTS nope
  NOTICE: table \"nope\" does not exist, skipping
  DROP TABLE
a: COMMIT
  WARNING: there is no transaction in progress
  COMMIT
",
        &[],
    );

    // Every way of being wrong, each at its line.
    check(
        &reference,
        admin,
        "\
a: BEGIN
  BEGIN
a: UPDATE t SET v = 1 WHERE id = 1
  blocked
b: UPDATE t SET v = 2 WHERE id = 1
  UPDATE 1
a: COMMIT
  COMMIT
c: SELECT 1
  SELECT 1
  | 1
b resumes:
  UPDATE 1
a: SELECT v FROM t
  SELECT 1
  | 3
a: SELECT 1 / 0
a: INSERT INTO t VALUES (1, 1)
  ERROR 23505: duplicate key value violates unique constraint \"t_pkey\"
  DETAIL: Key (id)=(2) already exists.
",
        &[
            (5, &["UPDATE 1"]),
            (7, &["blocked"]),
            (11, &["b finished:", "UPDATE 1"]),
            (14, &["(b has no statement waiting)"]),
            (16, &["SELECT 1", "| 2"]),
            (19, &["ERROR 22012: division by zero"]),
            (
                20,
                &[
                    "ERROR 23505: duplicate key value violates unique constraint \"t_pkey\"",
                    "DETAIL: Key (id)=(1) already exists.",
                ],
            ),
        ],
    );

    // A waiter claimed while it still waits is reported at its resumes: block, and every statement still waiting at the end.
    check(
        &reference,
        admin,
        "\
a: BEGIN
  BEGIN
a: SELECT * FROM t FOR UPDATE
  SELECT 1
  | 1 | 0
b: SELECT pg_advisory_lock(5)
  SELECT 1
  |
c: SELECT pg_advisory_lock(5)
  blocked
d: DELETE FROM t
  blocked
c resumes:
  SELECT 1
  |
",
        &[
            (15, &["blocked"]),
            (18, &["c still waiting"]),
            (18, &["d still waiting"]),
        ],
    );
}
