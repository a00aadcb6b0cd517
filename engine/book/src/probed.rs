//! [`ProbedIndex`], the overflow table of [`crate::OrderIndex`]: an open-addressing hash table
//! from [`OrderId`] to a `u32` slot, storing only the slot.
//!
//! Order references are sparse 64-bit integers that mostly increase through the day, and the
//! orders touched most are the recent ones. The home entry of a key is therefore
//! `(key + offset(key >> 24)) mod capacity`, where the offset is a Fibonacci (multiplicative)
//! hash of the high bits: runs of nearby ids occupy nearby entries (cache- and
//! prefetcher-friendly), while keys that differ only in their high bits are spread out.
//! Collisions are resolved by linear probing over a power-of-two array; the table doubles only
//! when the load factor would exceed 1/2; deletion is by backward shift (no tombstones, so probe
//! chains never degrade after many deletes). Pathological input: many live keys in one
//! 2^24-id block with a stride that is a multiple of the capacity share a home entry (long
//! probe runs, still correct).
//!
//! # Compact entries
//!
//! The table does not store keys. Each entry is one `u32`: the value (a slab slot) in the low
//! bits and, while every stored value is below 2^24 - 1, an 8-bit tag of the key's hash in the
//! high bits. The key of a stored value is obtained from the caller through `key_of` (the order
//! book reads the id from the order slot it is about to touch anyway, so verifying a hit costs
//! no extra cache miss). The tag filters out almost every non-matching entry met while probing
//! (inserts and misses walk a probe run without reading the slots of other keys); a tag match
//! is always confirmed by `key_of`. Limits: the first value `>= 2^24 - 1` switches the table,
//! once and in place, to untagged 32-bit values (still correct; probing past other keys then
//! reads their keys through `key_of`). The value `u32::MAX` marks an empty entry, so it cannot
//! be stored.
//!
//! Each entry is 4 bytes; at a load between 1/4 and 1/2 that is 8–16 bytes of table per live
//! key.
//!
//! `key_of(v)` must return the key stored with value `v` for every value currently in the
//! table; it is only called with such values.

use ticklane_core::OrderId;

/// Marks an empty entry.
const EMPTY: u32 = u32::MAX;
/// 2^64 / φ, the Fibonacci hashing multiplier.
const FIB: u64 = 0x9E37_79B9_7F4A_7C15;
/// Smallest capacity.
const MIN_CAPACITY: usize = 16;
/// Value mask while entries carry a tag: values `0..TAGGED_VALUES - 1` fit.
const TAGGED_VALUES: u32 = (1 << 24) - 1;

/// Hash map `OrderId -> u32` (a slab index) that stores only the values, tuned for the order
/// book's hot path.
#[derive(Clone, Debug)]
pub struct ProbedIndex {
    entries: Vec<u32>,
    mask: usize,
    /// Bits of an entry that hold the value: `TAGGED_VALUES` or `u32::MAX` (untagged).
    val_mask: u32,
    len: usize,
}

impl Default for ProbedIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// The home of `key` in a power-of-two table (`mask` = its size - 1): the key itself plus an
/// offset that a Fibonacci hash of its bits above the low 24 picks, so that nearby keys take
/// nearby entries and keys that differ only in their high bits are spread out. Shared by this
/// table and the window of [`crate::OrderIndex`].
#[inline(always)]
pub(crate) fn near_identity_home(key: u64, mask: usize) -> usize {
    let offset = (key >> 24).wrapping_mul(FIB) >> 40;
    (key.wrapping_add(offset) as usize) & mask
}

/// `2n`, at least `min`, rounded up to a power of two (saturating at the largest one).
pub(crate) fn twice_as_power_of_two(n: usize, min: usize) -> usize {
    n.saturating_mul(2)
        .max(min)
        .checked_next_power_of_two()
        .unwrap_or(1 << (usize::BITS - 1))
}

