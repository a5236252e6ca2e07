//! One client connection: startup and password authentication, then simple and extended query, each statement admitted through the gate and told to the observer, with waits for locks that await a wake-up.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::sync::Arc;

use dosim_base::gate::{Operation, Plane};
use dosim_pg::{ColumnDesc, Outcome, PgError, QueryResult, SessionId, SqlType, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;

use crate::codec::{malformed, Body, Io, ReadError};
use crate::describe::describe;
use crate::emit::{write_result, write_row, Emit};
use crate::observe::{one_line, SUMMARY_CHARS_MAX};
use crate::observe::{Observed, Running};
use crate::types::{decode_param, type_of_oid};
use crate::{
    PasswordAuth, PgCluster, PoolMode, SessionInfo, StatementOutcome, StatementResult,
    StatementStart, TransactionStatus,
};

const SSL_REQUEST: i32 = 80_877_103;
const GSSENC_REQUEST: i32 = 80_877_104;
const CANCEL_REQUEST: i32 = 80_877_102;
const PROTOCOL_3_0: i32 = 196_608;

/// The OID a parameter with no known type is described as; tokio-postgres then binds strings to it.
const TEXT_OID: u32 = 25;

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

/// A session that startup opened.
struct Login {
    session: Option<SessionId>,
    pooled: Option<Pooled>,
    database: String,
    user: String,
    backend_pid: u32,
}

struct Prepared {
    sql: String,
    /// The OIDs `ParameterDescription` reports: the client's declared ones, else the inferred ones.
    param_oids: Vec<u32>,
    param_types: Vec<Option<SqlType>>,
    columns: Option<Vec<ColumnDesc>>,
}

struct Portal {
    sql: String,
    params: Vec<Value>,
    columns: Option<Vec<ColumnDesc>>,
    /// Each result column's format, true for binary.
    formats: Vec<bool>,
    /// The rows an `Execute` with a row limit left for the next one, once the statement has run.
    remaining: Option<Remaining>,
}

struct Remaining {
    rows: VecDeque<Vec<Value>>,
    columns: Vec<ColumnDesc>,
    tag: String,
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

/// How the startup phase ended.
enum Started {
    /// Authenticated, with an engine session.
    Session(Login),
    /// The client asked for TLS and the server will answer `S`.
    Upgrade,
    /// The connection ends: the client left, was refused, or only wanted a cancel.
    End,
}

async fn fatal<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Io<S>,
    e: PgError,
) -> io::Result<Started> {
    io.error(&e, true);
    io.flush().await?;
    Ok(Started::End)
}

/// The startup phase: SSL requests answered `S` when `tls` allows and `N` otherwise, GSSAPI requests `N`, the startup packet, the password check, the engine session.
///
/// `plain_refused` names the peer when a connection that did not encrypt is to be refused.
async fn startup<S: AsyncRead + AsyncWrite + Unpin>(
    cluster: &PgCluster,
    io: &mut Io<S>,
    tls: bool,
    plain_refused: Option<&str>,
    pooled: bool,
) -> io::Result<Started> {
    let packet = loop {
        let packet = match io.read_startup().await {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(Started::End),
            Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Ok(Started::End)
            }
            Err(ReadError::Io(e)) => return Err(e),
            Err(ReadError::Protocol(m)) => return fatal(io, PgError::new("08P01", m)).await,
        };
        let code = i32::from_be_bytes(packet[0..4].try_into().expect("length checked"));
        match code {
            SSL_REQUEST if tls => return Ok(Started::Upgrade),
            // `N` tells the client to go on in plain text, which `sslmode=prefer` accepts.
            SSL_REQUEST | GSSENC_REQUEST => {
                io.write_raw(b"N");
                io.flush().await?;
            }
            // Cancelling a running statement is not supported; PostgreSQL too closes the cancel connection without a reply.
            CANCEL_REQUEST => return Ok(Started::End),
            PROTOCOL_3_0 => break packet,
            other => {
                return fatal(
                    io,
                    PgError::new(
                        "0A000",
                        format!(
                            "unsupported frontend protocol {}.{}: server supports 3.0 to 3.0",
                            (other >> 16) & 0xffff,
                            other & 0xffff
                        ),
                    ),
                )
                .await
            }
        }
    };
    let Some(params) = startup_params(&packet[4..]) else {
        return fatal(io, PgError::new("08P01", "invalid startup packet layout")).await;
    };
    let Some(user) = params.get("user").cloned() else {
        return fatal(
            io,
            PgError::new(
                "28000",
                "no PostgreSQL user name specified in startup packet",
            ),
        )
        .await;
    };
    let database = params
        .get("database")
        .cloned()
        .unwrap_or_else(|| user.clone());
    if let Some(peer) = plain_refused {
        // PostgreSQL checks pg_hba.conf before authenticating; its message names the peer's address.
        let host = peer
            .parse::<std::net::SocketAddr>()
            .map_or_else(|_| peer.to_string(), |a| a.ip().to_string());
        return fatal(
            io,
            PgError::new(
                "28000",
                format!(
                    "no pg_hba.conf entry for host \"{host}\", user \"{user}\", database \"{database}\", no encryption"
                ),
            ),
        )
        .await;
    }
    // PgBouncer looks the pool up before it authenticates.
    let pool = match pooled.then(|| cluster.pool_config(&database)).transpose() {
        Ok(pool) => pool,
        Err(e) => return fatal(io, e).await,
    };
    let authenticated = match cluster.config().password_auth {
        PasswordAuth::Cleartext => crate::auth::cleartext(cluster, io, &user).await?,
        PasswordAuth::ScramSha256 => crate::auth::scram(cluster, io, &user).await?,
    };
    if let Err(e) = authenticated {
        return fatal(io, e).await;
    }
    let connected = match &pool {
        // A pool's client gets a server connection when it sends a statement; PgBouncer's key data is its own.
        Some(_) => Ok((None, 0)),
        None => cluster.with_engine_mut(|e, _| {
            e.connect(&database)
                .map(|s| (Some(s), e.backend_pid(s).unwrap_or(0)))
        }),
    };
    let (session, pid) = match connected {
        Ok(c) => c,
        Err(e) => return fatal(io, e).await,
    };
    greet(cluster, io, &params, &user, pid).await?;
    Ok(Started::Session(Login {
        session,
        // A pool's client works in the pool's database, which its statements are described in.
        database: pool
            .as_ref()
            .map_or(database.clone(), |config| config.db.clone()),
        pooled: pool.map(|config| Pooled {
            name: database,
            mode: config.mode,
        }),
        user,
        backend_pid: pid,
    }))
}

