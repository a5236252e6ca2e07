//! Droplets: the wire types and the droplets service (create, list, get, delete, actions).

use std::sync::Arc;

use http::Method;
use serde::{Deserialize, Serialize};

use crate::actions::Action;
use crate::client::{decode_key, decode_keys, with_query, Client, List};
use crate::common::{null_default, ActionLink, DiskInfo, Links, Region, Size};
use crate::error::Error;
use crate::time::Timestamp;

/// The most droplets one `create_multiple` call creates.
pub const DROPLET_NAMES_MAX: usize = 10;

/// A droplet's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DropletStatus {
    /// Being created.
    #[default]
    New,
    /// Running.
    Active,
    /// Powered off.
    Off,
    /// Archived.
    Archive,
    /// A status this client does not know.
    #[serde(other)]
    Unknown,
}

/// A droplet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Droplet {
    /// The droplet's id.
    pub id: u64,
    /// Its name; names are not unique.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Memory in MB.
    #[serde(default)]
    pub memory: u64,
    /// Virtual CPUs.
    #[serde(default)]
    pub vcpus: u32,
    /// Disk in GB.
    #[serde(default)]
    pub disk: u64,
    /// The disks.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub disk_info: Vec<DiskInfo>,
    /// Whether an action in flight blocks new ones.
    #[serde(default)]
    pub locked: bool,
    /// `new`, `active`, `off` or `archive`.
    #[serde(default)]
    pub status: DropletStatus,
    /// The kernel (deprecated; usually `null`).
    #[serde(default)]
    pub kernel: Option<Kernel>,
    /// When it was created .
    #[serde(default, deserialize_with = "null_default")]
    pub created_at: Timestamp,
    /// Enabled features (`backups`, `ipv6`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub features: Vec<String>,
    /// Backup image ids.
    #[serde(default, deserialize_with = "null_default")]
    pub backup_ids: Vec<u64>,
    /// The next backup window, when backups are on.
    #[serde(default)]
    pub next_backup_window: Option<BackupWindow>,
    /// Snapshot image ids.
    #[serde(default, deserialize_with = "null_default")]
    pub snapshot_ids: Vec<u64>,
    /// The image it was built from, shared with every droplet the client read the same image
    /// object for.
    #[serde(default, deserialize_with = "crate::catalogue::remembered")]
    pub image: Option<Arc<Image>>,
    /// Ids of the attached volumes.
    #[serde(default, deserialize_with = "null_default")]
    pub volume_ids: Vec<String>,
    /// The size, shared with every droplet the client read the same size object for.
    #[serde(default, deserialize_with = "crate::catalogue::remembered")]
    pub size: Option<Arc<Size>>,
    /// The size's slug.
    #[serde(default, deserialize_with = "null_default")]
    pub size_slug: String,
    /// The network interfaces.
    #[serde(default, deserialize_with = "null_default")]
    pub networks: Networks,
    /// The region, shared with every resource the client read the same region object for.
    #[serde(default, deserialize_with = "crate::catalogue::remembered")]
    pub region: Option<Arc<Region>>,
    /// Tags.
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// The VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_uuid: Option<String>,
    /// GPU details, on GPU droplets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_info: Option<serde_json::Value>,
}

impl Droplet {
    /// The first public IPv4 address.
    pub fn public_ipv4(&self) -> Option<&str> {
        self.networks
            .v4
            .iter()
            .find(|n| n.r#type == "public")
            .map(|n| n.ip_address.as_str())
    }

    /// The first private IPv4 address.
    pub fn private_ipv4(&self) -> Option<&str> {
        self.networks
            .v4
            .iter()
            .find(|n| n.r#type == "private")
            .map(|n| n.ip_address.as_str())
    }

    /// The region's slug.
    pub fn region_slug(&self) -> Option<&str> {
        self.region.as_ref().map(|r| r.slug.as_str())
    }
}

/// A kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kernel {
    /// The kernel's id.
    #[serde(default)]
    pub id: u64,
    /// Its name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Its version.
    #[serde(default, deserialize_with = "null_default")]
    pub version: String,
}

/// A backup window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupWindow {
    /// Start .
    #[serde(default, deserialize_with = "null_default")]
    pub start: String,
    /// End .
    #[serde(default, deserialize_with = "null_default")]
    pub end: String,
}

