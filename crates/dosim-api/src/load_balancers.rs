//! Load balancers.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use dosim_cloud::{
    Cloud, ForwardingRule, HealthCheck, LoadBalancer, LoadBalancerSpec, SimTime, StickySessions,
};

use crate::app::{json_wrapped, no_content, Ctx};
use crate::body::{droplet_id_list, missing, uuid_path, wrong_type, JsonBody, Params};
use crate::error::ApiError;
use crate::list_edit;
use crate::pagination::paginate;
use crate::render;

pub fn router() -> Router {
    Router::new()
        .route("/v2/load_balancers", get(list).post(create))
        .route(
            "/v2/load_balancers/{id}",
            get(one).put(replace).delete(delete),
        )
        .route(
            "/v2/load_balancers/{id}/droplets",
            list_edit::routes(droplets),
        )
        .route(
            "/v2/load_balancers/{id}/forwarding_rules",
            list_edit::routes(edit_rules),
        )
}

fn render_rule(rule: &ForwardingRule) -> Value {
    let mut object = Map::new();
    object.insert("entry_protocol".into(), json!(rule.entry_protocol));
    object.insert("entry_port".into(), json!(rule.entry_port));
    object.insert("target_protocol".into(), json!(rule.target_protocol));
    object.insert("target_port".into(), json!(rule.target_port));
    object.insert("certificate_id".into(), json!(rule.certificate_id));
    object.insert("tls_passthrough".into(), json!(rule.tls_passthrough));
    Value::Object(object)
}

/// The load balancer object; `ip` is empty until it is active, as DigitalOcean shows it.
fn render(lb: &LoadBalancer, now: SimTime) -> Value {
    let status = lb.status(now);
    let sticky = match &lb.sticky_sessions.cookie {
        None => json!({ "type": "none" }),
        Some((name, ttl)) => {
            json!({ "type": "cookies", "cookie_name": name, "cookie_ttl_seconds": ttl })
        }
    };
    let check = &lb.health_check;
    let region = dosim_cloud::catalog::region(&lb.region)
        .map(render::region_object)
        .unwrap_or(Value::Null);
    let mut object = json!({
        "id": lb.id.to_string(),
        "name": lb.name,
        "project_id": lb.project_id.to_string(),
        "ip": if status == "active" { lb.ip.to_string() } else { String::new() },
        "size_unit": lb.size_unit,
        "algorithm": "round_robin",
        "status": status,
        "created_at": render::time(lb.created_at),
        "forwarding_rules": lb.forwarding_rules.iter().map(render_rule).collect::<Vec<_>>(),
        "health_check": {
            "protocol": check.protocol,
            "port": check.port,
            "path": check.path,
            "check_interval_seconds": check.check_interval_seconds,
            "response_timeout_seconds": check.response_timeout_seconds,
            "unhealthy_threshold": check.unhealthy_threshold,
            "healthy_threshold": check.healthy_threshold,
        },
        "sticky_sessions": sticky,
        "redirect_http_to_https": lb.redirect_http_to_https,
        "enable_proxy_protocol": lb.enable_proxy_protocol,
        "enable_backend_keepalive": lb.enable_backend_keepalive,
        "http_idle_timeout_seconds": lb.http_idle_timeout_seconds,
        "vpc_uuid": lb.vpc_uuid.to_string(),
        "disable_lets_encrypt_dns_records": false,
        "firewall": { "deny": [], "allow": [] },
        "network": "EXTERNAL",
        "network_stack": "IPV4",
        "type": "REGIONAL",
        "region": region,
        "droplet_ids": lb.droplet_ids,
    });
    if let Some(tag) = &lb.tag {
        object["tag"] = json!(tag);
    }
    object
}

fn int(value: &Value, field: &str, max: u64) -> Result<u64, ApiError> {
    value
        .as_u64()
        .filter(|n| *n <= max)
        .ok_or_else(|| wrong_type(field, &format!("an integer from 0 to {max}")))
}

