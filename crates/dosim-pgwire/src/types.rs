//! Values on the wire: type OIDs, and the text and binary formats of parameters and result columns.

use dosim_pg::{Numeric, PgError, SqlType, Value};

/// Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01 00:00:00 UTC, which binary timestamps count from.
const PG_EPOCH_UNIX_US: i64 = 946_684_800_000_000;
const DAY_US: i64 = 86_400_000_000;

/// OIDs the frontend may declare for a parameter, and the engine type each becomes.
pub(crate) fn type_of_oid(oid: u32) -> Option<SqlType> {
    Some(match oid {
        16 => SqlType::Bool,
        20 => SqlType::Int8,
        21 | 23 => SqlType::Int4,
        // name, text, bpchar, varchar and unknown all carry text; float4 and float8 arrive as numerics.
        19 | 25 | 705 | 1042 | 1043 => SqlType::Text,
        700 | 701 | 1700 => SqlType::Numeric(None),
        1114 | 1184 => SqlType::Timestamptz,
        1186 => SqlType::Interval,
        2950 => SqlType::Uuid,
        2278 => SqlType::Void,
        _ => return None,
    })
}

fn bad_binary(ty: &str) -> PgError {
    PgError::new(
        "22P03",
        format!("incorrect binary data format in bind parameter of type {ty}"),
    )
}

/// Decodes a bound parameter. Text without a type stays text, which the engine treats as PostgreSQL's `unknown`.
pub(crate) fn decode_param(
    oid: u32,
    ty: Option<SqlType>,
    binary: bool,
    raw: &[u8],
) -> Result<Value, PgError> {
    if !binary {
        let text = std::str::from_utf8(raw)
            .map_err(|_| PgError::new("22021", "invalid byte sequence for encoding \"UTF8\""))?;
        return match ty {
            None | Some(SqlType::Text) => Ok(Value::Text(text.to_string())),
            Some(t) => Value::Text(text.to_string()).coerce(t),
        };
    }
    let fixed = |n: usize, name: &str| -> Result<(), PgError> {
        if raw.len() == n {
            Ok(())
        } else {
            Err(bad_binary(name))
        }
    };
    Ok(match oid {
        16 => {
            fixed(1, "boolean")?;
            Value::Bool(raw[0] != 0)
        }
        21 => {
            fixed(2, "smallint")?;
            Value::Int4(i16::from_be_bytes([raw[0], raw[1]]) as i32)
        }
        23 => {
            fixed(4, "integer")?;
            Value::Int4(i32::from_be_bytes(raw.try_into().expect("length checked")))
        }
        20 => {
            fixed(8, "bigint")?;
            Value::Int8(i64::from_be_bytes(raw.try_into().expect("length checked")))
        }
        19 | 25 | 705 | 1042 | 1043 => Value::Text(
            std::str::from_utf8(raw)
                .map_err(|_| PgError::new("22021", "invalid byte sequence for encoding \"UTF8\""))?
                .to_string(),
        ),
        700 => {
            fixed(4, "real")?;
            float_param(f32::from_be_bytes(raw.try_into().expect("length checked")) as f64)?
        }
        701 => {
            fixed(8, "double precision")?;
            float_param(f64::from_be_bytes(raw.try_into().expect("length checked")))?
        }
        1700 => Value::Numeric(decode_numeric(raw).ok_or_else(|| bad_binary("numeric"))?),
        1114 | 1184 => {
            fixed(8, "timestamp with time zone")?;
            let pg_us = i64::from_be_bytes(raw.try_into().expect("length checked"));
            Value::Timestamptz(
                pg_us
                    .checked_add(PG_EPOCH_UNIX_US)
                    .ok_or_else(|| PgError::new("22008", "timestamp out of range"))?,
            )
        }
        1186 => {
            fixed(16, "interval")?;
            let us = i64::from_be_bytes(raw[0..8].try_into().expect("length checked"));
            let days = i32::from_be_bytes(raw[8..12].try_into().expect("length checked")) as i64;
            let months = i32::from_be_bytes(raw[12..16].try_into().expect("length checked")) as i64;
            Value::Interval(
                us.checked_add(days * DAY_US)
                    .and_then(|v| v.checked_add(months * 30 * DAY_US))
                    .ok_or_else(|| PgError::new("22008", "interval out of range"))?,
            )
        }
        2950 => {
            fixed(16, "uuid")?;
            Value::Uuid(u128::from_be_bytes(raw.try_into().expect("length checked")))
        }
        other => {
            return Err(PgError::new(
                "0A000",
                format!("binary parameters of type OID {other} are not supported"),
            )
            .with_hint("dosim's PostgreSQL supports the types listed in docs/postgres.md."))
        }
    })
}

/// Floating-point parameters become numerics, the nearest type the engine stores.
fn float_param(v: f64) -> Result<Value, PgError> {
    if !v.is_finite() {
        return Err(PgError::new(
            "0A000",
            "NaN and infinite parameters are not supported",
        ));
    }
    Numeric::parse(&format!("{v}"))
        .map(Value::Numeric)
        .ok_or_else(|| PgError::new("22003", "value out of range for numeric"))
}

