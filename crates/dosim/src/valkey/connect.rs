//! What actors use to reach the scenario's Valkey clusters: their connection details and redis-rs over turmoil's TCP.

use std::cell::RefCell;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisConnectionInfo};

use super::RunValkey;

/// How actors reach one cluster: what its `connection` object says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValkeyInfo {
    /// The cluster's name.
    pub name: String,
    /// The connection host, which is also the data plane's host name in the simulation.
    pub host: String,
    /// 25061.
    pub port: u16,
    /// `default`.
    pub user: String,
    pub password: String,
    /// `rediss://default:<password>@<host>:25061`.
    pub uri: String,
}

thread_local! {
    /// The Valkey clusters of the run in progress on this thread.
    static RUN_CLUSTERS: RefCell<Vec<ValkeyInfo>> = const { RefCell::new(Vec::new()) };
}

/// Keeps the run's clusters visible to its actors until dropped.
pub(crate) struct RunGuard(());

impl Drop for RunGuard {
    fn drop(&mut self) {
        RUN_CLUSTERS.with(|clusters| clusters.borrow_mut().clear());
    }
}

pub(crate) fn enter(clusters: &[RunValkey]) -> RunGuard {
    RUN_CLUSTERS.with(|current| {
        *current.borrow_mut() = clusters.iter().map(|c| c.info().clone()).collect();
    });
    RunGuard(())
}

/// The connection details of the current run's Valkey cluster called `name`.
pub fn connection_info(name: &str) -> Option<ValkeyInfo> {
    RUN_CLUSTERS.with(|clusters| clusters.borrow().iter().find(|c| c.name == name).cloned())
}

/// redis-rs's connection settings for a cluster: `default`, its password, RESP2, database 0, no `CLIENT SETINFO`.
pub fn redis_info(name: &str) -> Result<RedisConnectionInfo, ConnectError> {
    let info = connection_info(name).ok_or_else(|| {
        ConnectError::Config(format!("the scenario has no Valkey cluster called {name}"))
    })?;
    Ok(RedisConnectionInfo::default()
        .set_username(&info.user)
        .set_password(&info.password)
        .set_skip_set_lib_name())
}

/// Why connecting failed.
#[derive(Debug)]
pub enum ConnectError {
    /// No such cluster.
    Config(String),
    /// The TCP connection failed.
    Io(std::io::Error),
    /// The server refused the handshake (a wrong password) or did not answer in time.
    Redis(redis::RedisError),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Config(message) => f.write_str(message),
            ConnectError::Io(error) => write!(f, "connecting: {error}"),
            ConnectError::Redis(error) => write!(f, "connecting: {error}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Connects to the cluster called `name` with redis-rs's defaults (a 500 ms response timeout on every command, blocking ones included) and spawns the connection's driver on the current host.
pub async fn connect(name: &str) -> Result<MultiplexedConnection, ConnectError> {
    connect_with(name, &redis_info(name)?, AsyncConnectionConfig::new()).await
}

/// [`connect`] with the caller's connection settings (another database, RESP3) and config (the response timeout).
pub async fn connect_with(
    name: &str,
    info: &RedisConnectionInfo,
    config: AsyncConnectionConfig,
) -> Result<MultiplexedConnection, ConnectError> {
    let cluster = connection_info(name).ok_or_else(|| {
        ConnectError::Config(format!("the scenario has no Valkey cluster called {name}"))
    })?;
    let stream = turmoil::net::TcpStream::connect((cluster.host.as_str(), cluster.port))
        .await
        .map_err(ConnectError::Io)?;
    let (connection, driver) = MultiplexedConnection::new_with_config(info, stream, config)
        .await
        .map_err(ConnectError::Redis)?;
    tokio::spawn(driver);
    Ok(connection)
}
