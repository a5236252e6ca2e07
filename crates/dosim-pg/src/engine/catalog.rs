//! The catalog and the heap: tables, their columns, unique indexes and foreign keys, and the row versions they hold with their row locks.

use std::collections::BTreeMap;

use sqlparser::ast::Expr;

use crate::eval::ColumnInfo;
use crate::value::Value;
use crate::TxId;

/// PostgreSQL's four row-lock strengths, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LockMode {
    /// `FOR KEY SHARE`: what a foreign-key check takes on the referenced row.
    KeyShare,
    /// `FOR SHARE`.
    Share,
    /// `FOR NO KEY UPDATE`: what an UPDATE that leaves every key column alone takes.
    NoKeyExclusive,
    /// `FOR UPDATE`: SELECT … FOR UPDATE, DELETE, and an UPDATE that changes a key column.
    Exclusive,
}

impl LockMode {
    /// PostgreSQL's row-lock conflict table.
    pub fn conflicts(self, other: LockMode) -> bool {
        use LockMode::*;
        match (self, other) {
            (Exclusive, _) | (_, Exclusive) => true,
            (KeyShare, _) | (_, KeyShare) => false,
            (Share, Share) => false,
            _ => true,
        }
    }
}

/// One version of a row, as PostgreSQL's heap tuple: who created it, who deleted or replaced it, and who locks it.
#[derive(Clone, Debug)]
pub(crate) struct Tuple {
    pub xmin: TxId,
    pub cmin: u32,
    pub xmax: Option<TxId>,
    pub cmax: u32,
    /// The newer version an UPDATE made, PostgreSQL's `t_ctid` chain.
    pub next: Option<usize>,
    /// How strongly `xmax` holds the row: `Exclusive` for a delete or key update, `NoKeyExclusive` otherwise.
    pub xmax_mode: LockMode,
    pub data: Vec<Value>,
    /// Row locks taken with `FOR SHARE` / `FOR UPDATE`, kept apart from `xmax` for clarity.
    pub lockers: Vec<(TxId, LockMode)>,
}

#[derive(Clone, Debug)]
pub(crate) struct Column {
    pub info: ColumnInfo,
    pub not_null: bool,
    pub default: Option<Expr>,
    /// The next value of a `serial` column's sequence; sequences are not transactional, as in PostgreSQL.
    pub serial_next: Option<i64>,
}

/// A foreign key: `columns` of this table reference `parent_columns` of `parent`, a unique key there.
#[derive(Clone, Debug)]
pub(crate) struct ForeignKey {
    pub name: String,
    pub columns: Vec<usize>,
    pub parent: String,
    pub parent_columns: Vec<usize>,
}

#[derive(Clone, Debug)]
pub(crate) struct UniqueIndex {
    pub name: String,
    pub columns: Vec<usize>,
    /// Made by a PRIMARY KEY or UNIQUE constraint, rather than by CREATE UNIQUE INDEX; DROP INDEX refuses it.
    pub constraint: bool,
    /// The table's PRIMARY KEY, which a foreign key without columns references.
    pub primary: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Table {
    /// Distinguishes a table from a later one of the same name, so a waiting statement never touches the wrong rows.
    pub id: u64,
    pub name: String,
    pub columns: Vec<Column>,
    pub uniques: Vec<UniqueIndex>,
    /// Every tuple version, in insertion order; only `push_tuple` adds one, so `unique_keys` stays in step.
    pub tuples: Vec<Tuple>,
    /// CHECK constraints by name, in name order, as PostgreSQL evaluates them.
    pub checks: Vec<(String, Expr)>,
    /// Foreign keys this table holds, each referencing a unique key of a parent table.
    pub foreign_keys: Vec<ForeignKey>,
    /// For each unique index (by position) and key, the tuples holding that key, live or dead: what a B-tree index holds.
    pub unique_keys: BTreeMap<(usize, Vec<String>), Vec<usize>>,
}

/// A key's text for `unique_keys`: equal values give equal text (numerics without trailing zeros).
pub(crate) fn key_text(v: &Value) -> String {
    match v {
        Value::Numeric(n) => {
            let t = n.to_string();
            if t.contains('.') {
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                t
            }
        }
        other => other.to_text().unwrap_or_default(),
    }
}

impl Table {
    pub fn infos(&self) -> Vec<ColumnInfo> {
        self.columns.iter().map(|c| c.info.clone()).collect()
    }

    /// The position of the column named `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.info.name == name)
    }

    /// The key of `row` in unique index `ui`, or `None` if a key column is NULL (NULLs never conflict).
    pub fn unique_key(&self, ui: usize, row: &[Value]) -> Option<(usize, Vec<String>)> {
        let cols = &self.uniques[ui].columns;
        if cols.iter().any(|c| row[*c].is_null()) {
            return None;
        }
        Some((ui, cols.iter().map(|c| key_text(&row[*c])).collect()))
    }

    /// Appends a tuple version and indexes its keys; returns its position.
    pub fn push_tuple(&mut self, tuple: Tuple) -> usize {
        let idx = self.tuples.len();
        for ui in 0..self.uniques.len() {
            if let Some(key) = self.unique_key(ui, &tuple.data) {
                self.unique_keys.entry(key).or_default().push(idx);
            }
        }
        self.tuples.push(tuple);
        idx
    }

    /// Rebuilds `unique_keys` after tuples moved (vacuum) or the unique indexes changed.
    pub fn rebuild_unique_keys(&mut self) {
        let mut keys: BTreeMap<(usize, Vec<String>), Vec<usize>> = BTreeMap::new();
        for (idx, t) in self.tuples.iter().enumerate() {
            for ui in 0..self.uniques.len() {
                if let Some(key) = self.unique_key(ui, &t.data) {
                    keys.entry(key).or_default().push(idx);
                }
            }
        }
        self.unique_keys = keys;
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Database {
    pub tables: BTreeMap<String, Table>,
    /// Indexes made by CREATE INDEX that enforce nothing, by name, with their table; unique ones live in their table's `uniques`.
    pub indexes: BTreeMap<String, String>,
}

impl Database {
    /// Whether a table or an index has this name; PostgreSQL's relations share one namespace.
    pub fn relation_exists(&self, name: &str) -> bool {
        self.tables.contains_key(name)
            || self.indexes.contains_key(name)
            || self
                .tables
                .values()
                .any(|t| t.uniques.iter().any(|u| u.name == name))
    }
}
