//! The account, and the catalogue of regions and sizes.

use serde::{Deserialize, Serialize};

use crate::client::{Client, List};
use crate::common::{null_default, Region, Size};
use crate::error::Error;

/// The token's account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// How many droplets the account may have.
    #[serde(default)]
    pub droplet_limit: u32,
    /// How many reserved IPs the account may have.
    #[serde(default)]
    pub floating_ip_limit: u32,
    /// How many volumes the account may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_limit: Option<u32>,
    /// The email address.
    #[serde(default, deserialize_with = "null_default")]
    pub email: String,
    /// The user's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The account's id.
    #[serde(default, deserialize_with = "null_default")]
    pub uuid: String,
    /// Whether the email address is verified.
    #[serde(default)]
    pub email_verified: bool,
    /// `active`, `warning` or `locked`.
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    /// Why the status is what it is.
    #[serde(default, deserialize_with = "null_default")]
    pub status_message: String,
    /// The team the token acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Team>,
}

/// A team.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// The team's id.
    #[serde(default, deserialize_with = "null_default")]
    pub uuid: String,
    /// Its name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
}

/// `client.account()`.
pub struct AccountService<'a> {
    pub(crate) client: &'a Client,
}

impl AccountService<'_> {
    /// `GET /v2/account`.
    pub async fn get(&self) -> Result<Account, Error> {
        self.client.get("/v2/account", "account").await
    }
}

/// `client.regions()`.
pub struct RegionsService<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> RegionsService<'a> {
    /// `GET /v2/regions`.
    pub fn list(&self) -> List<'a, Region> {
        List::new(self.client, "/v2/regions".to_owned(), "regions")
    }
}

/// `client.sizes()`.
pub struct SizesService<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> SizesService<'a> {
    /// `GET /v2/sizes`.
    pub fn list(&self) -> List<'a, Size> {
        List::new(self.client, "/v2/sizes".to_owned(), "sizes")
    }
}
