//! One HTTP/1 connection as `dosim serve` and `dosim test` serve them: each request named with its
//! peer before the router sees it, and no wall-clock `date` header on any response.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tower::ServiceExt;

use dosim_api::PeerAddr;
use dosim_spaces::Peer;

/// Names a request's peer, given as its address, for the router that serves it.
pub(crate) type TagPeer = fn(&mut Request<Incoming>, String);

/// [`TagPeer`] for the API, whose history and gate name each request's connection.
pub(crate) fn api_peer(request: &mut Request<Incoming>, peer: String) {
    request.extensions_mut().insert(PeerAddr(peer));
}

/// [`TagPeer`] for Spaces, whose request log names each request's connection.
pub(crate) fn spaces_peer(request: &mut Request<Incoming>, peer: String) {
    request.extensions_mut().insert(Peer(peer));
}

/// Serves one connection from `peer` with `router` until it closes; with a `header_timeout`, a
/// connection that sends no request head for that long is closed; once `shutdown` completes, the
/// request in flight finishes and the connection closes.
pub(crate) async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: axum::Router,
    tag: TagPeer,
    header_timeout: Option<Duration>,
    shutdown: impl Future<Output = ()>,
) {
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        tag(&mut request, peer.to_string());
        router.clone().oneshot(request.map(axum::body::Body::new))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Responses carry no wall-clock `date` header: every header is simulated.
    builder.auto_date_header(false);
    if let Some(header_timeout) = header_timeout {
        // The head timer runs from the moment hyper waits for a request's head, so it also
        // closes a kept-alive connection left idle that long.
        builder.timer(hyper_util::rt::TokioTimer::new());
        builder.header_read_timeout(header_timeout);
    }
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = &mut connection => {}
        () = shutdown => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
