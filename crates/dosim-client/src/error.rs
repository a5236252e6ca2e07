//! Errors: DigitalOcean's error responses, transport failures, timeouts and undecodable bodies.

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::actions::Action;
use crate::transport::TransportError;

/// How much of an unexpected body an error keeps, in bytes.
pub const BODY_EXCERPT_BYTES_MAX: usize = 512;

/// Everything a call can fail with.
#[derive(Debug)]
pub enum Error {
    /// DigitalOcean answered with a non-2xx status.
    Api(ApiError),
    /// The request could not be sent or the response could not be read.
    Transport(TransportError),
    /// No response arrived within the per-attempt timeout.
    Timeout {
        /// The per-attempt timeout that ran out.
        after: Duration,
    },
    /// A 2xx response whose body is not what DigitalOcean documents.
    Decode {
        /// The response status.
        status: u16,
        /// The start of the body.
        body_excerpt: String,
        /// What did not parse.
        source: serde_json::Error,
    },
    /// The caller passed something the API cannot accept; nothing was sent.
    InvalidArgument(String),
    /// An action this client waited for ended `errored`.
    ActionErrored(Box<Action>),
    /// A wait (for an action, for a droplet) passed its deadline.
    WaitTimedOut {
        /// What was being waited for.
        what: String,
        /// The deadline.
        after: Duration,
    },
}

/// A DigitalOcean error response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The request's method.
    pub method: Method,
    /// The request's path and query, e.g. `/v2/droplets`.
    pub path: String,
    /// The HTTP status.
    pub status: u16,
    /// The body's `id` (`not_found`, `unprocessable_entity`, …), when the body was DigitalOcean's JSON.
    pub id: Option<String>,
    /// The body's `message`, or the raw body (truncated) when it was not JSON.
    pub message: String,
    /// The body's `request_id`, else the `x-request-id` header.
    pub request_id: Option<String>,
    /// The rate-limit headers of the response.
    pub rate: Option<RateLimit>,
}

/// DigitalOcean's rate-limit headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// `ratelimit-limit`: requests allowed per hour.
    pub limit: u64,
    /// `ratelimit-remaining`: requests left.
    pub remaining: u64,
    /// `ratelimit-reset`: when the oldest request leaves the window, in Unix seconds.
    pub reset: u64,
    /// `retry-after`, on a 429 from the burst limit.
    pub retry_after: Option<Duration>,
}

impl RateLimit {
    /// Reads the headers; header names are case-insensitive. `None` when `ratelimit-limit` and
    /// `ratelimit-remaining` are both absent.
    pub fn from_headers(headers: &HeaderMap) -> Option<RateLimit> {
        // Names made once, not parsed from text at every response.
        const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
        const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
        const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
        // One pass over the few headers a response has rather than a hashed lookup for each of
        // four names; the first value of a name is the one read, as `HeaderMap::get` gives it.
        let (mut limit, mut remaining, mut reset, mut retry) = (None, None, None, None);
        for (name, value) in headers {
            let slot = if *name == LIMIT {
                &mut limit
            } else if *name == REMAINING {
                &mut remaining
            } else if *name == RESET {
                &mut reset
            } else if *name == http::header::RETRY_AFTER {
                &mut retry
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        let (limit, remaining) = (number(limit), number(remaining));
        if limit.is_none() && remaining.is_none() {
            return None;
        }
        Some(RateLimit {
            limit: limit.unwrap_or(0),
            remaining: remaining.unwrap_or(0),
            reset: number(reset).unwrap_or(0),
            retry_after: retry_after_value(retry),
        })
    }
}

/// A header's value as a whole number, spaces around it allowed.
fn number(value: Option<&HeaderValue>) -> Option<u64> {
    value?.to_str().ok()?.trim().parse().ok()
}

/// The longest `retry-after` honoured; a larger value is treated as this.
pub(crate) const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);

/// Reads `retry-after` as delay seconds (DigitalOcean sends seconds, never an HTTP date).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_value(headers.get(http::header::RETRY_AFTER))
}

fn retry_after_value(value: Option<&HeaderValue>) -> Option<Duration> {
    Some(Duration::from_secs(number(value)?).min(RETRY_AFTER_MAX))
}

impl ApiError {
    /// Builds the error from a non-2xx response, the way godo does: JSON bodies give `id`,
    /// `message` and `request_id`; anything else becomes the message as it is.
    pub(crate) fn from_response(
        method: Method,
        path: String,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> ApiError {
        #[derive(serde::Deserialize)]
        struct Body {
            id: Option<String>,
            message: Option<String>,
            request_id: Option<String>,
        }
        let parsed = dosim_base::json::decode::<Body>(body).ok();
        let (id, message, body_request_id) = match parsed {
            Some(Body {
                id,
                message: Some(message),
                request_id,
            }) => (id, message, request_id),
            Some(Body {
                id,
                message: None,
                request_id,
            }) => (id, excerpt(body), request_id),
            None => (None, excerpt(body), None),
        };
        let header_request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        ApiError {
            method,
            path,
            status: status.as_u16(),
            id,
            message,
            request_id: body_request_id
                .filter(|r| !r.is_empty())
                .or(header_request_id),
            rate: RateLimit::from_headers(headers),
        }
    }
}

/// The body as text, cut to [`BODY_EXCERPT_BYTES_MAX`] bytes on a character boundary.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.len() <= BODY_EXCERPT_BYTES_MAX {
        return text.to_owned();
    }
    let mut end = BODY_EXCERPT_BYTES_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.method, self.path, self.status)?;
        if let Some(request_id) = &self.request_id {
            write!(f, " (request {request_id:?})")?;
        }
        write!(f, " {}", self.message)
    }
}

