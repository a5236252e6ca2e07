//! Managed PostgreSQL clusters in a scenario: the cluster in the account's model, its data plane on its own turmoil host, each statement in the history, and the final data for checks.
//!
//! `Scenario::database(DatabaseSpec::pg("backend"))` creates the cluster in the account before the
//! actors start, as `POST /v2/databases` would, so `GET /v2/databases` lists it with its
//! `connection` object. The harness then runs a host named as the cluster's connection host,
//! serving `dosim_pgwire` on port 25060 with the cluster's users and databases, TLS off.
//! Actors connect with ordinary tokio-postgres: [`ActorPg::postgres_config`] gives the connection
//! details as a `tokio_postgres::Config`, and [`connect`] opens a connection over turmoil's TCP.
//!
//! The data plane records every statement it runs, on the server side, as an operation of the
//! connecting host with the method `SQL`: what was sent, its parameters, and how it ended (the
//! command tag, the first rows a query returned, the error), with the time it waited for a lock.
//! A statement has no HTTP status; its operation carries status 0 and the outcome as its response.
//! After the run, [`RunOutcome::database`] runs SQL against the final data, which
//! `checks::conserved` and `checks::sql_equals` use.
//!
//! Choices where a simulation differs from DigitalOcean:
//! - The cluster is created at time zero and its status is the model's (`creating` until
//!   `CloudConfig::database_provision_ms` has passed; set it to 0 for a cluster that is `online`
//!   from the start), but its data plane serves from the start, as if it had been provisioned long ago.
//! - Only port 25060 is served; connection pools (25061) have no data plane here.
//! - TLS is off, since turmoil's network carries plain bytes and a handshake would draw randomness
//!   outside the seed; [`connect_with`] takes `sslmode=require` as `prefer`.
//! - Users and databases created through the API after the run starts are not added to the data plane.

use std::cell::RefCell;
use std::sync::Arc;
use std::task::{Context, Poll};

use dosim_pg::{Engine, EngineConfig, Outcome, SimTime};
use dosim_pgwire::{PgCluster, WireConfig};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::history::{OpResult, Recorder};
use crate::outcome::RunOutcome;

pub use tokio_postgres;

/// The port of a cluster's primary connection, as on DigitalOcean.
pub const PORT: u16 = 25060;

/// The most clusters one scenario may have.
pub const DATABASES_MAX: usize = 4;

/// The most bytes of setup SQL one cluster may have.
pub const SETUP_SQL_BYTES_MAX: usize = 1 << 20;

/// The longest statement text an operation keeps, in characters.
pub const SQL_CHARS_MAX: usize = 120;

/// The most rows of a query's answer an operation shows.
const ROWS_SHOWN_MAX: usize = 3;

/// The largest protocol message the recorder follows; past it the connection is no longer recorded (it is still served).
const MESSAGE_BYTES_MAX: usize = 1 << 20;

/// A query's rows in PostgreSQL's text format, `None` for NULL.
pub type Rows = Vec<Vec<Option<String>>>;

/// A database cluster that exists before the actors start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSpec {
    /// The cluster's name on the account (`backend`).
    pub name: String,
    /// The engine slug; only `pg` has a simulated data plane.
    pub engine: String,
    /// The region slug.
    pub region: String,
    /// The node size slug.
    pub size: String,
    /// SQL the harness runs on `defaultdb` before the actors start: the schema and its rows, as a migration would leave them.
    pub setup_sql: Vec<String>,
}

impl DatabaseSpec {
    /// A PostgreSQL cluster called `name`: one `db-s-1vcpu-1gb` node in `nyc3`.
    pub fn pg(name: impl Into<String>) -> DatabaseSpec {
        DatabaseSpec {
            name: name.into(),
            engine: "pg".to_owned(),
            region: "nyc3".to_owned(),
            size: "db-s-1vcpu-1gb".to_owned(),
            setup_sql: Vec::new(),
        }
    }

    /// The region slug.
    pub fn region(mut self, region: impl Into<String>) -> DatabaseSpec {
        self.region = region.into();
        self
    }

    /// The node size slug.
    pub fn size(mut self, size: impl Into<String>) -> DatabaseSpec {
        self.size = size.into();
        self
    }

    /// Adds SQL to run on `defaultdb` as `doadmin` before the actors start; it is not recorded in the history.
    pub fn setup(mut self, sql: impl Into<String>) -> DatabaseSpec {
        self.setup_sql.push(sql.into());
        self
    }
}

/// How actors reach one cluster: what its `connection` object says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The cluster's name.
    pub name: String,
    /// The connection host, which is also the data plane's host name in the simulation.
    pub host: String,
    /// 25060.
    pub port: u16,
    /// `doadmin`.
    pub user: String,
    /// The primary user's password.
    pub password: String,
    /// `defaultdb`.
    pub database: String,
}

/// One cluster of a run: its connection details and its engine, shared with the host serving it.
#[derive(Clone)]
pub struct RunDatabase {
    info: ConnectionInfo,
    engine: Arc<Mutex<Engine>>,
    users: Vec<(String, String)>,
    /// When the run ended, for the engine's clock in queries after it.
    end_ms: Arc<std::sync::atomic::AtomicU64>,
    /// Every statement the actors ran, in full, for checks that replay them.
    log: Arc<Mutex<StatementLog>>,
    /// The setup SQL, which a replay runs first on a fresh engine.
    setup_sql: Vec<String>,
}

impl std::fmt::Debug for RunDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunDatabase")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl RunDatabase {
    /// The cluster's connection details.
    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// Runs `sql` on `defaultdb` in a session of its own and returns the rows of its last statement in PostgreSQL's text format (`None` for NULL).
    ///
    /// After the run, every actor's connection has closed, so this sees exactly what was committed.
    pub fn query(&self, sql: &str) -> Result<Rows, String> {
        let now = SimTime::from_ms(self.end_ms.load(std::sync::atomic::Ordering::SeqCst));
        let mut engine = self.engine.lock();
        let session = engine
            .connect(&self.info.database)
            .map_err(|error| format!("{}: {}", error.sqlstate, error.message))?;
        let outcome = engine.execute(session, sql, &[], now);
        engine.disconnect(session);
        match outcome {
            Outcome::Done(results) => Ok(results
                .last()
                .map(|result| {
                    result
                        .rows
                        .iter()
                        .map(|row| row.iter().map(|value| value.to_text()).collect())
                        .collect()
                })
                .unwrap_or_default()),
            Outcome::Error { error, .. } => {
                Err(format!("ERROR {}: {}", error.sqlstate, error.message))
            }
            Outcome::Blocked { .. } => {
                Err("the query waited for a lock, which no closed run can release".to_owned())
            }
        }
    }

    /// [`RunDatabase::query`], rendered as text: columns joined by `, `, rows by `; `, NULL as `NULL`.
    pub fn query_text(&self, sql: &str) -> Result<String, String> {
        Ok(render_rows(&self.query(sql)?))
    }

    /// Every statement actors ran on the cluster, in full, in the order each connection ran them.
    pub fn statements(&self) -> StatementLog {
        self.log.lock().clone()
    }

    /// The setup SQL the cluster ran before the actors started.
    pub fn setup_sql(&self) -> &[String] {
        &self.setup_sql
    }

    /// The cluster's databases, for a replay to create them again.
    pub fn database_names(&self) -> Vec<String> {
        self.engine.lock().database_names()
    }
}

