//! Reserved IPs (formerly floating IPs): create, read, list, delete, and assign/unassign actions.

use crate::actions::Effect;
use crate::cloud::ActionSpec;
use crate::error::msg;
use crate::validate::parse_uuid;
use crate::{catalog, ActionId, Cloud, DropletId, Error, ResourceType, SimTime};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use uuid::Uuid;

/// A reserved IPv4 address held by the account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReservedIp {
    /// The address, also its identifier.
    pub ip: Ipv4Addr,
    /// The region slug.
    pub region: String,
    /// The droplet it points at, if any.
    pub droplet_id: Option<DropletId>,
    /// True while an assign or unassign runs.
    pub locked: bool,
    /// The action that runs, if any.
    pub pending_action: Option<ActionId>,
    /// The project.
    pub project_id: Uuid,
    /// When it was reserved.
    pub created_at: SimTime,
}

/// A reserved IP create request; the HTTP layer passes both fields through so that both given gets DigitalOcean's error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReservedIpCreate {
    /// Reserve in this region.
    pub region: Option<String>,
    /// Reserve in this droplet's region and assign it there.
    pub droplet_id: Option<DropletId>,
    /// The project, a UUID; `None` means the account's default project.
    pub project_id: Option<String>,
}

/// What a reserved IP create returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservedIpCreated {
    /// The new address.
    pub ip: Ipv4Addr,
    /// The droplet it is being assigned to (the `links.droplets` entry).
    pub droplet_id: Option<DropletId>,
    /// The `assign_ip` action (the `links.actions` entry).
    pub action_id: Option<ActionId>,
}

/// A reserved IP action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReservedIpAction {
    /// `assign` to a droplet, moving it if it points elsewhere.
    Assign {
        /// The droplet.
        droplet_id: DropletId,
    },
    /// `unassign`.
    Unassign,
}

impl Cloud {
    /// Reserves an address, in a region or for a droplet; for a droplet, an `assign_ip` action starts at once and holds both locked.
    pub fn create_reserved_ip(
        &mut self,
        now: SimTime,
        req: ReservedIpCreate,
    ) -> Result<ReservedIpCreated, Error> {
        self.enter(now, |cloud| {
            let region_slug = req.region.as_deref().filter(|r| !r.is_empty());
            let region =
                match (region_slug, req.droplet_id) {
                    (Some(_), Some(_)) => {
                        return Err(Error::unprocessable(msg::RESERVED_IP_DROPLET_AND_REGION))
                    }
                    (None, None) => return Err(Error::unprocessable(msg::RESERVED_IP_NEITHER)),
                    (Some(slug), None) => catalog::region(slug)
                        .filter(|r| r.available)
                        .ok_or_else(|| {
                            Error::unprocessable(format!("region: {slug:?} is not a valid region"))
                        })?,
                    (None, Some(droplet_id)) => {
                        let droplet = cloud.idle_droplet(droplet_id)?;
                        if cloud
                            .reserved_ips
                            .values()
                            .any(|r| r.droplet_id == Some(droplet_id))
                        {
                            return Err(Error::unprocessable(msg::DROPLET_HAS_RESERVED_IP));
                        }
                        droplet.region()
                    }
                };
            let project_id = parse_uuid("project_id", req.project_id.as_deref())?
                .unwrap_or(cloud.default_project_id);
            if cloud.reserved_ips.len() >= cloud.config.reserved_ip_limit as usize {
                return Err(Error::unprocessable(msg::RESERVED_IP_LIMIT));
            }
            let ip = cloud.new_public_ipv4(region);
            cloud.reserved_ips.insert(
                ip,
                ReservedIp {
                    ip,
                    region: region.slug.to_string(),
                    droplet_id: None,
                    locked: false,
                    pending_action: None,
                    project_id,
                    created_at: cloud.now,
                },
            );
            let action_id = req.droplet_id.map(|droplet_id| {
                let spec = assign_spec(ip, region.slug, project_id, droplet_id);
                cloud.start_action(spec, cloud.config.reserved_ip_action_ms)
            });
            Ok(ReservedIpCreated {
                ip,
                droplet_id: req.droplet_id,
                action_id,
            })
        })
    }