/// The startup packet's parameters (after its protocol code), or `None` if they are not
/// null-terminated pairs ending in an empty name.
fn startup_params(packet: &[u8]) -> Option<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    let mut body = Body::new(packet);
    loop {
        let key = body.cstr().ok()?;
        if key.is_empty() {
            return Some(params);
        }
        let value = body.cstr().ok()?;
        params.insert(key.to_string(), value.to_string());
    }
}

/// The parameters PostgreSQL reports to a client after it logs in (`ParameterStatus`), as the
/// clusters report them.
pub fn reported_parameters<'a>(
    application_name: &'a str,
    server_version: &'a str,
    user: &'a str,
) -> [(&'static str, &'a str); 13] {
    [
        ("application_name", application_name),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("default_transaction_read_only", "off"),
        ("in_hot_standby", "off"),
        ("integer_datetimes", "on"),
        ("IntervalStyle", "postgres"),
        ("is_superuser", "off"),
        ("server_encoding", "UTF8"),
        ("server_version", server_version),
        ("session_authorization", user),
        ("standard_conforming_strings", "on"),
        ("TimeZone", "UTC"),
    ]
}

/// After authentication: `AuthenticationOk`, the parameters PostgreSQL reports, the backend key
/// and the first `ReadyForQuery`.
async fn greet<S: AsyncRead + AsyncWrite + Unpin>(
    cluster: &PgCluster,
    io: &mut Io<S>,
    params: &BTreeMap<String, String>,
    user: &str,
    pid: u32,
) -> io::Result<()> {
    io.auth_request(0);
    let application_name = params.get("application_name").cloned().unwrap_or_default();
    let server_version = cluster.config().server_version.clone();
    for (name, value) in reported_parameters(&application_name, &server_version, user) {
        io.parameter_status(name, value);
    }
    // The secret key only matters for cancel requests, which are not served; the pid makes it deterministic.
    io.msg(b'K', |b| {
        b.extend_from_slice(&(pid as i32).to_be_bytes());
        b.extend_from_slice(&(pid.wrapping_mul(2_654_435_761) as i32).to_be_bytes());
    });
    io.ready_for_query(b'I');
    io.flush().await
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

    fn parse<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        body: &[u8],
    ) -> Result<(), PgError> {
        let mut b = Body::new(body);
        let name = b.cstr()?.to_string();
        let sql = b.cstr()?.to_string();
        // Counts are unsigned 16-bit on the wire, as PostgreSQL reads them, so 65 535 parameters fit.
        let n = b.i16()? as u16;
        let mut declared_oids = Vec::with_capacity(n as usize);
        for _ in 0..n {
            declared_oids.push(b.i32()? as u32);
        }
        let prepared = self.prepare(name, sql.clone(), declared_oids);
        self.complete_or_refuse(io, prepared, b'1', &sql)
    }

    /// Describes a statement and keeps it under `name`.
    fn prepare(
        &mut self,
        name: String,
        sql: String,
        declared_oids: Vec<u32>,
    ) -> Result<(), PgError> {
        let prepared_max = self.cluster.config().prepared_max;
        let taken = || {
            PgError::new(
                "42P05",
                format!("prepared statement \"{name}\" already exists"),
            )
        };
        check_room(
            &self.prepared,
            &name,
            prepared_max,
            taken,
            "prepared statements",
        )?;
        let mut declared = Vec::with_capacity(declared_oids.len());
        for oid in &declared_oids {
            declared.push(match *oid {
                0 => None,
                oid => Some(type_of_oid(oid).ok_or_else(|| {
                    PgError::new("42704", format!("type with OID {oid} is not supported"))
                })?),
            });
        }
        let database = self.database.clone();
        let desc = self
            .cluster
            .with_engine_mut(|e, now| describe(e, &database, &sql, &declared, now))?;
        let param_oids = desc
            .params
            .iter()
            .enumerate()
            .map(|(i, t)| match declared_oids.get(i) {
                Some(oid) if *oid != 0 => *oid,
                _ => t.map(SqlType::oid).unwrap_or(TEXT_OID),
            })
            .collect();
        self.prepared.insert(
            name,
            Prepared {
                sql,
                param_oids,
                param_types: desc.params,
                columns: desc.columns,
            },
        );
        Ok(())
    }

    fn bind<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        body: &[u8],
    ) -> Result<(), PgError> {
        let mut b = Body::new(body);
        let portal_name = b.cstr()?.to_string();
        let statement_name = b.cstr()?.to_string();
        let stmt = self
            .prepared
            .get(&statement_name)
            .ok_or_else(|| no_statement(&statement_name))?;
        let sql = stmt.sql.clone();
        let bound = self.bind_portal(portal_name, &statement_name, &mut b);
        self.complete_or_refuse(io, bound, b'2', &sql)
    }

    /// Answers a `Parse` or `Bind` that succeeded with its completion message (`complete`), or tells the observer its statement was refused.
    fn complete_or_refuse<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        result: Result<(), PgError>,
        complete: u8,
        sql: &str,
    ) -> Result<(), PgError> {
        match &result {
            Ok(()) => io.empty(complete),
            Err(e) => self.refused(sql, e),
        }
        result
    }

    /// Binds parameters and result formats to a prepared statement and keeps the portal under `portal_name`.
    fn bind_portal(
        &mut self,
        portal_name: String,
        statement_name: &str,
        b: &mut Body<'_>,
    ) -> Result<(), PgError> {
        let stmt = self
            .prepared
            .get(statement_name)
            .ok_or_else(|| no_statement(statement_name))?;
        let formats = format_codes(b)?;
        let n = b.i16()? as u16 as usize;
        if n != stmt.param_oids.len() {
            return Err(PgError::new(
                "08P01",
                format!(
                    "bind message supplies {n} parameters, but prepared statement \"{statement_name}\" requires {}",
                    stmt.param_oids.len()
                ),
            ));
        }
        if formats.len() > 1 && formats.len() != n {
            return Err(PgError::new(
                "08P01",
                format!(
                    "bind message has {} parameter formats but {n} parameters",
                    formats.len()
                ),
            ));
        }
        let mut params = Vec::with_capacity(n);
        for i in 0..n {
            let len = b.i32()?;
            if len < -1 {
                return Err(malformed());
            }
            let binary = match formats.as_slice() {
                [] => false,
                [one] => *one,
                many => many[i],
            };
            params.push(if len == -1 {
                Value::Null
            } else {
                let raw = b.bytes(len as usize)?;
                decode_param(stmt.param_oids[i], stmt.param_types[i], binary, raw)?
            });
        }
        let result_formats = format_codes(b)?;
        let n_columns = stmt.columns.as_ref().map_or(0, Vec::len);
        let formats = match result_formats.as_slice() {
            [] => vec![false; n_columns],
            [one] => vec![*one; n_columns],
            many if many.len() == n_columns => many.to_vec(),
            many => {
                return Err(PgError::new(
                    "08P01",
                    format!(
                        "bind message has {} result formats but query has {n_columns} columns",
                        many.len()
                    ),
                ))
            }
        };
        let prepared_max = self.cluster.config().prepared_max;
        let taken = || PgError::new("42P03", format!("cursor \"{portal_name}\" already exists"));
        check_room(&self.portals, &portal_name, prepared_max, taken, "portals")?;
        let portal = Portal {
            sql: stmt.sql.clone(),
            params,
            columns: stmt.columns.clone(),
            formats,
            remaining: None,
        };
        self.portals.insert(portal_name, portal);
        Ok(())
    }

    fn describe<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        body: &[u8],
    ) -> Result<(), PgError> {
        let (kind, name) = kind_and_name(body)?;
        match kind {
            b'S' => {
                let stmt = self.prepared.get(name).ok_or_else(|| no_statement(name))?;
                io.msg(b't', |out| {
                    out.extend_from_slice(&(stmt.param_oids.len() as u16).to_be_bytes());
                    for oid in &stmt.param_oids {
                        out.extend_from_slice(&oid.to_be_bytes());
                    }
                });
                match &stmt.columns {
                    Some(columns) => io.row_description(columns, &[]),
                    None => io.empty(b'n'),
                }
            }
            b'P' => {
                let portal = self.portals.get(name).ok_or_else(|| no_portal(name))?;
                match &portal.columns {
                    Some(columns) => io.row_description(columns, &portal.formats),
                    None => io.empty(b'n'),
                }
            }
            _ => return Err(malformed()),
        }
        Ok(())
    }

    async fn execute<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        body: &[u8],
    ) -> io::Result<Result<(), PgError>> {
        let mut b = Body::new(body);
        let name = match b.cstr() {
            Ok(n) => n.to_string(),
            Err(e) => return Ok(Err(e)),
        };
        let max_rows = match b.i32() {
            Ok(n) if b.at_end() => n.max(0) as usize,
            _ => return Ok(Err(malformed())),
        };
        let Some(mut portal) = self.portals.remove(&name) else {
            return Ok(Err(no_portal(&name)));
        };
        if portal.remaining.is_none() {
            // The statement runs whole at the first Execute; a row limit only paces how its rows go out.
            let mut results = vec![];
            match self
                .run_statement(
                    io,
                    &portal.sql,
                    &portal.params,
                    &Emit::Collect,
                    &mut results,
                )
                .await?
            {
                Ok(_) => {}
                Err(e) => return Ok(Err(e)),
            }
            let Some(last) = results.pop() else {
                io.empty(b'I');
                return Ok(Ok(()));
            };
            // A prepared statement holds one statement, so `results` is empty now; written all the same.
            let emit = Emit::Extended {
                columns: portal.columns.as_deref(),
                formats: &portal.formats,
            };
            for r in &results {
                if let Err(e) = write_result(io, r, &emit) {
                    return Ok(Err(e));
                }
            }
            for n in &last.notices {
                io.notice(n);
            }
            // A table dropped and created again between Parse and Execute can change the columns; PostgreSQL refuses to send rows that no longer match the description.
            if portal
                .columns
                .as_ref()
                .is_some_and(|c| c.len() != last.columns.len())
            {
                return Ok(Err(PgError::new(
                    "0A000",
                    "cached plan must not change result type",
                )));
            }
            portal.remaining = Some(Remaining {
                rows: last.rows.into(),
                columns: last.columns,
                tag: last.tag,
            });
        }
        let remaining = portal.remaining.as_mut().expect("set above");
        let take = if max_rows == 0 {
            remaining.rows.len()
        } else {
            max_rows.min(remaining.rows.len())
        };
        let columns = portal.columns.as_deref().unwrap_or(&remaining.columns);
        for row in remaining.rows.drain(..take) {
            if let Err(e) = write_row(io, &row, columns, &remaining.columns, &portal.formats) {
                return Ok(Err(e));
            }
            io.maybe_flush().await?;
        }
        // As in PostgreSQL, a fetch that filled its limit suspends the portal even when no row is left.
        if max_rows > 0 && take == max_rows {
            io.empty(b's');
        } else if remaining.tag.starts_with("SELECT ") {
            // PostgreSQL counts the rows of this fetch in a SELECT's tag; a finished portal fetches none.
            io.command_complete(&format!("SELECT {take}"));
        } else {
            io.command_complete(&remaining.tag);
        }
        // The portal stays until Close, or until its transaction ends at a Sync outside a transaction block, as in PostgreSQL.
        self.portals.insert(name, portal);
        Ok(Ok(()))
    }

    fn close<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        body: &[u8],
    ) -> Result<(), PgError> {
        let (kind, name) = kind_and_name(body)?;
        match kind {
            b'S' => {
                self.prepared.remove(name);
            }
            b'P' => {
                self.portals.remove(name);
            }
            _ => return Err(malformed()),
        }
        io.empty(b'3');
        Ok(())
    }
}

