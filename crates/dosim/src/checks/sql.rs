//! Built-in checks over a database cluster's data after the run.

use super::{Check, Violation};
use crate::outcome::RunOutcome;

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
