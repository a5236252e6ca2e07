//! CREATE and DROP of tables and indexes.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use sqlparser::ast::{
    ColumnDef, ColumnOption, CreateTable, Expr, ForeignKeyConstraint, ObjectType, Statement,
    TableConstraint,
};

use super::subquery::walk_mut;
use super::{not_supported_statement, result, result_with_notice};
use crate::engine::{Column, Engine, Step, Table, Tuple, UniqueIndex};
use crate::error::{sqlstate, PgError};
use crate::eval::{
    check_names, column_type, ident_name, missing_column, object_name, unsupported, ColumnInfo,
    RowScope,
};
use crate::value::SqlType;
use crate::{Notice, QueryResult, SessionId};

/// A foreign key as CREATE TABLE states it, before its parent's key is found.
pub(super) struct FkSpec {
    pub(super) name: Option<String>,
    pub(super) columns: Vec<String>,
    pub(super) constraint: ForeignKeyConstraint,
}

/// A table as CREATE TABLE defines it, column by column and constraint by constraint.
pub(super) struct TableDef {
    pub(super) name: String,
    pub(super) columns: Vec<Column>,
    pub(super) uniques: Vec<UniqueIndex>,
    checks: Vec<(String, Expr)>,
    foreign_keys: Vec<FkSpec>,
    has_primary: bool,
}

impl TableDef {
    /// Reads the column definitions and table constraints of `ct`, named `name`.
    fn new(name: String, ct: &CreateTable) -> Result<TableDef, PgError> {
        let mut def = TableDef {
            name,
            columns: vec![],
            uniques: vec![],
            checks: vec![],
            foreign_keys: vec![],
            has_primary: false,
        };
        for (i, column) in ct.columns.iter().enumerate() {
            def.add_column(i, column)?;
        }
        for constraint in &ct.constraints {
            def.add_constraint(constraint)?;
        }
        def.checks.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(def)
    }

    /// The table's PRIMARY KEY, first among its unique indexes; a second one is refused.
    fn add_primary(&mut self, columns: Vec<usize>, cname: Option<String>) -> Result<(), PgError> {
        let name = &self.name;
        if self.has_primary {
            return Err(PgError::new(
                sqlstate::INVALID_TABLE_DEFINITION,
                format!("multiple primary keys for table \"{name}\" are not allowed"),
            ));
        }
        self.has_primary = true;
        self.uniques.insert(
            0,
            UniqueIndex {
                name: cname.unwrap_or_else(|| format!("{name}_pkey")),
                columns,
                constraint: true,
                primary: true,
            },
        );
        Ok(())
    }

