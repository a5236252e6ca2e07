//! What the engine's tests share: a statement's answer as one line of text.

use dosim_pg::{Engine, Outcome, SessionId, SimTime};

/// Runs `sql` on session `s` at time zero: the last result's rows (values joined by `|`, rows by
/// `,`, `NULL` as NULL), or `ERROR <sqlstate> <message>`, or `blocked`.
pub fn run(engine: &mut Engine, s: SessionId, sql: &str) -> String {
    match engine.execute(s, sql, &[], SimTime::ZERO) {
        Outcome::Done(results) => results
            .last()
            .map(|r| {
                r.rows
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|v| v.to_text().unwrap_or_else(|| "NULL".into()))
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
        Outcome::Error { error, .. } => format!("ERROR {} {}", error.sqlstate, error.message),
        Outcome::Blocked { .. } => "blocked".into(),
    }
}
