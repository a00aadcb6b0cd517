//! Queue/fill models of the `PaperExchange`: the same hand-built scenario under `ExactQueue`
//! and `TradeThroughQueue` (where they differ, where they agree), and a model written here,
//! outside the crate, plugged into the exchange.

mod support;

use support::{add, ev, fills, id, market, trade_print, updates};

use ticklane_book::{Market, OrderBook};
use ticklane_core::{EventBody, MatchId, OrderId, Price, Qty, Side, Timestamp};
use ticklane_exec::{
    ConstantLatency, ExactQueue, PaperExchange, PerShareFees, QueueEvent, QueueModel, QueueOrder,
    TradeThroughQueue, Venue, VenueReport,
};
use ticklane_strategy::{Liquidity, OrderCommand, OrderUpdateKind, TimeInForce};

/// A market and an exchange driven the way a lane drives them (zero latency, no fees).
struct Sim<Q: QueueModel> {
    m: Market,
    v: PaperExchange<ConstantLatency, PerShareFees, Q>,
}

impl<Q: QueueModel> Sim<Q> {
    /// Asks 10.01 x 300 (#1 100, #2 200), 10.02 x 500 (#3); bids 10.00 x 200 (#4), 9.99 x 100 (#5).
    fn new(q: Q) -> Self {
        Self {
            m: market(),
            v: PaperExchange::with_queue_model(ConstantLatency::default(), PerShareFees::ZERO, q),
        }
    }

    /// One market event, lane order: advance, print, apply, on_market. Returns the reports.
    fn event(&mut self, ts: u64, body: EventBody) -> Vec<VenueReport> {
        let e = ev(ts, body);
        let mut out = Vec::new();
        if self.v.has_pending() {
            self.v.advance(e.ts, &self.m, &mut out);
        }
        let t = trade_print(&self.m, &e);
        self.m.apply(&e);
        self.v.on_market(&e, t.as_ref(), &self.m, &mut out);
        out
    }

    fn cmd(&mut self, ts: u64, c: OrderCommand) -> Vec<VenueReport> {
        let mut out = Vec::new();
        self.v.on_command(Timestamp(ts), &c, &self.m, &mut out);
        out
    }
}

fn exec(id: u64, q: u32) -> EventBody {
    EventBody::OrderExecuted {
        order_id: OrderId(id),
        qty: Qty(q),
        match_id: MatchId(id),
    }
}

fn hidden(side: Side, px: i64, q: u32) -> EventBody {
    EventBody::Trade {
        order_id: OrderId(0),
        side,
        price: Price(px),
        qty: Qty(q),
        match_id: MatchId(77),
    }
}

/// A Day limit order `n` on `I`.
fn submit(n: u64, side: Side, px: i64, qty: u32) -> OrderCommand {
    support::submit(n, side, px, qty, TimeInForce::Day)
}

/// The shared scenario: a 100-share bid at 10.00 joins behind #4 (200); #6 (300) joins behind
/// us; #4 executes in full; then, one step at a time, the fills of: an execution of #6 at our
/// price (behind us), a hidden print at our price, and a sell through our price (#5 at 9.99).
/// (price, qty, leaves, liquidity) of some fills.
type Fills = Vec<(i64, u32, u32, Liquidity)>;

fn scenario<Q: QueueModel>(q: Q) -> (Sim<Q>, [Fills; 3]) {
    let mut s = Sim::new(q);
    let out = s.cmd(10, submit(1, Side::Bid, 10_0000, 100));
    assert_eq!(updates(&out), vec![OrderUpdateKind::Accepted]);
    assert!(s.event(20, add(6, Side::Bid, 10_0000, 300)).is_empty());
    // The whole queue ahead executes: no model fills us on executions of orders ahead.
    assert!(s.event(30, exec(4, 150)).is_empty());
    assert!(s.event(31, exec(4, 50)).is_empty());
    let at_price = fills(&s.event(40, exec(6, 30)));
    let hidden_at_price = fills(&s.event(41, hidden(Side::Bid, 10_0000, 20)));
    let through = fills(&s.event(50, exec(5, 80)));
    (s, [at_price, hidden_at_price, through])
}

#[test]
fn exact_queue_fills_at_our_price_once_the_queue_ahead_is_consumed() {
    let mut s = Sim::new(ExactQueue);
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100));
    assert_eq!(s.v.queue_ahead(id(1)), Some(200));
    assert_eq!(s.v.order(id(1)).map(|o| o.orders_ahead), Some(1));

    let (s, [at_price, hidden_at_price, through]) = scenario(ExactQueue);
    // Behind-us execution at our price: the aggressor reached us.
    assert_eq!(at_price, vec![(10_0000, 30, 70, Liquidity::Maker)]);
    // Nothing displayed ahead: a hidden print at our price reaches us too.
    assert_eq!(hidden_at_price, vec![(10_0000, 20, 50, Liquidity::Maker)]);
    // Trade-through: the rest.
    assert_eq!(through, vec![(10_0000, 50, 0, Liquidity::Maker)]);
    assert_eq!(s.v.working_orders(), 0);
}

