//! Loom model of the SPSC protocol. Not run by CI; run with
//! `RUSTFLAGS="--cfg loom" cargo test -p ticklane-ring --release --test loom`.
#![cfg(loom)]

use loom::thread;
use ticklane_ring::ring;

/// `items` single pushes and pops across threads on a ring of `capacity`: order, no loss, no
/// slot race (loom's `UnsafeCell` tracking would flag a read of a slot concurrent with its
/// write).
fn push_pop(capacity: usize, items: u32) {
    loom::model(move || {
        let (mut p, mut c) = ring::<u32>(capacity);
        let t = thread::spawn(move || {
            let mut i = 0;
            while i < items {
                if p.push(i).is_ok() {
                    i += 1;
                } else {
                    thread::yield_now();
                }
            }
        });
        let mut expect = 0;
        while expect < items {
            match c.pop() {
                Some(v) => {
                    assert_eq!(v, expect);
                    expect += 1;
                }
                None => thread::yield_now(),
            }
        }
        t.join().expect("producer");
        assert_eq!(c.pop(), None);
    });
}

/// A capacity-2 ring (wraps once).
#[test]
fn push_pop_wraps() {
    push_pop(2, 3);
}

/// Batch APIs (push_slice / write_chunk / pop_into) on a capacity-2 ring.
#[test]
fn batches_wrap() {
    loom::model(|| {
        let (mut p, mut c) = ring::<u32>(2);
        let t = thread::spawn(move || {
            let items = [0u32, 1, 2];
            let mut i = 0;
            while i < items.len() {
                let n = if i == 2 {
                    match p.write_chunk(1) {
                        Some(mut ch) => {
                            ch.write(items[i]).expect("reserved");
                            ch.commit_written()
                        }
                        None => 0,
                    }
                } else {
                    p.push_slice(&items[i..2])
                };
                if n == 0 {
                    thread::yield_now();
                }
                i += n;
            }
        });
        let mut got = Vec::new();
        let mut buf = [0u32; 2];
        while got.len() < 3 {
            let n = c.pop_into(&mut buf);
            if n == 0 {
                thread::yield_now();
            }
            got.extend_from_slice(&buf[..n]);
        }
        t.join().expect("producer");
        assert_eq!(got, [0, 1, 2]);
    });
}

/// Slots handed back in batches: on an 8-slot ring the consumer stores `head` every second
/// item (or when it finds nothing new), so the producer's reuse of a slot waits on a store
/// made one item later than the read of that slot. 10 items: the ring wraps, and the two last
/// pushes need slots that only a batched (or a nothing-new) hand-back frees.
#[test]
fn batched_hand_back_wraps() {
    push_pop(8, 10);
}

/// The stamped ring: single push/pop across threads on its smallest ring (2 slots), three
/// items so a slot is reused (the consumer's "free for the next lap" stamp is what lets the
/// producer in), and the end-of-stream check the lane does (`is_abandoned`, then `is_empty`).
#[test]
fn stamped_push_pop_wraps() {
    loom::model(|| {
        let (mut p, mut c) = ticklane_ring::stamped::ring::<u32>(2);
        let t = thread::spawn(move || {
            let mut i = 0;
            while i < 3 {
                if p.push(i).is_ok() {
                    i += 1;
                } else {
                    thread::yield_now();
                }
            }
        });
        let mut expect = 0;
        loop {
            match c.pop() {
                Some(v) => {
                    assert_eq!(v, expect);
                    expect += 1;
                }
                None => {
                    // Once the producer is gone, whatever it pushed must be visible.
                    if c.is_abandoned() && c.is_empty() {
                        break;
                    }
                    thread::yield_now();
                }
            }
        }
        assert_eq!(expect, 3, "an item was lost");
        t.join().expect("producer");
    });
}

/// The stamped ring's batch calls (`push_slice` / `pop_into`) on 2 slots, partial batches
/// included.
#[test]
fn stamped_batches_wrap() {
    loom::model(|| {
        let (mut p, mut c) = ticklane_ring::stamped::ring::<u32>(2);
        let t = thread::spawn(move || {
            let items = [0u32, 1, 2];
            let mut i = 0;
            while i < items.len() {
                let n = p.push_slice(&items[i..]);
                if n == 0 {
                    thread::yield_now();
                }
                i += n;
            }
        });
        let mut got = Vec::new();
        let mut buf = [0u32; 2];
        while got.len() < 3 {
            let n = c.pop_into(&mut buf);
            if n == 0 {
                thread::yield_now();
            }
            got.extend_from_slice(&buf[..n]);
        }
        t.join().expect("producer");
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(c.pop(), None);
    });
}

/// The index ring's end of stream, as the lane checks it (`is_abandoned`, then `is_empty`):
/// once the producer is gone, everything it pushed must be visible. (With the ring's abandonment
/// read from `Arc::strong_count`, which loom synchronizes like a `SeqCst` load, this passed with
/// the `Acquire` fence in `abandoned` removed; with the explicit end count it fails.)
#[test]
fn index_end_of_stream_sees_every_item() {
    loom::model(|| {
        let (mut p, mut c) = ring::<u32>(2);
        let t = thread::spawn(move || {
            let mut i = 0;
            while i < 3 {
                if p.push(i).is_ok() {
                    i += 1;
                } else {
                    thread::yield_now();
                }
            }
        });
        let mut expect = 0;
        loop {
            match c.pop() {
                Some(v) => {
                    assert_eq!(v, expect);
                    expect += 1;
                }
                None => {
                    if c.is_abandoned() && c.is_empty() {
                        break;
                    }
                    thread::yield_now();
                }
            }
        }
        assert_eq!(expect, 3, "an item was lost");
        t.join().expect("producer");
    });
}
