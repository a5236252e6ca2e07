//! PostgreSQL's frontend/backend protocol v3 in front of a `dosim-pg` engine, over any async byte stream.
//!
//! One [`PgCluster`] is one managed database cluster's data plane: an engine shared by its connections, the users that may log in, and the wake-ups of statements waiting for locks.
//! [`serve_connection`] speaks the protocol on one stream (tokio's TCP in `dosim serve`, turmoil's TCP in a simulation); [`serve_listener`] accepts connections from a tokio listener.
//! Simple and extended query both map to [`dosim_pg::Engine::execute`]; a statement the engine reports as blocked awaits a wake-up, so waits are visible to the scheduler and never spin.
//! Each statement is admitted through the cluster's [`Gate`] just before the engine runs it, and an [`Observer`] set on the cluster hears of every session and statement (see [`observe`]).
//! `docs/postgres.md`, "Wire protocol", says what is supported and where it differs from PostgreSQL.

mod auth;
mod codec;
mod conn;
mod describe;
mod emit;
pub mod observe;
mod pool;
mod scram;
mod types;

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use dosim_base::gate::Gate;
use dosim_base::served::Served;
use dosim_pg::{Engine, Outcome, SessionId, SimTime};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;

pub use conn::reported_parameters;
pub use observe::{
    Observer, SessionInfo, StatementOutcome, StatementRecord, StatementResult, StatementStart,
    TransactionStatus,
};
pub use pool::{PoolConfig, PoolMode, POOL_QUEUE_MAX, QUERY_WAIT_TIMEOUT};
pub use scram::ScramServer;
/// PostgreSQL's default `scram_iterations`, which [`WireConfig`] uses unless told otherwise.
pub use scram::ITERATIONS as SCRAM_ITERATIONS;
pub use scram::SIMULATED_ITERATIONS as SIMULATED_SCRAM_ITERATIONS;

/// The peer of a connection served without a label, as the gate names an actor it cannot tell.
pub const UNKNOWN_PEER: &str = "unknown";

/// Rounds of resuming woken sessions after one engine call; each round needs a transaction to end, so real runs stop after a few.
const RESUME_ROUNDS_MAX: usize = 10_000;

/// How a client proves its password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordAuth {
    /// SCRAM-SHA-256, as DigitalOcean's clusters ask for it; psql and tokio-postgres both speak it.
    ScramSha256,
    /// The password in clear text over the connection, for clients that know nothing else.
    Cleartext,
}

/// Limits, authentication and the values a server reports at startup.
#[derive(Clone, Debug)]
pub struct WireConfig {
    /// The largest message a client may send; PostgreSQL allows 1 GiB, more than a simulation needs.
    pub message_bytes_max: usize,
    /// Prepared statements and portals one connection may hold at once.
    pub prepared_max: usize,
    /// `server_version` in the startup `ParameterStatus`; DigitalOcean's default major version is 16.
    pub server_version: String,
    pub password_auth: PasswordAuth,
    /// Answer `SSLRequest` with TLS, using a bundled self-signed certificate for `localhost`, so `sslmode=require` URIs work; otherwise answer `N`.
    ///
    /// Off by default: a TLS handshake draws randomness outside the seed, so simulations leave it off and `dosim serve` turns it on.
    pub tls: bool,
    /// With `tls`, refuse connections that did not encrypt (`sslmode=disable`) as DigitalOcean's
    /// `pg_hba.conf` does: `28000 no pg_hba.conf entry for host "…", user "…", database "…", no encryption`.
    pub tls_required: bool,
    /// PostgreSQL's `authentication_timeout`: a connection that has not completed startup and
    /// authentication by then is closed without a reply, as PostgreSQL's backend exits. `None`, the
    /// default, never times out, so simulations schedule no timer for it; `dosim serve` sets 60 s,
    /// PostgreSQL's default.
    pub authentication_timeout: Option<std::time::Duration>,
    /// The host name clients reach the cluster by, which the gate's operations name as their server.
    pub host: String,
    /// PBKDF2 iterations of SCRAM-SHA-256 (`i=` in the server's first message, at least 1):
    /// PostgreSQL's default, [`SCRAM_ITERATIONS`], unless set. Both ends pay them on every
    /// connection, so simulations, where no real client connects, set 1 (see
    /// `docs/performance.md`); nothing a run records depends on it.
    pub scram_iterations: u32,
}

impl Default for WireConfig {
    fn default() -> WireConfig {
        WireConfig {
            message_bytes_max: 16 << 20,
            prepared_max: 1000,
            server_version: "16.4".to_string(),
            password_auth: PasswordAuth::ScramSha256,
            tls: false,
            tls_required: false,
            authentication_timeout: None,
            host: "localhost".to_string(),
            scram_iterations: SCRAM_ITERATIONS,
        }
    }
}

