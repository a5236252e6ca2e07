//! Users, databases and PgBouncer pools created through the API, in the simulated data plane: users log in, databases can be connected to, pools lend server connections as their mode says, and the final state shows them.

mod common;

use std::str::FromStr;
use std::time::Duration;

use dosim::pg::tokio_postgres;
use dosim::{checks, Actor, ActorPg, DatabaseSpec, RunOutcome, Scenario};
use dosim_client::{ConnectionPoolCreate, DatabaseUserCreate};

type Error = Box<dyn std::error::Error>;

/// Runs seed 3 twice, checks the run repeats and that no check failed, and returns the outcome.
#[track_caller]
fn run(scenario: Scenario) -> RunOutcome {
    let scenario = scenario
        .check(checks::actors_ok())
        .max_sim_time(Duration::from_secs(300));
    common::run_seed_3_twice(&scenario, &[])
}

/// The first cluster's UUID, as an actor finds it.
async fn cluster_id(cx: &Actor) -> Result<String, Error> {
    let clusters = cx.client().databases().list().send().await?;
    Ok(clusters.first().ok_or("no cluster")?.id.clone())
}

fn pool_scenario(name: &str, mode: &str, size: i64) -> Scenario {
    Scenario::new(name).database(DatabaseSpec::pg("backend").pool("app", mode, size))
}

async fn pooled(cx: &Actor) -> Result<tokio_postgres::Client, Error> {
    let config = dosim::pg::pool_config("backend", "app")?;
    let _ = cx;
    Ok(dosim::pg::connect_with(&config).await?)
}

/// Opens a transaction through the pool and holds it (and so the pool's server connection) for
/// five simulated seconds, until `00:00:05`; the client stays connected.
async fn hold_five_seconds(cx: &Actor) -> Result<tokio_postgres::Client, Error> {
    let db = pooled(cx).await?;
    db.batch_execute("BEGIN").await?;
    cx.sleep(Duration::from_secs(5)).await;
    db.batch_execute("COMMIT").await?;
    Ok(db)
}

/// Believes `"ran at"` the time a statement through the pool ran.
async fn note_when_it_runs(cx: &Actor, db: &tokio_postgres::Client) -> Result<(), Error> {
    let row = db.query_one("SELECT now()::text", &[]).await?;
    cx.believe("ran at", row.get::<_, String>(0));
    Ok(())
}

/// `actor`'s statement ran when the holder's transaction ended, at `00:00:05`.
#[track_caller]
fn assert_ran_when_the_holder_committed(outcome: &RunOutcome, actor: &str) {
    let ran_at = outcome.beliefs_about("ran at")[actor].clone();
    assert!(
        ran_at
            .as_deref()
            .is_some_and(|t| t.starts_with("2026-01-01 00:00:05")),
        "{actor}: {ran_at:?}"
    );
}

#[test]
fn users_and_databases_created_through_the_api_log_in_until_deleted() {
    let outcome = run(Scenario::new("pg_api_users")
        .database(DatabaseSpec::pg("backend").user("reporter"))
        .actor("app", |cx: Actor| async move {
            let id = cluster_id(&cx).await?;
            let client = cx.client();
            let databases = client.databases();
            let user = databases
                .create_user(&id, &DatabaseUserCreate::new("worker"))
                .await?;
            databases.create_db(&id, "orders").await?;
            let mut config = cx.postgres_config("backend")?;
            config
                .user("worker")
                .password(user.password.clone().unwrap_or_default())
                .dbname("orders");
            let db = dosim::pg::connect_with(&config).await?;
            let row = db.query_one("SELECT current_database()", &[]).await?;
            cx.believe("as worker", row.get::<_, String>(0));
            // A wrong password is refused as PostgreSQL refuses it.
            config.password("wrong");
            let refused = dosim::pg::connect_with(&config)
                .await
                .err()
                .map(|e| format!("{e:?}"))
                .unwrap_or_default();
            cx.believe("wrong password", refused);
            databases.delete_user(&id, "worker").await?;
            config.password(user.password.unwrap_or_default());
            let gone = dosim::pg::connect_with(&config)
                .await
                .err()
                .map(|e| format!("{e:?}"))
                .unwrap_or_default();
            cx.believe("deleted user", gone);
            // The user the scenario declared logs in with the password the API lists.
            let reporter = databases.get_user(&id, "reporter").await?;
            let mut config = cx.postgres_config("backend")?;
            config
                .user("reporter")
                .password(reporter.password.unwrap_or_default());
            dosim::pg::connect_with(&config).await?;
            Ok::<_, Error>(())
        }));
    let beliefs = |key: &str| outcome.beliefs_about(key)["app"].clone();
    assert_eq!(beliefs("as worker").as_deref(), Some("orders"));
    for key in ["wrong password", "deleted user"] {
        assert!(
            beliefs(key)
                .is_some_and(|e| e.contains("E28P01")
                    && e.contains("password authentication failed for user")),
            "{key}: {:?}",
            beliefs(key)
        );
    }
    let cluster = &outcome.final_state.databases[0];
    assert_eq!(cluster.name, "backend");
    assert_eq!(cluster.users, ["doadmin", "reporter"]);
    assert_eq!(cluster.dbs, ["defaultdb", "orders"]);
    assert_eq!(cluster.pools, []);
}

