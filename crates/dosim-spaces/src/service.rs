//! The Spaces service: the store behind a lock, the keys it verifies against, the clock, the gate and the request log.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Value};

use dosim_base::faults::{FaultHook, InjectedFault, NoFaults};
use dosim_base::gate::{Gate, Open};
use dosim_base::SimTime;
use dosim_cloud::SpacesKey;

use crate::store::{Store, StoreConfig};

/// Where the service finds a key: the account model behind `/v2/spaces/keys`.
pub trait KeyStore: Send + Sync {
    /// The key and the fingerprint of the account that owns it.
    fn key(&self, access_key: &str) -> Option<(String, SpacesKey)>;
}

/// Simulated time now.
pub type Clock = Arc<dyn Fn() -> SimTime + Send + Sync>;

/// How the service is built.
#[derive(Clone, Debug)]
pub struct SpacesConfig {
    /// Seeds version ids, upload ids and request ids.
    pub seed: u64,
    /// The region a request names when its host does not (path-style on a bare address).
    pub region: String,
    pub store: StoreConfig,
    /// The largest request body read into memory; bigger bodies get `EntityTooLarge`.
    pub body_bytes_max: usize,
    /// The signing clock's reading, in Unix seconds, at simulated time zero: the simulated
    /// epoch in simulations, where clients sign with simulated time; in `dosim serve`, the wall
    /// clock when the server started, as real clients sign with the wall clock.
    pub signing_origin_unix_secs: i64,
    /// How much faster simulated time runs than the signing clock: 1 in simulations; `dosim
    /// serve`'s `--time-scale`, so that its signing clock runs at the wall clock's pace.
    pub signing_time_scale: f64,
    /// Requests per bucket per simulated second before 503 `SlowDown`; `None` for no limit.
    pub bucket_requests_per_second: Option<u32>,
    /// Request log entries kept (oldest dropped first).
    pub log_limit: usize,
    /// Bytes of request log kept, counting each entry's strings and its fixed size (oldest
    /// dropped first): a long `dosim serve` session of long keys stays within it.
    pub log_bytes_limit: usize,
}

impl Default for SpacesConfig {
    fn default() -> SpacesConfig {
        SpacesConfig {
            seed: 0,
            region: "nyc3".to_owned(),
            store: StoreConfig::default(),
            body_bytes_max: 64 * 1024 * 1024,
            signing_origin_unix_secs: dosim_base::EPOCH_UNIX_S as i64,
            signing_time_scale: 1.0,
            bucket_requests_per_second: Some(1500),
            log_limit: 100_000,
            log_bytes_limit: 32 * 1024 * 1024,
        }
    }
}

/// One S3 request as the service saw it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct LogEntry {
    pub seq: u64,
    pub at_ms: u64,
    pub request_id: String,
    /// Who sent it, as the listener knows it.
    pub actor: String,
    /// `PutObject`, `GetObject`, …
    pub operation: &'static str,
    pub method: String,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub status: u16,
    pub error: Option<&'static str>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    /// The fault the plan injected, if any (a rejection or a lost response over a latency).
    pub fault: Option<InjectedFault>,
}

pub(crate) struct Inner {
    pub(crate) config: SpacesConfig,
    pub(crate) store: Mutex<Store>,
    pub(crate) keys: Arc<dyn KeyStore>,
    pub(crate) clock: Clock,
    pub(crate) gate: Mutex<Arc<dyn Gate>>,
    pub(crate) faults: Mutex<Arc<dyn FaultHook>>,
    pub(crate) log: Mutex<Log>,
    /// Per bucket: the simulated second and the requests counted in it.
    pub(crate) rate: Mutex<BTreeMap<String, (u64, u32)>>,
}

#[derive(Default)]
pub(crate) struct Log {
    pub(crate) next_seq: u64,
    pub(crate) entries: std::collections::VecDeque<LogEntry>,
    /// The entries' [`LogEntry::bytes`], summed.
    pub(crate) bytes: usize,
}

impl LogEntry {
    /// What the log counts this entry as: its fixed size and the strings it holds.
    fn bytes(&self) -> usize {
        let text = |text: &Option<String>| text.as_ref().map_or(0, String::len);
        std::mem::size_of::<LogEntry>()
            + self.request_id.len()
            + self.actor.len()
            + self.method.len()
            + text(&self.bucket)
            + text(&self.key)
            + text(&self.etag)
            + text(&self.version_id)
    }
}