#[test]
fn trade_through_queue_never_fills_at_our_price_only_through_it() {
    let mut s = Sim::new(TradeThroughQueue);
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100));
    // Everything displayed at its level when it joined stays ahead of it.
    assert_eq!(s.v.queue_ahead(id(1)), Some(200));

    let (s, [at_price, hidden_at_price, through]) = scenario(TradeThroughQueue);
    // Always last in the queue: executions at our price never fill us, displayed or hidden.
    assert!(at_price.is_empty());
    assert!(hidden_at_price.is_empty());
    // A trade-through fills it as it fills the exact queue (up to the print's size).
    assert_eq!(through, vec![(10_0000, 80, 20, Liquidity::Maker)]);
    assert_eq!(s.v.order(id(1)).map(|o| o.leaves), Some(Qty(20)));
    assert_eq!(s.v.working_orders(), 1);
}

#[test]
fn both_models_fill_on_a_trade_through_at_once_and_on_a_crossing_add() {
    for exact in [true, false] {
        let (through, crossing) = if exact {
            both_through_and_cross(ExactQueue)
        } else {
            both_through_and_cross(TradeThroughQueue)
        };
        // Right after joining behind 200 shares: a trade-through ignores the queue.
        assert_eq!(
            through,
            vec![(10_0000, 40, 60, Liquidity::Maker)],
            "{exact}"
        );
        // An ask added at 9.98 would have executed against our 10.00 bid.
        assert_eq!(
            crossing,
            vec![(10_0000, 60, 0, Liquidity::Maker)],
            "{exact}"
        );
    }
}

fn both_through_and_cross<Q: QueueModel>(q: Q) -> (Fills, Fills) {
    let mut s = Sim::new(q);
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100));
    let through = fills(&s.event(20, exec(5, 40)));
    let crossing = fills(&s.event(30, add(9, Side::Ask, 9_9800, 500)));
    (through, crossing)
}

/// A model written outside the crate: a resting order fills once `n` shares have traded at
/// its price since it joined (displayed or hidden), and on any trade-through or crossing add.
/// It also counts the prints it saw (model-wide state).
#[derive(Debug, Default)]
struct AfterVolume {
    n: u64,
    prints_seen: u64,
}

#[derive(Clone, Debug, Default)]
struct Traded(u64);

impl QueueModel for AfterVolume {
    type State = Traded;

    fn join(&mut self, _order: &QueueOrder, _book: &OrderBook<'_>, state: &mut Traded) {
        state.0 = 0;
    }

    fn on_event(&mut self, order: &QueueOrder, state: &mut Traded, event: &QueueEvent) -> u32 {
        let p = match *event {
            QueueEvent::Executed { print: Some(p), .. } | QueueEvent::Hidden(p) => p,
            QueueEvent::Added {
                side, price, qty, ..
            } if order.crossed_by(side, price) => return qty.0,
            _ => return 0,
        };
        self.prints_seen += 1;
        if order.traded_through(&p) {
            return p.qty.0;
        }
        if !order.at_price(&p) {
            return 0;
        }
        let before = state.0;
        state.0 += u64::from(p.qty.0);
        // The part of this print beyond the first `n` shares.
        u32::try_from(state.0.saturating_sub(before.max(self.n))).unwrap_or(u32::MAX)
    }

    fn queue_ahead(&self, state: &Traded) -> (u64, usize) {
        (self.n.saturating_sub(state.0), 0)
    }
}

#[test]
fn a_user_defined_queue_model_plugs_into_the_paper_exchange() {
    let model = AfterVolume {
        n: 250,
        prints_seen: 0,
    };
    let mut s = Sim::new(model);
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100));
    assert_eq!(s.v.queue_ahead(id(1)), Some(250));
    s.event(20, add(6, Side::Bid, 10_0000, 300));
    // 200 traded at our price: not yet.
    assert!(s.event(30, exec(4, 150)).is_empty());
    assert!(s.event(31, exec(4, 50)).is_empty());
    assert_eq!(s.v.queue_ahead(id(1)), Some(50));
    // 60 more: the 10 beyond 250 are ours (ExactQueue would have given us all 60).
    assert_eq!(
        fills(&s.event(40, exec(6, 60))),
        vec![(10_0000, 10, 90, Liquidity::Maker)]
    );
    // An ask print does not count for a bid.
    assert!(s.event(41, exec(1, 100)).is_empty());
    // A size increase loses priority: the model's state starts over. (The strategy has heard
    // of the 10 filled: 95 open asked.)
    s.cmd(
        50,
        OrderCommand::Modify {
            id: id(1),
            price: Price(10_0000),
            qty: Qty(95),
            filled: Qty(10),
        },
    );
    assert_eq!(s.v.queue_ahead(id(1)), Some(250));
    assert!(s.event(60, hidden(Side::Bid, 10_0000, 200)).is_empty());
    assert_eq!(
        fills(&s.event(61, hidden(Side::Bid, 10_0000, 200))),
        vec![(10_0000, 95, 0, Liquidity::Maker)]
    );
    assert_eq!(s.v.working_orders(), 0);
    assert_eq!(s.v.queue_model().prints_seen, 6);
}

