//! [`stamped`](self): an SPSC ring whose every slot carries its own sequence stamp, for hand-offs
//! of one item at a time.
//!
//! ```
//! let (mut tx, mut rx) = ticklane_ring::stamped::ring::<u64>(2);
//! assert_eq!(tx.push(1), Ok(()));
//! assert_eq!(tx.push_slice(&[2, 3]), 1); // one free slot left
//! assert_eq!(tx.push(4), Err(ticklane_ring::Full(4)));
//! assert_eq!(rx.pop(), Some(1));
//! let mut out = [0u64; 4];
//! assert_eq!(rx.pop_into(&mut out), 1);
//! assert_eq!(out[0], 2);
//! assert_eq!(rx.pop(), None);
//! ```
//!
//! # Why a second ring
//!
//! The crate's main ring (the [`ring`](crate::ring) function) keeps a `head` and a `tail` index
//! on their own lines: a consumer learns that items arrived by reading the producer's `tail`,
//! then reads the slots. In bursts that costs one index read per burst and the slots are one
//! contiguous array, copied with `memcpy`: the fastest layout for batches. For single items it
//! costs two cache lines per item crossing the cores (the `tail` line, stored on every push and
//! polled whenever the ring runs empty, and the slot's line).
//!
//! Here there is no shared index. Each slot holds a stamp beside the item, on the same line as
//! the item's first bytes (slots are 64-byte aligned; a slot of the engine's 104-byte
//! `LaneEvent` spans two lines, 128 bytes), and the stamp alone says whose turn the slot is:
//!
//! * slot `i` starts with stamp `i`;
//! * the producer may write position `p` (slot `p & mask`) when the stamp is `p` (free for this
//!   lap), writes the item, then stores stamp `p + 1` (`Release`);
//! * the consumer may read position `c` when the stamp is `c + 1` (`Acquire`), copies the item
//!   out, then stores stamp `c + capacity` (`Release`), which is the producer's "free" value for
//!   that slot on the next lap.
//!
//! So the consumer polls the slot itself, not an index line the producer stores to on every
//! push, and the item's lines are the only ones that cross the cores: measured one-way, its
//! median hand-off is at the machine's single-line floor, about 20 ns under the index ring's
//! (64-byte items aligned to 8, like the engine's events).
//! The price is paid in throughput: a stamp load and store per item, items not contiguous (no
//! `memcpy` of a run), slots padded to whole lines, so bursts of 16 and 256 run 2–4× slower
//! than through the index ring. `BENCHMARKS.md` has both rings against the peers. The engine
//! uses it for lanes configured with `engine.ring = "stamped"` (the latency configuration,
//! which publishes every event on its own).
//!
//! # Memory ordering
//!
//! Each slot is a little Release/Acquire mailbox: the producer's `Release` store of `p + 1`
//! makes its write of the item happen-before the consumer's reads after its `Acquire` load sees
//! `p + 1`; the consumer's `Release` store of `c + capacity` makes its read of the item
//! happen-before the producer's overwrite after its `Acquire` load sees it. Positions are
//! wrapping `usize` counters compared for equality only; the capacity is a power of two, so it
//! divides `2^64` and `position & mask` stays consistent across the wrap.
//!
//! `len()` on either side reads the other side's position *mirror*, a plain counter each side
//! stores (`Relaxed`) on its own padded line after every operation and nobody reads on the hot
//! path; it is a snapshot for status reports, clamped to `[0, capacity]`. Emptiness on the
//! consumer ([`Consumer::is_empty`]) reads the next slot's stamp and is exact.
//!
//! Loom (`tests/loom.rs`) and Miri check this protocol like the main ring's.

use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;

use crate::slot::Slot;
use crate::sync::{Arc, AtomicUsize, Ordering};
use crate::{abandoned, end_dropped, slot_count, CachePadded, Full};

