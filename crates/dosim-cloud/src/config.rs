//! The account's limits, timings and the choices dosim makes where DigitalOcean's behaviour is unknown.

use dosim_base::Delay;
use serde::{Deserialize, Serialize};

/// Which error `id` a duplicate volume name gets; DigitalOcean has answered with both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeConflictId {
    /// `{"id": "conflict", ...}`.
    #[default]
    Conflict,
    /// `{"id": "already_exists", ...}`, as seen in 2018.
    AlreadyExists,
}

/// Which actions of other resources a droplet's action list (`GET /v2/droplets/{id}/actions`)
/// shows: a volume attach or detach and a reserved IP assign or unassign lock the droplet while
/// they run, and DigitalOcean does not document whether its list shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockingActionsListed {
    /// Listed while they run, so a client that waits for the droplet's in-progress actions before
    /// its next action (as DigitalOcean's Terraform provider does before assigning a reserved IP)
    /// waits for them; gone from the list once they finish.
    #[default]
    WhileRunning,
    /// Listed while they run and after they finish.
    Always,
    /// Never listed: the droplet's list shows only actions whose resource is the droplet.
    Never,
}

/// One account's configuration; every field has DigitalOcean's default or dosim's documented choice.
///
/// All durations are here, in milliseconds, so that a caller can scale them in one place ([`CloudConfig::scale_times`]).
/// Droplet provisioning and action times may instead be drawn from a distribution ([`Delay`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CloudConfig {
    /// How many droplets the account may hold at once.
    pub droplet_limit: u32,
    /// How many reserved IPs the account may hold at once.
    pub reserved_ip_limit: u32,
    /// How many volumes one droplet may have attached.
    pub volumes_per_droplet_max: u32,
    /// How many volumes the account may hold at once (beyond it: 403 `capacity limit exceeded`).
    pub volume_limit: u32,
    /// How long a droplet's `create` action runs before the droplet is `active`.
    pub droplet_provision_ms: u64,
    /// When set, each droplet's `create` action runs for a time drawn from this instead of
    /// `droplet_provision_ms`; only a distribution draws from the account's RNG, a fixed value does not.
    pub droplet_provision: Option<Delay>,
    /// How long a droplet action (power, rename, resize, ...) runs.
    pub droplet_action_ms: u64,
    /// When set, each droplet action runs for a time drawn from this instead of
    /// `droplet_action_ms`; only a distribution draws from the account's RNG, a fixed value does not.
    pub droplet_action: Option<Delay>,
    /// How long a volume action runs; 0 means the action is already `completed` in the response.
    pub volume_action_ms: u64,
    /// How long a reserved IP assign or unassign runs; 0 means it completes at once.
    pub reserved_ip_action_ms: u64,
    /// How long a database cluster stays `creating` before it is `online`.
    pub database_provision_ms: u64,
    /// The probability that an action ends `errored` instead of `completed`.
    pub action_error_probability: f64,
    /// Which error `id` a duplicate volume name gets.
    pub volume_conflict_id: VolumeConflictId,
    /// Whether destroying a droplet detaches its volumes; if false, the destroy is refused while volumes are attached.
    pub auto_detach_on_droplet_delete: bool,
    /// Whether destroying a droplet unassigns its reserved IP; if false, the destroy is refused while one is assigned.
    pub auto_unassign_on_droplet_delete: bool,
    /// Whether deleting an assigned reserved IP is allowed (it is unassigned and released); if false, it is refused.
    pub delete_assigned_reserved_ip: bool,
    /// Whether a droplet whose `create` action errors disappears, as DigitalOcean's failed placements do.
    pub remove_droplet_on_create_error: bool,
    /// Regions that are in the catalogue but offer no block storage (volume create there is refused).
    pub regions_without_storage: Vec<String>,
    /// How many actions the account keeps; beyond it the oldest finished ones are dropped.
    pub actions_max: usize,
    /// Which actions of other resources that lock a droplet its action list shows.
    pub locking_actions_listed: LockingActionsListed,
    /// How long a resource moved to another project still counts in the project it left, so
    /// that deleting that project is refused with 412 (DigitalOcean relocates asynchronously:
    /// seconds to minutes have been observed).
    pub project_move_ms: u64,
    /// How long a load balancer stays `new` before it is `active` (DigitalOcean's take a minute
    /// or two).
    pub load_balancer_provision_ms: u64,
}

impl Default for CloudConfig {
    fn default() -> Self {
        CloudConfig {
            droplet_limit: 25,
            reserved_ip_limit: 3,
            volumes_per_droplet_max: 15,
            volume_limit: 100,
            droplet_provision_ms: 30_000,
            droplet_provision: None,
            droplet_action_ms: 10_000,
            droplet_action: None,
            volume_action_ms: 3_000,
            reserved_ip_action_ms: 3_000,
            database_provision_ms: 300_000,
            action_error_probability: 0.0,
            volume_conflict_id: VolumeConflictId::Conflict,
            auto_detach_on_droplet_delete: true,
            auto_unassign_on_droplet_delete: true,
            delete_assigned_reserved_ip: true,
            remove_droplet_on_create_error: true,
            regions_without_storage: Vec::new(),
            actions_max: 100_000,
            locking_actions_listed: LockingActionsListed::WhileRunning,
            project_move_ms: 10_000,
            load_balancer_provision_ms: 60_000,
        }
    }
}

impl CloudConfig {
    /// Multiplies every duration by `factor` (e.g. 0.01 to make everything a hundred times faster).
    ///
    /// Negative or non-finite factors are treated as 1 so a bad flag cannot stall or break time.
    pub fn scale_times(&mut self, factor: f64) {
        let factor = if factor.is_finite() && factor >= 0.0 {
            factor
        } else {
            1.0
        };
        for ms in [
            &mut self.droplet_provision_ms,
            &mut self.droplet_action_ms,
            &mut self.volume_action_ms,
            &mut self.reserved_ip_action_ms,
            &mut self.database_provision_ms,
            &mut self.project_move_ms,
            &mut self.load_balancer_provision_ms,
        ] {
            // The cast saturates, so a huge factor yields u64::MAX rather than wrapping.
            *ms = (*ms as f64 * factor).round() as u64;
        }
        for delay in [&mut self.droplet_provision, &mut self.droplet_action]
            .into_iter()
            .flatten()
        {
            *delay = delay.scaled(factor);
        }
    }
}
