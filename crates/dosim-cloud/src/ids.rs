//! Newtype ids for each kind of DigitalOcean resource.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A droplet's id: sequential per account, starting at a realistic value drawn from the seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DropletId(pub u64);

/// An action's id: sequential per account, starting at a realistic value drawn from the seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionId(pub u64);

/// A block storage volume's id, a UUID drawn from the seeded RNG.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VolumeId(pub Uuid);

/// A managed database cluster's id, a UUID drawn from the seeded RNG.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseId(pub Uuid);

impl VolumeId {
    /// Parses a volume id as it appears in a path; `None` if it is not a UUID.
    pub fn parse(s: &str) -> Option<VolumeId> {
        Uuid::try_parse(s).ok().map(VolumeId)
    }
}

impl DatabaseId {
    /// Parses a database cluster id as it appears in a path; `None` if it is not a UUID.
    pub fn parse(s: &str) -> Option<DatabaseId> {
        Uuid::try_parse(s).ok().map(DatabaseId)
    }
}

macro_rules! display {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }
    )*};
}
display!(DropletId, ActionId, VolumeId, DatabaseId);
