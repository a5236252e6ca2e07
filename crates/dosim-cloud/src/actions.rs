//! Actions: the asynchronous work DigitalOcean reports on, with their deadlines and effects.

use crate::config::LockingActionsListed;
use crate::{ActionId, Cloud, DatabaseId, DropletId, Error, SimTime, VolumeId};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use uuid::Uuid;

/// Where an action is in its life; `completed` and `errored` are terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionStatus {
    /// `in-progress`.
    #[serde(rename = "in-progress")]
    InProgress,
    /// `completed`.
    #[serde(rename = "completed")]
    Completed,
    /// `errored`.
    #[serde(rename = "errored")]
    Errored,
}

impl ActionStatus {
    /// The wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            ActionStatus::InProgress => "in-progress",
            ActionStatus::Completed => "completed",
            ActionStatus::Errored => "errored",
        }
    }
}

/// What kind of resource an action works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    /// `droplet`.
    Droplet,
    /// `volume`.
    Volume,
    /// `reserved_ip` (`floating_ip` on the legacy paths).
    ReservedIp,
}

impl ResourceType {
    /// The wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            ResourceType::Droplet => "droplet",
            ResourceType::Volume => "volume",
            ResourceType::ReservedIp => "reserved_ip",
        }
    }
}

/// One action on the account.
#[derive(Clone, Debug, Serialize)]
pub struct Action {
    /// The action's id.
    pub id: ActionId,
    /// Where it is in its life.
    pub status: ActionStatus,
    /// DigitalOcean's action type: `create`, `destroy`, `power_off`, `attach_volume`, `assign_ip`, ...
    #[serde(rename = "type")]
    pub action_type: &'static str,
    /// When it started.
    pub started_at: SimTime,
    /// When it finished, if it has.
    pub completed_at: Option<SimTime>,
    /// The resource's numeric id: the droplet id, or a reserved IP as a big-endian u32; `None` for volumes.
    pub resource_id: Option<u64>,
    /// The kind of resource.
    pub resource_type: ResourceType,
    /// The region the action runs in.
    pub region_slug: Option<String>,
    /// The project of the reserved IP, on reserved IP actions only.
    pub project_id: Option<Uuid>,
    /// When it finishes if it is in progress.
    pub deadline: SimTime,
    /// The volume an action works on, so a volume's actions can be listed.
    pub volume_id: Option<VolumeId>,
    /// The droplet the action holds locked while it runs.
    pub locks_droplet: Option<DropletId>,
    /// The reserved IP the action holds locked while it runs.
    pub locks_reserved_ip: Option<Ipv4Addr>,
    /// Whether the action was drawn to end `errored`.
    pub(crate) fails: bool,
    /// What happens to the account when the action completes.
    pub(crate) effect: Effect,
}

/// The change an action makes to the account when it completes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Effect {
    /// Nothing beyond finishing (volume actions apply at commit; `destroy` is recorded already finished).
    None,
    /// The droplet becomes `active` with its networks.
    DropletCreated(DropletId),
    /// The droplet's status becomes this.
    DropletPower(DropletId, crate::DropletStatus),
    /// The droplet gets a new name.
    DropletRename(DropletId, String),
    /// The droplet gets a new size.
    DropletResize(DropletId, String),
    /// The droplet gets an IPv6 address.
    DropletEnableIpv6(DropletId),
    /// The droplet's backups are switched on or off.
    DropletBackups(DropletId, bool),
    /// The reserved IP points at the droplet.
    ReservedIpAssign(Ipv4Addr, DropletId),
    /// The reserved IP points nowhere.
    ReservedIpUnassign(Ipv4Addr),
}

/// Something with a deadline: an action or a database cluster coming online.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Pending {
    /// An action in progress.
    Action(ActionId),
    /// A database cluster that is `creating`.
    Database(DatabaseId),
}

impl Cloud {
    /// One action by id.
    pub fn action(&mut self, now: SimTime, id: ActionId) -> Result<Action, Error> {
        self.enter(now, |cloud| {
            cloud.actions.get(&id).cloned().ok_or_else(Error::not_found)
        })
    }

    /// Every action on the account, oldest first.
    pub fn actions(&mut self, now: SimTime) -> Vec<Action> {
        self.enter(now, |cloud| cloud.actions.values().cloned().collect())
    }

