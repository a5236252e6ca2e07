//! The retry policy under simulated time: what is retried, when, and where it stops.

mod common;

use std::time::Duration;

use common::{run, Reply, Script};
use dosim_client::{DropletCreate, RetryPolicy};

const DROPLET: &str = r#"{"droplet":{"id":1,"name":"a","status":"active"}}"#;
const CREATED: &str = r#"{"droplet":{"id":1,"name":"a","status":"new"},"links":{"actions":[{"id":7,"rel":"create","href":"x/v2/actions/7"}]}}"#;

/// Runs `method` (`GET` a droplet or `POST` one) with `policy` against `replies`, and renders when
/// each attempt was sent (simulated seconds) and how the call ended.
#[track_caller]
fn check(policy: RetryPolicy, method: &str, replies: Vec<Reply>, expect: &str) {
    let actual = run(async {
        let script = Script::new(replies);
        let client = script.client_with(policy);
        let outcome = match method {
            "GET" => client.droplets().get(1).await.map(|d| d.id),
            "POST" => client
                .droplets()
                .create(&DropletCreate::new("a", "s", "i"))
                .await
                .map(|c| c.resource.id),
            other => panic!("{other}"),
        };
        let times: Vec<String> = script
            .sent()
            .iter()
            .map(|s| format!("{:.3}", s.at.as_secs_f64()))
            .collect();
        let outcome = match outcome {
            Ok(id) => format!("ok {id}"),
            Err(e) => format!("err {e}"),
        };
        format!("{} -> {outcome}", times.join(" "))
    });
    assert_eq!(actual, expect);
}

fn status(code: u16) -> Reply {
    Reply::json(
        code,
        r#"{"id":"server_error","message":"Unexpected server-side error"}"#,
    )
}

#[test]
fn off_by_default() {
    check(
        RetryPolicy::none(),
        "GET",
        vec![status(500)],
        "0.000 -> err GET /v2/droplets/1: 500 Unexpected server-side error",
    );
    check(
        RetryPolicy::default(),
        "GET",
        vec![Reply::Reset],
        "0.000 -> err transport error: connection reset by peer",
    );
}

#[test]
fn godo_backoff_on_5xx_and_429() {
    // 1 s, 2 s, 4 s: go-retryablehttp's DefaultBackoff without jitter.
    check(
        RetryPolicy::godo(),
        "GET",
        vec![
            status(500),
            status(502),
            status(429),
            Reply::json(200, DROPLET),
        ],
        "0.000 1.000 3.000 7.000 -> ok 1",
    );
    // Four retries, then the last error.
    check(
        RetryPolicy::godo(),
        "GET",
        vec![status(503), status(503), status(503), status(503), status(503)],
        "0.000 1.000 3.000 7.000 15.000 -> err GET /v2/droplets/1: 503 Unexpected server-side error",
    );
    // The backoff is capped at wait_max.
    check(
        RetryPolicy::godo().max_retries(7),
        "GET",
        vec![
            status(500),
            status(500),
            status(500),
            status(500),
            status(500),
            status(500),
            Reply::json(200, DROPLET),
        ],
        "0.000 1.000 3.000 7.000 15.000 31.000 61.000 -> ok 1",
    );
}

#[test]
fn what_is_not_retried() {
    check(
        RetryPolicy::godo(),
        "GET",
        vec![status(501)],
        "0.000 -> err GET /v2/droplets/1: 501 Unexpected server-side error",
    );
    check(
        RetryPolicy::godo(),
        "GET",
        vec![Reply::json(
            422,
            r#"{"id":"unprocessable_entity","message":"Droplet already has a pending event."}"#,
        )],
        "0.000 -> err GET /v2/droplets/1: 422 Droplet already has a pending event.",
    );
    check(
        RetryPolicy::godo(),
        "GET",
        vec![Reply::json(
            404,
            r#"{"id":"not_found","message":"The resource you requested could not be found."}"#,
        )],
        "0.000 -> err GET /v2/droplets/1: 404 The resource you requested could not be found.",
    );
}

#[test]
fn post_is_retried_only_when_configured() {
    // godo resends a POST whose response was lost: the duplicate-droplet race.
    check(
        RetryPolicy::godo(),
        "POST",
        vec![Reply::Hang, Reply::json(202, CREATED)],
        "0.000 11.000 -> ok 1",
    );
    check(
        RetryPolicy::godo(),
        "POST",
        vec![Reply::Reset, status(500), Reply::json(202, CREATED)],
        "0.000 1.000 3.000 -> ok 1",
    );
    check(
        RetryPolicy::godo().retry_post(false),
        "POST",
        vec![Reply::Hang],
        "0.000 -> err no response within 10s",
    );
    check(
        RetryPolicy::godo().retry_post(false),
        "POST",
        vec![status(500)],
        "0.000 -> err POST /v2/droplets: 500 Unexpected server-side error",
    );
    check(
        RetryPolicy::pydo(),
        "POST",
        vec![Reply::Reset],
        "0.000 -> err transport error: connection reset by peer",
    );
    // A refused connection never reached the server, so even a POST is safe to resend.
    check(
        RetryPolicy::pydo(),
        "POST",
        vec![Reply::Connect, Reply::json(202, CREATED)],
        "0.000 0.800 -> ok 1",
    );
}

