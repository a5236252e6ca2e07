//! Block storage volumes: create, list, get, delete (by id and by name), and volume actions.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::borrow::Cow;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use dosim_cloud::{
    DropletId, Volume, VolumeAction, VolumeActionTarget, VolumeCreate, VolumeFilter, VolumeId,
};

use crate::actions::{list_response, one_response};
use crate::app::{json_wrapped, no_content, Ctx};
use crate::body::{missing, wrong_type, JsonBody, Params};
use crate::error::ApiError;
use crate::pagination::paginate;
use crate::render::{self, IpNoun};

pub fn router() -> Router {
    Router::new()
        .route("/v2/volumes", get(list).post(create).delete(delete_by_name))
        .route("/v2/volumes/actions", post(action_by_name))
        .route("/v2/volumes/{volume_id}", get(one).delete(delete_one))
        .route("/v2/volumes/{volume_id}/actions", get(actions).post(action))
        .route(
            "/v2/volumes/{volume_id}/actions/{action_id}",
            get(action_one),
        )
}

/// The volume object, written straight to JSON with its region already serialized. Its fields
/// are declared in alphabetical order, the order a `Value` (a `BTreeMap`) writes an object's
/// keys, as every other object here is written.
#[derive(Serialize)]
pub struct Rendered<'a> {
    created_at: String,
    description: &'a str,
    droplet_ids: Vec<u64>,
    filesystem_label: &'a str,
    filesystem_type: &'a str,
    /// Written as its UUID's text, as `Display` writes it, without a `String` of its own.
    id: VolumeId,
    name: &'a str,
    region: Cow<'static, RawValue>,
    size_gigabytes: u64,
    tags: &'a [String],
}

impl<'a> Rendered<'a> {
    pub fn of(volume: &'a Volume) -> Rendered<'a> {
        Rendered {
            created_at: volume.created_at.rfc3339(),
            description: &volume.description,
            droplet_ids: volume.droplet_ids.iter().map(|d| d.0).collect(),
            filesystem_label: &volume.filesystem_label,
            filesystem_type: &volume.filesystem_type,
            id: volume.id,
            name: &volume.name,
            region: render::region_json_or_unknown(&volume.region),
            size_gigabytes: volume.size_gigabytes,
            tags: &volume.tags,
        }
    }
}

/// A volume id from a path; anything but a UUID is a 404, as for an unknown id.
fn parse_volume_id(raw: &str) -> Result<VolumeId, ApiError> {
    VolumeId::parse(raw).ok_or_else(ApiError::not_found)
}

/// A size in GiB; signed so that the model, not the parser, judges zero and negative sizes.
fn opt_size(body: &JsonBody, field: &str) -> Result<Option<i64>, ApiError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| wrong_type(field, "an integer")),
        Some(_) => Err(wrong_type(field, "an integer")),
    }
}

async fn create(ctx: Ctx, body: Bytes) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&body)?;
    let name = body.req_str("name")?;
    let snapshot_id = body.opt_str("snapshot_id")?;
    let size_gigabytes = match (opt_size(&body, "size_gigabytes")?, &snapshot_id) {
        (Some(size), _) => size,
        // The size of a volume made from a snapshot comes from the snapshot.
        (None, Some(_)) => 0,
        (None, None) => return Err(missing("size_gigabytes")),
    };
    let request = VolumeCreate {
        name,
        size_gigabytes,
        region: body.req_str("region")?,
        description: body.opt_str("description")?,
        snapshot_id,
        filesystem_type: body.opt_str("filesystem_type")?,
        filesystem_label: body.opt_str("filesystem_label")?,
        tags: body.opt_str_list("tags")?.unwrap_or_default(),
    };
    let volume = ctx.cloud(|cloud, now| cloud.create_volume(now, request))?;
    ctx.summary(format!("volume {}", volume.id));
    Ok(json_wrapped(
        StatusCode::CREATED,
        "volume",
        Rendered::of(&volume),
    ))
}

async fn list(ctx: Ctx, params: Params) -> Response {
    let filter = VolumeFilter {
        name: params.get("name").map(str::to_owned),
        region: params.get("region").map(str::to_owned),
    };
    let volumes = ctx.cloud(|cloud, now| cloud.volumes(now, filter));
    paginate(volumes, &params, &ctx.base_url, "/v2/volumes")
        .render_response("volumes", Rendered::of)
}

