//! Delete races attach: a cleanup job deletes volumes a worker is using.
//!
//! **Goal.** A cleanup job removes scratch volumes nobody uses any more, and never one a worker
//! is about to attach or has just detached.
//!
//! **On DigitalOcean.** "Unattached" is not "unused": a worker's new volume is unattached until
//! its attach commits, and again between its detach and its delete. A cleanup job that lists,
//! sees an unattached scratch volume and deletes it races the worker: the worker's attach or
//! delete gets `404`, and a volume attached between the cleanup's list and its delete makes the
//! delete fail with `409` (DigitalOcean refuses to delete an attached volume).
//!
//! **Method.** A worker droplet and one truly orphaned scratch volume (its owner droplet is gone)
//! exist. The worker runs three jobs, each creating a scratch volume, attaching it, using it,
//! detaching and deleting it; the cleanup job sweeps every few hundred milliseconds, at seeded
//! moments. The checks: both finished, and no scratch volume is left.
//!
//! **Fix.** Ownership tags: every scratch volume names its owner droplet (`owner:droplet-<id>`).
//! The cleanup deletes only volumes whose owner no longer exists, re-reads the volume just before
//! deleting, and treats `404` and `409` as "not mine to delete". The worker detaches, waits for
//! the detach, re-reads, then deletes.

use std::time::Duration;

use dosim::checks;
use dosim::client::{Client, Error, Volume, VolumeCreate};
use dosim::{Actor, Expect, RunOutcome, Scenario, Violation};
use rand::Rng;

use crate::fixtures::{self, REGION};

const SCRATCH_TAG: &str = "scratch";
const OWNER_PREFIX: &str = "owner:droplet-";
const JOBS: u32 = 3;
const WORK: Duration = Duration::from_millis(200);
const POLL: Duration = Duration::from_millis(100);
const SWEEPS: u32 = 12;
const SWEEP_INTERVAL_MS: u64 = 300;

async fn my_droplet(api: &Client, cx: &Actor) -> Result<u64, Error> {
    let droplets = api.droplets().list().name(cx.name()).all().await?;
    droplets
        .first()
        .map(|droplet| droplet.id)
        .ok_or_else(|| Error::InvalidArgument(format!("no droplet named {}", cx.name())))
}

async fn scratch_volumes(api: &Client) -> Result<Vec<Volume>, Error> {
    let volumes = api.volumes().list().region(REGION).all().await?;
    Ok(volumes
        .into_iter()
        .filter(|volume| volume.tags.iter().any(|tag| tag == SCRATCH_TAG))
        .collect())
}

/// Waits until the next sweep, at a seeded moment in the interval.
async fn until_next_sweep(cx: &Actor) {
    let after_ms = cx
        .rng()
        .random_range(SWEEP_INTERVAL_MS / 2..SWEEP_INTERVAL_MS * 3 / 2);
    cx.sleep(Duration::from_millis(after_ms)).await;
}

/// The buggy worker: create, attach, use, detach, delete.
async fn worker(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let me = my_droplet(&api, &cx).await?;
    for job in 0..JOBS {
        let request = VolumeCreate::new(format!("scratch-{job}"), REGION, 10).tags([SCRATCH_TAG]);
        let volume = api.volumes().create(&request).await?;
        let attach = api.volumes().attach(&volume.id, me, REGION).await?;
        api.wait_for_action(attach.id).poll_interval(POLL).await?;
        cx.sleep(WORK).await;
        let detach = api.volumes().detach(&volume.id, me, REGION).await?;
        api.wait_for_action(detach.id).poll_interval(POLL).await?;
        api.volumes().delete(&volume.id).await?;
    }
    Ok(())
}

/// The buggy cleanup: delete every unattached scratch volume.
async fn cleanup(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    for _ in 0..SWEEPS {
        until_next_sweep(&cx).await;
        for volume in scratch_volumes(&api).await? {
            if volume.droplet_ids.is_empty() {
                api.volumes().delete(&volume.id).await?;
            }
        }
    }
    Ok(())
}

