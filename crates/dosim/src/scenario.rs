//! Scenarios: the initial cloud, the fault plan, the actors and services, the checks, and one seed's run.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::Mutex;

use crate::actor::Actor;
use crate::checks::{Check, Violation};
use crate::history::{InjectedFault, Recorder};
use crate::outcome::{ActorOutcome, ActorResult, RunOutcome, ServerOp};
use crate::seed::{self, Stream};
use crate::shrink::{FaultId, FiredFault};
use crate::strategy::Steering;

/// What one run produced, with what the harness needs to shrink and replay it.
pub(crate) struct RunRecord {
    pub(crate) outcome: RunOutcome,
    /// The faults that fired, in time order.
    pub(crate) fired: Vec<FiredFault>,
    /// Every decision of a steered run: the choice and how many there were.
    pub(crate) decisions: Vec<(u32, u32)>,
}
use crate::{Expect, Strategy};

/// The token of the scenario's account: well formed (`dop_v1_` and 64 hex digits), and fixed,
/// so reports never vary with it.
pub const TOKEN: &str = "dop_v1_d051400000000000000000000000000000000000000000000000000000000000";

/// The most actors one scenario may have; turmoil's cost grows faster than linearly in hosts.
pub const ACTORS_MAX: usize = 64;

/// The most service hosts one scenario may have.
pub const SERVICES_MAX: usize = 16;

/// The default tick: how much simulated time one step of the world advances.
pub const TICK_DEFAULT: Duration = Duration::from_millis(1);

/// The default limit on a run's simulated time.
pub const MAX_SIM_TIME_DEFAULT: Duration = Duration::from_secs(600);

/// How many seeds `explore()` runs when neither `DOSIM_SEEDS` nor `DOSIM_SEED` is set.
pub const SEEDS_DEFAULT: u64 = 50;

/// How many schedules `dfs` runs at most before it stops without covering the space.
pub const DFS_BOUND_DEFAULT: u64 = 10_000;

/// The most schedules a `dfs` bound may allow.
pub const DFS_BOUND_MAX: u64 = 10_000_000;

type BoxedActorFuture = Pin<Box<dyn Future<Output = Result<(), String>>>>;
type ActorFn = dyn Fn(Actor) -> BoxedActorFuture + Send + Sync;
type ServiceFn = dyn Fn(Actor) -> BoxedActorFuture + Send + Sync;
type CloudSetup = dyn Fn(&mut dosim_cloud::Cloud) + Send + Sync;
/// Each actor's result and end time, filled in as actors finish.
type ActorResults = Arc<Mutex<Vec<Option<(ActorResult, u64)>>>>;
pub(crate) type ClientSetup =
    Arc<dyn Fn(dosim_client::ClientBuilder) -> dosim_client::ClientBuilder + Send + Sync>;

/// A fault the harness injects into turmoil's network between two hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetFault {
    kind: NetFaultKind,
    a: String,
    b: String,
    at: Duration,
    jitter: Duration,
    lasting: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NetFaultKind {
    Partition,
    Hold,
}

impl NetFault {
    /// Cuts the link between hosts `a` and `b`: in-flight messages are lost and new ones
    /// vanish silently, so a request in flight hangs until the client's timeout.
    pub fn partition(a: impl Into<String>, b: impl Into<String>) -> NetFault {
        NetFault {
            kind: NetFaultKind::Partition,
            a: a.into(),
            b: b.into(),
            at: Duration::ZERO,
            jitter: Duration::ZERO,
            lasting: Duration::from_secs(1),
        }
    }

    /// Holds every message between `a` and `b`, then delivers them all at once.
    pub fn hold(a: impl Into<String>, b: impl Into<String>) -> NetFault {
        NetFault {
            kind: NetFaultKind::Hold,
            a: a.into(),
            b: b.into(),
            at: Duration::ZERO,
            jitter: Duration::ZERO,
            lasting: Duration::from_secs(1),
        }
    }

    /// When the fault starts, in simulated time since the run started.
    pub fn at(mut self, at: Duration) -> NetFault {
        self.at = at;
        self
    }

    /// Starts the fault at a seeded random moment in `[at, at + jitter)`.
    pub fn jitter(mut self, jitter: Duration) -> NetFault {
        self.jitter = jitter;
        self
    }

