//! Seeds: ranges of them, and what the harness takes from `dosim-base` (the fixed epoch, the
//! streams derived from a run's seed, the trace hash).

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

pub use dosim_base::{derive, epoch, hash_text, rng, Fnv1a, Stream, EPOCH_UNIX_S};

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
