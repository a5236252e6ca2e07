//! Valkey lease with `SET NX PX`: a holder paused past the TTL writes after the next holder has.
//!
//! **Goal.** One worker at a time does the job: each takes the lease `lease:job` on the `locks` Managed Caching (Valkey) cluster, with a fencing token from the same script, and writes the job's result with its token to the `backend` PostgreSQL cluster, so the writes in commit order carry rising tokens.
//!
//! **On DigitalOcean.** The lock recipe people copy: `SET lease:job <me> NX PX 2000`, do the work, write. The key says who held the lease when it was granted, nothing more: a worker that stops between the grant and its write (a garbage-collection pause, a throttled droplet) does not know its TTL ran out. The next worker takes the lease and writes; then the first one wakes up and writes too, as the holder it no longer is (Kleppmann, "How to do distributed locking").
//!
//! **Method.** As `lease_expiry`, with Valkey as the lock service: `worker-a` starts at once, `worker-b` a second later; each takes the lease with one `EVAL` (`SET … NX PX 2000`, then `INCR lease:job:fence` for the token), retrying every 200 ms, works for 300 ms, then writes. A pause fault stops `worker-a` for 2.5 to 4 s at a moment drawn from its first 20 s. The check: the writes, in commit order, carry tokens that never go down.
//!
//! **Fix.** No Valkey-side change is enough, since the paused worker sends nothing while its lease runs out. The protected resource checks the token: in one transaction, raise the `fence` row's token to the writer's only if it is not below it, and write only if that updated the row.

use std::time::Duration;

use dosim::pg::tokio_postgres::Client;
use dosim::valkey::redis::{self, aio::MultiplexedConnection};
use dosim::{checks, Actor, ActorFault, ActorPg, DatabaseSpec, Expect, Scenario, Violation};

type Error = Box<dyn std::error::Error>;

const CACHE: &str = "locks";
const DB: &str = "backend";
const TTL_MS: u64 = 2000;
const ACQUIRE_ATTEMPTS_MAX: u32 = 100;

/// Takes the lease and its fencing token in one step: the token is 0 when another worker holds the lease.
const ACQUIRE: &str = "if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('incr', KEYS[2]) else return 0 end";

/// Takes the lease, waiting while another worker holds it; returns its fencing token.
async fn take_lease(cx: &Actor, c: &mut MultiplexedConnection) -> Result<i64, Error> {
    let acquire = redis::Script::new(ACQUIRE);
    for _ in 0..ACQUIRE_ATTEMPTS_MAX {
        let token: i64 = acquire
            .key("lease:job")
            .key("lease:job:fence")
            .arg(cx.name())
            .arg(TTL_MS)
            .invoke_async(c)
            .await?;
        if token > 0 {
            return Ok(token);
        }
        cx.sleep(Duration::from_millis(200)).await;
    }
    Err(format!("{} never got the lease", cx.name()).into())
}

async fn start(cx: &Actor) -> Result<(MultiplexedConnection, Client), Error> {
    if cx.name() == "worker-b" {
        cx.sleep(Duration::from_secs(1)).await;
    }
    let cache = dosim::valkey::connect(CACHE).await?;
    let db = dosim::pg::connect_with(&cx.postgres_config(DB)?).await?;
    Ok((cache, db))
}

/// The buggy worker: it trusts the lease it was granted and writes.
async fn work(cx: Actor) -> Result<(), Error> {
    let (mut cache, db) = start(&cx).await?;
    let token = take_lease(&cx, &mut cache).await?;
    cx.sleep(Duration::from_millis(300)).await;
    db.execute(
        "INSERT INTO writes (writer, token) VALUES ($1, $2)",
        &[&cx.name(), &token],
    )
    .await?;
    Ok(())
}

/// The fix: the database refuses a write whose token is below the last one it accepted.
async fn work_fenced(cx: Actor) -> Result<(), Error> {
    let (mut cache, mut db) = start(&cx).await?;
    let token = take_lease(&cx, &mut cache).await?;
    cx.sleep(Duration::from_millis(300)).await;
    let tx = db.transaction().await?;
    let fenced = tx
        .execute(
            "UPDATE fence SET token = $1 WHERE id = 1 AND token <= $1",
            &[&token],
        )
        .await?;
    if fenced == 0 {
        // A newer holder has written: this worker's lease is gone, and so is its job.
        tx.rollback().await?;
        return Ok(());
    }
    tx.execute(
        "INSERT INTO writes (writer, token) VALUES ($1, $2)",
        &[&cx.name(), &token],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn scenario(name: &str) -> Scenario {
    const CHECK: &str = "writes carry rising fencing tokens";
    Scenario::new(name)
        .database(DatabaseSpec::valkey(CACHE))
        .database(
            DatabaseSpec::pg(DB)
                .setup("CREATE TABLE writes (seq serial PRIMARY KEY, writer text NOT NULL, token bigint NOT NULL)")
                .setup("CREATE TABLE fence (id integer PRIMARY KEY, token bigint NOT NULL)")
                .setup("INSERT INTO fence (id, token) VALUES (1, 0)"),
        )
        .actor_fault(
            ActorFault::pause("worker-a")
                .jitter(Duration::from_secs(20))
                .lasting_between(Duration::from_millis(2500), Duration::from_secs(4)),
        )
        .check(checks::actors_ok())
        .check_fn(CHECK, |outcome| {
            let database = outcome
                .database(DB)
                .ok_or_else(|| Violation::new(CHECK, "the run has no backend cluster"))?;
            let writes = database
                .query("SELECT writer, token FROM writes ORDER BY seq")
                .map_err(|error| Violation::new(CHECK, error))?;
            let tokens: Vec<(String, u64)> = writes
                .iter()
                .map(|row| {
                    let field =
                        |index: usize| row.get(index).cloned().flatten().unwrap_or_default();
                    (field(0), field(1).parse().unwrap_or(0))
                })
                .collect();
            for pair in tokens.windows(2) {
                let ((before, before_token), (after, after_token)) = (&pair[0], &pair[1]);
                if after_token < before_token {
                    return Err(Violation::new(
                        CHECK,
                        format!(
                            "{after} wrote with token {after_token} after {before} wrote with token {before_token}: a stale lease holder wrote after the next holder"
                        ),
                    )
                    .resources([after.clone(), "database backend".to_owned()]));
                }
            }
            Ok(())
        })
        .max_sim_time(Duration::from_secs(60))
}

/// `valkey_lease`: a worker paused past its `SET NX PX` lease writes after the next holder.
pub fn buggy() -> Scenario {
    scenario("valkey_lease")
        .actor("worker-a", work)
        .actor("worker-b", work)
        .default_seeds(1000)
        .expect(Expect::Race)
}

/// `valkey_lease_fenced`: the database checks the fencing token, so the stale write is refused.
pub fn fixed() -> Scenario {
    scenario("valkey_lease_fenced")
        .actor("worker-a", work_fenced)
        .actor("worker-b", work_fenced)
        .expect(Expect::Clean)
}
