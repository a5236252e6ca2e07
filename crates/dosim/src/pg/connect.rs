//! What a scenario declares of a cluster, and what its actors use to reach it: the connection details of the run in progress and tokio-postgres over turmoil's TCP.

use std::cell::RefCell;

use super::{RunDatabase, PORT};

/// A database cluster that exists before the actors start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSpec {
    /// The cluster's name on the account (`backend`).
    pub name: String,
    /// The engine slug: `pg` or `valkey` (each has a simulated data plane).
    pub engine: String,
    /// The region slug.
    pub region: String,
    /// The node size slug.
    pub size: String,
    /// SQL the harness runs on `defaultdb` before the actors start: the schema and its rows, as a migration would leave them.
    pub setup_sql: Vec<String>,
    /// Users created with the cluster, as `POST /v2/databases/{uuid}/users` would.
    pub users: Vec<String>,
    /// Databases created with the cluster, besides `defaultdb`.
    pub dbs: Vec<String>,
    /// Connection pools created with the cluster, served on port 25061.
    pub pools: Vec<dosim_cloud::PoolCreate>,
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
            users: Vec::new(),
            dbs: Vec::new(),
            pools: Vec::new(),
        }
    }

    /// A Managed Caching for Valkey cluster called `name`: one `db-s-1vcpu-1gb` node in `nyc3`, served as [`crate::valkey`] describes.
    pub fn valkey(name: impl Into<String>) -> DatabaseSpec {
        DatabaseSpec {
            engine: "valkey".to_owned(),
            ..DatabaseSpec::pg(name)
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

impl DatabaseSpec {
    /// Adds a user created with the cluster; its password is the model's, in the cluster's `users`.
    pub fn user(mut self, name: impl Into<String>) -> DatabaseSpec {
        self.users.push(name.into());
        self
    }

    /// Adds a database created with the cluster.
    pub fn db(mut self, name: impl Into<String>) -> DatabaseSpec {
        self.dbs.push(name.into());
        self
    }

    /// Adds a connection pool on `defaultdb` (`mode` `transaction`, `session` or `statement`), used by whichever user connects.
    pub fn pool(mut self, name: impl Into<String>, mode: &str, size: i64) -> DatabaseSpec {
        self.pools.push(dosim_cloud::PoolCreate {
            name: name.into(),
            mode: mode.to_owned(),
            size,
            db: "defaultdb".to_owned(),
            user: None,
        });
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
            .map(|database| database.info().clone())
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

/// A `tokio_postgres::Config` for the pool `pool` of the cluster `name`, as the pool's `connection` object gives it: the cluster's host, port 25061, `doadmin`, and the pool's name as the database.
pub fn pool_config(name: &str, pool: &str) -> Result<tokio_postgres::Config, String> {
    let info = connection_info(name)
        .ok_or_else(|| format!("the scenario has no database cluster called {name}"))?;
    let mut config = tokio_postgres::Config::new();
    config
        .host(&info.host)
        .port(super::POOL_PORT)
        .user(&info.user)
        .password(&info.password)
        .dbname(pool);
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
