//! The floors `dosim bench` measures a scenario against, in the same process and run:
//!
//! - the HTTP floor: bare turmoil and hyper with the scenario's hosts and tick, each actor sending
//!   as many requests as it made operations, answered by a trivial handler;
//! - the PostgreSQL floor: the same, except that each actor's SQL statements go over the
//!   PostgreSQL protocol with tokio-postgres to a minimal server that logs the connection in as
//!   a cluster does (SCRAM-SHA-256, the parameters PostgreSQL reports) and answers every
//!   statement at once (`SELECT 0`, no rows), so a SQL scenario is compared with a world that
//!   speaks its protocol;
//! - the S3 floor (with the `s3-sdk` feature): the same, except that each actor's Spaces
//!   requests are aws-sdk-s3 calls, configured as a scenario's actors get it, to a minimal server
//!   that answers each at once;
//! - the model floor: the HTTP requests of seed 0's run, captured whole, sent again in order to
//!   a fresh API server in process (router, model, history; no turmoil, no sockets, no actors),
//!   which is what the fakes cost without the simulated network and the harness around them.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::{TurmoilConnector, API_HOST, API_PORT};
use crate::scenario::Scenario;

/// What one actor did in the scenario's reference run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActorLoad {
    /// API requests and any other operation that is neither SQL nor Spaces (Valkey commands);
    /// in the HTTP floor, every operation is a plain HTTP request.
    pub(crate) http: usize,
    /// SQL statements.
    pub(crate) sql: usize,
    /// Spaces requests (S3 over HTTP): plain requests in the HTTP floor, aws-sdk-s3 calls in
    /// the S3 floor.
    pub(crate) s3: usize,
    /// How long it lived, in simulated milliseconds.
    pub(crate) lifetime_ms: u64,
}

/// The host and port of the PostgreSQL floor's server.
const PG_HOST: &str = "pg-floor";
const PG_PORT: u16 = 25060;

fn world(seed: u64, tick: Duration) -> turmoil::Sim<'static> {
    let mut builder = turmoil::Builder::new();
    builder
        .rng_seed(seed)
        .epoch(crate::seed::epoch())
        .tick_duration(tick)
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(20))
        .simulation_duration(Duration::from_secs(600));
    builder.build()
}

/// A host serving `router` on `port`.
fn serve_host(sim: &mut turmoil::Sim<'_>, host: &str, router: axum::Router, port: u16) {
    sim.host(host, move || {
        let router = router.clone();
        async move {
            crate::net::serve_router(router, port).await?;
            Ok(())
        }
    });
}

fn api_and_services(sim: &mut turmoil::Sim<'_>, services: usize) {
    serve_host(
        sim,
        API_HOST,
        axum::Router::new().fallback(|| async { "{}" }),
        API_PORT,
    );
    for index in 0..services {
        sim.host(format!("service-{index}"), || async {
            std::future::pending::<()>().await;
            Ok(())
        });
    }
}

/// The HTTP floor: every operation of each actor is an HTTP request, sent in sequence over the
/// same pooled hyper client dosim uses, the `i`th at `i × lifetime ÷ operations` or as soon as
/// the one before it has its answer, so that the actor lives about as long as it did in the
/// scenario, at the scenario's tick: a step costs the same whether or not a host is busy, a host
/// that has ended costs none, and a coarser tick takes fewer steps for the same time.
#[inline(never)] // counted by name in scripts/floor-instructions.py
pub(crate) fn http_floor_run(
    seed: u64,
    tick: Duration,
    services: usize,
    actors: &[ActorLoad],
) -> turmoil::Result {
    let mut sim = world(seed, tick);
    api_and_services(&mut sim, services);
    for (index, load) in actors.iter().enumerate() {
        let (requests, lifetime_ms) = (load.http + load.sql + load.s3, load.lifetime_ms);
        sim.client(format!("pod-{index}"), async move {
            let schedule = Schedule::new(lifetime_ms, requests);
            http_requests(&schedule, requests).await?;
            schedule.end().await;
            Ok(())
        });
    }
    sim.run()
}

