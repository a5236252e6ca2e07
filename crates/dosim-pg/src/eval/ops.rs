//! Operators on values: arithmetic, comparison with SQL's NULL logic, truth values, LIKE, and how untyped literals take the other operand's type.

use std::cmp::Ordering;

use sqlparser::ast::{BinaryOperator, Expr, Value as AstValue};

use crate::error::{sqlstate, PgError};
use crate::value::{compare, Numeric, SqlType, Value};

/// A literal number: `integer` if it fits, else `bigint`, else `numeric`, as PostgreSQL types it.
pub(super) fn number_literal(text: &str) -> Result<Value, PgError> {
    if let Ok(v) = text.parse::<i32>() {
        return Ok(Value::Int4(v));
    }
    if let Ok(v) = text.parse::<i64>() {
        return Ok(Value::Int8(v));
    }
    Numeric::parse(text).map(Value::Numeric).ok_or_else(|| {
        PgError::new(
            sqlstate::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type numeric: \"{text}\""),
        )
    })
}

fn op_missing(op: &str, a: &Value, b: &Value) -> PgError {
    let name = |v: &Value| v.sql_type().map(SqlType::name).unwrap_or("unknown");
    PgError::new(
        sqlstate::UNDEFINED_FUNCTION,
        format!("operator does not exist: {} {op} {}", name(a), name(b)),
    )
    .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts.")
}

/// Whether an expression has no type of its own yet: a string literal or a text parameter, PostgreSQL's `unknown`.
pub(crate) fn untyped(e: &Expr) -> bool {
    match e {
        Expr::Nested(inner) => untyped(inner),
        Expr::Value(v) => match &v.value {
            AstValue::Placeholder(p) => !p.starts_with("$s"),
            AstValue::SingleQuotedString(_)
            | AstValue::EscapedStringLiteral(_)
            | AstValue::DollarQuotedString(_)
            | AstValue::Null => true,
            _ => false,
        },
        _ => false,
    }
}

/// Refuses an operator between a `text` value (a column, a cast, a function's result) and another type, as PostgreSQL has no such operator; untyped literals convert instead.
pub(super) fn check_typed_text(
    left: &Expr,
    l: &Value,
    right: &Expr,
    r: &Value,
    op: &str,
) -> Result<(), PgError> {
    let typed_text = |e: &Expr, v: &Value| matches!(v, Value::Text(_)) && !untyped(e);
    let other_type = |v: &Value| !v.is_null() && !matches!(v, Value::Text(_));
    if (typed_text(left, l) && other_type(r)) || (typed_text(right, r) && other_type(l)) {
        return Err(op_missing(op, l, r));
    }
    Ok(())
}

/// Brings an untyped literal or parameter (`Text`) to the other operand's type, as PostgreSQL resolves `unknown`.
fn unify(a: Value, b: Value) -> Result<(Value, Value), PgError> {
    match (&a, &b) {
        (Value::Text(_), Value::Text(_)) => Ok((a, b)),
        (Value::Text(_), other) if !other.is_null() => {
            let t = other.sql_type().expect("non-null");
            Ok((a.coerce(t)?, b))
        }
        (other, Value::Text(_)) if !other.is_null() => {
            let t = other.sql_type().expect("non-null");
            Ok((a, b.coerce(t)?))
        }
        _ => Ok((a, b)),
    }
}

/// Compares with SQL's three-valued logic: `None` when either side is NULL.
pub(crate) fn sql_compare(a: Value, b: Value, op: &str) -> Result<Option<Ordering>, PgError> {
    if a.is_null() || b.is_null() {
        return Ok(None);
    }
    let (a, b) = unify(a, b)?;
    compare(&a, &b)
        .map(Some)
        .ok_or_else(|| op_missing(op, &a, &b))
}

pub(super) fn int_overflow(ty: SqlType) -> PgError {
    PgError::new(
        sqlstate::NUMERIC_VALUE_OUT_OF_RANGE,
        format!(
            "{} out of range",
            if ty == SqlType::Int4 {
                "integer"
            } else {
                "bigint"
            }
        ),
    )
}

