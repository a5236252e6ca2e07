//! The account and the catalogue: `/v2/account`, `/v2/regions`, `/v2/sizes` and `/v2/images`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use dosim_cloud::catalog;

use crate::app::{json_wrapped, Ctx};
use crate::body::Params;
use crate::error::ApiError;
use crate::pagination::paginate;
use crate::render;

pub fn router() -> Router {
    Router::new()
        .route("/v2/account", get(account))
        .route("/v2/regions", get(regions))
        .route("/v2/sizes", get(sizes))
        .route("/v2/images", get(images))
        .route("/v2/images/{image_id}", get(image))
}

async fn account(ctx: Ctx) -> Response {
    let account = ctx.cloud(|cloud, now| {
        cloud.advance(now);
        cloud.account()
    });
    let uuid = account.uuid.simple().to_string();
    let account = json!({
        "droplet_limit": account.droplet_limit,
        "floating_ip_limit": account.floating_ip_limit,
        "reserved_ip_limit": account.floating_ip_limit,
        "volume_limit": account.volume_limit,
        "email": account.email,
        "name": "Sammy the Shark",
        "uuid": uuid,
        "email_verified": account.email_verified,
        "status": account.status,
        "status_message": account.status_message,
        "team": { "uuid": uuid, "name": "My Team" },
    });
    json_wrapped(StatusCode::OK, "account", account)
}

async fn regions(ctx: Ctx, params: Params) -> Response {
    let all: Vec<_> = catalog::regions()
        .iter()
        .map(render::region_object)
        .collect();
    paginate(all, &params, &ctx.base_url, "/v2/regions").response("regions")
}

async fn sizes(ctx: Ctx, params: Params) -> Response {
    let all: Vec<_> = catalog::sizes().iter().map(render::size_object).collect();
    paginate(all, &params, &ctx.base_url, "/v2/sizes").response("sizes")
}

/// Only public base images exist; `type=distribution` and `type=application` filter them as DigitalOcean does.
async fn images(ctx: Ctx, params: Params) -> Response {
    let wanted_type = params.get("type");
    let private = params.get("private") == Some("true");
    let all: Vec<_> = catalog::images()
        .iter()
        .filter(|image| {
            !private
                && wanted_type.is_none_or(|t| t == "distribution" && image.image_type == "base")
        })
        .map(render::image_object)
        .collect();
    paginate(all, &params, &ctx.base_url, "/v2/images").response("images")
}

/// An image by numeric id or by slug.
async fn image(Path(image_id): Path<String>) -> Result<Response, ApiError> {
    let image = match image_id.parse::<u64>() {
        Ok(id) => catalog::image_by_id(id),
        Err(_) => catalog::image_by_slug(&image_id),
    };
    let image = image.ok_or_else(ApiError::not_found)?;
    Ok(json_wrapped(
        StatusCode::OK,
        "image",
        render::image_object(image),
    ))
}
