//! The race catalog under `cargo test`: every buggy variant races (its report is a snapshot),
//! every fixed variant stays clean, and every scenario runs the same twice on one seed.

use dosim::{Expect, Scenario};

/// The catalog's scenario called `name`.
#[track_caller]
fn scenario(name: &str) -> Scenario {
    dosim_sims::catalog()
        .into_iter()
        .find(|scenario| scenario.name() == name)
        .unwrap_or_else(|| panic!("the catalog has no scenario {name}"))
}

/// Explores `name` and checks it expects `expect`; a buggy variant's report is asserted as the
/// snapshot `snapshots/<name>.snap`.
#[track_caller]
fn check(name: &str, expect: Expect) {
    let scenario = scenario(name);
    assert_eq!(scenario.expectation(), expect, "{name} expects {expect}");
    scenario.explore();
}

#[test]
fn retried_create_duplicates() {
    check("retried_create_duplicates", Expect::Race);
}

#[test]
fn retried_create_duplicates_fixed() {
    check("retried_create_duplicates_fixed", Expect::Clean);
}

#[test]
fn two_pods_create_one_volume() {
    check("two_pods_create_one_volume", Expect::Race);
}

#[test]
fn two_pods_create_one_volume_fixed() {
    check("two_pods_create_one_volume_fixed", Expect::Clean);
}

#[test]
fn two_pods_attach_one_volume() {
    check("two_pods_attach_one_volume", Expect::Race);
}

#[test]
fn two_pods_attach_one_volume_fixed() {
    check("two_pods_attach_one_volume_fixed", Expect::Clean);
}

#[test]
fn reserved_ip_failover() {
    check("reserved_ip_failover", Expect::Race);
}

#[test]
fn reserved_ip_failover_fixed() {
    check("reserved_ip_failover_fixed", Expect::Clean);
}

#[test]
fn reserved_ip_failover_advisory_lock() {
    check("reserved_ip_failover_advisory_lock", Expect::Clean);
}

#[test]
fn pending_event() {
    check("pending_event", Expect::Race);
}

#[test]
fn pending_event_fixed() {
    check("pending_event_fixed", Expect::Clean);
}

#[test]
fn retry_storm() {
    check("retry_storm", Expect::Race);
}

#[test]
fn retry_storm_fixed() {
    check("retry_storm_fixed", Expect::Clean);
}

#[test]
fn delete_races_attach() {
    check("delete_races_attach", Expect::Race);
}

#[test]
fn delete_races_attach_fixed() {
    check("delete_races_attach_fixed", Expect::Clean);
}

#[test]
fn lost_update() {
    check("lost_update", Expect::Race);
}

#[test]
fn lost_update_for_update() {
    check("lost_update_for_update", Expect::Clean);
}

#[test]
fn lost_update_atomic() {
    check("lost_update_atomic", Expect::Clean);
}

#[test]
fn lost_update_serializable() {
    check("lost_update_serializable", Expect::Clean);
}

#[test]
fn write_skew() {
    check("write_skew", Expect::Race);
}

#[test]
fn write_skew_fixed() {
    check("write_skew_fixed", Expect::Clean);
}

#[test]
fn lease_expiry() {
    check("lease_expiry", Expect::Race);
}

#[test]
fn lease_expiry_fenced() {
    check("lease_expiry_fenced", Expect::Clean);
}

#[test]
fn ranked_failover() {
    check("ranked_failover", Expect::Race);
}

#[test]
fn ranked_failover_fixed() {
    check("ranked_failover_fixed", Expect::Clean);
}

#[test]
fn job_double_claim() {
    check("job_double_claim", Expect::Race);
}

#[test]
fn job_double_claim_fixed() {
    check("job_double_claim_fixed", Expect::Clean);
}

#[test]
fn dns_record_duplicates() {
    check("dns_record_duplicates", Expect::Race);
}

#[test]
fn dns_record_duplicates_fixed() {
    check("dns_record_duplicates_fixed", Expect::Clean);
}

#[test]
fn firewall_lost_droplet() {
    check("firewall_lost_droplet", Expect::Race);
}

#[test]
fn firewall_lost_droplet_fixed() {
    check("firewall_lost_droplet_fixed", Expect::Clean);
}

#[test]
fn valkey_lease() {
    check("valkey_lease", Expect::Race);
}

#[test]
fn valkey_lease_fenced() {
    check("valkey_lease_fenced", Expect::Clean);
}

#[test]
fn valkey_unlock_del() {
    check("valkey_unlock_del", Expect::Race);
}

#[test]
fn valkey_unlock_del_fixed() {
    check("valkey_unlock_del_fixed", Expect::Clean);
}

#[test]
fn valkey_setnx_expire() {
    check("valkey_setnx_expire", Expect::Race);
}

