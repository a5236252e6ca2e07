//! `dosim serve`: the fakes as a real HTTP server, for clients in any language.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;

use dosim_api::{FaultPlan, Server, ServerConfig};

use crate::http1;

/// How long Ctrl-C waits for requests in flight before the server exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// Seed of every id, token, request id and fault decision.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Fault plan file, TOML or JSON (by extension, otherwise whichever parses).
    #[arg(long, value_name = "FILE")]
    faults: Option<PathBuf>,

    /// How much faster than real time simulated time runs (100: a 30 s boot takes 0.3 s). Must be > 0.
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    time_scale: f64,

    /// Base URL for the absolute links in responses (default: http:// plus the request's Host header).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,

    /// Requests per token per sliding hour, as DigitalOcean's `ratelimit-limit` (load tests raise it).
    #[arg(long, value_name = "N", default_value_t = 5000)]
    rate_limit_hourly: u32,

    /// Requests per token per sliding minute, DigitalOcean's burst limit.
    #[arg(long, value_name = "N", default_value_t = 250)]
    rate_limit_burst: u32,

    /// Host that PostgreSQL clusters' connection details show (default: the --addr IP, or 127.0.0.1 if it is unspecified).
    #[arg(long, value_name = "HOST")]
    pg_host: Option<String>,

    /// Address Spaces (the S3 API) listens on (default: the --addr port plus one, or a free port if that is 0).
    #[arg(long, value_name = "ADDR")]
    spaces_addr: Option<SocketAddr>,

    /// How Spaces answers If-Match / If-None-Match on PUT and copy: unquoted_only, rfc, ignored or not_implemented.
    #[arg(long, value_name = "MODE", default_value = "unquoted_only")]
    spaces_conditional_put: String,

    /// The same switch for one account, which may differ from the others: ACCOUNT=MODE, where
    /// ACCOUNT is the account's token (dop_v1_…) or its fingerprint as /_dosim/state lists it
    /// (acct-…). Repeatable.
    #[arg(long, value_name = "ACCOUNT=MODE")]
    spaces_conditional_put_for: Vec<String>,

    /// Requests per bucket per simulated second before Spaces answers 503 SlowDown; 0 for no limit.
    #[arg(long, value_name = "N", default_value_t = 1500)]
    spaces_rate_limit: u32,

    /// How many PostgreSQL clusters are served on local ports at once, across all accounts; 0 serves none.
    #[arg(long, value_name = "N", default_value_t = crate::pg::PG_CLUSTERS_MAX)]
    pg_clusters_max: usize,

    /// Accept PostgreSQL connections without TLS (sslmode=disable). DigitalOcean's clusters refuse them, and so does dosim unless this is given.
    #[arg(long)]
    pg_allow_plain: bool,

    /// Token required as `Authorization: Bearer <token>` on every /_dosim/ control request; needed when --addr is not a loopback address (or --control-open). Read from DOSIM_CONTROL_TOKEN when the flag is absent, which keeps it out of the process list.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "DOSIM_CONTROL_TOKEN",
        hide_env_values = true
    )]
    control_token: Option<String>,

    /// Serve /_dosim/ without a token on a non-loopback --addr: anyone who reaches the port can read every password, reset the server or install faults.
    #[arg(long)]
    control_open: bool,

    /// Keep the accounts in FILE: loaded on start (if it exists), saved atomically after changes (debounced) and on shutdown, with PostgreSQL clusters' committed tables.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,

    /// Milliseconds between a change and its save to --state (changes meanwhile join the same save).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    state_save_ms: u64,

    /// Seconds a client may take to send a request's head; also how long a kept-alive connection may sit idle before its next request.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    header_timeout: u64,

    /// Seconds a client may take to send a request's body once its head has arrived (then 408).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    body_timeout: u64,

    /// Connections open at once; one more is answered 503 and closed.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,

    /// How many requests the history keeps (the oldest go first).
    #[arg(long, value_name = "N", default_value_t = dosim_api::history::DEFAULT_HISTORY_LIMIT)]
    history_entries: usize,

    /// About how many bytes the history keeps (the oldest go first); paths and summaries are cut to 2 KiB and 1 KiB.
    #[arg(long, value_name = "BYTES", default_value_t = dosim_api::history::DEFAULT_HISTORY_BYTES)]
    history_bytes: usize,
}

