//! The normalized market event: what every feed decodes into and every book and strategy reads.
//!
//! # Layout
//!
//! [`MarketEvent`] is `Copy`, has no heap data and is exactly 64 bytes (one cache line on x86-64),
//! pinned by the `layout` test below:
//!
//! | bytes  | field                 | notes                                              |
//! |--------|-----------------------|----------------------------------------------------|
//! | 0..48  | `body: EventBody`     | 1-byte tag, small fields packed after it, then     |
//! |        |                       | the 8-byte fields (largest variant: `Imbalance`)   |
//! | 48..56 | `ts: Timestamp`       | event time, ns                                     |
//! | 56..60 | `instrument`          | `InstrumentId` (0 = market-wide)                   |
//! | 60..64 | padding               |                                                    |
//!
//! Rust lays the fields out (the struct is not `repr(C)`), so the offsets above are what
//! today's compiler chooses, not a promise: the `layout` test checks them, so that a compiler
//! that lays the struct out otherwise fails it and this table gets updated. Only the size and
//! the alignment matter to the rings; events are never serialized by memory image (the capture
//! format stores raw packets).
//!
//! # Coverage
//!
//! Order-by-order events (add, execute, execute at a price, partial cancel, delete, replace),
//! trades that do not touch the displayed book (non-displayed, cross, broken), reference data
//! (instrument directory), and state (trading status and halts, short-sale restriction,
//! market-wide circuit breakers, LULD collars, system events, auction imbalance).

use crate::price::{Price, WidePrice};
use crate::types::{InstrumentId, MatchId, OrderId, Qty, Side, Symbol, Timestamp};

/// One normalized market event for one instrument (or the whole market).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MarketEvent {
    /// Event time (ns).
    pub ts: Timestamp,
    /// Instrument, or [`InstrumentId::NONE`] for market-wide events.
    pub instrument: InstrumentId,
    /// What happened.
    pub body: EventBody,
}

impl MarketEvent {
    /// Builds an event.
    #[inline(always)]
    pub const fn new(ts: Timestamp, instrument: InstrumentId, body: EventBody) -> Self {
        Self {
            ts,
            instrument,
            body,
        }
    }

    /// Short stable name of the event kind (for counters and logs).
    pub const fn kind_name(&self) -> &'static str {
        self.body.kind_name()
    }
}

