//! Cloud firewalls: rules, and the droplets and tags they apply to.
//!
//! `PUT /v2/firewalls/{id}` replaces the whole firewall, `droplet_ids` and `tags` included: a
//! client that reads the firewall, adds its droplet and writes it back drops whatever another
//! client added in between. The additive endpoints (`POST …/droplets`, `…/tags`, `…/rules`) are
//! the safe way to change one part.

use std::net::IpAddr;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::validate::check_tags;
use crate::{Cloud, DropletId, Error, SimTime};

/// The most firewalls one account may hold in dosim.
pub const FIREWALLS_MAX: usize = 100;
/// The most rules one firewall may hold in dosim, inbound and outbound together.
pub const FIREWALL_RULES_MAX: usize = 1000;
/// The most droplets one firewall may name directly in dosim.
pub const FIREWALL_DROPLETS_MAX: usize = 1000;
/// The most addresses, droplets, tags and other ids one rule target may name in dosim.
pub const FIREWALL_TARGETS_MAX: usize = 1000;

/// Where a rule lets traffic come from or go to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallTarget {
    /// IPv4 and IPv6 addresses and CIDRs.
    pub addresses: Vec<String>,
    /// Droplets.
    pub droplet_ids: Vec<u64>,
    /// Load balancers.
    pub load_balancer_uids: Vec<String>,
    /// Kubernetes clusters.
    pub kubernetes_ids: Vec<String>,
    /// Tags naming groups of droplets.
    pub tags: Vec<String>,
}

impl FirewallTarget {
    fn is_empty(&self) -> bool {
        self.addresses.is_empty()
            && self.droplet_ids.is_empty()
            && self.load_balancer_uids.is_empty()
            && self.kubernetes_ids.is_empty()
            && self.tags.is_empty()
    }
}

/// One rule: a protocol, ports, and where traffic may come from (inbound) or go (outbound).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRule {
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// `22`, `8000-9000`, or `0` for all; always `0` for ICMP.
    pub ports: String,
    /// The sources or destinations.
    pub target: FirewallTarget,
}

/// A firewall.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firewall {
    /// The id.
    pub id: Uuid,
    /// The name.
    pub name: String,
    /// When it was created.
    pub created_at: SimTime,
    /// Inbound rules.
    pub inbound_rules: Vec<FirewallRule>,
    /// Outbound rules.
    pub outbound_rules: Vec<FirewallRule>,
    /// The droplets it applies to by id.
    pub droplet_ids: Vec<u64>,
    /// The tags whose droplets it applies to.
    pub tags: Vec<String>,
}

/// A whole firewall as a create or a `PUT` gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FirewallSpec {
    /// The name.
    pub name: String,
    /// Inbound rules.
    pub inbound_rules: Vec<FirewallRule>,
    /// Outbound rules.
    pub outbound_rules: Vec<FirewallRule>,
    /// The droplets it applies to.
    pub droplet_ids: Vec<u64>,
    /// The tags whose droplets it applies to.
    pub tags: Vec<String>,
}

/// A firewall's or load balancer's name: alphanumeric first, then alphanumerics, '.' or '-'.
pub(crate) fn check_name(name: &str) -> Result<(), Error> {
    let bytes = name.as_bytes();
    let valid = !bytes.is_empty()
        && name.len() <= 255
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(Error::unprocessable(format!(
            "name: {name:?} must begin with an alphanumeric character, followed by alphanumeric characters, '.' or '-'"
        )))
    }
}

/// `22`, `1-65535`, or `0` (also given as `all`).
fn valid_ports(ports: &str) -> bool {
    let port = |text: &str| text.parse::<u16>().is_ok_and(|p| p > 0);
    ports == "0"
        || port(ports)
        || ports.split_once('-').is_some_and(|(low, high)| {
            port(low) && port(high) && low.parse::<u16>().ok() <= high.parse::<u16>().ok()
        })
}

fn valid_address(text: &str) -> bool {
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    match addr.parse::<IpAddr>() {
        Ok(ip) => prefix.is_none_or(|p| {
            p.parse::<u8>()
                .is_ok_and(|p| p <= if ip.is_ipv4() { 32 } else { 128 })
        }),
        Err(_) => false,
    }
}

