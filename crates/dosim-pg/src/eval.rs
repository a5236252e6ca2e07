//! Expression evaluation over one row: operators, comparisons, casts, builtin functions and aggregates.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, ExactNumberInfo, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArguments, Ident, InTarget, ObjectName, ObjectNamePart, TimezoneInfo,
    UnaryOperator, Value as AstValue,
};

use crate::error::{sqlstate, PgError};
use crate::value::{compare, Numeric, SqlType, Value};
use crate::WaitFor;

/// Why evaluation stopped early: an error, or a lock the statement must wait for.
#[derive(Debug)]
pub(crate) enum Flow {
    Error(PgError),
    Block(WaitFor),
}

impl From<PgError> for Flow {
    fn from(e: PgError) -> Flow {
        Flow::Error(e)
    }
}

pub(crate) type Res<T> = Result<T, Flow>;

/// A column as expressions see it: its name and type.
#[derive(Clone, Debug)]
pub(crate) struct ColumnInfo {
    pub name: String,
    pub ty: SqlType,
}

/// The names one table answers to in an expression: its name and its alias.
#[derive(Clone, Copy)]
pub(crate) struct RowScope<'a> {
    pub table: &'a str,
    pub alias: Option<&'a str>,
    pub columns: &'a [ColumnInfo],
    /// For a join, each column's table and alias; empty for one table, which `table` and `alias` name.
    pub quals: &'a [Qual],
}

impl<'a> RowScope<'a> {
    /// One table's columns, under its name and its alias.
    pub fn table(
        table: &'a str,
        alias: Option<&'a str>,
        columns: &'a [ColumnInfo],
    ) -> RowScope<'a> {
        RowScope {
            table,
            alias,
            columns,
            quals: &[],
        }
    }
}

/// Which FROM item a column of a joined row comes from.
#[derive(Clone, Debug)]
pub(crate) struct Qual {
    pub table: String,
    pub alias: Option<String>,
}

impl Qual {
    /// Whether `q` names this FROM item: its alias if it has one, else its table.
    pub fn answers_to(&self, q: &str) -> bool {
        match &self.alias {
            Some(a) => a == q,
            None => self.table == q,
        }
    }
}

/// Builtins that need the engine: advisory locks. Returns `None` when the name is not one of them.
pub(crate) type Hook<'h> = dyn FnMut(&str, &[Value]) -> Option<Res<Value>> + 'h;

pub(crate) struct Ctx<'a, 'h> {
    pub params: &'a [Value],
    /// `now()`: the transaction's start, in microseconds since the Unix epoch.
    pub now_us: i64,
    /// `clock_timestamp()` and `statement_timestamp()`: the simulated time of the call.
    pub clock_us: i64,
    pub scope: Option<RowScope<'a>>,
    pub row: Option<&'a [Value]>,
    /// `EXCLUDED` in `ON CONFLICT DO UPDATE`: the row proposed for insertion.
    pub excluded: Option<&'a [Value]>,
    /// Precomputed aggregate results, keyed by the call's SQL text.
    pub aggregates: Option<&'a BTreeMap<String, Value>>,
    pub hook: Option<&'a mut Hook<'h>>,
}

/// Lowercases unquoted identifiers, as PostgreSQL folds them.
pub(crate) fn ident_name(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// The last part of a possibly schema-qualified name, folded; `public.accounts` is `accounts`.
pub(crate) fn object_name(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(ident)) => ident_name(ident),
        _ => name.to_string(),
    }
}

pub(crate) fn is_aggregate(name: &str) -> bool {
    matches!(name, "count" | "sum" | "min" | "max" | "avg")
}

fn function_name(f: &Function) -> String {
    object_name(&f.name)
}

fn function_args(f: &Function) -> Result<Vec<&FunctionArgExpr>, PgError> {
    match &f.args {
        FunctionArguments::None => Ok(vec![]),
        FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|arg| match arg {
                FunctionArg::Unnamed(e) => Ok(e),
                _ => Err(unsupported("named function arguments")),
            })
            .collect(),
        FunctionArguments::Subquery(_) => Err(unsupported("subqueries")),
    }
}

/// The PostgreSQL version the engine reports, in `version()` and `SHOW server_version`.
pub(crate) const SERVER_VERSION: &str = "16.4";

pub(crate) fn unsupported(what: &str) -> PgError {
    PgError::new(
        sqlstate::FEATURE_NOT_SUPPORTED,
        format!("{what} are not supported"),
    )
    .with_hint("dosim's PostgreSQL supports the subset of SQL listed in docs/postgres.md.")
}

