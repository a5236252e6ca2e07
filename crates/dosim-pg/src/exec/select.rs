//! SELECT: planning its clauses, then filtering, grouping, aggregates, sorting, DISTINCT, LIMIT and the select list; advisory functions may make it wait.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sqlparser::ast::{
    Expr, Function, GroupByExpr, LimitClause, LockType, NonBlock, OrderByExpr, OrderByKind, Query,
    Select, SelectItem, SetExpr, Statement, TableFactor,
};

use super::advisory::Builtins;
use super::dml::{DmlKind, DmlState};
use super::project::{
    group_text, order_data, order_rows, project, projection, projection_exprs, refine_types,
    resolve_order_expr, sort_keyed, ProjItem, Projection,
};
use super::{read_only_error, Current, Env};
use crate::engine::{Engine, LockMode, Snapshot, Step};
use crate::error::{sqlstate, PgError};
use crate::eval::{
    aggregate, aggregate_arg, aggregate_distinct, check_names, collect_aggregates, eval,
    eval_condition, ident_name, object_name, output_name, unsupported, ColumnInfo, Ctx, Flow, Hook,
    Qual, Res, RowScope,
};
use crate::value::{SqlType, Value};
use crate::{QueryResult, SessionId};

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

/// A SELECT's clauses, checked and taken apart.
pub(super) struct SelectPlan<'q> {
    pub(super) query: &'q Query,
    pub(super) select: &'q Select,
    pub(super) group_by: Vec<Expr>,
    /// Two or more FROM items joined, in order; then `table` is `None`.
    pub(super) joins: Vec<FromItem>,
    pub(super) table: Option<(String, Option<String>)>,
    pub(super) limit: Option<usize>,
    pub(super) offset: usize,
    pub(super) lock: Option<(LockMode, Option<NonBlock>)>,
}

pub(super) fn plan_select<'q>(
    query: &'q Query,
    params: &[Value],
) -> Result<SelectPlan<'q>, PgError> {
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
    let mut from_items = from_items(select)?;
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

/// A SELECT's FROM items in order, each with how it joins the ones before it.
fn from_items(select: &Select) -> Result<Vec<FromItem>, PgError> {
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
    Ok(from_items)
}

/// Tables joined in one SELECT at most; each join is a nested loop.
const JOIN_TABLES_MAX: usize = 8;

/// Joined rows one SELECT may build before its WHERE; more is refused rather than exhausting memory.
pub(super) const JOIN_ROWS_MAX: usize = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum JoinKind {
    Inner,
    Left,
    Cross,
}

/// One FROM item of a join and how it joins the items before it.
#[derive(Clone, Debug)]
pub(super) struct FromItem {
    pub(super) table: String,
    pub(super) alias: Option<String>,
    pub(super) kind: JoinKind,
    pub(super) on: Option<Expr>,
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

/// Where a SELECT's rows come from.
pub(super) enum Source {
    /// No FROM: one row without columns.
    Nothing,
    /// One table's visible rows that passed WHERE, as tuple indexes.
    Table {
        name: String,
        alias: Option<String>,
        rows: Vec<usize>,
    },
    /// The rows a join built, WHERE applied.
    Joined {
        infos: Vec<ColumnInfo>,
        quals: Vec<Qual>,
        data: Vec<Vec<Value>>,
    },
}

/// The names a SELECT's expressions may use: its one table, or each joined table's columns.
struct Names {
    table: String,
    alias: Option<String>,
    infos: Vec<ColumnInfo>,
    quals: Vec<Qual>,
    has_from: bool,
}

impl Names {
    fn scope(&self) -> Option<RowScope<'_>> {
        self.has_from.then(|| RowScope {
            table: &self.table,
            alias: self.alias.as_deref(),
            columns: &self.infos,
            quals: &self.quals,
        })
    }
}

/// What a SELECT computes from its rows: the select list, the aggregates and groups, and the sort keys.
struct Shape<'q> {
    proj: Projection,
    order_keys: &'q [OrderByExpr],
    aggs: Vec<&'q Function>,
    /// GROUP BY, with output positions and aliases resolved.
    group_by: Vec<Expr>,
    /// Aggregates, GROUP BY or HAVING: the rows fold into groups.
    grouped: bool,
}

/// The aggregate calls of a select list.
fn select_list_aggregates(select: &Select) -> Vec<&Function> {
    let mut aggs = vec![];
    for item in &select.projection {
        if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
            collect_aggregates(e, &mut aggs);
        }
    }
    aggs
}

