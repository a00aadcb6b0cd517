//! `ticklane-ring`: bounded, lock-free, single-producer single-consumer (SPSC) rings of `Copy`
//! items. The engine moves its lane events between threads through them.
//!
//! Two kinds, one protocol each: the index ring ([`ring`], this page), with a head and a tail
//! index, contiguous slots and `memcpy`'d bursts, the fastest for batched hand-offs; and the
//! [`stamped`] ring, a sequence stamp beside every item and no shared index, the lowest latency
//! for one item at a time. Same method names on both (`push`, `push_slice`, `pop`, `pop_into`, `peek`);
//! the index ring can also be written and read in place ([`Producer::write_chunk`],
//! [`Consumer::read_chunk`]).
//!
//! ```
//! let (mut tx, mut rx) = ticklane_ring::ring::<u64>(4);
//! assert_eq!(tx.push(1), Ok(()));
//! assert_eq!(tx.push_slice(&[2, 3, 4, 5]), 3); // only 3 free slots left
//! assert_eq!(tx.push(6), Err(ticklane_ring::Full(6))); // full is an explicit error
//! let mut out = [0u64; 8];
//! assert_eq!(rx.pop_into(&mut out), 4);
//! assert_eq!(&out[..4], &[1, 2, 3, 4]);
//! assert_eq!(rx.pop(), None);
//! ```
//!
//! # Design
//!
//! * Capacity is rounded up to a power of two so a slot index is `counter & mask`.
//! * `head` (next slot to read, written only by the consumer) and `tail` (next slot to write,
//!   written only by the producer) are free-running wrapping `usize` counters, each on its own
//!   128-byte-aligned line ([`CachePadded`]) so the two cores never false-share. `len = tail -
//!   head` (wrapping).
//! * Each side keeps its own index in a plain field and a *cached copy* of the other side's
//!   index; it only reloads the shared atomic when the cached value says the ring is full
//!   (producer) or empty (consumer). In steady state an operation touches no cache line owned by
//!   the other core except to publish its own index.
//! * The producer publishes `tail` on every push (an item is visible at once). The consumer
//!   hands its read slots back (stores `head`) in batches of up to 32 items, and at once
//!   whenever it looks for items and finds none new: a producer running ahead then reloads
//!   `head` once per 32 items instead of once per item (see `release_every`; the producer sees
//!   at most a quarter of the ring as taken that the consumer has already read).
//! * Full is an explicit `Err(Full(item))`; nothing blocks, spins or drops silently.
//! * `T: Copy` is enforced, so no slot ever needs dropping and dropping either side (or both, in
//!   any order) is trivially safe; the buffer is freed when the last side goes away.
//!
//! # Memory ordering
//!
//! * Producer publishes with `tail.store(Release)` *after* writing the slots; the consumer reads
//!   `tail` with `Acquire`. Release/Acquire makes the slot writes happen-before the consumer's
//!   reads of them (no read of uninitialised/stale data).
//! * Consumer publishes with `head.store(Release)` *after* copying the items out; the producer
//!   reads `head` with `Acquire`. This makes the consumer's reads happen-before the producer's
//!   later overwrite of the same slots (no write-after-read race).
//! * Each side's *own* index is only ever written by that side, so it never needs to load it
//!   atomically (it keeps a local copy). No SeqCst is needed: there is exactly one writer per
//!   atomic and the only cross-thread obligation is the publish/observe pair above.
//!
//! # Loom
//!
//! The index protocol is model-checked with [loom](https://docs.rs/loom) (not run in CI):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p ticklane-ring --release --test loom
//! ```
//!
//! Under `cfg(loom)` the atomics, `Arc` and the slot cells come from loom, so loom checks both
//! the orderings and (via its `UnsafeCell` tracking) that no slot is accessed concurrently. The
//! raw-slice API ([`WriteChunk::as_mut_slices`], [`WriteChunk::commit`], [`Consumer::read_chunk`]) is not available under
//! loom because loom cells are not laid out contiguously, and for the same reason the batch
//! copies of [`Producer::push_slice`] / [`Consumer::pop_into`] go one slot at a time under loom
//! (two `memcpy`s otherwise); Miri covers the `memcpy` paths.
//!
//! # Miri
//!
//! Every test (unit, proptest model, two-thread stress, doctests) also runs under
//! [Miri](https://github.com/rust-lang/miri), which checks the `unsafe` code for undefined
//! behaviour (out-of-bounds or uninitialised reads, aliasing violations) and both threads of the
//! concurrent tests for data races:
//!
//! ```text
//! rustup component add --toolchain nightly miri rust-src   # once
//! cargo +nightly miri test -p ticklane-ring      # Stacked Borrows (default), ~6 min here
//! MIRIFLAGS="-Zmiri-tree-borrows -Zmiri-many-seeds=0..4" \
//!     cargo +nightly miri test -p ticklane-ring --test stress   # + Tree Borrows, 4 schedules
//! ```
//!
//! Under `cfg(miri)` the tests shrink (10 proptest cases instead of 256, thousands of items
//! instead of millions in the two-thread tests) but every kind still runs: ordering, wrap-around,
//! batch edges, raw chunks, two threads. No flags are needed (the proptest model does not
//! persist failures under Miri, whose isolation forbids the file).

