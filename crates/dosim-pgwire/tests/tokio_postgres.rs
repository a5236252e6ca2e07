//! tokio-postgres against the wire layer over real TCP: authentication, types, locks and waits, isolation errors, refusals and disconnects.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use dosim_pg::{Engine, EngineConfig, SessionId};
use dosim_pgwire::{serve_listener, PasswordAuth, PgCluster, WireConfig};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

const USER: &str = "doadmin";
const PASSWORD: &str = "AVNS_secret";

struct Server {
    port: u16,
    cluster: PgCluster,
}

async fn server(config: EngineConfig) -> Server {
    server_with(config, WireConfig::default()).await
}

async fn server_with(config: EngineConfig, wire: WireConfig) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let port = listener.local_addr().expect("bound").port();
    let cluster = PgCluster::new(Engine::new(config), wire);
    cluster.set_user(USER, PASSWORD);
    tokio::spawn(serve_listener(listener, cluster.clone()));
    Server { port, cluster }
}

impl Server {
    async fn try_connect(
        &self,
        user: &str,
        password: &str,
        dbname: &str,
    ) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
        let (client, connection) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(user)
            .password(password)
            .dbname(dbname)
            .connect(NoTls)
            .await?;
        let task = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok((client, task))
    }

    async fn connect(&self) -> (Client, JoinHandle<()>) {
        self.try_connect(USER, PASSWORD, "defaultdb")
            .await
            .expect("connects")
    }

    /// Waits until exactly `n` sessions wait for a lock, so that a test's next step happens while they wait, or after they left.
    async fn until_blocked(&self, n: usize) {
        for _ in 0..5000 {
            let blocked = {
                let engine = self.cluster.engine().lock();
                (1..=10_000)
                    .filter(|i| engine.is_blocked(SessionId(*i)))
                    .count()
            };
            if blocked == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("the number of waiting sessions never became {n}");
    }
}

/// Renders a result as `ok` or `ERROR <sqlstate>: <message>`, as the tests expect it.
fn outcome<T>(r: &Result<T, tokio_postgres::Error>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(e) => match e.as_db_error() {
            Some(db) => format!("ERROR {}: {}", db.code().code(), db.message()),
            None => format!("client error: {e}"),
        },
    }
}

#[track_caller]
fn check<T>(r: &Result<T, tokio_postgres::Error>, expect: &str) {
    assert_eq!(outcome(r), expect);
}

/// An ordered log of what happened, to assert that one step finished before another.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, event: &str) {
        self.0.lock().push(event.to_string());
    }

    fn events(&self) -> Vec<String> {
        self.0.lock().clone()
    }
}

#[tokio::test]
async fn password_authentication() {
    for auth in [PasswordAuth::ScramSha256, PasswordAuth::Cleartext] {
        let wire = WireConfig {
            password_auth: auth,
            ..WireConfig::default()
        };
        check_authentication(server_with(EngineConfig::default(), wire).await).await;
    }
}

async fn check_authentication(s: Server) {
    check(&s.try_connect(USER, PASSWORD, "defaultdb").await, "ok");
    check(
        &s.try_connect(USER, "wrong", "defaultdb").await,
        "ERROR 28P01: password authentication failed for user \"doadmin\"",
    );
    check(
        &s.try_connect("nobody", PASSWORD, "defaultdb").await,
        "ERROR 28P01: password authentication failed for user \"nobody\"",
    );
    check(
        &s.try_connect(USER, PASSWORD, "nodb").await,
        "ERROR 3D000: database \"nodb\" does not exist",
    );
    s.cluster.engine().lock().create_database("orders");
    check(&s.try_connect(USER, PASSWORD, "orders").await, "ok");
}

