//! Droplets: create, read, list, destroy, and droplet actions.

use crate::actions::Effect;
use crate::cloud::ActionSpec;
use crate::error::msg;
use crate::tags::TaggedKind;
use crate::validate::{check_droplet_name, check_tags, parse_uuid};
use crate::{catalog, ActionId, ActionStatus, Cloud, Delay, DropletId, Error, SimTime, VolumeId};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use uuid::Uuid;

/// A droplet's power and lifecycle status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropletStatus {
    /// Being created.
    New,
    /// Running.
    Active,
    /// Powered off.
    Off,
    /// Archived.
    Archive,
}

impl DropletStatus {
    /// The wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            DropletStatus::New => "new",
            DropletStatus::Active => "active",
            DropletStatus::Off => "off",
            DropletStatus::Archive => "archive",
        }
    }
}

/// Whether an address faces the internet or the VPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkType {
    /// `public`.
    Public,
    /// `private`.
    Private,
}

impl NetworkType {
    /// The wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            NetworkType::Public => "public",
            NetworkType::Private => "private",
        }
    }
}

/// An IPv4 interface of a droplet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkV4 {
    /// The address.
    pub ip_address: Ipv4Addr,
    /// The netmask.
    pub netmask: Ipv4Addr,
    /// The gateway.
    pub gateway: Ipv4Addr,
    /// Public or private.
    #[serde(rename = "type")]
    pub network_type: NetworkType,
}

/// An IPv6 interface of a droplet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkV6 {
    /// The address.
    pub ip_address: String,
    /// The prefix length.
    pub netmask: u8,
    /// The gateway.
    pub gateway: String,
    /// Always public.
    #[serde(rename = "type")]
    pub network_type: NetworkType,
}

/// A droplet's interfaces.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Networks {
    /// IPv4 interfaces, public first.
    pub v4: Vec<NetworkV4>,
    /// IPv6 interfaces.
    pub v6: Vec<NetworkV6>,
}

/// A droplet; the catalogue objects (size, image, region) are looked up by slug or id.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Droplet {
    /// The id.
    pub id: DropletId,
    /// The name; not unique.
    pub name: String,
    /// Lifecycle and power status.
    pub status: DropletStatus,
    /// The wire's `locked`: true while an action other than `create` runs (see docs/fidelity.md).
    pub locked: bool,
    /// The action that blocks new ones while it runs, including `create`.
    pub pending_action: Option<ActionId>,
    /// When it was created.
    pub created_at: SimTime,
    /// The size slug.
    pub size_slug: String,
    /// The image id.
    pub image_id: u64,
    /// The region slug.
    pub region: String,
    /// Features such as `monitoring`, `ipv6`, `backups`, `private_networking`.
    pub features: Vec<String>,
    /// Tags, in the order given.
    pub tags: Vec<String>,
    /// Attached volumes, in attach order.
    pub volume_ids: Vec<VolumeId>,
    /// The interfaces as the wire shows them: empty until the droplet is `active`.
    pub networks: Networks,
    /// The interfaces the droplet gets when its `create` action completes.
    pub planned_networks: Networks,
    /// The VPC.
    pub vpc_uuid: Uuid,
    /// Whether backups are on.
    pub backups: bool,
    /// Whether IPv6 is on.
    pub ipv6: bool,
    /// Whether the monitoring agent is installed.
    pub monitoring: bool,
    /// The user data given at create.
    pub user_data: Option<String>,
}

