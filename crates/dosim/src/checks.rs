//! Checks: predicates over a run's history and final state, built in and user-written.
//!
//! [`Check`] and [`Violation`] are the API (`check.rs`); the built-in checks are over the cloud's
//! final state and the actors' beliefs (`cloud.rs`), over a database cluster's final data
//! (`sql.rs`), over the final Spaces objects (`spaces.rs`), and over its committed history (`serializable.rs`, whose search for a serial order
//! is `search.rs`).

mod check;
mod cloud;
mod search;
mod serializable;
mod spaces;
mod sql;
mod valkey;

pub use check::{Check, Violation};
pub use cloud::{
    actors_ok, no_crashed_actors, no_duplicate_droplets_by_name, no_duplicate_droplets_by_tag,
    no_orphans, no_unattached_volumes, reserved_ip_single_owner, unique_volume_name,
};
pub use serializable::{
    serializable, SerialError, SerialHistory, SERIAL_REPLAYS_MAX, SERIAL_TRANSACTIONS_MAX,
};
pub use spaces::{
    spaces_no_orphaned_uploads, spaces_object_as_believed, spaces_object_has_metadata,
    spaces_version_as_believed,
};
pub use sql::{conserved, sql_equals};
pub use valkey::single_holder;
