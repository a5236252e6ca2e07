//! A cluster's committed data, written out and read back: what `dosim serve --state` keeps of
//! a PostgreSQL cluster across restarts.
//!
//! Each table is kept as the `CREATE TABLE` that makes it again (columns, defaults, keys,
//! checks and foreign keys, all named as they were) and its committed rows as text; a restore
//! runs the DDL through the engine itself, then puts the rows back as they were, frozen, without
//! checking them again (they were valid when they committed). What was not committed when the
//! dump was taken is not in it, as after a crash.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::catalog::{LockMode, Table, Tuple};
use super::{Engine, XidState};
use crate::value::{SqlType, Value};
use crate::{Outcome, SimTime, TxId};

/// The committed data of every database of a cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineDump {
    /// Each database's tables and indexes, by database name.
    pub databases: BTreeMap<String, DatabaseDump>,
}

/// One database's tables, in an order their foreign keys can be created in, and its indexes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseDump {
    /// Tables, parents before the children that reference them.
    pub tables: Vec<TableDump>,
    /// `CREATE INDEX` and `CREATE UNIQUE INDEX` statements for the indexes no constraint made.
    pub indexes: Vec<String>,
}

/// One table: how to make it, its sequences' positions, and its committed rows as text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDump {
    /// The table's name.
    pub name: String,
    /// The `CREATE TABLE` statement.
    pub ddl: String,
    /// Each `serial` column's next value, by column name.
    pub serials: BTreeMap<String, i64>,
    /// The committed rows, each value as its text form (`None` for NULL), in storage order.
    pub rows: Vec<Vec<Option<String>>>,
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn type_sql(ty: SqlType, serial: bool) -> String {
    match (ty, serial) {
        (SqlType::Int4, true) => "serial".into(),
        (SqlType::Int8, true) => "bigserial".into(),
        (SqlType::Numeric(Some((precision, scale))), _) => format!("numeric({precision},{scale})"),
        (SqlType::Timestamptz, _) => "timestamptz".into(),
        (ty, _) => ty.name().into(),
    }
}

