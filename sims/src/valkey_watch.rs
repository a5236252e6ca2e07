//! Valkey check-and-set with `WATCH` after the read: two deposits read the same balance, and one is lost.
//!
//! **Goal.** Three servers credit deposits to one account: each reads `balance`, works out the new balance (a currency conversion that takes 10 to 60 ms), and writes it; the balance at the end is the sum of every deposit a server acknowledged.
//!
//! **On DigitalOcean.** The balance is a key on a Managed Caching (Valkey) cluster. The code reads it with `GET`, computes, and then, to be safe, writes inside `WATCH balance`, `MULTI`, `SET balance <new>`, `EXEC`. But `WATCH` protects only from the moment it is sent: a deposit written between this server's `GET` and its `WATCH` goes unnoticed, `EXEC` succeeds, and the `SET` overwrites it. Leaving `WATCH` out altogether (`MULTI` alone does not read) loses the same deposits.
//!
//! **Method.** Three servers (`api-a`, `api-b`, `api-c`) each credit three deposits of 1 to 100, 0 to 300 ms apart, each acknowledged once its write went through. No faults: the interleaving alone loses deposits. The check: the final `balance` equals the sum of the acknowledged deposits.
//!
//! **Fix.** `WATCH balance` first, then `GET`, compute, `MULTI`/`SET`/`EXEC`; an `EXEC` that replies nil (the balance changed since `WATCH`) starts over from `WATCH`. The retries are bounded (ten attempts, then the deposit fails with an error rather than retrying forever on a hot key), and the check that every server finished shows the bound is never reached here.

use std::time::Duration;

use dosim::valkey::redis::{self, aio::MultiplexedConnection};
use dosim::{checks, Actor, DatabaseSpec, Expect, Scenario, Violation};
use rand::Rng;

type Error = Box<dyn std::error::Error>;

const CACHE: &str = "accounts";
const KEY: &str = "balance";
const DEPOSITS: u32 = 3;
const ATTEMPTS_MAX: u32 = 10;
const DEPOSITED: &str = "deposited";

/// Reads the balance (0 when the account is new).
async fn read(c: &mut MultiplexedConnection) -> Result<i64, Error> {
    let balance: Option<i64> = redis::cmd("GET").arg(KEY).query_async(c).await?;
    Ok(balance.unwrap_or(0))
}

/// Works out the new balance: a currency conversion that takes a while.
async fn convert(cx: &Actor, balance: i64, amount: i64) -> i64 {
    let lookup = cx.rng().random_range(10..60);
    cx.sleep(Duration::from_millis(lookup)).await;
    balance + amount
}

/// Writes `balance` in a transaction; `None` when `EXEC` replied nil because a watched key changed.
async fn write(c: &mut MultiplexedConnection, balance: i64) -> Result<Option<()>, Error> {
    let written: Option<((),)> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(KEY)
        .arg(balance)
        .query_async(c)
        .await?;
    Ok(written.map(|_| ()))
}

/// The buggy deposit: reads, computes, and only then watches and writes.
async fn deposit_watch_late(
    cx: &Actor,
    c: &mut MultiplexedConnection,
    amount: i64,
) -> Result<(), Error> {
    for _ in 0..ATTEMPTS_MAX {
        let balance = read(c).await?;
        let new = convert(cx, balance, amount).await;
        let _: () = redis::cmd("WATCH").arg(KEY).query_async(c).await?;
        if write(c, new).await?.is_some() {
            return Ok(());
        }
    }
    Err(format!(
        "{} gave up a deposit after {ATTEMPTS_MAX} attempts",
        cx.name()
    )
    .into())
}

/// The fix: watch, then read, compute and write; start over when `EXEC` replies nil.
async fn deposit_watch_first(
    cx: &Actor,
    c: &mut MultiplexedConnection,
    amount: i64,
) -> Result<(), Error> {
    for _ in 0..ATTEMPTS_MAX {
        let _: () = redis::cmd("WATCH").arg(KEY).query_async(c).await?;
        let balance = read(c).await?;
        let new = convert(cx, balance, amount).await;
        if write(c, new).await?.is_some() {
            return Ok(());
        }
    }
    Err(format!(
        "{} gave up a deposit after {ATTEMPTS_MAX} attempts",
        cx.name()
    )
    .into())
}

/// How a server credits a deposit.
#[derive(Clone, Copy)]
enum Deposit {
    WatchLate,
    WatchFirst,
}

/// Credits this server's deposits, acknowledging each once written.
async fn credit(cx: Actor, how: Deposit) -> Result<(), Error> {
    let mut c = dosim::valkey::connect(CACHE).await?;
    let mut acknowledged = 0;
    for _ in 0..DEPOSITS {
        let pause = cx.rng().random_range(0..300);
        cx.sleep(Duration::from_millis(pause)).await;
        let amount = cx.rng().random_range(1..=100);
        match how {
            Deposit::WatchLate => deposit_watch_late(&cx, &mut c, amount).await?,
            Deposit::WatchFirst => deposit_watch_first(&cx, &mut c, amount).await?,
        }
        acknowledged += amount;
        cx.believe(DEPOSITED, acknowledged);
    }
    Ok(())
}

/// The buggy server: `WATCH` after the read.
async fn work(cx: Actor) -> Result<(), Error> {
    credit(cx, Deposit::WatchLate).await
}

/// The fix: `WATCH` before the read, retried on a nil `EXEC`.
async fn work_watch_first(cx: Actor) -> Result<(), Error> {
    credit(cx, Deposit::WatchFirst).await
}

fn scenario(name: &str) -> Scenario {
    const CHECK: &str = "the balance is the sum of the acknowledged deposits";
    Scenario::new(name)
        .database(DatabaseSpec::valkey(CACHE))
        .check(checks::actors_ok())
        .check_fn(CHECK, |outcome| {
            let cache = outcome
                .valkey(CACHE)
                .ok_or_else(|| Violation::new(CHECK, "the run has no accounts cluster"))?;
            let deposits = outcome.beliefs_about(DEPOSITED);
            let expected: i64 = deposits
                .values()
                .flatten()
                .map(|total| total.parse::<i64>().unwrap_or(0))
                .sum();
            let balance: i64 = cache.get(KEY).and_then(|b| b.parse().ok()).unwrap_or(0);
            if balance == expected {
                return Ok(());
            }
            let each: Vec<String> = deposits
                .iter()
                .map(|(actor, total)| format!("{actor} {}", total.as_deref().unwrap_or("0")))
                .collect();
            Err(Violation::new(
                CHECK,
                format!(
                    "balance is {balance}, but the acknowledged deposits add up to {expected} ({}): {} lost",
                    each.join(", "),
                    expected - balance
                ),
            )
            .resources(["cluster accounts".to_owned()]))
        })
        .max_sim_time(Duration::from_secs(30))
}

/// `valkey_watch_late`: `WATCH` after the read misses a deposit written in between.
pub fn buggy() -> Scenario {
    scenario("valkey_watch_late")
        .actor("api-a", work)
        .actor("api-b", work)
        .actor("api-c", work)
        .expect(Expect::Race)
}

/// `valkey_watch_late_fixed`: `WATCH` before the read, bounded retries on a nil `EXEC`.
pub fn fixed() -> Scenario {
    scenario("valkey_watch_late_fixed")
        .actor("api-a", work_watch_first)
        .actor("api-b", work_watch_first)
        .actor("api-c", work_watch_first)
        .expect(Expect::Clean)
}
