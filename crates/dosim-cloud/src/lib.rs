//! The DigitalOcean account as a deterministic state machine: no I/O, no clock, and randomness only from a seed the caller gives.
//!
//! One [`Cloud`] is one account.
//! Time comes in as a [`SimTime`] argument on every call, and every random choice (ids, UUIDs, addresses, passwords, action failures) comes from a `ChaCha8Rng` seeded by the caller, so a run depends on its seed alone.
//! Errors carry DigitalOcean's exact messages and a class ([`ErrorKind`]); the HTTP layer picks the status.

mod account;
mod actions;
pub mod catalog;
mod cloud;
mod config;
mod databases;
mod domains;
mod droplets;
mod error;
mod firewalls;
mod ids;
mod invariants;
mod load_balancers;
mod projects;
mod reserved_ips;
mod spaces_keys;
mod ssh_keys;
mod tags;
mod validate;
mod volumes;
mod vpcs;

pub use account::Account;
pub use actions::{Action, ActionStatus, ResourceType};
pub use cloud::{Cloud, SavedCloud};
pub use config::{CloudConfig, LockingActionsListed, VolumeConflictId};
pub use databases::{
    pool_capacity, Connection, ConnectionPool, Database, DatabaseCreate, DatabaseFilter,
    DatabaseStatus, DatabaseUser, DatabaseUserRole, MaintenanceWindow, PoolCreate, DATABASES_MAX,
    DATABASE_OBJECTS_MAX, DEFAULT_EVICTION_POLICY, DEFAULT_MYSQL_AUTH_PLUGIN, DEFAULT_SQL_MODE,
    EVICTION_POLICIES, MYSQL_AUTH_PLUGINS, POOL_PORT,
};
pub use domains::{
    Domain, DomainRecord, DomainRecordFilter, DomainRecordSpec, DOMAINS_MAX, NAME_SERVERS,
    RECORDS_PER_DOMAIN_MAX, RECORD_DATA_LEN_MAX, RECORD_TTL_DEFAULT, RECORD_TTL_MIN,
};
pub use dosim_base::{Delay, SimTime};
pub use droplets::{
    Droplet, DropletActionRequest, DropletCreate, DropletFilter, DropletStatus, ImageRef,
    NetworkType, NetworkV4, NetworkV6, Networks, VolumeRef, DROPLET_NAMES_MAX, USER_DATA_BYTES_MAX,
};
pub use error::{msg, Error, ErrorKind};
pub use firewalls::{
    Firewall, FirewallRule, FirewallSpec, FirewallTarget, FIREWALLS_MAX, FIREWALL_DROPLETS_MAX,
    FIREWALL_RULES_MAX,
};
pub use ids::{ActionId, DatabaseId, DropletId, VolumeId};
pub use load_balancers::{
    ForwardingRule, HealthCheck, LoadBalancer, LoadBalancerSpec, StickySessions,
    FORWARDING_RULES_MAX, LB_DROPLETS_MAX, LOAD_BALANCERS_MAX,
};
pub use projects::{Project, ProjectEdit, ProjectResource, PROJECTS_MAX, PROJECT_PURPOSES};
pub use reserved_ips::{ReservedIp, ReservedIpAction, ReservedIpCreate, ReservedIpCreated};
pub use spaces_keys::{
    msg as spaces_msg, SpacesGrant, SpacesKey, SpacesKeyCreate, SpacesKeyFilter, SpacesPermission,
    SPACES_KEYS_MAX, SPACES_KEY_GRANTS_MAX, SPACES_KEY_NAME_LEN_MAX,
};
pub use ssh_keys::{SshKey, SSH_KEYS_MAX, SSH_KEY_TYPES};
pub use tags::{Tag, TagTarget, TaggedCount, TaggedKind, TAG_TARGETS_MAX};
pub use validate::{DROPLET_NAME_LEN_MAX, TAGS_MAX, TAG_LEN_MAX};
pub use volumes::{
    Volume, VolumeAction, VolumeActionTarget, VolumeCreate, VolumeFilter, VOLUME_SIZE_GIGABYTES_MAX,
};
pub use vpcs::{Ipv4Net, Vpc, VpcCreate, VpcMember, VpcUpdate, VPCS_MAX};

#[cfg(test)]
mod tests;
