//! The backtracking search for a serial order: each transaction replayed alone on a fresh engine, compared with what the run read and left.

use super::serializable::{
    table_query, tx_control, SerialError, SerialHistory, SerialTx, TxControl, SERIAL_REPLAYS_MAX,
};

/// A backtracking search over orders of the committed transactions.
pub(super) struct Search<'a> {
    pub(super) history: &'a SerialHistory,
    pub(super) transactions: &'a [SerialTx],
    pub(super) replays: usize,
    /// How far the order that got furthest before a difference got, the order, and the difference.
    pub(super) closest: Option<(usize, Vec<usize>, String)>,
}

impl Search<'_> {
    /// Tries every continuation of `order`; true when one explains the run, with `order` holding it.
    pub(super) fn extend(&mut self, order: &mut Vec<usize>) -> Result<bool, SerialError> {
        let required_placed = self
            .transactions
            .iter()
            .enumerate()
            .all(|(index, tx)| tx.uncertain || order.contains(&index));
        if required_placed {
            let mut engine = self.replay(order)?;
            match self.compare_tables(&mut engine) {
                Ok(()) => return Ok(true),
                Err(difference) => self.note(order, difference, 1),
            }
        }
        for next in 0..self.transactions.len() {
            if order.contains(&next) {
                continue;
            }
            order.push(next);
            let fits = {
                let mut engine = self.replay(&order[..order.len() - 1])?;
                self.replays += 1;
                self.replay_tx(&mut engine, next)
            };
            match fits {
                Ok(()) => {
                    if self.extend(order)? {
                        return Ok(true);
                    }
                }
                Err(difference) => {
                    let difference = format!("in T{}, {difference}", next + 1);
                    self.note(order, difference, 0);
                }
            }
            order.pop();
        }
        Ok(false)
    }

    /// Keeps the difference of the order that got furthest, preferring a final-table difference at equal length.
    fn note(&mut self, order: &[usize], difference: String, bonus: usize) {
        let reached = order.len() * 2 + bonus;
        if self
            .closest
            .as_ref()
            .is_none_or(|(best, ..)| reached > *best)
        {
            self.closest = Some((reached, order.to_vec(), difference));
        }
    }

    /// A fresh engine with the setup SQL run and the transactions of `order` replayed.
    fn replay(&mut self, order: &[usize]) -> Result<dosim_pg::Engine, SerialError> {
        let mut engine = dosim_pg::Engine::new(dosim_pg::EngineConfig::default());
        for name in &self.history.databases {
            if !engine.database_names().contains(name) {
                engine.create_database(name);
            }
        }
        let session = engine
            .connect(&self.history.setup_database)
            .map_err(|error| SerialError::Unchecked(format!("replay: {}", error.message)))?;
        for sql in &self.history.setup_sql {
            let failure = match engine.execute(session, sql, &[], dosim_pg::SimTime::ZERO) {
                dosim_pg::Outcome::Done(_) => continue,
                dosim_pg::Outcome::Error { error, .. } => error.message,
                dosim_pg::Outcome::Blocked { .. } => "it waited for a lock".to_owned(),
            };
            engine.disconnect(session);
            return Err(SerialError::Unchecked(format!(
                "the setup SQL failed in a replay: {failure}"
            )));
        }
        engine.disconnect(session);
        for &index in order {
            self.replays += 1;
            if self.replays > SERIAL_REPLAYS_MAX {
                return Err(SerialError::Unchecked(format!(
                    "the search passed its budget of {SERIAL_REPLAYS_MAX} transaction replays"
                )));
            }
            if let Err(difference) = self.replay_tx(&mut engine, index) {
                return Err(SerialError::Unchecked(format!(
                    "T{} replayed differently a second time: {difference}",
                    index + 1
                )));
            }
        }
        Ok(engine)
    }

    /// Replays one transaction alone; `Err` says the first way its answers differ from the run's.
    fn replay_tx(&self, engine: &mut dosim_pg::Engine, index: usize) -> Result<(), String> {
        use crate::pg::LoggedOutcome;
        let tx = &self.transactions[index];
        let session = engine
            .connect(&tx.database)
            .map_err(|error| format!("connecting to {}: {}", tx.database, error.message))?;
        let result = (|| {
            for statement in &tx.statements {
                let params = statement.params.clone().unwrap_or_default();
                let now = dosim_pg::SimTime::from_ms(statement.invoke_ms);
                let replayed = engine.execute(session, &statement.sql, &params, now);
                let (results, error) = match replayed {
                    dosim_pg::Outcome::Done(results) => (results, None),
                    dosim_pg::Outcome::Error { results, error } => (results, Some(error)),
                    dosim_pg::Outcome::Blocked { .. } => {
                        return Err(format!(
                            "{} waited for a lock in the replay",
                            describe(statement)
                        ))
                    }
                };
                let replayed_results: Vec<crate::pg::LoggedResult> = results
                    .iter()
                    .map(|result| crate::pg::LoggedResult {
                        tag: result.tag.clone(),
                        rows: Some(crate::pg::text_rows(&result.rows)),
                    })
                    .collect();
                let comparable = !incomparable(&statement.sql);
                match (&statement.outcome, &error) {
                    (LoggedOutcome::Done(run), None) => {
                        compare_results(statement, run, &replayed_results, comparable)?
                    }
                    (
                        LoggedOutcome::Error {
                            results: run,
                            sqlstate,
                            ..
                        },
                        Some(error),
                    ) => {
                        compare_results(statement, run, &replayed_results, comparable)?;
                        if *sqlstate != error.sqlstate {
                            return Err(format!(
                                "{} failed with {} in the replay, but with {sqlstate} in the run",
                                describe(statement),
                                error.sqlstate
                            ));
                        }
                    }
                    (LoggedOutcome::Done(_), Some(error)) => {
                        return Err(format!(
                            "{} failed in the replay ({}: {}) but not in the run",
                            describe(statement),
                            error.sqlstate,
                            error.message
                        ))
                    }
                    (LoggedOutcome::Error { sqlstate, .. }, None) => {
                        return Err(format!(
                            "{} failed in the run ({sqlstate}) but not in the replay",
                            describe(statement)
                        ))
                    }
                    // The unanswered statement is the transaction's last; taking it as committed means it must succeed.
                    (LoggedOutcome::Unanswered, None) => {
                        let committed = tx_control(&statement.sql) != TxControl::Commit
                            || replayed_results
                                .first()
                                .is_some_and(|result| result.tag == "COMMIT");
                        if !committed {
                            return Err(format!("{} did not commit", describe(statement)));
                        }
                    }
                    (LoggedOutcome::Unanswered, Some(error)) => {
                        return Err(format!(
                            "{} failed in the replay ({}: {})",
                            describe(statement),
                            error.sqlstate,
                            error.message
                        ))
                    }
                }
            }
            Ok(())
        })();
        engine.disconnect(session);
        result
    }

    /// Compares the declared tables' rows in the replay with the run's, as unordered lists.
    fn compare_tables(&self, engine: &mut dosim_pg::Engine) -> Result<(), String> {
        let session = engine
            .connect(&self.history.setup_database)
            .map_err(|error| error.message)?;
        let mut result = Ok(());
        for (table, run_rows) in &self.history.final_tables {
            let sql = match table_query(table) {
                Ok(sql) => sql,
                Err(error) => {
                    result = Err(error);
                    break;
                }
            };
            let replayed = match engine.execute(session, &sql, &[], dosim_pg::SimTime::ZERO) {
                dosim_pg::Outcome::Done(results) => results
                    .last()
                    .map(|result| crate::pg::text_rows(&result.rows))
                    .unwrap_or_default(),
                dosim_pg::Outcome::Error { error, .. } => {
                    result = Err(format!("{sql} failed in the replay: {}", error.message));
                    break;
                }
                dosim_pg::Outcome::Blocked { .. } => {
                    result = Err(format!("{sql} waited for a lock in the replay"));
                    break;
                }
            };
            let (mut run_sorted, mut replay_sorted) = (run_rows.clone(), replayed);
            run_sorted.sort();
            replay_sorted.sort();
            if run_sorted != replay_sorted {
                result = Err(format!(
                    "{table} ends as ({}) in the replay, but as ({}) in the run",
                    clip_text(&crate::pg::render_rows(&replay_sorted), 200),
                    clip_text(&crate::pg::render_rows(&run_sorted), 200)
                ));
                break;
            }
        }
        engine.disconnect(session);
        result
    }
}