/// Refuses a locking clause with DISTINCT, GROUP BY or aggregates, as PostgreSQL does.
fn check_lockable(plan: &SelectPlan) -> Result<(), PgError> {
    let Some((mode, _)) = plan.lock else {
        return Ok(());
    };
    if plan.select.distinct.is_some() {
        return Err(PgError::new(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "FOR UPDATE is not allowed with DISTINCT clause",
        ));
    }
    if !plan.group_by.is_empty() {
        return Err(PgError::new(
            sqlstate::FEATURE_NOT_SUPPORTED,
            "FOR UPDATE is not allowed with GROUP BY clause",
        ));
    }
    if !select_list_aggregates(plan.select).is_empty() {
        return Err(PgError::new(
            sqlstate::FEATURE_NOT_SUPPORTED,
            format!(
                "FOR {} is not allowed with aggregate functions",
                if mode == LockMode::Share {
                    "SHARE"
                } else {
                    "UPDATE"
                }
            ),
        ));
    }
    Ok(())
}

/// Works out a SELECT's shape, and refuses a bare column that is neither grouped nor aggregated.
fn select_shape<'q>(plan: &SelectPlan<'q>, names: &Names) -> Result<Shape<'q>, PgError> {
    let select = plan.select;
    let scope = names.scope();
    let proj = projection(&select.projection, scope.as_ref())?;
    let order_keys: &'q [OrderByExpr] = match &plan.query.order_by {
        Some(o) => match &o.kind {
            OrderByKind::Expressions(keys) => keys,
            OrderByKind::All(_) => return Err(unsupported("ORDER BY ALL clauses")),
        },
        None => &[],
    };
    let mut aggs = select_list_aggregates(select);
    if let Some(h) = &select.having {
        collect_aggregates(h, &mut aggs);
    }
    for k in order_keys {
        collect_aggregates(&k.expr, &mut aggs);
    }
    // GROUP BY may name output columns by position or alias, as ORDER BY may.
    let group_by: Vec<Expr> = match scope {
        Some(sc) if !plan.group_by.is_empty() => {
            let named = projection_exprs(&select.projection, &sc)?;
            plan.group_by
                .iter()
                .map(|e| resolve_order_expr(e, &named))
                .collect::<Result<_, _>>()?
        }
        _ => plan.group_by.clone(),
    };
    let grouped = !aggs.is_empty() || !group_by.is_empty() || select.having.is_some();
    if grouped && names.has_from {
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
                        "column \"{}.{}\" must appear in the GROUP BY clause or be used in an aggregate function",
                        names.table, col.name
                    ),
                ));
            }
        }
    }
    Ok(Shape {
        proj,
        order_keys,
        aggs,
        group_by,
        grouped,
    })
}

impl Shape<'_> {
    /// Resolves the names of the select list, GROUP BY and the aggregates' arguments, so that a misspelt column fails even without rows.
    fn check_names(&self, params: &[Value], scope: Option<RowScope>) -> Result<(), PgError> {
        for item in &self.proj.exprs {
            if let ProjItem::Expr(e) = item {
                if self.aggs.is_empty() {
                    check_names(e, params, scope)?;
                }
            }
        }
        for e in &self.group_by {
            check_names(e, params, scope)?;
        }
        for f in &self.aggs {
            if let Some(arg) = aggregate_arg(f)? {
                check_names(arg, params, scope)?;
            }
        }
        Ok(())
    }

    /// ORDER BY resolved against the select list, for grouped rows, which are sorted after projection; empty otherwise.
    fn group_order(
        &self,
        plan: &SelectPlan,
        scope: Option<RowScope>,
    ) -> Result<Vec<Expr>, PgError> {
        match scope {
            Some(sc) if self.grouped => {
                let named = projection_exprs(&plan.select.projection, &sc)?;
                self.order_keys
                    .iter()
                    .map(|k| resolve_order_expr(&k.expr, &named))
                    .collect()
            }
            _ => Ok(vec![]),
        }
    }
}

/// Splits rows into groups by the GROUP BY key, in order of first appearance; GROUP BY treats NULLs as equal.
fn groups_of(
    env: Env,
    scope: Option<RowScope>,
    group_by: &[Expr],
    data: &[Vec<Value>],
) -> Res<Vec<Vec<usize>>> {
    if group_by.is_empty() {
        return Ok(vec![(0..data.len()).collect()]);
    }
    let mut groups: Vec<Vec<usize>> = vec![];
    let mut index: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for (i, row) in data.iter().enumerate() {
        let mut ctx = env.ctx(scope, Some(row));
        let mut key = vec![];
        for e in group_by {
            key.push(eval(e, &mut ctx)?);
        }
        let canonical: Vec<String> = key.iter().map(group_text).collect();
        match index.get(&canonical) {
            Some(g) => groups[*g].push(i),
            None => {
                index.insert(canonical, groups.len());
                groups.push(vec![i]);
            }
        }
    }
    Ok(groups)
}

