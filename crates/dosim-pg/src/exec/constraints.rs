//! Constraints: NOT NULL, CHECK, unique keys and ON CONFLICT arbiters, and foreign keys, from their definition to the checks each written row passes.

use std::cmp::Ordering;

use sqlparser::ast::{ConflictTarget, OnConflictAction, ReferentialAction};

use super::ddl::{FkSpec, TableDef};
use super::{flow_to_step_err, row_text};
use crate::engine::{Engine, LockMode, Table, Tuple, UniqueIndex, XidState};
use crate::error::{sqlstate, PgError};
use crate::eval::{eval, ident_name, object_name, unsupported, Ctx, RowScope};
use crate::value::Value;
use crate::{SessionId, TxId};

/// The parent row versions a new child row's foreign keys found, to lock, or the transaction to wait for.
pub(super) enum FkCheck {
    Found(Vec<(String, u64, usize)>),
    Wait(TxId),
}

/// Whether two column lists name the same columns, in any order, as a key's columns are matched.
fn same_columns(a: &[usize], b: &[usize]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}

/// Whether two rows hold equal values in `columns`.
fn same_values(columns: &[usize], a: &[Value], b: &[Value]) -> bool {
    columns
        .iter()
        .all(|c| crate::value::compare(&a[*c], &b[*c]) == Some(Ordering::Equal))
}

/// Where a row version stands for a uniqueness or foreign-key check.
enum Newest {
    /// Its inserter aborted, or this transaction or a committed one deleted or replaced it.
    Gone,
    /// Another transaction is inserting it.
    Inserting(TxId),
    /// Another transaction is deleting or replacing it, holding it in this mode.
    Deleting(TxId, LockMode),
    Live,
}

pub(super) enum UniqueCheck {
    Ok,
    Wait(TxId),
    Conflict { index: usize, tuple: usize },
}

pub(super) fn check_not_null(table: &Table, row: &[Value]) -> Result<(), PgError> {
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

/// Evaluates the table's CHECK constraints on a new row: only `false` fails, NULL passes.
pub(super) fn check_constraints(table: &Table, row: &[Value]) -> Result<(), PgError> {
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

pub(super) fn unique_violation(table: &Table, index: usize, row: &[Value]) -> PgError {
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

/// The unique indexes to check, arbiters first, and which of them are arbiters for ON CONFLICT.
pub(super) fn arbiter_order(
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
                    .column_index(&name)
                    .ok_or_else(|| crate::eval::missing_column(None, &name))?;
                wanted.push(i);
            }
            let found: Vec<usize> = table
                .uniques
                .iter()
                .enumerate()
                .filter(|(_, u)| same_columns(&u.columns, &wanted))
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

impl Engine {
    /// Checks a FOREIGN KEY clause of a table being defined and finds the parent's unique key it references.
    pub(super) fn resolve_foreign_key(
        &self,
        session: SessionId,
        def: &TableDef,
        spec: &FkSpec,
    ) -> Result<crate::engine::ForeignKey, PgError> {
        let (table, columns, uniques) = (&def.name, &def.columns, &def.uniques);
        let (fk_name, cols, fk) = (spec.name.clone(), &spec.columns, &spec.constraint);
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
        let (parent_columns, parent_uniques): (Vec<String>, Vec<UniqueIndex>) = if parent == *table
        {
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
        let matches_unique = parent_uniques
            .iter()
            .any(|u| same_columns(&u.columns, &referenced));
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

    /// For each foreign key of `table` that `row` sets (or, given `old`, changes) to a non-NULL key: the newest live parent version holding it, as PostgreSQL's RI check finds it, waiting on a parent row being inserted or deleted.
    pub(super) fn fk_parents(
        &self,
        session: SessionId,
        table: &Table,
        row: &[Value],
        old: Option<&[Value]>,
        me: TxId,
    ) -> Result<FkCheck, PgError> {
        let mut found = vec![];
        for fk in &table.foreign_keys {
            if fk.columns.iter().any(|c| row[*c].is_null()) {
                continue;
            }
            if let Some(old) = old {
                if same_values(&fk.columns, old, row) {
                    continue;
                }
            }
            let parent = if fk.parent == table.name {
                table
            } else {
                self.table_ref(session, &fk.parent)?
            };
            let ui = parent
                .uniques
                .iter()
                .position(|u| same_columns(&u.columns, &fk.parent_columns))
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
                match self.newest(t, me) {
                    Newest::Gone => continue,
                    Newest::Inserting(x) => return Ok(FkCheck::Wait(x)),
                    Newest::Deleting(x, mode) if mode.conflicts(LockMode::KeyShare) => {
                        return Ok(FkCheck::Wait(x))
                    }
                    Newest::Deleting(..) | Newest::Live => {}
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
    pub(super) fn fk_lock_parents(
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
    pub(super) fn fk_children(
        &self,
        session: SessionId,
        parent: &Table,
        old: &[Value],
        new: Option<&[Value]>,
        exclude: Option<usize>,
    ) -> Result<Option<TxId>, PgError> {
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
                    if same_values(&fk.parent_columns, old, new) {
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
                    match self.newest(t, me) {
                        // A row being inserted is invisible to PostgreSQL's fresh snapshot; its key share lock on the parent already made us wait.
                        Newest::Gone | Newest::Inserting(_) => continue,
                        Newest::Deleting(x, _) => return Ok(Some(x)),
                        Newest::Live => {}
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

    /// Where a row version stands for a check that sees the newest state of every row, as PostgreSQL's dirty snapshot does.
    fn newest(&self, t: &Tuple, me: TxId) -> Newest {
        match self.xid_state(t.xmin) {
            XidState::Aborted => return Newest::Gone,
            XidState::Active if self.top(t.xmin) != me => return Newest::Inserting(t.xmin),
            _ => {}
        }
        if let Some(x) = t.xmax {
            match self.xid_state(x) {
                XidState::Aborted => {}
                _ if self.top(x) == me => return Newest::Gone,
                XidState::Active => return Newest::Deleting(x, t.xmax_mode),
                XidState::Committed(_) => return Newest::Gone,
            }
        }
        Newest::Live
    }

    /// Looks for a live row with the same key in any unique index, arbiters first; waits on in-progress inserters and deleters, as PostgreSQL's `_bt_check_unique` does.
    pub(super) fn check_unique(
        &self,
        table: &Table,
        row: &[Value],
        me: TxId,
        exclude: Option<usize>,
        order: &[usize],
    ) -> UniqueCheck {
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
                if !same_values(cols, &t.data, row) {
                    continue;
                }
                match self.newest(t, me) {
                    Newest::Gone => continue,
                    Newest::Inserting(x) | Newest::Deleting(x, _) => return UniqueCheck::Wait(x),
                    Newest::Live => {
                        return UniqueCheck::Conflict {
                            index: ui,
                            tuple: i,
                        }
                    }
                }
            }
        }
        UniqueCheck::Ok
    }
}
