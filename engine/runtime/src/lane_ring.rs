//! [`lane_ring`]: the ring between the feed thread and one lane, of either kind the ring crate
//! builds, chosen per run by `engine.ring` in the config.
//!
//! * [`RingKind::Index`] (the default): `ticklane_ring::ring`, a head and a tail index; bursts
//!   are copied with `memcpy` and published with one store. The fastest for the batched hand-off
//!   of `ticklane run` (`batch = 32`).
//! * [`RingKind::Stamped`]: `ticklane_ring::stamped`, a stamp in every slot and no shared
//!   index; one cache line crosses the cores per item instead of two. The lowest hand-off
//!   latency for one event at a time (`batch = 1`, `config/latency.toml`), 2–4× less
//!   throughput in bursts.
//!
//! `BENCHMARKS.md` has both against the peers. The two ends here are enums over the two kinds:
//! the `match` is on a value fixed for the whole run, so it is always predicted, and it keeps
//! the feed and the lane free of a type parameter. Both kinds carry the same items in the same
//! order, so a run's output does not depend on the kind (a test in `tests/engine.rs` checks).

use ticklane_ring::{stamped, Consumer, Producer};

use crate::envelope::LaneEvent;

/// Which ring feeds a lane.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RingKind {
    /// Head and tail indices, contiguous slots: for batched hand-offs.
    #[default]
    Index,
    /// A stamp per slot, no shared index: for single-event hand-offs.
    Stamped,
}

impl RingKind {
    /// Parses the config value: `index` or `stamped`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "index" => Some(Self::Index),
            "stamped" => Some(Self::Stamped),
            _ => None,
        }
    }
}

/// The feed's end of a lane's ring.
#[derive(Debug)]
pub enum LaneProducer {
    /// An index ring's producer.
    Index(Producer<LaneEvent>),
    /// A stamped ring's producer.
    Stamped(stamped::Producer<LaneEvent>),
}

/// The lane's end of its ring.
#[derive(Debug)]
pub enum LaneConsumer {
    /// An index ring's consumer.
    Index(Consumer<LaneEvent>),
    /// A stamped ring's consumer.
    Stamped(stamped::Consumer<LaneEvent>),
}

/// A lane ring of `kind` holding at least `capacity` events (rounded up to a power of two, at
/// least 2).
pub fn lane_ring(kind: RingKind, capacity: usize) -> (LaneProducer, LaneConsumer) {
    let capacity = capacity.max(2);
    match kind {
        RingKind::Index => {
            let (tx, rx) = ticklane_ring::ring(capacity);
            (LaneProducer::Index(tx), LaneConsumer::Index(rx))
        }
        RingKind::Stamped => {
            let (tx, rx) = stamped::ring(capacity);
            (LaneProducer::Stamped(tx), LaneConsumer::Stamped(rx))
        }
    }
}

impl From<Producer<LaneEvent>> for LaneProducer {
    fn from(tx: Producer<LaneEvent>) -> Self {
        Self::Index(tx)
    }
}

impl From<Consumer<LaneEvent>> for LaneConsumer {
    fn from(rx: Consumer<LaneEvent>) -> Self {
        Self::Index(rx)
    }
}

impl LaneProducer {
    /// Pushes as many of `items` as fit, in order; returns how many.
    #[inline(always)]
    pub fn push_slice(&mut self, items: &[LaneEvent]) -> usize {
        match self {
            Self::Index(tx) => tx.push_slice(items),
            Self::Stamped(tx) => tx.push_slice(items),
        }
    }

    /// `true` once the lane's end is gone.
    pub fn is_abandoned(&self) -> bool {
        match self {
            Self::Index(tx) => tx.is_abandoned(),
            Self::Stamped(tx) => tx.is_abandoned(),
        }
    }
}

impl LaneConsumer {
    /// Copies up to `out.len()` of the oldest events into `out`; returns how many.
    #[inline(always)]
    pub fn pop_into(&mut self, out: &mut [LaneEvent]) -> usize {
        match self {
            Self::Index(rx) => rx.pop_into(out),
            Self::Stamped(rx) => rx.pop_into(out),
        }
    }

    /// Hands up to `scratch.len()` of the oldest events to `f`, oldest first, then releases
    /// them; returns how many. The index ring lends them in place (no copy: `f` reads them
    /// where the feed wrote them, and after the last one they are marked read; their slots
    /// return to the feed once 32 have gathered (fewer on rings under 128 slots) or when the
    /// lane next finds no new events, see `ticklane_ring`'s design notes); the stamped ring
    /// copies them into `scratch` first.
    #[inline(always)]
    pub fn consume(&mut self, scratch: &mut [LaneEvent], mut f: impl FnMut(&LaneEvent)) -> usize {
        match self {
            Self::Index(rx) => {
                let chunk = rx.read_chunk(scratch.len());
                let (a, b) = chunk.as_slices();
                for le in a.iter().chain(b) {
                    f(le);
                }
                let n = chunk.len();
                chunk.commit_all();
                n
            }
            Self::Stamped(rx) => {
                let n = rx.pop_into(scratch);
                for le in &scratch[..n] {
                    f(le);
                }
                n
            }
        }
    }

    /// Pops the oldest event.
    pub fn pop(&mut self) -> Option<LaneEvent> {
        match self {
            Self::Index(rx) => rx.pop(),
            Self::Stamped(rx) => rx.pop(),
        }
    }

    /// Events waiting (a snapshot, for status reports).
    pub fn len(&self) -> usize {
        match self {
            Self::Index(rx) => rx.len(),
            Self::Stamped(rx) => rx.len(),
        }
    }

    /// `true` if nothing can be popped right now (exact for both kinds).
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Index(rx) => rx.is_empty(),
            Self::Stamped(rx) => rx.is_empty(),
        }
    }

    /// `true` once the feed's end is gone.
    pub fn is_abandoned(&self) -> bool {
        match self {
            Self::Index(rx) => rx.is_abandoned(),
            Self::Stamped(rx) => rx.is_abandoned(),
        }
    }
}
