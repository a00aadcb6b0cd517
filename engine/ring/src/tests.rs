use super::*;
use proptest::prelude::*;
use std::collections::VecDeque;

#[test]
fn capacity_rounds_up_to_power_of_two() {
    for (req, cap) in [
        (1, 1),
        (2, 2),
        (3, 4),
        (4, 4),
        (5, 8),
        (1000, 1024),
        (1024, 1024),
    ] {
        let (p, c) = ring::<u8>(req);
        assert_eq!(p.capacity(), cap, "requested {req}");
        assert_eq!(c.capacity(), cap, "requested {req}");
    }
}

#[test]
#[should_panic(expected = "at least 1")]
fn zero_capacity_panics() {
    let _ = ring::<u8>(0);
}

#[test]
fn capacity_one_alternates() {
    let (mut p, mut c) = ring::<u32>(1);
    for i in 0..10 {
        assert_eq!(p.push(i), Ok(()));
        assert_eq!(p.push(i + 100), Err(Full(i + 100)));
        assert_eq!(p.len(), 1);
        assert_eq!(c.len(), 1);
        assert_eq!(c.pop(), Some(i));
        assert_eq!(c.pop(), None);
        assert!(c.is_empty());
        assert!(p.is_empty());
    }
}

#[test]
fn fill_to_capacity_then_full_is_an_error() {
    let (mut p, mut c) = ring::<u64>(8);
    for i in 0..8 {
        p.push(i).expect("room");
    }
    assert_eq!(p.push(99), Err(Full(99)));
    assert_eq!(Full(99).into_inner(), 99);
    assert_eq!(p.slots(), 0);
    assert_eq!(p.push_slice(&[1, 2, 3]), 0);
    assert!(p.write_chunk(1).is_none());
    assert_eq!(c.len(), 8);
    for i in 0..8 {
        assert_eq!(c.pop(), Some(i));
    }
    assert_eq!(c.pop(), None);
    assert_eq!(p.slots(), 8);
}

#[test]
fn read_slots_go_back_in_batches_when_the_consumer_looks_for_items_and_on_drop() {
    let (mut p, mut c) = ring::<u64>(1024);
    assert_eq!(release_every(1024), 32);
    for i in 0..100 {
        p.push(i).expect("room");
    }
    for i in 0..31 {
        assert_eq!(c.pop(), Some(i));
    }
    // 31 read, none handed back yet: the producer still counts them.
    assert_eq!(p.len(), 100);
    assert_eq!(c.pop(), Some(31));
    // The 32nd: the batch goes back.
    assert_eq!(p.len(), 68);
    let mut out = [0u64; 68];
    assert_eq!(c.pop_into(&mut out[..10]), 10);
    assert_eq!(p.len(), 68);
    // Asking for more than it knows of (68 > 58), it finds nothing new published: the 10 go
    // back before it reads 58 more, and those 58 are a batch of their own.
    assert_eq!(c.pop_into(&mut out), 58);
    assert_eq!(p.len(), 0);
    p.push(100).expect("room");
    assert_eq!(c.pop(), Some(100));
    assert_eq!(p.len(), 1);
    // Finding the ring empty hands the read slot back.
    assert_eq!(c.pop(), None);
    assert_eq!(p.len(), 0);
    p.push(101).expect("room");
    assert_eq!(c.pop(), Some(101));
    assert_eq!(p.len(), 1);
    // So does `len` (and `is_empty`): a consumer waiting for items holds no slot back.
    assert_eq!(c.len(), 0);
    assert_eq!(p.len(), 0);
    p.push(102).expect("room");
    assert_eq!(c.pop(), Some(102));
    assert_eq!(p.len(), 1);
    drop(c);
    assert_eq!(p.len(), 0);
    assert_eq!(p.slots(), 1024);
}

