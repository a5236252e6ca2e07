//! Managed database clusters, control plane only: clusters, users, databases, connection pools and connection details.

use crate::actions::Pending;
use crate::error::msg;
use crate::tags::TaggedKind;
use crate::validate::{check_database_name, check_db_object_name, check_tags, parse_uuid};
use crate::{catalog, Cloud, DatabaseId, Error, SimTime};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A cluster's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseStatus {
    /// Being provisioned.
    Creating,
    /// Ready for traffic.
    Online,
}

impl DatabaseStatus {
    /// The wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            DatabaseStatus::Creating => "creating",
            DatabaseStatus::Online => "online",
        }
    }
}

/// A database user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseUserRole {
    /// The administrative user created with the cluster.
    Primary,
    /// Any user created later.
    Normal,
}

impl DatabaseUserRole {
    /// The wire string.
    pub const fn as_str(self) -> &'static str {
        match self {
            DatabaseUserRole::Primary => "primary",
            DatabaseUserRole::Normal => "normal",
        }
    }
}

/// A database user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseUser {
    /// The name.
    pub name: String,
    /// The role.
    pub role: DatabaseUserRole,
    /// The password.
    pub password: String,
    /// MySQL only: how the user authenticates, one of [`MYSQL_AUTH_PLUGINS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql_auth_plugin: Option<String>,
}

/// A PostgreSQL connection pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionPool {
    /// The name, 3 to 60 characters.
    pub name: String,
    /// `session`, `transaction` or `statement`.
    pub mode: String,
    /// How many backend connections it holds.
    pub size: u32,
    /// The database it connects to.
    pub db: String,
    /// The user it connects as; `None` means the connecting client's user.
    pub user: Option<String>,
}

/// Connection details as the wire's `connection` object shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// A full connection string.
    pub uri: String,
    /// The database name.
    pub database: String,
    /// The host.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The user.
    pub user: String,
    /// The password.
    pub password: String,
    /// Always true.
    pub ssl: bool,
}

/// A managed database cluster.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Database {
    /// The id.
    pub id: DatabaseId,
    /// The name, unique on the account.
    pub name: String,
    /// The engine slug, e.g. `pg`.
    pub engine: String,
    /// The engine version.
    pub version: String,
    /// How many nodes.
    pub num_nodes: u32,
    /// The node size slug.
    pub size: String,
    /// The region slug.
    pub region: String,
    /// `creating` until `online_at`, then `online`.
    pub status: DatabaseStatus,
    /// When it was created.
    pub created_at: SimTime,
    /// When it comes (or came) online.
    pub online_at: SimTime,
    /// Tags.
    pub tags: Vec<String>,
    /// Storage in MiB.
    pub storage_size_mib: u64,
    /// The VPC.
    pub private_network_uuid: Uuid,
    /// The project.
    pub project_id: Uuid,
    /// The databases, in creation order.
    pub db_names: Vec<String>,
    /// The users, in creation order; the first is the primary user.
    pub users: Vec<DatabaseUser>,
    /// Connection pools (PostgreSQL only), in creation order.
    pub pools: Vec<ConnectionPool>,
    /// The public host, e.g. `name-do-user-12345678-0.db.ondigitalocean.com`.
    pub host: String,
    /// The primary port.
    pub port: u16,
    /// The eviction policy (Valkey only), as DigitalOcean's API spells it: `noeviction`, `allkeys_lru`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eviction_policy: Option<String>,
    /// MySQL only: the SQL mode set with `PUT …/sql_mode`; `None` until then, which reads as [`DEFAULT_SQL_MODE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_mode: Option<String>,
    /// When automatic maintenance may run; saved states from before it was modelled get the default.
    #[serde(default)]
    pub maintenance_window: MaintenanceWindow,
    /// Where a real data plane serves this cluster (`dosim serve`), as host and port; the connection objects then show it instead of `host` and `port`, so their URIs reach it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<(String, u16)>,
    /// Where the served cluster's connection pools answer (`dosim serve`: PgBouncer on a port of its own, on the endpoint's host); the pools' connection objects then show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_port: Option<u16>,
}

