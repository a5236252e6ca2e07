//! One cluster's part in a run: created in the account with its engine before the actors start, served on its own host with the gate and the observer, and queried after the run ends.

use std::sync::Arc;

use dosim_base::gate::Gate;
use dosim_pg::{Engine, EngineConfig, Outcome, SimTime};
use dosim_pgwire::{PgCluster, WireConfig};
use parking_lot::Mutex;

use super::log::{Recording, StatementLog};
use super::{
    render_rows, text_rows, ConnectionInfo, DatabaseSpec, Rows, DATABASES_MAX, POOL_PORT,
    SETUP_SQL_BYTES_MAX,
};
use crate::history::Recorder;
use crate::outcome::RunOutcome;

/// One cluster of a run: its connection details and its engine, shared with the host serving it.
#[derive(Clone)]
pub struct RunDatabase {
    info: ConnectionInfo,
    /// The cluster's id in the account, which the API's changes name.
    pub(crate) id: String,
    engine: Arc<Mutex<Engine>>,
    /// The data plane, made once per run so that its connections are numbered once; `host` serves it.
    pub(crate) cluster: PgCluster,
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
                .map(|result| text_rows(&result.rows))
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

impl RunOutcome {
    /// The run's database cluster called `name`, to query its final data.
    pub fn database(&self, name: &str) -> Option<&RunDatabase> {
        self.databases
            .iter()
            .find(|database| database.info.name == name)
    }
}

impl DatabaseSpec {
    /// The request that creates the cluster in the account: one node of the spec's size, in its
    /// region, on its engine's default version.
    pub(crate) fn create_request(&self) -> dosim_cloud::DatabaseCreate {
        dosim_cloud::DatabaseCreate {
            name: self.name.clone(),
            engine: self.engine.clone(),
            version: None,
            num_nodes: 1,
            size: self.size.clone(),
            region: self.region.clone(),
            ..Default::default()
        }
    }
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
        let request = spec.create_request();
        let cluster = server
            .with_account(token, |cloud| {
                let cluster = cloud.create_database(SimTime::ZERO, request)?;
                for user in &spec.users {
                    cloud.create_database_user(SimTime::ZERO, cluster.id, user)?;
                }
                for db in &spec.dbs {
                    cloud.create_database_db(SimTime::ZERO, cluster.id, db)?;
                }
                for pool in &spec.pools {
                    cloud.create_database_pool(SimTime::ZERO, cluster.id, pool.clone())?;
                }
                cloud.database(SimTime::ZERO, cluster.id)
            })
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
        let engine = Arc::new(Mutex::new(engine));
        let served = PgCluster::with_engine(
            engine.clone(),
            WireConfig {
                host: connection.host.clone(),
                scram_iterations: dosim_pgwire::SIMULATED_SCRAM_ITERATIONS,
                ..WireConfig::default()
            },
        );
        for user in &cluster.users {
            served.set_user(&user.name, &user.password);
        }
        for pool in &cluster.pools {
            served.set_pool(&pool.name, super::plane::pool_settings(pool));
        }
        databases.push(RunDatabase {
            id: cluster.id.to_string(),
            cluster: served,
            info: ConnectionInfo {
                name: spec.name.clone(),
                host: connection.host.clone(),
                port: connection.port,
                user: connection.user.clone(),
                password: connection.password.clone(),
                database: connection.database.clone(),
            },
            engine,
            end_ms: Arc::default(),
            log: Arc::default(),
            setup_sql: spec.setup_sql.clone(),
        });
    }
    Ok(databases)
}

/// Adds the host that serves one cluster's data plane: every statement is admitted through `gate`, and the history and the cluster's statement log hear of it.
///
/// The cluster is made once, outside the host, so that its connections are numbered once per run.
/// The host serves the cluster on its port (25060) and its connection pools on [`POOL_PORT`], whose clients' statements go through the same gate and observer.
pub(crate) fn host(
    sim: &mut turmoil::Sim<'_>,
    database: &RunDatabase,
    recorder: Recorder,
    gate: Arc<dyn Gate>,
) {
    let cluster = database.cluster.clone();
    cluster.set_gate(gate);
    cluster.set_observer(Arc::new(Recording::new(recorder, database.log.clone())));
    let port = database.info.port;
    sim.host(database.info.host.clone(), move || {
        let cluster = cluster.clone();
        async move {
            let listener = crate::net::bind(port).await?;
            cluster.set_time_base(crate::net::run_start());
            let pools = crate::net::bind(POOL_PORT).await?;
            loop {
                let (stream, peer, pooled) = tokio::select! {
                    // In a fixed order: tokio's default draws from a thread RNG outside the seed.
                    biased;
                    accepted = listener.accept() => {
                        let (stream, peer) = accepted?;
                        (stream, peer, false)
                    }
                    accepted = pools.accept() => {
                        let (stream, peer) = accepted?;
                        (stream, peer, true)
                    }
                };
                let actor = crate::net::peer_name(peer);
                let serving = if pooled {
                    futures_either(dosim_pgwire::serve_pool_connection_from(
                        cluster.clone(),
                        stream,
                        actor,
                    ))
                } else {
                    futures_either(dosim_pgwire::serve_connection_from(
                        cluster.clone(),
                        stream,
                        actor,
                    ))
                };
                tokio::spawn(serving);
            }
        }
    });
}

/// Boxes a connection's future, so that direct and pool connections spawn alike.
fn futures_either(
    serving: impl std::future::Future<Output = std::io::Result<()>> + Send + 'static,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let _ = serving.await;
    })
}

/// Marks the end of the run, for the engine's clock in queries after it.
pub(crate) fn finish(databases: &[RunDatabase], end_ms: u64) {
    for database in databases {
        database
            .end_ms
            .store(end_ms, std::sync::atomic::Ordering::SeqCst);
    }
}