async fn one(ctx: Ctx, Path(volume_id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_volume_id(&volume_id)?;
    let volume = ctx.cloud(|cloud, now| cloud.volume(now, id))?;
    Ok(json_wrapped(
        StatusCode::OK,
        "volume",
        Rendered::of(&volume),
    ))
}

async fn delete_one(ctx: Ctx, Path(volume_id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_volume_id(&volume_id)?;
    ctx.cloud(|cloud, now| cloud.delete_volume(now, id))?;
    ctx.summary(format!("deleted volume {id}"));
    Ok(no_content())
}

async fn delete_by_name(ctx: Ctx, params: Params) -> Result<Response, ApiError> {
    let name = params
        .get("name")
        .ok_or_else(|| missing("name"))?
        .to_owned();
    let region = params
        .get("region")
        .ok_or_else(|| missing("region"))?
        .to_owned();
    ctx.cloud(|cloud, now| cloud.delete_volume_by_name(now, &name, &region))?;
    ctx.summary(format!("deleted volume {name} in {region}"));
    Ok(no_content())
}

fn droplet_id(body: &JsonBody) -> Result<DropletId, ApiError> {
    Ok(DropletId(body.req_u64("droplet_id")?))
}

fn parse_action(body: &JsonBody, by_name: bool) -> Result<VolumeAction, ApiError> {
    let kind = body.req_str("type")?;
    match kind.as_str() {
        "attach" => Ok(VolumeAction::Attach {
            droplet_id: droplet_id(body)?,
        }),
        "detach" => Ok(VolumeAction::Detach {
            droplet_id: droplet_id(body)?,
        }),
        "resize" if !by_name => Ok(VolumeAction::Resize {
            size_gigabytes: opt_size(body, "size_gigabytes")?
                .ok_or_else(|| missing("size_gigabytes"))?,
        }),
        other => {
            let allowed = if by_name {
                "attach or detach"
            } else {
                "attach, detach or resize"
            };
            Err(ApiError::unprocessable(format!(
                "type must be {allowed}, not {other}"
            )))
        }
    }
}

async fn action(
    ctx: Ctx,
    Path(volume_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_volume_id(&volume_id)?;
    let body = JsonBody::parse(&body)?;
    let request = parse_action(&body, false)?;
    let action = ctx.cloud(|cloud, now| {
        let action_id = cloud.volume_action(now, VolumeActionTarget::Id(id), request)?;
        cloud.action(now, action_id)
    })?;
    ctx.summary(format!("action {} {}", action.id, action.action_type));
    Ok(accepted(one_response(&action, IpNoun::Reserved)))
}

async fn action_by_name(ctx: Ctx, body: Bytes) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&body)?;
    let name = body.req_str("volume_name")?;
    let region = body.opt_str("region")?;
    let request = parse_action(&body, true)?;
    let action = ctx.cloud(|cloud, now| {
        let action_id =
            cloud.volume_action(now, VolumeActionTarget::Name { name, region }, request)?;
        cloud.action(now, action_id)
    })?;
    ctx.summary(format!("action {} {}", action.id, action.action_type));
    Ok(accepted(one_response(&action, IpNoun::Reserved)))
}

async fn actions(
    ctx: Ctx,
    Path(volume_id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let id = parse_volume_id(&volume_id)?;
    let actions = ctx.cloud(|cloud, now| cloud.volume_actions(now, id))?;
    Ok(list_response(
        &ctx,
        &params,
        &format!("/v2/volumes/{id}/actions"),
        actions,
        IpNoun::Reserved,
    ))
}

async fn action_one(
    ctx: Ctx,
    Path((volume_id, action_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_volume_id(&volume_id)?;
    let action_id = render::parse_action_id(&action_id)?;
    let action = ctx.cloud(|cloud, now| cloud.action(now, action_id))?;
    if action.volume_id != Some(id) {
        return Err(ApiError::not_found());
    }
    Ok(one_response(&action, IpNoun::Reserved))
}

fn accepted(mut response: Response) -> Response {
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}
