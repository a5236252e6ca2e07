//! Reserved IPs and their legacy name, floating IPs: the wire types and one service for both paths.

use std::sync::Arc;

use http::Method;
use serde::{Deserialize, Serialize};

use crate::actions::Action;
use crate::client::{encode, Client, List};
use crate::common::{null_default, Region};
use crate::droplets::{Created, Droplet};
use crate::error::Error;

/// A reserved IPv4 address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReservedIp {
    /// The address; also its identifier.
    #[serde(default, deserialize_with = "null_default")]
    pub ip: String,
    /// The region it is bound to, shared with every resource the client read the same region
    /// object for.
    #[serde(default, deserialize_with = "crate::catalogue::remembered")]
    pub region: Option<Arc<Region>>,
    /// The droplet it is assigned to, or `None`.
    #[serde(default)]
    pub droplet: Option<Box<Droplet>>,
    /// Whether an action in flight blocks new ones.
    #[serde(default)]
    pub locked: bool,
    /// The project it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

impl ReservedIp {
    /// The id of the droplet it is assigned to.
    pub fn droplet_id(&self) -> Option<u64> {
        self.droplet.as_ref().map(|d| d.id)
    }
}

/// A floating IP: the same object under its pre-2022 name.
pub type FloatingIp = ReservedIp;

#[derive(Serialize)]
struct CreateBody<'b> {
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'b str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    droplet_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_id: Option<&'b str>,
}

#[derive(Serialize)]
struct ActionBody {
    #[serde(rename = "type")]
    r#type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    droplet_id: Option<u64>,
}

/// `client.reserved_ips()` on `/v2/reserved_ips`, or `client.floating_ips()` on `/v2/floating_ips`
/// with the keys `floating_ip` and `floating_ips`.
pub struct ReservedIpsService<'a> {
    pub(crate) client: &'a Client,
    pub(crate) floating: bool,
}

/// `client.floating_ips()`.
pub type FloatingIpsService<'a> = ReservedIpsService<'a>;

impl<'a> ReservedIpsService<'a> {
    fn root(&self) -> &'static str {
        if self.floating {
            "/v2/floating_ips"
        } else {
            "/v2/reserved_ips"
        }
    }

    fn key(&self) -> &'static str {
        if self.floating {
            "floating_ip"
        } else {
            "reserved_ip"
        }
    }

    fn path(&self, ip: &str) -> String {
        format!("{}/{}", self.root(), encode(ip))
    }

    async fn create(&self, body: &CreateBody<'_>) -> Result<Created<ReservedIp>, Error> {
        let response = self
            .client
            .execute_json(Method::POST, self.root(), body)
            .await?;
        Created::decode(&response, self.key())
    }

    /// Reserves an IP in `region`, unassigned (202).
    pub async fn create_in_region(&self, region: &str) -> Result<Created<ReservedIp>, Error> {
        self.create(&CreateBody {
            region: Some(region),
            droplet_id: None,
            project_id: None,
        })
        .await
    }

    /// Reserves an IP in `region` for a project.
    pub async fn create_in_project(
        &self,
        region: &str,
        project_id: &str,
    ) -> Result<Created<ReservedIp>, Error> {
        self.create(&CreateBody {
            region: Some(region),
            droplet_id: None,
            project_id: Some(project_id),
        })
        .await
    }

    /// Reserves an IP and assigns it to `droplet_id` (202); the response carries the `assign_ip` action.
    pub async fn create_for_droplet(&self, droplet_id: u64) -> Result<Created<ReservedIp>, Error> {
        self.create(&CreateBody {
            region: None,
            droplet_id: Some(droplet_id),
            project_id: None,
        })
        .await
    }

    /// `GET …/{ip}`.
    pub async fn get(&self, ip: &str) -> Result<ReservedIp, Error> {
        self.client.get(&self.path(ip), self.key()).await
    }

    /// `GET /v2/reserved_ips`.
    pub fn list(&self) -> List<'a, ReservedIp> {
        let key = if self.floating {
            "floating_ips"
        } else {
            "reserved_ips"
        };
        List::new(self.client, self.root().to_owned(), key)
    }

    /// `DELETE …/{ip}`: releases the address.
    pub async fn delete(&self, ip: &str) -> Result<(), Error> {
        self.client.delete(&self.path(ip)).await
    }

    /// Assigns the IP to `droplet_id`, moving it if it is assigned elsewhere (201).
    pub async fn assign(&self, ip: &str, droplet_id: u64) -> Result<Action, Error> {
        let body = ActionBody {
            r#type: "assign",
            droplet_id: Some(droplet_id),
        };
        self.post_action(ip, &body).await
    }

    /// Unassigns the IP (201).
    pub async fn unassign(&self, ip: &str) -> Result<Action, Error> {
        let body = ActionBody {
            r#type: "unassign",
            droplet_id: None,
        };
        self.post_action(ip, &body).await
    }

    async fn post_action(&self, ip: &str, body: &ActionBody) -> Result<Action, Error> {
        let path = format!("{}/actions", self.path(ip));
        self.client
            .send_json(Method::POST, &path, body, "action")
            .await
    }

    /// `GET …/{ip}/actions`.
    pub fn actions(&self, ip: &str) -> List<'a, Action> {
        List::new(self.client, format!("{}/actions", self.path(ip)), "actions")
    }

    /// `GET …/{ip}/actions/{action_id}`.
    pub async fn action(&self, ip: &str, action_id: u64) -> Result<Action, Error> {
        self.client
            .get(&format!("{}/actions/{action_id}", self.path(ip)), "action")
            .await
    }
}
