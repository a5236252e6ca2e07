//! Actions: `GET /v2/actions` and `GET /v2/actions/{action_id}`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use dosim_cloud::Action;

use crate::app::{json_wrapped, Ctx};
use crate::body::Params;
use crate::error::ApiError;
use crate::pagination::paginate;
use crate::render::{self, IpNoun};

pub fn router() -> Router {
    Router::new()
        .route("/v2/actions", get(list))
        .route("/v2/actions/{action_id}", get(one))
}

async fn list(ctx: Ctx, params: Params) -> Response {
    let actions = ctx.cloud(|cloud, now| cloud.actions(now));
    list_response(&ctx, &params, "/v2/actions", actions, IpNoun::Reserved)
}

async fn one(ctx: Ctx, Path(action_id): Path<String>) -> Result<Response, ApiError> {
    let id = render::parse_action_id(&action_id)?;
    let action = ctx.cloud(|cloud, now| cloud.action(now, id))?;
    Ok(one_response(&action, IpNoun::Reserved))
}

/// `{"actions": [...], "links": ..., "meta": ...}` for any list of actions.
pub fn list_response(
    ctx: &Ctx,
    params: &Params,
    path: &str,
    actions: Vec<Action>,
    noun: IpNoun,
) -> Response {
    let rendered: Vec<Value> = actions
        .iter()
        .map(|action| render::action(action, noun))
        .collect();
    paginate(rendered, params, &ctx.base_url, path).response("actions")
}

pub fn one_response(action: &Action, noun: IpNoun) -> Response {
    json_wrapped(StatusCode::OK, "action", render::action(action, noun))
}