/// Default cap on open HTTP connections, below the usual 1024 file descriptors less the database ports'.
const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// At most one line about failing `accept` calls per this interval.
const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// The longest pause after a failed `accept`; pauses double from 10 ms up to it.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The validated configuration.
struct Serve {
    state: Option<PathBuf>,
    state_save: Duration,
    /// Whether to warn that the control endpoints are open off loopback (--control-open).
    control_open_warning: bool,
    addr: SocketAddr,
    header_timeout: Duration,
    max_connections: usize,
    spaces_addr: SocketAddr,
    spaces: dosim_spaces::SpacesConfig,
    config: ServerConfig,
    pg_host: String,
    pg_clusters_max: usize,
    pg_allow_plain: bool,
}

impl ServeArgs {
    fn validate(self) -> anyhow::Result<Serve> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            bail!(
                "--time-scale must be a number greater than 0, got {}",
                self.time_scale
            );
        }
        if let Some(base_url) = &self.base_url {
            if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
                bail!("--base-url must start with http:// or https://, got {base_url:?}");
            }
        }
        let faults = match &self.faults {
            Some(path) => {
                read_plan(path).with_context(|| format!("--faults {}", path.display()))?
            }
            None => FaultPlan::default(),
        };
        if let Some(token) = &self.control_token {
            if token.len() < 8 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                bail!("--control-token (or DOSIM_CONTROL_TOKEN) must be at least 8 printable characters without spaces");
            }
        }
        let open_off_loopback = !self.addr.ip().is_loopback() && self.control_token.is_none();
        if open_off_loopback && !self.control_open {
            bail!(
                "--addr {} is not a loopback address: the /_dosim/ control endpoints would be open to anyone who reaches it (they show every database password and can reset the server); pass --control-token TOKEN (or set DOSIM_CONTROL_TOKEN) to require it as a bearer token, or --control-open to serve them open anyway",
                self.addr
            );
        }
        if self.header_timeout == 0 || self.body_timeout == 0 {
            bail!("--header-timeout and --body-timeout must be at least 1 second");
        }
        if self.max_connections == 0 {
            bail!("--max-connections must be at least 1");
        }
        if self.history_entries == 0 {
            bail!("--history-entries must be at least 1");
        }
        if self.history_bytes < 64 * 1024 {
            bail!("--history-bytes must be at least 65536");
        }
        if self.rate_limit_hourly == 0 || self.rate_limit_burst == 0 {
            bail!("--rate-limit-hourly and --rate-limit-burst must be at least 1");
        }
        let pg_host = match self.pg_host {
            Some(host) => {
                if host.is_empty()
                    || host.len() > 253
                    || !host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
                {
                    bail!("--pg-host must be a host name or IP address, got {host:?}");
                }
                host
            }
            None => crate::pg::advertised_host(self.addr.ip()),
        };
        let Some(conditional_put) =
            dosim_spaces::ConditionalPut::parse(&self.spaces_conditional_put)
        else {
            bail!(
                "--spaces-conditional-put must be unquoted_only, rfc, ignored or not_implemented, got {:?}",
                self.spaces_conditional_put
            );
        };
        let mut spaces = dosim_spaces::SpacesConfig {
            bucket_requests_per_second: (self.spaces_rate_limit > 0)
                .then_some(self.spaces_rate_limit),
            ..dosim_spaces::SpacesConfig::default()
        };
        spaces.store.conditional_put = conditional_put;
        spaces.store.conditional_put_by_account =
            conditional_put_by_account(&self.spaces_conditional_put_for)?;
        let config = ServerConfig {
            seed: self.seed,
            rate_limit: dosim_api::RateLimitConfig {
                hourly: self.rate_limit_hourly,
                burst_per_minute: self.rate_limit_burst,
            },
            faults,
            time_scale: self.time_scale,
            base_url: self.base_url,
            body_timeout: Some(Duration::from_secs(self.body_timeout)),
            control_token: self.control_token,
            history_limit: self.history_entries,
            history_bytes: self.history_bytes,
            ..ServerConfig::default()
        };
        Ok(Serve {
            state: self.state,
            state_save: Duration::from_millis(self.state_save_ms.max(1)),
            control_open_warning: open_off_loopback,
            addr: self.addr,
            header_timeout: Duration::from_secs(self.header_timeout),
            max_connections: self.max_connections,
            spaces_addr: self
                .spaces_addr
                .unwrap_or_else(|| crate::spaces::default_addr(self.addr)),
            spaces,
            config,
            pg_host,
            pg_clusters_max: self.pg_clusters_max,
            pg_allow_plain: self.pg_allow_plain,
        })
    }
}

