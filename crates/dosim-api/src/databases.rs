//! Managed database clusters (control plane): clusters, databases, users and connection pools.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};
use axum::Router;
use serde_json::{json, Map, Value};

use dosim_cloud::{
    Cloud, Connection, ConnectionPool, Database, DatabaseCreate, DatabaseFilter, DatabaseId,
    DatabaseUser, MaintenanceWindow, PoolCreate, SimTime,
};

use crate::app::{json_wrapped, no_content, Ctx};
use crate::body::{missing, wrong_type, JsonBody, Params};
use crate::error::ApiError;
use crate::render;

/// A real data plane behind the model's database clusters, as `dosim serve` runs one; the simulation harness sets none.
///
/// The handlers call it under the account's lock, right after the model's commit, so it sees the changes in the model's order.
/// A cluster is known by its `endpoint` once [`DataPlane::cluster_created`] gave it one; a cluster without one is not served.
pub trait DataPlane: Send + Sync {
    /// A cluster was created; returns the host and port where its data plane now listens, or `None` if it is not served (another engine, no port free).
    fn cluster_created(&self, cluster: &Database) -> Option<(String, u16)>;
    /// A cluster was destroyed; its data plane stops.
    fn cluster_deleted(&self, cluster: &Database);
    /// A user was added or got a new password; `cluster` already lists it.
    fn user_changed(&self, cluster: &Database, user: &DatabaseUser);
    /// A user was removed.
    fn user_deleted(&self, cluster: &Database, name: &str);
    /// A database was added.
    fn db_created(&self, cluster: &Database, name: &str);
    /// A database was removed.
    fn db_deleted(&self, cluster: &Database, name: &str);
    /// Every account was forgotten (`POST /_dosim/reset`); every data plane stops.
    fn reset(&self);
    /// A Valkey cluster's eviction policy changed; `cluster` already shows the new one.
    fn eviction_policy_changed(&self, _cluster: &Database) {}
    /// The data a served cluster holds, for `dosim serve --state`; `None` if this plane keeps
    /// none for it.
    fn save_data(&self, _cluster: &Database) -> Option<serde_json::Value> {
        None
    }
    /// Puts a cluster's saved data back, once the cluster is served again after a load.
    fn load_data(&self, _cluster: &Database, _data: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }
    /// A connection pool was created or updated; `cluster` already shows it.
    fn pool_changed(&self, _cluster: &Database, _pool: &ConnectionPool) {}
    /// A connection pool was deleted.
    fn pool_deleted(&self, _cluster: &Database, _name: &str) {}
    /// Where the cluster's pools are served, once [`DataPlane::cluster_created`] served it: a port on the same host, or `None` where no pooler runs (the pools' connections then name the cluster's own port and database).
    fn pool_port(&self, _cluster: &Database) -> Option<u16> {
        None
    }
}

pub fn router() -> Router {
    Router::new()
        .route("/v2/databases", get(list).post(create))
        .route("/v2/databases/{uuid}", get(one).delete(delete))
        .route("/v2/databases/{uuid}/dbs", get(dbs).post(create_db))
        .route("/v2/databases/{uuid}/dbs/{name}", get(db).delete(delete_db))
        .route("/v2/databases/{uuid}/users", get(users).post(create_user))
        .route(
            "/v2/databases/{uuid}/users/{name}",
            get(user).delete(delete_user),
        )
        .route("/v2/databases/{uuid}/pools", get(pools).post(create_pool))
        .route(
            "/v2/databases/{uuid}/eviction_policy",
            get(eviction_policy).put(set_eviction_policy),
        )
        .route(
            "/v2/databases/{uuid}/maintenance",
            put(set_maintenance_window),
        )
        .route(
            "/v2/databases/{uuid}/sql_mode",
            get(sql_mode).put(set_sql_mode),
        )
        .route(
            "/v2/databases/{uuid}/pools/{name}",
            get(pool).put(update_pool).delete(delete_pool),
        )
}

fn connection(connection: &Connection) -> Value {
    json!({
        "uri": connection.uri,
        "database": connection.database,
        "host": connection.host,
        "port": connection.port,
        "user": connection.user,
        "password": connection.password,
        "ssl": connection.ssl,
    })
}

