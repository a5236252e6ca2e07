//! Projects and the resources assigned to them.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use uuid::Uuid;

use dosim_cloud::{Cloud, Project, ProjectEdit, ProjectResource, SimTime};

use crate::app::{json_wrapped, no_content, Ctx};
use crate::body::{missing, uuid_path, wrong_type, JsonBody, Params};
use crate::error::ApiError;
use crate::pagination::paginate;
use crate::render;

pub fn router() -> Router {
    Router::new()
        .route("/v2/projects", get(list).post(create))
        .route(
            "/v2/projects/{id}",
            get(one).put(update).patch(update).delete(delete),
        )
        .route("/v2/projects/{id}/resources", get(resources).post(assign))
}

fn render(cloud: &Cloud, project: &Project) -> Value {
    let account = cloud.account();
    // A project created without an environment has none; the spec allows only its three values,
    // so the field is left out rather than null.
    let mut object = json!({
        "id": project.id.to_string(),
        "owner_uuid": account.uuid.simple().to_string(),
        "owner_id": account.account_number,
        "name": project.name,
        "description": project.description,
        "purpose": project.purpose,
        "is_default": project.is_default,
        "created_at": render::time(project.created_at),
        "updated_at": render::time(project.updated_at),
    });
    if let Some(environment) = &project.environment {
        object["environment"] = json!(environment);
    }
    object
}

/// The project a path names: `default`, or an id; anything else is a 404.
fn project_id(cloud: &mut Cloud, now: SimTime, raw: &str) -> Result<Uuid, ApiError> {
    if raw == "default" {
        return Ok(cloud.default_project(now).id);
    }
    uuid_path(raw)
}

/// A resource's `self` link, from its URN.
fn self_link(ctx: &Ctx, urn: &str) -> Option<String> {
    let rest = urn.strip_prefix("do:")?;
    let (kind, id) = rest.split_once(':')?;
    let path = match kind {
        "droplet" => format!("/v2/droplets/{id}"),
        "volume" => format!("/v2/volumes/{id}"),
        "floatingip" | "reservedip" => format!("/v2/floating_ips/{id}"),
        "dbaas" => format!("/v2/databases/{id}"),
        "domain" => format!("/v2/domains/{id}"),
        _ => return None,
    };
    Some(ctx.url(&path))
}

fn render_resource(ctx: &Ctx, resource: &ProjectResource) -> Value {
    let links = match self_link(ctx, &resource.urn) {
        Some(link) if resource.status != "not_found" => json!({ "self": link }),
        _ => json!({}),
    };
    json!({
        "urn": resource.urn,
        "assigned_at": render::time(resource.assigned_at),
        "links": links,
        "status": resource.status,
    })
}

fn edit(body: &JsonBody) -> Result<ProjectEdit, ApiError> {
    Ok(ProjectEdit {
        name: body.opt_str("name")?,
        description: body.opt_str("description")?,
        purpose: body.opt_str("purpose")?,
        environment: body.opt_str("environment")?,
        is_default: body.opt_bool("is_default")?,
    })
}

async fn create(ctx: Ctx, body: Bytes) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&body)?;
    let edit = edit(&body)?;
    let rendered = ctx.cloud(|cloud, now| {
        let project = cloud.create_project(now, edit)?;
        Ok::<_, dosim_cloud::Error>((project.id, render(cloud, &project)))
    })?;
    ctx.summary(format!("project {}", rendered.0));
    Ok(json_wrapped(StatusCode::CREATED, "project", rendered.1))
}

async fn list(ctx: Ctx, params: Params) -> Response {
    let rendered: Vec<Value> = ctx.cloud(|cloud, now| {
        let projects = cloud.projects(now);
        projects.iter().map(|p| render(cloud, p)).collect()
    });
    paginate(rendered, &params, &ctx.base_url, "/v2/projects").response("projects")
}

async fn one(ctx: Ctx, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let rendered = ctx.cloud(|cloud, now| {
        let id = project_id(cloud, now, &raw)?;
        let project = cloud.project(now, id)?;
        Ok::<_, ApiError>(render(cloud, &project))
    })?;
    Ok(json_wrapped(StatusCode::OK, "project", rendered))
}

async fn update(ctx: Ctx, Path(raw): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&body)?;
    let edit = edit(&body)?;
    let rendered = ctx.cloud(|cloud, now| {
        let id = project_id(cloud, now, &raw)?;
        let project = cloud.update_project(now, id, edit)?;
        Ok::<_, ApiError>(render(cloud, &project))
    })?;
    ctx.summary(format!("project {raw} updated"));
    Ok(json_wrapped(StatusCode::OK, "project", rendered))
}

async fn delete(ctx: Ctx, Path(raw): Path<String>) -> Result<Response, ApiError> {
    ctx.cloud(|cloud, now| {
        let id = project_id(cloud, now, &raw)?;
        Ok::<_, ApiError>(cloud.delete_project(now, id)?)
    })?;
    ctx.summary(format!("project {raw} deleted"));
    Ok(no_content())
}

async fn resources(
    ctx: Ctx,
    Path(raw): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let listed = ctx.cloud(|cloud, now| {
        let id = project_id(cloud, now, &raw)?;
        Ok::<_, ApiError>((id, cloud.project_resources(now, id)?))
    })?;
    let rendered: Vec<Value> = listed.1.iter().map(|r| render_resource(&ctx, r)).collect();
    let path = format!("/v2/projects/{raw}/resources");
    Ok(paginate(rendered, &params, &ctx.base_url, &path).response("resources"))
}

async fn assign(ctx: Ctx, Path(raw): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&body)?;
    let urns: Vec<String> = body
        .opt_list("resources")?
        .ok_or_else(|| missing("resources"))?
        .iter()
        .map(|urn| {
            urn.as_str()
                .map(str::to_owned)
                .ok_or_else(|| wrong_type("resources", "an array of URNs"))
        })
        .collect::<Result<_, _>>()?;
    let assigned = ctx.cloud(|cloud, now| {
        let id = project_id(cloud, now, &raw)?;
        Ok::<_, ApiError>(cloud.assign_project_resources(now, id, &urns)?)
    })?;
    ctx.summary(format!("project {raw}: {} assigned", urns.len()));
    let rendered: Vec<Value> = assigned.iter().map(|r| render_resource(&ctx, r)).collect();
    Ok(json_wrapped(StatusCode::OK, "resources", rendered))
}
