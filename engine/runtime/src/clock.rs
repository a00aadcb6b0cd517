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
    /// Nanoseconds in 2^32 ticks (for turning an age in ns back into ticks).
    ns_per_2_32_ticks: u64,
}

impl Default for HopClock {
    fn default() -> Self {
        Self::new()
    }
}

impl HopClock {
    /// A calibrated clock (calibration is done once per process and shared).
    pub fn new() -> Self {
        let inner = quanta::Clock::new();
        let ns_per_2_32_ticks = inner.delta_as_nanos(0, 1 << 32).max(1);
        Self {
            inner,
            ns_per_2_32_ticks,
        }
    }

    /// A clock that reads what the returned handle sets (one tick per ns, starting at 0), for
    /// tests that check which span each stamp ends up in.
    pub fn mock() -> (Self, std::sync::Arc<quanta::Mock>) {
        let (inner, mock) = quanta::Clock::mock();
        (
            Self {
                inner,
                ns_per_2_32_ticks: 1 << 32,
            },
            mock,
        )
    }

    /// The raw reading `age_ns` nanoseconds before `raw` (for a stamp taken elsewhere, e.g. a
    /// kernel receive timestamp turned into an age).
    #[inline]
    pub fn raw_before(&self, raw: u64, age_ns: u64) -> u64 {
        let ticks = (u128::from(age_ns) << 32) / u128::from(self.ns_per_2_32_ticks);
        raw.saturating_sub(u64::try_from(ticks).unwrap_or(u64::MAX))
    }

    /// Raw reading (ticks): only meaningful as an argument of [`HopClock::nanos_between`].
    #[inline(always)]
    #[allow(clippy::disallowed_methods)] // The one sanctioned machine clock: measuring hops.
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

#[cfg(test)]
mod tests {
    use super::HopClock;

    #[test]
    fn raw_before_inverts_nanos_between() {
        let c = HopClock::new();
        let now = c.raw();
        for age in [0u64, 1_000, 1_000_000, 250_000_000] {
            let then = c.raw_before(now, age);
            let back = c.nanos_between(then, now);
            // Rounding of the tick ratio only: within 0.1% + 2 ns.
            assert!(back.abs_diff(age) <= age / 1000 + 2, "age {age} -> {back}");
        }
        assert_eq!(c.raw_before(5, u64::MAX), 0);
    }
}