fn columns_sql(table: &Table, columns: &[usize]) -> String {
    columns
        .iter()
        .map(|c| quote(&table.columns[*c].info.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `CREATE TABLE` that makes `table` again, with every constraint under its own name.
fn table_ddl(table: &Table, names: &BTreeMap<String, &Table>) -> String {
    let mut parts = Vec::new();
    for column in &table.columns {
        let mut part = format!(
            "{} {}",
            quote(&column.info.name),
            type_sql(column.info.ty, column.serial_next.is_some())
        );
        if column.not_null && column.serial_next.is_none() {
            part.push_str(" NOT NULL");
        }
        if let Some(default) = &column.default {
            part.push_str(&format!(" DEFAULT {default}"));
        }
        parts.push(part);
    }
    for unique in table.uniques.iter().filter(|u| u.constraint) {
        let kind = if unique.primary {
            "PRIMARY KEY"
        } else {
            "UNIQUE"
        };
        parts.push(format!(
            "CONSTRAINT {} {kind} ({})",
            quote(&unique.name),
            columns_sql(table, &unique.columns)
        ));
    }
    for (name, check) in &table.checks {
        parts.push(format!("CONSTRAINT {} CHECK ({check})", quote(name)));
    }
    for fk in &table.foreign_keys {
        let parent_columns = match names.get(&fk.parent) {
            Some(parent) => columns_sql(parent, &fk.parent_columns),
            // The table references itself.
            None => columns_sql(table, &fk.parent_columns),
        };
        parts.push(format!(
            "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({parent_columns})",
            quote(&fk.name),
            columns_sql(table, &fk.columns),
            quote(&fk.parent),
        ));
    }
    format!("CREATE TABLE {} ({})", quote(&table.name), parts.join(", "))
}

/// Tables ordered so that each comes after every other table it references.
fn creation_order(tables: &BTreeMap<String, Table>) -> Vec<&Table> {
    let mut done: Vec<&Table> = Vec::new();
    let mut left: Vec<&Table> = tables.values().collect();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|table| {
            let ready = table
                .foreign_keys
                .iter()
                .all(|fk| fk.parent == table.name || done.iter().any(|d| d.name == fk.parent));
            if ready {
                done.push(table);
            }
            !ready
        });
        if left.len() == before {
            // A cycle cannot be made without ALTER TABLE, which this engine refuses; keep the rest
            // in name order rather than loop.
            done.append(&mut left);
        }
    }
    done
}

impl Engine {
    /// Whether a row version is committed and not deleted by a committed transaction.
    fn committed_live(&self, tuple: &Tuple) -> bool {
        matches!(self.xid_state(tuple.xmin), XidState::Committed(_))
            && !matches!(
                tuple.xmax.map(|x| self.xid_state(x)),
                Some(XidState::Committed(_))
            )
    }

    /// The committed data of every database.
    pub fn dump(&self) -> EngineDump {
        let mut databases = BTreeMap::new();
        for (db_name, db) in &self.databases {
            let names: BTreeMap<String, &Table> =
                db.tables.iter().map(|(n, t)| (n.clone(), t)).collect();
            let tables = creation_order(&db.tables)
                .into_iter()
                .map(|table| TableDump {
                    name: table.name.clone(),
                    ddl: table_ddl(table, &names),
                    serials: table
                        .columns
                        .iter()
                        .filter_map(|c| c.serial_next.map(|next| (c.info.name.clone(), next)))
                        .collect(),
                    rows: table
                        .tuples
                        .iter()
                        .filter(|t| self.committed_live(t))
                        .map(|t| t.data.iter().map(Value::to_text).collect())
                        .collect(),
                })
                .collect();
            let mut indexes = Vec::new();
            for table in db.tables.values() {
                for unique in table.uniques.iter().filter(|u| !u.constraint) {
                    indexes.push(format!(
                        "CREATE UNIQUE INDEX {} ON {} ({})",
                        quote(&unique.name),
                        quote(&table.name),
                        columns_sql(table, &unique.columns)
                    ));
                }
            }
            for (index, table) in &db.indexes {
                // Plain indexes enforce nothing and their columns are not kept: any column will do.
                if let Some(first) = db.tables.get(table).and_then(|t| t.columns.first()) {
                    indexes.push(format!(
                        "CREATE INDEX {} ON {} ({})",
                        quote(index),
                        quote(table),
                        quote(&first.info.name)
                    ));
                }
            }
            databases.insert(db_name.clone(), DatabaseDump { tables, indexes });
        }
        EngineDump { databases }
    }

    /// Makes the dumped databases' tables again and puts their rows back; refused, with what
    /// failed, if a statement or a value does not read back. Meant for an engine no session has
    /// used yet.
    pub fn restore(&mut self, dump: &EngineDump) -> Result<(), String> {
        for (db_name, db) in &dump.databases {
            if !self.databases.contains_key(db_name) {
                self.create_database(db_name);
            }
            let session = self
                .connect(db_name)
                .map_err(|e| format!("database {db_name}: {}", e.message))?;
            let statements = db.tables.iter().map(|t| &t.ddl).chain(db.indexes.iter());
            let mut result = Ok(());
            for sql in statements {
                if let Outcome::Error { error, .. } = self.execute(session, sql, &[], SimTime::ZERO)
                {
                    result = Err(format!("database {db_name}: {sql}: {}", error.message));
                    break;
                }
            }
            self.disconnect(session);
            result?;
            for table_dump in &db.tables {
                self.restore_rows(db_name, table_dump)?;
            }
        }
        Ok(())
    }

    fn restore_rows(&mut self, db_name: &str, dump: &TableDump) -> Result<(), String> {
        let table = self
            .databases
            .get_mut(db_name)
            .and_then(|db| db.tables.get_mut(&dump.name))
            .ok_or_else(|| format!("table {} was not made", dump.name))?;
        for row in &dump.rows {
            if row.len() != table.columns.len() {
                return Err(format!(
                    "table {}: a row of {} values for {} columns",
                    dump.name,
                    row.len(),
                    table.columns.len()
                ));
            }
            let data = row
                .iter()
                .zip(&table.columns)
                .map(|(text, column)| match text {
                    None => Ok(Value::Null),
                    Some(text) => Value::Text(text.clone())
                        .coerce(column.info.ty)
                        .map_err(|e| format!("table {}: {}", dump.name, e.message)),
                })
                .collect::<Result<Vec<Value>, String>>()?;
            table.push_tuple(Tuple {
                xmin: TxId(0),
                cmin: 0,
                xmax: None,
                cmax: 0,
                next: None,
                xmax_mode: LockMode::Exclusive,
                data,
                lockers: Vec::new(),
            });
        }
        for column in &mut table.columns {
            if let Some(next) = dump.serials.get(&column.info.name) {
                column.serial_next = Some(*next);
            }
        }
        table.rebuild_unique_keys();
        self.stored_bytes = self.count_stored_bytes();
        Ok(())
    }
}
