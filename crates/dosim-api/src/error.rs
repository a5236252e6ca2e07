//! DigitalOcean's error body and the API's error type.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error as DigitalOcean reports it: a status, a short id and a message.
///
/// Handlers return it without a request id; it renders with the id of the request being served,
/// so every error body carries the same id as the `x-request-id` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub id: &'static str,
    pub message: String,
}

/// The wire shape of an error.
#[derive(Serialize)]
struct ErrorBody<'a> {
    id: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    request_id: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, id: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            id,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unprocessable(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_entity",
            message,
        )
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "The resource you requested could not be found.",
        )
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "The HTTP method is not allowed for this resource.",
        )
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unable to authenticate you.",
        )
    }

    pub fn too_many_requests() -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "API Rate limit exceeded.",
        )
    }

    pub fn payload_too_large(limit_bytes: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_entity_too_large",
            format!("The request body is larger than the limit of {limit_bytes} bytes."),
        )
    }

    pub fn server_error() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Unexpected server-side error",
        )
    }

    /// The full response, with the request id in the body.
    pub fn render(&self, request_id: &str) -> Response {
        let body = ErrorBody {
            id: self.id,
            message: &self.message,
            request_id,
        };
        let json = serde_json::to_vec(&body).expect("an error body always serializes");
        let mut response = (self.status, json).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.id, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    /// Renders the body once, with the request id of the request whose handler returned it; its
    /// message becomes the request's summary in the history unless the handler gave one.
    fn into_response(self) -> Response {
        match crate::exchange::current() {
            Some(exchange) => {
                exchange.summary_unless_set(&self.message);
                self.render(&exchange.request_id)
            }
            // Outside a request there is no request id to give.
            None => self.render(""),
        }
    }
}

impl From<dosim_cloud::Error> for ApiError {
    fn from(error: dosim_cloud::Error) -> ApiError {
        let status = match error.kind {
            dosim_cloud::ErrorKind::NotFound => StatusCode::NOT_FOUND,
            dosim_cloud::ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            dosim_cloud::ErrorKind::Conflict => StatusCode::CONFLICT,
            dosim_cloud::ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            dosim_cloud::ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            dosim_cloud::ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        };
        ApiError::new(status, error.id(), error.message)
    }
}
