//! A session advisory lock taken through a transaction-mode connection pool protects nothing.
//!
//! **Goal.** Two workers each add one to a counter kept in a PostgreSQL row, reading it and
//! writing it back in separate statements, and serialize that read-modify-write with an advisory
//! lock: both increments must land.
//!
//! **On DigitalOcean.** Applications reach a managed cluster through a connection pool (PgBouncer
//! on port 25061), and the pool DigitalOcean suggests is in transaction mode: a client holds a
//! server connection only while a transaction (or a lone statement) runs, then hands it back.
//! `pg_advisory_lock` takes a session-level lock, and the session is the server connection, not the
//! client: the lock stays with the server connection when the statement ends, and the next client
//! the pool lends that connection to "takes" the lock again at once (session advisory locks are
//! reentrant). Both workers believe they hold the lock, both read the same value, and one increment
//! is lost. The `pg_advisory_unlock` a worker sends later may even land on another server
//! connection (`WARNING: you don't own a lock of type ExclusiveLock`) and leave the lock behind.
//! PgBouncer's documentation lists session advisory locks among the features transaction pooling
//! breaks, and code written against a direct connection, where the lock works, keeps it when the
//! connection string moves to the pool.
//!
//! **Method.** A `counter` cluster holds `counters (id, n)` with one row at 0 and a pool `app` in
//! transaction mode with two server connections. Two workers connect to the pool and, at seeded
//! moments within [`START_WINDOW`], run `SELECT pg_advisory_lock(42)`, read `n`, work for [`WORK`],
//! write `n + 1` and unlock. Checks: every worker finished, and `n` ends at 2.
//!
//! **Fix.** Take a transaction-level lock inside the transaction that reads and writes:
//! `BEGIN; SELECT pg_advisory_xact_lock(42); SELECT n …; UPDATE …; COMMIT`. The client keeps its
//! server connection for the whole transaction, the lock goes with the transaction's end, and the
//! other worker's `pg_advisory_xact_lock` waits for it on its own server connection. (A direct
//! connection on port 25060 fixes it too.)

use std::time::Duration;

use dosim::checks;
use dosim::pg::tokio_postgres::Client;
use dosim::{Actor, DatabaseSpec, Expect, Scenario};
use rand::Rng;

type Error = Box<dyn std::error::Error>;

const DB: &str = "counter";
const POOL: &str = "app";
/// The window each worker starts its increment in.
pub const START_WINDOW: Duration = Duration::from_millis(600);
/// How long a worker works between its read and its write.
pub const WORK: Duration = Duration::from_millis(200);

async fn connect() -> Result<Client, Error> {
    let config = dosim::pg::pool_config(DB, POOL)?;
    Ok(dosim::pg::connect_with(&config).await?)
}

async fn start(cx: &Actor) {
    let window_ms = u64::try_from(START_WINDOW.as_millis()).unwrap_or(u64::MAX);
    let phase_ms = cx.rng().random_range(0..window_ms);
    cx.sleep(Duration::from_millis(phase_ms)).await;
}

/// The buggy increment: a session lock, each statement on whichever server connection the pool lends.
async fn worker(cx: Actor) -> Result<(), Error> {
    let db = connect().await?;
    start(&cx).await;
    db.query_one("SELECT pg_advisory_lock(42)", &[]).await?;
    let n: i64 = db
        .query_one("SELECT n FROM counters WHERE id = 1", &[])
        .await?
        .get(0);
    cx.sleep(WORK).await;
    db.execute("UPDATE counters SET n = $1 WHERE id = 1", &[&(n + 1)])
        .await?;
    let unlocked: bool = db
        .query_one("SELECT pg_advisory_unlock(42)", &[])
        .await?
        .get(0);
    cx.believe("unlocked", unlocked.to_string());
    Ok(())
}

/// The fixed increment: one transaction holds a transaction-level lock and its server connection throughout.
async fn worker_fixed(cx: Actor) -> Result<(), Error> {
    let mut db = connect().await?;
    start(&cx).await;
    let transaction = db.transaction().await?;
    transaction
        .query_one("SELECT pg_advisory_xact_lock(42)", &[])
        .await?;
    let n: i64 = transaction
        .query_one("SELECT n FROM counters WHERE id = 1", &[])
        .await?
        .get(0);
    cx.sleep(WORK).await;
    transaction
        .execute("UPDATE counters SET n = $1 WHERE id = 1", &[&(n + 1)])
        .await?;
    transaction.commit().await?;
    Ok(())
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .database(
            DatabaseSpec::pg(DB)
                .setup("CREATE TABLE counters (id integer PRIMARY KEY, n bigint NOT NULL)")
                .setup("INSERT INTO counters VALUES (1, 0)")
                .pool(POOL, "transaction", 2),
        )
        .check(checks::actors_ok())
        .check(checks::conserved(
            "the counter",
            "SELECT n FROM counters WHERE id = 1",
            2,
        ))
        .max_sim_time(Duration::from_secs(60))
}

/// `pooled_advisory_lock`: `pg_advisory_lock` through a transaction-mode pool.
pub fn buggy() -> Scenario {
    scenario("pooled_advisory_lock")
        .actors(2, worker)
        .expect(Expect::Race)
}

/// `pooled_advisory_lock_fixed`: `pg_advisory_xact_lock` inside the transaction that reads and writes.
pub fn fixed() -> Scenario {
    scenario("pooled_advisory_lock_fixed")
        .actors(2, worker_fixed)
        .expect(Expect::Clean)
}
