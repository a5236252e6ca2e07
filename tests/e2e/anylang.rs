//! `dosim test`: programs in other languages (Python with pydo, a shell script with curl) run
//! against a fresh server per seed, their races found, reported and replayed.

use std::path::PathBuf;
use std::process::{Command, Output};

fn python() -> PathBuf {
    let python = std::env::var("DOSIM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| dosim_tests::root().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "no Python environment at {}: create it with `scripts/test.sh` (or point DOSIM_PYTHON at a python with pydo)",
        python.display()
    );
    python
}

fn dosim_test(args: &[&str]) -> Output {
    Command::new(dosim_tests::dosim_binary())
        .current_dir(dosim_tests::root())
        .arg("test")
        .args(args)
        .output()
        .expect("dosim runs")
}

/// Runs `dosim test` with `args`, which must fail (exit 1); its text report.
#[track_caller]
fn failed_text(args: &[&str]) -> String {
    let output = dosim_test(args);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(1), "{text}");
    text
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "dosim test --format json printed no JSON ({error}):\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn two_pydo_threads_ensuring_one_volume_are_found_reported_and_replayed() {
    let python = python();
    let python = python.to_str().expect("a UTF-8 path");
    let output = dosim_test(&[
        "--seeds",
        "0..30",
        "--reproduce",
        "3",
        "--format",
        "json",
        "--",
        python,
        "tests/anylang/ensure_volume.py",
    ]);
    assert_eq!(output.status.code(), Some(1), "a failing seed exits 1");
    let result = json(&output);
    assert_eq!(result["failed"], true);
    let report = &result["reports"][0];
    assert_eq!(report["violations"][0]["check"], "exit-status");
    let stderr = report["stderr_tail"].to_string();
    assert!(
        stderr.contains("already exists"),
        "the losing worker's 409: {stderr}"
    );
    // Both lists commit before either create: the timeline names both workers.
    let timeline: Vec<String> = report["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .map(|line| line.as_str().unwrap_or_default().to_owned())
        .collect();
    let lists = timeline.iter().position(|line| line.contains("POST"));
    assert_eq!(lists, Some(2), "two lists, then the creates: {timeline:#?}");
    assert!(timeline[..2].iter().any(|line| line.contains("worker-1")));
    assert!(timeline[..2].iter().any(|line| line.contains("worker-2")));
    assert_eq!(report["reproduction"]["runs"], 3);
    let seed = report["seed"].as_u64().expect("a seed").to_string();
    assert!(report["replay"]
        .as_str()
        .is_some_and(|replay| replay.starts_with(&format!("dosim test --seed {seed} "))));

    // The replay line's seed, run on its own, prints its report.
    let replay = Command::new(dosim_tests::dosim_binary())
        .current_dir(dosim_tests::root())
        .args(["test", "--seed", &seed, "--reproduce", "0", "--", python])
        .arg("tests/anylang/ensure_volume.py")
        .output()
        .expect("dosim runs");
    let text = String::from_utf8_lossy(&replay.stdout);
    assert!(
        text.contains(&format!(", seed {seed} (random)")),
        "the replayed seed's report: {text}"
    );
}

