//! What a thread does when it has nothing to do: the lane's ring is empty, or the feed's target
//! ring is full.
//!
//! Busy spinning gives the lowest latency and burns a whole core; on a machine with fewer cores
//! than busy threads (a 2-core laptop, CI) it starves the other side. `SpinYield` spins a
//! while, then yields the core; `Park` sleeps between polls.

use std::time::Duration;

/// Idle policy of a thread (`idle = "spin" | "spin-yield" | "park"` in the configuration).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IdlePolicy {
    /// Poll continuously (`core::hint::spin_loop`).
    Spin,
    /// Spin `spins` polls, then `thread::yield_now` between polls.
    SpinYield {
        /// Polls spent spinning before yielding.
        spins: u32,
    },
    /// Spin `spins` polls, then sleep `micros` between polls.
    Park {
        /// Polls spent spinning before sleeping.
        spins: u32,
        /// Sleep per poll, µs.
        micros: u32,
    },
}

impl Default for IdlePolicy {
    fn default() -> Self {
        Self::SpinYield { spins: 1024 }
    }
}

impl IdlePolicy {
    /// Parses `spin`, `spin-yield` or `park`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "spin" => Some(Self::Spin),
            "spin-yield" => Some(Self::default()),
            "park" => Some(Self::Park {
                spins: 256,
                micros: 50,
            }),
            _ => None,
        }
    }
}

/// Per-wait state of an [`IdlePolicy`]: call [`Backoff::snooze`] on every empty poll and
/// [`Backoff::reset`] on progress.
#[derive(Debug)]
pub struct Backoff {
    policy: IdlePolicy,
    polls: u32,
}

impl Backoff {
    /// A fresh backoff.
    pub fn new(policy: IdlePolicy) -> Self {
        Self { policy, polls: 0 }
    }

    /// Progress was made.
    #[inline(always)]
    pub fn reset(&mut self) {
        self.polls = 0;
    }

    /// Nothing to do this poll.
    #[inline]
    pub fn snooze(&mut self) {
        self.polls = self.polls.saturating_add(1);
        match self.policy {
            IdlePolicy::Spin => core::hint::spin_loop(),
            IdlePolicy::SpinYield { spins } => {
                if self.polls < spins {
                    core::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            IdlePolicy::Park { spins, micros } => {
                if self.polls < spins {
                    core::hint::spin_loop();
                } else {
                    std::thread::sleep(Duration::from_micros(u64::from(micros)));
                }
            }
        }
    }
}
