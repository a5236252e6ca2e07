//! SQL values and types: int, bigint, text, bool, numeric, timestamptz, and PostgreSQL's text forms of each.

use std::cmp::Ordering;
use std::fmt;

use crate::error::{sqlstate, PgError};

/// A column type this engine stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlType {
    /// `integer`, `int`, `int4`, `serial`.
    Int4,
    /// `bigint`, `int8`, `bigserial`.
    Int8,
    /// `text`, `varchar`.
    Text,
    /// `boolean`, `bool`.
    Bool,
    /// `numeric`, `decimal`, with an optional `(precision, scale)`.
    Numeric(Option<(u32, u32)>),
    /// `timestamp with time zone`, `timestamptz`.
    Timestamptz,
    /// `interval`, only as an expression's type, never stored.
    Interval,
    /// `void`, what `pg_advisory_lock` returns.
    Void,
    /// `uuid`.
    Uuid,
}

impl SqlType {
    /// PostgreSQL's name for the type, as error messages print it.
    pub fn name(self) -> &'static str {
        match self {
            SqlType::Int4 => "integer",
            SqlType::Int8 => "bigint",
            SqlType::Text => "text",
            SqlType::Bool => "boolean",
            SqlType::Numeric(_) => "numeric",
            SqlType::Timestamptz => "timestamp with time zone",
            SqlType::Interval => "interval",
            SqlType::Void => "void",
            SqlType::Uuid => "uuid",
        }
    }

    /// The type's OID in `pg_type`, as the wire layer's `RowDescription` needs it.
    pub fn oid(self) -> u32 {
        match self {
            SqlType::Int4 => 23,
            SqlType::Int8 => 20,
            SqlType::Text => 25,
            SqlType::Bool => 16,
            SqlType::Numeric(_) => 1700,
            SqlType::Timestamptz => 1184,
            SqlType::Interval => 1186,
            SqlType::Void => 2278,
            SqlType::Uuid => 2950,
        }
    }
}

/// A decimal number: `units / 10^scale`, exact, as PostgreSQL's `numeric` within 38 digits.
#[derive(Clone, Copy, Debug)]
pub struct Numeric {
    pub units: i128,
    pub scale: u32,
}

/// The largest scale this engine keeps; PostgreSQL's is larger, but 38 digits fit an `i128`.
const NUMERIC_SCALE_MAX: u32 = 30;

impl Numeric {
    pub fn from_i64(v: i64) -> Numeric {
        Numeric {
            units: v as i128,
            scale: 0,
        }
    }

    fn overflow() -> PgError {
        PgError::new(
            sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
            "value overflows numeric format",
        )
    }

    /// The same number at a larger scale.
    fn rescale_up(self, scale: u32) -> Result<Numeric, PgError> {
        let factor = pow10(scale - self.scale)?;
        let units = self.units.checked_mul(factor).ok_or_else(Self::overflow)?;
        Ok(Numeric { units, scale })
    }

    /// Rounds half away from zero to `scale` digits, as PostgreSQL's `round` and numeric typmods do.
    pub fn round_to(self, scale: u32) -> Result<Numeric, PgError> {
        if scale >= self.scale {
            return self.rescale_up(scale);
        }
        let factor = pow10(self.scale - scale)?;
        let quotient = self.units / factor;
        let remainder = self.units % factor;
        let units = if remainder.abs() * 2 >= factor {
            quotient + self.units.signum()
        } else {
            quotient
        };
        Ok(Numeric { units, scale })
    }

    fn align(a: Numeric, b: Numeric) -> Result<(i128, i128, u32), PgError> {
        let scale = a.scale.max(b.scale);
        Ok((
            a.rescale_up(scale)?.units,
            b.rescale_up(scale)?.units,
            scale,
        ))
    }

    pub fn checked_add(a: Numeric, b: Numeric) -> Result<Numeric, PgError> {
        let (x, y, scale) = Self::align(a, b)?;
        let units = x.checked_add(y).ok_or_else(Self::overflow)?;
        Ok(Numeric { units, scale })
    }

