//! Describing a prepared statement before it runs: its parameters' types and its result columns, as `ParameterDescription` and `RowDescription` need them.
//!
//! PostgreSQL's planner knows both at Parse time; the engine only learns them while it runs a statement.
//! So this module reads the statement with the same sqlparser dialect the engine uses, infers each `$n` from what it is compared with or assigned to, and learns table columns and result columns by running side-effect-free `SELECT … WHERE false LIMIT 0` probes on a short-lived session of its own.

use std::collections::BTreeMap;

use dosim_pg::{ColumnDesc, Engine, Outcome, PgError, SimTime, SqlType, Value};
use sqlparser::ast::{
    AssignmentTarget, BinaryOperator, CastKind, DataType, Expr, FromTable, FunctionArg,
    FunctionArgExpr, FunctionArguments, InTarget, LimitClause, ObjectName, OnConflictAction,
    OnInsert, Query, SelectItem, SetExpr, Statement, TableFactor, TableObject, UnaryOperator,
    Value as AstValue,
};

/// What `Describe` reports about a prepared statement.
#[derive(Clone, Debug, Default)]
pub(crate) struct Description {
    /// One type per `$n`, `$1` first; `None` where nothing says, which goes out as `text`.
    pub params: Vec<Option<SqlType>>,
    /// The result columns, or `None` for a statement that returns no rows (`NoData`).
    pub columns: Option<Vec<ColumnDesc>>,
}

/// Describes `sql` for a session on `database`; `declared` holds the types the client gave in `Parse` (0 for unspecified).
///
/// Runs on the stack the engine would give the query string: describing walks its expressions too.
pub(crate) fn describe(
    engine: &mut Engine,
    database: &str,
    sql: &str,
    declared: &[Option<SqlType>],
    now: SimTime,
) -> Result<Description, PgError> {
    dosim_pg::on_stack(dosim_pg::stack_for(sql), || {
        describe_here(engine, database, sql, declared, now)
    })
}

fn describe_here(
    engine: &mut Engine,
    database: &str,
    sql: &str,
    declared: &[Option<SqlType>],
    now: SimTime,
) -> Result<Description, PgError> {
    let n_params = dosim_pg::placeholders_max(sql);
    let statements = match dosim_pg::parse_sql(sql) {
        Ok(s) => s,
        // The engine parses with the same sqlparser, so it fails the same way and words the error as PostgreSQL does; a statement that does not parse has no side effects.
        Err(_) => {
            let mut probe = Probe::open(engine, database, now)?;
            let err = probe.run(sql, 0).err();
            probe.close();
            return Err(
                err.unwrap_or_else(|| PgError::new("42601", "syntax error in prepared statement"))
            );
        }
    };
    if statements.len() > 1 {
        return Err(PgError::new(
            "42601",
            "cannot insert multiple commands into a prepared statement",
        ));
    }
    let mut params: BTreeMap<usize, SqlType> = BTreeMap::new();
    for (i, t) in declared.iter().enumerate() {
        if let Some(t) = t {
            params.insert(i + 1, *t);
        }
    }
    let mut columns = None;
    if let Some(stmt) = statements.first() {
        let mut probe = Probe::open(engine, database, now)?;
        let result = describe_statement(&mut probe, stmt, n_params, &mut params);
        probe.close();
        columns = result?;
    }
    let n = n_params.max(declared.len());
    Ok(Description {
        params: (1..=n).map(|i| params.get(&i).copied()).collect(),
        columns,
    })
}

