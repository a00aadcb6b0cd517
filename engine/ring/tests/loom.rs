//! Loom model of the SPSC protocol. Not run by CI; run with
//! `RUSTFLAGS="--cfg loom" cargo test -p ticklane-ring --release --test loom`.
#![cfg(loom)]

use loom::thread;
use ticklane_ring::ring;

/// Single push/pop across threads on a capacity-2 ring (wraps once): order, no loss, no slot
/// race (loom's `UnsafeCell` tracking would flag a read of a slot concurrent with its write).
#[test]
fn push_pop_wraps() {
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
        while expect < 3 {
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
