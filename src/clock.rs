//! Time, handed in: the node, the ingester and the LAN session read the clock they were given,
//! never a process-wide one. Production uses [`SystemClock`]; a simulation runs days in
//! seconds with a [`ManualClock`] of its own, and two simulations in one process do not move
//! each other's time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> i64;
}

/// A clock as it is handed around.
pub type SharedClock = Arc<dyn Clock>;

/// The system's wall clock (0 before 1970).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that moves only when told: for simulations and tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock that reads `start` until it is moved.
    pub fn starting_at(start: i64) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(start)))
    }

    /// Moves it forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_alone() {
        let a = ManualClock::starting_at(1_000);
        let b = ManualClock::starting_at(1_000);
        a.advance(86_400_000);
        assert_eq!(a.now_ms(), 86_401_000);
        assert_eq!(b.now_ms(), 1_000);
        assert!(SystemClock.now_ms() > 1_700_000_000_000);
    }
}