fn describe_statement(
    probe: &mut Probe<'_>,
    stmt: &Statement,
    n_params: usize,
    params: &mut BTreeMap<usize, SqlType>,
) -> Result<Option<Vec<ColumnDesc>>, PgError> {
    match stmt {
        Statement::Query(query) => {
            let SetExpr::Select(select) = query.body.as_ref() else {
                // VALUES and set operations: the engine refuses or answers them itself when run.
                return probe_columns(probe, &stmt.to_string(), n_params).map(Some);
            };
            let scope = match select.from.first().map(|t| &t.relation) {
                Some(TableFactor::Table { name, .. }) => probe.table_columns(name)?,
                _ => vec![],
            };
            let mut walk = Infer {
                scope: &scope,
                params,
            };
            for item in &select.projection {
                if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item
                {
                    walk.expr(e, None);
                }
            }
            if let Some(e) = &select.selection {
                walk.expr(e, Some(SqlType::Bool));
            }
            if let Some(e) = &select.having {
                walk.expr(e, Some(SqlType::Bool));
            }
            if let Some(LimitClause::LimitOffset { limit, offset, .. }) = &query.limit_clause {
                if let Some(e) = limit {
                    walk.expr(e, Some(SqlType::Int8));
                }
                if let Some(o) = offset {
                    walk.expr(&o.value, Some(SqlType::Int8));
                }
            }
            let mut shape: Query = (**query).clone();
            shape.locks.clear();
            shape.limit_clause = None;
            shape.order_by = None;
            if let SetExpr::Select(s) = shape.body.as_mut() {
                s.selection = Some(Expr::Value(AstValue::Boolean(false).into()));
                s.having = None;
            }
            probe_columns(probe, &format!("{shape} LIMIT 0"), n_params).map(Some)
        }
        Statement::Insert(ins) => {
            let TableObject::TableName(name) = &ins.table else {
                return Ok(None);
            };
            let scope = probe.table_columns(name)?;
            let targets: Vec<Option<SqlType>> = if ins.columns.is_empty() {
                scope.iter().map(|c| Some(c.ty)).collect()
            } else {
                ins.columns
                    .iter()
                    .map(|c| lookup(&scope, &last_name(c)))
                    .collect()
            };
            let mut walk = Infer {
                scope: &scope,
                params,
            };
            if let Some(source) = &ins.source {
                if let SetExpr::Values(values) = source.body.as_ref() {
                    for row in &values.rows {
                        for (i, e) in row.content.iter().enumerate() {
                            walk.expr(e, targets.get(i).copied().flatten());
                        }
                    }
                }
            }
            if let Some(OnInsert::OnConflict(oc)) = &ins.on {
                if let OnConflictAction::DoUpdate(up) = &oc.action {
                    walk.assignments(&up.assignments);
                    if let Some(e) = &up.selection {
                        walk.expr(e, Some(SqlType::Bool));
                    }
                }
            }
            returning(probe, &ins.returning, name, None, n_params)
        }
        Statement::Update(up) => {
            let TableFactor::Table { name, alias, .. } = &up.table.relation else {
                return Ok(None);
            };
            let scope = probe.table_columns(name)?;
            let mut walk = Infer {
                scope: &scope,
                params,
            };
            walk.assignments(&up.assignments);
            if let Some(e) = &up.selection {
                walk.expr(e, Some(SqlType::Bool));
            }
            let alias = alias.as_ref().map(|a| a.name.to_string());
            returning(probe, &up.returning, name, alias, n_params)
        }
        Statement::Delete(del) => {
            let (FromTable::WithFromKeyword(tables) | FromTable::WithoutKeyword(tables)) =
                &del.from;
            let Some(TableFactor::Table { name, alias, .. }) = tables.first().map(|t| &t.relation)
            else {
                return Ok(None);
            };
            let scope = probe.table_columns(name)?;
            let mut walk = Infer {
                scope: &scope,
                params,
            };
            if let Some(e) = &del.selection {
                walk.expr(e, Some(SqlType::Bool));
            }
            let alias = alias.as_ref().map(|a| a.name.to_string());
            returning(probe, &del.returning, name, alias, n_params)
        }
        // SHOW reads a setting; running it on the probe session changes nothing and gives its column.
        Statement::ShowVariable { .. } => {
            probe_columns(probe, &stmt.to_string(), n_params).map(Some)
        }
        _ => Ok(None),
    }
}

