//! `ring`: two-thread SPSC throughput of 64-byte items, ticklane-ring's two rings (the index
//! ring, `ticklane`, and the stamped ring, `ticklane-stamped`) against peers in the same run.
//!
//! For each queue and burst size (1, 16, 256) a producer thread pushes `N` items in bursts of
//! that size (batch API where the queue has one) and the measuring thread pops until `N` items
//! have arrived (batch API likewise), spinning with `std::hint::spin_loop` when full / empty.
//! Every queue gets the same capacity (4096). Throughput is reported in items/s.
//!
//! Peers: `rtrb` (`push_partial_slice` / `pop_partial_slice` for bursts),
//! `crossbeam_queue::ArrayQueue` (MPMC, no batch API: a burst is a loop of `push`/`pop`) and
//! `disruptor` (`build_single_producer` with `BusySpin`, its `EventPoller` as the consumer so
//! the consumer runs on the measuring thread like every other peer instead of a thread the
//! disruptor manages; `try_publish` for single items, `try_batch_publish` for bursts, a partial
//! batch when fewer slots are free, like the other queues' partial slices; `EventPoller::take`
//! for up to `burst` items at a time). Every consumer copies the items it receives into a local
//! buffer (the disruptor hands out references, so it copies them explicitly) and sums one
//! field, so every queue does the same work per item.
//!
//! Threads are not pinned; on a small shared VM the numbers are noisy.
//!
//! Run: `cargo bench -p ticklane-benches --bench ring`.
//!
//! # Interleaved mode
//!
//! Criterion measures one benchmark after the other, a few seconds each. On a shared VM whose
//! two vCPUs the host moves around, the cost of a cache-line transfer between them changes
//! from one stretch of seconds to the next (here by up to 3×), so consecutive benchmarks do not
//! see the same machine. With `TICKLANE_RING_ROUNDS=R` the bench runs no criterion benchmark
//! and instead, R times, runs every queue once per burst size on `TICKLANE_RING_ITEMS` items
//! (default 2^20), back to back in an order rotated each round, and prints per queue the
//! median, quartiles and the median over rounds of the ratio ours / peer, each ratio taken
//! between two runs a few milliseconds apart:
//!
//! ```text
//! TICKLANE_RING_ROUNDS=31 cargo bench -p ticklane-benches --bench ring
//! ```

use std::hint::{black_box, spin_loop};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use ticklane_benches::rounds::{env_u64, median, median_ratio, quantile, sorted};

/// A 64-byte `Copy` item, the size of the engine's `MarketEvent`.
/// Aligned to 8 like `MarketEvent` (not to a cache line): the stamped ring's stamp then shares
/// a line with the item's first 56 bytes, as it does with the engine's events.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
struct Item([u64; 8]);

const _: () = assert!(std::mem::size_of::<Item>() == 64);
const _: () = assert!(std::mem::align_of::<Item>() == 8);

const CAPACITY: usize = 4096;
/// Items per criterion iteration.
const PER_ITER: u64 = 1 << 16;
const BURSTS: [usize; 3] = [1, 16, 256];

fn item(i: u64) -> Item {
    Item([i; 8])
}

/// Runs `total` items through a freshly built queue and returns the elapsed time, measured
/// from just before the producer starts until the consumer has received the last item.
#[allow(clippy::disallowed_methods)] // A benchmark: wall-clock timing is its purpose.
fn timed<P, C>(total: u64, producer: P, consumer: C) -> Duration
where
    P: FnOnce(u64) + Send + 'static,
    C: FnOnce(u64) -> u64,
{
    let start = Instant::now();
    let handle = thread::spawn(move || producer(total));
    let checksum = consumer(total);
    let elapsed = start.elapsed();
    handle.join().expect("producer panicked");
    black_box(checksum);
    elapsed
}

/// Both of our rings: their ends have the same method names.
macro_rules! ticklane_run {
    ($name:ident, $ring:path) => {
        fn $name(total: u64, burst: usize) -> Duration {
            let (mut tx, mut rx) = $ring(CAPACITY);
            timed(
                total,
                move |total| {
                    let mut buf = vec![Item::default(); burst];
                    let mut sent = 0u64;
                    while sent < total {
                        let k = (total - sent).min(burst as u64) as usize;
                        for (i, b) in buf[..k].iter_mut().enumerate() {
                            *b = item(sent + i as u64);
                        }
                        let mut off = 0;
                        while off < k {
                            let n = if k == 1 {
                                usize::from(tx.push(buf[0]).is_ok())
                            } else {
                                tx.push_slice(&buf[off..k])
                            };
                            if n == 0 {
                                spin_loop();
                            }
                            off += n;
                        }
                        sent += k as u64;
                    }
                },
                move |total| {
                    let mut buf = vec![Item::default(); burst];
                    let mut got = 0u64;
                    let mut sum = 0u64;
                    while got < total {
                        let n = if burst == 1 {
                            match rx.pop() {
                                Some(v) => {
                                    buf[0] = v;
                                    1
                                }
                                None => 0,
                            }
                        } else {
                            rx.pop_into(&mut buf)
                        };
                        if n == 0 {
                            spin_loop();
                        }
                        for v in &buf[..n] {
                            sum = sum.wrapping_add(v.0[0]);
                        }
                        got += n as u64;
                    }
                    sum
                },
            )
        }
    };
}