#[test]
fn valkey_setnx_expire_fixed() {
    check("valkey_setnx_expire_fixed", Expect::Clean);
}

#[test]
fn valkey_rate_limit() {
    check("valkey_rate_limit", Expect::Race);
}

#[test]
fn valkey_rate_limit_fixed() {
    check("valkey_rate_limit_fixed", Expect::Clean);
}

#[test]
fn valkey_watch_late() {
    check("valkey_watch_late", Expect::Race);
}

#[test]
fn valkey_watch_late_fixed() {
    check("valkey_watch_late_fixed", Expect::Clean);
}

#[test]
fn spaces_upload_if_absent() {
    check("spaces_upload_if_absent", Expect::Race);
}

#[test]
fn spaces_upload_if_absent_fixed() {
    check("spaces_upload_if_absent_fixed", Expect::Clean);
}

#[test]
fn spaces_lock_flag() {
    check("spaces_lock_flag", Expect::Race);
}

#[test]
fn spaces_lock_flag_fixed() {
    check("spaces_lock_flag_fixed", Expect::Clean);
}

#[test]
fn spaces_delete_upload() {
    check("spaces_delete_upload", Expect::Race);
}

#[test]
fn spaces_delete_upload_fixed() {
    check("spaces_delete_upload_fixed", Expect::Clean);
}

#[test]
fn spaces_copy_metadata() {
    check("spaces_copy_metadata", Expect::Race);
}

#[test]
fn spaces_copy_metadata_fixed() {
    check("spaces_copy_metadata_fixed", Expect::Clean);
}

#[test]
fn pooled_advisory_lock() {
    check("pooled_advisory_lock", Expect::Race);
}

#[test]
fn pooled_advisory_lock_fixed() {
    check("pooled_advisory_lock_fixed", Expect::Clean);
}

/// Each buggy variant comes first, followed by its fixes: `<race>_fixed`, or `<race>_<how>` when a race has several.
#[test]
fn every_race_has_its_fix_side_by_side() {
    let names: Vec<(String, Expect)> = dosim_sims::catalog()
        .iter()
        .map(|scenario| (scenario.name().to_owned(), scenario.expectation()))
        .collect();
    assert_eq!(names.len(), 51, "{names:?}");
    let mut races = 0;
    let mut current: Option<&str> = None;
    let mut fixes = 0;
    for (name, expect) in &names {
        match expect {
            Expect::Race => {
                if let Some(buggy) = current {
                    assert!(fixes > 0, "{buggy} has no fix after it");
                }
                current = Some(name);
                fixes = 0;
                races += 1;
            }
            Expect::Clean => {
                let buggy = current.unwrap_or_else(|| panic!("{name} follows no race"));
                assert!(
                    name.starts_with(&format!("{buggy}_")),
                    "{name} does not fix {buggy}"
                );
                fixes += 1;
            }
        }
    }
    assert!(fixes > 0, "the last race has no fix after it");
    assert_eq!(races, 24, "{names:?}");
}

#[test]
fn a_seed_runs_the_same_twice() {
    for scenario in dosim_sims::catalog() {
        for seed in 0..2 {
            let first = scenario.run(seed);
            let second = scenario.run(seed);
            assert!(
                first.sim_error.is_none(),
                "{} seed {seed} stopped early: {:?}",
                scenario.name(),
                first.sim_error
            );
            assert!(
                !first.ops.is_empty(),
                "{} seed {seed} sent no requests",
                scenario.name()
            );
            assert_eq!(
                first.trace(),
                second.trace(),
                "{} seed {seed} ran two ways",
                scenario.name()
            );
        }
    }
}

#[test]
fn different_seeds_take_different_paths() {
    for name in ["two_pods_attach_one_volume", "delete_races_attach"] {
        let scenario = scenario(name);
        let hashes: std::collections::BTreeSet<u64> =
            (0..8).map(|seed| scenario.run(seed).trace_hash()).collect();
        assert!(hashes.len() > 1, "{name}: eight seeds gave one trace");
    }
}

/// docs/catalog.md shows each race's committed report; `scripts/catalog-reports.py` copies them.
#[test]
fn the_catalog_doc_shows_the_committed_reports() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../docs/catalog.md")).expect("docs/catalog.md");
    for scenario in dosim_sims::catalog() {
        if scenario.expectation() != Expect::Race {
            continue;
        }
        let name = scenario.name();
        let snapshot = std::fs::read_to_string(root.join(format!("tests/snapshots/{name}.snap")))
            .unwrap_or_else(|_| panic!("{name} has no committed report"));
        let report = snapshot
            .split_once("\n---\n")
            .map(|(_, report)| report.trim_matches('\n'))
            .expect("an insta snapshot has a header");
        assert!(
            doc.contains(report),
            "docs/catalog.md does not show {name}'s committed report: run scripts/catalog-reports.py"
        );
    }
}
