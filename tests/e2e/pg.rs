//! psql against the PostgreSQL clusters `dosim serve` serves: a cluster created through the API answers at its `connection.uri`, used verbatim.
//!
//! psql comes from Debian's `postgresql-client` package. Where it is missing the test says so and passes, unless `DOSIM_REQUIRE_PSQL` is set, as CI sets it.

use std::process::Command;
use std::time::Duration;

use dosim_client::{
    Client, ConnectionPoolCreate, DatabaseCluster, DatabaseCreate, DatabaseUserCreate,
};
use dosim_tests::Serve;

fn psql_available() -> bool {
    let found = Command::new("psql")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("DOSIM_REQUIRE_PSQL").is_none(),
            "DOSIM_REQUIRE_PSQL is set but psql is missing: install Debian's postgresql-client"
        );
        eprintln!("psql is not installed; skipped");
    }
    found
}

/// Runs `psql "<uri>" -c "<sql>"` and checks that standard output (for `Ok`) or standard error (for `Err`) contains the expected text.
#[track_caller]
fn check(uri: &str, sql: &str, expect: Result<&str, &str>) {
    let output = Command::new("psql")
        .arg(uri)
        .args(["--no-psqlrc", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGSSLMODE")
        .env_remove("PGPASSWORD")
        .output()
        .expect("psql runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    match expect {
        Ok(text) => {
            assert!(output.status.success(), "psql failed on {sql:?}:\n{stderr}");
            assert!(
                stdout.contains(text),
                "psql printed for {sql:?}:\n{stdout}\nnot containing {text:?}"
            );
        }
        Err(text) => {
            assert!(
                !output.status.success(),
                "psql succeeded on {sql:?}:\n{stdout}"
            );
            assert!(
                stderr.contains(text),
                "psql printed on standard error for {sql:?}:\n{stderr}\nnot containing {text:?}"
            );
        }
    }
}

fn client(serve: &Serve) -> Client {
    crate::api_client(serve, &serve.token)
}

/// Creates a one-node cluster of `engine`, of the smallest size, in nyc3.
async fn create_cluster(api: &Client, name: &str, engine: &str) -> DatabaseCluster {
    let request = DatabaseCreate::new(name, engine, "nyc3", "db-s-1vcpu-1gb", 1);
    api.databases().create(&request).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_reaches_a_cluster_at_its_connection_uri() {
    if !psql_available() {
        return;
    }
    let serve = Serve::start(&["--seed", "11"]);
    let api = client(&serve);
    let cluster = create_cluster(&api, "ledger", "pg").await;
    // The create response already shows the served endpoint, and later reads agree with it.
    let created = cluster.connection.expect("a pg cluster has a connection");
    let connection = api.databases().connection(&cluster.id).await.unwrap();
    assert_eq!(created.uri, connection.uri);
    assert_eq!(connection.host, "127.0.0.1");
    assert_eq!(
        connection.uri,
        format!(
            "postgres://doadmin:{}@127.0.0.1:{}/defaultdb?sslmode=require",
            connection.password, connection.port
        )
    );
    let uri = connection.uri.as_str();

    check(
        uri,
        "CREATE TABLE t (id int primary key); INSERT INTO t VALUES (1); SELECT count(*) FROM t",
        Ok("     1\n(1 row)"),
    );
    // The data stays between connections.
    check(uri, "SELECT id FROM t", Ok("  1\n(1 row)"));
    check(
        uri,
        "INSERT INTO t VALUES (1)",
        Err("duplicate key value violates unique constraint \"t_pkey\""),
    );
    let wrong_password = uri.replace(&connection.password, "AVNS_wrong");
    check(
        &wrong_password,
        "SELECT 1",
        Err("password authentication failed for user \"doadmin\""),
    );

    // A second cluster is a separate server with its own data.
    let other = create_cluster(&api, "other", "pg").await;
    let other_uri = other.connection.expect("a connection").uri;
    assert_ne!(other_uri, connection.uri);
    check(
        &other_uri,
        "SELECT id FROM t",
        Err("relation \"t\" does not exist"),
    );

    // Users and databases created through the API can log in and be connected to at once.
    api.databases()
        .create_db(&cluster.id, "books")
        .await
        .unwrap();
    let user = api
        .databases()
        .create_user(&cluster.id, &DatabaseUserCreate::new("app"))
        .await
        .unwrap();
    let password = user.password.expect("a new user's password");
    let app_uri = format!(
        "postgres://app:{password}@127.0.0.1:{}/books?sslmode=require",
        connection.port
    );
    check(&app_uri, "SELECT 40 + 2 AS answer", Ok("     42\n(1 row)"));
    // A pool answers on its own port (PgBouncer's), with its name as the database.
    let pool = api
        .databases()
        .create_pool(
            &cluster.id,
            &ConnectionPoolCreate::new("books-pool", "transaction", 5, "books"),
        )
        .await
        .unwrap();
    let pool_connection = pool.connection.expect("a pool has a connection");
    assert_ne!(pool_connection.port, connection.port);
    assert_eq!(
        pool_connection.uri,
        format!(
            "postgres://doadmin:{}@127.0.0.1:{}/books-pool?sslmode=require",
            connection.password, pool_connection.port
        )
    );
    check(
        &pool_connection.uri,
        "SELECT current_database()",
        Ok(" books\n(1 row)"),
    );
    check(
        &pool_connection.uri.replace("/books-pool?", "/nopool?"),
        "SELECT 1",
        Err("no such database: nopool"),
    );
    check(
        &uri.replace("/defaultdb?", "/missing?"),
        "SELECT 1",
        Err("database \"missing\" does not exist"),
    );

    // A deleted user can no longer log in.
    api.databases()
        .delete_user(&cluster.id, "app")
        .await
        .unwrap();
    check(
        &app_uri,
        "SELECT 1",
        Err("password authentication failed for user \"app\""),
    );

    // Deleting the cluster stops its server; the other one goes on.
    api.databases().delete(&cluster.id).await.unwrap();
    check(uri, "SELECT 1", Err("Connection refused"));
    check(&other_uri, "SELECT 1", Ok("(1 row)"));

    // Only PostgreSQL has a data plane: a MySQL cluster keeps DigitalOcean's host and port.
    let mysql = create_cluster(&api, "cache", "mysql").await;
    let mysql_connection = mysql.connection.expect("a connection");
    assert!(mysql_connection.host.ends_with(".db.ondigitalocean.com"));
    assert_eq!(mysql_connection.port, 25060);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_clusters_max_zero_serves_nothing() {
    let serve = Serve::start(&["--seed", "11", "--pg-clusters-max", "0"]);
    let api = client(&serve);
    let cluster = create_cluster(&api, "ledger", "pg").await;
    let connection = cluster.connection.expect("a pg cluster has a connection");
    assert!(connection.host.ends_with(".db.ondigitalocean.com"));
    assert_eq!(connection.port, 25060);
}

/// A served cluster refuses a connection without TLS, as DigitalOcean's do, unless
/// `--pg-allow-plain` is given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_connections_need_pg_allow_plain() {
    if !psql_available() {
        return;
    }
    for (flags, expect) in [
        (
            &["--seed", "12"][..],
            Err("no pg_hba.conf entry for host \"127.0.0.1\", user \"doadmin\", database \"defaultdb\", no encryption"),
        ),
        (&["--seed", "12", "--pg-allow-plain"][..], Ok("1 row")),
    ] {
        let serve = Serve::start(flags);
        let cluster = create_cluster(&client(&serve), "plain", "pg").await;
        let uri = cluster
            .connection
            .expect("a connection")
            .uri
            .replace("sslmode=require", "sslmode=disable");
        check(&uri, "SELECT 1", expect);
    }
}

/// `--state` keeps a served cluster's committed tables: after a restart the cluster answers at a
/// new port with the same data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clusters_data_survives_a_restart_with_state() {
    if !psql_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("dosim-pg-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let file_arg = file.to_str().unwrap().to_owned();
    let flags = ["--seed", "13", "--state", file_arg.as_str()];
    let mut serve = Serve::start(&flags);
    let token = serve.token.clone();
    let cluster = create_cluster(&client(&serve), "kept", "pg").await;
    let uri = cluster.connection.expect("a connection").uri;
    check(
        &uri,
        "CREATE TABLE t (id serial PRIMARY KEY, note text UNIQUE); \
         INSERT INTO t (note) VALUES ('a'), ('b'); DELETE FROM t WHERE note = 'a'",
        Ok("DELETE 1"),
    );
    // A pool answers on its own port, with its name as the database, and reaches the same data.
    let pool = client(&serve)
        .databases()
        .create_pool(
            &cluster.id,
            &ConnectionPoolCreate::new("app", "transaction", 2, "defaultdb"),
        )
        .await
        .unwrap();
    let pool_uri = pool.connection.expect("a pool has a connection").uri;
    assert!(pool_uri.ends_with("/app?sslmode=require"), "{pool_uri}");
    assert_ne!(pool_uri, uri);
    check(&pool_uri, "SELECT note FROM t", Ok(" b\n(1 row)"));
    // SIGTERM: the server saves before it exits.
    // The shell's own `kill`, so that no procps is needed.
    let killed = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", serve.child.id())])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(serve.child.wait().unwrap().success());

    let serve = Serve::start(&flags);
    let api = crate::api_client(&serve, &token);
    let again = api.databases().connection(&cluster.id).await.unwrap();
    check(&again.uri, "SELECT id, note FROM t", Ok("  2 | b\n(1 row)"));
    // The pool is served again too, at the restarted cluster's pool port.
    let pool = api.databases().get_pool(&cluster.id, "app").await.unwrap();
    let pool_uri = pool.connection.expect("a pool has a connection").uri;
    check(&pool_uri, "SELECT note FROM t", Ok(" b\n(1 row)"));
    check(
        &again.uri,
        "INSERT INTO t (note) VALUES ('c') RETURNING id",
        Ok("  3\n(1 row)"),
    );
    check(
        &again.uri,
        "INSERT INTO t (note) VALUES ('b')",
        Err("duplicate key value violates unique constraint \"t_note_key\""),
    );
    // An SQL write alone is saved too: after the save interval, kill -9 loses nothing.
    check(
        &again.uri,
        "UPDATE t SET note = 'sql only' WHERE id = 3",
        Ok("UPDATE 1"),
    );
    std::thread::sleep(Duration::from_millis(1_500));
    drop(serve); // SIGKILL: no save on the way out.
    let serve = Serve::start(&flags);
    let api = crate::api_client(&serve, &token);
    let third = api.databases().connection(&cluster.id).await.unwrap();
    check(
        &third.uri,
        "SELECT note FROM t WHERE id = 3",
        Ok(" sql only\n(1 row)"),
    );
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}
