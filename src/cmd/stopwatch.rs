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
    #[allow(clippy::disallowed_methods)] // The binary's edge: rates for humans, not event time.
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}
