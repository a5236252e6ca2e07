//! Lease expiry: a worker paused past its lease's TTL writes after the next holder has.
//!
//! **Goal.** One worker at a time does the job: each takes a lease (TTL 2 s) from the lease
//! service before it writes the job's result to the `backend` cluster, and each write carries
//! the lease's fencing token, so the writes in the order they committed carry rising tokens.
//!
//! **On DigitalOcean.** A lease (or a Redis lock) only says who held it when it was granted. A
//! worker that stops between the grant and the write (a garbage-collection pause, a throttled
//! droplet, a process stopped by a debugger) does not know its TTL ran out meanwhile: the next
//! worker takes the lease and writes, then the first one wakes up and writes too, as the owner
//! it no longer is.
//!
//! **Method.** `worker-a` starts at once, `worker-b` a second later; each takes the lease,
//! retrying every 200 ms while another holds it, works for 300 ms, then writes. A pause fault
//! stops `worker-a` for 2.5 to 4 s at a moment drawn from its first 20 s: it matters only when
//! it lands in the 300 ms between `worker-a`'s grant and its write, about one seed in seventy.
//! The check: the writes, in commit order, carry tokens that never go down.
//!
//! **Fix.** Fence the write where it lands: in one transaction, raise the `fence` row's token to
//! the writer's only if it is not below it, and write only if that updated the row. A stale
//! holder's update finds a larger token and writes nothing; a holder paused inside the
//! transaction holds the row lock, so the next holder's write waits for it and commits after.

use std::time::Duration;

use dosim::pg::tokio_postgres::Client;
use dosim::{checks, Actor, ActorFault, ActorPg, DatabaseSpec, Expect, Scenario, Violation};

use crate::lease::{self, Acquired, LeaseClient};

type Error = Box<dyn std::error::Error>;

const DB: &str = "backend";
const LEASE: &str = "job";
const TTL: Duration = Duration::from_secs(2);
const ACQUIRE_ATTEMPTS_MAX: u32 = 100;

/// Takes the job's lease, waiting while another worker holds it; returns its fencing token.
async fn take_lease(cx: &Actor) -> Result<u64, Error> {
    let leases = LeaseClient::default();
    for _ in 0..ACQUIRE_ATTEMPTS_MAX {
        match leases.acquire(LEASE, cx.name(), TTL).await? {
            Acquired::Granted(lease) => return Ok(lease.token),
            Acquired::HeldBy(_) => cx.sleep(Duration::from_millis(200)).await,
        }
    }
    Err(format!("{} never got the lease", cx.name()).into())
}

async fn start(cx: &Actor) -> Result<Client, Error> {
    if cx.name() == "worker-b" {
        cx.sleep(Duration::from_secs(1)).await;
    }
    let config = cx.postgres_config(DB)?;
    Ok(dosim::pg::connect_with(&config).await?)
}

/// The buggy worker: it trusts the lease it was granted and writes.
async fn work(cx: Actor) -> Result<(), Error> {
    let db = start(&cx).await?;
    let token = take_lease(&cx).await?;
    cx.sleep(Duration::from_millis(300)).await;
    let token = i64::try_from(token)?;
    db.execute(
        "INSERT INTO writes (writer, token) VALUES ($1, $2)",
        &[&cx.name(), &token],
    )
    .await?;
    Ok(())
}

/// The fix: the database refuses a write whose token is below the last one it accepted.
async fn work_fenced(cx: Actor) -> Result<(), Error> {
    let mut db = start(&cx).await?;
    let token = take_lease(&cx).await?;
    cx.sleep(Duration::from_millis(300)).await;
    let token = i64::try_from(token)?;
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
        .service(lease::HOST, lease::serve)
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

/// `lease_expiry`: a worker paused past its TTL writes after the next holder.
pub fn buggy() -> Scenario {
    scenario("lease_expiry")
        .actor("worker-a", work)
        .actor("worker-b", work)
        .default_seeds(1000)
        .expect(Expect::Race)
}

/// `lease_expiry_fenced`: the database checks the fencing token, so the stale write is refused.
pub fn fixed() -> Scenario {
    scenario("lease_expiry_fenced")
        .actor("worker-a", work_fenced)
        .actor("worker-b", work_fenced)
        .expect(Expect::Clean)
}
