//! Unit tests for values: numeric arithmetic and text forms, timestamps, intervals, casts, LIKE.

use crate::eval::like;
use crate::value::{parse_interval, parse_timestamptz, Numeric, SqlType, Value};

/// Evaluates a small expression language over values and renders the result or the error.
#[track_caller]
fn check(case: &str, expect: &str) {
    let (op, args) = case.split_once(' ').unwrap_or((case, ""));
    let args: Vec<&str> = args.split(" , ").collect();
    let num = |s: &str| Numeric::parse(s).unwrap_or_else(|| panic!("bad numeric {s}"));
    let render_num = |r: Result<Numeric, crate::PgError>| match r {
        Ok(n) => n.to_string(),
        Err(e) => format!("{} {}", e.sqlstate, e.message),
    };
    let actual = match op {
        "add" => render_num(Numeric::checked_add(num(args[0]), num(args[1]))),
        "sub" => render_num(Numeric::checked_sub(num(args[0]), num(args[1]))),
        "mul" => render_num(Numeric::checked_mul(num(args[0]), num(args[1]))),
        "div" => render_num(Numeric::checked_div(num(args[0]), num(args[1]))),
        "round" => render_num(num(args[0]).round_to(args[1].parse().unwrap())),
        "parse_numeric" => Numeric::parse(args[0])
            .map(|n| n.to_string())
            .unwrap_or_else(|| "invalid".into()),
        "timestamptz" => match parse_timestamptz(args[0]) {
            Ok(us) => Value::Timestamptz(us).to_text().unwrap(),
            Err(e) => format!("{} {}", e.sqlstate, e.message),
        },
        "interval" => match parse_interval(args[0]) {
            Ok(us) => Value::Interval(us).to_text().unwrap(),
            Err(e) => format!("{} {}", e.sqlstate, e.message),
        },
        "cast" => {
            let ty = match args[1] {
                "int4" => SqlType::Int4,
                "int8" => SqlType::Int8,
                "bool" => SqlType::Bool,
                "numeric(5,2)" => SqlType::Numeric(Some((5, 2))),
                other => panic!("no type {other}"),
            };
            match Value::Text(args[0].to_string()).coerce(ty) {
                Ok(v) => v.to_text().unwrap_or_else(|| "NULL".into()),
                Err(e) => {
                    let mut s = format!("{} {}", e.sqlstate, e.message);
                    if let Some(d) = e.detail {
                        s.push_str(&format!(" / {d}"));
                    }
                    s
                }
            }
        }
        "like" => like(args[0], args[1]).to_string(),
        other => panic!("no operation {other}"),
    };
    assert_eq!(actual, expect, "{case}");
}

#[test]
fn numeric_arithmetic_keeps_scale() {
    check("add 1.50 , 2.5", "4.00");
    check("sub 1 , 2.25", "-1.25");
    check("mul 1.5 , 2.25", "3.375");
    check("mul -0.5 , 0.5", "-0.25");
    check("div 1 , 3", "0.3333333333333333");
    check("div 10 , 4", "2.5000000000000000");
    check("div -7 , 2", "-3.5000000000000000");
    check("div 1 , 0", "22012 division by zero");
    check(
        "mul 99999999999999999999 , 99999999999999999999",
        "22003 value overflows numeric format",
    );
}

#[test]
fn numeric_rounds_half_away_from_zero() {
    check("round 2.345 , 2", "2.35");
    check("round -2.345 , 2", "-2.35");
    check("round 2.344 , 2", "2.34");
    check("round 0.5 , 0", "1");
    check("round 7 , 2", "7.00");
}

#[test]
fn numeric_text_forms() {
    check("parse_numeric 007.10", "7.10");
    check("parse_numeric -.5", "-0.5");
    check("parse_numeric +3", "3");
    check("parse_numeric 1e5", "invalid");
    check("parse_numeric .", "invalid");
    check("parse_numeric 1.2.3", "invalid");
}

#[test]
fn timestamptz_parse_and_render_in_utc() {
    check("timestamptz 2026-01-01", "2026-01-01 00:00:00+00");
    check(
        "timestamptz 2026-01-01 10:00:00+02",
        "2026-01-01 08:00:00+00",
    );
    check(
        "timestamptz 2026-01-01T10:00:00.250Z",
        "2026-01-01 10:00:00.25+00",
    );
    check(
        "timestamptz 2026-01-01 23:30:00-0130",
        "2026-01-02 01:00:00+00",
    );
    check("timestamptz 2024-02-29 12:00", "2024-02-29 12:00:00+00");
    check(
        "timestamptz 1969-12-31 23:59:59.999999+00",
        "1969-12-31 23:59:59.999999+00",
    );
    check(
        "timestamptz 2026-13-01",
        "22008 date/time field value out of range: \"2026-13-01\"",
    );
    check(
        "timestamptz yesterday",
        "22007 invalid input syntax for type timestamp with time zone: \"yesterday\"",
    );
    check(
        "timestamptz 2026-01-01 10:00+aé1",
        "22007 invalid input syntax for type timestamp with time zone: \"2026-01-01 10:00+aé1\"",
    );
    check(
        "timestamptz 999999999-01-01",
        "22008 date/time field value out of range: \"999999999-01-01\"",
    );
}

#[test]
fn intervals() {
    check("interval 5 minutes", "00:05:00");
    check("interval 1 hour 30 minutes", "01:30:00");
    check("interval 2 days", "2 days 00:00:00");
    check("interval 1.5 seconds", "00:00:01.5");
    check("interval 00:00:10", "00:00:10");
    check(
        "interval soon",
        "22007 invalid input syntax for type interval: \"soon\"",
    );
}

#[test]
fn casts_from_text() {
    check("cast 42 , int4", "42");
    check("cast  7  , int8", "7");
    check("cast 2147483648 , int4", "22003 integer out of range");
    check(
        "cast abc , int8",
        "22P02 invalid input syntax for type bigint: \"abc\"",
    );
    check("cast yes , bool", "t");
    check("cast off , bool", "f");
    check(
        "cast maybe , bool",
        "22P02 invalid input syntax for type boolean: \"maybe\"",
    );
    check("cast 1.005 , numeric(5,2)", "1.01");
    check(
        "cast 1234.5 , numeric(5,2)",
        "22003 numeric field overflow / A field with precision 5, scale 2 must round to an absolute value less than 10^3.",
    );
}

#[test]
fn like_patterns() {
    check("like abc , a%", "true");
    check("like abc , %c", "true");
    check("like abc , a_c", "true");
    check("like abc , a_", "false");
    check("like a%c , a\\%c", "true");
    check("like abc , a\\%c", "false");
    check("like  , %", "true");
    check(
        "like aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab , %a%a%a%a%a%a%a%a%a%a%a%a%ac",
        "false",
    );
}