/// The payload of a [`MarketEvent`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EventBody {
    /// A new displayed order rests in the book.
    OrderAdded {
        /// Order reference.
        order_id: OrderId,
        /// Resting side.
        side: Side,
        /// Limit price.
        price: Price,
        /// Displayed quantity.
        qty: Qty,
        /// Market participant attribution (ITCH MPID), all zero when unattributed.
        mpid: [u8; 4],
    },
    /// Part or all of a resting order executed at its own limit price.
    OrderExecuted {
        /// Order reference.
        order_id: OrderId,
        /// Executed quantity.
        qty: Qty,
        /// Match number of the trade.
        match_id: MatchId,
    },
    /// Part or all of a resting order executed at a price other than its limit
    /// (the order's resting price does not change).
    OrderExecutedWithPrice {
        /// Order reference.
        order_id: OrderId,
        /// Executed quantity.
        qty: Qty,
        /// Match number of the trade.
        match_id: MatchId,
        /// Execution price.
        price: Price,
        /// Whether the execution should print to time-and-sales and volume.
        printable: bool,
    },
    /// Part of a resting order's quantity was cancelled.
    OrderCancelled {
        /// Order reference.
        order_id: OrderId,
        /// Quantity removed.
        qty: Qty,
    },
    /// The whole remaining quantity of an order was cancelled.
    OrderDeleted {
        /// Order reference.
        order_id: OrderId,
    },
    /// An order was replaced by a new one (new reference, loses time priority, same side).
    OrderReplaced {
        /// Reference of the order being replaced.
        old_id: OrderId,
        /// Reference of the new order.
        new_id: OrderId,
        /// New limit price.
        price: Price,
        /// New displayed quantity.
        qty: Qty,
    },
    /// Execution against a non-displayed order; does not change the displayed book.
    Trade {
        /// Reference of the non-displayed order (often 0).
        order_id: OrderId,
        /// Side of the non-displayed resting order.
        side: Side,
        /// Execution price.
        price: Price,
        /// Executed quantity.
        qty: Qty,
        /// Match number.
        match_id: MatchId,
    },
    /// Bulk print of an auction (cross); does not change the displayed book.
    CrossTrade {
        /// Cross price.
        price: Price,
        /// Shares matched in the cross.
        qty: u64,
        /// Match number.
        match_id: MatchId,
        /// Which auction.
        kind: AuctionKind,
    },
    /// A previously reported execution was broken (cancelled) by the venue.
    BrokenTrade {
        /// Match number of the broken trade.
        match_id: MatchId,
    },
    /// Reference data for an instrument (arrives before its first order).
    InstrumentDirectory(InstrumentInfo),
    /// Trading state of the instrument changed.
    TradingStatus {
        /// New state.
        state: TradingState,
        /// Venue reason code (ITCH: 4-char reason; operational halts: market code), space padded.
        reason: [u8; 4],
    },
    /// Short-sale price test restriction (Reg SHO rule 201) changed.
    ShortSaleRestriction {
        /// Whether the restriction is in effect.
        active: bool,
        /// Venue code for why (ITCH: '0', '1' or '2').
        code: u8,
    },
    /// Market-wide circuit breaker decline levels for the day.
    CircuitBreakerLevels {
        /// Level 1 price.
        level1: WidePrice,
        /// Level 2 price.
        level2: WidePrice,
        /// Level 3 price.
        level3: WidePrice,
    },
    /// A market-wide circuit breaker level was breached (1, 2 or 3).
    CircuitBreakerBreached {
        /// Breached level.
        level: u8,
    },
    /// Limit-up/limit-down auction collar for a paused instrument.
    AuctionCollar {
        /// Reference price.
        reference: Price,
        /// Upper collar.
        upper: Price,
        /// Lower collar.
        lower: Price,
        /// Number of the collar extension (0 for the first).
        extension: u32,
    },
    /// Market-wide system event.
    SystemEvent {
        /// Which event.
        code: SystemEventCode,
    },
    /// The feed lost messages for good: messages `first_sequence .. first_sequence + count` of
    /// the feed's sequence space were neither received nor recovered (an unrecoverable gap).
    /// Market-wide (instrument 0): nobody knows which books the lost messages touched, so every
    /// book is stale from here on. Emitted by the feed handler at the point in the stream where
    /// the messages are missing, never by an exchange.
    FeedGap {
        /// Sequence number of the first lost message.
        first_sequence: u64,
        /// Number of lost messages.
        count: u64,
    },
    /// Auction imbalance indication (ITCH NOII).
    Imbalance {
        /// Shares paired at the reference price.
        paired: u64,
        /// Shares not paired.
        imbalance: u64,
        /// Direction of the imbalance.
        direction: ImbalanceDirection,
        /// Hypothetical clearing price with auction interest only.
        far: Price,
        /// Hypothetical clearing price with auction and continuous-book interest.
        near: Price,
        /// Reference price.
        reference: Price,
        /// Which auction.
        kind: AuctionKind,
        /// Venue price-variation indicator code.
        variation: u8,
    },
}

impl EventBody {
    /// Short stable name of the event kind.
    pub const fn kind_name(&self) -> &'static str {
        match self {
            EventBody::OrderAdded { .. } => "order_added",
            EventBody::OrderExecuted { .. } => "order_executed",
            EventBody::OrderExecutedWithPrice { .. } => "order_executed_with_price",
            EventBody::OrderCancelled { .. } => "order_cancelled",
            EventBody::OrderDeleted { .. } => "order_deleted",
            EventBody::OrderReplaced { .. } => "order_replaced",
            EventBody::Trade { .. } => "trade",
            EventBody::CrossTrade { .. } => "cross_trade",
            EventBody::BrokenTrade { .. } => "broken_trade",
            EventBody::InstrumentDirectory(_) => "instrument_directory",
            EventBody::TradingStatus { .. } => "trading_status",
            EventBody::ShortSaleRestriction { .. } => "short_sale_restriction",
            EventBody::CircuitBreakerLevels { .. } => "circuit_breaker_levels",
            EventBody::CircuitBreakerBreached { .. } => "circuit_breaker_breached",
            EventBody::AuctionCollar { .. } => "auction_collar",
            EventBody::SystemEvent { .. } => "system_event",
            EventBody::Imbalance { .. } => "imbalance",
            EventBody::FeedGap { .. } => "feed_gap",
        }
    }
}

