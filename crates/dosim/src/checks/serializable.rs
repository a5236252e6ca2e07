//! The serializability check: the committed transactions of a cluster's statement log, and whether some serial order of them explains what the run read and left.

use std::collections::BTreeMap;

use super::search::{clip_text, Search};
use super::{Check, Violation};

/// The most committed transactions [`serializable`] searches orders of.
pub const SERIAL_TRANSACTIONS_MAX: usize = 8;

/// The most transaction replays one [`serializable`] check may run.
pub const SERIAL_REPLAYS_MAX: usize = 20_000;

/// The committed history on the scenario's first database cluster is serializable for `tables`:
/// some order of its committed transactions, each replayed alone on a fresh engine after the setup
/// SQL, returns every row the run's statements returned and leaves `tables` as the run left them.
///
/// Transactions are read from the statement log ([`crate::pg::RunDatabase::statements`]):
/// `BEGIN` … `COMMIT` on one connection, or one statement outside a transaction. A transaction
/// whose `COMMIT` got no answer may or may not have committed, so the search tries it both ways.
/// The search covers at most [`SERIAL_TRANSACTIONS_MAX`] transactions and
/// [`SERIAL_REPLAYS_MAX`] replays; a run it cannot decide (more transactions, a statement logged
/// without its parameters, transaction control inside a multi-statement query) fails the check
/// with a message that starts "cannot check", rather than passing unexamined.
/// Rows of statements that read the clock or randomness (`now()`, `gen_random_uuid()`, …) are not
/// compared, and serial columns should be left out of `tables` when transactions can abort after
/// an insert, since sequences are not transactional; `"withdrawals (account_id, amount)"` compares
/// only those columns.
pub fn serializable(tables: &[&str]) -> Check {
    let tables: Vec<String> = tables.iter().map(|table| (*table).to_owned()).collect();
    let name = format!(
        "the committed history is serializable ({})",
        tables.join(", ")
    );
    Check::new(name.clone(), move |outcome| {
        let Some(cluster) = outcome.databases.first() else {
            return Err(Violation::new(&name, "the run has no database cluster"));
        };
        let database = cluster.info().name.clone();
        let violation = |message: String| {
            Violation::new(&name, message).resources([format!("database {database}")])
        };
        let log = cluster.statements();
        if let Some(why) = &log.incomplete {
            return Err(violation(format!(
                "cannot check: the statement log is incomplete: {why}"
            )));
        }
        let mut final_tables = BTreeMap::new();
        for table in &tables {
            let sql = table_query(table).map_err(&violation)?;
            let rows = cluster.query(&sql).map_err(|error| {
                violation(format!("{sql} failed at the end of the run: {error}"))
            })?;
            final_tables.insert(table.clone(), rows);
        }
        let history = SerialHistory {
            databases: cluster.database_names(),
            setup_database: cluster.info().database.clone(),
            setup_sql: cluster.setup_sql().to_vec(),
            statements: log.statements,
            final_tables,
        };
        match history.serial_order() {
            Ok(_) => Ok(()),
            Err(SerialError::NotSerializable(message)) => Err(violation(message)),
            Err(SerialError::Unchecked(message)) => {
                Err(violation(format!("cannot check: {message}")))
            }
        }
    })
}

/// `SELECT … FROM table` for a declared table, `name` or `name (column, …)`.
pub(super) fn table_query(table: &str) -> Result<String, String> {
    let (name, columns) = match table.split_once('(') {
        Some((name, rest)) => {
            let columns = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("{table:?} is not a table name or `table (column, …)`"))?;
            (
                name.trim(),
                columns.split(',').map(str::trim).collect::<Vec<_>>(),
            )
        }
        None => (table.trim(), vec!["*"]),
    };
    let identifier = |word: &str| {
        !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    };
    if !identifier(name) || !columns.iter().all(|c| *c == "*" || identifier(c)) {
        return Err(format!(
            "{table:?} is not a table name or `table (column, …)`"
        ));
    }
    Ok(format!("SELECT {} FROM {name}", columns.join(", ")))
}

