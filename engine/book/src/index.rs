//! [`OrderIndex`]: order id → slab slot, a direct-mapped window over the recent ids with a
//! hash table for the old orders the window has moved past.
//!
//! Order references mostly increase through the day, each add taking the next one, and the
//! orders touched most are the young ones. NASDAQ's references also step by four (every AAPL
//! reference in the sample of a real day in `shared/data` is ≡ 1 mod 4, see its README; the
//! generated sessions do the same). So the index is a **window**: an array of `W` slots (a
//! power of two) where the id `k` has exactly one place, `(k / 4 + offset(k >> 26)) mod W`
//! while every id in the window has the same remainder mod 4 (and `(k + offset(k >> 24)) mod
//! W` from the first id that does not: the window is then rebuilt once, and a feed whose ids
//! use several remainders runs with one place in four used, correct but with less reach). The offset is a Fibonacci hash of the high bits, so that ids differing only in their
//! high bits (a venue's per-instrument prefix) do not share places. Consecutive references take
//! consecutive places, sixteen to a cache line: the adds walk the window in order and the
//! lookups of young orders land in lines that the adds just wrote.
//!
//! A place holds one slot. When a new id's place still holds a live order (one added about `W`
//! references earlier, typically resting deep in the book), that order moves to the
//! **overflow**, a [`ProbedIndex`] (open addressing, linear probing), and the new id takes the
//! place. A lookup reads the id's place and confirms it with `key_of` (the order book reads the
//! id from the order slot it is about to touch anyway); only when that misses and the overflow
//! holds anything is the overflow probed. Removal empties the place: no probing, no shifting.
//!
//! Cost compared with the probed table it replaced as the main index (4-byte entries at one
//! entry in four for NASDAQ's ids, linear probing, backward-shift deletion): one load and one
//! compare for a hit, no probe loop or backward shift whose exits the branch predictor misses,
//! and four times denser entries for the young orders. See `BENCHMARKS.md`.
//!
//! Reference 0, which some feeds send (the book counts it as an anomaly and keeps the order),
//! is kept in the overflow while the window is strided, so that one such order does not end
//! the stride.
//!
//! `key_of(v)` must return the key stored with value `v` for every value currently in the
//! index; it is only called with such values. The value `u32::MAX` cannot be stored.

use ticklane_core::OrderId;

use crate::probed::{near_identity_home, twice_as_power_of_two, ProbedIndex};

/// Marks an empty place.
const EMPTY: u32 = u32::MAX;
/// Smallest window.
const MIN_WINDOW: usize = 16;
/// Window places per order of the reserve. An order still live when the adds come round to
/// its place again (`places` references later) moves to the overflow, and a lookup of it then
/// costs a probe there; on the generated sessions two places per reserved order (the first
/// size) moved two thirds of the live orders to the overflow within 2 M messages (the deep
/// orders, which live long), eight places a quarter of them, for 6–9% more events a second
/// (`BENCHMARKS.md`). Four bytes a place: 32 bytes per reserved order.
const WINDOW_PER_ORDER: usize = 8;
const _: () = assert!(WINDOW_PER_ORDER.is_power_of_two() && WINDOW_PER_ORDER >= 2);
/// Largest window: 2^26 places (256 MiB) cover the last 64 M references, more than a day's
/// young orders; a larger reserve only grows the overflow table.
const MAX_WINDOW: usize = 1 << 26;
/// Places of the window of an index sized for `n` live orders.
fn window_places(n: usize) -> usize {
    twice_as_power_of_two(n.saturating_mul(WINDOW_PER_ORDER / 2), MIN_WINDOW).min(MAX_WINDOW)
}

/// Low key bits dropped by the place function while every key has the same remainder.
const STRIDE_BITS: u32 = 2;

/// Map `OrderId -> u32` (a slab slot) that stores only the values, tuned for the order book's
/// hot path: a direct-mapped window over recent ids plus an overflow table for old ones.
#[derive(Clone, Debug)]
pub struct OrderIndex {
    window: Vec<u32>,
    mask: usize,
    /// Low key bits the place function drops: `STRIDE_BITS` while every stored key has the
    /// remainder `residue` mod 4, 0 once one did not.
    shift: u32,
    /// `key mod 4` of the keys in the window while `shift != 0` (free to change while the
    /// window is empty; the overflow does not depend on it).
    residue: u64,
    /// Live orders the window moved past.
    overflow: ProbedIndex,
    /// Keys stored in the window (the overflow counts its own).
    in_window: usize,
    /// The largest key ever stored (0 before the first): a larger key cannot be a duplicate.
    max_key: u64,
}