/// The PostgreSQL floor: each actor's HTTP requests as in the HTTP floor, and its SQL statements
/// with tokio-postgres over one connection to the minimal server, each prepared and executed
/// as `Client::execute` does.
#[inline(never)] // counted by name in scripts/floor-instructions.py
pub(crate) fn pg_floor_run(
    seed: u64,
    tick: Duration,
    services: usize,
    actors: &[ActorLoad],
) -> turmoil::Result {
    let mut sim = world(seed, tick);
    api_and_services(&mut sim, services);
    sim.host(PG_HOST, || async {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PG_PORT)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let _ = answer_pg(stream).await;
            });
        }
    });
    for (index, &load) in actors.iter().enumerate() {
        sim.client(format!("pod-{index}"), async move {
            let schedule = Schedule::new(load.lifetime_ms, load.http + load.sql + load.s3);
            http_requests(&schedule, load.http + load.s3).await?;
            if load.sql > 0 {
                let stream = turmoil::net::TcpStream::connect((PG_HOST, PG_PORT)).await?;
                let (pg, connection) = tokio_postgres::Config::new()
                    .user("doadmin")
                    .password(PG_FLOOR_PASSWORD)
                    .dbname("defaultdb")
                    .connect_raw(stream, tokio_postgres::NoTls)
                    .await?;
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                for _ in 0..load.sql {
                    schedule.next().await;
                    pg.execute("SELECT 1", &[]).await?;
                }
            }
            schedule.end().await;
            Ok(())
        });
    }
    sim.run()
}

/// The host of the S3 floor's server.
#[cfg(feature = "s3-sdk")]
const S3_HOST: &str = "s3-floor";

/// The S3 floor: each actor's other operations as in the HTTP floor, and its Spaces requests
/// with aws-sdk-s3, configured as a scenario's actors get it (`spaces::sdk::client`: signed,
/// path-style, retries off), each a `HeadObject` answered at once with `200` and an ETag by a
/// minimal server. A Spaces scenario is then compared with a world that pays the SDK's request
/// pipeline (endpoint resolution, SigV4 signing, interceptors, response parsing) as its actors do.
#[cfg(feature = "s3-sdk")]
#[inline(never)] // counted by name in scripts/floor-instructions.py
pub(crate) fn s3_floor_run(
    seed: u64,
    tick: Duration,
    services: usize,
    actors: &[ActorLoad],
) -> turmoil::Result {
    let mut sim = world(seed, tick);
    api_and_services(&mut sim, services);
    let router = axum::Router::new().fallback(|| async {
        (
            [(http::header::ETAG, "\"d41d8cd98f00b204e9800998ecf8427e\"")],
            "",
        )
    });
    serve_host(&mut sim, S3_HOST, router, crate::spaces::PORT);
    for (index, &load) in actors.iter().enumerate() {
        sim.client(format!("pod-{index}"), async move {
            let schedule = Schedule::new(load.lifetime_ms, load.http + load.sql + load.s3);
            http_requests(&schedule, load.http + load.sql).await?;
            if load.s3 > 0 {
                let config = crate::spaces::sdk::config_for(
                    format!("http://{S3_HOST}"),
                    "nyc3".to_owned(),
                    "DO00FLOORFLOORFLOOR0".to_owned(),
                    "floor-secret".to_owned(),
                );
                let s3 = aws_sdk_s3::Client::from_conf(config.build());
                for _ in 0..load.s3 {
                    schedule.next().await;
                    s3.head_object()
                        .bucket("floor")
                        .key("object")
                        .send()
                        .await?;
                }
            }
            schedule.end().await;
            Ok(())
        });
    }
    sim.run()
}

/// When a floor actor's operations start: evenly over its lifetime, never two at once.
struct Schedule {
    start: tokio::time::Instant,
    lifetime: Duration,
    step: Duration,
    next: std::cell::Cell<u32>,
}

impl Schedule {
    fn new(lifetime_ms: u64, operations: usize) -> Schedule {
        let lifetime = Duration::from_millis(lifetime_ms);
        Schedule {
            start: tokio::time::Instant::now(),
            lifetime,
            step: lifetime / u32::try_from(operations.max(1)).unwrap_or(u32::MAX),
            next: std::cell::Cell::new(0),
        }
    }

    /// Waits for the next operation's time (at once if it has passed).
    async fn next(&self) {
        let index = self.next.get();
        self.next.set(index.saturating_add(1));
        tokio::time::sleep_until(self.start + self.step * index).await;
    }

    /// Waits out the rest of the actor's lifetime.
    async fn end(&self) {
        tokio::time::sleep_until(self.start + self.lifetime).await;
    }
}

type HttpClient = hyper_util::client::legacy::Client<TurmoilConnector, Full<Bytes>>;

fn http_client() -> HttpClient {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Full<Bytes>>(TurmoilConnector)
}

/// Sends `requests` HTTP requests over one pooled client, each at its time in `schedule`.
async fn http_requests(
    schedule: &Schedule,
    requests: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let client = http_client();
    for _ in 0..requests {
        schedule.next().await;
        get(&client).await?;
    }
    Ok(())
}