/// One cluster's data plane: its engine, users and waiting connections. Cloning shares it.
#[derive(Clone)]
pub struct PgCluster {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Mutex<Engine>>,
    users: Mutex<BTreeMap<String, String>>,
    /// Each connected session's wake-up, notified when the engine lists it as runnable.
    waiters: Mutex<BTreeMap<SessionId, Arc<Notify>>>,
    /// Outcomes of waiting statements that the cluster resumed for their sessions, in order, until each session's task takes them.
    resumed: Mutex<BTreeMap<SessionId, VecDeque<Outcome>>>,
    /// Counts SCRAM exchanges, whose server nonces derive from it so that runs repeat.
    scram_exchanges: Mutex<u64>,
    /// The clock (tokio's, which is turmoil's inside a simulation), the connections' numbering,
    /// what each statement is admitted through before the engine runs it, and who hears of each
    /// session and statement.
    wire: Served<dyn Observer>,
    /// PgBouncer's pools by name, served by [`serve_pool_connection_from`].
    pools: Mutex<BTreeMap<String, pool::Pool>>,
    config: WireConfig,
}

impl PgCluster {
    /// A cluster around an engine, with no users yet.
    pub fn new(engine: Engine, config: WireConfig) -> PgCluster {
        PgCluster::with_engine(Arc::new(Mutex::new(engine)), config)
    }

    /// A cluster around an engine that others share too (`dosim-cloud` adds databases through it).
    ///
    /// Make one `PgCluster` per engine and clone it to serve several ports (25060, and 25061 for pools): a second cluster on the same engine would take the first one's wake-ups.
    /// Only this cluster may call [`Engine::take_runnable`], [`Engine::resume`] and [`Engine::disconnect`] for the sessions it opened; it wakes its connections from `take_runnable`.
    pub fn with_engine(engine: Arc<Mutex<Engine>>, config: WireConfig) -> PgCluster {
        PgCluster {
            inner: Arc::new(Inner {
                engine,
                users: Mutex::new(BTreeMap::new()),
                waiters: Mutex::new(BTreeMap::new()),
                resumed: Mutex::new(BTreeMap::new()),
                scram_exchanges: Mutex::new(0),
                wire: Served::default(),
                pools: Mutex::new(BTreeMap::new()),
                config,
            }),
        }
    }

    /// Fixes the tokio instant that is `SimTime::ZERO`, so the engine's clock matches the caller's; otherwise it is the first connection's time.
    pub fn set_time_base(&self, base: tokio::time::Instant) {
        self.inner.wire.set_time_base(base);
    }

    /// Admits every statement through `gate` from now on, just before the engine runs it; the default gate admits at once.
    ///
    /// The permit is held only while the engine runs the statement: a statement that must wait for a lock lets it go, and is not admitted again when it resumes.
    pub fn set_gate(&self, gate: Arc<dyn Gate>) {
        self.inner.wire.set_gate(gate);
    }

    /// Tells `observer` of every session that starts from now on, and of its statements.
    pub fn set_observer(&self, observer: Arc<dyn Observer>) {
        self.inner.wire.set_observer(observer);
    }

    /// The shared engine.
    pub fn engine(&self) -> &Arc<Mutex<Engine>> {
        &self.inner.engine
    }

    /// Adds a user or changes its password, as creating a database user or resetting its password does.
    pub fn set_user(&self, name: &str, password: &str) {
        self.inner
            .users
            .lock()
            .insert(name.to_string(), password.to_string());
    }

    /// Removes a user; its open connections stay, as PostgreSQL's do until they close.
    pub fn remove_user(&self, name: &str) {
        self.inner.users.lock().remove(name);
    }

    pub(crate) fn config(&self) -> &WireConfig {
        &self.inner.config
    }

    pub(crate) fn password(&self, user: &str) -> Option<String> {
        self.inner.users.lock().get(user).cloned()
    }

    pub(crate) fn next_nonce(&self) -> u64 {
        let mut n = self.inner.scram_exchanges.lock();
        *n += 1;
        *n
    }

    pub(crate) fn gate(&self) -> Arc<dyn Gate> {
        self.inner.wire.gate()
    }

    pub(crate) fn observer(&self) -> Option<Arc<dyn Observer>> {
        self.inner.wire.observer()
    }

    /// The next connection's number.
    fn next_connection(&self) -> u64 {
        self.inner.wire.next_connection()
    }

