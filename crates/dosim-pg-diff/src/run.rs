//! Runs one interleaving script against a real PostgreSQL server and lists where the server and the script disagree.
//!
//! Each session name gets its own connection. A step's statement is sent and then watched until it
//! either finishes (`ReadyForQuery`) or waits for a lock: the harness asks the server itself, through
//! `pg_blocking_pids`, whether the session's backend waits for a lock another session holds, so
//! "blocked" does not depend on a guessed delay. PostgreSQL grants a released lock to its waiter in the
//! releasing backend, before that backend's `ReadyForQuery`, so once every session in flight has either
//! finished or been seen waiting, the server is quiet until the next step, as the engine is between calls.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::script::{self, Action, Line};
use crate::wire::{now, Conn, Message, Target};

/// How long a statement may run without finishing and without waiting for a lock before the harness gives up on it.
pub const STATEMENT_WAIT_MAX: Duration = Duration::from_secs(10);
/// How long a `resumes:` block waits for a statement that has not finished yet.
pub const RESUME_WAIT_MAX: Duration = Duration::from_secs(5);
/// The longest `sleep` a script may ask for, since this runner sleeps for real and a typo must not stall the suite.
pub const SLEEP_MS_MAX: u64 = 10_000;
/// How long the harness's own queries (database creation, lock checks) may take.
const ADMIN_QUERY_MAX: Duration = Duration::from_secs(30);
/// How long to listen for a statement's answer between two lock checks.
const POLL: Duration = Duration::from_millis(5);
/// Sessions per script; more means a malformed script.
const SESSIONS_MAX: usize = 32;

/// One step whose outcome on PostgreSQL is not what the script expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub script: String,
    pub lineno: usize,
    /// The step as the script writes it (`b: UPDATE …`, `b resumes:`, or what went wrong).
    pub step: String,
    pub expected: Vec<String>,
    pub actual: Vec<String>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}.txt:{}: {}", self.script, self.lineno, self.step)?;
        writeln!(f, "  script expects:")?;
        for l in &self.expected {
            writeln!(f, "    {l}")?;
        }
        writeln!(f, "  PostgreSQL gives:")?;
        for l in &self.actual {
            writeln!(f, "    {l}")?;
        }
        Ok(())
    }
}

/// What became of a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// It finished: its messages up to `ReadyForQuery`.
    Done(Vec<Message>),
    /// It waits for a lock; the messages that came before the wait.
    Blocked(Vec<Message>),
    /// It neither finished nor waited for a lock within `STATEMENT_WAIT_MAX`.
    Stuck(Vec<Message>),
}

/// Renders messages in the script's form: per statement its notices, command tag and rows, or its error.
/// DETAIL only when the script gives one, as the engine's runner does.
fn render_messages(messages: &[Message], want_detail: bool, lines: &mut Vec<String>) {
    let mut notices = vec![];
    let mut rows = vec![];
    for m in messages {
        match m {
            Message::Notice(r) => notices.push(format!("{}: {}", r.severity, r.message)),
            Message::DataRow(values) => {
                let cells: Vec<&str> = values
                    .iter()
                    .map(|v| v.as_deref().unwrap_or("NULL"))
                    .collect();
                rows.push(script::normalize(&format!("| {}", cells.join(" | "))));
            }
            Message::CommandComplete(tag) => {
                lines.append(&mut notices);
                lines.push(tag.clone());
                lines.append(&mut rows);
            }
            Message::EmptyQuery => lines.append(&mut notices),
            Message::Error(r) => {
                // Rows sent before a statement failed are not a result, as in the engine's rendering.
                rows.clear();
                lines.append(&mut notices);
                lines.push(format!("{} {}: {}", r.severity, r.code, r.message));
                if want_detail {
                    if let Some(d) = &r.detail {
                        lines.push(format!("DETAIL: {d}"));
                    }
                }
            }
            Message::Ready(_) | Message::Other => {}
        }
    }
    lines.append(&mut notices);
}

fn render(outcome: &Outcome, want_detail: bool) -> Vec<String> {
    let mut lines = vec![];
    match outcome {
        Outcome::Done(m) => render_messages(m, want_detail, &mut lines),
        Outcome::Blocked(m) => {
            render_messages(m, want_detail, &mut lines);
            lines.push("blocked".into());
        }
        Outcome::Stuck(m) => {
            render_messages(m, want_detail, &mut lines);
            lines.push(format!(
                "(no answer within {} s, and waiting for no lock)",
                STATEMENT_WAIT_MAX.as_secs()
            ));
        }
    }
    lines
}

struct Session {
    conn: Conn,
    /// The messages of the statement in flight, if one is.
    in_flight: Option<Vec<Message>>,
}

struct Runner<'a> {
    name: String,
    target: &'a Target,
    admin: &'a mut Conn,
    sessions: BTreeMap<String, Session>,
    /// Statements that finished and have not been claimed by a `resumes:` block.
    finished: BTreeMap<String, Vec<Message>>,
    differences: Vec<Difference>,
}

