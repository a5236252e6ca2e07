//! redis-cli against the Valkey clusters `dosim serve` serves: the keys survive a restart with
//! `--state`, with the time they had left, and a write alone starts a save.

use std::process::Command;
use std::time::Duration;

use dosim_client::DatabaseCreate;
use dosim_tests::Serve;

use crate::api_client;

/// Runs `redis-cli --tls --insecure -u <uri> <args>` and returns its standard output, trimmed.
fn redis_cli(uri: &str, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["--tls", "--insecure", "--no-auth-warning", "-u", uri])
        .args(args)
        .output()
        .expect("redis-cli runs: scripts/test.sh installs Debian's redis-tools");
    assert!(
        output.status.success(),
        "redis-cli {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valkey_clusters_keys_survive_a_restart_with_state() {
    let dir = std::env::temp_dir().join(format!("dosim-valkey-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let file_arg = file.to_str().unwrap().to_owned();
    let flags = ["--seed", "17", "--state", file_arg.as_str()];
    let serve = Serve::start(&flags);
    let token = serve.token.clone();
    let cluster = api_client(&serve, &token)
        .databases()
        .create(&DatabaseCreate::new(
            "cache",
            "valkey",
            "nyc3",
            "db-s-1vcpu-1gb",
            1,
        ))
        .await
        .unwrap();
    let uri = cluster.connection.expect("a connection").uri;
    assert_eq!(
        redis_cli(&uri, &["SET", "lease", "worker-1", "PX", "600000"]),
        "OK"
    );
    assert_eq!(redis_cli(&uri, &["RPUSH", "jobs", "a", "b"]), "2");
    assert_eq!(
        redis_cli(&uri, &["ZADD", "window", "1", "r1", "2", "r2"]),
        "2"
    );
    assert_eq!(redis_cli(&uri, &["SADD", "seen", "x"]), "1");
    // No API change since the create: only the commands above can start this save.
    std::thread::sleep(Duration::from_millis(1_500));
    drop(serve); // SIGKILL: no save on the way out.

    let serve = Serve::start(&flags);
    let again = api_client(&serve, &token)
        .databases()
        .connection(&cluster.id)
        .await
        .unwrap();
    assert_eq!(redis_cli(&again.uri, &["GET", "lease"]), "worker-1");
    let left: u64 = redis_cli(&again.uri, &["PTTL", "lease"]).parse().unwrap();
    assert!(
        (500_000..=600_000).contains(&left),
        "the lease keeps the time it had left: {left} ms"
    );
    assert_eq!(
        redis_cli(&again.uri, &["LRANGE", "jobs", "0", "-1"]),
        "a\nb"
    );
    assert_eq!(
        redis_cli(&again.uri, &["ZRANGE", "window", "0", "-1", "WITHSCORES"]),
        "r1\n1\nr2\n2"
    );
    assert_eq!(redis_cli(&again.uri, &["SISMEMBER", "seen", "x"]), "1");
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}
