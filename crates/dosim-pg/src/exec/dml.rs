//! UPDATE, DELETE and locking SELECTs, and what INSERT shares with them: row by row, each row locked or waited for, resumable where a row made the statement wait.

use std::cmp::Ordering;
use std::sync::Arc;

use sqlparser::ast::{
    Assignment, AssignmentTarget, Delete, Expr, FromTable, NonBlock, OnConflict, OnInsert,
    SelectItem, SetExpr, Statement, TableFactor, Update,
};

use super::constraints::{
    check_constraints, check_not_null, unique_violation, FkCheck, UniqueCheck,
};
use super::insert::assign_from;
use super::project::{project, projection};
use super::select::plan_select;
use super::{flow_to_step_err, no_column_in, read_only_error, Current, Env};
use crate::engine::{Engine, LockMode, Snapshot, Step, Table, Tuple};
use crate::error::{sqlstate, PgError};
use crate::eval::{
    eval, eval_condition, ident_name, object_name, unsupported, ColumnInfo, RowScope,
};
use crate::value::Value;
use crate::{Isolation, QueryResult, TxId, WaitFor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DmlKind {
    Update,
    Delete,
    Lock(LockMode, Option<NonBlock>),
    Insert,
}

/// A DML statement part-way through: what it targets, where it stands, and what it has done.
#[derive(Debug)]
pub(crate) struct DmlState {
    /// Shared with the parse memo.
    pub(super) stmt: Arc<Statement>,
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

impl DmlState {
    /// A statement of `kind` on `table` that has not yet touched any of its `targets`.
    pub(super) fn new(
        stmt: Arc<Statement>,
        kind: DmlKind,
        table: &Table,
        snap: Snapshot,
        targets: Vec<usize>,
    ) -> DmlState {
        DmlState {
            stmt,
            kind,
            table_id: table.id,
            table: table.name.clone(),
            snap,
            targets,
            rows: vec![],
            pos: 0,
            out: vec![],
            count: 0,
            limit: None,
            offset: 0,
            skipped: 0,
            touched: vec![],
        }
    }
}

/// Where a row stands for a writer or locker, PostgreSQL's `TM_Result`.
pub(super) enum RowCheck {
    Free,
    Wait(TxId),
    SelfModified,
    Updated(usize),
    Deleted,
}

/// What to do after one target row.
pub(super) enum RowStep {
    /// Go on with the next target.
    Next,
    /// Try the same target again: the row it conflicted with changed.
    Again,
    /// Wait for this transaction to end, then try the same target again.
    Wait(TxId),
}

/// How writing a row version ended: at its tuple index, or waiting for a transaction.
pub(super) enum Written {
    At(usize),
    Wait(TxId),
}

/// The version of a target row an UPDATE, DELETE or lock takes, after following its update chain.
enum Chosen {
    Version {
        idx: usize,
        old: Vec<Value>,
        /// An UPDATE's new row, computed from `old`.
        new: Option<Vec<Value>>,
    },
    /// The row is gone, locked and skipped, or no longer matches.
    Skip,
    Wait(TxId),
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

pub(super) fn concurrent_update() -> PgError {
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

/// The clauses of a DML statement (or locking SELECT) its rows need.
pub(super) struct DmlParts {
    pub(super) where_expr: Option<Expr>,
    pub(super) returning: Option<Vec<SelectItem>>,
    /// An UPDATE's SET list; empty for the others.
    pub(super) assignments: Vec<Assignment>,
    pub(super) alias: Option<String>,
    pub(super) on_conflict: Option<OnConflict>,
}

/// The alias of a FROM item that names a table.
fn table_alias(relation: &TableFactor) -> Option<String> {
    match relation {
        TableFactor::Table { alias, .. } => alias.as_ref().map(|a| ident_name(&a.name)),
        _ => None,
    }
}

fn dml_parts(stmt: &Statement) -> DmlParts {
    let mut parts = DmlParts {
        where_expr: None,
        returning: None,
        assignments: vec![],
        alias: None,
        on_conflict: None,
    };
    match stmt {
        Statement::Update(up) => {
            parts.alias = table_alias(&up.table.relation);
            parts.where_expr = up.selection.clone();
            parts.returning = up.returning.clone();
            parts.assignments = up.assignments.clone();
        }
        Statement::Delete(del) => {
            parts.alias = match &del.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => {
                    t.first().and_then(|twj| table_alias(&twj.relation))
                }
            };
            parts.where_expr = del.selection.clone();
            parts.returning = del.returning.clone();
        }
        Statement::Insert(ins) => {
            if let Some(OnInsert::OnConflict(oc)) = &ins.on {
                parts.on_conflict = Some(oc.clone());
            }
            parts.returning = ins.returning.clone();
        }
        Statement::Query(q) => {
            if let SetExpr::Select(s) = q.body.as_ref() {
                parts.where_expr = s.selection.clone();
                parts.alias = s.from.first().and_then(|twj| table_alias(&twj.relation));
            }
        }
        _ => {}
    }
    parts
}

/// What every row of one DML statement shares, worked out afresh each time the statement runs on.
pub(super) struct Dml<'e> {
    pub(super) env: Env<'e>,
    pub(super) table: String,
    pub(super) table_id: u64,
    pub(super) infos: Vec<ColumnInfo>,
    pub(super) parts: DmlParts,
    /// The transaction, which owns rows its savepoints wrote too.
    pub(super) me: TxId,
    /// The id new row versions and locks get: the innermost savepoint's, else the transaction's.
    pub(super) wxid: TxId,
    /// The statement's command id.
    pub(super) cid: u32,
    pub(super) isolation: Isolation,
    pub(super) versions_max: usize,
}

impl Dml<'_> {
    /// The table's columns, under its name and the statement's alias for it.
    pub(super) fn scope(&self) -> RowScope<'_> {
        RowScope::table(&self.table, self.parts.alias.as_deref(), &self.infos)
    }

    /// One RETURNING row for `row`.
    fn returning_row(&self, items: &[SelectItem], row: &[Value]) -> Result<Vec<Value>, PgError> {
        let scope = self.scope();
        let proj = projection(items, Some(&scope))?;
        let mut ctx = self.env.row_ctx(scope, row);
        project(&proj, &mut ctx).map_err(flow_to_step_err)
    }

    /// The row an UPDATE (or ON CONFLICT DO UPDATE, with `excluded`) makes from `old`, with assignment casts, NOT NULL and CHECK checked.
    pub(super) fn assigned_row(
        &self,
        assignments: &[Assignment],
        table: &Table,
        old: &[Value],
        excluded: Option<&[Value]>,
    ) -> Result<Vec<Value>, PgError> {
        let mut new = old.to_vec();
        let mut seen = vec![];
        for a in assignments {
            let AssignmentTarget::ColumnName(col) = &a.target else {
                return Err(unsupported("tuple assignments"));
            };
            let cname = object_name(col);
            let i = self
                .infos
                .iter()
                .position(|c| c.name == cname)
                .ok_or_else(|| no_column_in(&self.table, &cname))?;
            if seen.contains(&i) {
                return Err(PgError::new(
                    sqlstate::SYNTAX_ERROR,
                    format!("multiple assignments to same column \"{cname}\""),
                ));
            }
            seen.push(i);
            let is_default = matches!(&a.value, Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"));
            let typed = !is_default && !crate::eval::untyped(&a.value);
            let expr = if is_default {
                table.columns[i].default.as_ref()
            } else {
                Some(&a.value)
            };
            let v = match expr {
                Some(e) => {
                    let mut ctx = self.env.row_ctx(self.scope(), old);
                    ctx.excluded = excluded;
                    eval(e, &mut ctx).map_err(flow_to_step_err)?
                }
                None => Value::Null,
            };
            new[i] = assign_from(v, &self.infos[i], typed)?;
        }
        check_not_null(table, &new)?;
        check_constraints(table, &new)?;
        Ok(new)
    }
}

impl Engine {
    pub(super) fn start_dml(&mut self, env: Env, stmt: Arc<Statement>) -> Result<Step, PgError> {
        let what = match &*stmt {
            Statement::Insert(_) => "INSERT",
            Statement::Update(_) => "UPDATE",
            _ => "DELETE",
        };
        if self.tx_ref(env.session).read_only {
            return Err(read_only_error(what));
        }
        let snap = self.statement_snapshot(env.session);
        let tx = self.tx_ref(env.session).clone();
        let db = self.db_name(env.session);
        let (kind, table_name, targets, rows) = match &*stmt {
            Statement::Insert(ins) => {
                let (table_name, rows) = self.insert_targets(env, &stmt, ins)?;
                let n = rows.len();
                (DmlKind::Insert, table_name, (0..n).collect(), rows)
            }
            Statement::Update(up) => {
                let (table_name, targets) = self.update_targets(env, up, &snap)?;
                (DmlKind::Update, table_name, targets, vec![])
            }
            Statement::Delete(del) => {
                let (table_name, targets) = self.delete_targets(env, del, &snap)?;
                (DmlKind::Delete, table_name, targets, vec![])
            }
            _ => unreachable!("dispatched on DML"),
        };
        let table = self.table_ref(env.session, &table_name)?;
        let mut state = DmlState::new(stmt, kind, table, snap, targets);
        state.rows = rows;
        self.ssi_note(&tx, &db, &table_name, true)?;
        self.continue_dml(env, state)
    }

    /// An UPDATE's table and the rows its WHERE matches.
    fn update_targets(
        &mut self,
        env: Env,
        up: &Update,
        snap: &Snapshot,
    ) -> Result<(String, Vec<usize>), PgError> {
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
        let table = self.table_ref(env.session, &table_name)?;
        for a in &up.assignments {
            let AssignmentTarget::ColumnName(col) = &a.target else {
                return Err(unsupported("tuple assignments"));
            };
            let cname = object_name(col);
            if table.column_index(&cname).is_none() {
                return Err(no_column_in(&table_name, &cname));
            }
        }
        let selection = up.selection.as_ref();
        let targets = self.scan(env, &table_name, alias.as_deref(), selection, snap)?;
        Ok((table_name, targets))
    }

    /// A DELETE's table and the rows its WHERE matches.
    fn delete_targets(
        &mut self,
        env: Env,
        del: &Delete,
        snap: &Snapshot,
    ) -> Result<(String, Vec<usize>), PgError> {
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
        let selection = del.selection.as_ref();
        let targets = self.scan(env, &table_name, alias.as_deref(), selection, snap)?;
        Ok((table_name, targets))
    }

    /// PostgreSQL's `heap_lock_tuple` / `heap_update` check: may this transaction take the row?
    pub(super) fn check_row(
        &self,
        table: &Table,
        idx: usize,
        me: TxId,
        mode: LockMode,
    ) -> RowCheck {
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
    pub(super) fn continue_dml(&mut self, env: Env, mut st: DmlState) -> Result<Step, PgError> {
        let tx = self.tx_ref(env.session);
        let d = Dml {
            env,
            me: tx.top,
            wxid: tx.write_xid(),
            cid: st.snap.cid,
            isolation: tx.isolation,
            versions_max: self.config.row_versions_max,
            parts: dml_parts(&st.stmt),
            infos: self
                .table_by_id_ref(env.session, &st.table, st.table_id)?
                .infos(),
            table: st.table.clone(),
            table_id: st.table_id,
        };
        while st.pos < st.targets.len() {
            if let DmlKind::Lock(..) = st.kind {
                if st.limit.is_some_and(|l| st.out.len() >= l) {
                    break;
                }
            }
            let next = match st.kind {
                DmlKind::Insert => self.insert_one(&d, &mut st)?,
                _ => self.modify_one(&d, &mut st)?,
            };
            match next {
                RowStep::Next => st.pos += 1,
                RowStep::Again => {}
                RowStep::Wait(x) => {
                    return Ok(Step::Blocked(
                        Current::Dml(Box::new(st)),
                        WaitFor::Transaction(x),
                    ))
                }
            }
        }
        self.dml_result(&d, st)
    }

    /// Updates, deletes or locks one target row, in the version its update chain leads to.
    fn modify_one(&mut self, d: &Dml, st: &mut DmlState) -> Result<RowStep, PgError> {
        let (idx, old, new) = match self.choose_version(d, st)? {
            Chosen::Version { idx, old, new } => (idx, old, new),
            Chosen::Skip => return Ok(RowStep::Next),
            Chosen::Wait(x) => return Ok(RowStep::Wait(x)),
        };
        match st.kind {
            DmlKind::Lock(mode, _) => {
                if st.skipped < st.offset {
                    st.skipped += 1;
                } else {
                    st.out.push(old);
                }
                let t = self.table_by_id(d.env.session, &d.table, d.table_id)?;
                let lockers = &mut t.tuples[idx].lockers;
                if !lockers.iter().any(|(x, m)| *x == d.wxid && *m >= mode) {
                    lockers.push((d.wxid, mode));
                }
                Ok(RowStep::Next)
            }
            DmlKind::Delete => self.delete_version(d, st, idx, old),
            DmlKind::Update => {
                let new = new.expect("computed for the chosen version");
                Ok(match self.write_version(d, st, Some((idx, &old)), new)? {
                    Written::At(_) => RowStep::Next,
                    Written::Wait(x) => RowStep::Wait(x),
                })
            }
            DmlKind::Insert => unreachable!("an INSERT's rows go through insert_one"),
        }
    }

    /// Follows a target row's update chain to the version this statement may take, re-checking WHERE on newer versions under READ COMMITTED (EvalPlanQual).
    ///
    /// An UPDATE computes its new row, and checks NOT NULL and CHECK on it, before it waits, as PostgreSQL's ExecUpdate does.
    fn choose_version(&self, d: &Dml, st: &DmlState) -> Result<Chosen, PgError> {
        let table = self.table_by_id_ref(d.env.session, &d.table, d.table_id)?;
        let nonblock = match st.kind {
            DmlKind::Lock(_, nb) => nb,
            _ => None,
        };
        let mut idx = st.targets[st.pos];
        loop {
            let mut new = None;
            let mode = match st.kind {
                DmlKind::Lock(m, _) => m,
                DmlKind::Update => {
                    let old = &table.tuples[idx].data;
                    let row = d.assigned_row(&d.parts.assignments, table, old, None)?;
                    let mode = update_mode(table, old, &row);
                    new = Some(row);
                    mode
                }
                _ => LockMode::Exclusive,
            };
            match self.check_row(table, idx, d.me, mode) {
                RowCheck::Free => {
                    let old = table.tuples[idx].data.clone();
                    return Ok(Chosen::Version { idx, old, new });
                }
                RowCheck::SelfModified => return Ok(Chosen::Skip),
                RowCheck::Wait(x) => {
                    return match nonblock {
                        Some(NonBlock::Nowait) => Err(PgError::new(
                            sqlstate::LOCK_NOT_AVAILABLE,
                            format!("could not obtain lock on row in relation \"{}\"", d.table),
                        )),
                        Some(NonBlock::SkipLocked) => Ok(Chosen::Skip),
                        None => Ok(Chosen::Wait(x)),
                    }
                }
                RowCheck::Updated(next) => {
                    if d.isolation != Isolation::ReadCommitted {
                        return Err(concurrent_update());
                    }
                    let passes = match &d.parts.where_expr {
                        None => true,
                        Some(cond) => {
                            let mut ctx = d.env.row_ctx(d.scope(), &table.tuples[next].data);
                            eval_condition(cond, &mut ctx, "WHERE").map_err(flow_to_step_err)?
                        }
                    };
                    if !passes {
                        return Ok(Chosen::Skip);
                    }
                    idx = next;
                }
                RowCheck::Deleted => {
                    if d.isolation != Isolation::ReadCommitted {
                        return Err(match st.kind {
                            DmlKind::Lock(..) => concurrent_update(),
                            _ => concurrent_delete(),
                        });
                    }
                    return Ok(Chosen::Skip);
                }
            }
        }
    }

    /// Deletes version `idx`, once no child row of another transaction still references it.
    fn delete_version(
        &mut self,
        d: &Dml,
        st: &mut DmlState,
        idx: usize,
        old: Vec<Value>,
    ) -> Result<RowStep, PgError> {
        let session = d.env.session;
        let table = self.table_by_id_ref(session, &d.table, d.table_id)?;
        if let Some(x) = self.fk_children(session, table, &old, None, Some(idx))? {
            return Ok(RowStep::Wait(x));
        }
        self.note_deleted(crate::engine::row_bytes(&old));
        let t = &mut self.table_by_id(session, &d.table, d.table_id)?.tuples[idx];
        t.xmax = Some(d.wxid);
        t.xmax_mode = LockMode::Exclusive;
        t.cmax = d.cid;
        t.next = None;
        st.count += 1;
        if let Some(items) = &d.parts.returning {
            st.out.push(d.returning_row(items, &old)?);
        }
        Ok(RowStep::Next)
    }

    /// Writes a new row version: an inserted row, or (with `replaces`, the old version's index and data) the successor an UPDATE makes.
    ///
    /// A successor must keep every unique key unique and no child row may still reference a key it changes; both check first.
    /// Then the row's foreign keys must find their parent rows, which it locks FOR KEY SHARE.
    /// Each check may make the statement wait; only then is the version written, counted and returned.
    pub(super) fn write_version(
        &mut self,
        d: &Dml,
        st: &mut DmlState,
        replaces: Option<(usize, &[Value])>,
        new: Vec<Value>,
    ) -> Result<Written, PgError> {
        let session = d.env.session;
        let table = self.table_by_id_ref(session, &d.table, d.table_id)?;
        if let Some((idx, _)) = replaces {
            let all: Vec<usize> = (0..table.uniques.len()).collect();
            match self.check_unique(table, &new, d.me, Some(idx), &all) {
                UniqueCheck::Wait(x) => return Ok(Written::Wait(x)),
                UniqueCheck::Conflict { index, .. } => {
                    return Err(unique_violation(table, index, &new))
                }
                UniqueCheck::Ok => {}
            }
        }
        if table.tuples.len() >= d.versions_max {
            return Err(too_many_versions(&d.table, d.versions_max));
        }
        let old = replaces.map(|(_, old)| old);
        let parents = match self.fk_parents(session, table, &new, old, d.me)? {
            FkCheck::Wait(x) => return Ok(Written::Wait(x)),
            FkCheck::Found(found) => found,
        };
        if let Some((idx, old)) = replaces {
            if let Some(x) = self.fk_children(session, table, old, Some(&new), Some(idx))? {
                return Ok(Written::Wait(x));
            }
        }
        self.fk_lock_parents(session, &parents, d.wxid);
        let at = self.push_version(d, replaces.map(|(idx, _)| idx), new.clone())?;
        st.count += 1;
        if let Some(items) = &d.parts.returning {
            st.out.push(d.returning_row(items, &new)?);
        }
        Ok(Written::At(at))
    }

    /// Appends a row version, as the successor of version `replaces` if given, and returns its index.
    fn push_version(
        &mut self,
        d: &Dml,
        replaces: Option<usize>,
        data: Vec<Value>,
    ) -> Result<usize, PgError> {
        let session = d.env.session;
        let t = self.table_by_id_ref(session, &d.table, d.table_id)?;
        let (mode, carried) = match replaces {
            None => (LockMode::Exclusive, vec![]),
            Some(idx) => {
                let mode = update_mode(t, &t.tuples[idx].data, &data);
                // A key share lock survives an update that leaves the key alone, as PostgreSQL carries it to the new version.
                let carried: Vec<(TxId, LockMode)> = if mode == LockMode::NoKeyExclusive {
                    t.tuples[idx]
                        .lockers
                        .iter()
                        .filter(|(x, m)| {
                            *m == LockMode::KeyShare
                                && self.xid_state(*x) == crate::engine::XidState::Active
                        })
                        .map(|(x, _)| (*x, LockMode::KeyShare))
                        .collect()
                } else {
                    vec![]
                };
                (mode, carried)
            }
        };
        self.reserve_row(crate::engine::row_bytes(&data))?;
        let t = self.table_by_id(session, &d.table, d.table_id)?;
        let new_idx = t.push_tuple(Tuple {
            xmin: d.wxid,
            cmin: d.cid,
            xmax: None,
            cmax: 0,
            next: None,
            xmax_mode: LockMode::Exclusive,
            data,
            lockers: carried,
        });
        let Some(idx) = replaces else {
            return Ok(new_idx);
        };
        let old = &mut t.tuples[idx];
        old.xmax = Some(d.wxid);
        old.xmax_mode = mode;
        old.cmax = d.cid;
        old.next = Some(new_idx);
        Ok(new_idx)
    }

    /// A finished DML statement's result: its tag and RETURNING rows, or a locking SELECT's rows.
    fn dml_result(&self, d: &Dml, st: DmlState) -> Result<Step, PgError> {
        let scope = d.scope();
        let (tag, columns, rows) = match st.kind {
            DmlKind::Lock(..) => {
                let Statement::Query(q) = &*st.stmt else {
                    unreachable!("locking SELECT")
                };
                let plan = plan_select(q, d.env.params)?;
                let proj = projection(&plan.select.projection, Some(&scope))?;
                let mut rows = vec![];
                for data in &st.out {
                    let mut ctx = d.env.row_ctx(scope, data);
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
                let columns = match &d.parts.returning {
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
            notices: vec![],
        })))
    }
}
