//! The S3 wire through the router: addressing, signatures on simulated time, grants, unsupported operations, error bodies, and the gate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use dosim_base::gate::{Admission, Gate, Operation, Permit};
use dosim_base::SimTime;
use dosim_cloud::{SpacesGrant, SpacesKey, SpacesPermission};
use dosim_spaces::sigv4::{self, uri_encode};
use dosim_spaces::{KeyStore, Spaces, SpacesConfig};
use http::{Request, StatusCode};
use parking_lot::Mutex;
use tower::ServiceExt;

const SECRET: &str = "secretsecretsecretsecretsecretsecretsecret1";

struct Keys;

impl KeyStore for Keys {
    fn key(&self, access_key: &str) -> Option<(String, SpacesKey)> {
        let permission = match access_key {
            "DO00FULL" => SpacesPermission::FullAccess,
            "DO00READ" => SpacesPermission::Read,
            _ => return None,
        };
        let bucket = if permission == SpacesPermission::FullAccess {
            ""
        } else {
            "bkt"
        };
        Some((
            "acct".to_owned(),
            SpacesKey {
                name: "k".into(),
                access_key: access_key.into(),
                secret_key: SECRET.into(),
                grants: vec![SpacesGrant {
                    bucket: bucket.into(),
                    permission,
                }],
                created_at: SimTime::ZERO,
            },
        ))
    }
}

/// Records what it admits.
#[derive(Default)]
struct Recording(Mutex<Vec<String>>);

impl Gate for Recording {
    fn admit(&self, operation: Operation) -> Admission {
        self.0
            .lock()
            .push(format!("{} {}", operation.plane, operation.summary));
        Box::pin(async { Permit::free() })
    }
}

struct Fixture {
    spaces: Spaces,
    now_ms: Arc<AtomicU64>,
    gate: Arc<Recording>,
}

fn fixture() -> Fixture {
    let now_ms = Arc::new(AtomicU64::new(0));
    let clock = now_ms.clone();
    let spaces = Spaces::new(
        SpacesConfig::default(),
        Arc::new(Keys),
        Arc::new(move || SimTime(clock.load(Ordering::SeqCst))),
    );
    let gate = Arc::new(Recording::default());
    spaces.set_gate(gate.clone());
    Fixture {
        spaces,
        now_ms,
        gate,
    }
}

fn amz_date(now: SimTime) -> String {
    // SimTime's RFC 3339 form, compacted: 2026-01-01T00:00:05Z → 20260101T000005Z.
    now.rfc3339().replace(['-', ':'], "")
}

/// A request signed in the header with SigV4 at simulated time `now`.
fn signed(
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    body: &[u8],
    access_key: &str,
    now: SimTime,
) -> Request<Body> {
    let date = amz_date(now);
    let scope = format!("{}/nyc3/s3/aws4_request", &date[..8]);
    let payload = sigv4::sha256_hex(body);
    let mut headers = http::HeaderMap::new();
    headers.insert("host", host.parse().unwrap());
    headers.insert("x-amz-date", date.parse().unwrap());
    headers.insert("x-amz-content-sha256", payload.parse().unwrap());
    let claim = sigv4::Claim {
        access_key: access_key.into(),
        presigned: false,
        amz_date: date.clone(),
        scope: scope.clone(),
        signed_headers: vec![
            "host".into(),
            "x-amz-content-sha256".into(),
            "x-amz-date".into(),
        ],
        signature: String::new(),
        expires: None,
    };
    let signable = sigv4::Signable {
        method,
        path,
        query,
        headers: &headers,
    };
    let signature = signature_of(&signable, &claim);
    let uri = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    request
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}"),
        )
        .body(Body::from(body.to_vec()))
        .unwrap()
}

