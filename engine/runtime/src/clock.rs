//! The two clocks of the runtime, kept apart on purpose.
//!
//! - **Event time** is what strategies, books, timers and the digest see: the timestamp of the
//!   event being processed. It lives in the events themselves and in
//!   [`ticklane_strategy::Context::now`]; nothing in this module feeds it.
//! - **Monotonic machine time** ([`HopClock`]) is only for measuring the engine itself (per-hop
//!   latency histograms) and for pacing replays. It never reaches a strategy or anything that
//!   decides an order, so a replay decides exactly what the live run decided.
//!
//! `HopClock` reads the CPU's invariant TSC through `quanta` (a few ns per read, against
//! 20–30 ns for `clock_gettime` through the vDSO), calibrated against the OS monotonic clock;
//! where no usable TSC exists `quanta` falls back to the OS clock. Readings on different cores
//! are comparable on CPUs with an invariant, synchronized TSC (every x86-64 server of the last
//! decade); the cross-core hops are measured that way.

/// A monotonic clock for measuring hops, in raw ticks converted to ns on demand.
#[derive(Clone, Debug)]
pub struct HopClock {
    inner: quanta::Clock,
}

impl Default for HopClock {
    fn default() -> Self {
        Self::new()
    }
}

impl HopClock {
    /// A calibrated clock (calibration is done once per process and shared).
    pub fn new() -> Self {
        Self {
            inner: quanta::Clock::new(),
        }
    }

    /// Raw reading (ticks): only meaningful as an argument of [`HopClock::nanos_between`].
    #[inline(always)]
    pub fn raw(&self) -> u64 {
        self.inner.raw()
    }

    /// Nanoseconds from `start` to `end` (0 if `end` is before `start`).
    #[inline(always)]
    pub fn nanos_between(&self, start: u64, end: u64) -> u64 {
        if end <= start {
            return 0;
        }
        self.inner.delta_as_nanos(start, end)
    }
}