/// An image, as embedded in a droplet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// The image's id.
    #[serde(default)]
    pub id: Option<u64>,
    /// Its name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `base`, `snapshot`, `backup`, `custom` or `admin`.
    #[serde(default, rename = "type", deserialize_with = "null_default")]
    pub r#type: String,
    /// The distribution.
    #[serde(default, deserialize_with = "null_default")]
    pub distribution: String,
    /// The slug, for public images.
    #[serde(default)]
    pub slug: Option<String>,
    /// Whether it is public.
    #[serde(default)]
    pub public: bool,
    /// Regions it is available in.
    #[serde(default, deserialize_with = "null_default")]
    pub regions: Vec<String>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// The smallest disk it fits, in GB.
    #[serde(default)]
    pub min_disk_size: Option<u64>,
    /// Its size in GB.
    #[serde(default)]
    pub size_gigabytes: Option<f64>,
    /// A description.
    #[serde(default)]
    pub description: Option<String>,
    /// Tags.
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// `available`, `pending`, ….
    #[serde(default)]
    pub status: Option<String>,
    /// Why it failed, if it did.
    #[serde(default)]
    pub error_message: Option<String>,
}

/// A droplet's networks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Networks {
    /// IPv4 interfaces.
    #[serde(default, deserialize_with = "null_default")]
    pub v4: Vec<NetworkV4>,
    /// IPv6 interfaces.
    #[serde(default, deserialize_with = "null_default")]
    pub v6: Vec<NetworkV6>,
}

/// An IPv4 interface.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkV4 {
    /// The address.
    #[serde(default, deserialize_with = "null_default")]
    pub ip_address: String,
    /// The netmask (`255.255.240.0`).
    #[serde(default, deserialize_with = "null_default")]
    pub netmask: String,
    /// The gateway.
    #[serde(default, deserialize_with = "null_default")]
    pub gateway: String,
    /// `public` or `private`.
    #[serde(default, rename = "type", deserialize_with = "null_default")]
    pub r#type: String,
}

/// An IPv6 interface.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkV6 {
    /// The address.
    #[serde(default, deserialize_with = "null_default")]
    pub ip_address: String,
    /// The prefix length.
    #[serde(default)]
    pub netmask: u32,
    /// The gateway.
    #[serde(default, deserialize_with = "null_default")]
    pub gateway: String,
    /// `public`.
    #[serde(default, rename = "type", deserialize_with = "null_default")]
    pub r#type: String,
}

/// The image to build a droplet from: a slug or an id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum DropletImage {
    /// A public image's slug (`ubuntu-24-04-x64`).
    Slug(String),
    /// An image id.
    Id(u64),
}

impl From<&str> for DropletImage {
    fn from(slug: &str) -> Self {
        DropletImage::Slug(slug.to_owned())
    }
}

impl From<String> for DropletImage {
    fn from(slug: String) -> Self {
        DropletImage::Slug(slug)
    }
}

impl From<u64> for DropletImage {
    fn from(id: u64) -> Self {
        DropletImage::Id(id)
    }
}

/// An SSH key to install: an id or a fingerprint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SshKey {
    /// The key's id.
    Id(u64),
    /// The key's fingerprint.
    Fingerprint(String),
}

/// `POST /v2/droplets` for one droplet. Fields left unset are not sent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DropletCreate {
    /// The name.
    pub name: String,
    /// The region slug; unset lets DigitalOcean choose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The size slug.
    pub size: String,
    /// The image.
    pub image: DropletImage,
    /// SSH keys to install.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh_keys: Vec<SshKey>,
    /// Whether to enable backups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backups: Option<bool>,
    /// The backup policy (`{"plan": "weekly", "weekday": "SUN", "hour": 8}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_policy: Option<serde_json::Value>,
    /// Whether to enable IPv6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<bool>,
    /// Whether to install the monitoring agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<bool>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Cloud-init user data (at most 64 KiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// Deprecated: private networking is always on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_networking: Option<bool>,
    /// Ids of volumes to attach.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// The VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_uuid: Option<String>,
    /// Whether to install the droplet agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_droplet_agent: Option<bool>,
    /// Whether to give the droplet a public IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_networking: Option<bool>,
}

impl DropletCreate {
    /// A droplet called `name` of size `size` from `image`; everything else is DigitalOcean's default.
    pub fn new(
        name: impl Into<String>,
        size: impl Into<String>,
        image: impl Into<DropletImage>,
    ) -> Self {
        DropletCreate {
            name: name.into(),
            region: None,
            size: size.into(),
            image: image.into(),
            ssh_keys: Vec::new(),
            backups: None,
            backup_policy: None,
            ipv6: None,
            monitoring: None,
            tags: Vec::new(),
            user_data: None,
            private_networking: None,
            volumes: Vec::new(),
            vpc_uuid: None,
            with_droplet_agent: None,
            public_networking: None,
        }
    }

    /// The region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Tags.
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// One more tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// SSH keys.
    pub fn ssh_keys(mut self, ssh_keys: Vec<SshKey>) -> Self {
        self.ssh_keys = ssh_keys;
        self
    }

