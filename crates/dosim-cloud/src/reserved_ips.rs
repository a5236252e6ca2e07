//! Reserved IPs (formerly floating IPs): create, read, list, delete, and assign/unassign actions.

use crate::{ActionId, Cloud, DropletId, Error, SimTime};
use serde::Serialize;
use std::net::Ipv4Addr;
use uuid::Uuid;

/// A reserved IPv4 address held by the account.
#[derive(Clone, Debug, Serialize)]
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
    /// Reserves an address, in a region or for a droplet.
    pub fn create_reserved_ip(
        &mut self,
        now: SimTime,
        req: ReservedIpCreate,
    ) -> Result<ReservedIpCreated, Error> {
        todo!("{now:?} {req:?}")
    }

    /// One reserved IP.
    pub fn reserved_ip(&mut self, now: SimTime, ip: Ipv4Addr) -> Result<ReservedIp, Error> {
        self.advance(now);
        self.reserved_ips
            .get(&ip)
            .cloned()
            .ok_or_else(Error::not_found)
    }

    /// Every reserved IP, oldest first.
    pub fn reserved_ips(&mut self, now: SimTime) -> Vec<ReservedIp> {
        self.advance(now);
        self.reserved_ips.values().cloned().collect()
    }

    /// Releases a reserved IP.
    pub fn delete_reserved_ip(&mut self, now: SimTime, ip: Ipv4Addr) -> Result<(), Error> {
        todo!("{now:?} {ip:?}")
    }

    /// Starts an assign or unassign.
    pub fn reserved_ip_action(
        &mut self,
        now: SimTime,
        ip: Ipv4Addr,
        action: ReservedIpAction,
    ) -> Result<ActionId, Error> {
        todo!("{now:?} {ip:?} {action:?}")
    }
}