    pub fn checked_sub(a: Numeric, b: Numeric) -> Result<Numeric, PgError> {
        let (x, y, scale) = Self::align(a, b)?;
        let units = x.checked_sub(y).ok_or_else(Self::overflow)?;
        Ok(Numeric { units, scale })
    }

    pub fn checked_mul(a: Numeric, b: Numeric) -> Result<Numeric, PgError> {
        let units = a.units.checked_mul(b.units).ok_or_else(Self::overflow)?;
        let product = Numeric {
            units,
            scale: a.scale + b.scale,
        };
        if product.scale > NUMERIC_SCALE_MAX {
            product.round_to(NUMERIC_SCALE_MAX)
        } else {
            Ok(product)
        }
    }

    /// Division to at least 16 significant fractional digits, PostgreSQL's minimum.
    pub fn checked_div(a: Numeric, b: Numeric) -> Result<Numeric, PgError> {
        if b.units == 0 {
            return Err(PgError::new(sqlstate::DIVISION_BY_ZERO, "division by zero"));
        }
        let scale = a.scale.max(b.scale).max(16);
        // a/b at `scale` digits = a.units * 10^(scale + b.scale - a.scale) / b.units, computed one digit further to round.
        let shift = scale + 1 + b.scale;
        let numerator = if shift >= a.scale {
            a.units
                .checked_mul(pow10(shift - a.scale)?)
                .ok_or_else(Self::overflow)?
        } else {
            a.units / pow10(a.scale - shift)?
        };
        let extra = Numeric {
            units: numerator / b.units,
            scale: scale + 1,
        };
        extra.round_to(scale)
    }

    pub fn compare(a: Numeric, b: Numeric) -> Ordering {
        match Self::align(a, b) {
            Ok((x, y, _)) => x.cmp(&y),
            // Only a huge scale difference overflows; compare the integer parts, then fall back to sign.
            Err(_) => (a.units.signum(), a.units / pow10_lossy(a.scale))
                .cmp(&(b.units.signum(), b.units / pow10_lossy(b.scale))),
        }
    }

    pub fn parse(text: &str) -> Option<Numeric> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let scale = u32::try_from(frac_part.len()).ok()?;
        if scale > NUMERIC_SCALE_MAX {
            return None;
        }
        let mut units: i128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            units = units.checked_mul(10)?.checked_add((b - b'0') as i128)?;
        }
        Some(Numeric {
            units: if negative { -units } else { units },
            scale,
        })
    }

    /// The integer part, truncated toward zero.
    pub fn trunc(self) -> Numeric {
        Numeric {
            units: self.units / pow10_lossy(self.scale),
            scale: 0,
        }
    }

    /// The value rounded to an integer, if it fits an `i64`.
    pub fn to_i64_rounded(self) -> Option<i64> {
        let rounded = self.round_to(0).ok()?;
        i64::try_from(rounded.units).ok()
    }

    /// The number of digits before the decimal point, for typmod checks.
    fn integer_digits(self) -> u32 {
        let mut whole = (self.units / pow10_lossy(self.scale)).unsigned_abs();
        let mut n = 0;
        while whole > 0 {
            whole /= 10;
            n += 1;
        }
        n
    }
}

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.units.unsigned_abs().to_string();
        let sign = if self.units < 0 { "-" } else { "" };
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int_part, frac_part) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{int_part}.{frac_part}")
    }
}

fn pow10(exp: u32) -> Result<i128, PgError> {
    10i128.checked_pow(exp).ok_or_else(Numeric::overflow)
}

fn pow10_lossy(exp: u32) -> i128 {
    10i128.checked_pow(exp).unwrap_or(i128::MAX)
}