#[test]
fn a_pool_created_through_the_api_is_served_at_its_connection_details() {
    let outcome = run(Scenario::new("pg_api_pool")
        .database(DatabaseSpec::pg("backend"))
        .actor("app", |cx: Actor| async move {
            let id = cluster_id(&cx).await?;
            let pool = cx
                .client()
                .databases()
                .create_pool(
                    &id,
                    &ConnectionPoolCreate::new("jobs", "transaction", 3, "defaultdb"),
                )
                .await?;
            let uri = pool.connection.ok_or("no connection")?.uri;
            let config = tokio_postgres::Config::from_str(&uri)?;
            cx.believe("port", config.get_ports()[0].to_string());
            let db = dosim::pg::connect_with(&config).await?;
            let row = db.query_one("SELECT current_database()", &[]).await?;
            cx.believe("database", row.get::<_, String>(0));
            // An unknown pool is PgBouncer's error.
            let mut config = config.clone();
            config.dbname("nope");
            let refused = dosim::pg::connect_with(&config)
                .await
                .err()
                .map(|e| format!("{e:?}"))
                .unwrap_or_default();
            cx.believe("unknown pool", refused);
            Ok::<_, Error>(())
        }));
    let beliefs = |key: &str| outcome.beliefs_about(key)["app"].clone();
    assert_eq!(beliefs("port").as_deref(), Some("25061"));
    assert_eq!(beliefs("database").as_deref(), Some("defaultdb"));
    assert!(
        beliefs("unknown pool").is_some_and(|e| e.contains("no such database: nope")),
        "{:?}",
        beliefs("unknown pool")
    );
    let pools = &outcome.final_state.databases[0].pools;
    assert_eq!(pools.len(), 1);
    assert_eq!(
        (
            pools[0].name.as_str(),
            pools[0].mode.as_str(),
            pools[0].size
        ),
        ("jobs", "transaction", 3)
    );
}

/// In transaction mode a session advisory lock stays with the server connection, which the pool then lends to another client.
#[test]
fn a_session_lock_through_a_transaction_pool_follows_the_server_connection() {
    let outcome = run(pool_scenario("pg_pool_lock", "transaction", 1).actor(
        "app",
        |cx: Actor| async move {
            let first = pooled(&cx).await?;
            let second = pooled(&cx).await?;
            let direct = dosim::pg::connect("backend").await?;
            first.query_one("SELECT pg_advisory_lock(7)", &[]).await?;
            let take = "SELECT pg_try_advisory_lock(7)";
            let other_client: bool = second.query_one(take, &[]).await?.get(0);
            let direct_client: bool = direct.query_one(take, &[]).await?.get(0);
            cx.believe("other pool client", other_client.to_string());
            cx.believe("direct client", direct_client.to_string());
            Ok::<_, Error>(())
        },
    ));
    let beliefs = |key: &str| outcome.beliefs_about(key)["app"].clone();
    assert_eq!(beliefs("other pool client").as_deref(), Some("true"));
    assert_eq!(beliefs("direct client").as_deref(), Some("false"));
}

/// In session mode the lock stays with its client: another client of the pool gets another server connection.
#[test]
fn a_session_pool_keeps_one_server_connection_per_client() {
    let outcome = run(pool_scenario("pg_pool_session", "session", 2).actor(
        "app",
        |cx: Actor| async move {
            let first = pooled(&cx).await?;
            let second = pooled(&cx).await?;
            first.query_one("SELECT pg_advisory_lock(7)", &[]).await?;
            let took: bool = second
                .query_one("SELECT pg_try_advisory_lock(7)", &[])
                .await?
                .get(0);
            cx.believe("other pool client", took.to_string());
            Ok::<_, Error>(())
        },
    ));
    assert_eq!(
        outcome.beliefs_about("other pool client")["app"].as_deref(),
        Some("false")
    );
}

/// A pool's size caps its server connections: a client beyond it waits until a transaction ends, and past `query_wait_timeout` gets PgBouncer's error.
#[test]
fn clients_beyond_the_pool_size_wait_and_time_out() {
    let outcome = run(pool_scenario("pg_pool_wait", "transaction", 1)
        .actor("holder", |cx: Actor| async move {
            let db = hold_five_seconds(&cx).await?;
            db.batch_execute("BEGIN").await?;
            cx.sleep(Duration::from_secs(200)).await;
            db.batch_execute("COMMIT").await?;
            Ok::<_, Error>(())
        })
        .actor("waiter", |cx: Actor| async move {
            cx.sleep(Duration::from_secs(1)).await;
            let db = pooled(&cx).await?;
            note_when_it_runs(&cx, &db).await?;
            let late = db
                .query_one("SELECT 1", &[])
                .await
                .err()
                .map(|e| format!("{e:?}"))
                .unwrap_or_default();
            cx.believe("later", late);
            Ok::<_, Error>(())
        }));
    assert_ran_when_the_holder_committed(&outcome, "waiter");
    let later = outcome.beliefs_about("later")["waiter"].clone();
    assert!(
        later
            .as_deref()
            .is_some_and(|e| e.contains("query_wait_timeout")),
        "{later:?}"
    );
}

