//! The fault layer around the commit: latency and rejection before it, a lost response after it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::decide::RequestAt;
use super::plan::{DropMode, Reject, RejectBody};
use super::InjectedFault;
use crate::error::ApiError;
use crate::exchange::Exchange;
use crate::ratelimit::RateStatus;
use crate::server::Server;

/// Runs `commit` (the gate and the handler) inside the faults the plan gives `request`.
///
/// Latency and rejection are drawn when the request arrives, in arrival order; whether the
/// response is lost is drawn after the commit. Returns the response and the rate-limit status
/// its headers show (an injected 429 shows none remaining).
pub(crate) async fn around_commit(
    server: &Server,
    exchange: &Exchange,
    request: RequestAt<'_>,
    rate: RateStatus,
    commit: impl Future<Output = Response>,
) -> (Response, RateStatus) {
    let decided = server.inner.faults.lock().on_arrival(request);
    let Some(decided) = decided else {
        return (commit.await, rate);
    };
    let rule = decided.rule;
    if let Some(latency_ms) = decided.latency_ms {
        exchange.fault(InjectedFault::Latency { rule, latency_ms });
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
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
        return (rejection(&reject, exchange), status);
    }

    let response = commit.await;

    let Some(drop) = decided.drop_response else {
        return (response, rate);
    };
    let dropped = server
        .inner
        .faults
        .lock()
        .drops_response(request, rule, &drop);
    if !dropped {
        return (response, rate);
    }
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
    (response, rate)
}

/// An injected rejection's response: DigitalOcean's error body, or a proxy's HTML page.
fn rejection(reject: &Reject, exchange: &Exchange) -> Response {
    let status = StatusCode::from_u16(reject.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if reject.body == RejectBody::Html {
        let reason = status.canonical_reason().unwrap_or("Error");
        let page = format!(
            "<!DOCTYPE html>\n<html>\n<head><title>{code} {reason}</title></head>\n<body>\n\
             <h1>{code} {reason}</h1>\n<p>Looks like something went wrong. If this continues, please open a support ticket so we can help you out.</p>\n\
             </body>\n</html>\n",
            code = status.as_u16()
        );
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

/// A response body that fails at once, so that hyper aborts the connection mid-response.
struct ResetBody;

impl HttpBody for ResetBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "dosim: the fault plan dropped this response",
        ))))
    }
}