/// A value: a cell of a row, a parameter, or an expression's result.
#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int4(i32),
    Int8(i64),
    Numeric(Numeric),
    /// Text, and also a literal or parameter whose type is not yet known (PostgreSQL's `unknown`).
    Text(String),
    /// Microseconds since the Unix epoch, UTC.
    Timestamptz(i64),
    /// Microseconds; months and days are folded into fixed lengths (30 days, 24 hours).
    Interval(i64),
    /// The result of a function returning `void`; its text form is empty.
    Void,
    /// A UUID's 128 bits, most significant byte first, so that ordering matches PostgreSQL's.
    Uuid(u128),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value's type, or `None` for NULL.
    pub fn sql_type(&self) -> Option<SqlType> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(_) => SqlType::Bool,
            Value::Int4(_) => SqlType::Int4,
            Value::Int8(_) => SqlType::Int8,
            Value::Numeric(_) => SqlType::Numeric(None),
            Value::Text(_) => SqlType::Text,
            Value::Timestamptz(_) => SqlType::Timestamptz,
            Value::Interval(_) => SqlType::Interval,
            Value::Void => SqlType::Void,
            Value::Uuid(_) => SqlType::Uuid,
        })
    }

    /// The value in PostgreSQL's text output format, or `None` for NULL.
    pub fn to_text(&self) -> Option<String> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(b) => if *b { "t" } else { "f" }.to_string(),
            Value::Int4(v) => v.to_string(),
            Value::Int8(v) => v.to_string(),
            Value::Numeric(n) => n.to_string(),
            Value::Text(s) => s.clone(),
            Value::Timestamptz(us) => format_timestamptz(*us),
            Value::Interval(us) => format_interval(*us),
            Value::Void => String::new(),
            Value::Uuid(u) => format_uuid(*u),
        })
    }

    /// The value as it appears in a `DETAIL` line such as `Key (id)=(1) already exists.`
    pub fn detail_text(&self) -> String {
        self.to_text().unwrap_or_else(|| "null".to_string())
    }

    /// Converts the value to `target`, as an assignment or an explicit cast does.
    pub fn coerce(self, target: SqlType) -> Result<Value, PgError> {
        let out_of_range = |t: SqlType| {
            PgError::new(
                sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
                format!(
                    "{} out of range",
                    if t == SqlType::Int4 {
                        "integer"
                    } else {
                        "bigint"
                    }
                ),
            )
        };
        let invalid = |text: &str| {
            PgError::new(
                sqlstate::INVALID_TEXT_REPRESENTATION,
                format!(
                    "invalid input syntax for type {}: \"{text}\"",
                    target.name()
                ),
            )
        };
        Ok(match (self, target) {
            (Value::Null, _) => Value::Null,
            (Value::Int4(v), SqlType::Int4) => Value::Int4(v),
            (Value::Int4(v), SqlType::Int8) => Value::Int8(v as i64),
            (Value::Int8(v), SqlType::Int4) => {
                Value::Int4(i32::try_from(v).map_err(|_| out_of_range(SqlType::Int4))?)
            }
            (Value::Int8(v), SqlType::Int8) => Value::Int8(v),
            (Value::Int4(v), SqlType::Numeric(typmod)) => {
                numeric_typmod(Numeric::from_i64(v as i64), typmod)?
            }
            (Value::Int8(v), SqlType::Numeric(typmod)) => {
                numeric_typmod(Numeric::from_i64(v), typmod)?
            }
            (Value::Numeric(n), SqlType::Numeric(typmod)) => numeric_typmod(n, typmod)?,
            (Value::Numeric(n), t @ (SqlType::Int4 | SqlType::Int8)) => {
                let v = n.to_i64_rounded().ok_or_else(|| out_of_range(t))?;
                Value::Int8(v).coerce(t)?
            }
            (Value::Bool(b), SqlType::Bool) => Value::Bool(b),
            // Explicit casts between boolean and integer exist in PostgreSQL; assignment refuses them before coercing.
            (Value::Bool(b), t @ (SqlType::Int4 | SqlType::Int8)) => {
                Value::Int8(b as i64).coerce(t)?
            }
            (Value::Int4(v), SqlType::Bool) => Value::Bool(v != 0),
            (Value::Timestamptz(t), SqlType::Timestamptz) => Value::Timestamptz(t),
            (Value::Interval(t), SqlType::Interval) => Value::Interval(t),
            (Value::Uuid(u), SqlType::Uuid) => Value::Uuid(u),
            (Value::Text(s), SqlType::Uuid) => {
                Value::Uuid(parse_uuid(&s).ok_or_else(|| invalid(&s))?)
            }
            (v, SqlType::Text) => Value::Text(v.to_text().unwrap_or_default()),
            (Value::Text(s), t @ (SqlType::Int4 | SqlType::Int8)) => {
                let v: i64 = s.trim().parse().map_err(|_| invalid(&s))?;
                Value::Int8(v).coerce(t)?
            }
            (Value::Text(s), SqlType::Numeric(typmod)) => {
                numeric_typmod(Numeric::parse(&s).ok_or_else(|| invalid(&s))?, typmod)?
            }
            (Value::Text(s), SqlType::Bool) => {
                Value::Bool(parse_bool(&s).ok_or_else(|| invalid(&s))?)
            }
            (Value::Text(s), SqlType::Timestamptz) => Value::Timestamptz(parse_timestamptz(&s)?),
            (Value::Text(s), SqlType::Interval) => Value::Interval(parse_interval(&s)?),
            (v, t) => {
                return Err(PgError::new(
                    sqlstate::DATATYPE_MISMATCH,
                    format!(
                        "cannot cast type {} to {}",
                        v.sql_type().map(SqlType::name).unwrap_or("unknown"),
                        t.name()
                    ),
                ))
            }
        })
    }
}

