//! `decode`: messages/s decoding a generated multi-million-message session from memory, side by
//! side with peers on the same bytes in the same run:
//!
//! - `ticklane/decode`: framing + zero-copy view of every message;
//! - `ticklane/decode+normalize`: the above + normalization to a 64-byte `MarketEvent`;
//! - `itch5/decode`: the `itch5` crate (zero-copy, zerocopy-based) dispatching every message to
//!   a handler that reads the timestamp;
//! - `itchy/decode`: the `itchy` crate (nom-based) producing its owned `Message` for each.
//!
//! Run: `cargo bench -p ticklane-benches --bench decode` (see BENCHMARKS.md).
//!
//! # Interleaved mode
//!
//! Criterion measures one benchmark after the other, for seconds each; on a shared VM the
//! machine's speed drifts between them by more than the ratios being claimed. With
//! `TICKLANE_DECODE_ROUNDS=R` the bench runs no criterion benchmark and instead, R times, runs
//! every decoder once over the session, back to back in an order rotated each round, and
//! prints per decoder the quartiles of its rate (and the median in bytes/s) and the median
//! over rounds of the ratio ticklane (batched) / this decoder, each ratio between two runs a
//! fraction of a second apart:
//!
//! ```text
//! TICKLANE_DECODE_ROUNDS=31 cargo bench -p ticklane-benches --bench decode
//! ```

use std::hint::black_box;
use std::ops::ControlFlow;
use std::time::Instant;

use criterion::{criterion_group, Criterion, Throughput};
use ticklane_benches::rounds::{env_u64, median, median_ratio, quantile, sorted};
use ticklane_benches::{bench_messages, session};
use ticklane_feeds::events::{decode_normalize, decode_normalize_serial, decode_only};

/// An `itch5` handler that touches every message (its timestamp), as our decode-only pass does.
struct Touch(u64);

macro_rules! touch {
    ($($name:ident: $ty:ty),* $(,)?) => {
        impl itch5::MessageHandler for Touch {
            $(fn $name(&mut self, m: &$ty) -> ControlFlow<()> {
                self.0 = self.0.wrapping_add(black_box(m).timestamp().to_u64());
                ControlFlow::Continue(())
            })*
        }
    };
}

use itch5::messages as im;
touch!(
    on_system_event: im::SystemEvent,
    on_stock_directory: im::StockDirectory,
    on_stock_trading_action: im::StockTradingAction,
    on_reg_sho_restriction: im::RegSHORestriction,
    on_mwcb_decline_level: im::MWCBDeclineLevel,
    on_luld_auction_collar: im::LULDAuctionCollar,
    on_add_order_no_mpid_attribution: im::AddOrderNoMPIDAttribution,
    on_add_order_with_mpid_attribution: im::AddOrderWithMPIDAttribution,
    on_order_executed: im::OrderExecuted,
    on_order_executed_with_price: im::OrderExecutedWithPrice,
    on_order_cancel: im::OrderCancel,
    on_order_delete: im::OrderDelete,
    on_order_replace: im::OrderReplace,
    on_trade: im::Trade,
    on_cross_trade: im::CrossTrade,
    on_broken_trade: im::BrokenTrade,
    on_net_order_imbalance_indicator: im::NetOrderImbalanceIndicator,
);

/// One pass of `itch5` over the session (every message to the `Touch` handler).
fn itch5_pass(buf: &[u8]) -> u64 {
    let mut h = Touch(0);
    let r = itch5::Parser::new(black_box(buf)).parse_stream(&mut h);
    assert!(r.is_ok());
    h.0
}

/// One pass of `itchy` over the session (its owned `Message` for each).
fn itchy_pass(buf: &[u8]) -> u64 {
    let mut count = 0u64;
    for m in itchy::MessageStream::from_reader(black_box(buf)) {
        let m = m.expect("itchy parses the generated session");
        count = count.wrapping_add(black_box(&m).timestamp);
    }
    count
}

/// Every contender: its name and one pass over the session, returning the messages it
/// decoded when it counts them (checked against the session's size) or a checksum.
type Pass = fn(&[u8]) -> (Option<u64>, u64);
const DECODERS: [(&str, Pass); 5] = [
    ("ticklane/decode+normalize", |b| {
        let s = decode_normalize(black_box(b));
        (Some(s.messages), s.events)
    }),
    ("ticklane/decode+normalize-serial", |b| {
        let s = decode_normalize_serial(black_box(b));
        (Some(s.messages), s.events)
    }),
    ("ticklane/decode", |b| {
        let s = decode_only(black_box(b));
        (Some(s.messages), s.checksum)
    }),
    ("itch5/decode", |b| (None, itch5_pass(b))),
    ("itchy/decode", |b| (None, itchy_pass(b))),
];

fn decode(c: &mut Criterion) {
    let n = bench_messages();
    let buf = session(n);
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    for (name, pass) in DECODERS {
        g.bench_function(name, |b| {
            b.iter(|| {
                let (messages, check) = pass(&buf);
                assert!(messages.is_none_or(|m| m == n));
                check
            })
        });
    }
    g.finish();
}

/// See "Interleaved mode" in the module docs.
#[allow(clippy::disallowed_methods)] // A benchmark: wall-clock timing is its purpose.
fn interleaved(rounds: u64) {
    let n = bench_messages();
    let buf = session(n);
    // rate[decoder] = M messages/s of every round.
    let mut rate = vec![Vec::new(); DECODERS.len()];
    for round in 0..rounds as usize {
        for k in 0..DECODERS.len() {
            let di = (k + round) % DECODERS.len();
            let t = Instant::now();
            let (messages, check) = DECODERS[di].1(&buf);
            let secs = t.elapsed().as_secs_f64();
            black_box(check);
            assert!(messages.is_none_or(|m| m == n));
            rate[di].push(n as f64 / secs / 1e6);
        }
    }
    // Bytes per message, to state the median rate in bytes/s too.
    let per_message = buf.len() as f64 / n as f64;
    println!(
        "decode interleaved: {rounds} rounds x {n} messages ({} bytes); M messages/s",
        buf.len()
    );
    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>12}   {:>22}",
        "decoder", "p25", "median", "p75", "median GB/s", "decode+normalize / this"
    );
    for (di, (name, _)) in DECODERS.iter().enumerate() {
        let r = sorted(rate[di].clone());
        let ratio = if di == 0 {
            String::from("-")
        } else {
            format!("{:.2}", median_ratio(&rate[0], &rate[di]))
        };
        println!(
            "{:<34} {:>8.1} {:>8.1} {:>8.1} {:>12.2}   {:>22}",
            name,
            quantile(&r, 0.25),
            median(&r),
            quantile(&r, 0.75),
            median(&r) * per_message / 1e3,
            ratio
        );
    }
}

criterion_group!(benches, decode);

fn main() {
    if let Some(rounds) = env_u64("TICKLANE_DECODE_ROUNDS").filter(|&r| r > 0) {
        interleaved(rounds);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
