//! Retry storm: workers that retry 429s at once.
//!
//! **Goal.** A fleet audit split over five workers finishes, even though together they need more
//! requests than DigitalOcean's per-minute budget allows.
//!
//! **On DigitalOcean.** Each token may make 5,000 requests an hour and 250 in any minute; beyond
//! that every request gets `429 Too Many Requests` with `retry-after`. Workers that retry a 429
//! at once, without backoff, spend their retries within milliseconds while the window is still
//! full, and give up together: nobody finishes. (Retrying in a tight loop forever is no better:
//! the workers hammer the API and the first to hit a freed slot wins by luck.)
//!
//! **Method.** Twenty droplets tagged `fleet` exist; five workers each list them and read every
//! one three times, about 300 requests in all, at the API's real limits. The checks: every worker
//! finished, and within the three-minute deadline the audit allows.
//!
//! **Fix.** Exponential backoff with jitter that honours `retry-after`: wait at least what the
//! API asks, plus a random share of a doubling backoff, so the workers do not all come back at
//! the same instant.

use std::time::Duration;

use dosim::checks;
use dosim::client::{Client, Droplet, Error};
use dosim::{Actor, ActorRng, Expect, RunOutcome, Scenario, Violation};
use rand::Rng;

use crate::fixtures;

const FLEET_TAG: &str = "fleet";
const FLEET_SIZE: usize = 20;
const WORKERS: usize = 5;
const PASSES: usize = 3;
const DEADLINE_MS: u64 = 180_000;
const NAIVE_RETRIES_MAX: u32 = 5;
const RETRIES_MAX: u32 = 10;
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(32);

/// The buggy read: a 429 is retried at once, a few times.
async fn get_droplet(api: &Client, droplet_id: u64) -> Result<Droplet, Error> {
    let mut retries = 0;
    loop {
        match api.droplets().get(droplet_id).await {
            Err(error) if error.is_rate_limited() && retries < NAIVE_RETRIES_MAX => retries += 1,
            result => return result,
        }
    }
}

/// The fixed read: wait what the API asks, plus jittered exponential backoff.
async fn get_droplet_fixed(
    cx: &Actor,
    rng: &mut ActorRng,
    api: &Client,
    droplet_id: u64,
) -> Result<Droplet, Error> {
    let mut retries = 0;
    loop {
        match api.droplets().get(droplet_id).await {
            Err(error) if error.is_rate_limited() && retries < RETRIES_MAX => {
                let asked = error
                    .api()
                    .and_then(|api_error| api_error.rate)
                    .and_then(|rate| rate.retry_after)
                    .unwrap_or(Duration::ZERO);
                let backoff = BACKOFF_MIN
                    .saturating_mul(1 << retries.min(5))
                    .min(BACKOFF_MAX);
                let jitter_ms = rng.random_range(0..=backoff.as_millis() as u64);
                cx.sleep(asked + Duration::from_millis(jitter_ms)).await;
                retries += 1;
            }
            result => return result,
        }
    }
}

async fn fleet(api: &Client) -> Result<Vec<u64>, Error> {
    let droplets = api.droplets().list().tag(FLEET_TAG).all().await?;
    Ok(droplets.iter().map(|droplet| droplet.id).collect())
}

/// The buggy worker.
async fn audit(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let ids = fleet(&api).await?;
    for _ in 0..PASSES {
        for id in &ids {
            get_droplet(&api, *id).await?;
        }
    }
    Ok(())
}

/// The fixed worker.
async fn audit_fixed(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let mut rng = cx.rng();
    let ids = fleet(&api).await?;
    for _ in 0..PASSES {
        for id in &ids {
            get_droplet_fixed(&cx, &mut rng, &api, *id).await?;
        }
    }
    Ok(())
}

/// Every worker finished within the audit's deadline.
fn within_deadline() -> dosim::Check {
    let name = format!("every worker finished within {}s", DEADLINE_MS / 1000);
    dosim::Check::new(name.clone(), move |outcome: &RunOutcome| {
        let late: Vec<String> = outcome
            .actors
            .iter()
            .filter(|actor| actor.end_ms.is_none_or(|end_ms| end_ms > DEADLINE_MS))
            .map(|actor| actor.name.clone())
            .collect();
        if late.is_empty() {
            return Ok(());
        }
        Err(Violation::new(
            &name,
            format!("still working at the deadline: {}", late.join(", ")),
        )
        .resources(late))
    })
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .cloud_config(fixtures::quick_config())
        .cloud(|cloud| {
            for index in 0..FLEET_SIZE {
                fixtures::droplet(cloud, &format!("fleet-{index}"), &[FLEET_TAG]);
            }
        })
        .check(checks::actors_ok())
        .check(within_deadline())
        .max_sim_time(Duration::from_millis(DEADLINE_MS + 20_000))
        // Waiting out a one-minute window takes 60,000 steps at the default 1 ms tick; 10 ms
        // keeps every request's order (latency is still 1 to 20 ms) at a tenth of the cost.
        .tick(Duration::from_millis(10))
        .default_seeds(10)
}

/// `retry_storm`: workers retry 429s at once and give up together.
pub fn buggy() -> Scenario {
    scenario("retry_storm")
        .actors(WORKERS, audit)
        .expect(Expect::Race)
}

/// `retry_storm_fixed`: backoff with jitter, honouring `retry-after`.
pub fn fixed() -> Scenario {
    scenario("retry_storm_fixed")
        .actors(WORKERS, audit_fixed)
        .expect(Expect::Clean)
}
