//! Reserved IPs, and the same endpoints under their legacy name, floating IPs.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;

use dosim_cloud::{
    Cloud, Droplet, DropletId, ReservedIp, ReservedIpAction, ReservedIpCreate, ResourceType,
    SimTime,
};

use crate::actions::{list_response, one_response};
use crate::app::{json_response, json_wrapped, no_content, Ctx};
use crate::body::{JsonBody, Params};
use crate::droplets::{self, created};
use crate::error::ApiError;
use crate::pagination::paginate;
use crate::render::{self, IpNoun};

pub fn router() -> Router {
    routes(IpNoun::Reserved).merge(routes(IpNoun::Floating))
}

/// The path segment and the JSON keys of each name.
fn names(noun: IpNoun) -> (&'static str, &'static str, &'static str) {
    match noun {
        IpNoun::Reserved => ("reserved_ips", "reserved_ip", "reserved_ips"),
        IpNoun::Floating => ("floating_ips", "floating_ip", "floating_ips"),
    }
}

fn routes(noun: IpNoun) -> Router {
    let (segment, _, _) = names(noun);
    Router::new()
        .route(
            &format!("/v2/{segment}"),
            get(move |ctx: Ctx, params: Params| list(ctx, params, noun))
                .post(move |ctx: Ctx, body: Bytes| create(ctx, body, noun)),
        )
        .route(
            &format!("/v2/{segment}/{{ip}}"),
            get(move |ctx: Ctx, Path(ip): Path<String>| one(ctx, ip, noun))
                .delete(move |ctx: Ctx, Path(ip): Path<String>| delete(ctx, ip, noun)),
        )
        .route(
            &format!("/v2/{segment}/{{ip}}/actions"),
            get(move |ctx: Ctx, Path(ip): Path<String>, params: Params| {
                actions(ctx, ip, params, noun)
            })
            .post(move |ctx: Ctx, Path(ip): Path<String>, body: Bytes| action(ctx, ip, body, noun)),
        )
        .route(
            &format!("/v2/{segment}/{{ip}}/actions/{{action_id}}"),
            get(
                move |ctx: Ctx, Path((ip, action_id)): Path<(String, String)>| {
                    action_one(ctx, ip, action_id, noun)
                },
            ),
        )
}

/// The reserved IP object; `droplet` is the full droplet or null.
fn render(cloud: &mut Cloud, now: SimTime, reserved_ip: &ReservedIp) -> Rendered {
    Rendered {
        droplet: (reserved_ip.droplet_id).and_then(|id| cloud.droplet(now, id).ok()),
        ip: reserved_ip.ip,
        locked: reserved_ip.locked,
        project_id: reserved_ip.project_id.to_string(),
        region: render::region_json_or_unknown(&reserved_ip.region),
    }
}

/// The reserved IP object, written straight to JSON: the droplet it is assigned to is rendered
/// as `droplets::Rendered` is, never through a `Value`, and the region is the catalogue's
/// serialized object. The fields are in sorted order, as a `Value` writes an object's keys.
#[derive(Serialize)]
struct Rendered {
    #[serde(serialize_with = "droplet_or_null")]
    droplet: Option<Droplet>,
    ip: Ipv4Addr,
    locked: bool,
    project_id: String,
    region: Cow<'static, RawValue>,
}

fn droplet_or_null<S: serde::Serializer>(
    droplet: &Option<Droplet>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match droplet {
        Some(droplet) => droplets::Rendered::of(droplet).serialize(serializer),
        None => serializer.serialize_unit(),
    }
}

/// An address from a path; anything but an IPv4 address is a 404, as for an unknown address.
fn parse_ip(raw: &str) -> Result<Ipv4Addr, ApiError> {
    raw.parse::<Ipv4Addr>().map_err(|_| ApiError::not_found())
}

async fn create(ctx: Ctx, body: Bytes, noun: IpNoun) -> Result<Response, ApiError> {
    let (_, key, _) = names(noun);
    let body = JsonBody::parse(&body)?;
    let request = ReservedIpCreate {
        region: body.opt_str("region")?,
        droplet_id: body.opt_u64("droplet_id")?.map(DropletId),
        project_id: body.opt_str("project_id")?,
    };
    let (object, created) = ctx.cloud(|cloud, now| {
        let created = cloud.create_reserved_ip(now, request)?;
        let reserved_ip = cloud.reserved_ip(now, created.ip)?;
        Ok::<_, dosim_cloud::Error>((render(cloud, now, &reserved_ip), created))
    })?;
    ctx.summary(format!("{key} {}", created.ip));
    let links = match (created.droplet_id, created.action_id) {
        (Some(droplet_id), Some(action_id)) => json!({
            "droplets": [{ "id": droplet_id.0, "rel": "droplet", "href": ctx.url(&format!("/v2/droplets/{droplet_id}")) }],
            "actions": [render::action_link(&ctx.base_url, action_id, "assign_ip")],
        }),
        _ => json!({}),
    };
    Ok(json_response(
        StatusCode::ACCEPTED,
        &json!({ key: object, "links": links }),
    ))
}

