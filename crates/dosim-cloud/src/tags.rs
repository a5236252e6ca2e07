//! Tags: the account's named labels, created on their own or by the first resource that carries
//! them, and attached to and detached from droplets, volumes and database clusters.
//!
//! A resource's own `tags` list says which tags it carries; the registry here says which tags
//! exist, in their canonical capitalization (the first one used), and which resource of each kind
//! was tagged last, for the `last_tagged_uri` DigitalOcean reports.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::validate::{TAGS_MAX, TAG_LEN_MAX};
use crate::{Cloud, DatabaseId, DropletId, Error, SimTime, VolumeId};

/// The kinds of resource dosim can tag, in the order DigitalOcean's tag object lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaggedKind {
    /// A droplet.
    Droplet,
    /// A block storage volume.
    Volume,
    /// A database cluster.
    Database,
}

impl TaggedKind {
    /// The `resource_type` a tag request names it with.
    pub fn resource_type(self) -> &'static str {
        match self {
            TaggedKind::Droplet => "droplet",
            TaggedKind::Volume => "volume",
            TaggedKind::Database => "database",
        }
    }
}

/// One resource to tag or untag, as `POST /v2/tags/{tag}/resources` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagTarget {
    /// `resource_type`: `droplet`, `volume`, `database`, `image` or `volume_snapshot`.
    pub resource_type: String,
    /// `resource_id`: a droplet's number, a volume's or cluster's UUID, as a string.
    pub resource_id: String,
}

/// What the registry remembers of one tag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TagRecord {
    /// The id of the last resource of each kind given the tag.
    last_tagged: BTreeMap<TaggedKind, String>,
    /// The kind of the last resource given the tag.
    last_kind: Option<TaggedKind>,
}

/// The resources of one kind that carry a tag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TaggedCount {
    /// How many.
    pub count: usize,
    /// The id of the last one tagged, if any carries the tag.
    pub last_tagged: Option<String>,
}

/// A tag as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tag {
    /// The canonical name.
    pub name: String,
    /// Every kind, with its count and last tagged resource.
    pub resources: BTreeMap<TaggedKind, TaggedCount>,
    /// The kind and id of the last resource tagged among those that still carry it.
    pub last_tagged: Option<(TaggedKind, String)>,
}

impl Tag {
    /// How many resources carry the tag.
    pub fn count(&self) -> usize {
        self.resources.values().map(|r| r.count).sum()
    }
}

/// A resource found for a tag request.
enum Found {
    Droplet(DropletId),
    Volume(VolumeId),
    Database(DatabaseId),
}

impl Cloud {
    /// The tag whose canonical name matches `name` without regard to case, if it exists.
    fn canonical_tag(&self, name: &str) -> Option<&str> {
        self.tags
            .keys()
            .find(|known| known.eq_ignore_ascii_case(name))
            .map(String::as_str)
    }

    /// Registers the tags a new resource is created with: each takes the canonical capitalization
    /// of a tag that already exists, or becomes a tag; the resource becomes its kind's last tagged.
    /// The names were checked by the caller.
    pub(crate) fn adopt_tags(&mut self, kind: TaggedKind, id: &str, tags: &mut Vec<String>) {
        for tag in tags.iter_mut() {
            if let Some(canonical) = self.canonical_tag(tag) {
                *tag = canonical.to_owned();
            }
            let record = self.tags.entry(tag.clone()).or_default();
            record.last_tagged.insert(kind, id.to_owned());
            record.last_kind = Some(kind);
        }
        let mut seen = Vec::with_capacity(tags.len());
        tags.retain(|tag| {
            let fresh = !seen.contains(tag);
            seen.push(tag.clone());
            fresh
        });
    }

    /// `POST /v2/tags`: creates a tag, or returns the one that exists under any capitalization.
    pub fn create_tag(&mut self, now: SimTime, name: &str) -> Result<Tag, Error> {
        self.enter(now, |cloud| {
            check_tag_name(name)?;
            let canonical = match cloud.canonical_tag(name) {
                Some(known) => known.to_owned(),
                None => {
                    cloud.tags.insert(name.to_owned(), TagRecord::default());
                    name.to_owned()
                }
            };
            Ok(cloud.tag_view(&canonical))
        })
    }

