//! `ring-latency`: one-way hand-off latency of ticklane-ring and its peers (rtrb, crossbeam
//! `ArrayQueue`, disruptor) between two threads pinned to two distinct cores, next to the
//! machine's own floor for moving one cache line between those cores.
//!
//! ```text
//! cargo run -p ticklane-benches --release --bin ring-latency -- [--messages N] [--warmup N]
//!     [--gap-ns NS] [--producer-core C] [--consumer-core C] [--capacity N] [--rounds R] [--json]
//! ```
//!
//! # Method
//!
//! * **Clock.** `std::time::Instant` (Linux: `clock_gettime(CLOCK_MONOTONIC)` through the vDSO;
//!   with the `tsc` clocksource that is a TSC read scaled to ns). Every timestamp is the number
//!   of ns since one `Instant` taken before the threads start (the *epoch*), shared by both
//!   threads. `CLOCK_MONOTONIC` is one system-wide clock, so a difference of two reads on two
//!   cores is meaningful to within the cross-core TSC synchronisation (on a VM: whatever the
//!   hypervisor gives; see the round trip below). Not the raw TSC: reading it needs intrinsics
//!   this crate (`unsafe_code = deny`) does not use; the clock's own cost is measured and
//!   printed as `clock`.
//! * **One way** (`one-way`). The producer busy-waits `--gap-ns` (default 1,000 ns) on the clock
//!   after each send, then reads the clock, stores the timestamp and the sequence number into a
//!   64-byte item and pushes it. The consumer busy-polls, reads the clock as soon as an item
//!   arrives and records `receipt - send` into an HDR histogram allocated before the run (3
//!   significant digits, fixed bounds: no allocation on the hot path). The figure includes one
//!   push, the cache-line transfers, one pop and about one clock read. Closed loop: the consumer
//!   publishes how many messages it has received (on a line of its own) and the producer does
//!   not stamp the next message before the previous one has arrived, so the queue is empty at
//!   every send. This measures hand-off latency, not queueing: when the hypervisor stops one of
//!   the threads for a millisecond, one message is late, not the thousand sent meanwhile. The
//!   wait is normally over long before the gap is (a hand-off is ~100 ns) and happens outside
//!   the measured interval.
//! * **Round trip / 2** (`rtt/2`): the same item bounced through two queues of the same kind
//!   (producer core → consumer core → producer core), both timestamps taken on the producer
//!   core, so it does not depend on the two cores' clocks agreeing. Each percentile of the
//!   round trip is halved. The next ping leaves `--gap-ns` after the pong arrived.
//! * **Floor** (`line`): the same two measurements through a single `AtomicU64` on its own cache
//!   line that only the sender writes (the timestamp; the receiver spins until it changes). A
//!   message there costs one line transfer, which no queue can beat: the queues move an index
//!   and a 64-byte slot, two lines read one after the other.
//! * **Clock overhead** (`clock`): two back-to-back reads on the producer core.
//! * **Rounds.** The messages are split over `--rounds` rounds (default 5); each round runs every
//!   queue on fresh queues, rotating the order, each run with its own `--warmup` messages that
//!   are sent but not recorded. A slow spell of a shared machine then hits every queue alike.
//! * Items that arrive out of order are counted; any makes the exit status non-zero.
//!
//! Queues: ticklane-ring's index ring and its stamped ring (`push`/`pop`), rtrb (`push`/`pop`), crossbeam `ArrayQueue`
//! (`push`/`pop`), disruptor (`build_single_producer` + `BusySpin`, `try_publish`, an
//! `EventPoller` consumer with `take(1)`), each with the same capacity (`--capacity`, 4096).

// This binary is a benchmark harness, i.e. the edge of the system: it has to read the wall
// clock (`Instant::now`), which clippy.toml bans inside the engine.
#![allow(clippy::disallowed_methods)]

use std::hint::spin_loop;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant;

use clap::Parser;
use hdrhistogram::Histogram;

/// A 64-byte `Copy` item, the size of the engine's `MarketEvent`: `[send_ns, seq, pad...]`.
/// Aligned to 8 like `MarketEvent` (not to a cache line): the stamped ring's stamp then shares
/// a line with the item's first 56 bytes, as it does with the engine's events.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
struct Item([u64; 8]);