ticklane_run!(ticklane, ticklane_ring::ring::<Item>);
ticklane_run!(ticklane_stamped, ticklane_ring::stamped::ring::<Item>);

fn rtrb(total: u64, burst: usize) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<Item>::new(CAPACITY);
    timed(
        total,
        move |total| {
            let mut buf = vec![Item::default(); burst];
            let mut sent = 0u64;
            while sent < total {
                let k = (total - sent).min(burst as u64) as usize;
                for (i, b) in buf[..k].iter_mut().enumerate() {
                    *b = item(sent + i as u64);
                }
                let mut off = 0;
                while off < k {
                    let n = if k == 1 {
                        usize::from(tx.push(buf[0]).is_ok())
                    } else {
                        tx.push_partial_slice(&buf[off..k]).0.len()
                    };
                    if n == 0 {
                        spin_loop();
                    }
                    off += n;
                }
                sent += k as u64;
            }
        },
        move |total| {
            let mut buf = vec![Item::default(); burst];
            let mut got = 0u64;
            let mut sum = 0u64;
            while got < total {
                let n = if burst == 1 {
                    match rx.pop() {
                        Ok(v) => {
                            buf[0] = v;
                            1
                        }
                        Err(_) => 0,
                    }
                } else {
                    rx.pop_partial_slice(&mut buf).0.len()
                };
                if n == 0 {
                    spin_loop();
                }
                for v in &buf[..n] {
                    sum = sum.wrapping_add(v.0[0]);
                }
                got += n as u64;
            }
            sum
        },
    )
}