/// A database cluster create request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatabaseCreate {
    /// The name.
    pub name: String,
    /// The engine slug.
    pub engine: String,
    /// The version; `None` means the engine's default.
    pub version: Option<String>,
    /// How many nodes, 1 to 3.
    pub num_nodes: u32,
    /// The node size slug.
    pub size: String,
    /// The region slug.
    pub region: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Storage in MiB; `None` means the size's default.
    pub storage_size_mib: Option<u64>,
    /// The VPC; `None` means the region's default VPC.
    pub private_network_uuid: Option<String>,
    /// The project; `None` means the account's default project.
    pub project_id: Option<String>,
}

/// Filters for listing database clusters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatabaseFilter {
    /// Only clusters with this tag.
    pub tag_name: Option<String>,
}

/// A connection pool create request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolCreate {
    /// The name, 3 to 60 characters.
    pub name: String,
    /// `session`, `transaction` or `statement`.
    pub mode: String,
    /// How many backend connections; signed so that a negative value gets a clear error.
    pub size: i64,
    /// The database.
    pub db: String,
    /// The user; `None` means the connecting client's user.
    pub user: Option<String>,
}

/// The port of PgBouncer connection pools.
pub const POOL_PORT: u16 = 25061;

impl Database {
    /// The engine's catalogue entry.
    pub fn engine_info(&self) -> &'static catalog::DatabaseEngine {
        catalog::database_engine(&self.engine).expect("database engines come from the catalogue")
    }

    /// The private host, reachable from the cluster's VPC.
    pub fn private_host(&self) -> String {
        format!("private-{}", self.host)
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Option<&DatabaseUser> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The primary user.
    pub fn primary_user(&self) -> &DatabaseUser {
        self.users
            .first()
            .expect("a cluster always has its primary user")
    }

    /// The host and port clients connect to: the served endpoint if there is one, else the public host and port.
    fn public_endpoint(&self) -> (String, u16) {
        match &self.endpoint {
            Some((host, port)) => (host.clone(), *port),
            None => (self.host.clone(), self.port),
        }
    }

    /// The wire's `connection`: the primary user on the public host.
    pub fn connection(&self) -> Connection {
        let (host, port) = self.public_endpoint();
        self.connection_for(
            &host,
            port,
            self.primary_user(),
            self.engine_info().default_db.unwrap_or(""),
        )
    }

    /// The wire's `private_connection`: the primary user on the private host, or on the served endpoint, since a local client cannot reach a VPC.
    pub fn private_connection(&self) -> Connection {
        let (host, port) = match &self.endpoint {
            Some((host, port)) => (host.clone(), *port),
            None => (self.private_host(), self.port),
        };
        self.connection_for(
            &host,
            port,
            self.primary_user(),
            self.engine_info().default_db.unwrap_or(""),
        )
    }

    /// A pool's `connection`, on port 25061 with the pool's name as the database.
    ///
    /// On a served endpoint it is the pool port the data plane serves, or, where no pooler runs, the endpoint with the pool's database, which a client can reach.
    pub fn pool_connection(&self, pool: &ConnectionPool) -> Connection {
        self.pool_connection_at(pool, &self.host)
    }

    /// A pool's `private_connection`.
    pub fn private_pool_connection(&self, pool: &ConnectionPool) -> Connection {
        self.pool_connection_at(pool, &self.private_host())
    }

    fn pool_connection_at(&self, pool: &ConnectionPool, unserved_host: &str) -> Connection {
        let user = pool
            .user
            .as_deref()
            .and_then(|u| self.user(u))
            .unwrap_or(self.primary_user());
        match (&self.endpoint, self.pool_port) {
            (Some((host, _)), Some(pool_port)) => {
                self.connection_for(host, pool_port, user, &pool.name)
            }
            (Some((host, port)), None) => self.connection_for(host, *port, user, &pool.db),
            (None, _) => self.connection_for(unserved_host, POOL_PORT, user, &pool.name),
        }
    }

    fn connection_for(
        &self,
        host: &str,
        port: u16,
        user: &DatabaseUser,
        database: &str,
    ) -> Connection {
        let engine = self.engine_info();
        let uri = match engine.slug {
            "pg" => format!(
                "postgres://{}:{}@{host}:{port}/{database}?sslmode=require",
                user.name, user.password
            ),
            "mysql" => format!(
                "mysql://{}:{}@{host}:{port}/{database}?ssl-mode=REQUIRED",
                user.name, user.password
            ),
            "mongodb" => format!(
                "mongodb+srv://{}:{}@{host}/{database}?tls=true&authSource=admin",
                user.name, user.password
            ),
            _ => format!(
                "{}://{}:{}@{host}:{port}",
                engine.scheme, user.name, user.password
            ),
        };
        Connection {
            uri,
            database: database.to_string(),
            host: host.to_string(),
            port,
            user: user.name.clone(),
            password: user.password.clone(),
            ssl: true,
        }
    }
}