#[test]
fn a_consumer_waiting_for_a_full_ring_holds_no_slot_back() {
    let (mut p, mut c) = ring::<u32>(8);
    assert_eq!(release_every(8), 2);
    assert_eq!(p.push_slice(&[0, 1, 2, 3, 4, 5, 6, 7]), 8);
    assert_eq!(c.pop(), Some(0));
    // One read slot, held: the producer sees a full ring.
    assert_eq!(p.push(8), Err(Full(8)));
    // The consumer now waits for 8 items (it has 7): looking hands the slot back, so the
    // producer can push the 8th.
    assert_eq!(c.len(), 7);
    assert_eq!(p.push(8), Ok(()));
    let chunk = c.read_chunk(8);
    assert_eq!(chunk.as_slices(), (&[1, 2, 3, 4, 5, 6, 7][..], &[8][..]));
    chunk.commit(0);
    assert!(!c.is_empty());
}

#[test]
fn wrap_around_single_items() {
    let (mut p, mut c) = ring::<u64>(4);
    let mut next_in = 0u64;
    let mut next_out = 0u64;
    // Many laps with a varying fill level so head/tail cross the buffer end at every offset.
    for round in 0..100 {
        let k = round % 4 + 1;
        for _ in 0..k {
            p.push(next_in).expect("room");
            next_in += 1;
        }
        for _ in 0..k {
            assert_eq!(c.pop(), Some(next_out));
            next_out += 1;
        }
    }
    assert_eq!(c.pop(), None);
}

#[test]
fn wrap_around_batches() {
    let (mut p, mut c) = ring::<u32>(8);
    // Offset the indices so the batch straddles the end of the buffer.
    assert_eq!(p.push_slice(&[0, 0, 0, 0, 0, 0]), 6);
    let mut sink = [0u32; 6];
    assert_eq!(c.pop_into(&mut sink), 6);
    // head = tail = 6: a batch of 7 wraps (2 at the end, 5 at the start).
    assert_eq!(p.push_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9]), 8);
    assert_eq!(p.push_slice(&[10]), 0);
    let mut out = [0u32; 3];
    assert_eq!(c.pop_into(&mut out), 3);
    assert_eq!(out, [1, 2, 3]);
    assert_eq!(p.push_slice(&[10, 11, 12, 13]), 3);
    let mut out = [0u32; 16];
    assert_eq!(c.pop_into(&mut out), 8);
    assert_eq!(&out[..8], &[4, 5, 6, 7, 8, 10, 11, 12]);
    assert_eq!(c.pop_into(&mut out), 0);
    assert_eq!(p.push_slice(&[]), 0);
    assert_eq!(c.pop_into(&mut []), 0);
}

#[test]
fn write_chunk_safe_and_raw() {
    let (mut p, mut c) = ring::<u16>(4);
    p.push_slice(&[0, 0, 0]);
    let mut tmp = [0u16; 3];
    c.pop_into(&mut tmp); // head = tail = 3

    // Safe sequential writes; only the written prefix is published.
    let mut chunk = p.write_chunk(3).expect("room");
    assert_eq!(chunk.len(), 3);
    chunk.write(1).expect("slot");
    chunk.write(2).expect("slot");
    assert_eq!(chunk.commit_written(), 2);
    assert_eq!(c.pop(), Some(1));
    assert_eq!(c.pop(), Some(2));
    assert_eq!(c.pop(), None);

    // Dropping an uncommitted chunk publishes nothing.
    {
        let mut chunk = p.write_chunk(2).expect("room");
        chunk.write(7).expect("slot");
    }
    assert_eq!(c.pop(), None);

    // Raw slices that wrap: tail = 5 -> slot 1; a chunk of 4 is [1..4) + [0..1).
    let mut chunk = p.write_chunk(4).expect("room");
    let (a, b) = chunk.as_mut_slices();
    assert_eq!((a.len(), b.len()), (3, 1));
    for (i, s) in a.iter_mut().chain(b.iter_mut()).enumerate() {
        s.write(10 + i as u16);
    }
    // SAFETY: all 4 reserved slots were initialised just above.
    unsafe { chunk.commit(4) };
    let mut out = [0u16; 4];
    assert_eq!(c.pop_into(&mut out), 4);
    assert_eq!(out, [10, 11, 12, 13]);

    let mut chunk = p.write_chunk(1).expect("room");
    chunk.write(1).expect("slot");
    assert_eq!(chunk.write(2), Err(Full(2)));
    assert_eq!(chunk.commit_written(), 1);
    assert!(p.write_chunk(4).is_none());
    assert!(p.write_chunk(0).is_some_and(|ch| ch.is_empty()));
}

