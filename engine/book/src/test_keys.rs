//! Test support shared by the index tests: a key store standing in for the order slab, and
//! insert/remove helpers that keep it in step with an index.

use std::collections::HashMap;

use ticklane_core::OrderId;

use crate::index::OrderIndex;
use crate::probed::ProbedIndex;

/// Test key store: the key of each stored value (as the order slab is for the book).
/// `key_of` panics on a value the index does not hold, so the index may never ask about one.
#[derive(Default)]
pub(crate) struct Keys(pub HashMap<u32, u64>);

impl Keys {
    pub fn key_of(&self) -> impl Fn(u32) -> u64 + '_ {
        |v| {
            *self
                .0
                .get(&v)
                .unwrap_or_else(|| panic!("key_of({v}): not stored"))
        }
    }
}

/// The index operations the helpers drive.
pub(crate) trait TestIndex {
    fn try_insert(&mut self, k: OrderId, v: u32, key_of: impl Fn(u32) -> u64) -> Result<(), u32>;
    fn locate(&self, k: OrderId, key_of: impl Fn(u32) -> u64) -> Option<(usize, u32)>;
    fn remove_at(&mut self, i: usize, key_of: impl Fn(u32) -> u64) -> u32;
    fn remove(&mut self, k: OrderId, key_of: impl Fn(u32) -> u64) -> Option<u32>;
}

macro_rules! test_index {
    ($t:ty) => {
        impl TestIndex for $t {
            fn try_insert(
                &mut self,
                k: OrderId,
                v: u32,
                key_of: impl Fn(u32) -> u64,
            ) -> Result<(), u32> {
                <$t>::try_insert(self, k, v, key_of)
            }
            fn locate(&self, k: OrderId, key_of: impl Fn(u32) -> u64) -> Option<(usize, u32)> {
                <$t>::locate(self, k, key_of)
            }
            fn remove_at(&mut self, i: usize, key_of: impl Fn(u32) -> u64) -> u32 {
                <$t>::remove_at(self, i, key_of)
            }
            fn remove(&mut self, k: OrderId, key_of: impl Fn(u32) -> u64) -> Option<u32> {
                <$t>::remove(self, k, key_of)
            }
        }
    };
}
test_index!(OrderIndex);
test_index!(ProbedIndex);

/// Inserts `k -> v` into `t` and records it in `keys` (the caller's slot store).
pub(crate) fn ins(t: &mut impl TestIndex, keys: &mut Keys, k: u64, v: u32) -> Result<(), u32> {
    let prev = keys.0.insert(v, k);
    let r = t.try_insert(OrderId(k), v, keys.key_of());
    if r.is_err() {
        match prev {
            Some(p) => keys.0.insert(v, p),
            None => keys.0.remove(&v),
        };
    }
    r
}

/// Removes `k` through `remove`, or (odd `k / 4`, so that both odd and even keys and NASDAQ's
/// 1-mod-4 keys meet both ways) through `locate` + `remove_at` as the book does.
pub(crate) fn rem(t: &mut impl TestIndex, keys: &mut Keys, k: u64) -> Option<u32> {
    let r = if (k / 4) % 2 == 1 {
        t.locate(OrderId(k), keys.key_of()).map(|(i, v)| {
            let got = t.remove_at(i, keys.key_of());
            assert_eq!(got, v, "remove_at returns the located value");
            got
        })
    } else {
        t.remove(OrderId(k), keys.key_of())
    };
    if let Some(v) = r {
        keys.0.remove(&v);
    }
    r
}

/// One operation of the model-based property tests.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Insert a key, with a `u32` the test turns into a value not stored.
    Insert(u64, u32),
    Remove(u64),
    Get(u64),
}

/// The index operations the model test also reads.
pub(crate) trait ModelIndex: TestIndex {
    fn get(&self, k: OrderId, key_of: impl Fn(u32) -> u64) -> Option<u32>;
    fn len(&self) -> usize;
    fn values(&self) -> Vec<u32>;
}

macro_rules! model_index {
    ($t:ty) => {
        impl ModelIndex for $t {
            fn get(&self, k: OrderId, key_of: impl Fn(u32) -> u64) -> Option<u32> {
                <$t>::get(self, k, key_of)
            }
            fn len(&self) -> usize {
                <$t>::len(self)
            }
            fn values(&self) -> Vec<u32> {
                <$t>::values(self).collect()
            }
        }
    };
}
model_index!(OrderIndex);
model_index!(ProbedIndex);

/// Applies `op` to the index and to the model `m` (inserting value `v`), and checks that they
/// agree on its result and on the length. A value freed (or refused) goes to `freed`.
pub(crate) fn model_step(
    t: &mut impl ModelIndex,
    keys: &mut Keys,
    m: &mut HashMap<u64, u32>,
    freed: &mut Vec<u32>,
    op: &Op,
    v: u32,
) -> Result<(), proptest::test_runner::TestCaseError> {
    use proptest::prop_assert_eq;
    match *op {
        Op::Insert(k, _) => {
            let want = match m.get(&k) {
                Some(&old) => Err(old),
                None => {
                    m.insert(k, v);
                    Ok(())
                }
            };
            let got = ins(t, keys, k, v);
            if got.is_err() {
                freed.push(v);
            }
            prop_assert_eq!(got, want);
        }
        Op::Remove(k) => {
            let got = rem(t, keys, k);
            freed.extend(got);
            prop_assert_eq!(got, m.remove(&k));
        }
        Op::Get(k) => {
            prop_assert_eq!(t.get(OrderId(k), keys.key_of()), m.get(&k).copied());
        }
    }
    prop_assert_eq!(t.len(), m.len());
    Ok(())
}

/// Checks that the index holds exactly the model's pairs.
pub(crate) fn same_pairs(
    t: &impl ModelIndex,
    keys: &Keys,
    m: HashMap<u64, u32>,
) -> Result<(), proptest::test_runner::TestCaseError> {
    let mut got: Vec<(u64, u32)> = t
        .values()
        .into_iter()
        .map(|v| (keys.key_of()(v), v))
        .collect();
    let mut want: Vec<(u64, u32)> = m.into_iter().collect();
    got.sort_unstable();
    want.sort_unstable();
    proptest::prop_assert_eq!(got, want);
    Ok(())
}
