//! `dosim serve`'s PostgreSQL data plane: each managed PostgreSQL cluster created through the API is a `dosim-pgwire` server on a real local port, with its connection pools (PgBouncer, port 25061 on DigitalOcean) on a second port.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dosim_api::DataPlane;
use dosim_cloud::{ConnectionPool, Database, DatabaseUser};
use dosim_pg::{Engine, EngineConfig};
use dosim_pgwire::{PgCluster, WireConfig};

use crate::planes::{engine_seed, Registry};

/// The default cap on clusters served at once, across every account; beyond it a cluster keeps its DigitalOcean host and is not served.
pub const PG_CLUSTERS_MAX: usize = 100;

/// One served cluster: its wire server and the port its pools answer on.
///
/// Each cluster runs on a thread of its own with a single-threaded runtime, off the HTTP server's
/// workers: a heavy statement holds its cluster's thread (and its engine), never the API's.
/// Aborting its task drops the listeners and every open connection, whose sessions then roll
/// back, and ends the thread.
#[derive(Clone)]
struct Served {
    cluster: PgCluster,
    pool_port: u16,
}

/// Serves PostgreSQL clusters on local ports, following the API's changes to their users and databases.
pub struct PgDataPlane {
    seed: u64,
    /// The tokio instant the engines' clocks start from: when the server started.
    time_base: tokio::time::Instant,
    clusters: Registry<Served>,
    /// Whether plain (unencrypted) connections are accepted.
    plain_allowed: bool,
    /// Statements that changed data, across every cluster, so `--state` saves after SQL writes too.
    writes: Arc<AtomicU64>,
}

/// Counts the statements that may have changed a cluster's data once they are committed: a
/// write or DDL outside a transaction block, or a `COMMIT`.
struct WriteCounter(Arc<AtomicU64>);

