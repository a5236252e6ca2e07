//! Errors in DigitalOcean's words: the class of failure and the exact message, but no HTTP status.

use serde::Serialize;

/// The class of a failure; the HTTP layer maps it to a status and to DigitalOcean's error `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ErrorKind {
    /// `not_found` (404).
    NotFound,
    /// `unprocessable_entity` (422).
    Unprocessable,
    /// `conflict` (409).
    Conflict,
    /// `forbidden` (403).
    Forbidden,
    /// `bad_request` (400).
    BadRequest,
    /// `precondition_failed` (412).
    PreconditionFailed,
}

impl ErrorKind {
    /// DigitalOcean's error `id` for this class of failure.
    pub const fn id(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Unprocessable => "unprocessable_entity",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::PreconditionFailed => "precondition_failed",
        }
    }
}

/// A request the account refuses; refusing never changes the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Error {
    /// Which class of failure this is.
    pub kind: ErrorKind,
    /// DigitalOcean's message, verbatim where it is known.
    pub message: String,
    /// An error `id` that replaces the kind's usual one (DigitalOcean has answered a duplicate volume name with `already_exists`).
    pub id_override: Option<&'static str>,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            id_override: None,
        }
    }

    /// DigitalOcean's error `id` for the body: the override if any, else the kind's.
    pub fn id(&self) -> &'static str {
        self.id_override.unwrap_or(self.kind.id())
    }

    pub(crate) fn not_found() -> Error {
        Error::new(ErrorKind::NotFound, msg::NOT_FOUND)
    }

    pub(crate) fn unprocessable(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Unprocessable, message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::BadRequest, message)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The messages the model returns, so callers and tests can match them without retyping.