/// The fixed worker: the volume names its owner; detach, wait, re-read, then delete.
async fn worker_fixed(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let me = my_droplet(&api, &cx).await?;
    let owner = format!("{OWNER_PREFIX}{me}");
    for job in 0..JOBS {
        let request = VolumeCreate::new(format!("scratch-{job}"), REGION, 10)
            .tags([SCRATCH_TAG, owner.as_str()]);
        let volume = api.volumes().create(&request).await?;
        let attach = api.volumes().attach(&volume.id, me, REGION).await?;
        api.wait_for_action(attach.id).poll_interval(POLL).await?;
        if api.volumes().get(&volume.id).await?.droplet_id() != Some(me) {
            return Err(Error::InvalidArgument(format!(
                "volume {} did not attach",
                volume.id
            )));
        }
        cx.sleep(WORK).await;
        let detach = api.volumes().detach(&volume.id, me, REGION).await?;
        api.wait_for_action(detach.id).poll_interval(POLL).await?;
        match api.volumes().get(&volume.id).await {
            Ok(volume) if volume.droplet_ids.is_empty() => api.volumes().delete(&volume.id).await?,
            Ok(volume) => {
                return Err(Error::InvalidArgument(format!(
                    "volume {} is still attached to {:?}",
                    volume.id, volume.droplet_ids
                )))
            }
            Err(error) if error.is_not_found() => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Whether the droplet a volume's owner tag names is gone; a volume without one is not ours.
async fn owner_gone(api: &Client, volume: &Volume) -> Result<bool, Error> {
    let Some(owner) = volume
        .tags
        .iter()
        .find_map(|tag| tag.strip_prefix(OWNER_PREFIX))
        .and_then(|id| id.parse::<u64>().ok())
    else {
        return Ok(false);
    };
    match api.droplets().get(owner).await {
        Ok(_) => Ok(false),
        Err(error) if error.is_not_found() => Ok(true),
        Err(error) => Err(error),
    }
}

/// The fixed cleanup: only volumes whose owner is gone, re-checked before each delete.
async fn cleanup_fixed(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    for _ in 0..SWEEPS {
        until_next_sweep(&cx).await;
        for volume in scratch_volumes(&api).await? {
            if !volume.droplet_ids.is_empty() || !owner_gone(&api, &volume).await? {
                continue;
            }
            match api.volumes().get(&volume.id).await {
                Ok(fresh) if fresh.droplet_ids.is_empty() => {}
                Ok(_) => continue,
                Err(error) if error.is_not_found() => continue,
                Err(error) => return Err(error),
            }
            match api.volumes().delete(&volume.id).await {
                Ok(()) => {}
                // Attached or deleted since the re-read: someone else's business now.
                Err(error) if error.is_conflict() || error.is_not_found() => {}
                Err(error) => return Err(error),
            }
        }
    }
    Ok(())
}

/// No scratch volume is left: the worker removed its own, the cleanup the orphan.
fn no_scratch_left() -> dosim::Check {
    const NAME: &str = "no scratch volume left";
    dosim::Check::new(NAME, |outcome: &RunOutcome| {
        let left: Vec<_> = outcome
            .final_state
            .volumes
            .iter()
            .filter(|volume| volume.tags.iter().any(|tag| tag == SCRATCH_TAG))
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        let names = left
            .iter()
            .map(|volume| format!("{} ({})", volume.name, dosim::history::short(&volume.id)))
            .collect::<Vec<_>>();
        Err(
            Violation::new(NAME, format!("left behind: {}", names.join(", "))).resources(
                left.iter()
                    .map(|volume| format!("volume {}", volume.id))
                    .collect::<Vec<_>>(),
            ),
        )
    })
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .cloud_config(fixtures::quick_config())
        .cloud(|cloud| {
            fixtures::droplet(cloud, "worker", &["batch"]);
            // Left by a worker whose droplet was destroyed: the one volume cleanup should remove.
            fixtures::volume(cloud, "scratch-old", &[SCRATCH_TAG, "owner:droplet-1"]);
        })
        .check(checks::actors_ok())
        .check(no_scratch_left())
        .max_sim_time(Duration::from_secs(60))
}

/// `delete_races_attach`: the cleanup deletes whatever is unattached.
pub fn buggy() -> Scenario {
    scenario("delete_races_attach")
        .actor("worker", worker)
        .actor("cleanup-job", cleanup)
        .expect(Expect::Race)
}

/// `delete_races_attach_fixed`: ownership tags, detach-then-delete, re-checks.
pub fn fixed() -> Scenario {
    scenario("delete_races_attach_fixed")
        .actor("worker", worker_fixed)
        .actor("cleanup-job", cleanup_fixed)
        .expect(Expect::Clean)
}
