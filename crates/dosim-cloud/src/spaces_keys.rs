//! Spaces access keys (`/v2/spaces/keys`): key pairs with per-bucket grants, which the Spaces data plane checks on every S3 request.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::{Cloud, Error, ErrorKind, SimTime};

/// DigitalOcean's limit on Spaces access keys per account (product limits page).
pub const SPACES_KEYS_MAX: usize = 200;
/// dosim's limit on grants per key, so that a key stays a bounded thing.
pub const SPACES_KEY_GRANTS_MAX: usize = 100;
/// dosim's limit on a key's name length.
pub const SPACES_KEY_NAME_LEN_MAX: usize = 255;

/// What a grant lets a key do in a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpacesPermission {
    /// GET, HEAD and list requests.
    Read,
    /// Reads plus object writes, deletes, copies and multipart uploads.
    ReadWrite,
    /// Everything, in every bucket, including creating and deleting buckets.
    FullAccess,
    /// The empty permission: the grant allows nothing.
    #[serde(rename = "")]
    None,
}

impl SpacesPermission {
    /// Reads the wire form; `None` for anything DigitalOcean does not list.
    pub fn parse(raw: &str) -> Option<SpacesPermission> {
        match raw {
            "read" => Some(SpacesPermission::Read),
            "readwrite" => Some(SpacesPermission::ReadWrite),
            "fullaccess" => Some(SpacesPermission::FullAccess),
            "" => Some(SpacesPermission::None),
            _ => None,
        }
    }

    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            SpacesPermission::Read => "read",
            SpacesPermission::ReadWrite => "readwrite",
            SpacesPermission::FullAccess => "fullaccess",
            SpacesPermission::None => "",
        }
    }
}

/// One grant: a permission on a bucket (`""` with `fullaccess`: every bucket).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpacesGrant {
    pub bucket: String,
    pub permission: SpacesPermission,
}

/// A Spaces access key pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpacesKey {
    pub name: String,
    pub access_key: String,
    /// Shown once, in the create response; kept for verifying signatures, and in a saved
    /// state; `GET /_dosim/state` redacts it unless asked for secrets.
    pub secret_key: String,
    pub grants: Vec<SpacesGrant>,
    pub created_at: SimTime,
}

impl SpacesKey {
    /// The permission this key holds on `bucket`: full access anywhere, else the strongest grant naming it.
    pub fn permission_on(&self, bucket: &str) -> Option<SpacesPermission> {
        if self.is_full_access() {
            return Some(SpacesPermission::FullAccess);
        }
        self.grants
            .iter()
            .filter(|grant| grant.bucket == bucket && grant.permission != SpacesPermission::None)
            .map(|grant| grant.permission)
            .max()
    }

    /// Whether the key has account-wide full access.
    pub fn is_full_access(&self) -> bool {
        self.grants
            .iter()
            .any(|grant| grant.permission == SpacesPermission::FullAccess)
    }
}

/// A key to create.
#[derive(Clone, Debug, Default)]
pub struct SpacesKeyCreate {
    pub name: Option<String>,
    /// Grants as given on the wire: (bucket, permission).
    pub grants: Vec<(String, String)>,
}

/// Filters of `GET /v2/spaces/keys`.
#[derive(Clone, Debug, Default)]
pub struct SpacesKeyFilter {
    pub name: Option<String>,
    pub bucket: Option<String>,
    pub permission: Option<String>,
    /// `sort_direction=asc`; the default is newest first.
    pub ascending: bool,
}

impl Cloud {
    /// Creates a key; its access key and secret come from the account's RNG.
    pub fn create_spaces_key(
        &mut self,
        now: SimTime,
        request: SpacesKeyCreate,
    ) -> Result<SpacesKey, Error> {
        self.enter(now, |cloud| {
            let name = request.name.unwrap_or_default();
            if name.trim().is_empty() {
                return Err(Error::new(ErrorKind::BadRequest, msg::NAME_REQUIRED));
            }
            if name.len() > SPACES_KEY_NAME_LEN_MAX {
                return Err(Error::new(ErrorKind::BadRequest, msg::NAME_TOO_LONG));
            }
            if request.grants.len() > SPACES_KEY_GRANTS_MAX {
                return Err(Error::new(ErrorKind::BadRequest, msg::TOO_MANY_GRANTS));
            }
            let mut grants = Vec::with_capacity(request.grants.len());
            for (bucket, permission) in &request.grants {
                let Some(permission) = SpacesPermission::parse(permission) else {
                    return Err(Error::new(
                        ErrorKind::BadRequest,
                        format!("invalid permission {permission:?}: must be one of read, readwrite, fullaccess or empty."),
                    ));
                };
                grants.push(SpacesGrant {
                    bucket: bucket.clone(),
                    permission,
                });
            }
            let full = grants
                .iter()
                .any(|grant| grant.permission == SpacesPermission::FullAccess);
            let scoped = grants
                .iter()
                .any(|grant| grant.permission != SpacesPermission::FullAccess);
            if full && scoped {
                return Err(Error::new(ErrorKind::BadRequest, msg::MIXED_GRANTS));
            }
            if full && grants.iter().any(|grant| !grant.bucket.is_empty()) {
                return Err(Error::new(ErrorKind::BadRequest, msg::MIXED_GRANTS));
            }
            if cloud.spaces_keys.len() >= SPACES_KEYS_MAX {
                return Err(Error::new(ErrorKind::Forbidden, msg::KEY_LIMIT));
            }
            let access_key = loop {
                let candidate = format!("DO00{}", cloud.random_text(16, ACCESS_ALPHABET));
                if !cloud.spaces_keys.contains_key(&candidate) {
                    break candidate;
                }
            };
            let secret_key = cloud.random_text(43, SECRET_ALPHABET);
            let key = SpacesKey {
                name,
                access_key: access_key.clone(),
                secret_key,
                grants,
                created_at: SimTime(now.0 / 1000 * 1000),
            };
            cloud.spaces_keys.insert(access_key, key.clone());
            Ok(key)
        })
    }