fn user_object(user: &DatabaseUser) -> Value {
    let mut object =
        json!({ "name": user.name, "role": user.role.as_str(), "password": user.password });
    if let Some(plugin) = &user.mysql_auth_plugin {
        object["mysql_settings"] = json!({ "auth_plugin": plugin });
    }
    object
}

fn pool_object(database: &Database, pool: &ConnectionPool) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), json!(pool.name));
    object.insert("mode".into(), json!(pool.mode));
    object.insert("size".into(), json!(pool.size));
    object.insert("db".into(), json!(pool.db));
    if let Some(user) = &pool.user {
        object.insert("user".into(), json!(user));
    }
    object.insert(
        "connection".into(),
        connection(&database.pool_connection(pool)),
    );
    object.insert(
        "private_connection".into(),
        connection(&database.private_pool_connection(pool)),
    );
    Value::Object(object)
}

pub fn render(database: &Database) -> Value {
    json!({
        "id": database.id.to_string(),
        "name": database.name,
        "engine": database.engine,
        "version": database.version,
        "num_nodes": database.num_nodes,
        "size": database.size,
        "region": database.region,
        "status": database.status.as_str(),
        "created_at": render::time(database.created_at),
        "private_network_uuid": database.private_network_uuid.to_string(),
        "project_id": database.project_id.to_string(),
        "tags": database.tags,
        "db_names": database.db_names,
        "connection": connection(&database.connection()),
        "private_connection": connection(&database.private_connection()),
        "users": database.users.iter().map(user_object).collect::<Vec<_>>(),
        "maintenance_window": {
            "day": database.maintenance_window.day,
            "hour": database.maintenance_window.hour,
            "pending": false,
            "description": [],
        },
        "rules": [],
        "storage_size_mib": database.storage_size_mib,
        "metrics_endpoints": metrics_endpoints(database),
    })
}

/// The port of a cluster's metrics (Prometheus) endpoints.
const METRICS_PORT: u16 = 9273;

/// `metrics_endpoints`: the primary node's public host, and with standby nodes a second entry for
/// them at the host with a `replica-` prefix, both on port 9273, as DigitalOcean lists them (godo's
/// fixtures). They are informative: nothing serves them, in simulations or in `dosim serve`.
fn metrics_endpoints(database: &Database) -> Value {
    let mut endpoints = vec![json!({ "host": database.host, "port": METRICS_PORT })];
    if database.num_nodes > 1 {
        endpoints
            .push(json!({ "host": format!("replica-{}", database.host), "port": METRICS_PORT }));
    }
    Value::Array(endpoints)
}

/// A cluster id from a path; anything but a UUID is a 404, as for an unknown id.
fn parse_id(raw: &str) -> Result<DatabaseId, ApiError> {
    DatabaseId::parse(raw).ok_or_else(ApiError::not_found)
}

async fn create(ctx: Ctx, body: Bytes) -> Result<Response, ApiError> {
    let body = JsonBody::parse(&body)?;
    let num_nodes = body.req_u64("num_nodes")?;
    let request = DatabaseCreate {
        name: body.req_str("name")?,
        engine: body.req_str("engine")?,
        version: body.opt_str("version")?,
        num_nodes: u32::try_from(num_nodes)
            .map_err(|_| wrong_type("num_nodes", "a small integer"))?,
        size: body.req_str("size")?,
        region: body.req_str("region")?,
        tags: body.opt_str_list("tags")?.unwrap_or_default(),
        storage_size_mib: body.opt_u64("storage_size_mib")?,
        private_network_uuid: body.opt_str("private_network_uuid")?,
        project_id: body.opt_str("project_id")?,
    };
    let data_plane = ctx.server.data_plane();
    let database = ctx.cloud(|cloud, now| {
        let database = cloud.create_database(now, request)?;
        let Some(plane) = data_plane.as_ref() else {
            return Ok(database);
        };
        match plane.cluster_created(&database) {
            Some((host, port)) => {
                let mut served = database.clone();
                served.endpoint = Some((host.clone(), port));
                let pool_port = plane.pool_port(&served);
                cloud.set_database_endpoint(now, database.id, &host, port, pool_port)
            }
            None => Ok(database),
        }
    })?;
    ctx.summary(format!("database {}", database.id));
    Ok(json_wrapped(
        StatusCode::CREATED,
        "database",
        render(&database),
    ))
}

