//! Builtin functions and aggregates: calling them, and finding and computing the aggregates of a select list.

use std::cmp::Ordering;

use sqlparser::ast::{Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments};

use super::ops::{as_numeric, int_overflow, sql_compare};
use super::{eval, object_name, unsupported, Ctx, Res, SERVER_VERSION};
use crate::error::{sqlstate, PgError};
use crate::value::{Numeric, SqlType, Value};

fn is_aggregate(name: &str) -> bool {
    matches!(name, "count" | "sum" | "min" | "max" | "avg")
}

pub(super) fn function_name(f: &Function) -> String {
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
pub(super) fn extract(field: &sqlparser::ast::DateTimeField, us: i64) -> Result<Numeric, PgError> {
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

pub(super) fn eval_function(f: &Function, ctx: &mut Ctx) -> Res<Value> {
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
        "greatest" | "least" => extreme(args, name == "greatest")?,
        _ => return Err(no_function(&name, &args).into()),
    })
}

/// The largest (`greatest`) or smallest of the non-NULL values, or NULL when there is none; the first of equals wins.
fn extreme(values: Vec<Value>, greatest: bool) -> Result<Value, PgError> {
    let want = if greatest {
        Ordering::Greater
    } else {
        Ordering::Less
    };
    let mut best: Option<Value> = None;
    for v in values.into_iter().filter(|v| !v.is_null()) {
        best = Some(match best {
            None => v,
            Some(b) if sql_compare(v.clone(), b.clone(), "<")? == Some(want) => v,
            Some(b) => b,
        });
    }
    Ok(best.unwrap_or(Value::Null))
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
        "min" | "max" => extreme(non_null, name == "max")?,
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
