//! Droplets: create (single and multi), list, get, destroy (by id and by tag), and droplet actions.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::net::Ipv4Addr;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use dosim_cloud::{
    ActionId, Droplet, DropletActionRequest, DropletCreate, DropletFilter, DropletId, ImageRef,
    ResourceType, VolumeId, VolumeRef, DROPLET_NAMES_MAX, USER_DATA_BYTES_MAX,
};
use uuid::Uuid;

use crate::actions::{list_response, one_response};
use crate::app::{json_response, json_wrapped, no_content, Ctx};
use crate::body::{missing, wrong_type, JsonBody, Params};
use crate::error::ApiError;
use crate::pagination::paginate;
use crate::render::{self, IpNoun};

pub fn router() -> Router {
    Router::new()
        .route("/v2/droplets", get(list).post(create).delete(delete_by_tag))
        .route("/v2/droplets/actions", post(action_by_tag))
        .route("/v2/droplets/{droplet_id}", get(one).delete(delete_one))
        .route(
            "/v2/droplets/{droplet_id}/actions",
            get(actions).post(action),
        )
        .route(
            "/v2/droplets/{droplet_id}/actions/{action_id}",
            get(action_one),
        )
}

/// The droplet object with every field the spec requires, as a `Value`, for the responses that
/// embed a droplet in a larger object (a reserved IP's, a create's).
pub fn render(droplet: &Droplet) -> Value {
    serde_json::to_value(Rendered::of(droplet)).expect("a droplet always serializes")
}

/// The droplet object, written straight to JSON with its catalogue parts already serialized: a
/// polling client asks for droplets more than for anything else. Its fields are declared in
/// alphabetical order, the order a `Value` (a `BTreeMap`) writes an object's keys, so the bytes
/// are those of [`render()`]'s `Value`.
#[derive(Serialize)]
pub struct Rendered<'a> {
    backup_ids: [u64; 0],
    created_at: String,
    disk: u32,
    disk_info: [DiskInfo; 1],
    features: &'a [String],
    id: u64,
    image: &'static RawValue,
    kernel: (),
    locked: bool,
    memory: u32,
    name: &'a str,
    networks: RenderedNetworks<'a>,
    next_backup_window: (),
    region: &'static RawValue,
    size: &'static RawValue,
    size_slug: &'a str,
    snapshot_ids: [u64; 0],
    status: &'static str,
    tags: &'a [String],
    vcpus: u32,
    /// Ids are written as their UUIDs' text by their `Serialize`, as `Display` writes them.
    volume_ids: &'a [VolumeId],
    vpc_uuid: Uuid,
}

#[derive(Serialize)]
struct DiskInfo {
    size: DiskSize,
    #[serde(rename = "type")]
    disk_type: &'static str,
}

#[derive(Serialize)]
struct DiskSize {
    amount: u32,
    unit: &'static str,
}

#[derive(Serialize)]
struct RenderedNetworks<'a> {
    v4: Vec<RenderedNetwork<'a, Ipv4Addr, Ipv4Addr>>,
    v6: Vec<RenderedNetwork<'a, &'a str, u8>>,
}

#[derive(Serialize)]
struct RenderedNetwork<'a, A, M> {
    gateway: A,
    ip_address: A,
    netmask: M,
    #[serde(rename = "type")]
    network_type: &'a str,
}

