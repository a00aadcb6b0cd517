//! Two-thread stress: a few million sequential `u64`s through a small ring; the consumer checks
//! order and that nothing is lost or duplicated. Mixes single and batch operations on both sides
//! and uses a tiny capacity so the ring is constantly full/empty and wraps very often.
#![cfg(not(loom))]

use std::thread;
use ticklane_ring::ring;

fn run(cap: usize, total: u64) {
    let (mut p, mut c) = ring::<u64>(cap);
    let producer = thread::spawn(move || {
        let mut next = 0u64;
        let mut burst = [0u64; 7];
        while next < total {
            if next % 3 == 0 {
                match p.push(next) {
                    Ok(()) => next += 1,
                    Err(_) => std::hint::spin_loop(),
                }
            } else {
                let k = (total - next).min(burst.len() as u64) as usize;
                for (i, b) in burst[..k].iter_mut().enumerate() {
                    *b = next + i as u64;
                }
                let n = p.push_slice(&burst[..k]);
                if n == 0 {
                    std::hint::spin_loop();
                }
                next += n as u64;
            }
        }
    });
    let mut expect = 0u64;
    let mut buf = [0u64; 5];
    while expect < total {
        if expect % 2 == 0 {
            match c.pop() {
                Some(v) => {
                    assert_eq!(v, expect, "out of order / lost item");
                    expect += 1;
                }
                None => std::hint::spin_loop(),
            }
        } else {
            let n = c.pop_into(&mut buf);
            if n == 0 {
                std::hint::spin_loop();
            }
            for &v in &buf[..n] {
                assert_eq!(v, expect, "out of order / lost item");
                expect += 1;
            }
        }
    }
    producer.join().expect("producer panicked");
    assert_eq!(c.pop(), None, "extra items after the last one");
}

/// One test running both capacities back to back (not two parallel tests: four spinning
/// threads on a 2-core CI box would mostly measure the scheduler). ~1.5 s in debug.
#[test]
fn two_threads_in_order_no_loss() {
    run(8, 1_000_000);
    run(1024, 2_000_000);
}