fn numeric_typmod(n: Numeric, typmod: Option<(u32, u32)>) -> Result<Value, PgError> {
    let Some((precision, scale)) = typmod else {
        return Ok(Value::Numeric(n));
    };
    let rounded = n.round_to(scale)?;
    // With a scale above the precision (PostgreSQL 15 and later), every digit is fractional.
    let exceeds = match precision.checked_sub(scale) {
        Some(integer_digits_max) => rounded.integer_digits() > integer_digits_max,
        None => {
            let limit = Numeric {
                units: 1,
                scale: scale - precision,
            };
            Numeric::compare(
                Numeric {
                    units: rounded.units.abs(),
                    scale: rounded.scale,
                },
                limit,
            ) != std::cmp::Ordering::Less
        }
    };
    if exceeds {
        return Err(PgError::new(sqlstate::NUMERIC_VALUE_OUT_OF_RANGE, "numeric field overflow")
            .with_detail(format!(
                "A field with precision {precision}, scale {scale} must round to an absolute value less than 10^{}.",
                precision as i64 - scale as i64
            )));
    }
    Ok(Value::Numeric(rounded))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "yes" | "y" | "on" | "1" => Some(true),
        "f" | "false" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Compares two non-NULL values of comparable types; `None` when PostgreSQL would have no such operator.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    use Value::*;
    Some(match (a, b) {
        (Int4(x), Int4(y)) => x.cmp(y),
        (Int4(x), Int8(y)) => (*x as i64).cmp(y),
        (Int8(x), Int4(y)) => x.cmp(&(*y as i64)),
        (Int8(x), Int8(y)) => x.cmp(y),
        (Numeric(x), Numeric(y)) => self::Numeric::compare(*x, *y),
        (Numeric(x), Int4(y)) => self::Numeric::compare(*x, self::Numeric::from_i64(*y as i64)),
        (Numeric(x), Int8(y)) => self::Numeric::compare(*x, self::Numeric::from_i64(*y)),
        (Int4(x), Numeric(y)) => self::Numeric::compare(self::Numeric::from_i64(*x as i64), *y),
        (Int8(x), Numeric(y)) => self::Numeric::compare(self::Numeric::from_i64(*x), *y),
        (Text(x), Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bool(x), Bool(y)) => x.cmp(y),
        (Timestamptz(x), Timestamptz(y)) => x.cmp(y),
        (Interval(x), Interval(y)) => x.cmp(y),
        (Uuid(x), Uuid(y)) => x.cmp(y),
        _ => return None,
    })
}

