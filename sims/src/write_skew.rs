//! Write skew: two on-call doctors both go off call under REPEATABLE READ.
//!
//! **Goal.** At least one doctor is always on call. A doctor may go off call only while another
//! is still on call, so each checks first, then updates their own row.
//!
//! **On DigitalOcean.** REPEATABLE READ on a managed PostgreSQL cluster is snapshot isolation:
//! each transaction reads one snapshot, taken at its first statement, and two transactions
//! conflict only when they write the same row. Alice and Bob each read "two doctors on call" in
//! their own snapshot, and each updates only their own row, so both commit and nobody is on call.
//!
//! **Method.** Two hosts, `alice` and `bob`, connect to the `backend` cluster with tokio-postgres
//! at once and each run the check-then-update transaction; network latency decides the
//! interleaving. The checks: at least one doctor is on call at the end, and some serial order of the
//! committed transactions returns the counts they read (`checks::serializable`).
//!
//! **Fix.** Run the transaction SERIALIZABLE and retry on `40001`: PostgreSQL's serializable
//! snapshot isolation sees that each transaction read what the other wrote and refuses the second
//! commit; the retry reads one doctor on call and stays on call.

use std::time::Duration;

use dosim::pg::tokio_postgres::{error::SqlState, Client, IsolationLevel};
use dosim::{checks, Actor, ActorPg, DatabaseSpec, Expect, Scenario, Violation};
use rand::Rng;

type Error = Box<dyn std::error::Error>;

const DB: &str = "backend";
const ATTEMPTS_MAX: u32 = 10;

async fn connect(cx: &Actor) -> Result<Client, Error> {
    let config = cx.postgres_config(DB)?;
    Ok(dosim::pg::connect_with(&config).await?)
}

/// One try at going off call: the doctor leaves only if someone else is still on call.
async fn go_off_call_once(
    db: &mut Client,
    me: &str,
    isolation: IsolationLevel,
) -> Result<(), dosim::pg::tokio_postgres::Error> {
    let tx = db
        .build_transaction()
        .isolation_level(isolation)
        .start()
        .await?;
    let result = async {
        let row = tx
            .query_one("SELECT count(*) FROM doctors WHERE on_call", &[])
            .await?;
        let on_call: i64 = row.get(0);
        if on_call >= 2 {
            tx.execute("UPDATE doctors SET on_call = false WHERE name = $1", &[&me])
                .await?;
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => tx.commit().await,
        Err(error) => {
            tx.rollback().await?;
            Err(error)
        }
    }
}

/// The buggy code: check, then update, under REPEATABLE READ.
async fn go_off_call(cx: Actor) -> Result<(), Error> {
    let mut db = connect(&cx).await?;
    go_off_call_once(&mut db, cx.name(), IsolationLevel::RepeatableRead).await?;
    Ok(())
}

/// The fix: the same transaction, SERIALIZABLE, retried when PostgreSQL refuses it with `40001`.
async fn go_off_call_fixed(cx: Actor) -> Result<(), Error> {
    let mut db = connect(&cx).await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match go_off_call_once(&mut db, cx.name(), IsolationLevel::Serializable).await {
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
    const CHECK: &str = "a doctor stays on call";
    Scenario::new(name)
        .database(
            DatabaseSpec::pg(DB)
                .setup("CREATE TABLE doctors (name text PRIMARY KEY, on_call boolean NOT NULL)")
                .setup("INSERT INTO doctors (name, on_call) VALUES ('alice', true), ('bob', true)"),
        )
        .check(checks::actors_ok())
        .check_fn(CHECK, |outcome| {
            let database = outcome
                .database(DB)
                .ok_or_else(|| Violation::new(CHECK, "the run has no backend cluster"))?;
            let on_call = database
                .query_text("SELECT name FROM doctors WHERE on_call ORDER BY name")
                .map_err(|error| Violation::new(CHECK, error))?;
            if on_call.is_empty() {
                return Err(Violation::new(
                    CHECK,
                    "no doctor is on call at the end of the run: alice and bob both went off call",
                )
                .resources(["database backend"]));
            }
            Ok(())
        })
        .check(checks::serializable(&["doctors"]))
        .max_sim_time(Duration::from_secs(60))
}

/// `write_skew`: both doctors see two on call and both leave.
pub fn buggy() -> Scenario {
    scenario("write_skew")
        .actor("alice", go_off_call)
        .actor("bob", go_off_call)
        .expect(Expect::Race)
}

/// `write_skew_fixed`: SERIALIZABLE refuses the second commit; its retry stays on call.
pub fn fixed() -> Scenario {
    scenario("write_skew_fixed")
        .actor("alice", go_off_call_fixed)
        .actor("bob", go_off_call_fixed)
        .expect(Expect::Clean)
}