impl Cloud {
    fn check_rule(&self, rule: &mut FirewallRule) -> Result<(), Error> {
        match rule.protocol.as_str() {
            "tcp" | "udp" => {
                // `all` is taken for every port and reads back as "0", as Terraform's provider expects.
                if rule.ports == "all" {
                    rule.ports = "0".to_owned();
                }
                if !valid_ports(&rule.ports) {
                    return Err(Error::unprocessable(crate::error::msg::FIREWALL_PORTS));
                }
            }
            // ICMP has no ports: whatever is given reads back as "0".
            "icmp" => rule.ports = "0".to_owned(),
            other => {
                return Err(Error::unprocessable(format!(
                    "protocol: {other:?} is not one of tcp, udp, icmp"
                )))
            }
        }
        let target = &rule.target;
        if target.is_empty() {
            return Err(Error::unprocessable(
                "a rule needs at least one address, droplet, load balancer, Kubernetes cluster or tag",
            ));
        }
        let sizes = [
            target.addresses.len(),
            target.droplet_ids.len(),
            target.load_balancer_uids.len(),
            target.kubernetes_ids.len(),
            target.tags.len(),
        ];
        if sizes.iter().any(|n| *n > FIREWALL_TARGETS_MAX) {
            return Err(Error::unprocessable(format!(
                "a rule may name at most {FIREWALL_TARGETS_MAX} of each kind of target"
            )));
        }
        // DigitalOcean answers an address it cannot read, or a droplet that does not exist,
        // with "invalid address".
        if !target.addresses.iter().all(|a| valid_address(a))
            || !target
                .droplet_ids
                .iter()
                .all(|id| self.droplets.contains_key(&DropletId(*id)))
        {
            return Err(Error::unprocessable(crate::error::msg::FIREWALL_ADDRESS));
        }
        check_tags(&target.tags)
    }

    fn check_firewall_droplets(&self, ids: &[u64]) -> Result<(), Error> {
        if ids.len() > FIREWALL_DROPLETS_MAX {
            return Err(Error::unprocessable(format!(
                "droplet_ids: at most {FIREWALL_DROPLETS_MAX} may be given"
            )));
        }
        match ids
            .iter()
            .find(|id| !self.droplets.contains_key(&DropletId(**id)))
        {
            Some(id) => Err(Error::unprocessable(format!(
                "droplet_ids: {id} is not a Droplet on this account"
            ))),
            None => Ok(()),
        }
    }

    fn checked(&self, mut spec: FirewallSpec) -> Result<FirewallSpec, Error> {
        check_name(&spec.name)?;
        if spec.inbound_rules.len() + spec.outbound_rules.len() > FIREWALL_RULES_MAX {
            return Err(Error::unprocessable(format!(
                "a firewall may hold at most {FIREWALL_RULES_MAX} rules"
            )));
        }
        for rule in spec
            .inbound_rules
            .iter_mut()
            .chain(spec.outbound_rules.iter_mut())
        {
            self.check_rule(rule)?;
        }
        self.check_firewall_droplets(&spec.droplet_ids)?;
        check_tags(&spec.tags)?;
        dedup(&mut spec.droplet_ids);
        dedup(&mut spec.tags);
        Ok(spec)
    }

    /// `POST /v2/firewalls`.
    pub fn create_firewall(&mut self, now: SimTime, spec: FirewallSpec) -> Result<Firewall, Error> {
        self.enter(now, |cloud| {
            let spec = cloud.checked(spec)?;
            if cloud.firewalls.len() >= FIREWALLS_MAX {
                return Err(Error::unprocessable(format!(
                    "the account may hold at most {FIREWALLS_MAX} firewalls"
                )));
            }
            let firewall = Firewall {
                id: cloud.new_uuid(),
                name: spec.name,
                created_at: cloud.now,
                inbound_rules: spec.inbound_rules,
                outbound_rules: spec.outbound_rules,
                droplet_ids: spec.droplet_ids,
                tags: spec.tags,
            };
            cloud.firewalls.insert(firewall.id, firewall.clone());
            Ok(firewall)
        })
    }

    /// `GET /v2/firewalls`, oldest first.
    pub fn firewalls(&mut self, now: SimTime) -> Vec<Firewall> {
        self.enter(now, |cloud| cloud.live_firewalls())
    }

    /// Firewalls as they apply now: droplets destroyed since are no longer listed.
    fn live_firewalls(&self) -> Vec<Firewall> {
        self.firewalls
            .values()
            .map(|f| {
                let mut f = f.clone();
                f.droplet_ids
                    .retain(|id| self.droplets.contains_key(&DropletId(*id)));
                f
            })
            .collect()
    }

    /// `GET /v2/firewalls/{id}`.
    pub fn firewall(&mut self, now: SimTime, id: Uuid) -> Result<Firewall, Error> {
        self.enter(now, |cloud| {
            cloud
                .live_firewalls()
                .into_iter()
                .find(|f| f.id == id)
                .ok_or_else(Error::not_found)
        })
    }

    /// `GET /v2/droplets/{id}/firewalls`: the firewalls that apply to a droplet, by id or tag.
    pub fn droplet_firewalls(
        &mut self,
        now: SimTime,
        droplet: DropletId,
    ) -> Result<Vec<Firewall>, Error> {
        self.enter(now, |cloud| {
            let tags = &cloud
                .droplets
                .get(&droplet)
                .ok_or_else(Error::not_found)?
                .tags;
            Ok(cloud
                .live_firewalls()
                .into_iter()
                .filter(|f| {
                    f.droplet_ids.contains(&droplet.0) || f.tags.iter().any(|t| tags.contains(t))
                })
                .collect())
        })
    }