#[test]
fn the_fixed_pydo_program_is_clean_over_fifty_seeds() {
    let python = python();
    let output = dosim_test(&[
        "--seeds",
        "0..50",
        "--jobs",
        "2",
        "--",
        python.to_str().expect("a UTF-8 path"),
        "tests/anylang/ensure_volume.py",
        "--fixed",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "the fix is clean: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("clean:") && stdout.contains("50 seeds"),
        "{stdout}"
    );
}

#[test]
fn a_curl_script_that_retries_a_create_after_a_lost_response_makes_two_droplets() {
    let saved = std::env::temp_dir().join(format!("dosim-anylang-saved-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&saved);
    let text = failed_text(&[
        "--seeds",
        "0..20",
        "--faults",
        "tests/anylang/lost-create.toml",
        "--reproduce",
        "2",
        "--save-failures",
        saved.to_str().expect("a UTF-8 path"),
        "--",
        "sh",
        "tests/anylang/retry_create.sh",
    ]);
    assert!(
        text.starts_with(
            "failed: no-duplicate-droplets in `sh tests/anylang/retry_create.sh`, seed "
        ),
        "{text}"
    );
    assert!(text.contains("droplets named web-1"), "{text}");
    assert!(
        text.contains("response lost after commit (reset): deploy POST /v2/droplets"),
        "{text}"
    );
    assert!(text.contains("reproduced: "), "{text}");
    // One lost response is all it takes, whatever else the seed fired.
    assert!(
        text.contains("  minimal: 1 fault needed: the response to deploy's POST /v2/droplets was lost after commit (reset)\n"),
        "{text}"
    );
    if let Some(line) = text.lines().find(|l| l.contains("replay minimal: ")) {
        assert!(line.contains(" --only-faults drop.0."), "{line}");
    }
    let seed = text
        .split(", seed ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("the first line names the seed");
    for file in ["txt", "json", "history.json", "state.json", "stderr.txt"] {
        let path = if file == "txt" || file == "json" {
            saved.join(format!("seed-{seed}.{file}"))
        } else {
            saved.join(format!("seed-{seed}-{file}"))
        };
        assert!(path.exists(), "--save-failures wrote {}", path.display());
    }
    let history = std::fs::read_to_string(saved.join(format!("seed-{seed}-history.json")))
        .expect("the history is saved");
    assert!(history.contains("drop_response"), "{history}");
    let _ = std::fs::remove_dir_all(&saved);
}

#[test]
fn help_lists_the_checks_the_environment_and_the_exit_statuses() {
    let output = dosim_test(&["--help"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    for needle in [
        "* exit-status",
        "no-unattached-volumes",
        "DIGITALOCEAN_API_URL",
        "TF_VAR_do_token",
        "x-dosim-actor",
        "--strategy",
        "--reproduce",
        "--check-command",
        "Exit status: 0",
    ] {
        assert!(text.contains(needle), "--help mentions {needle}: {text}");
    }
}

#[test]
fn the_check_command_sees_the_state_and_history_and_can_fail_the_run() {
    let text = failed_text(&[
        "--seed",
        "4",
        "--check-command",
        "grep -q '\"POST\"' \"$DOSIM_HISTORY\" && grep -q web-1 \"$DOSIM_STATE\" && echo found it && exit 3",
        "--reproduce",
        "0",
        "--",
        "sh",
        "tests/anylang/retry_create.sh",
    ]);
    assert!(text.contains("check failed: check-command"), "{text}");
    assert!(
        text.contains("exited with status 3") && text.contains("found it"),
        "{text}"
    );
}

#[test]
fn a_command_past_its_timeout_is_killed_with_its_group_and_reported() {
    let text = failed_text(&[
        "--seed",
        "0",
        "--timeout",
        "0.5",
        "--reproduce",
        "0",
        "--",
        "sh",
        "-c",
        "sleep 30 & sleep 30",
    ]);
    assert!(text.contains("the command timed out"), "{text}");
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    for (args, flag) in [
        (&["--time-scale", "0", "--", "true"][..], "--time-scale"),
        (&["--check", "nope", "--", "true"][..], "--check"),
        (&["--seeds", "5..2", "--", "true"][..], "--seeds"),
        (
            &["--faults", "/nonexistent.toml", "--", "true"][..],
            "--faults",
        ),
    ] {
        let output = dosim_test(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?} names {flag}: {stderr}");
    }
    let output = dosim_test(&["--seeds", "0..2"]);
    assert_eq!(output.status.code(), Some(2), "no command is a usage error");
}

#[test]
fn no_orphans_names_the_droplets_whose_create_response_was_lost() {
    // Seed 0 loses the first create's response (the script is sequential, so its fault
    // decisions replay exactly).
    let text = failed_text(&[
        "--seed",
        "0",
        "--check",
        "no-orphans",
        "--faults",
        "tests/anylang/lost-create.toml",
        "--reproduce",
        "0",
        "--",
        "sh",
        "tests/anylang/retry_create.sh",
    ]);
    assert!(text.starts_with("failed: no-orphans in "), "{text}");
    assert!(
        text.contains("created by POST /v2/droplets") && text.contains("is never named again"),
        "{text}"
    );
    assert!(
        !text.contains("check failed: no-duplicate-droplets"),
        "only the checks asked for run: {text}"
    );
}

/// PostgreSQL clusters the program creates answer at their URIs, Spaces at `AWS_ENDPOINT_URL` with
/// the key pair in the environment, and `--require-db`/`--require-db-user` check what must exist.
#[test]
fn the_program_reaches_postgres_and_spaces_and_required_dbs_and_users_are_checked() {
    let python = python();
    let python = python.to_str().expect("a UTF-8 path");
    let output = dosim_test(&[
        "--seed",
        "2",
        "--require-db",
        "ledger/books",
        "--require-db-user",
        "ledger/app",
        "--check-command",
        "grep -q '\"reports\"' \"$DOSIM_STATE\"",
        "--format",
        "json",
        "--",
        python,
        "tests/anylang/provision_data.py",
    ]);
    let result = json(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{result:#}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(result["reports"][0]["violations"], serde_json::json!([]));

    let output = dosim_test(&[
        "--seed",
        "2",
        "--require-db",
        "ledger/archive",
        "--require-db-user",
        "ledger/app",
        "--require-db-user",
        "audit/reader",
        "--reproduce",
        "0",
        "--format",
        "json",
        "--",
        python,
        "tests/anylang/provision_data.py",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let result = json(&output);
    let violations = &result["reports"][0]["violations"];
    assert_eq!(violations[0]["check"], "database-users-and-dbs-present");
    assert_eq!(
        violations[0]["message"],
        "no cluster audit (wanted its user reader)\ncluster ledger has no db archive"
    );

    let bad = dosim_test(&["--require-db", "ledger", "--", "true"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--require-db") && stderr.contains("CLUSTER/NAME"),
        "{stderr}"
    );
}

#[test]
fn the_opt_in_checks_name_a_shared_claim_tag_and_a_volume_left_detached() {
    let output = dosim_test(&[
        "--seed",
        "1",
        "--check",
        "no-shared-tags",
        "--check",
        "no-detached-volumes",
        "--check",
        "exit-status",
        "--reproduce",
        "0",
        "--format",
        "json",
        "--",
        "sh",
        "tests/anylang/claim_and_detach.sh",
    ]);
    let result = json(&output);
    assert_eq!(output.status.code(), Some(1), "{result:#}");
    let violations = result["reports"][0]["violations"]
        .as_array()
        .expect("violations")
        .clone();
    let checks: Vec<&str> = violations
        .iter()
        .map(|v| v["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        ["no-shared-tags", "no-detached-volumes"],
        "{result:#}"
    );
    let shared = violations[0]["message"].as_str().unwrap();
    assert!(
        shared.starts_with("tag primary is on 2: db-a (") && shared.contains("db-b ("),
        "{shared}"
    );
    let detached = violations[1]["message"].as_str().unwrap();
    assert!(
        detached.starts_with("volumes attached during the run end attached to nothing: pgdata ("),
        "{detached}"
    );
}