/// When a cluster's automatic maintenance may run: a weekday and a time of day in UTC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    /// The weekday in lowercase, `monday` to `sunday`.
    pub day: String,
    /// The time as `HH:MM:SS`, which is how DigitalOcean answers even when given `HH:MM`.
    pub hour: String,
}

/// Chosen: the window a new cluster has. DigitalOcean assigns one of its own; this is the one dosim always rendered.
impl Default for MaintenanceWindow {
    fn default() -> MaintenanceWindow {
        MaintenanceWindow {
            day: "tuesday".to_string(),
            hour: "08:00:00".to_string(),
        }
    }
}

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl MaintenanceWindow {
    /// A window from a request's `day` and `hour` (`14:00` or `14:00:00`); the day in any case.
    pub fn parse(day: &str, hour: &str) -> Result<MaintenanceWindow, Error> {
        let day_lower = day.to_ascii_lowercase();
        if !WEEKDAYS.contains(&day_lower.as_str()) {
            return Err(Error::unprocessable(format!(
                "day: {day:?} is not a day of the week"
            )));
        }
        let fields: Vec<&str> = hour.split(':').collect();
        let number = |text: &str, max: u8| -> Option<u8> {
            if text.is_empty() || text.len() > 2 || !text.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            text.parse::<u8>().ok().filter(|&n| n <= max)
        };
        let parsed = match fields.as_slice() {
            [h, m] => number(h, 23).zip(number(m, 59)).map(|(h, m)| (h, m, 0)),
            [h, m, s] => number(h, 23)
                .zip(number(m, 59))
                .zip(number(s, 59))
                .map(|((h, m), s)| (h, m, s)),
            _ => None,
        };
        let Some((h, m, s)) = parsed else {
            return Err(Error::unprocessable(format!(
                "hour: {hour:?} is not a time of day as HH:MM"
            )));
        };
        Ok(MaintenanceWindow {
            day: day_lower,
            hour: format!("{h:02}:{m:02}:{s:02}"),
        })
    }
}

/// The authentication plugins a MySQL user may have (`models/mysql_settings.yml`).
pub const MYSQL_AUTH_PLUGINS: [&str; 2] = ["mysql_native_password", "caching_sha2_password"];

/// A MySQL user's plugin when the create names none: MySQL 8's default, as the spec says.
pub const DEFAULT_MYSQL_AUTH_PLUGIN: &str = "caching_sha2_password";

/// Chosen: a MySQL cluster's SQL mode until one is set, the spec's example of a configured mode.
pub const DEFAULT_SQL_MODE: &str =
    "ANSI,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,NO_ZERO_DATE,NO_ZERO_IN_DATE,STRICT_ALL_TABLES";

/// DigitalOcean's eviction policies for Valkey (`models/eviction_policy_model.yml`).
pub const EVICTION_POLICIES: [&str; 6] = [
    "noeviction",
    "allkeys_lru",
    "allkeys_random",
    "volatile_lru",
    "volatile_random",
    "volatile_ttl",
];

/// Chosen: the policy a new Valkey cluster has; the spec does not say, and Valkey's own default is `noeviction`.
pub const DEFAULT_EVICTION_POLICY: &str = "noeviction";

/// The most database clusters one account may hold in dosim.
pub const DATABASES_MAX: usize = 50;
/// The most users, databases or pools one cluster may hold in dosim.
pub const DATABASE_OBJECTS_MAX: usize = 100;

