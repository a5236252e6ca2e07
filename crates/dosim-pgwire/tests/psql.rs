//! psql against the wire layer: a scripted session over a connection URI with `PGPASSWORD`, as a user would run one.
//!
//! psql comes from Debian's `postgresql-client` package. Where it is missing the tests say so and pass, unless `DOSIM_REQUIRE_PSQL` is set, as CI sets it once it installs the package.

use std::io::Write;
use std::process::{Command, Stdio};

use dosim_pg::{Engine, EngineConfig};
use dosim_pgwire::{serve_listener, PgCluster, WireConfig};
use tokio::net::TcpListener;

const PASSWORD: &str = "AVNS_secret";

fn psql_available() -> bool {
    let found = Command::new("psql")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("DOSIM_REQUIRE_PSQL").is_none(),
            "DOSIM_REQUIRE_PSQL is set but psql is missing: install Debian's postgresql-client"
        );
        eprintln!("psql is not installed; skipped");
    }
    found
}

/// Runs `script` through psql against a fresh server and compares what psql printed on standard output and standard error.
#[track_caller]
fn check(
    wire: WireConfig,
    uri_query: &str,
    password: &str,
    script: &str,
    expect_stdout: &str,
    expect_stderr: &str,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let port = runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let port = listener.local_addr().expect("bound").port();
        let cluster = PgCluster::new(Engine::new(EngineConfig::default()), wire);
        cluster.set_user("doadmin", PASSWORD);
        tokio::spawn(serve_listener(listener, cluster));
        port
    });
    let uri = format!("postgresql://doadmin@127.0.0.1:{port}/defaultdb?{uri_query}");
    // The script goes on standard input, so psql sends each statement as its own query, as a session does.
    let mut child = Command::new("psql")
        .arg(&uri)
        .args(["--no-psqlrc", "--file", "-"])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGSSLMODE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql runs");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(script.as_bytes())
        .expect("writes the script");
    let output = child.wait_with_output().expect("psql finishes");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).replace(&port.to_string(), "PORT");
    assert_eq!(stdout, expect_stdout, "psql printed:\n{stdout}");
    assert_eq!(
        stderr, expect_stderr,
        "psql printed on standard error:\n{stderr}"
    );
}

#[test]
fn psql_runs_a_scripted_session() {
    if !psql_available() {
        return;
    }
    check(
        WireConfig::default(),
        "sslmode=prefer",
        PASSWORD,
        "CREATE TABLE accounts (id serial PRIMARY KEY, owner text NOT NULL, balance numeric(10, 2) DEFAULT 0, active boolean);
INSERT INTO accounts (owner, balance, active) VALUES ('ann', 15.5, true), ('bob', 7, false) RETURNING id;
BEGIN;
UPDATE accounts SET balance = balance - 2.25 WHERE owner = 'ann';
SELECT id, owner, balance, active FROM accounts ORDER BY id;
COMMIT;
SELECT count(*), sum(balance) FROM accounts;
CREATE VIEW v AS SELECT 1;
SELECT pg_advisory_lock(1), pg_try_advisory_lock(1);
SHOW transaction_isolation;",
        "CREATE TABLE
 id 
----
  1
  2
(2 rows)

INSERT 0 2
BEGIN
UPDATE 1
 id | owner | balance | active 
----+-------+---------+--------
  1 | ann   |   13.25 | t
  2 | bob   |    7.00 | f
(2 rows)

COMMIT
 count |  sum  
-------+-------
     2 | 20.25
(1 row)

 pg_advisory_lock | pg_try_advisory_lock 
------------------+----------------------
                  | t
(1 row)

 transaction_isolation 
-----------------------
 read committed
(1 row)

",
        "psql:<stdin>:8: ERROR:  CREATE VIEW is not supported
HINT:  dosim's PostgreSQL supports the subset of SQL listed in docs/postgres.md.
",
    );
}

#[test]
fn psql_with_a_digitalocean_uri_verbatim_over_tls() {
    if !psql_available() {
        return;
    }
    // DigitalOcean's URIs end in `?sslmode=require`; with TLS on, psql connects with them unchanged.
    check(
        WireConfig {
            tls: true,
            ..WireConfig::default()
        },
        "sslmode=require",
        PASSWORD,
        "SELECT 1 + 1 AS two;",
        " two 
-----
   2
(1 row)

",
        "",
    );
}

#[test]
fn psql_with_digitalocean_sslmode_require_is_refused_plainly() {
    if !psql_available() {
        return;
    }
    // Without TLS the server answers SSLRequest with `N`, and `sslmode=require` gives up.
    check(
        WireConfig::default(),
        "sslmode=require",
        PASSWORD,
        "SELECT 1",
        "",
        "psql: error: connection to server at \"127.0.0.1\", port PORT failed: server does not support SSL, but SSL was required\n",
    );
}

#[test]
fn psql_with_a_wrong_password() {
    if !psql_available() {
        return;
    }
    check(
        WireConfig::default(),
        "sslmode=disable",
        "wrong",
        "SELECT 1",
        "",
        "psql: error: connection to server at \"127.0.0.1\", port PORT failed: FATAL:  password authentication failed for user \"doadmin\"\n",
    );
}

/// With TLS required, as on DigitalOcean, an unencrypted connection is refused by `pg_hba.conf`'s rule,
/// in PostgreSQL's words; encrypted ones (`require`, and `prefer`, which tries TLS first) connect.
#[test]
fn psql_without_encryption_is_refused_when_tls_is_required() {
    if !psql_available() {
        return;
    }
    let required = || WireConfig {
        tls: true,
        tls_required: true,
        ..WireConfig::default()
    };
    check(
        required(),
        "sslmode=disable",
        PASSWORD,
        "SELECT 1",
        "",
        "psql: error: connection to server at \"127.0.0.1\", port PORT failed: FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user \"doadmin\", database \"defaultdb\", no encryption\n",
    );
    for mode in ["sslmode=require", "sslmode=prefer"] {
        check(
            required(),
            mode,
            PASSWORD,
            "SELECT 1 AS one;",
            " one \n-----\n   1\n(1 row)\n\n",
            "",
        );
    }
}
