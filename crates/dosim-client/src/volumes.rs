//! Block storage volumes: the wire types and the volumes service (create, list, delete, actions).

use std::sync::Arc;

use http::Method;
use serde::{Deserialize, Serialize};

use crate::actions::Action;
use crate::client::{encode, with_query, Client, List};
use crate::collection::Collection;
use crate::common::{null_default, Region};
use crate::error::Error;
use crate::time::Timestamp;

/// A block storage volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// The volume's id (a UUID).
    pub id: String,
    /// The region, shared with every resource the client read the same region object for.
    #[serde(default, deserialize_with = "crate::catalogue::remembered")]
    pub region: Option<Arc<Region>>,
    /// The droplet it is attached to, if any (at most one).
    #[serde(default, deserialize_with = "null_default")]
    pub droplet_ids: Vec<u64>,
    /// The name, unique per region.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// A description.
    #[serde(default, deserialize_with = "null_default")]
    pub description: String,
    /// Size in GiB.
    #[serde(default)]
    pub size_gigabytes: u64,
    /// When it was created .
    #[serde(default, deserialize_with = "null_default")]
    pub created_at: Timestamp,
    /// `ext4`, `xfs`, or empty.
    #[serde(default, deserialize_with = "null_default")]
    pub filesystem_type: String,
    /// The filesystem label.
    #[serde(default, deserialize_with = "null_default")]
    pub filesystem_label: String,
    /// Tags.
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
}

impl Volume {
    /// The region's slug.
    pub fn region_slug(&self) -> Option<&str> {
        self.region.as_ref().map(|r| r.slug.as_str())
    }

    /// The droplet it is attached to.
    pub fn droplet_id(&self) -> Option<u64> {
        self.droplet_ids.first().copied()
    }
}

/// `POST /v2/volumes`. Fields left unset are not sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VolumeCreate {
    /// Lowercase letters, digits and `-`, starting with a letter, at most 64 characters; unique per region.
    pub name: String,
    /// Size in GiB, 1 to 16384.
    pub size_gigabytes: u64,
    /// The region slug.
    pub region: String,
    /// A description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A snapshot to create the volume from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// `ext4` or `xfs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystem_type: Option<String>,
    /// The filesystem label (ext4 at most 16 characters, xfs 12).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystem_label: Option<String>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

impl VolumeCreate {
    /// A volume called `name` in `region` of `size_gigabytes` GiB.
    pub fn new(name: impl Into<String>, region: impl Into<String>, size_gigabytes: u64) -> Self {
        VolumeCreate {
            name: name.into(),
            size_gigabytes,
            region: region.into(),
            description: None,
            snapshot_id: None,
            filesystem_type: None,
            filesystem_label: None,
            tags: None,
        }
    }

    /// A description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Tags.
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags = Some(tags.into_iter().map(Into::into).collect());
        self
    }

    /// Format the volume with `filesystem_type` (`ext4` or `xfs`).
    pub fn filesystem(mut self, filesystem_type: impl Into<String>) -> Self {
        self.filesystem_type = Some(filesystem_type.into());
        self
    }

    /// The filesystem label.
    pub fn filesystem_label(mut self, filesystem_label: impl Into<String>) -> Self {
        self.filesystem_label = Some(filesystem_label.into());
        self
    }

    /// Create from a snapshot.
    pub fn snapshot_id(mut self, snapshot_id: impl Into<String>) -> Self {
        self.snapshot_id = Some(snapshot_id.into());
        self
    }
}

/// A volume action's body.
#[derive(Serialize)]
struct VolumeActionBody<'b> {
    #[serde(rename = "type")]
    r#type: &'b str,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume_name: Option<&'b str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    droplet_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_gigabytes: Option<u64>,
    region: &'b str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<&'b [String]>,
}

impl<'b> VolumeActionBody<'b> {
    /// An `attach` or `detach` of the volume to or from `droplet_id`, in `region`.
    fn droplet(r#type: &'b str, droplet_id: u64, region: &'b str) -> Self {
        VolumeActionBody {
            r#type,
            volume_name: None,
            droplet_id: Some(droplet_id),
            size_gigabytes: None,
            region,
            tags: None,
        }
    }
}