/// Maps a declared type to what the engine stores; `serial` and `bigserial` say so in the flag.
pub(crate) fn column_type(data_type: &DataType) -> Result<(SqlType, bool), PgError> {
    let (precision, scale) = match data_type {
        DataType::Numeric(info) | DataType::Decimal(info) => match info {
            ExactNumberInfo::None => (None, 0),
            ExactNumberInfo::Precision(p) => (Some(*p), 0),
            ExactNumberInfo::PrecisionAndScale(p, s) => (Some(*p), *s),
        },
        _ => (None, 0),
    };
    if let Some(p) = precision {
        if !(1..=38).contains(&p) {
            return Err(PgError::new(
                sqlstate::INVALID_PARAMETER_VALUE,
                format!("NUMERIC precision {p} must be between 1 and 38"),
            ));
        }
        if !(0..=30).contains(&scale) {
            return Err(PgError::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                format!("NUMERIC scale {scale} is not supported; dosim allows 0 to 30"),
            ));
        }
    }
    let typmod = |_: &ExactNumberInfo| precision.map(|p| (p as u32, scale as u32));
    Ok(match data_type {
        DataType::Int(_) | DataType::Integer(_) | DataType::Int4(_) => (SqlType::Int4, false),
        DataType::BigInt(_) | DataType::Int8(_) => (SqlType::Int8, false),
        DataType::Text | DataType::Varchar(_) | DataType::CharacterVarying(_) => {
            (SqlType::Text, false)
        }
        DataType::Bool | DataType::Boolean => (SqlType::Bool, false),
        DataType::Numeric(info) | DataType::Decimal(info) => (SqlType::Numeric(typmod(info)), false),
        DataType::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => {
            (SqlType::Timestamptz, false)
        }
        DataType::Interval { .. } => (SqlType::Interval, false),
        DataType::Uuid => (SqlType::Uuid, false),
        DataType::Custom(name, _) => match object_name(name).as_str() {
            "serial" | "serial4" => (SqlType::Int4, true),
            "bigserial" | "serial8" => (SqlType::Int8, true),
            "timestamptz" => (SqlType::Timestamptz, false),
            "int4" | "integer" => (SqlType::Int4, false),
            "int8" => (SqlType::Int8, false),
            other => {
                return Err(PgError::new(
                    sqlstate::UNDEFINED_OBJECT,
                    format!("type \"{other}\" does not exist"),
                ))
            }
        },
        other => {
            return Err(PgError::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                format!("type {other} is not supported"),
            )
            .with_hint("Supported types: integer, bigint, serial, bigserial, text, varchar, boolean, numeric, timestamptz."))
        }
    })
}