/// One slot: the turn stamp and the item, on one 64-byte-aligned run of lines.
#[repr(C, align(64))]
struct StampedSlot<T> {
    stamp: AtomicUsize,
    value: Slot<T>,
}

struct Shared<T> {
    slots: Box<[StampedSlot<T>]>,
    mask: usize,
    /// The producer's position, stored `Relaxed` after every push: for `len()` only.
    tail_mirror: CachePadded<AtomicUsize>,
    /// The consumer's position, stored `Relaxed` after every pop: for `len()` only.
    head_mirror: CachePadded<AtomicUsize>,
    /// Ends still alive: see [`crate::abandoned`].
    ends: AtomicUsize,
}

// SAFETY: `Shared` is only reachable through one `Producer` and one `Consumer`. The stamp
// protocol (see the module docs) gives each slot to at most one side at a time, with
// Release/Acquire handing it over, so sharing `&Shared<T>` across threads is sound as long as
// the items may move between threads (`T: Send`).
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: owning the slots on another thread only requires the items to be `Send`.
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Shared<T> {
    #[inline(always)]
    fn capacity(&self) -> usize {
        self.mask + 1
    }

    #[inline(always)]
    fn slot(&self, position: usize) -> &StampedSlot<T> {
        // `position & mask < slots.len()` always holds: the bounds check is always predicted.
        &self.slots[position & self.mask]
    }

    /// Items in the ring by the two mirrors, clamped to `[0, capacity]` (the mirrors are read
    /// at two moments, so the raw difference may be briefly out of range).
    fn len(&self, tail: usize, head: usize) -> usize {
        let d = tail.wrapping_sub(head) as isize;
        d.clamp(0, self.capacity() as isize) as usize
    }
}

/// Creates a stamped ring holding at least `capacity` items (rounded up to a power of two, and
/// to at least 2) and returns its two ends.
///
/// With one slot the stamp for "published at position `p`" (`p + 1`) would equal the stamp for
/// "free for position `p + 1`" (`p + capacity`), so the smallest stamped ring has two slots.
///
/// # Panics
///
/// If `capacity` is 0 or rounding it up to a power of two overflows `usize`.
pub fn ring<T: Copy>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let cap = slot_count(capacity, 2);
    let slots: Box<[StampedSlot<T>]> = (0..cap)
        .map(|i| StampedSlot {
            stamp: AtomicUsize::new(i),
            value: Slot::new(),
        })
        .collect();
    let shared = Arc::new(Shared {
        slots,
        mask: cap - 1,
        tail_mirror: CachePadded(AtomicUsize::new(0)),
        head_mirror: CachePadded(AtomicUsize::new(0)),
        ends: AtomicUsize::new(2),
    });
    (
        Producer {
            shared: Arc::clone(&shared),
            tail: 0,
            _not_sync: PhantomData,
        },
        Consumer {
            shared,
            head: 0,
            _not_sync: PhantomData,
        },
    )
}

/// The writing end of a stamped ring. `Send` (for `T: Send`), not `Sync`:
///
/// ```compile_fail
/// fn is_sync<S: Sync>() {}
/// is_sync::<ticklane_ring::stamped::Producer<u64>>();
/// ```
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// Next position to write.
    tail: usize,
    _not_sync: PhantomData<Cell<()>>,
}

/// The reading end of a stamped ring. `Send` (for `T: Send`), not `Sync`:
///
/// ```compile_fail
/// fn is_sync<S: Sync>() {}
/// is_sync::<ticklane_ring::stamped::Consumer<u64>>();
/// ```
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// Next position to read.
    head: usize,
    _not_sync: PhantomData<Cell<()>>,
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("stamped::Producer")
            .field("capacity", &self.shared.capacity())
            .field("tail", &self.tail)
            .finish()
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("stamped::Consumer")
            .field("capacity", &self.shared.capacity())
            .field("head", &self.head)
            .finish()
    }
}

