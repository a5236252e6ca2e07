//! Managed databases: clusters, their databases, users and connection pools.

use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::{with_query, Client};
use crate::collection::Collection;
use crate::common::null_default;
use crate::error::Error;
use crate::time::Timestamp;

/// A database cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DatabaseCluster {
    /// The cluster's id (a UUID).
    pub id: String,
    /// Its name, unique on the account.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `pg`, `mysql`, `valkey`, `mongodb`, `kafka`, `opensearch`, ….
    #[serde(default, deserialize_with = "null_default")]
    pub engine: String,
    /// The engine's major version.
    #[serde(default)]
    pub version: Option<String>,
    /// The engine's full version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_version: Option<String>,
    /// Nodes in the cluster.
    #[serde(default)]
    pub num_nodes: u32,
    /// The size slug (`db-s-2vcpu-4gb`).
    #[serde(default, deserialize_with = "null_default")]
    pub size: String,
    /// The region slug.
    #[serde(default, deserialize_with = "null_default")]
    pub region: String,
    /// `creating`, `online`, `resizing`, `migrating` or `forking`.
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    /// When it was created .
    #[serde(default, deserialize_with = "null_default")]
    pub created_at: Timestamp,
    /// The VPC.
    #[serde(default)]
    pub private_network_uuid: Option<String>,
    /// Tags.
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
    /// The databases in the cluster.
    #[serde(default, deserialize_with = "null_default")]
    pub db_names: Vec<String>,
    /// How to connect over the public network.
    #[serde(default)]
    pub connection: Option<DatabaseConnection>,
    /// How to connect over the VPC.
    #[serde(default)]
    pub private_connection: Option<DatabaseConnection>,
    /// How to connect to the standby nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_connection: Option<DatabaseConnection>,
    /// How to connect to the standby nodes over the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_private_connection: Option<DatabaseConnection>,
    /// The users.
    #[serde(default, deserialize_with = "null_default")]
    pub users: Vec<DatabaseUser>,
    /// The maintenance window.
    #[serde(default)]
    pub maintenance_window: Option<MaintenanceWindow>,
    /// The project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Trusted sources.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub rules: Vec<FirewallRule>,
    /// When the engine version reaches end of life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_end_of_life: Option<String>,
    /// When the engine version stops being offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_end_of_availability: Option<String>,
    /// Storage in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_size_mib: Option<u64>,
}

/// How to connect to a cluster or pool.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseConnection {
    /// A connection URI (`postgres://doadmin:…@host:25060/defaultdb?sslmode=require`).
    #[serde(default, deserialize_with = "null_default")]
    pub uri: String,
    /// The database name.
    #[serde(default, deserialize_with = "null_default")]
    pub database: String,
    /// The host.
    #[serde(default, deserialize_with = "null_default")]
    pub host: String,
    /// The port.
    #[serde(default)]
    pub port: u16,
    /// The user.
    #[serde(default, deserialize_with = "null_default")]
    pub user: String,
    /// The password.
    #[serde(default, deserialize_with = "null_default")]
    pub password: String,
    /// Whether TLS is required.
    #[serde(default)]
    pub ssl: bool,
}

/// A database user.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DatabaseUser {
    /// The user name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `primary` or `normal`.
    #[serde(default)]
    pub role: Option<String>,
    /// The password.
    #[serde(default)]
    pub password: Option<String>,
    /// The client certificate (Kafka).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_cert: Option<String>,
    /// The client key (Kafka).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    /// MySQL settings (`auth_plugin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql_settings: Option<MysqlSettings>,
    /// Engine-specific settings (`pg_allow_replication`, Kafka `acl`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Value>,
}

/// MySQL user settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MysqlSettings {
    /// `mysql_native_password` or `caching_sha2_password`.
    #[serde(default, deserialize_with = "null_default")]
    pub auth_plugin: String,
}

/// A maintenance window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    /// The day (`tuesday`).
    #[serde(default, deserialize_with = "null_default")]
    pub day: String,
    /// The hour (`14:00`).
    #[serde(default, deserialize_with = "null_default")]
    pub hour: String,
    /// Whether maintenance is pending.
    #[serde(default)]
    pub pending: bool,
    /// What the maintenance is.
    #[serde(default, deserialize_with = "null_default")]
    pub description: Vec<String>,
}

/// A trusted source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRule {
    /// The rule's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// The cluster's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_uuid: Option<String>,
    /// `droplet`, `k8s`, `ip_addr`, `tag` or `app`.
    #[serde(default, rename = "type", deserialize_with = "null_default")]
    pub r#type: String,
    /// The droplet id, address, tag, ….
    #[serde(default, deserialize_with = "null_default")]
    pub value: String,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
}

/// A database in a cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Db {
    /// Its name.
    pub name: String,
}

