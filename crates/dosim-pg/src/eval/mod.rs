//! Expression evaluation over one row: operators, comparisons, casts, builtin functions and aggregates.
//!
//! This module holds the evaluation context and walks an expression; `ops` has the operators on values,
//! `functions` the builtins and aggregates, and `types` what is known of an expression's type without a row.

mod functions;
mod ops;
mod types;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use sqlparser::ast::{
    BinaryOperator, CaseWhen, CastKind, Expr, Ident, InTarget, ObjectName, ObjectNamePart,
    TrimWhereField, UnaryOperator, Value as AstValue,
};

pub(crate) use functions::{
    aggregate, aggregate_arg, aggregate_distinct, collect_aggregates, no_function,
};
pub(crate) use ops::{like, sql_compare, untyped};
pub(crate) use types::{column_type, output_name, static_type};

use crate::error::{sqlstate, PgError};
use crate::value::{SqlType, Value};
use crate::WaitFor;
use functions::{eval_function, extract};
use ops::{arith, check_typed_text, number_literal, truth};

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

/// The PostgreSQL version the engine reports, in `version()` and `SHOW server_version`.
pub(crate) const SERVER_VERSION: &str = "16.4";

pub(crate) fn unsupported(what: &str) -> PgError {
    PgError::new(
        sqlstate::FEATURE_NOT_SUPPORTED,
        format!("{what} are not supported"),
    )
    .with_hint("dosim's PostgreSQL supports the subset of SQL listed in docs/postgres.md.")
}

/// Evaluates a `WHERE`-like condition: only `true` passes.
pub(crate) fn eval_condition(expr: &Expr, ctx: &mut Ctx, context: &str) -> Res<bool> {
    let v = eval(expr, ctx)?;
    Ok(truth(&v, context)? == Some(true))
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

/// Evaluates an expression over the context's row.
pub(crate) fn eval(expr: &Expr, ctx: &mut Ctx) -> Res<Value> {
    crate::exec::budget::charge(1)?;
    Ok(match expr {
        Expr::Identifier(ident) => column_value(ctx, None, &ident_name(ident))?,
        Expr::CompoundIdentifier(parts) => match parts.as_slice() {
            [table, column] => column_value(ctx, Some(&ident_name(table)), &ident_name(column))?,
            [_, table, column] => column_value(ctx, Some(&ident_name(table)), &ident_name(column))?,
            _ => return Err(unsupported("qualified names of this form").into()),
        },
        Expr::Value(v) => literal(&v.value, ctx)?,
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
        Expr::BinaryOp { left, op, right } => return binary(left, op, right, ctx),
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
        } => in_list(needle, list, *negated, ctx)?,
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
        } => like_value(e, pattern, *negated, false, ctx)?,
        Expr::ILike {
            negated,
            expr: e,
            pattern,
            ..
        } => like_value(e, pattern, *negated, true, ctx)?,
        Expr::Trim {
            expr: e,
            trim_where,
            trim_what,
            trim_characters,
        } => {
            let has_characters = trim_characters.is_some();
            trim(
                e,
                trim_where.as_ref(),
                trim_what.as_deref(),
                has_characters,
                ctx,
            )?
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
        } => return case(operand.as_deref(), conditions, else_result.as_deref(), ctx),
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

/// A literal, or a `$n` parameter.
fn literal(v: &AstValue, ctx: &Ctx) -> Res<Value> {
    Ok(match v {
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
    })
}

/// A binary operator: AND and OR with SQL's three-valued logic (short-circuiting), comparisons, `||` and arithmetic.
fn binary(left: &Expr, op: &BinaryOperator, right: &Expr, ctx: &mut Ctx) -> Res<Value> {
    Ok(match op {
        BinaryOperator::And | BinaryOperator::Or => {
            // The value that decides alone: false for AND, true for OR; the right side is not evaluated after it.
            let decides = *op == BinaryOperator::Or;
            let name = if decides { "OR" } else { "AND" };
            let l = truth(&eval(left, ctx)?, name)?;
            if l == Some(decides) {
                return Ok(Value::Bool(decides));
            }
            match (l, truth(&eval(right, ctx)?, name)?) {
                (_, Some(r)) if r == decides => Value::Bool(decides),
                (Some(_), Some(_)) => Value::Bool(!decides),
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
    })
}

/// `x [NOT] IN (a, b, …)`: NULL when no item matches and one of them is NULL.
fn in_list(needle: &Expr, list: &[Expr], negated: bool, ctx: &mut Ctx) -> Res<Value> {
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
    Ok(match (found, saw_null) {
        (true, _) => Value::Bool(!negated),
        (false, true) => Value::Null,
        (false, false) => Value::Bool(negated),
    })
}

/// `[NOT] LIKE`, or `[NOT] ILIKE` with `fold_case`.
fn like_value(
    e: &Expr,
    pattern: &Expr,
    negated: bool,
    fold_case: bool,
    ctx: &mut Ctx,
) -> Res<Value> {
    let v = eval(e, ctx)?;
    let p = eval(pattern, ctx)?;
    Ok(match (v.to_text(), p.to_text()) {
        (Some(t), Some(p)) if fold_case => {
            Value::Bool(like(&t.to_lowercase(), &p.to_lowercase()) != negated)
        }
        (Some(t), Some(p)) => Value::Bool(like(&t, &p) != negated),
        _ => Value::Null,
    })
}

/// `TRIM([LEADING | TRAILING | BOTH] [chars] FROM text)`; the form with a character list after FROM is refused.
fn trim(
    e: &Expr,
    trim_where: Option<&TrimWhereField>,
    trim_what: Option<&Expr>,
    has_characters: bool,
    ctx: &mut Ctx,
) -> Res<Value> {
    let what = match trim_what {
        Some(w) => eval(w, ctx)?.to_text(),
        None => Some(" ".to_string()),
    };
    if has_characters {
        return Err(unsupported("TRIM with a character list").into());
    }
    Ok(match (eval(e, ctx)?.to_text(), what) {
        (Some(text), Some(chars)) => {
            let set: Vec<char> = chars.chars().collect();
            let strip = |c: char| set.contains(&c);
            Value::Text(
                match trim_where {
                    Some(TrimWhereField::Leading) => text.trim_start_matches(strip),
                    Some(TrimWhereField::Trailing) => text.trim_end_matches(strip),
                    _ => text.trim_matches(strip),
                }
                .to_string(),
            )
        }
        _ => Value::Null,
    })
}

/// `CASE [operand] WHEN … THEN … [ELSE …] END`: the first WHEN that holds (or equals the operand) gives the result.
fn case(
    operand: Option<&Expr>,
    conditions: &[CaseWhen],
    else_result: Option<&Expr>,
    ctx: &mut Ctx,
) -> Res<Value> {
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
        Some(e) => eval(e, ctx),
        None => Ok(Value::Null),
    }
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
