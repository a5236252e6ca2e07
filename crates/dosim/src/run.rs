//! One seed's run, in the order it happens: build the world (the account, the API host, the
//! database hosts), host the services and actors, schedule the faults, step the simulation,
//! collect what it produced.
//!
//! A [`RunSpec`] says which run: its seed, how its decisions are steered (a strategy, or a
//! schedule's recorded decisions) and which injected faults may fire. Every way of running a
//! scenario (a sweep, a replay, a shrink, a benchmark) comes through `run`.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::Mutex;

use crate::actor::Actor;
use crate::faults::{FaultId, FaultSet, FiredFault};
use crate::gate::RunGate;
use crate::history::Recorder;
use crate::outcome::{ActorOutcome, ActorResult, RunOutcome, ServerOp};
use crate::scenario::{Scenario, TOKEN};
use crate::seed::{self, Stream};
use crate::strategy::{Schedule, Steering};
use crate::Strategy;

/// Which run of a scenario: a seed, how its decisions are steered, and which injected faults
/// may fire. A bare seed converts into one (`scenario.run(7)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    seed: u64,
    strategy: Strategy,
    /// PCT's depth, when not the scenario's own.
    pct_depth: Option<u32>,
    /// The decisions to take, for a replayed schedule.
    choices: Option<Vec<u32>>,
    /// dfs's bound on the faults one schedule may fire, when not the scenario's own.
    dfs_faults: Option<u32>,
    /// dfs's bound on the operations one schedule may delay, when not the scenario's own.
    dfs_delays: Option<u32>,
    /// When set, only these injected faults fire.
    faults: Option<BTreeSet<FaultId>>,
}

impl RunSpec {
    /// The run of `seed` under `random`, with every fault the plan draws.
    pub fn seed(seed: u64) -> RunSpec {
        RunSpec {
            seed,
            strategy: Strategy::Random,
            pct_depth: None,
            choices: None,
            dfs_faults: None,
            dfs_delays: None,
            faults: None,
        }
    }

    /// The run of a schedule: its seed, with every decision taken from its list.
    pub fn schedule(schedule: &Schedule) -> RunSpec {
        RunSpec {
            seed: schedule.seed,
            strategy: schedule.strategy,
            pct_depth: None,
            choices: Some(schedule.choices.clone()),
            dfs_faults: None,
            dfs_delays: None,
            faults: None,
        }
    }

    /// Under a strategy: `pct` orders concurrent operations by PCT priorities drawn from the
    /// seed; `dfs` runs the seed's first schedule (every choice the first).
    pub fn strategy(mut self, strategy: Strategy) -> RunSpec {
        self.strategy = strategy;
        self
    }

    /// PCT's depth for this run, instead of the scenario's.
    pub fn pct_depth(mut self, depth: u32) -> RunSpec {
        self.pct_depth = Some(depth);
        self
    }

    /// Only these injected faults fire: every other rejection, lost response or network fault
    /// is forced off, and each allowed one fires when its decision comes up. This replays a
    /// shrunk report's minimal set.
    pub fn faults(mut self, faults: &FaultSet) -> RunSpec {
        self.faults = Some(faults.0.clone());
        self
    }

    /// The run's seed.
    pub fn seed_value(&self) -> u64 {
        self.seed
    }

    /// The run of `seed` steered as given.
    pub(crate) fn steered(seed: u64, steering: &Steering) -> RunSpec {
        let spec = RunSpec::seed(seed).strategy(steering.strategy());
        match steering {
            Steering::Random => spec,
            Steering::Pct { depth } => spec.pct_depth(*depth),
            Steering::Forced {
                choices,
                faults_max,
                delays_max,
                ..
            } => RunSpec {
                choices: Some(choices.clone()),
                dfs_faults: *faults_max,
                dfs_delays: *delays_max,
                ..spec
            },
        }
    }

    /// The same run with only `allowed` faults able to fire.
    pub(crate) fn allowing(mut self, allowed: BTreeSet<FaultId>) -> RunSpec {
        self.faults = Some(allowed);
        self
    }

    /// How this run's decisions are made, for `scenario`.
    pub(crate) fn steering(&self, scenario: &Scenario) -> Steering {
        match (&self.choices, self.strategy) {
            (Some(choices), strategy) => Steering::Forced {
                strategy,
                choices: choices.clone(),
                faults_max: self.dfs_faults,
                delays_max: self.dfs_delays,
            },
            (None, Strategy::Random) => Steering::Random,
            (None, Strategy::Pct) => Steering::Pct {
                depth: self.pct_depth.unwrap_or(scenario.pct_depth),
            },
            (None, Strategy::Dfs) => Steering::Forced {
                strategy: Strategy::Dfs,
                choices: Vec::new(),
                faults_max: Some(self.dfs_faults.unwrap_or(scenario.dfs_faults)),
                delays_max: Some(self.dfs_delays.unwrap_or(scenario.dfs_delays)),
            },
        }
    }
}

