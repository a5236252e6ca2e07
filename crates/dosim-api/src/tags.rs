//! Tags: create, list, get, delete, and tagging and untagging resources.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};

use dosim_cloud::{ErrorKind, Tag, TagTarget, TaggedKind};

use crate::app::{json_response, json_wrapped, no_content, Ctx};
use crate::body::{missing, wrong_type, JsonBody, Params};
use crate::error::ApiError;
use crate::pagination::paginate;

pub fn router() -> Router {
    Router::new()
        .route("/v2/tags", get(list).post(create))
        .route("/v2/tags/{tag}", get(one).delete(delete))
        .route(
            "/v2/tags/{tag}/resources",
            post(tag_resources).delete(untag_resources),
        )
}

/// The path of a tagged resource, for `last_tagged_uri`.
fn resource_path(kind: TaggedKind, id: &str) -> String {
    match kind {
        TaggedKind::Droplet => format!("/v2/droplets/{id}"),
        TaggedKind::Volume => format!("/v2/volumes/{id}"),
        TaggedKind::Database => format!("/v2/databases/{id}"),
    }
}

/// The key of each kind in the tag's `resources` object.
fn resources_key(kind: TaggedKind) -> &'static str {
    match kind {
        TaggedKind::Droplet => "droplets",
        TaggedKind::Volume => "volumes",
        TaggedKind::Database => "databases",
    }
}

/// The tag object: `count` and `last_tagged_uri` overall and per kind, `last_tagged_uri` only
/// where something carries the tag; images and volume snapshots, which dosim does not model,
/// always count 0.
fn render(ctx: &Ctx, tag: &Tag) -> Value {
    let metadata = |count: usize, last: Option<String>| {
        let mut object = Map::new();
        object.insert("count".into(), json!(count));
        if let Some(uri) = last {
            object.insert("last_tagged_uri".into(), json!(uri));
        }
        Value::Object(object)
    };
    let uri = |kind: TaggedKind, id: &str| ctx.url(&resource_path(kind, id));
    let Value::Object(mut resources) = metadata(
        tag.count(),
        tag.last_tagged.as_ref().map(|(kind, id)| uri(*kind, id)),
    ) else {
        unreachable!("metadata builds an object")
    };
    for (kind, tagged) in &tag.resources {
        resources.insert(
            resources_key(*kind).into(),
            metadata(
                tagged.count,
                tagged.last_tagged.as_ref().map(|id| uri(*kind, id)),
            ),
        );
    }
    for untracked in ["images", "volume_snapshots"] {
        resources.insert(untracked.into(), metadata(0, None));
    }
    json!({ "name": tag.name, "resources": resources })
}

async fn create(ctx: Ctx, body: Bytes) -> Result<Response, ApiError> {
    // The tag service answers a body it cannot read in its own shape too.
    let name = match JsonBody::parse(&body).and_then(|body| body.req_str("name")) {
        Ok(name) => name,
        Err(error) => {
            ctx.summary(error.message.clone());
            return Ok(json_response(
                StatusCode::BAD_REQUEST,
                &root_causes(&error.message),
            ));
        }
    };
    let tag = match ctx.cloud(|cloud, now| cloud.create_tag(now, &name)) {
        Ok(tag) => tag,
        Err(error) if error.kind == ErrorKind::BadRequest => {
            ctx.summary(error.message.clone());
            return Ok(json_response(
                StatusCode::BAD_REQUEST,
                &root_causes(&error.message),
            ));
        }
        Err(error) => return Err(error.into()),
    };
    ctx.summary(format!("tag {}", tag.name));
    Ok(json_wrapped(StatusCode::CREATED, "tag", render(&ctx, &tag)))
}

/// The body DigitalOcean's tag service answers an invalid tag name with (the spec's
/// `error_with_root_causes`), not the usual `{id, message, request_id}`.
fn root_causes(message: &str) -> Value {
    json!({
        "error": message,
        "messages": null,
        "root_causes": [format!("rpc error: code = InvalidArgument desc = {message}")],
    })
}

async fn list(ctx: Ctx, params: Params) -> Response {
    let tags = ctx.cloud(|cloud, now| cloud.tags(now));
    let rendered: Vec<Value> = tags.iter().map(|tag| render(&ctx, tag)).collect();
    paginate(rendered, &params, &ctx.base_url, "/v2/tags").response("tags")
}

async fn one(ctx: Ctx, Path(name): Path<String>) -> Result<Response, ApiError> {
    let tag = ctx.cloud(|cloud, now| cloud.tag(now, &name))?;
    Ok(json_wrapped(StatusCode::OK, "tag", render(&ctx, &tag)))
}

async fn delete(ctx: Ctx, Path(name): Path<String>) -> Result<Response, ApiError> {
    ctx.cloud(|cloud, now| cloud.delete_tag(now, &name))?;
    ctx.summary(format!("tag {name} deleted"));
    Ok(no_content())
}

/// The `resources` array: each `{resource_id, resource_type}`; an id given as a number (a
/// droplet's) is read as its decimal string.
fn targets(body: &[u8]) -> Result<Vec<TagTarget>, ApiError> {
    let body = JsonBody::parse(body)?;
    let items = body
        .opt_list("resources")?
        .ok_or_else(|| missing("resources"))?;
    items
        .iter()
        .map(|item| {
            let field = |name: &str| match item.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(Value::Number(n)) if name == "resource_id" => Ok(n.to_string()),
                Some(_) => Err(wrong_type(&format!("resources[].{name}"), "a string")),
                None => Err(missing(&format!("resources[].{name}"))),
            };
            if !item.is_object() {
                return Err(wrong_type("resources[]", "an object"));
            }
            Ok(TagTarget {
                resource_id: field("resource_id")?,
                resource_type: field("resource_type")?,
            })
        })
        .collect()
}

async fn tag_resources(
    ctx: Ctx,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let targets = targets(&body)?;
    ctx.cloud(|cloud, now| cloud.tag_resources(now, &name, &targets))?;
    ctx.summary(format!("tag {name}: {} tagged", targets.len()));
    Ok(no_content())
}

async fn untag_resources(
    ctx: Ctx,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let targets = targets(&body)?;
    ctx.cloud(|cloud, now| cloud.untag_resources(now, &name, &targets))?;
    ctx.summary(format!("tag {name}: {} untagged", targets.len()));
    Ok(no_content())
}
