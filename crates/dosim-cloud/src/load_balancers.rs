//! Load balancers: forwarding rules, a health check, and the droplets they send traffic to,
//! named by id or by one tag.
//!
//! A load balancer is `new` while it provisions and `active` once `load_balancer_provision_ms`
//! has passed; its address shows once it is active. `PUT /v2/load_balancers/{id}` replaces the
//! whole load balancer, `droplet_ids` included, so a client that reads it, adds its droplet and
//! writes it back drops whatever another client added in between; `POST …/droplets` and
//! `DELETE …/droplets` change only the droplets they name, and are refused while the load
//! balancer is still `new` or when it targets a tag.

use std::net::Ipv4Addr;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::catalog;
use crate::firewalls::{check_name, edited};
use crate::validate::check_tags;
use crate::{Cloud, DropletId, Error, SimTime};

/// The most load balancers one account may hold (DigitalOcean's default limit).
pub const LOAD_BALANCERS_MAX: usize = 10;
/// The most forwarding rules one load balancer may hold in dosim.
pub const FORWARDING_RULES_MAX: usize = 100;
/// The most droplets one load balancer may name in dosim.
pub const LB_DROPLETS_MAX: usize = 1000;

/// Where traffic enters and where it goes: one listening port and one backend port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardingRule {
    /// `http`, `https`, `http2`, `http3`, `tcp` or `udp`.
    pub entry_protocol: String,
    /// The port the load balancer listens on.
    pub entry_port: u16,
    /// `http`, `https`, `http2`, `tcp` or `udp`.
    pub target_protocol: String,
    /// The droplets' port.
    pub target_port: u16,
    /// The certificate that terminates TLS, for `https`, `http2` and `http3` entries.
    pub certificate_id: String,
    /// Whether TLS passes through to the droplets instead.
    pub tls_passthrough: bool,
}

/// How the load balancer decides that a droplet is healthy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// `http`, `https` or `tcp`.
    pub protocol: String,
    /// The port checked.
    pub port: u16,
    /// The path requested, for `http` and `https`.
    pub path: String,
    /// Seconds between checks.
    pub check_interval_seconds: u32,
    /// Seconds to wait for an answer.
    pub response_timeout_seconds: u32,
    /// Failures before a droplet leaves the pool.
    pub unhealthy_threshold: u32,
    /// Successes before it joins again.
    pub healthy_threshold: u32,
}

impl Default for HealthCheck {
    /// The spec's defaults.
    fn default() -> HealthCheck {
        HealthCheck {
            protocol: "http".into(),
            port: 80,
            path: "/".into(),
            check_interval_seconds: 10,
            response_timeout_seconds: 5,
            unhealthy_threshold: 5,
            healthy_threshold: 3,
        }
    }
}

/// Whether a client's requests keep going to the same droplet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StickySessions {
    /// The cookie that pins a client, or `None` for no sticky sessions.
    pub cookie: Option<(String, u32)>,
}

/// A whole load balancer as a create or a `PUT` gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadBalancerSpec {
    /// The name.
    pub name: String,
    /// The region's slug; a `PUT` must keep it.
    pub region: String,
    /// Nodes, 1 to 100.
    pub size_unit: u32,
    /// Where traffic enters and goes: at least one.
    pub forwarding_rules: Vec<ForwardingRule>,
    /// The health check; `None` takes the spec's defaults.
    pub health_check: Option<HealthCheck>,
    /// Sticky sessions.
    pub sticky_sessions: StickySessions,
    /// The droplets it sends traffic to, by id.
    pub droplet_ids: Vec<u64>,
    /// Or the tag whose droplets it sends traffic to.
    pub tag: Option<String>,
    /// Whether HTTP on port 80 is redirected to HTTPS.
    pub redirect_http_to_https: bool,
    /// Whether the PROXY protocol carries clients' addresses.
    pub enable_proxy_protocol: bool,
    /// Whether connections to the droplets are kept alive.
    pub enable_backend_keepalive: bool,
    /// Seconds an idle HTTP connection stays open, 30 to 600.
    pub http_idle_timeout_seconds: u32,
    /// The VPC, or the region's default.
    pub vpc_uuid: Option<Uuid>,
    /// The project, or the account's default.
    pub project_id: Option<Uuid>,
}