impl Droplet {
    /// The size object.
    pub fn size(&self) -> &'static catalog::Size {
        catalog::size(&self.size_slug).expect("droplet sizes come from the catalogue")
    }

    /// The image object.
    pub fn image(&self) -> &'static catalog::Image {
        catalog::image_by_id(self.image_id).expect("droplet images come from the catalogue")
    }

    /// The region object.
    pub fn region(&self) -> &'static catalog::Region {
        catalog::region(&self.region).expect("droplet regions come from the catalogue")
    }

    /// The public IPv4 address once the droplet is `active`.
    pub fn public_ipv4(&self) -> Option<Ipv4Addr> {
        self.networks
            .v4
            .iter()
            .find(|n| n.network_type == NetworkType::Public)
            .map(|n| n.ip_address)
    }

    pub(crate) fn set_feature(&mut self, feature: &str, on: bool) {
        let present = self.features.iter().any(|f| f == feature);
        if on && !present {
            self.features.push(feature.to_string());
        } else if !on && present {
            self.features.retain(|f| f != feature);
        }
    }
}

/// An image given by slug or numeric id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRef {
    /// `"ubuntu-24-04-x64"`.
    Slug(String),
    /// `160232537`.
    Id(u64),
}

/// A volume named in a droplet create request, by id or by name (godo sends objects of either kind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeRef {
    /// The volume's id as given; it may not even be a UUID.
    Id(String),
    /// The volume's name, looked up in the droplet's region.
    Name(String),
}

/// A droplet create request, single (`names` of one) or multi (up to ten).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DropletCreate {
    /// The names, one droplet each.
    pub names: Vec<String>,
    /// The region slug; `None` lets dosim pick one deterministically.
    pub region: Option<String>,
    /// The size slug.
    pub size: String,
    /// The image.
    pub image: ImageRef,
    /// Tags to apply.
    pub tags: Vec<String>,
    /// Volumes to attach at create.
    pub volumes: Vec<VolumeRef>,
    /// Whether to give the droplets IPv6.
    pub ipv6: bool,
    /// Whether to install the monitoring agent.
    pub monitoring: bool,
    /// Whether to turn on backups.
    pub backups: bool,
    /// The VPC; `None` means the region's default VPC.
    pub vpc_uuid: Option<String>,
    /// Cloud-init user data, at most 64 KiB.
    pub user_data: Option<String>,
    /// SSH keys to install, by id or fingerprint; each must be one of the account's.
    pub ssh_keys: Vec<String>,
}

impl DropletCreate {
    /// A request for one droplet with everything optional left out.
    pub fn new(name: impl Into<String>, size: impl Into<String>, image: ImageRef) -> DropletCreate {
        DropletCreate {
            names: vec![name.into()],
            region: None,
            size: size.into(),
            image,
            tags: Vec::new(),
            volumes: Vec::new(),
            ipv6: false,
            monitoring: false,
            backups: false,
            vpc_uuid: None,
            user_data: None,
            ssh_keys: Vec::new(),
        }
    }
}

/// Filters for listing droplets; both given means both must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DropletFilter {
    /// Only droplets with this tag.
    pub tag_name: Option<String>,
    /// Only droplets with exactly this name, ignoring case.
    pub name: Option<String>,
}

/// A droplet action request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DropletActionRequest {
    /// `power_off`: a hard off.
    PowerOff,
    /// `power_on`.
    PowerOn,
    /// `shutdown`: a graceful off.
    Shutdown,
    /// `reboot`.
    Reboot,
    /// `power_cycle`.
    PowerCycle,
    /// `rename`.
    Rename {
        /// The new name.
        name: String,
    },
    /// `resize`.
    Resize {
        /// The new size slug.
        size: String,
        /// Whether the disk grows too (which makes the resize permanent).
        disk: bool,
    },
    /// `enable_ipv6`.
    EnableIpv6,
    /// `enable_backups`.
    EnableBackups,
    /// `disable_backups`.
    DisableBackups,
    /// `password_reset`.
    PasswordReset,
}