/// The most statements one cluster's log keeps; past it the log says it is incomplete.
pub const LOGGED_STATEMENTS_MAX: usize = 10_000;

/// The most rows of one statement's answer the log keeps; a longer answer is logged as not comparable.
pub const LOGGED_ROWS_MAX: usize = 1000;

/// Every statement actors ran on one cluster, recorded from the server side of each connection.
#[derive(Debug, Clone, Default)]
pub struct StatementLog {
    /// The statements, each connection's in the order it ran them; connections interleave in the order their statements ended.
    pub statements: Vec<LoggedStatement>,
    /// Why the log misses statements (too many, a message too large to follow), if it does.
    pub incomplete: Option<String>,
    connections: u64,
}

/// One statement (or one simple query's statements) as a connection ran it.
#[derive(Debug, Clone)]
pub struct LoggedStatement {
    /// The connection, numbered from 0 in the order they were accepted.
    pub connection: u64,
    /// The connecting host.
    pub actor: String,
    /// The database the connection is on.
    pub database: String,
    /// The query text, in full.
    pub sql: String,
    /// The parameters as the engine takes them, or why they could not be decoded.
    pub params: Result<Vec<dosim_pg::Value>, String>,
    /// Simulated milliseconds when it was sent.
    pub invoke_ms: u64,
    /// How it ended.
    pub outcome: LoggedOutcome,
}

/// How a logged statement ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoggedOutcome {
    /// It ran; one result per statement of the query.
    Done(Vec<LoggedResult>),
    /// It failed after the statements in `results` completed.
    Error {
        /// The statements of the query that completed before the error.
        results: Vec<LoggedResult>,
        /// The SQLSTATE (`40001`).
        sqlstate: String,
        /// PostgreSQL's message.
        message: String,
    },
    /// No answer came before the connection closed or the run ended.
    Unanswered,
}

/// One statement's result: its command tag and, when they could be decoded, its rows in PostgreSQL's text format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedResult {
    /// `SELECT 1`, `UPDATE 1`, `COMMIT`.
    pub tag: String,
    /// The rows, `None` when they cannot be compared (a type the log does not decode, more than [`LOGGED_ROWS_MAX`]).
    pub rows: Option<Rows>,
}

