//! Waits: what a blocked session waits for, the deadlines of deadlock checks and timeouts, deadlock cycles, and wakeups.

use std::collections::BTreeSet;

use dosim_base::SimTime;

use super::mvcc::XidState;
use super::{Engine, Session};
use crate::error::{sqlstate, PgError};
use crate::{SessionId, WaitFor};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Deadline {
    Deadlock,
    LockTimeout,
    StatementTimeout,
}

impl Engine {
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
}