fn signature_of(signable: &sigv4::Signable<'_>, claim: &sigv4::Claim) -> String {
    let canonical = sigv4::canonical_request(signable, claim);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{}\n{}",
        claim.amz_date,
        claim.scope,
        sigv4::sha256_hex(canonical.as_bytes())
    );
    let key = sigv4::signing_key(SECRET, &claim.scope).unwrap();
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(to_sign.as_bytes());
    dosim_spaces::store::hex(&mac.finalize().into_bytes())
}

/// A presigned GET URL's path and query, made at `now` for `expires` seconds.
fn presigned(host: &str, path: &str, now: SimTime, expires: u32) -> Request<Body> {
    let date = amz_date(now);
    let scope = format!("{}/nyc3/s3/aws4_request", &date[..8]);
    let query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host",
        uri_encode(format!("DO00FULL/{scope}").as_bytes(), false)
    );
    let mut headers = http::HeaderMap::new();
    headers.insert("host", host.parse().unwrap());
    let claim = sigv4::Claim {
        access_key: "DO00FULL".into(),
        presigned: true,
        amz_date: date,
        scope,
        signed_headers: vec!["host".into()],
        signature: String::new(),
        expires: Some(i64::from(expires)),
    };
    let signable = sigv4::Signable {
        method: "GET",
        path,
        query: &query,
        headers: &headers,
    };
    let signature = signature_of(&signable, &claim);
    Request::builder()
        .uri(format!("{path}?{query}&X-Amz-Signature={signature}"))
        .header("host", host)
        .body(Body::empty())
        .unwrap()
}

