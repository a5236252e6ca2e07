//! SSH keys (`/v2/account/keys`).

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use dosim_cloud::SshKey;

use crate::app::{json_wrapped, no_content, Ctx};
use crate::body::{JsonBody, Params};
use crate::error::ApiError;
use crate::pagination::paginate;

pub fn router() -> Router {
    Router::new()
        .route("/v2/account/keys", get(list).post(create))
        .route(
            "/v2/account/keys/{key}",
            get(one).put(rename).delete(delete),
        )
}

fn render(key: &SshKey) -> Value {
    json!({
        "id": key.id,
        "fingerprint": key.fingerprint,
        "public_key": key.public_key,
        "name": key.name,
    })
}

async fn create(ctx: Ctx, body: Bytes) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&body)?;
    let name = body.req_str("name")?;
    let public_key = body.req_str("public_key")?;
    let key = ctx.cloud(|cloud, now| cloud.create_ssh_key(now, &name, &public_key))?;
    ctx.summary(format!("ssh_key {} {}", key.id, key.fingerprint));
    Ok(json_wrapped(StatusCode::CREATED, "ssh_key", render(&key)))
}

/// DigitalOcean's own limit on listing SSH keys, apart from the token's: 10 per 60 seconds.
pub const LIST_LIMIT: usize = 10;
/// The window of [`LIST_LIMIT`], in milliseconds.
pub const LIST_WINDOW_MS: u64 = 60_000;

async fn list(ctx: Ctx, params: Params) -> Response {
    let allowed = ctx.account(|account, now| {
        account
            .ssh_key_lists
            .check(LIST_LIMIT, LIST_WINDOW_MS, now.0)
    });
    if let Err(retry_after_ms) = allowed {
        let mut response = ApiError::too_many_requests().into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_ms.div_ceil(1000)),
        );
        return response;
    }
    let keys = ctx.cloud(|cloud, now| cloud.ssh_keys(now));
    let rendered: Vec<Value> = keys.iter().map(render).collect();
    paginate(rendered, &params, &ctx.base_url, "/v2/account/keys").response("ssh_keys")
}

async fn one(ctx: Ctx, Path(key): Path<String>) -> Result<Response, ApiError> {
    let key = ctx.cloud(|cloud, now| cloud.ssh_key(now, &key))?;
    Ok(json_wrapped(StatusCode::OK, "ssh_key", render(&key)))
}

async fn rename(ctx: Ctx, Path(key): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&body)?;
    let name = body.req_str("name")?;
    let key = ctx.cloud(|cloud, now| cloud.rename_ssh_key(now, &key, &name))?;
    ctx.summary(format!("ssh_key {} renamed", key.id));
    Ok(json_wrapped(StatusCode::OK, "ssh_key", render(&key)))
}

async fn delete(ctx: Ctx, Path(key): Path<String>) -> Result<Response, ApiError> {
    ctx.cloud(|cloud, now| cloud.delete_ssh_key(now, &key))?;
    ctx.summary(format!("ssh_key {key} deleted"));
    Ok(no_content())
}
