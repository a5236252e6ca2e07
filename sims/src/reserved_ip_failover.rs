//! Reserved-IP failover split brain.
//!
//! **Goal.** When the primary dies, exactly one standby takes over its reserved IP and serves,
//! and every host that believes it owns the address really does.
//!
//! **On DigitalOcean.** Assigning a reserved IP that points elsewhere simply moves it: the API
//! has no compare-and-set, and the last assign wins. Two standbys that both notice the primary
//! is gone both assign the address to themselves; the second assign (or its retry after
//! `422 The floating IP already has a pending event.`) moves it away from the first, and both
//! standbys believe they are the primary.
//!
//! **Method.** Two active standby droplets and one unassigned reserved IP (the primary is gone).
//! Each standby host notices at a seeded moment within its one-second health-check interval,
//! assigns the address to its own droplet, waits for the `assign_ip` action, and states
//! `cx.believe("ip-owner", droplet_id)`. Assigns take half a second. The check
//! `checks::reserved_ip_single_owner` compares the beliefs with each other and with the cloud.
//!
//! **Fix.** A fencing lease from the user's lease service decides the new primary; only the
//! holder assigns. Before serving it reads the assignment back, and while serving it renews the
//! lease and re-reads the address; a host that loses either retracts its belief with `cx.forget`.

use std::time::Duration;

use dosim::checks;
use dosim::client::{Client, Error};
use dosim::{Actor, Expect, Scenario};
use rand::Rng;

use crate::fixtures;
use crate::lease::{self, Acquired, LeaseClient};

const BELIEF: &str = "ip-owner";
const POLL: Duration = Duration::from_millis(100);
const HEALTH_CHECK_INTERVAL_MS: u64 = 1000;
const ASSIGN_ATTEMPTS_MAX: u32 = 5;
const LEASE_TTL: Duration = Duration::from_secs(3);
const SERVE_ROUNDS: u32 = 3;

/// This host's droplet: the droplet named like the host.
async fn my_droplet(api: &Client, cx: &Actor) -> Result<u64, Error> {
    let droplets = api.droplets().list().name(cx.name()).all().await?;
    droplets
        .first()
        .map(|droplet| droplet.id)
        .ok_or_else(|| Error::InvalidArgument(format!("no droplet named {}", cx.name())))
}

/// The address the service answers on: the account's one reserved IP.
async fn service_ip(api: &Client) -> Result<String, Error> {
    let reserved_ips = api.reserved_ips().list().all().await?;
    reserved_ips
        .first()
        .map(|reserved_ip| reserved_ip.ip.clone())
        .ok_or_else(|| Error::InvalidArgument("no reserved IP".to_owned()))
}

/// Waits until this host's health check notices that the primary is gone.
async fn notice_primary_down(cx: &Actor) {
    let after_ms = cx.rng().random_range(0..HEALTH_CHECK_INTERVAL_MS);
    cx.sleep(Duration::from_millis(after_ms)).await;
}

/// Assigns `ip` to `droplet_id`, waiting out another action in flight on either.
async fn assign(api: &Client, ip: &str, droplet_id: u64) -> Result<(), Error> {
    let mut attempt = 0;
    let action = loop {
        match api.reserved_ips().assign(ip, droplet_id).await {
            Ok(action) => break action,
            Err(error) if error.is_pending_event() && attempt + 1 < ASSIGN_ATTEMPTS_MAX => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
            }
            Err(error) => return Err(error),
        }
    };
    api.wait_for_action(action.id).poll_interval(POLL).await?;
    Ok(())
}

/// The buggy code: every standby that notices the primary is down takes the address.
async fn take_over(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let me = my_droplet(&api, &cx).await?;
    let ip = service_ip(&api).await?;
    notice_primary_down(&cx).await;
    assign(&api, &ip, me).await?;
    cx.believe(BELIEF, me);
    Ok(())
}

/// The fix: the lease holder alone takes the address, verifies it, and keeps verifying.
async fn take_over_fixed(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let me = my_droplet(&api, &cx).await?;
    let ip = service_ip(&api).await?;
    notice_primary_down(&cx).await;
    let leases = LeaseClient::default();
    let lease_name = format!("reserved-ip:{ip}");
    let acquire = || async {
        leases
            .acquire(&lease_name, cx.name(), LEASE_TTL)
            .await
            .map_err(|error| Error::InvalidArgument(error.to_string()))
    };
    let Acquired::Granted(lease) = acquire().await? else {
        // Another standby is taking over: stay a standby.
        return Ok(());
    };
    assign(&api, &ip, me).await?;
    if api.reserved_ips().get(&ip).await?.droplet_id() != Some(me) {
        return Ok(());
    }
    cx.believe(BELIEF, me);
    for _ in 0..SERVE_ROUNDS {
        cx.sleep(LEASE_TTL / 3).await;
        let still_holder =
            matches!(acquire().await?, Acquired::Granted(renewed) if renewed.token == lease.token);
        let still_assigned = api.reserved_ips().get(&ip).await?.droplet_id() == Some(me);
        if !(still_holder && still_assigned) {
            cx.forget(BELIEF);
            return Ok(());
        }
    }
    Ok(())
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .cloud_config(fixtures::quick_config())
        .cloud(|cloud| {
            fixtures::droplet(cloud, "standby-a", &["web"]);
            fixtures::droplet(cloud, "standby-b", &["web"]);
            fixtures::reserved_ip(cloud);
        })
        .check(checks::actors_ok())
        .check(checks::reserved_ip_single_owner(BELIEF))
        .max_sim_time(Duration::from_secs(60))
}

/// `reserved_ip_failover`: both standbys assign the reserved IP to themselves.
pub fn buggy() -> Scenario {
    scenario("reserved_ip_failover")
        .actor("standby-a", take_over)
        .actor("standby-b", take_over)
        .expect(Expect::Race)
}

/// `reserved_ip_failover_fixed`: a fencing lease decides the owner, which verifies before serving.
pub fn fixed() -> Scenario {
    scenario("reserved_ip_failover_fixed")
        .service(lease::HOST, lease::serve)
        .actor("standby-a", take_over_fixed)
        .actor("standby-b", take_over_fixed)
        .expect(Expect::Clean)
}
