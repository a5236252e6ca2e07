//! Cloud firewalls.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, List};
use crate::collection::Collection;
use crate::common::{null_default, DropletIds};
use crate::error::Error;
use crate::time::Timestamp;

/// Where a rule lets traffic come from or go to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallTarget {
    /// IPv4 and IPv6 addresses and CIDRs.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub addresses: Vec<String>,
    /// Droplets.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub droplet_ids: Vec<u64>,
    /// Load balancers.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub load_balancer_uids: Vec<String>,
    /// Kubernetes clusters.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kubernetes_ids: Vec<String>,
    /// Tags naming groups of droplets.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
}

/// An inbound rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundRule {
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// `22`, `8000-9000`, or `0` for all.
    #[serde(default, deserialize_with = "null_default")]
    pub ports: String,
    /// Where traffic may come from.
    #[serde(default)]
    pub sources: FirewallTarget,
}

/// An outbound rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundRule {
    /// `tcp`, `udp` or `icmp`.
    pub protocol: String,
    /// `22`, `8000-9000`, or `0` for all.
    #[serde(default, deserialize_with = "null_default")]
    pub ports: String,
    /// Where traffic may go.
    #[serde(default)]
    pub destinations: FirewallTarget,
}

/// A firewall; also what a create or a `PUT` sends (read-only fields are left out then).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firewall {
    /// The id (a UUID); empty on a create.
    #[serde(default, skip_serializing)]
    pub id: String,
    /// The name.
    pub name: String,
    /// `waiting`, `succeeded` or `failed`.
    #[serde(default, skip_serializing)]
    pub status: String,
    /// When it was created.
    #[serde(default, skip_serializing)]
    pub created_at: Option<Timestamp>,
    /// Inbound rules.
    #[serde(default, deserialize_with = "null_default")]
    pub inbound_rules: Vec<InboundRule>,
    /// Outbound rules.
    #[serde(default, deserialize_with = "null_default")]
    pub outbound_rules: Vec<OutboundRule>,
    /// The droplets it applies to by id.
    #[serde(default, deserialize_with = "null_default")]
    pub droplet_ids: Vec<u64>,
    /// The tags whose droplets it applies to.
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
}

#[derive(Serialize)]
struct Tags<'a> {
    tags: &'a [String],
}

#[derive(Serialize)]
struct Rules<'a> {
    inbound_rules: &'a [InboundRule],
    outbound_rules: &'a [OutboundRule],
}

/// `client.firewalls()` on `/v2/firewalls`.
pub struct FirewallsService<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> FirewallsService<'a> {
    fn collection(&self) -> Collection<'a> {
        Collection::new(self.client, "/v2/firewalls", "firewall", "firewalls")
    }

    /// Creates a firewall (202).
    pub async fn create(&self, firewall: &Firewall) -> Result<Firewall, Error> {
        self.collection().create(firewall).await
    }

    /// `GET /v2/firewalls/{id}`.
    pub async fn get(&self, id: &str) -> Result<Firewall, Error> {
        self.collection().get(id).await
    }

    /// `GET /v2/firewalls`.
    pub fn list(&self) -> List<'a, Firewall> {
        self.collection().list()
    }

    /// The firewalls that apply to a droplet, by id or tag.
    pub fn for_droplet(&self, droplet_id: u64) -> List<'a, Firewall> {
        List::new(
            self.client,
            format!("/v2/droplets/{droplet_id}/firewalls"),
            "firewalls",
        )
    }

    /// `PUT`: the firewall becomes exactly `firewall`, its droplets and tags included; to add one
    /// droplet, prefer [`FirewallsService::add_droplets`], which leaves others' changes alone.
    pub async fn replace(&self, id: &str, firewall: &Firewall) -> Result<Firewall, Error> {
        self.collection().send(Method::PUT, id, firewall).await
    }

    /// Deletes a firewall.
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        self.collection().delete(id).await
    }

    /// Adds droplets, leaving the rest of the firewall as it is.
    pub async fn add_droplets(&self, id: &str, droplet_ids: &[u64]) -> Result<(), Error> {
        let body = DropletIds { droplet_ids };
        self.collection()
            .edit_list(Method::POST, id, "droplets", &body)
            .await
    }

    /// Removes droplets.
    pub async fn remove_droplets(&self, id: &str, droplet_ids: &[u64]) -> Result<(), Error> {
        let body = DropletIds { droplet_ids };
        self.collection()
            .edit_list(Method::DELETE, id, "droplets", &body)
            .await
    }

    /// Adds tags.
    pub async fn add_tags(&self, id: &str, tags: &[String]) -> Result<(), Error> {
        self.collection()
            .edit_list(Method::POST, id, "tags", &Tags { tags })
            .await
    }

    /// Removes tags.
    pub async fn remove_tags(&self, id: &str, tags: &[String]) -> Result<(), Error> {
        self.collection()
            .edit_list(Method::DELETE, id, "tags", &Tags { tags })
            .await
    }

    /// Adds rules.
    pub async fn add_rules(
        &self,
        id: &str,
        inbound_rules: &[InboundRule],
        outbound_rules: &[OutboundRule],
    ) -> Result<(), Error> {
        let body = Rules {
            inbound_rules,
            outbound_rules,
        };
        self.collection()
            .edit_list(Method::POST, id, "rules", &body)
            .await
    }

    /// Removes the rules equal to those given.
    pub async fn remove_rules(
        &self,
        id: &str,
        inbound_rules: &[InboundRule],
        outbound_rules: &[OutboundRule],
    ) -> Result<(), Error> {
        let body = Rules {
            inbound_rules,
            outbound_rules,
        };
        self.collection()
            .edit_list(Method::DELETE, id, "rules", &body)
            .await
    }
}
