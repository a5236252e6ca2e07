//! One client connection: startup and password authentication (`conn/startup.rs`), then simple and extended query (`conn/extended.rs`), each statement admitted through the gate and told to the observer, with waits for locks that await a wake-up.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use dosim_base::gate::{Operation, Plane};
use dosim_pg::{Outcome, PgError, QueryResult, SessionId, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;

use crate::codec::{Body, Io, ReadError};
use crate::emit::{write_result, Emit};
use crate::observe::{one_line, SUMMARY_CHARS_MAX};
use crate::observe::{Observed, Running};
use crate::{
    PgCluster, PoolMode, SessionInfo, StatementOutcome, StatementResult, StatementStart,
    TransactionStatus,
};

mod extended;
mod startup;

use extended::{Portal, Prepared};
pub use startup::reported_parameters;
use startup::{fatal, startup, Login, Started};

/// The most a client waiting in a pool's line may send before the wait stops reading its socket
/// (it is read to notice the client leaving; what it sends is kept for after the wait).
const WAITING_READ_BYTES_MAX: usize = 1 << 20;

/// Closes the engine's session however the connection's task ends, even when it is dropped mid-wait, and tells the observer how its last statement and the session ended.
struct SessionGuard {
    cluster: PgCluster,
    /// The engine session; a pool's client holds one only while the pool lends it.
    session: Option<SessionId>,
    /// The pool a client of port 25061 borrows its sessions from.
    pooled: Option<Pooled>,
    observed: Option<Observed>,
}

/// A pool client's pool: its name and mode.
struct Pooled {
    name: String,
    mode: PoolMode,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if let Some(observed) = &mut self.observed {
            observed.finish(self.cluster.now(), None, |results| {
                StatementOutcome::Interrupted { results }
            });
        }
        match (self.session.take(), &self.pooled) {
            (Some(session), None) => self.cluster.disconnect(session),
            // PgBouncer closes a server connection whose client left mid-transaction; an idle one goes back to the pool.
            (Some(session), Some(pooled)) => {
                let idle = self
                    .cluster
                    .with_engine_mut(|e, _| e.transaction_status(session))
                    == b'I';
                if idle && pooled.mode != PoolMode::Session {
                    self.cluster.release(&pooled.name, session);
                } else {
                    self.cluster.discard(&pooled.name, session);
                }
            }
            (None, _) => {}
        }
        if let Some(observed) = &self.observed {
            observed
                .observer
                .session_ended(&observed.info, self.cluster.now());
        }
    }
}

struct Conn {
    cluster: PgCluster,
    /// The cluster's number for the connection, which the gate's operations carry as their session.
    connection: u64,
    /// The label the caller gave the connection, the gate's actor.
    peer: String,
    /// Disconnects the session when the connection ends, and holds what the observer knows of it.
    guard: SessionGuard,
    database: String,
    notify: Arc<Notify>,
    prepared: BTreeMap<String, Prepared>,
    portals: BTreeMap<String, Portal>,
    /// After an error in extended query, messages are skipped until `Sync`.
    skipping: bool,
}

pub(crate) async fn serve<S>(
    cluster: PgCluster,
    stream: S,
    connection: u64,
    peer: String,
    pooled: bool,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut io = Io::new(stream);
    let tls = cluster.config().tls;
    let plain_refused = (tls && cluster.config().tls_required).then_some(peer.as_str());
    let deadline = cluster
        .config()
        .authentication_timeout
        .map(|t| tokio::time::Instant::now() + t);
    // Each phase is boxed, so this future stays small: it is moved whole into its task, and a
    // session's state machine is kilobytes.
    match or_left(
        Box::pin(by(
            deadline,
            startup(&cluster, &mut io, tls, plain_refused, pooled),
        ))
        .await,
    )? {
        Started::End => Ok(()),
        Started::Session(login) => {
            Box::pin(serve_session(cluster, io, login, connection, peer)).await
        }
        Started::Upgrade => {
            // Bytes sent before the server's answer would be trusted as if encrypted (CVE-2021-23214); PostgreSQL refuses them.
            if io.buffered() > 0 {
                fatal(
                    &mut io,
                    PgError::new("08P01", "received unencrypted data after SSL request"),
                )
                .await?;
                return Ok(());
            }
            io.write_raw(b"S");
            io.flush().await?;
            Box::pin(serve_tls(
                cluster,
                io.into_inner(),
                deadline,
                connection,
                peer,
                pooled,
            ))
            .await
        }
    }
}

