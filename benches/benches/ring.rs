//! `ring`: two-thread SPSC throughput of 64-byte items, ticklane-ring against peers in the
//! same run.
//!
//! For each queue and burst size (1, 16, 256) a producer thread pushes `N` items in bursts of
//! that size (batch API where the queue has one) and the measuring thread pops until `N` items
//! have arrived (batch API likewise), spinning with `std::hint::spin_loop` when full / empty.
//! Every queue gets the same capacity (4096). Throughput is reported in items/s.
//!
//! Peers: `rtrb` (`push_partial_slice` / `pop_partial_slice` for bursts) and
//! `crossbeam_queue::ArrayQueue` (MPMC, no batch API: a burst is a loop of `push`/`pop`).
//! The `disruptor` crate is not included (different, callback-driven consumer model; not a
//! quick like-for-like integration).
//!
//! Threads are not pinned; on a small shared VM the numbers are noisy.
//!
//! Run: `cargo bench -p ticklane-benches --bench ring`.

use std::hint::{black_box, spin_loop};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// A 64-byte `Copy` item, the size of the engine's `MarketEvent`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C, align(64))]
struct Item([u64; 8]);

const _: () = assert!(std::mem::size_of::<Item>() == 64);

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

fn ticklane(total: u64, burst: usize) -> Duration {
    let (mut tx, mut rx) = ticklane_ring::ring::<Item>(CAPACITY);
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
            let mut got = 0u64;
            let mut sum = 0u64;
            while got < total {
                let mut n = 0;
                while n < burst {
                    match q.pop() {
                        Some(v) => {
                            sum = sum.wrapping_add(v.0[0]);
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    spin_loop();
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
    }
    g.finish();
}

criterion_group!(benches, bench_ring);
criterion_main!(benches);
