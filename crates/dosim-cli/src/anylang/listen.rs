//! One seed's servers on free loopback ports: the API's router and Spaces' behind a small accept
//! loop that tells the gate when connections open and close.

use std::net::SocketAddr;

use hyper_util::rt::TokioIo;
use tower::ServiceExt;

use dosim_api::{PeerAddr, Server};
use dosim_spaces::{Peer, Spaces};

use super::gate::WindowGate;

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
    serve_router(
        server.router(),
        |request, peer| {
            request.extensions_mut().insert(PeerAddr(peer));
        },
        gate,
    )
    .await
}

/// Serves Spaces' S3 API on `127.0.0.1:0`; its state-changing requests pass `gate` too.
pub async fn listen_spaces(spaces: &Spaces, gate: &WindowGate) -> anyhow::Result<Listening> {
    serve_router(
        spaces.router(),
        |request, peer| {
            request.extensions_mut().insert(Peer(peer));
        },
        gate,
    )
    .await
}

/// Serves `router` on a free loopback port, naming each request's peer with `tag` and counting its connections at `gate`.
async fn serve_router(
    router: axum::Router,
    tag: fn(&mut hyper::Request<hyper::body::Incoming>, String),
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
                        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                            tag(&mut request, peer.to_string());
                            router.clone().oneshot(request.map(axum::body::Body::new))
                        });
                        let mut builder = hyper::server::conn::http1::Builder::new();
                        builder.auto_date_header(false);
                        let _ = builder.serve_connection(TokioIo::new(stream), service).await;
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
