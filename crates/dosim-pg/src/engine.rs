//! The engine: sessions, transactions and their ids, MVCC visibility, row and advisory locks, waits, timeouts and deadlocks.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use dosim_base::SimTime;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlparser::ast::{Expr, Statement};

use crate::error::{sqlstate, PgError};
use crate::eval::ColumnInfo;
use crate::exec::Current;
use crate::value::Value;
use crate::{
    AdvisoryKey, EngineConfig, Isolation, Notice, Outcome, QueryResult, SessionId, TxId, WaitFor,
};

/// Where a transaction id stands; a subtransaction's commit is its parent's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum XidState {
    Active,
    /// Committed with this commit sequence number: a snapshot with `csn >= n` sees it.
    Committed(u64),
    Aborted,
}

#[derive(Clone, Debug)]
pub(crate) struct XidInfo {
    pub top: TxId,
    pub state: XidState,
    pub session: SessionId,
}

/// What a statement sees: every transaction committed at or before `csn`, and its own transaction's earlier commands.
///
/// A commit sequence number is equivalent to PostgreSQL's (xmin, xmax, in-progress list): both say which transactions had committed when the snapshot was taken.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot {
    pub csn: u64,
    pub me: TxId,
    pub cid: u32,
}

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

/// What a transaction does that can conflict under SERIALIZABLE: tables read and written.
#[derive(Clone, Debug, Default)]
pub(crate) struct SsiTx {
    pub reads: BTreeSet<(String, String)>,
    pub writes: BTreeSet<(String, String)>,
    pub snapshot_csn: Option<u64>,
    pub commit_csn: Option<u64>,
    /// Marked as the pivot of a dangerous structure by another transaction's commit; its next statement or commit fails.
    pub doomed: bool,
}

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
    pub queue: VecDeque<Statement>,
    pub current: Option<Current>,
    pub params: Vec<Value>,
    pub statement_start: SimTime,
    pub wait: Option<WaitState>,
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
}