/// A load balancer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancer {
    /// The id.
    pub id: Uuid,
    /// The name.
    pub name: String,
    /// The region's slug.
    pub region: String,
    /// Its public address, shown once it is active.
    pub ip: Ipv4Addr,
    /// When it was created.
    pub created_at: SimTime,
    /// When it turns `active`.
    pub active_at: SimTime,
    /// Nodes.
    pub size_unit: u32,
    /// Forwarding rules.
    pub forwarding_rules: Vec<ForwardingRule>,
    /// The health check.
    pub health_check: HealthCheck,
    /// Sticky sessions.
    pub sticky_sessions: StickySessions,
    /// Droplets by id (empty when a tag names them).
    pub droplet_ids: Vec<u64>,
    /// The tag naming its droplets, if one does.
    pub tag: Option<String>,
    /// Whether HTTP on port 80 is redirected to HTTPS.
    pub redirect_http_to_https: bool,
    /// Whether the PROXY protocol is on.
    pub enable_proxy_protocol: bool,
    /// Whether backend keep-alive is on.
    pub enable_backend_keepalive: bool,
    /// Seconds an idle HTTP connection stays open.
    pub http_idle_timeout_seconds: u32,
    /// The VPC.
    pub vpc_uuid: Uuid,
    /// The project.
    pub project_id: Uuid,
}

impl LoadBalancer {
    /// `new` while provisioning, then `active`.
    pub fn status(&self, now: SimTime) -> &'static str {
        if now >= self.active_at {
            "active"
        } else {
            "new"
        }
    }

    /// The droplets it sends traffic to now: its ids, or the live droplets its tag names.
    pub fn targets(&self, cloud: &Cloud) -> Vec<u64> {
        match &self.tag {
            Some(tag) => cloud
                .droplets
                .values()
                .filter(|d| d.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)))
                .map(|d| d.id.0)
                .collect(),
            None => self.droplet_ids.clone(),
        }
    }
}

/// Load balancers by id, oldest first.
pub(crate) type LoadBalancers = IndexMap<Uuid, LoadBalancer>;

const ENTRY_PROTOCOLS: [&str; 6] = ["http", "https", "http2", "http3", "tcp", "udp"];
const TARGET_PROTOCOLS: [&str; 5] = ["http", "https", "http2", "tcp", "udp"];

fn check_rule(rule: &ForwardingRule) -> Result<(), Error> {
    if !ENTRY_PROTOCOLS.contains(&rule.entry_protocol.as_str()) {
        return Err(Error::unprocessable(format!(
            "forwarding_rules: entry_protocol {:?} is not one of {}",
            rule.entry_protocol,
            ENTRY_PROTOCOLS.join(", ")
        )));
    }
    if !TARGET_PROTOCOLS.contains(&rule.target_protocol.as_str()) {
        return Err(Error::unprocessable(format!(
            "forwarding_rules: target_protocol {:?} is not one of {}",
            rule.target_protocol,
            TARGET_PROTOCOLS.join(", ")
        )));
    }
    if rule.entry_port == 0 || rule.target_port == 0 {
        return Err(Error::unprocessable(
            "forwarding_rules: ports must be between 1 and 65535",
        ));
    }
    if (rule.entry_protocol == "udp") != (rule.target_protocol == "udp") {
        return Err(Error::unprocessable(
            "forwarding_rules: udp must be both the entry and the target protocol",
        ));
    }
    let tls = matches!(rule.entry_protocol.as_str(), "https" | "http2" | "http3");
    if tls && rule.certificate_id.is_empty() && !rule.tls_passthrough {
        return Err(Error::unprocessable(format!(
            "forwarding_rules: an {} entry needs a certificate_id or tls_passthrough",
            rule.entry_protocol
        )));
    }
    if !tls && (rule.tls_passthrough || !rule.certificate_id.is_empty()) {
        return Err(Error::unprocessable(format!(
            "forwarding_rules: an {} entry takes no certificate_id or tls_passthrough",
            rule.entry_protocol
        )));
    }
    Ok(())
}

fn check_rules(rules: &[ForwardingRule]) -> Result<(), Error> {
    if rules.is_empty() {
        return Err(Error::unprocessable(
            "forwarding_rules: at least one forwarding rule is required",
        ));
    }
    if rules.len() > FORWARDING_RULES_MAX {
        return Err(Error::unprocessable(format!(
            "forwarding_rules: at most {FORWARDING_RULES_MAX} may be given"
        )));
    }
    for rule in rules {
        check_rule(rule)?;
    }
    for (i, rule) in rules.iter().enumerate() {
        if rules[..i].iter().any(|r| r.entry_port == rule.entry_port) {
            return Err(Error::unprocessable(format!(
                "forwarding_rules: entry_port {} is used by more than one rule",
                rule.entry_port
            )));
        }
    }
    Ok(())
}