/// `GET /v2/databases` has no pagination in DigitalOcean's API: every cluster is listed.
async fn list(ctx: Ctx, params: Params) -> Response {
    let filter = DatabaseFilter {
        tag_name: params.get("tag_name").map(str::to_owned),
    };
    let databases = ctx.cloud(|cloud, now| cloud.databases(now, filter));
    let rendered: Vec<Value> = databases.iter().map(render).collect();
    json_wrapped(StatusCode::OK, "databases", rendered)
}

fn fetch(ctx: &Ctx, uuid: &str) -> Result<Database, ApiError> {
    let id = parse_id(uuid)?;
    Ok(ctx.cloud(|cloud, now| cloud.database(now, id))?)
}

async fn one(ctx: Ctx, Path(uuid): Path<String>) -> Result<Response, ApiError> {
    let database = fetch(&ctx, &uuid)?;
    Ok(json_wrapped(StatusCode::OK, "database", render(&database)))
}

async fn delete(ctx: Ctx, Path(uuid): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&uuid)?;
    let data_plane = ctx.server.data_plane();
    ctx.cloud(|cloud, now| {
        let database = cloud.database(now, id)?;
        cloud.delete_database(now, id)?;
        if let Some(plane) = &data_plane {
            plane.cluster_deleted(&database);
        }
        Ok::<_, dosim_cloud::Error>(())
    })?;
    ctx.summary(format!("deleted database {id}"));
    Ok(no_content())
}

async fn dbs(ctx: Ctx, Path(uuid): Path<String>) -> Result<Response, ApiError> {
    let database = fetch(&ctx, &uuid)?;
    let dbs: Vec<Value> = database
        .db_names
        .iter()
        .map(|name| json!({ "name": name }))
        .collect();
    Ok(json_wrapped(StatusCode::OK, "dbs", dbs))
}

async fn create_db(ctx: Ctx, Path(uuid): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let id = parse_id(&uuid)?;
    let name = JsonBody::parse(&body)?.req_str("name")?;
    let name = commit_and_tell(
        &ctx,
        id,
        |cloud, now| cloud.create_database_db(now, id, &name),
        |plane, database, name| plane.db_created(database, name),
    )?;
    ctx.summary(format!("db {name}"));
    Ok(json_wrapped(
        StatusCode::CREATED,
        "db",
        json!({ "name": name }),
    ))
}

async fn db(ctx: Ctx, Path((uuid, name)): Path<(String, String)>) -> Result<Response, ApiError> {
    let database = fetch(&ctx, &uuid)?;
    if !database.db_names.contains(&name) {
        return Err(ApiError::not_found());
    }
    Ok(json_wrapped(StatusCode::OK, "db", json!({ "name": name })))
}