impl DropletActionRequest {
    /// DigitalOcean's action type for this request.
    pub fn action_type(&self) -> &'static str {
        match self {
            DropletActionRequest::PowerOff => "power_off",
            DropletActionRequest::PowerOn => "power_on",
            DropletActionRequest::Shutdown => "shutdown",
            DropletActionRequest::Reboot => "reboot",
            DropletActionRequest::PowerCycle => "power_cycle",
            DropletActionRequest::Rename { .. } => "rename",
            DropletActionRequest::Resize { .. } => "resize",
            DropletActionRequest::EnableIpv6 => "enable_ipv6",
            DropletActionRequest::EnableBackups => "enable_backups",
            DropletActionRequest::DisableBackups => "disable_backups",
            DropletActionRequest::PasswordReset => "password_reset",
        }
    }

    /// Whether DigitalOcean allows this type on `POST /v2/droplets/actions?tag_name=`.
    pub fn allowed_by_tag(&self) -> bool {
        matches!(
            self,
            DropletActionRequest::PowerCycle
                | DropletActionRequest::PowerOn
                | DropletActionRequest::PowerOff
                | DropletActionRequest::Shutdown
                | DropletActionRequest::EnableIpv6
                | DropletActionRequest::EnableBackups
                | DropletActionRequest::DisableBackups
        )
    }
}

/// The most droplets one create request may name.
pub const DROPLET_NAMES_MAX: usize = 10;
/// The largest user data DigitalOcean accepts, in bytes.
pub const USER_DATA_BYTES_MAX: usize = 64 * 1024;

impl Cloud {
    /// Creates one droplet per name, each `new` with a `create` action in progress; returns each droplet's id and action id.
    ///
    /// Everything is checked before anything is drawn from the RNG, so a refused request leaves the account exactly as it was.
    pub fn create_droplets(
        &mut self,
        now: SimTime,
        req: DropletCreate,
    ) -> Result<Vec<(DropletId, ActionId)>, Error> {
        self.enter(now, |cloud| {
            if req.names.is_empty() || req.names.len() > DROPLET_NAMES_MAX {
                return Err(Error::unprocessable(format!(
                    "names: between 1 and {DROPLET_NAMES_MAX} names must be given"
                )));
            }
            for name in &req.names {
                check_droplet_name(name)?;
            }
            let size =
                catalog::size(&req.size).ok_or_else(|| Error::unprocessable(msg::INVALID_SIZE))?;
            let image = match &req.image {
                ImageRef::Slug(slug) => catalog::image_by_slug(slug),
                ImageRef::Id(id) => catalog::image_by_id(*id),
            }
            .ok_or_else(|| Error::unprocessable(msg::INVALID_IMAGE))?;
            let region = cloud.pick_region(req.region.as_deref(), size)?;
            if !size.regions.contains(&region.slug) || !size.available {
                return Err(Error::unprocessable(msg::SIZE_UNAVAILABLE));
            }
            if !image.regions.contains(&region.slug) {
                return Err(Error::unprocessable(msg::INVALID_IMAGE));
            }
            check_tags(&req.tags)?;
            cloud.resolve_ssh_keys(&req.ssh_keys)?;
            if req
                .user_data
                .as_ref()
                .is_some_and(|u| u.len() > USER_DATA_BYTES_MAX)
            {
                return Err(Error::unprocessable(format!(
                    "user_data: must be at most {USER_DATA_BYTES_MAX} bytes"
                )));
            }
            let vpc_uuid = cloud.droplet_vpc(
                region.slug,
                parse_uuid("vpc_uuid", req.vpc_uuid.as_deref())?,
            )?;
            if !cloud.vpc_has_room(region, vpc_uuid, req.names.len()) {
                return Err(Error::unprocessable(msg::VPC_FULL));
            }
            let volume_ids = cloud.resolve_create_volumes(&req, region.slug)?;
            let n_droplets = cloud.droplets.len() + req.names.len();
            if n_droplets > cloud.config.droplet_limit as usize {
                return Err(Error::unprocessable(msg::DROPLET_LIMIT));
            }

            let mut created = Vec::with_capacity(req.names.len());
            for name in &req.names {
                let id = DropletId(cloud.next_droplet_id);
                cloud.next_droplet_id += 1;
                let mut planned_networks = Networks::default();
                let public = cloud.new_public_ipv4(region);
                planned_networks
                    .v4
                    .push(ipv4_network(public, NetworkType::Public));
                let private = cloud.new_vpc_ipv4(region, vpc_uuid);
                planned_networks
                    .v4
                    .push(ipv4_network(private, NetworkType::Private));
                if req.ipv6 {
                    let v6 = cloud.new_ipv6(region);
                    planned_networks.v6.push(v6);
                }
                let mut features = vec!["private_networking".to_string()];
                if req.monitoring {
                    features.push("monitoring".to_string());
                }
                if req.ipv6 {
                    features.push("ipv6".to_string());
                }
                if req.backups {
                    features.push("backups".to_string());
                }
                let mut droplet = Droplet {
                    id,
                    name: name.clone(),
                    status: DropletStatus::New,
                    locked: false,
                    pending_action: None,
                    created_at: cloud.now,
                    size_slug: size.slug.to_string(),
                    image_id: image.id,
                    region: region.slug.to_string(),
                    features,
                    tags: req.tags.clone(),
                    volume_ids: volume_ids.clone(),
                    networks: Networks::default(),
                    planned_networks,
                    vpc_uuid,
                    backups: req.backups,
                    ipv6: req.ipv6,
                    monitoring: req.monitoring,
                    user_data: req.user_data.clone(),
                };
                for volume_id in &volume_ids {
                    let volume = cloud.volumes.get_mut(volume_id).expect("resolved above");
                    volume.droplet_ids = vec![id];
                }
                cloud.adopt_tags(TaggedKind::Droplet, &id.to_string(), &mut droplet.tags);
                let spec = ActionSpec::droplet("create", &droplet, Effect::DropletCreated(id));
                cloud.droplets.insert(id, droplet);
                let provision_ms = draw_ms(
                    cloud.config.droplet_provision.as_ref(),
                    cloud.config.droplet_provision_ms,
                    &mut cloud.rng,
                );
                let action_id = cloud.start_action(spec, provision_ms);
                created.push((id, action_id));
            }
            Ok(created)
        })
    }

