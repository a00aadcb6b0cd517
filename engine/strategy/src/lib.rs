//! The strategy API of ticklane: the one crate a strategy crate depends on.
//!
//! A strategy is a plain Rust type implementing [`Strategy`]. A lane calls it, on the lane's one
//! pinned thread, for every market event of the instruments it subscribed to, for book-top
//! changes, trades, its own order updates and fills, and its event-time timers. Through the
//! [`Context`] it reads the lane's books, its position and open orders, submits, cancels and
//! modifies orders, arms timers and logs.
//!
//! # Time
//!
//! A strategy only ever sees **event time** ([`Context::now`]): the timestamp of the event being
//! processed, or the deadline of the timer firing. No wall clock reaches a strategy (the crate
//! has no access to one and the workspace's clippy configuration bans `Instant::now` and
//! `SystemTime::now`), so a live run and its replay make the same decisions.
//!
//! # Parameters and registration
//!
//! Parameters are a typed struct deserialized from the strategy's TOML table (unknown keys are
//! rejected). A strategy crate exports a [`StrategyDescriptor`] built by
//! [`StrategyDescriptor::new`]; the `ticklane` binary's registry selects strategies by that name.
//! The crate re-exports `serde` so a strategy crate derives `Deserialize` without depending on
//! it directly (`#[serde(crate = "ticklane_strategy::serde")]`).
//!
//! # Numbers
//!
//! Prices are [`Price`] (integer, 1/10000 of the currency unit); quantities [`Qty`] (shares).
//! Positions keep cash in exact integer price units. Nothing here uses floating point.

mod context;
mod order;
mod position;
mod registry;
mod timer;

pub use context::{Context, Outbox, StrategyId};
pub use order::{
    ClientOrderId, Fill, Liquidity, OrderCommand, OrderRequest, OrderState, OrderUpdate,
    OrderUpdateKind, RejectReason, RiskRule, TimeInForce, TradePrint,
};
pub use position::{Position, Positions};
pub use registry::{ParamError, StrategyDescriptor, StrategySetup};
pub use timer::{TimerId, TimerQueue};

pub use serde;
pub use ticklane_book::{LevelView, Market, OrderBook, OrderView};
pub use ticklane_core::{
    EventBody, InstrumentId, InstrumentInfo, MarketEvent, OrderId, Price, Qty, Side, Symbol,
    Timestamp, TradingState,
};
pub use toml;

/// A trading strategy. Every callback has a default that does nothing: implement what you need.
///
/// Callbacks run on the lane's thread, in event order; a strategy never needs locks. A panic in
/// a callback is caught by the lane and handled by the configured policy (restart the strategy
/// fresh, or halt the lane); it never takes down another lane.
pub trait Strategy: Send {
    /// Called once before the first event (and again after a restart, on a fresh instance).
    /// `ctx.now()` is then 0 at the start of a run, before any event; on a restart, the time
    /// of the callback that panicked (a venue report's time when its callback panicked,
    /// which can be earlier than the event the lane was processing). A periodic timer armed here as `now + period` and re-armed from
    /// `on_timer` is fired for every period up to the first event's time: arm it from the first
    /// event instead when that matters.
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        let _ = ctx;
    }

    /// Every market event of a subscribed instrument, after the lane's book has applied it, and
    /// every market-wide event (system events, circuit breakers).
    fn on_event(&mut self, event: &MarketEvent, ctx: &mut Context<'_>) {
        let _ = (event, ctx);
    }

    /// The best bid or offer (price or size) of a subscribed instrument changed.
    fn on_book(&mut self, instrument: InstrumentId, ctx: &mut Context<'_>) {
        let _ = (instrument, ctx);
    }

    /// A trade printed in a subscribed instrument (displayed or not).
    fn on_trade(&mut self, trade: &TradePrint, ctx: &mut Context<'_>) {
        let _ = (trade, ctx);
    }

    /// One of this strategy's orders changed state (accepted, rejected, cancelled, ...).
    fn on_order_update(&mut self, update: &OrderUpdate, ctx: &mut Context<'_>) {
        let _ = (update, ctx);
    }

    /// One of this strategy's orders was (partly) filled. The position already includes it.
    fn on_fill(&mut self, fill: &Fill, ctx: &mut Context<'_>) {
        let _ = (fill, ctx);
    }

    /// A timer armed with [`Context::set_timer`] reached its event-time deadline.
    fn on_timer(&mut self, timer: TimerId, ctx: &mut Context<'_>) {
        let _ = (timer, ctx);
    }

    /// Called once when the lane stops (end of input, stop or kill switch). Trading is then
    /// disabled (`ctx.trading_enabled()` is false) and orders sent here are discarded (and
    /// counted): the session is closing, and the lane cancels every working order after this.
    fn on_stop(&mut self, ctx: &mut Context<'_>) {
        let _ = ctx;
    }
}