/// Deletes a cluster's db, user or pool (`kind`) with `delete`, then tells the data plane with
/// `notify`, so that a served cluster forgets it too.
fn delete_member(
    ctx: Ctx,
    Path((uuid, name)): Path<(String, String)>,
    kind: &str,
    delete: fn(&mut Cloud, SimTime, DatabaseId, &str) -> Result<(), dosim_cloud::Error>,
    notify: fn(&(dyn DataPlane + 'static), &Database, &str),
) -> Result<Response, ApiError> {
    let id = parse_id(&uuid)?;
    commit_and_tell(
        &ctx,
        id,
        |cloud, now| delete(cloud, now, id, &name),
        |plane, database, ()| notify(plane, database, &name),
    )?;
    ctx.summary(format!("deleted {kind} {name}"));
    Ok(no_content())
}

/// Commits a change to cluster `id` with `commit`; when serve runs data planes, then shows them
/// the cluster as it now stands with `tell`, in the same lock, so that a served cluster has
/// changed before the API answers.
fn commit_and_tell<T>(
    ctx: &Ctx,
    id: DatabaseId,
    commit: impl FnOnce(&mut Cloud, SimTime) -> Result<T, dosim_cloud::Error>,
    tell: impl FnOnce(&(dyn DataPlane + 'static), &Database, &T),
) -> Result<T, ApiError> {
    let data_plane = ctx.server.data_plane();
    let done = ctx.cloud(|cloud, now| {
        let done = commit(cloud, now)?;
        if let Some(plane) = &data_plane {
            tell(plane.as_ref(), &cloud.database(now, id)?, &done);
        }
        Ok::<_, dosim_cloud::Error>(done)
    })?;
    Ok(done)
}

async fn delete_db(ctx: Ctx, path: Path<(String, String)>) -> Result<Response, ApiError> {
    delete_member(
        ctx,
        path,
        "db",
        Cloud::delete_database_db,
        <dyn DataPlane>::db_deleted,
    )
}

async fn eviction_policy(ctx: Ctx, Path(uuid): Path<String>) -> Result<Response, ApiError> {
    setting(
        &ctx,
        &uuid,
        "eviction_policy",
        Cloud::database_eviction_policy,
    )
}

async fn set_eviction_policy(
    ctx: Ctx,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let data_plane = ctx.server.data_plane();
    let commit = |cloud: &mut Cloud, now, id, policy: &str| {
        let database = cloud.set_database_eviction_policy(now, id, policy)?;
        if let Some(plane) = &data_plane {
            plane.eviction_policy_changed(&database);
        }
        Ok(())
    };
    set_setting(
        &ctx,
        &uuid,
        &body,
        "eviction_policy",
        "eviction policy",
        commit,
    )
}

async fn sql_mode(ctx: Ctx, Path(uuid): Path<String>) -> Result<Response, ApiError> {
    setting(&ctx, &uuid, "sql_mode", Cloud::database_sql_mode)
}

/// `PUT /v2/databases/{uuid}/sql_mode`: 204, and `GET` answers the mode as given.
async fn set_sql_mode(
    ctx: Ctx,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let commit = |cloud: &mut Cloud, now, id, sql_mode: &str| {
        cloud.set_database_sql_mode(now, id, sql_mode).map(drop)
    };
    set_setting(&ctx, &uuid, &body, "sql_mode", "sql mode", commit)
}

/// `GET` of one of a cluster's settings, as `{"<key>": value}`.
fn setting(
    ctx: &Ctx,
    uuid: &str,
    key: &str,
    read: fn(&mut Cloud, SimTime, DatabaseId) -> Result<String, dosim_cloud::Error>,
) -> Result<Response, ApiError> {
    let id = parse_id(uuid)?;
    let value = ctx.cloud(|cloud, now| read(cloud, now, id))?;
    Ok(json_wrapped(StatusCode::OK, key, value))
}

/// `PUT` of one of a cluster's settings from the body's `key` (204); the summary is `{label} {value}`.
fn set_setting(
    ctx: &Ctx,
    uuid: &str,
    body: &[u8],
    key: &str,
    label: &str,
    commit: impl FnOnce(&mut Cloud, SimTime, DatabaseId, &str) -> Result<(), dosim_cloud::Error>,
) -> Result<Response, ApiError> {
    let id = parse_id(uuid)?;
    let value = JsonBody::parse(body)?.req_str(key)?;
    ctx.cloud(|cloud, now| commit(cloud, now, id, &value))?;
    ctx.summary(format!("{label} {value}"));
    Ok(no_content())
}

/// `PUT /v2/databases/{uuid}/maintenance`: 204, and the cluster shows the window from now on.
async fn set_maintenance_window(
    ctx: Ctx,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&uuid)?;
    let body = JsonBody::parse(&body)?;
    let window = MaintenanceWindow::parse(&body.req_str("day")?, &body.req_str("hour")?)?;
    let summary = format!("maintenance window {} {}", window.day, window.hour);
    ctx.cloud(|cloud, now| cloud.set_database_maintenance_window(now, id, window))?;
    ctx.summary(summary);
    Ok(no_content())
}

async fn users(ctx: Ctx, Path(uuid): Path<String>) -> Result<Response, ApiError> {
    let database = fetch(&ctx, &uuid)?;
    let users: Vec<Value> = database.users.iter().map(user_object).collect();
    Ok(json_wrapped(StatusCode::OK, "users", users))
}

async fn create_user(
    ctx: Ctx,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&uuid)?;
    let body = JsonBody::parse(&body)?;
    let name = body.req_str("name")?;
    // `mysql_settings: {"auth_plugin": …}`; null, an empty object or an empty plugin is none.
    let auth_plugin = match body.get("mysql_settings") {
        None | Some(Value::Null) => None,
        Some(Value::Object(settings)) => match settings.get("auth_plugin") {
            None | Some(Value::Null) => None,
            Some(Value::String(plugin)) if plugin.is_empty() => None,
            Some(Value::String(plugin)) => Some(plugin.clone()),
            Some(_) => return Err(wrong_type("mysql_settings.auth_plugin", "a string")),
        },
        Some(_) => return Err(wrong_type("mysql_settings", "an object")),
    };
    let user = commit_and_tell(
        &ctx,
        id,
        |cloud, now| cloud.create_database_user_with_auth(now, id, &name, auth_plugin.as_deref()),
        |plane, database, user| plane.user_changed(database, user),
    )?;
    ctx.summary(format!("user {}", user.name));
    Ok(json_wrapped(
        StatusCode::CREATED,
        "user",
        user_object(&user),
    ))
}

async fn user(ctx: Ctx, Path((uuid, name)): Path<(String, String)>) -> Result<Response, ApiError> {
    let id = parse_id(&uuid)?;
    let user = ctx.cloud(|cloud, now| cloud.database_user(now, id, &name))?;
    Ok(json_wrapped(StatusCode::OK, "user", user_object(&user)))
}

async fn delete_user(ctx: Ctx, path: Path<(String, String)>) -> Result<Response, ApiError> {
    delete_member(
        ctx,
        path,
        "user",
        Cloud::delete_database_user,
        <dyn DataPlane>::user_deleted,
    )
}

async fn pools(ctx: Ctx, Path(uuid): Path<String>) -> Result<Response, ApiError> {
    let database = fetch(&ctx, &uuid)?;
    let pools: Vec<Value> = database
        .pools
        .iter()
        .map(|pool| pool_object(&database, pool))
        .collect();
    Ok(json_wrapped(StatusCode::OK, "pools", pools))
}

fn parse_pool(body: &JsonBody, name: String) -> Result<PoolCreate, ApiError> {
    let size = match body.get("size") {
        None => return Err(missing("size")),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| wrong_type("size", "an integer"))?,
        Some(_) => return Err(wrong_type("size", "an integer")),
    };
    Ok(PoolCreate {
        name,
        mode: body.req_str("mode")?,
        size,
        db: body.req_str("db")?,
        user: body.opt_str("user")?,
    })
}

async fn create_pool(
    ctx: Ctx,
    Path(uuid): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&uuid)?;
    let body = JsonBody::parse(&body)?;
    let request = parse_pool(&body, body.req_str("name")?)?;
    let (database, pool) = commit_and_tell(
        &ctx,
        id,
        |cloud, now| {
            let pool = cloud.create_database_pool(now, id, request)?;
            Ok((cloud.database(now, id)?, pool))
        },
        |plane, database, (_, pool)| plane.pool_changed(database, pool),
    )?;
    ctx.summary(format!("pool {}", pool.name));
    Ok(json_wrapped(
        StatusCode::CREATED,
        "pool",
        pool_object(&database, &pool),
    ))
}