    /// One droplet.
    pub fn droplet(&mut self, now: SimTime, id: DropletId) -> Result<Droplet, Error> {
        self.enter(now, |cloud| {
            cloud
                .droplets
                .get(&id)
                .cloned()
                .ok_or_else(Error::not_found)
        })
    }

    /// What `read` makes of droplet `id`, read in place rather than copied: a polling client
    /// asks for one droplet more often than for anything else.
    pub fn with_droplet<R>(
        &mut self,
        now: SimTime,
        id: DropletId,
        read: impl FnOnce(&Droplet) -> R,
    ) -> Result<R, Error> {
        self.enter(now, |cloud| {
            cloud
                .droplets
                .get(&id)
                .map(read)
                .ok_or_else(Error::not_found)
        })
    }

    /// The droplets matching `filter`, by id.
    pub fn droplets(&mut self, now: SimTime, filter: DropletFilter) -> Vec<Droplet> {
        self.enter(now, |cloud| {
            cloud
                .droplets
                .values()
                .filter(|d| {
                    filter.tag_name.as_ref().is_none_or(|t| d.tags.contains(t))
                        && filter
                            .name
                            .as_ref()
                            .is_none_or(|n| d.name.eq_ignore_ascii_case(n))
                })
                .cloned()
                .collect()
        })
    }

    /// Destroys a droplet, recording a completed `destroy` action; its volumes are detached and its reserved IP unassigned.
    ///
    /// A droplet can be destroyed while an action runs on it (even its `create`); that action ends `errored`.
    pub fn delete_droplet(&mut self, now: SimTime, id: DropletId) -> Result<(), Error> {
        self.enter(now, |cloud| {
            cloud.check_droplet_deletable(id)?;
            cloud.destroy_droplet(id);
            Ok(())
        })
    }