/// Shares of ours filled when an ask of `size` is added at 10.00, where `bids` bids of ours
/// (100 each, in order) rest behind #4's 200 displayed shares.
fn crossing_add_fills<Q: QueueModel>(q: Q, bids: u64, size: u32) -> u32 {
    let mut s = Sim::new(q);
    for n in 1..=bids {
        s.cmd(9 + n, submit(n, Side::Bid, 10_0000, 100));
    }
    fills(&s.event(20, add(9, Side::Ask, 10_0000, size)))
        .iter()
        .map(|f| f.1)
        .sum()
}

/// The module docs: `TradeThroughQueue` "is assumed to be always last in the queue" and
/// "gives a *lower bound on fill rate*" next to `ExactQueue`. Since a crossing add reaches
/// an `ExactQueue` order only past the displayed shares ahead of it, the bound must do at
/// least as much: an ask of 150 locking our 10.00 bid (100, behind #4's 200) fills the exact
/// model nothing, and must not fill the pessimistic model more.
#[test]
fn trade_through_queue_never_fills_more_than_exact_queue_on_a_crossing_add() {
    let exact = crossing_add_fills(ExactQueue, 1, 150);
    let bound = crossing_add_fills(TradeThroughQueue, 1, 150);
    assert_eq!(
        exact, 0,
        "ExactQueue: 200 displayed shares ahead take the 150"
    );
    assert!(
        bound <= exact,
        "TradeThroughQueue (the lower bound on fill rate) filled {bound} shares, ExactQueue {exact}"
    );
}

/// Two bids of ours at 10.00 (100 each) rest behind #4's 200 displayed shares;
/// an ask of 350 is added at 10.00. "The displayed shares ahead of us there take it first"
/// (paper.rs): #4's 200 take 200 of the 350, our first bid the next 100, and only 50 are left
/// for our second bid. The exchange caps each order at `size - displayed ahead` (150) but
/// shares the add's *whole* size among them, so the second bid also gets 100: 200 shares
/// filled out of the 150 that could reach us. Under both models (TradeThroughQueue too: the
/// second bid is "always last", behind our first bid as well).
#[test]
fn a_crossing_add_never_fills_our_orders_past_its_size_minus_the_displayed_shares_ahead() {
    let exact = crossing_add_fills(ExactQueue, 2, 350);
    let bound = crossing_add_fills(TradeThroughQueue, 2, 350);
    assert_eq!(
        (exact, bound),
        (150, 150),
        "(ExactQueue, TradeThroughQueue) shares filled by an add of 350 behind 200 displayed"
    );
}

/// `TradeThroughQueue` keeps the displayed quantity ahead of an order when it joined (its
/// `State`, "all of it ahead, for good") and reports it (`WorkingOrder::queue_ahead`: "as the
/// model tracks them"); it reported (0, 0), the head of the queue, for an order it holds behind
/// 200 shares.
#[test]
fn trade_through_queue_reports_the_queue_ahead_it_keeps() {
    let mut s = Sim::new(TradeThroughQueue);
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100));
    assert_eq!(
        s.v.queue_ahead(id(1)),
        Some(200),
        "TradeThroughQueue keeps #4's 200 shares ahead; queue_ahead says otherwise"
    );
}

/// A model that lets any print at or through an order's price fill it entirely
/// (`u32::MAX`): the exchange must still share the print's size among our orders ("the
/// exchange fills `min(that, what is left of the event's size, open quantity)`").
#[derive(Debug, Default)]
struct Unbounded;

impl QueueModel for Unbounded {
    type State = ();

    fn join(&mut self, _order: &QueueOrder, _book: &OrderBook<'_>, _state: &mut ()) {}

    fn on_event(&mut self, order: &QueueOrder, _state: &mut (), event: &QueueEvent) -> u32 {
        match *event {
            QueueEvent::Executed { print: Some(p), .. }
                if order.at_price(&p) || order.traded_through(&p) =>
            {
                u32::MAX
            }
            _ => 0,
        }
    }
}

/// Two bids of 100 at 10.00 and a print of 100 there: 100 shares fill in all, the first
/// order's, however much the model allows each. (The shipped models never allow more than
/// the print, so no test saw the exchange's own cap.)
#[test]
fn a_print_fills_our_orders_no_more_than_its_size_whatever_the_model_allows() {
    let mut s = Sim::new(Unbounded);
    s.cmd(10, submit(1, Side::Bid, 10_0000, 100));
    s.cmd(10, submit(2, Side::Bid, 10_0000, 100));
    assert_eq!(
        fills(&s.event(20, exec(4, 100))),
        vec![(10_0000, 100, 0, Liquidity::Maker)]
    );
    assert_eq!(s.v.working_orders(), 1);
}