impl Cloud {
    /// Creates a database cluster, `creating` until `database_provision_ms` have passed.
    pub fn create_database(
        &mut self,
        now: SimTime,
        req: DatabaseCreate,
    ) -> Result<Database, Error> {
        self.enter(now, |cloud| {
            check_database_name(&req.name)?;
            let engine = catalog::database_engine(&req.engine).ok_or_else(|| {
                if req.engine == "redis" {
                    Error::unprocessable(msg::DATABASE_REDIS)
                } else {
                    Error::unprocessable(format!(
                        "engine: {:?} is not a supported engine",
                        req.engine
                    ))
                }
            })?;
            let version = match req.version.as_deref() {
                None | Some("") => engine.default_version,
                Some(v) => engine
                    .versions
                    .iter()
                    .copied()
                    .find(|known| *known == v)
                    .ok_or_else(|| {
                        Error::unprocessable(format!(
                            "version: {v:?} is not a supported version of {}",
                            engine.slug
                        ))
                    })?,
            };
            if !(1..=3).contains(&req.num_nodes) {
                return Err(Error::unprocessable("num_nodes: must be between 1 and 3"));
            }
            let size = catalog::database_size(&req.size).ok_or_else(|| {
                Error::unprocessable(format!("size: {:?} is not a valid database size", req.size))
            })?;
            let region = catalog::region(&req.region)
                .filter(|r| r.available)
                .ok_or_else(|| {
                    Error::unprocessable(format!("region: {:?} is not a valid region", req.region))
                })?;
            if engine.slug == "valkey" && req.num_nodes > 1 && size.memory < 2048 {
                return Err(Error::unprocessable(format!(
                    "num_nodes: {} requires size db-s-1vcpu-2gb or larger for valkey",
                    req.num_nodes
                )));
            }
            check_tags(&req.tags)?;
            let storage_size_mib = req.storage_size_mib.unwrap_or(size.storage_size_mib);
            if storage_size_mib < size.storage_size_mib {
                return Err(Error::unprocessable(format!(
                    "storage_size_mib: must be at least {} for size {}",
                    size.storage_size_mib, size.slug
                )));
            }
            let private_network_uuid =
                parse_uuid("private_network_uuid", req.private_network_uuid.as_deref())?
                    .unwrap_or(cloud.vpcs[region.slug]);
            let project_id = parse_uuid("project_id", req.project_id.as_deref())?
                .unwrap_or(cloud.default_project_id);
            if cloud.databases.values().any(|d| d.name == req.name) {
                return Err(Error::unprocessable(msg::DATABASE_NAME_TAKEN));
            }
            if cloud.databases.len() >= DATABASES_MAX {
                return Err(Error::unprocessable(msg::DATABASE_LIMIT));
            }
            let id = DatabaseId(cloud.new_uuid());
            let password = cloud.new_database_password();
            let online_at = cloud.now.plus_ms(cloud.config.database_provision_ms);
            let mut database = Database {
                id,
                host: format!(
                    "{}-do-user-{}-0.db.ondigitalocean.com",
                    req.name, cloud.account_number
                ),
                name: req.name,
                engine: engine.slug.to_string(),
                version: version.to_string(),
                num_nodes: req.num_nodes,
                size: size.slug.to_string(),
                region: region.slug.to_string(),
                status: DatabaseStatus::Creating,
                created_at: cloud.now,
                online_at,
                tags: req.tags,
                storage_size_mib,
                private_network_uuid,
                project_id,
                db_names: engine.default_db.map(str::to_string).into_iter().collect(),
                users: vec![DatabaseUser {
                    name: engine.admin_user.to_string(),
                    role: DatabaseUserRole::Primary,
                    password,
                    mysql_auth_plugin: (engine.slug == "mysql")
                        .then(|| DEFAULT_MYSQL_AUTH_PLUGIN.to_string()),
                }],
                pools: Vec::new(),
                port: engine.port,
                eviction_policy: (engine.slug == "valkey")
                    .then(|| DEFAULT_EVICTION_POLICY.to_string()),
                sql_mode: None,
                maintenance_window: MaintenanceWindow::default(),
                endpoint: None,
                pool_port: None,
            };
            cloud.adopt_tags(TaggedKind::Database, &id.to_string(), &mut database.tags);
            cloud.databases.insert(id, database);
            cloud.pending.insert((online_at, Pending::Database(id)));
            cloud.complete_due(cloud.now);
            Ok(cloud.databases[&id].clone())
        })
    }

    /// One cluster.
    pub fn database(&mut self, now: SimTime, id: DatabaseId) -> Result<Database, Error> {
        self.enter(now, |cloud| {
            cloud
                .databases
                .get(&id)
                .cloned()
                .ok_or_else(Error::not_found)
        })
    }

    /// The clusters matching `filter`, oldest first.
    pub fn databases(&mut self, now: SimTime, filter: DatabaseFilter) -> Vec<Database> {
        self.enter(now, |cloud| {
            cloud
                .databases
                .values()
                .filter(|d| filter.tag_name.as_ref().is_none_or(|t| d.tags.contains(t)))
                .cloned()
                .collect()
        })
    }

