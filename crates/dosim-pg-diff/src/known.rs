//! Where PostgreSQL and a script disagree, as far as is known: each entry is a FIXME for the script or the engine.
//!
//! The suite passes only if every difference it finds is listed here with the outcome PostgreSQL gave,
//! and every entry here is still found, so the table stays exact.

use crate::run::Difference;

/// One step where PostgreSQL's outcome is not the script's.
#[derive(Clone, Copy, Debug)]
pub struct Known {
    /// The script's name, without `.txt`.
    pub script: &'static str,
    /// The line of the step, `resumes:` block or end of script.
    pub lineno: usize,
    /// PostgreSQL's outcome, rendered as the report shows it.
    pub postgres: &'static [&'static str],
    /// What is wrong and who should fix it.
    pub fixme: &'static str,
}

impl Known {
    pub fn matches(&self, d: &Difference) -> bool {
        d.script == self.script && d.lineno == self.lineno && d.actual == self.postgres
    }
}

/// The known differences; keep this in step with README.md.
pub const KNOWN_DIFFERENCES: &[Known] = &[];