impl Cloud {
    /// Checks a whole load balancer and fills in its defaults.
    fn checked_lb(&self, mut spec: LoadBalancerSpec) -> Result<LoadBalancerSpec, Error> {
        check_name(&spec.name)?;
        if catalog::region(&spec.region).is_none() {
            return Err(Error::unprocessable(format!(
                "region: {:?} is not a region",
                spec.region
            )));
        }
        if !(1..=100).contains(&spec.size_unit) {
            return Err(Error::unprocessable("size_unit: must be between 1 and 100"));
        }
        if !(30..=600).contains(&spec.http_idle_timeout_seconds) {
            return Err(Error::unprocessable(
                "http_idle_timeout_seconds: must be between 30 and 600",
            ));
        }
        check_rules(&spec.forwarding_rules)?;
        if let Some(check) = &spec.health_check {
            if !matches!(check.protocol.as_str(), "http" | "https" | "tcp") || check.port == 0 {
                return Err(Error::unprocessable(
                    "health_check: protocol must be http, https or tcp, on a port between 1 and 65535",
                ));
            }
        }
        if spec.tag.is_some() && !spec.droplet_ids.is_empty() {
            return Err(Error::unprocessable(crate::error::msg::LB_DROPLETS_AND_TAG));
        }
        if let Some(tag) = &spec.tag {
            check_tags(std::slice::from_ref(tag))?;
        }
        self.check_lb_droplets(&spec.region, &spec.droplet_ids)?;
        spec.droplet_ids.sort_unstable();
        spec.droplet_ids.dedup();
        Ok(spec)
    }

