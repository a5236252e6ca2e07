//! Managed database clusters, control plane only: clusters, users, databases, connection pools and connection details.

use crate::{catalog, Cloud, DatabaseId, Error, SimTime};
use serde::Serialize;
use uuid::Uuid;

/// A cluster's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatabaseUser {
    /// The name.
    pub name: String,
    /// The role.
    pub role: DatabaseUserRole,
    /// The password.
    pub password: String,
}

/// A PostgreSQL connection pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
#[derive(Clone, Debug, Serialize)]
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

    /// The wire's `connection`: the primary user on the public host.
    pub fn connection(&self) -> Connection {
        self.connection_for(
            &self.host,
            self.port,
            self.primary_user(),
            self.engine_info().default_db.unwrap_or(""),
        )
    }

    /// The wire's `private_connection`: the primary user on the private host.
    pub fn private_connection(&self) -> Connection {
        self.connection_for(
            &self.private_host(),
            self.port,
            self.primary_user(),
            self.engine_info().default_db.unwrap_or(""),
        )
    }

    /// A pool's `connection`, on port 25061 with the pool's name as the database.
    pub fn pool_connection(&self, pool: &ConnectionPool) -> Connection {
        let user = pool
            .user
            .as_deref()
            .and_then(|u| self.user(u))
            .unwrap_or(self.primary_user());
        self.connection_for(&self.host, POOL_PORT, user, &pool.name)
    }

    /// A pool's `private_connection`.
    pub fn private_pool_connection(&self, pool: &ConnectionPool) -> Connection {
        let user = pool
            .user
            .as_deref()
            .and_then(|u| self.user(u))
            .unwrap_or(self.primary_user());
        self.connection_for(&self.private_host(), POOL_PORT, user, &pool.name)
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
                "postgresql://{}:{}@{host}:{port}/{database}?sslmode=require",
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

impl Cloud {
    /// Creates a database cluster, `creating` until `database_provision_ms` have passed.
    pub fn create_database(
        &mut self,
        now: SimTime,
        req: DatabaseCreate,
    ) -> Result<Database, Error> {
        todo!("{now:?} {req:?}")
    }

    /// One cluster.
    pub fn database(&mut self, now: SimTime, id: DatabaseId) -> Result<Database, Error> {
        self.advance(now);
        self.databases
            .get(&id)
            .cloned()
            .ok_or_else(Error::not_found)
    }

    /// The clusters matching `filter`, oldest first.
    pub fn databases(&mut self, now: SimTime, filter: DatabaseFilter) -> Vec<Database> {
        self.advance(now);
        self.databases
            .values()
            .filter(|d| filter.tag_name.as_ref().is_none_or(|t| d.tags.contains(t)))
            .cloned()
            .collect()
    }

    /// Destroys a cluster.
    pub fn delete_database(&mut self, now: SimTime, id: DatabaseId) -> Result<(), Error> {
        todo!("{now:?} {id:?}")
    }

    /// Adds a user with a fresh password.
    pub fn create_database_user(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<DatabaseUser, Error> {
        todo!("{now:?} {id:?} {name:?}")
    }

    /// One user.
    pub fn database_user(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<DatabaseUser, Error> {
        todo!("{now:?} {id:?} {name:?}")
    }

    /// Removes a user.
    pub fn delete_database_user(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<(), Error> {
        todo!("{now:?} {id:?} {name:?}")
    }

    /// Gives a user a fresh password.
    pub fn reset_database_user_auth(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<DatabaseUser, Error> {
        todo!("{now:?} {id:?} {name:?}")
    }

    /// Adds a database.
    pub fn create_database_db(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<String, Error> {
        todo!("{now:?} {id:?} {name:?}")
    }

    /// Removes a database.
    pub fn delete_database_db(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<(), Error> {
        todo!("{now:?} {id:?} {name:?}")
    }

    /// Adds a connection pool (PostgreSQL only).
    pub fn create_database_pool(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        req: PoolCreate,
    ) -> Result<ConnectionPool, Error> {
        todo!("{now:?} {id:?} {req:?}")
    }

    /// Removes a connection pool.
    pub fn delete_database_pool(
        &mut self,
        now: SimTime,
        id: DatabaseId,
        name: &str,
    ) -> Result<(), Error> {
        todo!("{now:?} {id:?} {name:?}")
    }
}