/// The columns a `RETURNING` list produces, from a probe that selects the same items from the table.
fn returning(
    probe: &mut Probe<'_>,
    items: &Option<Vec<SelectItem>>,
    table: &ObjectName,
    alias: Option<String>,
    n_params: usize,
) -> Result<Option<Vec<ColumnDesc>>, PgError> {
    let Some(items) = items else {
        return Ok(None);
    };
    let list: Vec<String> = items.iter().map(|i| i.to_string()).collect();
    let alias = alias.map(|a| format!(" AS {a}")).unwrap_or_default();
    let sql = format!(
        "SELECT {} FROM {table}{alias} WHERE false LIMIT 0",
        list.join(", ")
    );
    probe_columns(probe, &sql, n_params).map(Some)
}

fn probe_columns(
    probe: &mut Probe<'_>,
    sql: &str,
    n_params: usize,
) -> Result<Vec<ColumnDesc>, PgError> {
    probe.run(sql, n_params)
}

/// A session of its own for describing, closed after each statement so that nothing it does outlives the probe.
struct Probe<'e> {
    engine: &'e mut Engine,
    session: dosim_pg::SessionId,
    now: SimTime,
}

impl<'e> Probe<'e> {
    fn open(engine: &'e mut Engine, database: &str, now: SimTime) -> Result<Probe<'e>, PgError> {
        let session = engine.connect(database)?;
        Ok(Probe {
            engine,
            session,
            now,
        })
    }

    /// Runs one read-only probe with NULL for every parameter and returns its first result's columns.
    fn run(&mut self, sql: &str, n_params: usize) -> Result<Vec<ColumnDesc>, PgError> {
        let params = vec![Value::Null; n_params];
        match self.engine.execute(self.session, sql, &params, self.now) {
            Outcome::Done(results) => Ok(results
                .into_iter()
                .next()
                .map(|r| r.columns)
                .unwrap_or_default()),
            Outcome::Error { error, .. } => Err(error),
            // Only an advisory-lock call in a select list can wait; its result type is known without the row.
            Outcome::Blocked { .. } => Err(PgError::new(
                "55P03",
                "could not describe the statement while another session holds the lock it takes",
            )),
        }
    }

    fn table_columns(&mut self, name: &ObjectName) -> Result<Vec<ColumnDesc>, PgError> {
        self.run(&format!("SELECT * FROM {name} WHERE false LIMIT 0"), 0)
    }

    fn close(self) {
        self.engine.disconnect(self.session);
    }
}

fn lookup(scope: &[ColumnDesc], name: &str) -> Option<SqlType> {
    scope.iter().find(|c| c.name == name).map(|c| c.ty)
}

fn ident_text(i: &sqlparser::ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

fn last_name(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(ident_text)
        .unwrap_or_default()
}

/// The engine's type for a declared SQL type, for casts.
fn cast_type(data_type: &DataType) -> Option<SqlType> {
    let text = data_type.to_string().to_lowercase();
    let base = text.split('(').next().unwrap_or("").trim();
    Some(match base {
        "int" | "integer" | "int4" | "smallint" | "int2" => SqlType::Int4,
        "bigint" | "int8" => SqlType::Int8,
        "text" | "varchar" | "character varying" | "char" | "character" => SqlType::Text,
        "bool" | "boolean" => SqlType::Bool,
        "numeric" | "decimal" => SqlType::Numeric(None),
        "timestamptz" | "timestamp with time zone" | "timestamp" => SqlType::Timestamptz,
        "interval" => SqlType::Interval,
        "uuid" => SqlType::Uuid,
        _ => return None,
    })
}

/// Infers parameter types from context, as PostgreSQL's parser resolves `unknown` parameters.
struct Infer<'a> {
    scope: &'a [ColumnDesc],
    params: &'a mut BTreeMap<usize, SqlType>,
}

impl Infer<'_> {
    fn assignments(&mut self, assignments: &[sqlparser::ast::Assignment]) {
        for a in assignments {
            let expected = match &a.target {
                AssignmentTarget::ColumnName(c) => lookup(self.scope, &last_name(c)),
                AssignmentTarget::Tuple(_) => None,
            };
            self.expr(&a.value, expected);
        }
    }

