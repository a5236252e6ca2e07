//! Transaction ids, snapshots and MVCC visibility, how transactions end, and the vacuum that forgets what no one can see.

use std::collections::BTreeMap;

use super::catalog::Tuple;
use super::{unix_us, Created, Engine, Tx};
use crate::error::{sqlstate, PgError};
use crate::value::Value;
use crate::{Isolation, SessionId, TxId};

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

/// Finished transaction ids kept before an idle moment forgets them.
const XIDS_BEFORE_VACUUM: usize = 4096;

/// Bytes written or deleted after which the next idle moment vacuums, so a large DELETE gives its
/// memory back soon after it commits.
const CHURN_BYTES_BEFORE_VACUUM: u64 = 16 << 20;

/// What one row version costs in memory: its header, its values, and the text they hold.
pub(crate) fn row_bytes(data: &[Value]) -> u64 {
    let text: usize = data
        .iter()
        .map(|v| match v {
            Value::Text(s) => s.len(),
            _ => 0,
        })
        .sum();
    let bytes = std::mem::size_of::<Tuple>() + std::mem::size_of_val(data) + text;
    u64::try_from(bytes).unwrap_or(u64::MAX)
}

impl Engine {
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
    pub(super) fn vacuum_if_idle(&mut self) {
        let busy = self.xids.values().any(|i| i.state == XidState::Active)
            || self
                .sessions
                .values()
                .any(|s| s.tx.is_some() || s.pending.is_some());
        if busy {
            return;
        }
        // Vacuum when versions have doubled since the last one, so its cost is amortized over the writes.
        let total = self.tuple_versions();
        if total < 2 * self.vacuumed_tuples + 64
            && self.xids.len() < XIDS_BEFORE_VACUUM
            && self.churn_bytes < CHURN_BYTES_BEFORE_VACUUM
        {
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
                if table.tuples.capacity() > 2 * table.tuples.len() + 16 {
                    table.tuples.shrink_to_fit();
                }
                table.rebuild_unique_keys();
            }
        }
        self.xids.clear();
        self.vacuumed_tuples = self.tuple_versions();
        self.stored_bytes = self.count_stored_bytes();
        self.churn_bytes = 0;
    }

    /// Bytes of every row version of every table, counted.
    pub(crate) fn count_stored_bytes(&self) -> u64 {
        self.databases
            .values()
            .flat_map(|d| d.tables.values())
            .flat_map(|t| t.tuples.iter())
            .map(|t| row_bytes(&t.data))
            .sum()
    }

    /// Makes room for a new row version of `bytes`, or refuses it as PostgreSQL refuses an
    /// allocation past its memory: `53200 out of memory`.
    pub(crate) fn reserve_row(&mut self, bytes: u64) -> Result<(), PgError> {
        if self.stored_bytes.saturating_add(bytes) > self.config.memory_bytes_max {
            // Dropped tables leave the running count high until a vacuum: count before refusing.
            self.stored_bytes = self.count_stored_bytes();
            if self.stored_bytes.saturating_add(bytes) > self.config.memory_bytes_max {
                return Err(
                    PgError::new(sqlstate::OUT_OF_MEMORY, "out of memory").with_detail(format!(
                        "Failed on request of size {bytes} in memory context \"ExecutorState\"."
                    )),
                );
            }
        }
        self.stored_bytes += bytes;
        self.churn_bytes = self.churn_bytes.saturating_add(bytes);
        Ok(())
    }

    /// A deleted row version of `bytes` becomes dead: its memory returns at a vacuum.
    pub(crate) fn note_deleted(&mut self, bytes: u64) {
        self.churn_bytes = self.churn_bytes.saturating_add(bytes);
    }

    /// Row versions held by every table of every database.
    fn tuple_versions(&self) -> usize {
        self.databases
            .values()
            .flat_map(|d| d.tables.values())
            .map(|t| t.tuples.len())
            .sum()
    }
}
