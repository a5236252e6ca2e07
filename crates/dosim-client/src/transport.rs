//! The pluggable transport: one HTTP exchange, request bytes in, response bytes out.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;

/// The largest response body a transport reads, in bytes.
/// DigitalOcean's largest page (200 droplets) is well under this; anything bigger is a fault.
pub const RESPONSE_BODY_BYTES_MAX: usize = 16 * 1024 * 1024;

/// The future a [`Transport`] returns.
pub type TransportFuture<'a> =
    Pin<Box<dyn Future<Output = Result<http::Response<Bytes>, TransportError>> + Send + 'a>>;

/// Sends one HTTP request and reads the whole response.
///
/// The client adds every header (authorization, user agent, content type) and owns timeouts and
/// retries, so a transport only moves bytes. Implement it to run the client over another network
/// (a simulated one, a recording, canned responses in tests).
pub trait Transport: Send + Sync + 'static {
    /// Sends `req` (its URI is absolute) and returns the response with its body read in full.
    fn send(&self, req: http::Request<Bytes>) -> TransportFuture<'_>;
}

/// What went wrong below HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// No connection was made, so the request was certainly not sent.
    Connect,
    /// The connection failed after it was made: the request may or may not have reached the server.
    Io,
    /// The response body was larger than [`RESPONSE_BODY_BYTES_MAX`].
    BodyTooLarge,
    /// The request could not be built (a bad URL, a bad header).
    Request,
}

/// A failure of the transport, not of the API.
#[derive(Debug)]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl TransportError {
    /// A transport error of `kind` with a message.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> TransportError {
        TransportError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What class of failure this is.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// Whether the request was certainly never sent (so resending it cannot duplicate anything).
    pub fn is_connect(&self) -> bool {
        self.kind == TransportErrorKind::Connect
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// The default transport: hyper's pooled HTTP/1 client over any connector.
///
/// `HyperTransport::http()` speaks plain HTTP over the OS's TCP (for `dosim serve`).
/// A simulation passes its own connector (for example one that dials turmoil's `TcpStream`) to
/// [`HyperTransport::new`]. Connections are driven by tasks spawned with `tokio::spawn` on the
/// current runtime, which works on a current-thread runtime such as a turmoil host's.
pub struct HyperTransport<C> {
    client: hyper_util::client::legacy::Client<C, Full<Bytes>>,
}

impl<C> HyperTransport<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    /// A transport that opens connections with `connector`.
    pub fn new(connector: C) -> HyperTransport<C> {
        let client =
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
        HyperTransport { client }
    }
}

impl HyperTransport<HttpConnector> {
    /// Plain HTTP over TCP.
    pub fn http() -> HyperTransport<HttpConnector> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        HyperTransport::new(connector)
    }
}

#[cfg(feature = "tls")]
impl HyperTransport<hyper_rustls::HttpsConnector<HttpConnector>> {
    /// HTTPS (and plain HTTP) with rustls and the webpki root certificates.
    pub fn https() -> HyperTransport<hyper_rustls::HttpsConnector<HttpConnector>> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        HyperTransport::new(connector)
    }
}

impl<C> Transport for HyperTransport<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    fn send(&self, req: http::Request<Bytes>) -> TransportFuture<'_> {
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let req = http::Request::from_parts(parts, Full::new(body));
            let response = self.client.request(req).await.map_err(|e| {
                let kind = if e.is_connect() {
                    TransportErrorKind::Connect
                } else {
                    TransportErrorKind::Io
                };
                TransportError::new(kind, "http request failed").with_source(e)
            })?;
            let (parts, body) = response.into_parts();
            let collected = Limited::new(body, RESPONSE_BODY_BYTES_MAX)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        TransportError::new(
                            TransportErrorKind::BodyTooLarge,
                            format!("response body over {RESPONSE_BODY_BYTES_MAX} bytes"),
                        )
                    } else {
                        TransportError::new(
                            TransportErrorKind::Io,
                            "reading the response body failed",
                        )
                        .with_source(e)
                    }
                })?;
            Ok(http::Response::from_parts(parts, collected.to_bytes()))
        })
    }
}
