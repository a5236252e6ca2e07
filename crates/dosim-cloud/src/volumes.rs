//! Block storage volumes: create, read, list, delete, and volume actions (attach, detach, resize).

use crate::actions::Effect;
use crate::cloud::ActionSpec;
use crate::error::msg;
use crate::tags::TaggedKind;
use crate::validate::{check_tags, check_volume_name};
use crate::{
    catalog, ActionId, Cloud, DropletId, Error, ErrorKind, ResourceType, SimTime, VolumeConflictId,
    VolumeId,
};
use serde::{Deserialize, Serialize};

/// A block storage volume.
#[derive(Clone, Debug, Serialize, Deserialize)]
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

/// The longest volume description dosim accepts.
pub const VOLUME_DESCRIPTION_LEN_MAX: usize = 1024;

impl Cloud {
    /// Creates a volume; it is usable at once (volumes have no create action).
    pub fn create_volume(&mut self, now: SimTime, req: VolumeCreate) -> Result<Volume, Error> {
        self.enter(now, |cloud| {
            check_volume_name(&req.name)?;
            if req.snapshot_id.as_deref().is_some_and(|s| !s.is_empty()) {
                // dosim models no snapshots, so every snapshot id is unknown.
                return Err(Error::not_found());
            }
            if !(1..=VOLUME_SIZE_GIGABYTES_MAX).contains(&req.size_gigabytes) {
                return Err(Error::unprocessable(format!(
                    "size_gigabytes: must be between 1 and {VOLUME_SIZE_GIGABYTES_MAX}"
                )));
            }
            let region = catalog::region(&req.region)
                .filter(|r| r.available)
                .ok_or_else(|| {
                    Error::unprocessable(format!("region: {:?} is not a valid region", req.region))
                })?;
            if !region.features.contains(&"storage")
                || cloud
                    .config
                    .regions_without_storage
                    .iter()
                    .any(|r| r == region.slug)
            {
                return Err(Error::unprocessable(msg::STORAGE_UNSUPPORTED));
            }
            let filesystem_type = req.filesystem_type.clone().unwrap_or_default();
            let label_max = match filesystem_type.as_str() {
                "" => 0,
                "ext4" => 16,
                "xfs" => 12,
                other => {
                    return Err(Error::unprocessable(format!(
                        "filesystem_type: {other:?} is not supported; use ext4 or xfs"
                    )))
                }
            };
            let filesystem_label = req.filesystem_label.clone().unwrap_or_default();
            if !filesystem_label.is_empty() {
                if filesystem_type.is_empty() {
                    return Err(Error::unprocessable(
                        "filesystem_label: may only be given together with filesystem_type",
                    ));
                }
                if filesystem_label.len() > label_max {
                    return Err(Error::unprocessable(format!(
                        "filesystem_label: must be at most {label_max} characters for {filesystem_type}"
                    )));
                }
            }
            let description = req.description.clone().unwrap_or_default();
            if description.len() > VOLUME_DESCRIPTION_LEN_MAX {
                return Err(Error::unprocessable(format!(
                    "description: must be at most {VOLUME_DESCRIPTION_LEN_MAX} characters"
                )));
            }
            check_tags(&req.tags)?;
            if cloud
                .volumes
                .values()
                .any(|v| v.name == req.name && v.region == region.slug)
            {
                let mut error = Error::new(ErrorKind::Conflict, msg::VOLUME_NAME_TAKEN);
                if cloud.config.volume_conflict_id == VolumeConflictId::AlreadyExists {
                    error.id_override = Some("already_exists");
                }
                return Err(error);
            }
            if cloud.volumes.len() >= cloud.config.volume_limit as usize {
                return Err(Error::new(ErrorKind::Forbidden, msg::VOLUME_CAPACITY));
            }
            let mut volume = Volume {
                id: VolumeId(cloud.new_uuid()),
                name: req.name,
                region: region.slug.to_string(),
                size_gigabytes: req.size_gigabytes as u64,
                description,
                filesystem_type,
                filesystem_label,
                tags: req.tags,
                droplet_ids: Vec::new(),
                created_at: cloud.now,
            };
            cloud.adopt_tags(TaggedKind::Volume, &volume.id.to_string(), &mut volume.tags);
            cloud.volumes.insert(volume.id, volume.clone());
            Ok(volume)
        })
    }

    /// One volume.
    pub fn volume(&mut self, now: SimTime, id: VolumeId) -> Result<Volume, Error> {
        self.enter(now, |cloud| {
            cloud.volumes.get(&id).cloned().ok_or_else(Error::not_found)
        })
    }

    /// The volumes matching `filter`, oldest first.
    pub fn volumes(&mut self, now: SimTime, filter: VolumeFilter) -> Vec<Volume> {
        self.enter(now, |cloud| {
            cloud
                .volumes
                .values()
                .filter(|v| {
                    filter.name.as_ref().is_none_or(|n| &v.name == n)
                        && filter.region.as_ref().is_none_or(|r| &v.region == r)
                })
                .cloned()
                .collect()
        })
    }

    /// Deletes a detached volume.
    pub fn delete_volume(&mut self, now: SimTime, id: VolumeId) -> Result<(), Error> {
        self.enter(now, |cloud| cloud.remove_detached_volume(id))
    }

    /// Deletes the detached volume named `name` in `region`.
    pub fn delete_volume_by_name(
        &mut self,
        now: SimTime,
        name: &str,
        region: &str,
    ) -> Result<(), Error> {
        self.enter(now, |cloud| {
            let id = cloud
                .volumes
                .values()
                .find(|v| v.name == name && v.region == region)
                .map(|v| v.id)
                .ok_or_else(Error::not_found)?;
            cloud.remove_detached_volume(id)
        })
    }