/// The database every script runs in, as the engine's runner connects to `defaultdb`, DigitalOcean's
/// default database: created afresh for each script, so that scripts cannot see each other's tables.
pub const DATABASE: &str = "defaultdb";
/// The comment that marks a `defaultdb` as this suite's, so that it never drops someone else's.
pub const DATABASE_MARK: &str =
    "dosim-pg-diff scratch database, dropped and created for each script";

/// Drops the suite's `defaultdb`; one without the suite's mark is refused, not dropped.
fn drop_database(admin: &mut Conn) -> Result<(), String> {
    let rows = admin.query_ok(
        &format!(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = '{DATABASE}'"
        ),
        ADMIN_QUERY_MAX,
    )?;
    let Some(row) = rows.first() else {
        return Ok(());
    };
    if row.first().and_then(|c| c.as_deref()) != Some(DATABASE_MARK) {
        return Err(format!(
            "the server already has a database {DATABASE:?} that this suite did not create; \
             the suite drops and creates {DATABASE:?} for each script, so use a server without one"
        ));
    }
    admin.query_ok(
        &format!("DROP DATABASE {DATABASE} WITH (FORCE)"),
        ADMIN_QUERY_MAX,
    )?;
    Ok(())
}

impl Runner<'_> {
    fn differ(&mut self, lineno: usize, step: String, expected: Vec<String>, actual: Vec<String>) {
        self.differences.push(Difference {
            script: self.name.clone(),
            lineno,
            step,
            expected,
            actual,
        });
    }

    fn session(&mut self, name: &str) -> Result<&mut Session, String> {
        if !self.sessions.contains_key(name) {
            if self.sessions.len() >= SESSIONS_MAX {
                return Err(format!("more than {SESSIONS_MAX} sessions"));
            }
            let conn =
                Conn::connect(self.target, DATABASE).map_err(|e| format!("session {name}: {e}"))?;
            self.sessions.insert(
                name.to_string(),
                Session {
                    conn,
                    in_flight: None,
                },
            );
        }
        Ok(self.sessions.get_mut(name).expect("inserted above"))
    }

    /// Whether the backend waits for a lock that another backend holds or is ahead of it for.
    fn waits_for_lock(&mut self, pid: i32) -> Result<bool, String> {
        let rows = self.admin.query_ok(
            &format!("SELECT cardinality(pg_blocking_pids({pid}))"),
            ADMIN_QUERY_MAX,
        )?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .is_some_and(|v| v.as_deref() != Some("0")))
    }

    /// Reads a session's answer until its statement finishes, waits for a lock, or `max` passes.
    /// A finished statement leaves `in_flight`; the others stay there.
    fn drive(
        &mut self,
        name: &str,
        max: Duration,
        stop_when_blocked: bool,
    ) -> Result<Outcome, String> {
        let deadline = now() + max;
        loop {
            let session = self.sessions.get_mut(name).expect("a session in flight");
            let poll_until = (now() + POLL).min(deadline);
            while let Some(m) = session.conn.recv(poll_until)? {
                let done = matches!(m, Message::Ready(_));
                session
                    .in_flight
                    .as_mut()
                    .expect("a statement in flight")
                    .push(m);
                if done {
                    return Ok(Outcome::Done(
                        session.in_flight.take().expect("a statement in flight"),
                    ));
                }
            }
            let pid = session.conn.backend_pid;
            let so_far = session.in_flight.clone().unwrap_or_default();
            if stop_when_blocked && self.waits_for_lock(pid)? {
                return Ok(Outcome::Blocked(so_far));
            }
            if now() >= deadline {
                return Ok(if self.waits_for_lock(pid)? {
                    Outcome::Blocked(so_far)
                } else {
                    Outcome::Stuck(so_far)
                });
            }
        }
    }

    /// Drives every statement in flight until each has finished or waits for a lock, repeating while
    /// any finishes, since a finished statement may release what another waits for.
    fn settle(&mut self) -> Result<(), String> {
        loop {
            let in_flight: Vec<String> = self
                .sessions
                .iter()
                .filter(|(_, s)| s.in_flight.is_some())
                .map(|(n, _)| n.clone())
                .collect();
            let mut any_finished = false;
            for name in in_flight {
                if let Outcome::Done(m) = self.drive(&name, STATEMENT_WAIT_MAX, true)? {
                    any_finished = true;
                    if self.finished.insert(name.clone(), m).is_some() {
                        return Err(format!("{name} finished twice"));
                    }
                }
            }
            if !any_finished {
                return Ok(());
            }
        }
    }

    /// Reports statements that finished without a `resumes:` block claiming them, and forgets them.
    fn unclaimed(&mut self, lineno: usize, when: &str) {
        let finished = std::mem::take(&mut self.finished);
        for (name, messages) in finished {
            let mut actual = vec![format!("{name} finished:")];
            actual.extend(render(&Outcome::Done(messages), false));
            self.differ(
                lineno,
                format!("{name}'s statement, {when}"),
                vec![format!("{name} still waiting")],
                actual,
            );
        }
    }

    fn line(&mut self, line: &Line) -> Result<(), String> {
        let want_detail = script::wants_detail(line);
        match &line.action {
            Action::Step { session, sql } => {
                self.unclaimed(line.lineno, "before this step");
                let step = format!("{session}: {sql}");
                let s = self.session(session)?;
                if s.in_flight.is_some() {
                    self.differ(
                        line.lineno,
                        step,
                        line.expected.clone(),
                        vec![format!(
                            "({session} is still waiting; the statement was not sent)"
                        )],
                    );
                    return Ok(());
                }
                s.conn.send_query(sql)?;
                s.in_flight = Some(vec![]);
                let outcome = self.drive(session, STATEMENT_WAIT_MAX, true)?;
                self.settle()?;
                let ok = matches!(&outcome, Outcome::Done(m) if !m.iter().any(|m| matches!(m, Message::Error(_))));
                if line.expected.is_empty() {
                    if !ok {
                        self.differ(
                            line.lineno,
                            step,
                            vec!["(success)".into()],
                            render(&outcome, true),
                        );
                    }
                } else {
                    let actual = render(&outcome, want_detail);
                    if actual != line.expected {
                        self.differ(line.lineno, step, line.expected.clone(), actual);
                    }
                }
            }
            Action::Resumes { session } => {
                let step = format!("{session} resumes:");
                if !self.finished.contains_key(session) {
                    let waiting = self
                        .sessions
                        .get(session)
                        .is_some_and(|s| s.in_flight.is_some());
                    if !waiting {
                        self.differ(
                            line.lineno,
                            step,
                            line.expected.clone(),
                            vec![format!("({session} has no statement waiting)")],
                        );
                        return Ok(());
                    }
                    // The script says the statement has finished; give the server a moment to agree.
                    let outcome = self.drive(session, RESUME_WAIT_MAX, false)?;
                    if let Outcome::Done(m) = outcome {
                        self.finished.insert(session.clone(), m);
                    } else {
                        self.differ(
                            line.lineno,
                            step,
                            line.expected.clone(),
                            render(&outcome, want_detail),
                        );
                        return Ok(());
                    }
                    self.settle()?;
                }
                let messages = self.finished.remove(session).expect("checked above");
                let actual = render(&Outcome::Done(messages), want_detail);
                if actual != line.expected {
                    self.differ(line.lineno, step, line.expected.clone(), actual);
                }
            }
            Action::Sleep { ms } => {
                std::thread::sleep(Duration::from_millis(*ms));
                self.settle()?;
            }
        }
        Ok(())
    }
}

