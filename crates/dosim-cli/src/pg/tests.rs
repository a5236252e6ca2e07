//! Tests of the host that served clusters' connection details show.

use std::net::IpAddr;

use dosim_pg::{Engine, EngineConfig, Outcome, SimTime};
use dosim_pgwire::{PgCluster, WireConfig};

use super::{advertised_host, connections_max, memory_max, serve_on_own_thread};

#[track_caller]
fn check(bind: &str, shown: &str) {
    let ip: IpAddr = bind.parse().expect("a test address parses");
    assert_eq!(advertised_host(ip), shown, "for --addr IP {bind}");
}

#[test]
fn an_ipv4_address_is_shown_as_it_is() {
    check("127.0.0.1", "127.0.0.1");
    check("192.168.1.20", "192.168.1.20");
}

#[test]
fn an_unspecified_address_is_shown_as_loopback() {
    check("0.0.0.0", "127.0.0.1");
    check("::", "[::1]");
}

#[test]
fn an_ipv6_address_is_shown_in_brackets_so_the_uri_parses() {
    check("::1", "[::1]");
    check("fd00::5", "[fd00::5]");
}

/// A heavy statement runs on its cluster's own thread: the runtime that started the cluster (the API's,
/// here a single-threaded one) keeps running its tasks while the statement holds the engine. When the
/// cluster was served on the caller's runtime, the statement ran inside it and no other task could run
/// until it ended, so the engine was never seen busy from another task.
#[test]
fn a_heavy_statement_runs_off_the_runtime_that_serves_the_api() {
    let cluster = PgCluster::new(
        Engine::new(EngineConfig::default()),
        WireConfig {
            tls: false,
            ..WireConfig::default()
        },
    );
    cluster.set_user("doadmin", "pw");
    {
        let mut engine = cluster.engine().lock();
        let s = engine.connect("defaultdb").expect("defaultdb exists");
        let values: Vec<String> = (0..400).map(|i| format!("({i})")).collect();
        let sql = format!(
            "CREATE TABLE a (x int); INSERT INTO a VALUES {}",
            values.join(",")
        );
        assert!(matches!(
            engine.execute(s, &sql, &[], SimTime::ZERO),
            Outcome::Done(_)
        ));
        engine.disconnect(s);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let (seen_busy, output) = runtime.block_on(async {
        let abort =
            serve_on_own_thread(listener, unused_listener(), cluster.clone()).expect("serve");
        let psql = std::thread::spawn(move || {
            std::process::Command::new("psql")
                .arg(format!(
                    "postgres://doadmin:pw@127.0.0.1:{port}/defaultdb?sslmode=disable"
                ))
                .args([
                    "-tAc",
                    "SELECT count(*) FROM a a1, a a2 WHERE a1.x + a2.x > (SELECT min(x) FROM a)",
                ])
                .output()
                .expect("psql runs")
        });
        let mut seen_busy = false;
        while !psql.is_finished() {
            if cluster.engine().try_lock().is_none() {
                seen_busy = true;
            }
            tokio::task::yield_now().await;
        }
        abort.abort();
        (seen_busy, psql.join().expect("psql thread"))
    });
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "159999",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        seen_busy,
        "the API's runtime ran no task while the statement held the engine"
    );
}

#[test]
fn a_cluster_accepts_digitaloceans_connections_for_its_size() {
    for (size, max) in [
        ("db-s-1vcpu-1gb", 22),
        ("db-s-1vcpu-2gb", 47),
        ("db-s-2vcpu-4gb", 97),
        ("gd-2vcpu-8gb", 197),
        ("so1_5-4vcpu-32gb", 797),
        // Not a slug that ends in its RAM: the engine's default.
        ("custom", EngineConfig::default().sessions_max),
        ("db-s-1vcpu-0gb", EngineConfig::default().sessions_max),
    ] {
        assert_eq!(connections_max(size), max, "for {size}");
    }
}

/// A cluster keeps a quarter of its RAM in row versions.
#[test]
fn memory_follows_the_size() {
    assert_eq!(memory_max("db-s-1vcpu-1gb"), 256 << 20);
    assert_eq!(memory_max("db-s-2vcpu-4gb"), 1 << 30);
    assert_eq!(
        memory_max("custom"),
        EngineConfig::default().memory_bytes_max
    );
}

/// The connection past the size's limit is refused with PostgreSQL's error, over the wire.
#[test]
fn the_connection_past_the_limit_is_refused_with_53300() {
    let cluster = PgCluster::new(
        Engine::new(EngineConfig {
            sessions_max: connections_max("db-s-1vcpu-1gb"),
            ..EngineConfig::default()
        }),
        WireConfig {
            tls: false,
            ..WireConfig::default()
        },
    );
    cluster.set_user("doadmin", "pw");
    let mut held = vec![];
    {
        let mut engine = cluster.engine().lock();
        for _ in 0..21 {
            held.push(engine.connect("defaultdb").expect("below the limit"));
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let psql = |sql: &'static str| {
        std::thread::spawn(move || {
            std::process::Command::new("psql")
                .arg(format!(
                    "postgres://doadmin:pw@127.0.0.1:{port}/defaultdb?sslmode=disable"
                ))
                .args(["-tAc", sql])
                .output()
                .expect("psql runs")
        })
    };
    let abort = runtime
        .block_on(async { serve_on_own_thread(listener, unused_listener(), cluster.clone()) });
    let abort = abort.expect("serve");
    // The 22nd connection is the last one.
    let last = psql("SELECT 1").join().expect("psql");
    assert_eq!(String::from_utf8_lossy(&last.stdout).trim(), "1");
    // psql has exited, but the server may not have seen its connection close yet: wait for the
    // session it held to be released before taking the 22nd slot.
    let mut tries = 0;
    loop {
        let taken = cluster.engine().lock().connect("defaultdb");
        match taken {
            Ok(session) => {
                held.push(session);
                break;
            }
            // 1,000 tries of 10 ms: ten seconds for the server to see psql's connection close.
            Err(e) if tries == 1_000 => panic!("the 22nd session was never free: {e:?}"),
            Err(_) => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
    let refused = psql("SELECT 1").join().expect("psql");
    abort.abort();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("FATAL:  sorry, too many clients already"),
        "{stderr}"
    );
}

/// A listener for the pools' port that these tests do not use.
fn unused_listener() -> std::net::TcpListener {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    listener
}
