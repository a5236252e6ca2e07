//! SSH keys (`/v2/account/keys`).

use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, List};
use crate::collection::Collection;
use crate::droplets::SshKey;
use crate::error::Error;

/// A public key on the account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountKey {
    /// The id.
    pub id: u64,
    /// The MD5 fingerprint, colon-separated hex.
    pub fingerprint: String,
    /// The key: `type base64 [comment]`.
    pub public_key: String,
    /// The name.
    pub name: String,
}

impl AccountKey {
    /// How a droplet create names this key.
    pub fn as_droplet_key(&self) -> SshKey {
        SshKey::Id(self.id)
    }
}

#[derive(Serialize)]
struct CreateBody<'a> {
    name: &'a str,
    public_key: &'a str,
}

#[derive(Serialize)]
struct RenameBody<'a> {
    name: &'a str,
}

/// `client.ssh_keys()` on `/v2/account/keys`. Listing has a limit of its own on DigitalOcean:
/// 10 requests a minute.
pub struct SshKeysService<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> SshKeysService<'a> {
    fn collection(&self) -> Collection<'a> {
        Collection::new(self.client, "/v2/account/keys", "ssh_key", "ssh_keys")
    }

    /// Adds a public key (`type base64 [comment]`); 422 if the account has it already.
    pub async fn create(&self, name: &str, public_key: &str) -> Result<AccountKey, Error> {
        self.collection()
            .create(&CreateBody { name, public_key })
            .await
    }

    /// A key by id or fingerprint.
    pub async fn get(&self, identifier: &str) -> Result<AccountKey, Error> {
        self.collection().get(identifier).await
    }

    /// `GET /v2/account/keys`.
    pub fn list(&self) -> List<'a, AccountKey> {
        self.collection().list()
    }

    /// Renames a key (the only change DigitalOcean allows).
    pub async fn rename(&self, identifier: &str, name: &str) -> Result<AccountKey, Error> {
        self.collection()
            .send(Method::PUT, identifier, &RenameBody { name })
            .await
    }

    /// Removes a key; droplets created with it keep it.
    pub async fn delete(&self, identifier: &str) -> Result<(), Error> {
        self.collection().delete(identifier).await
    }
}