    /// How long the fault lasts.
    pub fn lasting(mut self, lasting: Duration) -> NetFault {
        self.lasting = lasting;
        self
    }
}

/// A simulation: the initial cloud, faults, actors, services and checks, and what exploring it
/// should find. Build one with [`Scenario::new`]; run it with [`Scenario::explore`] in a
/// `#[test]`, or hand several to [`crate::cli::main`].
#[derive(Clone)]
pub struct Scenario {
    pub(crate) name: String,
    pub(crate) expect: Expect,
    setup: Vec<Arc<CloudSetup>>,
    cloud_config: dosim_cloud::CloudConfig,
    rate_limit: dosim_api::RateLimitConfig,
    faults: dosim_api::FaultPlan,
    net_faults: Vec<NetFault>,
    actors: Vec<(String, Arc<ActorFn>)>,
    services: Vec<(String, Arc<ServiceFn>)>,
    databases: Vec<crate::pg::DatabaseSpec>,
    client_setup: ClientSetup,
    pub(crate) checks: Vec<Check>,
    tick: Duration,
    max_sim_time: Duration,
    message_latency: (Duration, Duration),
    pub(crate) seeds_default: u64,
    pub(crate) strategy: Strategy,
    pub(crate) pct_depth: u32,
    pub(crate) dfs_bound: u64,
    gate_window: Duration,
    pub(crate) snapshot: bool,
    pub(crate) errors: Vec<String>,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .field("expect", &self.expect)
            .field("actors", &self.actors.len())
            .field("checks", &self.checks)
            .finish_non_exhaustive()
    }
}

