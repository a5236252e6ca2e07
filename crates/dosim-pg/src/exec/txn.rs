//! Transaction control: BEGIN, COMMIT, ROLLBACK, their AND CHAIN forms, savepoints, and transaction modes.

use sqlparser::ast::{
    Statement, TransactionAccessMode, TransactionIsolationLevel, TransactionMode,
};

use super::{not_supported_statement, result, result_with_notice};
use crate::engine::{Engine, Step, Tx};
use crate::error::{sqlstate, PgError};
use crate::eval::{ident_name, unsupported};
use crate::{Isolation, SessionId, TxId};

pub(super) fn isolation_of(level: &TransactionIsolationLevel) -> Result<Isolation, PgError> {
    Ok(match level {
        TransactionIsolationLevel::ReadUncommitted | TransactionIsolationLevel::ReadCommitted => {
            Isolation::ReadCommitted
        }
        TransactionIsolationLevel::RepeatableRead => Isolation::RepeatableRead,
        TransactionIsolationLevel::Serializable => Isolation::Serializable,
        TransactionIsolationLevel::Snapshot => {
            return Err(PgError::new(
                sqlstate::SYNTAX_ERROR,
                "syntax error at or near \"SNAPSHOT\"",
            ))
        }
    })
}

/// COMMIT or ROLLBACK outside a transaction: only a warning, as in PostgreSQL.
fn no_transaction(tag: &str) -> Step {
    result_with_notice(
        tag,
        Engine::warning(
            sqlstate::NO_ACTIVE_SQL_TRANSACTION,
            "there is no transaction in progress",
        ),
    )
}

/// Refuses a change of isolation level once the transaction has run a query.
pub(super) fn isolation_settable(tx: &Tx) -> Result<(), PgError> {
    if tx.snapshot_csn.is_some() || tx.ran_query {
        return Err(PgError::new(
            sqlstate::ACTIVE_SQL_TRANSACTION,
            "SET TRANSACTION ISOLATION LEVEL must be called before any query",
        ));
    }
    Ok(())
}

fn savepoint_missing(name: &str) -> PgError {
    PgError::new(
        sqlstate::INVALID_SAVEPOINT_SPECIFICATION,
        format!("savepoint \"{name}\" does not exist"),
    )
}

impl Engine {
    /// BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ROLLBACK TO and RELEASE.
    pub(super) fn transaction_control(
        &mut self,
        session: SessionId,
        stmt: &Statement,
    ) -> Result<Step, PgError> {
        match stmt {
            Statement::StartTransaction {
                modes,
                begin,
                statements,
                exception,
                ..
            } => {
                if !statements.is_empty() || exception.is_some() {
                    return Err(not_supported_statement(stmt));
                }
                let tag = if *begin { "BEGIN" } else { "START TRANSACTION" };
                self.begin(session, modes, tag)
            }
            Statement::Commit { chain: true, .. } | Statement::Rollback { chain: true, .. } => {
                if matches!(
                    stmt,
                    Statement::Rollback {
                        savepoint: Some(_),
                        ..
                    }
                ) {
                    return Err(unsupported("ROLLBACK TO SAVEPOINT AND CHAIN statements"));
                }
                self.end_and_chain(session, matches!(stmt, Statement::Commit { .. }))
            }
            Statement::Commit { .. } => {
                let s = self.sessions.get_mut(&session).expect("exists");
                match s.tx.take() {
                    None => Ok(no_transaction("COMMIT")),
                    Some(tx) if tx.failed => {
                        self.abort_tx(session, tx);
                        Ok(result("ROLLBACK"))
                    }
                    Some(tx) => {
                        self.commit_tx(session, tx)?;
                        Ok(result("COMMIT"))
                    }
                }
            }
            Statement::Rollback {
                savepoint: None, ..
            } => {
                let s = self.sessions.get_mut(&session).expect("exists");
                match s.tx.take() {
                    None => Ok(no_transaction("ROLLBACK")),
                    Some(tx) => {
                        self.abort_tx(session, tx);
                        Ok(result("ROLLBACK"))
                    }
                }
            }
            Statement::Rollback {
                savepoint: Some(name),
                ..
            } => self.rollback_to(session, ident_name(name)),
            Statement::Savepoint { name } => self.savepoint(session, ident_name(name)),
            Statement::ReleaseSavepoint { name } => {
                let name = ident_name(name);
                self.in_block(session, "RELEASE SAVEPOINT")?;
                let tx = self.tx_mut(session);
                let Some(i) = tx.savepoints.iter().rposition(|s| s.name == name) else {
                    return Err(savepoint_missing(&name));
                };
                tx.savepoints.truncate(i);
                Ok(result("RELEASE"))
            }
            _ => unreachable!("is_control lists these"),
        }
    }

    /// Refuses `what` outside a transaction block.
    fn in_block(&self, session: SessionId, what: &str) -> Result<(), PgError> {
        let explicit = self.sessions[&session]
            .tx
            .as_ref()
            .is_some_and(|t| t.explicit);
        if !explicit {
            return Err(PgError::new(
                sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                format!("{what} can only be used in transaction blocks"),
            ));
        }
        Ok(())
    }