#[test]
fn raw_slices_leave_out_the_slots_already_written() {
    // Were the written slots in the raw slices, safe code could set one back to
    // `MaybeUninit::uninit()` and publish it with the safe `commit_written`.
    let (mut p, mut c) = ring::<u16>(4);
    p.push_slice(&[0, 0, 0]);
    let mut tmp = [0u16; 3];
    c.pop_into(&mut tmp); // head = tail = 3

    // Chunk of 4 from slot 3: [3..4) + [0..3). Two written, two left: slots 1 and 2.
    let mut chunk = p.write_chunk(4).expect("room");
    chunk.write(5).expect("slot");
    chunk.write(6).expect("slot");
    let (a, b) = chunk.as_mut_slices();
    assert_eq!((a.len(), b.len()), (2, 0));
    a[0].write(7);
    a[1].write(8);
    // SAFETY: two written with `write`, the other two through the raw slice just above.
    unsafe { chunk.commit(4) };
    let mut out = [0u16; 4];
    assert_eq!(c.pop_into(&mut out), 4);
    assert_eq!(out, [5, 6, 7, 8]);

    // One written at the end of the buffer (slot 3): the rest starts at slot 0, unwrapped.
    let mut chunk = p.write_chunk(3).expect("room");
    chunk.write(9).expect("slot");
    let (a, b) = chunk.as_mut_slices();
    assert_eq!((a.len(), b.len()), (2, 0));
    // Everything written: nothing left to hand out raw.
    let mut chunk = p.write_chunk(1).expect("room");
    chunk.write(1).expect("slot");
    let (a, b) = chunk.as_mut_slices();
    assert_eq!((a.len(), b.len()), (0, 0));
    assert_eq!(chunk.commit_written(), 1);
    assert_eq!(c.pop(), Some(1));
}

#[test]
fn read_chunk_reads_in_place_and_releases_only_what_is_committed() {
    let (mut p, mut c) = ring::<u32>(8);
    assert_eq!(p.push_slice(&[1, 2, 3, 4, 5, 6]), 6);
    assert_eq!(c.pop_into(&mut [0; 5]), 5);
    // 6 is at slot 5; 7..=12 wrap around the end of the buffer.
    assert_eq!(p.push_slice(&[7, 8, 9, 10, 11, 12]), 6);
    {
        let chunk = c.read_chunk(100);
        assert_eq!(chunk.len(), 7);
        assert_eq!(chunk.as_slices(), (&[6, 7, 8][..], &[9, 10, 11, 12][..]));
        // Dropped uncommitted: nothing released.
    }
    assert_eq!(p.len(), 7);
    assert_eq!(p.slots(), 1);
    let chunk = c.read_chunk(2);
    assert_eq!(chunk.as_slices(), (&[6, 7][..], &[][..]));
    chunk.commit(1);
    // An 8-slot ring hands slots back two at a time (`release_every`): one is still taken.
    assert_eq!(release_every(8), 2);
    assert_eq!(
        p.slots(),
        1,
        "one committed slot is held until a second joins it"
    );
    // Reading within what it knows of (6 items) does not hand back.
    let chunk = c.read_chunk(2);
    assert_eq!(chunk.as_slices(), (&[7, 8][..], &[][..]));
    chunk.commit(1);
    assert_eq!(p.slots(), 3, "the two committed slots are free again");
    let chunk = c.read_chunk(100);
    assert_eq!(chunk.as_slices(), (&[8][..], &[9, 10, 11, 12][..]));
    chunk.commit_all();
    assert!(c.read_chunk(4).is_empty());
    assert_eq!(c.pop(), None);
    assert_eq!(p.slots(), 8);
}

#[test]
#[should_panic(expected = "beyond the 2 items read")]
fn read_chunk_commit_beyond_its_items_panics() {
    let (mut p, mut c) = ring::<u32>(8);
    assert_eq!(p.push_slice(&[1, 2]), 2);
    c.read_chunk(8).commit(3);
}

