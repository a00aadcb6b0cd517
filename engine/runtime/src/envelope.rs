//! [`LaneEvent`]: what travels through a lane's ring: the event plus the stamps that measure
//! every hop before the lane.

use ticklane_core::MarketEvent;

/// One item in a lane's ring, with its sequence number and hop stamps (raw [`HopClock`]
/// ticks; 0 when latency measurement is off).
///
/// [`HopClock`]: crate::clock::HopClock
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LaneEvent {
    /// The event (for a heartbeat, `ts` is the heartbeat's event time).
    pub event: MarketEvent,
    /// A heartbeat instead of a market event: event time advanced to `event.ts` (the feed
    /// sends one to every lane whenever event time crosses a multiple of the heartbeat
    /// interval), so that timers fire at the same points in every lane layout even when a lane
    /// sees no events of its own for a while.
    pub heartbeat: bool,
    /// Position of the event in the feed's normalized stream (0-based; heartbeats carry the
    /// sequence number of the next event), the same in every lane layout.
    pub seq: u64,
    /// When the feed thread took the message (before decoding).
    pub t_received: u64,
    /// When decoding and normalizing finished.
    pub t_decoded: u64,
    /// When the feed published it to the lane's ring.
    pub t_enqueued: u64,
}
