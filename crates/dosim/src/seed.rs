//! Seeds: the fixed epoch, the streams derived from a run's seed, seed ranges, and the trace hash.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Seconds from the Unix epoch to 2026-01-01T00:00:00Z, where every simulation's clock starts.
pub const EPOCH_UNIX_S: u64 = 1_767_225_600;

/// The wall-clock instant every simulation's clock starts from.
pub fn epoch() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(EPOCH_UNIX_S)
}

/// The independent random streams of one run, each named so that adding a stream never
/// shifts another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The cloud model's ids, UUIDs and addresses.
    Cloud,
    /// The API server's fault decisions.
    Faults,
    /// The harness's own network-fault decisions (partitions, holds).
    Network,
    /// Actor `n`'s `cx.rng()`.
    Actor(u32),
    /// User service host `n`.
    Service(u32),
    /// The strategy's own choices (PCT's priorities and change points).
    Schedule,
}

impl Stream {
    fn tag(self) -> u64 {
        match self {
            Stream::Cloud => 1,
            Stream::Faults => 2,
            Stream::Network => 3,
            Stream::Schedule => 4,
            Stream::Actor(n) => 0x1_0000_0000 | u64::from(n),
            Stream::Service(n) => 0x2_0000_0000 | u64::from(n),
        }
    }
}

/// Derives the seed of one stream from the run's seed (splitmix64 over the pair).
pub fn derive(seed: u64, stream: Stream) -> u64 {
    splitmix64(splitmix64(seed) ^ stream.tag().wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A `ChaCha8Rng` for one stream of a run.
pub fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive(seed, stream))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A half-open range of seeds, written `A..B` (or a single seed `N`, meaning `N..N+1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeds(pub Range<u64>);

/// The most seeds one sweep may cover, so a typo cannot start a run that never ends.
pub const SEEDS_MAX: u64 = 100_000_000;

impl Seeds {
    /// How many seeds the range holds.
    pub fn len(&self) -> u64 {
        self.0.end.saturating_sub(self.0.start)
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for Seeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.0.start, self.0.end)
    }
}

impl FromStr for Seeds {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let range = match text.split_once("..") {
            Some((start, end)) => {
                let start = parse_seed(start)?;
                let end = parse_seed(end.trim_start_matches('='))?;
                let end = if text.contains("..=") {
                    end.checked_add(1).ok_or("seed range end overflows u64")?
                } else {
                    end
                };
                start..end
            }
            None => {
                let seed = parse_seed(text)?;
                seed..seed.checked_add(1).ok_or("seed overflows u64")?
            }
        };
        if range.end <= range.start {
            return Err(format!("empty seed range `{text}`: write A..B with A < B"));
        }
        if range.end - range.start > SEEDS_MAX {
            return Err(format!(
                "seed range `{text}` holds more than {SEEDS_MAX} seeds"
            ));
        }
        Ok(Seeds(range))
    }
}

/// Parses one seed, decimal or `0x` hexadecimal.
pub fn parse_seed(text: &str) -> Result<u64, String> {
    let text = text.trim().replace('_', "");
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse::<u64>(),
    };
    parsed.map_err(|_| format!("`{text}` is not a seed: write a decimal or 0x-hex u64"))
}

/// A 64-bit FNV-1a hash: stable across platforms, processes and toolchains, unlike std's hasher.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    /// Feeds bytes into the hash.
    pub fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// The FNV-1a hash of a text.
pub fn hash_text(text: &str) -> u64 {
    let mut hasher = Fnv1a::default();
    hasher.write(text.as_bytes());
    hasher.finish()
}