/// A literal number: `integer` if it fits, else `bigint`, else `numeric`, as PostgreSQL types it.
fn number_literal(text: &str) -> Result<Value, PgError> {
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

/// Brings an untyped literal or parameter (`Text`) to the other operand's type, as PostgreSQL resolves `unknown`.
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
fn check_typed_text(
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

fn int_overflow(ty: SqlType) -> PgError {
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

fn arith(op: &BinaryOperator, a: Value, b: Value) -> Result<Value, PgError> {
    use Value::*;
    if a.is_null() || b.is_null() {
        return Ok(Null);
    }
    let (a, b) = unify(a, b)?;
    let sym = op.to_string();
    let div_zero = || PgError::new(sqlstate::DIVISION_BY_ZERO, "division by zero");
    match (&a, &b) {
        (Int4(x), Int4(y)) => {
            let (x, y) = (*x, *y);
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
            r.map(Int4).ok_or_else(|| int_overflow(SqlType::Int4))
        }
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
            r.map(Int8).ok_or_else(|| int_overflow(SqlType::Int8))
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

fn as_numeric(v: &Value) -> Numeric {
    match v {
        Value::Int4(x) => Numeric::from_i64(*x as i64),
        Value::Int8(x) => Numeric::from_i64(*x),
        Value::Numeric(n) => *n,
        _ => unreachable!("as_numeric is called on numbers only"),
    }
}

fn truth(v: &Value, context: &str) -> Result<Option<bool>, PgError> {
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

/// Evaluates a `WHERE`-like condition: only `true` passes.
pub(crate) fn eval_condition(expr: &Expr, ctx: &mut Ctx, context: &str) -> Res<bool> {
    let v = eval(expr, ctx)?;
    Ok(truth(&v, context)? == Some(true))
}

/// `date_trunc(unit, ts)` in UTC, the session's time zone.
fn date_trunc(unit: &str, us: i64) -> Result<i64, PgError> {
    use crate::value::{civil_from_days, days_from_civil, US_PER_DAY, US_PER_SECOND};
    let days = us.div_euclid(US_PER_DAY);
    let of_day = us.rem_euclid(US_PER_DAY);
    let (year, month, _) = civil_from_days(days);
    let at_day = |d: i64| d * US_PER_DAY;
    Ok(match unit.to_ascii_lowercase().as_str() {
        "microseconds" => us,
        "milliseconds" => us - us.rem_euclid(1000),
        "second" => us - us.rem_euclid(US_PER_SECOND),
        "minute" => us - us.rem_euclid(60 * US_PER_SECOND),
        "hour" => us - us.rem_euclid(3600 * US_PER_SECOND),
        "day" => us - of_day,
        // Weeks start on Monday; 1970-01-01 was a Thursday.
        "week" => at_day(days - (days + 3).rem_euclid(7)),
        "month" => at_day(days_from_civil(year, month, 1)),
        "quarter" => at_day(days_from_civil(year, (month - 1) / 3 * 3 + 1, 1)),
        "year" => at_day(days_from_civil(year, 1, 1)),
        other => {
            return Err(PgError::new(
                sqlstate::INVALID_PARAMETER_VALUE,
                format!("unit \"{other}\" not recognized for type timestamp with time zone"),
            ))
        }
    })
}

/// `EXTRACT(field FROM ts)`, numeric as in PostgreSQL 14 and later.
fn extract(field: &sqlparser::ast::DateTimeField, us: i64) -> Result<Numeric, PgError> {
    use crate::value::{civil_from_days, US_PER_DAY, US_PER_SECOND};
    use sqlparser::ast::DateTimeField as F;
    let days = us.div_euclid(US_PER_DAY);
    let of_day = us.rem_euclid(US_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let whole = |v: i64| Numeric::from_i64(v);
    Ok(match field {
        F::Epoch => Numeric {
            units: us as i128,
            scale: 6,
        },
        F::Year => whole(year),
        F::Month => whole(month as i64),
        F::Day => whole(day as i64),
        F::Hour => whole(of_day / (3600 * US_PER_SECOND)),
        F::Minute => whole(of_day / (60 * US_PER_SECOND) % 60),
        F::Second => Numeric {
            units: (of_day % (60 * US_PER_SECOND)) as i128,
            scale: 6,
        },
        F::Dow => whole((days + 4).rem_euclid(7)),
        other => return Err(unsupported(&format!("EXTRACT fields like {other}"))),
    })
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

fn column_value(ctx: &Ctx, qualifier: Option<&str>, name: &str) -> Result<Value, PgError> {
    if qualifier == Some("excluded") {
        if let (Some(scope), Some(excluded)) = (&ctx.scope, ctx.excluded) {
            if let Some(i) = scope.columns.iter().position(|c| c.name == name) {
                return Ok(excluded[i].clone());
            }
        }
    }
    let Some(scope) = &ctx.scope else {
        return Err(missing_column(qualifier, name));
    };
    if !scope.quals.is_empty() {
        if let Some(q) = qualifier {
            if !scope.quals.iter().any(|x| x.answers_to(q)) {
                return Err(PgError::new(
                    sqlstate::UNDEFINED_TABLE,
                    format!("missing FROM-clause entry for table \"{q}\""),
                ));
            }
        }
        let found: Vec<usize> = (0..scope.columns.len())
            .filter(|i| {
                scope.columns[*i].name == name
                    && qualifier.is_none_or(|q| scope.quals[*i].answers_to(q))
            })
            .collect();
        let i = match found.as_slice() {
            [] => return Err(missing_column(qualifier, name)),
            [i] => *i,
            _ => {
                return Err(PgError::new(
                    "42702",
                    format!("column reference \"{name}\" is ambiguous"),
                ))
            }
        };
        return Ok(ctx.row.map(|r| r[i].clone()).unwrap_or(Value::Null));
    }
    if let Some(q) = qualifier {
        if q != scope.table && Some(q) != scope.alias {
            return Err(PgError::new(
                sqlstate::UNDEFINED_TABLE,
                format!("missing FROM-clause entry for table \"{q}\""),
            ));
        }
    }
    let i = scope
        .columns
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| missing_column(qualifier, name))?;
    match ctx.row {
        Some(row) => Ok(row[i].clone()),
        None => Ok(Value::Null),
    }
}

pub(crate) fn missing_column(qualifier: Option<&str>, name: &str) -> PgError {
    // PostgreSQL quotes a bare name but not a qualified one.
    let message = match qualifier {
        Some(q) => format!("column {q}.{name} does not exist"),
        None => format!("column \"{name}\" does not exist"),
    };
    PgError::new(sqlstate::UNDEFINED_COLUMN, message)
}

pub(crate) fn eval(expr: &Expr, ctx: &mut Ctx) -> Res<Value> {
    Ok(match expr {
        Expr::Identifier(ident) => column_value(ctx, None, &ident_name(ident))?,
        Expr::CompoundIdentifier(parts) => match parts.as_slice() {
            [table, column] => column_value(ctx, Some(&ident_name(table)), &ident_name(column))?,
            [_, table, column] => column_value(ctx, Some(&ident_name(table)), &ident_name(column))?,
            _ => return Err(unsupported("qualified names of this form").into()),
        },
        Expr::Value(v) => match &v.value {
            AstValue::Number(text, _) => number_literal(text)?,
            AstValue::SingleQuotedString(s)
            | AstValue::EscapedStringLiteral(s)
            | AstValue::UnicodeStringLiteral(s) => Value::Text(s.clone()),
            AstValue::DollarQuotedString(s) => Value::Text(s.value.clone()),
            AstValue::Boolean(b) => Value::Bool(*b),
            AstValue::Null => Value::Null,
            AstValue::Placeholder(p) => {
                // `$sN` holds a subquery's typed result; `$N` is the client's parameter.
                let n: usize = p
                    .strip_prefix("$s")
                    .or_else(|| p.strip_prefix('$'))
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| {
                        PgError::new(
                            sqlstate::SYNTAX_ERROR,
                            format!("syntax error at or near \"{p}\""),
                        )
                    })?;
                ctx.params.get(n.wrapping_sub(1)).cloned().ok_or_else(|| {
                    PgError::new(
                        sqlstate::UNDEFINED_PARAMETER,
                        format!("there is no parameter ${n}"),
                    )
                })?
            }
            other => return Err(unsupported(&format!("literals like {other}")).into()),
        },
        Expr::Nested(inner) => eval(inner, ctx)?,
        // Text always compares byte-wise here (the C collation), whatever collation is named.
        Expr::Collate { expr, .. } => eval(expr, ctx)?,
        Expr::UnaryOp { op, expr } => {
            let v = eval(expr, ctx)?;
            match op {
                UnaryOperator::Not => match truth(&v, "NOT")? {
                    None => Value::Null,
                    Some(b) => Value::Bool(!b),
                },
                UnaryOperator::Minus => arith(&BinaryOperator::Minus, Value::Int4(0), v)?,
                UnaryOperator::Plus => v,
                other => return Err(unsupported(&format!("operator {other}")).into()),
            }
        }
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::And => {
                let l = truth(&eval(left, ctx)?, "AND")?;
                if l == Some(false) {
                    return Ok(Value::Bool(false));
                }
                let r = truth(&eval(right, ctx)?, "AND")?;
                match (l, r) {
                    (_, Some(false)) => Value::Bool(false),
                    (Some(true), Some(true)) => Value::Bool(true),
                    _ => Value::Null,
                }
            }
            BinaryOperator::Or => {
                let l = truth(&eval(left, ctx)?, "OR")?;
                if l == Some(true) {
                    return Ok(Value::Bool(true));
                }
                let r = truth(&eval(right, ctx)?, "OR")?;
                match (l, r) {
                    (_, Some(true)) => Value::Bool(true),
                    (Some(false), Some(false)) => Value::Bool(false),
                    _ => Value::Null,
                }
            }
            BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => {
                let l = eval(left, ctx)?;
                let r = eval(right, ctx)?;
                check_typed_text(left, &l, right, &r, &op.to_string())?;
                match sql_compare(l, r, &op.to_string())? {
                    None => Value::Null,
                    Some(ord) => Value::Bool(match op {
                        BinaryOperator::Eq => ord == Ordering::Equal,
                        BinaryOperator::NotEq => ord != Ordering::Equal,
                        BinaryOperator::Lt => ord == Ordering::Less,
                        BinaryOperator::LtEq => ord != Ordering::Greater,
                        BinaryOperator::Gt => ord == Ordering::Greater,
                        _ => ord != Ordering::Less,
                    }),
                }
            }
            BinaryOperator::StringConcat => {
                let l = eval(left, ctx)?;
                let r = eval(right, ctx)?;
                match (l.to_text(), r.to_text()) {
                    (Some(a), Some(b)) => Value::Text(a + &b),
                    _ => Value::Null,
                }
            }
            BinaryOperator::Plus
            | BinaryOperator::Minus
            | BinaryOperator::Multiply
            | BinaryOperator::Divide
            | BinaryOperator::Modulo => {
                let l = eval(left, ctx)?;
                let r = eval(right, ctx)?;
                check_typed_text(left, &l, right, &r, &op.to_string())?;
                arith(op, l, r)?
            }
            other => return Err(unsupported(&format!("operator {other}")).into()),
        },
        Expr::IsNull(e) => Value::Bool(eval(e, ctx)?.is_null()),
        Expr::IsNotNull(e) => Value::Bool(!eval(e, ctx)?.is_null()),
        Expr::IsTrue(e) => Value::Bool(truth(&eval(e, ctx)?, "IS TRUE")? == Some(true)),
        Expr::IsFalse(e) => Value::Bool(truth(&eval(e, ctx)?, "IS FALSE")? == Some(false)),
        Expr::IsNotTrue(e) => Value::Bool(truth(&eval(e, ctx)?, "IS NOT TRUE")? != Some(true)),
        Expr::IsNotFalse(e) => Value::Bool(truth(&eval(e, ctx)?, "IS NOT FALSE")? != Some(false)),
        Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
            let l = eval(a, ctx)?;
            let r = eval(b, ctx)?;
            let same = match (l.is_null(), r.is_null()) {
                (true, true) => true,
                (false, false) => sql_compare(l, r, "=")? == Some(Ordering::Equal),
                _ => false,
            };
            Value::Bool(if matches!(expr, Expr::IsDistinctFrom(..)) {
                !same
            } else {
                same
            })
        }
        Expr::In {
            expr: needle,
            target: InTarget::List(list),
            negated,
            ..
        } => {
            let v = eval(needle, ctx)?;
            let mut saw_null = false;
            let mut found = false;
            for item in list {
                let candidate = eval(item, ctx)?;
                match sql_compare(v.clone(), candidate, "=")? {
                    Some(Ordering::Equal) => {
                        found = true;
                        break;
                    }
                    None => saw_null = true,
                    _ => {}
                }
            }
            match (found, saw_null) {
                (true, _) => Value::Bool(!negated),
                (false, true) => Value::Null,
                (false, false) => Value::Bool(*negated),
            }
        }
        Expr::Between {
            expr: e,
            negated,
            low,
            high,
        } => {
            let v = eval(e, ctx)?;
            let lo = eval(low, ctx)?;
            let hi = eval(high, ctx)?;
            let a = sql_compare(v.clone(), lo, ">=")?.map(|o| o != Ordering::Less);
            let b = sql_compare(v, hi, "<=")?.map(|o| o != Ordering::Greater);
            match (a, b) {
                (Some(x), Some(y)) => Value::Bool((x && y) != *negated),
                (Some(false), None) | (None, Some(false)) => Value::Bool(*negated),
                _ => Value::Null,
            }
        }
        Expr::Like {
            negated,
            expr: e,
            pattern,
            ..
        } => {
            let v = eval(e, ctx)?;
            let p = eval(pattern, ctx)?;
            match (v.to_text(), p.to_text()) {
                (Some(t), Some(p)) => Value::Bool(like(&t, &p) != *negated),
                _ => Value::Null,
            }
        }
        Expr::ILike {
            negated,
            expr: e,
            pattern,
            ..
        } => {
            let v = eval(e, ctx)?;
            let p = eval(pattern, ctx)?;
            match (v.to_text(), p.to_text()) {
                (Some(t), Some(p)) => {
                    Value::Bool(like(&t.to_lowercase(), &p.to_lowercase()) != *negated)
                }
                _ => Value::Null,
            }
        }
        Expr::Trim {
            expr: e,
            trim_where,
            trim_what,
            trim_characters,
        } => {
            let what = match trim_what {
                Some(w) => eval(w, ctx)?.to_text(),
                None => Some(" ".to_string()),
            };
            if trim_characters.is_some() {
                return Err(unsupported("TRIM with a character list").into());
            }
            match (eval(e, ctx)?.to_text(), what) {
                (Some(text), Some(chars)) => {
                    let set: Vec<char> = chars.chars().collect();
                    let strip = |c: char| set.contains(&c);
                    Value::Text(
                        match trim_where {
                            Some(sqlparser::ast::TrimWhereField::Leading) => {
                                text.trim_start_matches(strip)
                            }
                            Some(sqlparser::ast::TrimWhereField::Trailing) => {
                                text.trim_end_matches(strip)
                            }
                            _ => text.trim_matches(strip),
                        }
                        .to_string(),
                    )
                }
                _ => Value::Null,
            }
        }
        Expr::Extract { field, expr: e, .. } => {
            let v = eval(e, ctx)?;
            let Value::Timestamptz(us) = v.coerce(SqlType::Timestamptz)? else {
                return Ok(Value::Null);
            };
            Value::Numeric(extract(field, us)?)
        }
        Expr::Cast {
            kind: CastKind::Cast | CastKind::DoubleColon,
            expr: e,
            data_type,
            ..
        } => {
            let (ty, _) = column_type(data_type)?;
            eval(e, ctx)?.coerce(ty)?
        }
        Expr::TypedString(ts) => {
            let (ty, _) = column_type(&ts.data_type)?;
            let text = ts.value.clone().into_string().unwrap_or_default();
            Value::Text(text).coerce(ty)?
        }
        Expr::Interval(interval) => {
            if interval.leading_field.is_some() || interval.last_field.is_some() {
                return Err(unsupported("interval field qualifiers").into());
            }
            let v = eval(&interval.value, ctx)?;
            v.coerce(SqlType::Interval)?
        }
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            let subject = match operand {
                Some(o) => Some(eval(o, ctx)?),
                None => None,
            };
            for when in conditions {
                let hit = match &subject {
                    Some(s) => {
                        let c = eval(&when.condition, ctx)?;
                        sql_compare(s.clone(), c, "=")? == Some(Ordering::Equal)
                    }
                    None => eval_condition(&when.condition, ctx, "CASE/WHEN")?,
                };
                if hit {
                    return eval(&when.result, ctx);
                }
            }
            match else_result {
                Some(e) => eval(e, ctx)?,
                None => Value::Null,
            }
        }
        Expr::Function(f) => eval_function(f, ctx)?,
        Expr::Subquery(_) | Expr::Exists { .. } | Expr::In { .. } => {
            return Err(unsupported("subqueries").into())
        }
        other => {
            return Err(PgError::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                format!("expression {other} is not supported"),
            )
            .into())
        }
    })
}

fn eval_function(f: &Function, ctx: &mut Ctx) -> Res<Value> {
    let name = function_name(f);
    if is_aggregate(&name) {
        let key = f.to_string();
        return match ctx.aggregates.and_then(|a| a.get(&key)) {
            Some(v) => Ok(v.clone()),
            None => Err(PgError::new(
                sqlstate::GROUPING_ERROR,
                "aggregate functions are not allowed in this context",
            )
            .into()),
        };
    }
    if f.over.is_some() || f.filter.is_some() {
        return Err(unsupported("window functions and FILTER clauses").into());
    }
    let arg_exprs = function_args(f)?;
    let mut args = Vec::with_capacity(arg_exprs.len());
    for a in arg_exprs {
        match a {
            FunctionArgExpr::Expr(e) => args.push(eval(e, ctx)?),
            _ => return Err(unsupported("wildcard arguments").into()),
        }
    }
    if let Some(hook) = ctx.hook.as_mut() {
        if let Some(result) = hook(&name, &args) {
            return result;
        }
    }
    let arity = |n: usize| -> Result<(), PgError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(no_function(&name, &args))
        }
    };
    Ok(match name.as_str() {
        "now" | "current_timestamp" | "transaction_timestamp" => {
            arity(0)?;
            Value::Timestamptz(ctx.now_us)
        }
        "clock_timestamp" | "statement_timestamp" => {
            arity(0)?;
            Value::Timestamptz(ctx.clock_us)
        }
        // What drivers and ORMs ask when they connect.
        "version" => {
            arity(0)?;
            Value::Text(format!(
                "PostgreSQL {SERVER_VERSION} on x86_64-pc-linux-gnu, compiled by gcc, 64-bit"
            ))
        }
        "current_schema" => {
            arity(0)?;
            Value::Text("public".to_string())
        }
        "coalesce" => args
            .into_iter()
            .find(|v| !v.is_null())
            .unwrap_or(Value::Null),
        "lower" | "upper" | "length" => {
            arity(1)?;
            match args[0].to_text() {
                None => Value::Null,
                Some(s) => match name.as_str() {
                    "lower" => Value::Text(s.to_lowercase()),
                    "upper" => Value::Text(s.to_uppercase()),
                    _ => Value::Int4(s.chars().count() as i32),
                },
            }
        }
        "concat" => Value::Text(args.iter().filter_map(Value::to_text).collect()),
        "replace" => {
            arity(3)?;
            match (args[0].to_text(), args[1].to_text(), args[2].to_text()) {
                (Some(s), Some(from), Some(_)) if from.is_empty() => Value::Text(s),
                (Some(s), Some(from), Some(to)) => Value::Text(s.replace(&from, &to)),
                _ => Value::Null,
            }
        }
        "btrim" => {
            arity(1)?;
            match args[0].to_text() {
                Some(s) => Value::Text(s.trim_matches(' ').to_string()),
                None => Value::Null,
            }
        }
        "date_trunc" => {
            arity(2)?;
            match (
                args[0].to_text(),
                args[1].clone().coerce(SqlType::Timestamptz)?,
            ) {
                (Some(unit), Value::Timestamptz(us)) => Value::Timestamptz(date_trunc(&unit, us)?),
                _ => Value::Null,
            }
        }
        "abs" => {
            arity(1)?;
            match &args[0] {
                Value::Null => Value::Null,
                Value::Int4(v) => {
                    Value::Int4(v.checked_abs().ok_or_else(|| int_overflow(SqlType::Int4))?)
                }
                Value::Int8(v) => {
                    Value::Int8(v.checked_abs().ok_or_else(|| int_overflow(SqlType::Int8))?)
                }
                Value::Numeric(n) => Value::Numeric(Numeric {
                    units: n.units.abs(),
                    scale: n.scale,
                }),
                _ => return Err(no_function(&name, &args).into()),
            }
        }
        "greatest" | "least" => {
            let mut best: Option<Value> = None;
            for v in args.into_iter().filter(|v| !v.is_null()) {
                best = Some(match best {
                    None => v,
                    Some(b) => {
                        let ord = sql_compare(v.clone(), b.clone(), "<")?;
                        let take = match name.as_str() {
                            "greatest" => ord == Some(Ordering::Greater),
                            _ => ord == Some(Ordering::Less),
                        };
                        if take {
                            v
                        } else {
                            b
                        }
                    }
                });
            }
            best.unwrap_or(Value::Null)
        }
        _ => return Err(no_function(&name, &args).into()),
    })
}

