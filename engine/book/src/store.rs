//! Slab storage for orders and price levels, and the sorted level ladder of one book side.
//!
//! Orders and levels of every instrument live in two market-wide slabs (a `Vec` plus an
//! intrusive free list, addressed by `u32` indices), so steady-state processing allocates
//! nothing: a freed slot is reused by the next add. Each level keeps its orders as an intrusive
//! doubly-linked FIFO list through the order slots (`prev`/`next`), which gives O(1) append,
//! O(1) unlink and exact queue position.

use ticklane_core::{Price, Side};

/// "No index" in slab links.
pub(crate) const NIL: u32 = u32::MAX;

/// One live (or free) order slot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OrderSlot {
    /// Order reference.
    pub id: u64,
    /// Event time of the add (time priority is the FIFO position; this is informational).
    pub ts: u64,
    /// Remaining displayed quantity.
    pub qty: u32,
    /// Previous order at the level (towards the head), or `NIL`.
    pub prev: u32,
    /// Next order at the level (towards the tail), or `NIL`; free-list link when free.
    pub next: u32,
    /// Level slot, or `NIL` when the slot is free.
    pub level: u32,
    /// Book (dense market-internal index).
    pub book: u32,
    /// Resting side.
    pub side: Side,
}

/// One price level (or free level slot).
#[derive(Clone, Copy, Debug)]
pub(crate) struct LevelSlot {
    /// Level price.
    pub price: Price,
    /// Sum of the remaining quantities of its orders.
    pub qty: u64,
    /// Number of orders; 0 only when the slot is free.
    pub count: u32,
    /// First order (highest priority), or the free-list link when free.
    pub head: u32,
    /// Last order.
    pub tail: u32,
    /// Book and side of the level (`book << 1 | side index`), `NIL` when free. With `price`
    /// and a non-zero `count` it identifies a live level, so a book's level hints are checked
    /// against the slot and need no invalidation (see [`crate::book::Book::hints`]).
    pub owner: u32,
}

impl LevelSlot {
    /// [`LevelSlot::owner`] of a level of book `b` on `side`.
    #[inline(always)]
    pub fn owner_of(b: u32, side: Side) -> u32 {
        // Unique below 2^31 books (each book takes over 1.6 KiB, so no market gets there);
        // `NIL` stays free for free slots.
        debug_assert!(
            b < NIL >> 1,
            "book index {b} leaves no room for the side bit"
        );
        b << 1 | side.index() as u32
    }
}

/// A `Vec` of slots with a free list threaded through the slots.
#[derive(Clone, Debug)]
pub(crate) struct Slab<T> {
    pub slots: Vec<T>,
    free: u32,
    live: usize,
}

/// How a slab slot stores its free-list link.
pub(crate) trait FreeLink: Copy {
    /// A free slot (what the reserve is written with when it is faulted in).
    fn blank() -> Self;
    fn link(&self) -> u32;
    fn set_free(&mut self, next: u32);
}

impl FreeLink for OrderSlot {
    fn blank() -> Self {
        Self {
            id: 0,
            ts: 0,
            qty: 0,
            prev: NIL,
            next: NIL,
            level: NIL,
            book: NIL,
            side: Side::Bid,
        }
    }
    #[inline(always)]
    fn link(&self) -> u32 {
        self.next
    }
    #[inline(always)]
    fn set_free(&mut self, next: u32) {
        self.next = next;
        self.prev = NIL;
        self.level = NIL;
    }
}

impl FreeLink for LevelSlot {
    fn blank() -> Self {
        Self {
            price: Price(0),
            qty: 0,
            count: 0,
            head: NIL,
            tail: NIL,
            owner: NIL,
        }
    }
    #[inline(always)]
    fn link(&self) -> u32 {
        self.head
    }
    #[inline(always)]
    fn set_free(&mut self, next: u32) {
        self.head = next;
        self.tail = NIL;
        self.count = 0;
        self.qty = 0;
        self.owner = NIL;
    }
}

