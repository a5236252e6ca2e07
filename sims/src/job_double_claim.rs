//! Two queue workers claim the same job when one's poll lands between the other's read and claim.
//!
//! **Goal.** Two workers drain a job queue kept in a PostgreSQL table; every job runs exactly
//! once, on one worker.
//!
//! **On DigitalOcean.** Teams with a managed PostgreSQL cluster and no message broker keep their
//! job queue in a table, and the first worker loop written polls it with two statements: find the
//! oldest queued job, then mark it running. At READ COMMITTED both are plain statements with
//! nothing held between them, so a second worker whose find lands between the first one's find
//! and its claim finds the same job, claims it again (the second `UPDATE` succeeds: the row is
//! still there to update), and runs it a second time: two invoices, two emails. Workers poll
//! every few seconds from independent phases, so two polls meet rarely, and always again.
//!
//! **Method.** A `queue` cluster holds `jobs` with two queued jobs and an empty `runs` table.
//! Two workers connect, start polling at seeded phases within [`POLL_INTERVAL`], and each poll
//! claims the oldest queued job, runs it (records a row in `runs`, works for a while) and marks it
//! done; a worker stops when a poll finds nothing queued. Checks: every worker finished, and no
//! job has more than one row in `runs`.
//!
//! **Fix.** Claim in one statement that finds and locks the job, skipping jobs another worker
//! has locked: `UPDATE jobs SET state = 'running', worker = $1 WHERE id = (SELECT id FROM jobs
//! WHERE state = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id`.

use std::time::Duration;

use dosim::checks;
use dosim::pg::tokio_postgres::Client;
use dosim::{Actor, ActorPg, DatabaseSpec, Expect, Scenario, Violation};
use rand::Rng;

type Error = Box<dyn std::error::Error>;

const DB: &str = "queue";
const CHECK: &str = "every job runs once";
/// How long a worker sleeps between polls.
pub const POLL_INTERVAL: Duration = Duration::from_secs(4);
const WORK: Duration = Duration::from_millis(300);
const POLLS_MAX: u32 = 10;

async fn connect(cx: &Actor) -> Result<Client, Error> {
    let config = cx.postgres_config(DB)?;
    Ok(dosim::pg::connect_with(&config).await?)
}

/// The buggy claim: find the oldest queued job, then mark it running.
async fn claim(db: &Client, worker: &str) -> Result<Option<i32>, Error> {
    let Some(row) = db
        .query_opt(
            "SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1",
            &[],
        )
        .await?
    else {
        return Ok(None);
    };
    let id: i32 = row.get(0);
    db.execute(
        "UPDATE jobs SET state = 'running', worker = $1 WHERE id = $2",
        &[&worker, &id],
    )
    .await?;
    Ok(Some(id))
}

/// The fixed claim: one statement finds, locks and marks the job, skipping jobs others hold.
async fn claim_fixed(db: &Client, worker: &str) -> Result<Option<i32>, Error> {
    let row = db
        .query_opt(
            "UPDATE jobs SET state = 'running', worker = $1 WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
            &[&worker],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

/// Runs a claimed job: records the run, works, marks the job done.
async fn run_job(cx: &Actor, db: &Client, id: i32) -> Result<(), Error> {
    db.execute(
        "INSERT INTO runs (job_id, worker) VALUES ($1, $2)",
        &[&id, &cx.name()],
    )
    .await?;
    cx.sleep(WORK).await;
    db.execute("UPDATE jobs SET state = 'done' WHERE id = $1", &[&id])
        .await?;
    Ok(())
}

/// A worker loop: poll, claim with `fixed` or not, run, until the queue is empty.
async fn work(cx: &Actor, fixed: bool) -> Result<(), Error> {
    let db = connect(cx).await?;
    let interval_ms = u64::try_from(POLL_INTERVAL.as_millis()).unwrap_or(u64::MAX);
    let phase_ms = cx.rng().random_range(0..interval_ms);
    cx.sleep(Duration::from_millis(phase_ms)).await;
    for _ in 0..POLLS_MAX {
        let claimed = if fixed {
            claim_fixed(&db, cx.name()).await?
        } else {
            claim(&db, cx.name()).await?
        };
        match claimed {
            Some(id) => run_job(cx, &db, id).await?,
            None => return Ok(()),
        }
        cx.sleep(POLL_INTERVAL).await;
    }
    Ok(())
}

/// The buggy worker.
async fn worker(cx: Actor) -> Result<(), Error> {
    work(&cx, false).await
}

/// The fixed worker.
async fn worker_fixed(cx: Actor) -> Result<(), Error> {
    work(&cx, true).await
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .database(
            DatabaseSpec::pg(DB)
                .setup(
                    "CREATE TABLE jobs (id integer PRIMARY KEY, kind text NOT NULL, state text NOT NULL, worker text)",
                )
                .setup("CREATE TABLE runs (id serial PRIMARY KEY, job_id integer NOT NULL, worker text NOT NULL)")
                .setup(
                    "INSERT INTO jobs (id, kind, state) VALUES (1, 'send-invoice', 'queued'), (2, 'send-invoice', 'queued')",
                ),
        )
        .check(checks::actors_ok())
        .check_fn(CHECK, |outcome| {
            let database = outcome
                .database(DB)
                .ok_or_else(|| Violation::new(CHECK, format!("no database {DB}")))?;
            let twice = database
                .query("SELECT job_id, count(*) FROM runs GROUP BY job_id HAVING count(*) > 1 ORDER BY job_id")
                .map_err(|error| Violation::new(CHECK, error))?;
            if twice.is_empty() {
                return Ok(());
            }
            let rows = database
                .query("SELECT job_id, worker FROM runs ORDER BY id")
                .map_err(|error| Violation::new(CHECK, error))?;
            let runs: Vec<String> = rows
                .iter()
                .map(|row| {
                    let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
                    format!("job {} on {}", field(0), field(1))
                })
                .collect();
            Err(Violation::new(
                CHECK,
                format!(
                    "{} job(s) ran more than once; the runs: {}",
                    twice.len(),
                    runs.join(", ")
                ),
            )
            .resources([format!("database {DB}")]))
        })
        .max_sim_time(Duration::from_secs(120))
}

/// `job_double_claim`: find, then claim, in two statements.
pub fn buggy() -> Scenario {
    scenario("job_double_claim")
        .actors(2, worker)
        .expect(Expect::Race)
}

/// `job_double_claim_fixed`: one `UPDATE … FOR UPDATE SKIP LOCKED … RETURNING` claims.
pub fn fixed() -> Scenario {
    scenario("job_double_claim_fixed")
        .actors(2, worker_fixed)
        .expect(Expect::Clean)
}