/// Encodes a result value in the text or binary format, converted to the column's described type first.
pub(crate) fn encode_value(
    value: &Value,
    ty: SqlType,
    binary: bool,
) -> Result<Option<Vec<u8>>, PgError> {
    if value.is_null() {
        return Ok(None);
    }
    let value = if value.sql_type() == Some(ty)
        || matches!(
            (value, ty),
            (Value::Numeric(_), SqlType::Numeric(_)) | (_, SqlType::Void)
        ) {
        value.clone()
    } else {
        value.clone().coerce(ty)?
    };
    if !binary {
        return Ok(value.to_text().map(String::into_bytes));
    }
    Ok(Some(match &value {
        Value::Null => return Ok(None),
        Value::Bool(b) => vec![*b as u8],
        Value::Int4(v) => v.to_be_bytes().to_vec(),
        Value::Int8(v) => v.to_be_bytes().to_vec(),
        Value::Text(s) => s.as_bytes().to_vec(),
        Value::Numeric(n) => encode_numeric(*n),
        Value::Timestamptz(us) => (us - PG_EPOCH_UNIX_US).to_be_bytes().to_vec(),
        Value::Interval(us) => {
            let mut out = us.to_be_bytes().to_vec();
            out.extend_from_slice(&[0; 8]);
            out
        }
        Value::Void => vec![],
        Value::Uuid(u) => u.to_be_bytes().to_vec(),
    }))
}

/// PostgreSQL's binary `numeric`: digit count, weight, sign, display scale, then base-10000 digits.
pub(crate) fn encode_numeric(n: Numeric) -> Vec<u8> {
    let negative = n.units < 0;
    let digits = n.units.unsigned_abs().to_string();
    let scale = n.scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int_part, frac_part) = padded.split_at(padded.len() - scale);
    let int_part = int_part.trim_start_matches('0');
    // Integer digits group from the decimal point leftwards, fraction digits rightwards.
    let int_pad = (4 - int_part.len() % 4) % 4;
    let int_digits = format!("{}{int_part}", "0".repeat(int_pad));
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let frac_digits = format!("{frac_part}{}", "0".repeat(frac_pad));
    let mut groups: Vec<i16> = int_digits
        .as_bytes()
        .chunks(4)
        .chain(frac_digits.as_bytes().chunks(4))
        .map(|c| {
            std::str::from_utf8(c)
                .expect("ascii digits")
                .parse::<i16>()
                .expect("four digits")
        })
        .collect();
    let mut weight = (int_digits.len() / 4) as i16 - 1;
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let mut out = Vec::with_capacity(8 + 2 * groups.len());
    out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&(if negative { 0x4000u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&(n.scale as u16).to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    out
}

/// Reads PostgreSQL's binary `numeric`; `None` for malformed input, NaN and infinities.
pub(crate) fn decode_numeric(raw: &[u8]) -> Option<Numeric> {
    if raw.len() < 8 {
        return None;
    }
    let ndigits = i16::from_be_bytes([raw[0], raw[1]]);
    let weight = i16::from_be_bytes([raw[2], raw[3]]) as i32;
    let sign = u16::from_be_bytes([raw[4], raw[5]]);
    let dscale = u16::from_be_bytes([raw[6], raw[7]]) as usize;
    if ndigits < 0 || raw.len() != 8 + 2 * ndigits as usize || dscale > 1000 {
        return None;
    }
    let negative = match sign {
        0x0000 => false,
        0x4000 => true,
        _ => return None,
    };
    let groups: Vec<i16> = raw[8..]
        .chunks(2)
        .map(|c| i16::from_be_bytes([c[0], c[1]]))
        .collect();
    if groups.iter().any(|g| !(0..10_000).contains(g)) || weight.abs() > 1000 {
        return None;
    }
    // Group i stands for digit * 10000^(weight - i); lay the groups out around the decimal point.
    let mut int_part = String::new();
    let mut frac_part = String::new();
    for pos in 0..=weight {
        let g = groups.get(pos as usize).copied().unwrap_or(0);
        int_part.push_str(&format!("{g:04}"));
    }
    let frac_groups_start = (weight + 1).max(0);
    // Leading fraction groups that the weight skips are zeros.
    for _ in 0..(-(weight + 1)).max(0) {
        frac_part.push_str("0000");
    }
    for g in groups.iter().skip(frac_groups_start as usize) {
        frac_part.push_str(&format!("{g:04}"));
    }
    while frac_part.len() < dscale {
        frac_part.push('0');
    }
    frac_part.truncate(dscale);
    let int_part = int_part.trim_start_matches('0');
    let text = format!(
        "{}{}{}{}",
        if negative { "-" } else { "" },
        if int_part.is_empty() { "0" } else { int_part },
        if dscale > 0 { "." } else { "" },
        frac_part
    );
    Numeric::parse(&text)
}