fn array_queue(total: u64, burst: usize) -> Duration {
    let q = Arc::new(crossbeam_queue::ArrayQueue::<Item>::new(CAPACITY));
    let tx = Arc::clone(&q);
    timed(
        total,
        move |total| {
            let mut sent = 0u64;
            while sent < total {
                let k = (total - sent).min(burst as u64);
                for i in 0..k {
                    let mut v = item(sent + i);
                    while let Err(back) = tx.push(v) {
                        v = back;
                        spin_loop();
                    }
                }
                sent += k;
            }
        },
        move |total| {
            let mut buf = vec![Item::default(); burst];
            let mut got = 0u64;
            let mut sum = 0u64;
            while got < total {
                let mut n = 0;
                while n < burst {
                    match q.pop() {
                        Some(v) => {
                            buf[n] = v;
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    spin_loop();
                }
                // The same work per item as every other consumer: copied, then summed.
                for v in &buf[..n] {
                    sum = sum.wrapping_add(v.0[0]);
                }
                got += n as u64;
            }
            sum
        },
    )
}

fn disruptor(total: u64, burst: usize) -> Duration {
    use disruptor::{BusySpin, MissingFreeSlots, Polling, Producer as _};
    let (mut poller, builder) =
        disruptor::build_single_producer(CAPACITY, Item::default, BusySpin).new_event_poller();
    let mut tx = builder.build();
    timed(
        total,
        move |total| {
            let mut buf = vec![Item::default(); burst];
            let mut sent = 0u64;
            while sent < total {
                let k = (total - sent).min(burst as u64) as usize;
                for (i, b) in buf[..k].iter_mut().enumerate() {
                    *b = item(sent + i as u64);
                }
                let mut off = 0;
                while off < k {
                    let n = if k == 1 {
                        usize::from(tx.try_publish(|e| *e = buf[0]).is_ok())
                    } else {
                        // All of the rest of the burst, or as much of it as fits.
                        let want = k - off;
                        let src = &buf[off..k];
                        match tx.try_batch_publish(want, |it| {
                            for (e, v) in it.zip(src) {
                                *e = *v;
                            }
                        }) {
                            Ok(_) => want,
                            Err(MissingFreeSlots(missing)) => {
                                let fit = want - (missing as usize).min(want);
                                if fit > 0 {
                                    let src = &buf[off..off + fit];
                                    match tx.try_batch_publish(fit, |it| {
                                        for (e, v) in it.zip(src) {
                                            *e = *v;
                                        }
                                    }) {
                                        Ok(_) => fit,
                                        Err(_) => 0,
                                    }
                                } else {
                                    0
                                }
                            }
                        }
                    };
                    if n == 0 {
                        spin_loop();
                    }
                    off += n;
                }
                sent += k as u64;
            }
            // Dropping `tx` here tells the poller the disruptor is shut down; the consumer
            // stops on its count before it would see that.
        },
        move |total| {
            let mut buf = vec![Item::default(); burst];
            let mut got = 0u64;
            let mut sum = 0u64;
            while got < total {
                let n = match poller.take(burst as u64) {
                    Ok(mut events) => {
                        let mut n = 0;
                        for (o, e) in buf.iter_mut().zip(&mut events) {
                            *o = *e;
                            n += 1;
                        }
                        n
                    }
                    Err(Polling::NoEvents) => 0,
                    Err(Polling::Shutdown) => {
                        unreachable!("the producer stops after the last item")
                    }
                };
                if n == 0 {
                    spin_loop();
                }
                for v in &buf[..n] {
                    sum = sum.wrapping_add(v.0[0]);
                }
                got += n as u64;
            }
            sum
        },
    )
}

fn bench_ring(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring");
    g.throughput(Throughput::Elements(PER_ITER));
    for burst in BURSTS {
        g.bench_with_input(BenchmarkId::new("ticklane", burst), &burst, |b, &burst| {
            b.iter_custom(|iters| ticklane(iters * PER_ITER, burst));
        });
        g.bench_with_input(
            BenchmarkId::new("ticklane-stamped", burst),
            &burst,
            |b, &burst| {
                b.iter_custom(|iters| ticklane_stamped(iters * PER_ITER, burst));
            },
        );
        g.bench_with_input(BenchmarkId::new("rtrb", burst), &burst, |b, &burst| {
            b.iter_custom(|iters| rtrb(iters * PER_ITER, burst));
        });
        g.bench_with_input(
            BenchmarkId::new("crossbeam-arrayqueue", burst),
            &burst,
            |b, &burst| {
                b.iter_custom(|iters| array_queue(iters * PER_ITER, burst));
            },
        );
        g.bench_with_input(BenchmarkId::new("disruptor", burst), &burst, |b, &burst| {
            b.iter_custom(|iters| disruptor(iters * PER_ITER, burst));
        });
    }
    g.finish();
}

type Run = fn(u64, usize) -> Duration;

const QUEUES: [(&str, Run); 5] = [
    ("ticklane", ticklane),
    ("ticklane-stamped", ticklane_stamped),
    ("rtrb", rtrb),
    ("crossbeam-arrayqueue", array_queue),
    ("disruptor", disruptor),
];

/// See "Interleaved mode" in the module docs.
fn interleaved(rounds: u64, items: u64) {
    // rate[burst index][queue index] = M items/s of every round.
    let mut rate = vec![vec![Vec::new(); QUEUES.len()]; BURSTS.len()];
    for round in 0..rounds as usize {
        for (bi, &burst) in BURSTS.iter().enumerate() {
            for k in 0..QUEUES.len() {
                let qi = (k + round) % QUEUES.len();
                let d = QUEUES[qi].1(items, burst);
                rate[bi][qi].push(items as f64 / d.as_secs_f64() / 1e6);
            }
        }
    }
    println!(
        "ring interleaved: {rounds} rounds x {items} items of 64 bytes, capacity {CAPACITY}; \
         M items/s"
    );
    println!(
        "{:<6} {:<22} {:>8} {:>8} {:>8}   {:>16} {:>16}",
        "burst", "queue", "p25", "median", "p75", "ticklane / this", "stamped / this"
    );
    // Median over the rounds of rate[ours] / rate[qi], each ratio within one round.
    let ratio = |bi: usize, ours: usize, qi: usize| {
        if qi == ours {
            return String::from("-");
        }
        format!("{:.2}", median_ratio(&rate[bi][ours], &rate[bi][qi]))
    };
    for (bi, &burst) in BURSTS.iter().enumerate() {
        for (qi, (name, _)) in QUEUES.iter().enumerate() {
            let r = sorted(rate[bi][qi].clone());
            println!(
                "{:<6} {:<22} {:>8.1} {:>8.1} {:>8.1}   {:>16} {:>16}",
                burst,
                name,
                quantile(&r, 0.25),
                median(&r),
                quantile(&r, 0.75),
                ratio(bi, 0, qi),
                ratio(bi, 1, qi)
            );
        }
    }
}

criterion_group!(benches, bench_ring);

fn main() {
    if let Some(rounds) = env_u64("TICKLANE_RING_ROUNDS").filter(|&r| r > 0) {
        interleaved(
            rounds,
            env_u64("TICKLANE_RING_ITEMS").unwrap_or(1 << 20).max(1),
        );
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