const _: () = assert!(std::mem::size_of::<Item>() == 64);
const _: () = assert!(std::mem::align_of::<Item>() == 8);

/// Highest value the histograms track (10 s); larger values are clamped.
const HIST_MAX_NS: u64 = 10_000_000_000;

#[derive(Parser, Debug)]
#[command(
    name = "ring-latency",
    about = "One-way hand-off latency of ticklane-ring (both rings), rtrb, crossbeam ArrayQueue and disruptor \
             between two pinned threads (plus clock overhead and round trip / 2)."
)]
struct Args {
    /// Messages recorded per queue (after the warm-up).
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Messages sent first and not recorded, in every round of every queue.
    #[arg(long, default_value_t = 20_000)]
    warmup: u64,
    /// Busy-wait between two sends, in ns (keeps the queue nearly empty).
    #[arg(long, default_value_t = 1_000)]
    gap_ns: u64,
    /// Core the producer (and the round trip's initiator) is pinned to.
    #[arg(long, default_value_t = 0)]
    producer_core: usize,
    /// Core the consumer (and the round trip's echo) is pinned to.
    #[arg(long, default_value_t = 1)]
    consumer_core: usize,
    /// Capacity of every queue.
    #[arg(long, default_value_t = 4096)]
    capacity: usize,
    /// Rounds: the messages are split over this many rounds, each running every queue once
    /// (in a rotated order, on fresh queues, each with its own warm-up), so that a slow spell
    /// of this shared machine hits all queues alike. Histograms are merged per queue.
    #[arg(long, default_value_t = 5)]
    rounds: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// The sending half of a queue, as the harness uses it.
trait Tx: Send + 'static {
    fn try_send(&mut self, v: Item) -> bool;
}

/// The receiving half of a queue, as the harness uses it.
trait Rx: Send + 'static {
    fn try_recv(&mut self) -> Option<Item>;
}

impl Tx for ticklane_ring::Producer<Item> {
    #[inline(always)]
    fn try_send(&mut self, v: Item) -> bool {
        self.push(v).is_ok()
    }
}

impl Rx for ticklane_ring::Consumer<Item> {
    #[inline(always)]
    fn try_recv(&mut self) -> Option<Item> {
        self.pop()
    }
}

impl Tx for ticklane_ring::stamped::Producer<Item> {
    #[inline(always)]
    fn try_send(&mut self, v: Item) -> bool {
        self.push(v).is_ok()
    }
}

impl Rx for ticklane_ring::stamped::Consumer<Item> {
    #[inline(always)]
    fn try_recv(&mut self) -> Option<Item> {
        self.pop()
    }
}

impl Tx for rtrb::Producer<Item> {
    #[inline(always)]
    fn try_send(&mut self, v: Item) -> bool {
        self.push(v).is_ok()
    }
}

impl Rx for rtrb::Consumer<Item> {
    #[inline(always)]
    fn try_recv(&mut self) -> Option<Item> {
        self.pop().ok()
    }
}

/// Either end of a shared `ArrayQueue`.
struct Aq(Arc<crossbeam_queue::ArrayQueue<Item>>);

impl Tx for Aq {
    #[inline(always)]
    fn try_send(&mut self, v: Item) -> bool {
        self.0.push(v).is_ok()
    }
}

impl Rx for Aq {
    #[inline(always)]
    fn try_recv(&mut self) -> Option<Item> {
        self.0.pop()
    }
}

type DisruptorTx = disruptor::SingleProducer<Item, disruptor::SingleConsumerBarrier>;
type DisruptorRx = disruptor::EventPoller<Item, disruptor::SingleProducerBarrier>;

impl Tx for DisruptorTx {
    #[inline(always)]
    fn try_send(&mut self, v: Item) -> bool {
        use disruptor::Producer as _;
        self.try_publish(|e| *e = v).is_ok()
    }
}