impl From<u64> for RunSpec {
    fn from(seed: u64) -> RunSpec {
        RunSpec::seed(seed)
    }
}

impl From<&RunSpec> for RunSpec {
    fn from(spec: &RunSpec) -> RunSpec {
        spec.clone()
    }
}

/// What one run produced, with what the harness needs to shrink and replay it.
pub(crate) struct RunRecord {
    pub(crate) outcome: RunOutcome,
    /// The faults that fired, in time order.
    pub(crate) fired: Vec<FiredFault>,
    /// Every decision of a steered run: the choice and how many there were.
    pub(crate) decisions: Vec<(u32, u32)>,
    /// For each decision, whether it was about a fault (whether or where one starts).
    pub(crate) kinds: Vec<crate::strategy::DecisionKind>,
    /// How many of a steered run's fault decisions fired.
    pub(crate) faults_fired: u32,
    /// How many operations a steered run delayed.
    pub(crate) delays: u32,
}

/// Each actor's result and end time, filled in as actors finish.
type ActorResults = Arc<Mutex<Vec<Option<(ActorResult, u64)>>>>;

/// Runs one seed of `scenario` as `spec` says.
#[inline(never)] // counted by name in scripts/floor-instructions.py
pub(crate) fn run(scenario: &Scenario, spec: &RunSpec) -> RunRecord {
    let steering = spec.steering(scenario);
    let refused = |error: String| RunRecord {
        outcome: RunOutcome::refused(scenario.name(), spec.seed, steering.strategy(), error),
        fired: Vec::new(),
        decisions: Vec::new(),
        kinds: Vec::new(),
        faults_fired: 0,
        delays: 0,
    };
    if let Err(error) = scenario.validate() {
        return refused(error);
    }
    let mut world = match World::build(scenario, spec, &steering) {
        Ok(world) => world,
        Err(error) => return refused(error),
    };
    // A steered strategy may start actor faults at fault points instead of their drawn moment.
    let mut points_rng = seed::rng(spec.seed, Stream::FaultPoints);
    let decisions = world.decisions.clone();
    let mut choose_point = || match &decisions {
        Some(decisions) => {
            decisions.choose_fault_point(crate::faults::FAULT_POINTS_MAX, &mut points_rng)
        }
        None => crate::strategy::FaultPoint::Drawn,
    };
    let mut faults = match crate::faults::schedule(
        scenario,
        &world.databases,
        &mut seed::rng(spec.seed, Stream::Network),
        spec.faults.as_ref(),
        &mut choose_point,
        decisions.as_ref(),
    ) {
        Ok(faults) => faults,
        Err(error) => return refused(error),
    };
    world.host_services(scenario);
    world.host_actors(scenario, faults.controls());
    let stepped = world.step(scenario, &mut faults);
    world.collect(scenario, stepped)
}

/// A run's world while it runs: the server, the turmoil simulation, and what is being recorded.
struct World<'a> {
    seed: u64,
    strategy: Strategy,
    server: dosim_api::Server,
    sim: turmoil::Sim<'a>,
    recorder: Recorder,
    decisions: Option<Arc<crate::strategy::Decisions>>,
    gate: Arc<RunGate>,
    /// The hosts whose operations pass the gate: the API and every database.
    gated_servers: BTreeSet<std::net::IpAddr>,
    fired_decisions: crate::faults::FiredDecisions,
    databases: Vec<crate::pg::RunDatabase>,
    pg_guard: crate::pg::RunGuard,
    valkey_clusters: Vec<crate::valkey::RunValkey>,
    valkey_guard: crate::valkey::RunGuard,
    spaces: Option<crate::spaces::RunSpaces>,
    spaces_guard: crate::spaces::RunGuard,
    initial_state: crate::state::CloudState,
    service_errors: Arc<Mutex<Vec<String>>>,
    results: ActorResults,
}

/// How the step loop ended.
struct Stepped {
    steps: u64,
    sim_ms: u64,
    sim_error: Option<String>,
    fired: Vec<FiredFault>,
}