/// A client that leaves while it waits in the pool's line leaves the line: its statement never
/// runs (PgBouncer drops a waiting client whose socket closes), and the next client in line gets
/// the server connection when the holder's transaction ends.
#[test]
fn a_client_that_leaves_the_line_runs_nothing() {
    let outcome = run(Scenario::new("pg_pool_leave")
        .database(
            DatabaseSpec::pg("backend")
                .pool("app", "transaction", 1)
                .setup("CREATE TABLE counter (n int); INSERT INTO counter VALUES (0)"),
        )
        .actor("holder", |cx: Actor| async move {
            hold_five_seconds(&cx).await?;
            Ok::<_, Error>(())
        })
        .actor("quitter", |cx: Actor| async move {
            cx.sleep(Duration::from_secs(1)).await;
            // Connected by hand, to hold the connection's task and stop it.
            let mut config = dosim::pg::pool_config("backend", "app")?;
            config.ssl_mode(tokio_postgres::config::SslMode::Prefer);
            let Some(tokio_postgres::config::Host::Tcp(host)) = config.get_hosts().first() else {
                return Err("the pool's config names no TCP host".into());
            };
            let port = config.get_ports()[0];
            let stream = turmoil::net::TcpStream::connect((host.as_str(), port)).await?;
            let (db, connection) = config.connect_raw(stream, tokio_postgres::NoTls).await?;
            let connection = tokio::spawn(connection);
            let update = db.batch_execute("UPDATE counter SET n = n + 1");
            let waited = tokio::time::timeout(Duration::from_secs(1), update).await;
            cx.believe("update", if waited.is_err() { "gave up" } else { "ran" });
            // Giving up closes the connection: its task stops, and its socket with it.
            connection.abort();
            Ok::<_, Error>(())
        })
        .actor("waiter", |cx: Actor| async move {
            cx.sleep(Duration::from_secs(3)).await;
            let db = pooled(&cx).await?;
            note_when_it_runs(&cx, &db).await?;
            Ok::<_, Error>(())
        }));
    let update = outcome.beliefs_about("update")["quitter"].clone();
    assert_eq!(update.as_deref(), Some("gave up"));
    let counter = outcome
        .database("backend")
        .unwrap()
        .query_text("SELECT n FROM counter");
    assert_eq!(counter.as_deref(), Ok("0"));
    assert_ran_when_the_holder_committed(&outcome, "waiter");
}

/// Statement mode refuses a transaction block.
#[test]
fn a_statement_pool_refuses_transaction_blocks() {
    let outcome = run(pool_scenario("pg_pool_statement", "statement", 1).actor(
        "app",
        |cx: Actor| async move {
            let db = pooled(&cx).await?;
            db.query_one("SELECT 1", &[]).await?;
            let refused = db
                .batch_execute("BEGIN")
                .await
                .err()
                .map(|e| format!("{e:?}"))
                .unwrap_or_default();
            cx.believe("begin", refused);
            Ok::<_, Error>(())
        },
    ));
    let begin = outcome.beliefs_about("begin")["app"].clone();
    assert!(
        begin
            .as_deref()
            .is_some_and(|e| e.contains("transaction blocks not allowed in statement pooling mode")),
        "{begin:?}"
    );
}

/// A setting made through a transaction-mode pool stays with the server connection; deleting the pool through the API stops new clients.
#[test]
fn settings_follow_the_server_connection_and_a_deleted_pool_is_gone() {
    let outcome = run(pool_scenario("pg_pool_set", "transaction", 1).actor(
        "app",
        |cx: Actor| async move {
            let first = pooled(&cx).await?;
            let second = pooled(&cx).await?;
            first.batch_execute("SET lock_timeout = '5s'").await?;
            let seen: String = second.query_one("SHOW lock_timeout", &[]).await?.get(0);
            cx.believe("other client's lock_timeout", seen);
            let id = cluster_id(&cx).await?;
            cx.client().databases().delete_pool(&id, "app").await?;
            let gone = pooled(&cx)
                .await
                .err()
                .map(|e| format!("{e:?}"))
                .unwrap_or_default();
            cx.believe("deleted pool", gone);
            Ok::<_, Error>(())
        },
    ));
    let beliefs = |key: &str| outcome.beliefs_about(key)["app"].clone();
    assert_eq!(
        beliefs("other client's lock_timeout").as_deref(),
        Some("5s")
    );
    assert!(
        beliefs("deleted pool").is_some_and(|e| e.contains("no such database: app")),
        "{:?}",
        beliefs("deleted pool")
    );
    assert_eq!(outcome.final_state.databases[0].pools, []);
}
