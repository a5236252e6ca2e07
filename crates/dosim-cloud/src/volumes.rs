//! Block storage volumes: create, read, list, delete, and volume actions (attach, detach, resize).

use crate::{ActionId, Cloud, DropletId, Error, SimTime, VolumeId};
use serde::Serialize;

/// A block storage volume.
#[derive(Clone, Debug, Serialize)]
pub struct Volume {
    /// The id.
    pub id: VolumeId,
    /// The name, unique within its region.
    pub name: String,
    /// The region slug.
    pub region: String,
    /// The size in GiB.
    pub size_gigabytes: u64,
    /// The description; empty if none was given.
    pub description: String,
    /// `ext4`, `xfs`, or empty.
    pub filesystem_type: String,
    /// The filesystem label; empty if none was given.
    pub filesystem_label: String,
    /// Tags, in the order given.
    pub tags: Vec<String>,
    /// The droplet it is attached to, if any (DigitalOcean's list holds at most one).
    pub droplet_ids: Vec<DropletId>,
    /// When it was created.
    pub created_at: SimTime,
}

/// A volume create request; `""` and `null` from clients should arrive here as `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeCreate {
    /// The name.
    pub name: String,
    /// The size in GiB, 1 to 16384; signed so that a negative value gets DigitalOcean's error, not a parse failure.
    pub size_gigabytes: i64,
    /// The region slug.
    pub region: String,
    /// An optional description.
    pub description: Option<String>,
    /// A snapshot to create from; dosim has no snapshots, so any id is unknown.
    pub snapshot_id: Option<String>,
    /// `ext4` or `xfs`.
    pub filesystem_type: Option<String>,
    /// The filesystem label; needs `filesystem_type`.
    pub filesystem_label: Option<String>,
    /// Tags to apply.
    pub tags: Vec<String>,
}

/// Filters for listing volumes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeFilter {
    /// Only volumes with this exact name.
    pub name: Option<String>,
    /// Only volumes in this region.
    pub region: Option<String>,
}

/// Which volume a volume action targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeActionTarget {
    /// `POST /v2/volumes/{id}/actions`.
    Id(VolumeId),
    /// `POST /v2/volumes/actions` with `volume_name`; a missing region means the droplet's region.
    Name {
        /// The volume's name.
        name: String,
        /// The volume's region.
        region: Option<String>,
    },
}

/// A volume action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeAction {
    /// `attach` to a droplet.
    Attach {
        /// The droplet.
        droplet_id: DropletId,
    },
    /// `detach` from a droplet.
    Detach {
        /// The droplet.
        droplet_id: DropletId,
    },
    /// `resize` upwards.
    Resize {
        /// The new size in GiB.
        size_gigabytes: i64,
    },
}

/// The largest volume, in GiB.
pub const VOLUME_SIZE_GIGABYTES_MAX: i64 = 16_384;

impl Cloud {
    /// Creates a volume; it is usable at once (volumes have no create action).
    pub fn create_volume(&mut self, now: SimTime, req: VolumeCreate) -> Result<Volume, Error> {
        todo!("{now:?} {req:?}")
    }

    /// One volume.
    pub fn volume(&mut self, now: SimTime, id: VolumeId) -> Result<Volume, Error> {
        self.advance(now);
        self.volumes.get(&id).cloned().ok_or_else(Error::not_found)
    }

    /// The volumes matching `filter`, oldest first.
    pub fn volumes(&mut self, now: SimTime, filter: VolumeFilter) -> Vec<Volume> {
        self.advance(now);
        self.volumes
            .values()
            .filter(|v| {
                filter.name.as_ref().is_none_or(|n| &v.name == n)
                    && filter.region.as_ref().is_none_or(|r| &v.region == r)
            })
            .cloned()
            .collect()
    }

    /// Deletes a detached volume.
    pub fn delete_volume(&mut self, now: SimTime, id: VolumeId) -> Result<(), Error> {
        todo!("{now:?} {id:?}")
    }

    /// Deletes the detached volume named `name` in `region`.
    pub fn delete_volume_by_name(
        &mut self,
        now: SimTime,
        name: &str,
        region: &str,
    ) -> Result<(), Error> {
        todo!("{now:?} {name:?} {region:?}")
    }

    /// Starts a volume action.
    pub fn volume_action(
        &mut self,
        now: SimTime,
        target: VolumeActionTarget,
        action: VolumeAction,
    ) -> Result<ActionId, Error> {
        todo!("{now:?} {target:?} {action:?}")
    }
}
