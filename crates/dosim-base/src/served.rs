//! What a data plane's wire keeps for one served cluster besides its engine, the same for
//! PostgreSQL and Valkey: the tokio instant its simulated time counts from, the numbering of its
//! connections, the gate its operations pass, and who observes them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::gate::{Gate, Open};
use crate::SimTime;

/// One served cluster's clock, connection numbers, gate and observer (an `O`, the plane's own
/// observer trait).
pub struct Served<O: ?Sized> {
    base: OnceLock<Instant>,
    connections: AtomicU64,
    gate: Mutex<Arc<dyn Gate>>,
    observer: Mutex<Option<Arc<O>>>,
}

impl<O: ?Sized> Default for Served<O> {
    /// No time base yet, no connections, the gate that admits at once, and no observer.
    fn default() -> Served<O> {
        Served {
            base: OnceLock::new(),
            connections: AtomicU64::new(0),
            gate: Mutex::new(Arc::new(Open)),
            observer: Mutex::new(None),
        }
    }
}

impl<O: ?Sized> Served<O> {
    /// Fixes the tokio instant that is `SimTime::ZERO`; otherwise it is the first time it is read.
    pub fn set_time_base(&self, base: Instant) {
        let _ = self.base.set(base);
    }

    fn base(&self) -> Instant {
        *self.base.get_or_init(Instant::now)
    }

    /// The simulated time now, in whole milliseconds since the base.
    pub fn now(&self) -> SimTime {
        SimTime::from_ms(self.base().elapsed().as_millis() as u64)
    }

    /// The tokio instant of a simulated time, to sleep until a deadline of the engine's.
    pub fn instant_of(&self, t: SimTime) -> Instant {
        self.base() + Duration::from_millis(t.as_ms())
    }

    /// The next connection's number, from 0 in the order they are handed over.
    pub fn next_connection(&self) -> u64 {
        self.connections.fetch_add(1, Ordering::SeqCst)
    }

    /// Admits every operation through `gate` from now on.
    pub fn set_gate(&self, gate: Arc<dyn Gate>) {
        *self.gate.lock() = gate;
    }

    /// The gate operations pass now.
    pub fn gate(&self) -> Arc<dyn Gate> {
        self.gate.lock().clone()
    }

    /// Tells `observer` of what happens from now on.
    pub fn set_observer(&self, observer: Arc<O>) {
        *self.observer.lock() = Some(observer);
    }

    /// Who observes now, if anyone.
    pub fn observer(&self) -> Option<Arc<O>> {
        self.observer.lock().clone()
    }
}
