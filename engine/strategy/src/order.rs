//! Orders as a strategy sees them: requests it sends, the updates and fills it receives.

use core::fmt;

use ticklane_core::{InstrumentId, Price, Qty, Side, Timestamp};

/// Identifier of one of a strategy's orders, unique within a run and deterministic: the
/// strategy's index in the configuration in the top 16 bits, a per-strategy counter below.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[repr(transparent)]
pub struct ClientOrderId(pub u64);

impl ClientOrderId {
    /// Builds the id of the `n`-th order of strategy `strategy`.
    #[inline]
    pub const fn new(strategy: u16, n: u64) -> Self {
        Self(((strategy as u64) << 48) | (n & ((1 << 48) - 1)))
    }

    /// The strategy index the id belongs to.
    #[inline]
    pub const fn strategy(self) -> u16 {
        (self.0 >> 48) as u16
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.strategy(), self.0 & ((1 << 48) - 1))
    }
}

/// How long an order stays working.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum TimeInForce {
    /// Rests until filled or cancelled (or the session ends).
    #[default]
    Day,
    /// Immediate or cancel: what does not fill at once is cancelled.
    Ioc,
    /// Fill or kill: fills completely at once, or expires without any fill.
    Fok,
    /// Post only: rests without taking liquidity; refused ([`RejectReason::WouldCross`]) if it
    /// would cross the book when it reaches the venue.
    PostOnly,
}

/// A pre-trade risk rule (see `ticklane_exec::risk`). Each rule has its own [`RejectReason`]
/// variant (`RejectReason` stays a field-less enum: the run digest records it as a number),
/// converted with `RejectReason::from(rule)` and back with [`RiskRule::of`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum RiskRule {
    /// The order's quantity is above the maximum order quantity.
    MaxOrderQty,
    /// The order's notional (price × quantity) is above the maximum order notional.
    MaxOrderNotional,
    /// The position could exceed the per-instrument maximum if the order filled.
    MaxPosition,
    /// Gross exposure across instruments could exceed its maximum if the order filled.
    MaxGrossExposure,
    /// The price is outside the band around the best bid/offer (or there is no reference).
    PriceBand,
    /// Too many orders in the last second of event time.
    OrderRate,
    /// The daily loss limit was reached: the kill switch is tripped.
    DailyLoss,
    /// The kill switch is engaged (manually or by the daily loss limit).
    KillSwitch,
    /// The books are stale: the feed lost messages for good (an unrecoverable gap), so no
    /// new order or modify is sent on them. Cancels still go through.
    StaleBook,
}

impl RiskRule {
    /// Every rule, in declaration order.
    pub const ALL: [Self; 9] = [
        Self::MaxOrderQty,
        Self::MaxOrderNotional,
        Self::MaxPosition,
        Self::MaxGrossExposure,
        Self::PriceBand,
        Self::OrderRate,
        Self::DailyLoss,
        Self::KillSwitch,
        Self::StaleBook,
    ];

    /// The rule a reject reason names, if it is a risk reject.
    pub const fn of(reason: RejectReason) -> Option<Self> {
        Some(match reason {
            RejectReason::RiskMaxOrderQty => Self::MaxOrderQty,
            RejectReason::RiskMaxOrderNotional => Self::MaxOrderNotional,
            RejectReason::RiskMaxPosition => Self::MaxPosition,
            RejectReason::RiskMaxGrossExposure => Self::MaxGrossExposure,
            RejectReason::RiskPriceBand => Self::PriceBand,
            RejectReason::RiskOrderRate => Self::OrderRate,
            RejectReason::RiskDailyLoss => Self::DailyLoss,
            RejectReason::RiskKillSwitch => Self::KillSwitch,
            RejectReason::RiskStaleBook => Self::StaleBook,
            _ => return None,
        })
    }

    /// Short stable name (config keys and reports).
    pub const fn name(self) -> &'static str {
        match self {
            Self::MaxOrderQty => "max_order_qty",
            Self::MaxOrderNotional => "max_order_notional",
            Self::MaxPosition => "max_position",
            Self::MaxGrossExposure => "max_gross_exposure",
            Self::PriceBand => "price_band",
            Self::OrderRate => "max_orders_per_sec",
            Self::DailyLoss => "daily_loss_limit",
            Self::KillSwitch => "kill_switch",
            Self::StaleBook => "stale_book",
        }
    }
}

impl fmt::Display for RiskRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<RiskRule> for RejectReason {
    fn from(rule: RiskRule) -> Self {
        match rule {
            RiskRule::MaxOrderQty => Self::RiskMaxOrderQty,
            RiskRule::MaxOrderNotional => Self::RiskMaxOrderNotional,
            RiskRule::MaxPosition => Self::RiskMaxPosition,
            RiskRule::MaxGrossExposure => Self::RiskMaxGrossExposure,
            RiskRule::PriceBand => Self::RiskPriceBand,
            RiskRule::OrderRate => Self::RiskOrderRate,
            RiskRule::DailyLoss => Self::RiskDailyLoss,
            RiskRule::KillSwitch => Self::RiskKillSwitch,
            RiskRule::StaleBook => Self::RiskStaleBook,
        }
    }
}