impl std::error::Error for ApiError {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Api(e) => e.fmt(f),
            Error::Transport(e) => write!(f, "transport error: {e}"),
            Error::Timeout { after } => write!(f, "no response within {after:?}"),
            Error::Decode {
                status,
                body_excerpt,
                source,
            } => {
                write!(
                    f,
                    "could not decode a {status} response ({source}): {body_excerpt}"
                )
            }
            Error::InvalidArgument(message) => write!(f, "invalid argument: {message}"),
            Error::ActionErrored(action) => {
                write!(
                    f,
                    "action {} ({}) on {} {} errored",
                    action.id,
                    action.r#type,
                    action.resource_type,
                    action.resource_id.unwrap_or(0)
                )
            }
            Error::WaitTimedOut { what, after } => {
                write!(f, "{what} did not finish within {after:?}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Api(e) => Some(e),
            Error::Transport(e) => Some(e),
            Error::Decode { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Error {
        Error::Api(e)
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Error {
        Error::Transport(e)
    }
}

impl Error {
    /// The HTTP status, when DigitalOcean answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            _ => None,
        }
    }

    /// The API error, when DigitalOcean answered.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// 404: the resource does not exist (or is not visible to this token).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// 409: for example a volume name already taken in the region, or deleting an attached volume.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// The name is taken: DigitalOcean answers a duplicate with 409 for volumes (`conflict`, or
    /// `already_exists` as seen in 2018) and with 422 for database clusters, users, databases and
    /// pools, so `is_conflict()` alone misses half of them. A 409 for anything else (deleting an
    /// attached volume) is not this.
    pub fn is_already_exists(&self) -> bool {
        let Error::Api(e) = self else {
            return false;
        };
        let says_so = e.message.to_ascii_lowercase().contains("already exists");
        match e.status {
            409 => says_so || e.id.as_deref() == Some("already_exists"),
            422 => says_so,
            _ => false,
        }
    }

    /// 422: the request was understood but refused.
    pub fn is_unprocessable(&self) -> bool {
        self.status() == Some(422)
    }

    /// 422 because the droplet or IP has an action in flight (`Droplet already has a pending event.`,
    /// `The floating IP already has a pending event.`); retrying later can succeed.
    pub fn is_pending_event(&self) -> bool {
        matches!(self, Error::Api(e) if e.status == 422 && e.message.to_ascii_lowercase().contains("pending event"))
    }

    /// 429: the token's hourly or per-minute budget is spent.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// The outcome is unknown: the request may have been applied (a timeout, or a connection that
    /// failed after the request could have been sent). Creating again may duplicate a resource.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Transport(e) => {
                !e.is_connect() && e.kind() != crate::transport::TransportErrorKind::Request
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn rate_limit_reads_each_header_once_and_the_first_of_repeated_ones() {
        let read = RateLimit::from_headers(&headers(&[
            ("content-type", "application/json"),
            ("ratelimit-limit", "5000"),
            ("ratelimit-remaining", " 4998 "),
            ("ratelimit-reset", "1700000000"),
            ("retry-after", "7"),
            ("ratelimit-remaining", "12"),
            ("retry-after", "99"),
        ]));
        assert_eq!(
            read,
            Some(RateLimit {
                limit: 5000,
                remaining: 4998,
                reset: 1_700_000_000,
                retry_after: Some(Duration::from_secs(7)),
            })
        );
    }

    #[test]
    fn rate_limit_needs_a_limit_or_a_remaining_count() {
        assert_eq!(
            RateLimit::from_headers(&headers(&[("retry-after", "3")])),
            None
        );
        let only_remaining = RateLimit::from_headers(&headers(&[
            ("ratelimit-remaining", "0"),
            ("ratelimit-limit", "many"),
            ("retry-after", "100000"),
        ]));
        assert_eq!(
            only_remaining,
            Some(RateLimit {
                limit: 0,
                remaining: 0,
                reset: 0,
                retry_after: Some(RETRY_AFTER_MAX),
            })
        );
        // The first value decides, even when a later one would parse.
        let first_bad = RateLimit::from_headers(&headers(&[
            ("ratelimit-limit", "x"),
            ("ratelimit-limit", "10"),
        ]));
        assert_eq!(first_bad, None);
    }
}
