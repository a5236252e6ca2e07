//! INSERT, UPDATE, DELETE and locking SELECTs: row by row, each row locked or waited for, resumable where a row made the statement wait.

use std::cmp::Ordering;

use sqlparser::ast::{
    AssignmentTarget, Expr, FromTable, NonBlock, OnConflictAction, OnInsert, SelectItem, SetExpr,
    Statement, TableFactor, TableObject,
};

use super::constraints::{
    arbiter_order, check_constraints, check_not_null, unique_violation, FkCheck, UniqueCheck,
};
use super::project::{project, projection};
use super::select::plan_select;
use super::{
    flow_to_step_err, not_supported_statement, read_only_error, row_ctx, undefined_table, Current,
};
use crate::engine::{unix_us, Engine, LockMode, Snapshot, Step, Table, Tuple, Tx};
use crate::error::{sqlstate, PgError};
use crate::eval::{
    eval, eval_condition, ident_name, object_name, unsupported, ColumnInfo, Ctx, RowScope,
};
use crate::value::{SqlType, Value};
use crate::{Isolation, Notice, QueryResult, SessionId, TxId, WaitFor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DmlKind {
    Update,
    Delete,
    Lock(LockMode, Option<NonBlock>),
    Insert,
}

#[derive(Debug)]
pub(crate) struct DmlState {
    pub(super) stmt: Statement,
    pub(super) kind: DmlKind,
    pub(super) table_id: u64,
    pub(super) table: String,
    pub(super) snap: Snapshot,
    /// Tuple indexes for UPDATE, DELETE and locking SELECTs; row numbers into `rows` for INSERT.
    pub(super) targets: Vec<usize>,
    pub(super) rows: Vec<Vec<Value>>,
    pub(super) pos: usize,
    /// RETURNING rows, or a locking SELECT's locked rows before projection.
    pub(super) out: Vec<Vec<Value>>,
    pub(super) count: u64,
    /// A locking SELECT's LIMIT and OFFSET, applied to rows as they get locked, as PostgreSQL's LockRows does.
    pub(super) limit: Option<usize>,
    pub(super) offset: usize,
    pub(super) skipped: usize,
    /// Tuples this INSERT … ON CONFLICT DO UPDATE already updated, to refuse a second touch.
    pub(super) touched: Vec<usize>,
}

/// Where a row stands for a writer or locker, PostgreSQL's `TM_Result`.
enum RowCheck {
    Free,
    Wait(TxId),
    SelfModified,
    Updated(usize),
    Deleted,
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

fn too_many_versions(table: &str, max: usize) -> PgError {
    PgError::new(
        sqlstate::PROGRAM_LIMIT_EXCEEDED,
        format!("table \"{table}\" holds {max} row versions, dosim's limit; finish open transactions so old versions can be vacuumed"),
    )
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

impl Engine {
    pub(super) fn start_dml(
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

    /// Runs a DML statement's remaining rows; returns `Blocked` with the state to resume when a row is locked.
    pub(super) fn continue_dml(
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