pub(crate) fn no_function(name: &str, args: &[Value]) -> PgError {
    let types: Vec<&str> = args
        .iter()
        .map(|v| match v {
            Value::Text(_) => "unknown",
            other => other.sql_type().map(SqlType::name).unwrap_or("unknown"),
        })
        .collect();
    PgError::new(
        sqlstate::UNDEFINED_FUNCTION,
        format!("function {name}({}) does not exist", types.join(", ")),
    )
    .with_hint(
        "No function matches the given name and argument types. You might need to add explicit type casts.",
    )
}

/// The column name PostgreSQL gives an unaliased select-list expression.
pub(crate) fn output_name(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(i) => ident_name(i),
        Expr::CompoundIdentifier(parts) => parts.last().map(ident_name).unwrap_or_default(),
        Expr::Function(f) => function_name(f),
        Expr::Cast { expr, .. } => match expr.as_ref() {
            e @ (Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Function(_)) => {
                output_name(e)
            }
            _ => "?column?".to_string(),
        },
        Expr::Nested(e) => output_name(e),
        Expr::Case { .. } => "case".to_string(),
        _ => "?column?".to_string(),
    }
}

/// Collects the aggregate calls of an expression, outermost first.
pub(crate) fn collect_aggregates<'e>(expr: &'e Expr, out: &mut Vec<&'e Function>) {
    match expr {
        Expr::Function(f) => {
            if is_aggregate(&function_name(f)) {
                out.push(f);
            } else if let FunctionArguments::List(list) = &f.args {
                for arg in &list.args {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = arg {
                        collect_aggregates(e, out);
                    }
                }
            }
        }
        Expr::BinaryOp { left, right, .. } => {
            collect_aggregates(left, out);
            collect_aggregates(right, out);
        }
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::Cast { expr, .. }
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr) => collect_aggregates(expr, out),
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            if let Some(o) = operand {
                collect_aggregates(o, out);
            }
            for c in conditions {
                collect_aggregates(&c.condition, out);
                collect_aggregates(&c.result, out);
            }
            if let Some(e) = else_result {
                collect_aggregates(e, out);
            }
        }
        _ => {}
    }
}

