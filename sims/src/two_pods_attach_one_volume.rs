//! Two pods attach one volume.
//!
//! **Goal.** One pod at a time has the shared `pgdata` volume mounted, and every pod that
//! believes it has the volume really has it.
//!
//! **On DigitalOcean.** A volume attaches to one droplet at a time. Two pods that both attach it
//! to their own droplet race: one wins, the other gets `422 This volume is already attached to
//! another Droplet`. Naive code either crashes on that, or "recovers" by detaching the volume
//! from the other droplet and attaching it to its own: the volume moves out from under a pod
//! that is running on it, which still believes it has its data.
//!
//! **Method.** Two active droplets (`node-0`, `node-1`) and one unattached volume exist; a pod on
//! each attaches the volume to its own droplet, then states what it believes with
//! `cx.believe("volume-holder", droplet_id)`. Volume actions take half a second and lock the
//! droplet, so a detach that comes too soon gets `Droplet already has a pending event.`.
//! The checks: every pod finished, and the pods holding a belief all name the droplet the volume
//! is actually attached to.
//!
//! **Fix.** Decide one owner first, outside DigitalOcean: a lease from the user's lease service.
//! Only the lease holder attaches; it waits for the attach action, reads the volume back, and
//! believes only what it read. The other pod stays a standby.

use std::collections::BTreeMap;
use std::time::Duration;

use dosim::checks;
use dosim::client::{Client, Error, Volume};
use dosim::{Actor, Expect, RunOutcome, Scenario, Violation};

use crate::fixtures::{self, REGION};
use crate::lease::{self, Acquired, LeaseClient};

const VOLUME: &str = "pgdata";
const BELIEF: &str = "volume-holder";
const POLL: Duration = Duration::from_millis(100);

/// This pod's droplet: the one named after the pod's index, as a metadata lookup would give.
async fn my_droplet(api: &Client, cx: &Actor) -> Result<u64, Error> {
    let name = format!("node-{}", cx.index());
    let droplets = api.droplets().list().name(&name).all().await?;
    droplets
        .first()
        .map(|droplet| droplet.id)
        .ok_or_else(|| Error::InvalidArgument(format!("no droplet named {name}")))
}

async fn the_volume(api: &Client) -> Result<Volume, Error> {
    let volumes = api
        .volumes()
        .list()
        .name(VOLUME)
        .region(REGION)
        .all()
        .await?;
    volumes
        .into_iter()
        .next()
        .ok_or_else(|| Error::InvalidArgument(format!("no volume named {VOLUME}")))
}

/// The buggy code: attach; if the volume is elsewhere, take it.
async fn mount_volume(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let me = my_droplet(&api, &cx).await?;
    let volume = the_volume(&api).await?;
    let action = match api.volumes().attach(&volume.id, me, REGION).await {
        Ok(action) => action,
        Err(error) if error.is_unprocessable() => {
            // "Already attached to another Droplet": move it here.
            let volume = api.volumes().get(&volume.id).await?;
            if let Some(other) = volume.droplet_id().filter(|id| *id != me) {
                let detach = api.volumes().detach(&volume.id, other, REGION).await?;
                api.wait_for_action(detach.id).poll_interval(POLL).await?;
            }
            api.volumes().attach(&volume.id, me, REGION).await?
        }
        Err(error) => return Err(error),
    };
    api.wait_for_action(action.id).poll_interval(POLL).await?;
    cx.believe(BELIEF, me);
    Ok(())
}

/// The fix: the lease holder alone attaches, then verifies by reading the volume back.
async fn mount_volume_fixed(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let me = my_droplet(&api, &cx).await?;
    let leases = LeaseClient::default();
    let acquired = leases
        .acquire(
            &format!("volume:{VOLUME}"),
            cx.name(),
            Duration::from_secs(600),
        )
        .await
        .map_err(|error| Error::InvalidArgument(error.to_string()))?;
    if let Acquired::HeldBy(_) = acquired {
        // Another pod owns the volume: this one is a standby and mounts nothing.
        return Ok(());
    }
    let volume = the_volume(&api).await?;
    if volume.droplet_id() != Some(me) {
        let action = api.volumes().attach(&volume.id, me, REGION).await?;
        api.wait_for_action(action.id).poll_interval(POLL).await?;
    }
    let volume = api.volumes().get(&volume.id).await?;
    if volume.droplet_id() != Some(me) {
        return Err(Error::InvalidArgument(format!(
            "volume {VOLUME} is attached to {:?}, not to droplet {me}",
            volume.droplet_id()
        )));
    }
    cx.believe(BELIEF, me);
    Ok(())
}

/// The pods that believe they hold the volume all name one droplet, and the volume is on it.
pub fn one_holder() -> dosim::Check {
    const NAME: &str = "one pod holds the volume";
    dosim::Check::new(NAME, |outcome: &RunOutcome| {
        let beliefs: BTreeMap<String, String> = outcome
            .beliefs_about(BELIEF)
            .into_iter()
            .filter_map(|(actor, value)| Some((actor, value?)))
            .collect();
        let attached: Vec<u64> = outcome
            .final_state
            .volumes
            .iter()
            .filter(|volume| volume.name == VOLUME)
            .flat_map(|volume| volume.droplet_ids.iter().copied())
            .collect();
        let wrong: Vec<(&String, &String)> = beliefs
            .iter()
            .filter(|(_, droplet)| !attached.iter().any(|id| id.to_string() == **droplet))
            .collect();
        if beliefs.len() <= 1 && wrong.is_empty() {
            return Ok(());
        }
        let said = beliefs
            .iter()
            .map(|(actor, droplet)| format!("{actor} believes droplet {droplet} has it"))
            .collect::<Vec<_>>()
            .join("; ");
        let actual = match attached.as_slice() {
            [] => "it is attached to nothing".to_owned(),
            ids => format!(
                "it is attached to droplet {}",
                ids.iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Err(
            Violation::new(NAME, format!("{} pods: {said}; {actual}", beliefs.len()))
                .resources(beliefs.keys().cloned().collect::<Vec<_>>()),
        )
    })
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .cloud_config(fixtures::quick_config())
        .cloud(|cloud| {
            fixtures::droplet(cloud, "node-0", &["db"]);
            fixtures::droplet(cloud, "node-1", &["db"]);
            fixtures::volume(cloud, VOLUME, &[]);
        })
        .check(checks::actors_ok())
        .check(one_holder())
        .max_sim_time(Duration::from_secs(60))
}

/// `two_pods_attach_one_volume`: both pods attach, and the loser takes the volume over.
pub fn buggy() -> Scenario {
    scenario("two_pods_attach_one_volume")
        .actors(2, mount_volume)
        .expect(Expect::Race)
}

/// `two_pods_attach_one_volume_fixed`: a lease decides the owner before anyone attaches.
pub fn fixed() -> Scenario {
    scenario("two_pods_attach_one_volume_fixed")
        .service(lease::HOST, lease::serve)
        .actors(2, mount_volume_fixed)
        .expect(Expect::Clean)
}
