//! Valkey's RESP2 and RESP3 protocol in front of a `dosim-valkey` engine, over any async byte stream.
//!
//! One [`ValkeyCluster`] is one Managed Caching cluster's data plane: an engine shared by its connections, the `default` user's password, and the wake-ups of clients blocked in a pop.
//! [`serve_connection`] speaks the protocol on one stream (tokio's TCP, in TLS, in `dosim serve`; turmoil's TCP in a simulation); [`serve_listener`] accepts connections from a tokio listener.
//! Requests are framed by the `redis-protocol` crate (arrays of bulk strings, as every client sends them) or read as inline commands; replies are written in the protocol version the client chose with `HELLO`.
//! Each command is admitted through the cluster's [`Gate`] just before the engine runs it, and an [`Observer`] set on the cluster hears of every connection and command (see [`observe`]).
//! `docs/valkey.md`, "Wire protocol", says what is supported and where it differs from Valkey.

mod conn;
pub mod observe;
mod resp;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use dosim_base::gate::Gate;
use dosim_base::served::Served;
use dosim_valkey::{ClientId, Engine, Reply, SimTime};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;

pub use observe::{CommandOutcome, CommandRecord, CommandStart, Observer, SessionInfo};

/// The peer of a connection served without a label.
pub const UNKNOWN_PEER: &str = "unknown";

/// The one user of a DigitalOcean Valkey cluster.
pub const DEFAULT_USER: &str = "default";

/// Limits and what the server reports.
#[derive(Clone, Debug)]
pub struct WireConfig {
    /// The largest request (one command with its arguments) a client may send; Valkey's `proto-max-bulk-len` is 512 MB per argument, more than a simulation needs.
    pub request_bytes_max: usize,
    /// `valkey_timeout`: a connection idle this long, not blocked in a pop, is closed; 0 never closes. DigitalOcean's default is 300 s.
    pub idle_timeout_ms: u64,
    /// Serve TLS directly on the port (no negotiation, as Valkey's `tls-port` does) with a bundled self-signed certificate for `localhost`, so `rediss://` URIs work.
    ///
    /// Off by default: a TLS handshake draws randomness outside the seed, so simulations leave it off and `dosim serve` turns it on.
    pub tls: bool,
    /// The host name clients reach the cluster by, which the gate's operations name as their server.
    pub host: String,
}

impl Default for WireConfig {
    fn default() -> WireConfig {
        WireConfig {
            request_bytes_max: 64 << 20,
            idle_timeout_ms: 300_000,
            tls: false,
            host: "localhost".to_string(),
        }
    }
}

/// One cluster's data plane: its engine, password and blocked clients. Cloning shares it.
#[derive(Clone)]
pub struct ValkeyCluster {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Mutex<Engine>>,
    /// The `default` user's password; `None` lets every client in without `AUTH`.
    password: Mutex<Option<String>>,
    /// Each blocked client's wake-up.
    waiters: Mutex<BTreeMap<ClientId, Arc<Notify>>>,
    /// Replies the engine gave blocked clients, until each client's task takes its own.
    served: Mutex<BTreeMap<ClientId, Reply>>,
    /// The clock (tokio's, which is turmoil's inside a simulation), the connections' numbering,
    /// what each command is admitted through before the engine runs it, and who hears of it.
    wire: Served<dyn Observer>,
    config: WireConfig,
}

impl ValkeyCluster {
    /// A cluster around an engine, with no password.
    pub fn new(engine: Engine, config: WireConfig) -> ValkeyCluster {
        ValkeyCluster::with_engine(Arc::new(Mutex::new(engine)), config)
    }

    /// A cluster around an engine others share (a harness reads its keyspace after a run).
    pub fn with_engine(engine: Arc<Mutex<Engine>>, config: WireConfig) -> ValkeyCluster {
        ValkeyCluster {
            inner: Arc::new(Inner {
                engine,
                password: Mutex::new(None),
                waiters: Mutex::new(BTreeMap::new()),
                served: Mutex::new(BTreeMap::new()),
                wire: Served::default(),
                config,
            }),
        }
    }

    /// Requires `AUTH default <password>` (or `HELLO … AUTH`) before any command, as DigitalOcean's clusters do.
    pub fn set_password(&self, password: &str) {
        *self.inner.password.lock() = Some(password.to_string());
    }

    /// Fixes the tokio instant that is `SimTime::ZERO`; otherwise it is the first connection's time.
    pub fn set_time_base(&self, base: tokio::time::Instant) {
        self.inner.wire.set_time_base(base);
    }