///
/// Those marked "observed" are DigitalOcean's verbatim; the others are dosim's choices, listed in `docs/fidelity.md`.
pub mod msg {
    /// Observed: any unknown resource.
    pub const NOT_FOUND: &str = "The resource you requested could not be found.";
    /// Observed: an action, volume attach or detach, or reserved IP assign that targets a droplet with an action in flight.
    pub const DROPLET_PENDING: &str = "Droplet already has a pending event.";
    /// Observed: an action on, or delete of, a reserved IP whose previous action is in flight.
    pub const RESERVED_IP_PENDING: &str = "The floating IP already has a pending event.";
    /// Observed: reserved IP create with both `droplet_id` and `region`.
    pub const RESERVED_IP_DROPLET_AND_REGION: &str =
        "Cannot specify Droplet and region, they are mutually exclusive.";
    /// Observed: droplet create beyond the account's droplet limit.
    pub const DROPLET_LIMIT: &str = "creating this/these droplet(s) will exceed your droplet limit";
    /// Observed: droplet create with an unknown image.
    pub const INVALID_IMAGE: &str = "You specified an invalid image for Droplet creation.";
    /// Observed: droplet create with a volume that is unknown, attached, or in another region.
    pub const INVALID_VOLUME_ALLOCATIONS: &str = "Invalid volume allocations";
    /// Chosen, after the observed "already exists": volume create with a name taken in that region.
    pub const VOLUME_NAME_TAKEN: &str = "a volume with that name already exists";
    /// Observed: deleting an attached volume.
    pub const VOLUME_ATTACHED_DELETE: &str =
        "A volume that's attached to a Droplet cannot be deleted. Please detach it first before deleting.";
    /// Observed: attaching a volume to the droplet it is already attached to.
    pub const VOLUME_ALREADY_ATTACHED: &str = "This volume is already attached";
    /// Chosen: attaching a volume that is attached to another droplet.
    pub const VOLUME_ATTACHED_ELSEWHERE: &str =
        "This volume is already attached to another Droplet";
    /// Observed: attaching beyond the per-droplet volume limit.
    pub const VOLUME_PER_DROPLET_LIMIT: &str = "cannot attach more volumes to the Droplet";
    /// Observed: detaching a volume from a droplet it is not attached to.
    pub const VOLUME_NOT_ATTACHED: &str =
        "error detaching volume from droplet: volume is not attached to droplet";
    /// Observed: volume create in a region without block storage.
    pub const STORAGE_UNSUPPORTED: &str = "Storage is not supported for this region";
    /// Observed: volume create beyond the account's volume limit.
    pub const VOLUME_CAPACITY: &str = "capacity limit exceeded";
    /// Chosen, after the spec's prose: resizing a volume to the same or a smaller size.
    pub const VOLUME_RESIZE_DOWN: &str = "Volumes may only be resized upwards.";
    /// Chosen: attaching a volume to a droplet in another region.
    pub const VOLUME_REGION_MISMATCH: &str =
        "The volume and the Droplet must be in the same region.";
    /// Chosen: assigning a reserved IP to a droplet in another region.
    pub const RESERVED_IP_REGION_MISMATCH: &str =
        "The reserved IP and the Droplet must be in the same region.";
    /// Chosen: assigning a reserved IP to a droplet that already holds another one.
    pub const DROPLET_HAS_RESERVED_IP: &str = "The Droplet already has a reserved IP assigned.";
    /// Chosen: unassigning a reserved IP that is not assigned.
    pub const RESERVED_IP_NOT_ASSIGNED: &str = "The reserved IP is not assigned to a Droplet.";
    /// Chosen: reserved IP create beyond the account's reserved IP limit.
    pub const RESERVED_IP_LIMIT: &str =
        "creating this reserved IP will exceed your reserved IP limit";
    /// Chosen: reserved IP create with neither `droplet_id` nor `region`.
    pub const RESERVED_IP_NEITHER: &str = "You must specify either a Droplet or a region.";
    /// Observed: an SSH key whose fingerprint the account already has.
    pub const SSH_KEY_IN_USE: &str = "SSH Key is already in use on your account";
    /// Observed: an SSH key of a type DigitalOcean does not take.
    pub const SSH_KEY_INVALID_TYPE: &str = "Key invalid type, we support 'ssh-rsa', 'ssh-dss', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', or 'ssh-ed25519'";
    /// Observed: an SSH key whose body cannot be read.
    pub const SSH_KEY_NO_FINGERPRINT: &str =
        "Fingerprint could not be generated, please make sure your key is valid";
    /// Observed: a firewall rule's ports that are not a port, a range or `0`.
    pub const FIREWALL_PORTS: &str = "You must specify a positive value for ports.";
    /// Observed: a firewall rule address that cannot be read, or a droplet that does not exist.
    pub const FIREWALL_ADDRESS: &str = "invalid address";
    /// Chosen: a load balancer given both droplet ids and a tag, or droplets added to one
    /// that targets a tag.
    pub const LB_DROPLETS_AND_TAG: &str =
        "a load balancer targets either droplet_ids or a tag, not both";
    /// Chosen: a load balancer's droplet in another region.
    pub const LB_DROPLET_REGION: &str =
        "the load balancer and its Droplets must be in the same region";
    /// Chosen: a load balancer beyond the account's limit of 10.
    pub const LB_LIMIT: &str = "creating this load balancer will exceed your load balancer limit";
    /// Chosen: a `project_id` the account does not have.
    pub const LB_PROJECT: &str = "project_id: not a project of this account";
    /// Chosen: changing droplets or rules of a load balancer still provisioning.
    pub const LB_NOT_ACTIVE: &str =
        "the load balancer is still being provisioned; try again once its status is active";
    /// Observed (412, the spec's example): deleting a project that holds resources.
    pub const PROJECT_NOT_EMPTY: &str =
        "cannot delete a project with resources. move or remove the resources first";
    /// Chosen (412): deleting the default project.
    pub const PROJECT_DEFAULT_DELETE: &str =
        "cannot delete the default project; make another project the default first";
    /// Chosen (409): a project name the account already uses.
    pub const PROJECT_NAME_TAKEN: &str = "name: a project with that name already exists";
    /// Chosen: `is_default: false` on the default project.
    pub const PROJECT_DEFAULT_UNSET: &str =
        "is_default: cannot be unset; make another project the default instead";
    /// Observed (409): deleting a VPC that droplets or clusters are still in.
    pub const VPC_HAS_MEMBERS: &str = "Can not delete VPC with members";
    /// Chosen (403, the status observed): deleting a region's default VPC.
    pub const VPC_DEFAULT_DELETE: &str = "Can not delete default VPC";
    /// Chosen: a VPC name the account already uses.
    pub const VPC_NAME_TAKEN: &str = "name: a VPC with that name already exists";
    /// Chosen: a VPC range that overlaps another of the account's.
    pub const VPC_RANGE_OVERLAPS: &str =
        "ip_range: overlaps with another VPC network in the account";
    /// Chosen: `default: false` on a default VPC.
    pub const VPC_DEFAULT_UNSET: &str =
        "default: cannot be unset from true; make another VPC of the region its default instead";
    /// Chosen: a droplet create in a VPC with no free address left.
    pub const VPC_FULL: &str = "vpc_uuid: the VPC has no free private addresses left";
    /// Chosen: a domain that the account already has.
    pub const DOMAIN_TAKEN: &str = "Name already exists";
    /// Chosen: database cluster create with a name already in use on the account.
    pub const DATABASE_NAME_TAKEN: &str = "a database cluster with that name already exists";
    /// Chosen, after DigitalOcean's wording for other resources: resizing a droplet that is on.
    pub const DROPLET_RESIZE_ON: &str =
        "Droplet is currently on. Please power it off to run this event.";
    /// Chosen: droplet create with an unknown size.
    pub const INVALID_SIZE: &str = "You specified an invalid size for Droplet creation.";
    /// Chosen: droplet create in an unknown or unavailable region.
    pub const INVALID_REGION: &str = "You specified an invalid region for Droplet creation.";
    /// Chosen: droplet create with a size the region does not offer.
    pub const SIZE_UNAVAILABLE: &str = "Size is not available in this region.";
    /// Chosen: droplet resize to an unknown size, one the region lacks, or a smaller disk.
    pub const INVALID_RESIZE: &str = "You specified an invalid size for Droplet resize.";
    /// Chosen: destroying a droplet with volumes attached when `auto_detach_on_droplet_delete` is off.
    pub const DROPLET_HAS_VOLUMES: &str =
        "The Droplet has volumes attached. Detach them before destroying the Droplet.";
    /// Chosen: destroying a droplet with a reserved IP when `auto_unassign_on_droplet_delete` is off.
    pub const DROPLET_HAS_RESERVED_IP_DELETE: &str =
        "The Droplet has a reserved IP assigned. Unassign it before destroying the Droplet.";
    /// Chosen: deleting an assigned reserved IP when `delete_assigned_reserved_ip` is off.
    pub const RESERVED_IP_ASSIGNED_DELETE: &str =
        "The reserved IP is assigned to a Droplet. Unassign it before releasing it.";
    /// Chosen: creating a caching (redis) cluster, which DigitalOcean stopped offering in 2025.
    pub const DATABASE_REDIS: &str =
        "engine: Caching (redis) clusters can no longer be created; use valkey";
    /// Chosen: database cluster create beyond dosim's per-account cap.
    pub const DATABASE_LIMIT: &str =
        "creating this database cluster will exceed your database cluster limit";
    /// Chosen, after the spec's prose: user management on a Valkey cluster.
    pub const DATABASE_USERS_UNSUPPORTED: &str =
        "User management is not supported for this engine.";
    /// Chosen: database management on an engine without databases.
    pub const DATABASE_DBS_UNSUPPORTED: &str =
        "Database management is not supported for this engine.";
    /// Chosen, after the spec's prose: a connection pool on an engine other than PostgreSQL.
    pub const DATABASE_POOLS_UNSUPPORTED: &str =
        "Connection pools are only supported for PostgreSQL clusters.";
    /// Chosen, after the spec's summary ("for a Caching or Valkey cluster"): the eviction policy of another engine.
    pub const DATABASE_EVICTION_UNSUPPORTED: &str =
        "Eviction policy is only supported for Caching and Valkey clusters.";
    /// Chosen, after the spec's summary ("for a MySQL cluster"): the SQL mode of another engine.
    pub const DATABASE_SQL_MODE_UNSUPPORTED: &str =
        "SQL mode is only supported for MySQL clusters.";
    /// Chosen: deleting a cluster's primary user.
    pub const DATABASE_PRIMARY_USER_DELETE: &str = "The primary user cannot be deleted.";
}
