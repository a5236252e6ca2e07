//! PgBouncer's connection pools in front of a cluster, as DigitalOcean serves them on port 25061.
//!
//! A pool owns up to `size` engine sessions (PgBouncer's server connections), opened as clients need them and reused last-in first-out.
//! A client connected to a pool holds no session until it sends a statement; it then takes an idle one, opens a new one while the pool is under its size, or waits in line (PgBouncer's queue) for one to be handed back, at most [`QUERY_WAIT_TIMEOUT`].
//! When it hands the session back depends on the pool's mode (see [`PoolMode`]); a session handed back keeps its state: its session-level advisory locks, its settings.
//! `docs/postgres.md`, "Connection pools", says what is modelled and what is not.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use dosim_pg::{PgError, SessionId};
use tokio::sync::Notify;

use crate::PgCluster;

/// PgBouncer's `query_wait_timeout` default: a client that waited this long for a server connection gets `ERROR: query_wait_timeout` and is disconnected.
pub const QUERY_WAIT_TIMEOUT: Duration = Duration::from_secs(120);

/// The most clients one pool queues at once; beyond it a client is refused at once.
pub const POOL_QUEUE_MAX: usize = 10_000;

/// When a client hands its server connection back to the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolMode {
    /// When the client disconnects: one server connection per client for its whole life.
    Session,
    /// When a transaction (or a statement outside one) ends, DigitalOcean's default.
    Transaction,
    /// After every statement; a transaction block is refused.
    Statement,
}

impl PoolMode {
    /// `session`, `transaction` or `statement`, as the API names the modes.
    pub fn from_name(name: &str) -> Option<PoolMode> {
        match name {
            "session" => Some(PoolMode::Session),
            "transaction" => Some(PoolMode::Transaction),
            "statement" => Some(PoolMode::Statement),
            _ => None,
        }
    }
}

/// One pool as the API describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    pub mode: PoolMode,
    /// The most server connections it opens.
    pub size: usize,
    /// The database its server connections use.
    pub db: String,
}

/// A client waiting in a pool's line; dropped before it is served, it leaves the line, and a
/// server connection already handed to it goes to the next client (or back to the pool).
struct Waiting<'a> {
    cluster: &'a PgCluster,
    name: &'a str,
    ticket: u64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let late = {
            let mut pools = self.cluster.inner.pools.lock();
            pools.get_mut(self.name).and_then(|pool| {
                pool.queue.retain(|(t, _)| *t != self.ticket);
                pool.handed.remove(&self.ticket)
            })
        };
        if let Some(session) = late {
            self.cluster.release(self.name, session);
        }
    }
}

/// A pool's server connections and its queue.
pub(crate) struct Pool {
    config: PoolConfig,
    /// Idle server connections; the last one handed back is reused first, as PgBouncer's `server_round_robin = 0`.
    idle: Vec<SessionId>,
    /// Server connections open, idle or held.
    open: usize,
    /// Waiting clients, first come first served.
    queue: VecDeque<(u64, Arc<Notify>)>,
    /// Server connections handed to a waiting client, until it takes them.
    handed: BTreeMap<u64, SessionId>,
    next_ticket: u64,
}

fn no_such_pool(name: &str) -> PgError {
    PgError::new("08P01", format!("no such database: {name}"))
}

impl PgCluster {
    /// Adds a pool or changes one, as creating or updating a connection pool through the API does.
    ///
    /// Server connections beyond a smaller size close as they are handed back.
    pub fn set_pool(&self, name: &str, config: PoolConfig) {
        let mut pools = self.inner.pools.lock();
        match pools.get_mut(name) {
            Some(pool) => pool.config = config,
            None => {
                pools.insert(
                    name.to_string(),
                    Pool {
                        config,
                        idle: Vec::new(),
                        open: 0,
                        queue: VecDeque::new(),
                        handed: BTreeMap::new(),
                        next_ticket: 0,
                    },
                );
            }
        }
    }

    /// Removes a pool: its idle server connections close; clients holding one keep it until they hand it back, when it closes.
    pub fn remove_pool(&self, name: &str) {
        let removed = self.inner.pools.lock().remove(name);
        if let Some(pool) = removed {
            for session in pool.idle.into_iter().chain(pool.handed.into_values()) {
                self.disconnect(session);
            }
        }
    }

