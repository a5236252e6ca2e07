//! Load balancers.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, List};
use crate::collection::Collection;
use crate::common::{null_default, DropletIds};
use crate::error::Error;
use crate::time::Timestamp;

/// Where traffic enters and where it goes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub certificate_id: String,
    /// Whether TLS passes through to the droplets.
    #[serde(default, deserialize_with = "null_default")]
    pub tls_passthrough: bool,
}

/// A load balancer; also what a create or a `PUT` sends (read-only fields are left out then).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancer {
    /// The id (a UUID); empty on a create.
    #[serde(default, skip_serializing)]
    pub id: String,
    /// The name.
    pub name: String,
    /// The region's slug on a create; read back, the region object's slug.
    #[serde(default, deserialize_with = "region_slug")]
    pub region: String,
    /// Its public address; empty until it is active.
    #[serde(default, skip_serializing)]
    pub ip: String,
    /// `new`, `active` or `errored`.
    #[serde(default, skip_serializing)]
    pub status: String,
    /// When it was created.
    #[serde(default, skip_serializing)]
    pub created_at: Option<Timestamp>,
    /// Where traffic enters and goes.
    #[serde(default, deserialize_with = "null_default")]
    pub forwarding_rules: Vec<ForwardingRule>,
    /// The droplets it sends traffic to, by id.
    #[serde(default, deserialize_with = "null_default")]
    pub droplet_ids: Vec<u64>,
    /// Or the tag naming them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// The region as a create sends it (a slug) or as DigitalOcean answers it (an object).
fn region_slug<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Region {
        Slug(String),
        Object { slug: String },
        Null(()),
    }
    Ok(match Region::deserialize(deserializer)? {
        Region::Slug(slug) | Region::Object { slug } => slug,
        Region::Null(()) => String::new(),
    })
}

#[derive(Serialize)]
struct Rules<'a> {
    forwarding_rules: &'a [ForwardingRule],
}

/// `client.load_balancers()` on `/v2/load_balancers`.
pub struct LoadBalancersService<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> LoadBalancersService<'a> {
    fn collection(&self) -> Collection<'a> {
        Collection::new(
            self.client,
            "/v2/load_balancers",
            "load_balancer",
            "load_balancers",
        )
    }

    /// Creates a load balancer (202); it is `new` until it has provisioned.
    pub async fn create(&self, lb: &LoadBalancer) -> Result<LoadBalancer, Error> {
        self.collection().create(lb).await
    }

    /// `GET /v2/load_balancers/{id}`.
    pub async fn get(&self, id: &str) -> Result<LoadBalancer, Error> {
        self.collection().get(id).await
    }

    /// `GET /v2/load_balancers`.
    pub fn list(&self) -> List<'a, LoadBalancer> {
        self.collection().list()
    }

    /// `PUT`: the load balancer becomes exactly `lb`, its droplets included; to add one droplet,
    /// prefer [`LoadBalancersService::add_droplets`], which leaves others' changes alone.
    pub async fn replace(&self, id: &str, lb: &LoadBalancer) -> Result<LoadBalancer, Error> {
        self.collection().send(Method::PUT, id, lb).await
    }

    /// Deletes a load balancer.
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        self.collection().delete(id).await
    }

    /// Adds droplets, leaving the rest as it is; refused while the load balancer is `new`.
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

    /// Adds forwarding rules.
    pub async fn add_rules(
        &self,
        id: &str,
        forwarding_rules: &[ForwardingRule],
    ) -> Result<(), Error> {
        let body = Rules { forwarding_rules };
        self.collection()
            .edit_list(Method::POST, id, "forwarding_rules", &body)
            .await
    }

    /// Removes the forwarding rules equal to those given.
    pub async fn remove_rules(
        &self,
        id: &str,
        forwarding_rules: &[ForwardingRule],
    ) -> Result<(), Error> {
        let body = Rules { forwarding_rules };
        self.collection()
            .edit_list(Method::DELETE, id, "forwarding_rules", &body)
            .await
    }
}