    /// `GET /v2/tags`: every tag, by name.
    pub fn tags(&mut self, now: SimTime) -> Vec<Tag> {
        self.enter(now, |cloud| {
            let names: Vec<String> = cloud.tags.keys().cloned().collect();
            names.iter().map(|name| cloud.tag_view(name)).collect()
        })
    }

    /// `GET /v2/tags/{tag}`: one tag, by its canonical name; 404 otherwise.
    pub fn tag(&mut self, now: SimTime, name: &str) -> Result<Tag, Error> {
        self.enter(now, |cloud| {
            if !cloud.tags.contains_key(name) {
                return Err(Error::not_found());
            }
            Ok(cloud.tag_view(name))
        })
    }

    /// `DELETE /v2/tags/{tag}`: removes the tag from every resource, then the tag.
    pub fn delete_tag(&mut self, now: SimTime, name: &str) -> Result<(), Error> {
        self.enter(now, |cloud| {
            if cloud.tags.remove(name).is_none() {
                return Err(Error::not_found());
            }
            let drop_tag = |tags: &mut Vec<String>| tags.retain(|t| t != name);
            cloud
                .droplets
                .values_mut()
                .for_each(|d| drop_tag(&mut d.tags));
            cloud
                .volumes
                .values_mut()
                .for_each(|v| drop_tag(&mut v.tags));
            cloud
                .databases
                .values_mut()
                .for_each(|d| drop_tag(&mut d.tags));
            Ok(())
        })
    }

    /// `POST /v2/tags/{tag}/resources`: tags each resource; all are checked before any is tagged.
    pub fn tag_resources(
        &mut self,
        now: SimTime,
        name: &str,
        targets: &[TagTarget],
    ) -> Result<(), Error> {
        self.enter(now, |cloud| {
            let found = cloud.find_targets(name, targets)?;
            for (target, resource) in targets.iter().zip(&found) {
                let tags = cloud.tags_of(resource);
                if tags.iter().any(|t| t == name) {
                    continue;
                }
                if tags.len() >= TAGS_MAX {
                    return Err(Error::unprocessable(format!(
                        "tags: {} {} already carries {TAGS_MAX} tags, the most a resource may carry",
                        target.resource_type, target.resource_id
                    )));
                }
            }
            for (target, resource) in targets.iter().zip(found) {
                let kind = resource.kind();
                let tags = cloud.tags_of_mut(&resource);
                if tags.iter().any(|t| t == name) {
                    continue;
                }
                tags.push(name.to_owned());
                let record = cloud.tags.get_mut(name).expect("find_targets checked the tag");
                record
                    .last_tagged
                    .insert(kind, target.resource_id.clone());
                record.last_kind = Some(kind);
            }
            Ok(())
        })
    }

    /// `DELETE /v2/tags/{tag}/resources`: untags each resource; all are checked before any is untagged.
    pub fn untag_resources(
        &mut self,
        now: SimTime,
        name: &str,
        targets: &[TagTarget],
    ) -> Result<(), Error> {
        self.enter(now, |cloud| {
            let found = cloud.find_targets(name, targets)?;
            for resource in found {
                cloud.tags_of_mut(&resource).retain(|t| t != name);
            }
            Ok(())
        })
    }

    /// Checks a tag request: the tag exists under its canonical name, the list is not empty, and
    /// every resource exists; returns them in order.
    fn find_targets(&self, name: &str, targets: &[TagTarget]) -> Result<Vec<Found>, Error> {
        if !self.tags.contains_key(name) {
            return Err(Error::not_found());
        }
        if targets.is_empty() {
            return Err(Error::bad_request(
                "resources: at least one resource is required",
            ));
        }
        if targets.len() > TAG_TARGETS_MAX {
            return Err(Error::bad_request(format!(
                "resources: at most {TAG_TARGETS_MAX} resources may be given"
            )));
        }
        targets
            .iter()
            .map(|target| {
                let id = target.resource_id.as_str();
                match target.resource_type.as_str() {
                    "droplet" => id
                        .parse::<u64>()
                        .ok()
                        .map(DropletId)
                        .filter(|d| self.droplets.contains_key(d))
                        .map(Found::Droplet),
                    "volume" => VolumeId::parse(id)
                        .filter(|v| self.volumes.contains_key(v))
                        .map(Found::Volume),
                    "database" => DatabaseId::parse(id)
                        .filter(|d| self.databases.contains_key(d))
                        .map(Found::Database),
                    // Images and volume snapshots are taggable on DigitalOcean; dosim has none,
                    // so any id names a resource that does not exist.
                    "image" | "volume_snapshot" => None,
                    other => {
                        return Err(Error::bad_request(format!(
                            "resource_type: {other:?} is not one of droplet, database, image, volume, volume_snapshot"
                        )))
                    }
                }
                .ok_or_else(Error::not_found)
            })
            .collect()
    }