fn rules(body: &JsonBody) -> Result<Vec<ForwardingRule>, ApiError> {
    let Some(items) = body.opt_list("forwarding_rules")? else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|rule| {
            let Value::Object(rule) = rule else {
                return Err(wrong_type("forwarding_rules[]", "an object"));
            };
            let field = |name: &str| {
                rule.get(name)
                    .filter(|v| !v.is_null())
                    .ok_or_else(|| missing(&format!("forwarding_rules[].{name}")))
            };
            let text = |name: &str| {
                field(name)?
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| wrong_type(&format!("forwarding_rules[].{name}"), "a string"))
            };
            let port = |name: &str| {
                int(field(name)?, &format!("forwarding_rules[].{name}"), 65535)
                    .map(|p| u16::try_from(p).unwrap_or(u16::MAX))
            };
            Ok(ForwardingRule {
                entry_protocol: text("entry_protocol")?,
                entry_port: port("entry_port")?,
                target_protocol: text("target_protocol")?,
                target_port: port("target_port")?,
                certificate_id: match rule.get("certificate_id") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(id)) => id.clone(),
                    Some(_) => {
                        return Err(wrong_type("forwarding_rules[].certificate_id", "a string"))
                    }
                },
                tls_passthrough: match rule.get("tls_passthrough") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        return Err(wrong_type(
                            "forwarding_rules[].tls_passthrough",
                            "a boolean",
                        ))
                    }
                },
            })
        })
        .collect()
}

fn health_check(body: &JsonBody) -> Result<Option<HealthCheck>, ApiError> {
    let object = match body.get("health_check") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(object)) => object,
        Some(_) => return Err(wrong_type("health_check", "an object")),
    };
    let defaults = HealthCheck::default();
    let number = |name: &str, default: u32, max: u64| match object.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => int(value, &format!("health_check.{name}"), max)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
    };
    let text = |name: &str, default: &str| match object.get(name) {
        None | Some(Value::Null) => Ok(default.to_owned()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(wrong_type(&format!("health_check.{name}"), "a string")),
    };
    Ok(Some(HealthCheck {
        protocol: text("protocol", &defaults.protocol)?,
        port: u16::try_from(number("port", u32::from(defaults.port), 65535)?).unwrap_or(u16::MAX),
        path: text("path", &defaults.path)?,
        check_interval_seconds: number("check_interval_seconds", 10, 300)?,
        response_timeout_seconds: number("response_timeout_seconds", 5, 300)?,
        unhealthy_threshold: number("unhealthy_threshold", 5, 10)?,
        healthy_threshold: number("healthy_threshold", 3, 10)?,
    }))
}

fn sticky_sessions(body: &JsonBody) -> Result<StickySessions, ApiError> {
    let object = match body.get("sticky_sessions") {
        None | Some(Value::Null) => return Ok(StickySessions::default()),
        Some(Value::Object(object)) => object,
        Some(_) => return Err(wrong_type("sticky_sessions", "an object")),
    };
    match object.get("type").and_then(Value::as_str) {
        None | Some("none") => Ok(StickySessions::default()),
        Some("cookies") => {
            let name = object
                .get("cookie_name")
                .and_then(Value::as_str)
                .unwrap_or("DO-LB")
                .to_owned();
            let ttl = match object.get("cookie_ttl_seconds") {
                None | Some(Value::Null) => 300,
                Some(value) => u32::try_from(int(
                    value,
                    "sticky_sessions.cookie_ttl_seconds",
                    u64::from(u32::MAX),
                )?)
                .unwrap_or(u32::MAX),
            };
            Ok(StickySessions {
                cookie: Some((name, ttl)),
            })
        }
        Some(_) => Err(wrong_type("sticky_sessions.type", "cookies or none")),
    }
}

fn uuid_field(body: &JsonBody, field: &str) -> Result<Option<Uuid>, ApiError> {
    match body.opt_str(field)? {
        None => Ok(None),
        Some(text) => Uuid::try_parse(&text)
            .map(Some)
            .map_err(|_| wrong_type(field, "a UUID")),
    }
}

