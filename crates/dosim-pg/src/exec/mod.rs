//! Statements: parsing with sqlparser, transaction control, DDL, and DML that locks row by row and can wait part-way.
//!
//! This module dispatches a statement and keeps what a waiting one needs to go on ([`Current`]); each concern has a module:
//! `parse` (syntax errors as PostgreSQL words them), `subquery` (run first, their results put in place), `txn` (BEGIN, COMMIT, savepoints),
//! `settings` (SET, SHOW), `ddl` (CREATE and DROP), `constraints` (NOT NULL, CHECK, unique keys, foreign keys),
//! `scan` (a table's visible rows, joins), `select` and `project` (SELECT, select lists, ORDER BY),
//! `dml` and `insert` (writes and row locks, one row at a time), `advisory` (the builtins that need the engine),
//! `budget` (the work a statement may do before it is canceled).

mod advisory;
pub(crate) mod budget;
mod constraints;
mod ddl;
mod dml;
mod insert;
mod parse;
mod project;
mod scan;
mod select;
mod settings;
mod subquery;
mod txn;

pub use parse::{
    on_stack, parse, placeholders_max, stack_depth_exceeded, stack_for, EXPR_DEPTH_MAX,
    PLACEHOLDER_MAX,
};

use std::sync::Arc;

use sqlparser::ast::Statement;

use crate::engine::{unix_us, Engine, Snapshot, Step, Table, Tx};
use crate::error::{sqlstate, PgError};
use crate::eval::{ident_name, unsupported, Ctx, Flow, RowScope};
use crate::value::Value;
use crate::SimTime;
use crate::{Isolation, Notice, QueryResult, SessionId};

use dml::DmlState;
use subquery::{may_hold_subquery, take_insert_query, take_subquery, SubKind, Subquery};

/// A statement part-way through, kept while its session waits.
#[derive(Debug)]
pub(crate) enum Current {
    Start(Arc<Statement>),
    /// A statement whose subquery runs first.
    Sub(Box<Subquery>),
    /// A plain SELECT that waited on an advisory lock runs again with its snapshot.
    Restart(Arc<Statement>, Snapshot),
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

/// A column a statement names that its table lacks.
fn no_column_in(table: &str, column: &str) -> PgError {
    PgError::new(
        sqlstate::UNDEFINED_COLUMN,
        format!("column \"{column}\" of relation \"{table}\" does not exist"),
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

/// What a statement's expressions see besides their rows: its session, its parameters, `now()` and the clock.
#[derive(Clone, Copy)]
struct Env<'p> {
    session: SessionId,
    /// The client's `$n` parameters, then the results of the subqueries that already ran (`$sN`).
    params: &'p [Value],
    /// `now()`: when the transaction started, in microseconds since the Unix epoch.
    now_us: i64,
    /// `clock_timestamp()`: the simulated time of this step, in microseconds since the Unix epoch.
    clock_us: i64,
}

impl<'p> Env<'p> {
    /// A context for evaluating over `row`, whose columns `scope` names; no aggregates, no `EXCLUDED`, no engine builtins.
    fn ctx<'a, 'h>(&self, scope: Option<RowScope<'a>>, row: Option<&'a [Value]>) -> Ctx<'a, 'h>
    where
        'p: 'a,
    {
        Ctx {
            params: self.params,
            now_us: self.now_us,
            clock_us: self.clock_us,
            scope,
            row,
            excluded: None,
            aggregates: None,
            hook: None,
        }
    }

    /// A context for evaluating over `row` of the one table `scope` names.
    fn row_ctx<'a, 'h>(&self, scope: RowScope<'a>, row: &'a [Value]) -> Ctx<'a, 'h>
    where
        'p: 'a,
    {
        self.ctx(Some(scope), Some(row))
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

    /// The statement context of a session inside its transaction.
    fn env<'p>(&self, session: SessionId, params: &'p [Value], now: SimTime) -> Env<'p> {
        Env {
            session,
            params,
            now_us: self.tx_ref(session).start_us,
            clock_us: unix_us(now),
        }
    }

    /// Runs a statement, or its part left from a wait, until it finishes, fails or must wait.
    pub(crate) fn step(
        &mut self,
        session: SessionId,
        current: Current,
        params: &mut Vec<Value>,
        now: SimTime,
    ) -> Step {
        let result = match current {
            Current::Start(stmt) => self.start(session, stmt, params, now),
            Current::Sub(sub) => self.step_subquery(session, *sub, params, now),
            Current::Restart(stmt, snap) => {
                let env = self.env(session, params, now);
                self.run_select(env, &stmt, Some(snap))
            }
            Current::Dml(state) => {
                let env = self.env(session, params, now);
                self.continue_dml(env, *state)
            }
        };
        match result {
            Ok(step) => step,
            Err(e) => Step::Error(e),
        }
    }

    fn start(
        &mut self,
        session: SessionId,
        stmt: Arc<Statement>,
        params: &mut Vec<Value>,
        now: SimTime,
    ) -> Result<Step, PgError> {
        let is_control = matches!(
            *stmt,
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
        let ends_failure = matches!(*stmt, Statement::Commit { .. } | Statement::Rollback { .. });
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
            *stmt,
            Statement::Query(_)
                | Statement::Insert(_)
                | Statement::Update(_)
                | Statement::Delete(_)
        ) {
            let tx = self.tx_ref(session);
            self.ssi_check_doomed(tx)?;
        }
        // The statement is shared with the parse memo; only one whose subqueries run first is
        // copied, to take them out.
        let stmt = if may_hold_subquery(&stmt) {
            let mut stmt = Arc::unwrap_or_clone(stmt);
            if let Some(query) = take_insert_query(&mut stmt) {
                let sub = Subquery {
                    outer: stmt,
                    kind: SubKind::InsertRows,
                    inner: Current::Start(Arc::new(Statement::Query(Box::new(query)))),
                };
                return self.step_subquery(session, sub, params, now);
            }
            if let Some((query, kind)) = take_subquery(&mut stmt) {
                let sub = Subquery {
                    outer: stmt,
                    kind,
                    inner: Current::Start(Arc::new(Statement::Query(Box::new(query)))),
                };
                return self.step_subquery(session, sub, params, now);
            }
            Arc::new(stmt)
        } else {
            stmt
        };
        let env = self.env(session, params, now);
        match &*stmt {
            Statement::Query(_) => self.run_select(env, &stmt, None),
            Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
                self.start_dml(env, stmt)
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