impl Scenario {
    /// A scenario with no actors, an empty account, no faults and no checks, expecting `clean`.
    ///
    /// The name is what `dosim list` shows and what the replay line names; use the test's name.
    pub fn new(name: impl Into<String>) -> Scenario {
        Scenario {
            name: name.into(),
            expect: Expect::Clean,
            setup: Vec::new(),
            cloud_config: dosim_cloud::CloudConfig::default(),
            rate_limit: dosim_api::RateLimitConfig::default(),
            faults: dosim_api::FaultPlan::default(),
            net_faults: Vec::new(),
            actors: Vec::new(),
            services: Vec::new(),
            databases: Vec::new(),
            client_setup: Arc::new(|builder| builder),
            checks: Vec::new(),
            tick: TICK_DEFAULT,
            max_sim_time: MAX_SIM_TIME_DEFAULT,
            message_latency: (Duration::from_millis(1), Duration::from_millis(20)),
            seeds_default: SEEDS_DEFAULT,
            strategy: Strategy::Random,
            pct_depth: crate::strategy::PCT_DEPTH_DEFAULT,
            dfs_bound: DFS_BOUND_DEFAULT,
            gate_window: crate::strategy::GATE_WINDOW_DEFAULT,
            snapshot: true,
            errors: Vec::new(),
        }
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the scenario expects.
    pub fn expectation(&self) -> Expect {
        self.expect
    }

    /// Sets up the initial cloud: droplets, volumes and reserved IPs that exist before the actors start.
    /// Runs once per seed on a fresh account, at simulated time zero.
    pub fn cloud<F>(mut self, setup: F) -> Scenario
    where
        F: Fn(&mut dosim_cloud::Cloud) + Send + Sync + 'static,
    {
        self.setup.push(Arc::new(setup));
        self
    }

    /// The account's configuration: provisioning and action times, limits, modelling choices.
    pub fn cloud_config(mut self, config: dosim_cloud::CloudConfig) -> Scenario {
        self.cloud_config = config;
        self
    }

    /// The API's rate limits per token; DigitalOcean's (5,000 per hour, 250 per minute) by
    /// default. Lower ones make a rate-limit race show up in fewer requests and less time.
    pub fn rate_limit(mut self, rate_limit: dosim_api::RateLimitConfig) -> Scenario {
        self.rate_limit = rate_limit;
        self
    }

    /// The server's fault plan: per-endpoint latency, rejections before commit, lost responses.
    pub fn faults(mut self, plan: dosim_api::FaultPlan) -> Scenario {
        self.faults = plan;
        self
    }

    /// A network fault between two hosts (actors, services or [`crate::net::API_HOST`]).
    pub fn net_fault(mut self, fault: NetFault) -> Scenario {
        self.net_faults.push(fault);
        self
    }

    /// Adds `n` actors named `pod-<index>`, each running `actor` with its own [`Actor`] context.
    ///
    /// The closure runs once per actor per seed, so it must be `Fn`; its future runs on the
    /// actor's turmoil host and need not be `Send`.
    pub fn actors<F, Fut, E>(mut self, n: usize, actor: F) -> Scenario
    where
        F: Fn(Actor) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: std::fmt::Display + 'static,
    {
        let actor: Arc<ActorFn> = Arc::new(move |cx| {
            let future = actor(cx);
            Box::pin(async move { future.await.map_err(|error| error.to_string()) })
        });
        for _ in 0..n {
            let name = format!("pod-{}", self.actors.len());
            self.actors.push((name, actor.clone()));
        }
        self
    }

    /// Adds one actor with its own host name (`standby-a`, `cleanup-job`, …).
    pub fn actor<F, Fut, E>(mut self, name: impl Into<String>, actor: F) -> Scenario
    where
        F: Fn(Actor) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: std::fmt::Display + 'static,
    {
        let actor: Arc<ActorFn> = Arc::new(move |cx| {
            let future = actor(cx);
            Box::pin(async move { future.await.map_err(|error| error.to_string()) })
        });
        self.actors.push((name.into(), actor));
        self
    }

    /// Adds a user service host (for example the user's own HTTP service between the pods and
    /// DigitalOcean). It runs for the whole run; serve on it with [`crate::net::serve_router`],
    /// and reach it from actors with [`crate::net::TurmoilConnector`] at `http://<name>:<port>`.
    /// A service that returns `Err` fails the run.
    pub fn service<F, Fut, E>(mut self, name: impl Into<String>, service: F) -> Scenario
    where
        F: Fn(Actor) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: std::fmt::Display + 'static,
    {
        let service: Arc<ServiceFn> = Arc::new(move |cx| {
            let future = service(cx);
            Box::pin(async move { future.await.map_err(|error| error.to_string()) })
        });
        self.services.push((name.into(), service));
        self
    }

    /// Adds a managed database cluster that exists before the actors start, with its data plane
    /// simulated on a host named as its connection host (see [`crate::pg`]).
    pub fn database(mut self, spec: crate::pg::DatabaseSpec) -> Scenario {
        self.databases.push(spec);
        self
    }

    /// Adds a PostgreSQL cluster called `name` in `nyc3`: [`Scenario::database`] with [`crate::pg::DatabaseSpec::pg`].
    pub fn postgres(self, name: impl Into<String>) -> Scenario {
        self.database(crate::pg::DatabaseSpec::pg(name))
    }

    /// Adjusts every actor's client: its timeout and retry policy, say. The harness sets the
    /// base URL, token, transport and `x-dosim-actor` header before this runs.
    pub fn client<F>(mut self, setup: F) -> Scenario
    where
        F: Fn(dosim_client::ClientBuilder) -> dosim_client::ClientBuilder + Send + Sync + 'static,
    {
        self.client_setup = Arc::new(setup);
        self
    }

    /// Adds a check, run after every seed.
    pub fn check(mut self, check: Check) -> Scenario {
        self.checks.push(check);
        self
    }

    /// Adds a check from a closure over the run's outcome.
    pub fn check_fn<F>(self, name: impl Into<String>, check: F) -> Scenario
    where
        F: Fn(&RunOutcome) -> Result<(), Violation> + Send + Sync + 'static,
    {
        self.check(Check::new(name, check))
    }

    /// What exploring should find: [`Expect::Race`] for a buggy variant, [`Expect::Clean`] otherwise.
    pub fn expect(mut self, expect: Expect) -> Scenario {
        self.expect = expect;
        self
    }

    /// Simulated time per step (default 1 ms). A longer tick runs faster and blurs timing.
    pub fn tick(mut self, tick: Duration) -> Scenario {
        if tick.is_zero() {
            self.errors
                .push("the tick must be longer than zero".to_owned());
        } else {
            self.tick = tick;
        }
        self
    }

    /// The most simulated time a run may take (default 600 s); actors still running then are `unfinished`.
    pub fn max_sim_time(mut self, max_sim_time: Duration) -> Scenario {
        self.max_sim_time = max_sim_time;
        self
    }

    /// The range of one-way network latency between hosts (default 1–20 ms).
    pub fn message_latency(mut self, min: Duration, max: Duration) -> Scenario {
        if max < min {
            self.errors
                .push(format!("message latency max {max:?} is below min {min:?}"));
        } else {
            self.message_latency = (min, max);
        }
        self
    }

    /// The strategy `explore()` and the command line use unless told otherwise (default `random`).
    pub fn strategy(mut self, strategy: Strategy) -> Scenario {
        self.strategy = strategy;
        self
    }

    /// PCT's depth: one more than the number of priority change points per run (default 3).
    pub fn pct_depth(mut self, depth: u32) -> Scenario {
        if depth == 0 || depth > crate::strategy::PCT_DEPTH_MAX {
            self.errors.push(format!(
                "the PCT depth must be from 1 to {}, not {depth}",
                crate::strategy::PCT_DEPTH_MAX
            ));
        } else {
            self.pct_depth = depth;
        }
        self
    }

    /// The most schedules `dfs` runs before it stops without covering the space (default 10,000).
    pub fn dfs_bound(mut self, bound: u64) -> Scenario {
        if bound == 0 || bound > DFS_BOUND_MAX {
            self.errors.push(format!(
                "the dfs bound must be from 1 to {DFS_BOUND_MAX}, not {bound}"
            ));
        } else {
            self.dfs_bound = bound;
        }
        self
    }

    /// Under `pct` and `dfs`: how long the commit gate waits, after a request reaches an idle
    /// API, for others to arrive before it picks which goes first (default 20 ms).
    pub fn gate_window(mut self, window: Duration) -> Scenario {
        self.gate_window = window;
        self
    }

    /// The strategy this scenario explores with by default.
    pub fn default_strategy(&self) -> Strategy {
        self.strategy
    }

    /// How many seeds `explore()` runs when no environment variable says otherwise.
    pub fn default_seeds(mut self, n: u64) -> Scenario {
        self.seeds_default = n.max(1);
        self
    }

    /// Whether `explore()` asserts a race's report as an insta snapshot (default true).
    pub fn snapshot(mut self, snapshot: bool) -> Scenario {
        self.snapshot = snapshot;
        self
    }

    /// How many hosts the world has: actors, services, database clusters and the API host.
    pub fn host_count(&self) -> usize {
        self.actors.len() + self.services.len() + self.databases.len() + 1
    }

    /// Runs one seed and returns everything it produced. Checks are not run; see [`Scenario::verdict`].
    pub fn run_seed(&self, seed: u64) -> RunOutcome {
        run(self, seed, &Steering::Random, None).outcome
    }

    /// Runs one seed under a strategy: `random` is [`Scenario::run_seed`]; `pct` puts the
    /// commit gate in front of the API and orders concurrent requests by PCT priorities drawn
    /// from the seed; `dfs` runs the seed's first schedule (every choice the first).
    pub fn run_seed_with(&self, seed: u64, strategy: Strategy) -> RunOutcome {
        run(self, seed, &self.steering(strategy), None).outcome
    }

    /// Runs a schedule: its seed, with every decision taken from its list.
    pub fn run_schedule(&self, schedule: &crate::strategy::Schedule) -> RunOutcome {
        let steering = Steering::Forced {
            strategy: schedule.strategy,
            choices: schedule.choices.clone(),
        };
        run(self, schedule.seed, &steering, None).outcome
    }

    /// How a strategy steers this scenario's runs.
    pub(crate) fn steering(&self, strategy: Strategy) -> Steering {
        match strategy {
            Strategy::Random => Steering::Random,
            Strategy::Pct => Steering::Pct {
                depth: self.pct_depth,
            },
            Strategy::Dfs => Steering::Forced {
                strategy: Strategy::Dfs,
                choices: Vec::new(),
            },
        }
    }

    /// Runs one seed as steered, with only the faults in `allowed` able to fire when it is
    /// given; returns the faults that fired and the decisions taken.
    pub(crate) fn run_recorded(
        &self,
        seed: u64,
        steering: &Steering,
        allowed: Option<&BTreeSet<FaultId>>,
    ) -> RunRecord {
        run(self, seed, steering, allowed)
    }

    /// Runs the checks over an outcome and returns the violations, in check order.
    pub fn verdict(&self, outcome: &RunOutcome) -> Vec<Violation> {
        self.checks
            .iter()
            .filter_map(|check| check.run(outcome).err())
            .collect()
    }

    /// Why the scenario cannot run, if it cannot (no actors, too many hosts, bad limits).
    pub fn validate(&self) -> Result<(), String> {
        let mut errors = self.errors.clone();
        if self.actors.is_empty() {
            errors.push("the scenario has no actors".to_owned());
        }
        if self.actors.len() > ACTORS_MAX {
            errors.push(format!(
                "{} actors is more than the {ACTORS_MAX} a scenario may have",
                self.actors.len()
            ));
        }
        if self.rate_limit.hourly == 0 || self.rate_limit.burst_per_minute == 0 {
            errors.push(format!(
                "rate limits of {} per hour and {} per minute refuse every request; both must be at least 1",
                self.rate_limit.hourly, self.rate_limit.burst_per_minute
            ));
        }
        if self.services.len() > SERVICES_MAX {
            errors.push(format!(
                "{} services is more than the {SERVICES_MAX} a scenario may have",
                self.services.len()
            ));
        }
        let mut names: Vec<&str> = self
            .actors
            .iter()
            .map(|(name, _)| name.as_str())
            .chain(self.services.iter().map(|(name, _)| name.as_str()))
            .collect();
        names.push(crate::net::API_HOST);
        names.sort_unstable();
        for pair in names.windows(2) {
            if pair[0] == pair[1] {
                errors.push(format!("two hosts are named {}", pair[0]));
            }
        }
        if let Err(error) = self.faults.validate() {
            errors.push(format!("fault plan: {error}"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "scenario {} is invalid: {}",
                self.name,
                errors.join("; ")
            ))
        }
    }
}

/// The server's clock: turmoil's simulated time, held at its last reading outside the simulation
/// (during setup, and when the final state is read).
#[derive(Debug, Default)]
struct TurmoilClock {
    last_ms: std::sync::atomic::AtomicU64,
}

impl dosim_api::Clock for TurmoilClock {
    fn elapsed(&self) -> Duration {
        use std::sync::atomic::Ordering;
        if let Some(elapsed) = turmoil::sim_elapsed() {
            let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
            self.last_ms.fetch_max(ms, Ordering::SeqCst);
        }
        Duration::from_millis(self.last_ms.load(Ordering::SeqCst))
    }
}

/// Catches a panic in the actor's code so the run records it instead of unwinding the simulation.
struct CatchUnwind<F> {
    future: Pin<Box<F>>,
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.future.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(crate::panic_message(&*panic))),
        }
    }
}

