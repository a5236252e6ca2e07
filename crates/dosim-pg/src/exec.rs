//! Statements: parsing with sqlparser, transaction control, DDL, and DML that locks row by row and can wait part-way.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use sqlparser::ast::{
    AssignmentTarget, ColumnOption, ConflictTarget, ContextModifier, Expr, FromTable, GroupByExpr,
    InTarget, LimitClause, LockType, NonBlock, ObjectType, OnConflictAction, OnInsert, OrderByKind,
    Query, SelectItem, Set, SetExpr, Statement, TableConstraint, TableFactor, TableObject,
    TransactionAccessMode, TransactionIsolationLevel, TransactionMode,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};

use crate::engine::{
    unix_us, Column, Engine, LockMode, Snapshot, Step, Table, Tuple, Tx, UniqueIndex,
};
use crate::error::{sqlstate, PgError};
use crate::eval::{
    aggregate, aggregate_arg, check_names, collect_aggregates, column_type, eval, eval_condition,
    ident_name, object_name, output_name, sql_compare, static_type, unsupported, ColumnInfo, Ctx,
    Flow, Qual, Res, RowScope,
};
use crate::value::{SqlType, Value};
use crate::{AdvisoryKey, ColumnDesc, Isolation, Notice, QueryResult, SessionId, TxId, WaitFor};

/// How deep sqlparser may nest; deeper input is refused rather than overflowing the stack.
const RECURSION_LIMIT: usize = 50;

pub(crate) fn parse(sql: &str) -> Result<Vec<Statement>, PgError> {
    let dialect = PostgreSqlDialect {};
    Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| syntax_error(&e))
}

/// Turns sqlparser's message into PostgreSQL's `syntax error at or near "…"` where it names the token.
fn syntax_error(e: &ParserError) -> PgError {
    let text = match e {
        ParserError::TokenizerError(t) | ParserError::ParserError(t) => t.clone(),
        ParserError::RecursionLimitExceeded => {
            return PgError::new("54001", "stack depth limit exceeded")
        }
    };
    let near = text.split_once("found: ").map(|(_, rest)| {
        rest.split(" at Line")
            .next()
            .unwrap_or(rest)
            .trim()
            .to_string()
    });
    match near {
        Some(tok) if tok == "EOF" => {
            PgError::new(sqlstate::SYNTAX_ERROR, "syntax error at end of input")
        }
        Some(tok) => PgError::new(
            sqlstate::SYNTAX_ERROR,
            format!("syntax error at or near \"{tok}\""),
        ),
        None => PgError::new(sqlstate::SYNTAX_ERROR, format!("syntax error: {text}")),
    }
}

/// A statement part-way through, kept while its session waits.
#[derive(Debug)]
pub(crate) enum Current {
    Start(Box<Statement>),
    /// A statement whose subquery runs first.
    Sub(Box<Subquery>),
    /// A plain SELECT that waited on an advisory lock runs again with its snapshot.
    Restart(Box<Statement>, Snapshot),
    Dml(Box<DmlState>),
}

/// A statement waiting for one of its subqueries; the subquery's place holds a marker until its result replaces it.
#[derive(Debug)]
pub(crate) struct Subquery {
    outer: Statement,
    kind: SubKind,
    inner: Current,
}

#[derive(Debug)]
enum SubKind {
    /// An `INSERT … SELECT`'s rows, which become its VALUES.
    InsertRows,
    Scalar,
    In {
        needle: Box<Expr>,
        negated: bool,
    },
    Exists {
        negated: bool,
    },
}

const SUBQUERY_MARKER: &str = "$subquery";

fn is_marker(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(&v.value, sqlparser::ast::Value::Placeholder(p) if p == SUBQUERY_MARKER))
}

/// Visits an expression tree, parents first, until `f` returns true.
fn walk_mut(e: &mut Expr, f: &mut dyn FnMut(&mut Expr) -> bool) -> bool {
    if f(e) {
        return true;
    }
    match e {
        Expr::BinaryOp { left, right, .. } => walk_mut(left, f) || walk_mut(right, f),
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::Cast { expr, .. }
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::IsTrue(expr)
        | Expr::IsFalse(expr)
        | Expr::IsNotTrue(expr)
        | Expr::IsNotFalse(expr) => walk_mut(expr, f),
        Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
            walk_mut(a, f) || walk_mut(b, f)
        }
        Expr::In { expr, target, .. } => {
            walk_mut(expr, f)
                || match target {
                    InTarget::List(list) => list.iter_mut().any(|x| walk_mut(x, f)),
                    _ => false,
                }
        }
        Expr::Between {
            expr, low, high, ..
        } => walk_mut(expr, f) || walk_mut(low, f) || walk_mut(high, f),
        Expr::Like { expr, pattern, .. } => walk_mut(expr, f) || walk_mut(pattern, f),
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            operand.as_deref_mut().is_some_and(|o| walk_mut(o, f))
                || conditions
                    .iter_mut()
                    .any(|c| walk_mut(&mut c.condition, f) || walk_mut(&mut c.result, f))
                || else_result.as_deref_mut().is_some_and(|x| walk_mut(x, f))
        }
        Expr::Function(func) => match &mut func.args {
            sqlparser::ast::FunctionArguments::List(list) => {
                list.args.iter_mut().any(|a| match a {
                    sqlparser::ast::FunctionArg::Unnamed(
                        sqlparser::ast::FunctionArgExpr::Expr(x),
                    ) => walk_mut(x, f),
                    _ => false,
                })
            }
            _ => false,
        },
        _ => false,
    }
}

/// The expressions of a statement that may hold subqueries: select lists, WHERE, HAVING, SET values, VALUES rows.
fn statement_exprs_mut(stmt: &mut Statement) -> Vec<&mut Expr> {
    let mut out: Vec<&mut Expr> = vec![];
    match stmt {
        Statement::Query(q) => {
            if let SetExpr::Select(sel) = q.body.as_mut() {
                for item in &mut sel.projection {
                    if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } =
                        item
                    {
                        out.push(e);
                    }
                }
                out.extend(sel.selection.as_mut());
                out.extend(sel.having.as_mut());
            }
        }
        Statement::Update(up) => {
            for a in &mut up.assignments {
                out.push(&mut a.value);
            }
            out.extend(up.selection.as_mut());
        }
        Statement::Delete(del) => out.extend(del.selection.as_mut()),
        Statement::Insert(ins) => {
            if let Some(source) = ins.source.as_mut() {
                if let SetExpr::Values(values) = source.body.as_mut() {
                    for row in &mut values.rows {
                        out.extend(row.content.iter_mut());
                    }
                }
            }
            if let Some(OnInsert::OnConflict(oc)) = ins.on.as_mut() {
                if let OnConflictAction::DoUpdate(du) = &mut oc.action {
                    for a in &mut du.assignments {
                        out.push(&mut a.value);
                    }
                    out.extend(du.selection.as_mut());
                }
            }
        }
        _ => {}
    }
    out
}

/// Takes an `INSERT … SELECT`'s query out, leaving an empty VALUES list until its rows come back.
fn take_insert_query(stmt: &mut Statement) -> Option<Query> {
    let Statement::Insert(ins) = stmt else {
        return None;
    };
    let source = ins.source.as_mut()?;
    if matches!(source.body.as_ref(), SetExpr::Values(_)) {
        return None;
    }
    let query = source.as_ref().clone();
    *source.body = SetExpr::Values(sqlparser::ast::Values {
        explicit_row: false,
        value_keyword: true,
        rows: vec![],
    });
    source.order_by = None;
    source.limit_clause = None;
    source.locks = vec![];
    source.with = None;
    Some(query)
}

/// Takes the first subquery out of a statement, leaving a marker in its place.
fn take_subquery(stmt: &mut Statement) -> Option<(Query, SubKind)> {
    let mut found: Option<(Query, SubKind)> = None;
    for e in statement_exprs_mut(stmt) {
        if found.is_some() {
            break;
        }
        walk_mut(e, &mut |node| {
            let marker = || {
                Expr::Value(sqlparser::ast::Value::Placeholder(SUBQUERY_MARKER.to_string()).into())
            };
            let taken = match node {
                Expr::Subquery(q) => Some((q.as_ref().clone(), SubKind::Scalar)),
                Expr::Exists { subquery, negated } => Some((
                    subquery.as_ref().clone(),
                    SubKind::Exists { negated: *negated },
                )),
                Expr::In {
                    expr,
                    target: InTarget::Subquery(q),
                    negated,
                    ..
                } => Some((
                    q.as_ref().clone(),
                    SubKind::In {
                        needle: expr.clone(),
                        negated: *negated,
                    },
                )),
                _ => None,
            };
            match taken {
                Some(t) => {
                    *node = marker();
                    found = Some(t);
                    true
                }
                None => false,
            }
        });
    }
    found
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DmlKind {
    Update,
    Delete,
    Lock(LockMode, Option<NonBlock>),
    Insert,
}

#[derive(Debug)]
pub(crate) struct DmlState {
    stmt: Statement,
    kind: DmlKind,
    table_id: u64,
    table: String,
    snap: Snapshot,
    /// Tuple indexes for UPDATE, DELETE and locking SELECTs; row numbers into `rows` for INSERT.
    targets: Vec<usize>,
    rows: Vec<Vec<Value>>,
    pos: usize,
    /// RETURNING rows, or a locking SELECT's locked rows before projection.
    out: Vec<Vec<Value>>,
    count: u64,
    /// A locking SELECT's LIMIT and OFFSET, applied to rows as they get locked, as PostgreSQL's LockRows does.
    limit: Option<usize>,
    offset: usize,
    skipped: usize,
    /// Tuples this INSERT … ON CONFLICT DO UPDATE already updated, to refuse a second touch.
    touched: Vec<usize>,
}

/// Where a row stands for a writer or locker, PostgreSQL's `TM_Result`.
enum RowCheck {
    Free,
    Wait(TxId),
    SelfModified,
    Updated(usize),
    Deleted,
}

/// The parent row versions a new child row's foreign keys found, to lock, or the transaction to wait for.
enum FkCheck {
    Found(Vec<(String, u64, usize)>),
    Wait(TxId),
}

enum UniqueCheck {
    Ok,
    Wait(TxId),
    Conflict { index: usize, tuple: usize },
}

fn isolation_of(level: &TransactionIsolationLevel) -> Result<Isolation, PgError> {
    Ok(match level {
        TransactionIsolationLevel::ReadUncommitted | TransactionIsolationLevel::ReadCommitted => {
            Isolation::ReadCommitted
        }
        TransactionIsolationLevel::RepeatableRead => Isolation::RepeatableRead,
        TransactionIsolationLevel::Serializable => Isolation::Serializable,
        TransactionIsolationLevel::Snapshot => {
            return Err(PgError::new(
                sqlstate::SYNTAX_ERROR,
                "syntax error at or near \"SNAPSHOT\"",
            ))
        }
    })
}

fn parse_isolation_text(text: &str) -> Option<Isolation> {
    match text.trim().to_ascii_lowercase().as_str() {
        "read uncommitted" | "read committed" => Some(Isolation::ReadCommitted),
        "repeatable read" => Some(Isolation::RepeatableRead),
        "serializable" => Some(Isolation::Serializable),
        _ => None,
    }
}

/// Parses a time setting as PostgreSQL does: a bare number is milliseconds; units `us`, `ms`, `s`, `min`, `h`, `d`.
fn parse_duration_ms(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn format_duration_ms(ms: u64) -> String {
    match ms {
        0 => "0".to_string(),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}min", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

fn invalid_setting(name: &str, text: &str) -> PgError {
    PgError::new(
        sqlstate::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{name}\": \"{text}\""),
    )
}

/// Sets one setting in a set of settings, checking its value as PostgreSQL does.
fn apply_setting(
    settings: &mut crate::engine::Settings,
    name: &str,
    text: &str,
    default_isolation: Isolation,
) -> Result<(), PgError> {
    let is_default = text.eq_ignore_ascii_case("default");
    match name {
        "lock_timeout" | "statement_timeout" => {
            let ms = if is_default {
                0
            } else {
                parse_duration_ms(text).ok_or_else(|| invalid_setting(name, text))?
            };
            if name == "lock_timeout" {
                settings.lock_timeout_ms = ms;
            } else {
                settings.statement_timeout_ms = ms;
            }
        }
        "default_transaction_isolation" => {
            settings.default_isolation = if is_default {
                default_isolation
            } else {
                parse_isolation_text(text).ok_or_else(|| invalid_setting(name, text))?
            };
        }
        "deadlock_timeout" | "server_version" | "server_encoding" => {
            return Err(PgError::new(
                "42501",
                format!("permission denied to set parameter \"{name}\""),
            ))
        }
        _ if PASSIVE_SETTINGS.iter().any(|(n, _)| *n == name) => {
            settings.other.insert(name.to_string(), text.to_string());
        }
        _ => {
            return Err(PgError::new(
                sqlstate::UNDEFINED_OBJECT,
                format!("unrecognized configuration parameter \"{name}\""),
            ))
        }
    }
    Ok(())
}

/// Settings drivers send that change nothing this engine models; SET accepts them and SHOW returns them.
const PASSIVE_SETTINGS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("datestyle", "ISO, MDY"),
    ("extra_float_digits", "1"),
    ("intervalstyle", "postgres"),
    ("search_path", "\"$user\", public"),
    ("standard_conforming_strings", "on"),
    ("timezone", "UTC"),
    ("idle_in_transaction_session_timeout", "0"),
    ("server_version", crate::eval::SERVER_VERSION),
    ("server_encoding", "UTF8"),
];

fn result(tag: impl Into<String>) -> Step {
    Step::Done(Box::new(QueryResult {
        tag: tag.into(),
        columns: vec![],
        rows: vec![],
        notices: vec![],
    }))
}

fn result_with_notice(tag: &str, notice: Notice) -> Step {
    Step::Done(Box::new(QueryResult {
        tag: tag.to_string(),
        columns: vec![],
        rows: vec![],
        notices: vec![notice],
    }))
}

/// The statement's leading keywords, for the error that refuses it: `CREATE INDEX`, `ALTER TABLE`, `COPY`.
fn statement_kind(stmt: &Statement) -> String {
    let text = stmt.to_string();
    let words: Vec<&str> = text.split_whitespace().take(3).collect();
    let upper = |w: &str| w.to_ascii_uppercase();
    match words.as_slice() {
        [first, second, ..]
            if matches!(upper(first).as_str(), "CREATE" | "DROP" | "ALTER")
                && !matches!(
                    upper(second).as_str(),
                    "OR" | "UNIQUE" | "TEMPORARY" | "TEMP"
                ) =>
        {
            format!("{} {}", upper(first), upper(second))
        }
        [first, second, third, ..]
            if matches!(upper(first).as_str(), "CREATE" | "DROP" | "ALTER") =>
        {
            format!("{} {} {}", upper(first), upper(second), upper(third))
        }
        [first, ..] => upper(first),
        [] => "this statement".to_string(),
    }
}

fn not_supported_statement(stmt: &Statement) -> PgError {
    PgError::new(
        sqlstate::FEATURE_NOT_SUPPORTED,
        format!("{} is not supported", statement_kind(stmt)),
    )
    .with_hint("dosim's PostgreSQL supports the subset of SQL listed in docs/postgres.md.")
}

fn undefined_table(name: &str) -> PgError {
    PgError::new(
        sqlstate::UNDEFINED_TABLE,
        format!("relation \"{name}\" does not exist"),
    )
}

fn row_text(values: &[Value]) -> String {
    values
        .iter()
        .map(Value::detail_text)
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_only_error(what: &str) -> PgError {
    PgError::new(
        "25006",
        format!("cannot execute {what} in a read-only transaction"),
    )
}

/// Converts a value for storage in a column: PostgreSQL's assignment casts, and its refusal otherwise.
fn assign(value: Value, column: &ColumnInfo) -> Result<Value, PgError> {
    assign_from(value, column, false)
}

/// `assign` for a value whose expression has a type of its own (`typed`): then even text must match.
fn assign_from(value: Value, column: &ColumnInfo, typed: bool) -> Result<Value, PgError> {
    // Text (an untyped literal or parameter) converts to anything, anything converts to text, and the number types convert among themselves.
    let numeric = |t: SqlType| matches!(t, SqlType::Int4 | SqlType::Int8 | SqlType::Numeric(_));
    let mismatch = match value.sql_type() {
        None => false,
        Some(SqlType::Text) if !typed => false,
        Some(_) if column.ty == SqlType::Text => false,
        Some(t) if numeric(t) && numeric(column.ty) => false,
        Some(t) => t != column.ty,
    };
    if mismatch {
        return Err(PgError::new(
            sqlstate::DATATYPE_MISMATCH,
            format!(
                "column \"{}\" is of type {} but expression is of type {}",
                column.name,
                column.ty.name(),
                value.sql_type().map(SqlType::name).unwrap_or("unknown")
            ),
        )
        .with_hint("You will need to rewrite or cast the expression."));
    }
    value.coerce(column.ty)
}

fn check_not_null(table: &Table, row: &[Value]) -> Result<(), PgError> {
    for (c, v) in table.columns.iter().zip(row) {
        if c.not_null && v.is_null() {
            return Err(PgError::new(
                sqlstate::NOT_NULL_VIOLATION,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    c.info.name, table.name
                ),
            )
            .with_detail(format!("Failing row contains ({}).", row_text(row))));
        }
    }
    Ok(())
}

/// The lock an UPDATE from `old` to `new` takes: `Exclusive` if a column of any unique index changes, else `NoKeyExclusive`.
fn update_mode(table: &Table, old: &[Value], new: &[Value]) -> LockMode {
    let key_changed = table
        .uniques
        .iter()
        .flat_map(|u| u.columns.iter())
        .any(|c| match (old[*c].is_null(), new[*c].is_null()) {
            (true, true) => false,
            (false, false) => crate::value::compare(&old[*c], &new[*c]) != Some(Ordering::Equal),
            _ => true,
        });
    if key_changed {
        LockMode::Exclusive
    } else {
        LockMode::NoKeyExclusive
    }
}

/// Evaluates the table's CHECK constraints on a new row: only `false` fails, NULL passes.
fn check_constraints(table: &Table, row: &[Value]) -> Result<(), PgError> {
    let infos = table.infos();
    for (name, expr) in &table.checks {
        let mut ctx = Ctx {
            params: &[],
            now_us: 0,
            clock_us: 0,
            scope: Some(RowScope {
                table: &table.name,
                alias: None,
                columns: &infos,
                quals: &[],
            }),
            row: Some(row),
            excluded: None,
            aggregates: None,
            hook: None,
        };
        let v = eval(expr, &mut ctx).map_err(flow_to_step_err)?;
        if matches!(v, Value::Bool(false)) {
            return Err(PgError::new(
                "23514",
                format!(
                    "new row for relation \"{}\" violates check constraint \"{name}\"",
                    table.name
                ),
            )
            .with_detail(format!("Failing row contains ({}).", row_text(row))));
        }
    }
    Ok(())
}

fn unique_violation(table: &Table, index: usize, row: &[Value]) -> PgError {
    let u = &table.uniques[index];
    let cols: Vec<&str> = u
        .columns
        .iter()
        .map(|i| table.columns[*i].info.name.as_str())
        .collect();
    let vals: Vec<String> = u.columns.iter().map(|i| row[*i].detail_text()).collect();
    PgError::new(
        sqlstate::UNIQUE_VIOLATION,
        format!(
            "duplicate key value violates unique constraint \"{}\"",
            u.name
        ),
    )
    .with_detail(format!(
        "Key ({})=({}) already exists.",
        cols.join(", "),
        vals.join(", ")
    ))
}

fn concurrent_update() -> PgError {
    PgError::new(
        sqlstate::SERIALIZATION_FAILURE,
        "could not serialize access due to concurrent update",
    )
}

fn concurrent_delete() -> PgError {
    PgError::new(
        sqlstate::SERIALIZATION_FAILURE,
        "could not serialize access due to concurrent delete",
    )
}

/// Evaluates a constant expression (LIMIT, OFFSET) to a row count.
fn count_expr(expr: &Expr, params: &[Value], what: &str) -> Result<Option<usize>, PgError> {
    let mut ctx = Ctx {
        params,
        now_us: 0,
        clock_us: 0,
        scope: None,
        row: None,
        excluded: None,
        aggregates: None,
        hook: None,
    };
    let v = eval(expr, &mut ctx).map_err(|f| match f {
        Flow::Error(e) => e,
        Flow::Block(_) => unsupported("locks in LIMIT"),
    })?;
    match v.coerce(SqlType::Int8)? {
        Value::Null => Ok(None),
        Value::Int8(n) if n >= 0 => Ok(Some(n as usize)),
        _ => Err(PgError::new(
            "2201W",
            format!("{what} must not be negative"),
        )),
    }
}

struct SelectPlan<'q> {
    query: &'q Query,
    select: &'q sqlparser::ast::Select,
    group_by: Vec<Expr>,
    /// Two or more FROM items joined, in order; then `table` is `None`.
    joins: Vec<FromItem>,
    table: Option<(String, Option<String>)>,
    limit: Option<usize>,
    offset: usize,
    lock: Option<(LockMode, Option<NonBlock>)>,
}