/// `client.volumes()`.
pub struct VolumesService<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> VolumesService<'a> {
    fn collection(&self) -> Collection<'a> {
        Collection::new(self.client, "/v2/volumes", "volume", "volumes")
    }

    /// `POST /v2/volumes` (201). A name already used in the region is a 409.
    pub async fn create(&self, request: &VolumeCreate) -> Result<Volume, Error> {
        self.collection().create(request).await
    }

    /// `GET /v2/volumes/{volume_id}`.
    pub async fn get(&self, volume_id: &str) -> Result<Volume, Error> {
        self.collection().get(volume_id).await
    }

    /// `GET /v2/volumes`, filtered with `.name(..)` and `.region(..)`.
    pub fn list(&self) -> List<'a, Volume> {
        self.collection().list()
    }

    /// `DELETE /v2/volumes/{volume_id}`. An attached volume is a 409.
    pub async fn delete(&self, volume_id: &str) -> Result<(), Error> {
        self.collection().delete(volume_id).await
    }

    /// `DELETE /v2/volumes?name=…&region=…`.
    pub async fn delete_by_name(&self, name: &str, region: &str) -> Result<(), Error> {
        let path = with_query(
            "/v2/volumes",
            &[("name", name.to_owned()), ("region", region.to_owned())],
        );
        self.client.delete(&path).await
    }

    async fn post_action(
        &self,
        volume_id: &str,
        body: &VolumeActionBody<'_>,
    ) -> Result<Action, Error> {
        self.client
            .send_json(
                Method::POST,
                &format!("/v2/volumes/{}/actions", encode(volume_id)),
                body,
                "action",
            )
            .await
    }

    async fn post_action_by_name(&self, body: &VolumeActionBody<'_>) -> Result<Action, Error> {
        self.client
            .send_json(Method::POST, "/v2/volumes/actions", body, "action")
            .await
    }

    /// Attaches the volume to a droplet in the same region (202).
    pub async fn attach(
        &self,
        volume_id: &str,
        droplet_id: u64,
        region: &str,
    ) -> Result<Action, Error> {
        let body = VolumeActionBody::droplet("attach", droplet_id, region);
        self.post_action(volume_id, &body).await
    }

    /// Attaches the volume and tags it with `tags` (202).
    pub async fn attach_with_tags(
        &self,
        volume_id: &str,
        droplet_id: u64,
        region: &str,
        tags: &[String],
    ) -> Result<Action, Error> {
        let body = VolumeActionBody {
            tags: Some(tags),
            ..VolumeActionBody::droplet("attach", droplet_id, region)
        };
        self.post_action(volume_id, &body).await
    }

    /// Detaches the volume from the droplet (202).
    pub async fn detach(
        &self,
        volume_id: &str,
        droplet_id: u64,
        region: &str,
    ) -> Result<Action, Error> {
        let body = VolumeActionBody::droplet("detach", droplet_id, region);
        self.post_action(volume_id, &body).await
    }

    /// Grows the volume to `size_gigabytes` GiB (202); volumes only grow.
    pub async fn resize(
        &self,
        volume_id: &str,
        size_gigabytes: u64,
        region: &str,
    ) -> Result<Action, Error> {
        let body = VolumeActionBody {
            r#type: "resize",
            volume_name: None,
            droplet_id: None,
            size_gigabytes: Some(size_gigabytes),
            region,
            tags: None,
        };
        self.post_action(volume_id, &body).await
    }

    /// Attaches the volume named `name` in `region` (`POST /v2/volumes/actions`).
    pub async fn attach_by_name(
        &self,
        name: &str,
        droplet_id: u64,
        region: &str,
    ) -> Result<Action, Error> {
        let body = VolumeActionBody {
            volume_name: Some(name),
            ..VolumeActionBody::droplet("attach", droplet_id, region)
        };
        self.post_action_by_name(&body).await
    }

    /// Detaches the volume named `name` in `region` (`POST /v2/volumes/actions`).
    pub async fn detach_by_name(
        &self,
        name: &str,
        droplet_id: u64,
        region: &str,
    ) -> Result<Action, Error> {
        let body = VolumeActionBody {
            volume_name: Some(name),
            ..VolumeActionBody::droplet("detach", droplet_id, region)
        };
        self.post_action_by_name(&body).await
    }

    /// `GET /v2/volumes/{volume_id}/actions`.
    pub fn actions(&self, volume_id: &str) -> List<'a, Action> {
        List::new(
            self.client,
            format!("/v2/volumes/{}/actions", encode(volume_id)),
            "actions",
        )
    }

    /// `GET /v2/volumes/{volume_id}/actions/{action_id}`.
    pub async fn action(&self, volume_id: &str, action_id: u64) -> Result<Action, Error> {
        self.client
            .get(
                &format!("/v2/volumes/{}/actions/{action_id}", encode(volume_id)),
                "action",
            )
            .await
    }
}

impl<'a> List<'a, Volume> {
    /// Only volumes with this name (in any region unless `.region(..)` is set too).
    pub fn name(self, name: &str) -> Self {
        self.param("name", name)
    }

    /// Only volumes in this region.
    pub fn region(self, region: &str) -> Self {
        self.param("region", region)
    }
}