impl ProbedIndex {
    /// Empty table with the minimum capacity.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// Empty table that holds `n` keys without growing.
    pub fn with_capacity(n: usize) -> Self {
        let cap = twice_as_power_of_two(n, MIN_CAPACITY);
        Self {
            entries: vec![EMPTY; cap],
            mask: cap - 1,
            val_mask: TAGGED_VALUES,
            len: 0,
        }
    }

    /// Number of keys stored.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is stored.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of entries in the table (a power of two; at most half are used).
    #[cfg(test)]
    #[inline]
    pub fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Whether entries carry key tags (every stored value so far was below 2^24 - 1).
    #[cfg(test)]
    #[inline]
    pub fn is_tagged(&self) -> bool {
        self.val_mask != EMPTY
    }

    #[inline(always)]
    fn home(&self, key: u64) -> usize {
        // Consecutive keys get consecutive entries: order ids arrive nearly sequentially and
        // recent orders are the busiest, so the hot part of the table stays in a few cache
        // lines and the hardware prefetcher follows the adds. The bits above the low 24 pick a
        // pseudo-random offset (Fibonacci hashing: the top bits of `x * 2^64/φ`), so keys that
        // differ only in high bits (e.g. a venue's per-instrument prefix) do not pile up.
        // (Packing ids spaced by 4 into consecutive entries is slower here: the backward-shift
        // deletion then walks long runs of occupied entries, and with compact entries each
        // step reads another order's id. The window in `index.rs`, whose removals shift
        // nothing, packs them.)
        near_identity_home(key, self.mask)
    }

    /// Tag bits of `key` (in the entry's high bits; 0 when untagged).
    #[inline(always)]
    fn tag(&self, key: u64) -> u32 {
        (key.wrapping_mul(FIB) >> 32) as u32 & !self.val_mask
    }

