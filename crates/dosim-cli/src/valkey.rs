//! `dosim serve`'s Valkey data plane: each Managed Caching (Valkey) cluster created through the API is a `dosim-valkeywire` server on a real local port, in TLS, so its `connection.uri` works verbatim with `redis-cli --tls` and redis-py.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dosim_api::DataPlane;
use dosim_cloud::{Database, DatabaseUser};
use dosim_valkey::{Engine, EngineConfig, EvictionPolicy};
use dosim_valkeywire::{ValkeyCluster, WireConfig};

use crate::planes::{engine_seed, Registry};

/// The default cap on Valkey clusters served at once, across every account.
pub const VALKEY_CLUSTERS_MAX: usize = 100;

/// Serves Valkey clusters on local ports, following the API's changes to their eviction policy.
pub struct ValkeyDataPlane {
    seed: u64,
    time_base: tokio::time::Instant,
    runtime: tokio::runtime::Handle,
    clusters: Registry<ValkeyCluster>,
    /// Commands that may have changed a keyspace, across every cluster, so `--state` saves after them.
    writes: Arc<AtomicU64>,
}

/// Counts the commands that may change a keyspace and did not fail.
struct WriteCounter(Arc<AtomicU64>);

impl dosim_valkeywire::observe::Observer for WriteCounter {
    fn command_finished(
        &self,
        _session: &dosim_valkeywire::observe::SessionInfo,
        command: &dosim_valkeywire::observe::CommandRecord,
    ) {
        let Some(name) = command.args.first() else {
            return;
        };
        if dosim_valkey::may_write(name) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn keys_expired(&self, _keys: &[dosim_valkey::ExpiredKey]) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl ValkeyDataPlane {
    /// A data plane binding `bind_ip` and showing `host`; call it inside the runtime that serves the API.
    pub fn new(bind_ip: IpAddr, host: String, seed: u64, clusters_max: usize) -> ValkeyDataPlane {
        ValkeyDataPlane {
            seed,
            time_base: tokio::time::Instant::now(),
            runtime: tokio::runtime::Handle::current(),
            clusters: Registry::new("valkey", "Valkey", bind_ip, host, clusters_max),
            writes: Arc::default(),
        }
    }

    /// Counts the commands that may change data on `writes`, which the `--state` saver watches.
    pub fn count_writes(mut self, writes: Arc<AtomicU64>) -> ValkeyDataPlane {
        self.writes = writes;
        self
    }

    fn start(
        &self,
        database: &Database,
    ) -> std::io::Result<(u16, ValkeyCluster, tokio::task::AbortHandle)> {
        let listener = std::net::TcpListener::bind((self.clusters.bind_ip, 0))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let _runtime = self.runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let memory_mb = dosim_cloud::catalog::database_size(&database.size)
            .map_or(1024, |s| u64::from(s.memory));
        let engine = Engine::new(EngineConfig {
            seed: engine_seed(self.seed, database),
            maxmemory_bytes: memory_mb * (1 << 20) * 3 / 4,
            eviction_policy: policy(database),
            ..EngineConfig::default()
        });
        let cluster = ValkeyCluster::new(
            engine,
            WireConfig {
                tls: true,
                host: self.clusters.host.clone(),
                ..WireConfig::default()
            },
        );
        cluster.set_time_base(self.time_base);
        cluster.set_password(&database.primary_user().password);
        cluster.set_observer(Arc::new(WriteCounter(self.writes.clone())));
        let task = self
            .runtime
            .spawn(dosim_valkeywire::serve_listener(listener, cluster.clone()));
        Ok((port, cluster, task.abort_handle()))
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
        self.clusters.created(database, || self.start(database))
    }

    fn cluster_deleted(&self, database: &Database) {
        self.clusters.deleted(database);
    }

    /// Valkey clusters have one user, `default`, whose password the API cannot change here.
    fn user_changed(&self, _database: &Database, _user: &DatabaseUser) {}

    fn user_deleted(&self, _database: &Database, _name: &str) {}

    fn db_created(&self, _database: &Database, _name: &str) {}

    fn db_deleted(&self, _database: &Database, _name: &str) {}

    fn reset(&self) {
        self.clusters.reset();
    }

    fn save_data(&self, database: &Database) -> Option<serde_json::Value> {
        let cluster = self.clusters.get(database)?;
        let dump = cluster.engine().lock().dump(cluster.now());
        serde_json::to_value(dump).ok()
    }

    fn load_data(&self, database: &Database, data: &serde_json::Value) -> Result<(), String> {
        let Some(cluster) = self.clusters.get(database) else {
            return Ok(());
        };
        let dump: dosim_valkey::EngineDump = serde_json::from_value(data.clone())
            .map_err(|e| format!("cluster {}: not a Valkey dump: {e}", database.name))?;
        let now = cluster.now();
        let restored = cluster.engine().lock().restore(&dump, now);
        restored.map_err(|e| format!("cluster {}: {e}", database.name))
    }

    fn eviction_policy_changed(&self, database: &Database) {
        if let Some(cluster) = self.clusters.get(database) {
            cluster
                .engine()
                .lock()
                .set_eviction_policy(policy(database));
        }
    }
}
