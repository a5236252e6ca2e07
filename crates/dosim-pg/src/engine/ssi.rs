//! SERIALIZABLE: the read and write sets of serializable transactions and the dangerous structures that fail one of them.

use std::collections::BTreeSet;

use super::{Engine, Tx};
use crate::error::{sqlstate, PgError};
use crate::{Isolation, TxId};

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

fn serialization_failure(detail: &str) -> PgError {
    PgError::new(
        sqlstate::SERIALIZATION_FAILURE,
        "could not serialize access due to read/write dependencies among transactions",
    )
    .with_detail(detail)
    .with_hint("The transaction might succeed if retried.")
}

impl Engine {
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
    pub(super) fn ssi_check_commit(&self, me: TxId) -> Result<(), PgError> {
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
    pub(super) fn ssi_doom_pivots(&mut self, committed: TxId) {
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
    pub(super) fn ssi_cleanup(&mut self) {
        let any_active = self.ssi.values().any(|s| s.commit_csn.is_none());
        if !any_active {
            self.ssi.clear();
        }
    }
}