    /// Volumes to attach at creation.
    pub fn volumes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, volume_ids: I) -> Self {
        self.volumes = volume_ids.into_iter().map(Into::into).collect();
        self
    }

    /// Cloud-init user data.
    pub fn user_data(mut self, user_data: impl Into<String>) -> Self {
        self.user_data = Some(user_data.into());
        self
    }

    /// Backups on or off.
    pub fn backups(mut self, backups: bool) -> Self {
        self.backups = Some(backups);
        self
    }

    /// IPv6 on or off.
    pub fn ipv6(mut self, ipv6: bool) -> Self {
        self.ipv6 = Some(ipv6);
        self
    }

    /// Monitoring on or off.
    pub fn monitoring(mut self, monitoring: bool) -> Self {
        self.monitoring = Some(monitoring);
        self
    }

    /// The VPC.
    pub fn vpc_uuid(mut self, vpc_uuid: impl Into<String>) -> Self {
        self.vpc_uuid = Some(vpc_uuid.into());
        self
    }
}

/// What a create returns: the new resource and the links DigitalOcean sends with it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Created<T> {
    /// The resource as created (a droplet starts `new`).
    pub resource: T,
    /// The actions started by the create; wait on them with [`Client::wait_for_action`].
    pub actions: Vec<ActionLink>,
    /// Every link in the response.
    pub links: Links,
}

impl<T: serde::de::DeserializeOwned + Clone + 'static> Created<T> {
    /// A create's 202: the resource under `key` and, beside it, the `links` to its actions.
    pub(crate) fn decode(
        response: &http::Response<bytes::Bytes>,
        key: &str,
    ) -> Result<Created<T>, Error> {
        let (resource, links): (T, Option<Links>) = decode_keys(response, key, Some("links"))?;
        let links = links.unwrap_or_default();
        Ok(Created {
            resource,
            actions: links.actions.clone(),
            links,
        })
    }
}

impl<T> Created<T> {
    /// The first action's id (the `create` action of a single droplet).
    pub fn action_id(&self) -> Option<u64> {
        self.actions.first().map(|a| a.id)
    }
}

/// A droplet action's body: `{"type": "power_off"}`, `{"type": "resize", "size": "s-2vcpu-4gb", "disk": true}`, ….
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DropletAction {
    /// The action type.
    #[serde(rename = "type")]
    pub r#type: String,
    /// Extra fields of the type (`name`, `size`, `disk`, `image`, …).
    #[serde(flatten)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl DropletAction {
    /// An action of `type` with no parameters.
    pub fn new(r#type: impl Into<String>) -> Self {
        DropletAction {
            r#type: r#type.into(),
            params: serde_json::Map::new(),
        }
    }

    /// Adds a parameter.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.params.insert(name.into(), value.into());
        self
    }
}