pub(crate) fn read_plan(path: &Path) -> anyhow::Result<FaultPlan> {
    let text = std::fs::read_to_string(path).context("cannot read the fault plan")?;
    let plan = match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => FaultPlan::from_toml(&text),
        Some("json") => FaultPlan::from_json(&text),
        _ => FaultPlan::parse(&text),
    };
    Ok(plan?)
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let serve = args.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(serve_until_ctrl_c(serve))
}

async fn serve_until_ctrl_c(serve: Serve) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(serve.addr)
        .await
        .with_context(|| format!("--addr {}: cannot listen", serve.addr))?;
    let local = listener.local_addr()?;
    let spaces_listener = tokio::net::TcpListener::bind(serve.spaces_addr)
        .await
        .with_context(|| format!("--spaces-addr {}: cannot listen", serve.spaces_addr))?;
    let spaces_local = spaces_listener.local_addr()?;
    let seed = serve.config.seed;
    let time_scale = serve.config.time_scale;
    let server = Server::new(serve.config);
    // Start the clock now rather than at the first request.
    let _ = server.now();
    let data_writes = attach_data_planes(
        &server,
        local.ip(),
        &serve.pg_host,
        seed,
        serve.pg_clusters_max,
        serve.pg_allow_plain,
    );
    let saver = match &serve.state {
        Some(path) => Some(start_saver(&server, data_writes, path, serve.state_save)?),
        None => None,
    };
    if serve.control_open_warning {
        eprintln!(
            "dosim serve: WARNING: --control-open: the /_dosim/ control endpoints on {local} need no token; anyone who reaches this port can read every database password, reset the server or install faults"
        );
    }
    let spaces = crate::spaces::build(&server, serve.spaces, time_scale);
    announce(&server, local, seed)?;
    announce_spaces(local, spaces_local)?;

    let router = server.router();
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut spaces_task = tokio::spawn(crate::spaces::serve(
        spaces_listener,
        spaces,
        shutdown_rx.clone(),
    ));
    let mut connections = tokio::task::JoinSet::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(serve.max_connections));
    let mut accept_errors = AcceptErrors::default();
    let ctrl_c = shutdown_signal();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            result = &mut ctrl_c => {
                result.context("cannot listen for Ctrl-C or SIGTERM")?;
                break;
            }
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => {
                        accept_errors.reset();
                        accepted
                    }
                    Err(error) => {
                        // Out of file descriptors, typically: pause rather than spin, and say so
                        // once per interval rather than once per attempt.
                        let pause = accept_errors.failed(&error);
                        tokio::time::sleep(pause).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    refuse_over_cap(stream, serve.max_connections);
                    continue;
                };
                connections.spawn(serve_http_connection(
                    stream,
                    peer,
                    slot,
                    router.clone(),
                    shutdown_rx.clone(),
                    serve.header_timeout,
                ));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = shutdown_tx.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, async { (&mut spaces_task).await })
        .await
        .is_err()
    {
        spaces_task.abort();
    }
    if let (Some(saver), Some(path)) = (saver, &serve.state) {
        final_save(&server, saver, path).await?;
    }
    println!("dosim serve: shut down");
    Ok(())
}

/// Gives the server its data planes: PostgreSQL (unless `--pg-clusters-max 0`) and Valkey, whose
/// clusters show the same host as PostgreSQL's (`--pg-host`). Returns the count of SQL statements
/// and Valkey commands that changed data, which the `--state` saver watches beside the API's changes.
pub(crate) fn attach_data_planes(
    server: &Server,
    listen_ip: std::net::IpAddr,
    pg_host: &str,
    seed: u64,
    pg_clusters_max: usize,
    pg_allow_plain: bool,
) -> Arc<AtomicU64> {
    let mut planes: Vec<Arc<dyn dosim_api::DataPlane>> = Vec::new();
    let data_writes: Arc<AtomicU64> = Arc::default();
    if pg_clusters_max > 0 {
        planes.push(Arc::new(
            crate::pg::PgDataPlane::new(listen_ip, pg_host.to_owned(), seed, pg_clusters_max)
                .allow_plain(pg_allow_plain)
                .count_writes(data_writes.clone()),
        ));
    }
    planes.push(Arc::new(
        crate::valkey::ValkeyDataPlane::new(
            listen_ip,
            pg_host.to_owned(),
            seed,
            crate::valkey::VALKEY_CLUSTERS_MAX,
        )
        .count_writes(data_writes.clone()),
    ));
    server.set_data_plane(Arc::new(crate::planes::DataPlanes(planes)));
    data_writes
}

