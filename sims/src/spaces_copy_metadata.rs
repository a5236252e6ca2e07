//! Spaces metadata updated by copying an object onto itself: two workers each add one metadata key, and one key silently disappears.
//!
//! **Goal.** Two background jobs annotate the uploaded photo `photos/cat.jpg` in the `media` bucket: `thumbnailer` records `x-amz-meta-thumbnail`, `scanner` records `x-amz-meta-scanned`; both keys must stay on the object.
//!
//! **On DigitalOcean.** S3 has no "update one metadata key": the usual code with aws-sdk-s3 reads the metadata with `HeadObject`, adds its key, and writes the whole set back with `CopyObject` of the object onto itself with `x-amz-metadata-directive: REPLACE`.
//! When both jobs read before either writes, the second copy replaces the metadata with a set that never saw the first job's key.
//!
//! **Method.** The uploader creates the photo with `PutObject`; `thumbnailer` and `scanner` each run the read and the copy with aws-sdk-s3, starting 50 and 51 ms later, when the photo is stored.
//! The check reads the final object's metadata and names the key that is missing.
//!
//! **Fix.** The read and the copy run under a lock object, `locks/photos/cat.jpg`, created with `If-None-Match: *` (enforced by dosim's default, `unquoted_only`, and `rfc`) and deleted after the copy; a job that gets 412 `PreconditionFailed` waits and tries again.
//! The obvious fix does not work: `x-amz-copy-source-if-match` with the ETag the `HeadObject` read.
//! A metadata-only copy keeps the content's MD5 as its ETag, so the second copy's precondition still holds after the first copy; `spaces_copy_metadata_if_match` runs that variant, and the key is still lost.

use std::collections::BTreeMap;
use std::time::Duration;

use dosim::spaces::sdk::aws_sdk_s3::primitives::ByteStream;
use dosim::spaces::sdk::aws_sdk_s3::types::MetadataDirective;
use dosim::spaces::sdk::{self, aws_sdk_s3};
use dosim::{checks, Actor, Expect, Scenario, SpacesSpec};

type Error = Box<dyn std::error::Error>;

const BUCKET: &str = "media";
const KEY: &str = "photos/cat.jpg";
const LOCK: &str = "locks/photos/cat.jpg";
const ATTEMPTS_MAX: u32 = 100;

/// How the annotating jobs guard their read and copy.
#[derive(Clone, Copy)]
enum Guard {
    /// Nothing: read, then copy.
    None,
    /// `x-amz-copy-source-if-match` with the ETag read, retried on 412.
    IfMatch,
    /// A lock object created with `If-None-Match: *` around the read and the copy.
    Lock,
}

/// The metadata key and value each job adds.
fn annotation(cx: &Actor) -> (&'static str, &'static str) {
    match cx.name() {
        "thumbnailer" => ("thumbnail", "thumbs/cat.jpg"),
        _ => ("scanned", "clean"),
    }
}

fn is_412<E>(
    error: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    error
        .raw_response()
        .is_some_and(|r| r.status().as_u16() == 412)
}

/// The uploader: puts the photo with no metadata.
async fn upload(_cx: Actor) -> Result<(), Error> {
    let s3 = sdk::client()?;
    s3.put_object()
        .bucket(BUCKET)
        .key(KEY)
        .content_type("image/jpeg")
        .body(ByteStream::from_static(b"\xff\xd8 a cat \xff\xd9"))
        .send()
        .await?;
    Ok(())
}