impl<T: Copy> Producer<T> {
    /// Writes `value` at position `tail` if its slot is free for this lap; does not advance.
    #[inline(always)]
    fn try_write(&self, value: T) -> bool {
        let slot = self.shared.slot(self.tail);
        // Acquire: pairs with the consumer's Release store of this slot's stamp (its position
        // plus the capacity: our `tail` now), so its read of the slot's previous item
        // happens-before our overwrite.
        if slot.stamp.load(Ordering::Acquire) != self.tail {
            return false;
        }
        slot.value.with_mut(|p| {
            // SAFETY: the stamp says the slot is free for position `tail`: the consumer has
            // released it (or it was never used) and will not read it until we store
            // `tail + 1`; we are the only producer.
            unsafe { p.write(MaybeUninit::new(value)) }
        });
        // Release: the write above happens-before the consumer's Acquire load seeing this.
        slot.stamp
            .store(self.tail.wrapping_add(1), Ordering::Release);
        true
    }

    /// Pushes one item, or returns it in `Err(Full(item))` if the ring is full.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), Full<T>> {
        if !self.try_write(value) {
            return Err(Full(value));
        }
        self.tail = self.tail.wrapping_add(1);
        self.shared.tail_mirror.store(self.tail, Ordering::Relaxed);
        Ok(())
    }

    /// Pushes as many items from the front of `items` as fit and returns how many were pushed
    /// (0 when full). Each item is visible to the consumer as soon as it is written.
    #[inline]
    pub fn push_slice(&mut self, items: &[T]) -> usize {
        let mut n = 0;
        for &v in items {
            if !self.try_write(v) {
                break;
            }
            self.tail = self.tail.wrapping_add(1);
            n += 1;
        }
        if n > 0 {
            self.shared.tail_mirror.store(self.tail, Ordering::Relaxed);
        }
        n
    }

    /// Number of items in the ring, a snapshot (see the module docs on the mirrors).
    pub fn len(&self) -> usize {
        let head = self.shared.head_mirror.load(Ordering::Relaxed);
        self.shared.len(self.tail, head)
    }

    /// `true` if the ring holds no items (a snapshot, like [`Producer::len`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total number of slots (the requested capacity rounded up to a power of two).
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// `true` once the [`Consumer`] has been dropped.
    pub fn is_abandoned(&self) -> bool {
        abandoned(&self.shared.ends)
    }
}

impl<T: Copy> Consumer<T> {
    /// Reads position `head` if it is published; does not release it.
    #[inline(always)]
    fn try_read(&self) -> Option<T> {
        let slot = self.shared.slot(self.head);
        // Acquire: pairs with the producer's Release store of `head + 1`, so its write of the
        // item happens-before our read.
        if slot.stamp.load(Ordering::Acquire) != self.head.wrapping_add(1) {
            return None;
        }
        Some(slot.value.with(|p| {
            // SAFETY: the stamp says position `head` is published: the slot is initialised and
            // the producer will not touch it until we store `head + capacity`; `T: Copy`, so
            // copying it out is a plain read.
            unsafe { (*p).assume_init() }
        }))
    }

    /// Hands position `head` back to the producer for its next lap and advances.
    #[inline(always)]
    fn release(&mut self) {
        let slot = self.shared.slot(self.head);
        // Release: our read of the item happens-before the producer's overwrite.
        slot.stamp.store(
            self.head.wrapping_add(self.shared.capacity()),
            Ordering::Release,
        );
        self.head = self.head.wrapping_add(1);
    }

