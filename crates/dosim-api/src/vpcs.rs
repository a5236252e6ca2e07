//! VPC networks.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use dosim_cloud::{Vpc, VpcCreate, VpcUpdate};

use crate::app::{json_wrapped, no_content, Ctx};
use crate::body::{uuid_path, JsonBody, Params};
use crate::error::ApiError;
use crate::pagination::paginate;
use crate::render;

pub fn router() -> Router {
    Router::new()
        .route("/v2/vpcs", get(list).post(create))
        .route(
            "/v2/vpcs/{id}",
            get(one).put(update).patch(update).delete(delete),
        )
        .route("/v2/vpcs/{id}/members", get(members))
}

fn render(vpc: &Vpc) -> Value {
    json!({
        "id": vpc.id.to_string(),
        "urn": format!("do:vpc:{}", vpc.id),
        "name": vpc.name,
        "description": vpc.description,
        "region": vpc.region,
        "ip_range": vpc.ip_range.to_string(),
        "default": vpc.default,
        "created_at": render::time(vpc.created_at),
    })
}

/// A VPC id from a path; anything but a UUID is a 404, as for an unknown id.
async fn create(ctx: Ctx, body: Bytes) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&body)?;
    let request = VpcCreate {
        name: body.req_str("name")?,
        region: body.req_str("region")?,
        description: body.opt_str("description")?,
        ip_range: body.opt_str("ip_range")?,
    };
    let vpc = ctx.cloud(|cloud, now| cloud.create_vpc(now, request))?;
    ctx.summary(format!("vpc {} {}", vpc.id, vpc.ip_range));
    Ok(json_wrapped(StatusCode::CREATED, "vpc", render(&vpc)))
}

async fn list(ctx: Ctx, params: Params) -> Response {
    let vpcs = ctx.cloud(|cloud, now| cloud.vpcs(now));
    let rendered: Vec<Value> = vpcs.iter().map(render).collect();
    paginate(rendered, &params, &ctx.base_url, "/v2/vpcs").response("vpcs")
}

async fn one(ctx: Ctx, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = uuid_path(&id)?;
    let vpc = ctx.cloud(|cloud, now| cloud.vpc(now, id))?;
    Ok(json_wrapped(StatusCode::OK, "vpc", render(&vpc)))
}

async fn update(ctx: Ctx, Path(id): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let id = uuid_path(&id)?;
    let body = JsonBody::parse(&body)?;
    let update = VpcUpdate {
        name: body.opt_str("name")?,
        description: body.opt_str("description")?,
        default: body.opt_bool("default")?,
    };
    let vpc = ctx.cloud(|cloud, now| cloud.update_vpc(now, id, update))?;
    ctx.summary(format!("vpc {} updated", vpc.id));
    Ok(json_wrapped(StatusCode::OK, "vpc", render(&vpc)))
}

async fn delete(ctx: Ctx, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = uuid_path(&id)?;
    ctx.cloud(|cloud, now| cloud.delete_vpc(now, id))?;
    ctx.summary(format!("vpc {id} deleted"));
    Ok(no_content())
}

/// `resource_type` filters by the URN's kind: `droplet`, or `dbaas` for database clusters.
async fn members(ctx: Ctx, Path(id): Path<String>, params: Params) -> Result<Response, ApiError> {
    let id = uuid_path(&id)?;
    let members = ctx.cloud(|cloud, now| cloud.vpc_members(now, id))?;
    let wanted = params
        .get("resource_type")
        .map(|kind| format!("do:{kind}:"));
    let rendered: Vec<Value> = members
        .iter()
        .filter(|m| {
            wanted
                .as_deref()
                .is_none_or(|prefix| m.urn.starts_with(prefix))
        })
        .map(|m| json!({ "urn": m.urn, "name": m.name, "created_at": render::time(m.created_at) }))
        .collect();
    Ok(paginate(
        rendered,
        &params,
        &ctx.base_url,
        &format!("/v2/vpcs/{id}/members"),
    )
    .response("members"))
}
