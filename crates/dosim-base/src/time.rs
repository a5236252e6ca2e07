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
        let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX));
        let (hour, minute, second) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
        let Ok(year @ 0..=9999) = u64::try_from(year) else {
            return format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z");
        };
        // Written digit by digit: every rendered resource carries a time, and the formatter's
        // machinery cost more than the calendar.
        let mut text = *b"0000-00-00T00:00:00Z";
        let mut digits = |at: usize, width: usize, mut value: u64| {
            for place in text[at..at + width].iter_mut().rev() {
                *place = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        digits(0, 4, year);
        digits(5, 2, month as u64);
        digits(8, 2, day as u64);
        digits(11, 2, hour);
        digits(14, 2, minute);
        digits(17, 2, second);
        text.iter().map(|&byte| char::from(byte)).collect()
    }
}

impl std::fmt::Display for SimTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`),
/// for any year, before 1970 included: the one calendar every crate's timestamps use.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian (year, month, day) of a day since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), the inverse of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::{civil_from_days, days_from_civil, SimTime};

    /// The digit-by-digit rendering writes what `format!` writes, at the edges of every field
    /// and past the four-digit years it does not handle itself.
    #[test]
    fn rfc3339_is_what_the_formatter_writes() {
        let formatted = |time: SimTime| {
            let unix_s = time.unix_secs();
            let (year, month, day) =
                civil_from_days(i64::try_from(unix_s / 86_400).unwrap_or(i64::MAX));
            let secs_of_day = unix_s % 86_400;
            format!(
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
                secs_of_day / 3600,
                secs_of_day / 60 % 60,
                secs_of_day % 60
            )
        };
        let day_ms = 86_400_000;
        let mut times = vec![
            0,
            999,
            1_000,
            59_999,
            3_599_999,
            day_ms - 1,
            day_ms,
            u64::MAX,
        ];
        times.extend((0..4_000).map(|n: u64| n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20));
        times.extend((0..400).map(|year: u64| year * 365 * day_ms + 59 * day_ms));
        times.extend((0..64).map(|shift| 1u64 << shift));
        for ms in times {
            let time = SimTime(ms);
            assert_eq!(time.rfc3339(), formatted(time), "{ms}");
        }
        assert_eq!(SimTime(5_000).rfc3339(), "2026-01-01T00:00:05Z");
    }

    #[test]
    fn the_calendar_knows_leap_years_and_dates_before_1970() {
        for (date, days) in [
            ((1970, 1, 1), 0),
            ((2000, 2, 29), 11_016),
            ((2026, 1, 1), 20_454),
            ((1969, 12, 31), -1),
            ((1900, 3, 1), -25_508),
            ((-4713, 11, 24), -2_440_588),
        ] {
            assert_eq!(days_from_civil(date.0, date.1, date.2), days, "{date:?}");
            assert_eq!(civil_from_days(days), date, "{days}");
        }
        for days in (-1_000_000..1_000_000).step_by(997) {
            let (year, month, day) = civil_from_days(days);
            assert!(
                (1..=12).contains(&month) && (1..=31).contains(&day),
                "{days}"
            );
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }

    #[test]
    fn simulated_time_renders_as_digitalocean_does() {
        assert_eq!(
            SimTime::ZERO.plus_ms(5_000).rfc3339(),
            "2026-01-01T00:00:05Z"
        );
    }
}
