//! Spaces' part in a run: the key and buckets created before the actors start, the host serving the S3 API with the gate and the history, and the service read after the run.

use std::cell::RefCell;
use std::sync::Arc;

use dosim_base::gate::Gate;
use dosim_base::SimTime;
use dosim_spaces::{Acl, KeyStore, LogEntry, Logged, Peer, Spaces, SpacesConfig, StoreConfig};
use hyper_util::rt::TokioIo;

use super::{SpacesSpec, BUCKETS_MAX, PORT};
use crate::history::{OpResult, Recorder};
use crate::outcome::RunOutcome;

/// Where actors reach Spaces and the key pair they sign with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpacesInfo {
    /// `nyc3`, …
    pub region: String,
    /// `{region}.digitaloceanspaces.com`: the host on turmoil's network.
    pub host: String,
    /// `http://{host}`: the endpoint URL for an S3 client, path-style.
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
}

/// Spaces in one run: where it answers, and the service, shared with the host serving it.
#[derive(Clone)]
pub struct RunSpaces {
    info: SpacesInfo,
    spaces: Spaces,
}

impl std::fmt::Debug for RunSpaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSpaces")
            .field("host", &self.info.host)
            .finish_non_exhaustive()
    }
}

impl RunSpaces {
    /// Where it answered, and the key pair.
    pub fn info(&self) -> &SpacesInfo {
        &self.info
    }

    /// The service: [`Spaces::with_store`] reads the final buckets and objects, [`Spaces::log`] every request.
    pub fn service(&self) -> &Spaces {
        &self.spaces
    }

    /// The latest version's body of `bucket/key` when the run ended, if it has one.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.spaces.with_store(|store| {
            store
                .get_object(bucket, key, None, &Default::default())
                .ok()
                .map(|version| version.body.to_vec())
        })
    }
}

impl RunOutcome {
    /// The run's Spaces, if the scenario has it.
    pub fn spaces(&self) -> Option<&RunSpaces> {
        self.spaces.as_ref()
    }
}

/// The keys of the run's account, as the API server holds them.
struct ApiKeys(dosim_api::Server);

impl KeyStore for ApiKeys {
    fn key(&self, access_key: &str) -> Option<(String, dosim_cloud::SpacesKey)> {
        self.0.spaces_key(access_key)
    }
}

/// Creates the key pair and the buckets of `spec` in the account.
pub(crate) fn create(
    server: &dosim_api::Server,
    token: &str,
    spec: Option<&SpacesSpec>,
    seed: u64,
) -> Result<Option<RunSpaces>, String> {
    let Some(spec) = spec else { return Ok(None) };
    if spec.buckets.len() > BUCKETS_MAX {
        return Err(format!(
            "{} Spaces buckets is more than the {BUCKETS_MAX} a scenario may have",
            spec.buckets.len()
        ));
    }
    let key = server
        .with_account(token, |cloud| {
            cloud.create_spaces_key(
                SimTime::ZERO,
                dosim_cloud::SpacesKeyCreate {
                    name: Some("dosim".to_owned()),
                    grants: vec![(String::new(), "fullaccess".to_owned())],
                },
            )
        })
        .map_err(|error| format!("Spaces key: {error}"))?;
    let owner = server
        .spaces_key(&key.access_key)
        .map(|(owner, _)| owner)
        .ok_or("Spaces key: the account does not hold the key it created")?;
    let clock_server = server.clone();
    let spaces = Spaces::new(
        SpacesConfig {
            seed: crate::seed::hash_text(&format!("spaces {seed}")),
            region: spec.region.clone(),
            store: StoreConfig {
                conditional_put: spec.conditional_put,
                ..StoreConfig::default()
            },
            ..SpacesConfig::default()
        },
        Arc::new(ApiKeys(server.clone())),
        Arc::new(move || clock_server.now()),
    );
    // The run's fault plan covers Spaces' requests too (its `service = "spaces"` rules), drawn by
    // the API server's decider, so one seed decides every fault and shrinking sees them all.
    spaces.set_faults(Arc::new(server.clone()));
    spaces.with_store(|store| {
        for (bucket, versioned) in &spec.buckets {
            store
                .create_bucket(SimTime::ZERO, &owner, &spec.region, bucket, Acl::Private)
                .map_err(|error| format!("Spaces bucket {bucket}: {}", error.message))?;
            if *versioned {
                store
                    .set_versioning(bucket, true)
                    .map_err(|error| format!("Spaces bucket {bucket}: {}", error.message))?;
            }
        }
        Ok::<(), String>(())
    })?;
    let host = format!("{}.{}", spec.region, dosim_spaces::DOMAIN);
    Ok(Some(RunSpaces {
        info: SpacesInfo {
            region: spec.region.clone(),
            endpoint: format!("http://{host}"),
            host,
            access_key: key.access_key,
            secret_key: key.secret_key,
        },
        spaces,
    }))
}

