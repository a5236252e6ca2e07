//! Lost update: read, compute, write back, under READ COMMITTED.
//!
//! **Goal.** Two workers each withdraw 10 from one account that holds 100, each in its own
//! transaction that also writes the withdrawal to a ledger; afterwards the account holds 80 and the
//! ledger lists 20, so balance plus ledger is still 100.
//!
//! **On DigitalOcean.** A managed PostgreSQL cluster runs at READ COMMITTED, PostgreSQL's default,
//! which DigitalOcean exposes no setting for. Each statement sees what was committed when it
//! started, so both workers can read 100 before either commits. The second `UPDATE … SET balance =
//! 90` waits for the first worker's row lock, then writes its own 90 over the first worker's 90:
//! one withdrawal is lost, though both were recorded and both workers saw success.
//!
//! **Method.** Two pods connect to the `backend` cluster with tokio-postgres and run the
//! withdrawal at once; network latency decides the interleaving. The checks: the balance plus the
//! ledger's sum stays 100, and some serial order of the committed transactions returns the
//! balances they read and leaves the tables as the run did (`checks::serializable`).
//!
//! **Fixes.** Lock the row while reading it (`SELECT … FOR UPDATE`), so the second reader waits and
//! reads 90; or let the database compute (`UPDATE … SET balance = balance - $1`), which re-reads the
//! newest row after a wait; or run SERIALIZABLE and retry on `40001`.

use std::time::Duration;

use dosim::checks;
use dosim::pg::tokio_postgres::{error::SqlState, Client, IsolationLevel};
use dosim::{Actor, ActorPg, DatabaseSpec, Expect, Scenario};
use rand::Rng;

type Error = Box<dyn std::error::Error>;

const DB: &str = "backend";
const ACCOUNT: i32 = 1;
const AMOUNT: i64 = 10;
const ATTEMPTS_MAX: u32 = 10;

async fn connect(cx: &Actor) -> Result<Client, Error> {
    let config = cx.postgres_config(DB)?;
    Ok(dosim::pg::connect_with(&config).await?)
}

/// The buggy code: read the balance, compute the new one, write it back.
async fn withdraw(cx: Actor) -> Result<(), Error> {
    let mut db = connect(&cx).await?;
    let tx = db.transaction().await?;
    let row = tx
        .query_one("SELECT balance FROM accounts WHERE id = $1", &[&ACCOUNT])
        .await?;
    let balance: i64 = row.get(0);
    tx.execute(
        "UPDATE accounts SET balance = $1 WHERE id = $2",
        &[&(balance - AMOUNT), &ACCOUNT],
    )
    .await?;
    tx.execute(
        "INSERT INTO withdrawals (account_id, amount) VALUES ($1, $2)",
        &[&ACCOUNT, &AMOUNT],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Fix one: `FOR UPDATE` locks the row as it is read, so the other worker reads after this commits.
async fn withdraw_for_update(cx: Actor) -> Result<(), Error> {
    let mut db = connect(&cx).await?;
    let tx = db.transaction().await?;
    let row = tx
        .query_one(
            "SELECT balance FROM accounts WHERE id = $1 FOR UPDATE",
            &[&ACCOUNT],
        )
        .await?;
    let balance: i64 = row.get(0);
    tx.execute(
        "UPDATE accounts SET balance = $1 WHERE id = $2",
        &[&(balance - AMOUNT), &ACCOUNT],
    )
    .await?;
    tx.execute(
        "INSERT INTO withdrawals (account_id, amount) VALUES ($1, $2)",
        &[&ACCOUNT, &AMOUNT],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Fix two: the database computes the new balance from the newest row, after any wait.
async fn withdraw_atomic(cx: Actor) -> Result<(), Error> {
    let mut db = connect(&cx).await?;
    let tx = db.transaction().await?;
    tx.execute(
        "UPDATE accounts SET balance = balance - $1 WHERE id = $2",
        &[&AMOUNT, &ACCOUNT],
    )
    .await?;
    tx.execute(
        "INSERT INTO withdrawals (account_id, amount) VALUES ($1, $2)",
        &[&ACCOUNT, &AMOUNT],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Fix three: the buggy read-compute-write, but SERIALIZABLE, retried when PostgreSQL refuses it with `40001`.
async fn withdraw_serializable(cx: Actor) -> Result<(), Error> {
    let mut db = connect(&cx).await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let tx = db
            .build_transaction()
            .isolation_level(IsolationLevel::Serializable)
            .start()
            .await?;
        let result = async {
            let row = tx
                .query_one("SELECT balance FROM accounts WHERE id = $1", &[&ACCOUNT])
                .await?;
            let balance: i64 = row.get(0);
            tx.execute(
                "UPDATE accounts SET balance = $1 WHERE id = $2",
                &[&(balance - AMOUNT), &ACCOUNT],
            )
            .await?;
            tx.execute(
                "INSERT INTO withdrawals (account_id, amount) VALUES ($1, $2)",
                &[&ACCOUNT, &AMOUNT],
            )
            .await?;
            Ok::<_, dosim::pg::tokio_postgres::Error>(())
        }
        .await;
        let result = match result {
            Ok(()) => tx.commit().await,
            Err(error) => {
                tx.rollback().await?;
                Err(error)
            }
        };
        match result {
            Ok(()) => return Ok(()),
            Err(error)
                if error.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
                    && attempt < ATTEMPTS_MAX =>
            {
                // Back off a little, at random, so the retries do not collide again in lockstep.
                let pause_ms = cx.rng().random_range(1..=20 * u64::from(attempt));
                cx.sleep(Duration::from_millis(pause_ms)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .database(
            DatabaseSpec::pg(DB)
                .setup("CREATE TABLE accounts (id integer PRIMARY KEY, balance bigint NOT NULL)")
                .setup(
                    "CREATE TABLE withdrawals (id serial PRIMARY KEY, account_id integer NOT NULL, amount bigint NOT NULL)",
                )
                .setup("INSERT INTO accounts (id, balance) VALUES (1, 100)"),
        )
        .check(checks::actors_ok())
        .check(checks::conserved(
            "the balance plus the withdrawals",
            "SELECT (SELECT balance FROM accounts WHERE id = 1) + (SELECT coalesce(sum(amount), 0) FROM withdrawals)",
            100,
        ))
        .check(checks::serializable(&["accounts", "withdrawals"]))
        .max_sim_time(Duration::from_secs(60))
}

/// `lost_update`: both workers read 100 and write 90.
pub fn buggy() -> Scenario {
    scenario("lost_update")
        .actors(2, withdraw)
        .expect(Expect::Race)
}

/// `lost_update_for_update`: the read locks the row.
pub fn for_update() -> Scenario {
    scenario("lost_update_for_update")
        .actors(2, withdraw_for_update)
        .expect(Expect::Clean)
}

/// `lost_update_atomic`: one `UPDATE` computes from the newest row.
pub fn atomic() -> Scenario {
    scenario("lost_update_atomic")
        .actors(2, withdraw_atomic)
        .expect(Expect::Clean)
}

/// `lost_update_serializable`: SERIALIZABLE, retried on `40001`.
pub fn serializable() -> Scenario {
    scenario("lost_update_serializable")
        .actors(2, withdraw_serializable)
        .expect(Expect::Clean)
}
