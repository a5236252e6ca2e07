//! The account itself: its state, its RNG, and `advance`, which completes whatever is due.

use crate::actions::{Effect, Pending};
use crate::domains::Domain;
use crate::firewalls::{Firewall, Firewalls};
use crate::load_balancers::LoadBalancers;
use crate::projects::{Assignment, Project};
use crate::ssh_keys::SshKey;
use crate::tags::TagRecord;
use crate::vpcs::Vpc;
use crate::{
    catalog, Action, ActionId, ActionStatus, CloudConfig, Database, DatabaseId, DatabaseStatus,
    Droplet, DropletId, DropletStatus, ReservedIp, ResourceType, SimTime, Volume, VolumeId,
};
use indexmap::IndexMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use uuid::Uuid;

/// One DigitalOcean account as a deterministic state machine.
///
/// Every method that reads or writes state takes the current [`SimTime`] and first calls [`Cloud::advance`], so callers never need timers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cloud {
    pub(crate) config: CloudConfig,
    /// The seed the account was created from.
    pub(crate) seed: u64,
    /// Restored apart, by [`Cloud::from_saved`]: the dump leaves it out.
    #[serde(skip, default = "unseeded")]
    pub(crate) rng: ChaCha8Rng,
    /// The latest time the account has seen.
    pub(crate) now: SimTime,
    pub(crate) account_uuid: Uuid,
    pub(crate) account_number: u64,
    pub(crate) default_project_id: Uuid,
    /// Each region's default VPC, created with the account.
    pub(crate) vpcs: BTreeMap<String, Uuid>,
    pub(crate) next_droplet_id: u64,
    pub(crate) next_action_id: u64,
    pub(crate) droplets: BTreeMap<DropletId, Droplet>,
    pub(crate) volumes: IndexMap<VolumeId, Volume>,
    pub(crate) reserved_ips: IndexMap<Ipv4Addr, ReservedIp>,
    pub(crate) actions: BTreeMap<ActionId, Action>,
    pub(crate) databases: IndexMap<DatabaseId, Database>,
    /// The account's tags by canonical name: created with `POST /v2/tags` or by the first resource
    /// that carries them.
    pub(crate) tags: BTreeMap<String, TagRecord>,
    /// Domains by lowercase name, each with its records.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) domains: BTreeMap<String, Domain>,
    /// The next DNS record id; drawn when the first record is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) next_record_id: Option<u64>,
    /// Every VPC: each region's default, made with the account, then the ones users created.
    pub(crate) vpc_networks: IndexMap<Uuid, Vpc>,
    /// Projects, the default first.
    pub(crate) projects: IndexMap<Uuid, Project>,
    /// Where resources moved between projects are; the others are in the default project
    /// (droplets, volumes, domains) or the one their `project_id` names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) project_assignments: BTreeMap<String, Assignment>,
    /// Firewalls, oldest first.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub(crate) firewalls: Firewalls,
    /// Load balancers, oldest first.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub(crate) load_balancers: LoadBalancers,
    /// SSH keys by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) ssh_keys: BTreeMap<u64, SshKey>,
    /// The next SSH key id; drawn when the first key is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) next_ssh_key_id: Option<u64>,
    /// Deadlines in the order they fall due; ties break by the key's order, actions by id.
    pub(crate) pending: BTreeSet<(SimTime, Pending)>,
    /// Every public and private address handed out, so none is handed out twice.
    pub(crate) used_ips: BTreeSet<Ipv4Addr>,
    /// Spaces access keys by access key, oldest first.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub(crate) spaces_keys: IndexMap<String, crate::SpacesKey>,
}

/// A placeholder until the saved RNG position is restored.
fn unseeded() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(0)
}

/// An account as `dosim serve --state` saves it: its state and its RNG's exact position.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SavedCloud {
    pub cloud: Cloud,
    /// The RNG's seed, hex.
    pub rng_seed: String,
    pub rng_stream: u64,
    /// The RNG's word position, in decimal (a u128).
    pub rng_word_pos: String,
}