/// The rest of a connection that asked for TLS: the handshake, then startup and the session
/// over the encrypted stream.
async fn serve_tls<S>(
    cluster: PgCluster,
    stream: S,
    deadline: Option<tokio::time::Instant>,
    connection: u64,
    peer: String,
    pooled: bool,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let accepting = dosim_base::tls::acceptor().accept(stream);
    let accepted = match deadline {
        Some(d) => tokio::time::timeout_at(d, accepting).await.ok(),
        None => Some(accepting.await),
    };
    let Some(Ok(stream)) = accepted else {
        return Ok(());
    };
    let mut io = Io::new(stream);
    match or_left(by(deadline, startup(&cluster, &mut io, false, None, pooled)).await)? {
        Started::Session(login) => serve_session(cluster, io, login, connection, peer).await,
        Started::End | Started::Upgrade => Ok(()),
    }
}

/// Runs a startup phase until `deadline` (`authentication_timeout`); past it the connection ends quietly.
async fn by(
    deadline: Option<tokio::time::Instant>,
    phase: impl std::future::Future<Output = io::Result<Started>>,
) -> io::Result<Started> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d, phase)
            .await
            .unwrap_or(Ok(Started::End)),
        None => phase.await,
    }
}

/// A client that leaves during startup ends the connection quietly.
fn or_left(r: io::Result<Started>) -> io::Result<Started> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Started::End),
        other => other,
    }
}

async fn serve_session<S>(
    cluster: PgCluster,
    mut io: Io<S>,
    login: Login,
    connection: u64,
    peer: String,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let observed = cluster.observer().map(|observer| Observed {
        observer,
        info: SessionInfo {
            connection,
            peer: peer.clone(),
            database: login.database.clone(),
            user: login.user,
            backend_pid: login.backend_pid,
        },
        running: None,
    });
    if let Some(observed) = &observed {
        observed
            .observer
            .session_started(&observed.info, cluster.now());
    }
    let notify = match login.session {
        Some(session) => cluster.register(session),
        None => Arc::new(Notify::new()),
    };
    let guard = SessionGuard {
        cluster: cluster.clone(),
        session: login.session,
        pooled: login.pooled,
        observed,
    };
    let mut conn = Conn {
        cluster,
        connection,
        peer,
        guard,
        database: login.database,
        notify,
        prepared: BTreeMap::new(),
        portals: BTreeMap::new(),
        skipping: false,
    };
    match conn.run(&mut io).await {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(()),
        other => other,
    }
}

