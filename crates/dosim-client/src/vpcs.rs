//! VPC networks.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, List};
use crate::collection::Collection;
use crate::common::null_default;
use crate::error::Error;
use crate::time::Timestamp;

/// A VPC network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
    /// The id (a UUID).
    pub id: String,
    /// `do:vpc:<id>`.
    #[serde(default, deserialize_with = "null_default")]
    pub urn: String,
    /// The name, unique on the account.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// A description.
    #[serde(default, deserialize_with = "null_default")]
    pub description: String,
    /// The region slug.
    #[serde(default, deserialize_with = "null_default")]
    pub region: String,
    /// Its addresses in CIDR notation.
    #[serde(default, deserialize_with = "null_default")]
    pub ip_range: String,
    /// Whether it is its region's default.
    #[serde(default)]
    pub default: bool,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
}

/// A resource in a VPC.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcMember {
    /// `do:droplet:<id>`, `do:dbaas:<uuid>`, ….
    pub urn: String,
    /// Its name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
}

/// A VPC to create, or the fields of one to change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VpcEdit {
    /// The name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The region (create only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// A description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its addresses (create only); a free `/20` when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    /// `true` makes it its region's default (update only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

impl VpcEdit {
    /// A VPC named `name` in `region`.
    pub fn new(name: &str, region: &str) -> VpcEdit {
        VpcEdit {
            name: Some(name.into()),
            region: Some(region.into()),
            ..VpcEdit::default()
        }
    }

    /// With this range.
    pub fn ip_range(mut self, cidr: &str) -> VpcEdit {
        self.ip_range = Some(cidr.into());
        self
    }
}

/// `client.vpcs()` on `/v2/vpcs`.
pub struct VpcsService<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> VpcsService<'a> {
    fn collection(&self) -> Collection<'a> {
        Collection::new(self.client, "/v2/vpcs", "vpc", "vpcs")
    }

    /// Creates a VPC.
    pub async fn create(&self, vpc: &VpcEdit) -> Result<Vpc, Error> {
        self.collection().create(vpc).await
    }

    /// `GET /v2/vpcs/{id}`.
    pub async fn get(&self, id: &str) -> Result<Vpc, Error> {
        self.collection().get(id).await
    }

    /// `GET /v2/vpcs`: each region's default and the account's own.
    pub fn list(&self) -> List<'a, Vpc> {
        self.collection().list()
    }

    /// Changes the fields given (`PATCH`).
    pub async fn update(&self, id: &str, edit: &VpcEdit) -> Result<Vpc, Error> {
        self.collection().send(Method::PATCH, id, edit).await
    }

    /// Deletes a VPC; 409 while anything is in it, 403 for a region's default.
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        self.collection().delete(id).await
    }

    /// `GET /v2/vpcs/{id}/members`.
    pub fn members(&self, id: &str) -> List<'a, VpcMember> {
        List::new(
            self.client,
            format!("{}/members", self.collection().item(id)),
            "members",
        )
    }
}