/// Reference data for one instrument (ITCH stock directory, normalized).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct InstrumentInfo {
    /// Ticker.
    pub symbol: Symbol,
    /// Shares per round lot.
    pub round_lot: u32,
    /// ETP leverage factor (0 if not an ETP).
    pub etp_leverage: u32,
    /// Listing market category code (ITCH: Q, G, S, N, A, P, Z, V, space).
    pub market_category: u8,
    /// Financial status indicator code.
    pub financial_status: u8,
    /// Issue classification code.
    pub issue_classification: u8,
    /// Issue sub-type code (2 chars).
    pub issue_subtype: [u8; 2],
    /// Whether only round lots are accepted.
    pub round_lots_only: bool,
    /// `true` for a production instrument, `false` for a test symbol.
    pub production: bool,
    /// Short-sale threshold indicator code.
    pub short_sale_threshold: u8,
    /// IPO flag code.
    pub ipo_flag: u8,
    /// LULD reference price tier code.
    pub luld_tier: u8,
    /// ETP flag code.
    pub etp_flag: u8,
    /// Whether the ETP is inverse.
    pub inverse: bool,
}

impl InstrumentInfo {
    /// A plain production common stock named `symbol`: round lot 100, Nasdaq Global Select,
    /// normal financial status, no ETP attributes. For tests, synthetic sessions and sources
    /// without reference data (LOBSTER).
    pub const fn common_stock(symbol: Symbol) -> Self {
        Self {
            symbol,
            round_lot: 100,
            etp_leverage: 0,
            market_category: b'Q',
            financial_status: b'N',
            issue_classification: b'C',
            issue_subtype: *b"Z ",
            round_lots_only: false,
            production: true,
            short_sale_threshold: b'N',
            ipo_flag: b' ',
            luld_tier: b'1',
            etp_flag: b'N',
            inverse: false,
        }
    }
}

/// Trading state of an instrument.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum TradingState {
    /// Halted across all U.S. equity markets.
    Halted,
    /// Paused (e.g. LULD) across all U.S. equity markets.
    Paused,
    /// Quotation-only period (halt or pause ending).
    QuotationOnly,
    /// Trading on the venue.
    Trading,
    /// Operational halt on one venue only (others may trade).
    OperationalHalt,
    /// Operational halt lifted on that venue.
    OperationalResume,
}

impl TradingState {
    /// Whether the venue matches orders in this state: `Trading`, or `OperationalResume`
    /// (its operational halt is over).
    #[inline]
    pub fn is_trading(self) -> bool {
        matches!(self, Self::Trading | Self::OperationalResume)
    }
}

/// Market-wide system events, in the order they occur in a session.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum SystemEventCode {
    /// First message of the day.
    StartOfMessages,
    /// System open: orders may be entered, no matching.
    StartOfSystemHours,
    /// Regular market session opens.
    StartOfMarketHours,
    /// Regular market session closes.
    EndOfMarketHours,
    /// System closes.
    EndOfSystemHours,
    /// Last message of the day.
    EndOfMessages,
}

/// Which auction a cross or imbalance belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum AuctionKind {
    /// Opening cross.
    Opening,
    /// Closing cross.
    Closing,
    /// Cross for an IPO or a halted instrument.
    HaltOrIpo,
    /// Intraday / post-close cross.
    Intraday,
    /// Extended-trading close.
    ExtendedClose,
}

/// Direction of an auction imbalance.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum ImbalanceDirection {
    /// More buy interest.
    Buy,
    /// More sell interest.
    Sell,
    /// Balanced.
    None,
    /// Insufficient orders to calculate.
    Insufficient,
    /// Paused (LULD).
    Paused,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        assert_eq!(core::mem::size_of::<EventBody>(), 48);
        assert_eq!(core::mem::size_of::<MarketEvent>(), 64);
        assert_eq!(core::mem::align_of::<MarketEvent>(), 8);
        assert_eq!(core::mem::size_of::<InstrumentInfo>(), 28);
        assert_eq!(core::mem::size_of::<Option<MarketEvent>>(), 64);
        // The table in the module docs (compiler-chosen offsets: update the table if these move).
        assert_eq!(core::mem::offset_of!(MarketEvent, body), 0);
        assert_eq!(core::mem::offset_of!(MarketEvent, ts), 48);
        assert_eq!(core::mem::offset_of!(MarketEvent, instrument), 56);
    }

    #[test]
    fn kind_names_are_distinct() {
        let e = MarketEvent::new(
            Timestamp(1),
            InstrumentId(7),
            EventBody::OrderDeleted {
                order_id: OrderId(9),
            },
        );
        assert_eq!(e.kind_name(), "order_deleted");
        let b = EventBody::BrokenTrade {
            match_id: MatchId(1),
        };
        assert_ne!(b.kind_name(), e.kind_name());
    }
}
