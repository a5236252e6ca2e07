//! Two droplets add themselves to one firewall with a read-modify-write, and one is dropped.
//!
//! **Goal.** Every web droplet is behind the shared `web` firewall once it has booted.
//!
//! **On DigitalOcean.** `PUT /v2/firewalls/{id}` replaces the whole firewall, its `droplet_ids`
//! and `tags` included. Boot scripts and small tools that "add this droplet to the firewall"
//! often read the firewall, append their own id and `PUT` it back, as the API's update call
//! invites. Two droplets booting together both read the firewall without the other, and the
//! second `PUT` silently removes the first droplet: it serves with no firewall, while its boot
//! script logged success.
//!
//! **Method.** The account has the firewall `web` (HTTPS from anywhere, no droplets) and two
//! active droplets. Each droplet's boot script starts at once, finds its own droplet and the
//! firewall, adds its id, writes the firewall back, and states
//! `cx.believe("firewalled", droplet_id)`. Checks: every script finished, and every droplet
//! that believes it is firewalled is in the firewall's `droplet_ids`.
//!
//! **Fix.** Add the droplet with `POST /v2/firewalls/{id}/droplets`, which changes only the
//! droplets named and leaves everything another client added.

use dosim::client::{Client, Error, Firewall};
use dosim::cloud::{Cloud, FirewallRule, FirewallSpec, FirewallTarget, SimTime};
use dosim::{checks, Actor, Expect, Scenario, Violation};

use crate::fixtures;

const FIREWALL: &str = "web";
const BELIEF: &str = "firewalled";
const CHECK: &str = "every droplet believed firewalled is in the firewall";
const HOSTS: usize = 2;

/// This host's droplet: the droplet named like the host.
async fn my_droplet(api: &Client, cx: &Actor) -> Result<u64, Error> {
    let droplets = api.droplets().list().name(cx.name()).all().await?;
    droplets
        .first()
        .map(|droplet| droplet.id)
        .ok_or_else(|| Error::InvalidArgument(format!("no droplet named {}", cx.name())))
}

/// The shared firewall.
async fn web_firewall(api: &Client) -> Result<Firewall, Error> {
    let firewalls = api.firewalls().list().all().await?;
    firewalls
        .into_iter()
        .find(|firewall| firewall.name == FIREWALL)
        .ok_or_else(|| Error::InvalidArgument(format!("no firewall named {FIREWALL}")))
}

/// The buggy boot script: read the firewall, append this droplet, write it all back.
async fn join(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let me = my_droplet(&api, &cx).await?;
    let mut firewall = web_firewall(&api).await?;
    if !firewall.droplet_ids.contains(&me) {
        firewall.droplet_ids.push(me);
        api.firewalls().replace(&firewall.id, &firewall).await?;
    }
    cx.believe(BELIEF, me);
    Ok(())
}

/// The fixed boot script: add only this droplet.
async fn join_fixed(cx: Actor) -> Result<(), Error> {
    let api = cx.client();
    let me = my_droplet(&api, &cx).await?;
    let firewall = web_firewall(&api).await?;
    api.firewalls().add_droplets(&firewall.id, &[me]).await?;
    cx.believe(BELIEF, me);
    Ok(())
}

fn host(index: usize) -> String {
    format!("web-{index}")
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .cloud_config(fixtures::quick_config())
        .cloud(|cloud: &mut Cloud| {
            for index in 0..HOSTS {
                fixtures::droplet(cloud, &host(index), &["web"]);
            }
            let https = FirewallRule {
                protocol: "tcp".into(),
                ports: "443".into(),
                target: FirewallTarget {
                    addresses: vec!["0.0.0.0/0".into(), "::/0".into()],
                    ..FirewallTarget::default()
                },
            };
            cloud
                .create_firewall(
                    SimTime::ZERO,
                    FirewallSpec {
                        name: FIREWALL.into(),
                        inbound_rules: vec![https],
                        ..FirewallSpec::default()
                    },
                )
                .expect("the fixture's firewall is valid");
        })
        .check(checks::actors_ok())
        .check_fn(CHECK, |outcome| {
            let covered: Vec<u64> = outcome
                .final_state
                .firewalls
                .iter()
                .filter(|firewall| firewall.name == FIREWALL)
                .flat_map(|firewall| firewall.droplet_ids.iter().copied())
                .collect();
            let exposed: Vec<String> = outcome
                .beliefs_about(BELIEF)
                .into_iter()
                .filter_map(|(actor, droplet)| {
                    let droplet = droplet?;
                    let id: u64 = droplet.parse().ok()?;
                    (!covered.contains(&id)).then(|| format!("{actor} (droplet {droplet})"))
                })
                .collect();
            if exposed.is_empty() {
                return Ok(());
            }
            let covered: Vec<String> = covered.iter().map(u64::to_string).collect();
            Err(Violation::new(
                CHECK,
                format!(
                    "believed behind {FIREWALL} but not in its droplet_ids [{}]: {}",
                    covered.join(", "),
                    exposed.join(", ")
                ),
            )
            .resources(exposed))
        })
}

/// `firewall_lost_droplet`: read, append, `PUT` the whole firewall.
pub fn buggy() -> Scenario {
    let mut scenario = scenario("firewall_lost_droplet");
    for index in 0..HOSTS {
        scenario = scenario.actor(host(index), join);
    }
    scenario.expect(Expect::Race)
}

/// `firewall_lost_droplet_fixed`: `POST …/droplets` adds only this droplet.
pub fn fixed() -> Scenario {
    let mut scenario = scenario("firewall_lost_droplet_fixed");
    for index in 0..HOSTS {
        scenario = scenario.actor(host(index), join_fixed);
    }
    scenario.expect(Expect::Clean)
}