impl<T: FreeLink> Slab<T> {
    /// An empty slab with room for `n` slots, its memory faulted in: the reserve is written
    /// once here, so that the first use of each slot in a session takes no page fault (on the
    /// lane thread, a fault on fresh memory stalled the hot path for tens of µs and more).
    pub fn with_capacity(n: usize) -> Self {
        Self {
            slots: ticklane_core::resident::resident_vec(n, T::blank()),
            free: NIL,
            live: 0,
        }
    }

    /// Stores `v`, reusing a free slot when there is one.
    #[inline(always)]
    pub fn alloc(&mut self, v: T) -> u32 {
        self.live += 1;
        if self.free != NIL {
            let i = self.free;
            let slot = &mut self.slots[i as usize];
            self.free = slot.link();
            *slot = v;
            i
        } else {
            let i = self.slots.len() as u32;
            self.slots.push(v);
            i
        }
    }

    /// Whether the next [`Slab::alloc`] would grow the `Vec` (no free slot, the reserve used).
    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.free == NIL && self.slots.len() == self.slots.capacity()
    }

    /// Returns slot `i` to the free list.
    #[inline(always)]
    pub fn free(&mut self, i: u32) {
        self.live -= 1;
        let head = self.free;
        self.slots[i as usize].set_free(head);
        self.free = i;
    }

    /// Frees every slot at once, keeping the reserve (written and resident) for reuse.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.free = NIL;
        self.live = 0;
    }

    /// Number of live slots.
    #[inline]
    pub fn live(&self) -> usize {
        self.live
    }

    /// Number of slots on the free list (walks it; for invariant checks).
    pub fn free_count(&self) -> usize {
        self.free_slots().count()
    }

    /// The slots on the free list, most recently freed first (for invariant checks). Stops
    /// after `slots.len() + 1` steps, or at a link out of range, should the list be broken.
    pub fn free_slots(&self) -> impl Iterator<Item = u32> + '_ {
        core::iter::successors(Some(self.free), |&i| {
            self.slots.get(i as usize).map(FreeLink::link)
        })
        .take_while(|&i| i != NIL)
        .take(self.slots.len() + 1)
    }
}

/// The levels of one side, sorted so that the best price is the LAST element.
///
/// Entries are `(key, level slot)` where `key = price` for bids and `key = !price` (that is,
/// `-price - 1`, order-reversing and overflow-free) for asks, so both sides are ascending by key
/// and the best level is at the end. Activity concentrates near the top of the book, so inserts
/// and removals there move few elements, and lookups scan a few entries from the end before
/// falling back to binary search. The best entry is also kept beside the `Vec` (`best`,
/// `best_key`), so that the top of book and the crossed check read the book's own line, not
/// the entries.
#[derive(Clone, Debug)]
pub(crate) struct Ladder {
    levels: Vec<(i64, u32)>,
    /// The last entry's level slot (the best level), `NIL` when the side is empty.
    best: u32,
    /// The last entry's key (0 when the side is empty).
    best_key: i64,
}

/// Entries checked linearly from the best end before binary search.
const SCAN: usize = 8;