/// Spaces: cheap to clone, every clone shares the same store.
#[derive(Clone)]
pub struct Spaces {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Spaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spaces")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// In a response's extensions: the sequence number its request was logged under
/// ([`Spaces::log_entry`]), for a listener that records requests of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logged(pub u64);

/// The peer a request came from, which a listener may put in the request's extensions (the gate's actor).
#[derive(Clone, Debug)]
pub struct Peer(pub String);

impl Spaces {
    pub fn new(config: SpacesConfig, keys: Arc<dyn KeyStore>, clock: Clock) -> Spaces {
        let store_seed = dosim_base::splitmix64(config.seed ^ 0x5_9ACE5);
        Spaces {
            inner: Arc::new(Inner {
                store: Mutex::new(Store::new(config.store.clone(), store_seed)),
                config,
                keys,
                clock,
                gate: Mutex::new(Arc::new(Open)),
                faults: Mutex::new(Arc::new(NoFaults)),
                log: Mutex::new(Log::default()),
                rate: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The S3 API as a router for any listener.
    pub fn router(&self) -> axum::Router {
        crate::wire::router(self.clone())
    }

    /// Admits every S3 request that changes state through `gate` before it commits.
    pub fn set_gate(&self, gate: Arc<dyn Gate>) {
        *self.inner.gate.lock() = gate;
    }

    pub(crate) fn gate(&self) -> Arc<dyn Gate> {
        self.inner.gate.lock().clone()
    }

    /// Asks `faults` (the run's fault plan, through the API server that holds it) what happens
    /// to each S3 request: latency in transit or in processing, a 503 `SlowDown` or 500
    /// `InternalError` instead of the commit, a response lost after it.
    pub fn set_faults(&self, faults: Arc<dyn FaultHook>) {
        *self.inner.faults.lock() = faults;
    }

    pub(crate) fn faults(&self) -> Arc<dyn FaultHook> {
        self.inner.faults.lock().clone()
    }

    /// Runs `f` on the store (for checks over the final buckets and objects).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut self.inner.store.lock())
    }

    /// Simulated time now.
    pub fn now(&self) -> SimTime {
        (self.inner.clock)()
    }

    /// The signing clock at simulated time `now`, in Unix seconds: what signatures' dates and presigned expiry are checked against.
    pub fn signing_time(&self, now: SimTime) -> i64 {
        let config = &self.inner.config;
        let scale = if config.signing_time_scale.is_finite() && config.signing_time_scale > 0.0 {
            config.signing_time_scale
        } else {
            1.0
        };
        config.signing_origin_unix_secs + (now.0 as f64 / 1000.0 / scale) as i64
    }

    /// Every request logged, oldest first.
    pub fn log(&self) -> Vec<LogEntry> {
        self.inner.log.lock().entries.iter().cloned().collect()
    }

    /// The logged request with this sequence number, if the log still holds it.
    pub fn log_entry(&self, seq: u64) -> Option<LogEntry> {
        let log = self.inner.log.lock();
        let first = log.entries.front()?.seq;
        // Entries are logged when their responses leave, so a slow request's entry comes after
        // later ones: look where its number puts it, then everywhere, newest first.
        seq.checked_sub(first)
            .and_then(|offset| usize::try_from(offset).ok())
            .and_then(|near| log.entries.get(near))
            .filter(|entry| entry.seq == seq)
            .or_else(|| log.entries.iter().rev().find(|entry| entry.seq == seq))
            .cloned()
    }

    /// Buckets and objects (not their bodies), for `/_dosim/state`.
    pub fn state_dump(&self) -> Value {
        let store = self.inner.store.lock();
        serde_json::to_value(&*store).unwrap_or_else(|e| json!({ "error": e.to_string() }))
    }

    /// Forgets every bucket and the log, and restarts ids from the seed.
    pub fn reset(&self) {
        let config = &self.inner.config;
        *self.inner.store.lock() = Store::new(
            config.store.clone(),
            dosim_base::splitmix64(config.seed ^ 0x5_9ACE5),
        );
        *self.inner.log.lock() = Log::default();
        self.inner.rate.lock().clear();
    }

    /// The next request's sequence number, taken when it arrives.
    pub(crate) fn next_seq(&self) -> u64 {
        let mut log = self.inner.log.lock();
        let seq = log.next_seq;
        log.next_seq += 1;
        seq
    }

    pub(crate) fn record(&self, entry: LogEntry) {
        let config = &self.inner.config;
        let bytes = entry.bytes();
        let mut log = self.inner.log.lock();
        while log.entries.len() >= config.log_limit.max(1)
            || (!log.entries.is_empty() && log.bytes + bytes > config.log_bytes_limit)
        {
            let Some(dropped) = log.entries.pop_front() else {
                break;
            };
            log.bytes -= dropped.bytes();
        }
        log.bytes += bytes;
        log.entries.push_back(entry);
    }
}