/// A new limit order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OrderRequest {
    /// Instrument.
    pub instrument: InstrumentId,
    /// Buy or sell.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Quantity (shares).
    pub qty: Qty,
    /// Time in force.
    pub tif: TimeInForce,
}

/// What a strategy asked for, in the order it asked; the lane hands these to the execution
/// venue (risk checks, then the paper exchange).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum OrderCommand {
    /// A new order.
    Submit {
        /// Id assigned by the context.
        id: ClientOrderId,
        /// The order.
        request: OrderRequest,
    },
    /// Cancel the remainder of an order.
    Cancel {
        /// Which order.
        id: ClientOrderId,
    },
    /// Change price and/or quantity (loses queue priority unless only the quantity shrinks).
    Modify {
        /// Which order.
        id: ClientOrderId,
        /// New limit price.
        price: Price,
        /// New open quantity, as of `filled`.
        qty: Qty,
        /// Shares of the order the strategy had heard of as filled when it sent this (set by
        /// [`Context::modify`](crate::Context::modify)). A venue takes off `qty` what traded
        /// beyond it (fills on their way back, executions while the modify travels): the
        /// order's new total is `qty + filled`, as FIX's `OrderQty` against `CumQty`, and
        /// shares that traded are never re-opened.
        filled: Qty,
    },
}

impl OrderCommand {
    /// The order the command is about.
    pub const fn id(&self) -> ClientOrderId {
        match *self {
            Self::Submit { id, .. } | Self::Cancel { id } | Self::Modify { id, .. } => id,
        }
    }
}

/// Why an order or a request was refused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RejectReason {
    /// Quantity zero or price not positive.
    InvalidOrder,
    /// The instrument is unknown to the lane or not trading.
    InstrumentNotTrading,
    /// Cancel or modify of an order that is not open.
    UnknownOrder,
    /// A pre-trade risk limit would be exceeded.
    RiskLimit,
    /// The kill switch is engaged or the lane is halted.
    TradingHalted,
    /// A post-only order (or a modify of one) would have crossed the book.
    WouldCross,
    /// Risk: [`RiskRule::MaxOrderQty`].
    RiskMaxOrderQty,
    /// Risk: [`RiskRule::MaxOrderNotional`].
    RiskMaxOrderNotional,
    /// Risk: [`RiskRule::MaxPosition`].
    RiskMaxPosition,
    /// Risk: [`RiskRule::MaxGrossExposure`].
    RiskMaxGrossExposure,
    /// Risk: [`RiskRule::PriceBand`].
    RiskPriceBand,
    /// Risk: [`RiskRule::OrderRate`].
    RiskOrderRate,
    /// Risk: [`RiskRule::DailyLoss`].
    RiskDailyLoss,
    /// Risk: [`RiskRule::KillSwitch`].
    RiskKillSwitch,
    /// Risk: [`RiskRule::StaleBook`].
    RiskStaleBook,
    /// A submit for an instrument outside the strategy's subscriptions: its lane may not keep
    /// that book (or, with several lanes, hold the instrument at all), so how the order would
    /// fare would depend on the lane layout.
    NotSubscribed,
    /// The venue's books are stale (the feed lost messages for good) when the order or a
    /// modify that would take liquidity arrived: it would have traded against a book known to
    /// be wrong. (The risk gate refuses what is *sent* after the loss: [`Self::RiskStaleBook`];
    /// this is what was already on its way.)
    BookStale,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidOrder => "invalid order",
            Self::InstrumentNotTrading => "instrument not trading",
            Self::UnknownOrder => "unknown order",
            Self::RiskLimit => "risk limit",
            Self::TradingHalted => "trading halted",
            Self::WouldCross => "post-only order would cross",
            Self::RiskMaxOrderQty => "risk: max_order_qty",
            Self::RiskMaxOrderNotional => "risk: max_order_notional",
            Self::RiskMaxPosition => "risk: max_position",
            Self::RiskMaxGrossExposure => "risk: max_gross_exposure",
            Self::RiskPriceBand => "risk: price_band",
            Self::RiskOrderRate => "risk: max_orders_per_sec",
            Self::RiskDailyLoss => "risk: daily_loss_limit",
            Self::RiskKillSwitch => "risk: kill_switch",
            Self::RiskStaleBook => "risk: stale_book",
            Self::NotSubscribed => "instrument not subscribed",
            Self::BookStale => "book stale (feed lost messages)",
        })
    }
}

