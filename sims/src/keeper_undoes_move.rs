//! A reserved-IP keeper undoes an operator's two-step move when its read falls between the steps.
//!
//! **Goal.** An operator moves the service's reserved IP from `web-old` to its replacement
//! `web-new`; afterwards the address points at `web-new`, while a keeper loop that heals an
//! unassigned address keeps running.
//!
//! **On DigitalOcean.** A reserved IP can be unassigned by mistake (a script, a console click, a
//! Terraform run), so teams run a keeper that re-asserts the assignment every few seconds: it
//! remembers the droplet it last saw the address on, and assigns the address back when it finds
//! it unassigned. Operators, for their part, often move an address in two steps, unassign and
//! then assign, as they would detach and attach a volume. Between the two steps the address is
//! unassigned and unlocked, which is exactly what the keeper heals: a keeper read in that gap
//! sends the address back to the old droplet. When the keeper's assign reaches the API just after
//! the operator's, it is refused with `422 The floating IP already has a pending event.`, waits
//! the event out and then moves the address back: the maintenance ends on the wrong droplet.
//!
//! **Method.** `web-old` holds the reserved IP, `web-new` is its replacement. The keeper reads the
//! address every [`KEEPER_PERIOD`] from a seeded phase, leaves it alone while an action holds it
//! locked, and otherwise remembers its droplet or assigns it back to the one it remembers. The
//! operator starts the maintenance at a seeded moment, unassigns, waits for the action, assigns
//! to `web-new` and waits again. Reserved-IP actions take half a second. Checks: every host
//! finished, and the address ends on `web-new`.
//!
//! **Fix.** Move the address in one request: an assign to `web-new` moves it from `web-old`, and
//! there is no moment at which it is unassigned for the keeper to heal.

use std::time::Duration;

use dosim::client::{Client, Error};
use dosim::cloud::{Cloud, ReservedIpCreate, SimTime};
use dosim::{checks, Actor, Expect, Scenario, Violation};
use rand::Rng;

use crate::fixtures;

const POLL: Duration = Duration::from_millis(100);
/// How often the keeper reads the address.
pub const KEEPER_PERIOD: Duration = Duration::from_secs(3);
const KEEPER_ROUNDS: u32 = 8;
/// The operator starts the maintenance at a seeded moment before this.
const MAINTENANCE_WITHIN_MS: u64 = 15_000;
const ASSIGN_ATTEMPTS_MAX: u32 = 5;
const OLD: &str = "web-old";
const NEW: &str = "web-new";

/// The droplet called `name`.
async fn droplet_named(api: &Client, name: &str) -> Result<u64, Error> {
    let droplets = api.droplets().list().name(name).all().await?;
    droplets
        .first()
        .map(|droplet| droplet.id)
        .ok_or_else(|| Error::InvalidArgument(format!("no droplet named {name}")))
}

/// The address the service answers on: the account's one reserved IP.
async fn service_ip(api: &Client) -> Result<String, Error> {
    let reserved_ips = api.reserved_ips().list().all().await?;
    reserved_ips
        .first()
        .map(|reserved_ip| reserved_ip.ip.clone())
        .ok_or_else(|| Error::InvalidArgument("no reserved IP".to_owned()))
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

/// The keeper: every few seconds, an unassigned address goes back to the droplet it was last on.
async fn keep_assigned(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let ip = service_ip(&api).await?;
    let mut last_owner = None;
    let phase_ms = cx.rng().random_range(0..KEEPER_PERIOD.as_millis() as u64);
    cx.sleep(Duration::from_millis(phase_ms)).await;
    for _ in 0..KEEPER_ROUNDS {
        let reserved_ip = api.reserved_ips().get(&ip).await?;
        // An action in flight is someone moving the address on purpose: look again next round.
        if !reserved_ip.locked {
            match (reserved_ip.droplet_id(), last_owner) {
                (Some(owner), _) => last_owner = Some(owner),
                (None, Some(owner)) => assign(&api, &ip, owner).await?,
                (None, None) => {}
            }
        }
        cx.sleep(KEEPER_PERIOD).await;
    }
    Ok(())
}

/// Waits for the maintenance window.
async fn wait_for_maintenance(cx: &Actor) {
    let start_ms = cx.rng().random_range(0..MAINTENANCE_WITHIN_MS);
    cx.sleep(Duration::from_millis(start_ms)).await;
}

/// The buggy code: unassign from the old droplet, then assign to the new one.
async fn move_to_replacement(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let ip = service_ip(&api).await?;
    let new = droplet_named(&api, NEW).await?;
    wait_for_maintenance(&cx).await;
    let unassign = api.reserved_ips().unassign(&ip).await?;
    api.wait_for_action(unassign.id).poll_interval(POLL).await?;
    assign(&api, &ip, new).await?;
    Ok(())
}

/// The fix: one assign moves the address from the old droplet to the new one.
async fn move_to_replacement_fixed(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let ip = service_ip(&api).await?;
    let new = droplet_named(&api, NEW).await?;
    wait_for_maintenance(&cx).await;
    assign(&api, &ip, new).await?;
    Ok(())
}

/// `web-old` holding the reserved IP, and its replacement `web-new`.
fn old_and_new(cloud: &mut Cloud) {
    let old = fixtures::droplet(cloud, OLD, &["web"]);
    fixtures::droplet(cloud, NEW, &["web"]);
    let action_ms = cloud.config().reserved_ip_action_ms;
    cloud
        .create_reserved_ip(
            SimTime::ZERO,
            ReservedIpCreate {
                region: None,
                droplet_id: Some(dosim::cloud::DropletId(old)),
                project_id: None,
            },
        )
        .expect("the scenario's reserved IP is valid");
    cloud.advance(SimTime::from_ms(action_ms));
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .cloud_config(fixtures::quick_config())
        .cloud(old_and_new)
        .check(checks::actors_ok())
        .check_fn("the reserved IP ends on web-new", |outcome| {
            let state = &outcome.final_state;
            let new = state
                .droplets
                .iter()
                .find(|droplet| droplet.name == NEW)
                .map(|droplet| droplet.id);
            let describe = |id: Option<u64>| match id {
                None => "nothing".to_owned(),
                Some(id) => {
                    let name = state
                        .droplets
                        .iter()
                        .find(|droplet| droplet.id == id)
                        .map_or("?", |droplet| droplet.name.as_str());
                    format!("droplet {id} ({name})")
                }
            };
            for reserved_ip in &state.reserved_ips {
                if reserved_ip.droplet_id != new || new.is_none() {
                    return Err(Violation::new(
                        "the reserved IP ends on web-new",
                        format!(
                            "{} is assigned to {}, not to {}",
                            reserved_ip.ip,
                            describe(reserved_ip.droplet_id),
                            describe(new)
                        ),
                    )
                    .resources([format!("reserved_ip {}", reserved_ip.ip)]));
                }
            }
            Ok(())
        })
        .max_sim_time(Duration::from_secs(60))
}

/// `keeper_undoes_move`: unassign, then assign, while a keeper heals unassigned addresses.
pub fn buggy() -> Scenario {
    scenario("keeper_undoes_move")
        .actor("keeper", keep_assigned)
        .actor("operator", move_to_replacement)
        .expect(Expect::Race)
}

/// `keeper_undoes_move_fixed`: one assign moves the address; it is never unassigned.
pub fn fixed() -> Scenario {
    scenario("keeper_undoes_move_fixed")
        .actor("keeper", keep_assigned)
        .actor("operator", move_to_replacement_fixed)
        .expect(Expect::Clean)
}