    /// Destroys a cluster.
    pub fn delete_database(&mut self, now: SimTime, id: DatabaseId) -> Result<(), Error> {
        self.enter(now, |cloud| {
            let database = cloud
                .databases
                .shift_remove(&id)
                .ok_or_else(Error::not_found)?;
            cloud
                .pending
                .remove(&(database.online_at, Pending::Database(id)));
            Ok(())
        })
    }

    /// Reads from one cluster.
    fn read_database<R>(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        read: impl FnOnce(&Database) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.enter(now, |cloud| {
            read(cloud.databases.get(&id).ok_or_else(Error::not_found)?)
        })
    }

    /// Changes one cluster: `change` refuses before it changes anything, or changes it; the
    /// cluster as it is afterwards.
    fn change_database(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        change: impl FnOnce(&mut Database) -> Result<(), Error>,
    ) -> Result<Database, Error> {
        self.edit_database(now, id, |database| {
            change(database)?;
            Ok(database.clone())
        })
    }

    /// Edits one cluster: `edit` refuses before it changes anything, or changes it and says
    /// what it did.
    fn edit_database<R>(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        edit: impl FnOnce(&mut Database) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.enter(now, |cloud| {
            edit(cloud.databases.get_mut(&id).ok_or_else(Error::not_found)?)
        })
    }

    /// Records where a real data plane serves a cluster (and its pools, if a pooler serves them); its connection objects show that host and port from now on.
    pub fn set_database_endpoint(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        host: &str,
        port: u16,
        pool_port: Option<u16>,
    ) -> Result<Database, Error> {
        self.change_database(now, id, |database| {
            database.endpoint = Some((host.to_string(), port));
            database.pool_port = pool_port;
            Ok(())
        })
    }

    /// A Valkey cluster's eviction policy.
    pub fn database_eviction_policy(
        &mut self,
        now: SimTime,
        id: DatabaseId,
    ) -> Result<String, Error> {
        self.read_database(now, id, |database| {
            database
                .eviction_policy
                .clone()
                .ok_or_else(|| Error::unprocessable(msg::DATABASE_EVICTION_UNSUPPORTED))
        })
    }

    /// Changes a Valkey cluster's eviction policy.
    pub fn set_database_eviction_policy(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        policy: &str,
    ) -> Result<Database, Error> {
        self.change_database(now, id, |database| {
            if database.eviction_policy.is_none() {
                return Err(Error::unprocessable(msg::DATABASE_EVICTION_UNSUPPORTED));
            }
            if !EVICTION_POLICIES.contains(&policy) {
                return Err(Error::unprocessable(format!(
                    "eviction_policy: {policy:?} is not a valid eviction policy"
                )));
            }
            database.eviction_policy = Some(policy.to_string());
            Ok(())
        })
    }

    /// Sets when a cluster's automatic maintenance may run.
    pub fn set_database_maintenance_window(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        window: MaintenanceWindow,
    ) -> Result<Database, Error> {
        self.change_database(now, id, |database| {
            database.maintenance_window = window;
            Ok(())
        })
    }

    /// A MySQL cluster's SQL mode.
    pub fn database_sql_mode(&mut self, now: SimTime, id: DatabaseId) -> Result<String, Error> {
        self.read_database(now, id, |database| {
            if database.engine != "mysql" {
                return Err(Error::unprocessable(msg::DATABASE_SQL_MODE_UNSUPPORTED));
            }
            Ok(database
                .sql_mode
                .clone()
                .unwrap_or_else(|| DEFAULT_SQL_MODE.to_string()))
        })
    }

    /// Sets a MySQL cluster's SQL mode: modes separated by commas, each in MySQL's spelling (capitals and `_`). It
    /// reads back as given.
    pub fn set_database_sql_mode(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        sql_mode: &str,
    ) -> Result<Database, Error> {
        self.change_database(now, id, |database| {
            if database.engine != "mysql" {
                return Err(Error::unprocessable(msg::DATABASE_SQL_MODE_UNSUPPORTED));
            }
            let valid = |mode: &str| {
                !mode.is_empty() && mode.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            };
            if !sql_mode.split(',').all(valid) {
                return Err(Error::unprocessable(format!(
                    "sql_mode: {sql_mode:?} is not a list of SQL modes separated by commas"
                )));
            }
            database.sql_mode = Some(sql_mode.to_string());
            Ok(())
        })
    }

