//! The actors' transport: hyper over turmoil's network, recording every exchange in the history.

use bytes::Bytes;
use dosim_client::{HyperTransport, Transport, TransportError, TransportFuture};

use crate::history::{self, OpResult, Recorder};
use crate::net::TurmoilConnector;

/// A [`Transport`] that sends over turmoil's TCP and records each exchange as an [`crate::Op`].
///
/// The client owns timeouts: when its per-attempt timeout fires it drops the transport's
/// future, which this transport records as a timeout at that simulated instant.
pub struct RecordingTransport {
    actor: String,
    recorder: Recorder,
    inner: HyperTransport<TurmoilConnector>,
}

impl RecordingTransport {
    /// A transport for `actor`, recording into `recorder`.
    pub fn new(actor: String, recorder: Recorder) -> RecordingTransport {
        RecordingTransport {
            actor,
            recorder,
            inner: HyperTransport::new(TurmoilConnector),
        }
    }
}

/// Records a timeout unless the exchange finished first.
struct Pending {
    recorder: Recorder,
    seq: Option<u64>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(seq) = self.seq.take() {
            self.recorder.complete(
                seq,
                history::now_ms(),
                OpResult::Timeout,
                None,
                None,
                Vec::new(),
            );
        }
    }
}

impl Transport for RecordingTransport {
    fn send(&self, req: http::Request<Bytes>) -> TransportFuture<'_> {
        Box::pin(async move {
            crate::floor::capture(&req);
            let target = (req.uri().path_and_query())
                .map_or_else(|| req.uri().path(), |target| target.as_str());
            let seq = self.recorder.invoke_http(
                &self.actor,
                req.method().as_str(),
                target,
                req.body(),
                history::now_ms(),
            );
            let mut pending = Pending {
                recorder: self.recorder.clone(),
                seq,
            };
            let result: Result<http::Response<Bytes>, TransportError> = self.inner.send(req).await;
            if let Some(seq) = pending.seq.take() {
                let now_ms = history::now_ms();
                match &result {
                    Ok(response) => {
                        const REQUEST_ID: http::HeaderName =
                            http::HeaderName::from_static("x-request-id");
                        let request_id = response
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|id| id.to_str().ok())
                            .map(str::to_owned);
                        self.recorder.responded(
                            seq,
                            now_ms,
                            response.status().as_u16(),
                            request_id,
                            response.body(),
                        );
                    }
                    Err(error) => {
                        self.recorder.complete(
                            seq,
                            now_ms,
                            OpResult::TransportError {
                                message: error.to_string(),
                            },
                            None,
                            None,
                            Vec::new(),
                        );
                    }
                }
            }
            result
        })
    }
}
