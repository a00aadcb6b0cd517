//! `book`: decode + full-market book maintenance over a generated session, on one core.
//!
//! - `book/decode+book`: framed bytes → decode → normalize → `Market::apply`, all instruments;
//! - `book/apply`: `Market::apply` alone over pre-decoded events (the book's share);
//! - `book/btreemap-floor`: the same events into an obviously-correct `BTreeMap` + `HashMap`
//!   book (a floor, not a peer: peers are measured by `benches/peer_book.sh`).
//!
//! Before the criterion groups it prints the mean cost of `Market::apply` per event kind,
//! measured by timing each call (timer overhead subtracted; a diagnostic, see BENCHMARKS.md).
//!
//! Run: `cargo bench -p ticklane-benches --bench book` (see BENCHMARKS.md).

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ticklane_benches::{bench_messages, session};
use ticklane_book::Market;
use ticklane_core::{EventBody, MarketEvent, Side};
use ticklane_feeds::events::for_each_event;

fn events(buf: &[u8]) -> Vec<MarketEvent> {
    let mut v = Vec::new();
    for_each_event(buf, |ev| v.push(*ev));
    v
}

/// The floor: price levels in `BTreeMap`s, orders in a `HashMap`.
#[derive(Default)]
struct FloorBook {
    orders: HashMap<u64, (u32, Side, i64, u32)>,
    levels: HashMap<u32, [BTreeMap<i64, u64>; 2]>,
}

impl FloorBook {
    fn remove_qty(&mut self, id: u64, qty: u32) {
        let Some(o) = self.orders.get_mut(&id) else {
            return;
        };
        let q = qty.min(o.3);
        o.3 -= q;
        let (inst, side, price, left) = *o;
        if left == 0 {
            self.orders.remove(&id);
        }
        if let Some(lv) = self.levels.get_mut(&inst) {
            let book = &mut lv[side.index()];
            if let Some(l) = book.get_mut(&price) {
                *l -= u64::from(q);
                if *l == 0 {
                    book.remove(&price);
                }
            }
        }
    }

    fn apply(&mut self, ev: &MarketEvent) {
        match ev.body {
            EventBody::OrderAdded {
                order_id,
                side,
                price,
                qty,
                ..
            } => {
                self.orders
                    .insert(order_id.0, (ev.instrument.0, side, price.0, qty.0));
                *self.levels.entry(ev.instrument.0).or_default()[side.index()]
                    .entry(price.0)
                    .or_default() += u64::from(qty.0);
            }
            EventBody::OrderExecuted { order_id, qty, .. }
            | EventBody::OrderExecutedWithPrice { order_id, qty, .. }
            | EventBody::OrderCancelled { order_id, qty } => self.remove_qty(order_id.0, qty.0),
            EventBody::OrderDeleted { order_id } => self.remove_qty(order_id.0, u32::MAX),
            EventBody::OrderReplaced {
                old_id,
                new_id,
                price,
                qty,
            } => {
                if let Some(&(inst, side, _, _)) = self.orders.get(&old_id.0) {
                    self.remove_qty(old_id.0, u32::MAX);
                    self.orders.insert(new_id.0, (inst, side, price.0, qty.0));
                    *self.levels.entry(inst).or_default()[side.index()]
                        .entry(price.0)
                        .or_default() += u64::from(qty.0);
                }
            }
            _ => {}
        }
    }
}

#[allow(clippy::disallowed_methods)] // A benchmark: wall-clock timing is its purpose.
fn per_kind_costs(evs: &[MarketEvent]) {
    let mut market = Market::with_capacity(1 << 16, 128);
    let mut totals: BTreeMap<&'static str, (u64, u128)> = BTreeMap::new();
    // Timer overhead: the mean of an empty timed region of the same shape as the measured one
    // (`now`, the work, `elapsed`), as each region measures it: about one clock read. (Timing
    // the whole loop instead counted two clock reads per region, and subtracted one too many.)
    let overhead = {
        let mut sum: u128 = 0;
        for _ in 0..1_000_000 {
            let t = Instant::now();
            black_box(());
            sum += t.elapsed().as_nanos();
        }
        sum as f64 / 1e6
    };
    for ev in evs {
        let t = Instant::now();
        black_box(market.apply(ev));
        let ns = t.elapsed().as_nanos();
        let e = totals.entry(ev.kind_name()).or_default();
        e.0 += 1;
        e.1 += ns;
    }
    println!(
        "mean Market::apply cost per event kind (timer overhead {overhead:.1} ns subtracted):"
    );
    for (k, (n, ns)) in totals {
        let mean = (ns as f64 / n as f64 - overhead).max(0.0);
        println!("  {k:<26} {n:>10} events {mean:>8.1} ns");
    }
}

fn book(c: &mut Criterion) {
    let n = bench_messages();
    let buf = session(n);
    let evs = events(&buf);
    per_kind_costs(&evs);

    let mut g = c.benchmark_group("book");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("decode+book", |b| {
        b.iter_batched(
            || Market::with_capacity(1 << 16, 128),
            |mut market| {
                let s = for_each_event(black_box(&buf), |ev| {
                    black_box(market.apply(ev));
                });
                assert_eq!(s.errors, 0);
                market
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("apply", |b| {
        b.iter_batched(
            || Market::with_capacity(1 << 16, 128),
            |mut market| {
                for ev in black_box(&evs) {
                    black_box(market.apply(ev));
                }
                market
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("btreemap-floor", |b| {
        b.iter_batched(
            FloorBook::default,
            |mut book| {
                for ev in black_box(&evs) {
                    book.apply(ev);
                }
                book
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, book);
criterion_main!(benches);