// This is the one crate in the workspace that may use `unsafe` (the workspace denies it): an
// SPSC ring needs uninitialised slots shared between two threads. Every `unsafe` block carries a
// `// SAFETY:` comment.
#![allow(unsafe_code)]
#![warn(missing_docs)]

use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;

mod sync {
    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{fence, AtomicUsize, Ordering};
    #[cfg(loom)]
    pub(crate) use loom::sync::Arc;
    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic::{fence, AtomicUsize, Ordering};
    #[cfg(not(loom))]
    pub(crate) use std::sync::Arc;
}

mod slot {
    use core::mem::MaybeUninit;

    /// One buffer slot. `#[repr(transparent)]` over `UnsafeCell<MaybeUninit<T>>` so a run of
    /// slots is layout-compatible with `[MaybeUninit<T>]` (outside loom).
    #[cfg(not(loom))]
    #[repr(transparent)]
    pub(crate) struct Slot<T>(core::cell::UnsafeCell<MaybeUninit<T>>);

    #[cfg(not(loom))]
    impl<T> Slot<T> {
        pub(crate) fn new() -> Self {
            Self(core::cell::UnsafeCell::new(MaybeUninit::uninit()))
        }
        /// An empty slot whose bytes are written (with a pattern, not zeros: an allocation
        /// followed by zero writes may be turned into `calloc`, which leaves fresh pages
        /// untouched). A ring built of these has its buffer faulted in before the first
        /// push, so the producer takes no page fault on its first lap.
        pub(crate) fn touched() -> Self {
            let mut v = MaybeUninit::<T>::uninit();
            // SAFETY: `v` is a local `MaybeUninit<T>`, valid for writes of `size_of::<T>()`
            // bytes; a `MaybeUninit` may hold any bytes, and the slot is still treated as
            // uninitialised (nothing reads it before a push writes a whole `T`).
            unsafe {
                v.as_mut_ptr()
                    .cast::<u8>()
                    .write_bytes(0xA5, size_of::<T>())
            };
            Self(core::cell::UnsafeCell::new(v))
        }
        /// Raw pointer to the slot contents.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const MaybeUninit<T>) -> R) -> R {
            f(self.0.get())
        }
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut MaybeUninit<T>) -> R) -> R {
            f(self.0.get())
        }
    }

    #[cfg(loom)]
    pub(crate) struct Slot<T>(loom::cell::UnsafeCell<MaybeUninit<T>>);

    #[cfg(loom)]
    impl<T> Slot<T> {
        pub(crate) fn new() -> Self {
            Self(loom::cell::UnsafeCell::new(MaybeUninit::uninit()))
        }
        pub(crate) fn touched() -> Self {
            Self::new()
        }
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const MaybeUninit<T>) -> R) -> R {
            self.0.with(f)
        }
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut MaybeUninit<T>) -> R) -> R {
            self.0.with_mut(f)
        }
    }
}

pub mod stamped;

use slot::Slot;
use sync::{Arc, AtomicUsize, Ordering};