/// Adds the host that serves Spaces: state-changing requests pass `gate`, and each request is recorded in the history as an operation of its sender.
pub(crate) fn host(
    sim: &mut turmoil::Sim<'_>,
    run: &RunSpaces,
    recorder: Recorder,
    gate: Arc<dyn Gate>,
) {
    run.spaces.set_gate(gate);
    let spaces = run.spaces.clone();
    sim.host(run.info.host.clone(), move || {
        let (spaces, recorder) = (spaces.clone(), recorder.clone());
        async move {
            let listener = crate::net::TurmoilListener::bind(PORT).await?;
            loop {
                let Ok((stream, peer)) = listener.accept_stream().await else {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    continue;
                };
                let actor =
                    turmoil::reverse_lookup(peer.ip()).unwrap_or_else(|| peer.ip().to_string());
                let (spaces, recorder) = (spaces.clone(), recorder.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: http::Request<hyper::body::Incoming>| {
                            serve_one(spaces.clone(), recorder.clone(), actor.clone(), request)
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .auto_date_header(false)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    });
}

/// Serves one request and records it.
async fn serve_one(
    spaces: Spaces,
    recorder: Recorder,
    actor: String,
    mut request: http::Request<hyper::body::Incoming>,
) -> Result<axum::response::Response, std::convert::Infallible> {
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let seq = recorder.invoke(
        &actor,
        request.method().as_str(),
        &target,
        None,
        crate::history::now_ms(),
    );
    crate::floor::capture_spaces(&actor);
    request.extensions_mut().insert(Peer(actor));
    let response = tower::ServiceExt::oneshot(spaces.router(), request.map(axum::body::Body::new))
        .await
        .unwrap_or_else(|never| match never {});
    if let Some(seq) = seq {
        let entry = response
            .extensions()
            .get::<Logged>()
            .and_then(|logged| spaces.log_entry(logged.0));
        let request_id = entry.as_ref().map(|entry| entry.request_id.clone());
        let (summary, resources) = entry.as_ref().map_or((None, Vec::new()), summarize);
        // The server's view: a response the fault plan loses never reaches the client.
        let result = match entry.as_ref().and_then(|entry| entry.fault.as_ref()) {
            Some(dosim_api::InjectedFault::DropResponse { .. }) => OpResult::TransportError {
                message: "the response was lost after commit".to_owned(),
            },
            _ => OpResult::Status {
                status: response.status().as_u16(),
            },
        };
        recorder.complete(
            seq,
            crate::history::now_ms(),
            result,
            request_id,
            summary,
            resources,
        );
    }
    Ok(response)
}

/// The operation, its ETag or version id or error code, and the object it names.
fn summarize(entry: &LogEntry) -> (Option<String>, Vec<String>) {
    let mut text = entry.operation.to_owned();
    if let Some(error) = entry.error {
        text.push_str(&format!(" {error}"));
    }
    if let Some(etag) = &entry.etag {
        text.push_str(&format!(" etag {}", crate::history::short(etag)));
    }
    if let Some(version) = &entry.version_id {
        text.push_str(&format!(" version {}", crate::history::short(version)));
    }
    let resource = match (&entry.bucket, &entry.key) {
        (Some(bucket), Some(key)) => vec![format!("object {bucket}/{key}")],
        (Some(bucket), None) => vec![format!("bucket {bucket}")],
        _ => Vec::new(),
    };
    (Some(text), resource)
}

thread_local! {
    /// The Spaces of the run in progress on this thread.
    static RUN_SPACES: RefCell<Option<SpacesInfo>> = const { RefCell::new(None) };
}

/// Keeps the run's Spaces visible to its actors until dropped.
pub(crate) struct RunGuard(());

impl Drop for RunGuard {
    fn drop(&mut self) {
        RUN_SPACES.with(|current| *current.borrow_mut() = None);
    }
}

pub(crate) fn enter(run: Option<&RunSpaces>) -> RunGuard {
    RUN_SPACES.with(|current| *current.borrow_mut() = run.map(|r| r.info.clone()));
    RunGuard(())
}

/// The current run's Spaces endpoint and key pair, if its scenario has Spaces.
pub fn info() -> Option<SpacesInfo> {
    RUN_SPACES.with(|current| current.borrow().clone())
}
