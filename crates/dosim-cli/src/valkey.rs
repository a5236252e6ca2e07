//! `dosim serve`'s Valkey data plane: each Managed Caching (Valkey) cluster created through the API is a `dosim-valkeywire` server on a real local port, in TLS, so its `connection.uri` works verbatim with `redis-cli --tls` and redis-py.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use dosim_api::DataPlane;
use dosim_cloud::{Database, DatabaseUser};
use dosim_valkey::{Engine, EngineConfig, EvictionPolicy};
use dosim_valkeywire::{ValkeyCluster, WireConfig};
use parking_lot::Mutex;

/// The default cap on Valkey clusters served at once, across every account.
pub const VALKEY_CLUSTERS_MAX: usize = 100;

struct Served {
    cluster: ValkeyCluster,
    /// Aborting it drops the listener and every open connection.
    task: tokio::task::AbortHandle,
}

/// Serves Valkey clusters on local ports, following the API's changes to their eviction policy.
pub struct ValkeyDataPlane {
    bind_ip: IpAddr,
    host: String,
    seed: u64,
    clusters_max: usize,
    time_base: tokio::time::Instant,
    runtime: tokio::runtime::Handle,
    clusters: Mutex<BTreeMap<u16, Served>>,
}

impl ValkeyDataPlane {
    /// A data plane binding `bind_ip` and showing `host`; call it inside the runtime that serves the API.
    pub fn new(bind_ip: IpAddr, host: String, seed: u64, clusters_max: usize) -> ValkeyDataPlane {
        ValkeyDataPlane {
            bind_ip,
            host,
            seed,
            clusters_max,
            time_base: tokio::time::Instant::now(),
            runtime: tokio::runtime::Handle::current(),
            clusters: Mutex::new(BTreeMap::new()),
        }
    }

    fn start(&self, database: &Database) -> std::io::Result<(u16, Served)> {
        let listener = std::net::TcpListener::bind((self.bind_ip, 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let _runtime = self.runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let memory_mb = dosim_cloud::catalog::database_size(&database.size)
            .map_or(1024, |s| u64::from(s.memory));
        let mut hash = dosim_base::Fnv1a::default();
        hash.write(&self.seed.to_le_bytes());
        hash.write(database.id.to_string().as_bytes());
        let engine = Engine::new(EngineConfig {
            seed: hash.finish(),
            maxmemory_bytes: memory_mb * (1 << 20) * 3 / 4,
            eviction_policy: policy(database),
            ..EngineConfig::default()
        });
        let cluster = ValkeyCluster::new(
            engine,
            WireConfig {
                tls: true,
                host: self.host.clone(),
                ..WireConfig::default()
            },
        );
        cluster.set_time_base(self.time_base);
        cluster.set_password(&database.primary_user().password);
        let task = self
            .runtime
            .spawn(dosim_valkeywire::serve_listener(listener, cluster.clone()));
        Ok((
            port,
            Served {
                cluster,
                task: task.abort_handle(),
            },
        ))
    }
}

fn policy(database: &Database) -> EvictionPolicy {
    database
        .eviction_policy
        .as_deref()
        .and_then(EvictionPolicy::from_api_name)
        .unwrap_or_default()
}

impl DataPlane for ValkeyDataPlane {
    fn cluster_created(&self, database: &Database) -> Option<(String, u16)> {
        if database.engine != "valkey" || self.clusters.lock().len() >= self.clusters_max {
            return None;
        }
        match self.start(database) {
            Ok((port, served)) => {
                self.clusters.lock().insert(port, served);
                Some((self.host.clone(), port))
            }
            Err(error) => {
                eprintln!(
                    "database cluster {}: cannot serve Valkey on {}: {error}",
                    database.name, self.bind_ip
                );
                None
            }
        }
    }

    fn cluster_deleted(&self, database: &Database) {
        let Some((_, port)) = &database.endpoint else {
            return;
        };
        if let Some(served) = self.clusters.lock().remove(port) {
            served.task.abort();
        }
    }

    /// Valkey clusters have one user, `default`, whose password the API cannot change here.
    fn user_changed(&self, _database: &Database, _user: &DatabaseUser) {}

    fn user_deleted(&self, _database: &Database, _name: &str) {}

    fn db_created(&self, _database: &Database, _name: &str) {}

    fn db_deleted(&self, _database: &Database, _name: &str) {}

    fn reset(&self) {
        for (_, served) in std::mem::take(&mut *self.clusters.lock()) {
            served.task.abort();
        }
    }

    fn eviction_policy_changed(&self, database: &Database) {
        let Some((_, port)) = &database.endpoint else {
            return;
        };
        if let Some(served) = self.clusters.lock().get(port) {
            served
                .cluster
                .engine()
                .lock()
                .set_eviction_policy(policy(database));
        }
    }
}

/// Every data plane `dosim serve` runs, each told of every change; a cluster is served by the first that takes its engine.
pub struct DataPlanes(pub Vec<Arc<dyn DataPlane>>);

impl DataPlane for DataPlanes {
    fn cluster_created(&self, cluster: &Database) -> Option<(String, u16)> {
        self.0
            .iter()
            .find_map(|plane| plane.cluster_created(cluster))
    }

    fn cluster_deleted(&self, cluster: &Database) {
        self.0
            .iter()
            .for_each(|plane| plane.cluster_deleted(cluster));
    }

    fn user_changed(&self, cluster: &Database, user: &DatabaseUser) {
        self.0
            .iter()
            .for_each(|plane| plane.user_changed(cluster, user));
    }

    fn user_deleted(&self, cluster: &Database, name: &str) {
        self.0
            .iter()
            .for_each(|plane| plane.user_deleted(cluster, name));
    }

    fn db_created(&self, cluster: &Database, name: &str) {
        self.0
            .iter()
            .for_each(|plane| plane.db_created(cluster, name));
    }

    fn db_deleted(&self, cluster: &Database, name: &str) {
        self.0
            .iter()
            .for_each(|plane| plane.db_deleted(cluster, name));
    }

    fn reset(&self) {
        self.0.iter().for_each(|plane| plane.reset());
    }

    fn save_data(&self, cluster: &Database) -> Option<serde_json::Value> {
        self.0.iter().find_map(|plane| plane.save_data(cluster))
    }

    fn load_data(&self, cluster: &Database, data: &serde_json::Value) -> Result<(), String> {
        self.0
            .iter()
            .try_for_each(|plane| plane.load_data(cluster, data))
    }

    fn eviction_policy_changed(&self, cluster: &Database) {
        self.0
            .iter()
            .for_each(|plane| plane.eviction_policy_changed(cluster));
    }

    fn pool_changed(&self, cluster: &Database, pool: &dosim_cloud::ConnectionPool) {
        self.0
            .iter()
            .for_each(|plane| plane.pool_changed(cluster, pool));
    }

    fn pool_deleted(&self, cluster: &Database, name: &str) {
        self.0
            .iter()
            .for_each(|plane| plane.pool_deleted(cluster, name));
    }

    fn pool_port(&self, cluster: &Database) -> Option<u16> {
        self.0.iter().find_map(|plane| plane.pool_port(cluster))
    }
}