async fn send(spaces: &Spaces, request: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let response = spaces.router().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

const HOST: &str = "nyc3.digitaloceanspaces.com";

#[tokio::test]
async fn addressing_grants_errors_and_the_gate() {
    let f = fixture();
    let now = SimTime(5_000);
    f.now_ms.store(now.0, Ordering::SeqCst);
    let full = |method, host, path, query, body: &[u8]| {
        signed(method, host, path, query, body, "DO00FULL", now)
    };
    // (request, status, error code or a piece of the body)
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (full("PUT", HOST, "/bkt", "", b""), StatusCode::OK, ""),
        (full("PUT", HOST, "/bkt/a%20b.txt", "", b"hello"), StatusCode::OK, ""),
        // Virtual-hosted: the bucket in the host, the key in the path.
        (full("GET", "bkt.nyc3.digitaloceanspaces.com", "/a%20b.txt", "", b""), StatusCode::OK, "hello"),
        (full("GET", HOST, "/bkt", "location", b""), StatusCode::OK, "<LocationConstraint"),
        (full("GET", HOST, "/bkt/missing", "", b""), StatusCode::NOT_FOUND, "<Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Resource>/bkt/missing</Resource><RequestId>tx"),
        (full("HEAD", HOST, "/bkt/missing", "", b""), StatusCode::NOT_FOUND, ""),
        (full("GET", HOST, "/bkt", "policy", b""), StatusCode::NOT_IMPLEMENTED, "<Code>NotImplemented</Code>"),
        (full("GET", HOST, "/bkt", "cors", b""), StatusCode::NOT_IMPLEMENTED, "<Code>NotImplemented</Code>"),
        (full("PUT", HOST, "/other-bkt", "", b""), StatusCode::OK, ""),
        // A read-only key reads its bucket, and nothing else.
        (signed("GET", HOST, "/bkt", "list-type=2", b"", "DO00READ", now), StatusCode::OK, "<Key>a b.txt</Key>"),
        (signed("PUT", HOST, "/bkt/x", "", b"x", "DO00READ", now), StatusCode::FORBIDDEN, "<Code>AccessDenied</Code>"),
        (signed("GET", HOST, "/other-bkt", "", b"", "DO00READ", now), StatusCode::FORBIDDEN, "<Code>AccessDenied</Code>"),
        (signed("GET", HOST, "/bkt", "", b"", "DO00NOPE", now), StatusCode::FORBIDDEN, "<Code>InvalidAccessKeyId</Code>"),
        // Anonymous: a private object is refused.
        (Request::builder().uri("/bkt/a%20b.txt").header("host", HOST).body(Body::empty()).unwrap(), StatusCode::FORBIDDEN, "<Code>AccessDenied</Code>"),
        (full("DELETE", HOST, "/bkt", "", b""), StatusCode::CONFLICT, "<Code>BucketNotEmpty</Code>"),
    ];
    for (index, (request, status, expect)) in cases.into_iter().enumerate() {
        let (got, headers, body) = send(&f.spaces, request).await;
        assert_eq!(got, status, "case {index}: {body}");
        assert!(body.contains(expect), "case {index}: {body}");
        assert!(headers
            .get("x-amz-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .ends_with("-nyc3a"));
        if status == StatusCode::NOT_FOUND && body.is_empty() {
            assert!(headers.get("content-length").is_none_or(|l| l == "0"));
        }
    }
    // Only requests that change state, and reached their operation, pass the gate.
    assert_eq!(
        *f.gate.0.lock(),
        [
            "spaces CreateBucket bkt",
            "spaces PutObject bkt/a b.txt",
            "spaces CreateBucket other-bkt",
            "spaces DeleteBucket bkt",
        ]
    );
    let log = f.spaces.log();
    assert_eq!(log.len(), 15);
    assert_eq!(
        (log[1].operation, log[1].status, log[1].etag.as_deref()),
        ("PutObject", 200, Some("5d41402abc4b2a76b9719d911017c592"))
    );
}

#[tokio::test]
async fn signatures_are_checked_against_simulated_time() {
    let f = fixture();
    f.now_ms.store(1_000_000, Ordering::SeqCst);
    let made = SimTime(1_000_000);
    send(
        &f.spaces,
        signed("PUT", HOST, "/bkt", "", b"", "DO00FULL", made),
    )
    .await;
    send(
        &f.spaces,
        signed("PUT", HOST, "/bkt/k", "", b"v", "DO00FULL", made),
    )
    .await;
    // (simulated time of the request, status)
    let cases = [
        (1_000_000 + 59_000, StatusCode::OK),
        (1_000_000 + 60_000, StatusCode::OK),
        (1_000_000 + 61_000, StatusCode::FORBIDDEN),
    ];
    for (now, status) in cases {
        f.now_ms.store(now, Ordering::SeqCst);
        let (got, _, body) = send(&f.spaces, presigned(HOST, "/bkt/k", made, 60)).await;
        assert_eq!(got, status, "at {now}: {body}");
    }
    // Header signatures may be 15 minutes off simulated time, not more.
    for (offset_ms, status) in [
        (14 * 60_000, StatusCode::OK),
        (16 * 60_000, StatusCode::FORBIDDEN),
    ] {
        f.now_ms.store(1_000_000 + offset_ms, Ordering::SeqCst);
        let (got, _, body) = send(
            &f.spaces,
            signed("GET", HOST, "/bkt/k", "", b"", "DO00FULL", made),
        )
        .await;
        assert_eq!(got, status, "{body}");
        if status == StatusCode::FORBIDDEN {
            assert!(body.contains("<Code>RequestTimeTooSkewed</Code>"));
        }
    }
}

#[tokio::test]
async fn slow_down_past_the_bucket_rate() {
    let now_ms = Arc::new(AtomicU64::new(0));
    let clock = now_ms.clone();
    let spaces = Spaces::new(
        SpacesConfig {
            bucket_requests_per_second: Some(2),
            ..SpacesConfig::default()
        },
        Arc::new(Keys),
        Arc::new(move || SimTime(clock.load(Ordering::SeqCst))),
    );
    // (simulated ms, status): two requests per bucket per simulated second.
    let cases = [
        (0, StatusCode::OK),
        (100, StatusCode::NOT_FOUND),
        (900, StatusCode::SERVICE_UNAVAILABLE),
        (1_000, StatusCode::NOT_FOUND),
    ];
    for (index, (at, status)) in cases.into_iter().enumerate() {
        now_ms.store(at, Ordering::SeqCst);
        let request = if index == 0 {
            signed("PUT", HOST, "/bkt", "", b"", "DO00FULL", SimTime(at))
        } else {
            signed("GET", HOST, "/bkt/none", "", b"", "DO00FULL", SimTime(at))
        };
        let (got, _, body) = send(&spaces, request).await;
        assert_eq!(got, status, "at {at}: {body}");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(body.contains(
                "<Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
            ));
        }
    }
}

/// Spaces with the API server's fault plan (its rules for `service = "spaces"`) as its fault hook.
fn with_faults(plan: &str) -> Fixture {
    let f = fixture();
    let server = dosim_api::Server::new(dosim_api::ServerConfig {
        faults: dosim_api::FaultPlan::from_toml(plan).unwrap(),
        ..Default::default()
    });
    f.spaces.set_faults(Arc::new(server));
    f
}

fn stored(spaces: &Spaces, key: &str) -> Option<String> {
    spaces.with_store(|store| {
        store
            .get_object("bkt", key, None, &Default::default())
            .ok()
            .map(|v| String::from_utf8_lossy(&v.body).into_owned())
    })
}

fn logged_fault(spaces: &Spaces, key: &str) -> Option<dosim_api::InjectedFault> {
    let log = spaces.log();
    let entry = log.iter().rfind(|e| e.key.as_deref() == Some(key)).unwrap();
    entry.fault.clone()
}

/// Rejections answer S3's XML (or a proxy's page) and commit nothing; rules for the API leave Spaces alone.
#[tokio::test]
async fn injected_rejections_commit_nothing() {
    let f = with_faults(
        r#"
        [[rules]]
        path = "/bkt/**"
        reject = { status = 503 }
        [[rules]]
        service = "spaces"
        method = "PUT"
        path = "/bkt/slow/**"
        reject = { status = 503 }
        [[rules]]
        service = "spaces"
        method = "PUT"
        path = "/bkt/broken"
        reject = { status = 500 }
        [[rules]]
        service = "spaces"
        method = "PUT"
        path = "/bkt/proxied"
        reject = { status = 503, body = "html" }
        "#,
    );
    let now = SimTime::ZERO;
    let put = |path| signed("PUT", HOST, path, "", b"data", "DO00FULL", now);
    let cases = [
        ("/bkt", StatusCode::OK, ""),
        ("/bkt/fine", StatusCode::OK, ""),
        ("/bkt/slow/a", StatusCode::SERVICE_UNAVAILABLE, "<Code>SlowDown</Code><Message>Please reduce your request rate.</Message><Resource>/bkt/slow/a</Resource>"),
        ("/bkt/broken", StatusCode::INTERNAL_SERVER_ERROR, "<Code>InternalError</Code>"),
        ("/bkt/proxied", StatusCode::SERVICE_UNAVAILABLE, "<h1>503 Service Unavailable</h1>"),
    ];
    for (path, status, expect) in cases {
        let (got, headers, body) = send(&f.spaces, put(path)).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.contains(expect), "{path}: {body}");
        assert!(headers.contains_key("x-amz-request-id"), "{path}");
    }
    assert_eq!(stored(&f.spaces, "fine").as_deref(), Some("data"));
    for key in ["slow/a", "broken", "proxied"] {
        assert_eq!(stored(&f.spaces, key), None, "{key}");
        assert!(
            matches!(
                logged_fault(&f.spaces, key),
                Some(dosim_api::InjectedFault::Reject { .. })
            ),
            "{key}"
        );
    }
    // A rejected write never reached the gate.
    assert_eq!(
        *f.gate.0.lock(),
        ["spaces CreateBucket bkt", "spaces PutObject bkt/fine"]
    );
}