/// Rows as one line: columns joined by `, `, rows by `; `.
pub fn render_rows(rows: &[Vec<Option<String>>]) -> String {
    rows.iter()
        .map(|row| {
            row.iter()
                .map(|value| value.as_deref().unwrap_or("NULL"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl RunOutcome {
    /// The run's database cluster called `name`, to query its final data.
    pub fn database(&self, name: &str) -> Option<&RunDatabase> {
        self.databases
            .iter()
            .find(|database| database.info.name == name)
    }
}

thread_local! {
    /// The clusters of the run in progress on this thread; each run sets them for its length, so seeds run on several threads at once each see their own.
    static RUN_DATABASES: RefCell<Vec<ConnectionInfo>> = const { RefCell::new(Vec::new()) };
}

/// Keeps the run's clusters visible to its actors until dropped.
pub(crate) struct RunGuard(());

impl Drop for RunGuard {
    fn drop(&mut self) {
        RUN_DATABASES.with(|databases| databases.borrow_mut().clear());
    }
}

pub(crate) fn enter(databases: &[RunDatabase]) -> RunGuard {
    RUN_DATABASES.with(|current| {
        *current.borrow_mut() = databases
            .iter()
            .map(|database| database.info.clone())
            .collect();
    });
    RunGuard(())
}

/// The connection details of the current run's cluster called `name`.
pub fn connection_info(name: &str) -> Option<ConnectionInfo> {
    RUN_DATABASES.with(|databases| {
        databases
            .borrow()
            .iter()
            .find(|database| database.name == name)
            .cloned()
    })
}

/// A `tokio_postgres::Config` for a cluster's connection: host, port, `doadmin`, its password, `defaultdb`.
pub fn postgres_config(name: &str) -> Result<tokio_postgres::Config, String> {
    let info = connection_info(name)
        .ok_or_else(|| format!("the scenario has no database cluster called {name}"))?;
    let mut config = tokio_postgres::Config::new();
    config
        .host(&info.host)
        .port(info.port)
        .user(&info.user)
        .password(&info.password)
        .dbname(&info.database);
    Ok(config)
}

/// What actors get to reach the scenario's clusters.
pub trait ActorPg {
    /// The connection details of the cluster called `name`, as a `tokio_postgres::Config`.
    fn postgres_config(&self, name: &str) -> Result<tokio_postgres::Config, String>;
}

impl ActorPg for crate::Actor {
    fn postgres_config(&self, name: &str) -> Result<tokio_postgres::Config, String> {
        postgres_config(name)
    }
}

/// Why connecting failed.
#[derive(Debug)]
pub enum ConnectError {
    /// The config names no host and port, or no such cluster exists.
    Config(String),
    /// The TCP connection failed.
    Io(std::io::Error),
    /// The server refused the startup (a wrong password, an unknown database).
    Postgres(tokio_postgres::Error),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Config(message) => f.write_str(message),
            ConnectError::Io(error) => write!(f, "connecting: {error}"),
            ConnectError::Postgres(error) => write!(f, "connecting: {error}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Connects with `config` over turmoil's TCP, without TLS, and spawns the connection's task on the current host.
///
/// turmoil's network has no TLS, so `sslmode=require`, which DigitalOcean's connection URIs carry, is taken as `prefer`: a config parsed from the cluster's `connection.uri` works as it is.
pub async fn connect_with(
    config: &tokio_postgres::Config,
) -> Result<tokio_postgres::Client, ConnectError> {
    let mut config = config.clone();
    if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
        config.ssl_mode(tokio_postgres::config::SslMode::Prefer);
    }
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => {
            return Err(ConnectError::Config(
                "the config names no TCP host".to_owned(),
            ))
        }
    };
    let port = config.get_ports().first().copied().unwrap_or(PORT);
    let stream = turmoil::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(ConnectError::Io)?;
    let (client, connection) = config
        .connect_raw(stream, tokio_postgres::NoTls)
        .await
        .map_err(ConnectError::Postgres)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Connects to the cluster called `name` as `doadmin` on `defaultdb`.
pub async fn connect(name: &str) -> Result<tokio_postgres::Client, ConnectError> {
    let config = postgres_config(name).map_err(ConnectError::Config)?;
    connect_with(&config).await
}

/// Creates the scenario's clusters in the account and their engines, with the setup SQL run.
pub(crate) fn create(
    server: &dosim_api::Server,
    token: &str,
    specs: &[DatabaseSpec],
    seed: u64,
) -> Result<Vec<RunDatabase>, String> {
    if specs.len() > DATABASES_MAX {
        return Err(format!(
            "{} database clusters is more than the {DATABASES_MAX} a scenario may have",
            specs.len()
        ));
    }
    let mut databases = Vec::new();
    for spec in specs {
        if spec.engine != "pg" {
            return Err(format!(
                "database cluster {}: only the pg engine has a simulated data plane, not {}",
                spec.name, spec.engine
            ));
        }
        let request = dosim_cloud::DatabaseCreate {
            name: spec.name.clone(),
            engine: spec.engine.clone(),
            version: None,
            num_nodes: 1,
            size: spec.size.clone(),
            region: spec.region.clone(),
            ..Default::default()
        };
        let cluster = server
            .with_account(token, |cloud| cloud.create_database(SimTime::ZERO, request))
            .map_err(|error| format!("database cluster {}: {error}", spec.name))?;
        let connection = cluster.connection();
        let mut engine = Engine::new(EngineConfig {
            seed: crate::seed::hash_text(&format!("pg {seed} {}", spec.name)),
            ..EngineConfig::default()
        });
        for db in &cluster.db_names {
            if !engine.database_names().contains(db) {
                engine.create_database(db);
            }
        }
        let setup_bytes: usize = spec.setup_sql.iter().map(String::len).sum();
        if setup_bytes > SETUP_SQL_BYTES_MAX {
            return Err(format!(
                "database cluster {}: {setup_bytes} bytes of setup SQL is more than {SETUP_SQL_BYTES_MAX}",
                spec.name
            ));
        }
        let session = engine
            .connect(&connection.database)
            .map_err(|error| format!("database cluster {}: {}", spec.name, error.message))?;
        for sql in &spec.setup_sql {
            match engine.execute(session, sql, &[], SimTime::ZERO) {
                Outcome::Done(_) => {}
                Outcome::Error { error, .. } => {
                    engine.disconnect(session);
                    return Err(format!(
                        "database cluster {}: setup SQL failed: ERROR {}: {}",
                        spec.name, error.sqlstate, error.message
                    ));
                }
                Outcome::Blocked { .. } => {
                    engine.disconnect(session);
                    return Err(format!(
                        "database cluster {}: setup SQL waited for a lock",
                        spec.name
                    ));
                }
            }
        }
        engine.disconnect(session);
        databases.push(RunDatabase {
            info: ConnectionInfo {
                name: spec.name.clone(),
                host: connection.host.clone(),
                port: connection.port,
                user: connection.user.clone(),
                password: connection.password.clone(),
                database: connection.database.clone(),
            },
            engine: Arc::new(Mutex::new(engine)),
            users: cluster
                .users
                .iter()
                .map(|user| (user.name.clone(), user.password.clone()))
                .collect(),
            end_ms: Arc::default(),
            log: Arc::default(),
            setup_sql: spec.setup_sql.clone(),
        });
    }
    Ok(databases)
}

/// Adds the host that serves one cluster's data plane.
pub(crate) fn host(sim: &mut turmoil::Sim<'_>, database: &RunDatabase, recorder: Recorder) {
    let database = database.clone();
    sim.host(database.info.host.clone(), move || {
        let (database, recorder) = (database.clone(), recorder.clone());
        async move {
            let listener = turmoil::net::TcpListener::bind((
                std::net::Ipv4Addr::UNSPECIFIED,
                database.info.port,
            ))
            .await?;
            let cluster = PgCluster::with_engine(database.engine.clone(), WireConfig::default());
            // The engine's zero is the run's start, so its now() agrees with the cloud's clock.
            let elapsed = turmoil::sim_elapsed().unwrap_or_default();
            cluster.set_time_base(tokio::time::Instant::now() - elapsed);
            for (user, password) in &database.users {
                cluster.set_user(user, password);
            }
            loop {
                let (stream, peer) = listener.accept().await?;
                let actor =
                    turmoil::reverse_lookup(peer.ip()).unwrap_or_else(|| peer.ip().to_string());
                let connection = {
                    let mut log = database.log.lock();
                    log.connections += 1;
                    log.connections - 1
                };
                let stream = Recording::new(
                    stream,
                    actor,
                    recorder.clone(),
                    (database.log.clone(), connection),
                );
                let cluster = cluster.clone();
                tokio::spawn(async move {
                    let _ = dosim_pgwire::serve_connection(cluster, stream).await;
                });
            }
        }
    });
}

/// Marks the end of the run, for the engine's clock in queries after it.
pub(crate) fn finish(databases: &[RunDatabase], end_ms: u64) {
    for database in databases {
        database
            .end_ms
            .store(end_ms, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A connection's stream that follows the protocol both ways and records each statement.
struct Recording<S> {
    stream: S,
    sniffer: Sniffer,
}

impl<S> Recording<S> {
    fn new(
        stream: S,
        actor: String,
        recorder: Recorder,
        log: (Arc<Mutex<StatementLog>>, u64),
    ) -> Recording<S> {
        Recording {
            stream,
            sniffer: Sniffer::new(actor, recorder, log),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = std::pin::Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            this.sniffer.frontend(&buf.filled()[before..]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let poll = std::pin::Pin::new(&mut this.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            this.sniffer.backend(&buf[..n]);
        }
        poll
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl<S> Drop for Recording<S> {
    fn drop(&mut self) {
        self.sniffer.close();
    }
}

/// A prepared statement as the recorder knows it: its text, parameter types and result column types.
#[derive(Debug, Clone, Default)]
struct Prepared {
    sql: String,
    param_types: Vec<u32>,
    column_types: Vec<u32>,
}

/// A bound portal: its statement and the result formats the client asked for.
#[derive(Debug, Clone, Default)]
struct Portal {
    statement: Prepared,
    params: String,
    /// The parameters as the engine takes them, for the statement log.
    values: Vec<dosim_pg::Value>,
    /// Why the parameters could not be decoded, if so.
    values_error: Option<String>,
    result_formats: Vec<i16>,
}

/// What the recorder expects the server to answer next, in the order the client asked.
#[derive(Debug)]
enum Expected {
    /// A `Parse`: `ParseComplete`, or an error that names a statement that never ran.
    Parse { sql: String, params: Vec<u32> },
    /// A `Describe` of a statement: its `ParameterDescription`, then its `RowDescription` or `NoData`.
    DescribeStatement { name: String, got_params: bool },
    /// An `Execute` recorded as operation `seq`.
    Execute {
        seq: Option<u64>,
        invoke_ms: u64,
        portal: Portal,
        rows: Vec<String>,
        row_count: usize,
        /// Every row in text format, for the statement log; `None` once not comparable.
        full_rows: Option<Rows>,
    },
    /// A simple `Query` recorded as operation `seq`, with the tags of the statements done so far.
    Simple {
        seq: Option<u64>,
        invoke_ms: u64,
        tags: Vec<String>,
        rows: Vec<String>,
        row_count: usize,
        columns: Vec<(u32, i16)>,
        /// The query text in full, the results so far, the current statement's rows and the error, for the statement log.
        log: Box<SimpleLog>,
    },
    /// A `Sync`: the end of an extended-query batch.
    Sync,
}

/// What the statement log keeps of a simple query while it runs.
#[derive(Debug, Default)]
struct SimpleLog {
    sql: String,
    results: Vec<LoggedResult>,
    full_rows: Option<Rows>,
    error: Option<(String, String)>,
}

/// Follows one connection's protocol messages and records each statement as an operation.
struct Sniffer {
    actor: String,
    recorder: Recorder,
    log: Arc<Mutex<StatementLog>>,
    connection: u64,
    /// The database the startup packet names.
    database: String,
    front: Vec<u8>,
    back: Vec<u8>,
    /// The startup packet (and any `SSLRequest`) has no type byte.
    started: bool,
    /// `SSLRequest`s whose one-byte answer is still to come.
    ssl_answers: usize,
    /// Past a message too large to follow, nothing more is recorded.
    lost: bool,
    statements: std::collections::BTreeMap<String, Prepared>,
    portals: std::collections::BTreeMap<String, Portal>,
    expected: std::collections::VecDeque<Expected>,
}

const STATEMENTS_MAX: usize = 1000;

impl Sniffer {
    fn new(actor: String, recorder: Recorder, log: (Arc<Mutex<StatementLog>>, u64)) -> Sniffer {
        Sniffer {
            actor,
            recorder,
            log: log.0,
            connection: log.1,
            database: String::new(),
            front: Vec::new(),
            back: Vec::new(),
            started: false,
            ssl_answers: 0,
            lost: false,
            statements: Default::default(),
            portals: Default::default(),
            expected: Default::default(),
        }
    }

    fn frontend(&mut self, bytes: &[u8]) {
        if self.lost {
            return;
        }
        self.front.extend_from_slice(bytes);
        loop {
            if !self.started {
                if self.front.len() < 8 {
                    return;
                }
                let len = be_u32(&self.front[0..4]) as usize;
                if !(8..=MESSAGE_BYTES_MAX).contains(&len) {
                    self.lose();
                    return;
                }
                if self.front.len() < len {
                    return;
                }
                let code = be_u32(&self.front[4..8]);
                let startup: Vec<u8> = self.front[8..len].to_vec();
                self.front.drain(..len);
                match code {
                    80_877_103 | 80_877_104 => self.ssl_answers += 1,
                    _ => {
                        self.started = true;
                        self.database = startup_database(&startup);
                    }
                }
                continue;
            }
            match take_message(&mut self.front) {
                Err(TooLong) => return self.lose(),
                Ok(None) => return,
                Ok(Some((kind, body))) => self.frontend_message(kind, &body),
            }
        }
    }

    fn frontend_message(&mut self, kind: u8, body: &[u8]) {
        let mut reader = Reader::new(body);
        match kind {
            b'Q' => {
                let sql = reader.cstr();
                let invoke_ms = crate::history::now_ms();
                let seq =
                    self.recorder
                        .invoke(&self.actor, "SQL", &clip_sql(&sql), None, invoke_ms);
                self.expected.push_back(Expected::Simple {
                    seq,
                    invoke_ms,
                    tags: Vec::new(),
                    rows: Vec::new(),
                    row_count: 0,
                    columns: Vec::new(),
                    log: Box::new(SimpleLog {
                        sql,
                        full_rows: Some(Vec::new()),
                        ..SimpleLog::default()
                    }),
                });
            }
            b'P' => {
                let name = reader.cstr();
                let sql = reader.cstr();
                let count = reader.i16().max(0) as usize;
                let param_types: Vec<u32> = (0..count).map(|_| reader.u32()).collect();
                if self.statements.len() < STATEMENTS_MAX || self.statements.contains_key(&name) {
                    self.statements.insert(
                        name.clone(),
                        Prepared {
                            sql: sql.clone(),
                            param_types: param_types.clone(),
                            column_types: Vec::new(),
                        },
                    );
                }
                self.expected.push_back(Expected::Parse {
                    sql,
                    params: param_types,
                });
            }
            b'D' => {
                let target = reader.u8();
                let name = reader.cstr();
                if target == b'S' {
                    self.expected.push_back(Expected::DescribeStatement {
                        name,
                        got_params: false,
                    });
                }
            }
            b'B' => {
                let portal = reader.cstr();
                let name = reader.cstr();
                let statement = self.statements.get(&name).cloned().unwrap_or_default();
                let format_count = reader.i16().max(0) as usize;
                let formats: Vec<i16> = (0..format_count).map(|_| reader.i16()).collect();
                let param_count = reader.i16().max(0) as usize;
                let mut params = Vec::new();
                let mut values = Vec::new();
                let mut values_error = None;
                for index in 0..param_count {
                    let len = reader.i32();
                    let value = if len < 0 {
                        None
                    } else {
                        Some(reader.bytes(len as usize))
                    };
                    let format = match formats.len() {
                        0 => 0,
                        1 => formats[0],
                        _ => formats.get(index).copied().unwrap_or(0),
                    };
                    let ty = statement.param_types.get(index).copied().unwrap_or(0);
                    match param_value(value.as_deref(), ty, format) {
                        Ok(value) => values.push(value),
                        Err(error) => {
                            values_error
                                .get_or_insert(format!("parameter ${}: {error}", index + 1));
                        }
                    }
                    params.push(render_value(value.as_deref(), ty, format));
                }
                let result_count = reader.i16().max(0) as usize;
                let result_formats = (0..result_count).map(|_| reader.i16()).collect();
                let params = if params.is_empty() {
                    String::new()
                } else {
                    format!("({})", params.join(", "))
                };
                if self.portals.len() < STATEMENTS_MAX || self.portals.contains_key(&portal) {
                    self.portals.insert(
                        portal,
                        Portal {
                            statement,
                            params,
                            values,
                            values_error,
                            result_formats,
                        },
                    );
                }
            }
            b'E' => {
                let name = reader.cstr();
                let portal = self.portals.get(&name).cloned().unwrap_or_default();
                let invoke_ms = crate::history::now_ms();
                let request = (!portal.params.is_empty()).then(|| portal.params.clone());
                let seq = self.recorder.invoke(
                    &self.actor,
                    "SQL",
                    &clip_sql(&portal.statement.sql),
                    request,
                    invoke_ms,
                );
                self.expected.push_back(Expected::Execute {
                    seq,
                    invoke_ms,
                    portal,
                    rows: Vec::new(),
                    row_count: 0,
                    full_rows: Some(Vec::new()),
                });
            }
            b'C' => {
                let target = reader.u8();
                let name = reader.cstr();
                if target == b'S' {
                    self.statements.remove(&name);
                } else {
                    self.portals.remove(&name);
                }
            }
            b'S' => self.expected.push_back(Expected::Sync),
            _ => {}
        }
    }

    fn backend(&mut self, bytes: &[u8]) {
        if self.lost {
            return;
        }
        self.back.extend_from_slice(bytes);
        loop {
            if self.ssl_answers > 0 {
                if self.back.is_empty() {
                    return;
                }
                self.back.remove(0);
                self.ssl_answers -= 1;
                continue;
            }
            match take_message(&mut self.back) {
                Err(TooLong) => return self.lose(),
                Ok(None) => return,
                Ok(Some((kind, body))) => self.backend_message(kind, &body),
            }
        }
    }

    fn backend_message(&mut self, kind: u8, body: &[u8]) {
        let mut reader = Reader::new(body);
        match kind {
            b'1' => {
                if let Some(Expected::Parse { .. }) = self.expected.front() {
                    self.expected.pop_front();
                }
            }
            b't' => {
                let count = reader.i16().max(0) as usize;
                let types: Vec<u32> = (0..count).map(|_| reader.u32()).collect();
                if let Some(Expected::DescribeStatement { name, got_params }) =
                    self.expected.front_mut()
                {
                    *got_params = true;
                    if let Some(statement) = self.statements.get_mut(name.as_str()) {
                        statement.param_types = types;
                    }
                }
            }
            b'T' => {
                let count = reader.i16().max(0) as usize;
                let mut columns = Vec::new();
                for _ in 0..count {
                    reader.cstr();
                    reader.bytes(6);
                    let ty = reader.u32();
                    reader.bytes(6);
                    let format = reader.i16();
                    columns.push((ty, format));
                }
                match self.expected.front_mut() {
                    Some(Expected::DescribeStatement { name, .. }) => {
                        if let Some(statement) = self.statements.get_mut(name.as_str()) {
                            statement.column_types = columns.iter().map(|(ty, _)| *ty).collect();
                        }
                        self.expected.pop_front();
                    }
                    Some(Expected::Simple {
                        columns: current, ..
                    }) => *current = columns,
                    _ => {}
                }
            }
            b'n' => {
                if let Some(Expected::DescribeStatement { .. }) = self.expected.front() {
                    self.expected.pop_front();
                }
            }
            b'D' => {
                let count = reader.i16().max(0) as usize;
                let values: Vec<Option<Vec<u8>>> = (0..count)
                    .map(|_| {
                        let len = reader.i32();
                        (len >= 0).then(|| reader.bytes(len as usize))
                    })
                    .collect();
                match self.expected.front_mut() {
                    Some(Expected::Execute {
                        portal,
                        rows,
                        row_count,
                        full_rows,
                        ..
                    }) => {
                        *row_count += 1;
                        log_row(full_rows, &values, |index| {
                            let ty = portal
                                .statement
                                .column_types
                                .get(index)
                                .copied()
                                .unwrap_or(0);
                            let format = match portal.result_formats.len() {
                                0 => 0,
                                1 => portal.result_formats[0],
                                _ => portal.result_formats.get(index).copied().unwrap_or(0),
                            };
                            (ty, format)
                        });
                        if rows.len() < ROWS_SHOWN_MAX {
                            let rendered: Vec<String> = values
                                .iter()
                                .enumerate()
                                .map(|(index, value)| {
                                    let ty = portal
                                        .statement
                                        .column_types
                                        .get(index)
                                        .copied()
                                        .unwrap_or(0);
                                    let format = match portal.result_formats.len() {
                                        0 => 0,
                                        1 => portal.result_formats[0],
                                        _ => portal.result_formats.get(index).copied().unwrap_or(0),
                                    };
                                    render_value(value.as_deref(), ty, format)
                                })
                                .collect();
                            rows.push(rendered.join(", "));
                        }
                    }
                    Some(Expected::Simple {
                        rows,
                        row_count,
                        columns,
                        log,
                        ..
                    }) => {
                        *row_count += 1;
                        log_row(&mut log.full_rows, &values, |index| {
                            columns.get(index).copied().unwrap_or((0, 0))
                        });
                        if rows.len() < ROWS_SHOWN_MAX {
                            let rendered: Vec<String> = values
                                .iter()
                                .enumerate()
                                .map(|(index, value)| {
                                    let (ty, format) =
                                        columns.get(index).copied().unwrap_or((0, 0));
                                    render_value(value.as_deref(), ty, format)
                                })
                                .collect();
                            rows.push(rendered.join(", "));
                        }
                    }
                    _ => {}
                }
            }
            b'C' | b'I' | b's' => {
                let tag = match kind {
                    b'C' => reader.cstr(),
                    b'I' => "EMPTY".to_owned(),
                    _ => "suspended".to_owned(),
                };
                match self.expected.front_mut() {
                    Some(Expected::Execute { .. }) => {
                        if let Some(Expected::Execute {
                            seq,
                            invoke_ms,
                            rows,
                            row_count,
                            portal,
                            full_rows,
                        }) = self.expected.pop_front()
                        {
                            let result = LoggedResult {
                                tag: tag.clone(),
                                rows: full_rows,
                            };
                            self.log_statement(
                                &portal.statement.sql,
                                portal_values(&portal),
                                invoke_ms,
                                LoggedOutcome::Done(vec![result]),
                            );
                            self.complete(seq, invoke_ms, &with_rows(tag, &rows, row_count));
                        }
                    }
                    Some(Expected::Simple {
                        tags,
                        rows,
                        row_count,
                        columns,
                        log,
                        ..
                    }) => {
                        let full_rows = log.full_rows.replace(Vec::new());
                        log.results.push(LoggedResult {
                            tag: tag.clone(),
                            rows: full_rows,
                        });
                        tags.push(with_rows(tag, rows, *row_count));
                        rows.clear();
                        *row_count = 0;
                        columns.clear();
                    }
                    _ => {}
                }
            }
            b'E' => {
                let (sqlstate, message, error) = read_error(&mut reader);
                match self.expected.pop_front() {
                    Some(Expected::Parse { sql, params }) => {
                        // The statement never ran: it failed when prepared, which the client saw as its error.
                        let now = crate::history::now_ms();
                        // In a transaction, a statement refused when prepared still aborts it, so the log keeps it.
                        self.log_statement(
                            &sql,
                            Err(format!(
                                "it was refused when prepared ({} parameters)",
                                params.len()
                            )),
                            now,
                            LoggedOutcome::Error {
                                results: Vec::new(),
                                sqlstate,
                                message,
                            },
                        );
                        let seq =
                            self.recorder
                                .invoke(&self.actor, "SQL", &clip_sql(&sql), None, now);
                        self.complete(seq, now, &error);
                        self.skip_to_sync();
                    }
                    Some(Expected::Execute {
                        seq,
                        invoke_ms,
                        portal,
                        ..
                    }) => {
                        self.log_statement(
                            &portal.statement.sql,
                            portal_values(&portal),
                            invoke_ms,
                            LoggedOutcome::Error {
                                results: Vec::new(),
                                sqlstate,
                                message,
                            },
                        );
                        self.complete(seq, invoke_ms, &error);
                        self.skip_to_sync();
                    }
                    // A simple query ends at its ReadyForQuery, which follows the error.
                    Some(Expected::Simple {
                        seq,
                        invoke_ms,
                        mut tags,
                        rows,
                        row_count,
                        columns,
                        mut log,
                    }) => {
                        tags.push(error);
                        log.error = Some((sqlstate, message));
                        self.expected.push_front(Expected::Simple {
                            seq,
                            invoke_ms,
                            tags,
                            rows,
                            row_count,
                            columns,
                            log,
                        });
                    }
                    Some(Expected::DescribeStatement { .. }) => self.skip_to_sync(),
                    Some(Expected::Sync) => self.expected.push_front(Expected::Sync),
                    None => {}
                }
            }
            b'Z' => {
                while let Some(expected) = self.expected.pop_front() {
                    match expected {
                        Expected::Sync => break,
                        Expected::Simple {
                            seq,
                            invoke_ms,
                            tags,
                            log,
                            ..
                        } => {
                            let SimpleLog {
                                sql,
                                results,
                                error,
                                ..
                            } = *log;
                            let outcome = match error {
                                Some((sqlstate, message)) => LoggedOutcome::Error {
                                    results,
                                    sqlstate,
                                    message,
                                },
                                None => LoggedOutcome::Done(results),
                            };
                            self.log_statement(&sql, Ok(Vec::new()), invoke_ms, outcome);
                            self.complete(seq, invoke_ms, &tags.join("; "));
                            break;
                        }
                        Expected::Execute { seq, invoke_ms, .. } => {
                            self.complete(
                                seq,
                                invoke_ms,
                                "not run: an earlier message of its batch failed",
                            );
                        }
                        Expected::Parse { .. } | Expected::DescribeStatement { .. } => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// After an error, PostgreSQL skips the batch's messages until `Sync`.
    fn skip_to_sync(&mut self) {
        while let Some(expected) = self.expected.front() {
            match expected {
                Expected::Sync => return,
                Expected::Execute { .. } => {
                    if let Some(Expected::Execute { seq, invoke_ms, .. }) =
                        self.expected.pop_front()
                    {
                        self.complete(
                            seq,
                            invoke_ms,
                            "not run: an earlier message of its batch failed",
                        );
                    }
                }
                _ => {
                    self.expected.pop_front();
                }
            }
        }
    }

    /// Adds a statement to the cluster's log.
    fn log_statement(
        &self,
        sql: &str,
        params: Result<Vec<dosim_pg::Value>, String>,
        invoke_ms: u64,
        outcome: LoggedOutcome,
    ) {
        let mut log = self.log.lock();
        if log.statements.len() >= LOGGED_STATEMENTS_MAX {
            log.incomplete.get_or_insert_with(|| {
                format!("the run ran more than {LOGGED_STATEMENTS_MAX} statements")
            });
            return;
        }
        log.statements.push(LoggedStatement {
            connection: self.connection,
            actor: self.actor.clone(),
            database: self.database.clone(),
            sql: sql.to_owned(),
            params,
            invoke_ms,
            outcome,
        });
    }

    /// Past a message too large to follow, the connection is no longer recorded, which the log says.
    fn lose(&mut self) {
        self.lost = true;
        self.log.lock().incomplete.get_or_insert_with(|| {
            format!(
                "{} sent or received a protocol message larger than {MESSAGE_BYTES_MAX} bytes, after which its statements were not recorded",
                self.actor
            )
        });
    }

    fn complete(&self, seq: Option<u64>, invoke_ms: u64, outcome: &str) {
        let Some(seq) = seq else { return };
        let now = crate::history::now_ms();
        let waited = now.saturating_sub(invoke_ms);
        let response = if waited > 0 {
            format!("waited {}, {outcome}", crate::report::seconds(waited))
        } else {
            outcome.to_owned()
        };
        self.recorder.complete(
            seq,
            now,
            OpResult::Answered,
            None,
            Some(response),
            Vec::new(),
        );
    }

    /// The connection closed: statements still unanswered got no answer.
    ///
    /// When the world is torn down at the end of the run, they stay unfinished, which the report says as "no answer before the run ended".
    fn close(&mut self) {
        // The log learns of unanswered statements even when the world is being torn down, since a
        // commit without an answer may or may not have happened.
        let unanswered: Vec<(String, Result<Vec<dosim_pg::Value>, String>, u64)> = self
            .expected
            .iter()
            .filter_map(|expected| match expected {
                Expected::Execute {
                    invoke_ms, portal, ..
                } => Some((
                    portal.statement.sql.clone(),
                    portal_values(portal),
                    *invoke_ms,
                )),
                Expected::Simple { invoke_ms, log, .. } => {
                    Some((log.sql.clone(), Ok(Vec::new()), *invoke_ms))
                }
                _ => None,
            })
            .collect();
        for (sql, params, invoke_ms) in unanswered {
            self.log_statement(&sql, params, invoke_ms, LoggedOutcome::Unanswered);
        }
        if !turmoil::in_simulation() {
            return;
        }
        while let Some(expected) = self.expected.pop_front() {
            if let Expected::Execute { seq: Some(seq), .. }
            | Expected::Simple { seq: Some(seq), .. } = expected
            {
                self.recorder.complete(
                    seq,
                    crate::history::now_ms(),
                    OpResult::TransportError {
                        message: "the connection closed before an answer".to_owned(),
                    },
                    None,
                    None,
                    Vec::new(),
                );
            }
        }
    }
}

/// A command tag with the first rows a query returned: `SELECT 1: (100)`.
fn with_rows(tag: String, rows: &[String], row_count: usize) -> String {
    if rows.is_empty() {
        return tag;
    }
    let mut shown: Vec<String> = rows.iter().map(|row| format!("({row})")).collect();
    if row_count > rows.len() {
        shown.push("…".to_owned());
    }
    format!("{tag}: {}", shown.join(" "))
}

/// The database a startup packet's parameters name: `database`, or the user's name when it names none, as in PostgreSQL.
fn startup_database(parameters: &[u8]) -> String {
    let mut reader = Reader::new(parameters);
    let (mut user, mut database) = (String::new(), None);
    loop {
        let key = reader.cstr();
        if key.is_empty() {
            break;
        }
        let value = reader.cstr();
        match key.as_str() {
            "user" => user = value,
            "database" => database = Some(value),
            _ => {}
        }
    }
    database.unwrap_or(user)
}

/// A bound portal's parameters for the log.
fn portal_values(portal: &Portal) -> Result<Vec<dosim_pg::Value>, String> {
    match &portal.values_error {
        Some(error) => Err(error.clone()),
        None => Ok(portal.values.clone()),
    }
}

/// Adds a `DataRow` to a statement's logged rows, or marks them not comparable.
fn log_row(
    full_rows: &mut Option<Rows>,
    values: &[Option<Vec<u8>>],
    column: impl Fn(usize) -> (u32, i16),
) {
    let Some(rows) = full_rows else { return };
    if rows.len() >= LOGGED_ROWS_MAX {
        *full_rows = None;
        return;
    }
    let mut row = Vec::new();
    for (index, value) in values.iter().enumerate() {
        let (ty, format) = column(index);
        match value_text(value.as_deref(), ty, format) {
            Some(text) => row.push(text),
            None => {
                *full_rows = None;
                return;
            }
        }
    }
    rows.push(row);
}

/// A column value in PostgreSQL's text format, `Some(None)` for NULL, `None` for a binary type the log does not decode.
fn value_text(value: Option<&[u8]>, ty: u32, format: i16) -> Option<Option<String>> {
    let Some(value) = value else {
        return Some(None);
    };
    if format == 0 {
        return Some(Some(String::from_utf8_lossy(value).into_owned()));
    }
    let text = match binary_value(value, ty).ok()? {
        dosim_pg::Value::Null => return Some(None),
        value => value.to_text(),
    };
    Some(text)
}

/// A bound parameter as the engine takes it, decoded as dosim-pgwire decodes it.
fn param_value(value: Option<&[u8]>, ty: u32, format: i16) -> Result<dosim_pg::Value, String> {
    let Some(value) = value else {
        return Ok(dosim_pg::Value::Null);
    };
    if format != 0 {
        return binary_value(value, ty);
    }
    let text = String::from_utf8_lossy(value).into_owned();
    match sql_type(ty) {
        None | Some(dosim_pg::SqlType::Text) => Ok(dosim_pg::Value::Text(text)),
        Some(target) => dosim_pg::Value::Text(text)
            .coerce(target)
            .map_err(|error| error.message),
    }
}

/// The engine's type for a type OID, `None` for `unknown` and the types it has not.
fn sql_type(oid: u32) -> Option<dosim_pg::SqlType> {
    use dosim_pg::SqlType;
    Some(match oid {
        16 => SqlType::Bool,
        21 | 23 => SqlType::Int4,
        20 => SqlType::Int8,
        25 | 1043 | 19 => SqlType::Text,
        1700 => SqlType::Numeric(None),
        1184 => SqlType::Timestamptz,
        2950 => SqlType::Uuid,
        _ => return None,
    })
}

/// A value in PostgreSQL's binary format, for the types the engine has.
fn binary_value(raw: &[u8], ty: u32) -> Result<dosim_pg::Value, String> {
    use dosim_pg::Value;
    let fixed = |n: usize| -> Result<(), String> {
        if raw.len() == n {
            Ok(())
        } else {
            Err(format!(
                "a binary value of type {ty} with {} bytes",
                raw.len()
            ))
        }
    };
    Ok(match ty {
        16 => {
            fixed(1)?;
            Value::Bool(raw[0] != 0)
        }
        21 => {
            fixed(2)?;
            Value::Int4(i32::from(i16::from_be_bytes([raw[0], raw[1]])))
        }
        23 => {
            fixed(4)?;
            Value::Int4(i32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]))
        }
        20 => {
            fixed(8)?;
            Value::Int8(i64::from_be_bytes(raw.try_into().map_err(|_| "int8")?))
        }
        25 | 1043 | 19 | 705 | 0 => Value::Text(String::from_utf8_lossy(raw).into_owned()),
        2278 => Value::Void,
        2950 => {
            fixed(16)?;
            Value::Uuid(u128::from_be_bytes(raw.try_into().map_err(|_| "uuid")?))
        }
        1184 => {
            fixed(8)?;
            // PostgreSQL counts microseconds from 2000-01-01; the engine from 1970-01-01.
            let since_2000 = i64::from_be_bytes(raw.try_into().map_err(|_| "timestamptz")?);
            Value::Timestamptz(since_2000.saturating_add(946_684_800_000_000))
        }
        1700 => Value::Text(numeric_text(raw).ok_or("a malformed binary numeric")?)
            .coerce(dosim_pg::SqlType::Numeric(None))
            .map_err(|error| error.message)?,
        _ => {
            return Err(format!(
                "a binary value of type OID {ty}, which the log does not decode"
            ))
        }
    })
}

/// A binary `numeric` in its text form: base-10000 digits, a weight, a sign and a display scale.
fn numeric_text(raw: &[u8]) -> Option<String> {
    let word =
        |at: usize| -> Option<u16> { Some(u16::from_be_bytes([*raw.get(at)?, *raw.get(at + 1)?])) };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(2)? as i16);
    let sign = word(4)?;
    let dscale = usize::from(word(6)?);
    if sign == 0xC000 {
        return Some("NaN".to_owned());
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|i| word(8 + 2 * i))
        .collect::<Option<_>>()?;
    let digit = |position: i64| -> u16 {
        usize::try_from(position)
            .ok()
            .and_then(|p| digits.get(p).copied())
            .unwrap_or(0)
    };
    let mut int_part = String::new();
    for position in 0..=weight.min(1000) {
        let d = digit(position);
        if int_part.is_empty() {
            if d != 0 {
                int_part = d.to_string();
            }
        } else {
            int_part.push_str(&format!("{d:04}"));
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut text = if sign == 0x4000 {
        format!("-{int_part}")
    } else {
        int_part
    };
    if dscale > 0 {
        let mut frac = String::new();
        let mut k = 0i64;
        while frac.len() < dscale && k < 1000 {
            frac.push_str(&format!("{:04}", digit(weight + 1 + k)));
            k += 1;
        }
        frac.truncate(dscale);
        text.push('.');
        text.push_str(&frac);
    }
    Some(text)
}

/// An `ErrorResponse`'s SQLSTATE and message, and its line for the timeline.
fn read_error(reader: &mut Reader<'_>) -> (String, String, String) {
    let mut rendered = reader.clone();
    let line = render_error(&mut rendered);
    let (mut code, mut message) = (String::new(), String::new());
    loop {
        let field = reader.u8();
        if field == 0 {
            break;
        }
        let value = reader.cstr();
        match field {
            b'C' => code = value,
            b'M' => message = value,
            _ => {}
        }
    }
    (code, message, line)
}

/// An `ErrorResponse` as `ERROR 40001: could not serialize access …`.
fn render_error(reader: &mut Reader<'_>) -> String {
    let (mut severity, mut code, mut message) = (String::new(), String::new(), String::new());
    loop {
        let field = reader.u8();
        if field == 0 {
            break;
        }
        let value = reader.cstr();
        match field {
            b'S' => severity = value,
            b'C' => code = value,
            b'M' => message = value,
            _ => {}
        }
    }
    if severity.is_empty() {
        severity = "ERROR".to_owned();
    }
    format!("{severity} {code}: {}", clip(&message, 80))
}

/// A parameter or column value for the timeline, decoded by its type OID when sent in binary.
fn render_value(value: Option<&[u8]>, ty: u32, format: i16) -> String {
    let Some(value) = value else {
        return "NULL".to_owned();
    };
    if format == 0 {
        return clip(&String::from_utf8_lossy(value), 40);
    }
    let number = |bytes: &[u8]| -> Option<i64> {
        match bytes.len() {
            2 => Some(i64::from(i16::from_be_bytes([bytes[0], bytes[1]]))),
            4 => Some(i64::from(i32::from_be_bytes(bytes.try_into().ok()?))),
            8 => Some(i64::from_be_bytes(bytes.try_into().ok()?)),
            _ => None,
        }
    };
    match ty {
        16 if value.len() == 1 => if value[0] != 0 { "t" } else { "f" }.to_owned(),
        20 | 21 | 23 => number(value).map_or_else(|| "?".to_owned(), |n| n.to_string()),
        // A function returning void, like pg_advisory_lock, sends an empty value.
        2278 => "void".to_owned(),
        25 | 1043 | 19 | 705 => format!("'{}'", clip(&String::from_utf8_lossy(value), 40)),
        _ => format!("<{} bytes>", value.len()),
    }
}

/// Statement text on one line, clipped.
fn clip_sql(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    clip(&one_line, SQL_CHARS_MAX)
}

fn clip(text: &str, chars_max: usize) -> String {
    if text.chars().count() <= chars_max {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(chars_max - 1).collect();
    clipped.push('…');
    clipped
}

/// A message whose length field cannot be PostgreSQL's: the stream is not followed any further.
struct TooLong;

/// Takes one complete typed message (`kind`, body) off the front of `buffer`, or `None` until
/// all of it has arrived.
fn take_message(buffer: &mut Vec<u8>) -> Result<Option<(u8, Vec<u8>)>, TooLong> {
    if buffer.len() < 5 {
        return Ok(None);
    }
    let len = be_u32(&buffer[1..5]) as usize;
    if !(4..=MESSAGE_BYTES_MAX).contains(&len) {
        return Err(TooLong);
    }
    if buffer.len() < 1 + len {
        return Ok(None);
    }
    let kind = buffer[0];
    let body = buffer[5..1 + len].to_vec();
    buffer.drain(..1 + len);
    Ok(Some((kind, body)))
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Reads a message body; reads past its end give zeros and empty strings, so a malformed message records nonsense rather than panicking.
#[derive(Clone)]
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let end = self.at.saturating_add(n).min(self.bytes.len());
        let out = self.bytes[self.at.min(end)..end].to_vec();
        self.at = end;
        out
    }

    fn u8(&mut self) -> u8 {
        self.bytes(1).first().copied().unwrap_or(0)
    }

    fn i16(&mut self) -> i16 {
        let b = self.bytes(2);
        if b.len() == 2 {
            i16::from_be_bytes([b[0], b[1]])
        } else {
            0
        }
    }

    fn i32(&mut self) -> i32 {
        let b = self.bytes(4);
        if b.len() == 4 {
            i32::from_be_bytes([b[0], b[1], b[2], b[3]])
        } else {
            -1
        }
    }

    fn u32(&mut self) -> u32 {
        let b = self.bytes(4);
        if b.len() == 4 {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        } else {
            0
        }
    }

    fn cstr(&mut self) -> String {
        let rest = &self.bytes[self.at.min(self.bytes.len())..];
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.at = (self.at + end + 1).min(self.bytes.len());
        text
    }
}

#[cfg(test)]
mod tests;
