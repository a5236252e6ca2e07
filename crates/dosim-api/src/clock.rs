//! The server's clock: simulated milliseconds since the fixed epoch, never the wall clock.

use std::sync::OnceLock;
use std::time::Duration;

pub use dosim_base::EPOCH_UNIX_S;

/// Where the server reads elapsed time from.
///
/// `dosim serve` uses [`TokioClock`]; a simulation harness supplies one that reads its
/// own simulated time, so the server never depends on the runtime it was created in.
pub trait Clock: Send + Sync + 'static {
    /// Time elapsed since the server started, before `time_scale` is applied.
    fn elapsed(&self) -> Duration;
}

/// Elapsed time from `tokio::time::Instant`, starting at the first reading.
///
/// The start is captured lazily so that a server built outside any runtime starts its
/// clock inside the runtime that serves it (tokio's paused clock, or turmoil's).
#[derive(Debug, Default)]
pub struct TokioClock {
    start: OnceLock<tokio::time::Instant>,
}

impl TokioClock {
    pub fn new() -> TokioClock {
        TokioClock::default()
    }
}

impl Clock for TokioClock {
    fn elapsed(&self) -> Duration {
        let start = *self.start.get_or_init(tokio::time::Instant::now);
        tokio::time::Instant::now().saturating_duration_since(start)
    }
}

/// A clock that only moves when told to, for tests and for harnesses that step time.
#[derive(Debug, Default)]
pub struct ManualClock {
    elapsed_ms: std::sync::atomic::AtomicU64,
}

impl ManualClock {
    pub fn new() -> ManualClock {
        ManualClock::default()
    }

    pub fn advance(&self, by: Duration) {
        let by_ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.elapsed_ms
            .fetch_add(by_ms, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn set_elapsed(&self, elapsed: Duration) {
        let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.elapsed_ms
            .store(elapsed_ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.elapsed_ms.load(std::sync::atomic::Ordering::SeqCst))
    }
}

impl<C: Clock> Clock for std::sync::Arc<C> {
    fn elapsed(&self) -> Duration {
        (**self).elapsed()
    }
}

/// Scales a clock reading into simulated milliseconds.
pub(crate) fn scaled_ms(elapsed: Duration, time_scale: f64) -> u64 {
    let ms = elapsed.as_secs_f64() * 1000.0 * time_scale;
    if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    }
}

/// Unix epoch seconds of a simulated instant, for headers such as `ratelimit-reset`.
pub fn unix_seconds(sim_ms: u64) -> u64 {
    EPOCH_UNIX_S + sim_ms / 1000
}
