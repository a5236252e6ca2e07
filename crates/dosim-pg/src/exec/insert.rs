//! INSERT: its VALUES made into full rows (defaults, serials, assignment casts), and each row written or resolved by ON CONFLICT.

use sqlparser::ast::{
    DoUpdate, Expr, Insert, OnConflictAction, OnInsert, SetExpr, Statement, TableObject,
};

use super::constraints::{
    arbiter_order, check_constraints, check_not_null, unique_violation, UniqueCheck,
};
use super::dml::{concurrent_update, Dml, DmlState, RowCheck, RowStep, Written};
use super::{flow_to_step_err, no_column_in, not_supported_statement, undefined_table, Env};
use crate::engine::{gen_random_uuid, Engine, LockMode, Table};
use crate::error::{sqlstate, PgError};
use crate::eval::{eval, eval_condition, object_name, unsupported, ColumnInfo, Hook};
use crate::value::{SqlType, Value};
use crate::Isolation;

/// Converts a value for storage in a column: PostgreSQL's assignment casts, and its refusal otherwise.
fn assign(value: Value, column: &ColumnInfo) -> Result<Value, PgError> {
    assign_from(value, column, false)
}

/// `assign` for a value whose expression has a type of its own (`typed`): then even text must match.
pub(super) fn assign_from(
    value: Value,
    column: &ColumnInfo,
    typed: bool,
) -> Result<Value, PgError> {
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

/// The columns an INSERT's column list names, in its order; all of them without a list.
fn target_columns(table: &Table, table_name: &str, ins: &Insert) -> Result<Vec<usize>, PgError> {
    if ins.columns.is_empty() {
        return Ok((0..table.columns.len()).collect());
    }
    let mut target_cols: Vec<usize> = vec![];
    for c in &ins.columns {
        let cname = object_name(c);
        let i = table
            .column_index(&cname)
            .ok_or_else(|| no_column_in(table_name, &cname))?;
        if target_cols.contains(&i) {
            return Err(PgError::new(
                sqlstate::DUPLICATE_COLUMN,
                format!("column \"{cname}\" specified more than once"),
            ));
        }
        target_cols.push(i);
    }
    Ok(target_cols)
}

/// The values a statement's serial columns take, for the sequences to advance once every row is made.
struct Serials {
    next: Vec<Option<i64>>,
    used: Vec<(usize, i64)>,
}

/// One VALUES row made whole: its values with assignment casts in `target_cols`, defaults and serials elsewhere; NOT NULL and CHECK checked.
fn complete_row(
    env: Env,
    table: &Table,
    exprs: &[Expr],
    target_cols: &[usize],
    serials: &mut Serials,
    hook: &mut Hook,
) -> Result<Vec<Value>, PgError> {
    let ncols = table.columns.len();
    let mut data: Vec<Option<Value>> = vec![None; ncols];
    for (expr, col) in exprs.iter().zip(target_cols) {
        let is_default = matches!(expr, Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"));
        if is_default {
            continue;
        }
        let mut ctx = env.ctx(None, None);
        ctx.hook = Some(&mut *hook);
        let v = eval(expr, &mut ctx).map_err(flow_to_step_err)?;
        let typed = !crate::eval::untyped(expr);
        data[*col] = Some(assign_from(v, &table.columns[*col].info, typed)?);
    }
    let mut full = Vec::with_capacity(ncols);
    for (i, slot) in data.into_iter().enumerate() {
        let column = &table.columns[i];
        let v = match slot {
            Some(v) => v,
            None => match (&column.default, serials.next[i]) {
                (_, Some(next)) => {
                    serials.next[i] = Some(next + 1);
                    serials.used.push((i, next + 1));
                    Value::Int8(next).coerce(column.info.ty)?
                }
                (Some(e), None) => {
                    let mut ctx = env.ctx(None, None);
                    ctx.hook = Some(&mut *hook);
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
    Ok(full)
}

impl Engine {
    /// An INSERT's table and its rows, made whole.
    pub(super) fn insert_targets(
        &mut self,
        env: Env,
        stmt: &Statement,
        ins: &Insert,
    ) -> Result<(String, Vec<Vec<Value>>), PgError> {
        let TableObject::TableName(name) = &ins.table else {
            return Err(unsupported("INSERT into table functions"));
        };
        let table_name = object_name(name);
        if ins.table_alias.is_some() {
            return Err(unsupported("INSERT table aliases"));
        }
        let rows = self.insert_rows(env, &table_name, ins)?;
        if let Some(OnInsert::DuplicateKeyUpdate(_)) = &ins.on {
            return Err(not_supported_statement(stmt));
        }
        Ok((table_name, rows))
    }

    /// Evaluates an INSERT's VALUES into full rows: defaults, serials, assignment casts, NOT NULL.
    fn insert_rows(
        &mut self,
        env: Env,
        table_name: &str,
        ins: &Insert,
    ) -> Result<Vec<Vec<Value>>, PgError> {
        let rows_max = self.config.rows_per_statement_max;
        // Fields borrowed one by one: the table is read while the UUID generator advances.
        let table = self
            .databases
            .get(&self.sessions[&env.session].database)
            .and_then(|d| d.tables.get(table_name))
            .ok_or_else(|| undefined_table(table_name))?;
        let rng = &mut self.uuid_rng;
        let mut hook = |name: &str, args: &[Value]| gen_random_uuid(rng, name, args);
        let mut target_cols = target_columns(table, table_name, ins)?;
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
        let mut serials = Serials {
            next: table.columns.iter().map(|c| c.serial_next).collect(),
            used: vec![],
        };
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
            out.push(complete_row(
                env,
                table,
                exprs,
                &target_cols,
                &mut serials,
                &mut hook,
            )?);
        }
        // Sequences advance even if the INSERT later fails, as PostgreSQL's nextval does.
        let id = table.id;
        let table = self.table_by_id(env.session, table_name, id)?;
        for (i, next) in serials.used {
            table.columns[i].serial_next = Some(next);
        }
        Ok(out)
    }

    /// Inserts one row, unless a unique key makes it wait or ON CONFLICT resolves it.
    pub(super) fn insert_one(&mut self, d: &Dml, st: &mut DmlState) -> Result<RowStep, PgError> {
        let table = self.table_by_id_ref(d.env.session, &d.table, d.table_id)?;
        let row = st.rows[st.targets[st.pos]].clone();
        let (order, arbiters) = arbiter_order(table, d.parts.on_conflict.as_ref())?;
        let (index, tuple) = match self.check_unique(table, &row, d.me, None, &order) {
            UniqueCheck::Wait(x) => return Ok(RowStep::Wait(x)),
            UniqueCheck::Ok => {
                return Ok(match self.write_version(d, st, None, row)? {
                    Written::At(_) => RowStep::Next,
                    Written::Wait(x) => RowStep::Wait(x),
                })
            }
            UniqueCheck::Conflict { index, tuple } => (index, tuple),
        };
        let Some(oc) = &d.parts.on_conflict else {
            return Err(unique_violation(table, index, &row));
        };
        if !arbiters.contains(&index) {
            return Err(unique_violation(table, index, &row));
        }
        match &oc.action {
            OnConflictAction::DoNothing => {
                // PostgreSQL exempts rows the transaction itself inserted.
                let existing = &table.tuples[tuple];
                if d.isolation != Isolation::ReadCommitted
                    && self.top(existing.xmin) != d.me
                    && !self.visible(existing, &st.snap)
                {
                    return Err(concurrent_update());
                }
                Ok(RowStep::Next)
            }
            OnConflictAction::DoUpdate(du) => self.upsert(d, st, du, &row, tuple),
        }
    }

    /// ON CONFLICT DO UPDATE: updates the conflicting version `tuple` with `row` as `EXCLUDED`, or only locks it when the update's WHERE fails.
    fn upsert(
        &mut self,
        d: &Dml,
        st: &mut DmlState,
        du: &DoUpdate,
        row: &[Value],
        tuple: usize,
    ) -> Result<RowStep, PgError> {
        let table = self.table_by_id_ref(d.env.session, &d.table, d.table_id)?;
        let existing = &table.tuples[tuple];
        let second_touch = || {
            PgError::new(
                sqlstate::CARDINALITY_VIOLATION,
                "ON CONFLICT DO UPDATE command cannot affect row a second time",
            )
        };
        if st.touched.contains(&tuple)
            || (self.top(existing.xmin) == d.me && existing.cmin == d.cid)
        {
            return Err(second_touch().with_hint("Ensure that no rows proposed for insertion within the same command have duplicate constrained values."));
        }
        match self.check_row(table, tuple, d.me, LockMode::Exclusive) {
            RowCheck::Wait(x) => return Ok(RowStep::Wait(x)),
            RowCheck::Updated(_) | RowCheck::Deleted => {
                if d.isolation != Isolation::ReadCommitted {
                    return Err(concurrent_update());
                }
                // The conflicting row changed under us: look for the conflict again.
                return Ok(RowStep::Again);
            }
            RowCheck::SelfModified => return Err(second_touch()),
            RowCheck::Free => {}
        }
        if d.isolation != Isolation::ReadCommitted
            && self.top(existing.xmin) != d.me
            && !self.visible(existing, &st.snap)
        {
            return Err(concurrent_update());
        }
        let old = existing.data.clone();
        let pass = match &du.selection {
            None => true,
            Some(cond) => {
                let mut ctx = d.env.row_ctx(d.scope(), &old);
                ctx.excluded = Some(row);
                eval_condition(cond, &mut ctx, "WHERE").map_err(flow_to_step_err)?
            }
        };
        if !pass {
            let t = self.table_by_id(d.env.session, &d.table, d.table_id)?;
            t.tuples[tuple].lockers.push((d.wxid, LockMode::Exclusive));
            return Ok(RowStep::Next);
        }
        let new = d.assigned_row(&du.assignments, table, &old, Some(row))?;
        Ok(match self.write_version(d, st, Some((tuple, &old)), new)? {
            Written::At(new_idx) => {
                st.touched.push(new_idx);
                RowStep::Next
            }
            Written::Wait(x) => RowStep::Wait(x),
        })
    }
}