/// A scheduled network fault, with its start drawn from the seed.
struct ScheduledNetFault {
    fault: NetFault,
    index: usize,
    enabled: bool,
    start_ms: u64,
    end_ms: u64,
    started: bool,
    ended: bool,
}

fn run(
    scenario: &Scenario,
    seed: u64,
    steering: &Steering,
    allowed: Option<&BTreeSet<FaultId>>,
) -> RunRecord {
    let strategy = steering.strategy();
    let record = |outcome: RunOutcome| RunRecord {
        outcome,
        fired: Vec::new(),
        decisions: Vec::new(),
    };
    let empty = |error: String| RunOutcome {
        scenario: scenario.name.clone(),
        seed,
        strategy,
        actors: Vec::new(),
        ops: Vec::new(),
        server_ops: Vec::new(),
        faults: Vec::new(),
        beliefs: Vec::new(),
        initial_state: Default::default(),
        final_state: Default::default(),
        sim_ms: 0,
        steps: 0,
        sim_error: Some(error),
        ops_dropped: 0,
        databases: Vec::new(),
    };
    if let Err(error) = scenario.validate() {
        return record(empty(error));
    }

    let clock = Arc::new(TurmoilClock::default());
    let server_seed = seed::derive(seed, Stream::Cloud);
    let server = dosim_api::Server::new(dosim_api::ServerConfig {
        seed: server_seed,
        cloud: scenario.cloud_config.clone(),
        rate_limit: scenario.rate_limit,
        faults: scenario.faults.clone(),
        base_url: Some(crate::net::API_BASE_URL.to_owned()),
        clock: clock.clone(),
        ..Default::default()
    });
    // A steered run's decisions, shared by the commit gate and the fault decider.
    let decisions = (*steering != Steering::Random).then(|| {
        let hosts: Vec<String> = scenario
            .actors
            .iter()
            .map(|(name, _)| name.clone())
            .chain(scenario.services.iter().map(|(name, _)| name.clone()))
            .collect();
        Arc::new(crate::strategy::Decisions::new(
            steering.clone(),
            &hosts,
            &mut seed::rng(seed, Stream::Schedule),
        ))
    });
    // Draws as the server's own decider would, and records what fired for shrinking.
    let fired_decisions = crate::shrink::FiredDecisions::default();
    server.set_fault_decider(Box::new(crate::shrink::RecordingDecider::new(
        server_seed,
        decisions.clone(),
        allowed.map(|allowed| {
            allowed
                .iter()
                .copied()
                .filter(|id| matches!(id, FaultId::Server { .. }))
                .collect()
        }),
        fired_decisions.clone(),
    )));
    for setup in &scenario.setup {
        let setup = setup.clone();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            server.with_account(TOKEN, |cloud| setup(cloud))
        }));
        if let Err(panic) = result {
            return record(empty(format!(
                "the scenario's cloud setup panicked: {}",
                crate::panic_message(&*panic)
            )));
        }
    }
    let databases = match crate::pg::create(&server, TOKEN, &scenario.databases, seed) {
        Ok(databases) => databases,
        Err(error) => return record(empty(error)),
    };
    let initial_state = crate::state::snapshot(&server, TOKEN);

    let recorder = Recorder::default();
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(seed)
        .epoch(seed::epoch())
        .tick_duration(scenario.tick)
        .simulation_duration(scenario.max_sim_time)
        .min_message_latency(scenario.message_latency.0)
        .max_message_latency(scenario.message_latency.1);
    let mut sim = builder.build();

    let router = match &decisions {
        None => server.router(),
        Some(decisions) => crate::strategy::gated(
            server.router(),
            crate::strategy::Gate::new(decisions.clone(), scenario.gate_window),
        ),
    };
    sim.host(crate::net::API_HOST, move || {
        let router = router.clone();
        async move {
            crate::net::serve_router(router, crate::net::API_PORT).await?;
            Ok(())
        }
    });

    for database in &databases {
        crate::pg::host(
            &mut sim,
            database,
            recorder.clone(),
            Arc::new(dosim_base::gate::Open),
        );
    }
    // Actors find the clusters' connection details through this guard while the run lasts.
    let pg_guard = crate::pg::enter(&databases);

    let service_errors: Arc<Mutex<Vec<String>>> = Arc::default();
    for (index, (name, service)) in scenario.services.iter().enumerate() {
        let (name, service, recorder, client_setup, errors) = (
            name.clone(),
            service.clone(),
            recorder.clone(),
            scenario.client_setup.clone(),
            service_errors.clone(),
        );
        let index_u32 = u32::try_from(index).unwrap_or(u32::MAX);
        sim.host(name.clone(), move || {
            let cx = Actor::new(
                index,
                name.clone(),
                seed,
                TOKEN.to_owned(),
                client_setup.clone(),
                seed::rng(seed, Stream::Service(index_u32)),
                recorder.clone(),
            );
            let future = CatchUnwind {
                future: Box::pin(service(cx)),
            };
            let (name, errors) = (name.clone(), errors.clone());
            async move {
                let failure = match future.await {
                    Ok(Ok(())) => return Ok(()),
                    Ok(Err(error)) => format!("service {name} failed: {error}"),
                    Err(panic) => format!("service {name} panicked: {panic}"),
                };
                errors.lock().push(failure.clone());
                Err(failure.into())
            }
        });
    }

    let results: ActorResults = Arc::new(Mutex::new(vec![None; scenario.actors.len()]));
    for (index, (name, actor)) in scenario.actors.iter().enumerate() {
        let index_u32 = u32::try_from(index).unwrap_or(u32::MAX);
        let cx = Actor::new(
            index,
            name.clone(),
            seed,
            TOKEN.to_owned(),
            scenario.client_setup.clone(),
            seed::rng(seed, Stream::Actor(index_u32)),
            recorder.clone(),
        );
        let future = CatchUnwind {
            future: Box::pin(actor(cx)),
        };
        let results = results.clone();
        sim.client(name.as_str(), async move {
            let result = match future.await {
                Ok(Ok(())) => ActorResult::Ok,
                Ok(Err(message)) => ActorResult::Err { message },
                Err(message) => ActorResult::Panicked { message },
            };
            results.lock()[index] = Some((result, crate::history::now_ms()));
            Ok(())
        });
    }

    let mut network_rng = seed::rng(seed, Stream::Network);
    let mut scheduled: Vec<ScheduledNetFault> = scenario
        .net_faults
        .iter()
        .enumerate()
        .map(|(index, fault)| {
            let jitter_ms = u64::try_from(fault.jitter.as_millis()).unwrap_or(u64::MAX);
            let offset_ms = if jitter_ms == 0 {
                0
            } else {
                rand::Rng::random_range(&mut network_rng, 0..jitter_ms)
            };
            let start_ms = u64::try_from(fault.at.as_millis())
                .unwrap_or(u64::MAX)
                .saturating_add(offset_ms);
            let end_ms = start_ms
                .saturating_add(u64::try_from(fault.lasting.as_millis()).unwrap_or(u64::MAX));
            ScheduledNetFault {
                fault: fault.clone(),
                index,
                // Every start is drawn above, allowed or not, so the stream stays aligned.
                enabled: allowed.is_none_or(|allowed| allowed.contains(&FaultId::Net { index })),
                start_ms,
                end_ms,
                started: false,
                ended: false,
            }
        })
        .collect();

    let mut steps = 0u64;
    let mut sim_error = None;
    let mut fired = Vec::new();
    loop {
        let now_ms = u64::try_from(sim.elapsed().as_millis()).unwrap_or(u64::MAX);
        apply_net_faults(&sim, &mut scheduled, now_ms, &recorder, &mut fired);
        steps += 1;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.step())) {
            Ok(Ok(true)) => break,
            Ok(Ok(false)) => {}
            Ok(Err(error)) => {
                let message = error.to_string();
                // turmoil's own time-limit message names wall-independent values only.
                sim_error = Some(if message.starts_with("Ran for duration") {
                    format!(
                        "the run reached its simulated-time limit of {}",
                        crate::report::seconds(
                            u64::try_from(scenario.max_sim_time.as_millis()).unwrap_or(u64::MAX)
                        )
                    )
                } else {
                    message
                });
                break;
            }
            Err(panic) => {
                sim_error = Some(format!(
                    "the simulation panicked: {}",
                    crate::panic_message(&*panic)
                ));
                break;
            }
        }
    }
    let sim_ms = u64::try_from(sim.elapsed().as_millis()).unwrap_or(u64::MAX);
    // Dropping the world closes every connection, which rolls back what was not committed.
    drop(sim);
    drop(pg_guard);
    crate::pg::finish(&databases, sim_ms);

    let final_state = crate::state::snapshot(&server, TOKEN);
    let recorded = recorder.snapshot();
    let mut faults = recorded.faults;
    let mut server_ops = Vec::new();
    let history = server.history();
    for (id, request_seq) in fired_decisions.lock().iter() {
        let entry = history.iter().find(|entry| entry.seq == *request_seq);
        fired.push(crate::shrink::describe_server_fault(
            *id,
            entry,
            &scenario.faults,
        ));
    }
    fired.sort_by_key(|fault| fault.at_ms);
    for entry in history {
        // Latency is on nearly every request; the history keeps it, the fault list keeps the
        // faults that change what a client sees.
        if let Some(fault) = entry
            .fault
            .as_ref()
            .filter(|fault| !matches!(fault, dosim_api::InjectedFault::Latency { .. }))
        {
            faults.push(server_fault(&entry, fault));
        }
        server_ops.push(ServerOp {
            request_id: entry.request_id.clone(),
            actor: entry.actor.clone(),
            method: entry.method.clone(),
            target: entry.path.clone(),
            status: entry.status,
            arrived_ms: entry.received_ms,
            commit_ms: entry.committed_ms,
            fault: entry.fault.as_ref().map(describe_server_fault),
        });
    }
    faults.sort_by_key(|fault| fault.at_ms);

    let results = results.lock().clone();
    let actors = scenario
        .actors
        .iter()
        .zip(results)
        .map(|((name, _), result)| match result {
            Some((result, end_ms)) => ActorOutcome {
                name: name.clone(),
                result,
                end_ms: Some(end_ms),
            },
            None => ActorOutcome {
                name: name.clone(),
                result: ActorResult::Unfinished,
                end_ms: None,
            },
        })
        .collect();
    if sim_error.is_none() {
        sim_error = service_errors.lock().first().cloned();
    }

    let outcome = RunOutcome {
        scenario: scenario.name.clone(),
        seed,
        strategy,
        actors,
        ops: recorded.ops,
        server_ops,
        faults,
        beliefs: recorded.beliefs,
        initial_state,
        final_state,
        sim_ms,
        steps,
        sim_error,
        ops_dropped: recorded.ops_dropped,
        databases,
    };
    RunRecord {
        outcome,
        fired,
        decisions: decisions.map_or_else(Vec::new, |decisions| decisions.taken()),
    }
}