    /// Destroys every droplet with `tag`, all or none; returns their ids (none is fine).
    pub fn delete_droplets_by_tag(
        &mut self,
        now: SimTime,
        tag: &str,
    ) -> Result<Vec<DropletId>, Error> {
        self.enter(now, |cloud| {
            let ids = cloud.droplet_ids_tagged(tag);
            for id in &ids {
                cloud.check_droplet_deletable(*id)?;
            }
            for id in &ids {
                cloud.destroy_droplet(*id);
            }
            Ok(ids)
        })
    }

    /// Starts an action on one droplet.
    pub fn droplet_action(
        &mut self,
        now: SimTime,
        id: DropletId,
        req: DropletActionRequest,
    ) -> Result<ActionId, Error> {
        self.enter(now, |cloud| {
            let effect = cloud.check_droplet_action(id, &req)?;
            let droplet = &cloud.droplets[&id];
            let spec = ActionSpec::droplet(req.action_type(), droplet, effect);
            let action_ms = draw_ms(
                cloud.config.droplet_action.as_ref(),
                cloud.config.droplet_action_ms,
                &mut cloud.rng,
            );
            Ok(cloud.start_action(spec, action_ms))
        })
    }

    /// Starts the same action on every droplet with `tag`, all or none; a locked droplet refuses the whole request.
    pub fn droplet_actions_by_tag(
        &mut self,
        now: SimTime,
        tag: &str,
        req: DropletActionRequest,
    ) -> Result<Vec<ActionId>, Error> {
        self.enter(now, |cloud| {
            if !req.allowed_by_tag() {
                return Err(Error::unprocessable(format!(
                    "type: {} is not supported for actions by tag",
                    req.action_type()
                )));
            }
            let ids = cloud.droplet_ids_tagged(tag);
            let mut effects = Vec::with_capacity(ids.len());
            for id in &ids {
                effects.push(cloud.check_droplet_action(*id, &req)?);
            }
            let mut action_ids = Vec::with_capacity(ids.len());
            for (id, effect) in ids.into_iter().zip(effects) {
                let spec = ActionSpec::droplet(req.action_type(), &cloud.droplets[&id], effect);
                let action_ms = draw_ms(
                    cloud.config.droplet_action.as_ref(),
                    cloud.config.droplet_action_ms,
                    &mut cloud.rng,
                );
                action_ids.push(cloud.start_action(spec, action_ms));
            }
            Ok(action_ids)
        })
    }

    /// Checks that a droplet action may start, and returns what it will do.
    /// The droplets that carry `tag`, by id.
    fn droplet_ids_tagged(&self, tag: &str) -> Vec<DropletId> {
        self.droplets
            .values()
            .filter(|d| d.tags.iter().any(|t| t == tag))
            .map(|d| d.id)
            .collect()
    }

    /// A droplet that exists and has no action in progress.
    pub(crate) fn idle_droplet(&self, id: DropletId) -> Result<&Droplet, Error> {
        let droplet = self.droplets.get(&id).ok_or_else(Error::not_found)?;
        if droplet.pending_action.is_some() {
            return Err(Error::unprocessable(msg::DROPLET_PENDING));
        }
        Ok(droplet)
    }

