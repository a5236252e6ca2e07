//! A scripted transport for tests: canned replies in order, every request recorded with its time.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dosim_client::{
    Bytes, Client, RetryPolicy, Transport, TransportError, TransportErrorKind, TransportFuture,
};

/// One scripted reply.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A response.
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// A failed connect.
    Connect,
    /// A connection reset after the request was sent.
    Reset,
    /// No answer, ever.
    Hang,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    pub fn fixture(status: u16, name: &str) -> Reply {
        Reply::json(status, &fixture(name))
    }

    pub fn with_header(self, name: &str, value: &str) -> Reply {
        match self {
            Reply::Response {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.into(), value.into()));
                Reply::Response {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }
}

/// A recorded request.
#[derive(Clone, Debug)]
pub struct Sent {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub uri: String,
    pub headers: http::HeaderMap,
    pub body: String,
    /// Simulated time since the transport was made.
    pub at: Duration,
}

/// The scripted transport; clones share the script and the record.
#[derive(Clone)]
pub struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    sent: Arc<Mutex<Vec<Sent>>>,
    start: tokio::time::Instant,
}

impl Script {
    pub fn new(replies: Vec<Reply>) -> Script {
        Script {
            replies: Arc::new(Mutex::new(replies.into())),
            sent: Arc::new(Mutex::new(Vec::new())),
            start: tokio::time::Instant::now(),
        }
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    pub fn client(&self) -> Client {
        self.client_with(RetryPolicy::none())
    }

    pub fn client_with(&self, retry: RetryPolicy) -> Client {
        Client::builder()
            .base_url("http://api.test:8080/")
            .token("t0ken")
            .header("x-dosim-actor", "pod-0")
            .timeout(Duration::from_secs(10))
            .retry(retry)
            .transport(self.clone())
            .build()
            .expect("a valid client")
    }
}

impl Transport for Script {
    fn send(&self, req: http::Request<Bytes>) -> TransportFuture<'_> {
        let uri = req.uri().to_string();
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default();
        self.sent.lock().unwrap().push(Sent {
            method: req.method().to_string(),
            path,
            uri,
            headers: req.headers().clone(),
            body: String::from_utf8(req.body().to_vec()).unwrap(),
            at: self.start.elapsed(),
        });
        let reply = self.replies.lock().unwrap().pop_front();
        Box::pin(async move {
            match reply {
                Some(Reply::Response {
                    status,
                    headers,
                    body,
                }) => {
                    let mut response = http::Response::builder().status(status);
                    for (name, value) in headers {
                        response = response.header(name, value);
                    }
                    Ok(response.body(Bytes::from(body)).unwrap())
                }
                Some(Reply::Connect) => Err(TransportError::new(
                    TransportErrorKind::Connect,
                    "connection refused",
                )),
                Some(Reply::Reset) => Err(TransportError::new(
                    TransportErrorKind::Io,
                    "connection reset by peer",
                )),
                Some(Reply::Hang) => std::future::pending().await,
                None => panic!("the script has no reply left"),
            }
        })
    }
}

/// A file from `tests/data/`.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs `f` on a current-thread runtime with paused time, like a turmoil host.
pub fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(f)
}
