//! Adding items to and removing them from one of a resource's lists: a firewall's droplets, tags
//! and rules, a load balancer's droplets and forwarding rules.

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::{post, MethodRouter};
use serde_json::Value;
use uuid::Uuid;

use dosim_cloud::{Cloud, SimTime};

use crate::app::{no_content, Ctx};
use crate::body::{droplet_id_list, missing, str_list, uuid_path, JsonBody};
use crate::error::ApiError;

/// Edits one list: the resource's id from the path, the request's body, and whether to add.
pub(crate) type Edit = fn(&Ctx, &str, &[u8], bool) -> Result<Response, ApiError>;

/// The routes of one list: `POST` adds with `edit`, `DELETE` removes with it.
pub(crate) fn routes(edit: Edit) -> MethodRouter {
    post(move |ctx: Ctx, Path(id): Path<String>, body: Bytes| async move {
        edit(&ctx, &id, &body, true)
    })
    .delete(move |ctx: Ctx, Path(id): Path<String>, body: Bytes| async move {
        edit(&ctx, &id, &body, false)
    })
}

/// One `POST` (`add`) or `DELETE` on `/v2/{resources}/{id}/{list}`: the resource's UUID from the
/// path, the items and how the summary names them from `read`, the change from `commit`, and the
/// summary `{resource} {id}: {items} added` (or `removed`); 204.
pub(crate) fn edit<T>(
    ctx: &Ctx,
    resource: &str,
    id: &str,
    body: &[u8],
    read: impl FnOnce(&JsonBody) -> Result<(T, String), ApiError>,
    commit: impl FnOnce(&mut Cloud, SimTime, Uuid, T) -> Result<(), dosim_cloud::Error>,
    add: bool,
) -> Result<Response, ApiError> {
    let id = uuid_path(id)?;
    let body = JsonBody::parse(body)?;
    let (items, named) = read(&body)?;
    ctx.cloud(|cloud, now| commit(cloud, now, id, items))?;
    let verb = if add { "added" } else { "removed" };
    ctx.summary(format!("{resource} {id}: {named} {verb}"));
    Ok(no_content())
}

/// [`Cloud::firewall_droplets`] or [`Cloud::load_balancer_droplets`].
type EditDroplets = fn(&mut Cloud, SimTime, Uuid, &[u64], bool) -> Result<(), dosim_cloud::Error>;

/// A required list field, read by `list` (such as [`str_list`]).
fn required<T>(
    body: &JsonBody,
    field: &str,
    list: fn(Option<&Value>, &str) -> Result<Vec<T>, ApiError>,
) -> Result<Vec<T>, ApiError> {
    match body.get(field) {
        None => Err(missing(field)),
        value => list(value, field),
    }
}

/// A firewall's or a load balancer's droplets: `droplet_ids`, required, and `commit` (such as
/// [`Cloud::firewall_droplets`]) adds or removes them.
pub(crate) fn droplets(
    ctx: &Ctx,
    resource: &str,
    id: &str,
    body: &[u8],
    commit: EditDroplets,
    add: bool,
) -> Result<Response, ApiError> {
    let read = |body: &JsonBody| {
        let droplet_ids = required(body, "droplet_ids", droplet_id_list)?;
        let named = format!("droplets {droplet_ids:?}");
        Ok((droplet_ids, named))
    };
    let commit = |cloud: &mut Cloud, now, id, droplet_ids: Vec<u64>| {
        commit(cloud, now, id, &droplet_ids, add)
    };
    edit(ctx, resource, id, body, read, commit, add)
}

/// A firewall's tags: `tags`, required.
pub(crate) fn firewall_tags(
    ctx: &Ctx,
    id: &str,
    body: &[u8],
    add: bool,
) -> Result<Response, ApiError> {
    let read = |body: &JsonBody| {
        let tags = required(body, "tags", str_list)?;
        let named = format!("tags {tags:?}");
        Ok((tags, named))
    };
    let commit =
        |cloud: &mut Cloud, now, id, tags: Vec<String>| cloud.firewall_tags(now, id, &tags, add);
    edit(ctx, "firewall", id, body, read, commit, add)
}
