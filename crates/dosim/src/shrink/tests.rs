//! Unit tests of shrinking's parts: ddmin over known predicates, and fault ids as text.

use super::ddmin;
use crate::faults::{FaultId, FaultSet, ServerFaultKind};

/// ddmin over `0..n` where the failure needs every item of `needed`.
#[track_caller]
fn check_ddmin(n: u32, needed: &[u32], runs_max: u64, expected: (&[u32], bool)) {
    let items: Vec<u32> = (0..n).collect();
    let mut asked = 0u64;
    let (found, complete) = ddmin(&items, runs_max, |subset| {
        asked += 1;
        needed.iter().all(|item| subset.contains(item))
    });
    assert_eq!(
        (found.as_slice(), complete),
        expected,
        "needed {needed:?} of {n}"
    );
    assert!(asked <= runs_max, "{asked} runs past the limit {runs_max}");
}

#[test]
fn ddmin_finds_what_the_failure_needs() {
    check_ddmin(1, &[0], 100, (&[0], true));
    check_ddmin(1, &[], 100, (&[], true));
    check_ddmin(8, &[], 100, (&[], true));
    check_ddmin(8, &[5], 100, (&[5], true));
    check_ddmin(8, &[0, 7], 100, (&[0, 7], true));
    check_ddmin(16, &[3, 4, 11], 100, (&[3, 4, 11], true));
    check_ddmin(5, &[0, 1, 2, 3, 4], 100, (&[0, 1, 2, 3, 4], true));
    // Out of runs: what is left still fails, and says it may not be minimal.
    check_ddmin(16, &[3], 1, (&(0..16).collect::<Vec<_>>(), false));
    check_ddmin(16, &[3], 0, (&(0..16).collect::<Vec<_>>(), false));
}

#[test]
fn ddmin_finds_one_of_two_alternatives() {
    // Either fault alone breaks the check: one of them is enough.
    let (found, complete) = ddmin(&[1, 2], 100, |subset| !subset.is_empty());
    assert!(complete);
    assert_eq!(found.len(), 1, "{found:?}");
}

#[track_caller]
fn check_fault_set(text: &str, expected: Result<&str, &str>) {
    match (text.parse::<FaultSet>(), expected) {
        (Ok(set), Ok(shown)) => assert_eq!(set.to_string(), shown, "{text}"),
        (Err(error), Err(fragment)) => assert!(error.contains(fragment), "{text}: {error}"),
        (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
    }
}

#[test]
fn fault_sets_as_text() {
    check_fault_set("none", Ok("none"));
    check_fault_set("drop.0.0", Ok("drop.0.0"));
    check_fault_set("net.1,drop.0.2,reject.3.0", Ok("reject.3.0,drop.0.2,net.1"));
    check_fault_set("drop.0.0,drop.0.0", Ok("drop.0.0"));
    check_fault_set("drop.0", Err("is not a fault"));
    check_fault_set("lose.0.0", Err("is not a fault"));
    check_fault_set("net.x", Err("is not a fault"));
    check_fault_set("", Err("is not a fault"));
    assert_eq!(
        "reject.2.7".parse::<FaultId>(),
        Ok(FaultId::Server {
            kind: ServerFaultKind::Reject,
            rule: 2,
            occurrence: 7
        })
    );
}
