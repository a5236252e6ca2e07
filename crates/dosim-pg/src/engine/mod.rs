//! The engine: sessions, transactions and their ids, MVCC visibility, row and advisory locks, waits, timeouts and deadlocks.
//!
//! This module holds the cluster's state, its sessions and the entry points that run query strings;
//! `catalog` the tables and their row versions, `mvcc` transaction ids, visibility and transaction ends,
//! `ssi` SERIALIZABLE's conflict checks, and `waits` deadlines, deadlock detection and wakeups.

mod catalog;
mod dump;
mod mvcc;
mod ssi;
mod waits;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use dosim_base::SimTime;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlparser::ast::Statement;

pub(crate) use catalog::{
    key_text, Column, Database, ForeignKey, LockMode, Table, Tuple, UniqueIndex,
};
pub use dump::{DatabaseDump, EngineDump, TableDump};
pub(crate) use mvcc::{row_bytes, Snapshot, XidInfo, XidState};
pub(crate) use ssi::SsiTx;

use crate::error::{sqlstate, PgError};
use crate::exec::Current;
use crate::value::Value;
use crate::{
    AdvisoryKey, EngineConfig, Isolation, Notice, Outcome, QueryResult, SessionId, TxId, WaitFor,
};

/// A catalog object a transaction created.
#[derive(Clone, Debug)]
pub(crate) enum Created {
    Table {
        database: String,
        name: String,
        id: u64,
    },
    Index {
        database: String,
        name: String,
    },
    UniqueIndex {
        database: String,
        table: String,
        table_id: u64,
        name: String,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Savepoint {
    pub name: String,
    pub xid: TxId,
}

#[derive(Clone, Debug)]
pub(crate) struct Tx {
    pub top: TxId,
    pub savepoints: Vec<Savepoint>,
    pub isolation: Isolation,
    /// Set by the first statement under REPEATABLE READ and SERIALIZABLE; READ COMMITTED takes one per statement.
    pub snapshot_csn: Option<u64>,
    pub cid: u32,
    /// An error happened; only ROLLBACK, COMMIT and ROLLBACK TO are accepted until then.
    pub failed: bool,
    pub read_only: bool,
    /// Tables and indexes this transaction created, removed again if it rolls back.
    pub created: Vec<Created>,
    /// The session's settings when the transaction began, restored if it rolls back.
    pub settings_before: Settings,
    /// What the settings become at commit, once a `SET LOCAL` made them differ from the current ones.
    pub settings_at_commit: Option<Settings>,
    /// Opened by BEGIN, rather than for one query string.
    pub explicit: bool,
    pub start_us: i64,
    /// A statement other than transaction control has run, so SET TRANSACTION ISOLATION LEVEL is too late.
    pub ran_query: bool,
}

impl Tx {
    /// The id new row versions get: the innermost savepoint's, else the transaction's.
    pub fn write_xid(&self) -> TxId {
        self.savepoints.last().map(|s| s.xid).unwrap_or(self.top)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub default_isolation: Isolation,
    pub lock_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    pub other: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub(crate) struct WaitState {
    pub target: WaitFor,
    pub since: SimTime,
    pub deadlock_checked: bool,
    /// When the wait began among all waits, for first-come-first-served wakeups.
    pub seq: u64,
}

/// A query string part-way through: the statements still to run and the one that waits.
#[derive(Debug)]
pub(crate) struct Pending {
    pub queue: VecDeque<Arc<Statement>>,
    pub current: Option<Current>,
    pub params: Vec<Value>,
    pub statement_start: SimTime,
    pub wait: Option<WaitState>,
    /// The stack the query string runs on, from [`crate::exec::stack_for`]; 0 for the caller's.
    pub stack: usize,
}

#[derive(Debug)]
pub(crate) struct Session {
    pub database: String,
    pub settings: Settings,
    pub tx: Option<Tx>,
    pub pending: Option<Pending>,
    /// An error decided while the session waited (deadlock, timeout), delivered by the next `resume`.
    pub canceled: Option<PgError>,
    /// The process id clients see in `pg_backend_pid()` and deadlock details.
    pub pid: u32,
}

/// Who holds one advisory lock: per session, the session-level and transaction-level counts.
pub(crate) type AdvisoryHolders = BTreeMap<SessionId, (u32, u32)>;

/// One database cluster: its databases, the sessions connected to it, and every lock between them.
#[derive(Debug)]
pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) databases: BTreeMap<String, Database>,
    pub(crate) xids: BTreeMap<TxId, XidInfo>,
    pub(crate) next_xid: u64,
    pub(crate) last_csn: u64,
    pub(crate) sessions: BTreeMap<SessionId, Session>,
    pub(crate) next_session: u64,
    pub(crate) advisory: BTreeMap<AdvisoryKey, AdvisoryHolders>,
    pub(crate) ssi: BTreeMap<TxId, SsiTx>,
    /// Sessions whose wait ended, in the order they started waiting, as PostgreSQL's lock queues grant.
    pub(crate) runnable: Vec<SessionId>,
    pub(crate) next_wait_seq: u64,
    pub(crate) now: SimTime,
    pub(crate) next_table_id: u64,
    pub(crate) uuid_rng: ChaCha8Rng,
    /// Tuple versions left by the last vacuum.
    pub(crate) vacuumed_tuples: usize,
    /// Bytes of every row version, counted at the last vacuum and added to as versions are written.
    pub(crate) stored_bytes: u64,
    /// Bytes written or deleted since the last vacuum: enough of them makes the next idle moment vacuum.
    pub(crate) churn_bytes: u64,
}

/// `gen_random_uuid()`: a version 4 UUID from the engine's seeded generator; `None` for any other function.
pub(crate) fn gen_random_uuid(
    rng: &mut ChaCha8Rng,
    name: &str,
    args: &[Value],
) -> Option<crate::eval::Res<Value>> {
    if name != "gen_random_uuid" {
        return None;
    }
    if !args.is_empty() {
        return Some(Err(crate::eval::no_function(name, args).into()));
    }
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Some(Ok(Value::Uuid(u128::from_be_bytes(bytes))))
}

/// Microseconds since the Unix epoch for a simulated time.
pub(crate) fn unix_us(t: SimTime) -> i64 {
    (SimTime::EPOCH_UNIX_S as i64 * 1000 + t.as_ms() as i64) * 1000
}

/// How one step of a statement ended.
pub(crate) enum Step {
    Done(Box<QueryResult>),
    Blocked(Current, WaitFor),
    Error(PgError),
}

impl Engine {
    /// An empty cluster with one database, `defaultdb`, as DigitalOcean creates it.
    pub fn new(config: EngineConfig) -> Engine {
        let mut databases = BTreeMap::new();
        databases.insert("defaultdb".to_string(), Database::default());
        Engine {
            config: config.clone(),
            databases,
            xids: BTreeMap::new(),
            next_xid: 1,
            last_csn: 0,
            sessions: BTreeMap::new(),
            next_session: 1,
            advisory: BTreeMap::new(),
            ssi: BTreeMap::new(),
            runnable: vec![],
            next_wait_seq: 0,
            now: SimTime::ZERO,
            next_table_id: 1,
            uuid_rng: ChaCha8Rng::seed_from_u64(config.seed),
            vacuumed_tuples: 0,
            stored_bytes: 0,
            churn_bytes: 0,
        }
    }

    /// Adds a database, as `dosim-cloud` does when a client creates one; existing names are left alone.
    pub fn create_database(&mut self, name: &str) {
        self.databases.entry(name.to_string()).or_default();
    }

    /// The databases, in name order.
    pub fn database_names(&self) -> Vec<String> {
        self.databases.keys().cloned().collect()
    }

    /// Opens a session on `database`, as a connection's startup does.
    pub fn connect(&mut self, database: &str) -> Result<SessionId, PgError> {
        if !self.databases.contains_key(database) {
            return Err(PgError::new(
                "3D000",
                format!("database \"{database}\" does not exist"),
            ));
        }
        if self.sessions.len() >= self.config.sessions_max {
            return Err(PgError::new("53300", "sorry, too many clients already"));
        }
        let id = SessionId(self.next_session);
        self.next_session += 1;
        let pid = 1000 + id.0 as u32;
        self.sessions.insert(
            id,
            Session {
                database: database.to_string(),
                settings: Settings {
                    default_isolation: self.config.default_isolation,
                    lock_timeout_ms: 0,
                    statement_timeout_ms: 0,
                    other: BTreeMap::new(),
                },
                tx: None,
                pending: None,
                canceled: None,
                pid,
            },
        );
        Ok(id)
    }

    /// Closes a session: its transaction rolls back, its locks go, and whoever waited on them may run.
    pub fn disconnect(&mut self, session: SessionId) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        s.pending = None;
        if let Some(tx) = s.tx.take() {
            self.abort_tx(session, tx);
        }
        for holders in self.advisory.values_mut() {
            holders.remove(&session);
        }
        self.advisory.retain(|_, h| !h.is_empty());
        self.sessions.remove(&session);
        self.runnable.retain(|s| *s != session);
        self.wake();
    }

    /// The process id PostgreSQL would report for the session.
    pub fn backend_pid(&self, session: SessionId) -> Option<u32> {
        self.sessions.get(&session).map(|s| s.pid)
    }

    /// Whether the session has a statement waiting for a lock.
    pub fn is_blocked(&self, session: SessionId) -> bool {
        self.sessions
            .get(&session)
            .and_then(|s| s.pending.as_ref())
            .is_some_and(|p| p.wait.is_some())
    }

    /// Whether the session is inside a transaction block, and whether that block failed, for `ReadyForQuery`.
    pub fn transaction_status(&self, session: SessionId) -> u8 {
        match self.sessions.get(&session).and_then(|s| s.tx.as_ref()) {
            Some(tx) if tx.failed => b'E',
            Some(tx) if tx.explicit => b'T',
            _ => b'I',
        }
    }

    /// Sessions whose wait ended (the lock holder finished, or a deadlock or timeout canceled the wait) since the last call.
    ///
    /// Each should be resumed with [`Engine::resume`].
    pub fn take_runnable(&mut self) -> Vec<SessionId> {
        std::mem::take(&mut self.runnable)
    }

    /// Runs a query string (one or more `;`-separated statements) with `$n` parameters.
    ///
    /// Statements run in order; one that must wait for a lock leaves the session blocked, and the caller resumes it with [`Engine::resume`] once [`Engine::take_runnable`] lists it.
    pub fn execute(
        &mut self,
        session: SessionId,
        sql: &str,
        params: &[Value],
        now: SimTime,
    ) -> Outcome {
        self.advance(now);
        let Some(s) = self.sessions.get_mut(&session) else {
            return Outcome::Error {
                results: vec![],
                error: PgError::new("08003", "connection does not exist"),
            };
        };
        if s.pending.is_some() {
            return Outcome::Error {
                results: vec![],
                error: PgError::new("08P01", "another command is already in progress"),
            };
        }
        s.canceled = None;
        if sql.len() > self.config.sql_bytes_max {
            return self.statement_error(
                session,
                vec![],
                PgError::new(
                    sqlstate::PROGRAM_LIMIT_EXCEEDED,
                    format!(
                        "query string is {} bytes; dosim accepts at most {}",
                        sql.len(),
                        self.config.sql_bytes_max
                    ),
                ),
            );
        }
        if params.len() > self.config.params_max {
            return self.statement_error(
                session,
                vec![],
                PgError::new(
                    "08P01",
                    format!(
                        "too many parameters: {}; at most {}",
                        params.len(),
                        self.config.params_max
                    ),
                ),
            );
        }
        let stack = crate::exec::stack_for(sql);
        let statements = match crate::exec::on_stack(stack, || crate::exec::parse(sql)) {
            Ok(statements) => statements,
            Err(e) => return self.statement_error(session, vec![], e),
        };
        let s = self.sessions.get_mut(&session).expect("checked above");
        s.pending = Some(Pending {
            queue: statements.into(),
            current: None,
            params: params.to_vec(),
            statement_start: now,
            wait: None,
            stack,
        });
        self.run(session, now)
    }

    /// Continues a blocked session: its statement retries the lock it waited for, or reports the deadlock or timeout that ended the wait.
    pub fn resume(&mut self, session: SessionId, now: SimTime) -> Outcome {
        self.advance(now);
        self.runnable.retain(|s| *s != session);
        let Some(s) = self.sessions.get_mut(&session) else {
            return Outcome::Done(vec![]);
        };
        if let Some(err) = s.canceled.take() {
            return Outcome::Error {
                results: vec![],
                error: err,
            };
        }
        if s.pending.is_none() {
            return Outcome::Done(vec![]);
        }
        self.run(session, now)
    }

    /// An error outside any statement's run (parse, limits): fails the transaction as PostgreSQL does.
    fn statement_error(
        &mut self,
        session: SessionId,
        results: Vec<QueryResult>,
        error: PgError,
    ) -> Outcome {
        self.fail_tx(session);
        Outcome::Error { results, error }
    }

    /// Runs a session's pending query string on the stack it needs.
    fn run(&mut self, session: SessionId, now: SimTime) -> Outcome {
        let stack = self
            .sessions
            .get(&session)
            .and_then(|s| s.pending.as_ref())
            .map_or(0, |p| p.stack);
        crate::exec::on_stack(stack, || self.run_here(session, now))
    }

    fn run_here(&mut self, session: SessionId, now: SimTime) -> Outcome {
        let mut results = vec![];
        loop {
            let s = self.sessions.get_mut(&session).expect("session exists");
            let mut pending = s.pending.take().expect("run needs a pending query");
            let current = match pending.current.take() {
                Some(c) => c,
                None => match pending.queue.pop_front() {
                    Some(stmt) => {
                        pending.statement_start = now;
                        Current::Start(stmt)
                    }
                    None => {
                        // End of the query string: an implicit transaction commits here.
                        if let Some(tx) = s.tx.take() {
                            if tx.explicit {
                                s.tx = Some(tx);
                            } else if let Err(e) = self.commit_tx(session, tx) {
                                return Outcome::Error { results, error: e };
                            }
                        }
                        self.vacuum_if_idle();
                        return Outcome::Done(results);
                    }
                },
            };
            let mut params = std::mem::take(&mut pending.params);
            let wait = pending.wait.take();
            self.sessions.get_mut(&session).expect("exists").pending = Some(Pending {
                queue: std::mem::take(&mut pending.queue),
                current: None,
                params: vec![],
                statement_start: pending.statement_start,
                wait: None,
                stack: pending.stack,
            });
            let units = {
                let s = self.sessions.get(&session).expect("exists");
                crate::exec::budget::units_for(
                    self.config.statement_work_max,
                    s.settings.statement_timeout_ms,
                )
            };
            let budget = crate::exec::budget::Budget::start(units);
            let step = self.step(session, current, &mut params, now);
            drop(budget);
            if let Some(p) = self
                .sessions
                .get_mut(&session)
                .and_then(|s| s.pending.as_mut())
            {
                p.params = params;
            }
            match step {
                Step::Done(result) => results.push(*result),
                Step::Blocked(current, target) => {
                    let same = wait.as_ref().filter(|w| w.target == target);
                    let since = same.map(|w| w.since).unwrap_or(now);
                    let deadlock_checked = same.is_some_and(|w| w.deadlock_checked);
                    let seq = match same {
                        Some(w) => w.seq,
                        None => {
                            self.next_wait_seq += 1;
                            self.next_wait_seq
                        }
                    };
                    let p = self
                        .sessions
                        .get_mut(&session)
                        .and_then(|s| s.pending.as_mut())
                        .expect("kept during the step");
                    p.current = Some(current);
                    p.wait = Some(WaitState {
                        target: target.clone(),
                        since,
                        deadlock_checked,
                        seq,
                    });
                    if self.wait_resolved(session, &target) {
                        continue;
                    }
                    return Outcome::Blocked {
                        results,
                        waiting_for: target,
                    };
                }
                Step::Error(e) => {
                    self.sessions.get_mut(&session).expect("exists").pending = None;
                    return self.statement_error(session, results, e);
                }
            }
        }
    }

    /// Raises a notice-level message on the current result.
    pub(crate) fn warning(code: &'static str, message: &str) -> Notice {
        Notice {
            severity: "WARNING",
            sqlstate: code,
            message: message.to_string(),
        }
    }
}