impl Rx for DisruptorRx {
    #[inline(always)]
    fn try_recv(&mut self) -> Option<Item> {
        match self.take(1) {
            Ok(mut events) => (&mut events).next().copied(),
            Err(_) => None,
        }
    }
}

/// One `AtomicU64` alone on its (128-byte-aligned) line.
#[repr(align(128))]
struct Line(AtomicU64);

/// The floor: a single-writer cell. The sender stores the timestamp (made strictly increasing)
/// into it, the receiver spins on it until the value changes: one line that only the sender
/// writes, so a message costs one cache-line transfer on the critical path, which no queue can
/// beat (a queue moves an index and a 64-byte slot). It holds one message: the harnesses never
/// send before the previous message has arrived.
struct LineTx {
    cell: Arc<Line>,
    last: u64,
}

struct LineRx {
    cell: Arc<Line>,
    last: u64,
    /// Sequence numbers are implicit: the n-th value seen is message number n.
    seq: u64,
}

impl Tx for LineTx {
    #[inline(always)]
    fn try_send(&mut self, v: Item) -> bool {
        let t = v.0[0].max(self.last + 1);
        self.cell.0.store(t, Ordering::Release);
        self.last = t;
        true
    }
}

impl Rx for LineRx {
    #[inline(always)]
    fn try_recv(&mut self) -> Option<Item> {
        let t = self.cell.0.load(Ordering::Acquire);
        if t == self.last {
            return None;
        }
        self.last = t;
        let seq = self.seq;
        self.seq += 1;
        Some(Item([t, seq, 0, 0, 0, 0, 0, 0]))
    }
}

fn line(_cap: usize) -> (LineTx, LineRx) {
    let cell = Arc::new(Line(AtomicU64::new(0)));
    (
        LineTx {
            cell: Arc::clone(&cell),
            last: 0,
        },
        LineRx {
            cell,
            last: 0,
            seq: 0,
        },
    )
}

fn ticklane(cap: usize) -> (ticklane_ring::Producer<Item>, ticklane_ring::Consumer<Item>) {
    ticklane_ring::ring(cap)
}

fn stamped(
    cap: usize,
) -> (
    ticklane_ring::stamped::Producer<Item>,
    ticklane_ring::stamped::Consumer<Item>,
) {
    ticklane_ring::stamped::ring(cap)
}

fn rtrb(cap: usize) -> (rtrb::Producer<Item>, rtrb::Consumer<Item>) {
    rtrb::RingBuffer::new(cap)
}

fn array_queue(cap: usize) -> (Aq, Aq) {
    let q = Arc::new(crossbeam_queue::ArrayQueue::new(cap));
    (Aq(Arc::clone(&q)), Aq(q))
}

fn disruptor(cap: usize) -> (DisruptorTx, DisruptorRx) {
    let (poller, builder) = disruptor::build_single_producer(
        cap.next_power_of_two(),
        Item::default,
        disruptor::BusySpin,
    )
    .new_event_poller();
    (builder.build(), poller)
}

