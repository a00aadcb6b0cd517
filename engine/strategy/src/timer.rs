//! Event-time timers: a strategy arms one with [`Context::set_timer`](crate::Context::set_timer);
//! the lane fires it when event time reaches its deadline.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use ticklane_core::Timestamp;

use crate::context::StrategyId;

/// A strategy's name for one of its timers (its meaning is the strategy's own).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TimerId(pub u64);

/// Pending timers of a lane, fired in (deadline, arming order): deterministic.
#[derive(Debug, Default)]
pub struct TimerQueue {
    heap: BinaryHeap<Reverse<(Timestamp, u64, StrategyId, TimerId)>>,
    armed: u64,
}

impl TimerQueue {
    /// A queue with room for `capacity` timers before it first grows.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            heap: BinaryHeap::with_capacity(capacity),
            armed: 0,
        }
    }

    /// Arms a timer.
    pub fn push(&mut self, deadline: Timestamp, strategy: StrategyId, timer: TimerId) {
        self.armed += 1;
        self.heap
            .push(Reverse((deadline, self.armed, strategy, timer)));
    }

    /// Removes and returns the earliest timer due at or before `now`.
    #[inline]
    pub fn pop_due(&mut self, now: Timestamp) -> Option<(Timestamp, StrategyId, TimerId)> {
        match self.heap.peek() {
            Some(Reverse((deadline, ..))) if *deadline <= now => {
                let Reverse((deadline, _, s, t)) = self.heap.pop()?;
                Some((deadline, s, t))
            }
            _ => None,
        }
    }

    /// Deadline of the earliest pending timer.
    #[inline]
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.heap.peek().map(|Reverse((d, ..))| *d)
    }

    /// Drops every timer of `strategy` (on restart or halt).
    pub fn remove_strategy(&mut self, strategy: StrategyId) {
        self.heap.retain(|Reverse((_, _, s, _))| *s != strategy);
    }

    /// Pending timers.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no timer is pending.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}
