//! Two pods create one volume.
//!
//! **Goal.** Every pod of a stateful set starts with the shared `pgdata` volume, and exactly one
//! such volume exists.
//!
//! **On DigitalOcean.** Volume names are unique per region. Two pods that check, then create,
//! can both see no volume; the second create gets `409` (`a volume with that name already
//! exists`). Naive code crashes on it, or "fixes" it by creating a differently named volume,
//! which leaves an orphan.
//!
//! **Method.** Two pods start at once; latency decides who lists and creates first. The checks:
//! every pod finished, and at most one volume whose name starts with `pgdata` exists in `nyc3`.
//!
//! **Fix.** Treat `409` as "someone else won": list again and adopt the winner's volume.

use dosim::checks;
use dosim::client::{Error, Volume, VolumeCreate};
use dosim::{Actor, Expect, Scenario};

use crate::fixtures::REGION;

const NAME: &str = "pgdata";

async fn find_volume(cx: &Actor) -> Result<Option<Volume>, Error> {
    let found = cx
        .client()
        .volumes()
        .list()
        .name(NAME)
        .region(REGION)
        .all()
        .await?;
    Ok(found.into_iter().next())
}

/// The buggy code: check, then create.
async fn ensure_volume(cx: Actor) -> Result<(), Error> {
    if find_volume(&cx).await?.is_none() {
        cx.client()
            .volumes()
            .create(&VolumeCreate::new(NAME, REGION, 100))
            .await?;
    }
    Ok(())
}

/// The fix: a 409 means another pod created it; read it back and adopt it.
async fn ensure_volume_fixed(cx: Actor) -> Result<(), Error> {
    if find_volume(&cx).await?.is_some() {
        return Ok(());
    }
    match cx
        .client()
        .volumes()
        .create(&VolumeCreate::new(NAME, REGION, 100))
        .await
    {
        Ok(_) => Ok(()),
        Err(error) if error.is_conflict() => match find_volume(&cx).await? {
            Some(_) => Ok(()),
            // A 409 for a volume nobody can find is not a lost race: report it.
            None => Err(error),
        },
        Err(error) => Err(error),
    }
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .check(checks::actors_ok())
        .check(checks::unique_volume_name(NAME, REGION))
}

/// `two_pods_create_one_volume`: check-then-create from two pods.
pub fn buggy() -> Scenario {
    scenario("two_pods_create_one_volume")
        .actors(2, ensure_volume)
        .expect(Expect::Race)
}

/// `two_pods_create_one_volume_fixed`: the loser of the create adopts the winner's volume.
pub fn fixed() -> Scenario {
    scenario("two_pods_create_one_volume_fixed")
        .actors(2, ensure_volume_fixed)
        .expect(Expect::Clean)
}