impl Default for OrderIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl OrderIndex {
    /// Empty index with the smallest window.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// Empty index sized for `n` live orders: a window of `8n` places (rounded up to a power of
    /// two, at most 2^26), which covers the last `8n` references of a feed that steps by four,
    /// and an overflow table that holds `n` old orders without growing, so that a day whose
    /// live orders stay within `n` never reallocates the index.
    pub fn with_capacity(n: usize) -> Self {
        let cap = window_places(n);
        Self {
            window: vec![EMPTY; cap],
            mask: cap - 1,
            shift: STRIDE_BITS,
            residue: 0,
            overflow: ProbedIndex::with_capacity(n),
            in_window: 0,
            max_key: 0,
        }
    }

    /// Number of keys stored.
    #[inline]
    pub fn len(&self) -> usize {
        self.in_window + self.overflow.len()
    }

    /// Whether no key is stored.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of places in the window (a power of two).
    #[inline]
    pub fn capacity(&self) -> usize {
        self.window.len()
    }

    /// Number of keys held by the overflow table (old orders the window moved past).
    #[inline]
    pub fn overflowed(&self) -> usize {
        self.overflow.len()
    }

    /// Whether places pack keys that step by four into consecutive places (every key placed
    /// in the window, other than reference 0, had the same remainder mod 4).
    #[inline]
    pub fn is_strided(&self) -> bool {
        self.shift != 0
    }

    /// The one place of `key` in the window.
    #[inline(always)]
    fn place(&self, key: u64) -> usize {
        near_identity_home(key >> self.shift, self.mask)
    }

    /// Value stored for `key`.
    #[inline]
    pub fn get(&self, key: OrderId, key_of: impl Fn(u32) -> u64) -> Option<u32> {
        self.locate(key, key_of).map(|(_, v)| v)
    }

    /// Where `key` is stored (a handle for [`OrderIndex::remove_at`]) and its value.
    #[inline(always)]
    pub fn locate(&self, key: OrderId, key_of: impl Fn(u32) -> u64) -> Option<(usize, u32)> {
        let p = self.place(key.0);
        let v = self.window[p];
        if v != EMPTY && key_of(v) == key.0 {
            return Some((p, v));
        }
        self.locate_overflow(key, &key_of)
    }

    /// The overflow half of [`OrderIndex::locate`]: handles past the window's length.
    #[inline]
    fn locate_overflow(&self, key: OrderId, key_of: &impl Fn(u32) -> u64) -> Option<(usize, u32)> {
        if self.overflow.is_empty() {
            return None;
        }
        self.overflow
            .locate(key, key_of)
            .map(|(i, v)| (self.window.len() + i, v))
    }

    /// Inserts `key -> val` unless `key` is present, in which case the index is unchanged and
    /// the stored value is returned as the error. `val` must not be `u32::MAX`; `key_of(val)`
    /// must return `key` from now on.
    #[inline(always)]
    pub fn try_insert(
        &mut self,
        key: OrderId,
        val: u32,
        key_of: impl Fn(u32) -> u64,
    ) -> Result<(), u32> {
        debug_assert!(val != EMPTY);
        if self.shift != 0 && (key.0 & 3 != self.residue || key.0 == 0) {
            if key.0 == 0 {
                return self.insert_zero(val, &key_of);
            }
            self.off_stride(key.0, &key_of);
        }
        let p = self.place(key.0);
        let held = self.window[p];
        if key.0 > self.max_key {
            // Larger than every key ever stored, so not stored: no duplicate to look for. Ids
            // increase through the day, so nearly every add takes this way.
            self.max_key = key.0;
        } else {
            if held != EMPTY && key_of(held) == key.0 {
                return Err(held);
            }
            if !self.overflow.is_empty() {
                if let Some(old) = self.overflow.get(key, &key_of) {
                    return Err(old);
                }
            }
        }
        if held != EMPTY {
            self.evict(held, &key_of);
        } else {
            self.in_window += 1;
        }
        self.window[p] = val;
        Ok(())
    }