/// Computes one aggregate over the values its argument took on each row.
pub(crate) fn aggregate(f: &Function, values: Vec<Value>, star: bool) -> Result<Value, PgError> {
    let name = function_name(f);
    let non_null: Vec<Value> = values.into_iter().filter(|v| !v.is_null()).collect();
    Ok(match name.as_str() {
        "count" if star => unreachable!("count(*) is counted by the caller"),
        "count" => Value::Int8(non_null.len() as i64),
        "sum" | "avg" => {
            if non_null.is_empty() {
                return Ok(Value::Null);
            }
            let all_int4 = non_null.iter().all(|v| matches!(v, Value::Int4(_)));
            let mut total = Numeric::from_i64(0);
            for v in &non_null {
                let n = match v {
                    Value::Int4(_) | Value::Int8(_) | Value::Numeric(_) => as_numeric(v),
                    // Aggregate arguments are column values, so text is `text` here, not `unknown`.
                    other => {
                        let ty = other.sql_type().map(SqlType::name).unwrap_or("unknown");
                        return Err(PgError::new(
                            sqlstate::UNDEFINED_FUNCTION,
                            format!("function {name}({ty}) does not exist"),
                        )
                        .with_hint("No function matches the given name and argument types. You might need to add explicit type casts."));
                    }
                };
                total = Numeric::checked_add(total, n)?;
            }
            if name == "avg" {
                Value::Numeric(Numeric::checked_div(
                    total,
                    Numeric::from_i64(non_null.len() as i64),
                )?)
            } else if all_int4 {
                // sum(integer) is bigint in PostgreSQL; sum(bigint) and sum(numeric) are numeric.
                Value::Int8(
                    total
                        .to_i64_rounded()
                        .ok_or_else(|| int_overflow(SqlType::Int8))?,
                )
            } else {
                Value::Numeric(total)
            }
        }
        "min" | "max" => {
            let mut best: Option<Value> = None;
            for v in non_null {
                best = Some(match best {
                    None => v,
                    Some(b) => {
                        let ord = sql_compare(v.clone(), b.clone(), "<")?;
                        let take = if name == "max" {
                            ord == Some(Ordering::Greater)
                        } else {
                            ord == Some(Ordering::Less)
                        };
                        if take {
                            v
                        } else {
                            b
                        }
                    }
                });
            }
            best.unwrap_or(Value::Null)
        }
        _ => unreachable!("is_aggregate lists only these"),
    })
}

