//! The API's changes to a scenario's clusters, followed by their data planes: users created through the API log in, databases created through it can be connected to, and pools are served on port 25061.

use std::collections::BTreeMap;

use dosim_api::DataPlane;
use dosim_cloud::{ConnectionPool, Database, DatabaseUser};
use dosim_pgwire::{PgCluster, PoolConfig, PoolMode};

use super::RunDatabase;

/// The scenario's served clusters by id; a cluster an actor creates through the API has no data plane.
pub(crate) struct Plane {
    clusters: BTreeMap<String, PgCluster>,
}

impl Plane {
    pub(crate) fn new(databases: &[RunDatabase]) -> Plane {
        Plane {
            clusters: databases
                .iter()
                .map(|database| (database.id.clone(), database.cluster.clone()))
                .collect(),
        }
    }

    fn cluster(&self, database: &Database) -> Option<&PgCluster> {
        self.clusters.get(&database.id.to_string())
    }
}

/// The wire's pool settings for a pool of the model; an unknown mode (the API refuses one) serves as transaction mode.
pub fn pool_settings(pool: &ConnectionPool) -> PoolConfig {
    PoolConfig {
        mode: PoolMode::from_name(&pool.mode).unwrap_or(PoolMode::Transaction),
        size: pool.size as usize,
        db: pool.db.clone(),
    }
}

impl DataPlane for Plane {
    fn cluster_created(&self, _cluster: &Database) -> Option<(String, u16)> {
        None
    }

    fn cluster_deleted(&self, _cluster: &Database) {}

    fn user_changed(&self, database: &Database, user: &DatabaseUser) {
        if let Some(cluster) = self.cluster(database) {
            cluster.set_user(&user.name, &user.password);
        }
    }

    fn user_deleted(&self, database: &Database, name: &str) {
        if let Some(cluster) = self.cluster(database) {
            cluster.remove_user(name);
        }
    }

    fn db_created(&self, database: &Database, name: &str) {
        if let Some(cluster) = self.cluster(database) {
            let mut engine = cluster.engine().lock();
            if !engine.database_names().iter().any(|db| db == name) {
                engine.create_database(name);
            }
        }
    }

    /// The engine cannot drop a database, so its data stays reachable, as in `dosim serve`.
    fn db_deleted(&self, _database: &Database, _name: &str) {}

    fn reset(&self) {}

    fn pool_changed(&self, database: &Database, pool: &ConnectionPool) {
        if let Some(cluster) = self.cluster(database) {
            cluster.set_pool(&pool.name, pool_settings(pool));
        }
    }

    fn pool_deleted(&self, database: &Database, name: &str) {
        if let Some(cluster) = self.cluster(database) {
            cluster.remove_pool(name);
        }
    }
}