/// Pads and aligns a value to 128 bytes (two 64-byte lines, covering the adjacent-line
/// prefetcher on x86 and the 128-byte lines of some ARM cores) to prevent false sharing.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct CachePadded<T>(pub T);

impl<T> core::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The push failed because the ring is full; the rejected item is handed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Full<T>(pub T);

impl<T> Full<T> {
    /// The item that could not be pushed.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ring is full")
    }
}

impl<T: fmt::Debug> std::error::Error for Full<T> {}

struct Shared<T> {
    /// Next slot the consumer reads. Written only by the consumer.
    head: CachePadded<AtomicUsize>,
    /// Next slot the producer writes. Written only by the producer.
    tail: CachePadded<AtomicUsize>,
    buf: Box<[Slot<T>]>,
    mask: usize,
    /// Ends still alive (2, then 1 once one end is dropped): see [`abandoned`].
    ends: AtomicUsize,
}

// SAFETY: `Shared` is only reachable through one `Producer` and one `Consumer`. The index
// protocol (see the crate docs) guarantees a slot is accessed by at most one side at a time,
// with Release/Acquire handing it over, so sharing `&Shared<T>` across threads is sound as long
// as the items themselves may move between threads (`T: Send`).
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: owning the buffer on another thread only requires the items to be `Send`.
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Shared<T> {
    #[inline(always)]
    fn capacity(&self) -> usize {
        self.mask + 1
    }
    #[inline(always)]
    fn slot(&self, counter: usize) -> &Slot<T> {
        // Indexing (with its bounds check) is kept: `counter & mask < buf.len()` always holds,
        // so the check is trivially predictable, and it keeps this function safe.
        &self.buf[counter & self.mask]
    }

    /// Pointer to the first slot, valid for all `capacity()` slots: `Slot<T>` is
    /// `repr(transparent)` over `UnsafeCell<MaybeUninit<T>>` (outside loom), so the buffer is laid
    /// out as a `[MaybeUninit<T>; capacity]` whose every byte is inside an `UnsafeCell`.
    /// Derived from the whole slice (not from one slot), so it may be offset to any slot.
    #[cfg(not(loom))]
    #[inline(always)]
    fn slots_ptr(&self) -> *mut MaybeUninit<T> {
        self.buf.as_ptr().cast::<MaybeUninit<T>>().cast_mut()
    }

    /// Splits `n` slots starting at ring position `counter` into the run up to the end of the
    /// buffer and the wrapped-around rest: `(start index, first run length)`.
    #[cfg(not(loom))]
    #[inline(always)]
    fn runs(&self, counter: usize, n: usize) -> (usize, usize) {
        let start = counter & self.mask;
        (start, n.min(self.capacity() - start))
    }
}

/// `true` once the other end of a ring is gone (`ends` is the ring's count of live ends, which
/// each end decrements with `Release` when it is dropped, see [`end_dropped`]). The `Acquire`
/// fence pairs with that decrement, so everything that end did before it was dropped (its last
/// publish included) is visible after this returns `true`. Both ring kinds use it.
///
/// An explicit counter rather than `Arc::strong_count`: loom's `strong_count` synchronizes like
/// a `SeqCst` load, std's is `Relaxed`, so with the `Arc` count the loom model could not tell
/// whether this fence is there (the end-of-stream checks passed with it removed).
fn abandoned(ends: &AtomicUsize) -> bool {
    if ends.load(Ordering::Relaxed) < 2 {
        sync::fence(Ordering::Acquire);
        true
    } else {
        false
    }
}

/// Called by each end's `Drop`, after its last access to the slots: see [`abandoned`].
fn end_dropped(ends: &AtomicUsize) {
    ends.fetch_sub(1, Ordering::Release);
}

/// The number of slots of a ring asked for `capacity` items: at least `min_slots`, rounded up
/// to a power of two. Both ring kinds size themselves with it.
///
/// # Panics
///
/// If `capacity` is 0 or the rounding overflows `usize`.
fn slot_count(capacity: usize, min_slots: usize) -> usize {
    assert!(capacity > 0, "ring capacity must be at least 1");
    capacity
        .max(min_slots)
        .checked_next_power_of_two()
        .expect("ring capacity overflows usize when rounded to a power of two")
}

