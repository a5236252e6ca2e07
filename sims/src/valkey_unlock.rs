//! Valkey lock released with `DEL`: a holder whose lock expired deletes the next holder's lock.
//!
//! **Goal.** One worker at a time runs the report: each takes the lock `lock:report` with `SET … NX PX 1000`, runs the report while it believes it holds the lock, then finishes up and releases the lock.
//!
//! **On DigitalOcean.** The lock is a key on a Managed Caching (Valkey) cluster, the pattern redis.io's distributed-locks page starts from. The release is a plain `DEL lock:report`, written at the end of the function as a `finally`. When the finishing-up takes longer than what is left of the TTL (an upload, a slow API call), the lock expires, the next worker takes it, and then the first worker's `DEL` deletes the next worker's lock: a third worker takes it while the second is still running the report.
//!
//! **Method.** Three workers, two rounds each: take the lock (retrying every 100 ms), run the report for 300 ms while believing they hold it, finish up for a time drawn from 0 to 1.5 s, release. The check: at most one worker believes it holds the lock at any instant (`checks::single_holder`).
//!
//! **Fix.** Release with the compare-and-delete script redis.io gives: delete the key only if it still holds this worker's token. A worker whose lock expired deletes nothing, and the next holder keeps its lock until it releases it.

use std::time::Duration;

use dosim::valkey::redis::{self, aio::MultiplexedConnection};
use dosim::{checks, Actor, DatabaseSpec, Expect, Scenario};
use rand::Rng;

type Error = Box<dyn std::error::Error>;

const CACHE: &str = "locks";
const LOCK: &str = "lock:report";
const BELIEF: &str = "report-lock";
const TTL_MS: u64 = 1000;
const ROUNDS: u32 = 2;
const ACQUIRE_ATTEMPTS_MAX: u32 = 200;

/// redis.io's unlock: delete the key only if it still holds our token.
const UNLOCK: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// Takes the lock with a token of this worker's own, waiting while another holds it.
async fn lock(cx: &Actor, c: &mut MultiplexedConnection, token: &str) -> Result<(), Error> {
    for _ in 0..ACQUIRE_ATTEMPTS_MAX {
        let taken: Option<String> = redis::cmd("SET")
            .arg(LOCK)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(TTL_MS)
            .query_async(c)
            .await?;
        if taken.is_some() {
            return Ok(());
        }
        cx.sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{} never got the lock", cx.name()).into())
}

/// How a worker lets the lock go.
#[derive(Clone, Copy)]
enum Release {
    /// `DEL lock:report`, whoever holds it by then.
    Del,
    /// The compare-and-delete script.
    CompareAndDelete,
}

async fn release(c: &mut MultiplexedConnection, how: Release, token: &str) -> Result<(), Error> {
    match how {
        Release::Del => {
            let _: i64 = redis::cmd("DEL").arg(LOCK).query_async(c).await?;
        }
        Release::CompareAndDelete => {
            let _: i64 = redis::Script::new(UNLOCK)
                .key(LOCK)
                .arg(token)
                .invoke_async(c)
                .await?;
        }
    }
    Ok(())
}

/// Runs the rounds, releasing the lock `how`.
async fn rounds(cx: Actor, how: Release) -> Result<(), Error> {
    let mut c = dosim::valkey::connect(CACHE).await?;
    for round in 0..ROUNDS {
        let token = format!("{}-{round}", cx.name());
        lock(&cx, &mut c, &token).await?;
        cx.believe(BELIEF, &token);
        cx.sleep(Duration::from_millis(300)).await;
        cx.forget(BELIEF);
        let finishing = cx.rng().random_range(0..1500);
        cx.sleep(Duration::from_millis(finishing)).await;
        release(&mut c, how, &token).await?;
    }
    Ok(())
}

/// The buggy worker: `DEL` in the `finally`, whoever holds the lock by then.
async fn work(cx: Actor) -> Result<(), Error> {
    rounds(cx, Release::Del).await
}

/// The fix: compare-and-delete, so only the lock's own holder deletes it.
async fn work_compare_and_delete(cx: Actor) -> Result<(), Error> {
    rounds(cx, Release::CompareAndDelete).await
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .database(DatabaseSpec::valkey(CACHE))
        .check(checks::actors_ok())
        .check(checks::single_holder(BELIEF))
        .max_sim_time(Duration::from_secs(60))
}

/// `valkey_unlock_del`: a `DEL` after the TTL deletes the next holder's lock.
pub fn buggy() -> Scenario {
    scenario("valkey_unlock_del")
        .actor("worker-a", work)
        .actor("worker-b", work)
        .actor("worker-c", work)
        .expect(Expect::Race)
}

/// `valkey_unlock_del_fixed`: the compare-and-delete script leaves another holder's lock alone.
pub fn fixed() -> Scenario {
    scenario("valkey_unlock_del_fixed")
        .actor("worker-a", work_compare_and_delete)
        .actor("worker-b", work_compare_and_delete)
        .actor("worker-c", work_compare_and_delete)
        .expect(Expect::Clean)
}
