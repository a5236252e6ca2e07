//! Valkey claims taken with `SETNX`, then `EXPIRE`: a worker that crashes between the two leaves a claim that never expires.
//!
//! **Goal.** Three workers share a batch of jobs: each claims a job with the key `claim:<job>` so no two run it at once, runs it, marks it `done:<job>`, and drops the claim; a claim runs out after 2 s, so a worker that dies mid-job only delays the job.
//!
//! **On DigitalOcean.** The claim is a key on a Managed Caching (Valkey) cluster, taken the way older tutorials show: `SETNX claim:<job> <me>`, and when that says 1, `EXPIRE claim:<job> 2`. Two commands, so two moments: a worker killed between them (a deploy, the OOM killer, a node drained) leaves a claim with no TTL. No worker can ever claim that job again, the restarted worker included, and the job is never done.
//!
//! **Method.** Twenty jobs, three workers; each walks the jobs, skips those it knows are done or sees `done:<job>`, claims the others, runs a job for 20 to 60 ms, marks it done and deletes the claim; a worker that skipped a claimed job walks again 500 ms later, up to 8 walks (4 s, twice the TTL). A crash fault kills `worker-a` at a moment drawn from its first 600 ms and restarts it 1 s later. The checks: every job is done by the end, and no claim is left without a TTL.
//!
//! **Fix.** Take the claim and its TTL in one command, `SET claim:<job> <me> NX PX 2000`: there is no moment at which the claim exists without its TTL.

use std::collections::BTreeSet;
use std::time::Duration;

use dosim::valkey::redis::{self, aio::MultiplexedConnection};
use dosim::{checks, Actor, ActorFault, DatabaseSpec, Expect, Scenario, Violation};
use rand::Rng;

type Error = Box<dyn std::error::Error>;

const CACHE: &str = "jobs";
const JOBS: u32 = 20;
const TTL_MS: u64 = 2000;
const WALKS_MAX: u32 = 8;

/// How a worker claims a job.
#[derive(Clone, Copy)]
enum Claim {
    /// `SETNX`, then `EXPIRE` when it said 1.
    SetnxThenExpire,
    /// One `SET … NX PX`.
    SetNxPx,
}

/// Claims `job` for this worker; false when another worker holds it.
async fn claim(
    cx: &Actor,
    c: &mut MultiplexedConnection,
    how: Claim,
    job: u32,
) -> Result<bool, Error> {
    let key = format!("claim:{job}");
    match how {
        Claim::SetnxThenExpire => {
            let taken: bool = redis::cmd("SETNX")
                .arg(&key)
                .arg(cx.name())
                .query_async(c)
                .await?;
            if taken {
                let _: i64 = redis::cmd("EXPIRE")
                    .arg(&key)
                    .arg(TTL_MS / 1000)
                    .query_async(c)
                    .await?;
            }
            Ok(taken)
        }
        Claim::SetNxPx => {
            let taken: Option<String> = redis::cmd("SET")
                .arg(&key)
                .arg(cx.name())
                .arg("NX")
                .arg("PX")
                .arg(TTL_MS)
                .query_async(c)
                .await?;
            Ok(taken.is_some())
        }
    }
}

/// Walks the jobs until every one is done, claiming each with `how`.
async fn walk(cx: Actor, how: Claim) -> Result<(), Error> {
    let mut c = dosim::valkey::connect(CACHE).await?;
    let mut done = BTreeSet::new();
    for _ in 0..WALKS_MAX {
        for job in 0..JOBS {
            if done.contains(&job) {
                continue;
            }
            let finished: Option<String> = redis::cmd("GET")
                .arg(format!("done:{job}"))
                .query_async(&mut c)
                .await?;
            if finished.is_some() {
                done.insert(job);
                continue;
            }
            if !claim(&cx, &mut c, how, job).await? {
                continue;
            }
            let working = cx.rng().random_range(20..60);
            cx.sleep(Duration::from_millis(working)).await;
            let _: () = redis::cmd("SET")
                .arg(format!("done:{job}"))
                .arg(cx.name())
                .query_async(&mut c)
                .await?;
            let _: i64 = redis::cmd("DEL")
                .arg(format!("claim:{job}"))
                .query_async(&mut c)
                .await?;
            done.insert(job);
        }
        if done.len() == JOBS as usize {
            return Ok(());
        }
        // Some jobs were claimed by others: look again once their claims may have run out.
        cx.sleep(Duration::from_millis(500)).await;
    }
    // Gives up, as a cron job's run ends; the check says which jobs were left.
    Ok(())
}

