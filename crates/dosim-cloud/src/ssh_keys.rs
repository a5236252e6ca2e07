//! SSH keys: the account's public keys, named by id or by fingerprint in droplet creates.

use std::collections::BTreeMap;

use base64::Engine as _;
use md5::{Digest, Md5};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::msg;
use crate::{Cloud, Error, SimTime};

/// The key types DigitalOcean accepts, in the order its message lists them.
pub const SSH_KEY_TYPES: [&str; 6] = [
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-ed25519",
];
/// The most keys one account may hold in dosim.
pub const SSH_KEYS_MAX: usize = 1000;
/// The longest public key text dosim accepts, in bytes (an 16384-bit RSA key is about 2.8 KB).
pub const SSH_PUBLIC_KEY_LEN_MAX: usize = 16 * 1024;
/// The longest key name dosim accepts.
pub const SSH_KEY_NAME_LEN_MAX: usize = 255;

/// One public key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshKey {
    /// The id.
    pub id: u64,
    /// The MD5 fingerprint of the key's blob, as colon-separated hex.
    pub fingerprint: String,
    /// The key as given: `type base64 [comment]`.
    pub public_key: String,
    /// The name.
    pub name: String,
}

/// The MD5 fingerprint of an OpenSSH public key line, or DigitalOcean's refusal.
fn fingerprint(public_key: &str) -> Result<String, Error> {
    let mut fields = public_key.split_whitespace();
    let key_type = fields.next().unwrap_or("");
    if !SSH_KEY_TYPES.contains(&key_type) {
        return Err(Error::unprocessable(msg::SSH_KEY_INVALID_TYPE));
    }
    let unusable = || Error::unprocessable(msg::SSH_KEY_NO_FINGERPRINT);
    let blob = fields
        .next()
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .ok_or_else(unusable)?;
    // The blob starts with the key type again, as a length-prefixed string.
    let named = blob
        .get(..4)
        .map(|len| u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize)
        .and_then(|len| blob.get(4..4 + len))
        .is_some_and(|name| name == key_type.as_bytes());
    if !named {
        return Err(unusable());
    }
    let digest = Md5::digest(&blob);
    Ok(digest
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

impl Cloud {
    /// `POST /v2/account/keys`.
    pub fn create_ssh_key(
        &mut self,
        now: SimTime,
        name: &str,
        public_key: &str,
    ) -> Result<SshKey, Error> {
        self.enter(now, |cloud| {
            if name.trim().is_empty() || name.len() > SSH_KEY_NAME_LEN_MAX {
                return Err(Error::unprocessable(format!(
                    "name: must be 1 to {SSH_KEY_NAME_LEN_MAX} characters"
                )));
            }
            if public_key.len() > SSH_PUBLIC_KEY_LEN_MAX {
                return Err(Error::unprocessable(msg::SSH_KEY_NO_FINGERPRINT));
            }
            let fingerprint = fingerprint(public_key)?;
            if cloud
                .ssh_keys
                .values()
                .any(|k| k.fingerprint == fingerprint)
            {
                return Err(Error::unprocessable(msg::SSH_KEY_IN_USE));
            }
            if cloud.ssh_keys.len() >= SSH_KEYS_MAX {
                return Err(Error::unprocessable(format!(
                    "the account may hold at most {SSH_KEYS_MAX} SSH keys"
                )));
            }
            // Drawn the first time a key is made, so accounts without keys draw nothing.
            let id = match cloud.next_ssh_key_id {
                Some(next) => next,
                None => cloud.rng.random_range(40_000_000..50_000_000),
            };
            cloud.next_ssh_key_id = Some(id + 1);
            let key = SshKey {
                id,
                fingerprint,
                public_key: public_key.trim().to_owned(),
                name: name.to_owned(),
            };
            cloud.ssh_keys.insert(id, key.clone());
            Ok(key)
        })
    }

    /// The key with this id or fingerprint.
    fn find_ssh_key(&self, identifier: &str) -> Option<u64> {
        match identifier.parse::<u64>() {
            Ok(id) => self.ssh_keys.contains_key(&id).then_some(id),
            Err(_) => self
                .ssh_keys
                .values()
                .find(|k| k.fingerprint == identifier)
                .map(|k| k.id),
        }
    }

    /// `GET /v2/account/keys`, by id.
    pub fn ssh_keys(&mut self, now: SimTime) -> Vec<SshKey> {
        self.enter(now, |cloud| cloud.ssh_keys.values().cloned().collect())
    }

    /// `GET /v2/account/keys/{id or fingerprint}`.
    pub fn ssh_key(&mut self, now: SimTime, identifier: &str) -> Result<SshKey, Error> {
        self.enter(now, |cloud| {
            let id = cloud
                .find_ssh_key(identifier)
                .ok_or_else(Error::not_found)?;
            Ok(cloud.ssh_keys[&id].clone())
        })
    }

    /// `PUT /v2/account/keys/{id or fingerprint}`: only the name changes.
    pub fn rename_ssh_key(
        &mut self,
        now: SimTime,
        identifier: &str,
        name: &str,
    ) -> Result<SshKey, Error> {
        self.enter(now, |cloud| {
            let id = cloud
                .find_ssh_key(identifier)
                .ok_or_else(Error::not_found)?;
            if name.trim().is_empty() || name.len() > SSH_KEY_NAME_LEN_MAX {
                return Err(Error::unprocessable(format!(
                    "name: must be 1 to {SSH_KEY_NAME_LEN_MAX} characters"
                )));
            }
            let key = cloud.ssh_keys.get_mut(&id).expect("found above");
            key.name = name.to_owned();
            Ok(key.clone())
        })
    }

    /// `DELETE /v2/account/keys/{id or fingerprint}`. Droplets created with it keep it installed.
    pub fn delete_ssh_key(&mut self, now: SimTime, identifier: &str) -> Result<(), Error> {
        self.enter(now, |cloud| {
            let id = cloud
                .find_ssh_key(identifier)
                .ok_or_else(Error::not_found)?;
            cloud.ssh_keys.remove(&id);
            Ok(())
        })
    }

    /// Resolves a droplet create's `ssh_keys` (ids or fingerprints) to key ids, or refuses with
    /// every identifier that names no key, as DigitalOcean does.
    pub(crate) fn resolve_ssh_keys(&self, identifiers: &[String]) -> Result<Vec<u64>, Error> {
        let unknown: Vec<&str> = identifiers
            .iter()
            .filter(|i| self.find_ssh_key(i).is_none())
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(Error::unprocessable(format!(
                "{} are invalid key identifiers for Droplet creation.",
                unknown.join(", ")
            )));
        }
        Ok(identifiers
            .iter()
            .filter_map(|i| self.find_ssh_key(i))
            .collect())
    }
}

/// The keys' ids must be unique under their keys and below the next id.
pub(crate) fn check(keys: &BTreeMap<u64, SshKey>, next: Option<u64>) -> Vec<String> {
    let mut broken = Vec::new();
    for (id, key) in keys {
        if *id != key.id {
            broken.push(format!("SSH key {} is stored under id {id}", key.id));
        }
        if next.is_none_or(|next| *id >= next) {
            broken.push(format!("SSH key {id} is at or past the next id, {next:?}"));
        }
    }
    let mut prints: Vec<&str> = keys.values().map(|k| k.fingerprint.as_str()).collect();
    prints.sort_unstable();
    if prints.windows(2).any(|w| w[0] == w[1]) {
        broken.push("two SSH keys share a fingerprint".to_owned());
    }
    broken
}