/// A PgBouncer connection pool.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionPool {
    /// The pool's name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `session`, `transaction` or `statement`.
    #[serde(default, deserialize_with = "null_default")]
    pub mode: String,
    /// Backend connections.
    #[serde(default)]
    pub size: u32,
    /// The database.
    #[serde(default, deserialize_with = "null_default")]
    pub db: String,
    /// The user; absent means the connecting user.
    #[serde(default)]
    pub user: Option<String>,
    /// How to connect.
    #[serde(default)]
    pub connection: Option<DatabaseConnection>,
    /// How to connect over the VPC.
    #[serde(default)]
    pub private_connection: Option<DatabaseConnection>,
    /// How to connect to the standby.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_connection: Option<DatabaseConnection>,
    /// How to connect to the standby over the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_private_connection: Option<DatabaseConnection>,
}

/// `POST /v2/databases`. Fields left unset are not sent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DatabaseCreate {
    /// A unique name.
    pub name: String,
    /// The engine (`pg`, `mysql`, …).
    pub engine: String,
    /// The engine's major version; unset means the latest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The region slug.
    pub region: String,
    /// The size slug.
    pub size: String,
    /// Nodes, 1 to 3.
    pub num_nodes: u32,
    /// Storage in MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_size_mib: Option<u64>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_network_uuid: Option<String>,
    /// The project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Trusted sources.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<FirewallRule>,
}

impl DatabaseCreate {
    /// A cluster `name` of `engine` in `region` with `num_nodes` nodes of `size`.
    pub fn new(
        name: impl Into<String>,
        engine: impl Into<String>,
        region: impl Into<String>,
        size: impl Into<String>,
        num_nodes: u32,
    ) -> Self {
        DatabaseCreate {
            name: name.into(),
            engine: engine.into(),
            version: None,
            region: region.into(),
            size: size.into(),
            num_nodes,
            storage_size_mib: None,
            tags: Vec::new(),
            private_network_uuid: None,
            project_id: None,
            rules: Vec::new(),
        }
    }

    /// The engine version.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Tags.
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Storage in MiB.
    pub fn storage_size_mib(mut self, storage_size_mib: u64) -> Self {
        self.storage_size_mib = Some(storage_size_mib);
        self
    }
}

/// `POST /v2/databases/{uuid}/users`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DatabaseUserCreate {
    /// The user name.
    pub name: String,
    /// MySQL settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mysql_settings: Option<MysqlSettings>,
    /// MongoDB only: a read-only user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readonly: Option<bool>,
    /// Engine-specific settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Value>,
}

impl DatabaseUserCreate {
    /// A user called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        DatabaseUserCreate {
            name: name.into(),
            ..DatabaseUserCreate::default()
        }
    }
}

/// `POST /v2/databases/{uuid}/pools`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectionPoolCreate {
    /// The pool's name, 3 to 60 characters.
    pub name: String,
    /// `session`, `transaction` or `statement`.
    pub mode: String,
    /// Backend connections.
    pub size: u32,
    /// The database.
    pub db: String,
    /// The user; unset means the connecting user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl ConnectionPoolCreate {
    /// A pool `name` on `db` in `mode` with `size` connections.
    pub fn new(
        name: impl Into<String>,
        mode: impl Into<String>,
        size: u32,
        db: impl Into<String>,
    ) -> Self {
        ConnectionPoolCreate {
            name: name.into(),
            mode: mode.into(),
            size,
            db: db.into(),
            user: None,
        }
    }

    /// The user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }
}

/// `PUT /v2/databases/{uuid}/pools/{pool_name}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectionPoolUpdate {
    /// `session`, `transaction` or `statement`.
    pub mode: String,
    /// Backend connections.
    pub size: u32,
    /// The database.
    pub db: String,
    /// The user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

#[derive(Serialize)]
struct DbCreate<'b> {
    name: &'b str,
}

/// `client.databases()`.
pub struct DatabasesService<'a> {
    pub(crate) client: &'a Client,
}

/// `GET /v2/databases`; not paginated.
#[must_use = "a list does nothing until `.send()`"]
pub struct DatabaseList<'a> {
    client: &'a Client,
    tag: Option<String>,
}

impl DatabaseList<'_> {
    /// Only clusters with this tag.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = Some(tag.to_owned());
        self
    }

    /// Every matching cluster (DigitalOcean does not page this list).
    pub async fn send(self) -> Result<Vec<DatabaseCluster>, Error> {
        let query: Vec<(&str, String)> =
            self.tag.into_iter().map(|tag| ("tag_name", tag)).collect();
        let clusters: Option<Vec<DatabaseCluster>> = self
            .client
            .get(&with_query("/v2/databases", &query), "databases")
            .await?;
        Ok(clusters.unwrap_or_default())
    }
}

