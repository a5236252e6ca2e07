//! Time as DigitalOcean writes it (`Timestamp`), and the wall clock code compares it with
//! (`WallClock`).
//!
//! Code that asks "is this droplet older than ten minutes?" reads two times: the resource's
//! `created_at` and now. Taking now from a [`WallClock`] passed in, rather than from
//! `SystemTime::now()`, lets the same code run against DigitalOcean with [`SystemClock`] and inside
//! a simulation with the simulation's clock, which agrees with the timestamps the fake API writes
//! and keeps a run replayable.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use dosim_base::{civil_from_days, days_from_civil};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time, to the millisecond, as DigitalOcean's RFC 3339 timestamps say it
/// (`2026-01-01T00:00:05Z`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    unix_ms: i64,
}

/// A string that is not an RFC 3339 timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampError {
    input: String,
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an RFC 3339 timestamp like 2026-01-01T00:00:05Z",
            self.input
        )
    }
}

impl std::error::Error for TimestampError {}

/// The longest timestamp text read; DigitalOcean's are 20 characters, 35 allows nanoseconds and an offset.
const TEXT_LEN_MAX: usize = 35;

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp { unix_ms: 0 };

    /// The time `unix_ms` milliseconds after 1970-01-01T00:00:00Z (before it, if negative).
    pub const fn from_unix_ms(unix_ms: i64) -> Timestamp {
        Timestamp { unix_ms }
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub const fn unix_ms(self) -> i64 {
        self.unix_ms
    }

    /// How long after `earlier` this is; `None` if it is before `earlier`.
    pub fn duration_since(self, earlier: Timestamp) -> Option<Duration> {
        let ms = self.unix_ms.checked_sub(earlier.unix_ms)?;
        u64::try_from(ms).ok().map(Duration::from_millis)
    }

    /// This time plus `duration`, saturating.
    pub fn saturating_add(self, duration: Duration) -> Timestamp {
        let ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Timestamp::from_unix_ms(self.unix_ms.saturating_add(ms))
    }

    /// Reads `YYYY-MM-DDTHH:MM:SS`, an optional fraction (kept to the millisecond), and `Z` or
    /// an offset `±HH:MM`; `t` and `z` may be lowercase, and a space may stand for `T`.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        let error = || TimestampError {
            input: text.chars().take(TEXT_LEN_MAX + 5).collect(),
        };
        let b = text.as_bytes();
        if b.len() < 20 || b.len() > TEXT_LEN_MAX {
            return Err(error());
        }
        let digits = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = &b[range];
            part.iter()
                .all(u8::is_ascii_digit)
                .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
        };
        let separators = b[4] == b'-'
            && b[7] == b'-'
            && matches!(b[10], b'T' | b't' | b' ')
            && b[13] == b':'
            && b[16] == b':';
        if !separators {
            return Err(error());
        }
        let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
            digits(0..4),
            digits(5..7),
            digits(8..10),
            digits(11..13),
            digits(14..16),
            digits(17..19),
        ) else {
            return Err(error());
        };
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return Err(error());
        }
        let mut rest = &b[19..];
        let mut ms = 0;
        if let Some(fraction) = rest.strip_prefix(b".") {
            let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
            if len == 0 || len > 9 {
                return Err(error());
            }
            for (i, d) in fraction[..len.min(3)].iter().enumerate() {
                ms += i64::from(d - b'0') * [100, 10, 1][i];
            }
            rest = &fraction[len..];
        }
        let offset_minutes = match rest {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let two = |a: u8, b: u8| {
                    (a.is_ascii_digit() && b.is_ascii_digit())
                        .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
                };
                let (Some(h), Some(m)) = (two(*h1, *h2), two(*m1, *m2)) else {
                    return Err(error());
                };
                if h > 23 || m > 59 {
                    return Err(error());
                }
                let minutes = h * 60 + m;
                if *sign == b'-' {
                    -minutes
                } else {
                    minutes
                }
            }
            _ => return Err(error()),
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
        Ok(Timestamp::from_unix_ms(seconds * 1000 + ms))
    }
}

impl fmt::Display for Timestamp {
    /// UTC with `Z`, to the second as DigitalOcean writes it, with milliseconds only when there are some.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.unix_ms.div_euclid(1000);
        let ms = self.unix_ms.rem_euclid(1000);
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        let of_day = seconds.rem_euclid(86_400);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60
        )?;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Timestamp, TimestampError> {
        Timestamp::parse(text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Where code reads the current time.
pub trait WallClock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The machine's clock, for code talking to DigitalOcean itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl WallClock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "the one reading of the machine's clock, for use outside simulations"
    )]
    fn now(&self) -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_unix_ms(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_and_write_as_digitalocean_does() {
        // (text, unix ms, as written back)
        let cases: &[(&str, i64, &str)] = &[
            ("1970-01-01T00:00:00Z", 0, "1970-01-01T00:00:00Z"),
            (
                "2026-01-01T00:00:05Z",
                1_767_225_605_000,
                "2026-01-01T00:00:05Z",
            ),
            (
                "2020-07-21T18:37:44Z",
                1_595_356_664_000,
                "2020-07-21T18:37:44Z",
            ),
            (
                "2028-02-29T23:59:59.5Z",
                1_835_481_599_500,
                "2028-02-29T23:59:59.500Z",
            ),
            (
                "2026-01-01T01:00:00+01:00",
                1_767_225_600_000,
                "2026-01-01T00:00:00Z",
            ),
            (
                "2025-12-31t19:00:00.123456789-05:00",
                1_767_225_600_123,
                "2026-01-01T00:00:00.123Z",
            ),
            ("1969-12-31T23:59:59Z", -1000, "1969-12-31T23:59:59Z"),
        ];
        for (text, unix_ms, written) in cases {
            let parsed = Timestamp::parse(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(parsed.unix_ms(), *unix_ms, "{text}");
            assert_eq!(parsed.to_string(), *written, "{text}");
            let json = serde_json::to_string(&parsed).unwrap();
            assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), parsed);
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_text() {
        for text in [
            "",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+1:00",
            "2026-01-01T00:00:00Z trailing",
            "２０２６-01-01T00:00:00Z",
            "yesterday at noon, roughly",
        ] {
            let error = Timestamp::parse(text).expect_err(text);
            assert!(error.to_string().contains("is not an RFC 3339 timestamp"));
        }
    }

    #[test]
    fn durations_between_timestamps() {
        let created = Timestamp::parse("2026-01-01T00:00:05Z").unwrap();
        let now = created.saturating_add(Duration::from_secs(600));
        assert_eq!(now.duration_since(created), Some(Duration::from_secs(600)));
        assert_eq!(created.duration_since(now), None);
    }
}