    /// One reserved IP.
    pub fn reserved_ip(&mut self, now: SimTime, ip: Ipv4Addr) -> Result<ReservedIp, Error> {
        self.enter(now, |cloud| {
            cloud
                .reserved_ips
                .get(&ip)
                .cloned()
                .ok_or_else(Error::not_found)
        })
    }

    /// Every reserved IP, oldest first.
    pub fn reserved_ips(&mut self, now: SimTime) -> Vec<ReservedIp> {
        self.enter(now, |cloud| cloud.reserved_ips.values().cloned().collect())
    }

    /// Releases a reserved IP; refused while an action on it runs.
    pub fn delete_reserved_ip(&mut self, now: SimTime, ip: Ipv4Addr) -> Result<(), Error> {
        self.enter(now, |cloud| {
            let reserved_ip = cloud.reserved_ips.get(&ip).ok_or_else(Error::not_found)?;
            if reserved_ip.pending_action.is_some() {
                return Err(Error::unprocessable(msg::RESERVED_IP_PENDING));
            }
            if reserved_ip.droplet_id.is_some() && !cloud.config.delete_assigned_reserved_ip {
                return Err(Error::unprocessable(msg::RESERVED_IP_ASSIGNED_DELETE));
            }
            cloud.reserved_ips.shift_remove(&ip);
            Ok(())
        })
    }

    /// Starts an assign or unassign; the change applies when the action completes, so concurrent moves are last-writer-wins only once each one's lock is released.
    pub fn reserved_ip_action(
        &mut self,
        now: SimTime,
        ip: Ipv4Addr,
        action: ReservedIpAction,
    ) -> Result<ActionId, Error> {
        self.enter(now, |cloud| {
            let reserved_ip = cloud.reserved_ips.get(&ip).ok_or_else(Error::not_found)?;
            if reserved_ip.pending_action.is_some() {
                return Err(Error::unprocessable(msg::RESERVED_IP_PENDING));
            }
            let spec = match action {
                ReservedIpAction::Assign { droplet_id } => {
                    let droplet = cloud.idle_droplet(droplet_id)?;
                    if droplet.region != reserved_ip.region {
                        return Err(Error::unprocessable(msg::RESERVED_IP_REGION_MISMATCH));
                    }
                    if cloud
                        .reserved_ips
                        .values()
                        .any(|r| r.ip != ip && r.droplet_id == Some(droplet_id))
                    {
                        return Err(Error::unprocessable(msg::DROPLET_HAS_RESERVED_IP));
                    }
                    assign_spec(ip, &reserved_ip.region, reserved_ip.project_id, droplet_id)
                }
                ReservedIpAction::Unassign => {
                    if reserved_ip.droplet_id.is_none() {
                        return Err(Error::unprocessable(msg::RESERVED_IP_NOT_ASSIGNED));
                    }
                    ActionSpec {
                        action_type: "unassign_ip",
                        resource_id: Some(u64::from(u32::from(ip))),
                        resource_type: ResourceType::ReservedIp,
                        region_slug: Some(reserved_ip.region.clone()),
                        project_id: Some(reserved_ip.project_id),
                        volume_id: None,
                        locks_droplet: None,
                        locks_reserved_ip: Some(ip),
                        effect: Effect::ReservedIpUnassign(ip),
                    }
                }
            };
            Ok(cloud.start_action(spec, cloud.config.reserved_ip_action_ms))
        })
    }
}

/// An `assign_ip` action: it holds the address and the target droplet locked until it completes.
fn assign_spec(ip: Ipv4Addr, region: &str, project_id: Uuid, droplet_id: DropletId) -> ActionSpec {
    ActionSpec {
        action_type: "assign_ip",
        resource_id: Some(u64::from(u32::from(ip))),
        resource_type: ResourceType::ReservedIp,
        region_slug: Some(region.to_string()),
        project_id: Some(project_id),
        volume_id: None,
        locks_droplet: Some(droplet_id),
        locks_reserved_ip: Some(ip),
        effect: Effect::ReservedIpAssign(ip, droplet_id),
    }
}
