//! Execution: where a lane's orders go once a strategy has sent them.
//!
//! - [`venue`]: the [`Venue`] seam a lane talks to, and [`TouchVenue`], the first, simple paper
//!   venue.
//! - [`paper`]: [`PaperExchange`], the simulated exchange: latency ([`latency`]), queue/fill
//!   models for resting orders ([`queue`]: exact queue position from order-by-order data by
//!   default, or pessimistic trade-through fills), IOC/FOK/post-only, modifies and cancels
//!   racing fills, fees ([`fees`]). All three models are traits a user crate can implement.
//! - [`risk`]: pre-trade risk limits from configuration ([`RiskLimits`]), the [`RiskGate`]
//!   that checks every command, and [`RiskedVenue`], any venue behind a gate.
//! - [`ledger`]: positions and P&L in `rust_decimal` (realized at average cost, unrealized
//!   marked to mid, fees, equity curve, max drawdown); [`equity`]: the equity curve, stored
//!   run-length encoded.
//!
//! No threads, no I/O, no clock: a venue is driven by the lane, in event time, so a replay
//! fills exactly as the live run did.

pub mod equity;
pub mod fees;
pub mod latency;
pub mod ledger;
pub mod paper;
pub mod queue;
pub mod risk;
pub mod venue;

pub use equity::{EquityCurve, EquityPoint};
pub use fees::{FeeModel, PerShareFees};
pub use latency::{ConstantLatency, LatencyError, LatencyModel, LogNormal, LogNormalLatency};
pub use ledger::{DayTrades, InstrumentPnl, Ledger, LedgerError, PnlTotals};
pub use paper::{PaperExchange, PaperStats, WorkingOrder};
pub use queue::{
    ExactQueue, OrdersAhead, Print, QueueEvent, QueueModel, QueueOrder, TradeThroughQueue,
};
pub use risk::{RiskConfigError, RiskGate, RiskLimits, RiskPosition, RiskedVenue};
pub use venue::{TouchVenue, Venue, VenueReport};