/// How many read items a [`Consumer`] gathers before it stores `head` for the producer: a
/// quarter of the ring's `slots`, at least 1 and at most 32.
///
/// Storing `head` after every item costs a cache-line transfer per item when the producer is
/// ahead: it reloads `head` whenever its cached copy says full, and the consumer has just
/// written that line. Handing slots back in batches lets it push a batch per reload (Lee et
/// al.'s MCRingBuffer batches its control variables the same way).
///
/// Besides, read slots are handed back whenever the consumer looks for items and finds that
/// the producer has published nothing new since its last look (a read wanting more items than
/// it knows of, when `tail` has not moved), on every [`Consumer::len`] and
/// [`Consumer::is_empty`], and when the consumer is dropped. So a consumer waiting for items
/// never holds slots back from a producer waiting for room (a producer can only wait on held
/// slots while the consumer is busy with items it already has), and the producer sees at most
/// `release_every - 1` slots as still taken that the consumer has read (a quarter of the ring
/// at most): [`Producer::len`] counts them, and a push can report full that much earlier.
fn release_every(slots: usize) -> usize {
    (slots / 4).clamp(1, 32)
}

/// Creates a ring holding at least `capacity` items (rounded up to a power of two) and returns
/// its two ends. The buffer is written once here, so its pages are resident before the first
/// push (a ring of 65,536 engine events is 6.8 MB: 1,700 page faults otherwise, on the
/// producer's hot path).
///
/// # Panics
///
/// If `capacity` is 0 or rounding it up to a power of two overflows `usize`.
pub fn ring<T: Copy>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let cap = slot_count(capacity, 1);
    // Written now (see `Slot::touched`): a page fault on the producer's first lap would stall
    // the hot path.
    let buf: Box<[Slot<T>]> = (0..cap).map(|_| Slot::touched()).collect();
    let shared = Arc::new(Shared {
        head: CachePadded(AtomicUsize::new(0)),
        tail: CachePadded(AtomicUsize::new(0)),
        buf,
        mask: cap - 1,
        ends: AtomicUsize::new(2),
    });
    (
        Producer {
            shared: Arc::clone(&shared),
            tail: 0,
            cached_head: 0,
            _not_sync: PhantomData,
        },
        Consumer {
            shared,
            head: 0,
            cached_tail: 0,
            released: Cell::new(0),
            release_every: release_every(cap),
            _not_sync: PhantomData,
        },
    )
}

/// The writing end of a ring. `Send` (for `T: Send`), not `Sync`:
///
/// ```compile_fail
/// fn is_sync<S: Sync>() {}
/// is_sync::<ticklane_ring::Producer<u64>>();
/// ```
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// Local copy of `shared.tail` (only this side writes it).
    tail: usize,
    /// Last observed `shared.head`; may lag, which only under-reports free space.
    cached_head: usize,
    _not_sync: PhantomData<Cell<()>>,
}

/// The reading end of a ring. `Send` (for `T: Send`), not `Sync`:
///
/// ```compile_fail
/// fn is_sync<S: Sync>() {}
/// is_sync::<ticklane_ring::Consumer<u64>>();
/// ```
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// Local copy of `shared.head` (only this side writes it).
    head: usize,
    /// Last observed `shared.tail`; may lag, which only under-reports available items.
    cached_tail: usize,
    /// The value of `head` last stored to `shared.head` (see [`release_every`]).
    released: Cell<usize>,
    /// Items read before their slots must be handed back (see [`release_every`]).
    release_every: usize,
    _not_sync: PhantomData<Cell<()>>,
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.shared.capacity())
            .field("tail", &self.tail)
            .field("cached_head", &self.cached_head)
            .finish()
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.shared.capacity())
            .field("head", &self.head)
            .field("cached_tail", &self.cached_tail)
            .finish()
    }
}

impl<T: Copy> Producer<T> {
    /// Number of free slots, refreshing the cached consumer index only if fewer than `want`
    /// are known to be free.
    #[inline(always)]
    fn free(&mut self, want: usize) -> usize {
        let cap = self.shared.capacity();
        let mut free = cap - self.tail.wrapping_sub(self.cached_head);
        if free < want {
            // Acquire: pairs with the consumer's Release store of `head`, so its reads of the
            // slots it released happen-before our overwrites of them.
            self.cached_head = self.shared.head.load(Ordering::Acquire);
            free = cap - self.tail.wrapping_sub(self.cached_head);
        }
        free
    }