impl World<'_> {
    /// The account with the scenario's initial cloud and databases, the server in front of it
    /// (steered when the strategy steers), and a turmoil world serving it.
    fn build(scenario: &Scenario, spec: &RunSpec, steering: &Steering) -> Result<Self, String> {
        let seed = spec.seed;
        let server_seed = seed::derive(seed, Stream::Cloud);
        let server = dosim_api::Server::new(dosim_api::ServerConfig {
            seed: server_seed,
            cloud: scenario.cloud_config.clone(),
            rate_limit: scenario.rate_limit,
            faults: scenario.faults.clone(),
            base_url: Some(crate::net::API_BASE_URL.to_owned()),
            clock: Arc::new(TurmoilClock::default()),
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
        let fired_decisions = crate::faults::FiredDecisions::default();
        server.set_fault_decider(Box::new(crate::faults::RecordingDecider::new(
            server_seed,
            decisions.clone(),
            spec.faults.as_ref().map(|allowed| {
                allowed
                    .iter()
                    .copied()
                    .filter(|id| matches!(id, FaultId::Server { .. }))
                    .collect()
            }),
            fired_decisions.clone(),
        )));
        for setup in &scenario.setup {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                server.with_account(TOKEN, |cloud| setup(cloud))
            }));
            if let Err(panic) = result {
                return Err(format!(
                    "the scenario's cloud setup panicked: {}",
                    crate::panic_message(&*panic)
                ));
            }
        }
        let (valkey_specs, pg_specs): (Vec<_>, Vec<_>) = scenario
            .databases
            .iter()
            .partition(|spec| spec.engine == "valkey");
        let pg_specs: Vec<crate::pg::DatabaseSpec> = pg_specs.into_iter().cloned().collect();
        let databases = crate::pg::create(&server, TOKEN, &pg_specs, seed)?;
        if !databases.is_empty() {
            server.set_data_plane(std::sync::Arc::new(crate::pg::Plane::new(&databases)));
        }
        let valkey_clusters = crate::valkey::create(&server, TOKEN, &valkey_specs, seed)?;
        let spaces = crate::spaces::create(&server, TOKEN, scenario.spaces.as_ref(), seed)?;
        let initial_state = crate::state::snapshot(&server, TOKEN);

        let mut builder = turmoil::Builder::new();
        builder
            .rng_seed(seed)
            .epoch(seed::epoch())
            .tick_duration(scenario.tick)
            .simulation_duration(scenario.max_sim_time)
            .min_message_latency(scenario.message_latency.0)
            .max_message_latency(scenario.message_latency.1);
        let mut sim = builder.build();

        let gate = RunGate::new(decisions.clone(), scenario.delay_max.clone());
        server.set_gate(gate.handle());
        let service = server.service();
        sim.host(crate::net::API_HOST, move || {
            let service = service.clone();
            async move {
                crate::net::serve_service(service, crate::net::API_PORT).await?;
                Ok(())
            }
        });
        let recorder = Recorder::default();
        for database in &databases {
            crate::pg::host(&mut sim, database, recorder.clone(), gate.handle());
        }
        for cluster in &valkey_clusters {
            crate::valkey::host(&mut sim, cluster, recorder.clone(), gate.handle());
        }
        if let Some(spaces) = &spaces {
            crate::spaces::host(&mut sim, spaces, recorder.clone(), gate.handle());
        }
        // Actors find the clusters' connection details through these guards while the run lasts.
        let pg_guard = crate::pg::enter(&databases);
        let valkey_guard = crate::valkey::enter(&valkey_clusters);
        let spaces_guard = crate::spaces::enter(spaces.as_ref());
        let gated_servers = std::iter::once(crate::net::API_HOST)
            .chain(
                databases
                    .iter()
                    .map(|database| database.info().host.as_str()),
            )
            .chain(valkey_clusters.iter().map(|c| c.info().host.as_str()))
            .chain(spaces.iter().map(|s| s.info().host.as_str()))
            .map(|host| sim.lookup(host))
            .collect();
        Ok(World {
            seed,
            strategy: steering.strategy(),
            server,
            sim,
            recorder,
            decisions,
            gate,
            gated_servers,
            fired_decisions,
            databases,
            pg_guard,
            valkey_clusters,
            valkey_guard,
            spaces,
            spaces_guard,
            initial_state,
            service_errors: Arc::default(),
            results: Arc::new(Mutex::new(vec![None; scenario.actors.len()])),
        })
    }

    /// The scenario's services, each on its own host for the whole run; one that fails fails
    /// the run.
    fn host_services(&mut self, scenario: &Scenario) {
        for (index, (name, service)) in scenario.services.iter().enumerate() {
            let (name, service, errors) =
                (name.clone(), service.clone(), self.service_errors.clone());
            let context = self.context(
                scenario,
                index,
                &name,
                Stream::Service(index_u32(index)),
                None,
            );
            self.sim.host(name.clone(), move || {
                let future = CatchUnwind {
                    future: Box::pin(service(context(0))),
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
    }

    /// The scenario's actors, each a turmoil client whose result the run collects, under the
    /// control through which actor faults pause, crash and restart it.
    fn host_actors(&mut self, scenario: &Scenario, controls: &[crate::faults::ActorControl]) {
        // Only a steered run has fault points at the gate.
        if self.decisions.is_some() {
            self.gate.set_controls(
                scenario
                    .actors
                    .iter()
                    .map(|(name, _)| name.clone())
                    .zip(controls.iter().cloned())
                    .collect(),
            );
        }
        for ((index, (name, actor)), control) in scenario.actors.iter().enumerate().zip(controls) {
            let context = self.context(
                scenario,
                index,
                name,
                Stream::Actor(index_u32(index)),
                Some(control.clone()),
            );
            let first = CatchUnwind {
                future: Box::pin(actor(context(0))),
            };
            let actor = actor.clone();
            let restarted = move |incarnation: u32| CatchUnwind {
                future: Box::pin(actor(context(u64::from(incarnation)))),
            };
            let future = crate::faults::Controlled::new(control.clone(), first, restarted);
            let results = self.results.clone();
            self.sim.client(name.as_str(), async move {
                let result = match future.await {
                    crate::faults::Ended::Finished(Ok(Ok(()))) => ActorResult::Ok,
                    crate::faults::Ended::Finished(Ok(Err(message))) => {
                        ActorResult::Err { message }
                    }
                    crate::faults::Ended::Finished(Err(message)) => {
                        ActorResult::Panicked { message }
                    }
                    crate::faults::Ended::Crashed => ActorResult::Crashed,
                };
                results.lock()[index] = Some((result, crate::history::now_ms()));
                Ok(())
            });
        }
    }

    /// Makes the context of host `name`, the `index`th of its kind, with its own random stream;
    /// a restarted actor's incarnation `n` draws from the stream's ChaCha stream `n`, so it
    /// neither repeats nor continues what the crashed incarnation drew.
    fn context(
        &self,
        scenario: &Scenario,
        index: usize,
        name: &str,
        stream: Stream,
        control: Option<crate::faults::ActorControl>,
    ) -> impl Fn(u64) -> Actor + Send + Sync + 'static {
        let (name, seed, setup, recorder) = (
            name.to_owned(),
            self.seed,
            scenario.client_setup.clone(),
            self.recorder.clone(),
        );
        move |incarnation| {
            let mut rng = seed::rng(seed, stream);
            if incarnation > 0 {
                rng.set_stream(incarnation);
            }
            Actor::new(
                index,
                name.clone(),
                seed,
                TOKEN.to_owned(),
                setup.clone(),
                rng,
                recorder.clone(),
                control.clone(),
            )
        }
    }

    /// Steps the simulation until every actor has finished, time runs out or a host fails,
    /// starting and ending network and actor faults between steps.
    fn step(&mut self, scenario: &Scenario, faults: &mut crate::faults::Scheduled) -> Stepped {
        let mut steps = 0u64;
        let mut sim_error = None;
        let mut fired = Vec::new();
        loop {
            let now_ms = millis(self.sim.elapsed());
            faults.apply(&self.sim, now_ms, &self.recorder, &mut fired);
            steps += 1;
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.sim.step())) {
                Ok(Ok(true)) => break,
                Ok(Ok(false)) => self.settle_gate(scenario),
                Ok(Err(error)) => {
                    let message = error.to_string();
                    // turmoil's own time-limit message names wall-independent values only.
                    sim_error = Some(if message.starts_with("Ran for duration") {
                        format!(
                            "the run reached its simulated-time limit of {}",
                            crate::report::seconds(millis(scenario.max_sim_time))
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
        Stepped {
            steps,
            sim_ms: millis(self.sim.elapsed()),
            sim_error,
            fired,
        }
    }

    /// Lets the gate decide, between steps, which waiting operation commits next.
    fn settle_gate(&self, scenario: &Scenario) {
        if !self.gate.steers() {
            return;
        }
        let waiting = self.gate.waiting_actors();
        if waiting.is_empty() {
            return;
        }
        // Only the scenario's own hosts have addresses; an operation whose sender the plane could
        // not name (`unknown`) excludes nobody. turmoil's lookup panics on a name it never saw.
        let excluding = scenario
            .actors
            .iter()
            .map(|(name, _)| name)
            .chain(scenario.services.iter().map(|(name, _)| name))
            .filter(|name| waiting.contains(name.as_str()))
            .map(|name| self.sim.lookup(name.as_str()))
            .collect();
        let in_flight = crate::gate::request_in_flight(&self.sim, &self.gated_servers, &excluding);
        // A request in flight arrives within the longest message latency, plus the ticks it
        // takes to be read and reach the gate.
        let wait_max_ms = millis(scenario.message_latency.1) + 5 * millis(scenario.tick);
        // A delay waits for another actor's operation; once every other actor has finished,
        // none will come.
        let running: BTreeSet<&str> = {
            let results = self.results.lock();
            scenario
                .actors
                .iter()
                .zip(results.iter())
                .filter(|(_, result)| result.is_none())
                .map(|((name, _), _)| name.as_str())
                .collect()
        };
        self.gate
            .settle(millis(self.sim.elapsed()), in_flight, wait_max_ms, &running);
    }

    /// What the run produced: both ends' history, the faults that fired, each actor's result,
    /// the final state and data.
    fn collect(self, scenario: &Scenario, stepped: Stepped) -> RunRecord {
        let World {
            seed,
            strategy,
            server,
            sim,
            recorder,
            decisions,
            gate,
            gated_servers: _,
            fired_decisions,
            databases,
            pg_guard,
            valkey_clusters,
            valkey_guard,
            spaces,
            spaces_guard,
            initial_state,
            service_errors,
            results,
        } = self;
        let Stepped {
            steps,
            sim_ms,
            mut sim_error,
            mut fired,
        } = stepped;
        // Dropping the world closes every connection, which rolls back what was not committed.
        drop(sim);
        drop(pg_guard);
        drop(valkey_guard);
        drop(spaces_guard);
        crate::pg::finish(&databases, sim_ms);
        crate::valkey::finish(&valkey_clusters, sim_ms);

        let final_state = crate::state::snapshot(&server, TOKEN);
        // Release builds skip the model's own check after each call; every run checks once at
        // its end, so a broken cross-reference is a failed run, never a silent wrong report.
        if let Err(broken) = server.with_account(TOKEN, |cloud| cloud.check_invariants()) {
            sim_error.get_or_insert(format!(
                "the cloud model broke its invariants (a dosim bug; please report it): {broken}"
            ));
        }
        let recorded = recorder.take();
        let mut faults = recorded.faults;
        let history = server.take_history();
        fired.extend(crate::faults::describe_fired(
            &fired_decisions.lock(),
            &history,
            spaces.as_ref().map(crate::spaces::RunSpaces::service),
            &scenario.faults,
        ));
        if let Some(spaces) = &spaces {
            faults.extend(crate::faults::spaces_faults(spaces.service()));
        }
        fired.sort_by_key(|fault| fault.at_ms);
        let mut server_ops = Vec::new();
        for entry in history {
            // Latency is on nearly every request; the history keeps it, the fault list keeps
            // the faults that change what a client sees.
            if let Some(fault) = entry
                .fault
                .as_ref()
                .filter(|fault| !matches!(fault, dosim_api::InjectedFault::Latency { .. }))
            {
                faults.push(crate::faults::server_fault(&entry, fault));
            }
            let fault = entry
                .fault
                .as_ref()
                .map(crate::faults::describe_server_fault);
            server_ops.push(ServerOp {
                request_id: entry.request_id,
                actor: entry.actor,
                method: entry.method,
                target: entry.path,
                status: entry.status,
                arrived_ms: entry.received_ms,
                commit_ms: entry.committed_ms,
                fault,
            });
        }
        let (commits, commits_dropped) = gate.commits();
        faults.extend(commits.iter().filter_map(crate::faults::delay_fault));
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
            scenario: scenario.name().to_owned(),
            commits,
            commits_dropped,
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
            valkey_clusters,
            spaces,
        };
        RunRecord {
            outcome,
            fired,
            faults_fired: decisions
                .as_ref()
                .map_or(0, |decisions| decisions.faults_fired()),
            delays: decisions.as_ref().map_or(0, |decisions| decisions.delays()),
            kinds: decisions
                .as_ref()
                .map_or_else(Vec::new, |decisions| decisions.kinds()),
            decisions: decisions.map_or_else(Vec::new, |decisions| decisions.taken()),
        }
    }
}

fn index_u32(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
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
            self.last_ms.fetch_max(millis(elapsed), Ordering::SeqCst);
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