/// ns since `epoch`.
#[inline(always)]
fn now_ns(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// Busy-waits until `now_ns(epoch) >= t`; returns that reading.
#[inline(always)]
fn wait_until(epoch: Instant, t: u64) -> u64 {
    loop {
        let now = now_ns(epoch);
        if now >= t {
            return now;
        }
        spin_loop();
    }
}

fn histogram() -> Histogram<u64> {
    // Fixed bounds: the counts array is allocated here, once; `saturating_record` never resizes.
    Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("valid histogram bounds")
}

/// Pins the current thread to `core`; warns (once per thread) if the OS refused.
fn pin(core: usize) {
    let ok = core_affinity::set_for_current(core_affinity::CoreId { id: core });
    if !ok {
        eprintln!("warning: could not pin a thread to core {core}");
    }
}

#[derive(Clone, Copy, Debug)]
struct Config {
    messages: u64,
    warmup: u64,
    gap_ns: u64,
    producer_core: usize,
    consumer_core: usize,
    capacity: usize,
    rounds: u64,
}

/// Result of one measurement: the histogram, a scale (1 or ½ for the round trip) and the
/// number of items that arrived out of order (must be 0).
struct Measured {
    hist: Histogram<u64>,
    halve: bool,
    out_of_order: u64,
}

/// One-way latency: producer on `producer_core`, consumer on `consumer_core`.
fn one_way<T: Tx, R: Rx>(cfg: Config, (mut tx, mut rx): (T, R)) -> Measured {
    let total = cfg.warmup + cfg.messages;
    let start = Arc::new(Barrier::new(2));
    // Messages received so far, published by the consumer (closed loop, see the module docs).
    let received = Arc::new(Line(AtomicU64::new(0)));
    let epoch = Instant::now();
    let producer = {
        let start = Arc::clone(&start);
        let received = Arc::clone(&received);
        thread::spawn(move || {
            pin(cfg.producer_core);
            start.wait();
            let mut next = now_ns(epoch);
            for seq in 0..total {
                // The previous message has arrived (normally long ago: the gap is much longer
                // than a hand-off), so the queue is empty when this one is stamped.
                while received.0.load(Ordering::Acquire) < seq {
                    spin_loop();
                }
                let sent = wait_until(epoch, next);
                let mut v = Item([sent, seq, 0, 0, 0, 0, 0, 0]);
                while !tx.try_send(v) {
                    // Cannot happen with one message in flight; kept for safety.
                    spin_loop();
                    v.0[0] = now_ns(epoch);
                }
                next = sent + cfg.gap_ns;
            }
            tx
        })
    };
    let consumer = thread::spawn(move || {
        pin(cfg.consumer_core);
        let mut hist = histogram();
        let mut out_of_order = 0u64;
        start.wait();
        let mut expect = 0u64;
        while expect < total {
            if let Some(v) = rx.try_recv() {
                let now = now_ns(epoch);
                if expect >= cfg.warmup {
                    hist.saturating_record(now.saturating_sub(v.0[0]));
                }
                out_of_order += u64::from(v.0[1] != expect);
                expect += 1;
                received.0.store(expect, Ordering::Release);
            } else {
                spin_loop();
            }
        }
        (rx, hist, out_of_order)
    });
    let (rx, hist, out_of_order) = consumer.join().expect("consumer panicked");
    let tx = producer.join().expect("producer panicked");
    // The disruptor's producer signals shutdown on drop; drop it after the consumer is done.
    drop(tx);
    drop(rx);
    Measured {
        hist,
        halve: false,
        out_of_order,
    }
}

/// Round trip: the initiator (producer core) stamps and sends on `ping`, the echo (consumer
/// core) sends every item back on `pong`, the initiator records `receipt - send`.
fn round_trip<T1: Tx, R1: Rx, T2: Tx, R2: Rx>(
    cfg: Config,
    (mut ping_tx, mut ping_rx): (T1, R1),
    (mut pong_tx, mut pong_rx): (T2, R2),
) -> Measured {
    let total = cfg.warmup + cfg.messages;
    let start = Arc::new(Barrier::new(2));
    let epoch = Instant::now();
    let echo = {
        let start = Arc::clone(&start);
        thread::spawn(move || {
            pin(cfg.consumer_core);
            start.wait();
            let mut n = 0u64;
            while n < total {
                if let Some(v) = ping_rx.try_recv() {
                    while !pong_tx.try_send(v) {
                        spin_loop();
                    }
                    n += 1;
                } else {
                    spin_loop();
                }
            }
            (ping_rx, pong_tx)
        })
    };
    let initiator = thread::spawn(move || {
        pin(cfg.producer_core);
        let mut hist = histogram();
        let mut out_of_order = 0u64;
        start.wait();
        let mut next = now_ns(epoch);
        for seq in 0..total {
            let sent = wait_until(epoch, next);
            let v = Item([sent, seq, 0, 0, 0, 0, 0, 0]);
            while !ping_tx.try_send(v) {
                spin_loop();
            }
            let back = loop {
                if let Some(b) = pong_rx.try_recv() {
                    break b;
                }
                spin_loop();
            };
            let now = now_ns(epoch);
            if seq >= cfg.warmup {
                hist.saturating_record(now.saturating_sub(back.0[0]));
            }
            out_of_order += u64::from(back.0[1] != seq);
            next = now + cfg.gap_ns;
        }
        (ping_tx, pong_rx, hist, out_of_order)
    });
    let (ping_tx, pong_rx, hist, out_of_order) = initiator.join().expect("initiator panicked");
    let (ping_rx, pong_tx) = echo.join().expect("echo panicked");
    drop((ping_tx, pong_tx));
    drop((ping_rx, pong_rx));
    Measured {
        hist,
        halve: true,
        out_of_order,
    }
}

/// Cost of reading the clock: two back-to-back reads, on the producer core.
fn clock_overhead(cfg: Config) -> Measured {
    thread::spawn(move || {
        pin(cfg.producer_core);
        let epoch = Instant::now();
        let mut hist = histogram();
        for i in 0..cfg.warmup + cfg.messages {
            let a = now_ns(epoch);
            let b = now_ns(epoch);
            if i >= cfg.warmup {
                hist.saturating_record(b - a);
            }
        }
        Measured {
            hist,
            halve: false,
            out_of_order: 0,
        }
    })
    .join()
    .expect("clock thread panicked")
}

/// The queues, in table order. `line` is the floor (see [`LineTx`]), not a queue.
const QUEUES: [&str; 6] = [
    "line",
    "ticklane",
    "ticklane-stamped",
    "rtrb",
    "crossbeam",
    "disruptor",
];

fn measure(queue: &str, round_trip_mode: bool, cfg: Config) -> Measured {
    let cap = cfg.capacity;
    match (queue, round_trip_mode) {
        ("line", false) => one_way(cfg, line(cap)),
        ("line", true) => round_trip(cfg, line(cap), line(cap)),
        ("ticklane", false) => one_way(cfg, ticklane(cap)),
        ("ticklane", true) => round_trip(cfg, ticklane(cap), ticklane(cap)),
        ("ticklane-stamped", false) => one_way(cfg, stamped(cap)),
        ("ticklane-stamped", true) => round_trip(cfg, stamped(cap), stamped(cap)),
        ("rtrb", false) => one_way(cfg, rtrb(cap)),
        ("rtrb", true) => round_trip(cfg, rtrb(cap), rtrb(cap)),
        ("crossbeam", false) => one_way(cfg, array_queue(cap)),
        ("crossbeam", true) => round_trip(cfg, array_queue(cap), array_queue(cap)),
        ("disruptor", false) => one_way(cfg, disruptor(cap)),
        ("disruptor", true) => round_trip(cfg, disruptor(cap), disruptor(cap)),
        _ => unreachable!("unknown queue {queue}"),
    }
}

/// Every measurement, `rounds` times with the queue order rotated each round, merged.
fn run_all(cfg: Config) -> Vec<Row> {
    let rounds = cfg.rounds;
    let mut rows = vec![Row {
        queue: "-",
        what: "clock",
        m: clock_overhead(cfg),
    }];
    for rt in [false, true] {
        for q in QUEUES {
            rows.push(Row {
                queue: q,
                what: if rt { "rtt/2" } else { "one-way" },
                m: Measured {
                    hist: histogram(),
                    halve: rt,
                    out_of_order: 0,
                },
            });
        }
    }
    for round in 0..rounds {
        // This round's share of the messages (the first rounds take the remainder).
        let messages = cfg.messages / rounds + u64::from(round < cfg.messages % rounds);
        if messages == 0 {
            continue;
        }
        let rcfg = Config { messages, ..cfg };
        for rt in [false, true] {
            for k in 0..QUEUES.len() {
                let q = QUEUES[(k + round as usize) % QUEUES.len()];
                let m = measure(q, rt, rcfg);
                let what = if rt { "rtt/2" } else { "one-way" };
                let row = rows
                    .iter_mut()
                    .find(|r| r.queue == q && r.what == what)
                    .expect("a row per queue and mode");
                row.m
                    .hist
                    .add(&m.hist)
                    .expect("histograms with the same bounds");
                row.m.out_of_order += m.out_of_order;
            }
        }
    }
    rows
}

const QUANTILES: [(&str, f64); 5] = [
    ("p50", 0.5),
    ("p90", 0.9),
    ("p99", 0.99),
    ("p99.9", 0.999),
    ("p99.99", 0.9999),
];

struct Row {
    queue: &'static str,
    what: &'static str,
    m: Measured,
}

impl Row {
    fn scale(&self, v: u64) -> f64 {
        if self.m.halve {
            v as f64 / 2.0
        } else {
            v as f64
        }
    }
    fn quantile(&self, q: f64) -> f64 {
        self.scale(self.m.hist.value_at_quantile(q))
    }
    fn max(&self) -> f64 {
        self.scale(self.m.hist.max())
    }
    fn mean(&self) -> f64 {
        let m = self.m.hist.mean();
        if self.m.halve {
            m / 2.0
        } else {
            m
        }
    }
}

fn print_table(cfg: &Config, rows: &[Row]) {
    println!(
        "ring-latency: {} messages per queue in {} rounds (+{} warm-up per round), gap {} ns, \
         capacity {}, producer core {}, consumer core {}; ns",
        cfg.messages,
        cfg.rounds,
        cfg.warmup,
        cfg.gap_ns,
        cfg.capacity,
        cfg.producer_core,
        cfg.consumer_core
    );
    print!("{:<16} {:<8} {:>10}", "queue", "what", "msgs");
    for (name, _) in QUANTILES {
        print!(" {name:>8}");
    }
    println!(" {:>10} {:>8}", "max", "mean");
    for r in rows {
        print!("{:<16} {:<8} {:>10}", r.queue, r.what, r.m.hist.len());
        for (_, q) in QUANTILES {
            print!(" {:>8}", fmt_ns(r.quantile(q)));
        }
        println!(" {:>10} {:>8.1}", fmt_ns(r.max()), r.mean());
    }
}

fn fmt_ns(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn print_json(cfg: &Config, rows: &[Row]) {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let mut o = serde_json::Map::new();
            o.insert("queue".into(), r.queue.into());
            o.insert("what".into(), r.what.into());
            o.insert("msgs".into(), r.m.hist.len().into());
            for (name, q) in QUANTILES {
                o.insert(format!("{name}_ns"), r.quantile(q).into());
            }
            o.insert("max_ns".into(), r.max().into());
            o.insert("mean_ns".into(), r.mean().into());
            o.insert("out_of_order".into(), r.m.out_of_order.into());
            serde_json::Value::Object(o)
        })
        .collect();
    let doc = serde_json::json!({
        "messages": cfg.messages,
        "warmup_per_round": cfg.warmup,
        "rounds": cfg.rounds,
        "gap_ns": cfg.gap_ns,
        "capacity": cfg.capacity,
        "producer_core": cfg.producer_core,
        "consumer_core": cfg.consumer_core,
        "clock": "std::time::Instant (CLOCK_MONOTONIC), ns since a shared epoch",
        "rows": rows,
    });
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&doc).expect("JSON of plain values")
    );
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.producer_core == args.consumer_core {
        eprintln!("error: --producer-core and --consumer-core must differ");
        return ExitCode::from(2);
    }
    let cores: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    for c in [args.producer_core, args.consumer_core] {
        if !cores.contains(&c) {
            eprintln!("error: core {c} is not available to this process (cores: {cores:?})");
            return ExitCode::from(2);
        }
    }
    if args.messages == 0 || args.capacity == 0 {
        eprintln!("error: --messages and --capacity must be at least 1");
        return ExitCode::from(2);
    }
    if args.rounds == 0 {
        eprintln!("error: --rounds must be at least 1");
        return ExitCode::from(2);
    }
    let cfg = Config {
        messages: args.messages,
        warmup: args.warmup,
        gap_ns: args.gap_ns,
        producer_core: args.producer_core,
        consumer_core: args.consumer_core,
        capacity: args.capacity,
        rounds: args.rounds,
    };
    let rows = run_all(cfg);

    let bad: u64 = rows.iter().map(|r| r.m.out_of_order).sum();
    if args.json {
        print_json(&cfg, &rows);
    } else {
        print_table(&cfg, &rows);
    }
    if bad > 0 {
        eprintln!("error: {bad} items arrived out of order");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
