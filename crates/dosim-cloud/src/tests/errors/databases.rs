//! Refusals of database clusters and of their users, databases and connection pools.

use super::*;

fn db(name: &str) -> DatabaseCreate {
    pg_cluster(name, "nyc3")
}

/// One PostgreSQL cluster, `backend`.
fn one(w: &mut World) {
    w.cloud.create_database(w.now, db("backend")).unwrap();
}

fn first(w: &World) -> DatabaseId {
    w.cloud.databases_view().next().unwrap().id
}

fn pool(name: &str, size: i64) -> PoolCreate {
    PoolCreate {
        name: name.into(),
        mode: "transaction".into(),
        size,
        db: "defaultdb".into(),
        user: None,
    }
}

#[test]
fn database_create_rules() {
    check(
        none,
        one,
        |w| w.cloud.create_database(w.now, db("backend")),
        UNPROCESSABLE,
        "a database cluster with that name already exists",
    );
    check_unprocessable(
        |w, request| w.cloud.create_database(w.now, request),
        vec![
            (db("my_db"), "name: \"my_db\" is invalid; it must be 3 to 63 characters of lowercase letters, numbers and '-', begin with a letter and not end with '-'".into()),
            (DatabaseCreate { engine: "redis".into(), ..db("cache") }, "engine: Caching (redis) clusters can no longer be created; use valkey".into()),
            (DatabaseCreate { engine: "oracle".into(), ..db("x-db") }, "engine: \"oracle\" is not a supported engine".into()),
            (DatabaseCreate { version: Some("9".into()), ..db("x-db") }, "version: \"9\" is not a supported version of pg".into()),
            (DatabaseCreate { num_nodes: 4, ..db("x-db") }, "num_nodes: must be between 1 and 3".into()),
            (DatabaseCreate { size: "db-huge".into(), ..db("x-db") }, "size: \"db-huge\" is not a valid database size".into()),
        ],
    );
}

#[test]
fn database_user_and_db_rules() {
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.create_database_user(w.now, id, "doadmin")
        },
        UNPROCESSABLE,
        "name: a user named \"doadmin\" already exists",
    );
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.delete_database_user(w.now, id, "doadmin")
        },
        UNPROCESSABLE,
        "The primary user cannot be deleted.",
    );
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.create_database_db(w.now, id, "defaultdb")
        },
        UNPROCESSABLE,
        "name: a database named \"defaultdb\" already exists",
    );
}

#[test]
fn database_pool_rules() {
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.create_database_pool(w.now, id, pool("ab", 5))
        },
        UNPROCESSABLE,
        "name: \"ab\" is invalid; it must be 3 to 60 characters of letters, numbers, '-' and '_'",
    );
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.create_database_pool(
                w.now,
                id,
                PoolCreate {
                    mode: "eager".into(),
                    ..pool("app", 5)
                },
            )
        },
        UNPROCESSABLE,
        "mode: \"eager\" is invalid; use session, transaction or statement",
    );
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.create_database_pool(w.now, id, pool("app", 23))
        },
        UNPROCESSABLE,
        "size: must be between 1 and 22, the backend connections left in this cluster",
    );
    check(
        none,
        one,
        |w| {
            let id = first(w);
            w.cloud.create_database_pool(
                w.now,
                id,
                PoolCreate {
                    db: "nope".into(),
                    ..pool("app", 5)
                },
            )
        },
        UNPROCESSABLE,
        "db: database \"nope\" does not exist",
    );
}

/// What only some engines have: pools on PostgreSQL, users everywhere but Valkey.
#[test]
fn database_engine_rules() {
    check(
        none,
        |w| {
            w.cloud
                .create_database(
                    w.now,
                    DatabaseCreate {
                        engine: "mysql".into(),
                        ..db("backend")
                    },
                )
                .unwrap();
        },
        |w| {
            let id = first(w);
            w.cloud.create_database_pool(w.now, id, pool("app", 5))
        },
        UNPROCESSABLE,
        "Connection pools are only supported for PostgreSQL clusters.",
    );
    check(
        none,
        |w| {
            w.cloud
                .create_database(
                    w.now,
                    DatabaseCreate {
                        engine: "valkey".into(),
                        ..db("cache")
                    },
                )
                .unwrap();
        },
        |w| {
            let id = first(w);
            w.cloud.create_database_user(w.now, id, "app")
        },
        UNPROCESSABLE,
        "User management is not supported for this engine.",
    );
}