impl Cloud {
    /// The account with its RNG's position, for saving.
    pub fn to_saved(&self) -> SavedCloud {
        SavedCloud {
            cloud: self.clone(),
            rng_seed: self
                .rng
                .get_seed()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            rng_stream: self.rng.get_stream(),
            rng_word_pos: self.rng.get_word_pos().to_string(),
        }
    }

    /// The saved account, its RNG where it was; refused if the RNG's fields do not parse or the
    /// account breaks its invariants.
    pub fn from_saved(saved: SavedCloud) -> Result<Cloud, String> {
        let seed_bytes: Vec<u8> = (0..saved.rng_seed.len())
            .step_by(2)
            .map(|i| {
                saved
                    .rng_seed
                    .get(i..i + 2)
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| "rng_seed is not hex".to_owned())
            })
            .collect::<Result<_, _>>()?;
        let seed: [u8; 32] = seed_bytes
            .try_into()
            .map_err(|_| "rng_seed is not 32 bytes".to_owned())?;
        let word_pos: u128 = saved
            .rng_word_pos
            .parse()
            .map_err(|_| "rng_word_pos is not a number".to_owned())?;
        let mut cloud = saved.cloud;
        cloud.rng = ChaCha8Rng::from_seed(seed);
        cloud.rng.set_stream(saved.rng_stream);
        cloud.rng.set_word_pos(word_pos);
        cloud.check_invariants()?;
        Ok(cloud)
    }

    /// A fresh, empty account whose ids, UUIDs, addresses, passwords and action outcomes all derive from `seed`.
    pub fn new(config: CloudConfig, seed: u64) -> Cloud {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let account_uuid = uuid_from(&mut rng);
        let account_number = rng.random_range(10_000_000..40_000_000);
        let default_project_id = uuid_from(&mut rng);
        let vpcs: BTreeMap<String, Uuid> = catalog::regions()
            .iter()
            .map(|r| (r.slug.to_string(), uuid_from(&mut rng)))
            .collect();
        let vpc_networks = crate::vpcs::defaults(&vpcs);
        let next_droplet_id = rng.random_range(316_400_000..316_500_000);
        let next_action_id = rng.random_range(2_400_000_000..2_500_000_000);
        Cloud {
            config,
            seed,
            rng,
            now: SimTime::ZERO,
            account_uuid,
            account_number,
            default_project_id,
            vpcs,
            next_droplet_id,
            next_action_id,
            droplets: BTreeMap::new(),
            volumes: IndexMap::new(),
            reserved_ips: IndexMap::new(),
            actions: BTreeMap::new(),
            databases: IndexMap::new(),
            tags: BTreeMap::new(),
            domains: BTreeMap::new(),
            next_record_id: None,
            ssh_keys: BTreeMap::new(),
            next_ssh_key_id: None,
            vpc_networks,
            projects: crate::projects::default_project(default_project_id),
            project_assignments: BTreeMap::new(),
            firewalls: IndexMap::new(),
            load_balancers: IndexMap::new(),
            pending: BTreeSet::new(),
            used_ips: BTreeSet::new(),
            spaces_keys: IndexMap::new(),
        }
    }

    /// The account's configuration.
    pub fn config(&self) -> &CloudConfig {
        &self.config
    }

    /// The latest time the account has seen.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The next time something pending completes, if anything is pending; the harness uses it to know when the world is quiet.
    pub fn next_deadline(&self) -> Option<SimTime> {
        self.pending.first().map(|(t, _)| *t)
    }

    /// Completes everything whose deadline is at or before `now`, in deadline order, ties by action id.
    ///
    /// Time never goes backwards: an older `now` (a request that read the clock before another took the lock) is treated as the latest time seen.
    pub fn advance(&mut self, now: SimTime) {
        self.enter(now, |_| ());
    }

    /// Every public entry point runs through here: time advances to `now` (completing whatever is
    /// due), `call` runs, and debug builds (tests included) then check every invariant, so that a
    /// broken cross-reference fails at the call that broke it.
    pub(crate) fn enter<R>(&mut self, now: SimTime, call: impl FnOnce(&mut Cloud) -> R) -> R {
        self.complete_due(now);
        let result = call(self);
        if cfg!(debug_assertions) {
            if let Err(broken) = self.check_invariants() {
                panic!("the account broke an invariant: {broken}");
            }
        }
        result
    }

    /// What [`Cloud::advance`] does, without the invariant check: for use inside an entry point.
    pub(crate) fn complete_due(&mut self, now: SimTime) {
        if now > self.now {
            self.now = now;
        }
        while let Some(&(deadline, key)) = self.pending.first() {
            if deadline > self.now {
                break;
            }
            self.pending.pop_first();
            match key {
                Pending::Action(id) => self.complete_action(id, deadline),
                Pending::Database(id) => {
                    if let Some(db) = self.databases.get_mut(&id) {
                        db.status = DatabaseStatus::Online;
                    }
                }
            }
        }
    }

    /// Every droplet, by id, without advancing time: a read-only view for checks and dumps.
    pub fn droplets_view(&self) -> impl Iterator<Item = &Droplet> {
        self.droplets.values()
    }

    /// Every volume, oldest first, without advancing time.
    pub fn volumes_view(&self) -> impl Iterator<Item = &Volume> {
        self.volumes.values()
    }

    /// Every reserved IP, oldest first, without advancing time.
    pub fn reserved_ips_view(&self) -> impl Iterator<Item = &ReservedIp> {
        self.reserved_ips.values()
    }

    /// Every action, oldest first, without advancing time.
    pub fn actions_view(&self) -> impl Iterator<Item = &Action> {
        self.actions.values()
    }

    /// Every firewall, oldest first, without advancing time (droplets destroyed since may still
    /// be named in its `droplet_ids`).
    pub fn firewalls_view(&self) -> impl Iterator<Item = &Firewall> {
        self.firewalls.values()
    }

    /// Every domain, by name, with its records, without advancing time.
    pub fn domains_view(&self) -> impl Iterator<Item = &Domain> {
        self.domains.values()
    }

    /// Every database cluster, oldest first, without advancing time.
    pub fn databases_view(&self) -> impl Iterator<Item = &Database> {
        self.databases.values()
    }

    /// Finishes one action: applies its effect unless it was drawn to fail, and releases its locks.
    fn complete_action(&mut self, id: ActionId, at: SimTime) {
        let Some(action) = self.actions.get_mut(&id) else {
            return;
        };
        if action.status != ActionStatus::InProgress {
            return;
        }
        let fails = action.fails;
        action.status = if fails {
            ActionStatus::Errored
        } else {
            ActionStatus::Completed
        };
        action.completed_at = Some(at);
        let effect = action.effect.clone();
        let locks_droplet = action.locks_droplet;
        let locks_reserved_ip = action.locks_reserved_ip;
        if let Some(droplet_id) = locks_droplet {
            if let Some(d) = self.droplets.get_mut(&droplet_id) {
                if d.pending_action == Some(id) {
                    d.pending_action = None;
                    d.locked = false;
                }
            }
        }
        if let Some(ip) = locks_reserved_ip {
            if let Some(r) = self.reserved_ips.get_mut(&ip) {
                if r.pending_action == Some(id) {
                    r.pending_action = None;
                    r.locked = false;
                }
            }
        }
        if fails {
            if let Effect::DropletCreated(droplet_id) = effect {
                if self.config.remove_droplet_on_create_error {
                    self.remove_droplet(droplet_id);
                }
            }
            return;
        }
        self.apply_effect(effect);
    }

    fn apply_effect(&mut self, effect: Effect) {
        match effect {
            Effect::None => {}
            Effect::DropletCreated(id) => {
                if let Some(d) = self.droplets.get_mut(&id) {
                    d.status = DropletStatus::Active;
                    d.networks = d.planned_networks.clone();
                }
            }
            Effect::DropletPower(id, status) => {
                if let Some(d) = self.droplets.get_mut(&id) {
                    d.status = status;
                }
            }
            Effect::DropletRename(id, name) => {
                if let Some(d) = self.droplets.get_mut(&id) {
                    d.name = name;
                }
            }
            Effect::DropletResize(id, size) => {
                if let Some(d) = self.droplets.get_mut(&id) {
                    d.size_slug = size;
                }
            }
            Effect::DropletEnableIpv6(id) => self.enable_ipv6(id),
            Effect::DropletBackups(id, on) => {
                if let Some(d) = self.droplets.get_mut(&id) {
                    d.backups = on;
                    d.set_feature("backups", on);
                }
            }
            Effect::ReservedIpAssign(ip, droplet_id) => {
                // The target may have been destroyed while the action ran; then the address stays where it was.
                if self.droplets.contains_key(&droplet_id) {
                    if let Some(r) = self.reserved_ips.get_mut(&ip) {
                        r.droplet_id = Some(droplet_id);
                    }
                }
            }
            Effect::ReservedIpUnassign(ip) => {
                if let Some(r) = self.reserved_ips.get_mut(&ip) {
                    r.droplet_id = None;
                }
            }
        }
    }

    /// Starts an action: records it, draws whether it will fail, and schedules its completion.
    ///
    /// A zero duration completes it at once, so the response already says `completed`.
    pub(crate) fn start_action(&mut self, spec: ActionSpec, duration_ms: u64) -> ActionId {
        let id = ActionId(self.next_action_id);
        self.next_action_id += 1;
        let p = self.config.action_error_probability;
        let fails = p > 0.0 && self.rng.random_bool(p.min(1.0));
        let deadline = self.now.plus_ms(duration_ms);
        let action = Action {
            id,
            status: ActionStatus::InProgress,
            action_type: spec.action_type,
            started_at: self.now,
            completed_at: None,
            resource_id: spec.resource_id,
            resource_type: spec.resource_type,
            region_slug: spec.region_slug,
            project_id: spec.project_id,
            deadline,
            volume_id: spec.volume_id,
            locks_droplet: spec.locks_droplet,
            locks_reserved_ip: spec.locks_reserved_ip,
            fails,
            effect: spec.effect,
        };
        self.actions.insert(id, action);
        if let Some(droplet_id) = spec.locks_droplet {
            if let Some(d) = self.droplets.get_mut(&droplet_id) {
                d.pending_action = Some(id);
                // DigitalOcean shows a new droplet unlocked although its create action blocks others; see docs/fidelity.md.
                d.locked = spec.action_type != "create";
            }
        }
        if let Some(ip) = spec.locks_reserved_ip {
            if let Some(r) = self.reserved_ips.get_mut(&ip) {
                r.pending_action = Some(id);
                r.locked = true;
            }
        }
        self.pending.insert((deadline, Pending::Action(id)));
        self.trim_actions();
        if duration_ms == 0 {
            self.complete_due(self.now);
        }
        id
    }

    /// Records an action that is already over when the request returns (a droplet's `destroy`).
    pub(crate) fn record_finished_action(&mut self, spec: ActionSpec) -> ActionId {
        let id = ActionId(self.next_action_id);
        self.next_action_id += 1;
        let action = Action {
            id,
            status: ActionStatus::Completed,
            action_type: spec.action_type,
            started_at: self.now,
            completed_at: Some(self.now),
            resource_id: spec.resource_id,
            resource_type: spec.resource_type,
            region_slug: spec.region_slug,
            project_id: spec.project_id,
            deadline: self.now,
            volume_id: spec.volume_id,
            locks_droplet: None,
            locks_reserved_ip: None,
            fails: false,
            effect: Effect::None,
        };
        self.actions.insert(id, action);
        self.trim_actions();
        id
    }

    /// Ends an in-progress action as `errored` without its effect, releasing its locks (its target went away).
    pub(crate) fn abort_action(&mut self, id: ActionId) {
        let Some(action) = self.actions.get_mut(&id) else {
            return;
        };
        if action.status != ActionStatus::InProgress {
            return;
        }
        action.status = ActionStatus::Errored;
        action.completed_at = Some(self.now);
        let deadline = action.deadline;
        let locks_droplet = action.locks_droplet;
        let locks_reserved_ip = action.locks_reserved_ip;
        self.pending.remove(&(deadline, Pending::Action(id)));
        if let Some(d) = locks_droplet.and_then(|d| self.droplets.get_mut(&d)) {
            if d.pending_action == Some(id) {
                d.pending_action = None;
                d.locked = false;
            }
        }
        if let Some(r) = locks_reserved_ip.and_then(|ip| self.reserved_ips.get_mut(&ip)) {
            if r.pending_action == Some(id) {
                r.pending_action = None;
                r.locked = false;
            }
        }
    }

    /// Drops the oldest finished actions once the history exceeds `actions_max`; in-progress ones are always kept.
    fn trim_actions(&mut self) {
        let mut excess = self.actions.len().saturating_sub(self.config.actions_max);
        if excess == 0 {
            return;
        }
        let finished: Vec<ActionId> = self
            .actions
            .values()
            .filter(|a| a.status != ActionStatus::InProgress)
            .map(|a| a.id)
            .take(excess)
            .collect();
        for id in finished {
            self.actions.remove(&id);
            excess -= 1;
        }
        debug_assert_eq!(excess, 0, "more actions in progress than actions_max");
    }

    /// A UUID from the account's RNG.
    pub(crate) fn new_uuid(&mut self) -> Uuid {
        uuid_from(&mut self.rng)
    }

    /// A fresh public address in `region`, never handed out before on this account.
    pub(crate) fn new_public_ipv4(&mut self, region: &catalog::Region) -> Ipv4Addr {
        loop {
            let block = region.public_blocks[self.rng.random_range(0..region.public_blocks.len())];
            let addr = Ipv4Addr::new(
                block[0],
                block[1],
                self.rng.random_range(0..=255),
                self.rng.random_range(2..=254),
            );
            if self.used_ips.insert(addr) {
                return addr;
            }
        }
    }

    /// A fresh private address in `region`'s default VPC.
    pub(crate) fn new_private_ipv4(&mut self, region: &catalog::Region) -> Ipv4Addr {
        loop {
            let addr = Ipv4Addr::new(
                10,
                region.vpc_octet,
                self.rng.random_range(0..16),
                self.rng.random_range(2..=254),
            );
            if self.used_ips.insert(addr) {
                return addr;
            }
        }
    }

    /// A password of `len` characters from the account's RNG.
    pub(crate) fn new_password(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
        (0..len)
            .map(|_| char::from(ALPHABET[self.rng.random_range(0..ALPHABET.len())]))
            .collect()
    }
}

/// What an action is about, given to [`Cloud::start_action`].
pub(crate) struct ActionSpec {
    pub action_type: &'static str,
    pub resource_id: Option<u64>,
    pub resource_type: ResourceType,
    pub region_slug: Option<String>,
    pub project_id: Option<Uuid>,
    pub volume_id: Option<VolumeId>,
    pub locks_droplet: Option<DropletId>,
    pub locks_reserved_ip: Option<Ipv4Addr>,
    pub effect: Effect,
}

impl ActionSpec {
    /// An action on a droplet that locks it while it runs.
    pub(crate) fn droplet(
        action_type: &'static str,
        droplet: &Droplet,
        effect: Effect,
    ) -> ActionSpec {
        ActionSpec {
            action_type,
            resource_id: Some(droplet.id.0),
            resource_type: ResourceType::Droplet,
            region_slug: Some(droplet.region.clone()),
            project_id: None,
            volume_id: None,
            locks_droplet: Some(droplet.id),
            locks_reserved_ip: None,
            effect,
        }
    }
}

/// A version-4 style UUID from seeded bytes.
pub(crate) fn uuid_from(rng: &mut ChaCha8Rng) -> Uuid {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}
