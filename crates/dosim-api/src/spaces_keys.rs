//! Spaces access keys: `/v2/spaces/keys` (create, list with its filters, get, update, delete).

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use dosim_cloud::{SpacesKey, SpacesKeyCreate, SpacesKeyFilter};

use crate::app::{json_wrapped, no_content, Ctx};
use crate::body::{wrong_type, JsonBody, Params};
use crate::error::ApiError;
use crate::pagination::paginate;

pub fn router() -> Router {
    Router::new()
        .route("/v2/spaces/keys", get(list).post(create))
        .route(
            "/v2/spaces/keys/{access_key}",
            get(one).put(update).patch(update).delete(delete),
        )
}

/// The key as every response but create's shows it: without its secret.
fn render(key: &SpacesKey) -> Value {
    json!({
        "name": key.name,
        "access_key": key.access_key,
        "grants": key.grants.iter().map(|grant| json!({
            "bucket": grant.bucket,
            "permission": grant.permission.as_str(),
        })).collect::<Vec<_>>(),
        "created_at": key.created_at.rfc3339(),
    })
}

async fn create(ctx: Ctx, body: Bytes) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&body)?;
    let mut grants = Vec::new();
    for grant in body.opt_list("grants")?.into_iter().flatten() {
        let Some(grant) = grant.as_object() else {
            return Err(wrong_type("grants", "a list of objects"));
        };
        let field = |name: &str| match grant.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(_) => Err(wrong_type(&format!("grants.{name}"), "a string")),
        };
        grants.push((field("bucket")?, field("permission")?));
    }
    let request = SpacesKeyCreate {
        name: body.opt_str("name")?,
        grants,
    };
    let key = ctx.cloud(|cloud, now| cloud.create_spaces_key(now, request))?;
    ctx.summary(format!("spaces key {}", key.access_key));
    let mut object = render(&key);
    object["secret_key"] = json!(key.secret_key);
    Ok(json_wrapped(StatusCode::CREATED, "key", object))
}

async fn list(ctx: Ctx, params: Params) -> Result<Response, ApiError> {
    if let Some(sort) = params.get("sort") {
        if sort != "created_at" {
            return Err(ApiError::bad_request("sort must be created_at"));
        }
    }
    let ascending = match params.get("sort_direction") {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(ApiError::bad_request("sort_direction must be asc or desc")),
    };
    let filter = SpacesKeyFilter {
        name: params.get("name").map(str::to_owned),
        bucket: params.get("bucket").map(str::to_owned),
        permission: params.get("permission").map(str::to_owned),
        ascending,
    };
    let keys = ctx.cloud(|cloud, now| cloud.spaces_keys(now, &filter));
    let rendered: Vec<Value> = keys.iter().map(render).collect();
    Ok(paginate(rendered, &params, &ctx.base_url, "/v2/spaces/keys").response("keys"))
}

async fn one(ctx: Ctx, Path(access_key): Path<String>) -> Result<Response, ApiError> {
    let key = ctx.cloud(|cloud, now| cloud.spaces_key(now, &access_key))?;
    Ok(json_wrapped(StatusCode::OK, "key", render(&key)))
}

async fn update(
    ctx: Ctx,
    Path(access_key): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&body)?;
    let name = body.opt_str("name")?;
    let key = ctx.cloud(|cloud, now| cloud.rename_spaces_key(now, &access_key, name))?;
    ctx.summary(format!("spaces key {}", key.access_key));
    Ok(json_wrapped(StatusCode::OK, "key", render(&key)))
}

async fn delete(ctx: Ctx, Path(access_key): Path<String>) -> Result<Response, ApiError> {
    ctx.cloud(|cloud, now| cloud.delete_spaces_key(now, &access_key))?;
    ctx.summary(format!("deleted spaces key {access_key}"));
    Ok(no_content())
}
