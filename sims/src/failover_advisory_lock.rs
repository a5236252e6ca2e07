//! Reserved-IP failover, fixed with a PostgreSQL advisory lock as the leader election.
//!
//! **Goal.** As in `reserved_ip_failover`: when the primary dies, exactly one standby takes over
//! its reserved IP, and every host that believes it owns the address really does.
//!
//! **Fix.** Many teams already run a managed PostgreSQL cluster, and its advisory locks make a
//! leader election without another service: each standby asks for `pg_advisory_lock(key)` on a
//! connection of its own. The lock is the session's until it unlocks or disconnects, so one
//! standby at a time holds it; the other waits in PostgreSQL. The holder assigns the address,
//! reads it back before it serves, re-reads it while serving, and steps down (retracting its
//! belief first) before it unlocks; the waiter then gets the lock and takes over in turn.

use std::time::Duration;

use dosim::checks;
use dosim::client::{Client, Error as ApiError};
use dosim::pg::tokio_postgres;
use dosim::{Actor, ActorPg, Expect, Scenario};
use rand::Rng;

use crate::fixtures;

type Error = Box<dyn std::error::Error>;

const DB: &str = "locks";
const BELIEF: &str = "ip-owner";
/// The advisory lock every standby of this service asks for.
const LEADER_LOCK: i64 = 7_001;
const POLL: Duration = Duration::from_millis(100);
const HEALTH_CHECK_INTERVAL_MS: u64 = 1000;
const ASSIGN_ATTEMPTS_MAX: u32 = 5;
const SERVE_ROUNDS: u32 = 3;
const SERVE_ROUND: Duration = Duration::from_secs(1);

/// This host's droplet: the droplet named like the host.
async fn my_droplet(api: &Client, cx: &Actor) -> Result<u64, ApiError> {
    let droplets = api.droplets().list().name(cx.name()).all().await?;
    droplets
        .first()
        .map(|droplet| droplet.id)
        .ok_or_else(|| ApiError::InvalidArgument(format!("no droplet named {}", cx.name())))
}

/// The address the service answers on: the account's one reserved IP.
async fn service_ip(api: &Client) -> Result<String, ApiError> {
    let reserved_ips = api.reserved_ips().list().all().await?;
    reserved_ips
        .first()
        .map(|reserved_ip| reserved_ip.ip.clone())
        .ok_or_else(|| ApiError::InvalidArgument("no reserved IP".to_owned()))
}

/// Assigns `ip` to `droplet_id`, waiting out another action in flight on either.
async fn assign(api: &Client, ip: &str, droplet_id: u64) -> Result<(), ApiError> {
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

/// The fix: the advisory lock's holder alone takes the address, verifies it, and keeps verifying.
async fn take_over_with_lock(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let me = my_droplet(&api, &cx).await?;
    let ip = service_ip(&api).await?;
    let after_ms = cx.rng().random_range(0..HEALTH_CHECK_INTERVAL_MS);
    cx.sleep(Duration::from_millis(after_ms)).await;

    let db: tokio_postgres::Client = dosim::pg::connect_with(&cx.postgres_config(DB)?).await?;
    // Waits in PostgreSQL while the other standby leads.
    db.execute("SELECT pg_advisory_lock($1)", &[&LEADER_LOCK])
        .await?;
    assign(&api, &ip, me).await?;
    if api.reserved_ips().get(&ip).await?.droplet_id() == Some(me) {
        cx.believe(BELIEF, me);
        for _ in 0..SERVE_ROUNDS {
            cx.sleep(SERVE_ROUND).await;
            if api.reserved_ips().get(&ip).await?.droplet_id() != Some(me) {
                break;
            }
        }
        // Step down before letting the next leader in.
        cx.forget(BELIEF);
    }
    db.execute("SELECT pg_advisory_unlock($1)", &[&LEADER_LOCK])
        .await?;
    Ok(())
}

/// `reserved_ip_failover_advisory_lock`: `pg_advisory_lock` elects one standby at a time.
pub fn fixed() -> Scenario {
    Scenario::new("reserved_ip_failover_advisory_lock")
        .cloud_config(fixtures::quick_config())
        .cloud(|cloud| {
            fixtures::droplet(cloud, "standby-a", &["web"]);
            fixtures::droplet(cloud, "standby-b", &["web"]);
            fixtures::reserved_ip(cloud);
        })
        .postgres(DB)
        .actor("standby-a", take_over_with_lock)
        .actor("standby-b", take_over_with_lock)
        .check(checks::actors_ok())
        .check(checks::reserved_ip_single_owner(BELIEF))
        .max_sim_time(Duration::from_secs(60))
        .expect(Expect::Clean)
}
