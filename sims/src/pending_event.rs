//! Pending event: acting on a droplet that is still being created.
//!
//! **Goal.** A provisioner creates a droplet, attaches its data volume and points the service's
//! reserved IP at it, and finishes.
//!
//! **On DigitalOcean.** A new droplet has a `create` action in progress for tens of seconds, and
//! any other action meanwhile (attaching a volume, assigning a reserved IP, even another volume
//! action right after the first) is refused with `422 Droplet already has a pending event.`.
//! The create call itself succeeds at once, so code that goes straight on fails.
//!
//! **Method.** An unattached volume and an unassigned reserved IP exist; a droplet takes 3 s to
//! provision and volume and IP actions half a second. The provisioner creates the droplet, then
//! attaches and assigns. The checks: the provisioner finished, and the end state has the volume
//! on the new droplet and the IP pointing at it.
//!
//! **Fix.** Wait for the droplet's `create` action to complete (`wait_for_action`), wait for each
//! action before starting the next, and still retry a 422 pending event with backoff, since
//! another process's action can lock the droplet at any time.

use std::time::Duration;

use dosim::checks;
use dosim::client::{Action, Client, DropletCreate, Error};
use dosim::{Actor, Expect, RunOutcome, Scenario, Violation};

use crate::fixtures::{self, IMAGE, REGION, SIZE};

const VOLUME: &str = "web-data";
const DROPLET: &str = "web-1";
const POLL: Duration = Duration::from_millis(250);
const PENDING_ATTEMPTS_MAX: u32 = 6;

async fn find_volume_id(api: &Client) -> Result<String, Error> {
    let volumes = api
        .volumes()
        .list()
        .name(VOLUME)
        .region(REGION)
        .all()
        .await?;
    volumes
        .first()
        .map(|volume| volume.id.clone())
        .ok_or_else(|| Error::InvalidArgument(format!("no volume named {VOLUME}")))
}

async fn find_reserved_ip(api: &Client) -> Result<String, Error> {
    let reserved_ips = api.reserved_ips().list().all().await?;
    reserved_ips
        .first()
        .map(|reserved_ip| reserved_ip.ip.clone())
        .ok_or_else(|| Error::InvalidArgument("no reserved IP".to_owned()))
}

/// The buggy code: create, then attach and assign at once.
async fn provision(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let volume_id = find_volume_id(&api).await?;
    let ip = find_reserved_ip(&api).await?;
    let created = api
        .droplets()
        .create(&DropletCreate::new(DROPLET, SIZE, IMAGE).region(REGION))
        .await?;
    let droplet_id = created.resource.id;
    api.volumes().attach(&volume_id, droplet_id, REGION).await?;
    api.reserved_ips().assign(&ip, droplet_id).await?;
    Ok(())
}

/// Runs `start` until the droplet has no pending event, backing off between attempts, then
/// waits for the action it started.
async fn when_unlocked<F, Fut>(cx: &Actor, api: &Client, start: F) -> Result<Action, Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Action, Error>>,
{
    let mut attempt = 0;
    loop {
        match start().await {
            Ok(action) => return api.wait_for_action(action.id).poll_interval(POLL).await,
            Err(error) if error.is_pending_event() && attempt + 1 < PENDING_ATTEMPTS_MAX => {
                attempt += 1;
                cx.sleep(Duration::from_millis(250 << attempt)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// The fix: wait for each action to complete, and retry a pending event with backoff.
async fn provision_fixed(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let volume_id = find_volume_id(&api).await?;
    let ip = find_reserved_ip(&api).await?;
    let created = api
        .droplets()
        .create(&DropletCreate::new(DROPLET, SIZE, IMAGE).region(REGION))
        .await?;
    let droplet_id = created.resource.id;
    if let Some(action_id) = created.action_id() {
        api.wait_for_action(action_id).poll_interval(POLL).await?;
    }
    when_unlocked(&cx, &api, || async {
        api.volumes().attach(&volume_id, droplet_id, REGION).await
    })
    .await?;
    when_unlocked(&cx, &api, || async {
        api.reserved_ips().assign(&ip, droplet_id).await
    })
    .await?;
    Ok(())
}

/// The new droplet ends with the volume attached and the reserved IP assigned.
fn wired_up() -> dosim::Check {
    const NAME: &str = "the new droplet has its volume and reserved IP";
    dosim::Check::new(NAME, |outcome: &RunOutcome| {
        let state = &outcome.final_state;
        let Some(droplet) = state
            .droplets
            .iter()
            .find(|droplet| droplet.name == DROPLET)
        else {
            return Err(Violation::new(NAME, format!("no droplet named {DROPLET}")));
        };
        let mut missing = Vec::new();
        if !state
            .volumes
            .iter()
            .any(|volume| volume.name == VOLUME && volume.droplet_ids == [droplet.id])
        {
            missing.push(format!("volume {VOLUME} is not attached to it"));
        }
        if !state
            .reserved_ips
            .iter()
            .any(|reserved_ip| reserved_ip.droplet_id == Some(droplet.id))
        {
            missing.push("no reserved IP points at it".to_owned());
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(Violation::new(
            NAME,
            format!("droplet {} ({DROPLET}): {}", droplet.id, missing.join("; ")),
        )
        .resources([format!("droplet {}", droplet.id)]))
    })
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .cloud_config(dosim::CloudConfig {
            droplet_provision_ms: 3_000,
            ..fixtures::quick_config()
        })
        .cloud(|cloud| {
            fixtures::volume(cloud, VOLUME, &[]);
            fixtures::reserved_ip(cloud);
        })
        .check(checks::actors_ok())
        .check(wired_up())
        .max_sim_time(Duration::from_secs(60))
}

/// `pending_event`: attach and assign straight after the create.
pub fn buggy() -> Scenario {
    scenario("pending_event")
        .actor("provisioner", provision)
        .expect(Expect::Race)
}

/// `pending_event_fixed`: wait for each action, retry a pending event with backoff.
pub fn fixed() -> Scenario {
    scenario("pending_event_fixed")
        .actor("provisioner", provision_fixed)
        .expect(Expect::Clean)
}
