//! Checks: predicates over a run's history and final state, built in and user-written.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use crate::outcome::{ActorResult, RunOutcome};

/// A check that failed: which, why, and the resources involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Violation {
    /// The check's name, e.g. `every actor finished Ok`.
    pub check: String,
    /// What went wrong, in one or more sentences.
    pub message: String,
    /// The offending resources (`droplet 42`, `volume 7f3a…`, `pod-1`).
    pub resources: Vec<String>,
}

impl Violation {
    /// A violation of `check`.
    pub fn new(check: impl Into<String>, message: impl Into<String>) -> Violation {
        Violation {
            check: check.into(),
            message: message.into(),
            resources: Vec::new(),
        }
    }

    /// Names the resources involved.
    pub fn resources<I, S>(mut self, resources: I) -> Violation
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resources = resources.into_iter().map(Into::into).collect();
        self
    }
}

type CheckFn = dyn Fn(&RunOutcome) -> Result<(), Violation> + Send + Sync;

/// A named predicate over a run's outcome.
#[derive(Clone)]
pub struct Check {
    name: String,
    check: Arc<CheckFn>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Check {
    /// A check from a closure over the run's outcome (history, beliefs, final state).
    pub fn new<F>(name: impl Into<String>, check: F) -> Check
    where
        F: Fn(&RunOutcome) -> Result<(), Violation> + Send + Sync + 'static,
    {
        Check {
            name: name.into(),
            check: Arc::new(check),
        }
    }

    /// The check's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs the check. A panic inside a user's check is reported as a violation, not a crash.
    pub fn run(&self, outcome: &RunOutcome) -> Result<(), Violation> {
        let check = &self.check;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(outcome))) {
            Ok(result) => result,
            Err(panic) => Err(Violation::new(
                &self.name,
                format!("the check panicked: {}", crate::panic_message(&panic)),
            )),
        }
    }
}

