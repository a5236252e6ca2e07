//! Retried create duplicates droplets.
//!
//! **Goal.** One logical "create the web droplet" must leave exactly one droplet.
//!
//! **On DigitalOcean.** `POST /v2/droplets` commits, and then its response is lost: the
//! connection resets, or the load balancer hangs until the client times out. The client cannot
//! tell "not created" from "created, answer lost", and godo, doctl and pydo all retry by default.
//! Droplet names are not unique and the API has no idempotency key, so the retry makes a second
//! droplet, and the first one is an orphan that nobody's code knows about and that bills by the hour.
//!
//! **Method.** The fault plan loses half the responses to `POST /v2/droplets` after the create
//! commits (the connection resets as the answer is sent). Two pods each create their own
//! droplet with a godo-like client (retries on, POST included). The checks: every pod finished,
//! no two droplets carry the same `create:` tag, and every droplet is known to some pod.
//!
//! **Fix.** Give each logical create a unique tag. Turn the client's automatic POST retries off
//! and retry in the user's own loop: before every attempt, list droplets by that tag and adopt
//! what is there; create only when the list is empty.

use std::time::Duration;

use dosim::checks;
use dosim::client::{DropletCreate, Error, RetryPolicy};
use dosim::{Actor, Expect, FaultPlan, Scenario};
use rand::RngCore;

use crate::fixtures::{IMAGE, REGION, SIZE};

/// The most attempts the fixed create makes.
const ATTEMPTS_MAX: u32 = 6;

fn faults() -> FaultPlan {
    FaultPlan::parse(
        r#"
        [[rules]]
        method = "POST"
        path = "/v2/droplets"
        drop_response = { probability = 0.5, mode = "reset" }

        [[rules]]
        method = "GET"
        path = "/v2/droplets"
        latency = { min_ms = 1, max_ms = 50 }
        "#,
    )
    .expect("the fault plan parses")
}

/// The buggy code: one create call, and the client's own retries take care of failures.
async fn create_web_droplet(cx: Actor) -> Result<(), Error> {
    let name = format!("web-{}", cx.index());
    let request = DropletCreate::new(&name, SIZE, IMAGE)
        .region(REGION)
        .tag(format!("create:{name}"));
    cx.client().droplets().create(&request).await?;
    Ok(())
}

/// The fix: a tag unique to this logical create, and a retry loop that looks before it creates.
async fn create_web_droplet_fixed(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let name = format!("web-{}", cx.index());
    // Unique per logical create, not per attempt: every retry carries the same tag.
    let tag = format!("create:{name}-{:016x}", cx.rng().next_u64());
    let mut last_error = None;
    for attempt in 0..ATTEMPTS_MAX {
        if attempt > 0 {
            cx.sleep(Duration::from_millis(500 << attempt.min(5))).await;
        }
        match api.droplets().list().tag(&tag).all().await {
            Ok(existing) if !existing.is_empty() => return Ok(()),
            Ok(_) => {}
            Err(error) if retryable(&error) => {
                last_error = Some(error);
                continue;
            }
            Err(error) => return Err(error),
        }
        let request = DropletCreate::new(&name, SIZE, IMAGE)
            .region(REGION)
            .tag(&tag);
        match api.droplets().create(&request).await {
            Ok(_) => return Ok(()),
            // The create may have happened: the next attempt lists by tag before creating.
            Err(error) if error.is_ambiguous() || retryable(&error) => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last_error.expect("a failed attempt left its error"))
}

/// Failures worth another attempt: the answer was lost, or the API was briefly unavailable.
fn retryable(error: &Error) -> bool {
    error.is_ambiguous() || error.is_rate_limited() || error.status().is_some_and(|s| s >= 500)
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .faults(faults())
        .check(checks::actors_ok())
        .check(checks::no_duplicate_droplets_by_tag("create:"))
        .check(checks::no_orphans())
        .max_sim_time(Duration::from_secs(120))
}

/// `retried_create_duplicates`: godo-like retries of a create whose response was lost.
pub fn buggy() -> Scenario {
    scenario("retried_create_duplicates")
        .client(|builder| {
            builder
                .timeout(Duration::from_secs(5))
                .retry(RetryPolicy::godo())
        })
        .actors(2, create_web_droplet)
        .expect(Expect::Race)
}

/// `retried_create_duplicates_fixed`: a unique tag per create, looked up before every attempt.
pub fn fixed() -> Scenario {
    scenario("retried_create_duplicates_fixed")
        .client(|builder| {
            builder
                .timeout(Duration::from_secs(5))
                .retry(RetryPolicy::godo().retry_post(false))
        })
        .actors(2, create_web_droplet_fixed)
        .expect(Expect::Clean)
}