    /// The type an expression has without its parameters' help, if it is clear.
    fn static_type(&self, e: &Expr) -> Option<SqlType> {
        match e {
            Expr::Identifier(i) => lookup(self.scope, &ident_text(i)),
            Expr::CompoundIdentifier(parts) => lookup(self.scope, &ident_text(parts.last()?)),
            Expr::Value(v) => match &v.value {
                AstValue::Number(t, _) => Some(if t.contains(['.', 'e', 'E']) {
                    SqlType::Numeric(None)
                } else if t.parse::<i32>().is_ok() {
                    SqlType::Int4
                } else if t.parse::<i64>().is_ok() {
                    SqlType::Int8
                } else {
                    SqlType::Numeric(None)
                }),
                AstValue::Boolean(_) => Some(SqlType::Bool),
                AstValue::Placeholder(p) => {
                    let n: usize = p.strip_prefix('$')?.parse().ok()?;
                    self.params.get(&n).copied()
                }
                _ => None,
            },
            Expr::Nested(e) | Expr::UnaryOp { expr: e, .. } => self.static_type(e),
            Expr::Cast { data_type, .. } => cast_type(data_type),
            Expr::BinaryOp { left, op, right } => match op {
                BinaryOperator::Plus
                | BinaryOperator::Minus
                | BinaryOperator::Multiply
                | BinaryOperator::Divide
                | BinaryOperator::Modulo => {
                    match (self.static_type(left), self.static_type(right)) {
                        (Some(SqlType::Timestamptz), _) | (_, Some(SqlType::Timestamptz)) => {
                            Some(SqlType::Timestamptz)
                        }
                        (Some(l), Some(r)) if l == r => Some(l),
                        (
                            Some(SqlType::Int4 | SqlType::Int8),
                            Some(SqlType::Int4 | SqlType::Int8),
                        ) => Some(SqlType::Int8),
                        (Some(SqlType::Numeric(_)), _) | (_, Some(SqlType::Numeric(_))) => {
                            Some(SqlType::Numeric(None))
                        }
                        (l, r) => l.or(r),
                    }
                }
                BinaryOperator::StringConcat => Some(SqlType::Text),
                _ => Some(SqlType::Bool),
            },
            Expr::Function(f) => match last_name(&f.name).as_str() {
                "now"
                | "current_timestamp"
                | "transaction_timestamp"
                | "statement_timestamp"
                | "clock_timestamp" => Some(SqlType::Timestamptz),
                "count" => Some(SqlType::Int8),
                "lower" | "upper" => Some(SqlType::Text),
                "length" | "pg_backend_pid" => Some(SqlType::Int4),
                "coalesce" | "greatest" | "least" | "min" | "max" | "abs" => function_args(&f.args)
                    .into_iter()
                    .find_map(|a| self.static_type(a)),
                _ => None,
            },
            Expr::Interval(_) => Some(SqlType::Interval),
            _ => None,
        }
    }