/// A change of an order's state.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum OrderUpdateKind {
    /// The venue accepted the order; it is working.
    Accepted,
    /// The order was refused: it never worked.
    Rejected(RejectReason),
    /// A cancel or modify of the order was refused: the order itself is as it was (still
    /// working, unless an update of its own says otherwise).
    AmendRejected(RejectReason),
    /// A modify took effect.
    Modified {
        /// New limit price.
        price: Price,
        /// New open quantity.
        qty: Qty,
    },
    /// The order's remainder was cancelled (by request, kill switch or shutdown).
    Cancelled,
    /// An IOC order's unfilled remainder expired.
    Expired,
    /// The order is completely filled.
    Filled,
}

/// An order update delivered to the strategy that owns the order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OrderUpdate {
    /// Event time of the update.
    pub ts: Timestamp,
    /// Which order.
    pub id: ClientOrderId,
    /// Its instrument.
    pub instrument: InstrumentId,
    /// What happened.
    pub kind: OrderUpdateKind,
}

/// Whether a fill added or removed liquidity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Liquidity {
    /// The order rested and was hit.
    Maker,
    /// The order crossed the spread.
    Taker,
}

/// A (partial) execution of one of the strategy's orders.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Fill {
    /// Event time of the fill.
    pub ts: Timestamp,
    /// Which order.
    pub id: ClientOrderId,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Side of the order.
    pub side: Side,
    /// Execution price.
    pub price: Price,
    /// Executed quantity.
    pub qty: Qty,
    /// Quantity still open after this fill.
    pub leaves: Qty,
    /// Maker or taker.
    pub liquidity: Liquidity,
    /// Fee of this fill in price units (1/10000 of the currency unit), positive when paid,
    /// negative for a rebate; 0 where the venue charges none.
    pub fee: i64,
}

/// A trade in the market (not necessarily ours).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TradePrint {
    /// Event time.
    pub ts: Timestamp,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Execution price.
    pub price: Price,
    /// Executed quantity. A cross (`Q`) carries its shares in 64 bits; one of more than
    /// `u32::MAX` shares (none has printed: NASDAQ's largest crosses are hundreds of millions
    /// of shares) is given here as `u32::MAX`, and the event itself
    /// (`EventBody::CrossTrade::qty`) keeps the exact size.
    pub qty: Qty,
    /// Side of the resting order that was hit (`Bid`: a seller hit a resting bid), where known.
    pub resting_side: Option<Side>,
}

impl TradePrint {
    /// The print of `ev`, read from `market` **before** the event is applied (an execution's
    /// price and side are the resting order's, which a full execution removes); `None` for
    /// events that print nothing (non-printable executions included).
    ///
    /// A hidden trade's (`P`) resting side is inferred from the book
    /// ([`ticklane_book::OrderBook::hidden_print_side`]), never taken from the message: NASDAQ
    /// sets its indicator to `B` on every print since 2014. A cross prints no resting side.
    pub fn of(market: &ticklane_book::Market, ev: &ticklane_core::MarketEvent) -> Option<Self> {
        use ticklane_core::EventBody;
        // An execution prints what the book executes: at most the order's remaining quantity
        // (an oversize execution is clamped), in the instrument the order rests in (the
        // event's may disagree: `InstrumentMismatch`).
        let executed =
            |order_id, qty: Qty| market.order(order_id).map(|o| (o, Qty(qty.0.min(o.qty.0))));
        let (instrument, price, qty, resting_side) = match ev.body {
            EventBody::OrderExecuted { order_id, qty, .. } => {
                let (o, qty) = executed(order_id, qty)?;
                (o.instrument, o.price, qty, Some(o.side))
            }
            EventBody::OrderExecutedWithPrice {
                order_id,
                qty,
                price,
                printable: true,
                ..
            } => match executed(order_id, qty) {
                Some((o, qty)) => (o.instrument, price, qty, Some(o.side)),
                None => (ev.instrument, price, qty, None),
            },
            EventBody::Trade { price, qty, .. } => (
                ev.instrument,
                price,
                qty,
                market
                    .book(ev.instrument)
                    .and_then(|b| b.hidden_print_side(price)),
            ),
            EventBody::CrossTrade { price, qty, .. } => (
                ev.instrument,
                price,
                Qty(u32::try_from(qty).unwrap_or(u32::MAX)),
                None,
            ),
            _ => return None,
        };
        Some(TradePrint {
            ts: ev.ts,
            instrument,
            price,
            qty,
            resting_side,
        })
    }
}

/// A working order as the context tracks it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct OrderState {
    /// Id.
    pub id: ClientOrderId,
    /// The request as last modified.
    pub request: OrderRequest,
    /// Quantity filled so far.
    pub filled: Qty,
    /// Quantity still open as the venue last said (the request's quantity at submit, a
    /// modify's new open quantity, less the fills since). Kept on its own: the request's
    /// quantity is the order's total, filled included, which a modify to a large open
    /// quantity after fills can take past `u32::MAX`.
    pub open: Qty,
    /// Whether the venue has accepted it (false while the submit is in flight).
    pub accepted: bool,
}

impl OrderState {
    /// Quantity still open.
    pub fn leaves(&self) -> Qty {
        self.open
    }
}