/// A Describe's or a Close's body: `S` (a statement) or `P` (a portal), and its name.
fn kind_and_name(body: &[u8]) -> Result<(u8, &str), PgError> {
    let mut b = Body::new(body);
    Ok((b.u8()?, b.cstr()?))
}

fn no_statement(name: &str) -> PgError {
    if name.is_empty() {
        PgError::new("26000", "unnamed prepared statement does not exist")
    } else {
        PgError::new(
            "26000",
            format!("prepared statement \"{name}\" does not exist"),
        )
    }
}

fn no_portal(name: &str) -> PgError {
    PgError::new("34000", format!("portal \"{name}\" does not exist"))
}

/// A list of format codes: 0 for text, 1 for binary.
fn format_codes(b: &mut Body<'_>) -> Result<Vec<bool>, PgError> {
    let n = b.i16()? as u16;
    (0..n)
        .map(|_| match b.i16()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(PgError::new(
                "08P01",
                format!("unsupported format code: {other}"),
            )),
        })
        .collect()
}

/// Refuses to keep a named statement or portal under a name already taken (`taken`) or past the
/// connection's limit of `max` of them; the unnamed one always has room.
fn check_room<T>(
    kept: &BTreeMap<String, T>,
    name: &str,
    max: usize,
    taken: impl FnOnce() -> PgError,
    what: &str,
) -> Result<(), PgError> {
    if name.is_empty() {
        return Ok(());
    }
    if kept.contains_key(name) {
        return Err(taken());
    }
    if kept.len() >= max {
        return Err(PgError::new(
            "54000",
            format!("too many {what}: dosim keeps at most {max} per connection"),
        ));
    }
    Ok(())
}