/// Reads the metadata and copies the object onto itself with the metadata plus this job's key.
/// With `if_match`, the copy carries the ETag read; returns whether the copy was applied.
async fn read_and_copy(cx: &Actor, s3: &aws_sdk_s3::Client, if_match: bool) -> Result<bool, Error> {
    let head = s3.head_object().bucket(BUCKET).key(KEY).send().await?;
    // Merged in key order, so the request is the same on every run.
    let mut metadata: BTreeMap<String, String> = head
        .metadata()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let (name, value) = annotation(cx);
    metadata.insert(name.to_owned(), value.to_owned());
    let mut copy = s3
        .copy_object()
        .bucket(BUCKET)
        .key(KEY)
        .copy_source(format!("{BUCKET}/{KEY}"))
        .metadata_directive(MetadataDirective::Replace)
        .set_content_type(head.content_type().map(str::to_owned));
    for (k, v) in metadata {
        copy = copy.metadata(k, v);
    }
    if if_match {
        copy = copy.set_copy_source_if_match(head.e_tag().map(str::to_owned));
    }
    match copy.send().await {
        Ok(_) => Ok(true),
        Err(error) if if_match && is_412(&error) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Takes the lock object: creates it only if absent, waiting while another job holds it.
async fn lock(cx: &Actor, s3: &aws_sdk_s3::Client) -> Result<(), Error> {
    for _ in 0..ATTEMPTS_MAX {
        let put = s3
            .put_object()
            .bucket(BUCKET)
            .key(LOCK)
            .if_none_match("*")
            .body(ByteStream::from(cx.name().as_bytes().to_vec()))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(()),
            Err(error) if is_412(&error) => cx.sleep(Duration::from_millis(50)).await,
            Err(error) => return Err(error.into()),
        }
    }
    Err(format!("{} never got the lock on {KEY}", cx.name()).into())
}

async fn annotate(cx: Actor, guard: Guard) -> Result<(), Error> {
    let start_ms = if cx.name() == "thumbnailer" { 50 } else { 51 };
    cx.sleep(Duration::from_millis(start_ms)).await;
    let s3 = sdk::client()?;
    match guard {
        Guard::None => {
            read_and_copy(&cx, &s3, false).await?;
        }
        Guard::IfMatch => {
            let mut applied = false;
            for _ in 0..ATTEMPTS_MAX {
                if read_and_copy(&cx, &s3, true).await? {
                    applied = true;
                    break;
                }
            }
            if !applied {
                return Err(format!("{} never updated {KEY}", cx.name()).into());
            }
        }
        Guard::Lock => {
            lock(&cx, &s3).await?;
            read_and_copy(&cx, &s3, false).await?;
            s3.delete_object().bucket(BUCKET).key(LOCK).send().await?;
        }
    }
    Ok(())
}

async fn annotate_unguarded(cx: Actor) -> Result<(), Error> {
    annotate(cx, Guard::None).await
}

async fn annotate_if_match(cx: Actor) -> Result<(), Error> {
    annotate(cx, Guard::IfMatch).await
}

async fn annotate_locked(cx: Actor) -> Result<(), Error> {
    annotate(cx, Guard::Lock).await
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .spaces(SpacesSpec::new("nyc3").bucket(BUCKET))
        .actor("uploader", upload)
        .check(checks::actors_ok())
        .check(checks::spaces_object_has_metadata(
            BUCKET,
            KEY,
            ["thumbnail", "scanned"],
        ))
        .max_sim_time(Duration::from_secs(30))
        .default_seeds(100)
}

/// `spaces_copy_metadata`: `HeadObject`, then `CopyObject` onto itself with the merged metadata.
pub fn buggy() -> Scenario {
    scenario("spaces_copy_metadata")
        .actor("thumbnailer", annotate_unguarded)
        .actor("scanner", annotate_unguarded)
        .expect(Expect::Race)
}

/// `spaces_copy_metadata_fixed`: the read and the copy under a lock object created with `If-None-Match: *`.
pub fn fixed() -> Scenario {
    scenario("spaces_copy_metadata_fixed")
        .actor("thumbnailer", annotate_locked)
        .actor("scanner", annotate_locked)
        .expect(Expect::Clean)
}

/// `spaces_copy_metadata_if_match`: the copy carries `x-amz-copy-source-if-match` with the ETag read, which a metadata-only copy does not change.
pub fn if_match() -> Scenario {
    scenario("spaces_copy_metadata_if_match")
        .actor("thumbnailer", annotate_if_match)
        .actor("scanner", annotate_if_match)
        .expect(Expect::Race)
}