    /// The pool called `name`, for a client logging in to it.
    pub(crate) fn pool_config(&self, name: &str) -> Result<PoolConfig, PgError> {
        self.inner
            .pools
            .lock()
            .get(name)
            .map(|pool| pool.config.clone())
            .ok_or_else(|| no_such_pool(name))
    }

    /// Takes a server connection from the pool, opening one or waiting in line for one as PgBouncer does.
    pub(crate) async fn acquire(&self, name: &str) -> Result<SessionId, PgError> {
        let (ticket, notify) = {
            let mut pools = self.inner.pools.lock();
            let pool = pools.get_mut(name).ok_or_else(|| no_such_pool(name))?;
            if pool.queue.is_empty() {
                if let Some(session) = pool.idle.pop() {
                    return Ok(session);
                }
                if pool.open < pool.config.size {
                    pool.open += 1;
                    let db = pool.config.db.clone();
                    drop(pools);
                    return self.open_server(name, &db);
                }
            }
            if pool.queue.len() >= POOL_QUEUE_MAX {
                return Err(PgError::new("08P01", "no more connections allowed"));
            }
            let ticket = pool.next_ticket;
            pool.next_ticket += 1;
            let notify = Arc::new(Notify::new());
            pool.queue.push_back((ticket, notify.clone()));
            (ticket, notify)
        };
        // Whatever ends the wait (a timeout, or the client leaving, which drops this future)
        // takes the ticket out of the line, and hands on a connection handed to it too late.
        let waiting = Waiting {
            cluster: self,
            name,
            ticket,
        };
        let handed = tokio::time::timeout(QUERY_WAIT_TIMEOUT, async {
            loop {
                if let Some(session) = self.take_handed(name, ticket) {
                    return session;
                }
                // A hand-over before this await leaves a permit, so no wake-up is lost.
                notify.notified().await;
            }
        })
        .await;
        match handed {
            Ok(Some(session)) => {
                std::mem::forget(waiting);
                Ok(session)
            }
            Ok(None) => Err(no_such_pool(name)),
            Err(_) => Err(PgError::new("08P01", "query_wait_timeout")),
        }
    }

    /// `Some(Some(session))` once one was handed to `ticket`, `Some(None)` if the pool is gone.
    fn take_handed(&self, name: &str, ticket: u64) -> Option<Option<SessionId>> {
        let mut pools = self.inner.pools.lock();
        match pools.get_mut(name) {
            None => Some(None),
            Some(pool) => pool.handed.remove(&ticket).map(Some),
        }
    }

    /// Opens a server connection for the pool, whose `open` count already includes it.
    fn open_server(&self, name: &str, db: &str) -> Result<SessionId, PgError> {
        match self.with_engine_mut(|e, _| e.connect(db)) {
            Ok(session) => {
                self.register(session);
                Ok(session)
            }
            Err(error) => {
                if let Some(pool) = self.inner.pools.lock().get_mut(name) {
                    pool.open = pool.open.saturating_sub(1);
                }
                Err(error)
            }
        }
    }

    /// Hands a server connection back: to the first client in line, else to the idle list; one beyond the pool's size, or of a removed pool, closes.
    pub(crate) fn release(&self, name: &str, session: SessionId) {
        let mut pools = self.inner.pools.lock();
        let Some(pool) = pools.get_mut(name) else {
            drop(pools);
            self.disconnect(session);
            return;
        };
        if pool.open > pool.config.size {
            pool.open -= 1;
            drop(pools);
            self.disconnect(session);
            return;
        }
        match pool.queue.pop_front() {
            Some((ticket, notify)) => {
                pool.handed.insert(ticket, session);
                notify.notify_one();
            }
            None => pool.idle.push(session),
        }
    }

    /// Closes a server connection (its client left mid-transaction, or the pool is in session mode), and opens another for the first client in line.
    pub(crate) fn discard(&self, name: &str, session: SessionId) {
        self.disconnect(session);
        let next = {
            let mut pools = self.inner.pools.lock();
            let Some(pool) = pools.get_mut(name) else {
                return;
            };
            pool.open = pool.open.saturating_sub(1);
            if pool.queue.is_empty() || pool.open >= pool.config.size {
                return;
            }
            pool.open += 1;
            pool.config.db.clone()
        };
        if let Ok(session) = self.open_server(name, &next) {
            self.release(name, session);
        }
    }
}