impl Conn {
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: &mut Io<S>) -> io::Result<()> {
        let bytes_max = self.cluster.config().message_bytes_max;
        loop {
            let (tag, body) = match io.read_message(bytes_max).await {
                Ok(Some(m)) => m,
                Ok(None) => return Ok(()),
                Err(ReadError::Io(e)) => return Err(e),
                Err(ReadError::Protocol(m)) => {
                    io.error(&PgError::new("08P01", m), true);
                    return io.flush().await;
                }
            };
            if self.skipping && tag != b'S' && tag != b'X' {
                continue;
            }
            let result = match tag {
                b'Q' => {
                    self.simple_query(io, &body).await?;
                    Ok(())
                }
                b'P' => self.parse(io, &body),
                b'B' => self.bind(io, &body),
                b'D' => self.describe(io, &body),
                b'E' => self.execute(io, &body).await?,
                b'C' => self.close(io, &body),
                b'S' => {
                    self.skipping = false;
                    let status = self.status();
                    if status == b'I' {
                        self.portals.clear();
                    }
                    io.ready_for_query(status);
                    io.flush().await?;
                    Ok(())
                }
                b'H' => {
                    io.flush().await?;
                    Ok(())
                }
                b'X' => return Ok(()),
                // CopyData, CopyDone and CopyFail outside a copy are ignored, as PostgreSQL does.
                b'd' | b'c' | b'f' => Ok(()),
                b'F' => Err(PgError::new(
                    "0A000",
                    "function call messages are not supported",
                )),
                other => {
                    io.error(
                        &PgError::new("08P01", format!("invalid frontend message type {other}")),
                        true,
                    );
                    return io.flush().await;
                }
            };
            if let Err(e) = result {
                io.error(&e, false);
                self.skipping = true;
            }
            io.maybe_flush().await?;
        }
    }

    fn status(&self) -> u8 {
        match self.guard.session {
            Some(session) => self
                .cluster
                .with_engine_mut(|e, _| e.transaction_status(session)),
            None => b'I',
        }
    }

    async fn simple_query<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        body: &[u8],
    ) -> io::Result<()> {
        // A simple query drops the unnamed statement and portal, as in PostgreSQL.
        self.prepared.remove("");
        self.portals.remove("");
        match Body::new(body).cstr() {
            Ok(sql) => {
                let sql = sql.to_string();
                match self
                    .run_statement(io, &sql, &[], &Emit::Simple, &mut vec![])
                    .await?
                {
                    Ok(0) => io.empty(b'I'),
                    Ok(_) => {}
                    Err(e) => io.error(&e, false),
                }
            }
            Err(e) => io.error(&e, false),
        }
        let status = self.status();
        if status == b'I' {
            self.portals.clear();
        }
        io.ready_for_query(status);
        io.flush().await
    }

    /// Runs one statement text: tells the observer, admits it through the gate, has the engine run it, and follows it to its end as [`Conn::drive`] does.
    async fn run_statement<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        sql: &str,
        params: &[Value],
        emit: &Emit<'_>,
        collected: &mut Vec<QueryResult>,
    ) -> io::Result<Result<usize, PgError>> {
        let started = self.cluster.now();
        if self.guard.observed.is_some() {
            let before = TransactionStatus::from_byte(self.status());
            let start = StatementStart {
                sql: sql.to_string(),
                params: params.to_vec(),
                started,
            };
            if let Some(observed) = &mut self.guard.observed {
                observed.start(start, before);
            }
        }
        let operation = Operation {
            plane: Plane::Postgres,
            server: self.cluster.config().host.clone(),
            actor: self.peer.clone(),
            session: Some(self.connection),
            summary: one_line(sql, SUMMARY_CHARS_MAX),
        };
        let session = match self.hold(io).await? {
            Ok(session) => session,
            Err(error) => {
                self.finish_observed(&Err(error.clone()));
                return Ok(Err(error));
            }
        };
        let permit = self.cluster.gate().admit(operation).await;
        let first = self
            .cluster
            .with_engine_mut(|e, now| e.execute(session, sql, params, now));
        // The permit covers the engine's run alone: a statement that must now wait for a lock lets the gate go, and its resumption is not admitted again.
        drop(permit);
        let ended = self.drive(io, first, emit, collected).await?;
        self.finish_observed(&ended);
        Ok(match self.hand_back() {
            Some(error) => Err(error),
            None => ended,
        })
    }

    /// The engine session the next statement runs on: the connection's own, or one its pool lends it, waiting in the pool's line if need be; a client that closes its socket meanwhile leaves the line.
    ///
    /// A client that waited past `query_wait_timeout` gets PgBouncer's error and is disconnected.
    async fn hold<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
    ) -> io::Result<Result<SessionId, PgError>> {
        if let Some(session) = self.guard.session {
            return Ok(Ok(session));
        }
        let name = match &self.guard.pooled {
            Some(pooled) => pooled.name.clone(),
            None => return Ok(Err(PgError::new("08006", "the session has closed"))),
        };
        // PgBouncer drops a client whose socket closes while it waits: the line is left and the
        // statement never reaches a server. So the socket is read meanwhile (what the client
        // sends is kept for after, up to `WAITING_READ_BYTES_MAX`), and its end ends the wait.
        let acquired = {
            let acquire = self.cluster.acquire(&name);
            tokio::pin!(acquire);
            loop {
                tokio::select! {
                    biased;
                    acquired = &mut acquire => break Some(acquired),
                    read = io.read_more(), if io.buffered() < WAITING_READ_BYTES_MAX => {
                        if !matches!(read, Ok(n) if n > 0) {
                            break None;
                        }
                    }
                }
            }
        };
        let Some(acquired) = acquired else {
            return Err(io::ErrorKind::UnexpectedEof.into());
        };
        match acquired {
            Ok(session) => {
                self.guard.session = Some(session);
                self.notify = self.cluster.register(session);
                Ok(Ok(session))
            }
            Err(error) if error.message == "query_wait_timeout" => {
                io.error(&error, false);
                io.flush().await?;
                Err(io::ErrorKind::UnexpectedEof.into())
            }
            Err(error) => Ok(Err(error)),
        }
    }

    /// Hands a pool's server connection back when the pool's mode says the client is done with it; statement mode refuses a transaction block, closing its server connection.
    fn hand_back(&mut self) -> Option<PgError> {
        let name = self.guard.pooled.as_ref()?.name.clone();
        let mode = self.guard.pooled.as_ref()?.mode;
        let session = self.guard.session?;
        let idle = self.status() == b'I';
        match mode {
            PoolMode::Session => None,
            PoolMode::Transaction if !idle => None,
            PoolMode::Statement if !idle => {
                self.guard.session = None;
                self.cluster.discard(&name, session);
                Some(PgError::new(
                    "08P01",
                    "transaction blocks not allowed in statement pooling mode",
                ))
            }
            PoolMode::Transaction | PoolMode::Statement => {
                self.guard.session = None;
                self.cluster.release(&name, session);
                None
            }
        }
    }

    /// Tells the observer how the running statement ended.
    fn finish_observed(&mut self, ended: &Result<usize, PgError>) {
        if self.guard.observed.is_some() {
            let after = TransactionStatus::from_byte(self.status());
            let now = self.cluster.now();
            if let Some(observed) = &mut self.guard.observed {
                observed.finish(now, Some(after), |results| match ended {
                    Ok(_) => StatementOutcome::Done(results),
                    Err(error) => StatementOutcome::Failed {
                        results,
                        error: error.clone(),
                    },
                });
            }
        }
    }

    /// Tells the observer of a statement that `Parse` or `Bind` refused, so the engine never ran it.
    fn refused(&mut self, sql: &str, error: &PgError) {
        if self.guard.observed.is_none() {
            return;
        }
        let status = TransactionStatus::from_byte(self.status());
        let now = self.cluster.now();
        if let Some(observed) = &mut self.guard.observed {
            let start = StatementStart {
                sql: sql.to_string(),
                params: Vec::new(),
                started: now,
            };
            observed.start(start, status);
            observed.finish(now, Some(status), |_| {
                StatementOutcome::Refused(error.clone())
            });
        }
    }

    /// The running statement the observer will hear of, if it hears of any.
    fn running(&mut self) -> Option<&mut Running> {
        self.guard.observed.as_mut()?.running.as_mut()
    }

    /// Follows an engine outcome to its end, writing each finished statement and awaiting wake-ups while blocked.
    ///
    /// Returns how many statements finished, or the error that ended the run; an `Err` of the outer result means the connection is gone.
    async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        first: Outcome,
        emit: &Emit<'_>,
        collected: &mut Vec<QueryResult>,
    ) -> io::Result<Result<usize, PgError>> {
        let mut outcome = first;
        let mut n = 0;
        loop {
            let (results, end) = match outcome {
                Outcome::Done(results) => (results, Some(Ok(()))),
                Outcome::Error { results, error } => (results, Some(Err(error))),
                Outcome::Blocked { results, .. } => (results, None),
            };
            for r in results {
                n += 1;
                if let Some(running) = self.running() {
                    running.results.push(StatementResult::of(&r));
                }
                if let Emit::Collect = emit {
                    collected.push(r);
                    continue;
                }
                if let Err(e) = write_result(io, &r, emit) {
                    return Ok(Err(e));
                }
                io.maybe_flush().await?;
            }
            match end {
                Some(Ok(())) => return Ok(Ok(n)),
                Some(Err(e)) => return Ok(Err(e)),
                None => {}
            }
            let blocked_at = self.cluster.now();
            io.flush().await?;
            outcome = match self.wait(io).await? {
                Some(o) => o,
                None => return Err(io::ErrorKind::UnexpectedEof.into()),
            };
            let waited_ms = self
                .cluster
                .now()
                .as_ms()
                .saturating_sub(blocked_at.as_ms());
            if let Some(running) = self.running() {
                running.lock_wait_ms += waited_ms;
            }
        }
    }

    /// Awaits the outcome of this session's waiting statement, which the cluster resumes when the wait ends, running the engine's deadlock checks and timeouts when they fall due.
    ///
    /// Returns `None` when the client closed the connection meanwhile; bytes it sent are kept for later.
    async fn wait<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
    ) -> io::Result<Option<Outcome>> {
        let read_cap = self.cluster.config().message_bytes_max;
        loop {
            let Some(session) = self.guard.session else {
                return Ok(None);
            };
            if let Some(outcome) = self.cluster.take_resumed(session) {
                return Ok(Some(outcome));
            }
            let deadline = self.cluster.with_engine_mut(|e, _| e.next_deadline());
            let notified = self.notify.notified();
            let sleep = deadline.map(|t| tokio::time::sleep_until(self.cluster.instant_of(t)));
            tokio::select! {
                _ = notified => {}
                _ = async { sleep.expect("guarded by the condition").await }, if sleep.is_some() => {
                    self.cluster.with_engine_mut(|e, now| e.advance(now));
                }
                read = io.read_more(), if io.buffered() < read_cap => {
                    if read? == 0 {
                        return Ok(None);
                    }
                }
            }
        }
    }
}
