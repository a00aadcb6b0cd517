//! Wall-clock timing for rates printed by the CLI. The binary is the only place outside the
//! runtime allowed to read the wall clock; nothing measured here feeds event processing.

use std::time::{Duration, Instant};

/// Measures elapsed wall time.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Starts now.
    #[allow(clippy::disallowed_methods)] // The binary's edge: rates for humans, not event time.
    pub fn start() -> Self {
        Self(Instant::now())
    }

    /// Time since start.
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    /// `count` per second since start (0 when no time has passed).
    pub fn rate(&self, count: u64) -> f64 {
        let s = self.elapsed().as_secs_f64();
        if s > 0.0 {
            count as f64 / s
        } else {
            0.0
        }
    }
}