    fn check_droplet_action(
        &self,
        id: DropletId,
        req: &DropletActionRequest,
    ) -> Result<Effect, Error> {
        let droplet = self.idle_droplet(id)?;
        Ok(match req {
            DropletActionRequest::PowerOff | DropletActionRequest::Shutdown => {
                Effect::DropletPower(id, DropletStatus::Off)
            }
            DropletActionRequest::PowerOn
            | DropletActionRequest::Reboot
            | DropletActionRequest::PowerCycle => Effect::DropletPower(id, DropletStatus::Active),
            DropletActionRequest::Rename { name } => {
                check_droplet_name(name)?;
                Effect::DropletRename(id, name.clone())
            }
            DropletActionRequest::Resize { size, disk } => {
                let new_size = catalog::size(size)
                    .filter(|s| s.available && s.regions.contains(&droplet.region.as_str()))
                    .ok_or_else(|| Error::unprocessable(msg::INVALID_RESIZE))?;
                if droplet.status == DropletStatus::Active {
                    return Err(Error::unprocessable(msg::DROPLET_RESIZE_ON));
                }
                // A resized disk cannot shrink back, so a disk resize to a smaller disk is refused.
                if *disk && new_size.disk < droplet.size().disk {
                    return Err(Error::unprocessable(msg::INVALID_RESIZE));
                }
                Effect::DropletResize(id, new_size.slug.to_string())
            }
            DropletActionRequest::EnableIpv6 => Effect::DropletEnableIpv6(id),
            DropletActionRequest::EnableBackups => Effect::DropletBackups(id, true),
            DropletActionRequest::DisableBackups => Effect::DropletBackups(id, false),
            DropletActionRequest::PasswordReset => Effect::None,
        })
    }