#[test]
fn peek_does_not_consume() {
    let (mut p, mut c) = ring::<u8>(2);
    assert_eq!(c.peek(), None);
    p.push(5).expect("room");
    assert_eq!(c.peek(), Some(5));
    assert_eq!(c.pop(), Some(5));
    assert_eq!(c.peek(), None);
}

#[test]
fn sixty_four_byte_items_and_drop_either_side() {
    #[derive(Clone, Copy, Debug, PartialEq)]
    #[repr(C, align(64))]
    struct Ev([u64; 8]);
    let (mut p, mut c) = ring::<Ev>(16);
    p.push(Ev([7; 8])).expect("room");
    assert!(!p.is_abandoned());
    assert_eq!(c.pop(), Some(Ev([7; 8])));
    drop(c);
    assert!(p.is_abandoned());
    p.push(Ev([1; 8])).expect("still pushable");
    drop(p);

    let (p, c) = ring::<Ev>(16);
    drop(p);
    assert!(c.is_abandoned());
    drop(c);
}

#[test]
fn ends_are_send_not_sync() {
    fn is_send<S: Send>() {}
    is_send::<Producer<u64>>();
    is_send::<Consumer<u64>>();
    // Not `Sync`: see the `compile_fail` doctests on `Producer` / `Consumer`.
}

/// 64-byte items (the engine's `MarketEvent` size) through the `memcpy` batch paths and the raw
/// `write_chunk` slices across two threads, with bursts that straddle the end of the buffer.
#[test]
fn two_threads_wide_items_batches() {
    #[derive(Clone, Copy, Debug, Default, PartialEq)]
    #[repr(C, align(64))]
    struct Ev([u64; 8]);
    let ev = |i: u64| Ev([i, !i, i ^ 0x5555, 3, 4, 5, 6, i.wrapping_mul(7)]);

    let total: u64 = if cfg!(miri) { 2_000 } else { 200_000 };
    let (mut p, mut c) = ring::<Ev>(16);
    let producer = std::thread::spawn(move || {
        let mut next = 0u64;
        let mut burst = [Ev::default(); 11];
        let mut round = 0u64;
        while next < total {
            round += 1;
            let k = (total - next).min(round % 11 + 1) as usize;
            let n = if round.is_multiple_of(2) {
                for (i, b) in burst[..k].iter_mut().enumerate() {
                    *b = ev(next + i as u64);
                }
                p.push_slice(&burst[..k])
            } else if let Some(mut chunk) = p.write_chunk(k) {
                let (a, b) = chunk.as_mut_slices();
                for (i, s) in a.iter_mut().chain(b.iter_mut()).enumerate() {
                    s.write(ev(next + i as u64));
                }
                // SAFETY: all `k` reserved slots were initialised just above.
                unsafe { chunk.commit(k) };
                k
            } else {
                0
            };
            if n == 0 {
                std::hint::spin_loop();
            }
            next += n as u64;
        }
    });
    let mut expect = 0u64;
    let mut buf = [Ev::default(); 7];
    let mut round = 0usize;
    while expect < total {
        round += 1;
        let n = if round.is_multiple_of(2) {
            // In place: check the items where they lie, then release some or all of them.
            let chunk = c.read_chunk(round % 9 + 1);
            let (a, b) = chunk.as_slices();
            assert_eq!(a.len() + b.len(), chunk.len());
            let keep = round.is_multiple_of(3) && chunk.len() > 1;
            let n = if keep { chunk.len() - 1 } else { chunk.len() };
            for (i, v) in a.iter().chain(b).enumerate() {
                assert_eq!(*v, ev(expect + i as u64), "out of order / lost / torn item");
            }
            if keep {
                chunk.commit(n);
            } else {
                chunk.commit_all();
            }
            expect += n as u64;
            n
        } else {
            let n = c.pop_into(&mut buf[..round % 7 + 1]);
            for v in &buf[..n] {
                assert_eq!(*v, ev(expect), "out of order / lost / torn item");
                expect += 1;
            }
            n
        };
        if n == 0 {
            std::hint::spin_loop();
        }
    }
    producer.join().expect("producer panicked");
    assert_eq!(c.pop(), None, "extra items after the last one");
}

