//! The actor context: what a piece of user code running in one simulated host gets to use.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;

use crate::history::{Belief, Recorder};
use crate::transport::RecordingTransport;

/// Adjusts every actor's client builder: the scenario's `client(...)` setting.
pub(crate) type ClientSetup =
    Arc<dyn Fn(dosim_client::ClientBuilder) -> dosim_client::ClientBuilder + Send + Sync>;

/// One actor (`pod-0`, `pod-1`, …) or service host: its client, identity, RNG and beliefs.
///
/// Cheap to clone; clones share the RNG and the client.
#[derive(Clone)]
pub struct Actor {
    inner: Arc<Inner>,
}

struct Inner {
    index: usize,
    name: String,
    seed: u64,
    token: String,
    client: dosim_client::Client,
    transport: Arc<RecordingTransport>,
    client_setup: ClientSetup,
    rng: Mutex<ChaCha8Rng>,
    recorder: Recorder,
    /// The actor's fault control (none for a service host's context).
    control: Option<crate::faults::ActorControl>,
}

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor")
            .field("index", &self.inner.index)
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl Actor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        index: usize,
        name: String,
        seed: u64,
        token: String,
        client_setup: ClientSetup,
        rng: ChaCha8Rng,
        recorder: Recorder,
        control: Option<crate::faults::ActorControl>,
    ) -> Actor {
        let transport = Arc::new(RecordingTransport::new(name.clone(), recorder.clone()));
        let client = build_client(&name, &token, &transport, &client_setup);
        Actor {
            inner: Arc::new(Inner {
                index,
                name,
                seed,
                token,
                client,
                transport,
                client_setup,
                rng: Mutex::new(rng),
                recorder,
                control,
            }),
        }
    }

    /// The actor's DigitalOcean client: base URL [`crate::net::API_BASE_URL`] over turmoil's
    /// network, the scenario's token, header `x-dosim-actor: <name>`, and the scenario's timeout
    /// and retry policy. Every request it sends is recorded in the history.
    pub fn client(&self) -> dosim_client::Client {
        self.inner.client.clone()
    }

    /// A client builder set up like [`Actor::client`], for code that wants its own timeout or
    /// retry policy. Requests from the client it builds are recorded too.
    pub fn client_builder(&self) -> dosim_client::ClientBuilder {
        let inner = &self.inner;
        (inner.client_setup)(base_builder(&inner.name, &inner.token, &inner.transport))
    }

    /// The scenario's API token.
    pub fn token(&self) -> &str {
        &self.inner.token
    }

    /// The actor's position: 0 for `pod-0`.
    pub fn index(&self) -> usize {
        self.inner.index
    }

    /// The actor's name, e.g. `pod-0`; the host name it has on turmoil's network.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The seed of the run.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// Records what this actor believes about `key` (say, `ip-owner` is droplet 42).
    /// Checks compare beliefs with the cloud's final state and with each other.
    pub fn believe(&self, key: impl Into<String>, value: impl std::fmt::Display) {
        self.inner.recorder.believe(Belief {
            at_ms: crate::history::now_ms(),
            actor: self.inner.name.clone(),
            key: key.into(),
            value: Some(value.to_string()),
        });
    }

    /// Records that this actor no longer believes anything about `key` (it stepped down).
    pub fn forget(&self, key: impl Into<String>) {
        self.inner.recorder.believe(Belief {
            at_ms: crate::history::now_ms(),
            actor: self.inner.name.clone(),
            key: key.into(),
            value: None,
        });
    }

    /// The actor's own random stream, seeded from the run's seed and the actor's index.
    pub fn rng(&self) -> ActorRng {
        ActorRng {
            actor: self.clone(),
        }
    }

    /// Sleeps for `duration` of simulated time.
    ///
    /// Its end is a fault point: under `pct` and `dfs` an actor fault may start as the actor
    /// wakes, before it runs on (see [`crate::ActorFault`]).
    pub async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
        if let Some(control) = &self.inner.control {
            let now_ms = crate::history::now_ms();
            if crate::faults::reached_point(control, crate::faults::Point::Woke, now_ms) {
                // Stopped (or killed) here: the wrapper does not poll the actor again until
                // the pause ends, so nothing after the sleep runs before then.
                tokio::task::yield_now().await;
            }
        }
    }

    /// Simulated time since the run started.
    pub fn now(&self) -> Duration {
        Duration::from_millis(crate::history::now_ms())
    }

    /// The simulation's wall clock, for code that compares the current time with the API's
    /// timestamps (`created_at`): it reads the same simulated time the API writes them from, from
    /// the fixed epoch 2026-01-01T00:00:00Z. Pass it where production code takes a
    /// [`dosim_client::WallClock`] and gives [`dosim_client::SystemClock`].
    pub fn clock(&self) -> SimClock {
        SimClock
    }
}

/// The simulation's wall clock: 2026-01-01T00:00:00Z plus the simulated time elapsed in the run
/// (outside a simulation, the epoch itself).
#[derive(Clone, Copy, Debug, Default)]
pub struct SimClock;

impl dosim_client::WallClock for SimClock {
    fn now(&self) -> dosim_client::Timestamp {
        let epoch_ms = i64::try_from(dosim_base::EPOCH_UNIX_S * 1000).unwrap_or(i64::MAX);
        let elapsed_ms = i64::try_from(crate::history::now_ms()).unwrap_or(i64::MAX);
        dosim_client::Timestamp::from_unix_ms(epoch_ms.saturating_add(elapsed_ms))
    }
}

/// An actor's random stream; clones share it.
#[derive(Debug, Clone)]
pub struct ActorRng {
    actor: Actor,
}

impl RngCore for ActorRng {
    fn next_u32(&mut self) -> u32 {
        self.actor.inner.rng.lock().next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.actor.inner.rng.lock().next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.actor.inner.rng.lock().fill_bytes(dest);
    }
}

fn base_builder(
    name: &str,
    token: &str,
    transport: &Arc<RecordingTransport>,
) -> dosim_client::ClientBuilder {
    let transport: Arc<dyn dosim_client::Transport> = transport.clone();
    dosim_client::Client::builder()
        .base_url(crate::net::API_BASE_URL)
        .token(token)
        .header("x-dosim-actor", name)
        .transport_arc(transport)
}

fn build_client(
    name: &str,
    token: &str,
    transport: &Arc<RecordingTransport>,
    setup: &ClientSetup,
) -> dosim_client::Client {
    match setup(base_builder(name, token, transport)).build() {
        Ok(client) => client,
        // A setup that breaks the builder (a bad header, say) still yields a client: it fails
        // every call with the builder's error, which the actor then reports.
        Err(_) => dosim_client::Client::new(
            crate::net::API_BASE_URL,
            token,
            RecordingTransport::new(name.to_owned(), Recorder::default()),
        ),
    }
}
