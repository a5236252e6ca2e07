//! One seed's servers on free loopback ports: the API's router and Spaces' behind a small accept
//! loop that tells the gate when connections open and close.

use std::net::SocketAddr;

use dosim_api::Server;
use dosim_spaces::Spaces;

use super::gate::WindowGate;
use crate::http1::{self, TagPeer};

/// The most connections one run's server holds at once.
const CONNECTIONS_MAX: usize = 256;

/// A running server; dropping it stops accepting and closes every connection.
pub struct Listening {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `server` on `127.0.0.1:0`, admitting each `/v2/` request through `gate`.
pub async fn listen(server: &Server, gate: &WindowGate) -> anyhow::Result<Listening> {
    serve_router(server.router(), http1::api_peer, gate).await
}

/// Serves Spaces' S3 API on `127.0.0.1:0`; its state-changing requests pass `gate` too.
pub async fn listen_spaces(spaces: &Spaces, gate: &WindowGate) -> anyhow::Result<Listening> {
    serve_router(spaces.router(), http1::spaces_peer, gate).await
}

/// Serves `router` on a free loopback port, naming each request's peer with `tag` and counting its connections at `gate`.
async fn serve_router(
    router: axum::Router,
    tag: TagPeer,
    gate: &WindowGate,
) -> anyhow::Result<Listening> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let gate = gate.clone();
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, peer)) = accepted else {
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    };
                    if connections.len() >= CONNECTIONS_MAX {
                        continue;
                    }
                    let router = router.clone();
                    let gate = gate.clone();
                    gate.connection_opened();
                    connections.spawn(async move {
                        let _closed = Closed(gate);
                        let forever = std::future::pending();
                        http1::serve_connection(stream, peer, router, tag, None, forever).await;
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    });
    Ok(Listening { addr, task })
}

/// Tells the gate that its connection closed, however the connection's task ends.
struct Closed(WindowGate);

impl Drop for Closed {
    fn drop(&mut self) {
        self.0.connection_closed();
    }
}
