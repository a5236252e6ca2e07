//! `dosim serve`'s Spaces: the S3 API on a listener of its own, verifying signatures against the keys `/v2/spaces/keys` creates.
//!
//! A second listener rather than routing by `Host` on the API's: path-style S3 requests name a
//! bucket in the first path segment, which would collide with `/v2/` and `/_dosim/`.

use std::net::SocketAddr;
use std::sync::Arc;

use dosim_api::Server;
use dosim_spaces::{KeyStore, Spaces, SpacesConfig};

use crate::http1;

/// The keys of every account of the API server.
struct ApiKeys(Server);

impl KeyStore for ApiKeys {
    fn key(&self, access_key: &str) -> Option<(String, dosim_cloud::SpacesKey)> {
        self.0.spaces_key(access_key)
    }
}

/// Wall-clock seconds now: real clients sign S3 requests with the wall clock, so serve's
/// signing clock starts from it (and then runs on tokio's monotonic clock, at the wall clock's pace).
#[allow(clippy::disallowed_methods)]
fn wall_clock_unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Builds the Spaces service over `server`'s accounts, clock and fault plan, adds its buckets to `/_dosim/state` and has `/_dosim/reset` forget them.
pub fn build(server: &Server, mut config: SpacesConfig, time_scale: f64) -> Spaces {
    config.seed = server.seed();
    config.signing_origin_unix_secs = wall_clock_unix_secs() - (server.now().0 / 1000) as i64;
    config.signing_time_scale = time_scale;
    let clock_server = server.clone();
    let spaces = Spaces::new(
        config,
        Arc::new(ApiKeys(server.clone())),
        Arc::new(move || clock_server.now()),
    );
    // The server's fault plan covers Spaces' requests too: its `service = "spaces"` rules.
    spaces.set_faults(Arc::new(server.clone()));
    let dump = spaces.clone();
    server.add_state_section("spaces", Arc::new(move || dump.state_dump()));
    let reset = spaces.clone();
    server.add_reset_hook(Arc::new(move || reset.reset()));
    spaces
}

/// Serves `spaces` on `listener` until `shutdown` changes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    spaces: Spaces,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let router = spaces.router();
    let mut connections = tokio::task::JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let router = router.clone();
                let mut shutdown = shutdown.clone();
                let shutdown = async move {
                    let _ = shutdown.changed().await;
                };
                connections.spawn(http1::serve_connection(
                    stream,
                    peer,
                    router,
                    http1::spaces_peer,
                    None,
                    shutdown,
                ));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    while connections.join_next().await.is_some() {}
}

/// The default Spaces address: the API's port plus one, or any free port if the API's is 0.
pub fn default_addr(api: SocketAddr) -> SocketAddr {
    let port = if api.port() == 0 {
        0
    } else {
        api.port().wrapping_add(1)
    };
    SocketAddr::new(api.ip(), port)
}