    /// Pops the oldest item, or `None` if the ring is empty.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let v = self.try_read()?;
        self.release();
        self.shared.head_mirror.store(self.head, Ordering::Relaxed);
        Some(v)
    }

    /// Copies up to `out.len()` of the oldest items into the front of `out`, returns how many
    /// (0 when empty).
    #[inline]
    pub fn pop_into(&mut self, out: &mut [T]) -> usize {
        let mut n = 0;
        for o in out.iter_mut() {
            match self.try_read() {
                Some(v) => *o = v,
                None => break,
            }
            self.release();
            n += 1;
        }
        if n > 0 {
            self.shared.head_mirror.store(self.head, Ordering::Relaxed);
        }
        n
    }

    /// Returns a copy of the oldest item without removing it.
    pub fn peek(&mut self) -> Option<T> {
        self.try_read()
    }

    /// Number of items available, a snapshot (see the module docs on the mirrors).
    pub fn len(&self) -> usize {
        let tail = self.shared.tail_mirror.load(Ordering::Relaxed);
        self.shared.len(tail, self.head)
    }

    /// `true` if there is nothing to pop right now (exact: reads the next slot's stamp).
    pub fn is_empty(&self) -> bool {
        self.shared.slot(self.head).stamp.load(Ordering::Acquire) != self.head.wrapping_add(1)
    }

    /// Total number of slots (the requested capacity rounded up to a power of two).
    pub fn capacity(&self) -> usize {
        self.shared.capacity()
    }

    /// `true` once the [`Producer`] has been dropped. After it returns `true`, everything the
    /// producer pushed is visible: [`Consumer::is_empty`] then says whether anything is left.
    pub fn is_abandoned(&self) -> bool {
        abandoned(&self.shared.ends)
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        end_dropped(&self.shared.ends);
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        end_dropped(&self.shared.ends);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    #[test]
    fn slot_layout_keeps_the_stamp_on_the_item_line() {
        assert_eq!(core::mem::align_of::<StampedSlot<u64>>(), 64);
        assert_eq!(core::mem::size_of::<StampedSlot<u64>>(), 64);
        assert_eq!(core::mem::size_of::<StampedSlot<[u64; 7]>>(), 64);
        assert_eq!(core::mem::size_of::<StampedSlot<[u64; 8]>>(), 128);
        assert_eq!(core::mem::size_of::<StampedSlot<[u64; 13]>>(), 128);
        assert_eq!(core::mem::offset_of!(StampedSlot<[u64; 13]>, stamp), 0);
    }

    #[test]
    fn capacity_rounds_up_to_at_least_two() {
        for (req, cap) in [(1, 2), (2, 2), (3, 4), (1000, 1024)] {
            let (p, c) = ring::<u8>(req);
            assert_eq!((p.capacity(), c.capacity()), (cap, cap));
        }
        let (mut p, mut c) = ring::<u32>(1);
        for i in 0..10 {
            assert_eq!(p.push(i), Ok(()));
            assert_eq!(p.push(i + 100), Ok(()));
            assert_eq!(p.push(i + 200), Err(Full(i + 200)));
            assert_eq!((p.len(), c.len()), (2, 2));
            assert!(!c.is_empty());
            assert_eq!(c.peek(), Some(i));
            assert_eq!(c.pop(), Some(i));
            assert_eq!(c.pop(), Some(i + 100));
            assert_eq!(c.pop(), None);
            assert!(c.is_empty() && p.is_empty());
        }
    }

    #[test]
    #[should_panic(expected = "at least 1")]
    fn zero_capacity_panics() {
        let _ = ring::<u8>(0);
    }

    #[test]
    fn full_is_an_error_and_batches_stop_at_the_edges() {
        let (mut p, mut c) = ring::<u64>(4);
        assert_eq!(p.push_slice(&[0, 1, 2, 3, 4, 5]), 4);
        assert_eq!(p.push(9), Err(Full(9)));
        assert_eq!(p.push_slice(&[9]), 0);
        let mut out = [0u64; 3];
        assert_eq!(c.pop_into(&mut out), 3);
        assert_eq!(out, [0, 1, 2]);
        assert_eq!(p.push_slice(&[4, 5, 6, 7]), 3);
        let mut out = [0u64; 8];
        assert_eq!(c.pop_into(&mut out), 4);
        assert_eq!(&out[..4], &[3, 4, 5, 6]);
        assert_eq!(c.pop_into(&mut out), 0);
        assert_eq!(c.pop_into(&mut []), 0);
        assert_eq!(p.push_slice(&[]), 0);
    }

    #[test]
    fn positions_wrap_around_usize() {
        // Start both ends just below usize::MAX: the stamps and positions wrap mid-run.
        let (mut p, mut c) = ring::<u32>(4);
        let start = usize::MAX - 5;
        for (i, s) in p.shared.slots.iter().enumerate() {
            // Slot `i` is free for the position `start + k` with `(start + k) & 3 == i`.
            let k = (i.wrapping_sub(start)) & 3;
            s.stamp.store(start.wrapping_add(k), Ordering::Relaxed);
        }
        p.tail = start;
        c.head = start;
        for i in 0..40u32 {
            p.push(i).expect("room");
            p.push(i + 1000).expect("room");
            assert_eq!(c.pop(), Some(i));
            assert_eq!(c.pop(), Some(i + 1000));
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push,
        PushSlice(u8),
        Pop,
        PopInto(u8),
        Peek,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::Push),
            (0u8..12).prop_map(Op::PushSlice),
            Just(Op::Pop),
            (0u8..12).prop_map(Op::PopInto),
            Just(Op::Peek),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: if cfg!(miri) { 10 } else { 256 },
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Single-threaded model check: every sequence of operations behaves like a bounded
        /// `VecDeque` (order, no loss, full and empty at the right moments, lengths).
        #[test]
        fn behaves_like_a_bounded_deque(cap in 1usize..9, ops in prop::collection::vec(op(), 0..200)) {
            let (mut p, mut c) = ring::<u32>(cap);
            let cap = p.capacity();
            let mut model = VecDeque::new();
            let mut next = 0u32;
            for op in ops {
                match op {
                    Op::Push => {
                        let r = p.push(next);
                        if model.len() < cap {
                            prop_assert_eq!(r, Ok(()));
                            model.push_back(next);
                        } else {
                            prop_assert_eq!(r, Err(Full(next)));
                        }
                        next += 1;
                    }
                    Op::PushSlice(k) => {
                        let items: Vec<u32> = (next..next + u32::from(k)).collect();
                        let n = p.push_slice(&items);
                        prop_assert_eq!(n, items.len().min(cap - model.len()));
                        model.extend(&items[..n]);
                        next += n as u32;
                    }
                    Op::Pop => prop_assert_eq!(c.pop(), model.pop_front()),
                    Op::PopInto(k) => {
                        let mut out = vec![0u32; usize::from(k)];
                        let n = c.pop_into(&mut out);
                        let want: Vec<u32> = (0..n.min(model.len())).filter_map(|_| model.pop_front()).collect();
                        prop_assert_eq!(n, want.len());
                        prop_assert_eq!(&out[..n], &want[..]);
                        prop_assert_eq!(n, usize::from(k).min(n + model.len()));
                    }
                    Op::Peek => prop_assert_eq!(c.peek(), model.front().copied()),
                }
                prop_assert_eq!(p.len(), model.len());
                prop_assert_eq!(c.len(), model.len());
                prop_assert_eq!(c.is_empty(), model.is_empty());
            }
        }
    }

    #[test]
    fn abandonment_is_seen_from_both_ends() {
        let (mut p, c) = ring::<u8>(2);
        assert!(!p.is_abandoned() && !c.is_abandoned());
        drop(c);
        assert!(p.is_abandoned());
        assert_eq!(p.push(1), Ok(())); // still a valid ring, just nobody reading
        let (mut p, mut c) = ring::<u8>(2);
        p.push(7).expect("room");
        drop(p);
        assert!(c.is_abandoned() && !c.is_empty());
        assert_eq!(c.pop(), Some(7));
        assert!(c.is_empty());
    }
}
