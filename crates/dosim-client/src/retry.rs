//! The retry policy: which failures are retried, how long to wait, and the bounds on both.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The most retries any policy makes, whatever it asks for.
pub const RETRIES_MAX: u32 = 100;

/// Retries modelled on go-retryablehttp (what godo uses): transport errors, timeouts, 429 and every
/// 5xx except 501 are retried with exponential backoff between `wait_min` and `wait_max`.
///
/// Retrying a POST can duplicate what it creates when the first attempt was applied but its
/// response was lost; `retry_post` says whether to take that risk. A request that never reached
/// the server (a failed connect) is retried whatever the method.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; at most [`RETRIES_MAX`].
    pub max_retries: u32,
    /// The first backoff; it doubles with each retry.
    pub wait_min: Duration,
    /// The longest backoff.
    pub wait_max: Duration,
    /// Whether a per-attempt timeout is retried.
    pub retry_on_timeout: bool,
    /// Whether POST and PATCH are retried (after timeouts, transport errors and retryable statuses).
    pub retry_post: bool,
    /// Whether a `retry-after` header on a 429 or 503 replaces the computed backoff.
    pub honor_retry_after: bool,
    /// Seed for jitter. `None`: no jitter, every wait is exactly the backoff. `Some(seed)`: each wait
    /// is drawn uniformly from `[backoff / 2, backoff]` by a `ChaCha8Rng` seeded with `seed`, so the
    /// same seed gives the same waits.
    pub jitter_seed: Option<u64>,
    /// The most time spent sleeping between attempts of one call; a retry that would pass it is not made.
    pub total_wait_max: Duration,
}

impl RetryPolicy {
    /// No retries: every failure is returned at once. The default.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_retries: 0,
            wait_min: Duration::ZERO,
            wait_max: Duration::ZERO,
            retry_on_timeout: false,
            retry_post: false,
            honor_retry_after: false,
            jitter_seed: None,
            total_wait_max: Duration::ZERO,
        }
    }

    /// godo's `NewFromToken` defaults: 4 retries, backoff 1 s doubling to 30 s, no jitter, POST
    /// retried, `retry-after` honoured on 429 and 503.
    pub fn godo() -> RetryPolicy {
        RetryPolicy {
            max_retries: 4,
            wait_min: Duration::from_secs(1),
            wait_max: Duration::from_secs(30),
            retry_on_timeout: true,
            retry_post: true,
            honor_retry_after: true,
            jitter_seed: None,
            total_wait_max: Duration::from_secs(600),
        }
    }

    /// pydo's defaults (azure-core's `RetryPolicy`) as far as this policy can say them: 3 retries of
    /// each kind, backoff 0.8 s doubling to 120 s, `retry-after` honoured, POST not retried.
    /// azure-core does retry a POST on 500, 503 and 504; this policy does not.
    pub fn pydo() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            wait_min: Duration::from_millis(800),
            wait_max: Duration::from_secs(120),
            retry_on_timeout: true,
            retry_post: false,
            honor_retry_after: true,
            jitter_seed: None,
            total_wait_max: Duration::from_secs(600),
        }
    }

    /// The same policy with `max_retries` retries.
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// The same policy with backoff between `wait_min` and `wait_max`.
    pub fn wait(mut self, wait_min: Duration, wait_max: Duration) -> Self {
        self.wait_min = wait_min;
        self.wait_max = wait_max;
        self
    }

    /// The same policy, retrying POST or not.
    pub fn retry_post(mut self, retry_post: bool) -> Self {
        self.retry_post = retry_post;
        self
    }

    /// The same policy, retrying timeouts or not.
    pub fn retry_on_timeout(mut self, retry_on_timeout: bool) -> Self {
        self.retry_on_timeout = retry_on_timeout;
        self
    }

    /// The same policy, honouring `retry-after` or not.
    pub fn honor_retry_after(mut self, honor_retry_after: bool) -> Self {
        self.honor_retry_after = honor_retry_after;
        self
    }

    /// The same policy with deterministic jitter drawn from `seed`.
    pub fn jitter(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }

    /// The same policy with a bound on the total time slept per call.
    pub fn total_wait_max(mut self, total_wait_max: Duration) -> Self {
        self.total_wait_max = total_wait_max;
        self
    }

    /// The number of retries actually allowed.
    pub(crate) fn retries(&self) -> u32 {
        self.max_retries.min(RETRIES_MAX)
    }

    /// The backoff before retry number `retry` (0 for the first), without jitter:
    /// `wait_min * 2^retry`, capped at `wait_max`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let wait_max = self.wait_max.max(self.wait_min);
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.wait_min
            .checked_mul(factor)
            .map_or(wait_max, |wait| wait.min(wait_max))
    }
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy::none()
    }
}

/// The jitter stream of one client.
pub(crate) struct Jitter {
    rng: Option<ChaCha8Rng>,
}

impl Jitter {
    pub(crate) fn new(seed: Option<u64>) -> Jitter {
        Jitter {
            rng: seed.map(ChaCha8Rng::seed_from_u64),
        }
    }

    /// `wait` itself without jitter, else a draw from `[wait / 2, wait]`.
    pub(crate) fn apply(&mut self, wait: Duration) -> Duration {
        match &mut self.rng {
            None => wait,
            Some(rng) => {
                let wait_ns = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
                let half_ns = wait_ns / 2;
                Duration::from_nanos(half_ns + rng.random_range(0..=wait_ns - half_ns))
            }
        }
    }
}

#[cfg(test)]
mod tests;