    /// Every key matching `filter`, newest first unless `filter.ascending`.
    pub fn spaces_keys(&mut self, now: SimTime, filter: &SpacesKeyFilter) -> Vec<SpacesKey> {
        self.enter(now, |cloud| {
            let mut keys: Vec<SpacesKey> = cloud
                .spaces_keys
                .values()
                .filter(|key| filter.name.as_ref().is_none_or(|name| &key.name == name))
                .filter(|key| {
                    filter
                        .bucket
                        .as_ref()
                        .is_none_or(|bucket| key.grants.iter().any(|g| &g.bucket == bucket))
                })
                .filter(|key| {
                    filter.permission.as_ref().is_none_or(|permission| {
                        key.grants
                            .iter()
                            .any(|g| g.permission.as_str() == permission)
                    })
                })
                .cloned()
                .collect();
            // Insertion order is creation order; ties in created_at keep it.
            if !filter.ascending {
                keys.reverse();
            }
            keys
        })
    }

    /// One key by its access key.
    pub fn spaces_key(&mut self, now: SimTime, access_key: &str) -> Result<SpacesKey, Error> {
        self.enter(now, |cloud| {
            cloud
                .spaces_keys
                .get(access_key)
                .cloned()
                .ok_or_else(Error::not_found)
        })
    }

    /// Renames a key: the name is the only thing an update changes.
    pub fn rename_spaces_key(
        &mut self,
        now: SimTime,
        access_key: &str,
        name: Option<String>,
    ) -> Result<SpacesKey, Error> {
        self.enter(now, |cloud| {
            if !cloud.spaces_keys.contains_key(access_key) {
                return Err(Error::not_found());
            }
            if let Some(name) = &name {
                if name.trim().is_empty() {
                    return Err(Error::new(ErrorKind::BadRequest, msg::NAME_REQUIRED));
                }
                if name.len() > SPACES_KEY_NAME_LEN_MAX {
                    return Err(Error::new(ErrorKind::BadRequest, msg::NAME_TOO_LONG));
                }
            }
            let key = cloud
                .spaces_keys
                .get_mut(access_key)
                .expect("checked above");
            if let Some(name) = name {
                key.name = name;
            }
            Ok(key.clone())
        })
    }

    /// Deletes a key; S3 requests signed with it fail from then on.
    pub fn delete_spaces_key(&mut self, now: SimTime, access_key: &str) -> Result<(), Error> {
        self.enter(now, |cloud| {
            cloud
                .spaces_keys
                .shift_remove(access_key)
                .map(|_| ())
                .ok_or_else(Error::not_found)
        })
    }

    /// A key by its access key without advancing time: what the Spaces data plane verifies signatures against.
    pub fn spaces_key_view(&self, access_key: &str) -> Option<&SpacesKey> {
        self.spaces_keys.get(access_key)
    }

    fn random_text(&mut self, len: usize, alphabet: &[u8]) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.rng.random_range(0..alphabet.len())]))
            .collect()
    }
}

const ACCESS_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The keys API's messages.
pub mod msg {
    /// Observed (notes §2): a key with `fullaccess` and scoped grants together.
    pub const MIXED_GRANTS: &str = "cannot mix fullaccess permission with scoped permissions.";
    /// Chosen: a key without a name.
    pub const NAME_REQUIRED: &str = "name is required";
    /// Chosen: a name longer than 255 bytes.
    pub const NAME_TOO_LONG: &str = "name must be at most 255 characters";
    /// Chosen: more than 100 grants on one key.
    pub const TOO_MANY_GRANTS: &str = "a key may have at most 100 grants";
    /// Chosen: a key beyond the account's 200.
    pub const KEY_LIMIT: &str =
        "You have reached the maximum number of Spaces access keys (200) for this account.";
}
