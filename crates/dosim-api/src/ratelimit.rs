//! Per-token rate limits: DigitalOcean's sliding one-hour log and its per-minute burst limit.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

const HOUR_MS: u64 = 3_600_000;
const MINUTE_MS: u64 = 60_000;

/// The two limits DigitalOcean applies to every token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitConfig {
    /// Requests per sliding hour (`ratelimit-limit`).
    pub hourly: u32,
    /// Requests per sliding minute.
    pub burst_per_minute: u32,
}

impl Default for RateLimitConfig {
    fn default() -> RateLimitConfig {
        RateLimitConfig {
            hourly: 5000,
            burst_per_minute: 250,
        }
    }
}

/// What the `ratelimit-*` headers say after a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateStatus {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds at which the oldest counted request leaves the hourly window.
    pub reset_ms: u64,
    /// Set when the request was refused: milliseconds until a request would be accepted.
    pub retry_after_ms: Option<u64>,
}

/// The accepted requests of the last hour for one token.
///
/// Each request has its own one-hour timer, as DigitalOcean documents. The log never holds
/// more than `hourly` entries, because a refused request is not logged.
#[derive(Clone, Debug, Default)]
pub struct RateLog {
    accepted_ms: VecDeque<u64>,
}

impl RateLog {
    pub fn new() -> RateLog {
        RateLog::default()
    }

    fn expire(&mut self, now_ms: u64) {
        while let Some(&oldest) = self.accepted_ms.front() {
            if oldest + HOUR_MS <= now_ms {
                self.accepted_ms.pop_front();
            } else {
                break;
            }
        }
    }

    fn in_last_minute(&self, now_ms: u64) -> usize {
        // The log is in arrival order, so a binary search finds the minute's start: a linear scan
        // would cost up to `burst_per_minute` steps on every request.
        let start = self
            .accepted_ms
            .partition_point(|&at| at + MINUTE_MS <= now_ms);
        self.accepted_ms.len() - start
    }

    /// Counts a request at `now_ms` if both limits allow it.
    pub fn check(&mut self, config: RateLimitConfig, now_ms: u64) -> RateStatus {
        self.expire(now_ms);
        let hourly = config.hourly as usize;
        let burst = config.burst_per_minute as usize;
        let retry_after_ms = if self.accepted_ms.len() >= hourly {
            // The oldest request frees a slot when its hour runs out.
            let oldest = self.accepted_ms.front().copied().unwrap_or(now_ms);
            Some((oldest + HOUR_MS).saturating_sub(now_ms))
        } else if burst > 0 && self.in_last_minute(now_ms) >= burst {
            // The burst frees a slot when the oldest request of the last minute ages out.
            let index = self.accepted_ms.len() - burst;
            let at = self.accepted_ms[index];
            Some((at + MINUTE_MS).saturating_sub(now_ms))
        } else if hourly == 0 || burst == 0 {
            Some(MINUTE_MS)
        } else {
            None
        };
        if retry_after_ms.is_none() {
            self.accepted_ms.push_back(now_ms);
        }
        self.status(config, now_ms, retry_after_ms)
    }

    /// The headers' view of the log without counting a request.
    pub fn peek(&mut self, config: RateLimitConfig, now_ms: u64) -> RateStatus {
        self.expire(now_ms);
        self.status(config, now_ms, None)
    }

    fn status(
        &self,
        config: RateLimitConfig,
        now_ms: u64,
        retry_after_ms: Option<u64>,
    ) -> RateStatus {
        let used = u32::try_from(self.accepted_ms.len()).unwrap_or(u32::MAX);
        let reset_ms = self
            .accepted_ms
            .front()
            .map_or(now_ms, |oldest| oldest + HOUR_MS);
        let remaining = if retry_after_ms.is_some()
            && self.in_last_minute(now_ms) >= config.burst_per_minute as usize
        {
            0
        } else {
            config.hourly.saturating_sub(used)
        };
        RateStatus {
            limit: config.hourly,
            remaining,
            reset_ms,
            retry_after_ms,
        }
    }
}

/// One endpoint's own limit: at most `limit` accepted requests in any `window_ms`, as
/// DigitalOcean applies to listing SSH keys (10 per 60 seconds), apart from the token's limits.
#[derive(Clone, Debug, Default)]
pub struct WindowLog {
    accepted_ms: VecDeque<u64>,
}

impl WindowLog {
    /// Counts a request at `now_ms`, or says how many milliseconds until one would be accepted.
    pub fn check(&mut self, limit: usize, window_ms: u64, now_ms: u64) -> Result<(), u64> {
        while self
            .accepted_ms
            .front()
            .is_some_and(|&at| at + window_ms <= now_ms)
        {
            self.accepted_ms.pop_front();
        }
        if self.accepted_ms.len() >= limit {
            let oldest = self.accepted_ms.front().copied().unwrap_or(now_ms);
            return Err((oldest + window_ms).saturating_sub(now_ms).max(1));
        }
        self.accepted_ms.push_back(now_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