#[derive(Debug, Clone)]
enum Op {
    Push(u32),
    Pop,
    PushSlice(Vec<u32>),
    PopInto(usize),
    Chunk(usize, usize),
    /// Read up to `.0` in place, release `.1` of them (all when larger).
    ReadChunk(usize, usize),
    Peek,
    /// `Consumer::len` and `Consumer::is_empty` (which hand read slots back).
    ConsumerLen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u32>().prop_map(Op::Push),
        Just(Op::Pop),
        proptest::collection::vec(any::<u32>(), 0..20).prop_map(Op::PushSlice),
        (0usize..20).prop_map(Op::PopInto),
        (0usize..10, 0usize..10).prop_map(|(n, w)| Op::Chunk(n, w)),
        (0usize..20, 0usize..20).prop_map(|(m, k)| Op::ReadChunk(m, k)),
        Just(Op::Peek),
        Just(Op::ConsumerLen),
    ]
}

/// Largest capacity the model test asks for (rings of 32 slots and more hand slots back in
/// batches of 8 and more), and its longest run of operations; smaller under Miri, which
/// interprets every operation.
const MODEL_MAX_CAP: usize = if cfg!(miri) { 80 } else { 300 };
const MODEL_MAX_OPS: usize = if cfg!(miri) { 150 } else { 400 };

