//! DigitalOcean Spaces, the S3-compatible object store: the model ([`store`]) and the S3 wire API ([`Spaces::router`]).
//!
//! The store is data and functions: no I/O, no clock; time comes in as `SimTime`, and version ids and
//! upload ids from a seed. The wire verifies SigV4 against the keys of `/v2/spaces/keys` and against
//! simulated time, decodes the bodies SDKs send (`aws-chunked`, trailers, checksums), admits every
//! request that changes state through the operation gate (`Plane::Spaces`), and logs every request.

pub mod conditions;
pub mod error;
mod ops;
pub mod payload;
mod service;
pub mod sigv2;
pub mod sigv4;
pub mod store;
mod wire;
pub mod xml;

pub use conditions::{ConditionalPut, Conditions};
pub use error::S3Error;
pub use ops::parse_range;
pub use service::{Clock, KeyStore, LogEntry, Logged, Peer, Spaces, SpacesConfig};
pub use store::{Acl, Bucket, ObjectVersion, Store, StoreConfig, Versioning};
pub use wire::DOMAIN;

#[cfg(test)]
mod tests;