fn apply_net_faults(
    sim: &turmoil::Sim<'_>,
    scheduled: &mut [ScheduledNetFault],
    now_ms: u64,
    recorder: &Recorder,
    fired: &mut Vec<FiredFault>,
) {
    for entry in scheduled.iter_mut().filter(|entry| entry.enabled) {
        let (a, b) = (entry.fault.a.as_str(), entry.fault.b.as_str());
        if !entry.started && now_ms >= entry.start_ms {
            entry.started = true;
            let lasting = crate::report::seconds(entry.end_ms - entry.start_ms);
            fired.push(FiredFault {
                id: FaultId::Net { index: entry.index },
                at_ms: now_ms,
                sentence: match entry.fault.kind {
                    NetFaultKind::Partition => format!(
                        "the network between {a} and {b} was cut at {} for {lasting}",
                        crate::report::seconds(now_ms)
                    ),
                    NetFaultKind::Hold => format!(
                        "messages between {a} and {b} were held at {} for {lasting}",
                        crate::report::seconds(now_ms)
                    ),
                },
            });
            let kind = match entry.fault.kind {
                NetFaultKind::Partition => {
                    sim.partition(a, b);
                    "partition"
                }
                NetFaultKind::Hold => {
                    sim.hold(a, b);
                    "hold"
                }
            };
            recorder.fault(InjectedFault {
                at_ms: now_ms,
                kind: kind.to_owned(),
                target: format!("{a} <-> {b}"),
                detail: format!(
                    "for {}",
                    crate::report::seconds(entry.end_ms - entry.start_ms)
                ),
            });
        }
        if entry.started && !entry.ended && now_ms >= entry.end_ms {
            entry.ended = true;
            match entry.fault.kind {
                NetFaultKind::Partition => sim.repair(a, b),
                NetFaultKind::Hold => sim.release(a, b),
            }
        }
    }
}

fn server_fault(
    entry: &dosim_api::HistoryEntry,
    fault: &dosim_api::InjectedFault,
) -> InjectedFault {
    InjectedFault {
        at_ms: entry.received_ms,
        kind: describe_server_fault(fault),
        target: format!("{} {}", entry.method, entry.path),
        detail: format!(
            "{}, request {}",
            entry.actor,
            crate::history::short(&entry.request_id)
        ),
    }
}

fn describe_server_fault(fault: &dosim_api::InjectedFault) -> String {
    match fault {
        dosim_api::InjectedFault::Latency { latency_ms, .. } => format!("latency {latency_ms}ms"),
        dosim_api::InjectedFault::Reject { status, body, .. } => format!(
            "reject {status}{}",
            if matches!(body, dosim_api::RejectBody::Html) {
                " (HTML body)"
            } else {
                ""
            }
        ),
        dosim_api::InjectedFault::DropResponse { mode, hang_ms, .. } => match mode {
            dosim_api::DropMode::Reset => "commit, then reset the connection".to_owned(),
            dosim_api::DropMode::Hang => format!("commit, then hang {hang_ms}ms and reset"),
        },
    }
}