/// What the serializability search works from: the cluster's setup, its statement log and the
/// final contents of the declared tables.
#[derive(Debug, Clone)]
pub struct SerialHistory {
    /// The cluster's databases.
    pub databases: Vec<String>,
    /// The database the setup SQL ran on.
    pub setup_database: String,
    /// The setup SQL, run before any transaction.
    pub setup_sql: Vec<String>,
    /// Every statement the run's connections ran, each connection's in order.
    pub statements: Vec<crate::pg::LoggedStatement>,
    /// Each declared table (`name` or `name (column, …)`) and its rows at the end of the run.
    pub final_tables: BTreeMap<String, crate::pg::Rows>,
}

/// Why [`SerialHistory::serial_order`] found no order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerialError {
    /// Every order was tried and none explains the run; the message names the transactions and the closest order's first difference.
    NotSerializable(String),
    /// The search could not decide, and says why.
    Unchecked(String),
}

/// A committed (or possibly committed) transaction: its connection's statements from `BEGIN` to `COMMIT`.
#[derive(Debug, Clone)]
pub(super) struct SerialTx {
    pub(super) actor: String,
    pub(super) connection: u64,
    pub(super) database: String,
    pub(super) statements: Vec<crate::pg::LoggedStatement>,
    /// Its `COMMIT` (or its one statement) got no answer, so it may not have happened.
    pub(super) uncertain: bool,
}

impl SerialTx {
    fn label(&self, index: usize) -> String {
        let summary: Vec<String> = self
            .statements
            .iter()
            .take(4)
            .map(|statement| clip_text(&statement.sql, 60))
            .collect();
        let more = if self.statements.len() > 4 {
            "; …"
        } else {
            ""
        };
        format!(
            "T{} {} (connection {}{}): {}{more}",
            index + 1,
            self.actor,
            self.connection,
            if self.uncertain {
                ", commit unanswered"
            } else {
                ""
            },
            summary.join("; ")
        )
    }
}

/// A statement's kind, for telling transactions apart.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TxControl {
    Begin,
    Commit,
    Rollback,
    Other,
}

pub(super) fn tx_control(sql: &str) -> TxControl {
    let upper = sql.trim().trim_end_matches(';').trim().to_ascii_uppercase();
    let first = upper.split_whitespace().next().unwrap_or("");
    match first {
        "BEGIN" | "START" => TxControl::Begin,
        "COMMIT" | "END" => TxControl::Commit,
        "ROLLBACK" | "ABORT" if !upper.split_whitespace().any(|word| word == "TO") => {
            TxControl::Rollback
        }
        _ => TxControl::Other,
    }
}

/// Whether one logged entry is several statements (a simple query with `;` between them).
fn multi_statement(statement: &crate::pg::LoggedStatement) -> bool {
    let results = match &statement.outcome {
        crate::pg::LoggedOutcome::Done(results) => results.len(),
        crate::pg::LoggedOutcome::Error { results, .. } => results.len() + 1,
        crate::pg::LoggedOutcome::Unanswered => 1,
    };
    results > 1 || statement.sql.trim().trim_end_matches(';').contains(';')
}

