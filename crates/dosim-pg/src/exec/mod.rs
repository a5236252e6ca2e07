//! Statements: parsing with sqlparser, transaction control, DDL, and DML that locks row by row and can wait part-way.

mod advisory;
mod constraints;
mod ddl;
mod dml;
mod parse;
mod project;
mod scan;
mod select;
mod settings;
mod subquery;
mod txn;

pub(crate) use parse::parse;

use sqlparser::ast::Statement;

use crate::engine::{unix_us, Engine, Snapshot, Step, Table, Tx};
use crate::error::{sqlstate, PgError};
use crate::eval::{ident_name, unsupported, ColumnInfo, Ctx, Flow, RowScope};
use crate::value::Value;
use crate::{Isolation, Notice, QueryResult, SessionId};

use dml::DmlState;
use subquery::{take_insert_query, take_subquery, SubKind, Subquery};

/// A statement part-way through, kept while its session waits.
#[derive(Debug)]
pub(crate) enum Current {
    Start(Box<Statement>),
    /// A statement whose subquery runs first.
    Sub(Box<Subquery>),
    /// A plain SELECT that waited on an advisory lock runs again with its snapshot.
    Restart(Box<Statement>, Snapshot),
    Dml(Box<DmlState>),
}

fn result(tag: impl Into<String>) -> Step {
    Step::Done(Box::new(QueryResult {
        tag: tag.into(),
        columns: vec![],
        rows: vec![],
        notices: vec![],
    }))
}

fn result_with_notice(tag: &str, notice: Notice) -> Step {
    Step::Done(Box::new(QueryResult {
        tag: tag.to_string(),
        columns: vec![],
        rows: vec![],
        notices: vec![notice],
    }))
}

/// The statement's leading keywords, for the error that refuses it: `CREATE INDEX`, `ALTER TABLE`, `COPY`.
fn statement_kind(stmt: &Statement) -> String {
    let text = stmt.to_string();
    let words: Vec<&str> = text.split_whitespace().take(3).collect();
    let upper = |w: &str| w.to_ascii_uppercase();
    match words.as_slice() {
        [first, second, ..]
            if matches!(upper(first).as_str(), "CREATE" | "DROP" | "ALTER")
                && !matches!(
                    upper(second).as_str(),
                    "OR" | "UNIQUE" | "TEMPORARY" | "TEMP"
                ) =>
        {
            format!("{} {}", upper(first), upper(second))
        }
        [first, second, third, ..]
            if matches!(upper(first).as_str(), "CREATE" | "DROP" | "ALTER") =>
        {
            format!("{} {} {}", upper(first), upper(second), upper(third))
        }
        [first, ..] => upper(first),
        [] => "this statement".to_string(),
    }
}

fn not_supported_statement(stmt: &Statement) -> PgError {
    PgError::new(
        sqlstate::FEATURE_NOT_SUPPORTED,
        format!("{} is not supported", statement_kind(stmt)),
    )
    .with_hint("dosim's PostgreSQL supports the subset of SQL listed in docs/postgres.md.")
}

fn undefined_table(name: &str) -> PgError {
    PgError::new(
        sqlstate::UNDEFINED_TABLE,
        format!("relation \"{name}\" does not exist"),
    )
}

fn row_text(values: &[Value]) -> String {
    values
        .iter()
        .map(Value::detail_text)
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_only_error(what: &str) -> PgError {
    PgError::new(
        "25006",
        format!("cannot execute {what} in a read-only transaction"),
    )
}

fn flow_to_step_err(f: Flow) -> PgError {
    match f {
        Flow::Error(e) => e,
        Flow::Block(_) => unsupported("lock waits inside this expression"),
    }
}

#[allow(clippy::too_many_arguments)]
fn row_ctx<'a>(
    params: &'a [Value],
    tx: &Tx,
    now: crate::SimTime,
    table: &'a str,
    alias: Option<&'a str>,
    infos: &'a [ColumnInfo],
    row: &'a [Value],
    excluded: Option<&'a [Value]>,
) -> Ctx<'a, 'static> {
    Ctx {
        params,
        now_us: tx.start_us,
        clock_us: unix_us(now),
        scope: Some(RowScope {
            table,
            alias,
            columns: infos,
            quals: &[],
        }),
        row: Some(row),
        excluded,
        aggregates: None,
        hook: None,
    }
}

impl Engine {
    fn tx_mut(&mut self, session: SessionId) -> &mut Tx {
        self.sessions
            .get_mut(&session)
            .and_then(|s| s.tx.as_mut())
            .expect("a statement runs inside a transaction")
    }

    fn tx_ref(&self, session: SessionId) -> &Tx {
        self.sessions[&session]
            .tx
            .as_ref()
            .expect("a statement runs inside a transaction")
    }

    fn db_name(&self, session: SessionId) -> String {
        self.sessions[&session].database.clone()
    }

