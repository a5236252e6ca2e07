//! The simulated network: the API host's listener and a hyper connector over turmoil's TCP.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;

/// The host name of the DigitalOcean API inside a simulation.
pub const API_HOST: &str = "api.digitalocean.com";

/// The base URL actors use to reach the API host over turmoil's network.
pub const API_BASE_URL: &str = "http://api.digitalocean.com";

/// The port the API host listens on: plain HTTP, since turmoil has no TLS.
pub const API_PORT: u16 = 80;

/// A turmoil TCP listener that axum can serve on.
///
/// `axum::serve(TurmoilListener::bind(80).await?, router)` works on any turmoil host.
/// The harness itself serves the API through [`serve_router`], which turns off hyper's
/// wall-clock `date` header.
pub struct TurmoilListener {
    listener: turmoil::net::TcpListener,
}

impl std::fmt::Debug for TurmoilListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurmoilListener")
            .field("local_addr", &self.listener.local_addr().ok())
            .finish()
    }
}

/// Binds `0.0.0.0:port` on the current turmoil host (turmoil accepts no other address).
pub(crate) async fn bind(port: u16) -> io::Result<turmoil::net::TcpListener> {
    turmoil::net::TcpListener::bind((std::net::Ipv4Addr::UNSPECIFIED, port)).await
}

/// The run's start on tokio's clock: a data plane's engine counts from it, so that its clock
/// agrees with the cloud's.
pub(crate) fn run_start() -> tokio::time::Instant {
    tokio::time::Instant::now() - turmoil::sim_elapsed().unwrap_or_default()
}

/// The host a connection comes from, by name, as the history names actors.
pub(crate) fn peer_name(peer: SocketAddr) -> String {
    turmoil::reverse_lookup(peer.ip()).unwrap_or_else(|| peer.ip().to_string())
}

impl TurmoilListener {
    /// Binds `0.0.0.0:port` on the current turmoil host (turmoil accepts no other address).
    pub async fn bind(port: u16) -> io::Result<Self> {
        Ok(Self {
            listener: bind(port).await?,
        })
    }

    /// Wraps a listener bound by the caller.
    pub fn from_listener(listener: turmoil::net::TcpListener) -> Self {
        Self { listener }
    }

    /// Accepts the next connection.
    pub async fn accept_stream(&self) -> io::Result<(turmoil::net::TcpStream, SocketAddr)> {
        self.listener.accept().await
    }
}

impl axum::serve::Listener for TurmoilListener {
    type Io = turmoil::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // turmoil's accept fails only when the host is shutting down; waiting one
            // tick before retrying keeps a failing listener from spinning the step.
            match self.listener.accept().await {
                Ok(accepted) => return accepted,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// Serves an axum router on `0.0.0.0:port` of the current turmoil host until the host stops.
///
/// Each connection is served by hyper's HTTP/1 server with the automatic `date` header
/// turned off: that header reads the wall clock and would make traces differ between runs.
pub async fn serve_router(router: axum::Router, port: u16) -> io::Result<()> {
    serve_service(router, port).await
}

/// As [`serve_router`], for any service that answers axum's requests (`Server::service`).
pub(crate) async fn serve_service<S>(service: S, port: u16) -> io::Result<()>
where
    S: tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let listener = TurmoilListener::bind(port).await?;
    loop {
        let (stream, _peer) = match listener.accept_stream().await {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                continue;
            }
        };
        let service = service.clone();
        tokio::spawn(async move {
            let answer =
                hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let service = service.clone();
                    let request = request.map(axum::body::Body::new);
                    async move { tower::ServiceExt::oneshot(service, request).await }
                });
            // A connection error here is the peer going away (a reset or a dropped
            // response); the client side records it, so the server ignores it.
            let _ = hyper::server::conn::http1::Builder::new()
                .auto_date_header(false)
                .serve_connection(TokioIo::new(stream), answer)
                .await;
        });
    }
}

/// A hyper-util connector that dials over turmoil's network.
///
/// Use it with `hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(TurmoilConnector)`
/// to send requests from inside a simulation with any hyper-based client. The URI's host is
/// resolved by turmoil's DNS (a host's name, e.g. [`API_HOST`]); the port defaults to 80.
#[derive(Debug, Clone, Copy, Default)]
pub struct TurmoilConnector;

impl tower::Service<http::Uri> for TurmoilConnector {
    type Response = TurmoilConnection;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TurmoilConnection>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, format!("no host in {uri}"))
                })?
                .to_owned();
            let port = uri.port_u16().unwrap_or(API_PORT);
            let stream = turmoil::net::TcpStream::connect((host.as_str(), port)).await?;
            Ok(TurmoilConnection {
                io: TokioIo::new(stream),
            })
        })
    }
}

/// One TCP connection over turmoil's network, as hyper sees it.
#[derive(Debug)]
pub struct TurmoilConnection {
    io: TokioIo<turmoil::net::TcpStream>,
}

impl Connection for TurmoilConnection {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl Read for TurmoilConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl Write for TurmoilConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
