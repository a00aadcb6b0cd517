//! Event-time timers: a strategy arms one with [`Context::set_timer`](crate::Context::set_timer);
//! the lane fires it when event time reaches its deadline.
//!
//! Two rules keep event time moving forward for a strategy whatever deadline it asks for, and
//! depend only on the strategy's own callbacks (so the run digest stays the same in every lane
//! layout):
//! - a deadline already passed is taken as the arming callback's own time (a timer never fires
//!   "in the past", before something the strategy has already seen);
//! - a timer armed from an `on_timer` callback at or before that callback's time fires
//!   [`MIN_REARM_NS`] later, and so does one the same strategy arms while that callback's
//!   orders are routed (from the answers that come back at once, such as a refusal). Otherwise a strategy re-arming at its own `now` from `on_timer`
//!   would be fired again and again at one instant and never let the lane go on. A timer
//!   armed for a later time keeps its deadline: a periodic timer keeps its period.
//!
//! At a new trading day, whose event times start again earlier than the day before's last,
//! every pending timer keeps the event time it had left ([`TimerQueue::start_day`]).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use ticklane_core::Timestamp;

use crate::context::StrategyId;

/// A strategy's name for one of its timers (its meaning is the strategy's own).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TimerId(pub u64);

/// (deadline, arming order, strategy, timer): ordered by deadline, then arming order.
type Entry = (Timestamp, u64, StrategyId, TimerId);

/// How much later than its own deadline a timer re-armed "at once" from `on_timer` fires (see
/// the module docs): 1 µs of event time.
pub const MIN_REARM_NS: u64 = 1_000;

