//! The control plane over HTTP: control requests shift no API request's `seq` or id, and the
//! history is bounded and read in pages.

mod common;

use common::{Api, TOKEN};
use serde_json::Value;

/// What the API answered: each response's `x-request-id` and status, then the history's seqs and ids.
async fn api_run(api: &Api, control_between: &[(&str, &str, Option<&str>)]) -> Vec<String> {
    let mut seen = Vec::new();
    for path in ["/v2/account", "/v2/droplets", "/v2/regions", "/v2/nope"] {
        let resp = api.call("GET", path, None).await;
        seen.push(format!(
            "{} {}",
            resp.headers["x-request-id"].to_str().unwrap(),
            resp.status
        ));
        for (method, control, body) in control_between {
            let resp = api.send(method, control, None, *body, &[]).await;
            assert!(resp.status < 300, "{control}: {}", resp.raw);
            let id = resp.headers["x-request-id"].to_str().unwrap();
            assert!(id.starts_with("control-"), "control request id {id}");
        }
    }
    for entry in api.server.history() {
        seen.push(format!("{} {}", entry.seq, entry.request_id));
    }
    seen
}

#[tokio::test]
async fn control_requests_consume_no_sequence_number_and_no_request_id() {
    let quiet = api_run(&Api::new(), &[]).await;
    for control in [
        vec![("GET", "/_dosim/history", None)],
        vec![
            ("GET", "/_dosim/state", None),
            ("GET", "/_dosim/faults", None),
        ],
        vec![
            ("PUT", "/_dosim/faults", Some(r#"{"rules":[]}"#)),
            ("GET", "/_dosim/history?limit=1", None),
        ],
    ] {
        assert_eq!(api_run(&Api::new(), &control).await, quiet, "{control:?}");
    }
}

async fn history_page(api: &Api, query: &str) -> (u16, Value) {
    let resp = api
        .send("GET", &format!("/_dosim/history{query}"), None, None, &[])
        .await;
    (resp.status, resp.json)
}

#[tokio::test]
async fn the_history_is_read_in_pages_in_seq_order() {
    let api = Api::new();
    for _ in 0..1005 {
        api.call("GET", "/v2/account", None).await;
    }
    // The default page.
    let (status, page) = history_page(&api, "").await;
    assert_eq!(status, 200);
    assert_eq!(page["history"].as_array().unwrap().len(), 1000);
    assert_eq!(page["next_after"], 999);
    let (_, last) = history_page(&api, "?after=999").await;
    assert_eq!(last["history"].as_array().unwrap().len(), 5);
    assert_eq!(last["next_after"], Value::Null);

    // Walking small pages visits every seq once, in order.
    let mut seqs = Vec::new();
    let mut query = "?limit=97".to_owned();
    loop {
        let (status, page) = history_page(&api, &query).await;
        assert_eq!(status, 200);
        seqs.extend(
            page["history"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_u64().unwrap()),
        );
        match page["next_after"].as_u64() {
            Some(after) => query = format!("?after={after}&limit=97"),
            None => break,
        }
    }
    assert_eq!(seqs, (0..1005).collect::<Vec<u64>>());

    // (query, status, message)
    for (query, status, message) in [
        ("?after=1004", 200, None),
        ("?after=99999", 200, None),
        ("?limit=10000", 200, None),
        (
            "?limit=0",
            400,
            Some("limit must be an integer from 1 to 10000"),
        ),
        (
            "?limit=10001",
            400,
            Some("limit must be an integer from 1 to 10000"),
        ),
        (
            "?limit=x",
            400,
            Some("limit must be an integer from 1 to 10000"),
        ),
        (
            "?after=-1",
            400,
            Some("after must be a history entry's seq"),
        ),
        ("?after=", 400, Some("after must be a history entry's seq")),
    ] {
        let (got, body) = history_page(&api, query).await;
        assert_eq!(got, status, "{query}: {body}");
        if let Some(message) = message {
            assert_eq!(body["id"], "bad_request", "{query}");
            assert!(
                body["message"].as_str().unwrap().starts_with(message),
                "{query}: {body}"
            );
            assert!(body["request_id"].is_string(), "{query}");
        } else {
            assert!(body["history"].is_array(), "{query}");
        }
    }
}

/// The seqs of a history page, its `next_after` and its `waiting_for`.
async fn page_seqs(api: &Api, query: &str) -> (Vec<u64>, Value, Value) {
    let (status, page) = history_page(api, query).await;
    assert_eq!(status, 200, "{query}: {page}");
    let seqs = page["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["seq"].as_u64().unwrap())
        .collect();
    (
        seqs,
        page["next_after"].clone(),
        page["waiting_for"].clone(),
    )
}

const DROPLET: &str =
    r#"{"name":"web-1","region":"nyc3","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64"}"#;

fn with_plan(toml: &str) -> Api {
    let plan = dosim_api::FaultPlan::from_toml(toml).unwrap();
    Api::with(|config| config.faults = plan)
}

#[tokio::test]
async fn a_page_holds_back_what_follows_a_request_still_in_flight() {
    let api = with_plan("[[rules]]\nmethod = \"POST\"\npath = \"/v2/droplets\"\nlatency = 200\n");
    let fast = async {
        // `join!` polled the slow create first: it has seq 0 and is inside its 200 ms.
        let (seqs, _, waiting) = page_seqs(&api, "").await;
        assert_eq!(
            (seqs, waiting),
            (vec![], Value::from(0)),
            "the create is in flight"
        );
        // These two land at once.
        api.call("GET", "/v2/account", None).await;
        api.call("GET", "/v2/account", None).await;
        assert_eq!(
            api.server.history().len(),
            2,
            "both fast entries are written"
        );
        page_seqs(&api, "").await
    };
    let (created, (seqs, next_after, waiting)) =
        tokio::join!(api.call("POST", "/v2/droplets", Some(DROPLET)), fast);
    assert_eq!(created.status, 202);
    // A reader that had paged on past seq 2 would never have seen seq 0.
    assert_eq!(
        (seqs, next_after, waiting),
        (vec![], Value::Null, Value::from(0)),
        "entries after a request in flight are held back"
    );
    let (seqs, next_after, waiting) = page_seqs(&api, "").await;
    assert_eq!(
        (seqs, next_after, waiting),
        (vec![0, 1, 2], Value::Null, Value::Null)
    );
}

#[tokio::test]
async fn a_request_abandoned_in_transit_holds_nothing_back() {
    let api =
        with_plan("[[rules]]\nmethod = \"POST\"\npath = \"/v2/droplets\"\nnetwork_latency = 200\n");
    let call = api.call("POST", "/v2/droplets", Some(DROPLET));
    let gave_up = tokio::time::timeout(std::time::Duration::from_millis(20), call).await;
    assert!(
        gave_up.is_err(),
        "the answer came before the client gave up"
    );
    api.call("GET", "/v2/account", None).await;
    // Seq 0 never reached the API and has no entry; it holds back nothing.
    let (seqs, next_after, waiting) = page_seqs(&api, "").await;
    assert_eq!(
        (seqs, next_after, waiting),
        (vec![1], Value::Null, Value::Null)
    );
}

#[tokio::test]
async fn the_history_is_bounded_in_bytes_and_cuts_long_paths_saying_so() {
    let api = Api::with(|config| config.history_bytes = 64 * 1024);
    let query = "a".repeat(60_000);
    for _ in 0..100 {
        let resp = api
            .send(
                "GET",
                &format!("/v2/account?q={query}"),
                Some(TOKEN),
                None,
                &[],
            )
            .await;
        assert_eq!(resp.status, 200);
    }
    let history = api.server.history();
    assert!(
        history.len() < 100 && history.len() > 10,
        "{} entries kept",
        history.len()
    );
    assert_eq!(history.last().unwrap().seq, 99);
    let path = &history[0].path;
    assert!(path.len() <= 2048, "{} bytes kept", path.len());
    assert!(
        path.ends_with(&format!(
            "… [truncated: {} bytes in all]",
            "/v2/account?q=".len() + query.len()
        )),
        "{path}"
    );
    let api = Api::with(|config| config.history_limit = 7);
    for _ in 0..20 {
        api.call("GET", "/v2/account", None).await;
    }
    let seqs: Vec<u64> = api.server.history().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (13..20).collect::<Vec<u64>>());
}

#[tokio::test]
async fn a_control_token_guards_every_control_endpoint() {
    let api = Api::with(|config| config.control_token = Some("s3cret-control".to_owned()));
    // (method, path, body)
    let endpoints = [
        ("GET", "/_dosim/state", None),
        ("GET", "/_dosim/history", None),
        ("GET", "/_dosim/faults", None),
        ("PUT", "/_dosim/faults", Some(r#"{"rules":[]}"#)),
        ("POST", "/_dosim/reset", None),
    ];
    for (method, path, body) in endpoints {
        // (authorization header, status)
        for (auth, status) in [
            (None, 401),
            (Some("Bearer wrong"), 401),
            (Some("Bearer s3cret-contro"), 401),
            (Some("s3cret-control"), 401),
            (Some(format!("Bearer {TOKEN}").as_str()), 401),
            (
                Some("Bearer s3cret-control"),
                if method == "POST" { 204 } else { 200 },
            ),
        ] {
            let headers: Vec<(&str, &str)> =
                auth.map(|a| ("authorization", a)).into_iter().collect();
            let resp = api.send(method, path, None, body, &headers).await;
            assert_eq!(
                resp.status, status,
                "{method} {path} {auth:?}: {}",
                resp.raw
            );
            if status == 401 {
                assert_eq!(resp.json["id"], "unauthorized", "{}", resp.raw);
            }
        }
    }
    // The API itself still takes account tokens.
    assert_eq!(api.call("GET", "/v2/account", None).await.status, 200);
}

#[tokio::test]
async fn the_state_dump_redacts_secrets_unless_asked() {
    let api = Api::new();
    let created = api
        .call(
            "POST",
            "/v2/databases",
            Some(r#"{"name":"backend","engine":"pg","version":"16","region":"nyc3","size":"db-s-1vcpu-1gb","num_nodes":1}"#),
        )
        .await;
    let id = created.json["database"]["id"].as_str().unwrap().to_owned();
    let password = created.json["database"]["connection"]["password"]
        .as_str()
        .unwrap()
        .to_owned();
    let user = api
        .call(
            "POST",
            &format!("/v2/databases/{id}/users"),
            Some(r#"{"name":"app"}"#),
        )
        .await;
    let user_password = user.json["user"]["password"].as_str().unwrap().to_owned();
    // (query, secrets shown)
    for (query, shown) in [
        ("", false),
        ("?secrets=false", false),
        ("?secrets=1", false),
        ("?secrets=true", true),
    ] {
        let resp = api
            .send("GET", &format!("/_dosim/state{query}"), None, None, &[])
            .await;
        assert_eq!(resp.status, 200);
        for secret in [&password, &user_password] {
            assert_eq!(resp.raw.contains(secret.as_str()), shown, "{query}");
        }
        assert_eq!(resp.raw.contains("[redacted]"), !shown, "{query}");
    }
}

#[tokio::test]
async fn a_saved_server_loads_and_answers_on_as_the_original() {
    let api = Api::new();
    for body in [
        r#"{"name":"pgdata","region":"nyc3","size_gigabytes":10}"#,
        r#"{"name":"other","region":"sfo3","size_gigabytes":5}"#,
    ] {
        assert_eq!(
            api.call("POST", "/v2/volumes", Some(body)).await.status,
            201
        );
    }
    api.call(
        "POST",
        "/v2/databases",
        Some(r#"{"name":"backend","engine":"pg","version":"16","region":"nyc3","size":"db-s-1vcpu-1gb","num_nodes":1}"#),
    )
    .await;
    api.advance_ms(5_000);
    let saved = api.server.save();
    let loaded = Api::new();
    assert_eq!(loaded.server.load(&saved), Ok(1));
    assert_eq!(loaded.state(), api.state());
    let next = r#"{"name":"third","region":"nyc3","size_gigabytes":1}"#;
    let a = api.call("POST", "/v2/volumes", Some(next)).await;
    let b = loaded.call("POST", "/v2/volumes", Some(next)).await;
    assert_eq!((a.status, &a.raw), (b.status, &b.raw));
    assert_eq!(a.headers["x-request-id"], b.headers["x-request-id"]);

    // (damage, error) — a refused load changes nothing.
    let text = String::from_utf8(saved.clone()).unwrap();
    for (bad, error) in [
        (text[..text.len() / 2].to_owned(), "not a saved state"),
        (text.replace("dosim-serve-state/1", "other/9"), "format"),
        (
            text.replace("\"seed\":7", "\"seed\":8"),
            "saved with --seed 8",
        ),
        (String::new(), "not a saved state"),
    ] {
        let fresh = Api::new();
        let got = fresh.server.load(bad.as_bytes()).unwrap_err();
        assert!(got.contains(error), "{error}: {got}");
        assert!(fresh.server.accounts().is_empty());
    }
}
