//! The account object: limits from the configuration and identity from the seed.

use crate::Cloud;
use serde::Serialize;
use uuid::Uuid;

/// What `GET /v2/account` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Account {
    /// How many droplets the account may hold.
    pub droplet_limit: u32,
    /// How many reserved IPs the account may hold (the wire calls it `floating_ip_limit`).
    pub floating_ip_limit: u32,
    /// How many volumes the account may hold.
    pub volume_limit: u32,
    /// The account's email address.
    pub email: String,
    /// The account's UUID.
    pub uuid: Uuid,
    /// Always true.
    pub email_verified: bool,
    /// Always `active`.
    pub status: &'static str,
    /// Always empty.
    pub status_message: &'static str,
    /// The account number used in database hostnames.
    pub account_number: u64,
}

impl Cloud {
    /// The account object.
    pub fn account(&self) -> Account {
        Account {
            droplet_limit: self.config.droplet_limit,
            floating_ip_limit: self.config.reserved_ip_limit,
            volume_limit: self.config.volume_limit,
            email: format!("user-{}@example.com", self.account_number),
            uuid: self.account_uuid,
            email_verified: true,
            status: "active",
            status_message: "",
            account_number: self.account_number,
        }
    }

    /// The account's default project, used when a request names none.
    pub fn default_project_id(&self) -> Uuid {
        self.default_project_id
    }

    /// The default VPC of `region`, if the region exists.
    pub fn default_vpc(&self, region: &str) -> Option<Uuid> {
        self.vpcs.get(region).copied()
    }
}