    /// Adds a user with a fresh password (and, on MySQL, the default authentication plugin).
    pub fn create_database_user(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<DatabaseUser, Error> {
        self.create_database_user_with_auth(now, id, name, None)
    }

    /// Adds a user with a fresh password; on MySQL it authenticates with `mysql_auth_plugin`, or the default when
    /// none is given. Other engines have no plugin and ignore it.
    pub fn create_database_user_with_auth(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
        mysql_auth_plugin: Option<&str>,
    ) -> Result<DatabaseUser, Error> {
        self.enter(now, |cloud| {
            let database = cloud.databases.get(&id).ok_or_else(Error::not_found)?;
            if database.engine == "valkey" {
                return Err(Error::unprocessable(msg::DATABASE_USERS_UNSUPPORTED));
            }
            check_db_object_name("name", name, 1, 63)?;
            let mysql_auth_plugin = if database.engine == "mysql" {
                let plugin = mysql_auth_plugin.unwrap_or(DEFAULT_MYSQL_AUTH_PLUGIN);
                if !MYSQL_AUTH_PLUGINS.contains(&plugin) {
                    return Err(Error::unprocessable(format!(
                        "mysql_settings.auth_plugin: {plugin:?} is not one of {}",
                        MYSQL_AUTH_PLUGINS.join(", ")
                    )));
                }
                Some(plugin.to_string())
            } else {
                None
            };
            if database.user(name).is_some() {
                return Err(Error::unprocessable(format!(
                    "name: a user named {name:?} already exists"
                )));
            }
            if database.users.len() >= DATABASE_OBJECTS_MAX {
                return Err(Error::unprocessable(format!(
                    "a cluster may have at most {DATABASE_OBJECTS_MAX} users"
                )));
            }
            let user = DatabaseUser {
                name: name.to_string(),
                role: DatabaseUserRole::Normal,
                password: cloud.new_database_password(),
                mysql_auth_plugin,
            };
            cloud.databases[&id].users.push(user.clone());
            Ok(user)
        })
    }

    /// One user.
    pub fn database_user(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<DatabaseUser, Error> {
        self.read_database(now, id, |database| {
            database.user(name).cloned().ok_or_else(Error::not_found)
        })
    }

    /// Removes a user; the primary user and users that pools connect as stay.
    pub fn delete_database_user(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<(), Error> {
        self.edit_database(now, id, |database| {
            let user = database.user(name).ok_or_else(Error::not_found)?;
            if user.role == DatabaseUserRole::Primary {
                return Err(Error::unprocessable(msg::DATABASE_PRIMARY_USER_DELETE));
            }
            if let Some(pool) = database
                .pools
                .iter()
                .find(|p| p.user.as_deref() == Some(name))
            {
                return Err(Error::unprocessable(format!(
                    "name: user {name:?} is used by connection pool {:?}",
                    pool.name
                )));
            }
            database.users.retain(|u| u.name != name);
            Ok(())
        })
    }

    /// Gives a user a fresh password.
    pub fn reset_database_user_auth(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<DatabaseUser, Error> {
        self.enter(now, |cloud| {
            let database = cloud.databases.get(&id).ok_or_else(Error::not_found)?;
            database.user(name).ok_or_else(Error::not_found)?;
            let password = cloud.new_database_password();
            let user = cloud.databases[&id]
                .users
                .iter_mut()
                .find(|u| u.name == name)
                .expect("checked above");
            user.password = password;
            Ok(user.clone())
        })
    }

    /// Adds a database.
    pub fn create_database_db(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<String, Error> {
        self.edit_database(now, id, |database| {
            if database.engine_info().default_db.is_none() {
                return Err(Error::unprocessable(msg::DATABASE_DBS_UNSUPPORTED));
            }
            check_db_object_name("name", name, 1, 63)?;
            if database.db_names.iter().any(|d| d == name) {
                return Err(Error::unprocessable(format!(
                    "name: a database named {name:?} already exists"
                )));
            }
            if database.db_names.len() >= DATABASE_OBJECTS_MAX {
                return Err(Error::unprocessable(format!(
                    "a cluster may have at most {DATABASE_OBJECTS_MAX} databases"
                )));
            }
            database.db_names.push(name.to_string());
            Ok(name.to_string())
        })
    }

    /// Removes a database; one that a pool connects to stays.
    pub fn delete_database_db(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<(), Error> {
        self.edit_database(now, id, |database| {
            if !database.db_names.iter().any(|d| d == name) {
                return Err(Error::not_found());
            }
            if let Some(pool) = database.pools.iter().find(|p| p.db == name) {
                return Err(Error::unprocessable(format!(
                    "name: database {name:?} is used by connection pool {:?}",
                    pool.name
                )));
            }
            database.db_names.retain(|d| d != name);
            Ok(())
        })
    }

    /// Adds a connection pool (PostgreSQL only); all pools together share the cluster's backend connections.
    pub fn create_database_pool(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        req: PoolCreate,
    ) -> Result<ConnectionPool, Error> {
        self.edit_database(now, id, |database| {
            let pool = check_pool(database, req, None)?;
            database.pools.push(pool.clone());
            Ok(pool)
        })
    }

    /// Replaces the mode, size, db and user of the pool named `name` in place (its name and its
    /// position in the list stay); the size is checked against the backend connections the other
    /// pools leave. A refused update changes nothing.
    pub fn update_database_pool(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
        req: PoolCreate,
    ) -> Result<ConnectionPool, Error> {
        self.edit_database(now, id, |database| {
            let index = database
                .pools
                .iter()
                .position(|p| p.name == name)
                .ok_or_else(Error::not_found)?;
            let req = PoolCreate {
                name: name.to_owned(),
                ..req
            };
            let pool = check_pool(database, req, Some(index))?;
            database.pools[index] = pool.clone();
            Ok(pool)
        })
    }

    /// Removes a connection pool.
    pub fn delete_database_pool(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<(), Error> {
        self.edit_database(now, id, |database| {
            let index = database
                .pools
                .iter()
                .position(|p| p.name == name)
                .ok_or_else(Error::not_found)?;
            database.pools.remove(index);
            Ok(())
        })
    }

    /// A password shaped like DigitalOcean's managed database passwords.
    fn new_database_password(&mut self) -> String {
        format!("AVNS_{}", self.new_password(19))
    }
}

/// Checks a pool's settings against its cluster, ignoring the pool at `replacing` (an update's
/// own old settings), and builds it.
fn check_pool(
    database: &Database,
    req: PoolCreate,
    replacing: Option<usize>,
) -> Result<ConnectionPool, Error> {
    if database.engine != "pg" {
        return Err(Error::unprocessable(msg::DATABASE_POOLS_UNSUPPORTED));
    }
    check_db_object_name("name", &req.name, 3, 60)?;
    if !matches!(req.mode.as_str(), "session" | "transaction" | "statement") {
        return Err(Error::unprocessable(format!(
            "mode: {:?} is invalid; use session, transaction or statement",
            req.mode
        )));
    }
    if !database.db_names.contains(&req.db) {
        return Err(Error::unprocessable(format!(
            "db: database {:?} does not exist",
            req.db
        )));
    }
    let user = req.user.filter(|u| !u.is_empty());
    if let Some(u) = &user {
        if database.user(u).is_none() {
            return Err(Error::unprocessable(format!(
                "user: user {u:?} does not exist"
            )));
        }
    }
    let others = || {
        database
            .pools
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != replacing)
            .map(|(_, p)| p)
    };
    if replacing.is_none() && others().any(|p| p.name == req.name) {
        return Err(Error::unprocessable(format!(
            "name: a connection pool named {:?} already exists",
            req.name
        )));
    }
    let used: u64 = others().map(|p| u64::from(p.size)).sum();
    let available = pool_capacity(database).saturating_sub(used);
    if req.size < 1 || req.size as u64 > available {
        return Err(Error::unprocessable(format!(
            "size: must be between 1 and {available}, the backend connections left in this cluster"
        )));
    }
    if replacing.is_none() && database.pools.len() >= DATABASE_OBJECTS_MAX {
        return Err(Error::unprocessable(format!(
            "a cluster may have at most {DATABASE_OBJECTS_MAX} connection pools"
        )));
    }
    Ok(ConnectionPool {
        name: req.name,
        mode: req.mode,
        size: req.size as u32,
        db: req.db,
        user,
    })
}

/// Backend connections pools may share: 25 per GiB of memory per node, less 3 kept for maintenance.
pub fn pool_capacity(database: &Database) -> u64 {
    let memory_mb = catalog::database_size(&database.size).map_or(1024, |s| u64::from(s.memory));
    (25 * memory_mb / 1024).saturating_sub(3)
}
