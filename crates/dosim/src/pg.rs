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
                let stream = Recording::new(stream, actor, recorder.clone());
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
    fn new(stream: S, actor: String, recorder: Recorder) -> Recording<S> {
        Recording {
            stream,
            sniffer: Sniffer::new(actor, recorder),
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
    result_formats: Vec<i16>,
}

/// What the recorder expects the server to answer next, in the order the client asked.
#[derive(Debug)]
enum Expected {
    /// A `Parse`: `ParseComplete`, or an error that names a statement that never ran.
    Parse { sql: String },
    /// A `Describe` of a statement: its `ParameterDescription`, then its `RowDescription` or `NoData`.
    DescribeStatement { name: String, got_params: bool },
    /// An `Execute` recorded as operation `seq`.
    Execute {
        seq: Option<u64>,
        invoke_ms: u64,
        portal: Portal,
        rows: Vec<String>,
        row_count: usize,
    },
    /// A simple `Query` recorded as operation `seq`, with the tags of the statements done so far.
    Simple {
        seq: Option<u64>,
        invoke_ms: u64,
        tags: Vec<String>,
        rows: Vec<String>,
        row_count: usize,
        columns: Vec<(u32, i16)>,
    },
    /// A `Sync`: the end of an extended-query batch.
    Sync,
}

/// Follows one connection's protocol messages and records each statement as an operation.
struct Sniffer {
    actor: String,
    recorder: Recorder,
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
    fn new(actor: String, recorder: Recorder) -> Sniffer {
        Sniffer {
            actor,
            recorder,
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
                    self.lost = true;
                    return;
                }
                if self.front.len() < len {
                    return;
                }
                let code = be_u32(&self.front[4..8]);
                self.front.drain(..len);
                match code {
                    80_877_103 | 80_877_104 => self.ssl_answers += 1,
                    _ => self.started = true,
                }
                continue;
            }
            if self.front.len() < 5 {
                return;
            }
            let len = be_u32(&self.front[1..5]) as usize;
            if !(4..=MESSAGE_BYTES_MAX).contains(&len) {
                self.lost = true;
                return;
            }
            if self.front.len() < 1 + len {
                return;
            }
            let kind = self.front[0];
            let body: Vec<u8> = self.front[5..1 + len].to_vec();
            self.front.drain(..1 + len);
            self.frontend_message(kind, &body);
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
                });
            }
            b'P' => {
                let name = reader.cstr();
                let sql = reader.cstr();
                let count = reader.i16().max(0) as usize;
                let param_types = (0..count).map(|_| reader.u32()).collect();
                if self.statements.len() < STATEMENTS_MAX || self.statements.contains_key(&name) {
                    self.statements.insert(
                        name.clone(),
                        Prepared {
                            sql: sql.clone(),
                            param_types,
                            column_types: Vec::new(),
                        },
                    );
                }
                self.expected.push_back(Expected::Parse { sql });
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
            if self.back.len() < 5 {
                return;
            }
            let len = be_u32(&self.back[1..5]) as usize;
            if !(4..=MESSAGE_BYTES_MAX).contains(&len) {
                self.lost = true;
                return;
            }
            if self.back.len() < 1 + len {
                return;
            }
            let kind = self.back[0];
            let body: Vec<u8> = self.back[5..1 + len].to_vec();
            self.back.drain(..1 + len);
            self.backend_message(kind, &body);
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
                        ..
                    }) => {
                        *row_count += 1;
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
                        ..
                    }) => {
                        *row_count += 1;
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
                            ..
                        }) = self.expected.pop_front()
                        {
                            self.complete(seq, invoke_ms, &with_rows(tag, &rows, row_count));
                        }
                    }
                    Some(Expected::Simple {
                        tags,
                        rows,
                        row_count,
                        columns,
                        ..
                    }) => {
                        tags.push(with_rows(tag, rows, *row_count));
                        rows.clear();
                        *row_count = 0;
                        columns.clear();
                    }
                    _ => {}
                }
            }
            b'E' => {
                let error = render_error(&mut reader);
                match self.expected.pop_front() {
                    Some(Expected::Parse { sql, .. }) => {
                        // The statement never ran: it failed when prepared, which the client saw as its error.
                        let now = crate::history::now_ms();
                        let seq =
                            self.recorder
                                .invoke(&self.actor, "SQL", &clip_sql(&sql), None, now);
                        self.complete(seq, now, &error);
                        self.skip_to_sync();
                    }
                    Some(Expected::Execute { seq, invoke_ms, .. }) => {
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
                    }) => {
                        tags.push(error);
                        self.expected.push_front(Expected::Simple {
                            seq,
                            invoke_ms,
                            tags,
                            rows,
                            row_count,
                            columns,
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
                            ..
                        } => {
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

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Reads a message body; reads past its end give zeros and empty strings, so a malformed message records nonsense rather than panicking.
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