/// Whether an aggregate call says `DISTINCT`, as in `count(DISTINCT region)`.
pub(crate) fn aggregate_distinct(f: &Function) -> bool {
    matches!(
        &f.args,
        FunctionArguments::List(list)
            if matches!(list.duplicate_treatment, Some(sqlparser::ast::DuplicateTreatment::Distinct))
    )
}

/// The argument of a one-argument aggregate, or `None` for `count(*)`.
pub(crate) fn aggregate_arg(f: &Function) -> Result<Option<&Expr>, PgError> {
    let args = function_args(f)?;
    match args.as_slice() {
        [] | [FunctionArgExpr::Wildcard] if function_name(f) == "count" => Ok(None),
        [FunctionArgExpr::Expr(e)] => Ok(Some(e)),
        _ => Err(no_function(&function_name(f), &[])),
    }
}

/// The static type of a select-list expression, for `RowDescription` when no row comes back.
pub(crate) fn static_type(expr: &Expr, scope: Option<&RowScope>) -> SqlType {
    match expr {
        Expr::Identifier(i) => lookup(scope, &ident_name(i)).unwrap_or(SqlType::Text),
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .and_then(|c| lookup(scope, &ident_name(c)))
            .unwrap_or(SqlType::Text),
        Expr::Value(v) => match &v.value {
            AstValue::Number(t, _) => number_literal(t)
                .ok()
                .and_then(|v| v.sql_type())
                .unwrap_or(SqlType::Text),
            AstValue::Boolean(_) => SqlType::Bool,
            _ => SqlType::Text,
        },
        Expr::Nested(e) => static_type(e, scope),
        Expr::Cast { data_type, .. } => column_type(data_type)
            .map(|(t, _)| t)
            .unwrap_or(SqlType::Text),
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::Plus
            | BinaryOperator::Minus
            | BinaryOperator::Multiply
            | BinaryOperator::Divide
            | BinaryOperator::Modulo => {
                let l = static_type(left, scope);
                let r = static_type(right, scope);
                match (l, r) {
                    (SqlType::Int4, SqlType::Int4) => SqlType::Int4,
                    (SqlType::Int4 | SqlType::Int8, SqlType::Int4 | SqlType::Int8) => SqlType::Int8,
                    (SqlType::Timestamptz, SqlType::Timestamptz) => SqlType::Interval,
                    (SqlType::Timestamptz, _) | (_, SqlType::Timestamptz) => SqlType::Timestamptz,
                    (SqlType::Numeric(_), _) | (_, SqlType::Numeric(_)) => SqlType::Numeric(None),
                    (SqlType::Text, other) | (other, SqlType::Text) => other,
                    (l, _) => l,
                }
            }
            BinaryOperator::StringConcat => SqlType::Text,
            _ => SqlType::Bool,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            ..
        }
        | Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::In { .. }
        | Expr::Between { .. }
        | Expr::Like { .. }
        | Expr::ILike { .. } => SqlType::Bool,
        Expr::UnaryOp { expr, .. } => static_type(expr, scope),
        Expr::Function(f) => match function_name(f).as_str() {
            "count" => SqlType::Int8,
            "sum" => match aggregate_arg(f)
                .ok()
                .flatten()
                .map(|e| static_type(e, scope))
            {
                Some(SqlType::Int4) => SqlType::Int8,
                _ => SqlType::Numeric(None),
            },
            "avg" => SqlType::Numeric(None),
            "min" | "max" | "abs" => aggregate_arg(f)
                .ok()
                .flatten()
                .map(|e| static_type(e, scope))
                .unwrap_or(SqlType::Text),
            "now"
            | "current_timestamp"
            | "transaction_timestamp"
            | "clock_timestamp"
            | "statement_timestamp" => SqlType::Timestamptz,
            "length" => SqlType::Int4,
            "date_trunc" => SqlType::Timestamptz,
            "concat" | "replace" | "btrim" | "lower" | "upper" => SqlType::Text,
            "pg_advisory_lock" | "pg_advisory_xact_lock" | "pg_advisory_unlock_all" => {
                SqlType::Void
            }
            "pg_backend_pid" => SqlType::Int4,
            "version" | "current_schema" | "current_database" => SqlType::Text,
            "gen_random_uuid" => SqlType::Uuid,
            "pg_try_advisory_lock" | "pg_try_advisory_xact_lock" | "pg_advisory_unlock" => {
                SqlType::Bool
            }
            _ => SqlType::Text,
        },
        Expr::Interval(_) => SqlType::Interval,
        _ => SqlType::Text,
    }
}

fn lookup(scope: Option<&RowScope>, name: &str) -> Option<SqlType> {
    scope?.columns.iter().find(|c| c.name == name).map(|c| c.ty)
}

/// Resolves an expression's column names against a scope without a row, so a misspelt column fails even on an empty table, as PostgreSQL's planner does.
pub(crate) fn check_names(
    expr: &Expr,
    params: &[Value],
    scope: Option<RowScope>,
) -> Result<(), PgError> {
    let mut ctx = Ctx {
        params,
        now_us: 0,
        clock_us: 0,
        scope,
        row: None,
        excluded: None,
        aggregates: None,
        hook: None,
    };
    match eval(expr, &mut ctx) {
        Err(Flow::Error(e))
            if e.sqlstate == sqlstate::UNDEFINED_COLUMN
                || e.sqlstate == sqlstate::UNDEFINED_TABLE
                || e.sqlstate == sqlstate::FEATURE_NOT_SUPPORTED =>
        {
            Err(e)
        }
        _ => Ok(()),
    }
}