async fn get(client: &HttpClient) -> Result<(), Box<dyn std::error::Error>> {
    let request = http::Request::get(format!("http://{API_HOST}/v2/account"))
        .body(Full::new(Bytes::new()))?;
    let response = client.request(request).await?;
    response.into_body().collect().await?;
    Ok(())
}

/// The minimal PostgreSQL server: the login a cluster gives (SCRAM-SHA-256 at the simulated
/// clusters' one round of PBKDF2, then the parameters PostgreSQL reports), then every statement
/// answered at once with `SELECT 0` and no rows, in the simple and the extended protocol.
async fn answer_pg(mut stream: turmoil::net::TcpStream) -> std::io::Result<()> {
    let mut input = BytesMut::with_capacity(4096);
    // Startup, after an SSLRequest (answered "no") if the client sends one.
    let startup = loop {
        let length = loop {
            if input.len() >= 4 {
                break usize::try_from(u32::from_be_bytes([
                    input[0], input[1], input[2], input[3],
                ]))
                .unwrap_or(usize::MAX);
            }
            if stream.read_buf(&mut input).await? == 0 {
                return Ok(());
            }
        };
        if !(8..=10_000).contains(&length) {
            return Ok(());
        }
        while input.len() < length {
            if stream.read_buf(&mut input).await? == 0 {
                return Ok(());
            }
        }
        let message = input.split_to(length);
        if u32::from_be_bytes([message[4], message[5], message[6], message[7]]) == 80_877_103 {
            stream.write_all(b"N").await?;
            continue;
        }
        break message;
    };
    let user = startup_user(&startup[8..]);
    let mut output = BytesMut::new();
    if !scram_login(&mut stream, &mut input, &mut output, &user).await? {
        return Ok(());
    }
    message(&mut output, b'R', &0u32.to_be_bytes());
    let server_version = dosim_pgwire::WireConfig::default().server_version;
    for (name, value) in dosim_pgwire::reported_parameters("", &server_version, &user) {
        let mut body = Vec::with_capacity(name.len() + value.len() + 2);
        for text in [name, value] {
            body.extend_from_slice(text.as_bytes());
            body.push(0);
        }
        message(&mut output, b'S', &body);
    }
    message(&mut output, b'K', &[0, 0, 0, 1, 0, 0, 0, 2]);
    message(&mut output, b'Z', b"I");
    stream.write_all(&output).await?;
    output.clear();
    while let Some((tag, _)) = read_message(&mut stream, &mut input).await? {
        match tag {
            b'Q' => {
                message(&mut output, b'C', b"SELECT 0\0");
                message(&mut output, b'Z', b"I");
            }
            b'P' => message(&mut output, b'1', b""),
            // Describe: a statement has no parameters and returns no rows.
            b'D' => {
                message(&mut output, b't', &0u16.to_be_bytes());
                message(&mut output, b'n', b"");
            }
            b'B' => message(&mut output, b'2', b""),
            b'E' => message(&mut output, b'C', b"SELECT 0\0"),
            b'C' => message(&mut output, b'3', b""),
            b'S' => message(&mut output, b'Z', b"I"),
            b'X' => return Ok(()),
            _ => {}
        }
        if matches!(tag, b'Q' | b'S' | b'H') {
            stream.write_all(&output).await?;
            output.clear();
        }
    }
    Ok(())
}

/// The password of the PostgreSQL floor's user.
const PG_FLOOR_PASSWORD: &str = "floor-password";

/// The `user` of a startup packet's parameters (after its protocol code).
fn startup_user(params: &[u8]) -> String {
    let mut fields = params.split(|byte| *byte == 0);
    while let (Some(key), Some(value)) = (fields.next(), fields.next()) {
        if key == b"user" {
            return String::from_utf8_lossy(value).into_owned();
        }
    }
    String::new()
}

