//! What `dosim serve`'s data planes share: the clusters a plane serves, by port and capped, and
//! the list of planes the API tells of every change (a cluster is served by the first plane that
//! takes its engine).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use dosim_api::DataPlane;
use dosim_cloud::{ConnectionPool, Database, DatabaseUser};
use parking_lot::Mutex;

/// One served cluster: what its plane keeps of it, and the task serving its connections.
struct Served<T> {
    cluster: T,
    /// Aborting it drops the listeners and every open connection.
    task: tokio::task::AbortHandle,
}

/// The clusters one plane serves, by the port their `endpoint` names.
pub(crate) struct Registry<T> {
    /// The engine slug the plane serves (`pg`, `valkey`).
    engine: &'static str,
    /// What the plane serves, for messages (`PostgreSQL`).
    serves: &'static str,
    /// The address listeners bind to.
    pub(crate) bind_ip: IpAddr,
    /// The host the connection objects show.
    pub(crate) host: String,
    max: usize,
    clusters: Mutex<BTreeMap<u16, Served<T>>>,
}

impl<T: Clone> Registry<T> {
    pub(crate) fn new(
        engine: &'static str,
        serves: &'static str,
        bind_ip: IpAddr,
        host: String,
        max: usize,
    ) -> Registry<T> {
        Registry {
            engine,
            serves,
            bind_ip,
            host,
            max,
            clusters: Mutex::new(BTreeMap::new()),
        }
    }

    /// Serves `database` with `start` (its port, what to keep, its task) if it is this plane's
    /// engine and the cap allows; where it now listens, or `None` (another engine, the cap
    /// reached, or `start` failed, which is said on standard error).
    pub(crate) fn created(
        &self,
        database: &Database,
        start: impl FnOnce() -> std::io::Result<(u16, T, tokio::task::AbortHandle)>,
    ) -> Option<(String, u16)> {
        if database.engine != self.engine || self.clusters.lock().len() >= self.max {
            return None;
        }
        match start() {
            Ok((port, cluster, task)) => {
                self.clusters.lock().insert(port, Served { cluster, task });
                Some((self.host.clone(), port))
            }
            Err(error) => {
                eprintln!(
                    "database cluster {}: cannot serve {} on {}: {error}",
                    database.name, self.serves, self.bind_ip
                );
                None
            }
        }
    }

    /// Stops serving `database`, closing its connections.
    pub(crate) fn deleted(&self, database: &Database) {
        let Some((_, port)) = &database.endpoint else {
            return;
        };
        if let Some(served) = self.clusters.lock().remove(port) {
            served.task.abort();
        }
    }

    /// What is kept of `database`, if this plane serves it.
    pub(crate) fn get(&self, database: &Database) -> Option<T> {
        let (_, port) = database.endpoint.as_ref()?;
        self.clusters
            .lock()
            .get(port)
            .map(|served| served.cluster.clone())
    }

    /// Stops serving every cluster.
    pub(crate) fn reset(&self) {
        for (_, served) in std::mem::take(&mut *self.clusters.lock()) {
            served.task.abort();
        }
    }
}

/// A served engine's seed (for `gen_random_uuid()`, random evictions) from the server's seed and
/// the cluster's id, so a serve run repeats.
pub(crate) fn engine_seed(seed: u64, database: &Database) -> u64 {
    let mut hash = dosim_base::Fnv1a::default();
    hash.write(&seed.to_le_bytes());
    hash.write(database.id.to_string().as_bytes());
    hash.finish()
}

/// Every data plane `dosim serve` runs, each told of every change; a cluster is served by the first that takes its engine.
pub struct DataPlanes(pub Vec<Arc<dyn DataPlane>>);

impl DataPlanes {
    fn each(&self, f: impl Fn(&dyn DataPlane)) {
        self.0.iter().for_each(|plane| f(plane.as_ref()));
    }
}

impl DataPlane for DataPlanes {
    fn cluster_created(&self, cluster: &Database) -> Option<(String, u16)> {
        self.0
            .iter()
            .find_map(|plane| plane.cluster_created(cluster))
    }

    fn cluster_deleted(&self, cluster: &Database) {
        self.each(|plane| plane.cluster_deleted(cluster));
    }

    fn user_changed(&self, cluster: &Database, user: &DatabaseUser) {
        self.each(|plane| plane.user_changed(cluster, user));
    }

    fn user_deleted(&self, cluster: &Database, name: &str) {
        self.each(|plane| plane.user_deleted(cluster, name));
    }

    fn db_created(&self, cluster: &Database, name: &str) {
        self.each(|plane| plane.db_created(cluster, name));
    }

    fn db_deleted(&self, cluster: &Database, name: &str) {
        self.each(|plane| plane.db_deleted(cluster, name));
    }

    fn reset(&self) {
        self.each(|plane| plane.reset());
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
        self.each(|plane| plane.eviction_policy_changed(cluster));
    }

    fn pool_changed(&self, cluster: &Database, pool: &ConnectionPool) {
        self.each(|plane| plane.pool_changed(cluster, pool));
    }

    fn pool_deleted(&self, cluster: &Database, name: &str) {
        self.each(|plane| plane.pool_deleted(cluster, name));
    }

    fn pool_port(&self, cluster: &Database) -> Option<u16> {
        self.0.iter().find_map(|plane| plane.pool_port(cluster))
    }
}