    /// The simulated time now, in whole milliseconds since the base.
    pub(crate) fn now(&self) -> SimTime {
        self.inner.wire.now()
    }

    /// The tokio instant of a simulated time, to sleep until an engine deadline.
    pub(crate) fn instant_of(&self, t: SimTime) -> tokio::time::Instant {
        self.inner.wire.instant_of(t)
    }

    /// Runs `f` on the engine, then resumes every session the engine made runnable, first waiter first, and wakes their tasks.
    ///
    /// Resuming here, before the lock on the engine is let go, gives a woken waiter the lock it waited for before any newcomer can take it, as PostgreSQL's lock queues do.
    pub(crate) fn with_engine_mut<R>(&self, f: impl FnOnce(&mut Engine, SimTime) -> R) -> R {
        let now = self.now();
        let (result, resumed) = {
            let mut engine = self.inner.engine.lock();
            let result = f(&mut engine, now);
            let mut resumed = vec![];
            // A resumed statement can end a transaction and so wake others; each round resumes sessions whose wait ended, so it stops once no wait ends.
            for _ in 0..RESUME_ROUNDS_MAX {
                let runnable = engine.take_runnable();
                if runnable.is_empty() {
                    break;
                }
                for s in runnable {
                    let outcome = engine.resume(s, now);
                    resumed.push((s, outcome));
                }
            }
            (result, resumed)
        };
        if !resumed.is_empty() {
            let waiters = self.inner.waiters.lock();
            let mut queues = self.inner.resumed.lock();
            for (s, outcome) in resumed {
                if let Some(n) = waiters.get(&s) {
                    queues.entry(s).or_default().push_back(outcome);
                    n.notify_one();
                }
            }
        }
        result
    }

    pub(crate) fn register(&self, session: SessionId) -> Arc<Notify> {
        self.inner
            .waiters
            .lock()
            .entry(session)
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    /// The next outcome the cluster resumed for this session, if any.
    pub(crate) fn take_resumed(&self, session: SessionId) -> Option<Outcome> {
        let mut queues = self.inner.resumed.lock();
        let queue = queues.get_mut(&session)?;
        let outcome = queue.pop_front();
        if queue.is_empty() {
            queues.remove(&session);
        }
        outcome
    }

    /// Closes a session: the engine rolls it back and releases its locks, and its waiters wake.
    pub(crate) fn disconnect(&self, session: SessionId) {
        self.inner.waiters.lock().remove(&session);
        self.inner.resumed.lock().remove(&session);
        self.with_engine_mut(|e, _| e.disconnect(session));
    }
}

/// Serves one client connection until it closes; the engine's session is closed (rolled back, locks released) however the connection ends.
///
/// The connection's peer is [`UNKNOWN_PEER`]; [`serve_connection_from`] names it.
pub fn serve_connection<S>(
    cluster: PgCluster,
    stream: S,
) -> impl Future<Output = std::io::Result<()>> + Send
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    serve_connection_from(cluster, stream, UNKNOWN_PEER.to_string())
}

/// [`serve_connection`] for a connection from `peer`, a label the gate's operations and the observer's sessions carry (a host name, an address).
///
/// The connection takes its number ([`SessionInfo::connection`]) when this is called, not when the future first runs, so connections are numbered in the order they are handed over.
pub fn serve_connection_from<S>(
    cluster: PgCluster,
    stream: S,
    peer: String,
) -> impl Future<Output = std::io::Result<()>> + Send
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let connection = cluster.next_connection();
    conn::serve(cluster, stream, connection, peer, false)
}

/// [`serve_connection_from`] for a client of a connection pool, as PgBouncer serves port 25061: the startup packet's database names the pool ([`PgCluster::set_pool`]), and the client borrows a server connection from it as the pool's mode says.
///
/// Client connections share the cluster's numbering with direct ones, and each statement is admitted through the gate and told to the observer with the client connection's number.
pub fn serve_pool_connection_from<S>(
    cluster: PgCluster,
    stream: S,
    peer: String,
) -> impl Future<Output = std::io::Result<()>> + Send
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let connection = cluster.next_connection();
    conn::serve(cluster, stream, connection, peer, true)
}

/// Accepts connections on a tokio listener forever, serving each on its own task, with the client's address as its peer.
///
/// A failed accept (a connection reset before it was taken, too many open files) skips that connection and goes on after a millisecond, as PostgreSQL's postmaster does.
pub async fn serve_listener(listener: tokio::net::TcpListener, cluster: PgCluster) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let serving = serve_connection_from(cluster.clone(), stream, peer.to_string());
        tokio::spawn(async move {
            let _ = serving.await;
        });
    }
}

#[cfg(test)]
mod tests;
