//! A cleanup job deletes a Spaces object by key while an upload replaces it: the new upload is deleted with the draft it meant to remove.
//!
//! **Goal.** An uploader writes a draft of `photos/cat.jpg` in the `media` bucket, then the final image; a cleanup job removes drafts it finds, and never the final image.
//!
//! **On DigitalOcean.** The cleanup reads the object with aws-sdk-s3, sees a draft, and sends `DeleteObject` for the key.
//! Between its read and its delete the uploader's final `PutObject` lands, and the delete removes the final image: S3 deletes whatever the key holds when the delete arrives.
//!
//! **Method.** The uploader puts the draft at once and the final image 20 ms later, then states the body it believes is stored; the cleaner reads the object 25 ms in and deletes it if it is a draft.
//! The check: the object's body at the end is what the uploader believes.
//!
//! **Fix.** A versioned bucket, and a cleanup that deletes the version it read (`DeleteObject` with `versionId`): a newer version is a different version, so it stays the latest.
//! Versioning does not depend on the conditional-PUT switch.

use std::time::Duration;

use dosim::spaces::sdk;
use dosim::spaces::sdk::aws_sdk_s3::primitives::ByteStream;
use dosim::{checks, Actor, Expect, Scenario, SpacesSpec};

type Error = Box<dyn std::error::Error>;

const BUCKET: &str = "media";
const KEY: &str = "photos/cat.jpg";
const BELIEF: &str = "stored";
const DRAFT: &str = "draft";
const FINAL: &str = "final image";

async fn upload(cx: Actor) -> Result<(), Error> {
    let s3 = sdk::client()?;
    for (index, body) in [DRAFT, FINAL].into_iter().enumerate() {
        if index > 0 {
            cx.sleep(Duration::from_millis(20)).await;
        }
        s3.put_object()
            .bucket(BUCKET)
            .key(KEY)
            .body(ByteStream::from_static(body.as_bytes()))
            .send()
            .await?;
        cx.believe(BELIEF, body);
    }
    Ok(())
}

/// Reads the object; if it is a draft, deletes it: by key, or with `by_version` the version read.
async fn clean(cx: Actor, by_version: bool) -> Result<(), Error> {
    cx.sleep(Duration::from_millis(25)).await;
    let s3 = sdk::client()?;
    let read = match s3.get_object().bucket(BUCKET).key(KEY).send().await {
        Ok(read) => read,
        Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    let version = read.version_id().map(str::to_owned);
    let body = read.body.collect().await?.into_bytes();
    if body.as_ref() != DRAFT.as_bytes() {
        return Ok(());
    }
    let mut delete = s3.delete_object().bucket(BUCKET).key(KEY);
    if by_version {
        delete = delete.set_version_id(version);
    }
    delete.send().await?;
    Ok(())
}

async fn clean_by_key(cx: Actor) -> Result<(), Error> {
    clean(cx, false).await
}

async fn clean_by_version(cx: Actor) -> Result<(), Error> {
    clean(cx, true).await
}

fn scenario(name: &str, spaces: SpacesSpec) -> Scenario {
    Scenario::new(name)
        .spaces(spaces)
        .actor("uploader", upload)
        .check(checks::actors_ok())
        .check(checks::spaces_object_as_believed(BELIEF, BUCKET, KEY))
        .max_sim_time(Duration::from_secs(10))
        .default_seeds(100)
}

/// `spaces_delete_upload`: the cleanup deletes by key.
pub fn buggy() -> Scenario {
    scenario(
        "spaces_delete_upload",
        SpacesSpec::new("nyc3").bucket(BUCKET),
    )
    .actor("cleaner", clean_by_key)
    .expect(Expect::Race)
}

/// `spaces_delete_upload_fixed`: a versioned bucket, and the cleanup deletes the version it read.
pub fn fixed() -> Scenario {
    scenario(
        "spaces_delete_upload_fixed",
        SpacesSpec::new("nyc3").versioned_bucket(BUCKET),
    )
    .actor("cleaner", clean_by_version)
    .expect(Expect::Clean)
}