/// Finished transaction ids kept before an idle moment forgets them.
const XIDS_BEFORE_VACUUM: usize = 4096;

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

    /// The earliest time at which a waiting session's deadlock check, `lock_timeout` or `statement_timeout` falls due.
    pub fn next_deadline(&self) -> Option<SimTime> {
        self.sessions
            .values()
            .filter_map(|s| self.deadlines(s).into_iter().map(|(t, _)| t).min())
            .min()
    }

    fn deadlines(&self, s: &Session) -> Vec<(SimTime, Deadline)> {
        let mut out = vec![];
        let Some(p) = &s.pending else {
            return out;
        };
        let Some(w) = &p.wait else {
            return out;
        };
        if !w.deadlock_checked {
            out.push((
                w.since.plus_ms(self.config.deadlock_timeout_ms),
                Deadline::Deadlock,
            ));
        }
        if s.settings.lock_timeout_ms > 0 {
            out.push((
                w.since.plus_ms(s.settings.lock_timeout_ms),
                Deadline::LockTimeout,
            ));
        }
        if s.settings.statement_timeout_ms > 0 {
            out.push((
                p.statement_start.plus_ms(s.settings.statement_timeout_ms),
                Deadline::StatementTimeout,
            ));
        }
        out
    }

    /// Moves time forward: runs the deadlock checks and timeouts that fall due by `now`, in time order.
    ///
    /// A deadlock victim or timed-out session has its statement failed at once (releasing what it holds, as PostgreSQL does) and becomes runnable; its `resume` returns the error.
    pub fn advance(&mut self, now: SimTime) {
        if now > self.now {
            self.now = now;
        }
        loop {
            let mut due: Vec<(SimTime, SessionId, Deadline)> = vec![];
            for (id, s) in &self.sessions {
                for (t, kind) in self.deadlines(s) {
                    if t <= now {
                        due.push((t, *id, kind));
                    }
                }
            }
            due.sort();
            let Some((_, session, kind)) = due.into_iter().next() else {
                return;
            };
            let target = self.sessions[&session]
                .pending
                .as_ref()
                .and_then(|p| p.wait.as_ref())
                .map(|w| w.target.clone())
                .expect("a deadline comes from a wait");
            if self.wait_resolved(session, &target) {
                // The wait ended before its deadline: the session is runnable and no longer waiting.
                self.clear_wait(session);
                self.mark_runnable(session);
                continue;
            }
            match kind {
                Deadline::Deadlock => {
                    if let Some(w) = self
                        .sessions
                        .get_mut(&session)
                        .and_then(|s| s.pending.as_mut())
                        .and_then(|p| p.wait.as_mut())
                    {
                        w.deadlock_checked = true;
                    }
                    if let Some(cycle) = self.find_cycle(session) {
                        let detail = self.deadlock_detail(&cycle);
                        let err = PgError::new(sqlstate::DEADLOCK_DETECTED, "deadlock detected")
                            .with_detail(detail)
                            .with_hint("See server log for query details.");
                        self.cancel(session, err);
                    }
                }
                Deadline::LockTimeout => self.cancel(
                    session,
                    PgError::new(
                        sqlstate::LOCK_NOT_AVAILABLE,
                        "canceling statement due to lock timeout",
                    ),
                ),
                Deadline::StatementTimeout => self.cancel(
                    session,
                    PgError::new(
                        sqlstate::QUERY_CANCELED,
                        "canceling statement due to statement timeout",
                    ),
                ),
            }
        }
    }

    fn clear_wait(&mut self, session: SessionId) {
        if let Some(p) = self
            .sessions
            .get_mut(&session)
            .and_then(|s| s.pending.as_mut())
        {
            p.wait = None;
        }
    }

    /// Fails a waiting session's statement now and leaves the error for its next `resume`.
    fn cancel(&mut self, session: SessionId, err: PgError) {
        let s = self.sessions.get_mut(&session).expect("session exists");
        s.pending = None;
        s.canceled = Some(err);
        self.fail_tx(session);
        self.mark_runnable(session);
        self.wake();
    }

    fn deadlock_detail(&self, cycle: &[SessionId]) -> String {
        let mut lines = vec![];
        for (i, s) in cycle.iter().enumerate() {
            let next = cycle[(i + 1) % cycle.len()];
            let what = match self.sessions[s]
                .pending
                .as_ref()
                .and_then(|p| p.wait.as_ref())
                .map(|w| &w.target)
            {
                Some(WaitFor::Transaction(x)) => {
                    format!("ShareLock on transaction {}", self.top(*x).0)
                }
                Some(WaitFor::Advisory(k)) => format!("ExclusiveLock on advisory lock {k}"),
                None => "a lock".to_string(),
            };
            lines.push(format!(
                "Process {} waits for {what}; blocked by process {}.",
                self.sessions[s].pid, self.sessions[&next].pid
            ));
        }
        lines.join("\n")
    }

    /// The sessions a waiting session waits for.
    fn blockers(&self, session: SessionId) -> Vec<SessionId> {
        let Some(target) = self
            .sessions
            .get(&session)
            .and_then(|s| s.pending.as_ref())
            .and_then(|p| p.wait.as_ref())
            .map(|w| &w.target)
        else {
            return vec![];
        };
        match target {
            WaitFor::Transaction(x) => {
                if self.xid_state(*x) == XidState::Active {
                    vec![self.xids[x].session]
                } else {
                    vec![]
                }
            }
            WaitFor::Advisory(key) => self
                .advisory
                .get(key)
                .map(|h| h.keys().copied().filter(|s| *s != session).collect())
                .unwrap_or_default(),
        }
    }

    /// A wait-for cycle through `start`, in order, if there is one.
    fn find_cycle(&self, start: SessionId) -> Option<Vec<SessionId>> {
        fn dfs(
            engine: &Engine,
            at: SessionId,
            start: SessionId,
            path: &mut Vec<SessionId>,
            seen: &mut BTreeSet<SessionId>,
        ) -> bool {
            for next in engine.blockers(at) {
                if next == start {
                    return true;
                }
                if seen.insert(next) {
                    path.push(next);
                    if dfs(engine, next, start, path, seen) {
                        return true;
                    }
                    path.pop();
                }
            }
            false
        }
        let mut path = vec![start];
        let mut seen = BTreeSet::from([start]);
        dfs(self, start, start, &mut path, &mut seen).then_some(path)
    }

    /// Whether what a session waits for has gone: the transaction ended, or the advisory lock is free for it.
    pub(crate) fn wait_resolved(&self, session: SessionId, target: &WaitFor) -> bool {
        match target {
            WaitFor::Transaction(x) => self.xid_state(*x) != XidState::Active,
            WaitFor::Advisory(key) => self
                .advisory
                .get(key)
                .is_none_or(|h| h.keys().all(|s| *s == session)),
        }
    }

    /// Marks runnable every waiting session whose wait has ended.
    pub(crate) fn wake(&mut self) {
        let mut woken = vec![];
        for (id, s) in &self.sessions {
            if let Some(w) = s.pending.as_ref().and_then(|p| p.wait.as_ref()) {
                if self.wait_resolved(*id, &w.target) {
                    woken.push((w.seq, *id));
                }
            }
        }
        woken.sort();
        for (_, id) in woken {
            self.clear_wait(id);
            self.mark_runnable(id);
        }
    }

    fn mark_runnable(&mut self, session: SessionId) {
        if !self.runnable.contains(&session) {
            self.runnable.push(session);
        }
    }

    // ---- transaction ids and visibility ----

    pub(crate) fn new_xid(&mut self, session: SessionId, top: Option<TxId>) -> TxId {
        let id = TxId(self.next_xid);
        self.next_xid += 1;
        self.xids.insert(
            id,
            XidInfo {
                top: top.unwrap_or(id),
                state: XidState::Active,
                session,
            },
        );
        id
    }

    pub(crate) fn top(&self, x: TxId) -> TxId {
        self.xids.get(&x).map(|i| i.top).unwrap_or(x)
    }

    /// A subtransaction is aborted if it or its parent is; otherwise it shares its parent's state.
    pub(crate) fn xid_state(&self, x: TxId) -> XidState {
        let Some(info) = self.xids.get(&x) else {
            // Ids forgotten by vacuum belonged to finished transactions whose rows were kept or removed accordingly.
            return XidState::Committed(0);
        };
        if info.state == XidState::Aborted {
            return XidState::Aborted;
        }
        self.xids
            .get(&info.top)
            .map(|t| t.state)
            .unwrap_or(XidState::Committed(0))
    }

    fn committed_in(&self, x: TxId, snap: &Snapshot) -> bool {
        matches!(self.xid_state(x), XidState::Committed(c) if c <= snap.csn)
    }

    /// PostgreSQL's `HeapTupleSatisfiesMVCC`.
    pub(crate) fn visible(&self, t: &Tuple, snap: &Snapshot) -> bool {
        let inserted = if self.top(t.xmin) == snap.me {
            self.xid_state(t.xmin) != XidState::Aborted && t.cmin < snap.cid
        } else {
            self.committed_in(t.xmin, snap)
        };
        if !inserted {
            return false;
        }
        match t.xmax {
            None => true,
            Some(x) if self.xid_state(x) == XidState::Aborted => true,
            Some(x) if self.top(x) == snap.me => t.cmax >= snap.cid,
            Some(x) => !self.committed_in(x, snap),
        }
    }

    pub(crate) fn take_snapshot(&self, tx: &Tx) -> Snapshot {
        Snapshot {
            csn: match tx.isolation {
                Isolation::ReadCommitted => self.last_csn,
                _ => tx.snapshot_csn.unwrap_or(self.last_csn),
            },
            me: tx.top,
            cid: tx.cid,
        }
    }

    // ---- transaction ends ----

    pub(crate) fn begin_tx(
        &mut self,
        session: SessionId,
        explicit: bool,
        isolation: Option<Isolation>,
    ) -> Tx {
        let top = self.new_xid(session, None);
        let settings_before = self.sessions[&session].settings.clone();
        let default = settings_before.default_isolation;
        Tx {
            created: vec![],
            settings_before,
            settings_at_commit: None,
            top,
            savepoints: vec![],
            isolation: isolation.unwrap_or(default),
            snapshot_csn: None,
            cid: 0,
            failed: false,
            read_only: false,
            explicit,
            start_us: unix_us(self.now),
            ran_query: false,
        }
    }

    /// Commits: the SERIALIZABLE check first, then the commit sequence number that makes the writes visible.
    pub(crate) fn commit_tx(&mut self, session: SessionId, tx: Tx) -> Result<(), PgError> {
        if tx.isolation == Isolation::Serializable {
            if let Err(e) = self.ssi_check_commit(tx.top) {
                self.abort_tx(session, tx);
                return Err(e);
            }
        }
        if let (Some(settings), Some(s)) = (tx.settings_at_commit, self.sessions.get_mut(&session))
        {
            s.settings = settings;
        }
        self.last_csn += 1;
        let csn = self.last_csn;
        self.xids.get_mut(&tx.top).expect("active xid").state = XidState::Committed(csn);
        if let Some(s) = self.ssi.get_mut(&tx.top) {
            s.commit_csn = Some(csn);
            self.ssi_doom_pivots(tx.top);
        }
        self.end_tx_common(session);
        Ok(())
    }

    pub(crate) fn abort_tx(&mut self, session: SessionId, tx: Tx) {
        self.undo_created(&tx.created);
        if let Some(s) = self.sessions.get_mut(&session) {
            s.settings = tx.settings_before;
        }
        self.xids.get_mut(&tx.top).expect("active xid").state = XidState::Aborted;
        self.ssi.remove(&tx.top);
        self.end_tx_common(session);
    }

    /// Marks the session's transaction failed after an error: PostgreSQL aborts it (or its innermost savepoint) at once, releasing its locks, and waits for ROLLBACK.
    pub(crate) fn fail_tx(&mut self, session: SessionId) {
        let s = self.sessions.get_mut(&session).expect("session exists");
        let Some(mut tx) = s.tx.take() else {
            return;
        };
        if !tx.explicit {
            self.abort_tx(session, tx);
            return;
        }
        tx.failed = true;
        match tx.savepoints.last() {
            Some(sp) => {
                let xid = sp.xid;
                self.xids.get_mut(&xid).expect("savepoint xid").state = XidState::Aborted;
            }
            None => {
                self.xids.get_mut(&tx.top).expect("active xid").state = XidState::Aborted;
                self.ssi.remove(&tx.top);
                self.release_xact_advisory(session);
                let before = tx.settings_before.clone();
                tx.settings_at_commit = None;
                let created = std::mem::take(&mut tx.created);
                self.undo_created(&created);
                self.sessions
                    .get_mut(&session)
                    .expect("session exists")
                    .settings = before;
            }
        }
        self.sessions.get_mut(&session).expect("session exists").tx = Some(tx);
        self.wake();
    }

    /// Removes what a rolled-back transaction created, newest first; an object already dropped is left alone.
    fn undo_created(&mut self, created: &[Created]) {
        for c in created.iter().rev() {
            match c {
                Created::Table { database, name, id } => {
                    if let Some(db) = self.databases.get_mut(database) {
                        if db.tables.get(name).is_some_and(|t| t.id == *id) {
                            db.tables.remove(name);
                            db.indexes.retain(|_, table| table != name);
                        }
                    }
                }
                Created::Index { database, name } => {
                    if let Some(db) = self.databases.get_mut(database) {
                        db.indexes.remove(name);
                    }
                }
                Created::UniqueIndex {
                    database,
                    table,
                    table_id,
                    name,
                } => {
                    let t = self
                        .databases
                        .get_mut(database)
                        .and_then(|db| db.tables.get_mut(table))
                        .filter(|t| t.id == *table_id);
                    if let Some(t) = t {
                        t.uniques.retain(|u| u.name != *name);
                        t.rebuild_unique_keys();
                    }
                }
            }
        }
    }

    fn end_tx_common(&mut self, session: SessionId) {
        self.release_xact_advisory(session);
        self.ssi_cleanup();
        self.vacuum_if_idle();
        self.wake();
    }

    fn release_xact_advisory(&mut self, session: SessionId) {
        for holders in self.advisory.values_mut() {
            if let Some((_, xact)) = holders.get_mut(&session) {
                *xact = 0;
            }
            holders.retain(|_, (s, x)| *s > 0 || *x > 0);
        }
        self.advisory.retain(|_, h| !h.is_empty());
    }

    /// With no transaction in progress anywhere, dead row versions and finished ids can go, as VACUUM would.
    fn vacuum_if_idle(&mut self) {
        let busy = self.xids.values().any(|i| i.state == XidState::Active)
            || self
                .sessions
                .values()
                .any(|s| s.tx.is_some() || s.pending.is_some());
        if busy {
            return;
        }
        // Vacuum when versions have doubled since the last one, so its cost is amortized over the writes.
        let total: usize = self
            .databases
            .values()
            .flat_map(|d| d.tables.values())
            .map(|t| t.tuples.len())
            .sum();
        if total < 2 * self.vacuumed_tuples + 64 && self.xids.len() < XIDS_BEFORE_VACUUM {
            return;
        }
        let states: BTreeMap<TxId, XidState> =
            self.xids.keys().map(|x| (*x, self.xid_state(*x))).collect();
        let state = |x: TxId| states.get(&x).copied().unwrap_or(XidState::Committed(0));
        for db in self.databases.values_mut() {
            for table in db.tables.values_mut() {
                table.tuples.retain(|t| {
                    state(t.xmin) != XidState::Aborted
                        && !matches!(t.xmax.map(state), Some(XidState::Committed(_)))
                });
                for t in &mut table.tuples {
                    t.xmin = TxId(0);
                    t.xmax = None;
                    t.next = None;
                    t.lockers.clear();
                }
                table.rebuild_unique_keys();
            }
        }
        self.xids.clear();
        self.vacuumed_tuples = self
            .databases
            .values()
            .flat_map(|d| d.tables.values())
            .map(|t| t.tuples.len())
            .sum();
    }

    // ---- SERIALIZABLE ----

    /// Records a SERIALIZABLE transaction's read or write of a table.
    ///
    /// A read fails at once, as PostgreSQL's does, when a concurrent writer of the table has committed after its own out-conflict committed: reading would make this transaction `T_in` of a dangerous structure whose other two members already committed.
    pub(crate) fn ssi_note(
        &mut self,
        tx: &Tx,
        database: &str,
        table: &str,
        write: bool,
    ) -> Result<(), PgError> {
        if tx.isolation != Isolation::Serializable {
            return Ok(());
        }
        let key = (database.to_string(), table.to_string());
        let entry = self.ssi.entry(tx.top).or_default();
        entry.snapshot_csn = tx.snapshot_csn;
        if write {
            entry.writes.insert(key);
            return Ok(());
        }
        entry.reads.insert(key.clone());
        let me = tx.top;
        for (pivot, p) in &self.ssi {
            let Some(pivot_csn) = p.commit_csn else {
                continue;
            };
            if *pivot == me || !p.writes.contains(&key) || !self.rw_edge(me, *pivot) {
                continue;
            }
            let out_first = self.ssi.iter().any(|(out, o)| {
                out != pivot
                    && o.commit_csn.is_some_and(|c| c < pivot_csn)
                    && self.rw_edge(*pivot, *out)
            });
            if out_first {
                return Err(serialization_failure(&format!(
                    "Reason code: Canceled on conflict out to pivot {}, during read.",
                    pivot.0
                )));
            }
        }
        Ok(())
    }

    fn concurrent(a: &SsiTx, b: &SsiTx) -> bool {
        let a_before_b = matches!((a.commit_csn, b.snapshot_csn), (Some(c), Some(s)) if c <= s);
        let b_before_a = matches!((b.commit_csn, a.snapshot_csn), (Some(c), Some(s)) if c <= s);
        !a_before_b && !b_before_a
    }

    /// A read-write antidependency `reader -> writer`: the reader read a table the concurrent writer wrote.
    fn rw_edge(&self, reader: TxId, writer: TxId) -> bool {
        if reader == writer {
            return false;
        }
        match (self.ssi.get(&reader), self.ssi.get(&writer)) {
            (Some(r), Some(w)) => {
                Self::concurrent(r, w) && r.reads.intersection(&w.writes).next().is_some()
            }
            _ => false,
        }
    }

    /// Refuses a commit that would complete a dangerous structure `T_in -> T_pivot -> T_out` where `T_out` committed first.
    fn ssi_check_commit(&self, me: TxId) -> Result<(), PgError> {
        if self.ssi.get(&me).is_some_and(|s| s.doomed) {
            return Err(serialization_failure(
                "Reason code: Canceled on identification as a pivot, during commit attempt.",
            ));
        }
        let committed = |x: &TxId| self.ssi.get(x).and_then(|s| s.commit_csn);
        let others: Vec<TxId> = self.ssi.keys().copied().filter(|x| *x != me).collect();
        let has_in = |pivot: TxId| {
            self.ssi
                .keys()
                .any(|tin| *tin != pivot && self.rw_edge(*tin, pivot))
        };
        for out in &others {
            if committed(out).is_some() && self.rw_edge(me, *out) {
                // I am the pivot, and my out-conflict committed first.
                if has_in(me) {
                    return Err(serialization_failure(
                        "Reason code: Canceled on identification as a pivot, during commit attempt.",
                    ));
                }
                // I am T_in; the pivot committed, and its own out-conflict committed before it.
                let pivot_csn = committed(out).expect("checked");
                let pivot_out_first = others.iter().any(|o| {
                    o != out
                        && committed(o).is_some_and(|c| c < pivot_csn)
                        && self.rw_edge(*out, *o)
                });
                if pivot_out_first {
                    return Err(serialization_failure(
                        "Reason code: Canceled on conflict out to pivot, during commit attempt.",
                    ));
                }
            }
        }
        Ok(())
    }

    /// After `committed` commits first, dooms each active reader of its writes that also has an in-conflict from it or from another active transaction, as PostgreSQL's pre-commit check does.
    fn ssi_doom_pivots(&mut self, committed: TxId) {
        let active = |engine: &Engine, x: &TxId| {
            engine
                .ssi
                .get(x)
                .is_some_and(|s| s.commit_csn.is_none() && !s.doomed)
        };
        let doomed: Vec<TxId> = self
            .ssi
            .keys()
            .copied()
            .filter(|pivot| active(self, pivot) && self.rw_edge(*pivot, committed))
            .filter(|pivot| {
                self.ssi.keys().any(|tin| {
                    tin != pivot
                        && (*tin == committed || active(self, tin))
                        && self.rw_edge(*tin, *pivot)
                })
            })
            .collect();
        for pivot in doomed {
            if let Some(s) = self.ssi.get_mut(&pivot) {
                s.doomed = true;
            }
        }
    }

    /// Fails a statement of a transaction doomed as a pivot, before it reads or writes anything.
    pub(crate) fn ssi_check_doomed(&self, tx: &Tx) -> Result<(), PgError> {
        if self.ssi.get(&tx.top).is_some_and(|s| s.doomed) {
            return Err(serialization_failure(
                "Reason code: Canceled on identification as a pivot, during conflict out checking.",
            ));
        }
        Ok(())
    }

    /// Forgets committed SERIALIZABLE transactions once no SERIALIZABLE transaction is active.
    fn ssi_cleanup(&mut self) {
        let any_active = self.ssi.values().any(|s| s.commit_csn.is_none());
        if !any_active {
            self.ssi.clear();
        }
    }

    // ---- the entry points ----

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
        let statements = match crate::exec::parse(sql) {
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

    fn run(&mut self, session: SessionId, now: SimTime) -> Outcome {
        let mut results = vec![];
        loop {
            let s = self.sessions.get_mut(&session).expect("session exists");
            let mut pending = s.pending.take().expect("run needs a pending query");
            let current = match pending.current.take() {
                Some(c) => c,
                None => match pending.queue.pop_front() {
                    Some(stmt) => {
                        pending.statement_start = now;
                        Current::Start(Box::new(stmt))
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
            });
            let step = self.step(session, current, &mut params, now);
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Deadline {
    Deadlock,
    LockTimeout,
    StatementTimeout,
}

/// How one step of a statement ended.
pub(crate) enum Step {
    Done(Box<QueryResult>),
    Blocked(Current, WaitFor),
    Error(PgError),
}

pub(crate) fn serialization_failure(detail: &str) -> PgError {
    PgError::new(
        sqlstate::SERIALIZATION_FAILURE,
        "could not serialize access due to read/write dependencies among transactions",
    )
    .with_detail(detail)
    .with_hint("The transaction might succeed if retried.")
}
