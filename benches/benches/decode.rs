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

use std::hint::black_box;
use std::ops::ControlFlow;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
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

fn decode(c: &mut Criterion) {
    let n = bench_messages();
    let buf = session(n);
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);

    g.bench_function("ticklane/decode", |b| {
        b.iter(|| {
            let s = decode_only(black_box(&buf));
            assert_eq!(s.messages, n);
            s.checksum
        })
    });
    g.bench_function("ticklane/decode+normalize", |b| {
        b.iter(|| {
            let s = decode_normalize(black_box(&buf));
            assert_eq!(s.messages, n);
            s.events
        })
    });
    g.bench_function("ticklane/decode+normalize-serial", |b| {
        b.iter(|| {
            let s = decode_normalize_serial(black_box(&buf));
            assert_eq!(s.messages, n);
            s.events
        })
    });
    g.bench_function("itch5/decode", |b| {
        b.iter(|| {
            let mut h = Touch(0);
            let r = itch5::Parser::new(black_box(&buf)).parse_stream(&mut h);
            assert!(r.is_ok());
            h.0
        })
    });
    g.bench_function("itchy/decode", |b| {
        b.iter(|| {
            let mut count = 0u64;
            for m in itchy::MessageStream::from_reader(black_box(&buf[..])) {
                let m = m.expect("itchy parses the generated session");
                count = count.wrapping_add(black_box(&m).timestamp);
            }
            count
        })
    });
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