fn plan_select<'q>(query: &'q Query, params: &[Value]) -> Result<SelectPlan<'q>, PgError> {
    if query.with.is_some() {
        return Err(unsupported("WITH queries"));
    }
    if query.fetch.is_some() || !query.pipe_operators.is_empty() {
        return Err(unsupported("FETCH clauses"));
    }
    let select = match query.body.as_ref() {
        SetExpr::Select(s) => s.as_ref(),
        SetExpr::SetOperation { .. } => return Err(unsupported("UNION, INTERSECT and EXCEPT")),
        SetExpr::Values(_) => return Err(unsupported("VALUES lists outside INSERT")),
        _ => return Err(unsupported("queries of this form")),
    };
    if let Some(sqlparser::ast::Distinct::On(_)) = &select.distinct {
        return Err(unsupported("SELECT DISTINCT ON queries"));
    }
    let group_by = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => exprs.clone(),
        _ => {
            return Err(unsupported(
                "GROUP BY ALL, ROLLUP, CUBE and GROUPING SETS clauses",
            ))
        }
    };
    if select.into.is_some() {
        return Err(unsupported("SELECT INTO statements"));
    }
    let mut from_items: Vec<FromItem> = vec![];
    for (n, twj) in select.from.iter().enumerate() {
        let (table, alias) = table_factor(&twj.relation)?;
        from_items.push(FromItem {
            table,
            alias,
            kind: if n == 0 {
                JoinKind::Inner
            } else {
                JoinKind::Cross
            },
            on: None,
        });
        for join in &twj.joins {
            let (table, alias) = table_factor(&join.relation)?;
            use sqlparser::ast::{JoinConstraint, JoinOperator};
            let (kind, constraint) = match &join.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) => (JoinKind::Inner, c),
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
                JoinOperator::CrossJoin(c) => (JoinKind::Cross, c),
                _ => return Err(unsupported("RIGHT, FULL, semi and anti joins")),
            };
            let on = match constraint {
                JoinConstraint::On(e) => Some(e.clone()),
                JoinConstraint::None => None,
                _ => return Err(unsupported("USING and NATURAL joins")),
            };
            from_items.push(FromItem {
                table,
                alias,
                kind,
                on,
            });
        }
    }
    if from_items.len() > JOIN_TABLES_MAX {
        return Err(unsupported(&format!(
            "joins of more than {JOIN_TABLES_MAX} tables"
        )));
    }
    let (table, joins) = match from_items.len() {
        0 => (None, vec![]),
        1 => {
            let item = from_items.pop().expect("one item");
            (Some((item.table, item.alias)), vec![])
        }
        _ => (None, from_items),
    };
    let (limit, offset) = match &query.limit_clause {
        None => (None, 0),
        Some(LimitClause::LimitOffset { limit, offset, .. }) => (
            match limit {
                Some(e) => count_expr(e, params, "LIMIT")?,
                None => None,
            },
            match offset {
                Some(o) => count_expr(&o.value, params, "OFFSET")?.unwrap_or(0),
                None => 0,
            },
        ),
        Some(LimitClause::OffsetCommaLimit { .. }) => {
            return Err(PgError::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "LIMIT #,# syntax is not supported",
            )
            .with_hint("Use separate LIMIT and OFFSET clauses."))
        }
    };
    let lock = match query.locks.as_slice() {
        [] => None,
        [lc] => Some((
            match lc.lock_type {
                LockType::Share => LockMode::Share,
                LockType::Update => LockMode::Exclusive,
            },
            lc.nonblock,
        )),
        _ => return Err(unsupported("several locking clauses")),
    };
    Ok(SelectPlan {
        query,
        select,
        group_by,
        table,
        joins,
        limit,
        offset,
        lock,
    })
}

/// Tables joined in one SELECT at most; each join is a nested loop.
const JOIN_TABLES_MAX: usize = 8;

/// Joined rows one SELECT may build before its WHERE; more is refused rather than exhausting memory.
const JOIN_ROWS_MAX: usize = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JoinKind {
    Inner,
    Left,
    Cross,
}

/// One FROM item of a join and how it joins the items before it.
#[derive(Clone, Debug)]
struct FromItem {
    table: String,
    alias: Option<String>,
    kind: JoinKind,
    on: Option<Expr>,
}

fn table_factor(f: &TableFactor) -> Result<(String, Option<String>), PgError> {
    match f {
        TableFactor::Table { name, alias, .. } => Ok((
            object_name(name),
            alias.as_ref().map(|a| ident_name(&a.name)),
        )),
        _ => Err(unsupported("subqueries in FROM")),
    }
}

/// Where a SELECT's rows come from: one table's tuples, or rows a join built.
enum Source {
    Tuples(Vec<usize>),
    Joined {
        infos: Vec<ColumnInfo>,
        quals: Vec<Qual>,
        data: Vec<Vec<Value>>,
    },
}

struct Projection {
    columns: Vec<ColumnDesc>,
    /// `None` stands for a wildcard's column at that index.
    exprs: Vec<ProjItem>,
}

enum ProjItem {
    Column(usize),
    Expr(Box<Expr>),
}

fn projection(items: &[SelectItem], scope: Option<&RowScope>) -> Result<Projection, PgError> {
    let mut columns = vec![];
    let mut exprs = vec![];
    for item in items {
        match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                let Some(scope) = scope else {
                    return Err(PgError::new(
                        sqlstate::SYNTAX_ERROR,
                        "SELECT * with no tables specified is not valid",
                    ));
                };
                // In a join, `t.*` keeps to the columns of the FROM item `t` names.
                let only = match item {
                    SelectItem::QualifiedWildcard(
                        sqlparser::ast::SelectItemQualifiedWildcardKind::ObjectName(name),
                        _,
                    ) if !scope.quals.is_empty() => {
                        let q = object_name(name);
                        if !scope.quals.iter().any(|x| x.answers_to(&q)) {
                            return Err(PgError::new(
                                sqlstate::UNDEFINED_TABLE,
                                format!("missing FROM-clause entry for table \"{q}\""),
                            ));
                        }
                        Some(q)
                    }
                    _ => None,
                };
                for (i, c) in scope.columns.iter().enumerate() {
                    if let Some(q) = &only {
                        if !scope.quals[i].answers_to(q) {
                            continue;
                        }
                    }
                    columns.push(ColumnDesc {
                        name: c.name.clone(),
                        ty: c.ty,
                    });
                    exprs.push(ProjItem::Column(i));
                }
            }
            SelectItem::UnnamedExpr(e) => {
                columns.push(ColumnDesc {
                    name: output_name(e),
                    ty: static_type(e, scope),
                });
                exprs.push(ProjItem::Expr(Box::new(e.clone())));
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                columns.push(ColumnDesc {
                    name: ident_name(alias),
                    ty: static_type(expr, scope),
                });
                exprs.push(ProjItem::Expr(Box::new(expr.clone())));
            }
            SelectItem::ExprWithAliases { .. } => return Err(unsupported("multiple aliases")),
        }
    }
    Ok(Projection { columns, exprs })
}

fn project(p: &Projection, ctx: &mut Ctx) -> Res<Vec<Value>> {
    let mut out = Vec::with_capacity(p.exprs.len());
    for item in &p.exprs {
        out.push(match item {
            ProjItem::Column(i) => ctx.row.map(|r| r[*i].clone()).unwrap_or(Value::Null),
            ProjItem::Expr(e) => eval(e, ctx)?,
        });
    }
    Ok(out)
}

fn flow_to_step_err(f: Flow) -> PgError {
    match f {
        Flow::Error(e) => e,
        Flow::Block(_) => unsupported("lock waits inside this expression"),
    }
}

impl Engine {
    fn tx_mut(&mut self, session: SessionId) -> &mut Tx {
        self.sessions
            .get_mut(&session)
            .and_then(|s| s.tx.as_mut())
            .expect("a statement runs inside a transaction")
    }

    fn tx_ref(&self, session: SessionId) -> &Tx {
        self.sessions[&session]
            .tx
            .as_ref()
            .expect("a statement runs inside a transaction")
    }

    fn db_name(&self, session: SessionId) -> String {
        self.sessions[&session].database.clone()
    }

    fn table_ref(&self, session: SessionId, name: &str) -> Result<&Table, PgError> {
        let db = &self.sessions[&session].database;
        self.databases
            .get(db)
            .and_then(|d| d.tables.get(name))
            .ok_or_else(|| undefined_table(name))
    }

    fn table_by_id(
        &mut self,
        session: SessionId,
        name: &str,
        id: u64,
    ) -> Result<&mut Table, PgError> {
        let db = self.sessions[&session].database.clone();
        self.databases
            .get_mut(&db)
            .and_then(|d| d.tables.get_mut(name))
            .filter(|t| t.id == id)
            .ok_or_else(|| undefined_table(name))
    }

    fn table_by_id_ref(&self, session: SessionId, name: &str, id: u64) -> Result<&Table, PgError> {
        self.table_ref(session, name)
            .ok()
            .filter(|t| t.id == id)
            .ok_or_else(|| undefined_table(name))
    }

    pub(crate) fn step(
        &mut self,
        session: SessionId,
        current: Current,
        params: &mut Vec<Value>,
        now: crate::SimTime,
    ) -> Step {
        let result = match current {
            Current::Start(stmt) => self.start(session, *stmt, params, now),
            Current::Sub(sub) => self.step_subquery(session, *sub, params, now),
            Current::Restart(stmt, snap) => {
                self.run_select(session, &stmt, params, now, Some(snap))
            }
            Current::Dml(state) => self.continue_dml(session, *state, params, now),
        };
        match result {
            Ok(step) => step,
            Err(e) => Step::Error(e),
        }
    }