    /// Column `i` and the constraints written on it.
    fn add_column(&mut self, i: usize, def: &ColumnDef) -> Result<(), PgError> {
        let name = self.name.clone();
        let cname = ident_name(&def.name);
        if self.columns.iter().any(|c| c.info.name == cname) {
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
                    self.add_primary(vec![i], constraint_name)?;
                }
                ColumnOption::Unique(_) => self.uniques.push(UniqueIndex {
                    name: constraint_name.unwrap_or_else(|| format!("{name}_{cname}_key")),
                    columns: vec![i],
                    constraint: true,
                    primary: false,
                }),
                ColumnOption::ForeignKey(fk) => self.foreign_keys.push(FkSpec {
                    name: fk.name.as_ref().map(ident_name).or(constraint_name.clone()),
                    columns: vec![cname.clone()],
                    constraint: fk.clone(),
                }),
                ColumnOption::Check(c) => self.checks.push((
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
        self.columns.push(column);
        Ok(())
    }

    /// A table constraint: CHECK, PRIMARY KEY, UNIQUE or FOREIGN KEY.
    fn add_constraint(&mut self, constraint: &TableConstraint) -> Result<(), PgError> {
        let name = self.name.clone();
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
            self.checks.push((
                c.name.as_ref().map(ident_name).unwrap_or(default_name),
                c.expr.as_ref().clone(),
            ));
            return Ok(());
        }
        let (cols, cname, is_pk) = match constraint {
            TableConstraint::PrimaryKey(pk) => (&pk.columns, pk.name.as_ref(), true),
            TableConstraint::Unique(u) => (&u.columns, u.name.as_ref(), false),
            TableConstraint::ForeignKey(fk) => {
                self.foreign_keys.push(FkSpec {
                    name: fk.name.as_ref().map(ident_name),
                    columns: fk.columns.iter().map(ident_name).collect(),
                    constraint: fk.clone(),
                });
                return Ok(());
            }
            _ => return Err(unsupported("table constraints of this kind")),
        };
        let mut idx = vec![];
        for c in cols {
            let Expr::Identifier(ident) = &c.column.expr else {
                return Err(unsupported("expression indexes"));
            };
            idx.push(self.column_index(&ident_name(ident))?);
        }
        let cname = cname.map(ident_name);
        if is_pk {
            self.add_primary(idx.clone(), cname)?;
            for i in idx {
                self.columns[i].not_null = true;
            }
        } else {
            let names: Vec<&str> = idx
                .iter()
                .map(|i| self.columns[*i].info.name.as_str())
                .collect();
            let iname = cname.unwrap_or_else(|| format!("{name}_{}_key", names.join("_")));
            self.uniques.push(UniqueIndex {
                name: iname,
                columns: idx,
                constraint: true,
                primary: false,
            });
        }
        Ok(())
    }

    fn column_index(&self, ident: &str) -> Result<usize, PgError> {
        self.columns
            .iter()
            .position(|c| c.info.name == ident)
            .ok_or_else(|| {
                PgError::new(
                    sqlstate::UNDEFINED_COLUMN,
                    format!("column \"{ident}\" named in key does not exist"),
                )
            })
    }
}

impl Engine {
    /// When a table or index already has `name`: with IF NOT EXISTS the statement is skipped with a notice, else refused.
    fn name_taken(
        &self,
        db: &str,
        name: &str,
        if_not_exists: bool,
        tag: &str,
    ) -> Result<Option<Step>, PgError> {
        if !self.databases[db].relation_exists(name) {
            return Ok(None);
        }
        if !if_not_exists {
            return Err(PgError::new(
                sqlstate::DUPLICATE_TABLE,
                format!("relation \"{name}\" already exists"),
            ));
        }
        Ok(Some(result_with_notice(
            tag,
            Notice {
                severity: "NOTICE",
                sqlstate: sqlstate::DUPLICATE_TABLE,
                message: format!("relation \"{name}\" already exists, skipping"),
            },
        )))
    }

    pub(super) fn create_table(
        &mut self,
        session: SessionId,
        stmt: &Statement,
    ) -> Result<Step, PgError> {
        let Statement::CreateTable(ct) = stmt else {
            unreachable!("dispatched on CreateTable")
        };
        if ct.temporary || ct.query.is_some() || ct.like.is_some() || ct.clone.is_some() {
            return Err(not_supported_statement(stmt));
        }
        let name = object_name(&ct.name);
        let db = self.db_name(session);
        if let Some(skipped) = self.name_taken(&db, &name, ct.if_not_exists, "CREATE TABLE")? {
            return Ok(skipped);
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
        let def = TableDef::new(name.clone(), ct)?;
        let mut foreign_keys = vec![];
        for spec in &def.foreign_keys {
            foreign_keys.push(self.resolve_foreign_key(session, &def, spec)?);
        }
        let infos: Vec<ColumnInfo> = def.columns.iter().map(|c| c.info.clone()).collect();
        for (_, expr) in &def.checks {
            check_names(expr, &[], Some(RowScope::table(&name, None, &infos)))?;
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
                columns: def.columns,
                uniques: def.uniques,
                tuples: vec![],
                checks: def.checks,
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

    pub(super) fn drop_table(
        &mut self,
        session: SessionId,
        stmt: &Statement,
    ) -> Result<Step, PgError> {
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

    /// CREATE [UNIQUE] INDEX: a unique one enforces its key from now on; others change no behaviour modelled here, so they are recorded by name only.
    pub(super) fn create_index(
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
                .column_index(&cname)
                .ok_or_else(|| missing_column(None, &cname))?;
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
        if let Some(skipped) = self.name_taken(&db, &name, ci.if_not_exists, "CREATE INDEX")? {
            return Ok(skipped);
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
}
