//! The `dosim` command line as a user meets it: help, list, explore, replay, and bad input.

use std::process::{Command, Output};

fn dosim(args: &[&str]) -> Output {
    Command::new(dosim_tests::dosim_binary())
        .args(args)
        .output()
        .expect("dosim runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

#[test]
fn every_command_has_help() {
    let top = dosim(&["--help"]);
    assert!(top.status.success());
    for command in ["serve", "list", "explore", "replay", "bench"] {
        assert!(
            stdout(&top).contains(command),
            "dosim --help does not name {command}"
        );
        let help = dosim(&[command, "--help"]);
        assert!(help.status.success(), "dosim {command} --help failed");
        assert!(stdout(&help).contains("Usage: dosim"), "{}", stdout(&help));
    }
    let serve = stdout(&dosim(&["serve", "--help"]));
    for flag in [
        "--addr",
        "--seed",
        "--faults",
        "--time-scale",
        "--base-url",
        "--rate-limit-hourly",
        "--rate-limit-burst",
        "--pg-host",
        "--pg-clusters-max",
        "--history-entries",
        "--history-bytes",
        "--header-timeout",
        "--body-timeout",
        "--max-connections",
        "--control-token",
        "--control-open",
        "--spaces-addr",
        "--spaces-conditional-put",
        "--spaces-conditional-put-for",
        "--spaces-rate-limit",
    ] {
        assert!(
            serve.contains(flag),
            "serve --help does not document {flag}"
        );
    }
}

#[test]
fn list_names_every_race_with_its_fix() {
    let output = dosim(&["list", "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let list: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let scenarios = list.as_array().expect("a list of scenarios");
    let race: Vec<&str> = scenarios
        .iter()
        .filter(|s| s["expect"] == "race")
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    // A race's fix is `<race>_fixed`, or is named after how it fixes it (`lost_update_for_update`).
    for race in &race {
        let prefix = format!("{race}_");
        assert!(
            scenarios.iter().any(|s| s["expect"] == "clean"
                && s["name"].as_str().is_some_and(|n| n.starts_with(&prefix))),
            "{race} has no clean {prefix}… fix"
        );
    }
    for row in [
        "retried_create_duplicates",
        "two_pods_create_one_volume",
        "two_pods_attach_one_volume",
        "reserved_ip_failover",
        "pending_event",
        "retry_storm",
        "delete_races_attach",
        "lost_update",
        "write_skew",
        "lease_expiry",
        "ranked_failover",
        "job_double_claim",
        "dns_record_duplicates",
        "firewall_lost_droplet",
    ] {
        assert!(race.contains(&row), "the catalog lacks {row}");
    }
}

#[test]
fn explore_exits_zero_when_outcomes_match_expectations() {
    let output = dosim(&[
        "explore",
        "two_pods_create_one_volume",
        "two_pods_create_one_volume_fixed",
        "--seeds",
        "0..20",
        "--format",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let results: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let results = results.as_array().expect("one result per scenario");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["found"], "race");
    assert_eq!(
        results[0]["report"]["seed"], results[0]["first_failing_seed"],
        "the report is the first failing seed's"
    );
    assert_eq!(results[1]["found"], "clean");
    assert_eq!(results[1]["seeds_run"], 20);
}

#[test]
fn replay_prints_the_same_report_every_time() {
    let first = dosim(&["replay", "retried_create_duplicates", "--seed", "3"]);
    let second = dosim(&["replay", "retried_create_duplicates", "--seed", "3"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first), stdout(&second));
    let text = stdout(&first);
    assert!(
        text.starts_with("race in retried_create_duplicates, seed 3 (random)\n"),
        "{text}"
    );
    assert!(
        text.contains("dosim replay retried_create_duplicates --seed 3"),
        "{text}"
    );
    let trace = dosim(&[
        "replay",
        "retried_create_duplicates",
        "--seed",
        "3",
        "--trace",
    ]);
    assert!(trace.status.success());
    assert!(
        stdout(&trace).len() > text.len(),
        "the trace is the long form"
    );
}

#[track_caller]
fn check_refused(args: &[&str], names: &str) {
    let output = dosim(args);
    assert!(!output.status.success(), "dosim {args:?} succeeded");
    let message = stderr(&output);
    assert!(
        message.contains(names),
        "dosim {args:?}: the error does not name {names:?}: {message}"
    );
    assert!(
        !message.contains("panicked") && !message.contains("Stack backtrace"),
        "{message}"
    );
}

#[test]
fn bad_input_is_refused_with_the_flag_named() {
    check_refused(&["serve", "--time-scale", "0"], "--time-scale");
    check_refused(&["serve", "--faults", "/nonexistent/plan.toml"], "--faults");
    check_refused(&["serve", "--addr", "not-an-address"], "--addr");
    check_refused(&["serve", "--rate-limit-burst", "0"], "--rate-limit-burst");
    check_refused(
        &["serve", "--spaces-conditional-put", "sometimes"],
        "--spaces-conditional-put",
    );
    for bad in ["no-equals", "acct-1=sometimes", "someone=ignored"] {
        check_refused(
            &["serve", "--spaces-conditional-put-for", bad],
            "--spaces-conditional-put-for",
        );
    }
    check_refused(
        &["replay", "no_such_scenario", "--seed", "1"],
        "no_such_scenario",
    );
    check_refused(&["explore", "--seeds", "ten"], "--seeds");
}