impl<'a> Rendered<'a> {
    pub fn of(droplet: &'a Droplet) -> Rendered<'a> {
        let size = droplet.size();
        let networks = &droplet.networks;
        Rendered {
            backup_ids: [],
            created_at: droplet.created_at.rfc3339(),
            disk: size.disk,
            disk_info: [DiskInfo {
                size: DiskSize {
                    amount: size.disk,
                    unit: "gib",
                },
                disk_type: "local",
            }],
            features: &droplet.features,
            id: droplet.id.0,
            image: render::image_json(droplet.image_id)
                .expect("droplet images come from the catalogue"),
            kernel: (),
            locked: droplet.locked,
            memory: size.memory,
            name: &droplet.name,
            networks: RenderedNetworks {
                v4: (networks.v4.iter())
                    .map(|n| RenderedNetwork {
                        gateway: n.gateway,
                        ip_address: n.ip_address,
                        netmask: n.netmask,
                        network_type: n.network_type.as_str(),
                    })
                    .collect(),
                v6: (networks.v6.iter())
                    .map(|n| RenderedNetwork {
                        gateway: n.gateway.as_str(),
                        ip_address: n.ip_address.as_str(),
                        netmask: n.netmask,
                        network_type: n.network_type.as_str(),
                    })
                    .collect(),
            },
            next_backup_window: (),
            region: render::region_json(&droplet.region)
                .expect("droplet regions come from the catalogue"),
            size: render::size_json(&droplet.size_slug)
                .expect("droplet sizes come from the catalogue"),
            size_slug: &droplet.size_slug,
            snapshot_ids: [],
            status: droplet.status.as_str(),
            tags: &droplet.tags,
            vcpus: size.vcpus,
            volume_ids: &droplet.volume_ids,
            vpc_uuid: droplet.vpc_uuid,
        }
    }
}

/// A droplet id from a path; anything but a positive integer is a 404, as for an unknown id.
pub fn parse_droplet_id(raw: &str) -> Result<DropletId, ApiError> {
    raw.parse::<u64>()
        .ok()
        .filter(|&id| id >= 1)
        .map(DropletId)
        .ok_or_else(ApiError::not_found)
}

fn parse_create(body: &JsonBody) -> Result<DropletCreate, ApiError> {
    let names = match body.opt_str_list("names")? {
        Some(names) if !names.is_empty() => {
            if names.len() > DROPLET_NAMES_MAX {
                return Err(ApiError::unprocessable(format!(
                    "names may contain at most {DROPLET_NAMES_MAX} names"
                )));
            }
            names
        }
        _ => vec![body.opt_str("name")?.ok_or_else(|| missing("name"))?],
    };
    let size = body.req_str("size")?;
    let image = match body.get("image") {
        None => return Err(missing("image")),
        Some(Value::String(slug)) => match slug.parse::<u64>() {
            Ok(id) => ImageRef::Id(id),
            Err(_) => ImageRef::Slug(slug.clone()),
        },
        Some(Value::Number(n)) => ImageRef::Id(
            n.as_u64()
                .ok_or_else(|| wrong_type("image", "a slug or an id"))?,
        ),
        Some(_) => return Err(wrong_type("image", "a slug or an id")),
    };
    let volumes = match body.opt_list("volumes")? {
        None => Vec::new(),
        Some(items) => items
            .iter()
            .map(parse_volume_ref)
            .collect::<Result<Vec<_>, _>>()?,
    };
    let user_data = body.opt_str("user_data")?;
    if user_data
        .as_ref()
        .is_some_and(|data| data.len() > USER_DATA_BYTES_MAX)
    {
        return Err(ApiError::unprocessable(format!(
            "user_data must be at most {USER_DATA_BYTES_MAX} bytes"
        )));
    }
    // `ssh_keys` holds ids (numbers, or numbers as strings) or fingerprints; the model checks
    // that each names one of the account's keys.
    let ssh_keys = match body.opt_list("ssh_keys")? {
        None => Vec::new(),
        Some(keys) => keys
            .iter()
            .map(|key| match key {
                Value::String(text) => Ok(text.clone()),
                Value::Number(n) if n.is_u64() => Ok(n.to_string()),
                _ => Err(wrong_type("ssh_keys", "an array of ids or fingerprints")),
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(DropletCreate {
        names,
        region: body.opt_str("region")?,
        size,
        image,
        tags: body.opt_str_list("tags")?.unwrap_or_default(),
        volumes,
        ipv6: body.opt_bool("ipv6")?.unwrap_or(false),
        monitoring: body.opt_bool("monitoring")?.unwrap_or(false),
        backups: body.opt_bool("backups")?.unwrap_or(false),
        vpc_uuid: body.opt_str("vpc_uuid")?,
        user_data,
        ssh_keys,
    })
}

/// A volume given as its id (the spec's form) or as `{"id": …}` / `{"name": …}` (godo's).
fn parse_volume_ref(value: &Value) -> Result<VolumeRef, ApiError> {
    match value {
        Value::String(id) => Ok(VolumeRef::Id(id.clone())),
        Value::Object(fields) => {
            let text = |key: &str| {
                fields
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            };
            match (text("id"), text("name")) {
                (Some(id), _) => Ok(VolumeRef::Id(id.to_owned())),
                (None, Some(name)) => Ok(VolumeRef::Name(name.to_owned())),
                (None, None) => Err(wrong_type("volumes", "an array of volume ids")),
            }
        }
        _ => Err(wrong_type("volumes", "an array of volume ids")),
    }
}

async fn create(ctx: Ctx, body: Bytes) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&body)?;
    let is_multi = body.has("names");
    let request = parse_create(&body)?;
    let created = ctx.cloud(|cloud, now| {
        let ids = cloud.create_droplets(now, request)?;
        let droplets = ids
            .iter()
            .map(|(droplet_id, action_id)| cloud.droplet(now, *droplet_id).map(|d| (d, *action_id)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok::<_, dosim_cloud::Error>(droplets)
    })?;
    let links: Vec<Value> = created
        .iter()
        .map(|(_, action_id)| render::action_link(&ctx.base_url, *action_id, "create"))
        .collect();
    let ids: Vec<String> = created.iter().map(|(d, _)| d.id.to_string()).collect();
    ctx.summary(format!("droplet {}", ids.join(",")));
    let links = CreatedLinks { actions: links };
    let response = if is_multi {
        let droplets: Vec<Rendered<'_>> = created.iter().map(|(d, _)| Rendered::of(d)).collect();
        json_response(StatusCode::ACCEPTED, &CreatedMany { droplets, links })
    } else {
        let droplet = Rendered::of(&created[0].0);
        json_response(StatusCode::ACCEPTED, &CreatedOne { droplet, links })
    };
    Ok(response)
}

/// `{"droplet": {…}, "links": {"actions": […]}}`, written straight out; the keys in sorted order,
/// as a `Value` writes them.
#[derive(Serialize)]
struct CreatedOne<'a> {
    droplet: Rendered<'a>,
    links: CreatedLinks,
}

/// `{"droplets": […], "links": {"actions": […]}}`, as [`CreatedOne`].
#[derive(Serialize)]
struct CreatedMany<'a> {
    droplets: Vec<Rendered<'a>>,
    links: CreatedLinks,
}

#[derive(Serialize)]
struct CreatedLinks {
    actions: Vec<Value>,
}

async fn list(ctx: Ctx, params: Params) -> Response {
    let filter = DropletFilter {
        tag_name: params.get("tag_name").map(str::to_owned),
        name: params.get("name").map(str::to_owned),
    };
    // dosim has no GPU droplets, so `type=gpus` lists none.
    let gpus_only = params.get("type") == Some("gpus");
    let mut droplets = ctx.cloud(|cloud, now| cloud.droplets(now, filter));
    if gpus_only {
        droplets.clear();
    }
    paginate(droplets, &params, &ctx.base_url, "/v2/droplets")
        .render_response("droplets", Rendered::of)
}

async fn one(ctx: Ctx, Path(droplet_id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_droplet_id(&droplet_id)?;
    ctx.cloud(|cloud, now| {
        cloud.with_droplet(now, id, |droplet| {
            json_wrapped(StatusCode::OK, "droplet", Rendered::of(droplet))
        })
    })
    .map_err(ApiError::from)
}

async fn delete_one(ctx: Ctx, Path(droplet_id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_droplet_id(&droplet_id)?;
    ctx.cloud(|cloud, now| cloud.delete_droplet(now, id))?;
    ctx.summary(format!("deleted droplet {id}"));
    Ok(no_content())
}

async fn delete_by_tag(ctx: Ctx, params: Params) -> Result<Response, ApiError> {
    let tag = params
        .get("tag_name")
        .ok_or_else(|| missing("tag_name"))?
        .to_owned();
    let deleted = ctx.cloud(|cloud, now| cloud.delete_droplets_by_tag(now, &tag))?;
    let ids: Vec<String> = deleted.iter().map(ToString::to_string).collect();
    ctx.summary(format!("deleted droplets [{}]", ids.join(",")));
    Ok(no_content())
}

/// The droplet action types DigitalOcean documents that dosim does not model.
const UNSUPPORTED_ACTIONS: &[&str] = &[
    "snapshot",
    "rebuild",
    "restore",
    "change_kernel",
    "change_backup_policy",
];

fn parse_action(body: &JsonBody) -> Result<DropletActionRequest, ApiError> {
    let kind = body.req_str("type")?;
    Ok(match kind.as_str() {
        "power_off" => DropletActionRequest::PowerOff,
        "power_on" => DropletActionRequest::PowerOn,
        "shutdown" => DropletActionRequest::Shutdown,
        "reboot" => DropletActionRequest::Reboot,
        "power_cycle" => DropletActionRequest::PowerCycle,
        "rename" => DropletActionRequest::Rename {
            name: body.req_str("name")?,
        },
        "resize" => DropletActionRequest::Resize {
            size: body.req_str("size")?,
            disk: body.opt_bool("disk")?.unwrap_or(false),
        },
        "enable_ipv6" => DropletActionRequest::EnableIpv6,
        "enable_backups" => DropletActionRequest::EnableBackups,
        "disable_backups" => DropletActionRequest::DisableBackups,
        "password_reset" => DropletActionRequest::PasswordReset,
        other if UNSUPPORTED_ACTIONS.contains(&other) => {
            return Err(ApiError::unprocessable(format!(
                "dosim does not model the {other} action"
            )));
        }
        other => {
            return Err(ApiError::unprocessable(format!(
                "{other} is not a valid droplet action type"
            )))
        }
    })
}

async fn action(
    ctx: Ctx,
    Path(droplet_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_droplet_id(&droplet_id)?;
    let body = JsonBody::parse(&body)?;
    let request = parse_action(&body)?;
    let action = ctx.cloud(|cloud, now| {
        let action_id = cloud.droplet_action(now, id, request)?;
        cloud.action(now, action_id)
    })?;
    ctx.summary(format!("action {} {}", action.id, action.action_type));
    Ok(created(one_response(&action, IpNoun::Reserved)))
}

async fn action_by_tag(ctx: Ctx, params: Params, body: Bytes) -> Result<Response, ApiError> {
    let tag = params
        .get("tag_name")
        .ok_or_else(|| missing("tag_name"))?
        .to_owned();
    let body = JsonBody::parse(&body)?;
    let request = parse_action(&body)?;
    if !request.allowed_by_tag() {
        return Err(ApiError::unprocessable(format!(
            "{} is not allowed on droplets by tag",
            request.action_type()
        )));
    }
    let actions = ctx.cloud(|cloud, now| {
        let ids = cloud.droplet_actions_by_tag(now, &tag, request)?;
        ids.into_iter()
            .map(|action_id| cloud.action(now, action_id))
            .collect::<Result<Vec<_>, _>>()
    })?;
    let ids: Vec<String> = actions.iter().map(|a| a.id.to_string()).collect();
    ctx.summary(format!("actions [{}]", ids.join(",")));
    let rendered: Vec<Value> = actions
        .iter()
        .map(|a| render::action(a, IpNoun::Reserved))
        .collect();
    Ok(json_wrapped(StatusCode::CREATED, "actions", rendered))
}

async fn actions(
    ctx: Ctx,
    Path(droplet_id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let id = parse_droplet_id(&droplet_id)?;
    let actions = ctx.cloud(|cloud, now| cloud.droplet_actions(now, id))?;
    Ok(list_response(
        &ctx,
        &params,
        &format!("/v2/droplets/{id}/actions"),
        actions,
        IpNoun::Reserved,
    ))
}

async fn action_one(
    ctx: Ctx,
    Path((droplet_id, action_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_droplet_id(&droplet_id)?;
    let action_id: ActionId = render::parse_action_id(&action_id)?;
    let action = ctx.cloud(|cloud, now| cloud.action(now, action_id))?;
    if action.resource_type != ResourceType::Droplet || action.resource_id != Some(id.0) {
        return Err(ApiError::not_found());
    }
    Ok(one_response(&action, IpNoun::Reserved))
}

/// Changes a 200 response into a 201.
pub fn created(mut response: Response) -> Response {
    *response.status_mut() = StatusCode::CREATED;
    response
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use dosim_cloud::{Cloud, CloudConfig, ImageRef, SimTime};
    use serde_json::json;

    /// Two droplets, one with IPv6 and tags, in a fresh account.
    pub(crate) fn droplets() -> (Cloud, Vec<Droplet>) {
        let mut cloud = Cloud::new(CloudConfig::default(), 7);
        let created = cloud
            .create_droplets(
                SimTime::ZERO,
                dosim_cloud::DropletCreate {
                    names: vec!["web-1".into(), "web-2.example.com".into()],
                    region: Some("nyc3".into()),
                    size: "s-1vcpu-1gb".into(),
                    image: ImageRef::Slug("ubuntu-24-04-x64".into()),
                    tags: vec!["web".into(), "env:prod".into()],
                    volumes: Vec::new(),
                    ipv6: true,
                    monitoring: false,
                    backups: false,
                    vpc_uuid: None,
                    user_data: None,
                    ssh_keys: Vec::new(),
                },
            )
            .unwrap();
        let droplets = (created.iter())
            .map(|(id, _)| cloud.droplet(SimTime::ZERO, *id).unwrap())
            .collect();
        (cloud, droplets)
    }

    /// Volume ids and the VPC's id are written as the text their `Display` gives.
    #[test]
    fn a_droplets_ids_are_written_as_their_text() {
        let (_, droplets) = droplets();
        let mut droplet = droplets[0].clone();
        let volume = VolumeId(Uuid::from_u128(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210));
        droplet.volume_ids.push(volume);
        let value = render(&droplet);
        assert_eq!(value["volume_ids"], json!([volume.to_string()]));
        assert_eq!(value["vpc_uuid"], json!(droplet.vpc_uuid.to_string()));
        assert_eq!(
            value["volume_ids"][0],
            "01234567-89ab-cdef-fedc-ba9876543210"
        );
    }

    /// A droplet written straight out has the bytes of its `Value`, whose keys are sorted, and
    /// so has the create response built from it.
    #[test]
    fn a_rendered_droplet_has_the_bytes_of_its_value() {
        let (_, droplets) = droplets();
        for droplet in &droplets {
            let direct = serde_json::to_string(&Rendered::of(droplet)).unwrap();
            let value = serde_json::to_string(&render(droplet)).unwrap();
            assert_eq!(direct, value);
        }
        let links = vec![render::action_link(
            "http://api",
            dosim_cloud::ActionId(9),
            "create",
        )];
        let one = CreatedOne {
            droplet: Rendered::of(&droplets[0]),
            links: CreatedLinks {
                actions: links.clone(),
            },
        };
        let one_value = json!({ "droplet": render(&droplets[0]), "links": { "actions": links } });
        assert_eq!(
            serde_json::to_string(&one).unwrap(),
            serde_json::to_string(&one_value).unwrap()
        );
        let many = CreatedMany {
            droplets: droplets.iter().map(Rendered::of).collect(),
            links: CreatedLinks {
                actions: links.clone(),
            },
        };
        let rendered: Vec<Value> = droplets.iter().map(render).collect();
        let many_value = json!({ "droplets": rendered, "links": { "actions": links } });
        assert_eq!(
            serde_json::to_string(&many).unwrap(),
            serde_json::to_string(&many_value).unwrap()
        );
    }
}