/// The SASL exchange a cluster runs at login (`AuthenticationSASL`, the client's first message,
/// the server's, the client's proof, the server's signature); false if the client left or its
/// proof was wrong.
async fn scram_login(
    stream: &mut turmoil::net::TcpStream,
    input: &mut BytesMut,
    output: &mut BytesMut,
    user: &str,
) -> std::io::Result<bool> {
    let sasl = |output: &mut BytesMut, code: u32, data: &[u8]| {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(data);
        message(output, b'R', &body);
    };
    sasl(output, 10, b"SCRAM-SHA-256\0\0");
    stream.write_all(output).await?;
    output.clear();
    // SASLInitialResponse: the mechanism, then the client's first message with its length.
    let Some((b'p', initial)) = read_message(stream, input).await? else {
        return Ok(false);
    };
    let Some(mechanism_end) = initial.iter().position(|byte| *byte == 0) else {
        return Ok(false);
    };
    let client_first = initial.get(mechanism_end + 5..).unwrap_or_default();
    let client_first = String::from_utf8_lossy(client_first);
    let Ok(server) = dosim_pgwire::ScramServer::start(
        &client_first,
        user,
        0,
        dosim_pgwire::SIMULATED_SCRAM_ITERATIONS,
    ) else {
        return Ok(false);
    };
    sasl(output, 11, server.server_first().as_bytes());
    stream.write_all(output).await?;
    output.clear();
    let Some((b'p', client_final)) = read_message(stream, input).await? else {
        return Ok(false);
    };
    let client_final = String::from_utf8_lossy(&client_final);
    let Ok(Some(server_final)) = server.finish(&client_final, PG_FLOOR_PASSWORD) else {
        return Ok(false);
    };
    sasl(output, 12, server_final.as_bytes());
    Ok(true)
}

/// The next message after startup, its tag and its body; `None` when the client has gone or
/// sent a length out of bounds.
async fn read_message(
    stream: &mut turmoil::net::TcpStream,
    input: &mut BytesMut,
) -> std::io::Result<Option<(u8, BytesMut)>> {
    while input.len() < 5 {
        if stream.read_buf(input).await? == 0 {
            return Ok(None);
        }
    }
    let tag = input[0];
    let length = usize::try_from(u32::from_be_bytes([input[1], input[2], input[3], input[4]]))
        .unwrap_or(usize::MAX);
    if !(4..=1_000_000).contains(&length) {
        return Ok(None);
    }
    while input.len() < 1 + length {
        if stream.read_buf(input).await? == 0 {
            return Ok(None);
        }
    }
    let mut body = input.split_to(1 + length);
    body.advance(5);
    Ok(Some((tag, body)))
}

fn message(output: &mut BytesMut, tag: u8, body: &[u8]) {
    output.put_u8(tag);
    output.put_u32(u32::try_from(body.len() + 4).unwrap_or(u32::MAX));
    output.put_slice(body);
}

/// One HTTP request as an actor sent it, captured whole for the model floor.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    method: http::Method,
    target: String,
    headers: http::HeaderMap,
    body: Bytes,
}

/// What one run's actors sent, captured for the floors: every API request whole (for the model
/// floor), and who sent each Spaces request (for the S3 floor).
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub(crate) requests: Vec<Captured>,
    /// The actor of each Spaces request, in the order they arrived.
    pub(crate) spaces_actors: Vec<String>,
}

thread_local! {
    /// What is captured on this thread, while [`capturing`] runs.
    static CAPTURED: RefCell<Option<Capture>> = const { RefCell::new(None) };
}

/// Runs `run` (one simulation, on this thread) and returns, with its result, every HTTP request
/// its actors sent through the recording transport, in the order they were sent, and the
/// senders of its Spaces requests.
pub(crate) fn capturing<R>(run: impl FnOnce() -> R) -> (R, Capture) {
    CAPTURED.with(|captured| *captured.borrow_mut() = Some(Capture::default()));
    let result = run();
    let capture = CAPTURED.with(|captured| captured.borrow_mut().take().unwrap_or_default());
    (result, capture)
}

/// Called by the recording transport for each request: kept only while [`capturing`] runs.
pub(crate) fn capture(request: &http::Request<Bytes>) {
    CAPTURED.with(|captured| {
        if let Some(capture) = captured.borrow_mut().as_mut() {
            capture.requests.push(Captured {
                method: request.method().clone(),
                target: request
                    .uri()
                    .path_and_query()
                    .map_or_else(|| "/".to_owned(), |target| target.as_str().to_owned()),
                headers: request.headers().clone(),
                body: request.body().clone(),
            });
        }
    });
}

/// Called by the Spaces host for each request it receives: kept only while [`capturing`] runs.
pub(crate) fn capture_spaces(actor: &str) {
    CAPTURED.with(|captured| {
        if let Some(capture) = captured.borrow_mut().as_mut() {
            capture.spaces_actors.push(actor.to_owned());
        }
    });
}

