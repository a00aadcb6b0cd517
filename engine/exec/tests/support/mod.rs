//! Shared by the exec tests: one instrument `X` (id 1) and the book every scenario starts from.

#![allow(dead_code)]

use ticklane_book::Market;
use ticklane_core::{
    EventBody, InstrumentId, InstrumentInfo, MarketEvent, OrderId, Price, Qty, Side, Symbol,
    Timestamp, TradingState,
};
use ticklane_exec::VenueReport;
use ticklane_strategy::{
    ClientOrderId, Liquidity, OrderCommand, OrderRequest, OrderUpdateKind, TimeInForce,
};

/// The instrument of every scenario.
pub const I: InstrumentId = InstrumentId(1);

/// An event of `I` at `ts`.
pub fn ev(ts: u64, body: EventBody) -> MarketEvent {
    MarketEvent::new(Timestamp(ts), I, body)
}

/// An add of order `id`.
pub fn add(id: u64, side: Side, px: i64, q: u32) -> EventBody {
    EventBody::OrderAdded {
        order_id: OrderId(id),
        side,
        price: Price(px),
        qty: Qty(q),
        mpid: [0; 4],
    }
}

/// `X` trading, asks 10.01 x 300 (#1 100, #2 200), 10.02 x 500 (#3); bids 10.00 x 200 (#4),
/// 9.99 x 100 (#5); mid 10.005.
pub fn market() -> Market {
    let mut m = Market::new();
    m.apply(&ev(
        1,
        EventBody::InstrumentDirectory(InstrumentInfo::common_stock(
            Symbol::new("X").unwrap_or_default(),
        )),
    ));
    m.apply(&ev(
        1,
        EventBody::TradingStatus {
            state: TradingState::Trading,
            reason: *b"    ",
        },
    ));
    for (id, side, px, q) in [
        (1, Side::Ask, 10_0100, 100),
        (2, Side::Ask, 10_0100, 200),
        (3, Side::Ask, 10_0200, 500),
        (4, Side::Bid, 10_0000, 200),
        (5, Side::Bid, 9_9900, 100),
    ] {
        m.apply(&ev(1, add(id, side, px, q)));
    }
    m
}

/// The print a lane computes before applying the event.
pub fn trade_print(m: &Market, e: &MarketEvent) -> Option<ticklane_strategy::TradePrint> {
    ticklane_strategy::TradePrint::of(m, e)
}

/// (price, qty, leaves, liquidity) of the fills among `out`.
pub fn fills(out: &[VenueReport]) -> Vec<(i64, u32, u32, Liquidity)> {
    out.iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => Some((f.price.0, f.qty.0, f.leaves.0, f.liquidity)),
            _ => None,
        })
        .collect()
}

/// The kinds of the order updates among `out`.
pub fn updates(out: &[VenueReport]) -> Vec<OrderUpdateKind> {
    out.iter()
        .filter_map(|r| match r {
            VenueReport::Update(u) => Some(u.kind),
            _ => None,
        })
        .collect()
}

/// Client order `n` of strategy 0.
pub fn id(n: u64) -> ClientOrderId {
    ClientOrderId::new(0, n)
}

/// A limit order `n` on `I`.
pub fn submit(n: u64, side: Side, px: i64, qty: u32, tif: TimeInForce) -> OrderCommand {
    OrderCommand::Submit {
        id: id(n),
        request: OrderRequest {
            instrument: I,
            side,
            price: Price(px),
            qty: Qty(qty),
            tif,
        },
    }
}

/// A market (`market()`) and a venue driven the way a lane drives them.
pub struct Sim<V> {
    pub m: Market,
    pub v: V,
    pub out: Vec<VenueReport>,
}

impl<V: ticklane_exec::Venue> Sim<V> {
    /// Asks 10.01 x 300 (#1 100, #2 200), 10.02 x 500 (#3); bids 10.00 x 200 (#4), 9.99 x 100 (#5).
    pub fn new(v: V) -> Self {
        Self {
            m: market(),
            v,
            out: Vec::new(),
        }
    }

    /// One market event, lane order: advance, apply, on_market. Returns the reports.
    pub fn event(&mut self, ts: u64, body: EventBody) -> Vec<VenueReport> {
        let e = ev(ts, body);
        self.out.clear();
        if self.v.has_pending() {
            self.v.advance(e.ts, &self.m, &mut self.out);
        }
        let t = trade_print(&self.m, &e);
        self.m.apply(&e);
        self.v.on_market(&e, t.as_ref(), &self.m, &mut self.out);
        std::mem::take(&mut self.out)
    }

    /// One command from a strategy at `ts`. Returns the reports.
    pub fn cmd(&mut self, ts: u64, c: OrderCommand) -> Vec<VenueReport> {
        self.out.clear();
        self.v.on_command(Timestamp(ts), &c, &self.m, &mut self.out);
        std::mem::take(&mut self.out)
    }

    /// The venue's time moves to `ts`. Returns the reports.
    pub fn advance(&mut self, ts: u64) -> Vec<VenueReport> {
        self.out.clear();
        self.v.advance(Timestamp(ts), &self.m, &mut self.out);
        std::mem::take(&mut self.out)
    }
}
