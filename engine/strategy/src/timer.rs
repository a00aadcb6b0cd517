//! Event-time timers: a strategy arms one with [`Context::set_timer`](crate::Context::set_timer);
//! the lane fires it when event time reaches its deadline.
//!
//! Two rules keep event time moving forward for a strategy whatever deadline it asks for:
//! - a deadline already passed is taken as the arming callback's own time (a timer never fires
//!   "in the past", before something the strategy has already seen);
//! - a timer armed "at once" (deadline at or before now) from a callback the lane makes while
//!   it catches up to an event (a timer, or a report that fell due) waits for the lane's next
//!   catch-up, and is then due at the time that catch-up reached. Otherwise a strategy that
//!   re-arms at its own `now` from `on_timer` would be fired again and again within one
//!   catch-up and never let the lane go on. Timers armed for a later time are fired within the
//!   same catch-up when it reaches them: a periodic timer keeps its period across a quiet
//!   spell.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use ticklane_core::Timestamp;

use crate::context::StrategyId;

/// A strategy's name for one of its timers (its meaning is the strategy's own).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TimerId(pub u64);

/// (deadline, arming order, strategy, timer): ordered by deadline, then arming order.
type Entry = (Timestamp, u64, StrategyId, TimerId);

/// Pending timers of a lane, fired in (deadline, arming order): deterministic.
#[derive(Debug, Default)]
pub struct TimerQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    armed: u64,
    /// Inside a catch-up ([`TimerQueue::hold`]): timers armed "at once" wait in `held`.
    holding: bool,
    held: Vec<Entry>,
}

impl TimerQueue {
    /// A queue with room for `capacity` timers before it first grows.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            heap: BinaryHeap::with_capacity(capacity),
            ..Self::default()
        }
    }

    /// Arms a timer for `deadline` as is (the lane's own use; strategies arm through
    /// [`TimerQueue::arm`]).
    pub fn push(&mut self, deadline: Timestamp, strategy: StrategyId, timer: TimerId) {
        self.armed += 1;
        self.heap
            .push(Reverse((deadline, self.armed, strategy, timer)));
    }

    /// Arms a timer from a callback made at event time `now` (see the module docs): a
    /// deadline before `now` is taken as `now`, and one at `now` armed during a catch-up waits
    /// for the next.
    pub fn arm(
        &mut self,
        now: Timestamp,
        deadline: Timestamp,
        strategy: StrategyId,
        timer: TimerId,
    ) {
        let deadline = deadline.max(now);
        if self.holding && deadline <= now {
            self.armed += 1;
            self.held.push((deadline, self.armed, strategy, timer));
        } else {
            self.push(deadline, strategy, timer);
        }
    }

    /// The lane starts catching up: timers armed "at once" from here on are held.
    pub fn hold(&mut self) {
        self.holding = true;
    }

    /// The lane caught up to `now`: the held timers become due at `now` (when the lane next
    /// catches up), in their arming order.
    pub fn release(&mut self, now: Timestamp) {
        self.holding = false;
        for (deadline, armed, strategy, timer) in self.held.drain(..) {
            self.heap
                .push(Reverse((deadline.max(now), armed, strategy, timer)));
        }
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

    /// Deadline of the earliest pending timer (held ones are not pending yet).
    #[inline]
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.heap.peek().map(|Reverse((d, ..))| *d)
    }

    /// Drops every timer of `strategy` (on restart or halt).
    pub fn remove_strategy(&mut self, strategy: StrategyId) {
        self.heap.retain(|Reverse((_, _, s, _))| *s != strategy);
        self.held.retain(|(_, _, s, _)| *s != strategy);
    }

    /// Pending timers, held ones included.
    pub fn len(&self) -> usize {
        self.heap.len() + self.held.len()
    }

    /// Whether no timer is pending or held.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: StrategyId = StrategyId(0);

    #[test]
    fn a_passed_deadline_is_taken_as_now() {
        let mut q = TimerQueue::default();
        q.arm(Timestamp(1_000), Timestamp(10), S, TimerId(1));
        assert_eq!(q.next_deadline(), Some(Timestamp(1_000)));
        assert_eq!(q.pop_due(Timestamp(999)), None);
        assert_eq!(
            q.pop_due(Timestamp(1_000)),
            Some((Timestamp(1_000), S, TimerId(1)))
        );
    }

    #[test]
    fn at_once_during_a_catch_up_waits_for_the_next_and_is_due_at_its_time() {
        let mut q = TimerQueue::default();
        q.hold();
        // Re-armed at its own time from a timer at 500, during a catch-up to 900.
        q.arm(Timestamp(500), Timestamp(500), S, TimerId(1));
        // A later deadline is fired within the same catch-up.
        q.arm(Timestamp(500), Timestamp(700), S, TimerId(2));
        assert_eq!(q.len(), 2);
        assert_eq!(
            q.pop_due(Timestamp(900)),
            Some((Timestamp(700), S, TimerId(2)))
        );
        assert_eq!(q.pop_due(Timestamp(900)), None);
        q.release(Timestamp(900));
        assert_eq!(q.next_deadline(), Some(Timestamp(900)));
        assert_eq!(
            q.pop_due(Timestamp(900)),
            Some((Timestamp(900), S, TimerId(1)))
        );
        // Outside a catch-up "at once" is due at once.
        q.arm(Timestamp(950), Timestamp(950), S, TimerId(3));
        assert_eq!(
            q.pop_due(Timestamp(950)),
            Some((Timestamp(950), S, TimerId(3)))
        );
    }

    #[test]
    fn a_removed_strategy_loses_its_held_timers() {
        let mut q = TimerQueue::default();
        q.hold();
        q.arm(Timestamp(5), Timestamp(5), S, TimerId(1));
        q.arm(Timestamp(5), Timestamp(5), StrategyId(1), TimerId(2));
        q.remove_strategy(S);
        q.release(Timestamp(9));
        assert_eq!(
            q.pop_due(Timestamp(9)),
            Some((Timestamp(9), StrategyId(1), TimerId(2)))
        );
        assert!(q.is_empty());
    }
}