async fn list(ctx: Ctx, params: Params, noun: IpNoun) -> Response {
    let (segment, _, plural) = names(noun);
    let rendered = ctx.cloud(|cloud, now| {
        let all = cloud.reserved_ips(now);
        all.iter()
            .map(|reserved_ip| render(cloud, now, reserved_ip))
            .collect::<Vec<_>>()
    });
    paginate(rendered, &params, &ctx.base_url, &format!("/v2/{segment}")).response(plural)
}

async fn one(ctx: Ctx, ip: String, noun: IpNoun) -> Result<Response, ApiError> {
    let (_, key, _) = names(noun);
    let ip = parse_ip(&ip)?;
    let object = ctx.cloud(|cloud, now| {
        let reserved_ip = cloud.reserved_ip(now, ip)?;
        Ok::<_, dosim_cloud::Error>(render(cloud, now, &reserved_ip))
    })?;
    Ok(json_wrapped(StatusCode::OK, key, object))
}

async fn delete(ctx: Ctx, ip: String, noun: IpNoun) -> Result<Response, ApiError> {
    let (_, key, _) = names(noun);
    let ip = parse_ip(&ip)?;
    ctx.cloud(|cloud, now| cloud.delete_reserved_ip(now, ip))?;
    ctx.summary(format!("deleted {key} {ip}"));
    Ok(no_content())
}

async fn action(ctx: Ctx, ip: String, body: Bytes, noun: IpNoun) -> Result<Response, ApiError> {
    let ip = parse_ip(&ip)?;
    let body = JsonBody::parse(&body)?;
    let request = match body.req_str("type")?.as_str() {
        "assign" => ReservedIpAction::Assign {
            droplet_id: DropletId(body.req_u64("droplet_id")?),
        },
        "unassign" => ReservedIpAction::Unassign,
        other => {
            return Err(ApiError::unprocessable(format!(
                "type must be assign or unassign, not {other}"
            )))
        }
    };
    let action = ctx.cloud(|cloud, now| {
        let action_id = cloud.reserved_ip_action(now, ip, request)?;
        cloud.action(now, action_id)
    })?;
    ctx.summary(format!("action {} {}", action.id, action.action_type));
    Ok(created(one_response(&action, noun)))
}

async fn actions(ctx: Ctx, ip: String, params: Params, noun: IpNoun) -> Result<Response, ApiError> {
    let (segment, _, _) = names(noun);
    let ip = parse_ip(&ip)?;
    let actions = ctx.cloud(|cloud, now| cloud.reserved_ip_actions(now, ip))?;
    Ok(list_response(
        &ctx,
        &params,
        &format!("/v2/{segment}/{ip}/actions"),
        actions,
        noun,
    ))
}

async fn action_one(
    ctx: Ctx,
    ip: String,
    action_id: String,
    noun: IpNoun,
) -> Result<Response, ApiError> {
    let ip = parse_ip(&ip)?;
    let action_id = render::parse_action_id(&action_id)?;
    let action = ctx.cloud(|cloud, now| cloud.action(now, action_id))?;
    if action.resource_type != ResourceType::ReservedIp
        || action.resource_id != Some(u64::from(u32::from(ip)))
    {
        return Err(ApiError::not_found());
    }
    Ok(one_response(&action, noun))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reserved IP object as it was built before, through a `Value`.
    fn as_value(cloud: &mut Cloud, now: SimTime, reserved_ip: &ReservedIp) -> serde_json::Value {
        let droplet = (reserved_ip.droplet_id)
            .and_then(|id| cloud.droplet(now, id).ok())
            .map_or(serde_json::Value::Null, |droplet| {
                droplets::render(&droplet)
            });
        json!({
            "ip": reserved_ip.ip.to_string(),
            "region": render::region(&reserved_ip.region),
            "droplet": droplet,
            "locked": reserved_ip.locked,
            "project_id": reserved_ip.project_id.to_string(),
        })
    }

    /// Assigned or not, a reserved IP written straight out has the bytes of its `Value`.
    #[test]
    fn a_rendered_reserved_ip_has_the_bytes_of_its_value() {
        let (mut cloud, droplets) = droplets::tests::droplets();
        // Once the droplets have booted: a new droplet's pending create blocks an assignment.
        let now = SimTime(600_000);
        let request = |droplet_id: Option<DropletId>| ReservedIpCreate {
            region: droplet_id.is_none().then(|| "sfo3".to_owned()),
            droplet_id,
            project_id: None,
        };
        let free = cloud.create_reserved_ip(now, request(None)).unwrap();
        let held = (cloud.create_reserved_ip(now, request(Some(droplets[0].id)))).unwrap();
        for ip in [free.ip, held.ip] {
            let reserved_ip = cloud.reserved_ip(now, ip).unwrap();
            let direct = serde_json::to_string(&render(&mut cloud, now, &reserved_ip)).unwrap();
            let value = serde_json::to_string(&as_value(&mut cloud, now, &reserved_ip)).unwrap();
            assert_eq!(direct, value);
        }
        assert!(held.droplet_id.is_some());
    }
}
