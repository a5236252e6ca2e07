//! Types without values: a declared column type, and the static type and output name of a select-list expression.

use sqlparser::ast::{
    BinaryOperator, DataType, ExactNumberInfo, Expr, TimezoneInfo, UnaryOperator, Value as AstValue,
};

use super::functions::{aggregate_arg, function_name};
use super::ops::number_literal;
use super::{ident_name, object_name, RowScope};
use crate::error::{sqlstate, PgError};
use crate::value::SqlType;

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