/// Every actor finished and returned `Ok`, except those a scenario's
/// [`crate::ActorFault::crash`] left down: a deliberate crash is not a failure of the actor's
/// code. Add [`no_crashed_actors`] to count it as one.
pub fn actors_ok() -> Check {
    const NAME: &str = "every actor finished Ok";
    Check::new(NAME, |outcome| {
        let failed: Vec<_> = outcome
            .actors
            .iter()
            .filter(|actor| !matches!(actor.result, ActorResult::Ok | ActorResult::Crashed))
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        let message = failed
            .iter()
            .map(|actor| match &actor.result {
                ActorResult::Ok | ActorResult::Crashed => unreachable!("filtered out above"),
                ActorResult::Err { message } => format!("{} failed: {message}", actor.name),
                ActorResult::Panicked { message } => format!("{} panicked: {message}", actor.name),
                ActorResult::Unfinished => {
                    format!("{} did not finish before the run's time limit", actor.name)
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        Err(Violation::new(NAME, message).resources(failed.iter().map(|actor| actor.name.clone())))
    })
}

/// No actor was left down by a crash: with [`actors_ok`], every actor's last incarnation
/// finished `Ok`.
pub fn no_crashed_actors() -> Check {
    const NAME: &str = "no actor left crashed";
    Check::new(NAME, |outcome| {
        let crashed: Vec<String> = outcome
            .actors
            .iter()
            .filter(|actor| actor.result == ActorResult::Crashed)
            .map(|actor| actor.name.clone())
            .collect();
        if crashed.is_empty() {
            return Ok(());
        }
        Err(Violation::new(
            NAME,
            format!("{} crashed and did not restart", crashed.join(", ")),
        )
        .resources(crashed))
    })
}

/// No two droplets share a name (one logical create made one droplet).
pub fn no_duplicate_droplets_by_name() -> Check {
    const NAME: &str = "no duplicate droplets by name";
    Check::new(NAME, |outcome| {
        let mut by_name: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for droplet in &outcome.final_state.droplets {
            by_name
                .entry(droplet.name.as_str())
                .or_default()
                .push(droplet.id);
        }
        duplicates(NAME, "named", by_name)
    })
}

/// No two droplets share a tag starting with `prefix` (the tag a logical create carries).
pub fn no_duplicate_droplets_by_tag(prefix: impl Into<String>) -> Check {
    let prefix = prefix.into();
    Check::new(
        format!("no duplicate droplets by tag {prefix}"),
        move |outcome| {
            let mut by_tag: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
            for droplet in &outcome.final_state.droplets {
                for tag in droplet
                    .tags
                    .iter()
                    .filter(|tag| tag.starts_with(prefix.as_str()))
                {
                    by_tag.entry(tag.as_str()).or_default().push(droplet.id);
                }
            }
            duplicates(
                &format!("no duplicate droplets by tag {prefix}"),
                "tagged",
                by_tag,
            )
        },
    )
}

fn duplicates(check: &str, how: &str, groups: BTreeMap<&str, Vec<u64>>) -> Result<(), Violation> {
    let duplicated: Vec<_> = groups
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .collect();
    if duplicated.is_empty() {
        return Ok(());
    }
    let message = duplicated
        .iter()
        .map(|(key, ids)| {
            format!(
                "{} droplets {how} {key}: {}",
                ids.len(),
                ids.iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let resources = duplicated
        .iter()
        .flat_map(|(_, ids)| ids.iter().map(|id| format!("droplet {id}")));
    Err(Violation::new(check, message).resources(resources.collect::<Vec<_>>()))
}

/// At most one volume called `name` exists in `region`, counting names that start with
/// `name` too, since check-then-create code that loses often retries under a new name.
pub fn unique_volume_name(name: impl Into<String>, region: impl Into<String>) -> Check {
    let (name, region) = (name.into(), region.into());
    Check::new(
        format!("at most one volume {name} in {region}"),
        move |outcome| {
            let matching: Vec<_> = outcome
                .final_state
                .volumes
                .iter()
                .filter(|volume| volume.region == region && volume.name.starts_with(name.as_str()))
                .collect();
            if matching.len() <= 1 {
                return Ok(());
            }
            let names = matching
                .iter()
                .map(|volume| format!("{} ({})", volume.name, crate::history::short(&volume.id)))
                .collect::<Vec<_>>();
            Err(Violation::new(
                format!("at most one volume {name} in {region}"),
                format!(
                    "{} volumes for {name} in {region}: {}",
                    matching.len(),
                    names.join(", ")
                ),
            )
            .resources(
                matching
                    .iter()
                    .map(|volume| format!("volume {}", volume.id))
                    .collect::<Vec<_>>(),
            ))
        },
    )
}

/// Every resource the run created is known to some actor: it appeared in a successful
/// response one of them received. A create whose response was lost, and that nobody found
/// again, leaves an orphan that costs money and that no code will ever clean up.
pub fn no_orphans() -> Check {
    const NAME: &str = "no orphaned resources";
    Check::new(NAME, |outcome| {
        let initial: BTreeSet<String> =
            outcome.initial_state.resource_names().into_iter().collect();
        let known = outcome.known_resources();
        let orphans: Vec<String> = outcome
            .final_state
            .resource_names()
            .into_iter()
            .filter(|resource| !initial.contains(resource) && !known.contains(resource))
            .collect();
        if orphans.is_empty() {
            return Ok(());
        }
        let message = format!(
            "created during the run but never seen by any actor: {}",
            orphans
                .iter()
                .map(|resource| short_resource(resource))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Err(Violation::new(NAME, message).resources(orphans))
    })
}

/// Every volume the run created ends attached to a droplet.
pub fn no_unattached_volumes() -> Check {
    const NAME: &str = "no unattached volumes";
    Check::new(NAME, |outcome| {
        let initial: BTreeSet<String> = outcome
            .initial_state
            .volumes
            .iter()
            .map(|volume| volume.id.clone())
            .collect();
        let leaked: Vec<_> = outcome
            .final_state
            .volumes
            .iter()
            .filter(|volume| volume.droplet_ids.is_empty() && !initial.contains(&volume.id))
            .collect();
        if leaked.is_empty() {
            return Ok(());
        }
        let names = leaked
            .iter()
            .map(|volume| format!("{} ({})", volume.name, crate::history::short(&volume.id)))
            .collect::<Vec<_>>();
        Err(Violation::new(
            NAME,
            format!("volumes left attached to nothing: {}", names.join(", ")),
        )
        .resources(
            leaked
                .iter()
                .map(|volume| format!("volume {}", volume.id))
                .collect::<Vec<_>>(),
        ))
    })
}

/// The reserved IP has one owner, and the actors agree with the cloud about who it is.
///
/// Actors state their view with `cx.believe(key, droplet_id)` (and `cx.forget(key)` when they
/// step down). At the end, the actors still holding a belief must all name the same droplet,
/// and that droplet must be the one a reserved IP is actually assigned to.
pub fn reserved_ip_single_owner(key: impl Into<String>) -> Check {
    let key = key.into();
    let name = format!("one owner of the reserved IP ({key})");
    Check::new(name.clone(), move |outcome| {
        let beliefs: BTreeMap<String, String> = outcome
            .beliefs_about(&key)
            .into_iter()
            .filter_map(|(actor, value)| Some((actor, value?)))
            .collect();
        let believed: BTreeSet<&str> = beliefs.values().map(String::as_str).collect();
        let describe = || {
            beliefs
                .iter()
                .map(|(actor, value)| format!("{actor} believes droplet {value} owns it"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if believed.len() > 1 {
            let resources: Vec<String> = beliefs
                .keys()
                .cloned()
                .chain(believed.iter().map(|id| format!("droplet {id}")))
                .collect();
            return Err(Violation::new(
                &name,
                format!(
                    "{} hosts believe they own it: {}",
                    beliefs.len(),
                    describe()
                ),
            )
            .resources(resources));
        }
        let Some(owner) = believed.into_iter().next() else {
            return Ok(());
        };
        let assigned: Vec<_> = outcome
            .final_state
            .reserved_ips
            .iter()
            .filter(|reserved_ip| {
                reserved_ip.droplet_id.map(|id| id.to_string()).as_deref() == Some(owner)
            })
            .collect();
        if !assigned.is_empty() {
            return Ok(());
        }
        let actual = outcome
            .final_state
            .reserved_ips
            .iter()
            .map(|reserved_ip| {
                format!(
                    "{} is assigned to {}",
                    reserved_ip.ip,
                    reserved_ip
                        .droplet_id
                        .map_or("nothing".to_owned(), |id| format!("droplet {id}"))
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut resources: Vec<String> = outcome
            .final_state
            .reserved_ips
            .iter()
            .map(|reserved_ip| format!("reserved_ip {}", reserved_ip.ip))
            .collect();
        resources.push(format!("droplet {owner}"));
        Err(Violation::new(
            &name,
            format!(
                "{}, but {}",
                describe(),
                if actual.is_empty() {
                    "no reserved IP exists".to_owned()
                } else {
                    actual
                }
            ),
        )
        .resources(resources))
    })
}

fn short_resource(resource: &str) -> String {
    match resource.split_once(' ') {
        Some((kind, id)) => format!("{kind} {}", crate::history::short(id)),
        None => resource.to_owned(),
    }
}

/// A quantity the user declares conserved: `sql`, run after the run on the scenario's first
/// database cluster, returns `expected` (its first column of its first row, in PostgreSQL's text
/// format). `name` says what the quantity is.
///
/// `conserved("the total balance", "SELECT sum(balance) FROM accounts", 200)` fails when an update was lost.
/// For another cluster, write a [`Check`] over [`RunOutcome::database`].
pub fn conserved(name: &str, sql: &str, expected: impl std::fmt::Display) -> Check {
    let (quantity, sql, expected) = (name.to_owned(), sql.to_owned(), expected.to_string());
    let name = format!("{quantity} stays {expected}");
    Check::new(name.clone(), move |outcome| {
        let (database, rows) = query(&name, outcome, &sql)?;
        let actual = rows
            .first()
            .and_then(|row| row.first())
            .map(|value| value.clone().unwrap_or_else(|| "NULL".to_owned()));
        let actual = match actual {
            Some(actual) if actual == expected => return Ok(()),
            Some(actual) => actual,
            None => "no rows".to_owned(),
        };
        Err(Violation::new(
            &name,
            format!("{quantity} is {actual} at the end of the run, not {expected}\n({sql})"),
        )
        .resources([format!("database {database}")]))
    })
}

/// `sql`, run after the run on the scenario's first database cluster, returns exactly
/// `expected`: its rows with columns joined by `, ` and rows by `; ` (`"1, 80; 2, 100"`), NULL as `NULL`.
pub fn sql_equals(sql: &str, expected: impl Into<String>) -> Check {
    let (sql, expected) = (sql.to_owned(), expected.into());
    let name = format!("{sql} returns {expected}");
    Check::new(name.clone(), move |outcome| {
        let (database, rows) = query(&name, outcome, &sql)?;
        let actual = crate::pg::render_rows(&rows);
        if actual == expected {
            return Ok(());
        }
        Err(Violation::new(
            &name,
            format!("{sql} returned {actual:?} at the end of the run, not {expected:?}"),
        )
        .resources([format!("database {database}")]))
    })
}

/// Runs `sql` on the final data of the run's first cluster, as a violation of `check` when it cannot.
fn query(
    check: &str,
    outcome: &RunOutcome,
    sql: &str,
) -> Result<(String, crate::pg::Rows), Violation> {
    let Some(cluster) = outcome.databases.first() else {
        return Err(Violation::new(check, "the run has no database cluster"));
    };
    let database = cluster.info().name.clone();
    match cluster.query(sql) {
        Ok(rows) => Ok((database, rows)),
        Err(error) => Err(Violation::new(
            check,
            format!("{sql} failed at the end of the run: {error}"),
        )
        .resources([format!("database {database}")])),
    }
}

/// The most committed transactions [`serializable`] searches orders of.
pub const SERIAL_TRANSACTIONS_MAX: usize = 8;

/// The most transaction replays one [`serializable`] check may run.
pub const SERIAL_REPLAYS_MAX: usize = 20_000;

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

/// The committed history on the scenario's first database cluster is serializable for `tables`:
/// some order of its committed transactions, each replayed alone on a fresh engine after the setup
/// SQL, returns every row the run's statements returned and leaves `tables` as the run left them.
///
/// Transactions are read from the statement log ([`crate::pg::RunDatabase::statements`]):
/// `BEGIN` … `COMMIT` on one connection, or one statement outside a transaction. A transaction
/// whose `COMMIT` got no answer may or may not have committed, so the search tries it both ways.
/// The search covers at most [`SERIAL_TRANSACTIONS_MAX`] transactions and
/// [`SERIAL_REPLAYS_MAX`] replays; a run it cannot decide (more transactions, a parameter it cannot
/// decode, transaction control inside a multi-statement query) fails the check with a message
/// that starts "cannot check", rather than passing unexamined.
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
fn table_query(table: &str) -> Result<String, String> {
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
struct SerialTx {
    actor: String,
    connection: u64,
    database: String,
    statements: Vec<crate::pg::LoggedStatement>,
    /// Its `COMMIT` (or its one statement) got no answer, so it may not have happened.
    uncertain: bool,
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
enum TxControl {
    Begin,
    Commit,
    Rollback,
    Other,
}

fn tx_control(sql: &str) -> TxControl {
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

/// A backtracking search over orders of the committed transactions.
struct Search<'a> {
    history: &'a SerialHistory,
    transactions: &'a [SerialTx],
    replays: usize,
    /// How far the order that got furthest before a difference got, the order, and the difference.
    closest: Option<(usize, Vec<usize>, String)>,
}

impl Search<'_> {
    /// Tries every continuation of `order`; true when one explains the run, with `order` holding it.
    fn extend(&mut self, order: &mut Vec<usize>) -> Result<bool, SerialError> {
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
                        rows: Some(
                            result
                                .rows
                                .iter()
                                .map(|row| row.iter().map(|value| value.to_text()).collect())
                                .collect(),
                        ),
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
                    .map(|result| {
                        result
                            .rows
                            .iter()
                            .map(|row| row.iter().map(|value| value.to_text()).collect())
                            .collect::<crate::pg::Rows>()
                    })
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
fn clip_text(text: &str, chars_max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= chars_max {
        return one_line;
    }
    let mut clipped: String = one_line.chars().take(chars_max - 1).collect();
    clipped.push('…');
    clipped
}