/// Parses the forms PostgreSQL accepts: 32 hex digits, optionally in braces, optionally hyphenated after any group of four.
pub fn parse_uuid(text: &str) -> Option<u128> {
    let t = text.trim();
    let t = t
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or(t);
    if t.starts_with('-') || t.ends_with('-') || t.contains("--") {
        return None;
    }
    let hex: String = t.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(&hex, 16).ok()
}

/// Renders a UUID as PostgreSQL does: lower case, hyphenated 8-4-4-4-12.
pub fn format_uuid(u: u128) -> String {
    let h = format!("{u:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Days between the Unix epoch and the given civil date, proleptic Gregorian.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    dosim_base::days_from_civil(year, i64::from(month), i64::from(day))
}

/// The civil date of a day since the Unix epoch, proleptic Gregorian.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let (year, month, day) = dosim_base::civil_from_days(days);
    // A month is 1 to 12 and a day 1 to 31.
    let small = |n: i64| u32::try_from(n).unwrap_or(0);
    (year, small(month), small(day))
}

pub(crate) const US_PER_SECOND: i64 = 1_000_000;
pub(crate) const US_PER_DAY: i64 = 86_400 * US_PER_SECOND;

/// Renders a timestamptz as PostgreSQL does with `TimeZone = 'UTC'`: `2026-01-01 00:00:05.25+00`.
pub fn format_timestamptz(us: i64) -> String {
    let days = us.div_euclid(US_PER_DAY);
    let of_day = us.rem_euclid(US_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let secs = of_day / US_PER_SECOND;
    let frac = of_day % US_PER_SECOND;
    let mut out = format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if frac != 0 {
        let digits = format!("{frac:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push_str("+00");
    out
}

fn format_interval(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let abs = us.unsigned_abs();
    let days = abs / US_PER_DAY as u64;
    let rest = abs % US_PER_DAY as u64;
    let secs = rest / 1_000_000;
    let frac = rest % 1_000_000;
    let mut out = String::new();
    if days > 0 {
        out.push_str(&format!(
            "{sign}{days} day{} ",
            if days == 1 { "" } else { "s" }
        ));
    }
    out.push_str(&format!(
        "{sign}{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ));
    if frac != 0 {
        out.push_str(format!(".{frac:06}").trim_end_matches('0'));
    }
    out
}

/// Parses `YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][Z|±HH[:MM]]`; a missing zone means UTC, the session's zone.
pub fn parse_timestamptz(text: &str) -> Result<i64, PgError> {
    let invalid = || {
        PgError::new(
            sqlstate::INVALID_DATETIME_FORMAT,
            format!("invalid input syntax for type timestamp with time zone: \"{text}\""),
        )
    };
    let s = text.trim();
    let num = |part: &str| -> Result<i64, PgError> {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 9 {
            return Err(invalid());
        }
        part.parse().map_err(|_| invalid())
    };
    let (date, rest) = match s.find([' ', 'T', 't']) {
        Some(i) => (&s[..i], s[i + 1..].trim()),
        None => (s, ""),
    };
    let mut date_parts = date.splitn(3, '-');
    let year = num(date_parts.next().unwrap_or(""))?;
    let month = num(date_parts.next().unwrap_or(""))?;
    let day = num(date_parts.next().unwrap_or(""))?;
    // PostgreSQL's timestamps end in the year 294276; checking the year keeps the arithmetic below in range.
    if !(1..=294_276).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(PgError::new(
            sqlstate::DATETIME_FIELD_OVERFLOW,
            format!("date/time field value out of range: \"{text}\""),
        ));
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day > month_days[(month - 1) as usize] {
        return Err(PgError::new(
            sqlstate::DATETIME_FIELD_OVERFLOW,
            format!("date/time field value out of range: \"{text}\""),
        ));
    }
    let (time, zone) = match rest.find(['+', '-', 'Z', 'z']) {
        Some(i) => (rest[..i].trim(), rest[i..].trim()),
        None => (rest, ""),
    };
    let mut of_day_us = 0i64;
    if !time.is_empty() {
        let (hms, frac) = match time.split_once('.') {
            Some((a, b)) => (a, b),
            None => (time, ""),
        };
        let mut parts = hms.split(':');
        let hour = num(parts.next().unwrap_or(""))?;
        let minute = num(parts.next().unwrap_or(""))?;
        let second = match parts.next() {
            Some(p) => num(p)?,
            None => 0,
        };
        if parts.next().is_some() || hour > 24 || minute > 59 || second > 60 {
            return Err(invalid());
        }
        let mut frac_us = 0i64;
        if !frac.is_empty() {
            let digits: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
            frac_us = num(&digits)?;
        }
        of_day_us = ((hour * 60 + minute) * 60 + second) * US_PER_SECOND + frac_us;
    }
    let offset_us = match zone {
        "" | "Z" | "z" => 0,
        z => {
            let (sign, body) = z.split_at(1);
            let (h, m) = match body.split_once(':') {
                Some((h, m)) => (num(h)?, num(m)?),
                None if body.len() == 4 => (
                    num(body.get(..2).ok_or_else(invalid)?)?,
                    num(body.get(2..).ok_or_else(invalid)?)?,
                ),
                None => (num(body)?, 0),
            };
            let off = (h * 60 + m) * 60 * US_PER_SECOND;
            if sign == "-" {
                -off
            } else {
                off
            }
        }
    };
    let days = days_from_civil(year, month as u32, day as u32);
    days.checked_mul(US_PER_DAY)
        .and_then(|us| us.checked_add(of_day_us))
        .and_then(|us| us.checked_sub(offset_us))
        .ok_or_else(|| PgError::new(sqlstate::DATETIME_FIELD_OVERFLOW, "timestamp out of range"))
}

/// Parses the interval forms code uses: `5 minutes`, `1 hour 30 minutes`, `2 days`, `00:05:00`.
pub fn parse_interval(text: &str) -> Result<i64, PgError> {
    let invalid = || {
        PgError::new(
            sqlstate::INVALID_DATETIME_FORMAT,
            format!("invalid input syntax for type interval: \"{text}\""),
        )
    };
    let mut total: i64 = 0;
    let mut words = text.split_whitespace().peekable();
    if words.peek().is_none() {
        return Err(invalid());
    }
    while let Some(word) = words.next() {
        if word.contains(':') {
            let us = parse_timestamptz(&format!("1970-01-01 {word}")).map_err(|_| invalid())?;
            total = total.checked_add(us).ok_or_else(invalid)?;
            continue;
        }
        let amount = Numeric::parse(word).ok_or_else(invalid)?;
        let unit = words.next().ok_or_else(invalid)?.to_ascii_lowercase();
        let unit_us: i64 = match unit.trim_end_matches('s') {
            "microsecond" | "u" => 1,
            "millisecond" | "m" => 1_000,
            "second" | "sec" => US_PER_SECOND,
            "minute" | "min" => 60 * US_PER_SECOND,
            "hour" | "h" => 3600 * US_PER_SECOND,
            "day" | "d" => US_PER_DAY,
            "week" | "w" => 7 * US_PER_DAY,
            "month" | "mon" => 30 * US_PER_DAY,
            "year" | "y" => 365 * US_PER_DAY,
            _ => return Err(invalid()),
        };
        let us = Numeric::checked_mul(amount, Numeric::from_i64(unit_us))
            .ok()
            .and_then(|n| n.to_i64_rounded())
            .ok_or_else(invalid)?;
        total = total.checked_add(us).ok_or_else(invalid)?;
    }
    Ok(total)
}
