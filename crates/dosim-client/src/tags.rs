//! Tags: create, list, get, delete, and tagging and untagging resources.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, List};
use crate::collection::Collection;
use crate::common::null_default;
use crate::error::Error;

/// A tag and what carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The name, in its canonical capitalization.
    pub name: String,
    /// What carries it, overall and by kind.
    #[serde(default)]
    pub resources: TaggedResources,
}

/// How many resources carry a tag, and the last one tagged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaggedCount {
    /// How many.
    #[serde(default)]
    pub count: u64,
    /// The URI of the last one tagged; absent when none carries the tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tagged_uri: Option<String>,
}

/// A tag's `resources`: the totals, then each kind's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaggedResources {
    /// Every kind together.
    #[serde(flatten)]
    pub total: TaggedCount,
    /// Droplets.
    #[serde(default, deserialize_with = "null_default")]
    pub droplets: TaggedCount,
    /// Images.
    #[serde(default, deserialize_with = "null_default")]
    pub images: TaggedCount,
    /// Volumes.
    #[serde(default, deserialize_with = "null_default")]
    pub volumes: TaggedCount,
    /// Volume snapshots.
    #[serde(default, deserialize_with = "null_default")]
    pub volume_snapshots: TaggedCount,
    /// Database clusters.
    #[serde(default, deserialize_with = "null_default")]
    pub databases: TaggedCount,
}

/// A resource to tag or untag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagResource {
    /// The id as a string: a droplet's number, a volume's or cluster's UUID.
    pub resource_id: String,
    /// `droplet`, `volume`, `database`, `image` or `volume_snapshot`.
    pub resource_type: String,
}

impl TagResource {
    /// A droplet.
    pub fn droplet(id: u64) -> TagResource {
        TagResource {
            resource_id: id.to_string(),
            resource_type: "droplet".into(),
        }
    }

    /// A volume.
    pub fn volume(id: &str) -> TagResource {
        TagResource {
            resource_id: id.into(),
            resource_type: "volume".into(),
        }
    }

    /// A database cluster.
    pub fn database(id: &str) -> TagResource {
        TagResource {
            resource_id: id.into(),
            resource_type: "database".into(),
        }
    }
}

#[derive(Serialize)]
struct CreateBody<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct ResourcesBody<'a> {
    resources: &'a [TagResource],
}

/// `client.tags()` on `/v2/tags`.
pub struct TagsService<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> TagsService<'a> {
    fn collection(&self) -> Collection<'a> {
        Collection::new(self.client, "/v2/tags", "tag", "tags")
    }

    /// Creates a tag, or returns the one that exists under any capitalization (201 either way).
    pub async fn create(&self, name: &str) -> Result<Tag, Error> {
        self.collection().create(&CreateBody { name }).await
    }

    /// `GET /v2/tags/{name}`, by the canonical name.
    pub async fn get(&self, name: &str) -> Result<Tag, Error> {
        self.collection().get(name).await
    }

    /// `GET /v2/tags`.
    pub fn list(&self) -> List<'a, Tag> {
        self.collection().list()
    }

    /// Deletes the tag, untagging everything that carries it.
    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        self.collection().delete(name).await
    }

    /// Tags each resource (204); nothing is tagged if any is refused.
    pub async fn tag(&self, name: &str, resources: &[TagResource]) -> Result<(), Error> {
        self.resources(Method::POST, name, resources).await
    }

    /// Untags each resource (204).
    pub async fn untag(&self, name: &str, resources: &[TagResource]) -> Result<(), Error> {
        self.resources(Method::DELETE, name, resources).await
    }

    async fn resources(
        &self,
        method: Method,
        name: &str,
        resources: &[TagResource],
    ) -> Result<(), Error> {
        let path = format!("{}/resources", self.collection().item(name));
        let body = ResourcesBody { resources };
        self.client.send_empty(method, &path, &body).await
    }
}
