//! One request's record from arrival to its history entry: what the pipeline learned, what the
//! handler committed, which fault touched it.
//!
//! The pipeline creates it when the request arrives; the handler reaches it through [`Ctx`]
//! (the commit, the summary) and, for errors, through the task-local [`current`], so that an
//! [`ApiError`] renders itself once, with its request id; [`Exchange::record`] writes the entry.
//!
//! [`Ctx`]: crate::app::Ctx
//! [`ApiError`]: crate::error::ApiError

use std::future::Future;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::faults::InjectedFault;
use crate::history::HistoryEntry;
use crate::server::Server;

/// One request on its way to the history.
pub(crate) struct Exchange {
    /// Also the `x-request-id` header and every error body's `request_id`.
    pub(crate) request_id: Arc<str>,
    record: Mutex<Record>,
}

/// The history entry as it fills in; `status` comes last, with the response.
struct Record {
    seq: u64,
    account: Option<String>,
    actor: String,
    method: String,
    path: String,
    received_ms: u64,
    committed_ms: Option<u64>,
    fault: Option<InjectedFault>,
    summary: Option<String>,
    /// Whether the client had gone away before the response was ready.
    client_gone: bool,
    /// A request to the control endpoints, which read the history rather than belong to it.
    control: bool,
    /// Whether the entry is in the history already: it goes there once.
    recorded: bool,
    /// The request's place among those in flight, given up when the entry is written.
    in_flight: InFlight,
}

/// What the pipeline knows of a request when it arrives.
pub(crate) struct Arrival {
    pub(crate) seq: u64,
    pub(crate) request_id: String,
    pub(crate) actor: String,
    pub(crate) method: String,
    /// The path with its query.
    pub(crate) path: String,
    pub(crate) received_ms: u64,
    /// Whether the path (without its query) is a control endpoint's.
    pub(crate) control: bool,
    pub(crate) in_flight: InFlight,
}

/// A request's seq from when it is handed out ([`State::next_request`]) until its history entry
/// is written, or until the request is abandoned without one (its client went away while the
/// request was in transit or its body arriving): the history's pages hold back every entry after
/// the oldest seq in flight.
///
/// [`State::next_request`]: crate::server::State::next_request
pub(crate) struct InFlight {
    /// `None` for a control request, which has no seq, and once the seq has landed.
    server: Option<Server>,
    seq: u64,
}

impl InFlight {
    /// `seq`, which [`State::next_request`](crate::server::State::next_request) put in flight.
    pub(crate) fn new(server: &Server, seq: u64) -> InFlight {
        InFlight {
            server: Some(server.clone()),
            seq,
        }
    }

    /// A control request's: nothing in flight.
    pub(crate) fn none() -> InFlight {
        InFlight {
            server: None,
            seq: u64::MAX,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.inner.state.lock().landed(self.seq);
        }
    }
}

impl Exchange {
    pub(crate) fn new(arrival: Arrival) -> Arc<Exchange> {
        Arc::new(Exchange {
            request_id: Arc::from(arrival.request_id.as_str()),
            record: Mutex::new(Record {
                seq: arrival.seq,
                account: None,
                actor: arrival.actor,
                method: arrival.method,
                path: arrival.path,
                received_ms: arrival.received_ms,
                committed_ms: None,
                fault: None,
                summary: None,
                client_gone: false,
                control: arrival.control,
                recorded: false,
                in_flight: arrival.in_flight,
            }),
        })
    }

    /// The account's fingerprint, once the token is known to be valid.
    pub(crate) fn set_account(&self, fingerprint: String) {
        self.record.lock().account = Some(fingerprint);
    }

    /// Who sent the request, as the history names them.
    pub(crate) fn actor(&self) -> String {
        self.record.lock().actor.clone()
    }

    /// The request read or changed the model at `at_ms`.
    pub(crate) fn committed(&self, at_ms: u64) {
        self.record.lock().committed_ms = Some(at_ms);
    }

    /// Describes the response for the history.
    pub(crate) fn set_summary(&self, summary: String) {
        self.record.lock().summary = Some(summary);
    }

    /// Describes the response for the history, unless the handler already has (an error after a
    /// commit keeps the handler's own words).
    pub(crate) fn summary_unless_set(&self, summary: &str) {
        let mut record = self.record.lock();
        if record.summary.is_none() {
            record.summary = Some(summary.to_owned());
        }
    }

    /// A fault touched the request; the history keeps the last one.
    pub(crate) fn fault(&self, fault: InjectedFault) {
        self.record.lock().fault = Some(fault);
    }

    /// Writes the history entry, once, unless the request was to the control endpoints.
    pub(crate) fn record(&self, server: &Server, status: u16) {
        let mut record = self.record.lock();
        if record.recorded || record.control {
            return;
        }
        record.recorded = true;
        let entry = HistoryEntry {
            seq: record.seq,
            request_id: self.request_id.to_string(),
            account: record.account.take(),
            actor: std::mem::take(&mut record.actor),
            method: std::mem::take(&mut record.method),
            path: std::mem::take(&mut record.path),
            received_ms: record.received_ms,
            committed_ms: record.committed_ms,
            status,
            fault: record.fault.take(),
            summary: record.summary.take(),
            client_gone: record.client_gone,
        };
        // The seq lands under the same lock as its entry, so no page sees it neither in flight
        // nor in the history.
        let landing = record.in_flight.server.take();
        let seq = record.seq;
        drop(record);
        let mut state = server.inner.state.lock();
        state.history.push(entry);
        if landing.is_some() {
            state.landed(seq);
        }
    }
}

/// A committed request whose response has not reached the pipeline's end yet.
///
/// If it is dropped before the pipeline has written the history entry (the connection went
/// away while the response was prepared, held or sent), it writes the entry itself, saying the
/// client was gone; after the pipeline's own entry, dropping it does nothing.
pub(crate) struct Unheard {
    server: Server,
    exchange: Arc<Exchange>,
    status: u16,
}

impl Unheard {
    pub(crate) fn new(server: Server, exchange: Arc<Exchange>, status: u16) -> Unheard {
        Unheard {
            server,
            exchange,
            status,
        }
    }
}

impl Drop for Unheard {
    fn drop(&mut self) {
        let already = {
            let mut record = self.exchange.record.lock();
            if !record.recorded {
                record.client_gone = true;
            }
            record.recorded
        };
        if !already {
            self.exchange.record(&self.server, self.status);
        }
    }
}

tokio::task_local! {
    static CURRENT: Arc<Exchange>;
}

/// Runs a handler with `exchange` as the current request, so that its errors render with the
/// request id and become its summary.
pub(crate) fn scope<F: Future>(
    exchange: Arc<Exchange>,
    handler: F,
) -> impl Future<Output = F::Output> {
    CURRENT.scope(exchange, handler)
}

/// The request the running handler serves, if a handler is running.
pub(crate) fn current() -> Option<Arc<Exchange>> {
    CURRENT.try_with(Arc::clone).ok()
}
