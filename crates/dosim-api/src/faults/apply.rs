//! The fault layer around the commit: latency and rejection before it, a lost response after it.

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use std::sync::Arc;

use dosim_base::faults::{DropMode, FaultRequest, RejectBody, Rejection};
use dosim_base::lost::{commit_detached, proxy_error_page, ResetBody};

use super::{InjectedFault, LatencyStage};
use crate::error::ApiError;
use crate::exchange::{Exchange, Unheard};
use crate::ratelimit::RateStatus;
use crate::server::Server;

/// Holds a request in transit for its rule's network latency, before it reaches the API; the
/// client giving up meanwhile drops this future, and with it the request. Returns the fault to
/// record, if the request was slowed.
pub(crate) async fn network_latency(
    server: &Server,
    request: FaultRequest<'_>,
) -> Option<InjectedFault> {
    let (rule, latency_ms) = server.inner.faults.lock().network_latency(request)?;
    tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    Some(InjectedFault::Latency {
        rule,
        stage: LatencyStage::Network,
        latency_ms,
    })
}

/// A response on its way back, with the record that the client never heard it if it is lost on
/// the way (`None` when nothing committed: an injected rejection).
pub(crate) struct Reply {
    pub(crate) response: Response,
    pub(crate) rate: RateStatus,
    /// Held for its `Drop` until the pipeline has written the entry.
    pub(crate) _unheard: Option<Unheard>,
}

/// Runs `commit` (the gate and the handler) inside the faults the plan gives a request that has
/// reached the API.
///
/// The rejection and the processing latency are drawn when the request arrives, in arrival order;
/// whether the response is lost is drawn after the commit. A request with processing latency
/// runs its commit on a task of its own, so that a client giving up cannot cancel it: on
/// DigitalOcean a slow request that reached the API still commits.
pub(crate) async fn around_commit<C>(
    server: &Server,
    exchange: &Arc<Exchange>,
    request: FaultRequest<'_>,
    rate: RateStatus,
    commit: C,
) -> Reply
where
    C: Future<Output = (Response, Unheard)> + Send + 'static,
{
    let decided = server.inner.faults.lock().on_arrival(request);
    let Some(decided) = decided else {
        let (response, unheard) = commit.await;
        return Reply {
            response,
            rate,
            _unheard: Some(unheard),
        };
    };
    let rule = decided.rule;
    if let Some(reject) = decided.reject {
        exchange.fault(InjectedFault::Reject {
            rule,
            status: reject.status,
            body: reject.body,
        });
        let status = RateStatus {
            remaining: if reject.status == 429 {
                0
            } else {
                rate.remaining
            },
            retry_after_ms: (reject.status == 429).then_some(reject.retry_after_s * 1000),
            ..rate
        };
        return Reply {
            response: rejection(&reject, exchange),
            rate: status,
            _unheard: None,
        };
    }

    let (response, unheard) = match decided.processing_latency_ms {
        None => commit.await,
        Some(latency_ms) => {
            exchange.fault(InjectedFault::Latency {
                rule,
                stage: LatencyStage::Processing,
                latency_ms,
            });
            commit_detached(latency_ms, commit).await
        }
    };

    let lost = if decided.may_lose_response {
        server.inner.faults.lock().lose_response(request, rule)
    } else {
        None
    };
    let Some(drop) = lost else {
        return Reply {
            response,
            rate,
            _unheard: Some(unheard),
        };
    };
    // A lost response: the commit stands, the client never hears of it.
    exchange.fault(InjectedFault::DropResponse {
        rule,
        mode: drop.mode,
        hang_ms: drop.hang_ms,
    });
    if drop.mode == DropMode::Hang {
        tokio::time::sleep(Duration::from_millis(drop.hang_ms)).await;
    }
    let (parts, _) = response.into_parts();
    let mut response = Response::from_parts(parts, Body::new(ResetBody));
    response.headers_mut().remove(header::CONTENT_LENGTH);
    Reply {
        response,
        rate,
        _unheard: Some(unheard),
    }
}

/// An injected rejection's response: DigitalOcean's error body, or a proxy's HTML page.
fn rejection(reject: &Rejection, exchange: &Exchange) -> Response {
    let status = StatusCode::from_u16(reject.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if reject.body == RejectBody::Html {
        let reason = status.canonical_reason().unwrap_or("Error");
        let page = proxy_error_page(status.as_u16(), reason);
        let mut response = (status, page).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return response;
    }
    let error = match reject.status {
        429 => ApiError::too_many_requests(),
        502 => ApiError::new(status, "bad_gateway", "Bad gateway"),
        503 => ApiError::new(status, "service_unavailable", "Service unavailable"),
        504 => ApiError::new(status, "gateway_timeout", "Gateway time-out"),
        _ => ApiError::server_error(),
    };
    exchange.summary_unless_set(&error.message);
    error.render(&exchange.request_id)
}
