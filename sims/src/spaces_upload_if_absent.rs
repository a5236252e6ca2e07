//! Spaces "upload if absent" by check-then-put: two writers both find the key missing and both upload, and the first one's data is gone.
//!
//! **Goal.** The first writer to produce today's report publishes it at `reports/daily.csv` in the `uploads` bucket; a writer that finds the report already there keeps the published one.
//!
//! **On DigitalOcean.** The usual code with aws-sdk-s3: `HeadObject`, and on 404 `PutObject`.
//! Between the check and the put another writer does the same, and S3's last writer wins: both writers go on believing their report was published, and one of them is wrong.
//!
//! **Method.** `writer-a` and `writer-b` each run the check and the put with aws-sdk-s3, `writer-b` starting 10 ms later, and each states the body it believes it published.
//! The check: every writer that believes it published finds its own body in the object when the run ends.
//!
//! **Fix.** `PutObject` with `If-None-Match: *`: Spaces creates the object only if the key is absent, and the loser gets 412 `PreconditionFailed` and keeps the published one.
//! It holds where DigitalOcean enforces the condition (dosim's default, `unquoted_only`, and `rfc`); `spaces_upload_if_absent_ignored` runs the same fix where the condition is silently ignored (`ConditionalPut::Ignored`, a report from one region), and the race is back.

use std::time::Duration;

use dosim::spaces::sdk::aws_sdk_s3::primitives::ByteStream;
use dosim::spaces::sdk::{self, aws_sdk_s3};
use dosim::spaces::ConditionalPut;
use dosim::{checks, Actor, Expect, Scenario, SpacesSpec};

type Error = Box<dyn std::error::Error>;

const BUCKET: &str = "uploads";
const KEY: &str = "reports/daily.csv";
const BELIEF: &str = "published";

async fn start(cx: &Actor) -> Result<(aws_sdk_s3::Client, String), Error> {
    if cx.name() == "writer-b" {
        cx.sleep(Duration::from_millis(10)).await;
    }
    Ok((sdk::client()?, format!("report by {}", cx.name())))
}

/// The buggy writer: checks that the key is absent, then uploads.
async fn publish(cx: Actor) -> Result<(), Error> {
    let (s3, body) = start(&cx).await?;
    match s3.head_object().bucket(BUCKET).key(KEY).send().await {
        Ok(_) => return Ok(()),
        Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => {}
        Err(error) => return Err(error.into()),
    }
    s3.put_object()
        .bucket(BUCKET)
        .key(KEY)
        .body(ByteStream::from(body.clone().into_bytes()))
        .send()
        .await?;
    cx.believe(BELIEF, &body);
    Ok(())
}

/// The fix: the put itself says "only if absent".
async fn publish_if_none_match(cx: Actor) -> Result<(), Error> {
    let (s3, body) = start(&cx).await?;
    let put = s3
        .put_object()
        .bucket(BUCKET)
        .key(KEY)
        .if_none_match("*")
        .body(ByteStream::from(body.clone().into_bytes()))
        .send()
        .await;
    match put {
        Ok(_) => cx.believe(BELIEF, &body),
        // 412: another writer published first, and its report stays.
        Err(error)
            if error
                .raw_response()
                .is_some_and(|r| r.status().as_u16() == 412) => {}
        Err(error) => return Err(error.into()),
    }
    Ok(())
}

fn scenario(name: &str, mode: ConditionalPut) -> Scenario {
    Scenario::new(name)
        .spaces(SpacesSpec::new("nyc3").bucket(BUCKET).conditional_put(mode))
        .check(checks::actors_ok())
        .check(checks::spaces_object_as_believed(BELIEF, BUCKET, KEY))
        .check(checks::spaces_no_orphaned_uploads())
        .max_sim_time(Duration::from_secs(10))
        .default_seeds(100)
}

/// `spaces_upload_if_absent`: `HeadObject` then `PutObject`.
pub fn buggy() -> Scenario {
    scenario("spaces_upload_if_absent", ConditionalPut::default())
        .actor("writer-a", publish)
        .actor("writer-b", publish)
        .expect(Expect::Race)
}

/// `spaces_upload_if_absent_fixed`: `PutObject` with `If-None-Match: *`, enforced.
pub fn fixed() -> Scenario {
    scenario("spaces_upload_if_absent_fixed", ConditionalPut::default())
        .actor("writer-a", publish_if_none_match)
        .actor("writer-b", publish_if_none_match)
        .expect(Expect::Clean)
}

/// `spaces_upload_if_absent_ignored`: the same fix where Spaces ignores the condition.
pub fn ignored() -> Scenario {
    scenario("spaces_upload_if_absent_ignored", ConditionalPut::Ignored)
        .actor("writer-a", publish_if_none_match)
        .actor("writer-b", publish_if_none_match)
        .expect(Expect::Race)
}
