//! Unit tests of the backoff arithmetic and the jitter stream.

use std::time::Duration;

use super::{Jitter, RetryPolicy};

#[track_caller]
fn check(policy: &RetryPolicy, retry: u32, expect_ms: u64) {
    assert_eq!(
        policy.backoff(retry),
        Duration::from_millis(expect_ms),
        "retry {retry}"
    );
}

#[test]
fn backoff_doubles_and_caps_without_overflow() {
    let godo = RetryPolicy::godo();
    check(&godo, 0, 1_000);
    check(&godo, 3, 8_000);
    check(&godo, 4, 16_000);
    check(&godo, 5, 30_000);
    check(&godo, 31, 30_000);
    check(&godo, u32::MAX, 30_000);
    // A wait_max below wait_min means wait_min.
    let odd = RetryPolicy::godo().wait(Duration::from_secs(5), Duration::from_secs(1));
    check(&odd, 0, 5_000);
    check(&odd, 9, 5_000);
    check(&RetryPolicy::none(), 3, 0);
}

#[test]
fn jitter_without_a_seed_is_the_backoff() {
    let mut jitter = Jitter::new(None);
    assert_eq!(jitter.apply(Duration::from_secs(4)), Duration::from_secs(4));
    let mut seeded = Jitter::new(Some(7));
    assert_eq!(seeded.apply(Duration::ZERO), Duration::ZERO);
}
