//! Droplets: create, read, list, destroy, and droplet actions.

use crate::actions::Effect;
use crate::cloud::ActionSpec;
use crate::error::msg;
use crate::validate::{check_tags, droplet_name_error};
use crate::{catalog, ActionId, Cloud, DropletId, Error, SimTime, VolumeId};
use serde::Serialize;
use std::net::Ipv4Addr;
use uuid::Uuid;

/// A droplet's power and lifecycle status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Networks {
    /// IPv4 interfaces, public first.
    pub v4: Vec<NetworkV4>,
    /// IPv6 interfaces.
    pub v6: Vec<NetworkV6>,
}

/// A droplet; the catalogue objects (size, image, region) are looked up by slug or id.
#[derive(Clone, Debug, Serialize)]
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
    pub fn create_droplets(
        &mut self,
        now: SimTime,
        req: DropletCreate,
    ) -> Result<Vec<(DropletId, ActionId)>, Error> {
        todo!("{now:?} {req:?}")
    }

    /// One droplet.
    pub fn droplet(&mut self, now: SimTime, id: DropletId) -> Result<Droplet, Error> {
        self.advance(now);
        self.droplets.get(&id).cloned().ok_or_else(Error::not_found)
    }

    /// The droplets matching `filter`, by id.
    pub fn droplets(&mut self, now: SimTime, filter: DropletFilter) -> Vec<Droplet> {
        self.advance(now);
        self.droplets
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
    }

    /// Destroys a droplet, recording a completed `destroy` action; its volumes are detached and its reserved IP unassigned.
    pub fn delete_droplet(&mut self, now: SimTime, id: DropletId) -> Result<(), Error> {
        todo!("{now:?} {id:?}")
    }

    /// Destroys every droplet with `tag`; returns their ids (none is fine).
    pub fn delete_droplets_by_tag(
        &mut self,
        now: SimTime,
        tag: &str,
    ) -> Result<Vec<DropletId>, Error> {
        todo!("{now:?} {tag:?}")
    }

    /// Starts an action on one droplet.
    pub fn droplet_action(
        &mut self,
        now: SimTime,
        id: DropletId,
        req: DropletActionRequest,
    ) -> Result<ActionId, Error> {
        todo!("{now:?} {id:?} {req:?}")
    }

    /// Starts the same action on every droplet with `tag`, all or none.
    pub fn droplet_actions_by_tag(
        &mut self,
        now: SimTime,
        tag: &str,
        req: DropletActionRequest,
    ) -> Result<Vec<ActionId>, Error> {
        todo!("{now:?} {tag:?} {req:?}")
    }

    /// Removes a droplet and everything that points at it, without checks.
    pub(crate) fn remove_droplet(&mut self, id: DropletId) {
        let _ = (
            id,
            msg::NOT_FOUND,
            droplet_name_error,
            check_tags,
            Effect::None,
        );
        todo!()
    }

    pub(crate) fn enable_ipv6(&mut self, id: DropletId) {
        let _ = ActionSpec::droplet;
        todo!("{id:?}")
    }
}