#[tokio::test]
async fn typed_parameters_and_results() {
    let s = server(EngineConfig::default()).await;
    let (c, _task) = s.connect().await;
    c.batch_execute(
        "CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, n integer, \
         active boolean, balance numeric(12, 2), created timestamptz)",
    )
    .await
    .expect("creates");
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_605);
    let inserted = c
        .execute(
            "INSERT INTO accounts (id, owner, n, active, balance, created) \
             VALUES ($1, $2, $3, $4, $5::text::numeric, $6)",
            &[&1i64, &"ann", &7i32, &true, &"15.5", &at],
        )
        .await
        .expect("inserts");
    assert_eq!(inserted, 1);
    c.execute(
        "INSERT INTO accounts (id, owner, n, active) VALUES ($1, $2, $3, $4)",
        &[&2i64, &"bob", &None::<i32>, &false],
    )
    .await
    .expect("inserts a NULL");
    let rows = c
        .query(
            "SELECT id, owner, n, active, balance::text AS balance, created FROM accounts \
             WHERE id >= $1 ORDER BY id",
            &[&1i64],
        )
        .await
        .expect("selects");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].get::<_, i64>("id"), 1);
    assert_eq!(rows[0].get::<_, &str>("owner"), "ann");
    assert_eq!(rows[0].get::<_, Option<i32>>("n"), Some(7));
    assert!(rows[0].get::<_, bool>("active"));
    assert_eq!(rows[0].get::<_, &str>("balance"), "15.50");
    assert_eq!(rows[0].get::<_, SystemTime>("created"), at);
    assert_eq!(rows[1].get::<_, Option<i32>>("n"), None);
    assert_eq!(rows[1].get::<_, Option<&str>>("balance"), None);
    // Column types come from Describe, before any row exists.
    let stmt = c
        .prepare("SELECT count(*), sum(n), max(created) FROM accounts WHERE owner = $1")
        .await
        .expect("prepares");
    let types: Vec<&str> = stmt.columns().iter().map(|c| c.type_().name()).collect();
    assert_eq!(types, ["int8", "int8", "timestamptz"]);
    assert_eq!(stmt.params()[0].name(), "text");
    let row = c.query_one(&stmt, &[&"ann"]).await.expect("aggregates");
    assert_eq!(row.get::<_, i64>(0), 1);
    assert_eq!(row.get::<_, Option<i64>>(1), Some(7));
    // The simple protocol returns text, several statements at once.
    let messages = c
        .simple_query("SELECT balance FROM accounts WHERE id = 1; SELECT 1 + 1 AS two")
        .await
        .expect("simple query");
    let texts: Vec<String> = messages
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["15.50", "2"]);
    // A constraint violation carries PostgreSQL's SQLSTATE, message and detail.
    let dup = c
        .execute(
            "INSERT INTO accounts (id, owner) VALUES ($1, $2)",
            &[&1i64, &"again"],
        )
        .await;
    check(
        &dup,
        "ERROR 23505: duplicate key value violates unique constraint \"accounts_pkey\"",
    );
    let detail = dup
        .as_ref()
        .err()
        .and_then(|e| e.as_db_error())
        .and_then(|d| d.detail());
    assert_eq!(detail, Some("Key (id)=(1) already exists."));
}

#[tokio::test]
async fn read_committed_lost_update_waits_for_the_first_commit() {
    let s = server(EngineConfig::default()).await;
    let (a, _ta) = s.connect().await;
    let (b, _tb) = s.connect().await;
    a.batch_execute(
        "CREATE TABLE accounts (id bigint PRIMARY KEY, balance integer); \
         INSERT INTO accounts VALUES (1, 100)",
    )
    .await
    .expect("setup");
    let read = "SELECT balance FROM accounts WHERE id = $1";
    let write = "UPDATE accounts SET balance = $1 WHERE id = $2";
    a.batch_execute("BEGIN").await.expect("begins");
    b.batch_execute("BEGIN").await.expect("begins");
    // Both read 100, then each writes what it computed from its read.
    let a_read: i32 = a.query_one(read, &[&1i64]).await.expect("reads").get(0);
    let b_read: i32 = b.query_one(read, &[&1i64]).await.expect("reads").get(0);
    assert_eq!((a_read, b_read), (100, 100));
    a.execute(write, &[&(a_read - 10), &1i64])
        .await
        .expect("writes");
    let log = Log::default();
    let b_log = log.clone();
    let b_write = tokio::spawn(async move {
        let n = b
            .execute(write, &[&(b_read - 20), &1i64])
            .await
            .expect("writes after the wait");
        b_log.push("b updated");
        b.batch_execute("COMMIT").await.expect("commits");
        n
    });
    s.until_blocked(1).await;
    log.push("a commits");
    a.batch_execute("COMMIT").await.expect("commits");
    assert_eq!(b_write.await.expect("joins"), 1);
    assert_eq!(log.events(), ["a commits", "b updated"]);
    let balance: i32 = a.query_one(read, &[&1i64]).await.expect("reads").get(0);
    assert_eq!(balance, 80, "b's write replaced a's: the lost update");
}

