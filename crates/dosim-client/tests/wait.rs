//! Waiting for actions and droplets: polls in simulated time until done, errored or past the deadline.

mod common;

use std::time::Duration;

use common::{run, Reply, Script};

fn action(status: &str) -> Reply {
    Reply::json(
        200,
        &format!(
            r#"{{"action":{{"id":7515,"status":"{status}","type":"create","resource_id":1,"resource_type":"droplet","completed_at":null}}}}"#
        ),
    )
}

fn droplet(status: &str) -> Reply {
    Reply::json(
        200,
        &format!(r#"{{"droplet":{{"id":1,"name":"a","status":"{status}"}}}}"#),
    )
}

/// Waits on `what` (`action`, `href` or `droplet`) with a 5 s interval and a 20 s deadline;
/// renders the polls (time and path) and the outcome.
#[track_caller]
fn check(what: &str, replies: Vec<Reply>, expect: &str) {
    let actual = run(async {
        let script = Script::new(replies);
        let client = script.client();
        let (interval, deadline) = (Duration::from_secs(5), Duration::from_secs(20));
        let outcome = match what {
            "action" => client
                .wait_for_action(7515)
                .poll_interval(interval)
                .timeout(deadline)
                .await
                .map(|a| format!("{:?}", a.status)),
            "href" => {
                match client.wait_for_action_href("https://api.digitalocean.com/v2/actions/7515") {
                    Ok(wait) => wait
                        .poll_interval(interval)
                        .timeout(deadline)
                        .await
                        .map(|a| format!("{:?}", a.status)),
                    Err(e) => Err(e),
                }
            }
            "droplet" => client
                .wait_for_droplet_active(1)
                .poll_interval(interval)
                .timeout(deadline)
                .await
                .map(|d| format!("{:?}", d.status)),
            other => panic!("{other}"),
        };
        let polls: Vec<String> = script
            .sent()
            .iter()
            .map(|s| format!("{}s {}", s.at.as_secs(), s.path))
            .collect();
        let outcome = match outcome {
            Ok(done) => done,
            Err(e) => format!("err {e}"),
        };
        format!("{}\n{outcome}", polls.join("\n"))
    });
    assert_eq!(actual, expect);
}

#[test]
fn actions() {
    check(
        "action",
        vec![
            action("in-progress"),
            action("in-progress"),
            action("completed"),
        ],
        "0s /v2/actions/7515\n5s /v2/actions/7515\n10s /v2/actions/7515\nCompleted",
    );
    check(
        "href",
        vec![action("completed")],
        "0s /v2/actions/7515\nCompleted",
    );
    check(
        "action",
        vec![action("in-progress"), action("errored")],
        "0s /v2/actions/7515\n5s /v2/actions/7515\nerr action 7515 (create) on droplet 1 errored",
    );
    check(
        "action",
        vec![action("in-progress"); 10],
        "0s /v2/actions/7515\n5s /v2/actions/7515\n10s /v2/actions/7515\n15s /v2/actions/7515\n20s /v2/actions/7515\nerr action 7515 did not finish within 20s",
    );
    check(
        "action",
        vec![action("in-progress"), Reply::json(404, r#"{"id":"not_found","message":"The resource you requested could not be found."}"#)],
        "0s /v2/actions/7515\n5s /v2/actions/7515\nerr GET /v2/actions/7515: 404 The resource you requested could not be found.",
    );
}

#[test]
fn droplets() {
    check(
        "droplet",
        vec![droplet("new"), droplet("active")],
        "0s /v2/droplets/1\n5s /v2/droplets/1\nActive",
    );
}

#[test]
fn bad_href() {
    let client = run(async { Script::new(vec![]).client() });
    for href in [
        "",
        "https://api.digitalocean.com/v2/actions/",
        "https://api.digitalocean.com/v2/actions/x",
    ] {
        assert!(client.wait_for_action_href(href).is_err(), "{href:?}");
    }
    assert!(client
        .wait_for_action_href("http://api.test/v2/actions/12/")
        .is_ok());
}