impl<'a> DatabasesService<'a> {
    fn clusters(&self) -> Collection<'a> {
        Collection::new(self.client, "/v2/databases", "database", "databases")
    }

    /// `POST /v2/databases` (201): the cluster starts `creating`.
    pub async fn create(&self, request: &DatabaseCreate) -> Result<DatabaseCluster, Error> {
        self.clusters().create(request).await
    }

    /// `GET /v2/databases`, filtered with `.tag(..)`.
    pub fn list(&self) -> DatabaseList<'a> {
        DatabaseList {
            client: self.client,
            tag: None,
        }
    }

    /// `GET /v2/databases/{uuid}`.
    pub async fn get(&self, uuid: &str) -> Result<DatabaseCluster, Error> {
        self.clusters().get(uuid).await
    }

    /// `DELETE /v2/databases/{uuid}`.
    pub async fn delete(&self, uuid: &str) -> Result<(), Error> {
        self.clusters().delete(uuid).await
    }

    /// The cluster's public connection details.
    pub async fn connection(&self, uuid: &str) -> Result<DatabaseConnection, Error> {
        let cluster = self.get(uuid).await?;
        cluster.connection.ok_or_else(|| {
            Error::InvalidArgument(format!("database cluster {uuid} has no connection yet"))
        })
    }

    /// A cluster's `dbs`, `users` or `pools`, whose objects are named `db`, `user`, `pool`.
    fn children(&self, uuid: &str, list: &'static str, one: &'static str) -> Collection<'a> {
        let path = format!("{}/{list}", self.clusters().item(uuid));
        Collection::new(self.client, path, one, list)
    }

    fn dbs(&self, uuid: &str) -> Collection<'a> {
        self.children(uuid, "dbs", "db")
    }

    fn users(&self, uuid: &str) -> Collection<'a> {
        self.children(uuid, "users", "user")
    }

    fn pools(&self, uuid: &str) -> Collection<'a> {
        self.children(uuid, "pools", "pool")
    }

    /// `GET /v2/databases/{uuid}/dbs`.
    pub async fn list_dbs(&self, uuid: &str) -> Result<Vec<Db>, Error> {
        self.dbs(uuid).list_unpaged().await
    }

    /// `POST /v2/databases/{uuid}/dbs` (201).
    pub async fn create_db(&self, uuid: &str, name: &str) -> Result<Db, Error> {
        self.dbs(uuid).create(&DbCreate { name }).await
    }

    /// `GET /v2/databases/{uuid}/dbs/{name}`.
    pub async fn get_db(&self, uuid: &str, name: &str) -> Result<Db, Error> {
        self.dbs(uuid).get(name).await
    }

    /// `DELETE /v2/databases/{uuid}/dbs/{name}`.
    pub async fn delete_db(&self, uuid: &str, name: &str) -> Result<(), Error> {
        self.dbs(uuid).delete(name).await
    }

    /// `GET /v2/databases/{uuid}/users`.
    pub async fn list_users(&self, uuid: &str) -> Result<Vec<DatabaseUser>, Error> {
        self.users(uuid).list_unpaged().await
    }

    /// `POST /v2/databases/{uuid}/users` (201); the response carries the password.
    pub async fn create_user(
        &self,
        uuid: &str,
        request: &DatabaseUserCreate,
    ) -> Result<DatabaseUser, Error> {
        self.users(uuid).create(request).await
    }

    /// `GET /v2/databases/{uuid}/users/{name}`.
    pub async fn get_user(&self, uuid: &str, name: &str) -> Result<DatabaseUser, Error> {
        self.users(uuid).get(name).await
    }

    /// `DELETE /v2/databases/{uuid}/users/{name}`.
    pub async fn delete_user(&self, uuid: &str, name: &str) -> Result<(), Error> {
        self.users(uuid).delete(name).await
    }

    /// `GET /v2/databases/{uuid}/pools`.
    pub async fn list_pools(&self, uuid: &str) -> Result<Vec<ConnectionPool>, Error> {
        self.pools(uuid).list_unpaged().await
    }

    /// `POST /v2/databases/{uuid}/pools` (201).
    pub async fn create_pool(
        &self,
        uuid: &str,
        request: &ConnectionPoolCreate,
    ) -> Result<ConnectionPool, Error> {
        self.pools(uuid).create(request).await
    }

    /// `GET /v2/databases/{uuid}/pools/{name}`.
    pub async fn get_pool(&self, uuid: &str, name: &str) -> Result<ConnectionPool, Error> {
        self.pools(uuid).get(name).await
    }

    /// `PUT /v2/databases/{uuid}/pools/{name}` (204).
    pub async fn update_pool(
        &self,
        uuid: &str,
        name: &str,
        request: &ConnectionPoolUpdate,
    ) -> Result<(), Error> {
        let pools = self.pools(uuid);
        pools
            .client
            .send_empty(Method::PUT, &pools.item(name), request)
            .await
    }

    /// `DELETE /v2/databases/{uuid}/pools/{name}`.
    pub async fn delete_pool(&self, uuid: &str, name: &str) -> Result<(), Error> {
        self.pools(uuid).delete(name).await
    }
}
