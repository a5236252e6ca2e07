//! Domains and their DNS records.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use dosim_cloud::{Domain, DomainRecord, DomainRecordFilter, DomainRecordSpec};

use crate::app::{json_wrapped, no_content, Ctx};
use crate::body::{wrong_type, JsonBody, Params};
use crate::error::ApiError;
use crate::pagination::paginate;

pub fn router() -> Router {
    Router::new()
        .route("/v2/domains", get(list).post(create))
        .route("/v2/domains/{domain}", get(one).delete(delete))
        .route(
            "/v2/domains/{domain}/records",
            get(records).post(create_record),
        )
        .route(
            "/v2/domains/{domain}/records/{id}",
            get(record)
                .put(update_record)
                .patch(update_record)
                .delete(delete_record),
        )
}

fn render(domain: &Domain) -> Value {
    json!({ "name": domain.name, "ttl": domain.ttl, "zone_file": domain.zone_file() })
}

fn render_record(record: &DomainRecord) -> Value {
    json!({
        "id": record.id,
        "type": record.record_type,
        "name": record.name,
        "data": record.data,
        "priority": record.priority,
        "port": record.port,
        "ttl": record.ttl,
        "weight": record.weight,
        "flags": record.flags,
        "tag": record.tag,
    })
}

async fn create(ctx: Ctx, body: Bytes) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&body)?;
    let name = body.req_str("name")?;
    let ip_address = body.opt_str("ip_address")?;
    let domain = ctx.cloud(|cloud, now| cloud.create_domain(now, &name, ip_address.as_deref()))?;
    ctx.summary(format!("domain {}", domain.name));
    Ok(json_wrapped(StatusCode::CREATED, "domain", render(&domain)))
}

async fn list(ctx: Ctx, params: Params) -> Response {
    let domains = ctx.cloud(|cloud, now| cloud.domains(now));
    let rendered: Vec<Value> = domains.iter().map(render).collect();
    paginate(rendered, &params, &ctx.base_url, "/v2/domains").response("domains")
}

async fn one(ctx: Ctx, Path(domain): Path<String>) -> Result<Response, ApiError> {
    let domain = ctx.cloud(|cloud, now| cloud.domain(now, &domain))?;
    Ok(json_wrapped(StatusCode::OK, "domain", render(&domain)))
}

async fn delete(ctx: Ctx, Path(domain): Path<String>) -> Result<Response, ApiError> {
    ctx.cloud(|cloud, now| cloud.delete_domain(now, &domain))?;
    ctx.summary(format!("domain {domain} deleted"));
    Ok(no_content())
}

async fn records(
    ctx: Ctx,
    Path(domain): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let filter = DomainRecordFilter {
        name: params.get("name").map(str::to_owned),
        record_type: params.get("type").map(str::to_owned),
    };
    let records = ctx.cloud(|cloud, now| cloud.domain_records(now, &domain, &filter))?;
    let rendered: Vec<Value> = records.iter().map(render_record).collect();
    let path = format!("/v2/domains/{domain}/records");
    Ok(paginate(rendered, &params, &ctx.base_url, &path).response("domain_records"))
}

/// A record id from a path; anything but a number is a 404, as for an unknown id.
fn parse_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

/// An optional small integer field; `null` reads as absent.
fn opt_u32(body: &JsonBody, field: &str) -> Result<Option<u32>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => body
            .opt_u64(field)?
            .map(|n| u32::try_from(n).map_err(|_| wrong_type(field, "a small integer")))
            .transpose(),
    }
}

/// An optional string field; `null` reads as absent.
fn opt_string(body: &JsonBody, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => body.opt_str(field),
    }
}

fn spec(body: &[u8]) -> Result<DomainRecordSpec, ApiError> {
    let body = JsonBody::parse(body)?;
    Ok(DomainRecordSpec {
        record_type: opt_string(&body, "type")?,
        name: opt_string(&body, "name")?,
        data: opt_string(&body, "data")?,
        priority: opt_u32(&body, "priority")?,
        port: opt_u32(&body, "port")?,
        ttl: opt_u32(&body, "ttl")?,
        weight: opt_u32(&body, "weight")?,
        flags: opt_u32(&body, "flags")?,
        tag: opt_string(&body, "tag")?,
    })
}

async fn create_record(
    ctx: Ctx,
    Path(domain): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let spec = spec(&body)?;
    let record = ctx.cloud(|cloud, now| cloud.create_domain_record(now, &domain, spec))?;
    ctx.summary(format!(
        "record {} {} {} {}",
        record.id, record.record_type, record.name, record.data
    ));
    Ok(json_wrapped(
        StatusCode::CREATED,
        "domain_record",
        render_record(&record),
    ))
}

async fn record(
    ctx: Ctx,
    Path((domain, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let record = ctx.cloud(|cloud, now| cloud.domain_record(now, &domain, id))?;
    Ok(json_wrapped(
        StatusCode::OK,
        "domain_record",
        render_record(&record),
    ))
}

async fn update_record(
    ctx: Ctx,
    Path((domain, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let spec = spec(&body)?;
    let record = ctx.cloud(|cloud, now| cloud.update_domain_record(now, &domain, id, spec))?;
    ctx.summary(format!(
        "record {} {} {} {}",
        record.id, record.record_type, record.name, record.data
    ));
    Ok(json_wrapped(
        StatusCode::OK,
        "domain_record",
        render_record(&record),
    ))
}

async fn delete_record(
    ctx: Ctx,
    Path((domain, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    ctx.cloud(|cloud, now| cloud.delete_domain_record(now, &domain, id))?;
    ctx.summary(format!("record {id} deleted"));
    Ok(no_content())
}