    fn remove_detached_volume(&mut self, id: VolumeId) -> Result<(), Error> {
        let volume = self.volumes.get(&id).ok_or_else(Error::not_found)?;
        if !volume.droplet_ids.is_empty() {
            return Err(Error::new(ErrorKind::Conflict, msg::VOLUME_ATTACHED_DELETE));
        }
        self.volumes.shift_remove(&id);
        Ok(())
    }

    /// Starts a volume action.
    ///
    /// Attach, detach and resize take effect when the request commits (unless the action was drawn to fail); the action then runs for `volume_action_ms`, holding the droplet locked.
    pub fn volume_action(
        &mut self,
        now: SimTime,
        target: VolumeActionTarget,
        action: VolumeAction,
    ) -> Result<ActionId, Error> {
        self.enter(now, |cloud| {
            let volume_id = cloud.resolve_volume_target(&target, &action)?;
            let volume = &cloud.volumes[&volume_id];
            let region_slug = Some(volume.region.clone());
            let (action_type, locks_droplet) = match &action {
                VolumeAction::Attach { droplet_id } => {
                    let droplet = cloud
                        .droplets
                        .get(droplet_id)
                        .ok_or_else(Error::not_found)?;
                    if volume.droplet_ids.contains(droplet_id) {
                        return Err(Error::unprocessable(msg::VOLUME_ALREADY_ATTACHED));
                    }
                    if !volume.droplet_ids.is_empty() {
                        return Err(Error::unprocessable(msg::VOLUME_ATTACHED_ELSEWHERE));
                    }
                    if droplet.pending_action.is_some() {
                        return Err(Error::unprocessable(msg::DROPLET_PENDING));
                    }
                    if droplet.region != volume.region {
                        return Err(Error::unprocessable(msg::VOLUME_REGION_MISMATCH));
                    }
                    if droplet.volume_ids.len() >= cloud.config.volumes_per_droplet_max as usize {
                        return Err(Error::unprocessable(msg::VOLUME_PER_DROPLET_LIMIT));
                    }
                    ("attach_volume", Some(*droplet_id))
                }
                VolumeAction::Detach { droplet_id } => {
                    let droplet = cloud
                        .droplets
                        .get(droplet_id)
                        .ok_or_else(Error::not_found)?;
                    if !volume.droplet_ids.contains(droplet_id) {
                        return Err(Error::new(ErrorKind::NotFound, msg::VOLUME_NOT_ATTACHED));
                    }
                    if droplet.pending_action.is_some() {
                        return Err(Error::unprocessable(msg::DROPLET_PENDING));
                    }
                    ("detach_volume", Some(*droplet_id))
                }
                VolumeAction::Resize { size_gigabytes } => {
                    if !(1..=VOLUME_SIZE_GIGABYTES_MAX).contains(size_gigabytes) {
                        return Err(Error::unprocessable(format!(
                            "size_gigabytes: must be between 1 and {VOLUME_SIZE_GIGABYTES_MAX}"
                        )));
                    }
                    if *size_gigabytes as u64 <= volume.size_gigabytes {
                        return Err(Error::unprocessable(msg::VOLUME_RESIZE_DOWN));
                    }
                    ("resize", None)
                }
            };
            let spec = ActionSpec {
                action_type,
                resource_id: None,
                resource_type: ResourceType::Volume,
                region_slug,
                project_id: None,
                volume_id: Some(volume_id),
                locks_droplet,
                locks_reserved_ip: None,
                effect: Effect::None,
            };
            let action_id = cloud.start_action(spec, cloud.config.volume_action_ms);
            if cloud.actions[&action_id].fails {
                return Ok(action_id);
            }
            match action {
                VolumeAction::Attach { droplet_id } => {
                    cloud.volumes[&volume_id].droplet_ids = vec![droplet_id];
                    let droplet = cloud.droplets.get_mut(&droplet_id).expect("checked above");
                    droplet.volume_ids.push(volume_id);
                }
                VolumeAction::Detach { droplet_id } => {
                    cloud.volumes[&volume_id]
                        .droplet_ids
                        .retain(|d| *d != droplet_id);
                    let droplet = cloud.droplets.get_mut(&droplet_id).expect("checked above");
                    droplet.volume_ids.retain(|v| *v != volume_id);
                }
                VolumeAction::Resize { size_gigabytes } => {
                    cloud.volumes[&volume_id].size_gigabytes = size_gigabytes as u64;
                }
            }
            Ok(action_id)
        })
    }

    /// Finds the volume an action targets; by name, a missing region means the droplet's.
    fn resolve_volume_target(
        &self,
        target: &VolumeActionTarget,
        action: &VolumeAction,
    ) -> Result<VolumeId, Error> {
        match target {
            VolumeActionTarget::Id(id) => {
                if self.volumes.contains_key(id) {
                    Ok(*id)
                } else {
                    Err(Error::not_found())
                }
            }
            VolumeActionTarget::Name { name, region } => {
                let region = match (region.as_deref(), action) {
                    (Some(r), _) if !r.is_empty() => Some(r.to_string()),
                    (
                        _,
                        VolumeAction::Attach { droplet_id } | VolumeAction::Detach { droplet_id },
                    ) => Some(
                        self.droplets
                            .get(droplet_id)
                            .ok_or_else(Error::not_found)?
                            .region
                            .clone(),
                    ),
                    _ => None,
                };
                self.volumes
                    .values()
                    .find(|v| &v.name == name && region.as_ref().is_none_or(|r| &v.region == r))
                    .map(|v| v.id)
                    .ok_or_else(Error::not_found)
            }
        }
    }
}