    fn start(
        &mut self,
        session: SessionId,
        mut stmt: Statement,
        params: &mut Vec<Value>,
        now: crate::SimTime,
    ) -> Result<Step, PgError> {
        let is_control = matches!(
            stmt,
            Statement::StartTransaction { .. }
                | Statement::Commit { .. }
                | Statement::Rollback { .. }
                | Statement::Savepoint { .. }
                | Statement::ReleaseSavepoint { .. }
        );
        let failed = self.sessions[&session]
            .tx
            .as_ref()
            .is_some_and(|t| t.failed);
        let ends_failure = matches!(stmt, Statement::Commit { .. } | Statement::Rollback { .. });
        if failed && !ends_failure {
            return Err(PgError::new(
                sqlstate::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        if is_control {
            return self.transaction_control(session, &stmt);
        }
        if self.sessions[&session].tx.is_none() {
            let tx = self.begin_tx(session, false, None);
            self.sessions.get_mut(&session).expect("exists").tx = Some(tx);
        }
        if matches!(
            stmt,
            Statement::Query(_)
                | Statement::Insert(_)
                | Statement::Update(_)
                | Statement::Delete(_)
        ) {
            let tx = self.tx_ref(session);
            self.ssi_check_doomed(tx)?;
        }
        if let Some(query) = take_insert_query(&mut stmt) {
            let sub = Subquery {
                outer: stmt,
                kind: SubKind::InsertRows,
                inner: Current::Start(Box::new(Statement::Query(Box::new(query)))),
            };
            return self.step_subquery(session, sub, params, now);
        }
        if let Some((query, kind)) = take_subquery(&mut stmt) {
            let sub = Subquery {
                outer: stmt,
                kind,
                inner: Current::Start(Box::new(Statement::Query(Box::new(query)))),
            };
            return self.step_subquery(session, sub, params, now);
        }
        let params: &[Value] = params;
        match &stmt {
            Statement::Query(_) => self.run_select(session, &stmt, params, now, None),
            Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
                self.start_dml(session, stmt, params, now)
            }
            Statement::CreateTable(_) => self.create_table(session, &stmt),
            Statement::Drop { .. } => self.drop_table(session, &stmt),
            Statement::CreateIndex(ci) => self.create_index(session, ci),
            Statement::Set(set) => self.set(session, set),
            Statement::ShowVariable { variable } => {
                let name = variable
                    .iter()
                    .map(ident_name)
                    .collect::<Vec<_>>()
                    .join(" ");
                self.show(session, &name)
            }
            other => Err(not_supported_statement(other)),
        }
    }

    /// Runs an uncorrelated subquery before its statement, as PostgreSQL's InitPlans run, then puts its result in the statement's place of it.
    fn step_subquery(
        &mut self,
        session: SessionId,
        sub: Subquery,
        params: &mut Vec<Value>,
        now: crate::SimTime,
    ) -> Result<Step, PgError> {
        let Subquery {
            mut outer,
            kind,
            inner,
        } = sub;
        let result = match self.step(session, inner, params, now) {
            Step::Done(result) => result,
            Step::Blocked(inner, wait) => {
                return Ok(Step::Blocked(
                    Current::Sub(Box::new(Subquery { outer, kind, inner })),
                    wait,
                ))
            }
            // A column the subquery cannot resolve most likely belongs to the outer query.
            Step::Error(e)
                if e.sqlstate == sqlstate::UNDEFINED_COLUMN
                    || e.message.starts_with("missing FROM-clause entry") =>
            {
                return Err(PgError::new(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "correlated subqueries are not supported",
                )
                .with_detail(e.message)
                .with_hint("dosim runs a subquery once, before its statement, as PostgreSQL runs an uncorrelated one."))
            }
            Step::Error(e) => return Err(e),
        };
        if let SubKind::InsertRows = kind {
            let mut rows = vec![];
            for row in result.rows {
                let exprs: Vec<Expr> = row
                    .into_iter()
                    .map(|v| {
                        params.push(v);
                        Expr::Value(
                            sqlparser::ast::Value::Placeholder(format!("$s{}", params.len()))
                                .into(),
                        )
                    })
                    .collect();
                rows.push(sqlparser::ast::Parens {
                    opening_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                    content: exprs,
                    closing_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                });
            }
            let Statement::Insert(ins) = &mut outer else {
                unreachable!("InsertRows comes from an INSERT")
            };
            let source = ins.source.as_mut().expect("taken from this source");
            *source.body = SetExpr::Values(sqlparser::ast::Values {
                explicit_row: false,
                value_keyword: true,
                rows,
            });
            return self.start(session, outer, params, now);
        }
        if result.columns.len() != 1 {
            match kind {
                SubKind::InsertRows => unreachable!("handled above"),
                SubKind::Exists { .. } => {}
                SubKind::In { .. } => {
                    return Err(PgError::new(
                        sqlstate::SYNTAX_ERROR,
                        "subquery has too many columns",
                    ))
                }
                SubKind::Scalar => {
                    return Err(PgError::new(
                        sqlstate::SYNTAX_ERROR,
                        "subquery must return only one column",
                    ))
                }
            }
        }
        let mut placeholder = |v: Value| {
            params.push(v);
            Expr::Value(sqlparser::ast::Value::Placeholder(format!("$s{}", params.len())).into())
        };
        let replacement = match kind {
            SubKind::InsertRows => unreachable!("handled above"),
            SubKind::Scalar => {
                if result.rows.len() > 1 {
                    return Err(PgError::new(
                        sqlstate::CARDINALITY_VIOLATION,
                        "more than one row returned by a subquery used as an expression",
                    ));
                }
                let v = result
                    .rows
                    .into_iter()
                    .next()
                    .and_then(|r| r.into_iter().next())
                    .unwrap_or(Value::Null);
                placeholder(v)
            }
            SubKind::Exists { negated } => Expr::Value(
                sqlparser::ast::Value::Boolean(result.rows.is_empty() == negated).into(),
            ),
            SubKind::In { needle, negated } => {
                if result.rows.is_empty() {
                    Expr::Value(sqlparser::ast::Value::Boolean(negated).into())
                } else {
                    let list = result
                        .rows
                        .into_iter()
                        .map(|r| placeholder(r.into_iter().next().unwrap_or(Value::Null)))
                        .collect();
                    Expr::In {
                        expr: needle,
                        target: InTarget::List(list),
                        negated,
                        global: false,
                    }
                }
            }
        };
        let mut replacement = Some(replacement);
        for e in statement_exprs_mut(&mut outer) {
            walk_mut(e, &mut |node| {
                if is_marker(node) {
                    if let Some(r) = replacement.take() {
                        *node = r;
                    }
                    return true;
                }
                false
            });
        }
        self.start(session, outer, params, now)
    }

    fn transaction_control(
        &mut self,
        session: SessionId,
        stmt: &Statement,
    ) -> Result<Step, PgError> {
        match stmt {
            Statement::StartTransaction {
                modes,
                begin,
                statements,
                exception,
                ..
            } => {
                if !statements.is_empty() || exception.is_some() {
                    return Err(not_supported_statement(stmt));
                }
                let tag = if *begin { "BEGIN" } else { "START TRANSACTION" };
                let s = self.sessions.get_mut(&session).expect("exists");
                if let Some(tx) = s.tx.as_mut() {
                    if tx.explicit {
                        return Ok(result_with_notice(
                            tag,
                            Engine::warning(
                                sqlstate::ACTIVE_SQL_TRANSACTION,
                                "there is already a transaction in progress",
                            ),
                        ));
                    }
                    tx.explicit = true;
                    self.apply_modes(session, modes)?;
                    return Ok(result(tag));
                }
                let tx = self.begin_tx(session, true, None);
                self.sessions.get_mut(&session).expect("exists").tx = Some(tx);
                self.apply_modes(session, modes)?;
                Ok(result(tag))
            }
            Statement::Commit { chain: true, .. } | Statement::Rollback { chain: true, .. } => {
                let commit = matches!(stmt, Statement::Commit { .. });
                let what = if commit { "COMMIT" } else { "ROLLBACK" };
                if matches!(
                    stmt,
                    Statement::Rollback {
                        savepoint: Some(_),
                        ..
                    }
                ) {
                    return Err(unsupported("ROLLBACK TO SAVEPOINT AND CHAIN statements"));
                }
                let s = self.sessions.get_mut(&session).expect("exists");
                if !s.tx.as_ref().is_some_and(|t| t.explicit) {
                    return Err(PgError::new(
                        sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                        format!("{what} AND CHAIN can only be used in transaction blocks"),
                    ));
                }
                let tx = s.tx.take().expect("checked above");
                let (isolation, read_only) = (tx.isolation, tx.read_only);
                let tag = if commit && !tx.failed {
                    self.commit_tx(session, tx)?;
                    "COMMIT"
                } else {
                    self.abort_tx(session, tx);
                    "ROLLBACK"
                };
                // The chained transaction keeps the ended one's characteristics.
                let mut next = self.begin_tx(session, true, Some(isolation));
                next.read_only = read_only;
                self.sessions.get_mut(&session).expect("exists").tx = Some(next);
                Ok(result(tag))
            }
            Statement::Commit { .. } => {
                let s = self.sessions.get_mut(&session).expect("exists");
                match s.tx.take() {
                    None => Ok(result_with_notice(
                        "COMMIT",
                        Engine::warning(
                            sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                            "there is no transaction in progress",
                        ),
                    )),
                    Some(tx) if tx.failed => {
                        self.abort_tx(session, tx);
                        Ok(result("ROLLBACK"))
                    }
                    Some(tx) => {
                        self.commit_tx(session, tx)?;
                        Ok(result("COMMIT"))
                    }
                }
            }
            Statement::Rollback {
                savepoint: None, ..
            } => {
                let s = self.sessions.get_mut(&session).expect("exists");
                match s.tx.take() {
                    None => Ok(result_with_notice(
                        "ROLLBACK",
                        Engine::warning(
                            sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                            "there is no transaction in progress",
                        ),
                    )),
                    Some(tx) => {
                        self.abort_tx(session, tx);
                        Ok(result("ROLLBACK"))
                    }
                }
            }
            Statement::Rollback {
                savepoint: Some(name),
                ..
            } => {
                let name = ident_name(name);
                let explicit = self.sessions[&session]
                    .tx
                    .as_ref()
                    .is_some_and(|t| t.explicit);
                if !explicit {
                    return Err(PgError::new(
                        sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                        "ROLLBACK TO SAVEPOINT can only be used in transaction blocks",
                    ));
                }
                let tx = self.tx_ref(session);
                let Some(i) = tx.savepoints.iter().rposition(|s| s.name == name) else {
                    return Err(savepoint_missing(&name));
                };
                let undone: Vec<TxId> = tx.savepoints[i..].iter().map(|s| s.xid).collect();
                let top = tx.top;
                for x in undone {
                    if let Some(info) = self.xids.get_mut(&x) {
                        info.state = crate::engine::XidState::Aborted;
                    }
                }
                let fresh = self.new_xid(session, Some(top));
                let tx = self.tx_mut(session);
                tx.savepoints.truncate(i);
                tx.savepoints
                    .push(crate::engine::Savepoint { name, xid: fresh });
                tx.failed = false;
                self.wake();
                Ok(result("ROLLBACK"))
            }
            Statement::Savepoint { name } => {
                let explicit = self.sessions[&session]
                    .tx
                    .as_ref()
                    .is_some_and(|t| t.explicit);
                if !explicit {
                    return Err(PgError::new(
                        sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                        "SAVEPOINT can only be used in transaction blocks",
                    ));
                }
                let top = self.tx_ref(session).top;
                if self.tx_ref(session).savepoints.len() >= self.config.savepoints_max {
                    return Err(PgError::new(
                        sqlstate::PROGRAM_LIMIT_EXCEEDED,
                        format!(
                            "too many savepoints: dosim allows {} per transaction",
                            self.config.savepoints_max
                        ),
                    ));
                }
                let xid = self.new_xid(session, Some(top));
                self.tx_mut(session)
                    .savepoints
                    .push(crate::engine::Savepoint {
                        name: ident_name(name),
                        xid,
                    });
                Ok(result("SAVEPOINT"))
            }
            Statement::ReleaseSavepoint { name } => {
                let name = ident_name(name);
                let explicit = self.sessions[&session]
                    .tx
                    .as_ref()
                    .is_some_and(|t| t.explicit);
                if !explicit {
                    return Err(PgError::new(
                        sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                        "RELEASE SAVEPOINT can only be used in transaction blocks",
                    ));
                }
                let tx = self.tx_mut(session);
                let Some(i) = tx.savepoints.iter().rposition(|s| s.name == name) else {
                    return Err(savepoint_missing(&name));
                };
                tx.savepoints.truncate(i);
                Ok(result("RELEASE"))
            }
            _ => unreachable!("is_control lists these"),
        }
    }

    fn apply_modes(
        &mut self,
        session: SessionId,
        modes: &[TransactionMode],
    ) -> Result<(), PgError> {
        for mode in modes {
            match mode {
                TransactionMode::IsolationLevel(level) => {
                    let iso = isolation_of(level)?;
                    let tx = self.tx_mut(session);
                    if tx.snapshot_csn.is_some() || tx.ran_query {
                        return Err(PgError::new(
                            sqlstate::ACTIVE_SQL_TRANSACTION,
                            "SET TRANSACTION ISOLATION LEVEL must be called before any query",
                        ));
                    }
                    tx.isolation = iso;
                }
                TransactionMode::AccessMode(TransactionAccessMode::ReadOnly) => {
                    self.tx_mut(session).read_only = true;
                }
                TransactionMode::AccessMode(TransactionAccessMode::ReadWrite) => {
                    let tx = self.tx_mut(session);
                    if tx.read_only && tx.ran_query {
                        return Err(PgError::new(
                            sqlstate::ACTIVE_SQL_TRANSACTION,
                            "transaction read-write mode must be set before any query",
                        ));
                    }
                    tx.read_only = false;
                }
            }
        }
        Ok(())
    }

    fn set(&mut self, session: SessionId, set: &Set) -> Result<Step, PgError> {
        match set {
            Set::SetTransaction {
                modes,
                snapshot,
                session: session_scope,
            } => {
                if snapshot.is_some() {
                    return Err(unsupported("SET TRANSACTION SNAPSHOT statements"));
                }
                if *session_scope {
                    for mode in modes {
                        if let TransactionMode::IsolationLevel(level) = mode {
                            let iso = isolation_of(level)?;
                            self.sessions
                                .get_mut(&session)
                                .expect("exists")
                                .settings
                                .default_isolation = iso;
                        }
                    }
                    return Ok(result("SET"));
                }
                let explicit = self.tx_ref(session).explicit;
                if !explicit {
                    return Ok(result_with_notice(
                        "SET",
                        Engine::warning(
                            sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                            "SET TRANSACTION can only be used in transaction blocks",
                        ),
                    ));
                }
                self.apply_modes(session, modes)?;
                Ok(result("SET"))
            }
            Set::SingleAssignment {
                scope,
                variable,
                values,
                ..
            } => {
                let local = matches!(scope, Some(ContextModifier::Local));
                let name = object_name(variable);
                let text = match values.as_slice() {
                    [e] => set_value_text(e)?,
                    _ => return Err(unsupported("list values in SET")),
                };
                let explicit = self.tx_ref(session).explicit;
                if local && !explicit {
                    return Ok(result_with_notice(
                        "SET",
                        Engine::warning(
                            sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                            "SET LOCAL can only be used in transaction blocks",
                        ),
                    ));
                }
                self.set_variable(session, &name, &text, local)?;
                Ok(result("SET"))
            }
            Set::SetTimeZone { value, .. } => {
                let text = set_value_text(value)?;
                self.set_variable(session, "timezone", &text, false)?;
                Ok(result("SET"))
            }
            _ => Err(unsupported("SET statements of this form")),
        }
    }

    /// Applies `SET [LOCAL] name = text`. Settings are transactional, as in PostgreSQL: a rollback restores them, and LOCAL ones end with the transaction.
    fn set_variable(
        &mut self,
        session: SessionId,
        name: &str,
        text: &str,
        local: bool,
    ) -> Result<(), PgError> {
        if name == "transaction_isolation" {
            let iso = parse_isolation_text(text).ok_or_else(|| invalid_setting(name, text))?;
            let tx = self.tx_mut(session);
            if tx.snapshot_csn.is_some() || tx.ran_query {
                return Err(PgError::new(
                    sqlstate::ACTIVE_SQL_TRANSACTION,
                    "SET TRANSACTION ISOLATION LEVEL must be called before any query",
                ));
            }
            if tx.explicit {
                tx.isolation = iso;
            }
            return Ok(());
        }
        let default_isolation = self.config.default_isolation;
        let s = self.sessions.get_mut(&session).expect("exists");
        if local {
            if let Some(tx) = s.tx.as_mut() {
                tx.settings_at_commit
                    .get_or_insert_with(|| s.settings.clone());
            }
        } else if let Some(at_commit) = s.tx.as_mut().and_then(|t| t.settings_at_commit.as_mut()) {
            apply_setting(at_commit, name, text, default_isolation)?;
        }
        apply_setting(&mut s.settings, name, text, default_isolation)
    }

    fn show(&mut self, session: SessionId, name: &str) -> Result<Step, PgError> {
        let s = &self.sessions[&session];
        let iso_name = |i: Isolation| i.name().to_string();
        let value = match name {
            "transaction_isolation" | "transaction isolation level" => iso_name(
                s.tx.as_ref()
                    .map(|t| t.isolation)
                    .unwrap_or(s.settings.default_isolation),
            ),
            "default_transaction_isolation" => iso_name(s.settings.default_isolation),
            "transaction_read_only" => if s.tx.as_ref().is_some_and(|t| t.read_only) {
                "on"
            } else {
                "off"
            }
            .to_string(),
            "lock_timeout" => format_duration_ms(s.settings.lock_timeout_ms),
            "statement_timeout" => format_duration_ms(s.settings.statement_timeout_ms),
            "deadlock_timeout" => format_duration_ms(self.config.deadlock_timeout_ms),
            other => match s.settings.other.get(other) {
                Some(v) => v.clone(),
                None => match PASSIVE_SETTINGS.iter().find(|(n, _)| *n == other) {
                    Some((_, v)) => v.to_string(),
                    None => {
                        return Err(PgError::new(
                            sqlstate::UNDEFINED_OBJECT,
                            format!("unrecognized configuration parameter \"{other}\""),
                        ))
                    }
                },
            },
        };
        let column = if name == "transaction isolation level" {
            "transaction_isolation"
        } else {
            name
        };
        Ok(Step::Done(Box::new(QueryResult {
            tag: "SHOW".to_string(),
            columns: vec![ColumnDesc {
                name: column.to_string(),
                ty: SqlType::Text,
            }],
            rows: vec![vec![Value::Text(value)]],
            notices: vec![],
        })))
    }

    fn create_table(&mut self, session: SessionId, stmt: &Statement) -> Result<Step, PgError> {
        let Statement::CreateTable(ct) = stmt else {
            unreachable!("dispatched on CreateTable")
        };
        if ct.temporary || ct.query.is_some() || ct.like.is_some() || ct.clone.is_some() {
            return Err(not_supported_statement(stmt));
        }
        let name = object_name(&ct.name);
        let db = self.db_name(session);
        if self.databases[&db].relation_exists(&name) {
            if ct.if_not_exists {
                return Ok(result_with_notice(
                    "CREATE TABLE",
                    Notice {
                        severity: "NOTICE",
                        sqlstate: sqlstate::DUPLICATE_TABLE,
                        message: format!("relation \"{name}\" already exists, skipping"),
                    },
                ));
            }
            return Err(PgError::new(
                sqlstate::DUPLICATE_TABLE,
                format!("relation \"{name}\" already exists"),
            ));
        }
        if self.databases[&db].tables.len() >= self.config.tables_max {
            return Err(PgError::new(
                sqlstate::PROGRAM_LIMIT_EXCEEDED,
                format!(
                    "dosim allows at most {} tables per database",
                    self.config.tables_max
                ),
            ));
        }
        if ct.columns.len() > 1600 {
            return Err(PgError::new(
                sqlstate::PROGRAM_LIMIT_EXCEEDED,
                "tables can have at most 1600 columns",
            ));
        }
        let mut columns: Vec<Column> = vec![];
        let mut uniques: Vec<UniqueIndex> = vec![];
        let mut checks: Vec<(String, Expr)> = vec![];
        let mut fk_specs: Vec<(
            Option<String>,
            Vec<String>,
            sqlparser::ast::ForeignKeyConstraint,
        )> = vec![];
        let mut has_primary = false;
        let mut primary =
            |uniques: &mut Vec<UniqueIndex>, idx: Vec<usize>, cname: Option<String>| {
                if has_primary {
                    return Err(PgError::new(
                        sqlstate::INVALID_TABLE_DEFINITION,
                        format!("multiple primary keys for table \"{name}\" are not allowed"),
                    ));
                }
                has_primary = true;
                uniques.insert(
                    0,
                    UniqueIndex {
                        name: cname.unwrap_or_else(|| format!("{name}_pkey")),
                        columns: idx,
                        constraint: true,
                        primary: true,
                    },
                );
                Ok(())
            };
        let mut pk_columns: Vec<usize> = vec![];
        for (i, def) in ct.columns.iter().enumerate() {
            let cname = ident_name(&def.name);
            if columns.iter().any(|c| c.info.name == cname) {
                return Err(PgError::new(
                    sqlstate::DUPLICATE_COLUMN,
                    format!("column \"{cname}\" specified more than once"),
                ));
            }
            let (ty, serial) = column_type(&def.data_type)?;
            if ty == SqlType::Interval {
                return Err(unsupported("interval columns"));
            }
            let mut column = Column {
                info: ColumnInfo {
                    name: cname.clone(),
                    ty,
                },
                not_null: serial,
                default: None,
                serial_next: serial.then_some(1),
            };
            for opt in &def.options {
                let constraint_name = opt.name.as_ref().map(ident_name);
                match &opt.option {
                    ColumnOption::NotNull => column.not_null = true,
                    ColumnOption::Null => {}
                    ColumnOption::Default(e) => column.default = Some(e.clone()),
                    ColumnOption::PrimaryKey(_) => {
                        column.not_null = true;
                        pk_columns.push(i);
                        primary(&mut uniques, vec![i], constraint_name)?;
                    }
                    ColumnOption::Unique(_) => uniques.push(UniqueIndex {
                        name: constraint_name.unwrap_or_else(|| format!("{name}_{cname}_key")),
                        columns: vec![i],
                        constraint: true,
                        primary: false,
                    }),
                    ColumnOption::ForeignKey(fk) => fk_specs.push((
                        fk.name.as_ref().map(ident_name).or(constraint_name.clone()),
                        vec![cname.clone()],
                        fk.clone(),
                    )),
                    ColumnOption::Check(c) => checks.push((
                        c.name
                            .as_ref()
                            .map(ident_name)
                            .or(constraint_name.clone())
                            .unwrap_or_else(|| format!("{name}_{cname}_check")),
                        c.expr.as_ref().clone(),
                    )),
                    _ => return Err(unsupported("column options of this kind")),
                }
            }
            columns.push(column);
        }
        let column_index = |ident: &str| {
            columns
                .iter()
                .position(|c| c.info.name == ident)
                .ok_or_else(|| {
                    PgError::new(
                        sqlstate::UNDEFINED_COLUMN,
                        format!("column \"{ident}\" named in key does not exist"),
                    )
                })
        };
        let mut table_pk: Vec<usize> = vec![];
        for constraint in &ct.constraints {
            if let TableConstraint::Check(c) = constraint {
                // PostgreSQL names a table CHECK after its one column, or after the table alone.
                let mut referenced: Vec<String> = vec![];
                walk_mut(&mut c.expr.as_ref().clone(), &mut |e| {
                    if let Expr::Identifier(i) = e {
                        let n = ident_name(i);
                        if !referenced.contains(&n) {
                            referenced.push(n);
                        }
                    }
                    false
                });
                let default_name = match referenced.as_slice() {
                    [one] => format!("{name}_{one}_check"),
                    _ => format!("{name}_check"),
                };
                checks.push((
                    c.name.as_ref().map(ident_name).unwrap_or(default_name),
                    c.expr.as_ref().clone(),
                ));
                continue;
            }
            let (cols, cname, is_pk) = match constraint {
                TableConstraint::PrimaryKey(pk) => (&pk.columns, pk.name.as_ref(), true),
                TableConstraint::Unique(u) => (&u.columns, u.name.as_ref(), false),
                TableConstraint::ForeignKey(fk) => {
                    fk_specs.push((
                        fk.name.as_ref().map(ident_name),
                        fk.columns.iter().map(ident_name).collect(),
                        fk.clone(),
                    ));
                    continue;
                }
                _ => return Err(unsupported("table constraints of this kind")),
            };
            let mut idx = vec![];
            for c in cols {
                let Expr::Identifier(ident) = &c.column.expr else {
                    return Err(unsupported("expression indexes"));
                };
                idx.push(column_index(&ident_name(ident))?);
            }
            let cname = cname.map(ident_name);
            if is_pk {
                table_pk = idx.clone();
                primary(&mut uniques, idx, cname)?;
            } else {
                let names: Vec<&str> = idx.iter().map(|i| columns[*i].info.name.as_str()).collect();
                uniques.push(UniqueIndex {
                    name: cname.unwrap_or_else(|| format!("{name}_{}_key", names.join("_"))),
                    columns: idx,
                    constraint: true,
                    primary: false,
                });
            }
        }
        for i in table_pk {
            columns[i].not_null = true;
        }
        checks.sort_by(|a, b| a.0.cmp(&b.0));
        let mut foreign_keys = vec![];
        for (fk_name, cols, fk) in &fk_specs {
            foreign_keys.push(self.resolve_foreign_key(
                session,
                &name,
                &columns,
                &uniques,
                fk_name.clone(),
                cols,
                fk,
            )?);
        }
        let infos: Vec<ColumnInfo> = columns.iter().map(|c| c.info.clone()).collect();
        for (_, expr) in &checks {
            check_names(
                expr,
                &[],
                Some(RowScope {
                    table: &name,
                    alias: None,
                    columns: &infos,
                    quals: &[],
                }),
            )?;
        }
        let id = self.next_table_id;
        self.next_table_id += 1;
        let db = self
            .databases
            .get_mut(&db)
            .expect("session's database exists");
        db.tables.insert(
            name.clone(),
            Table {
                id,
                name: name.clone(),
                columns,
                uniques,
                tuples: vec![],
                checks,
                foreign_keys,
                unique_keys: BTreeMap::new(),
            },
        );
        let database = self.db_name(session);
        self.tx_mut(session)
            .created
            .push(crate::engine::Created::Table { database, name, id });
        Ok(result("CREATE TABLE"))
    }

    fn drop_table(&mut self, session: SessionId, stmt: &Statement) -> Result<Step, PgError> {
        let Statement::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            ..
        } = stmt
        else {
            unreachable!("dispatched on Drop")
        };
        if *object_type == ObjectType::Index {
            return self.drop_index(session, names, *if_exists);
        }
        if *object_type != ObjectType::Table {
            return Err(not_supported_statement(stmt));
        }
        let db = self.db_name(session);
        let mut notices = vec![];
        let mut to_drop = vec![];
        for n in names {
            let name = object_name(n);
            if self.databases[&db].tables.contains_key(&name) {
                to_drop.push(name);
            } else if *if_exists {
                notices.push(Notice {
                    severity: "NOTICE",
                    sqlstate: "00000",
                    message: format!("table \"{name}\" does not exist, skipping"),
                });
            } else {
                return Err(PgError::new(
                    sqlstate::UNDEFINED_TABLE,
                    format!("table \"{name}\" does not exist"),
                ));
            }
        }
        // Foreign keys of other tables depend on a dropped parent: refused, or dropped with CASCADE.
        let dependents: Vec<(String, String, String)> = self.databases[&db]
            .tables
            .values()
            .filter(|t| !to_drop.contains(&t.name))
            .flat_map(|t| {
                t.foreign_keys
                    .iter()
                    .filter(|f| to_drop.contains(&f.parent))
                    .map(|f| (f.name.clone(), t.name.clone(), f.parent.clone()))
            })
            .collect();
        if let Some((fk, child, parent)) = dependents.first() {
            if !*cascade {
                return Err(PgError::new(
                    "2BP01",
                    format!("cannot drop table {parent} because other objects depend on it"),
                )
                .with_detail(format!(
                    "constraint {fk} on table {child} depends on table {parent}"
                ))
                .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
            }
        }
        let database = self.databases.get_mut(&db).expect("exists");
        for (fk, child, _) in &dependents {
            if let Some(t) = database.tables.get_mut(child) {
                t.foreign_keys.retain(|f| f.name != *fk);
            }
            notices.push(Notice {
                severity: "NOTICE",
                sqlstate: "00000",
                message: format!("drop cascades to constraint {fk} on table {child}"),
            });
        }
        for name in to_drop {
            database.tables.remove(&name);
            database.indexes.retain(|_, table| *table != name);
        }
        Ok(Step::Done(Box::new(QueryResult {
            tag: "DROP TABLE".to_string(),
            columns: vec![],
            rows: vec![],
            notices,
        })))
    }

    /// Checks a FOREIGN KEY clause and finds the parent's unique key it references.
    #[allow(clippy::too_many_arguments)]
    fn resolve_foreign_key(
        &self,
        session: SessionId,
        table: &str,
        columns: &[Column],
        uniques: &[UniqueIndex],
        fk_name: Option<String>,
        cols: &[String],
        fk: &sqlparser::ast::ForeignKeyConstraint,
    ) -> Result<crate::engine::ForeignKey, PgError> {
        use sqlparser::ast::ReferentialAction;
        for action in [&fk.on_delete, &fk.on_update].into_iter().flatten() {
            if !matches!(
                action,
                ReferentialAction::NoAction | ReferentialAction::Restrict
            ) {
                return Err(unsupported(
                    "referential actions other than NO ACTION and RESTRICT",
                ));
            }
        }
        let mut child_cols = vec![];
        for c in cols {
            child_cols.push(
                columns
                    .iter()
                    .position(|x| x.info.name == *c)
                    .ok_or_else(|| {
                        PgError::new(
                    sqlstate::UNDEFINED_COLUMN,
                    format!("column \"{c}\" referenced in foreign key constraint does not exist"),
                )
                    })?,
            );
        }
        let parent = object_name(&fk.foreign_table);
        // A table may reference itself, before it exists.
        let (parent_columns, parent_uniques): (Vec<String>, Vec<UniqueIndex>) = if parent == table {
            (
                columns.iter().map(|c| c.info.name.clone()).collect(),
                uniques.to_vec(),
            )
        } else {
            let p = self.table_ref(session, &parent)?;
            (
                p.columns.iter().map(|c| c.info.name.clone()).collect(),
                p.uniques.clone(),
            )
        };
        let no_unique = || {
            PgError::new(
                "42830",
                format!("there is no unique constraint matching given keys for referenced table \"{parent}\""),
            )
        };
        let referenced: Vec<usize> = if fk.referred_columns.is_empty() {
            let pk = parent_uniques.iter().find(|u| u.primary).ok_or_else(|| {
                PgError::new(
                    "42830",
                    format!("there is no primary key for referenced table \"{parent}\""),
                )
            })?;
            pk.columns.clone()
        } else {
            let mut out = vec![];
            for c in &fk.referred_columns {
                let n = ident_name(c);
                out.push(parent_columns.iter().position(|x| *x == n).ok_or_else(|| {
                    PgError::new(
                        sqlstate::UNDEFINED_COLUMN,
                        format!(
                            "column \"{n}\" referenced in foreign key constraint does not exist"
                        ),
                    )
                })?);
            }
            out
        };
        if referenced.len() != child_cols.len() {
            return Err(PgError::new(
                "42830",
                "number of referencing and referenced columns for foreign key disagree",
            ));
        }
        let mut wanted = referenced.clone();
        wanted.sort();
        let matches_unique = parent_uniques.iter().any(|u| {
            let mut c = u.columns.clone();
            c.sort();
            c == wanted
        });
        if !matches_unique {
            return Err(no_unique());
        }
        Ok(crate::engine::ForeignKey {
            name: fk_name.unwrap_or_else(|| format!("{table}_{}_fkey", cols.join("_"))),
            columns: child_cols,
            parent,
            parent_columns: referenced,
        })
    }

    /// CREATE [UNIQUE] INDEX: a unique one enforces its key from now on; others change no behaviour modelled here, so they are recorded by name only.
    fn create_index(
        &mut self,
        session: SessionId,
        ci: &sqlparser::ast::CreateIndex,
    ) -> Result<Step, PgError> {
        if ci.predicate.is_some() {
            return Err(unsupported("partial indexes"));
        }
        if !ci.include.is_empty() || ci.nulls_distinct == Some(false) {
            return Err(unsupported("INCLUDE and NULLS NOT DISTINCT clauses"));
        }
        let table_name = object_name(&ci.table_name);
        let db = self.db_name(session);
        let table = self.table_ref(session, &table_name)?;
        let mut columns = vec![];
        for c in &ci.columns {
            let Expr::Identifier(ident) = &c.column.expr else {
                return Err(unsupported("expression indexes"));
            };
            let cname = ident_name(ident);
            let i = table
                .columns
                .iter()
                .position(|col| col.info.name == cname)
                .ok_or_else(|| {
                    PgError::new(
                        sqlstate::UNDEFINED_COLUMN,
                        format!("column \"{cname}\" does not exist"),
                    )
                })?;
            columns.push(i);
        }
        let name = match &ci.name {
            Some(n) => object_name(n),
            None => {
                let names: Vec<&str> = columns
                    .iter()
                    .map(|i| table.columns[*i].info.name.as_str())
                    .collect();
                format!("{table_name}_{}_idx", names.join("_"))
            }
        };
        if self.databases[&db].relation_exists(&name) {
            if ci.if_not_exists {
                return Ok(result_with_notice(
                    "CREATE INDEX",
                    Notice {
                        severity: "NOTICE",
                        sqlstate: sqlstate::DUPLICATE_TABLE,
                        message: format!("relation \"{name}\" already exists, skipping"),
                    },
                ));
            }
            return Err(PgError::new(
                sqlstate::DUPLICATE_TABLE,
                format!("relation \"{name}\" already exists"),
            ));
        }
        if !ci.unique {
            self.databases
                .get_mut(&db)
                .expect("exists")
                .indexes
                .insert(name.clone(), table_name);
            self.tx_mut(session)
                .created
                .push(crate::engine::Created::Index { database: db, name });
            return Ok(result("CREATE INDEX"));
        }
        // Existing rows must already be unique: committed live rows, and this transaction's own.
        let me = self.tx_ref(session).top;
        let mut seen: Vec<&Tuple> = vec![];
        for t in &table.tuples {
            let live = match self.xid_state(t.xmin) {
                crate::engine::XidState::Aborted => false,
                crate::engine::XidState::Active => self.top(t.xmin) == me,
                crate::engine::XidState::Committed(_) => true,
            } && match t.xmax {
                None => true,
                Some(x) => match self.xid_state(x) {
                    crate::engine::XidState::Aborted => true,
                    crate::engine::XidState::Active => self.top(x) != me,
                    crate::engine::XidState::Committed(_) => false,
                },
            };
            if !live || columns.iter().any(|c| t.data[*c].is_null()) {
                continue;
            }
            let duplicate = seen.iter().any(|o| {
                columns.iter().all(|c| {
                    crate::value::compare(&o.data[*c], &t.data[*c]) == Some(Ordering::Equal)
                })
            });
            if duplicate {
                let cols: Vec<&str> = columns
                    .iter()
                    .map(|i| table.columns[*i].info.name.as_str())
                    .collect();
                let vals: Vec<String> = columns.iter().map(|i| t.data[*i].detail_text()).collect();
                return Err(PgError::new(
                    sqlstate::UNIQUE_VIOLATION,
                    format!("could not create unique index \"{name}\""),
                )
                .with_detail(format!(
                    "Key ({})=({}) is duplicated.",
                    cols.join(", "),
                    vals.join(", ")
                )));
            }
            seen.push(t);
        }
        let id = table.id;
        let table = self.table_by_id(session, &table_name, id)?;
        table.uniques.push(UniqueIndex {
            name: name.clone(),
            columns,
            constraint: false,
            primary: false,
        });
        table.rebuild_unique_keys();
        self.tx_mut(session)
            .created
            .push(crate::engine::Created::UniqueIndex {
                database: db,
                table: table_name,
                table_id: id,
                name,
            });
        Ok(result("CREATE INDEX"))
    }

    fn drop_index(
        &mut self,
        session: SessionId,
        names: &[sqlparser::ast::ObjectName],
        if_exists: bool,
    ) -> Result<Step, PgError> {
        let db = self.db_name(session);
        let mut notices = vec![];
        for n in names {
            let name = object_name(n);
            let database = self.databases.get_mut(&db).expect("exists");
            if database.indexes.remove(&name).is_some() {
                continue;
            }
            let owner = database
                .tables
                .values_mut()
                .find(|t| t.uniques.iter().any(|u| u.name == name));
            match owner {
                Some(table) => {
                    let i = table
                        .uniques
                        .iter()
                        .position(|u| u.name == name)
                        .expect("found above");
                    if table.uniques[i].constraint {
                        return Err(PgError::new(
                            "2BP01",
                            format!(
                                "cannot drop index {name} because constraint {name} on table {} requires it",
                                table.name
                            ),
                        )
                        .with_hint(format!(
                            "You can drop constraint {name} on table {} instead.",
                            table.name
                        )));
                    }
                    table.uniques.remove(i);
                    table.rebuild_unique_keys();
                }
                None if if_exists => notices.push(Notice {
                    severity: "NOTICE",
                    sqlstate: "00000",
                    message: format!("index \"{name}\" does not exist, skipping"),
                }),
                None => {
                    return Err(PgError::new(
                        sqlstate::UNDEFINED_OBJECT,
                        format!("index \"{name}\" does not exist"),
                    ))
                }
            }
        }
        Ok(Step::Done(Box::new(QueryResult {
            tag: "DROP INDEX".to_string(),
            columns: vec![],
            rows: vec![],
            notices,
        })))
    }

    /// Starts a statement's snapshot and command id: per statement under READ COMMITTED, once per transaction otherwise.
    fn statement_snapshot(&mut self, session: SessionId) -> Snapshot {
        let last = self.last_csn;
        let tx = self.tx_mut(session);
        tx.cid += 1;
        tx.ran_query = true;
        if tx.isolation != Isolation::ReadCommitted && tx.snapshot_csn.is_none() {
            tx.snapshot_csn = Some(last);
        }
        let tx = self.tx_ref(session).clone();
        if tx.isolation == Isolation::Serializable {
            let entry = self.ssi.entry(tx.top).or_default();
            entry.snapshot_csn = tx.snapshot_csn;
        }
        self.take_snapshot(&tx)
    }

    /// The visible rows of a table that satisfy WHERE, in storage order.
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &mut self,
        session: SessionId,
        table_name: &str,
        alias: Option<&str>,
        selection: Option<&Expr>,
        snap: &Snapshot,
        params: &[Value],
        now: crate::SimTime,
    ) -> Result<Vec<usize>, PgError> {
        let tx = self.tx_ref(session).clone();
        let db = self.db_name(session);
        self.ssi_note(&tx, &db, table_name, false)?;
        let table = self.table_ref(session, table_name)?;
        let infos = table.infos();
        if let Some(cond) = selection {
            check_names(
                cond,
                params,
                Some(RowScope {
                    table: table_name,
                    alias,
                    columns: &infos,
                    quals: &[],
                }),
            )?;
        }
        // `key = constant` on a one-column unique index visits only the versions holding that key, as an index scan would; WHERE is still checked in full.
        let candidates: Vec<usize> = match selection.and_then(|c| indexed_lookup(table, c, params))
        {
            Some(found) => found,
            None => (0..table.tuples.len()).collect(),
        };
        let mut out = vec![];
        for i in candidates {
            let t = &table.tuples[i];
            if !self.visible(t, snap) {
                continue;
            }
            let keep = match selection {
                None => true,
                Some(cond) => {
                    let mut ctx = Ctx {
                        params,
                        now_us: tx.start_us,
                        clock_us: unix_us(now),
                        scope: Some(RowScope {
                            table: table_name,
                            alias,
                            columns: &infos,
                            quals: &[],
                        }),
                        row: Some(&t.data),
                        excluded: None,
                        aggregates: None,
                        hook: None,
                    };
                    eval_condition(cond, &mut ctx, "WHERE").map_err(flow_to_step_err)?
                }
            };
            if keep {
                out.push(i);
            }
        }
        Ok(out)
    }

    fn run_select(
        &mut self,
        session: SessionId,
        stmt: &Statement,
        params: &[Value],
        now: crate::SimTime,
        snap: Option<Snapshot>,
    ) -> Result<Step, PgError> {
        let Statement::Query(query) = stmt else {
            unreachable!("dispatched on Query")
        };
        let plan = plan_select(query, params)?;
        let snap = match snap {
            Some(s) => s,
            None => self.statement_snapshot(session),
        };
        let tx = self.tx_ref(session).clone();
        let select = plan.select;
        let mut aggs = vec![];
        for item in &select.projection {
            if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
                collect_aggregates(e, &mut aggs);
            }
        }
        if plan.lock.is_some() && plan.select.distinct.is_some() {
            return Err(PgError::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "FOR UPDATE is not allowed with DISTINCT clause",
            ));
        }
        if plan.lock.is_some() && !plan.group_by.is_empty() {
            return Err(PgError::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                "FOR UPDATE is not allowed with GROUP BY clause",
            ));
        }
        if plan.lock.is_some() && !aggs.is_empty() {
            return Err(PgError::new(
                sqlstate::FEATURE_NOT_SUPPORTED,
                format!(
                    "FOR {} is not allowed with aggregate functions",
                    if plan.lock.map(|l| l.0) == Some(LockMode::Share) {
                        "SHARE"
                    } else {
                        "UPDATE"
                    }
                ),
            ));
        }
        // With no table, a locking clause locks nothing, as in PostgreSQL.
        let Some((table_name, alias)) = plan.table.clone() else {
            if !plan.joins.is_empty() {
                if plan.lock.is_some() {
                    return Err(unsupported("locking clauses with joins"));
                }
                let source = self.join_rows(session, &plan, &snap, &tx, params, now)?;
                return self
                    .select_rows(session, stmt, &plan, None, source, &snap, &tx, params, now);
            }
            return self.select_rows(
                session,
                stmt,
                &plan,
                None,
                Source::Tuples(vec![]),
                &snap,
                &tx,
                params,
                now,
            );
        };
        let rows = self.scan(
            session,
            &table_name,
            alias.as_deref(),
            select.selection.as_ref(),
            &snap,
            params,
            now,
        )?;
        if let Some((mode, nonblock)) = plan.lock {
            if tx.read_only && mode == LockMode::Exclusive {
                return Err(read_only_error("SELECT FOR UPDATE"));
            }
            let table = self.table_ref(session, &table_name)?;
            let infos = table.infos();
            let ordered = self.order_rows(
                table,
                &table_name,
                alias.as_deref(),
                &infos,
                plan.query,
                &select.projection,
                rows,
                &tx,
                params,
                now,
            )?;
            let table_id = table.id;
            let state = DmlState {
                stmt: stmt.clone(),
                kind: DmlKind::Lock(mode, nonblock),
                table_id,
                table: table_name,
                snap,
                targets: ordered,
                rows: vec![],
                pos: 0,
                out: vec![],
                count: 0,
                limit: plan.limit,
                offset: plan.offset,
                skipped: 0,
                touched: vec![],
            };
            return self.continue_dml(session, state, params, now);
        }
        self.select_rows(
            session,
            stmt,
            &plan,
            Some((table_name, alias)),
            Source::Tuples(rows),
            &snap,
            &tx,
            params,
            now,
        )
    }

    /// Sorts row indexes by ORDER BY; the sort is stable, so ties keep storage order.
    #[allow(clippy::too_many_arguments)]
    fn order_rows(
        &self,
        table: &Table,
        table_name: &str,
        alias: Option<&str>,
        infos: &[ColumnInfo],
        query: &Query,
        projection: &[SelectItem],
        rows: Vec<usize>,
        tx: &Tx,
        params: &[Value],
        now: crate::SimTime,
    ) -> Result<Vec<usize>, PgError> {
        let Some(order_by) = &query.order_by else {
            return Ok(rows);
        };
        let OrderByKind::Expressions(keys) = &order_by.kind else {
            return Err(unsupported("ORDER BY ALL clauses"));
        };
        let scope_proj = RowScope {
            table: table_name,
            alias,
            columns: infos,
            quals: &[],
        };
        let proj = projection_exprs(projection, &scope_proj)?;
        let mut keyed: Vec<(Vec<Value>, usize)> = vec![];
        for idx in rows {
            let mut ctx = Ctx {
                params,
                now_us: tx.start_us,
                clock_us: unix_us(now),
                scope: Some(RowScope {
                    table: table_name,
                    alias,
                    columns: infos,
                    quals: &[],
                }),
                row: Some(&table.tuples[idx].data),
                excluded: None,
                aggregates: None,
                hook: None,
            };
            let mut key = vec![];
            for k in keys {
                let expr = resolve_order_expr(&k.expr, &proj)?;
                key.push(eval(&expr, &mut ctx).map_err(flow_to_step_err)?);
            }
            keyed.push((key, idx));
        }
        sort_keyed(&mut keyed, keys)?;
        Ok(keyed.into_iter().map(|(_, i)| i).collect())
    }

    /// A plain SELECT: filters, aggregates, sorts, limits and projects; advisory functions may make it wait.
    #[allow(clippy::too_many_arguments)]
    fn select_rows(
        &mut self,
        session: SessionId,
        stmt: &Statement,
        plan: &SelectPlan,
        table: Option<(String, Option<String>)>,
        source: Source,
        snap: &Snapshot,
        tx: &Tx,
        params: &[Value],
        now: crate::SimTime,
    ) -> Result<Step, PgError> {
        let select = plan.select;
        let pid = self.sessions[&session].pid;
        let database = self.sessions[&session].database.clone();
        let mut acquired: Vec<(AdvisoryKey, bool)> = vec![];
        let mut released = false;
        let mut notices: Vec<Notice> = vec![];
        let (infos, quals, table_name, alias, rows, joined) = match (&table, source) {
            (_, Source::Joined { infos, quals, data }) => {
                let first = quals.first().map(|q| q.table.clone()).unwrap_or_default();
                (infos, quals, first, None, vec![], Some(data))
            }
            (Some((name, alias)), Source::Tuples(rows)) => (
                self.table_ref(session, name)?.infos(),
                vec![],
                name.clone(),
                alias.clone(),
                rows,
                None,
            ),
            (None, Source::Tuples(_)) => (vec![], vec![], String::new(), None, vec![], None),
        };
        let has_from = table.is_some() || joined.is_some();
        let distinct = matches!(select.distinct, Some(sqlparser::ast::Distinct::Distinct));
        let scope = || {
            has_from.then(|| RowScope {
                table: &table_name,
                alias: alias.as_deref(),
                columns: &infos,
                quals: &quals,
            })
        };
        let proj = projection(&select.projection, scope().as_ref())?;
        let order_keys: Vec<sqlparser::ast::OrderByExpr> = match &plan.query.order_by {
            Some(o) => match &o.kind {
                OrderByKind::Expressions(keys) => keys.clone(),
                OrderByKind::All(_) => return Err(unsupported("ORDER BY ALL clauses")),
            },
            None => vec![],
        };
        let mut aggs = vec![];
        for item in &select.projection {
            if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
                collect_aggregates(e, &mut aggs);
            }
        }
        if let Some(h) = &select.having {
            collect_aggregates(h, &mut aggs);
        }
        for k in &order_keys {
            collect_aggregates(&k.expr, &mut aggs);
        }
        // GROUP BY may name output columns by position or alias, as ORDER BY may.
        let group_by: Vec<Expr> = match scope() {
            Some(sc) if !plan.group_by.is_empty() => {
                let named = projection_exprs(&select.projection, &sc)?;
                plan.group_by
                    .iter()
                    .map(|e| resolve_order_expr(e, &named))
                    .collect::<Result<_, _>>()?
            }
            _ => plan.group_by.clone(),
        };
        let group_by = &group_by;
        let grouped = !aggs.is_empty() || !group_by.is_empty() || select.having.is_some();
        if grouped && has_from {
            let grouped_names: Vec<String> = group_by.iter().map(output_name).collect();
            for (item, col) in proj.exprs.iter().zip(&proj.columns) {
                let bare = match item {
                    ProjItem::Column(_) => true,
                    ProjItem::Expr(e) => {
                        matches!(
                            e.as_ref(),
                            Expr::Identifier(_) | Expr::CompoundIdentifier(_)
                        )
                    }
                };
                if bare && !grouped_names.contains(&col.name) {
                    return Err(PgError::new(
                        sqlstate::GROUPING_ERROR,
                        format!(
                            "column \"{table_name}.{}\" must appear in the GROUP BY clause or be used in an aggregate function",
                            col.name
                        ),
                    ));
                }
            }
        }
        let data: Vec<Vec<Value>> = match (&table, joined) {
            (_, Some(data)) if grouped => data,
            (_, Some(data)) => {
                let scope = scope().expect("a join has tables");
                order_data(
                    &scope,
                    plan.query,
                    &select.projection,
                    data,
                    tx,
                    params,
                    now,
                )?
            }
            (Some((name, _)), None) => {
                let t = self.table_ref(session, name)?;
                let ordered = if grouped {
                    rows
                } else {
                    self.order_rows(
                        t,
                        name,
                        alias.as_deref(),
                        &infos,
                        plan.query,
                        &select.projection,
                        rows,
                        tx,
                        params,
                        now,
                    )?
                };
                ordered.iter().map(|i| t.tuples[*i].data.clone()).collect()
            }
            // A SELECT without FROM has one row with no columns; aggregates see it once.
            (None, None) => vec![vec![]],
        };
        for item in &proj.exprs {
            if let ProjItem::Expr(e) = item {
                if aggs.is_empty() {
                    check_names(e, params, scope())?;
                }
            }
        }
        for e in group_by {
            check_names(e, params, scope())?;
        }
        for f in &aggs {
            if let Some(arg) = aggregate_arg(f)? {
                check_names(arg, params, scope())?;
            }
        }
        let order_exprs: Vec<Expr> = match has_from {
            true if grouped => {
                let scope_proj = scope().expect("a table");
                let named = projection_exprs(&select.projection, &scope_proj)?;
                order_keys
                    .iter()
                    .map(|k| resolve_order_expr(&k.expr, &named))
                    .collect::<Result<_, _>>()?
            }
            _ => vec![],
        };
        let advisory = &mut self.advisory;
        let rng = &mut self.uuid_rng;
        let mut hook = |name: &str, args: &[Value]| -> Option<Res<Value>> {
            if let Some(v) = crate::engine::gen_random_uuid(rng, name, args) {
                return Some(v);
            }
            if name == "current_database" {
                return Some(if args.is_empty() {
                    Ok(Value::Text(database.clone()))
                } else {
                    Err(crate::eval::no_function(name, args).into())
                });
            }
            advisory_call(
                advisory,
                session,
                pid,
                name,
                args,
                &mut acquired,
                &mut released,
                &mut notices,
            )
        };
        let mut out_rows: Vec<Vec<Value>> = vec![];
        // A macro rather than a closure: each context borrows a different row.
        macro_rules! row_ctx_at {
            ($row:expr) => {
                Ctx {
                    params,
                    now_us: tx.start_us,
                    clock_us: unix_us(now),
                    scope: scope(),
                    row: $row,
                    excluded: None,
                    aggregates: None,
                    hook: None,
                }
            };
        }
        let outcome: Res<()> = (|| {
            if grouped || !has_from {
                // Groups in order of first appearance; GROUP BY treats NULLs as equal.
                let mut groups: Vec<(Vec<Value>, Vec<usize>)> = vec![];
                if group_by.is_empty() {
                    groups.push((vec![], (0..data.len()).collect()));
                } else {
                    let mut index: BTreeMap<Vec<String>, usize> = BTreeMap::new();
                    for (i, row) in data.iter().enumerate() {
                        let mut ctx = row_ctx_at!(Some(row));
                        let mut key = vec![];
                        for e in group_by {
                            key.push(eval(e, &mut ctx)?);
                        }
                        let canonical: Vec<String> = key.iter().map(group_text).collect();
                        match index.get(&canonical) {
                            Some(g) => groups[*g].1.push(i),
                            None => {
                                index.insert(canonical, groups.len());
                                groups.push((key, vec![i]));
                            }
                        }
                    }
                }
                let mut keyed: Vec<(Vec<Value>, Vec<Value>)> = vec![];
                for (_, members) in &groups {
                    let mut values = BTreeMap::new();
                    for f in &aggs {
                        let v = match aggregate_arg(f)? {
                            None => Value::Int8(members.len() as i64),
                            Some(e) => {
                                let mut per_row = vec![];
                                for i in members {
                                    let mut ctx = row_ctx_at!(Some(&data[*i]));
                                    per_row.push(eval(e, &mut ctx)?);
                                }
                                if crate::eval::aggregate_distinct(f) {
                                    let mut seen = std::collections::BTreeSet::new();
                                    per_row.retain(|v| v.is_null() || seen.insert(group_text(v)));
                                }
                                aggregate(f, per_row, false)?
                            }
                        };
                        values.insert(f.to_string(), v);
                    }
                    let first = members.first().map(|i| data[*i].as_slice());
                    let mut ctx = row_ctx_at!(first);
                    ctx.aggregates = Some(&values);
                    if !has_from {
                        if let Some(cond) = &select.selection {
                            if !eval_condition(cond, &mut ctx, "WHERE")? {
                                continue;
                            }
                        }
                    }
                    if let Some(h) = &select.having {
                        if !eval_condition(h, &mut ctx, "HAVING")? {
                            continue;
                        }
                    }
                    let mut order_key = vec![];
                    for e in &order_exprs {
                        order_key.push(eval(e, &mut ctx)?);
                    }
                    ctx.hook = Some(&mut hook);
                    let projected = project(&proj, &mut ctx)?;
                    keyed.push((order_key, projected));
                }
                sort_keyed(&mut keyed, &order_keys[..order_exprs.len()])?;
                out_rows = keyed.into_iter().map(|(_, row)| row).collect();
                return Ok(());
            }
            // DISTINCT removes duplicates before OFFSET and LIMIT count rows.
            let (skip, take) = if distinct {
                (0, usize::MAX)
            } else {
                (plan.offset, plan.limit.unwrap_or(usize::MAX))
            };
            for row in data.iter().skip(skip).take(take) {
                let mut ctx = row_ctx_at!(Some(row));
                ctx.hook = Some(&mut hook);
                out_rows.push(project(&proj, &mut ctx)?);
            }
            Ok(())
        })();
        if distinct {
            let mut seen = std::collections::BTreeSet::new();
            out_rows.retain(|row| seen.insert(row.iter().map(group_text).collect::<Vec<_>>()));
        }
        if grouped || !has_from || distinct {
            out_rows = out_rows
                .into_iter()
                .skip(plan.offset)
                .take(plan.limit.unwrap_or(usize::MAX))
                .collect();
        }
        match outcome {
            Ok(()) => {
                if released {
                    self.wake();
                }
                let mut columns = proj.columns;
                refine_types(&mut columns, &out_rows);
                Ok(Step::Done(Box::new(QueryResult {
                    tag: format!("SELECT {}", out_rows.len()),
                    columns,
                    rows: out_rows,
                    notices,
                })))
            }
            Err(Flow::Error(e)) => {
                self.undo_advisory(session, &acquired);
                Err(e)
            }
            Err(Flow::Block(target)) => {
                self.undo_advisory(session, &acquired);
                Ok(Step::Blocked(
                    Current::Restart(Box::new(stmt.clone()), *snap),
                    target,
                ))
            }
        }
    }

    /// Builds a join's rows by nested loops over each table's visible rows, then applies WHERE.
    fn join_rows(
        &mut self,
        session: SessionId,
        plan: &SelectPlan,
        snap: &Snapshot,
        tx: &Tx,
        params: &[Value],
        now: crate::SimTime,
    ) -> Result<Source, PgError> {
        let db = self.db_name(session);
        let mut infos: Vec<ColumnInfo> = vec![];
        let mut quals: Vec<Qual> = vec![];
        let mut rows: Vec<Vec<Value>> = vec![vec![]];
        for item in &plan.joins {
            self.ssi_note(tx, &db, &item.table, false)?;
            let table = self.table_ref(session, &item.table)?;
            let right: Vec<Vec<Value>> = table
                .tuples
                .iter()
                .filter(|t| self.visible(t, snap))
                .map(|t| t.data.clone())
                .collect();
            let width = table.columns.len();
            infos.extend(table.infos());
            quals.extend((0..width).map(|_| Qual {
                table: item.table.clone(),
                alias: item.alias.clone(),
            }));
            let scope = RowScope {
                table: &item.table,
                alias: item.alias.as_deref(),
                columns: &infos,
                quals: &quals,
            };
            if let Some(on) = &item.on {
                check_names(on, params, Some(RowScope { ..scope }))?;
            }
            let mut next = vec![];
            for left in &rows {
                let mut matched = false;
                for r in &right {
                    let mut combined = left.clone();
                    combined.extend(r.iter().cloned());
                    let pass = match &item.on {
                        None => true,
                        Some(on) => {
                            let mut ctx = Ctx {
                                params,
                                now_us: tx.start_us,
                                clock_us: unix_us(now),
                                scope: Some(RowScope { ..scope }),
                                row: Some(&combined),
                                excluded: None,
                                aggregates: None,
                                hook: None,
                            };
                            eval_condition(on, &mut ctx, "JOIN/ON").map_err(flow_to_step_err)?
                        }
                    };
                    if pass {
                        matched = true;
                        next.push(combined);
                        if next.len() > JOIN_ROWS_MAX {
                            return Err(PgError::new(
                                sqlstate::PROGRAM_LIMIT_EXCEEDED,
                                format!(
                                    "the join builds more than {JOIN_ROWS_MAX} rows, dosim's limit"
                                ),
                            ));
                        }
                    }
                }
                if !matched && item.kind == JoinKind::Left {
                    let mut padded = left.clone();
                    padded.extend((0..width).map(|_| Value::Null));
                    next.push(padded);
                }
            }
            rows = next;
        }
        let scope = RowScope {
            table: "",
            alias: None,
            columns: &infos,
            quals: &quals,
        };
        let mut data = vec![];
        if let Some(cond) = &plan.select.selection {
            check_names(cond, params, Some(RowScope { ..scope }))?;
        }
        for row in rows {
            let keep = match &plan.select.selection {
                None => true,
                Some(cond) => {
                    let mut ctx = Ctx {
                        params,
                        now_us: tx.start_us,
                        clock_us: unix_us(now),
                        scope: Some(RowScope { ..scope }),
                        row: Some(&row),
                        excluded: None,
                        aggregates: None,
                        hook: None,
                    };
                    eval_condition(cond, &mut ctx, "WHERE").map_err(flow_to_step_err)?
                }
            };
            if keep {
                data.push(row);
            }
        }
        Ok(Source::Joined { infos, quals, data })
    }

    fn undo_advisory(&mut self, session: SessionId, acquired: &[(AdvisoryKey, bool)]) {
        for (key, xact) in acquired.iter().rev() {
            if let Some(holders) = self.advisory.get_mut(key) {
                if let Some((s, x)) = holders.get_mut(&session) {
                    if *xact {
                        *x = x.saturating_sub(1);
                    } else {
                        *s = s.saturating_sub(1);
                    }
                }
                holders.retain(|_, (s, x)| *s > 0 || *x > 0);
            }
        }
        self.advisory.retain(|_, h| !h.is_empty());
    }

    fn start_dml(
        &mut self,
        session: SessionId,
        stmt: Statement,
        params: &[Value],
        now: crate::SimTime,
    ) -> Result<Step, PgError> {
        let tx = self.tx_ref(session).clone();
        let what = match &stmt {
            Statement::Insert(_) => "INSERT",
            Statement::Update(_) => "UPDATE",
            _ => "DELETE",
        };
        if tx.read_only {
            return Err(read_only_error(what));
        }
        let snap = self.statement_snapshot(session);
        let tx = self.tx_ref(session).clone();
        let db = self.db_name(session);
        let (kind, table_name, targets, rows) = match &stmt {
            Statement::Insert(ins) => {
                let TableObject::TableName(name) = &ins.table else {
                    return Err(unsupported("INSERT into table functions"));
                };
                let table_name = object_name(name);
                if ins.table_alias.is_some() {
                    return Err(unsupported("INSERT table aliases"));
                }
                let rows = self.insert_rows(session, &table_name, ins, &tx, params, now)?;
                if let Some(OnInsert::DuplicateKeyUpdate(_)) = &ins.on {
                    return Err(not_supported_statement(&stmt));
                }
                let n = rows.len();
                (DmlKind::Insert, table_name, (0..n).collect(), rows)
            }
            Statement::Update(up) => {
                if up.from.is_some() {
                    return Err(unsupported("UPDATE … FROM statements"));
                }
                if !up.table.joins.is_empty() {
                    return Err(unsupported("joins"));
                }
                let TableFactor::Table { name, alias, .. } = &up.table.relation else {
                    return Err(unsupported("UPDATE of this target"));
                };
                let table_name = object_name(name);
                let alias = alias.as_ref().map(|a| ident_name(&a.name));
                {
                    let table = self.table_ref(session, &table_name)?;
                    for a in &up.assignments {
                        let AssignmentTarget::ColumnName(col) = &a.target else {
                            return Err(unsupported("tuple assignments"));
                        };
                        let cname = object_name(col);
                        if !table.columns.iter().any(|c| c.info.name == cname) {
                            return Err(PgError::new(
                                sqlstate::UNDEFINED_COLUMN,
                                format!("column \"{cname}\" of relation \"{table_name}\" does not exist"),
                            ));
                        }
                    }
                }
                let targets = self.scan(
                    session,
                    &table_name,
                    alias.as_deref(),
                    up.selection.as_ref(),
                    &snap,
                    params,
                    now,
                )?;
                (DmlKind::Update, table_name, targets, vec![])
            }
            Statement::Delete(del) => {
                if del.using.is_some() {
                    return Err(unsupported("DELETE … USING statements"));
                }
                let tables = match &del.from {
                    FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
                };
                let [twj] = tables.as_slice() else {
                    return Err(unsupported("DELETE from several tables"));
                };
                let TableFactor::Table { name, alias, .. } = &twj.relation else {
                    return Err(unsupported("DELETE of this target"));
                };
                let table_name = object_name(name);
                let alias = alias.as_ref().map(|a| ident_name(&a.name));
                let targets = self.scan(
                    session,
                    &table_name,
                    alias.as_deref(),
                    del.selection.as_ref(),
                    &snap,
                    params,
                    now,
                )?;
                (DmlKind::Delete, table_name, targets, vec![])
            }
            _ => unreachable!("dispatched on DML"),
        };
        let table_id = self.table_ref(session, &table_name)?.id;
        self.ssi_note(&tx, &db, &table_name, true)?;
        let state = DmlState {
            stmt,
            kind,
            table_id,
            table: table_name,
            snap,
            targets,
            rows,
            pos: 0,
            out: vec![],
            count: 0,
            limit: None,
            offset: 0,
            skipped: 0,
            touched: vec![],
        };
        self.continue_dml(session, state, params, now)
    }

    /// Evaluates an INSERT's VALUES into full rows: defaults, serials, assignment casts, NOT NULL.
    fn insert_rows(
        &mut self,
        session: SessionId,
        table_name: &str,
        ins: &sqlparser::ast::Insert,
        tx: &Tx,
        params: &[Value],
        now: crate::SimTime,
    ) -> Result<Vec<Vec<Value>>, PgError> {
        let rows_max = self.config.rows_per_statement_max;
        // Fields borrowed one by one: the table is read while the UUID generator advances.
        let table = self
            .databases
            .get(&self.sessions[&session].database)
            .and_then(|d| d.tables.get(table_name))
            .ok_or_else(|| undefined_table(table_name))?;
        let rng = &mut self.uuid_rng;
        let mut hook = |name: &str, args: &[Value]| crate::engine::gen_random_uuid(rng, name, args);
        let mut target_cols: Vec<usize> = vec![];
        if ins.columns.is_empty() {
            target_cols = (0..table.columns.len()).collect();
        } else {
            for c in &ins.columns {
                let cname = object_name(c);
                let i = table
                    .columns
                    .iter()
                    .position(|col| col.info.name == cname)
                    .ok_or_else(|| {
                        PgError::new(
                            sqlstate::UNDEFINED_COLUMN,
                            format!(
                                "column \"{cname}\" of relation \"{table_name}\" does not exist"
                            ),
                        )
                    })?;
                if target_cols.contains(&i) {
                    return Err(PgError::new(
                        sqlstate::DUPLICATE_COLUMN,
                        format!("column \"{cname}\" specified more than once"),
                    ));
                }
                target_cols.push(i);
            }
        }
        // DEFAULT VALUES is one row of defaults.
        let default_row: Vec<Vec<Expr>> = vec![vec![]];
        let rows: Vec<&[Expr]> = match &ins.source {
            None => {
                target_cols.clear();
                default_row.iter().map(Vec::as_slice).collect()
            }
            Some(source) => {
                let SetExpr::Values(values) = source.body.as_ref() else {
                    return Err(unsupported("INSERT … SELECT statements"));
                };
                values.rows.iter().map(|r| r.content.as_slice()).collect()
            }
        };
        if rows.len() > rows_max {
            return Err(PgError::new(
                sqlstate::PROGRAM_LIMIT_EXCEEDED,
                format!("dosim accepts at most {rows_max} rows per INSERT"),
            ));
        }
        let mut out = vec![];
        let ncols = table.columns.len();
        let mut serial_used: Vec<(usize, i64)> = vec![];
        let mut serial_next: Vec<Option<i64>> =
            table.columns.iter().map(|c| c.serial_next).collect();
        for exprs in rows {
            if exprs.len() > target_cols.len() {
                return Err(PgError::new(
                    sqlstate::SYNTAX_ERROR,
                    "INSERT has more expressions than target columns",
                ));
            }
            // Without a column list, a shorter row fills the leading columns and the rest take defaults.
            if exprs.len() < target_cols.len() && !ins.columns.is_empty() {
                return Err(PgError::new(
                    sqlstate::SYNTAX_ERROR,
                    "INSERT has more target columns than expressions",
                ));
            }
            let mut data: Vec<Option<Value>> = vec![None; ncols];
            for (expr, col) in exprs.iter().zip(&target_cols) {
                let is_default = matches!(expr, Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"));
                if is_default {
                    continue;
                }
                let mut ctx = Ctx {
                    params,
                    now_us: tx.start_us,
                    clock_us: unix_us(now),
                    scope: None,
                    row: None,
                    excluded: None,
                    aggregates: None,
                    hook: Some(&mut hook),
                };
                let v = eval(expr, &mut ctx).map_err(flow_to_step_err)?;
                let typed = !crate::eval::untyped(expr);
                data[*col] = Some(assign_from(v, &table.columns[*col].info, typed)?);
            }
            let mut full = Vec::with_capacity(ncols);
            for (i, slot) in data.into_iter().enumerate() {
                let column = &table.columns[i];
                let v = match slot {
                    Some(v) => v,
                    None => match (&column.default, serial_next[i]) {
                        (_, Some(next)) => {
                            serial_next[i] = Some(next + 1);
                            serial_used.push((i, next + 1));
                            Value::Int8(next).coerce(column.info.ty)?
                        }
                        (Some(e), None) => {
                            let mut ctx = Ctx {
                                params,
                                now_us: tx.start_us,
                                clock_us: unix_us(now),
                                scope: None,
                                row: None,
                                excluded: None,
                                aggregates: None,
                                hook: Some(&mut hook),
                            };
                            let v = eval(e, &mut ctx).map_err(flow_to_step_err)?;
                            assign(v, &column.info)?
                        }
                        (None, None) => Value::Null,
                    },
                };
                full.push(v);
            }
            check_not_null(table, &full)?;
            check_constraints(table, &full)?;
            out.push(full);
        }
        // Sequences advance even if the INSERT later fails, as PostgreSQL's nextval does.
        let id = table.id;
        let table = self.table_by_id(session, table_name, id)?;
        for (i, next) in serial_used {
            table.columns[i].serial_next = Some(next);
        }
        Ok(out)
    }

    /// PostgreSQL's `heap_lock_tuple` / `heap_update` check: may this transaction take the row?
    fn check_row(&self, table: &Table, idx: usize, me: TxId, mode: LockMode) -> RowCheck {
        let t = &table.tuples[idx];
        if let Some(x) = t.xmax {
            match self.xid_state(x) {
                crate::engine::XidState::Aborted => {}
                _ if self.top(x) == me => return RowCheck::SelfModified,
                crate::engine::XidState::Active if t.xmax_mode.conflicts(mode) => {
                    return RowCheck::Wait(x)
                }
                crate::engine::XidState::Active => {}
                crate::engine::XidState::Committed(_) => {
                    return match t.next {
                        Some(n) => RowCheck::Updated(n),
                        None => RowCheck::Deleted,
                    }
                }
            }
        }
        for (lx, lm) in &t.lockers {
            if self.top(*lx) == me {
                continue;
            }
            if self.xid_state(*lx) != crate::engine::XidState::Active {
                continue;
            }
            if lm.conflicts(mode) {
                return RowCheck::Wait(*lx);
            }
        }
        RowCheck::Free
    }

    /// For each foreign key of `table` that `row` sets (or, given `old`, changes) to a non-NULL key: the newest live parent version holding it, as PostgreSQL's RI check finds it, waiting on a parent row being inserted or deleted.
    fn fk_parents(
        &self,
        session: SessionId,
        table: &Table,
        row: &[Value],
        old: Option<&[Value]>,
        me: TxId,
    ) -> Result<FkCheck, PgError> {
        use crate::engine::XidState;
        let mut found = vec![];
        for fk in &table.foreign_keys {
            if fk.columns.iter().any(|c| row[*c].is_null()) {
                continue;
            }
            if let Some(old) = old {
                let same = fk
                    .columns
                    .iter()
                    .all(|c| crate::value::compare(&old[*c], &row[*c]) == Some(Ordering::Equal));
                if same {
                    continue;
                }
            }
            let parent = if fk.parent == table.name {
                table
            } else {
                self.table_ref(session, &fk.parent)?
            };
            let mut wanted = fk.parent_columns.clone();
            wanted.sort();
            let ui = parent
                .uniques
                .iter()
                .position(|u| {
                    let mut c = u.columns.clone();
                    c.sort();
                    c == wanted
                })
                .ok_or_else(|| unsupported("foreign keys whose unique key was dropped"))?;
            let mut probe = vec![Value::Null; parent.columns.len()];
            for (c, p) in fk.columns.iter().zip(&fk.parent_columns) {
                probe[*p] = row[*c].clone().coerce(parent.columns[*p].info.ty)?;
            }
            let key = parent.unique_key(ui, &probe);
            let candidates = key
                .and_then(|k| parent.unique_keys.get(&k).cloned())
                .unwrap_or_default();
            let mut live = None;
            for i in candidates {
                let t = &parent.tuples[i];
                match self.xid_state(t.xmin) {
                    XidState::Aborted => continue,
                    XidState::Active if self.top(t.xmin) != me => return Ok(FkCheck::Wait(t.xmin)),
                    _ => {}
                }
                if let Some(x) = t.xmax {
                    match self.xid_state(x) {
                        XidState::Aborted => {}
                        _ if self.top(x) == me => continue,
                        XidState::Active if t.xmax_mode.conflicts(LockMode::KeyShare) => {
                            return Ok(FkCheck::Wait(x))
                        }
                        XidState::Active => {}
                        XidState::Committed(_) => continue,
                    }
                }
                for (lx, lm) in &t.lockers {
                    if self.top(*lx) != me
                        && self.xid_state(*lx) == XidState::Active
                        && lm.conflicts(LockMode::KeyShare)
                    {
                        return Ok(FkCheck::Wait(*lx));
                    }
                }
                live = Some(i);
                break;
            }
            match live {
                Some(i) => found.push((parent.name.clone(), parent.id, i)),
                None => {
                    let cols: Vec<&str> = fk
                        .columns
                        .iter()
                        .map(|c| table.columns[*c].info.name.as_str())
                        .collect();
                    let vals: Vec<String> =
                        fk.columns.iter().map(|c| row[*c].detail_text()).collect();
                    return Err(PgError::new(
                        "23503",
                        format!(
                            "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                            table.name, fk.name
                        ),
                    )
                    .with_detail(format!(
                        "Key ({})=({}) is not present in table \"{}\".",
                        cols.join(", "),
                        vals.join(", "),
                        fk.parent
                    )));
                }
            }
        }
        Ok(FkCheck::Found(found))
    }

    /// Takes FOR KEY SHARE on the parent versions a child row references; a parent being updated without a key change passes the lock on to its new version.
    fn fk_lock_parents(
        &mut self,
        session: SessionId,
        parents: &[(String, u64, usize)],
        wxid: TxId,
    ) {
        for (name, id, idx) in parents {
            let mut chain = vec![];
            let mut at = Some(*idx);
            while let Some(i) = at {
                chain.push(i);
                let Ok(t) = self.table_by_id_ref(session, name, *id) else {
                    break;
                };
                at = match t.tuples[i].xmax {
                    Some(x) if self.xid_state(x) != crate::engine::XidState::Aborted => {
                        t.tuples[i].next
                    }
                    _ => None,
                };
            }
            if let Ok(t) = self.table_by_id(session, name, *id) {
                for i in chain {
                    let lockers = &mut t.tuples[i].lockers;
                    if !lockers.iter().any(|(x, _)| *x == wxid) {
                        lockers.push((wxid, LockMode::KeyShare));
                    }
                }
            }
        }
    }

    /// Refuses deleting a parent row, or changing its key, while a child row references it (NO ACTION); waits on a child row another transaction is deleting.
    fn fk_children(
        &self,
        session: SessionId,
        parent: &Table,
        old: &[Value],
        new: Option<&[Value]>,
        exclude: Option<usize>,
    ) -> Result<Option<TxId>, PgError> {
        use crate::engine::XidState;
        let me = self.tx_ref(session).top;
        let db = &self.sessions[&session].database;
        let Some(database) = self.databases.get(db) else {
            return Ok(None);
        };
        for child in database.tables.values() {
            for fk in child
                .foreign_keys
                .iter()
                .filter(|f| f.parent == parent.name)
            {
                if fk.parent_columns.iter().any(|c| old[*c].is_null()) {
                    continue;
                }
                if let Some(new) = new {
                    let same = fk.parent_columns.iter().all(|c| {
                        crate::value::compare(&old[*c], &new[*c]) == Some(Ordering::Equal)
                    });
                    if same {
                        continue;
                    }
                }
                for (i, t) in child.tuples.iter().enumerate() {
                    if child.id == parent.id && Some(i) == exclude {
                        continue;
                    }
                    let refers = fk.columns.iter().zip(&fk.parent_columns).all(|(c, p)| {
                        crate::value::compare(&t.data[*c], &old[*p]) == Some(Ordering::Equal)
                    });
                    if !refers {
                        continue;
                    }
                    match self.xid_state(t.xmin) {
                        XidState::Aborted => continue,
                        // Invisible to PostgreSQL's fresh snapshot; its key share lock on the parent already made us wait.
                        XidState::Active if self.top(t.xmin) != me => continue,
                        _ => {}
                    }
                    if let Some(x) = t.xmax {
                        match self.xid_state(x) {
                            XidState::Aborted => {}
                            _ if self.top(x) == me => continue,
                            XidState::Active => return Ok(Some(x)),
                            XidState::Committed(_) => continue,
                        }
                    }
                    let cols: Vec<&str> = fk
                        .parent_columns
                        .iter()
                        .map(|c| parent.columns[*c].info.name.as_str())
                        .collect();
                    let vals: Vec<String> = fk
                        .parent_columns
                        .iter()
                        .map(|c| old[*c].detail_text())
                        .collect();
                    return Err(PgError::new(
                        "23503",
                        format!(
                            "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                            parent.name, fk.name, child.name
                        ),
                    )
                    .with_detail(format!(
                        "Key ({})=({}) is still referenced from table \"{}\".",
                        cols.join(", "),
                        vals.join(", "),
                        child.name
                    )));
                }
            }
        }
        Ok(None)
    }

    /// Looks for a live row with the same key in any unique index, arbiters first; waits on in-progress inserters and deleters, as PostgreSQL's `_bt_check_unique` does.
    fn check_unique(
        &self,
        table: &Table,
        row: &[Value],
        me: TxId,
        exclude: Option<usize>,
        order: &[usize],
    ) -> UniqueCheck {
        use crate::engine::XidState;
        for &ui in order {
            let cols = &table.uniques[ui].columns;
            let Some(key) = table.unique_key(ui, row) else {
                continue;
            };
            let candidates = table
                .unique_keys
                .get(&key)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            for &i in candidates {
                if Some(i) == exclude {
                    continue;
                }
                let t = &table.tuples[i];
                let same = cols
                    .iter()
                    .all(|c| crate::value::compare(&t.data[*c], &row[*c]) == Some(Ordering::Equal));
                if !same {
                    continue;
                }
                match self.xid_state(t.xmin) {
                    XidState::Aborted => continue,
                    XidState::Active if self.top(t.xmin) != me => return UniqueCheck::Wait(t.xmin),
                    _ => {}
                }
                if let Some(x) = t.xmax {
                    match self.xid_state(x) {
                        XidState::Aborted => {}
                        _ if self.top(x) == me => continue,
                        XidState::Active => return UniqueCheck::Wait(x),
                        XidState::Committed(_) => continue,
                    }
                }
                return UniqueCheck::Conflict {
                    index: ui,
                    tuple: i,
                };
            }
        }
        UniqueCheck::Ok
    }

    /// Runs a DML statement's remaining rows; returns `Blocked` with the state to resume when a row is locked.
    fn continue_dml(
        &mut self,
        session: SessionId,
        mut st: DmlState,
        params: &[Value],
        now: crate::SimTime,
    ) -> Result<Step, PgError> {
        let tx = self.tx_ref(session).clone();
        let me = tx.top;
        let wxid = tx.write_xid();
        let cid = st.snap.cid;
        let isolation = tx.isolation;
        let versions_max = self.config.row_versions_max;
        let (table_name, table_id) = (st.table.clone(), st.table_id);
        let (where_expr, returning, assignments, alias, on_conflict) = dml_parts(&st.stmt);
        let notices: Vec<Notice> = vec![];
        let infos = self
            .table_by_id_ref(session, &table_name, table_id)?
            .infos();
        while st.pos < st.targets.len() {
            if let DmlKind::Lock(..) = st.kind {
                if st.limit.is_some_and(|l| st.out.len() >= l) {
                    break;
                }
            }
            let table = self.table_by_id_ref(session, &table_name, table_id)?;
            let target = st.targets[st.pos];
            match st.kind {
                DmlKind::Insert => {
                    let row = st.rows[target].clone();
                    let (order, arbiters) = arbiter_order(table, on_conflict.as_ref())?;
                    match self.check_unique(table, &row, me, None, &order) {
                        UniqueCheck::Wait(x) => {
                            return Ok(Step::Blocked(
                                Current::Dml(Box::new(st)),
                                WaitFor::Transaction(x),
                            ))
                        }
                        UniqueCheck::Ok => {
                            if table.tuples.len() >= versions_max {
                                return Err(too_many_versions(&table_name, versions_max));
                            }
                            let parents = match self.fk_parents(session, table, &row, None, me)? {
                                FkCheck::Wait(x) => {
                                    return Ok(Step::Blocked(
                                        Current::Dml(Box::new(st)),
                                        WaitFor::Transaction(x),
                                    ))
                                }
                                FkCheck::Found(found) => found,
                            };
                            self.fk_lock_parents(session, &parents, wxid);
                            let t = self.table_by_id(session, &table_name, table_id)?;
                            t.push_tuple(Tuple {
                                xmin: wxid,
                                cmin: cid,
                                xmax: None,
                                cmax: 0,
                                next: None,
                                xmax_mode: LockMode::Exclusive,
                                data: row.clone(),
                                lockers: vec![],
                            });
                            st.count += 1;
                            if let Some(items) = &returning {
                                st.out.push(self.returning_row(
                                    items,
                                    &table_name,
                                    alias.as_deref(),
                                    &infos,
                                    &row,
                                    &tx,
                                    params,
                                    now,
                                )?);
                            }
                        }
                        UniqueCheck::Conflict { index, tuple } => {
                            let Some(oc) = &on_conflict else {
                                return Err(unique_violation(table, index, &row));
                            };
                            if !arbiters.contains(&index) {
                                return Err(unique_violation(table, index, &row));
                            }
                            match &oc.action {
                                OnConflictAction::DoNothing => {
                                    // PostgreSQL exempts rows the transaction itself inserted.
                                    if isolation != Isolation::ReadCommitted
                                        && self.top(table.tuples[tuple].xmin) != me
                                        && !self.visible(&table.tuples[tuple], &st.snap)
                                    {
                                        return Err(concurrent_update());
                                    }
                                }
                                OnConflictAction::DoUpdate(du) => {
                                    let existing = &table.tuples[tuple];
                                    if st.touched.contains(&tuple)
                                        || (self.top(existing.xmin) == me && existing.cmin == cid)
                                    {
                                        return Err(PgError::new(
                                            sqlstate::CARDINALITY_VIOLATION,
                                            "ON CONFLICT DO UPDATE command cannot affect row a second time",
                                        )
                                        .with_hint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values."));
                                    }
                                    match self.check_row(table, tuple, me, LockMode::Exclusive) {
                                        RowCheck::Wait(x) => {
                                            return Ok(Step::Blocked(Current::Dml(Box::new(st)), WaitFor::Transaction(x)))
                                        }
                                        RowCheck::Updated(_) | RowCheck::Deleted => {
                                            if isolation != Isolation::ReadCommitted {
                                                return Err(concurrent_update());
                                            }
                                            // The conflicting row changed under us: look for the conflict again.
                                            continue;
                                        }
                                        RowCheck::SelfModified => {
                                            return Err(PgError::new(
                                                sqlstate::CARDINALITY_VIOLATION,
                                                "ON CONFLICT DO UPDATE command cannot affect row a second time",
                                            ))
                                        }
                                        RowCheck::Free => {}
                                    }
                                    if isolation != Isolation::ReadCommitted
                                        && self.top(existing.xmin) != me
                                        && !self.visible(existing, &st.snap)
                                    {
                                        return Err(concurrent_update());
                                    }
                                    let old = existing.data.clone();
                                    let pass = match &du.selection {
                                        None => true,
                                        Some(cond) => {
                                            let mut ctx = row_ctx(
                                                params,
                                                &tx,
                                                now,
                                                &table_name,
                                                alias.as_deref(),
                                                &infos,
                                                &old,
                                                Some(&row),
                                            );
                                            eval_condition(cond, &mut ctx, "WHERE")
                                                .map_err(flow_to_step_err)?
                                        }
                                    };
                                    if pass {
                                        let new = self.assigned_row(
                                            &du.assignments,
                                            table,
                                            &table_name,
                                            alias.as_deref(),
                                            &infos,
                                            &old,
                                            Some(&row),
                                            &tx,
                                            params,
                                            now,
                                        )?;
                                        match self.check_unique(
                                            table,
                                            &new,
                                            me,
                                            Some(tuple),
                                            &(0..table.uniques.len()).collect::<Vec<_>>(),
                                        ) {
                                            UniqueCheck::Wait(x) => {
                                                return Ok(Step::Blocked(
                                                    Current::Dml(Box::new(st)),
                                                    WaitFor::Transaction(x),
                                                ))
                                            }
                                            UniqueCheck::Conflict { index, .. } => {
                                                return Err(unique_violation(table, index, &new))
                                            }
                                            UniqueCheck::Ok => {}
                                        }
                                        if table.tuples.len() >= versions_max {
                                            return Err(too_many_versions(
                                                &table_name,
                                                versions_max,
                                            ));
                                        }
                                        let parents = match self.fk_parents(
                                            session,
                                            table,
                                            &new,
                                            Some(&old),
                                            me,
                                        )? {
                                            FkCheck::Wait(x) => {
                                                return Ok(Step::Blocked(
                                                    Current::Dml(Box::new(st)),
                                                    WaitFor::Transaction(x),
                                                ))
                                            }
                                            FkCheck::Found(found) => found,
                                        };
                                        if let Some(x) = self.fk_children(
                                            session,
                                            table,
                                            &old,
                                            Some(&new),
                                            Some(tuple),
                                        )? {
                                            return Ok(Step::Blocked(
                                                Current::Dml(Box::new(st)),
                                                WaitFor::Transaction(x),
                                            ));
                                        }
                                        self.fk_lock_parents(session, &parents, wxid);
                                        let new_idx = self.write_update(
                                            session,
                                            &table_name,
                                            table_id,
                                            tuple,
                                            new.clone(),
                                            wxid,
                                            cid,
                                        )?;
                                        st.touched.push(new_idx);
                                        st.count += 1;
                                        if let Some(items) = &returning {
                                            st.out.push(self.returning_row(
                                                items,
                                                &table_name,
                                                alias.as_deref(),
                                                &infos,
                                                &new,
                                                &tx,
                                                params,
                                                now,
                                            )?);
                                        }
                                    } else {
                                        let t = self.table_by_id(session, &table_name, table_id)?;
                                        t.tuples[tuple].lockers.push((wxid, LockMode::Exclusive));
                                    }
                                }
                            }
                        }
                    }
                    st.pos += 1;
                }
                DmlKind::Update | DmlKind::Delete | DmlKind::Lock(..) => {
                    let nonblock = match st.kind {
                        DmlKind::Lock(_, nb) => nb,
                        _ => None,
                    };
                    let mut idx = target;
                    // An UPDATE computes its new row, and checks NOT NULL and CHECK on it, before it waits, as PostgreSQL's ExecUpdate does.
                    let mut new_row: Option<Vec<Value>> = None;
                    let chosen = loop {
                        let mode = match st.kind {
                            DmlKind::Lock(m, _) => m,
                            DmlKind::Update => {
                                let new = self.assigned_row(
                                    assignments.as_deref().unwrap_or(&[]),
                                    table,
                                    &table_name,
                                    alias.as_deref(),
                                    &infos,
                                    &table.tuples[idx].data,
                                    None,
                                    &tx,
                                    params,
                                    now,
                                )?;
                                let mode = update_mode(table, &table.tuples[idx].data, &new);
                                new_row = Some(new);
                                mode
                            }
                            _ => LockMode::Exclusive,
                        };
                        match self.check_row(table, idx, me, mode) {
                            RowCheck::Free => break Some(idx),
                            RowCheck::SelfModified => break None,
                            RowCheck::Wait(x) => match nonblock {
                                Some(NonBlock::Nowait) => {
                                    return Err(PgError::new(
                                        sqlstate::LOCK_NOT_AVAILABLE,
                                        format!(
                                        "could not obtain lock on row in relation \"{table_name}\""
                                    ),
                                    ))
                                }
                                Some(NonBlock::SkipLocked) => break None,
                                None => {
                                    return Ok(Step::Blocked(
                                        Current::Dml(Box::new(st)),
                                        WaitFor::Transaction(x),
                                    ))
                                }
                            },
                            RowCheck::Updated(next) => {
                                if isolation != Isolation::ReadCommitted {
                                    return Err(concurrent_update());
                                }
                                // READ COMMITTED: re-check WHERE against the newest version (EvalPlanQual).
                                let passes = match &where_expr {
                                    None => true,
                                    Some(cond) => {
                                        let mut ctx = row_ctx(
                                            params,
                                            &tx,
                                            now,
                                            &table_name,
                                            alias.as_deref(),
                                            &infos,
                                            &table.tuples[next].data,
                                            None,
                                        );
                                        eval_condition(cond, &mut ctx, "WHERE")
                                            .map_err(flow_to_step_err)?
                                    }
                                };
                                if !passes {
                                    break None;
                                }
                                idx = next;
                            }
                            RowCheck::Deleted => {
                                if isolation != Isolation::ReadCommitted {
                                    return Err(match st.kind {
                                        DmlKind::Lock(..) => concurrent_update(),
                                        _ => concurrent_delete(),
                                    });
                                }
                                break None;
                            }
                        }
                    };
                    if let Some(idx) = chosen {
                        let old = table.tuples[idx].data.clone();
                        match st.kind {
                            DmlKind::Lock(mode, _) => {
                                if st.skipped < st.offset {
                                    st.skipped += 1;
                                } else {
                                    st.out.push(old);
                                }
                                let t = self.table_by_id(session, &table_name, table_id)?;
                                if !t.tuples[idx]
                                    .lockers
                                    .iter()
                                    .any(|(x, m)| *x == wxid && *m >= mode)
                                {
                                    t.tuples[idx].lockers.push((wxid, mode));
                                }
                            }
                            DmlKind::Delete => {
                                if let Some(x) =
                                    self.fk_children(session, table, &old, None, Some(idx))?
                                {
                                    return Ok(Step::Blocked(
                                        Current::Dml(Box::new(st)),
                                        WaitFor::Transaction(x),
                                    ));
                                }
                                let t = self.table_by_id(session, &table_name, table_id)?;
                                t.tuples[idx].xmax = Some(wxid);
                                t.tuples[idx].xmax_mode = LockMode::Exclusive;
                                t.tuples[idx].cmax = cid;
                                t.tuples[idx].next = None;
                                st.count += 1;
                                if let Some(items) = &returning {
                                    st.out.push(self.returning_row(
                                        items,
                                        &table_name,
                                        alias.as_deref(),
                                        &infos,
                                        &old,
                                        &tx,
                                        params,
                                        now,
                                    )?);
                                }
                            }
                            DmlKind::Update => {
                                let new = new_row.take().expect("computed for the chosen version");
                                match self.check_unique(
                                    table,
                                    &new,
                                    me,
                                    Some(idx),
                                    &(0..table.uniques.len()).collect::<Vec<_>>(),
                                ) {
                                    UniqueCheck::Wait(x) => {
                                        return Ok(Step::Blocked(
                                            Current::Dml(Box::new(st)),
                                            WaitFor::Transaction(x),
                                        ))
                                    }
                                    UniqueCheck::Conflict { index, .. } => {
                                        return Err(unique_violation(table, index, &new))
                                    }
                                    UniqueCheck::Ok => {}
                                }
                                if table.tuples.len() >= versions_max {
                                    return Err(too_many_versions(&table_name, versions_max));
                                }
                                let parents =
                                    match self.fk_parents(session, table, &new, Some(&old), me)? {
                                        FkCheck::Wait(x) => {
                                            return Ok(Step::Blocked(
                                                Current::Dml(Box::new(st)),
                                                WaitFor::Transaction(x),
                                            ))
                                        }
                                        FkCheck::Found(found) => found,
                                    };
                                if let Some(x) =
                                    self.fk_children(session, table, &old, Some(&new), Some(idx))?
                                {
                                    return Ok(Step::Blocked(
                                        Current::Dml(Box::new(st)),
                                        WaitFor::Transaction(x),
                                    ));
                                }
                                self.fk_lock_parents(session, &parents, wxid);
                                self.write_update(
                                    session,
                                    &table_name,
                                    table_id,
                                    idx,
                                    new.clone(),
                                    wxid,
                                    cid,
                                )?;
                                st.count += 1;
                                if let Some(items) = &returning {
                                    st.out.push(self.returning_row(
                                        items,
                                        &table_name,
                                        alias.as_deref(),
                                        &infos,
                                        &new,
                                        &tx,
                                        params,
                                        now,
                                    )?);
                                }
                            }
                            DmlKind::Insert => unreachable!("handled above"),
                        }
                    }
                    st.pos += 1;
                }
            }
        }
        // Done: build the result.
        let infos = self
            .table_by_id_ref(session, &table_name, table_id)?
            .infos();
        let scope = RowScope {
            table: &table_name,
            alias: alias.as_deref(),
            columns: &infos,
            quals: &[],
        };
        let (tag, columns, rows) = match st.kind {
            DmlKind::Lock(..) => {
                let Statement::Query(q) = &st.stmt else {
                    unreachable!("locking SELECT")
                };
                let plan = plan_select(q, params)?;
                let proj = projection(&plan.select.projection, Some(&scope))?;
                let mut rows = vec![];
                for data in &st.out {
                    let mut ctx = row_ctx(
                        params,
                        &tx,
                        now,
                        &table_name,
                        alias.as_deref(),
                        &infos,
                        data,
                        None,
                    );
                    rows.push(project(&proj, &mut ctx).map_err(flow_to_step_err)?);
                }
                (format!("SELECT {}", rows.len()), proj.columns, rows)
            }
            kind => {
                let tag = match kind {
                    DmlKind::Insert => format!("INSERT 0 {}", st.count),
                    DmlKind::Update => format!("UPDATE {}", st.count),
                    _ => format!("DELETE {}", st.count),
                };
                let columns = match &returning {
                    Some(items) => projection(items, Some(&scope))?.columns,
                    None => vec![],
                };
                (tag, columns, st.out)
            }
        };
        Ok(Step::Done(Box::new(QueryResult {
            tag,
            columns,
            rows,
            notices,
        })))
    }

    #[allow(clippy::too_many_arguments)]
    fn returning_row(
        &self,
        items: &[SelectItem],
        table_name: &str,
        alias: Option<&str>,
        infos: &[ColumnInfo],
        row: &[Value],
        tx: &Tx,
        params: &[Value],
        now: crate::SimTime,
    ) -> Result<Vec<Value>, PgError> {
        let scope = RowScope {
            table: table_name,
            alias,
            columns: infos,
            quals: &[],
        };
        let proj = projection(items, Some(&scope))?;
        let mut ctx = row_ctx(params, tx, now, table_name, alias, infos, row, None);
        project(&proj, &mut ctx).map_err(flow_to_step_err)
    }

    /// The row an UPDATE (or ON CONFLICT DO UPDATE) makes from `old`, with assignment casts and NOT NULL checked.
    #[allow(clippy::too_many_arguments)]
    fn assigned_row(
        &self,
        assignments: &[sqlparser::ast::Assignment],
        table: &Table,
        table_name: &str,
        alias: Option<&str>,
        infos: &[ColumnInfo],
        old: &[Value],
        excluded: Option<&[Value]>,
        tx: &Tx,
        params: &[Value],
        now: crate::SimTime,
    ) -> Result<Vec<Value>, PgError> {
        let mut new = old.to_vec();
        let mut seen = vec![];
        for a in assignments {
            let AssignmentTarget::ColumnName(col) = &a.target else {
                return Err(unsupported("tuple assignments"));
            };
            let cname = object_name(col);
            let i = infos.iter().position(|c| c.name == cname).ok_or_else(|| {
                PgError::new(
                    sqlstate::UNDEFINED_COLUMN,
                    format!("column \"{cname}\" of relation \"{table_name}\" does not exist"),
                )
            })?;
            if seen.contains(&i) {
                return Err(PgError::new(
                    sqlstate::SYNTAX_ERROR,
                    format!("multiple assignments to same column \"{cname}\""),
                ));
            }
            seen.push(i);
            let is_default = matches!(&a.value, Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"));
            let typed = !is_default && !crate::eval::untyped(&a.value);
            let v = if is_default {
                match &table.columns[i].default {
                    Some(e) => {
                        let mut ctx =
                            row_ctx(params, tx, now, table_name, alias, infos, old, excluded);
                        eval(e, &mut ctx).map_err(flow_to_step_err)?
                    }
                    None => Value::Null,
                }
            } else {
                let mut ctx = row_ctx(params, tx, now, table_name, alias, infos, old, excluded);
                eval(&a.value, &mut ctx).map_err(flow_to_step_err)?
            };
            new[i] = assign_from(v, &infos[i], typed)?;
        }
        check_not_null(table, &new)?;
        check_constraints(table, &new)?;
        Ok(new)
    }

    #[allow(clippy::too_many_arguments)]
    fn write_update(
        &mut self,
        session: SessionId,
        table_name: &str,
        table_id: u64,
        idx: usize,
        data: Vec<Value>,
        wxid: TxId,
        cid: u32,
    ) -> Result<usize, PgError> {
        let active: Vec<TxId> = {
            let t = self.table_by_id_ref(session, table_name, table_id)?;
            t.tuples[idx]
                .lockers
                .iter()
                .filter(|(x, m)| {
                    *m == LockMode::KeyShare
                        && self.xid_state(*x) == crate::engine::XidState::Active
                })
                .map(|(x, _)| *x)
                .collect()
        };
        let t = self.table_by_id(session, table_name, table_id)?;
        let mode = update_mode(t, &t.tuples[idx].data, &data);
        // A key share lock survives an update that leaves the key alone, as PostgreSQL carries it to the new version.
        let carried: Vec<(TxId, LockMode)> = if mode == LockMode::NoKeyExclusive {
            active
                .into_iter()
                .map(|x| (x, LockMode::KeyShare))
                .collect()
        } else {
            vec![]
        };
        let new_idx = t.push_tuple(Tuple {
            xmin: wxid,
            cmin: cid,
            xmax: None,
            cmax: 0,
            next: None,
            xmax_mode: LockMode::Exclusive,
            data,
            lockers: carried,
        });
        let old = &mut t.tuples[idx];
        old.xmax = Some(wxid);
        old.xmax_mode = mode;
        old.cmax = cid;
        old.next = Some(new_idx);
        Ok(new_idx)
    }
}

fn too_many_versions(table: &str, max: usize) -> PgError {
    PgError::new(
        sqlstate::PROGRAM_LIMIT_EXCEEDED,
        format!("table \"{table}\" holds {max} row versions, dosim's limit; finish open transactions so old versions can be vacuumed"),
    )
}

fn savepoint_missing(name: &str) -> PgError {
    PgError::new(
        sqlstate::INVALID_SAVEPOINT_SPECIFICATION,
        format!("savepoint \"{name}\" does not exist"),
    )
}

fn set_value_text(e: &Expr) -> Result<String, PgError> {
    Ok(match e {
        Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::SingleQuotedString(s) => s.clone(),
            sqlparser::ast::Value::Number(n, _) => n.clone(),
            sqlparser::ast::Value::Boolean(b) => if *b { "on" } else { "off" }.to_string(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        Expr::UnaryOp { op, expr } => format!("{op}{}", set_value_text(expr)?),
        other => other.to_string(),
    })
}

#[allow(clippy::too_many_arguments)]
fn row_ctx<'a>(
    params: &'a [Value],
    tx: &Tx,
    now: crate::SimTime,
    table: &'a str,
    alias: Option<&'a str>,
    infos: &'a [ColumnInfo],
    row: &'a [Value],
    excluded: Option<&'a [Value]>,
) -> Ctx<'a, 'static> {
    Ctx {
        params,
        now_us: tx.start_us,
        clock_us: unix_us(now),
        scope: Some(RowScope {
            table,
            alias,
            columns: infos,
            quals: &[],
        }),
        row: Some(row),
        excluded,
        aggregates: None,
        hook: None,
    }
}

type DmlParts = (
    Option<Expr>,
    Option<Vec<SelectItem>>,
    Option<Vec<sqlparser::ast::Assignment>>,
    Option<String>,
    Option<sqlparser::ast::OnConflict>,
);

fn dml_parts(stmt: &Statement) -> DmlParts {
    match stmt {
        Statement::Update(up) => {
            let alias = match &up.table.relation {
                TableFactor::Table { alias, .. } => alias.as_ref().map(|a| ident_name(&a.name)),
                _ => None,
            };
            (
                up.selection.clone(),
                up.returning.clone(),
                Some(up.assignments.clone()),
                alias,
                None,
            )
        }
        Statement::Delete(del) => {
            let alias = match &del.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => {
                    t.first().and_then(|twj| match &twj.relation {
                        TableFactor::Table { alias, .. } => {
                            alias.as_ref().map(|a| ident_name(&a.name))
                        }
                        _ => None,
                    })
                }
            };
            (
                del.selection.clone(),
                del.returning.clone(),
                None,
                alias,
                None,
            )
        }
        Statement::Insert(ins) => {
            let oc = match &ins.on {
                Some(OnInsert::OnConflict(oc)) => Some(oc.clone()),
                _ => None,
            };
            (None, ins.returning.clone(), None, None, oc)
        }
        Statement::Query(q) => {
            let (sel, alias) = match q.body.as_ref() {
                SetExpr::Select(s) => (
                    s.selection.clone(),
                    s.from.first().and_then(|twj| match &twj.relation {
                        TableFactor::Table { alias, .. } => {
                            alias.as_ref().map(|a| ident_name(&a.name))
                        }
                        _ => None,
                    }),
                ),
                _ => (None, None),
            };
            (sel, None, None, alias, None)
        }
        _ => (None, None, None, None, None),
    }
}

/// The unique indexes to check, arbiters first, and which of them are arbiters for ON CONFLICT.
fn arbiter_order(
    table: &Table,
    on_conflict: Option<&sqlparser::ast::OnConflict>,
) -> Result<(Vec<usize>, Vec<usize>), PgError> {
    let all: Vec<usize> = (0..table.uniques.len()).collect();
    let Some(oc) = on_conflict else {
        return Ok((all, vec![]));
    };
    let arbiters: Vec<usize> = match &oc.conflict_target {
        None => {
            if matches!(oc.action, OnConflictAction::DoUpdate(_)) {
                return Err(PgError::new(
                    sqlstate::SYNTAX_ERROR,
                    "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                )
                .with_hint("For example, ON CONFLICT (column_name)."));
            }
            all.clone()
        }
        Some(ConflictTarget::Columns { columns, predicate }) => {
            if predicate.is_some() {
                return Err(unsupported("partial index predicates"));
            }
            let mut wanted = vec![];
            for c in columns {
                let name = ident_name(c);
                let i = table
                    .columns
                    .iter()
                    .position(|col| col.info.name == name)
                    .ok_or_else(|| crate::eval::missing_column(None, &name))?;
                wanted.push(i);
            }
            wanted.sort();
            let found: Vec<usize> = table
                .uniques
                .iter()
                .enumerate()
                .filter(|(_, u)| {
                    let mut cols = u.columns.clone();
                    cols.sort();
                    cols == wanted
                })
                .map(|(i, _)| i)
                .collect();
            if found.is_empty() {
                return Err(PgError::new(
                    sqlstate::INVALID_COLUMN_REFERENCE,
                    "there is no unique or exclusion constraint matching the ON CONFLICT specification",
                ));
            }
            found
        }
        Some(ConflictTarget::OnConstraint(name)) => {
            let name = object_name(name);
            let i = table
                .uniques
                .iter()
                .position(|u| u.name == name)
                .ok_or_else(|| {
                    PgError::new(
                        sqlstate::UNDEFINED_OBJECT,
                        format!(
                            "constraint \"{name}\" for table \"{}\" does not exist",
                            table.name
                        ),
                    )
                })?;
            vec![i]
        }
    };
    let mut order = arbiters.clone();
    order.extend(all.into_iter().filter(|i| !arbiters.contains(i)));
    Ok((order, arbiters))
}

/// Where a column's static type is unknown (`text`, e.g. a parameter or a subquery's result), the values tell.
fn refine_types(columns: &mut [ColumnDesc], rows: &[Vec<Value>]) {
    for (i, c) in columns.iter_mut().enumerate() {
        if c.ty != SqlType::Text {
            continue;
        }
        if let Some(t) = rows
            .iter()
            .filter_map(|r| r.get(i).and_then(Value::sql_type))
            .next()
        {
            c.ty = t;
        }
    }
}

/// The tuple versions a `WHERE` can match when it requires `column = constant` on a one-column unique index, or `None` to scan them all.
fn indexed_lookup(table: &Table, cond: &Expr, params: &[Value]) -> Option<Vec<usize>> {
    let (column, constant) = equality_on_column(cond)?;
    let col = table.columns.iter().position(|c| c.info.name == column)?;
    let ui = table.uniques.iter().position(|u| u.columns == [col])?;
    let value = match constant {
        Expr::Value(v) => match &v.value {
            // A number against a text column is PostgreSQL's `text = integer` error, which the full scan raises.
            sqlparser::ast::Value::Number(_, _) if table.columns[col].info.ty == SqlType::Text => {
                return None
            }
            sqlparser::ast::Value::Number(n, _) => Value::Text(n.clone()),
            sqlparser::ast::Value::SingleQuotedString(s) => Value::Text(s.clone()),
            sqlparser::ast::Value::Placeholder(p) => {
                let n: usize = p
                    .strip_prefix("$s")
                    .or_else(|| p.strip_prefix('$'))?
                    .parse()
                    .ok()?;
                params.get(n.checked_sub(1)?)?.clone()
            }
            _ => return None,
        },
        _ => return None,
    };
    // Anything that does not convert cleanly takes the full scan, which raises PostgreSQL's error.
    let typed = value.coerce(table.columns[col].info.ty).ok()?;
    if typed.is_null() {
        return None;
    }
    let mut row = vec![Value::Null; table.columns.len()];
    row[col] = typed;
    let key = table.unique_key(ui, &row)?;
    Some(table.unique_keys.get(&key).cloned().unwrap_or_default())
}

/// `column = constant` (either way round), alone or as one side of an AND chain.
fn equality_on_column(cond: &Expr) -> Option<(String, &Expr)> {
    match cond {
        Expr::Nested(inner) => equality_on_column(inner),
        Expr::BinaryOp {
            left,
            op: sqlparser::ast::BinaryOperator::And,
            right,
        } => equality_on_column(left).or_else(|| equality_on_column(right)),
        Expr::BinaryOp {
            left,
            op: sqlparser::ast::BinaryOperator::Eq,
            right,
        } => {
            let column = |e: &Expr| match e {
                Expr::Identifier(i) => Some(ident_name(i)),
                Expr::CompoundIdentifier(parts) if parts.len() == 2 => Some(ident_name(&parts[1])),
                _ => None,
            };
            let constant = |e: &Expr| matches!(e, Expr::Value(_));
            match (column(left), column(right)) {
                (Some(c), None) if constant(right) => Some((c, right.as_ref())),
                (None, Some(c)) if constant(left) => Some((c, left.as_ref())),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Sorts rows by ORDER BY, evaluating the keys on each row; stable, so ties keep their order.
fn order_data(
    scope: &RowScope,
    query: &Query,
    projection: &[SelectItem],
    data: Vec<Vec<Value>>,
    tx: &Tx,
    params: &[Value],
    now: crate::SimTime,
) -> Result<Vec<Vec<Value>>, PgError> {
    let Some(order_by) = &query.order_by else {
        return Ok(data);
    };
    let OrderByKind::Expressions(keys) = &order_by.kind else {
        return Err(unsupported("ORDER BY ALL clauses"));
    };
    let proj = projection_exprs(projection, scope)?;
    let exprs: Vec<Expr> = keys
        .iter()
        .map(|k| resolve_order_expr(&k.expr, &proj))
        .collect::<Result<_, _>>()?;
    let mut keyed = vec![];
    for row in data {
        let mut ctx = Ctx {
            params,
            now_us: tx.start_us,
            clock_us: unix_us(now),
            scope: Some(RowScope { ..*scope }),
            row: Some(&row),
            excluded: None,
            aggregates: None,
            hook: None,
        };
        let mut key = vec![];
        for e in &exprs {
            key.push(eval(e, &mut ctx).map_err(flow_to_step_err)?);
        }
        keyed.push((key, row));
    }
    sort_keyed(&mut keyed, keys)?;
    Ok(keyed.into_iter().map(|(_, r)| r).collect())
}

/// A grouping key's text: equal values give equal text (numerics without trailing zeros), NULL its own.
fn group_text(v: &Value) -> String {
    match v {
        Value::Null => "\u{0}null".to_string(),
        other => crate::engine::key_text(other),
    }
}

/// Sorts by precomputed ORDER BY keys: ASC/DESC, NULLS FIRST/LAST (NULLs sort as larger than any value by default); stable.
fn sort_keyed<T>(
    keyed: &mut [(Vec<Value>, T)],
    keys: &[sqlparser::ast::OrderByExpr],
) -> Result<(), PgError> {
    let mut err = None;
    keyed.sort_by(|(a, _), (b, _)| {
        for (i, k) in keys.iter().enumerate() {
            let desc = matches!(k.options.sort, Some(sqlparser::ast::OrderBySort::Desc));
            let nulls_first = k.options.nulls_first.unwrap_or(desc);
            let ord = match (a[i].is_null(), b[i].is_null()) {
                (true, true) => Ordering::Equal,
                (true, false) if nulls_first => Ordering::Less,
                (true, false) => Ordering::Greater,
                (false, true) if nulls_first => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => match sql_compare(a[i].clone(), b[i].clone(), "<") {
                    Ok(Some(o)) if desc => o.reverse(),
                    Ok(Some(o)) => o,
                    Ok(None) => Ordering::Equal,
                    Err(e) => {
                        err.get_or_insert(e);
                        Ordering::Equal
                    }
                },
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Select-list aliases and positions, which ORDER BY may name.
fn projection_exprs(
    items: &[SelectItem],
    scope: &RowScope,
) -> Result<Vec<(Option<String>, Expr)>, PgError> {
    let mut out = vec![];
    for item in items {
        match item {
            SelectItem::UnnamedExpr(e) => out.push((None, e.clone())),
            SelectItem::ExprWithAlias { expr, alias } => {
                out.push((Some(ident_name(alias)), expr.clone()))
            }
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                for (i, c) in scope.columns.iter().enumerate() {
                    let column = sqlparser::ast::Ident::new(c.name.clone());
                    // A joined column is qualified, so that ORDER BY 1 is never ambiguous.
                    let expr = match scope.quals.get(i) {
                        Some(q) => Expr::CompoundIdentifier(vec![
                            sqlparser::ast::Ident::new(
                                q.alias.clone().unwrap_or_else(|| q.table.clone()),
                            ),
                            column,
                        ]),
                        None => Expr::Identifier(column),
                    };
                    out.push((None, expr));
                }
            }
            _ => return Err(unsupported("multiple aliases")),
        }
    }
    Ok(out)
}

fn resolve_order_expr(expr: &Expr, proj: &[(Option<String>, Expr)]) -> Result<Expr, PgError> {
    match expr {
        Expr::Value(v) => {
            if let sqlparser::ast::Value::Number(n, _) = &v.value {
                let pos: usize = n.parse().unwrap_or(0);
                return proj
                    .get(pos.wrapping_sub(1))
                    .map(|(_, e)| e.clone())
                    .ok_or_else(|| {
                        PgError::new(
                            "42P10",
                            format!("ORDER BY position {n} is not in select list"),
                        )
                    });
            }
            Ok(expr.clone())
        }
        Expr::Identifier(i) => {
            let name = ident_name(i);
            Ok(proj
                .iter()
                .find(|(alias, _)| alias.as_deref() == Some(name.as_str()))
                .map(|(_, e)| e.clone())
                .unwrap_or_else(|| expr.clone()))
        }
        _ => Ok(expr.clone()),
    }
}

/// The advisory-lock builtins. Returns `None` for any other function name.
#[allow(clippy::too_many_arguments)]
fn advisory_call(
    advisory: &mut BTreeMap<AdvisoryKey, crate::engine::AdvisoryHolders>,
    session: SessionId,
    pid: u32,
    name: &str,
    args: &[Value],
    acquired: &mut Vec<(AdvisoryKey, bool)>,
    released: &mut bool,
    notices: &mut Vec<Notice>,
) -> Option<Res<Value>> {
    let key = || -> Result<AdvisoryKey, PgError> {
        match args {
            [k] => match k.clone().coerce(SqlType::Int8)? {
                Value::Int8(v) => Ok(AdvisoryKey::Int8(v)),
                _ => Err(crate::eval::no_function(name, args)),
            },
            [a, b] => match (
                a.clone().coerce(SqlType::Int4)?,
                b.clone().coerce(SqlType::Int4)?,
            ) {
                (Value::Int4(x), Value::Int4(y)) => Ok(AdvisoryKey::Int4Pair(x, y)),
                _ => Err(crate::eval::no_function(name, args)),
            },
            _ => Err(crate::eval::no_function(name, args)),
        }
    };
    let try_take = |advisory: &mut BTreeMap<AdvisoryKey, crate::engine::AdvisoryHolders>,
                    key: AdvisoryKey,
                    xact: bool|
     -> bool {
        let holders = advisory.entry(key).or_default();
        if holders.keys().any(|s| *s != session) {
            return false;
        }
        let e = holders.entry(session).or_insert((0, 0));
        if xact {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
        true
    };
    let result: Res<Value> = (|| {
        Ok(match name {
            "pg_backend_pid" => Value::Int4(pid as i32),
            "pg_advisory_lock" | "pg_advisory_xact_lock" => {
                let k = key()?;
                let xact = name == "pg_advisory_xact_lock";
                if args.iter().any(Value::is_null) {
                    return Ok(Value::Null);
                }
                if !try_take(advisory, k, xact) {
                    advisory.retain(|_, h| !h.is_empty());
                    return Err(Flow::Block(WaitFor::Advisory(k)));
                }
                acquired.push((k, xact));
                Value::Void
            }
            "pg_try_advisory_lock" | "pg_try_advisory_xact_lock" => {
                if args.iter().any(Value::is_null) {
                    return Ok(Value::Null);
                }
                let k = key()?;
                let xact = name == "pg_try_advisory_xact_lock";
                let ok = try_take(advisory, k, xact);
                advisory.retain(|_, h| !h.is_empty());
                if ok {
                    acquired.push((k, xact));
                }
                Value::Bool(ok)
            }
            "pg_advisory_unlock" => {
                if args.iter().any(Value::is_null) {
                    return Ok(Value::Null);
                }
                let k = key()?;
                let held = advisory
                    .get_mut(&k)
                    .and_then(|h| h.get_mut(&session))
                    .filter(|(s, _)| *s > 0);
                match held {
                    Some((s, _)) => {
                        *s -= 1;
                        if let Some(h) = advisory.get_mut(&k) {
                            h.retain(|_, (s, x)| *s > 0 || *x > 0);
                        }
                        advisory.retain(|_, h| !h.is_empty());
                        *released = true;
                        Value::Bool(true)
                    }
                    None => {
                        notices.push(Engine::warning(
                            "01000",
                            "you don't own a lock of type ExclusiveLock",
                        ));
                        Value::Bool(false)
                    }
                }
            }
            "pg_advisory_unlock_all" => {
                for h in advisory.values_mut() {
                    if let Some((s, _)) = h.get_mut(&session) {
                        *s = 0;
                    }
                    h.retain(|_, (s, x)| *s > 0 || *x > 0);
                }
                advisory.retain(|_, h| !h.is_empty());
                *released = true;
                Value::Void
            }
            _ => {
                return Err(Flow::Error(PgError::new(
                    "XX000",
                    "not an advisory function",
                )))
            }
        })
    })();
    match result {
        Err(Flow::Error(e)) if e.sqlstate == "XX000" => None,
        other => Some(other),
    }
}

impl Engine {
    /// A table's columns in `database`, or `None` if there is no such table; reads only the catalog.
    pub fn table_columns(&self, database: &str, table: &str) -> Option<Vec<ColumnDesc>> {
        let t = self.databases.get(database)?.tables.get(table)?;
        Some(
            t.columns
                .iter()
                .map(|c| ColumnDesc {
                    name: c.info.name.clone(),
                    ty: c.info.ty,
                })
                .collect(),
        )
    }

    /// The result columns of a single statement without running it, as `Describe` needs them: `Some` for a SELECT or a statement with RETURNING, `None` for one that returns no rows.
    ///
    /// Types come from the columns and expressions; where only a value would tell (an untyped parameter), the type is `text`.
    /// Touches no session, transaction or lock.
    pub fn describe(&self, database: &str, sql: &str) -> Result<Option<Vec<ColumnDesc>>, PgError> {
        let statements = parse(sql)?;
        let [stmt] = statements.as_slice() else {
            return Ok(None);
        };
        let columns_of = |table: &str| -> Result<Vec<ColumnInfo>, PgError> {
            self.databases
                .get(database)
                .and_then(|d| d.tables.get(table))
                .map(Table::infos)
                .ok_or_else(|| undefined_table(table))
        };
        let described = |items: &[SelectItem], table: Option<(&str, Option<&str>)>| {
            let infos = match table {
                Some((name, _)) => columns_of(name)?,
                None => vec![],
            };
            let scope = table.map(|(name, alias)| RowScope {
                table: name,
                alias,
                columns: &infos,
                quals: &[],
            });
            projection(items, scope.as_ref()).map(|p| Some(p.columns))
        };
        match stmt {
            Statement::Query(q) => {
                let SetExpr::Select(select) = q.body.as_ref() else {
                    return Err(unsupported("queries of this form"));
                };
                let mut items = vec![];
                for twj in &select.from {
                    items.push(table_factor(&twj.relation)?);
                    for join in &twj.joins {
                        items.push(table_factor(&join.relation)?);
                    }
                }
                if items.len() > 1 {
                    // A join: every table's columns, each with the FROM item it comes from.
                    let mut infos = vec![];
                    let mut quals = vec![];
                    for (table, alias) in &items {
                        let cols = columns_of(table)?;
                        quals.extend(cols.iter().map(|_| Qual {
                            table: table.clone(),
                            alias: alias.clone(),
                        }));
                        infos.extend(cols);
                    }
                    let scope = RowScope {
                        table: "",
                        alias: None,
                        columns: &infos,
                        quals: &quals,
                    };
                    return projection(&select.projection, Some(&scope)).map(|p| Some(p.columns));
                }
                let table = items.pop();
                described(
                    &select.projection,
                    table.as_ref().map(|(n, a)| (n.as_str(), a.as_deref())),
                )
            }
            Statement::Insert(ins) => match (&ins.table, &ins.returning) {
                (TableObject::TableName(name), Some(items)) => {
                    described(items, Some((&object_name(name), None)))
                }
                _ => Ok(None),
            },
            Statement::Update(up) => match (&up.table.relation, &up.returning) {
                (TableFactor::Table { name, alias, .. }, Some(items)) => {
                    let alias = alias.as_ref().map(|a| ident_name(&a.name));
                    described(items, Some((&object_name(name), alias.as_deref())))
                }
                _ => Ok(None),
            },
            Statement::Delete(del) => {
                let tables = match &del.from {
                    FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
                };
                match (tables.first().map(|t| &t.relation), &del.returning) {
                    (Some(TableFactor::Table { name, alias, .. }), Some(items)) => {
                        let alias = alias.as_ref().map(|a| ident_name(&a.name));
                        described(items, Some((&object_name(name), alias.as_deref())))
                    }
                    _ => Ok(None),
                }
            }
            Statement::ShowVariable { variable } => {
                let name = variable
                    .iter()
                    .map(ident_name)
                    .collect::<Vec<_>>()
                    .join(" ");
                let name = if name == "transaction isolation level" {
                    "transaction_isolation".to_string()
                } else {
                    name
                };
                Ok(Some(vec![ColumnDesc {
                    name,
                    ty: SqlType::Text,
                }]))
            }
            _ => Ok(None),
        }
    }
}