/// Each aggregate's value over one group's rows, keyed by the call's SQL text.
fn aggregate_group(
    env: Env,
    scope: Option<RowScope>,
    aggs: &[&Function],
    data: &[Vec<Value>],
    members: &[usize],
) -> Res<BTreeMap<String, Value>> {
    let mut values = BTreeMap::new();
    for f in aggs {
        let v = match aggregate_arg(f)? {
            None => Value::Int8(members.len() as i64),
            Some(e) => {
                let mut per_row = vec![];
                for i in members {
                    let mut ctx = env.ctx(scope, Some(&data[*i]));
                    per_row.push(eval(e, &mut ctx)?);
                }
                if aggregate_distinct(f) {
                    let mut seen = BTreeSet::new();
                    per_row.retain(|v| v.is_null() || seen.insert(group_text(v)));
                }
                aggregate(f, per_row, false)?
            }
        };
        values.insert(f.to_string(), v);
    }
    Ok(values)
}

/// What a SELECT's evaluation needs besides its rows.
struct Eval<'a, 'q> {
    env: Env<'a>,
    plan: &'a SelectPlan<'q>,
    shape: &'a Shape<'q>,
    scope: Option<RowScope<'a>>,
    /// ORDER BY for grouped rows, resolved against the select list.
    order_exprs: Vec<Expr>,
}

impl Eval<'_, '_> {
    /// A grouped SELECT, or one without FROM: one output row per group that passes HAVING (and WHERE, without FROM), sorted by ORDER BY.
    fn groups(&self, data: &[Vec<Value>], hook: &mut Hook) -> Res<Vec<Vec<Value>>> {
        let (env, shape, select) = (self.env, self.shape, self.plan.select);
        let mut keyed: Vec<(Vec<Value>, Vec<Value>)> = vec![];
        for members in groups_of(env, self.scope, &shape.group_by, data)? {
            let values = aggregate_group(env, self.scope, &shape.aggs, data, &members)?;
            let first = members.first().map(|i| data[*i].as_slice());
            let mut ctx = env.ctx(self.scope, first);
            ctx.aggregates = Some(&values);
            if self.scope.is_none() {
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
            for e in &self.order_exprs {
                order_key.push(eval(e, &mut ctx)?);
            }
            ctx.hook = Some(&mut *hook);
            let projected = project(&shape.proj, &mut ctx)?;
            keyed.push((order_key, projected));
        }
        sort_keyed(&mut keyed, &shape.order_keys[..self.order_exprs.len()])?;
        Ok(keyed.into_iter().map(|(_, row)| row).collect())
    }

    /// A plain SELECT's rows, already sorted: the select list of each; DISTINCT removes duplicates before OFFSET and LIMIT count rows.
    fn rows(&self, data: &[Vec<Value>], distinct: bool, hook: &mut Hook) -> Res<Vec<Vec<Value>>> {
        let (skip, take) = if distinct {
            (0, usize::MAX)
        } else {
            (self.plan.offset, self.plan.limit.unwrap_or(usize::MAX))
        };
        let mut out = vec![];
        for row in data.iter().skip(skip).take(take) {
            let mut ctx = self.env.ctx(self.scope, Some(row));
            ctx.hook = Some(&mut *hook);
            out.push(project(&self.shape.proj, &mut ctx)?);
        }
        Ok(out)
    }
}

impl Engine {
    pub(super) fn run_select(
        &mut self,
        env: Env,
        stmt: &Arc<Statement>,
        snap: Option<Snapshot>,
    ) -> Result<Step, PgError> {
        let Statement::Query(query) = &**stmt else {
            unreachable!("dispatched on Query")
        };
        let plan = plan_select(query, env.params)?;
        let snap = match snap {
            Some(s) => s,
            None => self.statement_snapshot(env.session),
        };
        let tx = self.tx_ref(env.session).clone();
        check_lockable(&plan)?;
        // With no table, a locking clause locks nothing, as in PostgreSQL.
        let Some((name, alias)) = plan.table.clone() else {
            if !plan.joins.is_empty() {
                if plan.lock.is_some() {
                    return Err(unsupported("locking clauses with joins"));
                }
                let source = self.join_rows(env, &plan, &snap, &tx)?;
                return self.select_rows(env, stmt, &plan, source, &snap);
            }
            return self.select_rows(env, stmt, &plan, Source::Nothing, &snap);
        };
        let selection = plan.select.selection.as_ref();
        let rows = self.scan(env, &name, alias.as_deref(), selection, &snap)?;
        let Some((mode, nonblock)) = plan.lock else {
            let source = Source::Table { name, alias, rows };
            return self.select_rows(env, stmt, &plan, source, &snap);
        };
        if tx.read_only && mode == LockMode::Exclusive {
            return Err(read_only_error("SELECT FOR UPDATE"));
        }
        // A locking SELECT locks its rows one by one, in ORDER BY order, as a DML statement does.
        let table = self.table_ref(env.session, &name)?;
        let infos = table.infos();
        let scope = RowScope::table(&name, alias.as_deref(), &infos);
        let ordered = order_rows(env, &plan, scope, table, rows)?;
        let kind = DmlKind::Lock(mode, nonblock);
        let mut state = DmlState::new(Arc::clone(stmt), kind, table, snap, ordered);
        state.limit = plan.limit;
        state.offset = plan.offset;
        self.continue_dml(env, state)
    }