    fn tags_of(&self, resource: &Found) -> &Vec<String> {
        match resource {
            Found::Droplet(id) => &self.droplets[id].tags,
            Found::Volume(id) => &self.volumes[id].tags,
            Found::Database(id) => &self.databases[id].tags,
        }
    }

    fn tags_of_mut(&mut self, resource: &Found) -> &mut Vec<String> {
        match resource {
            Found::Droplet(id) => &mut self.droplets.get_mut(id).expect("found").tags,
            Found::Volume(id) => &mut self.volumes.get_mut(id).expect("found").tags,
            Found::Database(id) => &mut self.databases.get_mut(id).expect("found").tags,
        }
    }

    /// A tag's view: per kind, the resources that carry it; the last tagged is the one the
    /// registry remembers if it still carries the tag, else the last (by id order) that does.
    fn tag_view(&self, name: &str) -> Tag {
        let record = self.tags.get(name).cloned().unwrap_or_default();
        let carriers: [(TaggedKind, Vec<String>); 3] = [
            (
                TaggedKind::Droplet,
                carrying(
                    self.droplets.values(),
                    name,
                    |d| &d.tags,
                    |d| d.id.0.to_string(),
                ),
            ),
            (
                TaggedKind::Volume,
                carrying(
                    self.volumes.values(),
                    name,
                    |v| &v.tags,
                    |v| v.id.to_string(),
                ),
            ),
            (
                TaggedKind::Database,
                carrying(
                    self.databases.values(),
                    name,
                    |d| &d.tags,
                    |d| d.id.to_string(),
                ),
            ),
        ];
        let mut resources = BTreeMap::new();
        for (kind, ids) in carriers {
            let last_tagged = match record.last_tagged.get(&kind) {
                Some(id) if ids.contains(id) => Some(id.clone()),
                _ => ids.last().cloned(),
            };
            resources.insert(
                kind,
                TaggedCount {
                    count: ids.len(),
                    last_tagged,
                },
            );
        }
        let last_of = |kind: TaggedKind| resources[&kind].last_tagged.clone().map(|id| (kind, id));
        let last_tagged = record
            .last_kind
            .and_then(last_of)
            .or_else(|| resources.keys().rev().find_map(|kind| last_of(*kind)));
        Tag {
            name: name.to_owned(),
            resources,
            last_tagged,
        }
    }
}

impl Found {
    fn kind(&self) -> TaggedKind {
        match self {
            Found::Droplet(_) => TaggedKind::Droplet,
            Found::Volume(_) => TaggedKind::Volume,
            Found::Database(_) => TaggedKind::Database,
        }
    }
}

/// Checks the name of a tag being created, refusing it as DigitalOcean's tag service does (the
/// spec's example, for invalid characters; dosim's wording, in the same form, for the rest).
fn check_tag_name(name: &str) -> Result<(), Error> {
    let problem = if name.is_empty() {
        "is empty".to_owned()
    } else if name.len() > TAG_LEN_MAX {
        format!("is longer than {TAG_LEN_MAX} characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_'))
    {
        "contains invalid characters".to_owned()
    } else {
        return Ok(());
    };
    Err(Error::bad_request(format!(
        "Error validating resource tag: \"tag-name \\\"{name}\\\" {problem}\""
    )))
}

/// The most resources one tag request may name.
pub const TAG_TARGETS_MAX: usize = 1000;

/// The ids, as text and in the order given, of the resources whose `tags` include `name`.
fn carrying<'r, R: 'r>(
    resources: impl Iterator<Item = &'r R>,
    name: &str,
    tags: fn(&R) -> &Vec<String>,
    id: fn(&R) -> String,
) -> Vec<String> {
    resources
        .filter(|resource| tags(resource).iter().any(|t| t == name))
        .map(id)
        .collect()
}