    /// Position of `key`'s entry and its value.
    #[inline(always)]
    fn find(&self, key: u64, key_of: &impl Fn(u32) -> u64) -> Result<(usize, u32), usize> {
        let tag = self.tag(key);
        let vm = self.val_mask;
        let mut i = self.home(key);
        loop {
            let e = self.entries[i];
            if e == EMPTY {
                return Err(i);
            }
            if e & !vm == tag && key_of(e & vm) == key {
                return Ok((i, e & vm));
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Value stored for `key`.
    #[inline]
    pub fn get(&self, key: OrderId, key_of: impl Fn(u32) -> u64) -> Option<u32> {
        self.find(key.0, &key_of).ok().map(|(_, v)| v)
    }

    /// Inserts `key -> val` unless `key` is present, in which case the table is unchanged and
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
        if val >= self.val_mask {
            self.untag();
        }
        if (self.len + 1) * 2 > self.entries.len() {
            self.grow(&key_of);
        }
        match self.find(key.0, &key_of) {
            Ok((_, old)) => Err(old),
            Err(i) => {
                self.entries[i] = self.tag(key.0) | val;
                self.len += 1;
                Ok(())
            }
        }
    }

    /// Position of `key`'s entry and its value, for [`ProbedIndex::remove_at`].
    #[inline(always)]
    pub fn locate(&self, key: OrderId, key_of: impl Fn(u32) -> u64) -> Option<(usize, u32)> {
        self.find(key.0, &key_of).ok()
    }

    /// Removes `key`, returning its value.
    #[cfg(test)]
    #[inline]
    pub fn remove(&mut self, key: OrderId, key_of: impl Fn(u32) -> u64) -> Option<u32> {
        let (i, _) = self.find(key.0, &key_of).ok()?;
        Some(self.remove_at(i, key_of))
    }

    /// Removes the entry at position `i`, as returned by [`ProbedIndex::locate`] with no
    /// insert or removal since (the book looks an order up, then removes it: one probe, not
    /// two). Returns its value.
    #[inline(always)]
    pub fn remove_at(&mut self, i: usize, key_of: impl Fn(u32) -> u64) -> u32 {
        debug_assert!(self.entries[i] != EMPTY, "remove_at: entry {i} is empty");
        let val = self.entries[i] & self.val_mask;
        // Backward-shift: pull later members of the probe run into the hole when the hole lies
        // between their home and their current position.
        let mask = self.mask;
        let vm = self.val_mask;
        let mut hole = i;
        let mut j = (i + 1) & mask;
        loop {
            let e = self.entries[j];
            if e == EMPTY {
                break;
            }
            let home = self.home(key_of(e & vm));
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.entries[hole] = e;
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.entries[hole] = EMPTY;
        self.len -= 1;
        val
    }

    /// Removes every key, keeping the allocation (and the tagging mode).
    pub fn clear(&mut self) {
        self.entries.fill(EMPTY);
        self.len = 0;
    }

    /// Every stored value, in table order.
    pub fn values(&self) -> impl Iterator<Item = u32> + '_ {
        let vm = self.val_mask;
        self.entries
            .iter()
            .filter(|&&e| e != EMPTY)
            .map(move |&e| e & vm)
    }

    /// Checks that every entry's tag matches its key and that its key finds it (for invariant
    /// checks): `Err(value)` names the first value that does not.
    pub fn check(&self, key_of: impl Fn(u32) -> u64) -> Result<(), u32> {
        let vm = self.val_mask;
        for (i, &e) in self.entries.iter().enumerate() {
            if e == EMPTY {
                continue;
            }
            let key = key_of(e & vm);
            if e & !vm != self.tag(key) || self.find(key, &key_of).ok() != Some((i, e & vm)) {
                return Err(e & vm);
            }
        }
        Ok(())
    }

    /// Drops the tags so that any value but `u32::MAX` fits (in place: homes do not depend on
    /// tags).
    #[cold]
    fn untag(&mut self) {
        let vm = self.val_mask;
        for e in self.entries.iter_mut().filter(|e| **e != EMPTY) {
            *e &= vm;
        }
        self.val_mask = EMPTY;
    }

    #[cold]
    fn grow(&mut self, key_of: &impl Fn(u32) -> u64) {
        let cap = self.entries.len() * 2;
        let old = std::mem::replace(&mut self.entries, vec![EMPTY; cap]);
        self.mask = cap - 1;
        let vm = self.val_mask;
        for e in old.into_iter().filter(|&e| e != EMPTY) {
            let mut i = self.home(key_of(e & vm));
            while self.entries[i] != EMPTY {
                i = (i + 1) & self.mask;
            }
            self.entries[i] = e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    use crate::test_keys::{ins, model_step, rem, same_pairs, Keys, Op};

    #[test]
    fn basic_insert_get_remove_and_growth() {
        let mut t = ProbedIndex::new();
        let mut keys = Keys::default();
        assert_eq!(t.capacity(), 16);
        for k in 0..1000u64 {
            assert_eq!(ins(&mut t, &mut keys, k * 3, k as u32), Ok(()));
        }
        assert_eq!(t.len(), 1000);
        assert!(t.capacity() >= 2000 && t.capacity().is_power_of_two());
        assert_eq!(t.try_insert(OrderId(3), 99, keys.key_of()), Err(1));
        for k in 0..1000u64 {
            assert_eq!(t.get(OrderId(k * 3), keys.key_of()), Some(k as u32));
            assert_eq!(t.get(OrderId(k * 3 + 1), keys.key_of()), None);
        }
        for k in (0..1000u64).step_by(2) {
            assert_eq!(rem(&mut t, &mut keys, k * 3), Some(k as u32));
            assert_eq!(rem(&mut t, &mut keys, k * 3), None);
        }
        assert_eq!(t.len(), 500);
        for k in 0..1000u64 {
            let want = (k % 2 == 1).then_some(k as u32);
            assert_eq!(t.get(OrderId(k * 3), keys.key_of()), want);
        }
        assert_eq!(t.check(keys.key_of()), Ok(()));
        t.clear();
        keys.0.clear();
        assert!(t.is_empty());
        assert_eq!(t.get(OrderId(3), keys.key_of()), None);
    }

    #[test]
    fn large_values_switch_to_untagged_entries() {
        let mut t = ProbedIndex::new();
        let mut keys = Keys::default();
        for k in 0..20u64 {
            assert_eq!(ins(&mut t, &mut keys, k * 4, k as u32), Ok(()));
        }
        assert!(t.is_tagged());
        // 2^24 - 2 still fits with a tag; 2^24 - 1 does not.
        assert_eq!(ins(&mut t, &mut keys, 1000, TAGGED_VALUES - 1), Ok(()));
        assert!(t.is_tagged());
        assert_eq!(ins(&mut t, &mut keys, 1004, TAGGED_VALUES), Ok(()));
        assert!(!t.is_tagged());
        assert_eq!(ins(&mut t, &mut keys, 1008, u32::MAX - 1), Ok(()));
        assert_eq!(ins(&mut t, &mut keys, 1012, 1 << 31), Ok(()));
        for k in 0..20u64 {
            assert_eq!(t.get(OrderId(k * 4), keys.key_of()), Some(k as u32));
        }
        assert_eq!(t.get(OrderId(1000), keys.key_of()), Some(TAGGED_VALUES - 1));
        assert_eq!(t.get(OrderId(1004), keys.key_of()), Some(TAGGED_VALUES));
        assert_eq!(t.get(OrderId(1008), keys.key_of()), Some(u32::MAX - 1));
        assert_eq!(t.get(OrderId(1012), keys.key_of()), Some(1 << 31));
        assert_eq!(t.check(keys.key_of()), Ok(()));
        assert_eq!(rem(&mut t, &mut keys, 1008), Some(u32::MAX - 1));
        assert_eq!(t.get(OrderId(1008), keys.key_of()), None);
        let mut vals: Vec<u32> = t.values().collect();
        vals.sort_unstable();
        let mut want: Vec<u32> = keys.0.keys().copied().collect();
        want.sort_unstable();
        assert_eq!(vals, want);
    }

    #[test]
    fn deletion_chains_with_colliding_keys() {
        // Keys that share a home slot in a 16-entry table form one long run; deleting from the
        // middle must keep every other key reachable (backward shift correctness).
        let t0 = ProbedIndex::with_capacity(4);
        let cap = t0.capacity();
        let target = t0.home(1);
        let colliding: Vec<u64> = (0..100_000u64)
            .filter(|&k| t0.home(k) == target || t0.home(k) == (target + 1) % cap)
            .take(6)
            .collect();
        assert_eq!(colliding.len(), 6);
        for victim in 0..colliding.len() {
            let mut t = ProbedIndex::with_capacity(4);
            let mut keys = Keys::default();
            for (v, &k) in colliding.iter().enumerate() {
                ins(&mut t, &mut keys, k, v as u32).expect("fresh");
            }
            // The table grew to hold 6 keys; recompute what collides is not needed: we only
            // check reachability.
            assert_eq!(
                rem(&mut t, &mut keys, colliding[victim]),
                Some(victim as u32)
            );
            for (v, &k) in colliding.iter().enumerate() {
                let want = (v != victim).then_some(v as u32);
                assert_eq!(
                    t.get(OrderId(k), keys.key_of()),
                    want,
                    "victim {victim} key {k}"
                );
            }
            assert_eq!(t.check(keys.key_of()), Ok(()));
        }
    }

    #[test]
    fn wraps_around_the_end_of_the_table() {
        let t0 = ProbedIndex::with_capacity(4);
        let last = t0.capacity() - 1;
        let found: Vec<u64> = (0..1_000_000u64)
            .filter(|&k| t0.home(k) == last)
            .take(3)
            .collect();
        let mut t = ProbedIndex::with_capacity(4);
        let mut keys = Keys::default();
        for (v, &k) in found.iter().enumerate() {
            ins(&mut t, &mut keys, k, v as u32).expect("fresh");
        }
        assert_eq!(t.capacity(), t0.capacity());
        assert_eq!(rem(&mut t, &mut keys, found[0]), Some(0));
        assert_eq!(t.get(OrderId(found[1]), keys.key_of()), Some(1));
        assert_eq!(t.get(OrderId(found[2]), keys.key_of()), Some(2));
        assert_eq!(rem(&mut t, &mut keys, found[1]), Some(1));
        assert_eq!(t.get(OrderId(found[2]), keys.key_of()), Some(2));
        assert_eq!(t.check(keys.key_of()), Ok(()));
    }

    /// `ProbedIndex::with_capacity(n)` "holds `n` keys without growing" (and `OrderIndex`
    /// and `Market::with_capacity` promise no reallocation within the reserve on that): at a
    /// power-of-two `n` the `n`-th key fills the table to exactly half (mutation testing:
    /// kills growing at `>=`).
    #[test]
    fn a_table_sized_for_n_keys_takes_n_without_growing() {
        for n in [8usize, 64, 1 << 10] {
            let mut t = ProbedIndex::with_capacity(n);
            let cap = t.capacity();
            let mut keys = Keys::default();
            for k in 0..n as u64 {
                ins(&mut t, &mut keys, 4 * k + 1, k as u32).expect("fresh");
            }
            assert_eq!((t.len(), t.capacity()), (n, cap), "n = {n}: the table grew");
            ins(&mut t, &mut keys, 4 * n as u64 + 1, n as u32).expect("fresh");
            assert_eq!(t.capacity(), 2 * cap, "n = {n}: one more key grows it");
        }
    }

    /// `check` is what `Market::check_invariants` relies on for the overflow table: an entry
    /// that its key's probe cannot reach (its tag right) and an entry whose tag is wrong must
    /// each fail, naming the entry's value (mutation testing: kills `check -> Ok(())`, `||`
    /// turned into `&&` and `|`/`^` for the value's mask in the error).
    #[test]
    fn check_names_an_unreachable_entry_and_a_wrong_tag() {
        let mut t = ProbedIndex::with_capacity(8);
        let mut keys = Keys::default();
        for (v, k) in [(5u32, 1u64), (6, 2), (7, 3)] {
            ins(&mut t, &mut keys, k, v).expect("fresh");
        }
        assert!(t.is_tagged());
        assert_eq!(t.check(keys.key_of()), Ok(()));
        // Key 3's entry moved past an empty entry: its tag is right, its probe stops short.
        let i = t.find(3, &keys.key_of()).expect("stored").0;
        let j = (i + 3) & t.mask;
        assert_eq!(t.entries[j], EMPTY);
        let mut moved = t.clone();
        moved.entries[j] = core::mem::replace(&mut moved.entries[i], EMPTY);
        assert_eq!(moved.check(keys.key_of()), Err(7), "unreachable entry");
        // Key 2's entry with another tag (the lookup, which compares tags first, misses it
        // too): its value is named.
        let i = t.find(2, &keys.key_of()).expect("stored").0;
        let mut retagged = t.clone();
        retagged.entries[i] ^= 1 << 31;
        assert_eq!(retagged.check(keys.key_of()), Err(6), "wrong tag");
    }

    /// The tags do their documented job: misses, and an insert, that walk a probe run of other
    /// keys read (next to) none of their keys (module docs: "inserts and misses walk a probe
    /// run without reading the slots of other keys"; in the book each `key_of` is a read of
    /// another order's slot). Mutation testing: `tag -> 0` and `>>` turned into `<<` in `tag`
    /// (every tag 0) survived, lookups still right; a speed property.
    #[test]
    fn misses_over_a_run_of_other_keys_read_almost_none_of_them() {
        use std::cell::Cell;
        let mut t = ProbedIndex::with_capacity(4);
        let mut keys = Keys::default();
        for k in 0..7u64 {
            ins(&mut t, &mut keys, k, k as u32).expect("fresh");
        }
        assert_eq!(t.capacity(), 16);
        // Eight absent keys whose probe starts at the run's first entry: each walks all 7.
        let misses: Vec<u64> = (1..9u64).map(|n| n << 4).collect();
        assert!(misses.iter().all(|&k| t.home(k) == 0));
        let reads = Cell::new(0);
        let key_of = |v: u32| {
            reads.set(reads.get() + 1);
            keys.key_of()(v)
        };
        for &k in &misses {
            assert_eq!(t.get(OrderId(k), key_of), None);
        }
        // Untagged, that is 56 reads; an 8-bit tag lets about one in 256 through.
        assert!(reads.get() <= 2, "8 misses read {} keys", reads.get());
        reads.set(0);
        keys.0.insert(7, misses[0]);
        let key_of = |v: u32| {
            reads.set(reads.get() + 1);
            keys.key_of()(v)
        };
        assert_eq!(t.try_insert(OrderId(misses[0]), 7, key_of), Ok(()));
        assert!(reads.get() <= 1, "the insert read {} keys", reads.get());
        assert_eq!(t.get(OrderId(misses[0]), keys.key_of()), Some(7));
    }

    /// Keys that differ only in their bits above the low 24 (a venue's per-instrument prefix)
    /// get different homes (module docs; mutation testing: kills shifting the offset left,
    /// which makes it 0 below bit 40; placement only, so a speed property).
    #[test]
    fn keys_differing_only_in_high_bits_get_different_homes() {
        let mask = (1 << 20) - 1;
        let homes: Vec<usize> = (0..8u64)
            .map(|hi| near_identity_home(hi << 32 | 1, mask))
            .collect();
        let mut distinct = homes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), homes.len(), "{homes:?}");
    }

    fn op() -> impl Strategy<Value = Op> {
        // A small key space forces collisions, duplicates and long deletion chains; the wide
        // range exercises arbitrary 64-bit keys.
        let key = prop_oneof![0u64..64, any::<u64>()];
        prop_oneof![
            3 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => key.clone().prop_map(Op::Remove),
            1 => key.prop_map(Op::Get),
        ]
    }

    /// A value not stored in the table, like a slab slot: mostly small (fresh or most recently
    /// freed), sometimes at the tag limit or anywhere below `u32::MAX`.
    fn pick(r: u32, next: &mut u32, freed: &mut Vec<u32>, live: &HashMap<u32, u64>) -> u32 {
        let v = match r % 16 {
            0 => TAGGED_VALUES - 2 + (r >> 4) % 4,
            1 => (r >> 4) | 1 << 28,
            2..=8 => freed.pop().unwrap_or(*next),
            _ => *next,
        };
        if live.contains_key(&v) || v == EMPTY {
            *next += 1;
            *next - 1
        } else {
            if v == *next {
                *next += 1;
            }
            v
        }
    }

    proptest! {
        #[test]
        fn matches_std_hashmap(ops in prop::collection::vec(op(), 0..2000)) {
            let mut t = ProbedIndex::new();
            let mut keys = Keys::default();
            let mut m: HashMap<u64, u32> = HashMap::new();
            let (mut next, mut freed) = (0u32, Vec::new());
            for op in ops {
                let v = match op {
                    Op::Insert(_, r) => pick(r, &mut next, &mut freed, &keys.0),
                    _ => 0,
                };
                model_step(&mut t, &mut keys, &mut m, &mut freed, &op, v)?;
                prop_assert!(t.len() * 2 <= t.capacity());
            }
            prop_assert_eq!(t.check(keys.key_of()), Ok(()));
            same_pairs(&t, &keys, m)?;
        }
    }
}
