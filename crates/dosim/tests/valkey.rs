//! Managed Caching for Valkey in scenarios end to end: the cluster in the API, redis-rs over the simulated network, commands in the history, the final keyspace and the command log.

mod common;

use std::time::Duration;

use dosim::valkey::redis::{self, AsyncCommands};
use dosim::{checks, Actor, DatabaseSpec, RunOutcome, Scenario};

type Error = Box<dyn std::error::Error>;

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .database(DatabaseSpec::valkey("locks"))
        .check(checks::actors_ok())
        .max_sim_time(Duration::from_secs(30))
}

/// Runs one seed twice, checks the run repeats and has no violations, and returns the outcome.
#[track_caller]
fn check(scenario: Scenario) -> RunOutcome {
    common::run_seed_3_twice(&scenario, &[])
}

/// The Valkey operations of the run: actor, command, reply.
fn valkey_lines(outcome: &RunOutcome) -> Vec<String> {
    common::op_lines(outcome, "VALKEY")
}

#[test]
fn the_api_lists_the_cluster_and_redis_rs_reaches_its_data_plane() {
    let outcome = check(
        scenario("valkey_connection").actor("app", |cx: Actor| async move {
            let clusters = cx.client().databases().list().send().await?;
            let connection = clusters
                .first()
                .and_then(|cluster| cluster.connection.clone())
                .ok_or("no cluster")?;
            let info = dosim::valkey::connection_info("locks").ok_or("no info")?;
            assert_eq!(connection.uri, info.uri);
            assert!(
                info.uri.starts_with("rediss://default:AVNS_"),
                "{}",
                info.uri
            );
            assert_eq!(
                (connection.port, connection.user.as_str()),
                (25061, "default")
            );
            let mut c = dosim::valkey::connect("locks").await?;
            let taken: Option<String> = redis::cmd("SET")
                .arg("lock:x")
                .arg(cx.name())
                .arg("NX")
                .arg("PX")
                .arg(1000)
                .query_async(&mut c)
                .await?;
            assert_eq!(taken.as_deref(), Some("OK"));
            let _: i64 = c.incr("fence", 1).await?;
            cx.sleep(Duration::from_millis(1500)).await;
            let gone: Option<String> = c.get("lock:x").await?;
            assert_eq!(gone, None);
            Ok::<(), Error>(())
        }),
    );
    let lines = valkey_lines(&outcome);
    assert_eq!(
        lines
            .iter()
            .filter(|l| !l.contains(" AUTH "))
            .cloned()
            .collect::<Vec<_>>(),
        [
            "app SET lock:x app NX PX 1000 → +OK",
            "app INCRBY fence 1 → :1",
            "app GET lock:x → nil",
        ]
    );
    let cluster = outcome.valkey("locks").expect("the cluster");
    assert_eq!(cluster.get("fence").as_deref(), Some("1"));
    assert_eq!(cluster.keys(), vec![("fence".to_owned(), "string")]);
    let log = cluster.commands();
    assert_eq!(log.expired.len(), 1);
    assert_eq!(log.expired[0].key, b"lock:x");
    assert_eq!(log.commands[0].name(), "SET");
    assert_eq!(log.expired[0].at.as_ms() - log.commands[0].end_ms, 1000);
}

#[test]
fn a_blocking_pop_waits_on_simulated_time_for_a_push() {
    let outcome = check(
        scenario("valkey_queue")
            .actor("worker", |_cx: Actor| async move {
                let info = dosim::valkey::redis_info("locks")?;
                // A blocking pop outlives redis-rs's default 500 ms response timeout, so the worker lifts it.
                let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
                let mut c = dosim::valkey::connect_with("locks", &info, config).await?;
                let job: Option<String> = redis::cmd("BLMOVE")
                    .arg("jobs")
                    .arg("work")
                    .arg("RIGHT")
                    .arg("LEFT")
                    .arg(10)
                    .query_async(&mut c)
                    .await?;
                assert_eq!(job.as_deref(), Some("j1"));
                Ok::<(), Error>(())
            })
            .actor("producer", |cx: Actor| async move {
                let mut c = dosim::valkey::connect("locks").await?;
                cx.sleep(Duration::from_secs(2)).await;
                let _: i64 = c.lpush("jobs", "j1").await?;
                Ok::<(), Error>(())
            }),
    );
    let lines = valkey_lines(&outcome);
    assert!(
        lines.contains(&"worker BLMOVE jobs work RIGHT LEFT 10 → blocked 2s, \"j1\"".to_owned())
            || lines
                .iter()
                .any(|l| l.starts_with("worker BLMOVE jobs work RIGHT LEFT 10 → blocked")),
        "{lines:#?}"
    );
    let cluster = outcome.valkey("locks").expect("the cluster");
    assert_eq!(cluster.keys(), vec![("work".to_owned(), "list")]);
}