#[tokio::test]
async fn select_for_update_blocks_until_the_holder_commits() {
    let s = server(EngineConfig::default()).await;
    let (a, _ta) = s.connect().await;
    let (b, _tb) = s.connect().await;
    a.batch_execute(
        "CREATE TABLE jobs (id integer PRIMARY KEY, state text); \
         INSERT INTO jobs VALUES (1, 'queued')",
    )
    .await
    .expect("setup");
    a.batch_execute("BEGIN").await.expect("begins");
    let locked = a
        .query("SELECT state FROM jobs WHERE id = $1 FOR UPDATE", &[&1i32])
        .await
        .expect("locks");
    assert_eq!(locked[0].get::<_, &str>(0), "queued");
    let log = Log::default();
    let b_log = log.clone();
    let waiter = tokio::spawn(async move {
        b.batch_execute("BEGIN").await.expect("begins");
        let rows = b
            .query("SELECT state FROM jobs WHERE id = $1 FOR UPDATE", &[&1i32])
            .await
            .expect("locks after the wait");
        b_log.push("b locked");
        b.batch_execute("COMMIT").await.expect("commits");
        rows[0].get::<_, String>(0)
    });
    s.until_blocked(1).await;
    a.execute("UPDATE jobs SET state = 'running' WHERE id = $1", &[&1i32])
        .await
        .expect("updates");
    log.push("a commits");
    a.batch_execute("COMMIT").await.expect("commits");
    // Under READ COMMITTED the waiter sees the newest version of the row.
    assert_eq!(waiter.await.expect("joins"), "running");
    assert_eq!(log.events(), ["a commits", "b locked"]);
    // NOWAIT refuses at once instead of waiting.
    let (c, _tc) = s.connect().await;
    a.batch_execute("BEGIN; SELECT * FROM jobs WHERE id = 1 FOR UPDATE")
        .await
        .expect("locks");
    check(
        &c.query("SELECT * FROM jobs WHERE id = 1 FOR UPDATE NOWAIT", &[])
            .await,
        "ERROR 55P03: could not obtain lock on row in relation \"jobs\"",
    );
}

#[tokio::test]
async fn serialization_failures() {
    let s = server(EngineConfig::default()).await;
    let (a, _ta) = s.connect().await;
    let (b, _tb) = s.connect().await;
    a.batch_execute(
        "CREATE TABLE doctors (name text PRIMARY KEY, on_call boolean); \
         INSERT INTO doctors VALUES ('alice', true), ('bob', true)",
    )
    .await
    .expect("setup");
    // REPEATABLE READ: an update of a row changed since the snapshot fails.
    a.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .expect("begins");
    a.query("SELECT * FROM doctors", &[]).await.expect("reads");
    b.execute(
        "UPDATE doctors SET on_call = $1 WHERE name = $2",
        &[&false, &"bob"],
    )
    .await
    .expect("updates");
    check(
        &a.execute(
            "UPDATE doctors SET on_call = $1 WHERE name = $2",
            &[&true, &"bob"],
        )
        .await,
        "ERROR 40001: could not serialize access due to concurrent update",
    );
    check(
        &a.query("SELECT 1", &[]).await,
        "ERROR 25P02: current transaction is aborted, commands ignored until end of transaction block",
    );
    a.batch_execute("ROLLBACK").await.expect("rolls back");
    b.execute("UPDATE doctors SET on_call = true", &[])
        .await
        .expect("resets");
    // SERIALIZABLE: write skew, each reading what the other writes, fails at the second commit.
    let count = "SELECT count(*) FROM doctors WHERE on_call = $1";
    let off = "UPDATE doctors SET on_call = false WHERE name = $1";
    for c in [&a, &b] {
        c.batch_execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
            .await
            .expect("begins");
        let n: i64 = c.query_one(count, &[&true]).await.expect("counts").get(0);
        assert_eq!(n, 2);
    }
    a.execute(off, &[&"alice"]).await.expect("updates");
    b.execute(off, &[&"bob"]).await.expect("updates");
    a.batch_execute("COMMIT").await.expect("commits");
    check(
        &b.batch_execute("COMMIT").await,
        "ERROR 40001: could not serialize access due to read/write dependencies among transactions",
    );
}