impl dosim_pgwire::observe::Observer for WriteCounter {
    fn statement_finished(
        &self,
        _session: &dosim_pgwire::observe::SessionInfo,
        statement: &dosim_pgwire::observe::StatementRecord,
    ) {
        use dosim_pgwire::observe::{StatementOutcome, TransactionStatus};
        let results = match &statement.outcome {
            StatementOutcome::Done(results) | StatementOutcome::Failed { results, .. } => results,
            _ => return,
        };
        let committed = statement.transaction_after == Some(TransactionStatus::Idle);
        let wrote = results.iter().any(|r| {
            let verb = r.tag.split(' ').next().unwrap_or_default();
            !matches!(
                verb,
                "SELECT" | "SHOW" | "SET" | "RESET" | "BEGIN" | "START" | "ROLLBACK" | "EXPLAIN"
            )
        });
        if committed && wrote {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl PgDataPlane {
    /// A data plane binding `bind_ip` and showing `host`; call it inside the runtime that serves the API.
    pub fn new(bind_ip: IpAddr, host: String, seed: u64, clusters_max: usize) -> PgDataPlane {
        PgDataPlane {
            seed,
            time_base: tokio::time::Instant::now(),
            clusters: Registry::new("pg", "PostgreSQL", bind_ip, host, clusters_max),
            plain_allowed: false,
            writes: Arc::default(),
        }
    }

    /// Counts the statements that change data on `writes`, which the `--state` saver watches.
    pub fn count_writes(mut self, writes: Arc<AtomicU64>) -> PgDataPlane {
        self.writes = writes;
        self
    }

    /// Whether clusters accept connections without TLS (`--pg-allow-plain`); DigitalOcean's refuse
    /// them.
    pub fn allow_plain(mut self, allowed: bool) -> PgDataPlane {
        self.plain_allowed = allowed;
        self
    }

    fn served(&self, database: &Database) -> Option<PgCluster> {
        self.clusters.get(database).map(|served| served.cluster)
    }

    fn start(
        &self,
        database: &Database,
    ) -> std::io::Result<(u16, Served, tokio::task::AbortHandle)> {
        let bind = || -> std::io::Result<(std::net::TcpListener, u16)> {
            let listener = std::net::TcpListener::bind((self.clusters.bind_ip, 0))?;
            listener.set_nonblocking(true)?;
            let port = listener.local_addr()?.port();
            Ok((listener, port))
        };
        let (listener, port) = bind()?;
        let (pool_listener, pool_port) = bind()?;
        let mut engine = Engine::new(EngineConfig {
            seed: engine_seed(self.seed, database),
            sessions_max: connections_max(&database.size),
            memory_bytes_max: memory_max(&database.size),
            ..EngineConfig::default()
        });
        for db in &database.db_names {
            engine.create_database(db);
        }
        let cluster = PgCluster::new(
            engine,
            WireConfig {
                tls: true,
                // DigitalOcean's clusters refuse unencrypted connections.
                tls_required: !self.plain_allowed,
                authentication_timeout: Some(std::time::Duration::from_secs(60)),
                host: self.clusters.host.clone(),
                ..WireConfig::default()
            },
        );
        cluster.set_time_base(self.time_base);
        cluster.set_observer(Arc::new(WriteCounter(self.writes.clone())));
        for user in &database.users {
            cluster.set_user(&user.name, &user.password);
        }
        for pool in &database.pools {
            cluster.set_pool(&pool.name, dosim::pg::pool_settings(pool));
        }
        let abort = serve_on_own_thread(listener, pool_listener, cluster.clone())?;
        Ok((port, Served { cluster, pool_port }, abort))
    }
}

/// Serves a cluster's direct and pooled connections on a thread of its own, with a single-threaded
/// runtime, until the returned handle aborts it: SQL execution, however heavy, then never runs on
/// the API's workers.
fn serve_on_own_thread(
    listener: std::net::TcpListener,
    pool_listener: std::net::TcpListener,
    cluster: PgCluster,
) -> std::io::Result<tokio::task::AbortHandle> {
    let port = listener.local_addr()?.port();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (listener, pool_listener) = {
        let _entered = runtime.enter();
        (
            tokio::net::TcpListener::from_std(listener)?,
            tokio::net::TcpListener::from_std(pool_listener)?,
        )
    };
    let task = runtime.spawn(async move {
        tokio::join!(
            accept(listener, cluster.clone(), false),
            accept(pool_listener, cluster, true)
        );
    });
    let abort = task.abort_handle();
    std::thread::Builder::new()
        .name(format!("dosim-pg-{port}"))
        .spawn(move || {
            // Ends when the task is aborted; the runtime and the connections it held drop here.
            let _ = runtime.block_on(task);
        })?;
    Ok(abort)
}

/// A connection being served, direct or through a pool.
type Serving = std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>>;

/// Accepts connections (pool clients if `pooled`) until aborted; the connections live in this task's `JoinSet`, so aborting it closes them too.
async fn accept(listener: tokio::net::TcpListener, cluster: PgCluster, pooled: bool) {
    dosim_base::listen::accept(listener, |stream, peer| {
        let cluster = cluster.clone();
        // The connection takes its number now, in the order connections were accepted.
        let serving: Serving = if pooled {
            Box::pin(dosim_pgwire::serve_pool_connection_from(
                cluster, stream, peer,
            ))
        } else {
            Box::pin(dosim_pgwire::serve_connection_from(cluster, stream, peer))
        };
        async move {
            let _ = serving.await;
        }
    })
    .await;
}

/// The connections a cluster of `size` accepts before answering `53300 sorry, too many clients
/// already`: DigitalOcean allows 25 backend connections per GiB of RAM and reserves 3 for maintenance
/// (its connection pool documentation), so `db-s-1vcpu-1gb` takes 22 and `db-s-2vcpu-4gb` 97. A size
/// whose slug does not end in its RAM (`…-<n>gb`) keeps the engine's default.
fn connections_max(size: &str) -> usize {
    match size_gib(size) {
        Some(gib) => gib * 25 - 3,
        None => EngineConfig::default().sessions_max,
    }
}

/// The bytes a cluster of `size` may keep in row versions before a write is refused with `53200
/// out of memory`: a quarter of its RAM, since dosim keeps in memory what PostgreSQL keeps on
/// disk; a size whose slug does not end in its RAM keeps the engine's default.
fn memory_max(size: &str) -> u64 {
    match size_gib(size) {
        Some(gib) => (gib as u64) << 28,
        None => EngineConfig::default().memory_bytes_max,
    }
}

/// The GiB of RAM a size's slug ends in (`…-<n>gb`).
fn size_gib(size: &str) -> Option<usize> {
    size.rsplit('-')
        .next()
        .and_then(|last| last.strip_suffix("gb"))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| (1..=4096).contains(n))
}

impl DataPlane for PgDataPlane {
    fn cluster_created(&self, database: &Database) -> Option<(String, u16)> {
        self.clusters.created(database, || self.start(database))
    }

    fn cluster_deleted(&self, database: &Database) {
        self.clusters.deleted(database);
    }

    fn user_changed(&self, database: &Database, user: &DatabaseUser) {
        if let Some(cluster) = self.served(database) {
            cluster.set_user(&user.name, &user.password);
        }
    }

    fn user_deleted(&self, database: &Database, name: &str) {
        if let Some(cluster) = self.served(database) {
            cluster.remove_user(name);
        }
    }

    fn db_created(&self, database: &Database, name: &str) {
        if let Some(cluster) = self.served(database) {
            cluster.engine().lock().create_database(name);
        }
    }

    /// The engine cannot drop a database, so its data stays reachable until the cluster is deleted; `docs/serve.md` says so.
    fn db_deleted(&self, _database: &Database, _name: &str) {}

    fn reset(&self) {
        self.clusters.reset();
    }

    fn save_data(&self, database: &Database) -> Option<serde_json::Value> {
        let cluster = self.served(database)?;
        let dump = cluster.engine().lock().dump();
        serde_json::to_value(dump).ok()
    }

    fn pool_changed(&self, database: &Database, pool: &ConnectionPool) {
        if let Some(cluster) = self.served(database) {
            cluster.set_pool(&pool.name, dosim::pg::pool_settings(pool));
        }
    }

    fn pool_deleted(&self, database: &Database, name: &str) {
        if let Some(cluster) = self.served(database) {
            cluster.remove_pool(name);
        }
    }

    fn pool_port(&self, database: &Database) -> Option<u16> {
        self.clusters.get(database).map(|served| served.pool_port)
    }

    fn load_data(&self, database: &Database, data: &serde_json::Value) -> Result<(), String> {
        let Some(cluster) = self.served(database) else {
            return Ok(());
        };
        let dump: dosim_pg::EngineDump = serde_json::from_value(data.clone())
            .map_err(|e| format!("cluster {}: not a PostgreSQL dump: {e}", database.name))?;
        let restored = cluster.engine().lock().restore(&dump);
        restored.map_err(|e| format!("cluster {}: {e}", database.name))
    }
}

/// The host connection objects show for listeners bound to `ip`: the IP itself, in brackets if it is IPv6, or loopback for an unspecified address.
pub fn advertised_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".to_string(),
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

#[cfg(test)]
mod tests;