/// A lost response: the write commits, the client's read of the body fails, the log keeps the fault.
#[tokio::test]
async fn a_lost_response_still_commits() {
    let f = with_faults(
        r#"
        [[rules]]
        service = "spaces"
        method = "PUT"
        path = "/bkt/*"
        drop_response = {}
        "#,
    );
    let now = SimTime::ZERO;
    send(
        &f.spaces,
        signed("PUT", HOST, "/bkt", "", b"", "DO00FULL", now),
    )
    .await;
    let response = f
        .spaces
        .router()
        .oneshot(signed("PUT", HOST, "/bkt/k", "", b"kept", "DO00FULL", now))
        .await
        .unwrap();
    let read = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    assert!(read.is_err(), "the body should fail: {read:?}");
    assert_eq!(stored(&f.spaces, "k").as_deref(), Some("kept"));
    assert_eq!(
        logged_fault(&f.spaces, "k"),
        Some(dosim_api::InjectedFault::DropResponse {
            rule: 0,
            mode: dosim_api::DropMode::Reset,
            hang_ms: dosim_api::faults::DEFAULT_HANG_MS,
        })
    );
}

/// A client that gives up during network latency cancels its write; during processing latency it does not.
#[tokio::test(start_paused = true)]
async fn latency_in_transit_can_be_cancelled_latency_in_processing_cannot() {
    let f = with_faults(
        r#"
        [[rules]]
        service = "spaces"
        path = "/bkt/in-transit"
        network_latency = 500
        [[rules]]
        service = "spaces"
        path = "/bkt/processing"
        latency = 500
        "#,
    );
    let now = SimTime::ZERO;
    send(
        &f.spaces,
        signed("PUT", HOST, "/bkt", "", b"", "DO00FULL", now),
    )
    .await;
    for key in ["in-transit", "processing"] {
        let path = format!("/bkt/{key}");
        let request = signed("PUT", HOST, &path, "", b"x", "DO00FULL", now);
        let gave_up = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            send(&f.spaces, request),
        )
        .await;
        assert!(gave_up.is_err(), "{key}: the client should time out");
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(stored(&f.spaces, "in-transit"), None);
    assert_eq!(stored(&f.spaces, "processing").as_deref(), Some("x"));
    assert_eq!(
        logged_fault(&f.spaces, "processing"),
        Some(dosim_api::InjectedFault::Latency {
            rule: 1,
            stage: dosim_api::LatencyStage::Processing,
            latency_ms: 500,
        })
    );
}

