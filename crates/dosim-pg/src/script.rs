//! The interleaving-script format of `tests/scripts/*.txt`, parsed once for the engine's own runner and for the differential suite against a real PostgreSQL.
//!
//! ```text
//! -- a comment
//! a: BEGIN                      a step: session `a` runs one statement
//!   BEGIN                       what it returns: the command tag,
//!   | 1 | 100                   rows, values separated by " | ", NULL as NULL,
//!   ERROR 40001: message        or an error (SQLSTATE and exact message), optionally followed by
//!   DETAIL: Key (id)=(1) ...    a DETAIL line, checked only when the script gives one,
//!   WARNING: message            warnings and notices, before the tag,
//!   blocked                     or that the statement waits for a lock.
//! b resumes:                    session `b`'s waiting statement finished because of the step before;
//!   UPDATE 1                    its result, in the same form.
//! sleep 1100                    time passes (simulated by the engine's runner, real on PostgreSQL).
//! ```
//!
//! Expectation lines are indented by two spaces and belong to the action above them.
//! The parser takes any `sleep` that fits a `u64`; a runner that sleeps for real sets its own limit.

use dosim_base::script::Raw;

/// What a script line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Session `session` sends `sql`.
    Step { session: String, sql: String },
    /// Session `session`'s waiting statement has finished.
    Resumes { session: String },
    /// Time passes.
    Sleep { ms: u64 },
}

/// One action with its expectation lines (normalized) and its 1-based line number.
pub type Line = dosim_base::script::Line<Action>;

/// Whether the script gives a DETAIL line under `line`, so that the runner renders the error's
/// detail too.
pub fn wants_detail(line: &Line) -> bool {
    line.expected.iter().any(|l| l.starts_with("DETAIL:"))
}

pub use dosim_base::script::is_dosim_only;

/// Collapses runs of white space, so that empty values (`void`) compare as `| |`.
pub fn normalize(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a script; a malformed line is an error naming its line number.
pub fn parse(script: &str) -> Result<Vec<Line>, String> {
    dosim_base::script::parse(script, "session: SQL", normalize, |raw, _| {
        Ok(match raw {
            Raw::Step { who, text } => Action::Step {
                session: who.trim().to_string(),
                sql: text.trim().to_string(),
            },
            Raw::Resumes { who } => Action::Resumes {
                session: who.trim().to_string(),
            },
            Raw::Sleep { ms } => Action::Sleep { ms },
        })
    })
}

#[cfg(test)]
mod tests;
