//! A typed async client for the DigitalOcean API v2, with a pluggable transport.
//!
//! ```no_run
//! use dosim_client::{Client, HyperTransport, VolumeCreate};
//!
//! # async fn run() -> Result<(), dosim_client::Error> {
//! let client = Client::new("http://127.0.0.1:8080", "dosim-token", HyperTransport::http());
//! let volumes = client.volumes().list().name("pgdata").region("nyc3").all().await?;
//! if volumes.is_empty() {
//!     client.volumes().create(&VolumeCreate::new("pgdata", "nyc3", 100)).await?;
//! }
//! # Ok(())
//! # }
//! ```

// `Error::Api` carries DigitalOcean's whole answer so callers can match on it without a box;
// errors are rare next to responses, so their size costs nothing that matters.
#![allow(clippy::result_large_err)]

mod account;
mod actions;
mod bodies;
mod catalogue;
mod client;
mod collection;
mod common;
mod databases;
mod domains;
mod droplets;
mod error;
mod firewalls;
mod load_balancers;
mod projects;
mod reserved_ips;
mod retry;
mod ssh_keys;
mod tags;
mod time;
mod transport;
mod volumes;
mod vpcs;
mod wait;

pub use bytes::Bytes;
pub use http;

pub use account::{Account, AccountService, RegionsService, SizesService, Team};
pub use actions::{Action, ActionStatus, ActionsService};
pub use client::{
    Client, ClientBuilder, List, DIGITALOCEAN_BASE_URL, LIST_PAGES_MAX, PER_PAGE_MAX,
    TIMEOUT_DEFAULT, USER_AGENT_DEFAULT,
};
pub use common::{
    ActionLink, DiskInfo, DiskSize, DropletLink, Links, Meta, Page, Pages, Region, Size,
};
pub use databases::{
    ConnectionPool, ConnectionPoolCreate, ConnectionPoolUpdate, DatabaseCluster,
    DatabaseConnection, DatabaseCreate, DatabaseList, DatabaseUser, DatabaseUserCreate,
    DatabasesService, Db, FirewallRule, MaintenanceWindow, MysqlSettings,
};
pub use domains::{Domain, DomainRecord, DomainRecordEdit, DomainsService};
pub use droplets::{
    BackupWindow, Created, Droplet, DropletAction, DropletCreate, DropletImage, DropletStatus,
    DropletsService, Image, Kernel, NetworkV4, NetworkV6, Networks, SshKey, DROPLET_NAMES_MAX,
};
pub use error::{ApiError, Error, RateLimit, BODY_EXCERPT_BYTES_MAX};
pub use firewalls::{Firewall, FirewallTarget, FirewallsService, InboundRule, OutboundRule};
pub use load_balancers::{ForwardingRule, LoadBalancer, LoadBalancersService};
pub use projects::{Project, ProjectEdit, ProjectResource, ProjectsService};
pub use reserved_ips::{FloatingIp, FloatingIpsService, ReservedIp, ReservedIpsService};
pub use retry::{RetryPolicy, RETRIES_MAX};
pub use ssh_keys::{AccountKey, SshKeysService};
pub use tags::{Tag, TagResource, TaggedCount, TaggedResources, TagsService};
pub use time::{SystemClock, Timestamp, TimestampError, WallClock};
pub use transport::{
    HyperTransport, Transport, TransportError, TransportErrorKind, TransportFuture,
    RESPONSE_BODY_BYTES_MAX,
};
pub use volumes::{Volume, VolumeCreate, VolumesService};
pub use vpcs::{Vpc, VpcEdit, VpcMember, VpcsService};
pub use wait::{Wait, POLLS_MAX, POLL_INTERVAL_DEFAULT, WAIT_TIMEOUT_DEFAULT};

impl Client {
    /// Droplets: create, list, get, delete, and their actions.
    pub fn droplets(&self) -> DropletsService<'_> {
        DropletsService { client: self }
    }

    /// Block storage volumes and their actions.
    pub fn volumes(&self) -> VolumesService<'_> {
        VolumesService { client: self }
    }

    /// Domains and DNS records (`/v2/domains`).
    pub fn domains(&self) -> DomainsService<'_> {
        DomainsService { client: self }
    }

    /// SSH keys (`/v2/account/keys`).
    pub fn ssh_keys(&self) -> SshKeysService<'_> {
        SshKeysService { client: self }
    }

    /// VPC networks (`/v2/vpcs`).
    pub fn vpcs(&self) -> VpcsService<'_> {
        VpcsService { client: self }
    }

    /// Projects (`/v2/projects`).
    pub fn projects(&self) -> ProjectsService<'_> {
        ProjectsService { client: self }
    }

    /// Cloud firewalls (`/v2/firewalls`).
    pub fn firewalls(&self) -> FirewallsService<'_> {
        FirewallsService { client: self }
    }

    /// Load balancers (`/v2/load_balancers`).
    pub fn load_balancers(&self) -> LoadBalancersService<'_> {
        LoadBalancersService { client: self }
    }

    /// Tags (`/v2/tags`).
    pub fn tags(&self) -> TagsService<'_> {
        TagsService { client: self }
    }

    /// Reserved IPs (`/v2/reserved_ips`).
    pub fn reserved_ips(&self) -> ReservedIpsService<'_> {
        ReservedIpsService {
            client: self,
            floating: false,
        }
    }

    /// Floating IPs: reserved IPs on their legacy paths (`/v2/floating_ips`) and keys.
    pub fn floating_ips(&self) -> FloatingIpsService<'_> {
        ReservedIpsService {
            client: self,
            floating: true,
        }
    }

    /// Every action on the account.
    pub fn actions(&self) -> ActionsService<'_> {
        ActionsService { client: self }
    }

    /// Managed database clusters, their databases, users and pools.
    pub fn databases(&self) -> DatabasesService<'_> {
        DatabasesService { client: self }
    }

    /// The token's account.
    pub fn account(&self) -> AccountService<'_> {
        AccountService { client: self }
    }

    /// The regions.
    pub fn regions(&self) -> RegionsService<'_> {
        RegionsService { client: self }
    }

    /// The droplet sizes.
    pub fn sizes(&self) -> SizesService<'_> {
        SizesService { client: self }
    }
}
