//! A delay in milliseconds, fixed or drawn from a distribution: the fault plan's latencies and the
//! cloud model's provisioning and action times share it.
//!
//! Written as `120` or `{ fixed_ms = 120 }` (fixed), `{ min_ms = 50, max_ms = 200 }` (uniform),
//! or `{ mean_ms = 80, max_ms = 2000 }` (exponential, capped). A fixed delay never draws from the
//! RNG, so configuring one replays every seed exactly as an unconfigured one does.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// A delay in milliseconds: fixed, or drawn from a distribution each time it is needed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Delay {
    /// `120`: always this many milliseconds.
    Millis(u64),
    /// `{ fixed_ms = 120 }`.
    Fixed { fixed_ms: u64 },
    /// `{ min_ms = 50, max_ms = 200 }`: uniform in the range, both ends included.
    Uniform { min_ms: u64, max_ms: u64 },
    /// `{ mean_ms = 80, max_ms = 2000 }`: exponential with this mean, capped at `max_ms`.
    Exponential { mean_ms: u64, max_ms: u64 },
}

impl Delay {
    /// The delay if it is fixed; `None` if it is drawn.
    pub fn fixed_ms(&self) -> Option<u64> {
        match *self {
            Delay::Millis(ms) | Delay::Fixed { fixed_ms: ms } => Some(ms),
            Delay::Uniform { .. } | Delay::Exponential { .. } => None,
        }
    }

    /// The shortest and the longest delay it can give (for an exponential, the mean stands in
    /// for the shortest, so that a mean above the cap is refused).
    pub fn bounds_ms(&self) -> (u64, u64) {
        match *self {
            Delay::Millis(ms) | Delay::Fixed { fixed_ms: ms } => (ms, ms),
            Delay::Uniform { min_ms, max_ms } => (min_ms, max_ms),
            Delay::Exponential { mean_ms, max_ms } => (mean_ms.min(max_ms), max_ms),
        }
    }

    /// Checks that the range is the right way round and within `cap_ms`; the error says what is
    /// wrong, for the caller to prefix with where.
    pub fn check(&self, cap_ms: u64) -> Result<(), String> {
        let (low, high) = self.bounds_ms();
        if low > high {
            return Err("min_ms must not exceed max_ms".to_owned());
        }
        if high > cap_ms {
            return Err(format!("is capped at {cap_ms} ms"));
        }
        Ok(())
    }

    /// One delay: the fixed value without touching `rng`, or a draw from `rng`.
    ///
    /// A range given the wrong way round (which [`Delay::check`] refuses) is read the right way
    /// round rather than panicking.
    pub fn draw_ms<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        match *self {
            Delay::Millis(ms) | Delay::Fixed { fixed_ms: ms } => ms,
            Delay::Uniform { min_ms, max_ms } => {
                rng.random_range(min_ms.min(max_ms)..=max_ms.max(min_ms))
            }
            Delay::Exponential { mean_ms, max_ms } => {
                // Inverse transform sampling; 1 - u lies in (0, 1], so ln is finite.
                let u: f64 = rng.random();
                let sample = -(1.0 - u).ln() * mean_ms as f64;
                // The cast saturates, so a huge mean gives the cap rather than wrapping.
                (sample as u64).min(max_ms)
            }
        }
    }

    /// The same delay with every duration multiplied by `factor`, rounded; a negative or
    /// non-finite factor is read as 1.
    pub fn scaled(&self, factor: f64) -> Delay {
        let factor = if factor.is_finite() && factor >= 0.0 {
            factor
        } else {
            1.0
        };
        // The cast saturates, so a huge factor yields u64::MAX rather than wrapping.
        let scale = |ms: u64| (ms as f64 * factor).round() as u64;
        match *self {
            Delay::Millis(ms) => Delay::Millis(scale(ms)),
            Delay::Fixed { fixed_ms } => Delay::Fixed {
                fixed_ms: scale(fixed_ms),
            },
            Delay::Uniform { min_ms, max_ms } => Delay::Uniform {
                min_ms: scale(min_ms),
                max_ms: scale(max_ms),
            },
            Delay::Exponential { mean_ms, max_ms } => Delay::Exponential {
                mean_ms: scale(mean_ms),
                max_ms: scale(max_ms),
            },
        }
    }
}

#[cfg(test)]
mod tests;
