//! The server: configuration, shared state (accounts, rate limits, history, faults) and the clock.

use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexMap;
use parking_lot::Mutex;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use dosim_base::gate::{Gate, Open};
use dosim_cloud::{Cloud, CloudConfig, SavedCloud, SimTime};
use serde::{Deserialize, Serialize};

use crate::auth;
use crate::clock::{scaled_ms, Clock, TokioClock};
use crate::databases::DataPlane;
use crate::faults::{FaultDecider, FaultPlan, Faults, SeededDecider};
use crate::history::{
    History, HistoryEntry, HistoryPage, DEFAULT_HISTORY_BYTES, DEFAULT_HISTORY_LIMIT,
};
use crate::ratelimit::{RateLimitConfig, RateLog, WindowLog};

/// Default limit on a request body: generous for any real request (`user_data` alone may be 64 KiB).
pub const DEFAULT_BODY_BYTES_MAX: usize = 1024 * 1024;
/// Default limit on the number of tokens (accounts) one server holds.
pub const DEFAULT_ACCOUNTS_MAX: usize = 10_000;

/// Everything a server is built from.
pub struct ServerConfig {
    /// The seed every id, request id and fault decision derives from.
    pub seed: u64,
    /// The configuration of every account's cloud.
    pub cloud: CloudConfig,
    pub faults: FaultPlan,
    /// How much faster than its clock simulated time runs (2.0: twice as fast). Must be > 0.
    pub time_scale: f64,
    pub rate_limit: RateLimitConfig,
    pub max_body_bytes: usize,
    /// How long a request's body may take to arrive before the request is answered 408 (`None`:
    /// no limit, as inside a simulation, where bodies arrive whole).
    pub body_timeout: Option<std::time::Duration>,
    pub max_accounts: usize,
    /// How many entries the history keeps.
    pub history_limit: usize,
    /// About how many bytes the history keeps (see [`crate::history::entry_bytes`]).
    pub history_bytes: usize,
    /// When set, every `/_dosim/` request must carry `Authorization: Bearer <this>`.
    pub control_token: Option<String>,
    /// The base of the absolute URLs in `links` (e.g. `http://127.0.0.1:8080`); when unset,
    /// `http://` plus the request's `Host` header.
    pub base_url: Option<String>,
    pub clock: Arc<dyn Clock>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            seed: 0,
            cloud: CloudConfig::default(),
            faults: FaultPlan::default(),
            time_scale: 1.0,
            rate_limit: RateLimitConfig::default(),
            max_body_bytes: DEFAULT_BODY_BYTES_MAX,
            body_timeout: None,
            max_accounts: DEFAULT_ACCOUNTS_MAX,
            history_limit: DEFAULT_HISTORY_LIMIT,
            history_bytes: DEFAULT_HISTORY_BYTES,
            control_token: None,
            base_url: None,
            clock: Arc::new(TokioClock::new()),
        }
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("seed", &self.seed)
            .field("cloud", &self.cloud)
            .field("faults", &self.faults)
            .field("time_scale", &self.time_scale)
            .field("rate_limit", &self.rate_limit)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("body_timeout", &self.body_timeout)
            .field("max_accounts", &self.max_accounts)
            .field("history_limit", &self.history_limit)
            .field("history_bytes", &self.history_bytes)
            .field(
                "control_token",
                &self.control_token.as_ref().map(|_| "[redacted]"),
            )
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// One token's account.
pub(crate) struct Account {
    pub(crate) fingerprint: String,
    pub(crate) cloud: Cloud,
    pub(crate) rate_log: RateLog,
    /// `GET /v2/account/keys`'s own limit.
    pub(crate) ssh_key_lists: WindowLog,
}

pub(crate) struct State {
    pub(crate) accounts: IndexMap<String, Account>,
    pub(crate) history: History,
    request_rng: ChaCha8Rng,
    next_seq: u64,
    /// Control requests are counted apart, so that they shift no API request's `seq` or id.
    next_control: u64,
    /// The seqs handed out whose history entry is not written yet, each with how many requests
    /// hold it (two, when a reset restarted the count while an older request was in flight).
    in_flight: BTreeMap<u64, u32>,
}

