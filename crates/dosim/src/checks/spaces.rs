//! Checks over the run's final Spaces buckets and objects.

use super::{Check, Violation};

/// No bucket has a multipart upload still in progress when the run ends: every upload was completed or aborted.
pub fn spaces_no_orphaned_uploads() -> Check {
    const NAME: &str = "no multipart upload left in progress";
    Check::new(NAME, |outcome| {
        let Some(spaces) = outcome.spaces() else {
            return Ok(());
        };
        let orphans: Vec<String> = spaces.service().with_store(|store| {
            store
                .buckets()
                .flat_map(|bucket| {
                    bucket.uploads.values().map(move |upload| {
                        format!(
                            "upload {} of {}/{}",
                            upload.upload_id, bucket.name, upload.key
                        )
                    })
                })
                .collect()
        });
        if orphans.is_empty() {
            return Ok(());
        }
        Err(
            Violation::new(NAME, format!("still in progress: {}", orphans.join(", ")))
                .resources(orphans),
        )
    })
}

/// Every actor that believes `belief` (`Actor::believe(belief, content)`) finds that content as the latest body of `bucket/key` when the run ends.
pub fn spaces_object_as_believed(
    belief: impl Into<String>,
    bucket: impl Into<String>,
    key: impl Into<String>,
) -> Check {
    let (belief, bucket, key) = (belief.into(), bucket.into(), key.into());
    let name = format!("{bucket}/{key} holds what its writers believe");
    Check::new(name.clone(), move |outcome| {
        let stored = outcome
            .spaces()
            .and_then(|spaces| spaces.object(&bucket, &key))
            .map(|body| String::from_utf8_lossy(&body).into_owned());
        for (actor, believed) in outcome.beliefs_about(&belief) {
            let Some(believed) = believed else { continue };
            if stored.as_deref() != Some(believed.as_str()) {
                let holds = stored
                    .as_deref()
                    .map_or("nothing".to_owned(), |s| format!("{s:?}"));
                return Err(Violation::new(
                    &name,
                    format!(
                        "{actor} believes it wrote {believed:?}, but {bucket}/{key} holds {holds}"
                    ),
                )
                .resources([actor.clone(), format!("object {bucket}/{key}")]));
            }
        }
        Ok(())
    })
}

/// Every actor that believes `belief` (`Actor::believe(belief, version_id)`) finds that version
/// to be the current version of `bucket/key` when the run ends: what a program that keeps "the
/// version I wrote is the live one" (to read it back, to delete the old ones) relies on.
pub fn spaces_version_as_believed(
    belief: impl Into<String>,
    bucket: impl Into<String>,
    key: impl Into<String>,
) -> Check {
    let (belief, bucket, key) = (belief.into(), bucket.into(), key.into());
    let name = format!("{bucket}/{key} is at the version its writers believe");
    Check::new(name.clone(), move |outcome| {
        let current = outcome.spaces().and_then(|spaces| {
            spaces.service().with_store(|store| {
                store
                    .bucket(&bucket)
                    .ok()
                    .and_then(|b| b.current(&key).cloned())
            })
        });
        for (actor, believed) in outcome.beliefs_about(&belief) {
            let Some(believed) = believed else { continue };
            let holds = match &current {
                Some(version) if version.version_id == believed && !version.delete_marker => {
                    continue
                }
                Some(version) if version.delete_marker => format!(
                    "it is deleted (delete marker {})",
                    crate::history::short(&version.version_id)
                ),
                Some(version) => format!(
                    "its current version is {}",
                    crate::history::short(&version.version_id)
                ),
                None => "it does not exist".to_owned(),
            };
            return Err(Violation::new(
                &name,
                format!(
                    "{actor} believes version {} of {bucket}/{key} is current, but {holds}",
                    crate::history::short(&believed)
                ),
            )
            .resources([actor.clone(), format!("object {bucket}/{key}")]));
        }
        Ok(())
    })
}

/// The latest version of `bucket/key` carries every metadata key of `names` (`x-amz-meta-*`, without the prefix) when the run ends.
/// A violation names the keys that are missing and the ones the object has.
pub fn spaces_object_has_metadata<I, S>(
    bucket: impl Into<String>,
    key: impl Into<String>,
    names: I,
) -> Check
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let (bucket, key) = (bucket.into(), key.into());
    let names: Vec<String> = names.into_iter().map(|n| n.into().to_lowercase()).collect();
    let name = format!("{bucket}/{key} has metadata {}", names.join(", "));
    Check::new(name.clone(), move |outcome| {
        let Some(spaces) = outcome.spaces() else {
            return Ok(());
        };
        let metadata = spaces.service().with_store(|store| {
            store
                .get_object(&bucket, &key, None, &Default::default())
                .ok()
                .map(|version| version.metadata.clone())
        });
        let object = format!("object {bucket}/{key}");
        let Some(metadata) = metadata else {
            return Err(
                Violation::new(&name, format!("{bucket}/{key} does not exist")).resources([object]),
            );
        };
        let missing: Vec<&str> = names
            .iter()
            .filter(|n| !metadata.contains_key(n.as_str()))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let has: Vec<String> = metadata.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        let has = if has.is_empty() {
            "none".to_owned()
        } else {
            has.join(", ")
        };
        Err(Violation::new(
            &name,
            format!(
                "{bucket}/{key} lost metadata {}; it has {has}",
                missing.join(", ")
            ),
        )
        .resources([object]))
    })
}