/// Pending timers of a lane, fired in (deadline, arming order): deterministic.
#[derive(Debug, Default)]
pub struct TimerQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    armed: u64,
    /// The deadline and strategy of the timer whose `on_timer` callback (or the routing of
    /// what it sent) is running, if one is.
    firing: Option<(Timestamp, StrategyId)>,
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

    /// Arms a timer from a callback made at event time `now` (see the module docs): a deadline
    /// before `now` is taken as `now`, and one at or before `now` armed from the `on_timer`
    /// callback of a timer due at `now` as `now + MIN_REARM_NS` (never due, so not queued,
    /// when that is past `u64::MAX`).
    pub fn arm(
        &mut self,
        now: Timestamp,
        deadline: Timestamp,
        strategy: StrategyId,
        timer: TimerId,
    ) {
        let mut deadline = deadline.max(now);
        if self.firing == Some((now, strategy)) && deadline <= now {
            match now.0.checked_add(MIN_REARM_NS) {
                Some(later) => deadline = Timestamp(later),
                // A step past the end of event time: never due. Saturating put it back at
                // `now`, and the lane fired it at that instant for ever.
                None => return,
            }
        }
        self.push(deadline, strategy, timer);
    }

    /// The lane is about to call (`Some((deadline, strategy))`) the `on_timer` of `strategy`'s
    /// timer due at `deadline` and route what it sends, or has done so (`None`).
    pub fn set_firing(&mut self, firing: Option<(Timestamp, StrategyId)>) {
        self.firing = firing;
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

    /// A new trading day began at `now`, earlier than `ended`, the day before's last event
    /// time, which the lane reached first (every timer due by then has fired): each pending
    /// timer keeps the event time it had left and counts it from `now`, as if the night took
    /// no time. A periodic timer keeps its period across the night; without this, a timer
    /// armed for a time of the day before waited for that time of the new day (a 1 s timer
    /// stayed silent from the new day's start to the old day's end). The arming order is
    /// kept, so timers still fire in (deadline, arming order). A new day that starts after
    /// `ended` moves nothing: event time went on as usual.
    pub fn start_day(&mut self, ended: Timestamp, now: Timestamp) {
        let back = ended.0.saturating_sub(now.0);
        if back == 0 || self.heap.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut self.heap).into_vec();
        self.heap = entries
            .into_iter()
            .map(|Reverse((d, armed, s, t))| {
                Reverse((Timestamp(d.0.saturating_sub(back).max(now.0)), armed, s, t))
            })
            .collect();
    }

    /// Drops every timer of `strategy` (on restart or halt), and forgets that one of its
    /// timers is firing: a fresh instance's timers are its own, not re-arms from `on_timer`
    /// (its "at once" timer fired a step late when the old instance had panicked in
    /// `on_timer`, and at once when it had panicked anywhere else).
    pub fn remove_strategy(&mut self, strategy: StrategyId) {
        self.heap.retain(|Reverse((_, _, s, _))| *s != strategy);
        if self.firing.is_some_and(|(_, s)| s == strategy) {
            self.firing = None;
        }
    }

    /// Drops every timer (the lane halted: no strategy is called any more).
    pub fn clear(&mut self) {
        self.heap.clear();
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

#[cfg(test)]
mod tests {
    use super::*;

    const S: StrategyId = StrategyId(0);

    #[test]
    fn a_new_day_keeps_each_timer_s_time_left_and_its_order() {
        let mut q = TimerQueue::default();
        q.arm(Timestamp(900), Timestamp(1_500), S, TimerId(1));
        q.arm(Timestamp(900), Timestamp(1_200), StrategyId(1), TimerId(2));
        q.arm(Timestamp(900), Timestamp(1_200), S, TimerId(3));
        // Day 1 ended at 1_000; day 2 starts at 100.
        q.start_day(Timestamp(1_000), Timestamp(100));
        assert_eq!(q.len(), 3);
        assert_eq!(q.pop_due(Timestamp(299)), None);
        assert_eq!(
            q.pop_due(Timestamp(300)),
            Some((Timestamp(300), StrategyId(1), TimerId(2)))
        );
        assert_eq!(
            q.pop_due(Timestamp(300)),
            Some((Timestamp(300), S, TimerId(3)))
        );
        assert_eq!(q.pop_due(Timestamp(599)), None);
        assert_eq!(
            q.pop_due(Timestamp(600)),
            Some((Timestamp(600), S, TimerId(1)))
        );
        assert!(q.is_empty());
    }

    #[test]
    fn a_new_day_after_the_old_day_s_end_moves_no_timer() {
        let mut q = TimerQueue::default();
        q.arm(Timestamp(900), Timestamp(1_500), S, TimerId(1));
        q.start_day(Timestamp(1_000), Timestamp(1_200));
        assert_eq!(q.next_deadline(), Some(Timestamp(1_500)));
        // A timer the lane did not fire by the day's end (none should be left) is not put
        // before the new day's start.
        let mut q = TimerQueue::default();
        q.push(Timestamp(800), S, TimerId(1));
        q.start_day(Timestamp(1_000), Timestamp(100));
        assert_eq!(q.next_deadline(), Some(Timestamp(100)));
    }

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
    fn re_armed_at_once_from_its_own_callback_it_fires_a_step_later() {
        let mut q = TimerQueue::default();
        q.set_firing(Some((Timestamp(500), S)));
        // Another strategy's timer at once is not moved (it is not the one firing).
        q.arm(Timestamp(500), Timestamp(500), StrategyId(1), TimerId(9));
        // At once, and in the past: both a step later.
        q.arm(Timestamp(500), Timestamp(500), S, TimerId(1));
        q.arm(Timestamp(500), Timestamp(100), S, TimerId(2));
        // A later deadline is kept.
        q.arm(Timestamp(500), Timestamp(700), S, TimerId(3));
        q.set_firing(None);
        assert_eq!(
            q.pop_due(Timestamp(1_500)),
            Some((Timestamp(500), StrategyId(1), TimerId(9)))
        );
        assert_eq!(
            q.pop_due(Timestamp(1_500)),
            Some((Timestamp(700), S, TimerId(3)))
        );
        assert_eq!(
            q.pop_due(Timestamp(1_500)),
            Some((Timestamp(1_500), S, TimerId(1)))
        );
        assert_eq!(
            q.pop_due(Timestamp(1_500)),
            Some((Timestamp(1_500), S, TimerId(2)))
        );
        // Outside a timer callback "at once" is due at once.
        q.arm(Timestamp(2_000), Timestamp(2_000), S, TimerId(4));
        assert_eq!(
            q.pop_due(Timestamp(2_000)),
            Some((Timestamp(2_000), S, TimerId(4)))
        );
    }

    #[test]
    fn a_rearm_at_once_past_the_end_of_event_time_is_never_due() {
        let end = Timestamp(u64::MAX);
        let mut q = TimerQueue::default();
        q.set_firing(Some((end, S)));
        q.arm(end, end, S, TimerId(1));
        assert_eq!(
            q.pop_due(end),
            None,
            "it would fire at this instant for ever"
        );
        // A step before the end still moves on by the step.
        let near = Timestamp(u64::MAX - MIN_REARM_NS);
        q.set_firing(Some((near, S)));
        q.arm(near, near, S, TimerId(2));
        assert_eq!(q.pop_due(near), None);
        assert_eq!(q.pop_due(end), Some((end, S, TimerId(2))));
    }

    #[test]
    fn removing_a_strategy_forgets_its_firing_timer() {
        let now = Timestamp(5_000);
        let mut q = TimerQueue::default();
        q.set_firing(Some((now, S)));
        q.remove_strategy(StrategyId(1));
        q.arm(now, now, S, TimerId(1));
        assert_eq!(
            q.pop_due(now),
            None,
            "another strategy's removal changes nothing"
        );
        q.remove_strategy(S);
        q.arm(now, now, S, TimerId(2));
        assert_eq!(q.pop_due(now), Some((now, S, TimerId(2))));
    }
}