    /// `PUT /v2/firewalls/{id}`: the firewall becomes exactly `spec`, droplets and tags included.
    pub fn replace_firewall(
        &mut self,
        now: SimTime,
        id: Uuid,
        spec: FirewallSpec,
    ) -> Result<Firewall, Error> {
        self.enter(now, |cloud| {
            if !cloud.firewalls.contains_key(&id) {
                return Err(Error::not_found());
            }
            let spec = cloud.checked(spec)?;
            let firewall = cloud.firewalls.get_mut(&id).expect("checked above");
            firewall.name = spec.name;
            firewall.inbound_rules = spec.inbound_rules;
            firewall.outbound_rules = spec.outbound_rules;
            firewall.droplet_ids = spec.droplet_ids;
            firewall.tags = spec.tags;
            Ok(firewall.clone())
        })
    }

    /// `DELETE /v2/firewalls/{id}`.
    pub fn delete_firewall(&mut self, now: SimTime, id: Uuid) -> Result<(), Error> {
        self.enter(now, |cloud| {
            cloud
                .firewalls
                .shift_remove(&id)
                .map(drop)
                .ok_or_else(Error::not_found)
        })
    }

    /// `POST` (`add`) or `DELETE …/droplets`: adds or removes droplets, leaving the rest.
    pub fn firewall_droplets(
        &mut self,
        now: SimTime,
        id: Uuid,
        droplet_ids: &[u64],
        add: bool,
    ) -> Result<(), Error> {
        self.enter(now, |cloud| {
            if !cloud.firewalls.contains_key(&id) {
                return Err(Error::not_found());
            }
            if droplet_ids.is_empty() {
                return Err(Error::unprocessable(
                    "droplet_ids: at least one is required",
                ));
            }
            if add {
                cloud.check_firewall_droplets(droplet_ids)?;
            }
            let firewall = cloud.firewalls.get_mut(&id).expect("checked above");
            let mut ids = edited(&firewall.droplet_ids, droplet_ids, add);
            if add {
                dedup(&mut ids);
                if ids.len() > FIREWALL_DROPLETS_MAX {
                    return Err(Error::unprocessable(format!(
                        "droplet_ids: a firewall may name at most {FIREWALL_DROPLETS_MAX} Droplets"
                    )));
                }
            }
            firewall.droplet_ids = ids;
            Ok(())
        })
    }

    /// `POST` (`add`) or `DELETE …/tags`: adds or removes tags, leaving the rest.
    pub fn firewall_tags(
        &mut self,
        now: SimTime,
        id: Uuid,
        tags: &[String],
        add: bool,
    ) -> Result<(), Error> {
        self.enter(now, |cloud| {
            if !cloud.firewalls.contains_key(&id) {
                return Err(Error::not_found());
            }
            if tags.is_empty() {
                return Err(Error::unprocessable("tags: at least one is required"));
            }
            check_tags(tags)?;
            let firewall = cloud.firewalls.get_mut(&id).expect("checked above");
            let mut all = edited(&firewall.tags, tags, add);
            if add {
                dedup(&mut all);
                check_tags(&all)?;
            }
            firewall.tags = all;
            Ok(())
        })
    }

    /// `POST` (`add`) or `DELETE …/rules`: adds rules, or removes the rules equal to those given.
    pub fn firewall_rules(
        &mut self,
        now: SimTime,
        id: Uuid,
        mut inbound: Vec<FirewallRule>,
        mut outbound: Vec<FirewallRule>,
        add: bool,
    ) -> Result<(), Error> {
        self.enter(now, |cloud| {
            let current = cloud.firewalls.get(&id).ok_or_else(Error::not_found)?;
            if inbound.is_empty() && outbound.is_empty() {
                return Err(Error::unprocessable(
                    "inbound_rules or outbound_rules: at least one rule is required",
                ));
            }
            for rule in inbound.iter_mut().chain(outbound.iter_mut()) {
                cloud.check_rule(rule)?;
            }
            if add
                && current.inbound_rules.len()
                    + current.outbound_rules.len()
                    + inbound.len()
                    + outbound.len()
                    > FIREWALL_RULES_MAX
            {
                return Err(Error::unprocessable(format!(
                    "a firewall may hold at most {FIREWALL_RULES_MAX} rules"
                )));
            }
            let firewall = cloud.firewalls.get_mut(&id).expect("checked above");
            firewall.inbound_rules = edited(&firewall.inbound_rules, &inbound, add);
            firewall.outbound_rules = edited(&firewall.outbound_rules, &outbound, add);
            Ok(())
        })
    }
}

/// `current` with `items` added at the end (`add`), or without every element equal to one of them.
pub(crate) fn edited<T: PartialEq + Clone>(current: &[T], items: &[T], add: bool) -> Vec<T> {
    let mut next = current.to_vec();
    if add {
        next.extend_from_slice(items);
    } else {
        next.retain(|item| !items.contains(item));
    }
    next
}

fn dedup<T: PartialEq + Clone>(items: &mut Vec<T>) {
    let mut seen: Vec<T> = Vec::with_capacity(items.len());
    items.retain(|item| {
        let fresh = !seen.contains(item);
        if fresh {
            seen.push(item.clone());
        }
        fresh
    });
}

/// The account's firewalls, for the state dump.
pub(crate) type Firewalls = IndexMap<Uuid, Firewall>;