/// `client.droplets()`.
pub struct DropletsService<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> DropletsService<'a> {
    /// `POST /v2/droplets`: starts creating one droplet. The response (202) is the droplet in state
    /// `new` and its `create` action.
    pub async fn create(&self, request: &DropletCreate) -> Result<Created<Droplet>, Error> {
        let response = self
            .client
            .execute_json(Method::POST, "/v2/droplets", request)
            .await?;
        Created::decode(&response, "droplet")
    }

    /// `POST /v2/droplets` with `names`: up to ten droplets alike but for their names.
    /// `template.name` is ignored.
    pub async fn create_multiple<I, S>(
        &self,
        names: I,
        template: &DropletCreate,
    ) -> Result<Created<Vec<Droplet>>, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.is_empty() || names.len() > DROPLET_NAMES_MAX {
            return Err(Error::InvalidArgument(format!(
                "create_multiple takes 1 to {DROPLET_NAMES_MAX} names, not {}",
                names.len()
            )));
        }
        let mut body = match serde_json::to_value(template) {
            Ok(serde_json::Value::Object(body)) => body,
            _ => {
                return Err(Error::InvalidArgument(
                    "the droplet template is not a JSON object".to_owned(),
                ))
            }
        };
        body.remove("name");
        body.insert("names".to_owned(), names.into());
        let response = self
            .client
            .execute_json(Method::POST, "/v2/droplets", &body)
            .await?;
        Created::decode(&response, "droplets")
    }

    /// `GET /v2/droplets/{droplet_id}`.
    pub async fn get(&self, droplet_id: u64) -> Result<Droplet, Error> {
        self.client
            .get(&format!("/v2/droplets/{droplet_id}"), "droplet")
            .await
    }

    /// `GET /v2/droplets`, filtered with `.tag(..)` or `.name(..)`.
    pub fn list(&self) -> List<'a, Droplet> {
        List::new(self.client, "/v2/droplets".to_owned(), "droplets")
    }

    /// `DELETE /v2/droplets/{droplet_id}`.
    pub async fn delete(&self, droplet_id: u64) -> Result<(), Error> {
        self.client
            .delete(&format!("/v2/droplets/{droplet_id}"))
            .await
    }

    /// `DELETE /v2/droplets?tag_name=…`: every droplet with the tag.
    pub async fn delete_by_tag(&self, tag: &str) -> Result<(), Error> {
        if tag.is_empty() {
            return Err(Error::InvalidArgument(
                "delete_by_tag needs a tag".to_owned(),
            ));
        }
        self.client
            .delete(&with_query("/v2/droplets", &[("tag_name", tag.to_owned())]))
            .await
    }

    /// `GET /v2/droplets/{droplet_id}/actions`.
    pub fn actions(&self, droplet_id: u64) -> List<'a, Action> {
        List::new(
            self.client,
            format!("/v2/droplets/{droplet_id}/actions"),
            "actions",
        )
    }

    /// `GET /v2/droplets/{droplet_id}/actions/{action_id}`.
    pub async fn action(&self, droplet_id: u64, action_id: u64) -> Result<Action, Error> {
        self.client
            .get(
                &format!("/v2/droplets/{droplet_id}/actions/{action_id}"),
                "action",
            )
            .await
    }

    /// `POST /v2/droplets/{droplet_id}/actions` with any action body.
    pub async fn post_action(
        &self,
        droplet_id: u64,
        action: &DropletAction,
    ) -> Result<Action, Error> {
        self.client
            .send_json(
                Method::POST,
                &format!("/v2/droplets/{droplet_id}/actions"),
                action,
                "action",
            )
            .await
    }

    /// Hard power off.
    pub async fn power_off(&self, droplet_id: u64) -> Result<Action, Error> {
        self.post_action(droplet_id, &DropletAction::new("power_off"))
            .await
    }

    /// Power on.
    pub async fn power_on(&self, droplet_id: u64) -> Result<Action, Error> {
        self.post_action(droplet_id, &DropletAction::new("power_on"))
            .await
    }

    /// Graceful shutdown; DigitalOcean guarantees the command is issued, not that it succeeds.
    pub async fn shutdown(&self, droplet_id: u64) -> Result<Action, Error> {
        self.post_action(droplet_id, &DropletAction::new("shutdown"))
            .await
    }

    /// Graceful reboot.
    pub async fn reboot(&self, droplet_id: u64) -> Result<Action, Error> {
        self.post_action(droplet_id, &DropletAction::new("reboot"))
            .await
    }

    /// Hard power cycle.
    pub async fn power_cycle(&self, droplet_id: u64) -> Result<Action, Error> {
        self.post_action(droplet_id, &DropletAction::new("power_cycle"))
            .await
    }

    /// Renames the droplet.
    pub async fn rename(&self, droplet_id: u64, name: &str) -> Result<Action, Error> {
        self.post_action(
            droplet_id,
            &DropletAction::new("rename").param("name", name),
        )
        .await
    }

    /// Resizes to `size`; `disk: true` also grows the disk (which cannot be undone).
    pub async fn resize(&self, droplet_id: u64, size: &str, disk: bool) -> Result<Action, Error> {
        self.post_action(
            droplet_id,
            &DropletAction::new("resize")
                .param("size", size)
                .param("disk", disk),
        )
        .await
    }

    /// `POST /v2/droplets/actions?tag_name=…`: one action (`power_off`, `power_on`, `power_cycle`,
    /// `shutdown`, `enable_ipv6`, `enable_backups`, `disable_backups`, `snapshot`) on every droplet with the tag.
    pub async fn actions_by_tag(&self, tag: &str, r#type: &str) -> Result<Vec<Action>, Error> {
        let path = with_query("/v2/droplets/actions", &[("tag_name", tag.to_owned())]);
        let response = self
            .client
            .execute_json(Method::POST, &path, &DropletAction::new(r#type))
            .await?;
        decode_key(&response, "actions")
    }
}

impl<'a> List<'a, Droplet> {
    /// Only droplets with this tag (`tag_name`); cannot be combined with `name`.
    pub fn tag(self, tag: &str) -> Self {
        self.param("tag_name", tag)
    }

    /// Only droplets with exactly this name, case-insensitive; cannot be combined with `tag`.
    pub fn name(self, name: &str) -> Self {
        self.param("name", name)
    }

    /// `droplets` (the default) or `gpus`.
    pub fn r#type(self, r#type: &str) -> Self {
        self.param("type", r#type)
    }
}