    /// The names a SELECT's expressions may use, and its rows before grouping and sorting.
    fn select_names(&self, session: SessionId, source: Source) -> Result<(Names, Rows), PgError> {
        Ok(match source {
            Source::Joined { infos, quals, data } => {
                let table = quals.first().map(|q| q.table.clone()).unwrap_or_default();
                let names = Names {
                    table,
                    alias: None,
                    infos,
                    quals,
                    has_from: true,
                };
                (names, Rows::Joined(data))
            }
            Source::Table { name, alias, rows } => {
                let names = Names {
                    infos: self.table_ref(session, &name)?.infos(),
                    table: name,
                    alias,
                    quals: vec![],
                    has_from: true,
                };
                (names, Rows::Table(rows))
            }
            Source::Nothing => {
                let names = Names {
                    table: String::new(),
                    alias: None,
                    infos: vec![],
                    quals: vec![],
                    has_from: false,
                };
                (names, Rows::Nothing)
            }
        })
    }

    /// A plain SELECT: filters, aggregates, sorts, limits and projects; advisory functions may make it wait.
    fn select_rows(
        &mut self,
        env: Env,
        stmt: &Arc<Statement>,
        plan: &SelectPlan,
        source: Source,
        snap: &Snapshot,
    ) -> Result<Step, PgError> {
        let distinct = matches!(
            plan.select.distinct,
            Some(sqlparser::ast::Distinct::Distinct)
        );
        let (names, rows) = self.select_names(env.session, source)?;
        let shape = select_shape(plan, &names)?;
        let scope = names.scope();
        let data: Vec<Vec<Value>> = match rows {
            Rows::Joined(data) if shape.grouped => data,
            Rows::Joined(data) => order_data(env, plan, scope.expect("a join has tables"), data)?,
            Rows::Table(rows) => {
                let t = self.table_ref(env.session, &names.table)?;
                let ordered = if shape.grouped {
                    rows
                } else {
                    order_rows(env, plan, scope.expect("a table"), t, rows)?
                };
                ordered.iter().map(|i| t.tuples[*i].data.clone()).collect()
            }
            // A SELECT without FROM has one row with no columns; aggregates see it once.
            Rows::Nothing => vec![vec![]],
        };
        shape.check_names(env.params, scope)?;
        let order_exprs = shape.group_order(plan, scope)?;
        let session = &self.sessions[&env.session];
        let (pid, database) = (session.pid, session.database.clone());
        let mut builtins = Builtins {
            advisory: &mut self.advisory,
            rng: &mut self.uuid_rng,
            session: env.session,
            pid,
            database,
            acquired: vec![],
            released: false,
            notices: vec![],
        };
        let mut hook = |name: &str, args: &[Value]| builtins.call(name, args);
        let eval = Eval {
            env,
            plan,
            shape: &shape,
            scope,
            order_exprs,
        };
        let outcome = if shape.grouped || !names.has_from {
            eval.groups(&data, &mut hook)
        } else {
            eval.rows(&data, distinct, &mut hook)
        };
        let Builtins {
            acquired,
            released,
            notices,
            ..
        } = builtins;
        let mut out_rows = match outcome {
            Ok(rows) => rows,
            Err(Flow::Error(e)) => {
                self.undo_advisory(env.session, &acquired);
                return Err(e);
            }
            Err(Flow::Block(target)) => {
                self.undo_advisory(env.session, &acquired);
                return Ok(Step::Blocked(
                    Current::Restart(Arc::clone(stmt), *snap),
                    target,
                ));
            }
        };
        if distinct {
            let mut seen = BTreeSet::new();
            out_rows.retain(|row| seen.insert(row.iter().map(group_text).collect::<Vec<_>>()));
        }
        if shape.grouped || !names.has_from || distinct {
            out_rows = out_rows
                .into_iter()
                .skip(plan.offset)
                .take(plan.limit.unwrap_or(usize::MAX))
                .collect();
        }
        if released {
            self.wake();
        }
        let mut columns = shape.proj.columns;
        refine_types(&mut columns, &out_rows);
        Ok(Step::Done(Box::new(QueryResult {
            tag: format!("SELECT {}", out_rows.len()),
            columns,
            rows: out_rows,
            notices,
        })))
    }
}

/// A SELECT's rows before grouping and sorting.
enum Rows {
    Nothing,
    Table(Vec<usize>),
    Joined(Vec<Vec<Value>>),
}