    /// BEGIN: opens a transaction block, or makes the query string's implicit transaction one; a second BEGIN only warns.
    fn begin(
        &mut self,
        session: SessionId,
        modes: &[TransactionMode],
        tag: &str,
    ) -> Result<Step, PgError> {
        let s = self.sessions.get_mut(&session).expect("exists");
        if let Some(tx) = s.tx.as_mut() {
            if tx.explicit {
                return Ok(result_with_notice(
                    tag,
                    Engine::warning(
                        sqlstate::ACTIVE_SQL_TRANSACTION,
                        "there is already a transaction in progress",
                    ),
                ));
            }
            tx.explicit = true;
            self.apply_modes(session, modes)?;
            return Ok(result(tag));
        }
        let tx = self.begin_tx(session, true, None);
        self.sessions.get_mut(&session).expect("exists").tx = Some(tx);
        self.apply_modes(session, modes)?;
        Ok(result(tag))
    }

    /// COMMIT AND CHAIN or ROLLBACK AND CHAIN: ends the transaction and opens the next with the same characteristics.
    fn end_and_chain(&mut self, session: SessionId, commit: bool) -> Result<Step, PgError> {
        let what = if commit { "COMMIT" } else { "ROLLBACK" };
        self.in_block(session, &format!("{what} AND CHAIN"))?;
        let s = self.sessions.get_mut(&session).expect("exists");
        let tx = s.tx.take().expect("checked above");
        let (isolation, read_only) = (tx.isolation, tx.read_only);
        let tag = if commit && !tx.failed {
            self.commit_tx(session, tx)?;
            "COMMIT"
        } else {
            self.abort_tx(session, tx);
            "ROLLBACK"
        };
        // The chained transaction keeps the ended one's characteristics.
        let mut next = self.begin_tx(session, true, Some(isolation));
        next.read_only = read_only;
        self.sessions.get_mut(&session).expect("exists").tx = Some(next);
        Ok(result(tag))
    }

    /// ROLLBACK TO SAVEPOINT: aborts the savepoint and those after it, and starts it afresh.
    fn rollback_to(&mut self, session: SessionId, name: String) -> Result<Step, PgError> {
        self.in_block(session, "ROLLBACK TO SAVEPOINT")?;
        let tx = self.tx_ref(session);
        let Some(i) = tx.savepoints.iter().rposition(|s| s.name == name) else {
            return Err(savepoint_missing(&name));
        };
        let undone: Vec<TxId> = tx.savepoints[i..].iter().map(|s| s.xid).collect();
        let top = tx.top;
        for x in undone {
            if let Some(info) = self.xids.get_mut(&x) {
                info.state = crate::engine::XidState::Aborted;
            }
        }
        let fresh = self.new_xid(session, Some(top));
        let tx = self.tx_mut(session);
        tx.savepoints.truncate(i);
        tx.savepoints
            .push(crate::engine::Savepoint { name, xid: fresh });
        tx.failed = false;
        self.wake();
        Ok(result("ROLLBACK"))
    }

    /// SAVEPOINT: a subtransaction with an id of its own, up to the configured number.
    fn savepoint(&mut self, session: SessionId, name: String) -> Result<Step, PgError> {
        self.in_block(session, "SAVEPOINT")?;
        let top = self.tx_ref(session).top;
        if self.tx_ref(session).savepoints.len() >= self.config.savepoints_max {
            return Err(PgError::new(
                sqlstate::PROGRAM_LIMIT_EXCEEDED,
                format!(
                    "too many savepoints: dosim allows {} per transaction",
                    self.config.savepoints_max
                ),
            ));
        }
        let xid = self.new_xid(session, Some(top));
        self.tx_mut(session)
            .savepoints
            .push(crate::engine::Savepoint { name, xid });
        Ok(result("SAVEPOINT"))
    }

    pub(super) fn apply_modes(
        &mut self,
        session: SessionId,
        modes: &[TransactionMode],
    ) -> Result<(), PgError> {
        for mode in modes {
            match mode {
                TransactionMode::IsolationLevel(level) => {
                    let iso = isolation_of(level)?;
                    let tx = self.tx_mut(session);
                    isolation_settable(tx)?;
                    tx.isolation = iso;
                }
                TransactionMode::AccessMode(TransactionAccessMode::ReadOnly) => {
                    self.tx_mut(session).read_only = true;
                }
                TransactionMode::AccessMode(TransactionAccessMode::ReadWrite) => {
                    let tx = self.tx_mut(session);
                    if tx.read_only && tx.ran_query {
                        return Err(PgError::new(
                            sqlstate::ACTIVE_SQL_TRANSACTION,
                            "transaction read-write mode must be set before any query",
                        ));
                    }
                    tx.read_only = false;
                }
            }
        }
        Ok(())
    }
}
