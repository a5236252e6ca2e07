//! Unit tests of the sliding rate-limit log.

use super::{RateLimitConfig, RateLog};

/// Sends `count` requests at `at_ms` and returns how many were accepted and the last retry-after.
#[track_caller]
fn check(
    config: RateLimitConfig,
    bursts: &[(u64, usize)],
    accepted: usize,
    last_retry_after_ms: Option<u64>,
) {
    let mut log = RateLog::new();
    let mut n_accepted = 0;
    let mut last = None;
    for &(at_ms, count) in bursts {
        for _ in 0..count {
            let status = log.check(config, at_ms);
            if status.retry_after_ms.is_none() {
                n_accepted += 1;
            }
            last = status.retry_after_ms;
        }
    }
    assert_eq!((n_accepted, last), (accepted, last_retry_after_ms));
}

#[test]
fn burst_limit_refuses_the_251st_request_of_a_minute() {
    check(RateLimitConfig::default(), &[(0, 251)], 250, Some(60_000));
}

#[test]
fn burst_frees_when_the_oldest_ages_out() {
    check(
        RateLimitConfig::default(),
        &[(0, 100), (30_000, 150), (59_999, 1)],
        250,
        Some(1),
    );
    check(
        RateLimitConfig::default(),
        &[(0, 100), (30_000, 150), (60_000, 100)],
        350,
        None,
    );
}

#[test]
fn hourly_limit_is_a_sliding_log() {
    let config = RateLimitConfig {
        hourly: 10,
        burst_per_minute: 250,
    };
    check(config, &[(0, 5), (1_000_000, 6)], 10, Some(2_600_000));
    check(config, &[(0, 5), (1_000_000, 5), (3_600_000, 5)], 15, None);
}
