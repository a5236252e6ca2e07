//! Scenarios: the initial cloud, the fault plan, the actors and services, the checks, and one seed's run.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::actor::Actor;
use crate::checks::{Check, Violation};
use crate::faults::{ActorFault, NetFault};
use crate::outcome::RunOutcome;
use crate::report::Report;
use crate::run::RunSpec;
use crate::strategy::Steering;
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

/// How many injected faults one `dfs` schedule may fire, by default.
pub const DFS_FAULTS_DEFAULT: u32 = 1;

/// The most injected faults a `dfs` fault bound may allow.
pub const DFS_FAULTS_MAX: u32 = 64;

/// How many operations one `dfs` schedule may delay, unless the scenario says otherwise.
pub const DFS_DELAYS_DEFAULT: u32 = 1;

/// The most delays one `dfs` schedule may be allowed.
pub const DFS_DELAYS_MAX: u32 = 64;

/// The longest delay a scenario may allow.
pub const DELAY_MAX_LIMIT: Duration = Duration::from_secs(3600);

/// The most schedules a `dfs` bound may allow.
pub const DFS_BOUND_MAX: u64 = 10_000_000;

type BoxedActorFuture = Pin<Box<dyn Future<Output = Result<(), String>>>>;
pub(crate) type ActorFn = dyn Fn(Actor) -> BoxedActorFuture + Send + Sync;
type ServiceFn = dyn Fn(Actor) -> BoxedActorFuture + Send + Sync;

/// An actor's or a service's closure as the run holds it: its future boxed, its error as the
/// chain of messages a report shows.
fn boxed<F, Fut, E>(f: F) -> Arc<ActorFn>
where
    F: Fn(Actor) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + 'static,
    E: Into<Box<dyn std::error::Error>> + 'static,
{
    Arc::new(move |cx| {
        let future = f(cx);
        Box::pin(async move { future.await.map_err(|error| error_chain(&*error.into())) })
    })
}
type CloudSetup = dyn Fn(&mut dosim_cloud::Cloud) + Send + Sync;

/// A simulation: the initial cloud, faults, actors, services and checks, and what exploring it
/// should find. Build one with [`Scenario::new`]; run it with [`Scenario::explore`] in a
/// `#[test]`, or hand several to [`crate::cli::main`].
#[derive(Clone)]
pub struct Scenario {
    pub(crate) name: String,
    pub(crate) expect: Expect,
    pub(crate) setup: Vec<Arc<CloudSetup>>,
    pub(crate) cloud_config: dosim_cloud::CloudConfig,
    pub(crate) rate_limit: dosim_api::RateLimitConfig,
    pub(crate) faults: dosim_api::FaultPlan,
    pub(crate) net_faults: Vec<NetFault>,
    pub(crate) actor_faults: Vec<ActorFault>,
    pub(crate) actors: Vec<(String, Arc<ActorFn>)>,
    pub(crate) services: Vec<(String, Arc<ServiceFn>)>,
    pub(crate) databases: Vec<crate::pg::DatabaseSpec>,
    pub(crate) spaces: Option<crate::spaces::SpacesSpec>,
    pub(crate) client_setup: crate::actor::ClientSetup,
    pub(crate) checks: Vec<Check>,
    pub(crate) tick: Duration,
    pub(crate) max_sim_time: Duration,
    pub(crate) message_latency: (Duration, Duration),
    pub(crate) seeds_default: u64,
    pub(crate) strategy: Strategy,
    pub(crate) pct_depth: u32,
    pub(crate) dfs_bound: u64,
    pub(crate) dfs_faults: u32,
    pub(crate) dfs_delays: u32,
    pub(crate) delay_max: crate::gate::DelayMax,
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
            actor_faults: Vec::new(),
            actors: Vec::new(),
            services: Vec::new(),
            databases: Vec::new(),
            spaces: None,
            client_setup: Arc::new(|builder| builder),
            checks: Vec::new(),
            tick: TICK_DEFAULT,
            max_sim_time: MAX_SIM_TIME_DEFAULT,
            message_latency: (Duration::from_millis(1), Duration::from_millis(20)),
            seeds_default: SEEDS_DEFAULT,
            strategy: Strategy::Random,
            pct_depth: crate::strategy::PCT_DEPTH_DEFAULT,
            dfs_bound: DFS_BOUND_DEFAULT,
            dfs_faults: DFS_FAULTS_DEFAULT,
            dfs_delays: DFS_DELAYS_DEFAULT,
            delay_max: crate::gate::DelayMax::default(),
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

    /// A network fault between actors, services, the API ([`crate::Endpoint::api`]) and
    /// managed databases ([`crate::Endpoint::database`]); shrinking names it `net.<n>`, `n`
    /// counting the scenario's network faults from 0.
    pub fn net_fault(mut self, fault: NetFault) -> Scenario {
        self.net_faults.push(fault);
        self
    }

    /// A pause or crash of one actor; shrinking names it `pause.<n>` or `crash.<n>`, `n`
    /// counting the scenario's actor faults (pauses and crashes together) from 0.
    pub fn actor_fault(mut self, fault: ActorFault) -> Scenario {
        self.actor_faults.push(fault);
        self
    }