pub(crate) struct Inner {
    pub(crate) seed: u64,
    pub(crate) cloud_config: CloudConfig,
    pub(crate) time_scale: f64,
    pub(crate) rate_limit: RateLimitConfig,
    pub(crate) max_body_bytes: usize,
    pub(crate) body_timeout: Option<std::time::Duration>,
    pub(crate) max_accounts: usize,
    pub(crate) history_limit: usize,
    pub(crate) history_bytes: usize,
    pub(crate) control_token: Option<String>,
    pub(crate) base_url: Option<String>,
    clock: Arc<dyn Clock>,
    pub(crate) state: Mutex<State>,
    /// Simulated milliseconds added to the clock's reading: the time a loaded state had reached.
    time_offset_ms: std::sync::atomic::AtomicU64,
    /// Counts changes to the accounts (every non-GET API request that reached a handler, and
    /// resets), so that a saver knows when there is something new to save.
    pub(crate) changes: std::sync::atomic::AtomicU64,
    pub(crate) faults: Mutex<Faults>,
    /// What serves database clusters' data planes, if anything does (`dosim serve`); the harness sets none.
    data_plane: Mutex<Option<Arc<dyn DataPlane>>>,
    /// What every `/v2/` request that reaches its handler is admitted through before it commits.
    gate: Mutex<Arc<dyn Gate>>,
    /// Extra sections of the state dump, from data planes served beside the API.
    state_sections: StateSections,
    /// What else `/_dosim/reset` resets: data planes served beside the API.
    reset_hooks: Mutex<Vec<Arc<dyn Fn() + Send + Sync>>>,
}

type StateSections = Mutex<Vec<(String, Arc<dyn Fn() -> Value + Send + Sync>)>>;

/// The DigitalOcean API server: cheap to clone, every clone shares the same accounts.
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("seed", &self.inner.seed)
            .finish_non_exhaustive()
    }
}