    fn check_lb_droplets(&self, region: &str, ids: &[u64]) -> Result<(), Error> {
        if ids.len() > LB_DROPLETS_MAX {
            return Err(Error::unprocessable(format!(
                "droplet_ids: at most {LB_DROPLETS_MAX} may be given"
            )));
        }
        for id in ids {
            match self.droplets.get(&DropletId(*id)) {
                None => {
                    return Err(Error::unprocessable(format!(
                        "droplet_ids: {id} is not a Droplet on this account"
                    )))
                }
                Some(droplet) if droplet.region != region => {
                    return Err(Error::unprocessable(crate::error::msg::LB_DROPLET_REGION))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// `POST /v2/load_balancers`.
    pub fn create_load_balancer(
        &mut self,
        now: SimTime,
        spec: LoadBalancerSpec,
    ) -> Result<LoadBalancer, Error> {
        self.enter(now, |cloud| {
            let spec = cloud.checked_lb(spec)?;
            if cloud.load_balancers.len() >= LOAD_BALANCERS_MAX {
                return Err(Error::unprocessable(crate::error::msg::LB_LIMIT));
            }
            let region = catalog::region(&spec.region).expect("checked");
            let vpc_uuid = cloud.droplet_vpc(region.slug, spec.vpc_uuid)?;
            let project_id = match spec.project_id {
                Some(id) if cloud.projects.contains_key(&id) => id,
                Some(_) => return Err(Error::unprocessable(crate::error::msg::LB_PROJECT)),
                None => cloud.default_project_id,
            };
            let id = cloud.new_uuid();
            let ip = cloud.new_public_ipv4(region);
            let lb = LoadBalancer {
                id,
                name: spec.name,
                region: spec.region,
                ip,
                created_at: cloud.now,
                active_at: cloud.now.plus_ms(cloud.config.load_balancer_provision_ms),
                size_unit: spec.size_unit,
                forwarding_rules: spec.forwarding_rules,
                health_check: spec.health_check.unwrap_or_default(),
                sticky_sessions: spec.sticky_sessions,
                droplet_ids: spec.droplet_ids,
                tag: spec.tag,
                redirect_http_to_https: spec.redirect_http_to_https,
                enable_proxy_protocol: spec.enable_proxy_protocol,
                enable_backend_keepalive: spec.enable_backend_keepalive,
                http_idle_timeout_seconds: spec.http_idle_timeout_seconds,
                vpc_uuid,
                project_id,
            };
            cloud.load_balancers.insert(id, lb.clone());
            Ok(lb)
        })
    }

    /// `GET /v2/load_balancers`: every load balancer, oldest first.
    pub fn load_balancers(&mut self, now: SimTime) -> Vec<LoadBalancer> {
        self.enter(now, |cloud| {
            cloud.load_balancers.values().cloned().collect()
        })
    }

    /// Every load balancer, without advancing time.
    pub fn load_balancers_view(&self) -> impl Iterator<Item = &LoadBalancer> {
        self.load_balancers.values()
    }

    /// `GET /v2/load_balancers/{id}`.
    pub fn load_balancer(&mut self, now: SimTime, id: Uuid) -> Result<LoadBalancer, Error> {
        self.enter(now, |cloud| {
            cloud
                .load_balancers
                .get(&id)
                .cloned()
                .ok_or_else(Error::not_found)
        })
    }

    /// `PUT /v2/load_balancers/{id}`: replaces the whole load balancer, droplets included.
    pub fn replace_load_balancer(
        &mut self,
        now: SimTime,
        id: Uuid,
        spec: LoadBalancerSpec,
    ) -> Result<LoadBalancer, Error> {
        self.enter(now, |cloud| {
            let current = cloud.load_balancers.get(&id).ok_or_else(Error::not_found)?;
            if spec.region != current.region {
                return Err(Error::unprocessable(
                    "region: a load balancer cannot move to another region",
                ));
            }
            let spec = cloud.checked_lb(spec)?;
            let lb = cloud.load_balancers.get_mut(&id).expect("found above");
            lb.name = spec.name;
            lb.size_unit = spec.size_unit;
            lb.forwarding_rules = spec.forwarding_rules;
            lb.health_check = spec.health_check.unwrap_or_default();
            lb.sticky_sessions = spec.sticky_sessions;
            lb.droplet_ids = spec.droplet_ids;
            lb.tag = spec.tag;
            lb.redirect_http_to_https = spec.redirect_http_to_https;
            lb.enable_proxy_protocol = spec.enable_proxy_protocol;
            lb.enable_backend_keepalive = spec.enable_backend_keepalive;
            lb.http_idle_timeout_seconds = spec.http_idle_timeout_seconds;
            Ok(lb.clone())
        })
    }

    /// `DELETE /v2/load_balancers/{id}`.
    pub fn delete_load_balancer(&mut self, now: SimTime, id: Uuid) -> Result<(), Error> {
        self.enter(now, |cloud| {
            cloud
                .load_balancers
                .shift_remove(&id)
                .map(|_| ())
                .ok_or_else(Error::not_found)
        })
    }

    /// `POST` (`add`) or `DELETE` `/v2/load_balancers/{id}/droplets`: adds or removes only the
    /// droplets named. Refused while the load balancer is `new`, and when a tag names its
    /// droplets.
    pub fn load_balancer_droplets(
        &mut self,
        now: SimTime,
        id: Uuid,
        droplet_ids: &[u64],
        add: bool,
    ) -> Result<(), Error> {
        self.enter(now, |cloud| {
            let lb = cloud.load_balancers.get(&id).ok_or_else(Error::not_found)?;
            if lb.status(cloud.now) == "new" {
                return Err(Error::unprocessable(crate::error::msg::LB_NOT_ACTIVE));
            }
            if lb.tag.is_some() {
                return Err(Error::unprocessable(crate::error::msg::LB_DROPLETS_AND_TAG));
            }
            if droplet_ids.is_empty() {
                return Err(Error::unprocessable(
                    "droplet_ids: at least one droplet id is required",
                ));
            }
            if add {
                cloud.check_lb_droplets(&lb.region, droplet_ids)?;
                if lb.droplet_ids.len() + droplet_ids.len() > LB_DROPLETS_MAX {
                    return Err(Error::unprocessable(format!(
                        "droplet_ids: at most {LB_DROPLETS_MAX} may be given"
                    )));
                }
            }
            let lb = cloud.load_balancers.get_mut(&id).expect("found above");
            let mut next = edited(&lb.droplet_ids, droplet_ids, add);
            if add {
                next.sort_unstable();
                next.dedup();
            }
            lb.droplet_ids = next;
            Ok(())
        })
    }

    /// `POST` (`add`) or `DELETE` `/v2/load_balancers/{id}/forwarding_rules`: adds rules, or
    /// removes the rules equal to those given. A load balancer keeps at least one rule.
    pub fn load_balancer_rules(
        &mut self,
        now: SimTime,
        id: Uuid,
        rules: &[ForwardingRule],
        add: bool,
    ) -> Result<(), Error> {
        self.enter(now, |cloud| {
            let lb = cloud.load_balancers.get(&id).ok_or_else(Error::not_found)?;
            if lb.status(cloud.now) == "new" {
                return Err(Error::unprocessable(crate::error::msg::LB_NOT_ACTIVE));
            }
            let next = edited(&lb.forwarding_rules, rules, add);
            check_rules(&next)?;
            cloud
                .load_balancers
                .get_mut(&id)
                .expect("found above")
                .forwarding_rules = next;
            Ok(())
        })
    }
}