#[test]
fn timeouts() {
    check(
        RetryPolicy::godo(),
        "GET",
        vec![Reply::Hang, Reply::Hang, Reply::json(200, DROPLET)],
        "0.000 11.000 23.000 -> ok 1",
    );
    check(
        RetryPolicy::godo().retry_on_timeout(false),
        "GET",
        vec![Reply::Hang],
        "0.000 -> err no response within 10s",
    );
}

#[test]
fn retry_after() {
    let limited = |seconds: &str| {
        Reply::json(
            429,
            r#"{"id":"too_many_requests","message":"API Rate limit exceeded."}"#,
        )
        .with_header("retry-after", seconds)
    };
    check(
        RetryPolicy::godo(),
        "GET",
        vec![limited("29"), Reply::json(200, DROPLET)],
        "0.000 29.000 -> ok 1",
    );
    check(
        RetryPolicy::godo().honor_retry_after(false),
        "GET",
        vec![limited("29"), Reply::json(200, DROPLET)],
        "0.000 1.000 -> ok 1",
    );
    // 503 carries it too; a 500's is ignored, as go-retryablehttp does.
    check(
        RetryPolicy::godo(),
        "GET",
        vec![
            status(503).with_header("retry-after", "5"),
            Reply::json(200, DROPLET),
        ],
        "0.000 5.000 -> ok 1",
    );
    check(
        RetryPolicy::godo(),
        "GET",
        vec![
            status(500).with_header("retry-after", "5"),
            Reply::json(200, DROPLET),
        ],
        "0.000 1.000 -> ok 1",
    );
    // pydo honours retry-after on a POST too.
    check(
        RetryPolicy::pydo().retry_post(true),
        "POST",
        vec![limited("3"), Reply::json(202, CREATED)],
        "0.000 3.000 -> ok 1",
    );
}

#[test]
fn bounded() {
    // The total wait bound stops retrying before a sleep would pass it.
    check(
        RetryPolicy::godo().total_wait_max(Duration::from_secs(5)),
        "GET",
        vec![status(500), status(500), status(500)],
        "0.000 1.000 3.000 -> err GET /v2/droplets/1: 500 Unexpected server-side error",
    );
    // A huge retry-after counts against the same bound.
    check(
        RetryPolicy::godo(),
        "GET",
        vec![status(429).with_header("retry-after", "100000")],
        "0.000 -> err GET /v2/droplets/1: 429 Unexpected server-side error",
    );
    // max_retries is capped at RETRIES_MAX.
    let replies = (0..=dosim_client::RETRIES_MAX + 5)
        .map(|_| status(500))
        .collect::<Vec<_>>();
    let policy = RetryPolicy::godo()
        .max_retries(u32::MAX)
        .wait(Duration::from_millis(1), Duration::from_millis(1))
        .total_wait_max(Duration::from_secs(3600));
    let sent = run(async {
        let script = Script::new(replies);
        let _ = script.client_with(policy).droplets().get(1).await;
        script.sent().len()
    });
    assert_eq!(sent, 1 + dosim_client::RETRIES_MAX as usize);
}

#[test]
fn jitter_is_deterministic() {
    let attempts = |seed: u64| {
        run(async move {
            let script = Script::new(vec![
                status(500),
                status(500),
                status(500),
                status(500),
                Reply::json(200, DROPLET),
            ]);
            script
                .client_with(RetryPolicy::godo().jitter(seed))
                .droplets()
                .get(1)
                .await
                .unwrap();
            script.sent().iter().map(|s| s.at).collect::<Vec<_>>()
        })
    };
    let first = attempts(41);
    assert_eq!(first, attempts(41), "the same seed waits the same");
    assert_ne!(first, attempts(42), "another seed waits otherwise");
    // Each wait lies in [backoff / 2, backoff].
    for (retry, pair) in first.windows(2).enumerate() {
        let wait = pair[1] - pair[0];
        let backoff = RetryPolicy::godo().backoff(retry as u32);
        assert!(
            wait >= backoff / 2 && wait <= backoff,
            "retry {retry}: waited {wait:?} for backoff {backoff:?}"
        );
    }
}
