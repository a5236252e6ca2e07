//! A statement's work budget: how much one run of a statement may evaluate and visit before it is
//! canceled, as PostgreSQL's `statement_timeout` cancels a statement that runs too long.
//!
//! Execution takes no simulated time, so a clock cannot bound it; work can, and work is the same
//! on every machine, which keeps a run deterministic. Each expression evaluated and each row
//! visited costs one unit. A statement gets [`crate::EngineConfig::statement_work_max`] units,
//! or fewer when the session sets `statement_timeout`: [`WORK_PER_MS`] units for each of its
//! milliseconds. The count lives in a thread-local because the engine runs one statement at a
//! time on the thread that called it, and the evaluator is reached from many places that do not
//! carry the engine.

use std::cell::Cell;

use crate::error::{sqlstate, PgError};

/// Units of work a statement may do per millisecond of `statement_timeout`: about what this
/// engine does in a millisecond on one core of a release build.
pub const WORK_PER_MS: u64 = 10_000;

thread_local! {
    static LEFT: Cell<u64> = const { Cell::new(u64::MAX) };
}

/// The budget of one run of a statement, from its creation until it is dropped; outside it the
/// budget is unlimited.
pub(crate) struct Budget(());

impl Budget {
    /// Gives the statement about to run `units` units of work.
    pub(crate) fn start(units: u64) -> Budget {
        LEFT.with(|left| left.set(units));
        Budget(())
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        LEFT.with(|left| left.set(u64::MAX));
    }
}

/// Spends `units`; the statement is canceled once its budget is spent.
pub(crate) fn charge(units: u64) -> Result<(), PgError> {
    LEFT.with(|left| {
        let have = left.get();
        if have < units {
            left.set(0);
            return Err(PgError::new(
                sqlstate::QUERY_CANCELED,
                "canceling statement due to statement timeout",
            ));
        }
        left.set(have - units);
        Ok(())
    })
}

/// The units a statement gets: the engine's budget, or less under `statement_timeout`.
pub(crate) fn units_for(work_max: u64, statement_timeout_ms: u64) -> u64 {
    if statement_timeout_ms == 0 {
        return work_max;
    }
    work_max.min(statement_timeout_ms.saturating_mul(WORK_PER_MS))
}