    #[inline(always)]
    fn publish(&mut self, n: usize) {
        self.tail = self.tail.wrapping_add(n);
        // Release: the slot writes above happen-before any consumer Acquire load seeing this.
        self.shared.tail.store(self.tail, Ordering::Release);
    }

    #[inline(always)]
    fn write_at(&self, counter: usize, value: T) {
        self.shared.slot(counter).with_mut(|p| {
            // SAFETY: `counter` is in `[tail, head + capacity)`: the slot is free (the consumer
            // released it with a Release store we Acquire-loaded, or it was never used) and
            // not yet published, so the consumer cannot be reading it; we are the only writer.
            unsafe { p.write(MaybeUninit::new(value)) }
        });
    }

    /// Pushes one item, or returns it in `Err(Full(item))` if the ring is full (as this side
    /// sees it: up to a quarter of the ring may be items the consumer has read and not handed
    /// back yet, see the crate's design notes).
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), Full<T>> {
        if self.free(1) == 0 {
            return Err(Full(value));
        }
        self.write_at(self.tail, value);
        self.publish(1);
        Ok(())
    }

    /// Pushes as many items from the front of `items` as fit and returns how many were pushed
    /// (0 when full). Publishes them with one atomic store.
    #[inline]
    pub fn push_slice(&mut self, items: &[T]) -> usize {
        let n = self.free(items.len()).min(items.len());
        if n == 0 {
            return 0;
        }
        self.copy_in(&items[..n]);
        self.publish(n);
        n
    }

    /// Copies `items` into the free, unpublished slots from `tail` on (at most two `memcpy`s:
    /// up to the end of the buffer, then from its start). The caller checked they are free.
    #[cfg(not(loom))]
    #[inline(always)]
    fn copy_in(&mut self, items: &[T]) {
        let shared = &*self.shared;
        let n = items.len();
        debug_assert!(n <= shared.capacity() - self.tail.wrapping_sub(self.cached_head));
        let (start, first) = shared.runs(self.tail, n);
        let base = shared.slots_ptr().cast::<T>();
        // SAFETY: the caller checked `n <= free`, so the ring positions `[tail, tail + n)` are
        // free and unpublished: the consumer released them (its Release store of `head`, which
        // we Acquire-loaded into `cached_head`) or never saw them, and will not read them before
        // our Release store of `tail` in `publish`; we are the only writer. They are the slot
        // indices `[start, start + first)` and `[0, n - first)`, both inside the buffer
        // (`start + first <= capacity`, `n - first <= start` when the run wraps, else 0), and
        // `base` may be offset to any slot (see `slots_ptr`). `items` is a shared borrow of
        // memory outside the ring, so source and destination do not overlap. `T: Copy`, so a
        // bitwise copy is a valid copy, and writing through the `UnsafeCell`s is allowed.
        unsafe {
            core::ptr::copy_nonoverlapping(items.as_ptr(), base.add(start), first);
            core::ptr::copy_nonoverlapping(items.as_ptr().add(first), base, n - first);
        }
    }

    /// Loom's cells are not contiguous: one slot at a time, through its cell.
    #[cfg(loom)]
    fn copy_in(&mut self, items: &[T]) {
        for (i, &v) in items.iter().enumerate() {
            self.write_at(self.tail.wrapping_add(i), v);
        }
    }

    /// Reserves exactly `n` free slots for in-place writing, or `None` if fewer than `n` are
    /// free (`n` may be 0). Nothing is visible to the consumer until the chunk is committed;
    /// dropping it uncommitted publishes nothing.
    #[inline]
    pub fn write_chunk(&mut self, n: usize) -> Option<WriteChunk<'_, T>> {
        if self.free(n) < n {
            return None;
        }
        Some(WriteChunk {
            producer: self,
            len: n,
            written: 0,
        })
    }

    /// Number of items currently in the ring (as seen from this side; the consumer may already
    /// have taken some, and counts up to 31 items it read as taken until it hands their slots
    /// back: see the crate's design notes).
    pub fn len(&self) -> usize {
        self.tail
            .wrapping_sub(self.shared.head.load(Ordering::Acquire))
    }

    /// `true` if the ring holds no items (as seen from this side).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of free slots right now, as handed back by the consumer (refreshes the cached
    /// consumer index).
    pub fn slots(&mut self) -> usize {
        self.free(usize::MAX)
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

/// `n` reserved, unpublished slots of a ring, obtained from [`Producer::write_chunk`].
///
/// Write items in order with [`WriteChunk::write`] and publish them with
/// [`WriteChunk::commit_written`] (safe), or fill the raw slots from
/// [`WriteChunk::as_mut_slices`] and publish with the `unsafe` [`WriteChunk::commit`].
pub struct WriteChunk<'a, T> {
    producer: &'a mut Producer<T>,
    len: usize,
    written: usize,
}

