//! One Valkey cluster's part in a run: created in the account with its engine before the actors start, served on its own host with the gate and the observer, and read after the run ends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dosim_base::gate::Gate;
use dosim_valkey::{Engine, EngineConfig, EvictionPolicy, SimTime};
use dosim_valkeywire::{ValkeyCluster, WireConfig};
use parking_lot::Mutex;

use super::log::{CommandLog, Recording};
use super::{ValkeyInfo, CLUSTERS_MAX};
use crate::history::Recorder;
use crate::outcome::RunOutcome;
use crate::pg::DatabaseSpec;

/// One Valkey cluster of a run: its connection details and its engine, shared with the host serving it.
#[derive(Clone)]
pub struct RunValkey {
    info: ValkeyInfo,
    engine: Arc<Mutex<Engine>>,
    /// When the run ended, for reading keys with their expiry after it.
    end_ms: Arc<AtomicU64>,
    log: Arc<Mutex<CommandLog>>,
}

impl std::fmt::Debug for RunValkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunValkey")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl RunValkey {
    /// The cluster's connection details.
    pub fn info(&self) -> &ValkeyInfo {
        &self.info
    }

    fn end(&self) -> SimTime {
        SimTime::from_ms(self.end_ms.load(Ordering::SeqCst))
    }

    /// A string key's value in database 0 when the run ended; `None` if absent, expired or not a string.
    pub fn get(&self, key: &str) -> Option<String> {
        self.engine
            .lock()
            .peek_string(0, key.as_bytes(), self.end())
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    /// A key's time to live in database 0 when the run ended: `None` if absent or expired, `Some(None)` if it never expires.
    pub fn ttl(&self, key: &str) -> Option<Option<std::time::Duration>> {
        self.engine
            .lock()
            .peek_ttl(0, key.as_bytes(), self.end())
            .map(|ttl| ttl.map(std::time::Duration::from_millis))
    }

    /// The live keys of database 0 when the run ended, in key order, with their types.
    pub fn keys(&self) -> Vec<(String, &'static str)> {
        self.engine
            .lock()
            .peek_keys(0, self.end())
            .into_iter()
            .map(|(k, t)| (String::from_utf8_lossy(&k).into_owned(), t))
            .collect()
    }

    /// Every command actors ran on the cluster, and the keys that expired.
    pub fn commands(&self) -> CommandLog {
        self.log.lock().clone()
    }
}

impl RunOutcome {
    /// The run's Valkey cluster called `name`, to read its final keyspace and command log.
    pub fn valkey(&self, name: &str) -> Option<&RunValkey> {
        self.valkey_clusters.iter().find(|c| c.info.name == name)
    }
}

/// Creates the scenario's Valkey clusters in the account, and their engines.
pub(crate) fn create(
    server: &dosim_api::Server,
    token: &str,
    specs: &[&DatabaseSpec],
    seed: u64,
) -> Result<Vec<RunValkey>, String> {
    if specs.len() > CLUSTERS_MAX {
        return Err(format!(
            "{} Valkey clusters is more than the {CLUSTERS_MAX} a scenario may have",
            specs.len()
        ));
    }
    let mut clusters = Vec::new();
    for spec in specs {
        if !spec.setup_sql.is_empty() {
            return Err(format!(
                "Valkey cluster {}: setup SQL is for PostgreSQL clusters",
                spec.name
            ));
        }
        let request = spec.create_request();
        let cluster = server
            .with_account(token, |cloud| cloud.create_database(SimTime::ZERO, request))
            .map_err(|error| format!("Valkey cluster {}: {error}", spec.name))?;
        let connection = cluster.connection();
        let memory_mb = dosim_cloud::catalog::database_size(&cluster.size)
            .map_or(1024, |s| u64::from(s.memory));
        let policy = cluster
            .eviction_policy
            .as_deref()
            .and_then(EvictionPolicy::from_api_name)
            .unwrap_or_default();
        let engine = Engine::new(EngineConfig {
            seed: crate::seed::hash_text(&format!("valkey {seed} {}", spec.name)),
            maxmemory_bytes: memory_mb * (1 << 20) * 3 / 4,
            eviction_policy: policy,
            ..EngineConfig::default()
        });
        clusters.push(RunValkey {
            info: ValkeyInfo {
                name: spec.name.clone(),
                host: connection.host.clone(),
                port: connection.port,
                user: connection.user.clone(),
                password: connection.password.clone(),
                uri: connection.uri.clone(),
            },
            engine: Arc::new(Mutex::new(engine)),
            end_ms: Arc::default(),
            log: Arc::default(),
        });
    }
    Ok(clusters)
}

/// Adds the host that serves one cluster: every command is admitted through `gate`, and the history and the cluster's log hear of it.
pub(crate) fn host(
    sim: &mut turmoil::Sim<'_>,
    cluster: &RunValkey,
    recorder: Recorder,
    gate: Arc<dyn Gate>,
) {
    let served = ValkeyCluster::with_engine(
        cluster.engine.clone(),
        WireConfig {
            host: cluster.info.host.clone(),
            ..WireConfig::default()
        },
    );
    served.set_password(&cluster.info.password);
    served.set_gate(gate);
    served.set_observer(Arc::new(Recording::new(recorder, cluster.log.clone())));
    let port = cluster.info.port;
    sim.host(cluster.info.host.clone(), move || {
        let served = served.clone();
        async move {
            let listener = crate::net::bind(port).await?;
            served.set_time_base(crate::net::run_start());
            loop {
                let (stream, peer) = listener.accept().await?;
                let actor = crate::net::peer_name(peer);
                let serving =
                    dosim_valkeywire::serve_connection_from(served.clone(), stream, actor);
                tokio::spawn(async move {
                    let _ = serving.await;
                });
            }
        }
    });
}

/// Marks the end of the run, for reading keys after it.
pub(crate) fn finish(clusters: &[RunValkey], end_ms: u64) {
    for cluster in clusters {
        cluster.end_ms.store(end_ms, Ordering::SeqCst);
    }
}