    /// Admits every command through `gate` from now on, just before the engine runs it.
    ///
    /// The permit is held only while the engine runs the command: a blocking pop that must wait lets it go, and is not admitted again when it is served.
    pub fn set_gate(&self, gate: Arc<dyn Gate>) {
        self.inner.wire.set_gate(gate);
    }

    /// Tells `observer` of every connection from now on, and of its commands.
    pub fn set_observer(&self, observer: Arc<dyn Observer>) {
        self.inner.wire.set_observer(observer);
    }

    /// The shared engine.
    pub fn engine(&self) -> &Arc<Mutex<Engine>> {
        &self.inner.engine
    }

    /// The simulated time now, in whole milliseconds since the base.
    pub fn now(&self) -> SimTime {
        self.inner.wire.now()
    }

    pub(crate) fn config(&self) -> &WireConfig {
        &self.inner.config
    }

    pub(crate) fn password(&self) -> Option<String> {
        self.inner.password.lock().clone()
    }

    pub(crate) fn gate(&self) -> Arc<dyn Gate> {
        self.inner.wire.gate()
    }

    pub(crate) fn observer(&self) -> Option<Arc<dyn Observer>> {
        self.inner.wire.observer()
    }

    fn next_connection(&self) -> u64 {
        self.inner.wire.next_connection()
    }

    /// The tokio instant of a simulated time, to sleep until a blocked client's deadline.
    pub(crate) fn instant_of(&self, t: SimTime) -> tokio::time::Instant {
        self.inner.wire.instant_of(t)
    }

    /// Runs `f` on the engine at the current time, then hands the replies of blocked clients it served to their tasks, and the expired keys to the observer.
    pub(crate) fn with_engine_mut<R>(&self, f: impl FnOnce(&mut Engine, SimTime) -> R) -> R {
        let now = self.now();
        let (result, served, expired) = {
            let mut engine = self.inner.engine.lock();
            let result = f(&mut engine, now);
            (result, engine.take_served(), engine.take_expired())
        };
        if !served.is_empty() {
            let waiters = self.inner.waiters.lock();
            let mut replies = self.inner.served.lock();
            for (client, reply) in served {
                if let Some(n) = waiters.get(&client) {
                    replies.insert(client, reply);
                    n.notify_one();
                }
            }
        }
        if !expired.is_empty() {
            if let Some(observer) = self.observer() {
                observer.keys_expired(&expired);
            }
        }
        result
    }

    pub(crate) fn register(&self, client: ClientId) -> Arc<Notify> {
        let notify = Arc::new(Notify::new());
        self.inner.waiters.lock().insert(client, notify.clone());
        notify
    }

    pub(crate) fn take_served(&self, client: ClientId) -> Option<Reply> {
        self.inner.served.lock().remove(&client)
    }

    pub(crate) fn disconnect(&self, client: ClientId) {
        self.inner.waiters.lock().remove(&client);
        self.inner.served.lock().remove(&client);
        self.with_engine_mut(|e, _| e.disconnect(client));
    }
}

/// Serves one client connection until it closes; the engine forgets the client (its transaction, watches and blocked pop) however the connection ends.
pub fn serve_connection<S>(
    cluster: ValkeyCluster,
    stream: S,
) -> impl Future<Output = std::io::Result<()>> + Send
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    serve_connection_from(cluster, stream, UNKNOWN_PEER.to_string())
}

/// [`serve_connection`] for a connection from `peer`, a label the gate's operations and the observer's sessions carry.
///
/// The connection takes its number when this is called, so connections are numbered in the order they are handed over.
pub fn serve_connection_from<S>(
    cluster: ValkeyCluster,
    stream: S,
    peer: String,
) -> impl Future<Output = std::io::Result<()>> + Send
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let connection = cluster.next_connection();
    conn::serve(cluster, stream, connection, peer)
}

/// Accepts connections on a tokio listener until the task is aborted, each on its own task with the client's address as its peer, in TLS if the cluster's config says so.
pub async fn serve_listener(listener: tokio::net::TcpListener, cluster: ValkeyCluster) {
    dosim_base::listen::accept(listener, |stream, peer| {
        let cluster = cluster.clone();
        async move {
            if !cluster.config().tls {
                let _ = serve_connection_from(cluster, stream, peer).await;
            } else if let Ok(stream) = dosim_base::tls::acceptor().accept(stream).await {
                let _ = serve_connection_from(cluster, stream, peer).await;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests;