async fn pool(ctx: Ctx, Path((uuid, name)): Path<(String, String)>) -> Result<Response, ApiError> {
    let database = fetch(&ctx, &uuid)?;
    let pool = database
        .pools
        .iter()
        .find(|pool| pool.name == name)
        .ok_or_else(ApiError::not_found)?;
    Ok(json_wrapped(
        StatusCode::OK,
        "pool",
        pool_object(&database, pool),
    ))
}

/// Replaces a pool's mode, size, db and user in place; the name and its place in the list stay,
/// and a refused update changes nothing.
async fn update_pool(
    ctx: Ctx,
    Path((uuid, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&uuid)?;
    let body = JsonBody::parse(&body)?;
    let request = parse_pool(&body, name.clone())?;
    commit_and_tell(
        &ctx,
        id,
        |cloud, now| cloud.update_database_pool(now, id, &name, request),
        |plane, database, pool| plane.pool_changed(database, pool),
    )?;
    ctx.summary(format!("updated pool {name}"));
    Ok(no_content())
}

async fn delete_pool(ctx: Ctx, path: Path<(String, String)>) -> Result<Response, ApiError> {
    delete_member(
        ctx,
        path,
        "pool",
        Cloud::delete_database_pool,
        <dyn DataPlane>::pool_deleted,
    )
}