impl<T> fmt::Debug for WriteChunk<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteChunk")
            .field("len", &self.len)
            .field("written", &self.written)
            .finish()
    }
}

impl<T: Copy> WriteChunk<'_, T> {
    /// Number of reserved slots.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` if no slots were reserved.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the next item into the chunk in place; `Err(Full(value))` once all reserved slots
    /// have been written.
    #[inline]
    pub fn write(&mut self, value: T) -> Result<(), Full<T>> {
        if self.written == self.len {
            return Err(Full(value));
        }
        let p = &*self.producer;
        p.write_at(p.tail.wrapping_add(self.written), value);
        self.written += 1;
        Ok(())
    }

    /// Publishes the items written with [`WriteChunk::write`] and returns how many.
    #[inline]
    pub fn commit_written(self) -> usize {
        let n = self.written;
        self.producer.publish(n);
        n
    }

    /// The reserved slots not yet written with [`WriteChunk::write`] as two raw slices (the
    /// second is non-empty when they wrap around the end of the buffer), in ring order.
    ///
    /// Slots already written are left out on purpose: [`WriteChunk::commit_written`] is safe
    /// because only `write` can fill the slots it publishes, so no raw slice may reach them
    /// (one could be set back to `MaybeUninit::uninit()` and then published).
    #[cfg(not(loom))]
    pub fn as_mut_slices(&mut self) -> (&mut [MaybeUninit<T>], &mut [MaybeUninit<T>]) {
        let shared = &*self.producer.shared;
        let rest = self.len - self.written;
        let (start, first) = shared.runs(self.producer.tail.wrapping_add(self.written), rest);
        let base = shared.slots_ptr();
        // SAFETY: `Slot<T>` is `repr(transparent)` over `UnsafeCell<MaybeUninit<T>>`, itself
        // layout-identical to `MaybeUninit<T>`, so `buf` is a `[MaybeUninit<T>; cap]`.
        // `[start, start + first)` and `[0, rest - first)` are in bounds and disjoint, and the
        // slots are reserved (free and unpublished), so no other reference to them exists while
        // `self` is mutably borrowed. Mutation goes through `UnsafeCell`, so `cast_mut` is fine.
        unsafe {
            (
                core::slice::from_raw_parts_mut(base.add(start), first),
                core::slice::from_raw_parts_mut(base, rest - first),
            )
        }
    }

    /// Publishes the first `k` reserved slots, in ring order from the chunk's start: the
    /// slots written with [`WriteChunk::write`], then those of [`WriteChunk::as_mut_slices`]
    /// (first slice, then second).
    ///
    /// # Safety
    ///
    /// The first `k` slots must have been initialised (through [`WriteChunk::as_mut_slices`]
    /// or [`WriteChunk::write`]).
    ///
    /// # Panics
    ///
    /// If `k > self.len()`.
    #[cfg(not(loom))]
    pub unsafe fn commit(self, k: usize) {
        assert!(
            k <= self.len,
            "commit({k}) beyond the {} reserved slots",
            self.len
        );
        self.producer.publish(k);
    }
}

impl<T> Consumer<T> {
    /// Stores `head` for the producer if it moved since the last store.
    #[inline(always)]
    fn hand_back(&self) {
        if self.released.get() != self.head {
            self.released.set(self.head);
            // Release: our slot reads above happen-before the producer (Acquire load of
            // `head`) overwrites those slots.
            self.shared.head.store(self.head, Ordering::Release);
        }
    }
}

