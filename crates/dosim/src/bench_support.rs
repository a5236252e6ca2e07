//! Client code the benchmark runs: ordinary actor code, as a user would write it.

use std::time::Duration;

use dosim_client::DropletCreate;

use crate::Actor;

/// Creates one droplet and polls it every second until it is active.
pub(crate) async fn create_and_wait(cx: &Actor) -> Result<(), dosim_client::Error> {
    let client = cx.client();
    let created = client
        .droplets()
        .create(&DropletCreate::new("bench-1", "s-1vcpu-1gb", "ubuntu-24-04-x64").region("nyc3"))
        .await?;
    client
        .wait_for_droplet_active(created.resource.id)
        .poll_interval(Duration::from_secs(1))
        .await?;
    Ok(())
}