    fn table_ref(&self, session: SessionId, name: &str) -> Result<&Table, PgError> {
        let db = &self.sessions[&session].database;
        self.databases
            .get(db)
            .and_then(|d| d.tables.get(name))
            .ok_or_else(|| undefined_table(name))
    }

    fn table_by_id(
        &mut self,
        session: SessionId,
        name: &str,
        id: u64,
    ) -> Result<&mut Table, PgError> {
        let db = self.sessions[&session].database.clone();
        self.databases
            .get_mut(&db)
            .and_then(|d| d.tables.get_mut(name))
            .filter(|t| t.id == id)
            .ok_or_else(|| undefined_table(name))
    }

    fn table_by_id_ref(&self, session: SessionId, name: &str, id: u64) -> Result<&Table, PgError> {
        self.table_ref(session, name)
            .ok()
            .filter(|t| t.id == id)
            .ok_or_else(|| undefined_table(name))
    }

    pub(crate) fn step(
        &mut self,
        session: SessionId,
        current: Current,
        params: &mut Vec<Value>,
        now: crate::SimTime,
    ) -> Step {
        let result = match current {
            Current::Start(stmt) => self.start(session, *stmt, params, now),
            Current::Sub(sub) => self.step_subquery(session, *sub, params, now),
            Current::Restart(stmt, snap) => {
                self.run_select(session, &stmt, params, now, Some(snap))
            }
            Current::Dml(state) => self.continue_dml(session, *state, params, now),
        };
        match result {
            Ok(step) => step,
            Err(e) => Step::Error(e),
        }
    }

    fn start(
        &mut self,
        session: SessionId,
        mut stmt: Statement,
        params: &mut Vec<Value>,
        now: crate::SimTime,
    ) -> Result<Step, PgError> {
        let is_control = matches!(
            stmt,
            Statement::StartTransaction { .. }
                | Statement::Commit { .. }
                | Statement::Rollback { .. }
                | Statement::Savepoint { .. }
                | Statement::ReleaseSavepoint { .. }
        );
        let failed = self.sessions[&session]
            .tx
            .as_ref()
            .is_some_and(|t| t.failed);
        let ends_failure = matches!(stmt, Statement::Commit { .. } | Statement::Rollback { .. });
        if failed && !ends_failure {
            return Err(PgError::new(
                sqlstate::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        if is_control {
            return self.transaction_control(session, &stmt);
        }
        if self.sessions[&session].tx.is_none() {
            let tx = self.begin_tx(session, false, None);
            self.sessions.get_mut(&session).expect("exists").tx = Some(tx);
        }
        if matches!(
            stmt,
            Statement::Query(_)
                | Statement::Insert(_)
                | Statement::Update(_)
                | Statement::Delete(_)
        ) {
            let tx = self.tx_ref(session);
            self.ssi_check_doomed(tx)?;
        }
        if let Some(query) = take_insert_query(&mut stmt) {
            let sub = Subquery {
                outer: stmt,
                kind: SubKind::InsertRows,
                inner: Current::Start(Box::new(Statement::Query(Box::new(query)))),
            };
            return self.step_subquery(session, sub, params, now);
        }
        if let Some((query, kind)) = take_subquery(&mut stmt) {
            let sub = Subquery {
                outer: stmt,
                kind,
                inner: Current::Start(Box::new(Statement::Query(Box::new(query)))),
            };
            return self.step_subquery(session, sub, params, now);
        }
        let params: &[Value] = params;
        match &stmt {
            Statement::Query(_) => self.run_select(session, &stmt, params, now, None),
            Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
                self.start_dml(session, stmt, params, now)
            }
            Statement::CreateTable(_) => self.create_table(session, &stmt),
            Statement::Drop { .. } => self.drop_table(session, &stmt),
            Statement::CreateIndex(ci) => self.create_index(session, ci),
            Statement::Set(set) => self.set(session, set),
            Statement::ShowVariable { variable } => {
                let name = variable
                    .iter()
                    .map(ident_name)
                    .collect::<Vec<_>>()
                    .join(" ");
                self.show(session, &name)
            }
            other => Err(not_supported_statement(other)),
        }
    }

    /// Starts a statement's snapshot and command id: per statement under READ COMMITTED, once per transaction otherwise.
    fn statement_snapshot(&mut self, session: SessionId) -> Snapshot {
        let last = self.last_csn;
        let tx = self.tx_mut(session);
        tx.cid += 1;
        tx.ran_query = true;
        if tx.isolation != Isolation::ReadCommitted && tx.snapshot_csn.is_none() {
            tx.snapshot_csn = Some(last);
        }
        let tx = self.tx_ref(session).clone();
        if tx.isolation == Isolation::Serializable {
            let entry = self.ssi.entry(tx.top).or_default();
            entry.snapshot_csn = tx.snapshot_csn;
        }
        self.take_snapshot(&tx)
    }
}