#[tokio::test]
async fn advisory_locks_wait_and_release() {
    let s = server(EngineConfig::default()).await;
    let (a, _ta) = s.connect().await;
    let (b, _tb) = s.connect().await;
    a.query("SELECT pg_advisory_lock($1)", &[&42i64])
        .await
        .expect("locks");
    let try_lock: bool = b
        .query_one("SELECT pg_try_advisory_lock($1)", &[&42i64])
        .await
        .expect("tries")
        .get(0);
    assert!(!try_lock);
    let log = Log::default();
    let b_log = log.clone();
    let waiter = tokio::spawn(async move {
        b.query("SELECT pg_advisory_lock($1)", &[&42i64])
            .await
            .expect("locks after the wait");
        b_log.push("b locked");
    });
    s.until_blocked(1).await;
    log.push("a unlocks");
    let unlocked: bool = a
        .query_one("SELECT pg_advisory_unlock($1)", &[&42i64])
        .await
        .expect("unlocks")
        .get(0);
    assert!(unlocked);
    waiter.await.expect("joins");
    assert_eq!(log.events(), ["a unlocks", "b locked"]);
}

#[tokio::test]
async fn unsupported_statements_are_0a000() {
    let s = server(EngineConfig::default()).await;
    let (c, _t) = s.connect().await;
    c.batch_execute("CREATE TABLE t (id integer)")
        .await
        .expect("creates");
    let refused = c.execute("CREATE VIEW v AS SELECT id FROM t", &[]).await;
    check(&refused, "ERROR 0A000: CREATE VIEW is not supported");
    let hint = refused
        .as_ref()
        .err()
        .and_then(|e| e.as_db_error())
        .and_then(|d| d.hint());
    assert_eq!(
        hint,
        Some("dosim's PostgreSQL supports the subset of SQL listed in docs/postgres.md.")
    );
    check(
        &c.simple_query("SELECT * FROM t RIGHT JOIN t AS u ON true")
            .await,
        "ERROR 0A000: RIGHT, FULL, semi and anti joins are not supported",
    );
    check(
        &c.query("SELEC 1", &[]).await,
        "ERROR 42601: syntax error at or near \"SELEC\"",
    );
    // The connection stays usable after errors in either protocol.
    let row = c.query_one("SELECT 1 + $1", &[&1i32]).await.expect("runs");
    assert_eq!(row.get::<_, i32>(0), 2);
}

#[tokio::test]
async fn a_dropped_connection_releases_its_locks() {
    let s = server(EngineConfig::default()).await;
    let (a, a_task) = s.connect().await;
    let (b, _tb) = s.connect().await;
    a.batch_execute(
        "CREATE TABLE accounts (id integer PRIMARY KEY, balance integer); \
         INSERT INTO accounts VALUES (1, 100)",
    )
    .await
    .expect("setup");
    a.batch_execute(
        "BEGIN; UPDATE accounts SET balance = 0 WHERE id = 1; SELECT pg_advisory_lock(7)",
    )
    .await
    .expect("locks");
    let waiter = tokio::spawn(async move {
        let row = b
            .query_one(
                "UPDATE accounts SET balance = balance + 1 WHERE id = $1 RETURNING balance",
                &[&1i32],
            )
            .await
            .expect("updates after the drop");
        let locked: bool = b
            .query_one("SELECT pg_try_advisory_lock(7)", &[])
            .await
            .expect("tries")
            .get(0);
        (row.get::<_, i32>(0), locked)
    });
    s.until_blocked(1).await;
    // The client dies without a goodbye: its socket closes, its transaction rolls back.
    a_task.abort();
    drop(a);
    assert_eq!(waiter.await.expect("joins"), (101, true));
}

#[tokio::test]
async fn deadlocks_and_lock_timeouts_fire_on_the_clock() {
    let s = server(EngineConfig {
        deadlock_timeout_ms: 50,
        ..EngineConfig::default()
    })
    .await;
    let (a, _ta) = s.connect().await;
    let (b, _tb) = s.connect().await;
    a.batch_execute(
        "CREATE TABLE t (id integer PRIMARY KEY, v integer); INSERT INTO t VALUES (1, 0), (2, 0)",
    )
    .await
    .expect("setup");
    a.batch_execute("BEGIN; UPDATE t SET v = 1 WHERE id = 1")
        .await
        .expect("locks 1");
    b.batch_execute("BEGIN; UPDATE t SET v = 2 WHERE id = 2")
        .await
        .expect("locks 2");
    let a_side = tokio::spawn(async move {
        let r = a.execute("UPDATE t SET v = 1 WHERE id = 2", &[]).await;
        (outcome(&r), a)
    });
    s.until_blocked(1).await;
    let b_result = b.execute("UPDATE t SET v = 2 WHERE id = 1", &[]).await;
    let (a_result, a) = a_side.await.expect("joins");
    // The first to wait checks first and is the victim; the other then gets its row.
    assert_eq!(a_result, "ERROR 40P01: deadlock detected");
    check(&b_result, "ok");
    a.batch_execute("ROLLBACK").await.expect("rolls back");
    a.batch_execute("SET lock_timeout = '100ms'")
        .await
        .expect("sets");
    check(
        &a.execute("UPDATE t SET v = 3 WHERE id = 2", &[]).await,
        "ERROR 55P03: canceling statement due to lock timeout",
    );
}

