//! Two-thread stress: a few million sequential `u64`s through a small ring; the consumer checks
//! order and that nothing is lost or duplicated. Mixes single and batch operations on both sides
//! and uses a tiny capacity so the ring is constantly full/empty and wraps very often.
#![cfg(not(loom))]

use std::thread;

/// The same body for both rings (their ends have the same method names, not a common trait).
macro_rules! stress {
    ($name:ident, $ring:path) => {
        fn $name(cap: usize, total: u64) {
            let (mut p, mut c) = $ring(cap);
            let producer = thread::spawn(move || {
                let mut next = 0u64;
                let mut burst = [0u64; 7];
                while next < total {
                    if next.is_multiple_of(3) {
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
                if expect.is_multiple_of(2) {
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
    };
}

stress!(run, ticklane_ring::ring::<u64>);
stress!(run_stamped, ticklane_ring::stamped::ring::<u64>);

/// One test running both capacities back to back (not two parallel tests: four spinning
/// threads on a 2-core CI box would mostly measure the scheduler). ~1.5 s in debug. Under Miri
/// (which checks every slot access of both threads for data races) far fewer items, still
/// enough to wrap the small ring hundreds of times and the large one a few times.
#[test]
fn two_threads_in_order_no_loss() {
    if cfg!(miri) {
        run(8, 6_000);
        run(64, 6_000);
    } else {
        run(8, 1_000_000);
        run(1024, 2_000_000);
    }
}

/// The stamped ring under the same load (its own test: it checks a different protocol).
#[test]
fn stamped_two_threads_in_order_no_loss() {
    if cfg!(miri) {
        run_stamped(2, 4_000);
        run_stamped(64, 6_000);
    } else {
        run_stamped(2, 1_000_000);
        run_stamped(8, 1_000_000);
        run_stamped(1024, 2_000_000);
    }
}