impl Ladder {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            levels: Vec::with_capacity(n),
            best: NIL,
            best_key: 0,
        }
    }

    /// Sort key of `price` on `side`.
    #[inline(always)]
    pub fn key(side: Side, price: Price) -> i64 {
        match side {
            Side::Bid => price.0,
            Side::Ask => !price.0,
        }
    }

    /// Position of `key`: `Ok(i)` if present, `Err(i)` where it would be inserted.
    #[inline(always)]
    pub fn find(&self, key: i64) -> Result<usize, usize> {
        let v = &self.levels;
        let n = v.len();
        let stop = n.saturating_sub(SCAN);
        let mut i = n;
        while i > stop {
            let k = v[i - 1].0;
            if k == key {
                return Ok(i - 1);
            }
            if k < key {
                return Err(i);
            }
            i -= 1;
        }
        v[..stop].binary_search_by(|e| e.0.cmp(&key))
    }

    /// The entries, worst to best.
    #[inline(always)]
    pub fn levels(&self) -> &[(i64, u32)] {
        &self.levels
    }

    /// Level slot of the best level.
    #[inline(always)]
    pub fn best(&self) -> Option<u32> {
        (self.best != NIL).then_some(self.best)
    }

    /// Key of the best level.
    #[inline(always)]
    pub fn best_key(&self) -> Option<i64> {
        (self.best != NIL).then_some(self.best_key)
    }

    /// Whether the kept best entry is the last entry (for invariant checks).
    pub fn best_is_last(&self) -> bool {
        self.levels.last().copied() == self.best().map(|l| (self.best_key, l))
    }

    #[inline]
    pub fn insert(&mut self, pos: usize, key: i64, level: u32) {
        self.levels.insert(pos, (key, level));
        if pos + 1 == self.levels.len() {
            (self.best_key, self.best) = (key, level);
        }
    }

    #[inline(always)]
    pub fn remove_key(&mut self, key: i64) -> bool {
        match self.find(key) {
            Ok(pos) => {
                self.levels.remove(pos);
                if pos == self.levels.len() {
                    (self.best_key, self.best) = self.levels.last().copied().unwrap_or((0, NIL));
                }
                true
            }
            Err(_) => false,
        }
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Removes every level, keeping the allocation.
    pub fn clear(&mut self) {
        self.levels.clear();
        (self.best_key, self.best) = (0, NIL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserved_slab_starts_empty_and_fills_its_reserve_without_moving() {
        let mut s = Slab::<OrderSlot>::with_capacity(1_000);
        assert_eq!((s.slots.len(), s.live()), (0, 0));
        assert!(s.slots.capacity() >= 1_000);
        let start = s.slots.as_ptr();
        let ids: Vec<u32> = (0..1_000u64)
            .map(|id| {
                s.alloc(OrderSlot {
                    id,
                    ..OrderSlot::blank()
                })
            })
            .collect();
        assert_eq!(ids, (0..1_000).collect::<Vec<u32>>());
        assert_eq!(
            s.slots.as_ptr(),
            start,
            "the slab reallocated inside its reserve"
        );
        assert!(s.slots.iter().zip(0u64..).all(|(o, id)| o.id == id));
        // Freed slots are reused last-in first-out, as before.
        s.free(17);
        s.free(3);
        assert_eq!(s.free_count(), 2);
        assert_eq!(s.alloc(OrderSlot::blank()), 3);
        assert_eq!(s.alloc(OrderSlot::blank()), 17);
        assert_eq!(s.live(), 1_000);
    }

    /// A free list that loops through every slot must not balance the books' slab check
    /// (`live + free_count == slots.len()`): the walk takes one step more than there are slots
    /// (mutation testing: `take(len * 1)` survived, which made such a cycle pass).
    #[test]
    fn a_free_list_cycle_through_every_slot_counts_past_the_slots() {
        let mut s = Slab::<LevelSlot>::with_capacity(4);
        let a = s.alloc(LevelSlot::blank());
        let b = s.alloc(LevelSlot::blank());
        s.free(a);
        s.free(b);
        assert_eq!(s.free_slots().collect::<Vec<_>>(), vec![b, a]);
        assert_eq!(s.live() + s.free_count(), s.slots.len());
        s.slots[a as usize].set_free(b); // a -> b -> a -> ...
        assert_eq!(
            s.live() + s.free_count(),
            s.slots.len() + 1,
            "a cyclic free list balanced the slab accounting"
        );
    }

    /// `best_is_last` is the invariant check's only view of the kept best entry: it must
    /// report a kept best that is not the last entry (mutation testing: kills `best_is_last -> true`).
    #[test]
    fn best_is_last_reports_a_kept_best_that_is_not_the_last_entry() {
        let mut l = Ladder::with_capacity(4);
        assert!(l.best_is_last(), "an empty side");
        l.insert(0, 10, 1);
        l.insert(1, 20, 2);
        l.insert(0, 5, 3);
        assert!(l.best_is_last());
        assert_eq!((l.best(), l.best_key()), (Some(2), Some(20)));
        // A stale kept best (the entry before the last), as a bug in insert/remove would leave.
        (l.best_key, l.best) = (10, 1);
        assert!(!l.best_is_last(), "a stale kept best passed the check");
        // A kept best on a side whose entries are gone.
        let mut e = Ladder::with_capacity(1);
        e.insert(0, 7, 9);
        e.levels.clear();
        assert!(
            !e.best_is_last(),
            "a kept best with no entries passed the check"
        );
    }
}