#[tokio::test]
async fn a_client_that_leaves_while_waiting_never_runs_its_statement() {
    let s = server(EngineConfig::default()).await;
    let (a, _ta) = s.connect().await;
    let (b, b_task) = s.connect().await;
    a.batch_execute(
        "CREATE TABLE accounts (id integer PRIMARY KEY, balance integer); \
         INSERT INTO accounts VALUES (1, 100)",
    )
    .await
    .expect("setup");
    a.batch_execute("BEGIN; UPDATE accounts SET balance = 50 WHERE id = 1")
        .await
        .expect("locks");
    let waiter = tokio::spawn(async move {
        let _ = b
            .execute(
                "UPDATE accounts SET balance = balance + 1 WHERE id = 1",
                &[],
            )
            .await;
    });
    s.until_blocked(1).await;
    // The waiting client's socket closes; the server notices while it waits and ends the session.
    b_task.abort();
    waiter.abort();
    let _ = waiter.await;
    s.until_blocked(0).await;
    a.batch_execute("COMMIT").await.expect("commits");
    let (c, _tc) = s.connect().await;
    let balance: i32 = c
        .query_one(
            "SELECT balance FROM accounts WHERE id = 1 FOR UPDATE NOWAIT",
            &[],
        )
        .await
        .expect("nobody holds the row")
        .get(0);
    assert_eq!(balance, 50);
}

#[tokio::test]
async fn portals_fetch_rows_in_parts() {
    let s = server(EngineConfig::default()).await;
    let (mut c, _t) = s.connect().await;
    c.batch_execute(
        "CREATE TABLE t (id integer PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3), (4), (5)",
    )
    .await
    .expect("setup");
    let tx = c.transaction().await.expect("begins");
    let portal = tx
        .bind("SELECT id FROM t WHERE id > $1 ORDER BY id", &[&1i32])
        .await
        .expect("binds");
    let mut parts = vec![];
    loop {
        let rows = tx.query_portal(&portal, 3).await.expect("fetches");
        if rows.is_empty() {
            break;
        }
        parts.push(rows.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>());
    }
    assert_eq!(parts, [vec![2, 3, 4], vec![5]]);
    tx.commit().await.expect("commits");
}

#[tokio::test]
async fn a_woken_waiter_gets_the_row_before_a_newcomer() {
    let s = server(EngineConfig::default()).await;
    let (a, _ta) = s.connect().await;
    let (b, _tb) = s.connect().await;
    let (c, _tc) = s.connect().await;
    a.batch_execute(
        "CREATE TABLE jobs (id integer PRIMARY KEY, owner text); INSERT INTO jobs VALUES (1, NULL)",
    )
    .await
    .expect("setup");
    a.batch_execute("BEGIN; SELECT * FROM jobs WHERE id = 1 FOR UPDATE")
        .await
        .expect("locks");
    b.batch_execute("BEGIN").await.expect("begins");
    let waiter = tokio::spawn(async move {
        b.execute("UPDATE jobs SET owner = 'b' WHERE id = $1", &[&1i32])
            .await
            .expect("updates after the wait");
        b
    });
    s.until_blocked(1).await;
    a.batch_execute("COMMIT").await.expect("commits");
    // The waiter was resumed inside a's COMMIT, so it holds the row before c's request arrives, as PostgreSQL's lock queue grants it.
    check(
        &c.query("SELECT * FROM jobs WHERE id = 1 FOR UPDATE NOWAIT", &[])
            .await,
        "ERROR 55P03: could not obtain lock on row in relation \"jobs\"",
    );
    let b = waiter.await.expect("joins");
    b.batch_execute("COMMIT").await.expect("commits");
    let owner: String = c
        .query_one("SELECT owner FROM jobs WHERE id = 1", &[])
        .await
        .expect("reads")
        .get(0);
    assert_eq!(owner, "b");
}