pub(super) fn arith(op: &BinaryOperator, a: Value, b: Value) -> Result<Value, PgError> {
    use Value::*;
    if a.is_null() || b.is_null() {
        return Ok(Null);
    }
    let (a, b) = unify(a, b)?;
    let sym = op.to_string();
    let div_zero = || PgError::new(sqlstate::DIVISION_BY_ZERO, "division by zero");
    match (&a, &b) {
        (Int4(_) | Int8(_), Int4(_) | Int8(_)) => {
            let x = as_i64(&a);
            let y = as_i64(&b);
            let r = match op {
                BinaryOperator::Plus => x.checked_add(y),
                BinaryOperator::Minus => x.checked_sub(y),
                BinaryOperator::Multiply => x.checked_mul(y),
                BinaryOperator::Divide if y == 0 => return Err(div_zero()),
                BinaryOperator::Divide => x.checked_div(y),
                BinaryOperator::Modulo if y == 0 => return Err(div_zero()),
                BinaryOperator::Modulo => Some(x.wrapping_rem(y)),
                _ => return Err(op_missing(&sym, &a, &b)),
            };
            // integer with integer stays integer: computed in bigint, out of range if it does not fit.
            if matches!((&a, &b), (Int4(_), Int4(_))) {
                r.and_then(|v| i32::try_from(v).ok())
                    .map(Int4)
                    .ok_or_else(|| int_overflow(SqlType::Int4))
            } else {
                r.map(Int8).ok_or_else(|| int_overflow(SqlType::Int8))
            }
        }
        (Int4(_) | Int8(_) | Numeric(_), Int4(_) | Int8(_) | Numeric(_)) => {
            let x = as_numeric(&a);
            let y = as_numeric(&b);
            Ok(Numeric(match op {
                BinaryOperator::Plus => self::Numeric::checked_add(x, y)?,
                BinaryOperator::Minus => self::Numeric::checked_sub(x, y)?,
                BinaryOperator::Multiply => self::Numeric::checked_mul(x, y)?,
                BinaryOperator::Divide => self::Numeric::checked_div(x, y)?,
                BinaryOperator::Modulo => {
                    if y.units == 0 {
                        return Err(div_zero());
                    }
                    // PostgreSQL's numeric mod truncates the quotient toward zero.
                    let q = self::Numeric::checked_div(x, y)?.trunc();
                    self::Numeric::checked_sub(x, self::Numeric::checked_mul(q, y)?)?
                }
                _ => return Err(op_missing(&sym, &a, &b)),
            }))
        }
        (Timestamptz(t), Interval(i)) => match op {
            BinaryOperator::Plus => Ok(Timestamptz(t.saturating_add(*i))),
            BinaryOperator::Minus => Ok(Timestamptz(t.saturating_sub(*i))),
            _ => Err(op_missing(&sym, &a, &b)),
        },
        (Interval(i), Timestamptz(t)) if *op == BinaryOperator::Plus => {
            Ok(Timestamptz(t.saturating_add(*i)))
        }
        (Timestamptz(x), Timestamptz(y)) if *op == BinaryOperator::Minus => {
            Ok(Interval(x.saturating_sub(*y)))
        }
        (Interval(x), Interval(y)) => match op {
            BinaryOperator::Plus => Ok(Interval(x.saturating_add(*y))),
            BinaryOperator::Minus => Ok(Interval(x.saturating_sub(*y))),
            _ => Err(op_missing(&sym, &a, &b)),
        },
        _ => Err(op_missing(&sym, &a, &b)),
    }
}

fn as_i64(v: &Value) -> i64 {
    match v {
        Value::Int4(x) => *x as i64,
        Value::Int8(x) => *x,
        _ => unreachable!("as_i64 is called on integers only"),
    }
}

pub(super) fn as_numeric(v: &Value) -> Numeric {
    match v {
        Value::Int4(x) => Numeric::from_i64(*x as i64),
        Value::Int8(x) => Numeric::from_i64(*x),
        Value::Numeric(n) => *n,
        _ => unreachable!("as_numeric is called on numbers only"),
    }
}

pub(super) fn truth(v: &Value, context: &str) -> Result<Option<bool>, PgError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::Text(s) => Value::Text(s.clone())
            .coerce(SqlType::Bool)
            .map(|v| matches!(v, Value::Bool(true)))
            .map(Some),
        other => Err(PgError::new(
            sqlstate::DATATYPE_MISMATCH,
            format!(
                "argument of {context} must be type boolean, not type {}",
                other.sql_type().map(SqlType::name).unwrap_or("unknown")
            ),
        )),
    }
}

/// LIKE with `%`, `_` and `\\` escapes, by dynamic programming so that no pattern takes exponential time.
pub(crate) fn like(text: &str, pattern: &str) -> bool {
    enum Tok {
        Any,
        One,
        Lit(char),
    }
    let mut toks = vec![];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        toks.push(match c {
            '%' => Tok::Any,
            '_' => Tok::One,
            '\\' => Tok::Lit(chars.next().unwrap_or('\\')),
            c => Tok::Lit(c),
        });
    }
    let t: Vec<char> = text.chars().collect();
    // matches[j]: the first i characters of the text match the first j tokens.
    let mut matches = vec![false; toks.len() + 1];
    matches[0] = true;
    for (j, tok) in toks.iter().enumerate() {
        if matches!(tok, Tok::Any) {
            matches[j + 1] = matches[j];
        }
    }
    for ch in &t {
        let mut next = vec![false; toks.len() + 1];
        for (j, tok) in toks.iter().enumerate() {
            next[j + 1] = match tok {
                Tok::Any => next[j] || matches[j + 1],
                Tok::One => matches[j],
                Tok::Lit(c) => matches[j] && c == ch,
            };
        }
        matches = next;
    }
    matches[toks.len()]
}