impl<T: Copy> Consumer<T> {
    /// Number of readable items, refreshing the cached producer index only if fewer than
    /// `want` are known to be available.
    #[inline(always)]
    fn available(&mut self, want: usize) -> usize {
        let mut avail = self.cached_tail.wrapping_sub(self.head);
        if avail < want {
            // Acquire: pairs with the producer's Release store of `tail`, so its slot writes
            // happen-before our reads of them.
            let tail = self.shared.tail.load(Ordering::Acquire);
            if tail == self.cached_tail {
                // Nothing new: the producer is idle, or waiting for slots. Hand back what was
                // read, so that it never waits on slots this side has finished with (see
                // `release_every`).
                self.hand_back();
            }
            self.cached_tail = tail;
            avail = tail.wrapping_sub(self.head);
        }
        avail
    }

    /// Marks `n` more items read; their slots go back to the producer once
    /// [`release_every`] of them have gathered, or when this side next looks for items and
    /// finds none new.
    #[inline(always)]
    fn release(&mut self, n: usize) {
        self.head = self.head.wrapping_add(n);
        if self.head.wrapping_sub(self.released.get()) >= self.release_every {
            self.hand_back();
        }
    }

    #[inline(always)]
    fn read_at(&self, counter: usize) -> T {
        self.shared.slot(counter).with(|p| {
            // SAFETY: `counter` is in `[head, tail)` with `tail` Acquire-loaded after the
            // producer's Release store, so the slot is initialised and the producer will not
            // touch it until we release it; `T: Copy`, so copying it out is a plain read.
            unsafe { (*p).assume_init() }
        })
    }

    /// Pops the oldest item, or `None` if the ring is empty.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.available(1) == 0 {
            return None;
        }
        let v = self.read_at(self.head);
        self.release(1);
        Some(v)
    }

    /// Copies up to `out.len()` of the oldest items into the front of `out`, returns how many
    /// (0 when empty). Marks them read: their slots go back to the producer in batches (see
    /// the crate's design notes).
    #[inline]
    pub fn pop_into(&mut self, out: &mut [T]) -> usize {
        let n = self.available(out.len()).min(out.len());
        if n == 0 {
            return 0;
        }
        self.copy_out(&mut out[..n]);
        self.release(n);
        n
    }

    /// Copies the oldest `out.len()` items, from `head` on, into `out` (at most two `memcpy`s).
    /// The caller checked they are available.
    #[cfg(not(loom))]
    #[inline(always)]
    fn copy_out(&self, out: &mut [T]) {
        let shared = &*self.shared;
        let n = out.len();
        debug_assert!(n <= self.cached_tail.wrapping_sub(self.head));
        let (start, first) = shared.runs(self.head, n);
        let base = shared.slots_ptr().cast::<T>().cast_const();
        // SAFETY: the caller checked `n <= available`, so the ring positions `[head, head + n)`
        // were published by the producer's Release store of `tail`, which we Acquire-loaded into
        // `cached_tail`: they are initialised, and the producer will not overwrite them until
        // our Release store of `head` in `hand_back`. They are the slot indices
        // `[start, start + first)` and `[0, n - first)`, both inside the buffer, and `base` may
        // be offset to any slot (see `slots_ptr`). `out` is an exclusive borrow of memory
        // outside the ring, so the ranges do not overlap. `T: Copy`: a bitwise copy is a copy.
        unsafe {
            core::ptr::copy_nonoverlapping(base.add(start), out.as_mut_ptr(), first);
            core::ptr::copy_nonoverlapping(base, out.as_mut_ptr().add(first), n - first);
        }
    }

    /// Loom's cells are not contiguous: one slot at a time, through its cell.
    #[cfg(loom)]
    fn copy_out(&self, out: &mut [T]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.read_at(self.head.wrapping_add(i));
        }
    }

    /// Returns a copy of the oldest item without removing it.
    pub fn peek(&mut self) -> Option<T> {
        if self.available(1) == 0 {
            return None;
        }
        Some(self.read_at(self.head))
    }

    /// Up to `max` of the oldest items, to read in place rather than copy out: the lane reads
    /// its events where the producer wrote them. Nothing is marked read until the chunk is
    /// committed ([`ReadChunk::commit_all`], [`ReadChunk::commit`]), and committed slots go
    /// back to the producer with the next hand-back (see the crate's design notes); dropping
    /// the chunk commits nothing, so the items are read again by the next call.
    #[cfg(not(loom))]
    #[inline]
    pub fn read_chunk(&mut self, max: usize) -> ReadChunk<'_, T> {
        let len = self.available(max).min(max);
        ReadChunk {
            consumer: self,
            len,
        }
    }

    /// Number of items available to pop right now. First hands back the slots read since the
    /// last hand-back: a consumer waiting on `len` must not hold back a producer waiting for
    /// room (see the crate's design notes).
    pub fn len(&self) -> usize {
        self.hand_back();
        self.shared
            .tail
            .load(Ordering::Acquire)
            .wrapping_sub(self.head)
    }

    /// `true` if there is nothing to pop right now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