    /// Adds `n` actors named `pod-<index>`, each running `actor` with its own [`Actor`] context.
    ///
    /// The closure runs once per actor per seed (and again at each restart after an
    /// [`ActorFault::crash`]), so it must be `Fn`; its future runs on the
    /// actor's turmoil host and need not be `Send`.
    pub fn actors<F, Fut, E>(mut self, n: usize, actor: F) -> Scenario
    where
        F: Fn(Actor) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Into<Box<dyn std::error::Error>> + 'static,
    {
        let actor = boxed(actor);
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
        E: Into<Box<dyn std::error::Error>> + 'static,
    {
        let actor = boxed(actor);
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
        E: Into<Box<dyn std::error::Error>> + 'static,
    {
        let service: Arc<ServiceFn> = boxed(service);
        self.services.push((name.into(), service));
        self
    }

    /// Serves Spaces at `{region}.digitaloceanspaces.com` with the spec's buckets and a key pair with full access: see [`crate::spaces`].
    pub fn spaces(mut self, spec: crate::spaces::SpacesSpec) -> Scenario {
        self.spaces = Some(spec);
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

    /// How many injected faults one `dfs` schedule may fire (default 1, like PCT's depth): a
    /// fault decision after that many is "no fault" and no branch, so a fixed variant with
    /// retries is not failed by a combination of faults no plan would produce.
    pub fn dfs_faults(mut self, faults: u32) -> Scenario {
        if faults > DFS_FAULTS_MAX {
            self.errors.push(format!(
                "the dfs fault bound must be from 0 to {DFS_FAULTS_MAX}, not {faults}"
            ));
        } else {
            self.dfs_faults = faults;
        }
        self
    }

    /// How many operations one `dfs` schedule may delay (default 1): dfs decides at each
    /// operation reaching the gate whether to hold it at its server until another host's
    /// operation commits, until that many have been delayed.
    pub fn dfs_delays(mut self, delays: u32) -> Scenario {
        if delays > DFS_DELAYS_MAX {
            self.errors.push(format!(
                "the dfs delay bound must be from 0 to {DFS_DELAYS_MAX}, not {delays}"
            ));
        } else {
            self.dfs_delays = delays;
        }
        self
    }

    /// The longest `pct` and `dfs` hold a delayed operation of any plane at its server when no
    /// other host's operation commits or waits first; zero turns a delay into no more than a
    /// drop to the lowest priority. A delay is what a slow server or network can do to any
    /// request, so a correct program survives it; keep it below the clients' own timeouts to
    /// explore late commits rather than timeouts. By default 5 s for API requests, SQL
    /// statements and Spaces requests, and 400 ms for Valkey commands (redis-rs gives up after
    /// 500 ms); see [`Scenario::delay_max_for`].
    pub fn delay_max(mut self, delay_max: Duration) -> Scenario {
        if self.valid_delay_max(delay_max) {
            self.delay_max.set_all(delay_max);
        }
        self
    }

    /// [`Scenario::delay_max`] for the operations of one plane.
    pub fn delay_max_for(mut self, plane: crate::Plane, delay_max: Duration) -> Scenario {
        if self.valid_delay_max(delay_max) {
            self.delay_max.set(plane, delay_max);
        }
        self
    }

    fn valid_delay_max(&mut self, delay_max: Duration) -> bool {
        if delay_max > DELAY_MAX_LIMIT {
            self.errors.push(format!(
                "the longest delay must be at most {} s, not {} ms",
                DELAY_MAX_LIMIT.as_secs(),
                delay_max.as_millis()
            ));
            return false;
        }
        true
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

    /// Runs one seed (or any [`RunSpec`]: a strategy, a schedule, a set of allowed faults) and
    /// returns everything it produced. Checks are not run; see [`Scenario::verdict`].
    pub fn run(&self, spec: impl Into<RunSpec>) -> RunOutcome {
        crate::run::run(self, &spec.into()).outcome
    }

    /// The report of one run, as `explore` and `replay` show it: when a check fails, its first
    /// section is the minimal set of injected faults under which that check still fails.
    pub fn report(&self, spec: impl Into<RunSpec>) -> Report {
        let spec = spec.into();
        let record = crate::run::run(self, &spec);
        let violations = self.verdict(&record.outcome);
        crate::shrink::report(self, &spec.steering(self), &record, violations)
    }

    /// How a strategy steers this scenario's runs.
    pub(crate) fn steering(&self, strategy: Strategy) -> Steering {
        RunSpec::seed(0).strategy(strategy).steering(self)
    }

    /// Explores the scenario inside a `#[test]`, panicking with the report when the outcome
    /// differs from the expectation.
    ///
    /// - Seeds: `DOSIM_SEED=N` replays one seed (and prints its report); `DOSIM_SEEDS=A..B`
    ///   widens the sweep; otherwise the scenario's default (50 seeds from 0).
    /// - `Expect::Clean`: the first seed that breaks a check fails the test with its report.
    /// - `Expect::Race`: the test passes when a seed breaks a check, and the report of the
    ///   first such seed in the default sweep is asserted as an insta snapshot named after the
    ///   scenario, in the `snapshots/` folder next to the calling test. Review new or changed
    ///   reports with `cargo insta review`; with `CI` set, insta never writes them.
    /// - A seed whose two runs differ fails the test as nondeterminism, never as a race.
    /// - `DOSIM_JOBS=N` runs the sweep on `N` threads (default one); the result does not change.
    #[track_caller]
    pub fn explore(&self) {
        crate::explore::explore_in_test(self, std::panic::Location::caller());
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
        errors.extend(crate::faults::validate(self));
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

/// An actor's error with every cause under it, so that `db error` says which one: each cause's
/// text joined with `: `, a database error as its SQLSTATE and message.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = describe_error(error);
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = describe_error(cause);
        // Many errors repeat their cause in their own text; say each thing once.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    match error.downcast_ref::<tokio_postgres::error::DbError>() {
        Some(db) => format!(
            "{} {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => error.to_string(),
    }
}