    /// Resolves a create request's region: a slug, a prefix such as `nyc`, or none (picked without the RNG so a refusal draws nothing).
    fn pick_region(
        &self,
        region: Option<&str>,
        size: &catalog::Size,
    ) -> Result<&'static catalog::Region, Error> {
        let offering = |r: &&catalog::Region| r.available && size.regions.contains(&r.slug);
        match region {
            Some(slug) => {
                if let Some(r) = catalog::region(slug) {
                    return if r.available {
                        Ok(r)
                    } else {
                        Err(Error::unprocessable(msg::INVALID_REGION))
                    };
                }
                let candidates: Vec<&catalog::Region> = catalog::regions()
                    .iter()
                    .filter(|r| !slug.is_empty() && r.slug.starts_with(slug))
                    .filter(offering)
                    .collect();
                if candidates.is_empty() {
                    return Err(Error::unprocessable(msg::INVALID_REGION));
                }
                Ok(candidates[(self.next_droplet_id % candidates.len() as u64) as usize])
            }
            None => {
                let candidates: Vec<&catalog::Region> =
                    catalog::regions().iter().filter(offering).collect();
                if candidates.is_empty() {
                    return Err(Error::unprocessable(msg::SIZE_UNAVAILABLE));
                }
                Ok(candidates[(self.next_droplet_id % candidates.len() as u64) as usize])
            }
        }
    }

    /// Resolves the volumes of a create request: each must exist in the droplet's region, be detached and be named once.
    fn resolve_create_volumes(
        &self,
        req: &DropletCreate,
        region: &str,
    ) -> Result<Vec<VolumeId>, Error> {
        if req.volumes.is_empty() {
            return Ok(Vec::new());
        }
        let invalid = || Error::unprocessable(msg::INVALID_VOLUME_ALLOCATIONS);
        // One volume cannot go to several droplets, so a multi-create with volumes cannot succeed.
        if req.names.len() > 1 || req.volumes.len() > self.config.volumes_per_droplet_max as usize {
            return Err(invalid());
        }
        let mut ids = Vec::with_capacity(req.volumes.len());
        for volume_ref in &req.volumes {
            let volume = match volume_ref {
                VolumeRef::Id(s) => VolumeId::parse(s).and_then(|id| self.volumes.get(&id)),
                VolumeRef::Name(name) => self
                    .volumes
                    .values()
                    .find(|v| &v.name == name && v.region == region),
            }
            .ok_or_else(invalid)?;
            if volume.region != region || !volume.droplet_ids.is_empty() || ids.contains(&volume.id)
            {
                return Err(invalid());
            }
            ids.push(volume.id);
        }
        Ok(ids)
    }

    /// Refuses a destroy the configuration forbids.
    fn check_droplet_deletable(&self, id: DropletId) -> Result<(), Error> {
        let droplet = self.droplets.get(&id).ok_or_else(Error::not_found)?;
        if !self.config.auto_detach_on_droplet_delete && !droplet.volume_ids.is_empty() {
            return Err(Error::unprocessable(msg::DROPLET_HAS_VOLUMES));
        }
        if !self.config.auto_unassign_on_droplet_delete
            && self.reserved_ips.values().any(|r| r.droplet_id == Some(id))
        {
            return Err(Error::unprocessable(msg::DROPLET_HAS_RESERVED_IP_DELETE));
        }
        Ok(())
    }

    fn destroy_droplet(&mut self, id: DropletId) {
        let droplet = &self.droplets[&id];
        let spec = ActionSpec {
            locks_droplet: None,
            ..ActionSpec::droplet("destroy", droplet, Effect::None)
        };
        self.remove_droplet(id);
        self.record_finished_action(spec);
    }

    /// Removes a droplet and everything that points at it, without checks: actions on it end `errored`, volumes are detached, reserved IPs unassigned.
    pub(crate) fn remove_droplet(&mut self, id: DropletId) {
        let running: Vec<ActionId> = self
            .actions
            .values()
            .filter(|a| a.status == ActionStatus::InProgress && a.locks_droplet == Some(id))
            .map(|a| a.id)
            .collect();
        for action_id in running {
            self.abort_action(action_id);
        }
        let Some(droplet) = self.droplets.remove(&id) else {
            return;
        };
        for volume_id in &droplet.volume_ids {
            if let Some(volume) = self.volumes.get_mut(volume_id) {
                volume.droplet_ids.retain(|d| *d != id);
            }
        }
        for reserved_ip in self.reserved_ips.values_mut() {
            if reserved_ip.droplet_id == Some(id) {
                reserved_ip.droplet_id = None;
            }
        }
        // A destroyed droplet leaves the load balancers that named it.
        for lb in self.load_balancers.values_mut() {
            lb.droplet_ids.retain(|d| *d != id.0);
        }
    }

    /// Gives a droplet an IPv6 address if it has none.
    pub(crate) fn enable_ipv6(&mut self, id: DropletId) {
        let Some(droplet) = self.droplets.get(&id) else {
            return;
        };
        if !droplet.planned_networks.v6.is_empty() {
            return;
        }
        let v6 = self.new_ipv6(droplet.region());
        let droplet = self.droplets.get_mut(&id).expect("checked above");
        droplet.planned_networks.v6.push(v6.clone());
        if droplet.status != DropletStatus::New {
            droplet.networks.v6.push(v6);
        }
        droplet.ipv6 = true;
        droplet.set_feature("ipv6", true);
    }

    fn new_ipv6(&mut self, region: &catalog::Region) -> NetworkV6 {
        let prefix = format!(
            "2604:a880:{:x}:d{:x}",
            region.vpc_octet,
            self.rng.random_range(0..0x100u32)
        );
        NetworkV6 {
            ip_address: format!(
                "{prefix}::{:x}:{:x}",
                self.rng.random_range(1..0x10000u32),
                self.rng.random_range(1..0x10000u32)
            ),
            netmask: 64,
            gateway: format!("{prefix}::1"),
            network_type: NetworkType::Public,
        }
    }
}

/// A duration from the configuration: drawn from `delay` when one is set (the RNG moves only for a
/// distribution), else `fixed_ms`.
fn draw_ms(delay: Option<&Delay>, fixed_ms: u64, rng: &mut ChaCha8Rng) -> u64 {
    match delay {
        Some(delay) => delay.draw_ms(rng),
        None => fixed_ms,
    }
}

/// An interface in a /20 whose gateway is the first address, as DigitalOcean's are.
fn ipv4_network(ip_address: Ipv4Addr, network_type: NetworkType) -> NetworkV4 {
    let netmask = Ipv4Addr::new(255, 255, 240, 0);
    let base = u32::from(ip_address) & u32::from(netmask);
    NetworkV4 {
        ip_address,
        netmask,
        gateway: Ipv4Addr::from(base + 1),
        network_type,
    }
}