impl SerialHistory {
    /// The run's committed transactions, each connection's in order, or why they cannot be told apart.
    fn transactions(&self) -> Result<Vec<SerialTx>, String> {
        use crate::pg::LoggedOutcome;
        let mut connections: BTreeMap<u64, Vec<&crate::pg::LoggedStatement>> = BTreeMap::new();
        for statement in &self.statements {
            connections
                .entry(statement.connection)
                .or_default()
                .push(statement);
        }
        let mut transactions = Vec::new();
        for (connection, statements) in connections {
            let mut open: Option<SerialTx> = None;
            for statement in statements {
                let control = tx_control(&statement.sql);
                if multi_statement(statement) {
                    let has_control = statement.sql.split(';').any(|part| {
                        !part.trim().is_empty() && tx_control(part) != TxControl::Other
                    });
                    if has_control {
                        return Err(format!(
                            "{} (connection {connection}) sent transaction control inside a multi-statement query: {}",
                            statement.actor,
                            clip_text(&statement.sql, 80)
                        ));
                    }
                }
                let new_tx = |uncertain| SerialTx {
                    actor: statement.actor.clone(),
                    connection,
                    database: statement.database.clone(),
                    statements: vec![statement.clone()],
                    uncertain,
                };
                match open.take() {
                    None => match (&control, &statement.outcome) {
                        (TxControl::Begin, LoggedOutcome::Done(_)) => open = Some(new_tx(false)),
                        // A refused BEGIN, or COMMIT and ROLLBACK outside a transaction, change nothing.
                        (TxControl::Begin | TxControl::Commit | TxControl::Rollback, _) => {}
                        (TxControl::Other, LoggedOutcome::Done(_)) => {
                            transactions.push(new_tx(false))
                        }
                        // A statement that failed outside a transaction rolled back its own.
                        (TxControl::Other, LoggedOutcome::Error { .. }) => {}
                        (TxControl::Other, LoggedOutcome::Unanswered) => {
                            transactions.push(new_tx(true))
                        }
                    },
                    Some(mut tx) => {
                        tx.statements.push(statement.clone());
                        match (&control, &statement.outcome) {
                            (TxControl::Commit, LoggedOutcome::Done(results)) => {
                                // COMMIT of a failed transaction answers ROLLBACK.
                                if results.first().is_some_and(|result| result.tag == "COMMIT") {
                                    transactions.push(tx);
                                }
                            }
                            (TxControl::Commit, LoggedOutcome::Unanswered) => {
                                tx.uncertain = true;
                                transactions.push(tx);
                            }
                            // A failed COMMIT rolls back; so does ROLLBACK.
                            (TxControl::Commit | TxControl::Rollback, _) => {}
                            _ => open = Some(tx),
                        }
                    }
                }
            }
            // A transaction still open when its connection closed was rolled back.
        }
        Ok(transactions)
    }

    /// An order of the committed transactions that explains the run, as indexes into them, or why there is none.
    pub fn serial_order(&self) -> Result<Vec<usize>, SerialError> {
        let transactions = self.transactions().map_err(SerialError::Unchecked)?;
        if transactions.len() > SERIAL_TRANSACTIONS_MAX {
            return Err(SerialError::Unchecked(format!(
                "the run committed {} transactions, more than the {SERIAL_TRANSACTIONS_MAX} whose orders this check searches",
                transactions.len()
            )));
        }
        for (index, tx) in transactions.iter().enumerate() {
            for statement in &tx.statements {
                if let Err(why) = &statement.params {
                    if !matches!(statement.outcome, crate::pg::LoggedOutcome::Error { .. }) {
                        return Err(SerialError::Unchecked(format!(
                            "T{} cannot be replayed: {}: {why}",
                            index + 1,
                            clip_text(&statement.sql, 80)
                        )));
                    }
                }
            }
        }
        let mut search = Search {
            history: self,
            transactions: &transactions,
            replays: 0,
            closest: None,
        };
        let mut order = Vec::new();
        match search.extend(&mut order)? {
            true => Ok(order),
            false => {
                let listing: Vec<String> = transactions
                    .iter()
                    .enumerate()
                    .map(|(index, tx)| format!("  {}", tx.label(index)))
                    .collect();
                let closest = match search.closest {
                    Some((_, order, difference)) => format!(
                        "\nclosest order {}: {difference}",
                        order
                            .iter()
                            .map(|index| format!("T{}", index + 1))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None => String::new(),
                };
                Err(SerialError::NotSerializable(format!(
                    "no serial order of the {} committed transactions gives the rows the run read and the tables it left:\n{}{closest}",
                    transactions.len(),
                    listing.join("\n")
                )))
            }
        }
    }
}
