//! Core types of ticklane, shared by every other crate.
//!
//! This crate owns the vocabulary of the engine and nothing else: scaled-integer prices
//! ([`Price`], [`WidePrice`]), quantities ([`Qty`]), identifiers ([`OrderId`], [`InstrumentId`],
//! [`MatchId`]), event time ([`Timestamp`]), the normalized, fixed-size [`MarketEvent`] that
//! flows from feed decoders to books and strategies, and where a trading day of such a stream
//! begins ([`TradingDays`]). It knows no wire protocol: decoders in
//! `ticklane-feeds` translate their messages into these types.
//!
//! Prices on the hot path are integers. `f64` never decides an order; `rust_decimal` is used
//! only at the edges (display, P&L).

pub mod day;
pub mod event;
pub mod price;
pub mod resident;
pub mod types;

pub use day::TradingDays;
pub use event::{
    AuctionKind, EventBody, ImbalanceDirection, InstrumentInfo, MarketEvent, SystemEventCode,
    TradingState,
};
pub use price::{Price, PriceParseError, WidePrice};
pub use types::{InstrumentId, MatchId, OrderId, Qty, Side, Symbol, Timestamp};