/// The buggy worker: `SETNX`, then `EXPIRE`.
async fn work(cx: Actor) -> Result<(), Error> {
    walk(cx, Claim::SetnxThenExpire).await
}

/// The fix: `SET … NX PX`, the claim and its TTL at once.
async fn work_set_nx_px(cx: Actor) -> Result<(), Error> {
    walk(cx, Claim::SetNxPx).await
}

fn scenario(name: &str) -> Scenario {
    const DONE: &str = "every job is done";
    const EXPIRES: &str = "every claim expires";
    Scenario::new(name)
        .database(DatabaseSpec::valkey(CACHE))
        .actor_fault(
            ActorFault::crash("worker-a")
                .jitter(Duration::from_millis(600))
                .restart_after(Duration::from_secs(1)),
        )
        .check(checks::actors_ok())
        .check_fn(DONE, |outcome| {
            let cache = outcome
                .valkey(CACHE)
                .ok_or_else(|| Violation::new(DONE, "the run has no jobs cluster"))?;
            let left: Vec<String> = (0..JOBS)
                .filter(|job| cache.get(&format!("done:{job}")).is_none())
                .map(|job| {
                    let key = format!("claim:{job}");
                    match (cache.get(&key), cache.ttl(&key)) {
                        (Some(holder), Some(None)) => {
                            format!("job {job} (claim:{job} held by {holder}, no TTL)")
                        }
                        (Some(holder), _) => format!("job {job} (claim:{job} held by {holder})"),
                        _ => format!("job {job}"),
                    }
                })
                .collect();
            if left.is_empty() {
                return Ok(());
            }
            Err(
                Violation::new(DONE, format!("never done: {}", left.join(", ")))
                    .resources(["cluster jobs".to_owned()]),
            )
        })
        .check_fn(EXPIRES, |outcome| {
            let cache = outcome
                .valkey(CACHE)
                .ok_or_else(|| Violation::new(EXPIRES, "the run has no jobs cluster"))?;
            let immortal: Vec<String> = cache
                .keys()
                .into_iter()
                .filter(|(key, _)| key.starts_with("claim:"))
                .filter(|(key, _)| cache.ttl(key) == Some(None))
                .map(|(key, _)| key)
                .collect();
            if immortal.is_empty() {
                return Ok(());
            }
            let (them, verb) = if immortal.len() == 1 {
                ("its job", "has")
            } else {
                ("their jobs", "have")
            };
            Err(Violation::new(
                EXPIRES,
                format!(
                    "{} {verb} no TTL: no worker can claim {them} again",
                    immortal.join(", ")
                ),
            )
            .resources(["cluster jobs".to_owned()]))
        })
        .max_sim_time(Duration::from_secs(60))
}

/// `valkey_setnx_expire`: a crash between `SETNX` and `EXPIRE` leaves a claim that never expires.
pub fn buggy() -> Scenario {
    scenario("valkey_setnx_expire")
        .actor("worker-a", work)
        .actor("worker-b", work)
        .actor("worker-c", work)
        .default_seeds(500)
        .expect(Expect::Race)
}

/// `valkey_setnx_expire_fixed`: `SET … NX PX` takes the claim with its TTL.
pub fn fixed() -> Scenario {
    scenario("valkey_setnx_expire_fixed")
        .actor("worker-a", work_set_nx_px)
        .actor("worker-b", work_set_nx_px)
        .actor("worker-c", work_set_nx_px)
        .expect(Expect::Clean)
}
