//! Simulated time: milliseconds since dosim's fixed epoch, 2026-01-01T00:00:00Z.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The epoch, 2026-01-01T00:00:00Z, as seconds since the Unix epoch: where every simulation's
/// clock starts, and what `dosim serve` counts from.
pub const EPOCH_UNIX_S: u64 = 1_767_225_600;

/// The epoch as a `SystemTime`, for turmoil's `Builder::epoch`.
pub fn epoch() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(EPOCH_UNIX_S)
}

/// A point in simulated time, in milliseconds since 2026-01-01T00:00:00Z.
///
/// The epoch is fixed so that every timestamp a run renders depends on the seed alone.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimTime(pub u64);

impl SimTime {
    /// The epoch, 2026-01-01T00:00:00Z, as seconds since the Unix epoch.
    pub const EPOCH_UNIX_S: u64 = EPOCH_UNIX_S;

    /// The epoch itself.
    pub const ZERO: SimTime = SimTime(0);

    /// The time `ms` milliseconds after the epoch.
    pub const fn from_ms(ms: u64) -> SimTime {
        SimTime(ms)
    }

    /// The time `s` seconds after the epoch.
    pub const fn from_secs(s: u64) -> SimTime {
        SimTime(s.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    pub const fn as_ms(self) -> u64 {
        self.0
    }

    /// This time plus `ms` milliseconds, saturating.
    pub const fn plus_ms(self, ms: u64) -> SimTime {
        SimTime(self.0.saturating_add(ms))
    }

    /// Seconds since the Unix epoch, as `ratelimit-reset` wants them.
    pub const fn unix_secs(self) -> u64 {
        Self::EPOCH_UNIX_S + self.0 / 1000
    }

    /// The time as DigitalOcean renders it: second precision, UTC, `Z`, e.g. `2026-01-01T00:00:05Z`.
    pub fn rfc3339(&self) -> String {
        let unix_s = self.unix_secs();
        let days = unix_s / 86_400;
        let secs_of_day = unix_s % 86_400;
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            secs_of_day / 3600,
            secs_of_day / 60 % 60,
            secs_of_day % 60
        )
    }
}

impl std::fmt::Display for SimTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// Converts days since 1970-01-01 into a proleptic Gregorian (year, month, day).
///
/// This is Howard Hinnant's `civil_from_days`, restricted to dates after 1970 because simulated time never precedes its epoch.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