/// The request log keeps the newest entries within its byte budget: requests for long keys
/// push the oldest out, and what is kept stays under the budget.
#[tokio::test]
async fn the_request_log_keeps_within_its_bytes() {
    let log_bytes_limit = 16 * 1024;
    let spaces = Spaces::new(
        SpacesConfig {
            bucket_requests_per_second: None,
            log_bytes_limit,
            ..SpacesConfig::default()
        },
        Arc::new(Keys),
        Arc::new(|| SimTime(0)),
    );
    let (status, _, body) = send(
        &spaces,
        signed("PUT", HOST, "/bkt", "", b"", "DO00FULL", SimTime(0)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let keys: Vec<String> = (0..40)
        .map(|n| format!("{n:04}-{}", "k".repeat(1000)))
        .collect();
    for key in &keys {
        let path = format!("/bkt/{key}");
        let (status, _, body) = send(
            &spaces,
            signed("GET", HOST, &path, "", b"", "DO00FULL", SimTime(0)),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    let log = spaces.log();
    let logged: Vec<&str> = log
        .iter()
        .filter_map(|entry| entry.key.as_deref())
        .collect();
    assert!(
        logged.len() < keys.len() && !logged.is_empty(),
        "{} kept",
        logged.len()
    );
    let newest: Vec<&str> = keys[keys.len() - logged.len()..]
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(logged, newest);
    let held: usize = log
        .iter()
        .map(|entry| entry.key.as_ref().map_or(0, String::len))
        .sum();
    assert!(held <= log_bytes_limit, "{held} bytes of keys held");
}
