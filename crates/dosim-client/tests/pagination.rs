//! Lists: every form of `links`, and `.all()` following `links.pages.next`.

mod common;

use common::{run, Reply, Script};

fn volume(name: &str) -> String {
    format!(
        r#"{{"id":"{name}-id","name":"{name}","size_gigabytes":10,"droplet_ids":null,"tags":null}}"#
    )
}

fn page(names: &[&str], links: &str) -> Reply {
    let volumes: Vec<String> = names.iter().map(|n| volume(n)).collect();
    Reply::json(
        200,
        &format!(
            r#"{{"volumes":[{}],{links}"meta":{{"total":5}}}}"#,
            volumes.join(",")
        ),
    )
}

/// Reads every page of `GET /v2/volumes?region=nyc3` from `replies`; renders the names and the paths requested.
#[track_caller]
fn check(per_page: Option<u32>, replies: Vec<Reply>, expect: &str) {
    let actual = run(async {
        let script = Script::new(replies);
        let client = script.client();
        let mut list = client.volumes().list().region("nyc3");
        if let Some(per_page) = per_page {
            list = list.per_page(per_page);
        }
        let outcome = match list.all().await {
            Ok(volumes) => volumes
                .iter()
                .map(|v| v.name.clone())
                .collect::<Vec<_>>()
                .join(","),
            Err(e) => format!("err {e}"),
        };
        let paths: Vec<String> = script.sent().iter().map(|s| s.path.clone()).collect();
        format!("{outcome}\n{}", paths.join("\n"))
    });
    assert_eq!(actual, expect);
}

#[test]
fn one_page_in_every_links_form() {
    check(None, vec![page(&["a"], "")], "a\n/v2/volumes?region=nyc3");
    check(
        None,
        vec![page(&["a"], r#""links":{},"#)],
        "a\n/v2/volumes?region=nyc3",
    );
    check(
        None,
        vec![page(&["a"], r#""links":{"pages":{}},"#)],
        "a\n/v2/volumes?region=nyc3",
    );
    check(
        None,
        vec![page(&["a"], r#""links":null,"#)],
        "a\n/v2/volumes?region=nyc3",
    );
    check(
        None,
        vec![page(&[], r#""links":{"pages":null},"#)],
        "\n/v2/volumes?region=nyc3",
    );
}

#[test]
fn follows_next_by_its_page_parameter() {
    check(
        Some(2),
        vec![
            page(&["a", "b"], r#""links":{"pages":{"next":"http://elsewhere/v2/volumes?page=2&per_page=2","last":"http://elsewhere/v2/volumes?page=3&per_page=2"}},"#),
            page(&["c", "d"], r#""links":{"pages":{"first":"x?page=1","prev":"x?page=1","next":"https://api.digitalocean.com/v2/volumes?per_page=2&page=3"}},"#),
            page(&["e"], r#""links":{"pages":{"first":"x?page=1","prev":"x?page=2"}},"#),
        ],
        "a,b,c,d,e\n/v2/volumes?region=nyc3&per_page=2\n/v2/volumes?region=nyc3&page=2&per_page=2\n/v2/volumes?region=nyc3&page=3&per_page=2",
    );
}

#[test]
fn a_next_that_does_not_advance_ends_the_list() {
    check(
        None,
        vec![
            page(&["a"], r#""links":{"pages":{"next":"x?page=2"}},"#),
            page(&["b"], r#""links":{"pages":{"next":"x?page=2"}},"#),
        ],
        "a,b\n/v2/volumes?region=nyc3\n/v2/volumes?region=nyc3&page=2",
    );
    check(
        None,
        vec![page(
            &["a"],
            r#""links":{"pages":{"next":"x?per_page=3"}},"#,
        )],
        "a\n/v2/volumes?region=nyc3",
    );
}

#[test]
fn an_error_mid_list_is_returned() {
    check(
        None,
        vec![
            page(&["a"], r#""links":{"pages":{"next":"x?page=2"}},"#),
            Reply::json(429, r#"{"id":"too_many_requests","message":"API Rate limit exceeded."}"#),
        ],
        "err GET /v2/volumes?region=nyc3&page=2: 429 API Rate limit exceeded.\n/v2/volumes?region=nyc3\n/v2/volumes?region=nyc3&page=2",
    );
}

#[test]
fn a_page_reports_its_links_and_total() {
    let page = run(async {
        let script = Script::new(vec![Reply::fixture(200, "sizes_list_200_default.json")]);
        script
            .client()
            .sizes()
            .list()
            .per_page(1)
            .send()
            .await
            .unwrap()
    });
    assert_eq!(
        (page.items.len(), page.meta.total, page.next_page()),
        (1, Some(64), Some(2))
    );
    assert_eq!(
        page.links.pages.last.as_deref(),
        Some("https://api.digitalocean.com/v2/sizes?page=64&per_page=1")
    );
}

/// A page decodes straight from the body: other members are skipped, `null` reads as empty,
/// the last of a repeated key wins, and a missing array or trailing bytes are decode errors.
#[test]
fn a_page_decodes_from_its_key_and_the_rest_is_skipped() {
    let outcome = run(async {
        let script = Script::new(vec![
            Reply::json(
                200,
                &format!(
                    r#"{{"extra": [1, {{"x": null}}], "volumes": [{}], "links": null, "meta": {{"total": 9}}, "volumes": [{}]}}"#,
                    volume("first"),
                    volume("last")
                ),
            ),
            Reply::json(200, r#"{"volumes": null, "links": {}, "meta": null}"#),
            Reply::json(200, r#"{"links": {}, "meta": {"total": 0}}"#),
            Reply::json(200, r#"{"volumes": []} trailing"#),
        ]);
        let client = script.client();
        let mut results = Vec::new();
        for _ in 0..4 {
            results.push(client.volumes().list().all().await);
        }
        results
    });
    let names = |index: usize| -> Vec<String> {
        outcome[index]
            .as_ref()
            .expect("decodes")
            .iter()
            .map(|v| v.name.clone())
            .collect()
    };
    assert_eq!(names(0), ["last"]);
    assert!(names(1).is_empty());
    for (index, text) in [(2, "missing field `volumes`"), (3, "trailing characters")] {
        let error = outcome[index].as_ref().unwrap_err();
        assert!(
            matches!(error, dosim_client::Error::Decode { status: 200, .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains(text), "{error}");
    }
}