impl Server {
    pub fn new(config: ServerConfig) -> Server {
        let time_scale = if config.time_scale.is_finite() && config.time_scale > 0.0 {
            config.time_scale
        } else {
            1.0
        };
        let seed = config.seed;
        Server {
            inner: Arc::new(Inner {
                seed,
                cloud_config: config.cloud,
                time_scale,
                rate_limit: config.rate_limit,
                max_body_bytes: config.max_body_bytes,
                body_timeout: config.body_timeout,
                max_accounts: config.max_accounts.max(1),
                history_limit: config.history_limit,
                history_bytes: config.history_bytes,
                control_token: config.control_token,
                base_url: config
                    .base_url
                    .map(|url| url.trim_end_matches('/').to_owned()),
                clock: config.clock,
                state: Mutex::new(State::new(seed, config.history_limit, config.history_bytes)),
                time_offset_ms: std::sync::atomic::AtomicU64::new(0),
                changes: std::sync::atomic::AtomicU64::new(0),
                faults: Mutex::new(Faults {
                    plan: config.faults,
                    decider: Box::new(SeededDecider::new(seed)),
                }),
                data_plane: Mutex::new(None),
                gate: Mutex::new(Arc::new(Open)),
                state_sections: Mutex::new(Vec::new()),
                reset_hooks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The router serving the API and the `/_dosim/` control endpoints.
    pub fn router(&self) -> axum::Router {
        crate::app::app(self.clone())
    }

    /// The same as [`Server::router`], as a plain service: the pipeline around the route table,
    /// with no router around it. Making even an empty axum router inserts its fallback routes
    /// into a path tree, most of a percent of a short run, so a host that makes a server per run
    /// serves this.
    pub fn service(
        &self,
    ) -> impl tower::Service<
        axum::extract::Request,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + Clone
           + Send
           + Sync
           + 'static {
        let pipeline = axum::middleware::from_fn_with_state(self.clone(), crate::app::pipeline);
        tower::Layer::layer(&pipeline, crate::app::routes().clone())
    }

    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// Simulated time now: the clock's elapsed time times `time_scale`.
    pub fn now(&self) -> SimTime {
        let offset = self
            .inner
            .time_offset_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        SimTime(offset + scaled_ms(self.inner.clock.elapsed(), self.inner.time_scale))
    }

    /// The first token derived from the seed; `dosim serve` prints it.
    pub fn token(&self) -> String {
        auth::token_for_seed(self.inner.seed, 0)
    }

    /// Runs `f` on the token's cloud, creating the account if it is new.
    ///
    /// The account is created even beyond the HTTP layer's account cap, because a harness
    /// that asks for an account means it.
    pub fn with_account<R>(&self, token: &str, f: impl FnOnce(&mut Cloud) -> R) -> R {
        let mut state = self.inner.state.lock();
        let account = state.account(&self.inner, token);
        f(&mut account.cloud)
    }

    /// The fingerprints of every account, in creation order.
    pub fn accounts(&self) -> Vec<String> {
        self.inner
            .state
            .lock()
            .accounts
            .values()
            .map(|account| account.fingerprint.clone())
            .collect()
    }

    /// Every account's model state, keyed by fingerprint, with passwords and the passwords in
    /// connection URIs replaced by `[redacted]`.
    pub fn state_dump_redacted(&self) -> Value {
        let mut dump = self.state_dump();
        redact(&mut dump);
        dump
    }

    /// Every account's model state, keyed by fingerprint, secrets included.
    pub fn state_dump(&self) -> Value {
        let mut state = self.inner.state.lock();
        let now = self.now();
        let mut accounts = serde_json::Map::new();
        for account in state.accounts.values_mut() {
            account.cloud.advance(now);
            let dump = serde_json::to_value(&account.cloud)
                .unwrap_or_else(|e| json!({ "error": e.to_string() }));
            accounts.insert(account.fingerprint.clone(), dump);
        }
        drop(state);
        let mut dump = json!({ "now": now.rfc3339(), "now_ms": now.0, "accounts": accounts });
        let sections = self.inner.state_sections.lock().clone();
        for (name, section) in sections {
            dump[name] = section();
        }
        dump
    }

    pub fn history(&self) -> Vec<HistoryEntry> {
        self.inner.state.lock().history.entries().cloned().collect()
    }

    /// The history, moved out and cleared: for the end of a run, which reads it once.
    pub fn take_history(&self) -> Vec<HistoryEntry> {
        self.inner.state.lock().history.take()
    }

    /// Up to `limit` history entries with `seq` above `after`, in `seq` order, whether more
    /// follow, and the oldest seq still in flight. Entries from that seq on are held back until
    /// it lands: a reader that pages on past the last `seq` it was given misses no request that
    /// was slower than later ones.
    pub fn history_page(&self, after: Option<u64>, limit: usize) -> HistoryPage {
        let state = self.inner.state.lock();
        let waiting_for = state.in_flight.keys().next().copied();
        let (entries, more) = state.history.page(after, limit, waiting_for);
        HistoryPage {
            entries,
            more,
            waiting_for,
        }
    }

    pub fn fault_plan(&self) -> FaultPlan {
        self.inner.faults.lock().plan.clone()
    }

    pub fn set_fault_plan(&self, plan: FaultPlan) {
        self.inner.faults.lock().plan = plan;
    }

    /// Replaces how fault decisions are drawn.
    pub fn set_fault_decider(&self, decider: Box<dyn FaultDecider>) {
        self.inner.faults.lock().decider = decider;
    }

    /// Makes `data_plane` serve the database clusters created from now on, and follow their users, databases and deletion.
    pub fn set_data_plane(&self, data_plane: Arc<dyn DataPlane>) {
        *self.inner.data_plane.lock() = Some(data_plane);
    }

    /// The data plane, if one is set.
    pub fn data_plane(&self) -> Option<Arc<dyn DataPlane>> {
        self.inner.data_plane.lock().clone()
    }

    /// Admits every `/v2/` request that reaches its handler through `gate` before it commits
    /// (see [`dosim_base::gate`]); the default, [`Open`], admits each at once.
    pub fn set_gate(&self, gate: Arc<dyn Gate>) {
        *self.inner.gate.lock() = gate;
    }

    /// The gate requests are admitted through.
    pub(crate) fn gate(&self) -> Arc<dyn Gate> {
        self.inner.gate.lock().clone()
    }

    /// The Spaces key with `access_key` and the fingerprint of the account that owns it, if any account has it:
    /// what the Spaces data plane verifies a request's signature and grants against.
    pub fn spaces_key(&self, access_key: &str) -> Option<(String, dosim_cloud::SpacesKey)> {
        let state = self.inner.state.lock();
        state.accounts.values().find_map(|account| {
            account
                .cloud
                .spaces_key_view(access_key)
                .map(|key| (account.fingerprint.clone(), key.clone()))
        })
    }

    /// Adds `dump()` to `GET /_dosim/state` under `name` (the Spaces data plane's buckets and objects in `dosim serve`).
    pub fn add_state_section(&self, name: &str, dump: Arc<dyn Fn() -> Value + Send + Sync>) {
        self.inner
            .state_sections
            .lock()
            .push((name.to_owned(), dump));
    }

    /// Runs `hook` on every [`Server::reset`], after the accounts are forgotten (Spaces' buckets in `dosim serve`).
    pub fn add_reset_hook(&self, hook: Arc<dyn Fn() + Send + Sync>) {
        self.inner.reset_hooks.lock().push(hook);
    }

    /// Forgets every account and the history, and restarts ids and decisions from the seed.
    /// The fault plan, the gate and the clock are kept.
    pub fn reset(&self) {
        self.changed();
        let mut state = self.inner.state.lock();
        // Requests in flight across the reset still write their entries, and still hold back
        // the entries after theirs until they do.
        let in_flight = std::mem::take(&mut state.in_flight);
        *state = State::new(
            self.inner.seed,
            self.inner.history_limit,
            self.inner.history_bytes,
        );
        state.in_flight = in_flight;
        // Under the state lock, so no cluster is created between forgetting the accounts and stopping their data planes.
        if let Some(data_plane) = self.data_plane() {
            data_plane.reset();
        }
        drop(state);
        let hooks = self.inner.reset_hooks.lock().clone();
        for hook in hooks {
            hook();
        }
        self.inner.faults.lock().decider = Box::new(SeededDecider::new(self.inner.seed));
    }
}

/// What stands for a secret in a redacted dump.
pub const REDACTED: &str = "[redacted]";

/// Replaces every `password` and `secret_key` field's value (database passwords, Spaces keys'
/// secrets) and the password of every URI of the form `scheme://user:password@…` in `value`.
fn redact(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if (key == "password" || key == "secret_key") && !field.is_null() {
                    *field = Value::String(REDACTED.to_owned());
                } else {
                    redact(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(text) => {
            if let Some(redacted) = redact_uri(text) {
                *text = redacted;
            }
        }
        _ => {}
    }
}

/// `scheme://user:[redacted]@rest` for a URI with a password in it.
fn redact_uri(text: &str) -> Option<String> {
    let (scheme, rest) = text.split_once("://")?;
    let (userinfo, host) = rest.split_once('@')?;
    let (user, _password) = userinfo.split_once(':')?;
    if userinfo.contains('/') {
        return None;
    }
    Some(format!("{scheme}://{user}:{REDACTED}@{host}"))
}

/// What `dosim serve --state` writes: the format's name, the seed, the simulated time reached,
/// the request counters and every account with its token.
#[derive(Serialize, Deserialize)]
struct Saved {
    format: String,
    seed: u64,
    now_ms: u64,
    next_seq: u64,
    /// The request-id stream's word position, in decimal.
    request_rng_word_pos: String,
    accounts: Vec<SavedAccount>,
    /// What the data planes keep of each served cluster (a PostgreSQL cluster's committed
    /// tables), by the cluster's id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    data: BTreeMap<String, Value>,
}

#[derive(Serialize, Deserialize)]
struct SavedAccount {
    token: String,
    cloud: SavedCloud,
}

/// The `format` of a saved state.
pub const SAVED_FORMAT: &str = "dosim-serve-state/1";

impl Server {
    /// Notes that the accounts changed, for [`Server::changes`].
    pub(crate) fn changed(&self) {
        self.inner
            .changes
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// How many changes the accounts have seen; a saver compares it with the count it last saved.
    pub fn changes(&self) -> u64 {
        self.inner
            .changes
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Every account (tokens included: the file is as secret as they are), the time reached and
    /// the request counters, as JSON; copied under the lock, serialized outside it.
    pub fn save(&self) -> Vec<u8> {
        let now = self.now();
        let (accounts, next_seq, word_pos) = {
            let mut state = self.inner.state.lock();
            let accounts: Vec<SavedAccount> = state
                .accounts
                .iter_mut()
                .map(|(token, account)| {
                    account.cloud.advance(now);
                    SavedAccount {
                        token: token.clone(),
                        cloud: account.cloud.to_saved(),
                    }
                })
                .collect();
            (
                accounts,
                state.next_seq,
                state.request_rng.get_word_pos().to_string(),
            )
        };
        // The data planes are asked outside the lock: a cluster busy with a statement must not
        // hold up the API.
        let mut data = BTreeMap::new();
        if let Some(plane) = self.data_plane() {
            for account in &accounts {
                for database in account.cloud.cloud.databases_view() {
                    if let Some(saved) = plane.save_data(database) {
                        data.insert(database.id.to_string(), saved);
                    }
                }
            }
        }
        let saved = Saved {
            format: SAVED_FORMAT.to_owned(),
            seed: self.inner.seed,
            now_ms: now.0,
            next_seq,
            request_rng_word_pos: word_pos,
            accounts,
            data,
        };
        serde_json::to_vec(&saved).expect("a saved state always serializes")
    }

    /// Replaces every account with those of a saved state and moves the clock on to the time it
    /// had reached; PostgreSQL clusters get fresh, empty data planes. The history starts empty.
    /// Refused, changing nothing, if the file is not a whole saved state of this seed.
    pub fn load(&self, bytes: &[u8]) -> Result<usize, String> {
        let mut value: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not a saved state: {e}"))?;
        // A served endpoint belonged to the process that saved it.
        if let Some(accounts) = value.get_mut("accounts").and_then(Value::as_array_mut) {
            for account in accounts {
                if let Some(databases) = account
                    .pointer_mut("/cloud/cloud/databases")
                    .and_then(Value::as_object_mut)
                {
                    for database in databases.values_mut() {
                        database["endpoint"] = Value::Null;
                    }
                }
            }
        }
        let saved: Saved =
            serde_json::from_value(value).map_err(|e| format!("not a saved state: {e}"))?;
        if saved.format != SAVED_FORMAT {
            return Err(format!(
                "format {:?}, this dosim reads {SAVED_FORMAT:?}",
                saved.format
            ));
        }
        if saved.seed != self.inner.seed {
            return Err(format!(
                "saved with --seed {}, not {}",
                saved.seed, self.inner.seed
            ));
        }
        let word_pos: u128 = saved
            .request_rng_word_pos
            .parse()
            .map_err(|_| "request_rng_word_pos is not a number".to_owned())?;
        let mut accounts = IndexMap::new();
        for account in saved.accounts {
            if !auth::valid_token(&account.token) {
                return Err("an account's token is not of DigitalOcean's shape".to_owned());
            }
            let cloud = Cloud::from_saved(account.cloud)
                .map_err(|e| format!("account {}: {e}", auth::fingerprint(&account.token)))?;
            accounts.insert(
                account.token.clone(),
                Account {
                    fingerprint: auth::fingerprint(&account.token),
                    cloud,
                    rate_log: RateLog::new(),
                    ssh_key_lists: WindowLog::default(),
                },
            );
        }
        let count = accounts.len();
        let mut state = self.inner.state.lock();
        let current = self.now().0;
        if saved.now_ms > current {
            self.inner
                .time_offset_ms
                .fetch_add(saved.now_ms - current, std::sync::atomic::Ordering::Relaxed);
        }
        state.accounts = accounts;
        state.next_seq = saved.next_seq;
        state.request_rng.set_word_pos(word_pos);
        state.history.clear();
        let now = self.now();
        if let Some(plane) = self.data_plane() {
            for account in state.accounts.values_mut() {
                for database in account
                    .cloud
                    .databases(now, dosim_cloud::DatabaseFilter::default())
                {
                    if let Some((host, port)) = plane.cluster_created(&database) {
                        let mut served = database.clone();
                        served.endpoint = Some((host.clone(), port));
                        let pool_port = plane.pool_port(&served);
                        let _ = account.cloud.set_database_endpoint(
                            now,
                            database.id,
                            &host,
                            port,
                            pool_port,
                        );
                        let Some(data) = saved.data.get(&database.id.to_string()) else {
                            continue;
                        };
                        // The accounts are in; a cluster whose data does not read back starts
                        // empty, and says so.
                        if let Err(error) = plane.load_data(&served, data) {
                            eprintln!("dosim serve: --state: {error}; the cluster starts empty");
                        }
                    }
                }
            }
        }
        Ok(count)
    }
}

impl State {
    fn new(seed: u64, history_limit: usize, history_bytes: usize) -> State {
        State {
            accounts: IndexMap::new(),
            history: History::bounded(history_limit, history_bytes),
            request_rng: dosim_base::rng(seed, dosim_base::Stream::Requests),
            next_seq: 0,
            next_control: 0,
            in_flight: BTreeMap::new(),
        }
    }

    pub(crate) fn account(&mut self, inner: &Inner, token: &str) -> &mut Account {
        let index = match self.accounts.get_index_of(token) {
            Some(index) => index,
            None => {
                let cloud = Cloud::new(
                    inner.cloud_config.clone(),
                    auth::account_seed(inner.seed, token),
                );
                let account = Account {
                    fingerprint: auth::fingerprint(token),
                    cloud,
                    rate_log: RateLog::new(),
                    ssh_key_lists: WindowLog::default(),
                };
                self.accounts.insert_full(token.to_owned(), account).0
            }
        };
        &mut self.accounts[index]
    }

    /// The request with `seq` wrote its history entry, or was abandoned before it could.
    pub(crate) fn landed(&mut self, seq: u64) {
        if let std::collections::btree_map::Entry::Occupied(mut held) = self.in_flight.entry(seq) {
            *held.get_mut() -= 1;
            if *held.get() == 0 {
                held.remove();
            }
        }
    }

    /// A control request's id: `control-` and a count of its own, drawing nothing from the
    /// request stream.
    pub(crate) fn next_control_request(&mut self) -> String {
        let n = self.next_control;
        self.next_control += 1;
        format!("control-{n}")
    }

    /// The next sequence number and request id; the seq is in flight until [`State::landed`].
    pub(crate) fn next_request(&mut self) -> (u64, String) {
        let seq = self.next_seq;
        self.next_seq += 1;
        *self.in_flight.entry(seq).or_default() += 1;
        let mut bytes = [0u8; 16];
        self.request_rng.fill_bytes(&mut bytes);
        // Encoded straight into a buffer: `to_string` goes through the formatting machinery,
        // once for every request.
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        (seq, id.hyphenated().encode_lower(&mut text).to_owned())
    }
}