    /// Moves the window's `held` (an older live order) to the overflow table.
    #[cold]
    #[inline(never)]
    fn evict(&mut self, held: u32, key_of: &impl Fn(u32) -> u64) {
        let moved = self
            .overflow
            .try_insert(OrderId(key_of(held)), held, key_of);
        debug_assert!(moved.is_ok(), "a key in the window is not in the overflow");
    }

    /// Reference 0 while the window is strided: kept in the overflow, so that it neither
    /// takes a place nor ends the stride (some feeds send it; the book counts it as an
    /// anomaly and keeps the order).
    #[cold]
    #[inline(never)]
    fn insert_zero(&mut self, val: u32, key_of: &impl Fn(u32) -> u64) -> Result<(), u32> {
        self.overflow.try_insert(OrderId(0), val, key_of)
    }

    /// A key off the stride: the first key placed in an empty window sets the remainder;
    /// otherwise the window is rebuilt without the stride (once).
    #[cold]
    #[inline(never)]
    fn off_stride(&mut self, key: u64, key_of: &impl Fn(u32) -> u64) {
        if self.in_window == 0 {
            self.residue = key & 3;
            return;
        }
        let values: Vec<u32> = self.values().collect();
        self.clear();
        self.shift = 0;
        // The keys are distinct: each goes to its place, evicting what is there.
        for v in values {
            let p = self.place(key_of(v));
            let held = core::mem::replace(&mut self.window[p], v);
            if held != EMPTY {
                self.evict(held, key_of);
            } else {
                self.in_window += 1;
            }
        }
    }

    /// Removes `key`, returning its value.
    #[inline]
    pub fn remove(&mut self, key: OrderId, key_of: impl Fn(u32) -> u64) -> Option<u32> {
        let (i, _) = self.locate(key, &key_of)?;
        Some(self.remove_at(i, key_of))
    }

    /// Removes the key at handle `i`, as returned by [`OrderIndex::locate`] with no insert or
    /// removal since (the book looks an order up, then removes it: one lookup, not two).
    /// Returns its value.
    #[inline(always)]
    pub fn remove_at(&mut self, i: usize, key_of: impl Fn(u32) -> u64) -> u32 {
        if let Some(place) = self.window.get_mut(i) {
            debug_assert!(*place != EMPTY, "remove_at: place {i} is empty");
            self.in_window -= 1;
            core::mem::replace(place, EMPTY)
        } else {
            self.overflow.remove_at(i - self.window.len(), key_of)
        }
    }

    /// Removes every key, keeping the allocations (and the stride mode).
    pub fn clear(&mut self) {
        self.window.fill(EMPTY);
        self.overflow.clear();
        self.in_window = 0;
    }

    /// Removes every key and forgets every key seen (the largest, the remainder mod 4): the
    /// index of a new trading day, whose references start again from 1, as a new index would
    /// be, but in the same allocations.
    pub fn reset(&mut self) {
        self.clear();
        self.shift = STRIDE_BITS;
        self.residue = 0;
        self.max_key = 0;
    }