    /// The actions on one droplet, oldest first, with the actions of other resources that lock it
    /// as `CloudConfig::locking_actions_listed` says; 404 if the droplet does not exist.
    pub fn droplet_actions(
        &mut self,
        now: SimTime,
        droplet_id: DropletId,
    ) -> Result<Vec<Action>, Error> {
        self.enter(now, |cloud| {
            if !cloud.droplets.contains_key(&droplet_id) {
                return Err(Error::not_found());
            }
            let listed = cloud.config.locking_actions_listed;
            Ok(cloud
                .actions
                .values()
                .filter(|a| {
                    let own = a.resource_type == ResourceType::Droplet
                        && a.resource_id == Some(droplet_id.0);
                    let locks = a.locks_droplet == Some(droplet_id)
                        && match listed {
                            LockingActionsListed::WhileRunning => {
                                a.status == ActionStatus::InProgress
                            }
                            LockingActionsListed::Always => true,
                            LockingActionsListed::Never => false,
                        };
                    own || locks
                })
                .cloned()
                .collect())
        })
    }

    /// The actions on one volume, oldest first; 404 if the volume does not exist.
    pub fn volume_actions(
        &mut self,
        now: SimTime,
        volume_id: VolumeId,
    ) -> Result<Vec<Action>, Error> {
        self.enter(now, |cloud| {
            if !cloud.volumes.contains_key(&volume_id) {
                return Err(Error::not_found());
            }
            Ok(cloud
                .actions
                .values()
                .filter(|a| a.volume_id == Some(volume_id))
                .cloned()
                .collect())
        })
    }

    /// The actions on one reserved IP, oldest first; 404 if the account does not hold it.
    pub fn reserved_ip_actions(
        &mut self,
        now: SimTime,
        ip: Ipv4Addr,
    ) -> Result<Vec<Action>, Error> {
        self.enter(now, |cloud| {
            if !cloud.reserved_ips.contains_key(&ip) {
                return Err(Error::not_found());
            }
            Ok(cloud
                .actions
                .values()
                .filter(|a| {
                    a.resource_type == ResourceType::ReservedIp
                        && a.resource_id == Some(u64::from(u32::from(ip)))
                })
                .cloned()
                .collect())
        })
    }
}

/// Every action type the model starts, so that a loaded action's type is one of them.
pub const ACTION_TYPES: &[&str] = &[
    "create",
    "destroy",
    "power_off",
    "power_on",
    "shutdown",
    "reboot",
    "power_cycle",
    "rename",
    "resize",
    "enable_ipv6",
    "enable_backups",
    "disable_backups",
    "password_reset",
    "attach_volume",
    "detach_volume",
    "assign_ip",
    "unassign_ip",
];

/// An [`Action`] as read back, its type still a string to be matched against [`ACTION_TYPES`].
#[derive(Deserialize)]
struct SavedAction {
    id: ActionId,
    status: ActionStatus,
    #[serde(rename = "type")]
    action_type: String,
    started_at: SimTime,
    completed_at: Option<SimTime>,
    resource_id: Option<u64>,
    resource_type: ResourceType,
    region_slug: Option<String>,
    project_id: Option<Uuid>,
    deadline: SimTime,
    volume_id: Option<VolumeId>,
    locks_droplet: Option<DropletId>,
    locks_reserved_ip: Option<Ipv4Addr>,
    fails: bool,
    effect: Effect,
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Action, D::Error> {
        let saved = SavedAction::deserialize(deserializer)?;
        Action::try_from(saved).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<SavedAction> for Action {
    type Error = String;

    fn try_from(saved: SavedAction) -> Result<Action, String> {
        let action_type = ACTION_TYPES
            .iter()
            .find(|known| **known == saved.action_type)
            .copied()
            .ok_or_else(|| format!("unknown action type {:?}", saved.action_type))?;
        Ok(Action {
            id: saved.id,
            status: saved.status,
            action_type,
            started_at: saved.started_at,
            completed_at: saved.completed_at,
            resource_id: saved.resource_id,
            resource_type: saved.resource_type,
            region_slug: saved.region_slug,
            project_id: saved.project_id,
            deadline: saved.deadline,
            volume_id: saved.volume_id,
            locks_droplet: saved.locks_droplet,
            locks_reserved_ip: saved.locks_reserved_ip,
            fails: saved.fails,
            effect: saved.effect,
        })
    }
}
