//! `dosim serve`: the fakes as a real HTTP server, for clients in any language.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use hyper_util::rt::TokioIo;
use tower::ServiceExt;

use dosim_api::{FaultPlan, PeerAddr, Server, ServerConfig};

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

    /// Requests per bucket per simulated second before Spaces answers 503 SlowDown; 0 for no limit.
    #[arg(long, value_name = "N", default_value_t = 1500)]
    spaces_rate_limit: u32,

    /// How many PostgreSQL clusters are served on local ports at once, across all accounts; 0 serves none.
    #[arg(long, value_name = "N", default_value_t = crate::pg::PG_CLUSTERS_MAX)]
    pg_clusters_max: usize,
}

/// The validated configuration.
struct Serve {
    addr: SocketAddr,
    spaces_addr: SocketAddr,
    spaces: dosim_spaces::SpacesConfig,
    config: ServerConfig,
    pg_host: String,
    pg_clusters_max: usize,
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
        let config = ServerConfig {
            seed: self.seed,
            rate_limit: dosim_api::RateLimitConfig {
                hourly: self.rate_limit_hourly,
                burst_per_minute: self.rate_limit_burst,
            },
            faults,
            time_scale: self.time_scale,
            base_url: self.base_url,
            ..ServerConfig::default()
        };
        Ok(Serve {
            addr: self.addr,
            spaces_addr: self
                .spaces_addr
                .unwrap_or_else(|| crate::spaces::default_addr(self.addr)),
            spaces,
            config,
            pg_host,
            pg_clusters_max: self.pg_clusters_max,
        })
    }
}

fn read_plan(path: &Path) -> anyhow::Result<FaultPlan> {
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
    if serve.pg_clusters_max > 0 {
        crate::pg::install(
            &server,
            crate::pg::PgDataPlane::new(
                local.ip(),
                serve.pg_host.clone(),
                seed,
                serve.pg_clusters_max,
            ),
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
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            result = &mut ctrl_c => {
                result.context("cannot listen for Ctrl-C")?;
                break;
            }
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        eprintln!("accept failed: {error}");
                        continue;
                    }
                };
                let router = router.clone();
                let mut shutdown = shutdown_rx.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                        request.extensions_mut().insert(PeerAddr(peer.to_string()));
                        router.clone().oneshot(request.map(axum::body::Body::new))
                    });
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    // Responses carry no wall-clock `date` header: every header is simulated.
                    builder.auto_date_header(false);
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(connection);
                    tokio::select! {
                        _ = &mut connection => {}
                        _ = shutdown.changed() => {
                            connection.as_mut().graceful_shutdown();
                            let _ = connection.await;
                        }
                    }
                });
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
    println!("dosim serve: shut down");
    Ok(())
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