/// The `--state` saver: its stop switch and its task.
type Saver = (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
);

/// Loads `--state` if the file exists, then starts the task that saves it on change.
fn start_saver(
    server: &Server,
    data_writes: Arc<AtomicU64>,
    path: &Path,
    every: Duration,
) -> anyhow::Result<Saver> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let accounts = server
                .load(&bytes)
                .map_err(|e| anyhow::anyhow!(e))
                .with_context(|| format!("--state {}: cannot load it", path.display()))?;
            println!(
                "dosim serve: loaded {accounts} account(s) from {}",
                path.display()
            );
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("--state {}", path.display())),
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(save_on_change(
        server.clone(),
        data_writes,
        path.to_owned(),
        every,
        stopped,
    ));
    Ok((stop, task))
}

/// Stops the saver, which finishes the save it is writing, if any, and then saves once more, so
/// that the last save is this one.
async fn final_save(server: &Server, (stop, task): Saver, path: &Path) -> anyhow::Result<()> {
    let _ = stop.send(true);
    let _ = task.await;
    let bytes = server.save();
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
        .await
        .context("the final save stopped")?
        .context("--state: cannot save")
}

/// One HTTP/1 connection, holding its slot of the connection cap until it ends; at shutdown it
/// finishes the request in flight and closes.
async fn serve_http_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    slot: tokio::sync::OwnedSemaphorePermit,
    router: axum::Router,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    header_timeout: Duration,
) {
    let _slot = slot;
    let shutdown = async move {
        let _ = shutdown.changed().await;
    };
    let timeout = Some(header_timeout);
    http1::serve_connection(stream, peer, router, http1::api_peer, timeout, shutdown).await;
}

/// Ctrl-C, or SIGTERM where there is one.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