/// Under Miri (`cargo +nightly miri test -p ticklane-ring`) every operation is interpreted, so
/// far fewer random cases run, and none is persisted (Miri's isolation forbids the file).
fn model_config() -> ProptestConfig {
    if cfg!(miri) {
        ProptestConfig {
            cases: 10,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    } else {
        ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(model_config())]
    #[test]
    fn matches_vecdeque_model(
        cap in prop_oneof![1usize..17, 17usize..MODEL_MAX_CAP],
        ops in proptest::collection::vec(op(), 0..MODEL_MAX_OPS),
    ) {
        let (mut p, mut c) = ring::<u32>(cap);
        let cap = p.capacity();
        let mut model: VecDeque<u32> = VecDeque::new();
        // Items read whose slots the consumer has not handed back yet: the producer still sees
        // them as taken. They go back once `release_every` have gathered, on `len`, or when a
        // read wants more items than the consumer knows of (`known`: published and not yet
        // read as of its last look at `tail`) and `tail` has not moved since that look (`seen`:
        // the items pushed by then; `pushed`: pushed so far).
        let every = release_every(cap);
        let (mut held, mut known, mut seen, mut pushed) = (0usize, 0usize, 0usize, 0usize);
        // A read wanting `want` items (the ring holding `queued`) that marks `n` of them read.
        let read = |(held, known, seen): (&mut usize, &mut usize, &mut usize),
                    pushed: usize,
                    want: usize,
                    queued: usize,
                    n: usize| {
            if *known < want {
                if *seen == pushed {
                    *held = 0;
                }
                *seen = pushed;
                *known = queued;
            }
            *known -= n;
            *held += n;
            if *held >= every {
                *held = 0;
            }
        };
        let mut seq = 0u32;
        for op in ops {
            let taken = model.len() + held;
            match op {
                Op::Push(v) => {
                    let r = p.push(v);
                    if taken < cap {
                        prop_assert_eq!(r, Ok(()));
                        model.push_back(v);
                        pushed += 1;
                    } else {
                        prop_assert_eq!(r, Err(Full(v)));
                    }
                }
                Op::Pop => {
                    let n = usize::from(!model.is_empty());
                    read((&mut held, &mut known, &mut seen), pushed, 1, model.len(), n);
                    prop_assert_eq!(c.pop(), model.pop_front());
                }
                Op::Peek => {
                    read((&mut held, &mut known, &mut seen), pushed, 1, model.len(), 0);
                    prop_assert_eq!(c.peek(), model.front().copied());
                }
                Op::ConsumerLen => {
                    held = 0;
                    prop_assert_eq!(c.len(), model.len());
                    prop_assert_eq!(c.is_empty(), model.is_empty());
                }
                Op::PushSlice(vs) => {
                    let n = p.push_slice(&vs);
                    let expect = vs.len().min(cap - taken);
                    prop_assert_eq!(n, expect);
                    model.extend(&vs[..n]);
                    pushed += n;
                }
                Op::PopInto(k) => {
                    let mut out = vec![u32::MAX; k];
                    let n = c.pop_into(&mut out);
                    prop_assert_eq!(n, k.min(model.len()));
                    read((&mut held, &mut known, &mut seen), pushed, k, model.len(), n);
                    for o in &out[..n] {
                        prop_assert_eq!(Some(*o), model.pop_front());
                    }
                    prop_assert!(out[n..].iter().all(|&o| o == u32::MAX));
                }
                Op::ReadChunk(max, k) => {
                    let chunk = c.read_chunk(max);
                    prop_assert_eq!(chunk.len(), max.min(model.len()));
                    let (a, b) = chunk.as_slices();
                    let got: Vec<u32> = a.iter().chain(b).copied().collect();
                    let front: Vec<u32> = model.iter().take(chunk.len()).copied().collect();
                    prop_assert_eq!(got, front);
                    let k = k.min(chunk.len());
                    read((&mut held, &mut known, &mut seen), pushed, max, model.len(), k);
                    if k == chunk.len() {
                        chunk.commit_all();
                    } else {
                        chunk.commit(k);
                    }
                    model.drain(..k);
                }
                Op::Chunk(n, w) => {
                    let free = cap - taken;
                    match p.write_chunk(n) {
                        None => prop_assert!(n > free),
                        Some(mut ch) => {
                            prop_assert!(n <= free);
                            for _ in 0..w {
                                seq = seq.wrapping_add(1);
                                if ch.write(seq).is_ok() {
                                    model.push_back(seq);
                                    pushed += 1;
                                }
                            }
                            prop_assert_eq!(ch.commit_written(), w.min(n));
                        }
                    }
                }
            }
            prop_assert_eq!(p.len(), model.len() + held);
        }
        let mut rest = vec![0u32; cap];
        let n = c.pop_into(&mut rest);
        prop_assert_eq!(&rest[..n], model.make_contiguous());
        // Found empty: everything read is handed back.
        prop_assert!(c.pop().is_none());
        prop_assert_eq!(p.len(), 0);
        prop_assert_eq!(p.slots(), cap);
        prop_assert!(c.is_empty());
    }
}

mod review {
    use super::*;

    /// Index ring with every counter started just below `usize::MAX`: positions wrap mid-run.
    #[test]
    fn index_positions_wrap_around_usize() {
        let (mut p, mut c) = ring::<u32>(8);
        let start = usize::MAX - 5;
        p.shared.head.store(start, Ordering::Relaxed);
        p.shared.tail.store(start, Ordering::Relaxed);
        p.tail = start;
        p.cached_head = start;
        c.head = start;
        c.cached_tail = start;
        c.released.set(start);
        let mut next = 0u32;
        let mut expect = 0u32;
        for round in 0..50usize {
            let k = round % 9;
            let items: Vec<u32> = (next..next + k as u32).collect();
            let n = p.push_slice(&items);
            next += n as u32;
            let mut out = [0u32; 8];
            let m = c.pop_into(&mut out[..(round % 7) + 1]);
            for v in &out[..m] {
                assert_eq!(*v, expect);
                expect += 1;
            }
            assert_eq!(c.len(), (next - expect) as usize);
        }
        while let Some(v) = c.pop() {
            assert_eq!(v, expect);
            expect += 1;
        }
        assert_eq!(expect, next);
        assert_eq!(p.len(), 0);
        assert_eq!(p.slots(), 8);
    }

    #[test]
    fn zero_sized_items_pass_through_both_rings() {
        let (mut p, mut c) = ring::<()>(4);
        assert_eq!(p.push_slice(&[(); 6]), 4);
        assert_eq!(p.push(()), Err(Full(())));
        let mut out = [(); 3];
        assert_eq!(c.pop_into(&mut out), 3);
        let ch = c.read_chunk(8);
        assert_eq!(ch.len(), 1);
        ch.commit_all();
        assert_eq!(c.pop(), None);
        let (mut p, mut c) = crate::stamped::ring::<()>(1);
        assert_eq!(p.push_slice(&[(); 3]), 2);
        assert_eq!(c.pop_into(&mut [(); 4]), 2);
    }
}