fn spec(body: &[u8]) -> Result<LoadBalancerSpec, ApiError> {
    let body = JsonBody::parse(body)?;
    let size_unit = match body.opt_u64("size_unit")? {
        Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
        // The deprecated sizes stand for node counts.
        None => match body.opt_str("size")?.as_deref() {
            None | Some("lb-small") => 1,
            Some("lb-medium") => 3,
            Some("lb-large") => 6,
            Some(_) => return Err(wrong_type("size", "lb-small, lb-medium or lb-large")),
        },
    };
    Ok(LoadBalancerSpec {
        name: body.req_str("name")?,
        region: body.req_str("region")?,
        size_unit,
        forwarding_rules: rules(&body)?,
        health_check: health_check(&body)?,
        sticky_sessions: sticky_sessions(&body)?,
        droplet_ids: droplet_id_list(body.get("droplet_ids"), "droplet_ids")?,
        tag: body.opt_str("tag")?,
        redirect_http_to_https: body.opt_bool("redirect_http_to_https")?.unwrap_or(false),
        enable_proxy_protocol: body.opt_bool("enable_proxy_protocol")?.unwrap_or(false),
        enable_backend_keepalive: body.opt_bool("enable_backend_keepalive")?.unwrap_or(false),
        http_idle_timeout_seconds: body
            .opt_u64("http_idle_timeout_seconds")?
            .map_or(60, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        vpc_uuid: uuid_field(&body, "vpc_uuid")?,
        project_id: uuid_field(&body, "project_id")?,
    })
}

/// A load balancer id from a path; anything but a UUID is a 404, as for an unknown id.
async fn create(ctx: Ctx, body: Bytes) -> Result<Response, ApiError> {
    let spec = spec(&body)?;
    let (id, rendered) = ctx.cloud(|cloud, now| {
        cloud
            .create_load_balancer(now, spec)
            .map(|lb| (lb.id, render(&lb, now)))
    })?;
    ctx.summary(format!("load balancer {id}"));
    Ok(json_wrapped(
        StatusCode::ACCEPTED,
        "load_balancer",
        rendered,
    ))
}

async fn list(ctx: Ctx, params: Params) -> Response {
    let rendered: Vec<Value> = ctx.cloud(|cloud, now| {
        cloud
            .load_balancers(now)
            .iter()
            .map(|lb| render(lb, now))
            .collect()
    });
    paginate(rendered, &params, &ctx.base_url, "/v2/load_balancers").response("load_balancers")
}

async fn one(ctx: Ctx, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = uuid_path(&id)?;
    let rendered =
        ctx.cloud(|cloud, now| cloud.load_balancer(now, id).map(|lb| render(&lb, now)))?;
    Ok(json_wrapped(StatusCode::OK, "load_balancer", rendered))
}

async fn replace(ctx: Ctx, Path(id): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let id = uuid_path(&id)?;
    let spec = spec(&body)?;
    let (droplets, rendered) = ctx.cloud(|cloud, now| {
        cloud
            .replace_load_balancer(now, id, spec)
            .map(|lb| (lb.droplet_ids.clone(), render(&lb, now)))
    })?;
    ctx.summary(format!("load balancer {id} droplets {droplets:?}"));
    Ok(json_wrapped(StatusCode::OK, "load_balancer", rendered))
}

async fn delete(ctx: Ctx, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = uuid_path(&id)?;
    ctx.cloud(|cloud, now| cloud.delete_load_balancer(now, id))?;
    ctx.summary(format!("load balancer {id} deleted"));
    Ok(no_content())
}

fn droplets(ctx: &Ctx, id: &str, body: &[u8], add: bool) -> Result<Response, ApiError> {
    list_edit::droplets(
        ctx,
        "load balancer",
        id,
        body,
        Cloud::load_balancer_droplets,
        add,
    )
}

fn edit_rules(ctx: &Ctx, id: &str, body: &[u8], add: bool) -> Result<Response, ApiError> {
    let read = |body: &JsonBody| {
        if body.get("forwarding_rules").is_none() {
            return Err(missing("forwarding_rules"));
        }
        let rules = rules(body)?;
        let named = format!("{} forwarding rules", rules.len());
        Ok((rules, named))
    };
    let commit = |cloud: &mut Cloud, now, id, rules: Vec<ForwardingRule>| {
        cloud.load_balancer_rules(now, id, &rules, add)
    };
    list_edit::edit(ctx, "load balancer", id, body, read, commit, add)
}