/// Saves the server to `path` whenever it has changed (the API's state, or a cluster's data by
/// an SQL write), at most once per `every`. Stops between saves when `stop` says so.
async fn save_on_change(
    server: Server,
    data_writes: Arc<AtomicU64>,
    path: PathBuf,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let changes_now = || {
        server
            .changes()
            .wrapping_add(data_writes.load(std::sync::atomic::Ordering::Relaxed))
    };
    let mut saved = changes_now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let changes = changes_now();
        if changes == saved {
            continue;
        }
        let bytes = server.save();
        let target = path.clone();
        match tokio::task::spawn_blocking(move || write_atomically(&target, &bytes)).await {
            Ok(Ok(())) => saved = changes,
            Ok(Err(error)) => eprintln!(
                "dosim serve: --state {}: cannot save: {error:#}",
                path.display()
            ),
            Err(_) => return,
        }
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over `path` and
/// syncs the directory, so that `path` always holds one whole save, the old or the new.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .context("the state file needs a file name")?
        .to_string_lossy()
        .into_owned();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    // The file holds every account's token.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&temp)
        .with_context(|| format!("cannot create {}", temp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)
        .with_context(|| format!("cannot rename {} to {}", temp.display(), path.display()))?;
    #[cfg(unix)]
    std::fs::File::open(&dir)?.sync_all()?;
    Ok(())
}

/// Answers a connection beyond `--max-connections` with a 503 in DigitalOcean's shape (no request
/// was read, so its `request_id` is null and it carries no rate-limit headers), if its socket
/// takes it at once, and closes it; nothing waits on the client.
fn refuse_over_cap(stream: tokio::net::TcpStream, cap: usize) {
    let body = format!(
        "{{\"id\":\"service_unavailable\",\"message\":\"dosim serve holds at most {cap} connections (--max-connections); try again later\",\"request_id\":null}}"
    );
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(response.as_bytes());
}

/// Failed `accept` calls: the pause before the next one, and one line per interval.
#[derive(Default)]
struct AcceptErrors {
    /// Failures in a row.
    streak: u32,
    /// When the last line was printed.
    logged_at: Option<tokio::time::Instant>,
    /// Failures since that line.
    unlogged: u64,
}

impl AcceptErrors {
    fn reset(&mut self) {
        self.streak = 0;
    }

    /// Records a failure, prints a line if none was printed this interval, and says how long to pause.
    fn failed(&mut self, error: &std::io::Error) -> Duration {
        let now = tokio::time::Instant::now();
        self.unlogged += 1;
        if self
            .logged_at
            .is_none_or(|at| now.duration_since(at) >= ACCEPT_ERROR_LOG_INTERVAL)
        {
            eprintln!(
                "dosim serve: accept failed: {error} ({} time(s) since the last such line; pausing up to {} ms between attempts)",
                self.unlogged,
                ACCEPT_BACKOFF_MAX.as_millis()
            );
            self.logged_at = Some(now);
            self.unlogged = 0;
        }
        self.streak = self.streak.saturating_add(1);
        let pause = Duration::from_millis(10) * 2u32.saturating_pow(self.streak.min(10) - 1);
        pause.min(ACCEPT_BACKOFF_MAX)
    }
}

fn announce(server: &Server, local: SocketAddr, seed: u64) -> anyhow::Result<()> {
    let url = format!("http://{local}");
    let token = server.token();
    let mut out = std::io::stdout().lock();
    writeln!(out, "dosim serve: seed {seed}")?;
    writeln!(out, "listening on {url}")?;
    writeln!(out, "token: {token}")?;
    writeln!(
        out,
        "any other token of the form dop_v1_<64 hex digits> opens its own empty account"
    )?;
    writeln!(out)?;
    writeln!(out, "try it:")?;
    writeln!(
        out,
        "  curl -H 'Authorization: Bearer {token}' {url}/v2/account"
    )?;
    writeln!(
        out,
        "  DIGITALOCEAN_API_URL={url} DIGITALOCEAN_ACCESS_TOKEN={token} doctl compute droplet list"
    )?;
    writeln!(
        out,
        "  python: pydo.Client(\"{token}\", endpoint=\"{url}\") and enforce_https=False on each call"
    )?;
    writeln!(
        out,
        "  go: godo.New(httpClient, godo.SetBaseURL(\"{url}/\"))"
    )?;
    writeln!(
        out,
        "  state: curl {url}/_dosim/state   history: curl {url}/_dosim/history"
    )?;
    writeln!(
        out,
        "  postgres: each pg cluster's connection.uri works verbatim: psql \"$(curl -s -H 'Authorization: Bearer {token}' {url}/v2/databases/<id> | jq -r .database.connection.uri)\""
    )?;
    writeln!(out, "Ctrl-C stops the server.")?;
    out.flush()?;
    Ok(())
}

fn announce_spaces(api: SocketAddr, spaces: SocketAddr) -> anyhow::Result<()> {
    let url = format!("http://{spaces}");
    let mut out = std::io::stdout().lock();
    writeln!(out, "spaces on {url}")?;
    writeln!(
        out,
        "  keys: curl -X POST -H 'Authorization: Bearer <token>' -d '{{\"name\":\"k\",\"grants\":[{{\"bucket\":\"\",\"permission\":\"fullaccess\"}}]}}' http://{api}/v2/spaces/keys"
    )?;
    writeln!(
        out,
        "  boto3: boto3.client(\"s3\", region_name=\"nyc3\", endpoint_url=\"{url}\", aws_access_key_id=..., aws_secret_access_key=...)"
    )?;
    out.flush()?;
    Ok(())
}

/// The most accounts `--spaces-conditional-put-for` may name.
const CONDITIONAL_PUT_ACCOUNTS_MAX: usize = 1000;

/// Reads `--spaces-conditional-put-for ACCOUNT=MODE` values: by account fingerprint.
fn conditional_put_by_account(
    values: &[String],
) -> anyhow::Result<std::collections::BTreeMap<String, dosim_spaces::ConditionalPut>> {
    if values.len() > CONDITIONAL_PUT_ACCOUNTS_MAX {
        bail!(
            "--spaces-conditional-put-for names at most {CONDITIONAL_PUT_ACCOUNTS_MAX} accounts, got {}",
            values.len()
        );
    }
    let mut by_account = std::collections::BTreeMap::new();
    for value in values {
        let Some((account, mode)) = value.split_once('=') else {
            bail!("--spaces-conditional-put-for takes ACCOUNT=MODE, got {value:?}");
        };
        let Some(mode) = dosim_spaces::ConditionalPut::parse(mode) else {
            bail!(
                "--spaces-conditional-put-for {account}=…: the mode must be unquoted_only, rfc, ignored or not_implemented, got {mode:?}"
            );
        };
        let fingerprint = if account.starts_with("acct-") {
            account.to_owned()
        } else if account.starts_with("dop_v1_") {
            dosim_api::fingerprint(account)
        } else {
            bail!(
                "--spaces-conditional-put-for: the account must be a token (dop_v1_…) or a fingerprint (acct-…), got {account:?}"
            );
        };
        by_account.insert(fingerprint, mode);
    }
    Ok(by_account)
}