    fn expr(&mut self, e: &Expr, expected: Option<SqlType>) {
        match e {
            Expr::Value(v) => {
                if let (AstValue::Placeholder(p), Some(t)) = (&v.value, expected) {
                    if let Some(n) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
                        self.params.entry(n).or_insert(t);
                    }
                }
            }
            Expr::Nested(inner) => self.expr(inner, expected),
            Expr::UnaryOp { op, expr } => match op {
                UnaryOperator::Not => self.expr(expr, Some(SqlType::Bool)),
                _ => self.expr(expr, expected),
            },
            Expr::Cast {
                kind: _kind @ (CastKind::Cast | CastKind::DoubleColon),
                expr,
                data_type,
                ..
            } => self.expr(expr, cast_type(data_type)),
            Expr::BinaryOp { left, op, right } => match op {
                BinaryOperator::And | BinaryOperator::Or => {
                    self.expr(left, Some(SqlType::Bool));
                    self.expr(right, Some(SqlType::Bool));
                }
                BinaryOperator::StringConcat => {
                    self.expr(left, Some(SqlType::Text));
                    self.expr(right, Some(SqlType::Text));
                }
                _ => {
                    let (l, r) = (self.static_type(left), self.static_type(right));
                    // `timestamptz ± $1` takes an interval, as PostgreSQL's operator resolution picks.
                    let interval_side = |other: Option<SqlType>| match (op, other) {
                        (
                            BinaryOperator::Plus | BinaryOperator::Minus,
                            Some(SqlType::Timestamptz),
                        ) => Some(SqlType::Interval),
                        _ => other,
                    };
                    self.expr(left, interval_side(r).or(expected_arith(op, expected)));
                    self.expr(right, interval_side(l).or(expected_arith(op, expected)));
                }
            },
            Expr::In {
                expr,
                target: InTarget::List(list),
                ..
            } => {
                let t = self
                    .static_type(expr)
                    .or_else(|| list.iter().find_map(|e| self.static_type(e)));
                self.expr(expr, t);
                for item in list {
                    self.expr(item, t);
                }
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                let t = self
                    .static_type(expr)
                    .or_else(|| self.static_type(low))
                    .or_else(|| self.static_type(high));
                self.expr(expr, t);
                self.expr(low, t);
                self.expr(high, t);
            }
            Expr::Like { expr, pattern, .. } | Expr::ILike { expr, pattern, .. } => {
                self.expr(expr, Some(SqlType::Text));
                self.expr(pattern, Some(SqlType::Text));
            }
            Expr::IsNull(inner)
            | Expr::IsNotNull(inner)
            | Expr::IsTrue(inner)
            | Expr::IsNotTrue(inner)
            | Expr::IsFalse(inner)
            | Expr::IsNotFalse(inner) => self.expr(inner, None),
            Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
                let (ta, tb) = (self.static_type(a), self.static_type(b));
                self.expr(a, tb);
                self.expr(b, ta);
            }
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let operand_type = operand.as_deref().and_then(|o| self.static_type(o));
                if let Some(o) = operand {
                    self.expr(o, None);
                }
                let result_type = expected.or_else(|| {
                    conditions
                        .iter()
                        .map(|c| &c.result)
                        .chain(else_result.as_deref())
                        .find_map(|r| self.static_type(r))
                });
                for c in conditions {
                    let cond_type = if operand.is_some() {
                        operand_type
                    } else {
                        Some(SqlType::Bool)
                    };
                    self.expr(&c.condition, cond_type);
                    self.expr(&c.result, result_type);
                }
                if let Some(e) = else_result {
                    self.expr(e, result_type);
                }
            }
            Expr::Function(f) => {
                let name = last_name(&f.name);
                let args = function_args(&f.args);
                let arg_type = match name.as_str() {
                    n if n.starts_with("pg_advisory") || n.starts_with("pg_try_advisory") => {
                        Some(if args.len() == 2 {
                            SqlType::Int4
                        } else {
                            SqlType::Int8
                        })
                    }
                    "lower" | "upper" | "length" => Some(SqlType::Text),
                    "coalesce" | "greatest" | "least" => {
                        expected.or_else(|| args.iter().find_map(|a| self.static_type(a)))
                    }
                    "abs" => expected,
                    _ => None,
                };
                for a in args {
                    self.expr(a, arg_type);
                }
            }
            _ => {}
        }
    }
}

/// What an arithmetic operand should be when the other side says nothing: the result's expected type.
fn expected_arith(op: &BinaryOperator, expected: Option<SqlType>) -> Option<SqlType> {
    match op {
        BinaryOperator::Plus
        | BinaryOperator::Minus
        | BinaryOperator::Multiply
        | BinaryOperator::Divide
        | BinaryOperator::Modulo => expected,
        _ => None,
    }
}

fn function_args(args: &FunctionArguments) -> Vec<&Expr> {
    let FunctionArguments::List(list) = args else {
        return vec![];
    };
    list.args
        .iter()
        .filter_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            FunctionArg::Named {
                arg: FunctionArgExpr::Expr(e),
                ..
            }
            | FunctionArg::ExprNamed {
                arg: FunctionArgExpr::Expr(e),
                ..
            } => Some(e),
            _ => None,
        })
        .collect()
}
