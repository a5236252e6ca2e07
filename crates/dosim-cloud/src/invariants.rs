//! What must stay true of an account after every call: every cross-reference checked from both
//! sides, the locks and the deadlines that keep the asynchronous work honest, and the limits.
//!
//! [`Cloud::check_invariants`] is public so that a harness can check the final state of every
//! run; every entry point also calls it in debug builds (see `Cloud::enter`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::Ipv4Addr;

use uuid::Uuid;

use crate::actions::Pending;
use crate::databases::{pool_capacity, DATABASES_MAX, DATABASE_OBJECTS_MAX};
use crate::{ActionStatus, Cloud, DatabaseStatus, DatabaseUserRole, DropletId, DropletStatus};

impl Cloud {
    /// Checks every invariant of the account; the error lists each one broken, one per line,
    /// naming the resources involved.
    ///
    /// Cross-references are checked from both sides: a volume's `droplet_ids` and each of those
    /// droplets' `volume_ids`; a reserved IP's droplet and that droplet's single reserved IP; a
    /// locked droplet or reserved IP and the action it waits on, and each action in progress and
    /// what it locks; each deadline and what it completes; each database cluster's users,
    /// databases and pools; and every address held once.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut broken = Broken::default();
        self.check_droplets(&mut broken);
        self.check_volumes(&mut broken);
        self.check_reserved_ips(&mut broken);
        self.check_addresses(&mut broken);
        self.check_actions(&mut broken);
        self.check_deadlines(&mut broken);
        self.check_databases(&mut broken);
        self.check_tags(&mut broken);
        self.check_domains(&mut broken);
        self.check_vpcs(&mut broken);
        self.check_projects(&mut broken);
        for sentence in crate::ssh_keys::check(&self.ssh_keys, self.next_ssh_key_id) {
            broken.say(format_args!("{sentence}"));
        }
        self.check_load_balancers(&mut broken);
        broken.into_result()
    }

    fn check_load_balancers(&self, broken: &mut Broken) {
        for lb in self.load_balancers.values() {
            if lb.tag.is_some() && !lb.droplet_ids.is_empty() {
                broken.say(format_args!(
                    "load balancer {} names droplets and a tag",
                    lb.id
                ));
            }
            for id in &lb.droplet_ids {
                match self.droplets.get(&DropletId(*id)) {
                    None => broken.say(format_args!(
                        "load balancer {} names droplet {id}, which does not exist",
                        lb.id
                    )),
                    Some(d) if d.region != lb.region => broken.say(format_args!(
                        "load balancer {} in {} names droplet {id} in {}",
                        lb.id, lb.region, d.region
                    )),
                    Some(_) => {}
                }
            }
            if lb.forwarding_rules.is_empty() {
                broken.say(format_args!(
                    "load balancer {} has no forwarding rule",
                    lb.id
                ));
            }
        }
    }

    fn check_droplets(&self, broken: &mut Broken) {
        if self.droplets.len() > self.config.droplet_limit as usize {
            broken.say(format_args!(
                "the account holds {} droplets, above its limit of {}",
                self.droplets.len(),
                self.config.droplet_limit
            ));
        }
        for (&key, droplet) in &self.droplets {
            let id = droplet.id;
            if key != id {
                broken.say(format_args!("droplet {id} is stored under id {key}"));
            }
            if id.0 >= self.next_droplet_id {
                broken.say(format_args!(
                    "droplet {id} is at or past the next id to hand out, {}",
                    self.next_droplet_id
                ));
            }
            let mut seen = BTreeSet::new();
            for volume_id in &droplet.volume_ids {
                if !seen.insert(volume_id) {
                    broken.say(format_args!("droplet {id} lists volume {volume_id} twice"));
                }
                match self.volumes.get(volume_id) {
                    None => broken.say(format_args!(
                        "droplet {id} lists volume {volume_id}, which does not exist"
                    )),
                    Some(volume) if !volume.droplet_ids.contains(&id) => broken.say(format_args!(
                        "droplet {id} lists volume {volume_id}, whose droplet_ids do not list it"
                    )),
                    Some(_) => {}
                }
            }
            if droplet.volume_ids.len() > self.config.volumes_per_droplet_max as usize {
                broken.say(format_args!(
                    "droplet {id} has {} volumes, above the limit of {}",
                    droplet.volume_ids.len(),
                    self.config.volumes_per_droplet_max
                ));
            }
            match droplet.pending_action {
                None if droplet.locked => {
                    broken.say(format_args!(
                        "droplet {id} is locked with no pending action"
                    ));
                }
                None => {}
                Some(action_id) => match self.actions.get(&action_id) {
                    None => broken.say(format_args!(
                        "droplet {id} waits on action {action_id}, which does not exist"
                    )),
                    Some(action) => {
                        if action.status != ActionStatus::InProgress {
                            broken.say(format_args!(
                                "droplet {id} waits on action {action_id}, which is {}",
                                action.status.as_str()
                            ));
                        }
                        if action.locks_droplet != Some(id) {
                            broken.say(format_args!(
                                "droplet {id} waits on action {action_id}, which does not lock it"
                            ));
                        }
                        // A droplet being created shows unlocked; any other action shows it locked.
                        let locked = action.action_type != "create";
                        if droplet.locked != locked {
                            broken.say(format_args!(
                                "droplet {id} shows locked: {} while its {} action {action_id} runs",
                                droplet.locked, action.action_type
                            ));
                        }
                    }
                },
            }
            for shown in &droplet.networks.v4 {
                if !droplet.planned_networks.v4.contains(shown) {
                    broken.say(format_args!(
                        "droplet {id} shows address {}, which it was never given",
                        shown.ip_address
                    ));
                }
            }
            for shown in &droplet.networks.v6 {
                if !droplet.planned_networks.v6.contains(shown) {
                    broken.say(format_args!(
                        "droplet {id} shows address {}, which it was never given",
                        shown.ip_address
                    ));
                }
            }
            if droplet.status == DropletStatus::New && !droplet.networks.v4.is_empty() {
                broken.say(format_args!("droplet {id} is new but shows its addresses"));
            }
        }
    }

    fn check_volumes(&self, broken: &mut Broken) {
        if self.volumes.len() > self.config.volume_limit as usize {
            broken.say(format_args!(
                "the account holds {} volumes, above its limit of {}",
                self.volumes.len(),
                self.config.volume_limit
            ));
        }
        let mut names = BTreeMap::new();
        for (&key, volume) in &self.volumes {
            let id = volume.id;
            if key != id {
                broken.say(format_args!("volume {id} is stored under id {key}"));
            }
            if let Some(other) = names.insert((&volume.region, &volume.name), id) {
                broken.say(format_args!(
                    "volumes {other} and {id} are both named {} in {}",
                    volume.name, volume.region
                ));
            }
            if volume.droplet_ids.len() > 1 {
                broken.say(format_args!(
                    "volume {id} is attached to {} droplets",
                    volume.droplet_ids.len()
                ));
            }
            for droplet_id in &volume.droplet_ids {
                match self.droplets.get(droplet_id) {
                    None => broken.say(format_args!(
                        "volume {id} lists droplet {droplet_id}, which does not exist"
                    )),
                    Some(droplet) => {
                        if !droplet.volume_ids.contains(&id) {
                            broken.say(format_args!(
                                "volume {id} lists droplet {droplet_id}, whose volume_ids do not list it"
                            ));
                        }
                        if droplet.region != volume.region {
                            broken.say(format_args!(
                                "volume {id} in {} is attached to droplet {droplet_id} in {}",
                                volume.region, droplet.region
                            ));
                        }
                    }
                }
            }
        }
    }

    fn check_reserved_ips(&self, broken: &mut Broken) {
        if self.reserved_ips.len() > self.config.reserved_ip_limit as usize {
            broken.say(format_args!(
                "the account holds {} reserved IPs, above its limit of {}",
                self.reserved_ips.len(),
                self.config.reserved_ip_limit
            ));
        }
        // A droplet's view of its reserved IP is that exactly one address points at it.
        let mut holder: BTreeMap<DropletId, Ipv4Addr> = BTreeMap::new();
        for (&key, reserved_ip) in &self.reserved_ips {
            let ip = reserved_ip.ip;
            if key != ip {
                broken.say(format_args!("reserved IP {ip} is stored under {key}"));
            }
            if let Some(droplet_id) = reserved_ip.droplet_id {
                match self.droplets.get(&droplet_id) {
                    None => broken.say(format_args!(
                        "reserved IP {ip} points at droplet {droplet_id}, which does not exist"
                    )),
                    Some(droplet) if droplet.region != reserved_ip.region => {
                        broken.say(format_args!(
                            "reserved IP {ip} in {} points at droplet {droplet_id} in {}",
                            reserved_ip.region, droplet.region
                        ));
                    }
                    Some(_) => {}
                }
                if let Some(other) = holder.insert(droplet_id, ip) {
                    broken.say(format_args!(
                        "droplet {droplet_id} has two reserved IPs, {other} and {ip}"
                    ));
                }
            }
            if reserved_ip.locked != reserved_ip.pending_action.is_some() {
                broken.say(format_args!(
                    "reserved IP {ip} shows locked: {} with {}",
                    reserved_ip.locked,
                    match reserved_ip.pending_action {
                        Some(action_id) => format!("action {action_id} pending"),
                        None => "no action pending".to_owned(),
                    }
                ));
            }
            if let Some(action_id) = reserved_ip.pending_action {
                match self.actions.get(&action_id) {
                    None => broken.say(format_args!(
                        "reserved IP {ip} waits on action {action_id}, which does not exist"
                    )),
                    Some(action) => {
                        if action.status != ActionStatus::InProgress {
                            broken.say(format_args!(
                                "reserved IP {ip} waits on action {action_id}, which is {}",
                                action.status.as_str()
                            ));
                        }
                        if action.locks_reserved_ip != Some(ip) {
                            broken.say(format_args!(
                                "reserved IP {ip} waits on action {action_id}, which does not lock it"
                            ));
                        }
                    }
                }
            }
        }
    }

    /// Every address the account holds (droplets' interfaces, reserved IPs) is held once, and was
    /// handed out by the account.
    fn check_addresses(&self, broken: &mut Broken) {
        let mut holders: BTreeMap<Ipv4Addr, String> = BTreeMap::new();
        let droplets = self.droplets.values().flat_map(|droplet| {
            droplet
                .planned_networks
                .v4
                .iter()
                .map(move |n| (n.ip_address, format!("droplet {}", droplet.id)))
        });
        let reserved = self
            .reserved_ips
            .values()
            .map(|r| (r.ip, format!("reserved IP {}", r.ip)));
        for (address, holder) in droplets.chain(reserved) {
            if !self.used_ips.contains(&address) {
                broken.say(format_args!(
                    "{holder} holds {address}, which the account never handed out"
                ));
            }
            if let Some(other) = holders.insert(address, holder.clone()) {
                broken.say(format_args!("{other} and {holder} both hold {address}"));
            }
        }
    }

    fn check_actions(&self, broken: &mut Broken) {
        for (&key, action) in &self.actions {
            let id = action.id;
            if key != id {
                broken.say(format_args!("action {id} is stored under id {key}"));
            }
            if id.0 >= self.next_action_id {
                broken.say(format_args!(
                    "action {id} is at or past the next id to hand out, {}",
                    self.next_action_id
                ));
            }
            let in_progress = action.status == ActionStatus::InProgress;
            if in_progress == action.completed_at.is_some() {
                broken.say(format_args!(
                    "action {id} is {} with completed_at {:?}",
                    action.status.as_str(),
                    action.completed_at.map(|at| at.rfc3339())
                ));
            }
            if !in_progress {
                continue;
            }
            if !self
                .pending
                .contains(&(action.deadline, Pending::Action(id)))
            {
                broken.say(format_args!(
                    "action {id} is in progress with no deadline scheduled"
                ));
            }
            if let Some(droplet_id) = action.locks_droplet {
                match self.droplets.get(&droplet_id) {
                    None => broken.say(format_args!(
                        "action {id} locks droplet {droplet_id}, which does not exist"
                    )),
                    Some(droplet) if droplet.pending_action != Some(id) => {
                        broken.say(format_args!(
                            "action {id} locks droplet {droplet_id}, which does not wait on it"
                        ))
                    }
                    Some(_) => {}
                }
            }
            if let Some(ip) = action.locks_reserved_ip {
                match self.reserved_ips.get(&ip) {
                    None => broken.say(format_args!(
                        "action {id} locks reserved IP {ip}, which the account does not hold"
                    )),
                    Some(reserved_ip) if reserved_ip.pending_action != Some(id) => {
                        broken.say(format_args!(
                            "action {id} locks reserved IP {ip}, which does not wait on it"
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
    }

    /// Every deadline is in the future (what was due has completed) and completes something that
    /// is waiting for it.
    fn check_deadlines(&self, broken: &mut Broken) {
        for &(at, pending) in &self.pending {
            if at <= self.now {
                let what = match pending {
                    Pending::Action(id) => format!("action {id}"),
                    Pending::Database(id) => format!("database {id}"),
                };
                broken.say(format_args!(
                    "{what} was due at {} but has not completed",
                    at.rfc3339()
                ));
            }
            match pending {
                Pending::Action(id) => match self.actions.get(&id) {
                    None => broken.say(format_args!(
                        "a deadline completes action {id}, which does not exist"
                    )),
                    Some(action) => {
                        if action.status != ActionStatus::InProgress {
                            broken.say(format_args!(
                                "a deadline completes action {id}, which is {}",
                                action.status.as_str()
                            ));
                        }
                        if action.deadline != at {
                            broken.say(format_args!(
                                "action {id} ends at {} but its deadline is scheduled at {}",
                                action.deadline.rfc3339(),
                                at.rfc3339()
                            ));
                        }
                    }
                },
                Pending::Database(id) => match self.databases.get(&id) {
                    None => broken.say(format_args!(
                        "a deadline brings database {id} online, which does not exist"
                    )),
                    Some(database) => {
                        if database.status != DatabaseStatus::Creating {
                            broken.say(format_args!(
                                "a deadline brings database {id} online, which is {} already",
                                database.status.as_str()
                            ));
                        }
                        if database.online_at != at {
                            broken.say(format_args!(
                                "database {id} comes online at {} but its deadline is scheduled at {}",
                                database.online_at.rfc3339(),
                                at.rfc3339()
                            ));
                        }
                    }
                },
            }
        }
    }

    fn check_databases(&self, broken: &mut Broken) {
        if self.databases.len() > DATABASES_MAX {
            broken.say(format_args!(
                "the account holds {} database clusters, above dosim's limit of {DATABASES_MAX}",
                self.databases.len()
            ));
        }
        let mut names = BTreeMap::new();
        for (&key, database) in &self.databases {
            let id = database.id;
            if key != id {
                broken.say(format_args!("database {id} is stored under id {key}"));
            }
            if let Some(other) = names.insert(&database.name, id) {
                broken.say(format_args!(
                    "databases {other} and {id} are both named {}",
                    database.name
                ));
            }
            let scheduled = self
                .pending
                .contains(&(database.online_at, Pending::Database(id)));
            match database.status {
                DatabaseStatus::Creating if !scheduled => broken.say(format_args!(
                    "database {id} is creating with no deadline scheduled"
                )),
                DatabaseStatus::Online if database.online_at > self.now => {
                    broken.say(format_args!(
                        "database {id} is online before its time, {}",
                        database.online_at.rfc3339()
                    ));
                }
                _ => {}
            }
            match database.users.first() {
                None => broken.say(format_args!("database {id} has no users")),
                Some(first) if first.role != DatabaseUserRole::Primary => broken.say(format_args!(
                    "database {id}'s first user, {}, is not its primary user",
                    first.name
                )),
                Some(_) => {}
            }
            let mut users = BTreeSet::new();
            for (index, user) in database.users.iter().enumerate() {
                if !users.insert(user.name.as_str()) {
                    broken.say(format_args!(
                        "database {id} has two users named {}",
                        user.name
                    ));
                }
                if index > 0 && user.role == DatabaseUserRole::Primary {
                    broken.say(format_args!(
                        "database {id} has a second primary user, {}",
                        user.name
                    ));
                }
            }
            let mut dbs = BTreeSet::new();
            for db in &database.db_names {
                if !dbs.insert(db.as_str()) {
                    broken.say(format_args!("database {id} has two databases named {db}"));
                }
            }
            if database.engine_info().default_db.is_none() && !database.db_names.is_empty() {
                broken.say(format_args!(
                    "database {id} is {}, which has no databases, yet lists {:?}",
                    database.engine, database.db_names
                ));
            }
            let mut pools = BTreeSet::new();
            let mut pooled = 0u64;
            for pool in &database.pools {
                if !pools.insert(pool.name.as_str()) {
                    broken.say(format_args!(
                        "database {id} has two pools named {}",
                        pool.name
                    ));
                }
                if !dbs.contains(pool.db.as_str()) {
                    broken.say(format_args!(
                        "database {id}'s pool {} connects to database {}, which does not exist",
                        pool.name, pool.db
                    ));
                }
                if let Some(user) = &pool.user {
                    if !users.contains(user.as_str()) {
                        broken.say(format_args!(
                            "database {id}'s pool {} connects as user {user}, who does not exist",
                            pool.name
                        ));
                    }
                }
                pooled += u64::from(pool.size);
            }
            if pooled > pool_capacity(database) {
                broken.say(format_args!(
                    "database {id}'s pools hold {pooled} connections, above its {}",
                    pool_capacity(database)
                ));
            }
            for (what, n) in [
                ("users", database.users.len()),
                ("databases", database.db_names.len()),
                ("pools", database.pools.len()),
            ] {
                if n > DATABASE_OBJECTS_MAX {
                    broken.say(format_args!(
                        "database {id} has {n} {what}, above dosim's limit of {DATABASE_OBJECTS_MAX}"
                    ));
                }
            }
        }
    }
}

/// The invariants found broken so far, one sentence each.
impl Cloud {
    /// Each region has exactly one default VPC, the one the account's map names; ranges never
    /// overlap; every droplet is in a VPC of its region.
    fn check_vpcs(&self, broken: &mut Broken) {
        for (region, id) in &self.vpcs {
            let defaults: Vec<_> = self
                .vpc_networks
                .values()
                .filter(|v| v.region == *region && v.default)
                .map(|v| v.id)
                .collect();
            if defaults != [*id] {
                broken.say(format_args!(
                    "region {region}'s default VPC is {id}, but the VPCs marked default there are {defaults:?}"
                ));
            }
        }
        let vpcs: Vec<_> = self.vpc_networks.values().collect();
        for (i, a) in vpcs.iter().enumerate() {
            for b in &vpcs[i + 1..] {
                if a.ip_range.overlaps(b.ip_range) {
                    broken.say(format_args!(
                        "VPCs {} ({}) and {} ({}) overlap",
                        a.name, a.ip_range, b.name, b.ip_range
                    ));
                }
            }
        }
        for droplet in self.droplets.values() {
            match self.vpc_networks.get(&droplet.vpc_uuid) {
                Some(vpc) if vpc.region == droplet.region => {}
                _ => broken.say(format_args!(
                    "droplet {} is in VPC {}, which is not a VPC of its region",
                    droplet.id, droplet.vpc_uuid
                )),
            }
        }
    }

    /// Exactly one project is the default, the one the account names; every moved resource is
    /// in a project that exists.
    fn check_projects(&self, broken: &mut Broken) {
        let defaults: Vec<Uuid> = self
            .projects
            .values()
            .filter(|p| p.is_default)
            .map(|p| p.id)
            .collect();
        if defaults != [self.default_project_id] {
            broken.say(format_args!(
                "the default project is {}, but the projects marked default are {defaults:?}",
                self.default_project_id
            ));
        }
        for (urn, project) in self.project_assignment_targets() {
            if !self.projects.contains_key(&project) {
                broken.say(format_args!(
                    "{urn} is in project {project}, which does not exist"
                ));
            }
        }
    }

    /// Every DNS record id is unique on the account and below the next one to hand out; every
    /// zone keeps its one SOA record first.
    fn check_domains(&self, broken: &mut Broken) {
        let mut ids = crate::domains::record_ids(&self.domains);
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != count {
            broken.say(format_args!("two DNS records share an id"));
        }
        if let (Some(last), next) = (ids.last(), self.next_record_id) {
            if next.is_none_or(|next| *last >= next) {
                broken.say(format_args!(
                    "DNS record {last} is at or past the next id to hand out, {next:?}"
                ));
            }
        }
        for (key, domain) in &self.domains {
            if *key != domain.name {
                broken.say(format_args!("domain {} is stored under {key}", domain.name));
            }
            let soas = domain
                .records
                .iter()
                .filter(|r| r.record_type == "SOA")
                .count();
            if soas != 1
                || domain
                    .records
                    .first()
                    .is_none_or(|r| r.record_type != "SOA")
            {
                broken.say(format_args!(
                    "domain {} has {soas} SOA records, or not first",
                    domain.name
                ));
            }
        }
    }

    /// Every tag a resource carries is a tag of the account, under its canonical name, once.
    fn check_tags(&self, broken: &mut Broken) {
        let carriers = self
            .droplets
            .values()
            .map(|d| (format!("droplet {}", d.id), &d.tags))
            .chain(
                self.volumes
                    .values()
                    .map(|v| (format!("volume {}", v.id), &v.tags)),
            )
            .chain(
                self.databases
                    .values()
                    .map(|d| (format!("database cluster {}", d.id), &d.tags)),
            );
        for (resource, tags) in carriers {
            for (i, tag) in tags.iter().enumerate() {
                if !self.tags.contains_key(tag) {
                    broken.say(format_args!(
                        "{resource} carries the tag {tag:?}, which the account does not have"
                    ));
                }
                if tags[..i].contains(tag) {
                    broken.say(format_args!("{resource} carries the tag {tag:?} twice"));
                }
            }
        }
    }
}

#[derive(Default)]
struct Broken {
    sentences: String,
}

impl Broken {
    fn say(&mut self, sentence: std::fmt::Arguments<'_>) {
        if !self.sentences.is_empty() {
            self.sentences.push('\n');
        }
        self.sentences
            .write_fmt(sentence)
            .expect("writing to a String cannot fail");
    }

    fn into_result(self) -> Result<(), String> {
        if self.sentences.is_empty() {
            Ok(())
        } else {
            Err(self.sentences)
        }
    }
}
