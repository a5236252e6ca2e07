//! What the fault plan does to a response on the wire, shared by the planes that serve HTTP:
//! a commit that runs to its end whether the client still waits or not ([`commit_detached`]), and
//! a response body that fails at once so that the connection is cut mid-response ([`ResetBody`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

/// Waits out a processing latency, then runs `commit`, on a task of its own: a client that goes
/// away meanwhile drops this future but not the task, so the commit still happens, as it does on
/// a real service once a request reached it.
pub async fn commit_detached<C>(latency_ms: u64, commit: C) -> C::Output
where
    C: Future + Send + 'static,
    C::Output: Send + 'static,
{
    let task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
        commit.await
    });
    match task.await {
        Ok(output) => output,
        // A commit that panics on its own task panics the request, as it would inline.
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("the commit's task was cancelled: {error}"),
        },
    }
}

/// A response body that fails at once, so that hyper aborts the connection mid-response: the
/// response of a commit the fault plan loses.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResetBody;

impl http_body::Body for ResetBody {
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

/// The HTML page a proxy in front of a service answers an injected rejection with
/// (`reject.body = "html"`), for `status` and its reason phrase.
pub fn proxy_error_page(status: u16, reason: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html>\n<head><title>{status} {reason}</title></head>\n<body>\n\
         <h1>{status} {reason}</h1>\n<p>Looks like something went wrong. If this continues, please open a support ticket so we can help you out.</p>\n\
         </body>\n</html>\n"
    )
}