/// Compares a statement's results in the run and the replay: command tags always, rows when comparable.
fn compare_results(
    statement: &crate::pg::LoggedStatement,
    run: &[crate::pg::LoggedResult],
    replay: &[crate::pg::LoggedResult],
    comparable: bool,
) -> Result<(), String> {
    let ordered = statement.sql.to_ascii_lowercase().contains("order by");
    for (run, replay) in run.iter().zip(replay) {
        if run.tag != replay.tag {
            return Err(format!(
                "{} answered {} in the replay, but {} in the run",
                describe(statement),
                replay.tag,
                run.tag
            ));
        }
        let (Some(run_rows), Some(replay_rows), true) = (&run.rows, &replay.rows, comparable)
        else {
            continue;
        };
        let (mut run_rows, mut replay_rows) = (run_rows.clone(), replay_rows.clone());
        // Without ORDER BY, PostgreSQL promises no order, so rows compare as a multiset.
        if !ordered {
            run_rows.sort();
            replay_rows.sort();
        }
        if run_rows != replay_rows {
            return Err(format!(
                "{} returned ({}) in the replay, but ({}) in the run",
                describe(statement),
                clip_text(&crate::pg::render_rows(&replay_rows), 120),
                clip_text(&crate::pg::render_rows(&run_rows), 120)
            ));
        }
    }
    if run.len() != replay.len() {
        return Err(format!(
            "{} ran {} statements in the replay, but {} in the run",
            describe(statement),
            replay.len(),
            run.len()
        ));
    }
    Ok(())
}

/// The statement texts whose answers depend on time, randomness or other sessions, so a serial
/// replay cannot reproduce them: their rows are not compared (their command tags still are).
const INCOMPARABLE_SQL: &[&str] = &[
    "now()",
    "current_timestamp",
    "current_time",
    "localtimestamp",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "gen_random_uuid",
    "random()",
    "pg_backend_pid",
    "txid_current",
    "pg_try_advisory",
];

/// Whether a statement's rows depend on time, randomness or other sessions.
fn incomparable(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    INCOMPARABLE_SQL.iter().any(|word| lower.contains(word))
}

/// A statement and its parameters, for a difference's message.
fn describe(statement: &crate::pg::LoggedStatement) -> String {
    let params = match &statement.params {
        Ok(params) if !params.is_empty() => {
            let shown: Vec<String> = params
                .iter()
                .map(|value| value.to_text().unwrap_or_else(|| "NULL".to_owned()))
                .collect();
            format!(" ({})", clip_text(&shown.join(", "), 60))
        }
        _ => String::new(),
    };
    format!("{}{params}", clip_text(&statement.sql, 80))
}

/// Text on one line, clipped to `chars_max` characters.
pub(super) fn clip_text(text: &str, chars_max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= chars_max {
        return one_line;
    }
    let mut clipped: String = one_line.chars().take(chars_max - 1).collect();
    clipped.push('…');
    clipped
}