/// The oldest items of a ring, readable in place, from [`Consumer::read_chunk`]: the slots stay
/// the consumer's at least until the chunk is committed, so the producer cannot reuse them
/// meanwhile.
#[cfg(not(loom))]
pub struct ReadChunk<'a, T> {
    consumer: &'a mut Consumer<T>,
    len: usize,
}

#[cfg(not(loom))]
impl<T> fmt::Debug for ReadChunk<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadChunk").field("len", &self.len).finish()
    }
}

#[cfg(not(loom))]
impl<T: Copy> ReadChunk<'_, T> {
    /// Number of items in the chunk.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` if the ring had nothing to read.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The items, oldest first, as two slices (the second is non-empty when the chunk wraps
    /// around the end of the buffer).
    #[inline]
    pub fn as_slices(&self) -> (&[T], &[T]) {
        let c = &*self.consumer;
        let shared = &*c.shared;
        let (start, first) = shared.runs(c.head, self.len);
        let base = shared.slots_ptr().cast::<T>().cast_const();
        // SAFETY: `len <= available`, so ring positions `[head, head + len)` were published by
        // the producer's Release store of `tail`, which `available` Acquire-loaded: those slots
        // are initialised. The producer writes only positions in `[tail, stored + capacity)`,
        // `stored` being the `head` we last stored, never past our local `head`: so it will not
        // touch these slots until `hand_back` stores a `head` past them, which needs our local
        // `head` to move past them first; only `commit*` move it, and they take the chunk (and
        // with it these borrows) by value. They are the slot indices `[start, start + first)`
        // and `[0, len - first)`, inside the buffer, and `base` may be offset to any slot (see
        // `slots_ptr`): `Slot<T>` is `repr(transparent)` over `UnsafeCell<MaybeUninit<T>>`, so
        // each slot is a `T` here.
        // Shared references into `UnsafeCell`s are sound while nothing writes those cells.
        unsafe {
            (
                core::slice::from_raw_parts(base.add(start), first),
                core::slice::from_raw_parts(base, self.len - first),
            )
        }
    }

    /// Marks every item of the chunk read (their slots go back to the producer with the next
    /// hand-back).
    #[inline]
    pub fn commit_all(self) {
        let n = self.len;
        self.consumer.release(n);
    }

    /// Marks the first `k` items read (the rest are read again by the next
    /// [`Consumer::read_chunk`]).
    ///
    /// # Panics
    ///
    /// If `k > self.len()`.
    #[inline]
    pub fn commit(self, k: usize) {
        assert!(
            k <= self.len,
            "commit({k}) beyond the {} items read",
            self.len
        );
        self.consumer.release(k);
    }
}

impl<T> Drop for Consumer<T> {
    /// Hands back the slots read since the last hand-back, so that [`Producer::len`] stays
    /// exact once the consumer is gone.
    fn drop(&mut self) {
        self.hand_back();
        end_dropped(&self.shared.ends);
    }
}

impl<T> Drop for Producer<T> {
    /// Tells the consumer this end is gone (see [`Consumer::is_abandoned`]).
    fn drop(&mut self) {
        end_dropped(&self.shared.ends);
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