/// Parses a script as the engine's runner does, refusing a `sleep` longer than [`SLEEP_MS_MAX`].
pub fn parse(text: &str) -> Result<Vec<Line>, String> {
    let lines = script::parse(text)?;
    for line in &lines {
        if let Action::Sleep { ms } = line.action {
            if ms > SLEEP_MS_MAX {
                return Err(format!(
                    "line {}: sleep {ms} is longer than {SLEEP_MS_MAX} ms",
                    line.lineno
                ));
            }
        }
    }
    Ok(lines)
}

/// Runs a script in a database of its own, created before and dropped after, and returns its differences.
/// An `Err` is a failure of the harness or the server (a lost connection, a malformed script), not a difference.
pub fn run_script(
    target: &Target,
    admin: &mut Conn,
    name: &str,
    text: &str,
) -> Result<Vec<Difference>, String> {
    let lines = parse(text).map_err(|e| format!("{name}.txt: {e}"))?;
    drop_database(admin)?;
    admin.query_ok(
        &format!("CREATE DATABASE {DATABASE} TEMPLATE template0 ENCODING 'UTF8'"),
        ADMIN_QUERY_MAX,
    )?;
    admin.query_ok(
        &format!("COMMENT ON DATABASE {DATABASE} IS '{DATABASE_MARK}'"),
        ADMIN_QUERY_MAX,
    )?;
    let mut runner = Runner {
        name: name.to_string(),
        target,
        admin,
        sessions: BTreeMap::new(),
        finished: BTreeMap::new(),
        differences: vec![],
    };
    let mut result = Ok(());
    for line in &lines {
        result = runner
            .line(line)
            .map_err(|e| format!("{name}.txt:{}: {e}", line.lineno));
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        let end = text.lines().count() + 1;
        result = runner.settle();
        runner.unclaimed(end, "at the end of the script");
        let waiting: Vec<String> = runner
            .sessions
            .iter()
            .filter(|(_, s)| s.in_flight.is_some())
            .map(|(n, _)| n.clone())
            .collect();
        for name in waiting {
            runner.differ(
                end,
                format!("{name}'s statement, at the end of the script"),
                vec![format!("{name} finished and claimed")],
                vec![format!("{name} still waiting")],
            );
        }
    }
    let Runner {
        sessions,
        differences,
        admin,
        ..
    } = runner;
    for (_, s) in sessions {
        s.conn.terminate();
    }
    drop_database(admin)?;
    result.map(|()| differences)
}

#[cfg(test)]
mod tests;