/// The model floor for one seed: a fresh API server with the scenario's account set-up, then
/// `requests` sent in order through its router on `runtime`; the statuses it answered. The
/// server is seeded as seed 0's run was, so the captured requests name the ids it hands out.
#[inline(never)] // counted by name in scripts/floor-instructions.py
pub(crate) fn model_floor_run(
    scenario: &Scenario,
    requests: &[Captured],
    runtime: &tokio::runtime::Runtime,
) -> Vec<u16> {
    let server = dosim_api::Server::new(dosim_api::ServerConfig {
        seed: crate::seed::derive(0, crate::seed::Stream::Cloud),
        cloud: scenario.cloud_config.clone(),
        rate_limit: scenario.rate_limit,
        base_url: Some(crate::net::API_BASE_URL.to_owned()),
        clock: Arc::new(dosim_api::ManualClock::new()),
        ..Default::default()
    });
    for setup in &scenario.setup {
        server.with_account(crate::scenario::TOKEN, |cloud| setup(cloud));
    }
    let router = server.router();
    runtime.block_on(async {
        let mut statuses = Vec::with_capacity(requests.len());
        for captured in requests {
            let mut request = http::Request::new(axum::body::Body::from(captured.body.clone()));
            *request.method_mut() = captured.method.clone();
            *request.headers_mut() = captured.headers.clone();
            if let Ok(uri) = captured.target.parse() {
                *request.uri_mut() = uri;
            }
            let Ok(response) = tower::ServiceExt::oneshot(router.clone(), request).await;
            statuses.push(response.status().as_u16());
            let _ = response.into_body().collect().await;
        }
        statuses
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(http: usize, sql: usize) -> ActorLoad {
        ActorLoad {
            http,
            sql,
            s3: 0,
            lifetime_ms: 200,
        }
    }

    /// The floors are real worlds that must run to their end: a floor that failed would measure
    /// nothing and look fast.
    #[test]
    fn the_http_and_postgresql_floors_run_every_operation() {
        let tick = Duration::from_millis(1);
        http_floor_run(3, tick, 1, &[load(4, 0), load(2, 3)]).expect("the HTTP floor runs");
        pg_floor_run(3, tick, 0, &[load(1, 5), load(0, 0), load(2, 1)])
            .expect("tokio-postgres is answered by the minimal server");
    }

    /// The PostgreSQL floor's server logs clients in as a cluster does: with the floor's
    /// password over SCRAM-SHA-256, and not with another.
    #[test]
    fn the_postgresql_floor_checks_the_password() {
        for (password, accepted) in [(PG_FLOOR_PASSWORD, true), ("guess", false)] {
            let mut sim = world(1, Duration::from_millis(1));
            sim.host(PG_HOST, || async {
                let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PG_PORT)).await?;
                loop {
                    let (stream, _) = listener.accept().await?;
                    tokio::spawn(answer_pg(stream));
                }
            });
            sim.client("pod-0", async move {
                let stream = turmoil::net::TcpStream::connect((PG_HOST, PG_PORT)).await?;
                let connected = tokio_postgres::Config::new()
                    .user("doadmin")
                    .password(password)
                    .dbname("defaultdb")
                    .connect_raw(stream, tokio_postgres::NoTls)
                    .await;
                assert_eq!(connected.is_ok(), accepted, "password {password}");
                Ok(())
            });
            sim.run().unwrap();
        }
    }

    /// aws-sdk-s3 is answered by the S3 floor's minimal server: every call succeeds.
    #[cfg(feature = "s3-sdk")]
    #[test]
    fn the_s3_floor_runs_every_operation() {
        let tick = Duration::from_millis(1);
        let s3 = |http, s3| ActorLoad {
            s3,
            ..load(http, 0)
        };
        s3_floor_run(3, tick, 0, &[s3(0, 4), s3(2, 1), s3(1, 0)])
            .expect("aws-sdk-s3 is answered by the minimal server");
    }

    /// The model floor sends seed 0's requests again and gets the same answers.
    #[test]
    fn the_model_floor_replays_seed_0s_requests() {
        let scenario = crate::bench::provisioning_scenario();
        let (outcome, capture) = capturing(|| scenario.run(0));
        let requests = capture.requests;
        assert!(!requests.is_empty());
        assert!(capture.spaces_actors.is_empty());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let statuses = model_floor_run(&scenario, &requests, &runtime);
        let seen: Vec<u16> = outcome
            .ops
            .iter()
            .map(|op| match op.result {
                crate::OpResult::Status { status } => status,
                _ => 0,
            })
            .collect();
        assert_eq!(statuses, seen);
        // Nothing is captured outside `capturing`.
        let (_, none) = capturing(|| ());
        assert!(none.requests.is_empty() && none.spaces_actors.is_empty());
    }
}
