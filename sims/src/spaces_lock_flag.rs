//! A lock kept as a Spaces object with a `holder` metadata flag: two workers both see it free, both set it, both hold the lock.
//!
//! **Goal.** One worker at a time runs the nightly job; the lock is the object `locks/nightly` in the `jobs` bucket, its `x-amz-meta-holder` naming the holder, deleted when the job ends.
//!
//! **On DigitalOcean.** The pattern people write with aws-sdk-s3 when they have an object store and no lock service: `HeadObject`; if the lock object is absent (or has no holder), `PutObject` it with `holder` set to yourself, run the job, delete it.
//! Between another worker's check and its put, this worker does the same; the second put overwrites the first, and both run the job.
//!
//! **Method.** `worker-a` and `worker-b` take the lock with aws-sdk-s3, `worker-b` starting 20 ms later, retrying every 100 ms while it is held; each holds it for 200 ms, stating that it holds the lock while it does.
//! The check: at no time do two workers believe they hold the lock.
//!
//! **Fix.** `PutObject` of the lock with `If-None-Match: *`: only one put creates the object, the other gets 412 `PreconditionFailed` and waits.
//! `spaces_lock_flag_ignored` runs the fix where Spaces ignores the condition (`ConditionalPut::Ignored`), and two holders are back.

use std::time::Duration;

use dosim::spaces::sdk::aws_sdk_s3::primitives::ByteStream;
use dosim::spaces::sdk::{self, aws_sdk_s3};
use dosim::spaces::ConditionalPut;
use dosim::{checks, Actor, Expect, Scenario, SpacesSpec};

type Error = Box<dyn std::error::Error>;

const BUCKET: &str = "jobs";
const LOCK: &str = "locks/nightly";
const HOLDING: &str = "nightly-lock";
const ATTEMPTS_MAX: u32 = 100;

/// Whether the lock object names a holder.
async fn held(s3: &aws_sdk_s3::Client) -> Result<bool, Error> {
    match s3.head_object().bucket(BUCKET).key(LOCK).send().await {
        Ok(head) => Ok(head.metadata().is_some_and(|m| m.contains_key("holder"))),
        Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Takes the lock: with `if_absent`, the put says `If-None-Match: *`.
async fn take(cx: &Actor, s3: &aws_sdk_s3::Client, if_absent: bool) -> Result<(), Error> {
    for _ in 0..ATTEMPTS_MAX {
        if !if_absent && held(s3).await? {
            cx.sleep(Duration::from_millis(100)).await;
            continue;
        }
        let mut put = s3
            .put_object()
            .bucket(BUCKET)
            .key(LOCK)
            .metadata("holder", cx.name())
            .body(ByteStream::from_static(b""));
        if if_absent {
            put = put.if_none_match("*");
        }
        match put.send().await {
            Ok(_) => return Ok(()),
            Err(error)
                if error
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 412) =>
            {
                cx.sleep(Duration::from_millis(100)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(format!("{} never got the lock", cx.name()).into())
}

async fn run_job(cx: Actor, if_absent: bool) -> Result<(), Error> {
    if cx.name() == "worker-b" {
        cx.sleep(Duration::from_millis(20)).await;
    }
    let s3 = sdk::client()?;
    take(&cx, &s3, if_absent).await?;
    cx.believe(HOLDING, "yes");
    cx.sleep(Duration::from_millis(200)).await;
    cx.forget(HOLDING);
    s3.delete_object().bucket(BUCKET).key(LOCK).send().await?;
    Ok(())
}

async fn work(cx: Actor) -> Result<(), Error> {
    run_job(cx, false).await
}

async fn work_if_none_match(cx: Actor) -> Result<(), Error> {
    run_job(cx, true).await
}

fn scenario(name: &str, mode: ConditionalPut) -> Scenario {
    Scenario::new(name)
        .spaces(SpacesSpec::new("nyc3").bucket(BUCKET).conditional_put(mode))
        .check(checks::actors_ok())
        .check(checks::single_holder(HOLDING))
        .max_sim_time(Duration::from_secs(30))
        .default_seeds(100)
}

/// `spaces_lock_flag`: check the flag, then set it.
pub fn buggy() -> Scenario {
    scenario("spaces_lock_flag", ConditionalPut::default())
        .actor("worker-a", work)
        .actor("worker-b", work)
        .expect(Expect::Race)
}

/// `spaces_lock_flag_fixed`: create the lock object with `If-None-Match: *`, enforced.
pub fn fixed() -> Scenario {
    scenario("spaces_lock_flag_fixed", ConditionalPut::default())
        .actor("worker-a", work_if_none_match)
        .actor("worker-b", work_if_none_match)
        .expect(Expect::Clean)
}

/// `spaces_lock_flag_ignored`: the same fix where Spaces ignores the condition.
pub fn ignored() -> Scenario {
    scenario("spaces_lock_flag_ignored", ConditionalPut::Ignored)
        .actor("worker-a", work_if_none_match)
        .actor("worker-b", work_if_none_match)
        .expect(Expect::Race)
}
