//! SELECT: planning its clauses, joins, filtering, grouping and aggregates, and the advisory functions that may make it wait.

use std::collections::BTreeMap;

use sqlparser::ast::{
    Expr, GroupByExpr, LimitClause, LockType, NonBlock, OrderByKind, Query, SelectItem, SetExpr,
    Statement, TableFactor,
};

use super::advisory::advisory_call;
use super::dml::{DmlKind, DmlState};
use super::project::{
    group_text, order_data, project, projection, projection_exprs, refine_types,
    resolve_order_expr, sort_keyed, ProjItem,
};
use super::{flow_to_step_err, read_only_error, Current};
use crate::engine::{unix_us, Engine, LockMode, Snapshot, Step, Tx};
use crate::error::{sqlstate, PgError};
use crate::eval::{
    aggregate, aggregate_arg, check_names, collect_aggregates, eval, eval_condition, ident_name,
    object_name, output_name, unsupported, ColumnInfo, Ctx, Flow, Qual, Res, RowScope,
};
use crate::value::{SqlType, Value};
use crate::{AdvisoryKey, Notice, QueryResult, SessionId};

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

pub(super) struct SelectPlan<'q> {
    pub(super) query: &'q Query,
    pub(super) select: &'q sqlparser::ast::Select,
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
pub(super) enum JoinKind {
    Inner,
    Left,
    Cross,
}

/// One FROM item of a join and how it joins the items before it.
#[derive(Clone, Debug)]
pub(super) struct FromItem {
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
pub(super) enum Source {
    Tuples(Vec<usize>),
    Joined {
        infos: Vec<ColumnInfo>,
        quals: Vec<Qual>,
        data: Vec<Vec<Value>>,
    },
}

impl Engine {
    pub(super) fn run_select(
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
}