    /// Every stored value: the window's in place order, then the overflow's.
    pub fn values(&self) -> impl Iterator<Item = u32> + '_ {
        self.window
            .iter()
            .copied()
            .filter(|&v| v != EMPTY)
            .chain(self.overflow.values())
    }

    /// Checks that every key sits at its place or in the overflow (not both), that none is
    /// above the largest key seen, that the stride mode holds for every key in the window,
    /// that every key finds its value and that the counts add up (for invariant checks):
    /// `Err(value)` names the first value that does not.
    pub fn check(&self, key_of: impl Fn(u32) -> u64) -> Result<(), u32> {
        let mut in_window = 0;
        for (p, &v) in self.window.iter().enumerate() {
            if v == EMPTY {
                continue;
            }
            in_window += 1;
            let key = key_of(v);
            if self.place(key) != p
                || key > self.max_key
                || (self.shift != 0 && (key & 3 != self.residue || key == 0))
                || self.overflow.get(OrderId(key), &key_of).is_some()
            {
                return Err(v);
            }
        }
        self.overflow.check(&key_of)?;
        for v in self.overflow.values() {
            let key = key_of(v);
            if key > self.max_key || self.get(OrderId(key), &key_of) != Some(v) {
                return Err(v);
            }
        }
        if in_window != self.in_window {
            return Err(EMPTY);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    use crate::test_keys::{ins, model_step, rem, same_pairs, Keys, Op};

    #[test]
    fn sizes_for_a_reserve() {
        // The engine's usual reserve: 8 window places and 2 overflow entries per order, 4 bytes
        // each (the figures in the crate docs).
        let t = OrderIndex::with_capacity(1 << 16);
        assert_eq!((t.capacity(), t.overflow.capacity()), (1 << 19, 1 << 17));
        assert_eq!(window_places(0), MIN_WINDOW);
        assert_eq!(window_places(100_000), 1 << 20);
        assert_eq!(window_places(1 << 30), MAX_WINDOW);
        assert_eq!(window_places(usize::MAX), MAX_WINDOW);
    }

    #[test]
    fn nasdaq_references_take_consecutive_places() {
        let mut t = OrderIndex::with_capacity(64);
        let mut keys = Keys::default();
        for v in 0..100u32 {
            ins(&mut t, &mut keys, 4_000_001 + 4 * u64::from(v), v).expect("fresh");
        }
        let places: Vec<usize> = (0..100u64).map(|v| t.place(4_000_001 + 4 * v)).collect();
        assert!(
            places.windows(2).all(|w| w[1] == (w[0] + 1) & t.mask),
            "{places:?}"
        );
        assert_eq!((t.len(), t.overflowed()), (100, 0));
        assert!(t.is_strided());
        assert_eq!(rem(&mut t, &mut keys, 4_000_001 + 4 * 7), Some(7));
        assert_eq!(t.window[places[7]], EMPTY);
        assert_eq!(t.get(OrderId(4_000_001 + 4 * 8), keys.key_of()), Some(8));
        assert_eq!(t.get(OrderId(4_000_001 + 4 * 7), keys.key_of()), None);
        assert_eq!(t.check(keys.key_of()), Ok(()));
    }

    #[test]
    fn an_old_order_in_a_new_ids_place_moves_to_the_overflow() {
        let mut t = OrderIndex::with_capacity(8);
        let w = t.capacity() as u64;
        let mut keys = Keys::default();
        // Ids 1, 5, 9, ...: after `w` of them the places come round again.
        for v in 0..(w + 3) as u32 {
            ins(&mut t, &mut keys, 1 + 4 * u64::from(v), v).expect("fresh");
        }
        assert_eq!((t.len() as u64, t.overflowed()), (w + 3, 3));
        for v in 0..(w + 3) as u32 {
            assert_eq!(t.get(OrderId(1 + 4 * u64::from(v)), keys.key_of()), Some(v));
        }
        // A duplicate of an overflowed id is refused, whatever holds its place now.
        assert_eq!(t.try_insert(OrderId(1), 999, keys.key_of()), Err(0));
        assert_eq!(rem(&mut t, &mut keys, 1 + 4 * w), Some(w as u32));
        assert_eq!(t.try_insert(OrderId(1), 999, keys.key_of()), Err(0));
        // Removing through the overflow's handle.
        assert_eq!(rem(&mut t, &mut keys, 5), Some(1));
        assert_eq!(rem(&mut t, &mut keys, 1), Some(0));
        assert_eq!(t.overflowed(), 1);
        assert_eq!(t.check(keys.key_of()), Ok(()));
        // Unknown ids are unknown in both halves.
        assert_eq!(t.get(OrderId(3), keys.key_of()), None);
        assert_eq!(t.remove(OrderId(1), keys.key_of()), None);
    }

    #[test]
    fn a_key_off_the_stride_rebuilds_the_window_once() {
        let mut t = OrderIndex::with_capacity(8);
        let mut keys = Keys::default();
        for v in 0..20u32 {
            ins(&mut t, &mut keys, 1 + 4 * u64::from(v), v).expect("fresh");
        }
        assert!(t.is_strided());
        ins(&mut t, &mut keys, 6, 20).expect("fresh");
        assert!(!t.is_strided());
        for v in 0..20u32 {
            assert_eq!(t.get(OrderId(1 + 4 * u64::from(v)), keys.key_of()), Some(v));
        }
        assert_eq!(t.get(OrderId(6), keys.key_of()), Some(20));
        assert_eq!(t.len(), 21);
        assert_eq!(t.check(keys.key_of()), Ok(()));
        // An emptied index takes the remainder of its next key without a rebuild.
        let mut u = OrderIndex::new();
        let mut k2 = Keys::default();
        ins(&mut u, &mut k2, 1, 0).expect("fresh");
        rem(&mut u, &mut k2, 1);
        ins(&mut u, &mut k2, 2, 1).expect("fresh");
        ins(&mut u, &mut k2, 6, 2).expect("fresh");
        assert!(u.is_strided());
        assert_eq!(u.check(k2.key_of()), Ok(()));
    }

    #[test]
    fn reference_zero_neither_takes_a_place_nor_ends_the_stride() {
        for zero_first in [true, false] {
            let mut t = OrderIndex::with_capacity(8);
            let mut keys = Keys::default();
            if zero_first {
                ins(&mut t, &mut keys, 0, 100).expect("fresh");
            }
            for v in 0..20u32 {
                ins(&mut t, &mut keys, 1 + 4 * u64::from(v), v).expect("fresh");
            }
            if !zero_first {
                ins(&mut t, &mut keys, 0, 100).expect("fresh");
            }
            assert!(t.is_strided(), "zero first: {zero_first}");
            assert_eq!(t.try_insert(OrderId(0), 101, keys.key_of()), Err(100));
            assert_eq!(t.get(OrderId(0), keys.key_of()), Some(100));
            assert_eq!(t.check(keys.key_of()), Ok(()));
            assert_eq!(rem(&mut t, &mut keys, 0), Some(100));
            assert_eq!(t.get(OrderId(0), keys.key_of()), None);
            assert_eq!(t.len(), 20);
            assert_eq!(t.check(keys.key_of()), Ok(()));
        }
    }

    #[test]
    fn a_live_set_within_the_reserve_never_grows_the_overflow() {
        let mut t = OrderIndex::with_capacity(64);
        let before = t.overflow.capacity();
        let mut keys = Keys::default();
        // 60 early orders stay; 4 at a time come and go after them until the window has come
        // round twice: every early order moves to the overflow, live orders never exceed 64.
        for v in 0..60u32 {
            ins(&mut t, &mut keys, 1 + 4 * u64::from(v), v).expect("fresh");
        }
        for first in (60..60 + 2 * t.capacity() as u32).step_by(4) {
            for v in first..first + 4 {
                ins(&mut t, &mut keys, 1 + 4 * u64::from(v), v).expect("fresh");
            }
            for v in first..first + 4 {
                assert_eq!(rem(&mut t, &mut keys, 1 + 4 * u64::from(v)), Some(v));
            }
        }
        assert_eq!((t.len(), t.overflowed()), (60, 60));
        assert_eq!(t.overflow.capacity(), before, "the overflow grew");
        assert_eq!(t.check(keys.key_of()), Ok(()));
    }

    /// `is_empty` is public API that nothing in the crate calls (mutation testing:
    /// `is_empty -> true` survived): it follows the keys in both halves.
    #[test]
    fn is_empty_follows_the_window_and_the_overflow() {
        let mut t = OrderIndex::new();
        let mut keys = Keys::default();
        assert!(t.is_empty());
        ins(&mut t, &mut keys, 1, 0).expect("fresh");
        assert!(!t.is_empty(), "a key in the window");
        ins(&mut t, &mut keys, 0, 1).expect("fresh");
        assert_eq!(rem(&mut t, &mut keys, 1), Some(0));
        assert!(!t.is_empty(), "reference 0, kept in the overflow");
        assert_eq!(rem(&mut t, &mut keys, 0), Some(1));
        assert!(t.is_empty());
    }

    /// A strided index holding ids 1, 5, 9 (values 0, 1, 2) in the window and ids 401, 405
    /// (values 3, 4) in the overflow, so that each corruption below breaks one rule only.
    fn small_index() -> (OrderIndex, Keys) {
        let mut t = OrderIndex::new();
        let mut keys = Keys::default();
        for (v, k) in [1u64, 5, 9].into_iter().enumerate() {
            ins(&mut t, &mut keys, k, v as u32).expect("fresh");
        }
        for (v, k) in [(3u32, 401u64), (4, 405)] {
            keys.0.insert(v, k);
            t.overflow
                .try_insert(OrderId(k), v, keys.key_of())
                .expect("fresh");
        }
        t.max_key = 405;
        assert!(t.is_strided());
        assert_eq!((t.len(), t.overflowed()), (5, 2));
        assert_eq!(t.check(keys.key_of()), Ok(()));
        (t, keys)
    }

    /// `check` is what `Market::check_invariants` relies on for the index: each of its rules
    /// must fail on its own (mutation testing: kills `check -> Ok(())` and each `||` turned
    /// into `&&`, with which the check could not fail).
    #[test]
    fn check_names_the_value_that_breaks_each_rule() {
        // A window value away from its id's place.
        let (mut t, keys) = small_index();
        let p = t.place(9);
        let q = (p + 7) & t.mask;
        assert_eq!(t.window[q], EMPTY);
        t.window[q] = core::mem::replace(&mut t.window[p], EMPTY);
        assert_eq!(t.check(keys.key_of()), Err(2), "misplaced");
        // A key above the largest key seen (the fast duplicate test would miss it): in the
        // overflow, then in the window.
        let (mut t, keys) = small_index();
        t.max_key = 400;
        assert_eq!(t.check(keys.key_of()), Err(3), "overflow key above max_key");
        let (mut t, mut keys) = small_index();
        t.overflow.clear();
        keys.0.retain(|&v, _| v < 3);
        t.max_key = 8;
        assert_eq!(t.check(keys.key_of()), Err(2), "window key above max_key");
        // A strided window holding an id off its remainder (not 0).
        let (mut t, mut keys) = small_index();
        keys.0.insert(7, 14);
        let p = t.place(14);
        assert_eq!(t.window[p], EMPTY);
        t.window[p] = 7;
        t.in_window += 1;
        assert_eq!(t.check(keys.key_of()), Err(7), "off the stride");
        // A key in both halves.
        let (mut t, keys) = small_index();
        t.overflow
            .try_insert(OrderId(5), 1, keys.key_of())
            .expect("not in the overflow");
        assert_eq!(
            t.check(keys.key_of()),
            Err(1),
            "in the window and the overflow"
        );
        // The window's count.
        let (mut t, keys) = small_index();
        t.in_window += 1;
        assert_eq!(t.check(keys.key_of()), Err(EMPTY), "miscounted");
    }

    fn op(strided: bool) -> impl Strategy<Value = Op> {
        // Small key spaces force evictions (keys 64 apart share a place in a 16-place strided
        // window), duplicates of overflowed keys and removals from both halves; the wide range
        // exercises arbitrary 64-bit keys. `strided` keeps every key at 1 mod 4, as NASDAQ's
        // are; otherwise the first key off the stride rebuilds the window.
        let key = prop_oneof![0u64..64, (0u64..16).prop_map(|k| k * 64), any::<u64>()].prop_map(
            move |k| match (strided, k) {
                // Reference 0 stays in strided streams: it must not end the stride.
                (true, 0) => 0,
                (true, k) => k.wrapping_mul(4) | 1,
                (false, k) => k,
            },
        );
        prop_oneof![
            3 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => key.clone().prop_map(Op::Remove),
            1 => key.prop_map(Op::Get),
        ]
    }

    proptest! {
        #[test]
        fn matches_std_hashmap(
            (strided, small, ops) in (any::<bool>(), any::<bool>()).prop_flat_map(|(s, m)| {
                (Just(s), Just(m), prop::collection::vec(op(s), 0..2000))
            })
        ) {
            let mut t = OrderIndex::with_capacity(if small { 0 } else { 256 });
            let mut keys = Keys::default();
            let mut m: HashMap<u64, u32> = HashMap::new();
            let (mut next, mut freed) = (0u32, Vec::<u32>::new());
            for (n, op) in ops.into_iter().enumerate() {
                // A value not stored, like a slab slot: fresh or recently freed, sometimes
                // large.
                let v = match op {
                    Op::Insert(_, r) => match r % 8 {
                        0 => (r >> 3) | 1 << 28,
                        1..=4 => freed.pop().unwrap_or(next),
                        _ => next,
                    },
                    _ => next,
                };
                let v = if keys.0.contains_key(&v) || v == EMPTY { next } else { v };
                if v == next && matches!(op, Op::Insert(..)) {
                    next += 1;
                }
                model_step(&mut t, &mut keys, &mut m, &mut freed, &op, v)?;
                if n % 97 == 0 {
                    prop_assert_eq!(t.check(keys.key_of()), Ok(()));
                }
            }
            if strided {
                prop_assert!(t.is_strided(), "keys at 1 mod 4 never leave the stride");
            }
            prop_assert_eq!(t.check(keys.key_of()), Ok(()));
            same_pairs(&t, &keys, m)?;
        }
    }
}
