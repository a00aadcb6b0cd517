//! [`Lane`]: one thread, pinned to one core, that owns the books of its instruments, its
//! strategies, their orders and the venue they trade with. One thread, one order of events:
//! that is where determinism comes from.
//!
//! For every event from its ring, in order, a lane
//! 0. lets the venue deliver the acks and fills that are due by the event's time (venues with
//!    latency),
//! 1. fires the strategies' timers whose event-time deadline has passed,
//! 2. applies the event to its [`Market`] (taking the trade print first, while the executed
//!    order is still in the book, when a strategy subscribed to the instrument or the venue
//!    holds an order in it: [`Venue::watches`]),
//! 3. lets the venue fill resting orders against the print (only a venue that watches the
//!    instrument is called),
//! 4. calls the subscribed strategies (`on_event`, then `on_trade`, then `on_book` when the top
//!    of the book changed),
//! 5. routes the orders they sent to the venue and delivers the venue's answers
//!    (`on_order_update`, `on_fill`), repeating while those callbacks send more (bounded per
//!    event; the rest wait, counted as `deferred_commands`, and go out after that strategy's
//!    next callback; any still waiting when the run ends are counted as discarded, never
//!    dropped silently),
//! 6. records the hop latencies of the event.
//!
//! A panicking strategy callback is caught here (`catch_unwind`), its orders are cancelled,
//! and the [`PanicPolicy`] applies: restart the strategy fresh from its factory, or halt the
//! lane (no more strategy calls, every order cancelled, books still maintained so the lane's
//! ring keeps draining and no other lane is held up). The incident goes to the control plane.
//! Reports the cancel-all hands out (fills still on their way included) are booked into the
//! strategies' positions, ledgers and digests without calling them.
//!
//! When the data ends ([`Lane::finish`]), the session closes: after `on_stop`, every working
//! order is cancelled and every report still on its way is booked the same way, so the final
//! positions and P&L hold every trade that happened at the venue. The feed gives every lane a
//! last heartbeat at the final event's time, so the close happens at one time in every lane
//! layout.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::lane_ring::LaneConsumer;
use ticklane_book::{AnomalyKind, Market};
use ticklane_core::{EventBody, InstrumentId, MarketEvent, Symbol, SystemEventCode, Timestamp};
use ticklane_strategy::{
    Context, OrderCommand, OrderUpdate, OrderUpdateKind, Outbox, ParamError, Position,
    RejectReason, RiskRule, Strategy, StrategyId, TimerQueue, TradePrint,
};

use crate::clock::HopClock;
use crate::digest::StreamDigest;
use crate::envelope::LaneEvent;
use crate::idle::{Backoff, IdlePolicy};
use crate::latency::{Hop, LatencyRecorder};
use ticklane_exec::{Ledger, PnlTotals, Venue, VenueReport};

/// Builds a fresh instance of a strategy (at start and after a restart).
pub type StrategyFactory =
    Arc<dyn Fn() -> Result<Box<dyn Strategy>, ParamError> + Send + Sync + 'static>;

/// Most strategies one lane runs (subscriptions are a 64-bit mask per instrument).
pub const MAX_STRATEGIES_PER_LANE: usize = 64;

/// Rounds of order routing per event before the remaining commands of a strategy wait for its
/// next callback (its own next event, timer or report: a point that does not depend on what
/// else its lane carries).
const MAX_ORDER_ROUNDS: u32 = 16;

/// Event time between two samples of each strategy's equity curve (1 s).
pub const EQUITY_SAMPLE_NS: u64 = 1_000_000_000;

/// Runs of the equity curve reserved per strategy, and faulted in when the lane is built. The
/// curve stores a run per change of equity ([`ticklane_exec::EquityCurve`]), at most one per
/// sample: 65,536 runs (3.1 MB resident per strategy) hold a NASDAQ day (04:00 to 20:00,
/// 57,600 seconds) even if equity changed every second, so that sampling never reallocates or
/// page-faults on the lane thread within a day (see [`Ledger::with_equity_capacity`]).
const EQUITY_RESERVE: usize = 65_536;

// A run of the equity curve steps by a `u32` of nanoseconds: a longer step would make every
// sample its own run.
const _: () = assert!(EQUITY_SAMPLE_NS <= u32::MAX as u64);

/// `next_mark` once event time has passed the last second boundary a `u64` holds: no mark is
/// due any more (not a multiple of [`EQUITY_SAMPLE_NS`], so never a boundary itself).
const NO_MARK: u64 = u64::MAX;
const _: () = assert!(!NO_MARK.is_multiple_of(EQUITY_SAMPLE_NS));

/// The boundary `count` samples after the boundary `mark`, or [`NO_MARK`] past the end of
/// event time (a corrupt or crafted time near `u64::MAX` must not wrap the marks round to the
/// start: the lane would mark every second from zero, or loop for ever).
fn next_mark_after(mark: u64, count: u64) -> u64 {
    count
        .checked_mul(EQUITY_SAMPLE_NS)
        .and_then(|d| mark.checked_add(d))
        .unwrap_or(NO_MARK)
}

/// The instrument id the first position a strategy held overnight is parked under until the
/// new day names its symbol (the next ones count down from it): ids no feed gives (ITCH's
/// stock locates are 16-bit; the lane keeps books only below 2^24).
const PARKED: u32 = u32::MAX;

/// Events between two publications of the latency status (tick-to-decision p50 and p99) by a
/// lane that runs dry now and then (it publishes in an idle moment), and by one that never
/// does (it publishes between two batches). See `Lane::idle_work`.
const IDLE_LATENCY_EVERY: u32 = 1 << 14;
/// See [`IDLE_LATENCY_EVERY`].
const BUSY_LATENCY_EVERY: u32 = 1 << 16;

/// Events between two status publications while the lane is busy (see `Lane::run`).
const STATUS_EVERY: u32 = 256;

/// Items popped from the ring per batch.
const BATCH: usize = 256;

/// One strategy instance to run on a lane.
#[derive(Clone)]
pub struct StrategySpec {
    /// Index in the configuration.
    pub id: StrategyId,
    /// Instance name.
    pub name: String,
    /// Descriptor name.
    pub kind: String,
    /// Subscribed instruments; `*` subscribes to every instrument of the lane.
    pub symbols: Vec<Symbol>,
    /// Constructor.
    pub factory: StrategyFactory,
}

impl std::fmt::Debug for StrategySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrategySpec")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("symbols", &self.symbols)
            .finish_non_exhaustive()
    }
}

/// What a lane does when a strategy panics.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PanicPolicy {
    /// Cancel the strategy's orders and start a fresh instance; after `max_restarts` restarts
    /// of one strategy, halt the lane instead.
    Restart {
        /// Restarts allowed per strategy.
        max_restarts: u32,
    },
    /// Cancel every order of the lane and stop calling its strategies.
    HaltLane,
}

impl Default for PanicPolicy {
    fn default() -> Self {
        Self::Restart { max_restarts: 3 }
    }
}

/// How a lane runs.
#[derive(Clone, Copy, Debug)]
pub struct LaneSettings {
    /// Lane number.
    pub index: u16,
    /// Core to pin the lane's thread to (`None`: not pinned).
    pub core: Option<usize>,
    /// What the thread does when its ring is empty.
    pub idle: IdlePolicy,
    /// What happens when a strategy panics.
    pub panic_policy: PanicPolicy,
    /// Record per-hop latency histograms.
    pub measure_latency: bool,
    /// Live orders the book index holds before it first grows.
    pub order_capacity: usize,
    /// Keep every command, order update and fill for the run's reports (`orders.csv`,
    /// `fills.csv`). Appends to preallocated vectors; they grow (allocate) only when a run
    /// trades more than the reserve.
    pub journal: bool,
    /// Events before this event time (ns) update the books and the venue but are not shown to
    /// strategies (a replay's warm-up before `--from`); a submit or modify sent before it
    /// (from `on_start`, the only callback that runs then) is refused `TradingHalted`.
    pub trade_from: u64,
    /// Which books the lane keeps (see [`BookScope`]).
    pub books: BookScope,
}

/// Which of its instruments' books a lane keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BookScope {
    /// Only the books its strategies read: the instruments some strategy of the lane
    /// subscribes to (every one with a `*` subscription). Nothing else can read the others: a
    /// strategy sees only its subscriptions' books, its submits elsewhere are refused
    /// (`NotSubscribed`), so the venue holds orders only there. The feed does not send the
    /// other instruments' events ([`crate::Route::Unread`], counted in the feed's `unread`);
    /// any that reach the lane anyway (an instrument seen before its directory entry) are
    /// counted and dropped (directory events excepted). A lane without strategies, or with a
    /// `*` subscription, keeps every book. The decisions are those of [`BookScope::All`], with
    /// one exception on corrupt data: an event whose stock locate names an unsubscribed
    /// instrument while its order rests in a subscribed book is dropped here, where `All`
    /// applies it to the order's book (and counts an `InstrumentMismatch`).
    #[default]
    Subscribed,
    /// Every instrument's book (for the lane report's live orders and anomalies of the whole
    /// feed; costs the lane the work of every book).
    All,
}

impl Default for LaneSettings {
    fn default() -> Self {
        Self {
            index: 0,
            core: None,
            idle: IdlePolicy::default(),
            panic_policy: PanicPolicy::default(),
            measure_latency: true,
            order_capacity: 1 << 16,
            journal: false,
            trade_from: 0,
            books: BookScope::default(),
        }
    }
}

/// Counters and flags shared between a lane's thread and its control-plane actor. The lane
/// writes the counters (relaxed stores, once per batch); the actor writes the flags.
#[derive(Debug, Default)]
pub struct LaneControl {
    /// Stop now (what is still in the ring is left there and reported).
    pub stop: AtomicBool,
    /// Kill switch: stop trading and cancel every open order.
    pub kill: AtomicBool,
    /// The lane's thread has finished.
    pub finished: AtomicBool,
    /// Items processed (events and heartbeats).
    pub events: AtomicU64,
    /// Commands sent by strategies.
    pub orders: AtomicU64,
    /// Fills.
    pub fills: AtomicU64,
    /// Strategy panics caught.
    pub panics: AtomicU64,
    /// Items waiting in the ring at the last batch.
    pub ring_len: AtomicU64,
    /// Tick-to-decision p50 / p99 (ns), refreshed when the lane runs dry (at most every 2^14
    /// items), every 2^16 items on a lane that never does, and when it finishes.
    pub t2d_p50: AtomicU64,
    /// See `t2d_p50`.
    pub t2d_p99: AtomicU64,
    /// Whether trading is disabled (kill switch or halt).
    pub trading_disabled: AtomicBool,
    /// Whether the lane is halted.
    pub halted: AtomicBool,
    /// Net P&L of the lane's strategies in price units (1/10000 $), refreshed at each equity
    /// sample (each second of event time).
    pub net_pnl: std::sync::atomic::AtomicI64,
    /// Whether the lane's books are stale (the feed lost messages, or rejoined: a `FeedGap`
    /// reached it), refreshed once per batch.
    pub stale: AtomicBool,
}

/// What the policy did about a panic.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PanicAction {
    /// A fresh instance replaced the strategy.
    Restarted,
    /// The strategy could not be rebuilt (its factory failed) and stays stopped.
    StrategyStopped,
    /// The lane was halted.
    LaneHalted,
}

/// Something the control plane must hear about.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LaneIncident {
    /// A strategy callback panicked.
    StrategyPanicked {
        /// Lane.
        lane: u16,
        /// Strategy.
        strategy: StrategyId,
        /// Its name.
        name: String,
        /// The panic message.
        message: String,
        /// Sequence number of the event being processed; `u64::MAX` when the panic came
        /// outside an event (in `on_start`, a timer, a venue report's callback, `on_stop`).
        seq: u64,
        /// What the policy did.
        action: PanicAction,
    },
    /// The kill switch took effect.
    KillSwitch {
        /// Lane.
        lane: u16,
        /// Orders cancelled.
        cancelled: u64,
    },
    /// One strategy's own risk limit tripped (the daily loss limit): its orders were
    /// cancelled and its new ones are refused; the lane and its other strategies go on.
    RiskTripped {
        /// Lane.
        lane: u16,
        /// Strategy.
        strategy: StrategyId,
        /// Its name.
        name: String,
        /// The rule that tripped.
        rule: RiskRule,
    },
}

/// Where a lane sends incidents (the control plane installs one that casts to its actor).
pub type IncidentSink = Box<dyn Fn(LaneIncident) + Send + 'static>;

/// One line of a lane's order journal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum JournalEntry {
    /// A strategy sent a command at event time `ts`.
    Command {
        /// Event time.
        ts: Timestamp,
        /// The command.
        cmd: OrderCommand,
    },
    /// An order changed state.
    Update(OrderUpdate),
    /// An order was (partly) filled.
    Fill(ticklane_strategy::Fill),
    /// A new trading day began at event time `ts` (ITCH's start of messages after other
    /// events, as every lane sees from its sequence number). The entries after it are the new day's: their
    /// times start again from `ts`, and the instruments their submits name are the new day's
    /// stock locates (the day before's symbols are in [`LaneReport::day_symbols`]). The
    /// cancels of the orders still working at the day's end follow it, at `ts`.
    DayStart {
        /// Event time of the new day's start of messages.
        ts: Timestamp,
    },
}

/// One strategy's results.
#[derive(Clone, Debug)]
pub struct StrategyReport {
    /// Index in the configuration.
    pub id: StrategyId,
    /// Instance name.
    pub name: String,
    /// Descriptor name.
    pub kind: String,
    /// Lane it ran on.
    pub lane: u16,
    /// Events delivered.
    pub events: u64,
    /// Commands sent.
    pub commands: u64,
    /// Fills received.
    pub fills: u64,
    /// Commands refused (by the lane or the venue), whether or not the instance that sent
    /// them was still there to hear it (a restart, the session's close).
    pub rejects: u64,
    /// Panics caught.
    pub panics: u32,
    /// Restarts.
    pub restarts: u32,
    /// Final positions by instrument, with the instrument's symbol where known and the book's
    /// mid at the close ([`OrderBook::mid`](ticklane_book::OrderBook::mid): rounded down to a
    /// price unit, `None` when the book is one-sided). Not the P&L's mark: that is the
    /// ledger's, `ledger.instrument(id).mark` (the exact mid, or the last one while a side is
    /// empty).
    pub positions: Vec<(
        InstrumentId,
        Option<Symbol>,
        Position,
        Option<ticklane_core::Price>,
    )>,
    /// P&L from the strategy's ledger, marked to the books' mids at the end (realized at
    /// average cost, unrealized, fees, cash, gross exposure), in `rust_decimal`.
    pub pnl: PnlTotals,
    /// Largest fall of equity from a previous peak (sampled once per second of event time).
    pub max_drawdown: rust_decimal::Decimal,
    /// Positions and P&L per instrument, and the equity curve
    /// ([`Ledger::equity_curve`]: one point per second of event time once the strategy has
    /// traded).
    pub ledger: Ledger,
    /// Digest of the strategy's stream (see [`crate::digest`]).
    pub digest: [u8; 32],
    /// Records in the stream.
    pub records: u64,
    /// Where each new trading day after the first begins in the equity curve: the number of
    /// samples taken before it (a day's times start again earlier than the day before's).
    pub day_samples: Vec<u64>,
}

impl StrategyReport {
    /// The trading day (1: the first) of each sample of the equity curve, in the curve's
    /// order (see [`StrategyReport::day_samples`]).
    pub fn sample_days(&self) -> impl Iterator<Item = u64> + '_ {
        let mut day = 1u64;
        (0..self.ledger.equity_curve().len()).map(move |k| {
            // Day `d + 1` begins after `day_samples[d - 1]` samples.
            while self
                .day_samples
                .get(day as usize - 1)
                .is_some_and(|&n| n <= k)
            {
                day += 1;
            }
            day
        })
    }
}

/// What a lane did.
#[derive(Clone, Debug)]
pub struct LaneReport {
    /// Lane number.
    pub index: u16,
    /// Core it was pinned to, if pinning succeeded.
    pub pinned_core: Option<usize>,
    /// Market events processed.
    pub events: u64,
    /// Heartbeats processed.
    pub heartbeats: u64,
    /// Events delivered to at least one strategy.
    pub strategy_events: u64,
    /// Commands routed to the venue.
    pub commands: u64,
    /// Fills.
    pub fills: u64,
    /// Commands that waited for their strategy's next callback because a cascade of order
    /// callbacks exceeded the per-event routing rounds.
    pub deferred_commands: u64,
    /// Commands discarded: sent by a strategy in a callback that then panicked, or still
    /// unsent when the run ended (sent from `on_stop`, or deferred by a cascade longer than
    /// the routing rounds with no callback of their strategy after it).
    pub discarded_on_panic: u64,
    /// Items left in the ring when the lane was stopped early.
    pub left_in_ring: u64,
    /// Whether the lane was halted.
    pub halted: bool,
    /// Whether the kill switch was applied.
    pub killed: bool,
    /// Instruments with a book.
    pub instruments: usize,
    /// Instruments whose book the lane kept ([`BookScope`]): all of them with
    /// [`BookScope::All`] or without strategies.
    pub books_kept: usize,
    /// Events of instruments whose book the lane did not keep (counted, not applied).
    pub unkept_events: u64,
    /// Instruments whose subscription (their directory message) came after events of theirs
    /// had been dropped: their books started late and miss those orders (each logged).
    pub late_books: u64,
    /// Live orders in the (kept) books at the end.
    pub live_orders: usize,
    /// Orders still working at the venue at the end.
    pub working_orders: usize,
    /// Book anomalies by kind.
    pub anomalies: Vec<(AnomalyKind, u64)>,
    /// Latency histograms.
    pub latency: LatencyRecorder,
    /// Per-strategy results.
    pub strategies: Vec<StrategyReport>,
    /// Every command, update and fill in processing order (when `journal` is on).
    pub journal: Vec<JournalEntry>,
    /// The symbol of every instrument the lane has a book of, from the directory messages
    /// (the journal names instruments by id), by id: the last day's.
    pub symbols: Vec<(InstrumentId, Symbol)>,
    /// The same for each trading day that ended before the last (see
    /// [`JournalEntry::DayStart`]), in day order: a stock locate may name another symbol on
    /// another day.
    pub day_symbols: Vec<Vec<(InstrumentId, Symbol)>>,
}

struct Slot {
    id: StrategyId,
    name: String,
    kind: String,
    factory: StrategyFactory,
    strategy: Option<Box<dyn Strategy>>,
    outbox: Outbox,
    ledger: Ledger,
    digest: StreamDigest,
    events: u64,
    commands: u64,
    fills: u64,
    rejects: u64,
    panics: u32,
    restarts: u32,
    /// Its pending commands were left over when a cascade hit [`MAX_ORDER_ROUNDS`]: they go
    /// out with its next callback (its own event, timer or report), whatever else the lane
    /// carries, so that when they leave does not depend on the lane layout.
    awaiting_call: bool,
    /// Its own risk limit tripped (the daily loss limit): the venue refuses its orders, and it
    /// is told so by `Context::trading_enabled`.
    risk_stopped: bool,
    /// Symbols it held overnight and the instrument their positions are kept under, until the
    /// new day's directory names them (see `Lane::place_carried`).
    carried: Vec<(Symbol, InstrumentId)>,
    /// Equity samples taken before each new day (see [`StrategyReport::day_samples`]).
    day_samples: Vec<u64>,
}

/// One lane's state. Drive it with [`Lane::run`] on its own thread, or call
/// [`Lane::process`] directly (tests, single-threaded tools).
pub struct Lane<V: Venue> {
    settings: LaneSettings,
    market: Market,
    slots: Vec<Slot>,
    /// Subscription mask by instrument id (dense).
    subs: Vec<u64>,
    /// Strategies subscribed to every instrument of the lane.
    wildcard: u64,
    /// Every strategy.
    all: u64,
    /// Drop the events of instruments no strategy of the lane reads ([`BookScope`]).
    skip_unread: bool,
    /// Per instrument id: whether an event of it was dropped (a later subscription to it then
    /// starts a book that misses orders: logged, counted in `late_books`).
    dropped: Vec<bool>,
    /// Latest event time of the events dropped since the last catch-up (0: none). The next
    /// catch-up reaches it (so that what was due by then comes out as when every book is
    /// kept), and so do the kill switch and the close of the session.
    uncaught: Option<Timestamp>,
    /// A subscribed instrument was renamed to a symbol no strategy subscribes to (a second
    /// directory message): orders of the lane may rest in a book it would otherwise drop.
    renamed_away: bool,
    /// A new trading day began (see `Lane::start_day`): from then on a submit to an instrument
    /// the day's directory has not named is refused (its stock locate is the day before's,
    /// which the new day may give another symbol).
    day_restarted: bool,
    unkept_events: u64,
    late_books: u64,
    /// Subscribed symbols and their masks.
    symbol_masks: Vec<(Symbol, u64)>,
    /// Strategy id → slot.
    slot_of: Vec<u8>,
    timers: TimerQueue,
    venue: V,
    reports: Vec<VenueReport>,
    /// Strategies whose own risk limit tripped, taken from the venue (reused).
    trips: Vec<(StrategyId, RiskRule)>,
    commands: Vec<(usize, OrderCommand)>,
    /// Refusals of commands that named another strategy's order, for their senders (slot,
    /// its restart count when it sent the command, the refusal).
    foreign: Vec<(usize, u32, OrderUpdate)>,
    /// The reports [`Lane::deliver`] is handing out, and the index of the next one: a panic
    /// part way through books the rest of the panicking strategy's (all of them on a halt)
    /// before the cancel-all and the fresh instance's `on_start` (see `book_rest_of_batch`).
    batch: Vec<VenueReport>,
    batch_next: usize,
    drained: Vec<OrderCommand>,
    latency: LatencyRecorder,
    /// The last stamp of the measured item just processed, which is when the lane was free for
    /// the next one: that item's `ring` hop ends there (one clock read per item, not two). 0
    /// when the next item must take its own: at the start of each batch read from the ring.
    t_free: u64,
    clock: HopClock,
    control: Arc<LaneControl>,
    incidents: Option<IncidentSink>,
    trading: bool,
    halted: bool,
    killed: bool,
    /// `finish` is calling `on_stop`: a panic now stops that instance only.
    closing: bool,
    last_ts: Timestamp,
    /// The lane's net P&L at the last equity sample (what `control.net_pnl` shows).
    last_net: rust_decimal::Decimal,
    /// Event time of the venue's next mark to market ([`Venue::mark`], every
    /// [`EQUITY_SAMPLE_NS`] on the boundaries; 0 until the first item).
    next_mark: u64,
    /// Starts of messages seen (every lane gets each).
    days_begun: u64,
    /// The day that ends: its instruments and their symbols (read before the books empty).
    day_names: Vec<(InstrumentId, Symbol)>,
    /// The symbols of each day that ended (see [`LaneReport::day_symbols`]).
    day_symbols: Vec<Vec<(InstrumentId, Symbol)>>,
    /// Whether some strategy still waits for a symbol it held overnight to be named.
    carrying: bool,
    events: u64,
    heartbeats: u64,
    strategy_events: u64,
    commands_sent: u64,
    fills: u64,
    deferred: u64,
    discarded: u64,
    pinned_core: Option<usize>,
    left_in_ring: u64,
    journal: Vec<JournalEntry>,
}

impl<V: Venue> std::fmt::Debug for Lane<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("index", &self.settings.index)
            .field("strategies", &self.slots.len())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

impl<V: Venue> Lane<V> {
    /// Builds a lane and its strategies (each from its factory).
    pub fn new(
        settings: LaneSettings,
        strategies: Vec<StrategySpec>,
        venue: V,
        control: Arc<LaneControl>,
        incidents: Option<IncidentSink>,
    ) -> Result<Self, ParamError> {
        assert!(
            strategies.len() <= MAX_STRATEGIES_PER_LANE,
            "at most {MAX_STRATEGIES_PER_LANE} strategies per lane (validated by the config)"
        );
        let mut slots = Vec::with_capacity(strategies.len());
        let mut symbol_masks: Vec<(Symbol, u64)> = Vec::new();
        let mut wildcard = 0u64;
        let mut slot_of = Vec::new();
        for (i, spec) in strategies.into_iter().enumerate() {
            let bit = 1u64 << i;
            for sym in &spec.symbols {
                if sym.as_str() == "*" {
                    wildcard |= bit;
                } else if let Some(e) = symbol_masks.iter_mut().find(|e| e.0 == *sym) {
                    e.1 |= bit;
                } else {
                    symbol_masks.push((*sym, bit));
                }
            }
            let id = usize::from(spec.id.0);
            if slot_of.len() <= id {
                slot_of.resize(id + 1, u8::MAX);
            }
            slot_of[id] = i as u8;
            // The constructor is strategy code: a panic in it is this strategy's error.
            let strategy =
                catch_unwind(AssertUnwindSafe(|| (spec.factory)())).unwrap_or_else(|p| {
                    Err(ParamError::Invalid {
                        strategy: spec.name.clone(),
                        message: format!("its constructor panicked: {}", panic_message(p.as_ref())),
                    })
                })?;
            slots.push(Slot {
                id: spec.id,
                name: spec.name,
                kind: spec.kind,
                factory: spec.factory,
                strategy: Some(strategy),
                outbox: Outbox::with_capacity(64),
                ledger: Ledger::with_equity_capacity(EQUITY_RESERVE),
                digest: StreamDigest::new(),
                events: 0,
                commands: 0,
                fills: 0,
                rejects: 0,
                panics: 0,
                restarts: 0,
                awaiting_call: false,
                risk_stopped: false,
                carried: Vec::new(),
                day_samples: Vec::new(),
            });
        }
        let all = if slots.len() == 64 {
            u64::MAX
        } else {
            (1u64 << slots.len()) - 1
        };
        Ok(Self {
            market: Market::with_capacity(settings.order_capacity, 1024),
            skip_unread: settings.books == BookScope::Subscribed && !slots.is_empty(),
            settings,
            slots,
            subs: Vec::new(),
            wildcard,
            all,
            dropped: Vec::new(),
            uncaught: None,
            renamed_away: false,
            day_restarted: false,
            unkept_events: 0,
            late_books: 0,
            symbol_masks,
            slot_of,
            timers: TimerQueue::with_capacity(1024),
            venue,
            reports: Vec::with_capacity(64),
            trips: Vec::new(),
            commands: Vec::with_capacity(64),
            foreign: Vec::new(),
            batch: Vec::with_capacity(64),
            batch_next: 0,
            drained: Vec::with_capacity(64),
            latency: LatencyRecorder::new(),
            t_free: 0,
            clock: HopClock::new(),
            control,
            incidents,
            trading: true,
            halted: false,
            killed: false,
            closing: false,
            last_ts: Timestamp(0),
            last_net: rust_decimal::Decimal::ZERO,
            next_mark: 0,
            days_begun: 0,
            day_names: Vec::new(),
            day_symbols: Vec::new(),
            carrying: false,
            events: 0,
            heartbeats: 0,
            strategy_events: 0,
            commands_sent: 0,
            fills: 0,
            deferred: 0,
            discarded: 0,
            pinned_core: None,
            left_in_ring: 0,
            journal: Vec::with_capacity(if settings.journal { 1 << 16 } else { 0 }),
        })
    }

    /// Where incidents go (the lane actor installs one that casts to itself).
    pub fn set_incident_sink(&mut self, sink: IncidentSink) {
        self.incidents = Some(sink);
    }

    /// Orders working at the venue now.
    pub fn working_orders(&self) -> usize {
        self.venue.working_orders()
    }

    /// The lane's books.
    pub fn market(&self) -> &Market {
        &self.market
    }

    /// Replaces the clock that stamps the hops (a [`HopClock::mock`] in tests).
    pub fn with_hop_clock(mut self, clock: HopClock) -> Self {
        self.clock = clock;
        self
    }

    /// Calls every strategy's `on_start` (at event time 0: no event has arrived yet).
    pub fn start(&mut self) {
        for i in 0..self.slots.len() {
            self.call(i, u64::MAX, self.last_ts, |s, ctx| s.on_start(ctx));
        }
        self.route(u64::MAX, self.last_ts);
    }

    /// Runs one strategy callback with a context, catching a panic (then handled by
    /// [`Self::on_panic`]).
    fn call(
        &mut self,
        slot: usize,
        seq: u64,
        now: Timestamp,
        f: impl FnOnce(&mut dyn Strategy, &mut Context<'_>),
    ) {
        if let Some(message) = self.run_callback(slot, now, f) {
            self.on_panic(slot, seq, now, message);
        }
    }

    /// Runs one strategy callback with a context; its panic message if it panicked.
    fn run_callback(
        &mut self,
        slot: usize,
        now: Timestamp,
        f: impl FnOnce(&mut dyn Strategy, &mut Context<'_>),
    ) -> Option<String> {
        let s = &mut self.slots[slot];
        let strategy = s.strategy.as_mut()?;
        s.awaiting_call = false;
        let ctx = Context::new(
            now,
            s.id,
            &s.name,
            &self.market,
            &mut s.outbox,
            &mut self.timers,
            self.trading && !s.risk_stopped,
        );
        // Books outside its subscriptions read as absent: whether such a book is on this lane
        // depends on the lane layout. (A `*` strategy sees every book of its lane, as
        // documented.)
        let bit = 1u64 << slot;
        let mut ctx = if self.wildcard & bit == 0 {
            ctx.with_subscriptions(&self.subs, bit)
        } else {
            ctx
        };
        catch_unwind(AssertUnwindSafe(|| f(strategy.as_mut(), &mut ctx)))
            .err()
            .map(|p| panic_message(p.as_ref()))
    }

    /// Drops a strategy instance, catching a panic in its `Drop` (strategy code too: it must
    /// not take the lane thread down with every lane's report).
    fn drop_instance(instance: Option<Box<dyn Strategy>>, name: &str) {
        if let Some(instance) = instance {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(instance))) {
                let message = panic_message(payload.as_ref());
                tracing::error!(strategy = %name, "strategy panicked when dropped: {message}");
            }
        }
    }

    fn notify(&self, incident: LaneIncident) {
        if let Some(sink) = &self.incidents {
            sink(incident);
        }
    }

    /// Applies venue reports caused by something other than the strategy (cancel-all on a
    /// panic, restart, halt or kill switch) without calling strategies whose instance is gone.
    fn absorb_reports_silently(&mut self) {
        let reports = std::mem::take(&mut self.reports);
        for r in &reports {
            self.book_silently(r);
        }
        self.reports = reports;
        self.reports.clear();
    }

    /// Books a report without calling its strategy: the journal, the order state, and for a
    /// fill the position, ledger and digest. A cancel-all first hands out what was already on
    /// its way, fills included: they happened, so positions, P&L and the digest take them, as
    /// `deliver` does (only the strategy is not called).
    fn book_silently(&mut self, r: &VenueReport) {
        if self.settings.journal {
            self.journal.push(match r {
                VenueReport::Update(u) => JournalEntry::Update(*u),
                VenueReport::Fill(f) => JournalEntry::Fill(*f),
            });
        }
        match r {
            VenueReport::Update(u) => {
                if let Some(s) = self.slot_index(u.id.strategy()) {
                    self.book_update(s, u);
                }
            }
            VenueReport::Fill(f) => {
                self.book_fill(f);
            }
        }
    }

    /// Takes a fill into its strategy's order state, position, ledger, digest and counts;
    /// returns the strategy's slot (`None`: no such strategy here).
    fn book_fill(&mut self, f: &ticklane_strategy::Fill) -> Option<usize> {
        let slot = self.slot_index(f.id.strategy())?;
        let s = &mut self.slots[slot];
        s.outbox.apply_fill(f);
        if let Err(e) = s.ledger.apply_fill(f) {
            tracing::error!(strategy = %s.name, "ledger refused a fill: {e}");
        }
        s.digest.fill(f);
        s.fills += 1;
        self.fills += 1;
        self.control.fills.fetch_add(1, Ordering::Relaxed);
        Some(slot)
    }

    /// A strategy panicked: its instance is dropped, its pending commands discarded, and the
    /// policy applied (restart a fresh instance, or halt the lane). A restart whose `on_start`
    /// panics again is the next incident of a loop, not a recursion: incidents are reported in
    /// the order they happened and any `max_restarts` runs in constant stack. A panic while
    /// the lane is closing (`on_stop`) only drops that instance: the session is over, nothing
    /// is restarted and the other strategies still get their `on_stop`.
    fn on_panic(&mut self, slot: usize, seq: u64, now: Timestamp, message: String) {
        let mut message = message;
        loop {
            let policy = self.settings.panic_policy;
            self.control.panics.fetch_add(1, Ordering::Relaxed);
            let s = &mut self.slots[slot];
            s.panics += 1;
            let instance = s.strategy.take();
            self.discarded += s.outbox.pending().len() as u64;
            s.outbox.drain_pending_into(&mut self.drained);
            self.drained.clear();
            let id = s.id;
            let name = s.name.clone();
            Self::drop_instance(instance, &name);
            tracing::error!(lane = self.settings.index, strategy = %name, seq, "strategy panicked: {message}");
            let restart = !self.closing
                && match policy {
                    PanicPolicy::Restart { max_restarts } => {
                        self.slots[slot].restarts < max_restarts
                    }
                    PanicPolicy::HaltLane => false,
                };
            self.timers.remove_strategy(id);
            let mut again = None;
            let action = if self.closing {
                PanicAction::StrategyStopped
            } else if restart {
                self.book_rest_of_batch(Some(slot));
                self.reports.clear();
                self.venue.cancel_all(now, Some(id), &mut self.reports);
                self.absorb_reports_silently();
                let s = &mut self.slots[slot];
                s.outbox.clear_orders();
                s.restarts += 1;
                s.digest.restart(seq);
                // The constructor is strategy code too.
                let built = catch_unwind(AssertUnwindSafe(|| (s.factory)()))
                    .map_err(|p| format!("panicked: {}", panic_message(p.as_ref())))
                    .and_then(|r| r.map_err(|e| e.to_string()));
                match built {
                    Ok(fresh) => {
                        s.strategy = Some(fresh);
                        // Its panic, if any, is the loop's next incident.
                        again = self.run_callback(slot, now, |st, ctx| st.on_start(ctx));
                        PanicAction::Restarted
                    }
                    Err(e) => {
                        tracing::error!(strategy = %name, "restart failed: {e}");
                        PanicAction::StrategyStopped
                    }
                }
            } else {
                self.halt(now);
                PanicAction::LaneHalted
            };
            self.notify(LaneIncident::StrategyPanicked {
                lane: self.settings.index,
                strategy: id,
                name,
                message,
                seq,
                action,
            });
            match again {
                Some(m) => message = m,
                None => return,
            }
        }
    }

    fn halt(&mut self, now: Timestamp) {
        self.halted = true;
        self.trading = false;
        self.control.halted.store(true, Ordering::Relaxed);
        self.control.trading_disabled.store(true, Ordering::Relaxed);
        self.book_rest_of_batch(None);
        self.reports.clear();
        self.venue.cancel_all(now, None, &mut self.reports);
        self.absorb_reports_silently();
        for s in &mut self.slots {
            Self::drop_instance(s.strategy.take(), &s.name);
            self.discarded += s.outbox.pending().len() as u64;
            s.outbox.clear_orders();
        }
        // No strategy is called any more: their timers would only be recorded in their
        // digests as received.
        self.timers.clear();
    }

    fn slot_index(&self, strategy: u16) -> Option<usize> {
        match self.slot_of.get(usize::from(strategy)) {
            Some(&s) if s != u8::MAX => Some(usize::from(s)),
            _ => None,
        }
    }

    /// Delivers `self.reports` to their strategies (which may send more commands).
    ///
    /// The reports were made for the strategy instances that sent the orders: if one panics
    /// and is restarted part way through the batch, the rest of its reports are booked
    /// (order state, ledger, digest) without calling the fresh instance, which has no such
    /// orders (as for the cancel-all of the restart itself).
    fn deliver(&mut self, seq: u64) {
        // A strategy whose limit the venue call behind these reports tripped hears them with
        // trading disabled.
        self.take_trips();
        // The batch lives in `self.batch` while it is handed out (`book_rest_of_batch`).
        let spare = std::mem::replace(&mut self.batch, std::mem::take(&mut self.reports));
        self.batch_next = 0;
        let mut generation = [0u32; MAX_STRATEGIES_PER_LANE];
        for (g, s) in generation.iter_mut().zip(&self.slots) {
            *g = s.restarts;
        }
        while let Some(&r) = self.batch.get(self.batch_next) {
            self.batch_next += 1;
            let r = &r;
            match r {
                VenueReport::Update(u) => match self.slot_index(u.id.strategy()) {
                    Some(slot) if self.slots[slot].restarts == generation[slot] => {
                        self.deliver_update(slot, *u, seq);
                    }
                    Some(slot) => {
                        if self.settings.journal {
                            self.journal.push(JournalEntry::Update(*u));
                        }
                        self.book_update(slot, u);
                    }
                    None if self.settings.journal => {
                        self.journal.push(JournalEntry::Update(*u));
                    }
                    None => {}
                },
                VenueReport::Fill(f) => {
                    if self.settings.journal {
                        self.journal.push(JournalEntry::Fill(*f));
                    }
                    let Some(slot) = self.book_fill(f) else {
                        continue;
                    };
                    if self.slots[slot].restarts == generation[slot] {
                        let f = *f;
                        self.call(slot, seq, f.ts, |st, ctx| st.on_fill(&f, ctx));
                    }
                }
            }
        }
        let mut done = std::mem::replace(&mut self.batch, spare);
        done.clear();
        self.batch_next = 0;
        self.reports = done;
    }

    /// A strategy panicked part way through the batch [`Lane::deliver`] is handing out: the
    /// rest of its reports (every strategy's, `None`, on a halt) are booked now, before the
    /// cancel-all and before a fresh instance's `on_start`. They happened before the panic:
    /// the fresh instance starts with the position it keeps (it read one without the fills
    /// later in the batch, booked after it without a word), and the journal and digest show
    /// each order's reports before its cancel (an `Accepted`, `Modified` or fill came after
    /// the cancel-all's `Cancelled`).
    fn book_rest_of_batch(&mut self, slot: Option<usize>) {
        if self.batch_next >= self.batch.len() {
            return;
        }
        let rest: Vec<VenueReport> = self.batch.drain(self.batch_next..).collect();
        for r in rest {
            let owner = self.slot_index(match r {
                VenueReport::Update(u) => u.id.strategy(),
                VenueReport::Fill(f) => f.id.strategy(),
            });
            if slot.is_some() && owner != slot {
                self.batch.push(r);
                continue;
            }
            self.book_silently(&r);
        }
    }

    /// Reports the strategies whose own risk limit the venue found tripped; returns whether
    /// one did.
    #[inline]
    fn take_trips(&mut self) -> bool {
        self.venue.take_trips(&mut self.trips);
        let tripped = !self.trips.is_empty();
        if tripped {
            self.report_trips();
        }
        tripped
    }

    /// A strategy's own risk limit tripped (its gate cancelled its orders and refuses new
    /// ones; the other strategies trade on): logged and reported as an incident.
    #[cold]
    fn report_trips(&mut self) {
        let trips = std::mem::take(&mut self.trips);
        for &(strategy, rule) in &trips {
            let name = match self.slot_index(strategy.0) {
                Some(i) => {
                    self.slots[i].risk_stopped = true;
                    self.slots[i].name.clone()
                }
                None => String::new(),
            };
            tracing::warn!(
                lane = self.settings.index,
                strategy = %name,
                rule = rule.name(),
                "a strategy's risk limit tripped: its orders are cancelled, new ones refused"
            );
            self.notify(LaneIncident::RiskTripped {
                lane: self.settings.index,
                strategy,
                name,
                rule,
            });
        }
        // Keep the buffer's capacity.
        self.trips = trips;
        self.trips.clear();
    }

    /// Takes an order update into the order state, digest and reject count of the strategy in
    /// `slot`, without calling it (also for an instance restarted since it sent the order:
    /// its refusals still count).
    fn book_update(&mut self, slot: usize, u: &OrderUpdate) {
        let s = &mut self.slots[slot];
        s.outbox.apply_update(u);
        s.digest.update(u);
        if matches!(
            u.kind,
            OrderUpdateKind::Rejected(_) | OrderUpdateKind::AmendRejected(_)
        ) {
            s.rejects += 1;
        }
    }

    /// Hands one order update to the strategy in `slot` (its order book-keeping, digest,
    /// counters, callback).
    fn deliver_update(&mut self, slot: usize, u: OrderUpdate, seq: u64) {
        if self.settings.journal {
            self.journal.push(JournalEntry::Update(u));
        }
        self.book_update(slot, &u);
        self.call(slot, seq, u.ts, |st, ctx| st.on_order_update(&u, ctx));
    }

    /// Routes the strategies' pending commands to the venue and delivers the answers, in
    /// rounds, while callbacks send more. Returns whether any command went out.
    ///
    /// Most events leave no command: that case is answered here, inlined into the event loop,
    /// without a call.
    #[inline(always)]
    fn route(&mut self, seq: u64, now: Timestamp) -> bool {
        if self.slots.iter().all(|s| s.outbox.pending().is_empty()) {
            return false;
        }
        self.route_rounds(seq, now)
    }

    /// [`Lane::route`] once some strategy has a command pending.
    #[inline(never)]
    fn route_rounds(&mut self, seq: u64, now: Timestamp) -> bool {
        let mut sent = false;
        for _ in 0..MAX_ORDER_ROUNDS {
            self.commands.clear();
            for (i, s) in self.slots.iter_mut().enumerate() {
                if s.outbox.pending().is_empty() || s.awaiting_call {
                    continue;
                }
                s.outbox.drain_pending_into(&mut self.drained);
                for cmd in self.drained.drain(..) {
                    if self.settings.journal {
                        self.journal.push(JournalEntry::Command { ts: now, cmd });
                    }
                    s.digest.command(seq, &cmd);
                    s.commands += 1;
                    self.commands.push((i, cmd));
                }
            }
            if self.commands.is_empty() {
                return sent;
            }
            sent = true;
            self.commands_sent += self.commands.len() as u64;
            self.control
                .orders
                .fetch_add(self.commands.len() as u64, Ordering::Relaxed);
            self.reports.clear();
            for &(i, cmd) in &self.commands {
                if cmd.id().strategy() != self.slots[i].id.0 {
                    // A cancel or modify naming another strategy's order (ids are public):
                    // refused, and the refusal goes to the sender, not to the order's owner.
                    self.foreign.push((
                        i,
                        self.slots[i].restarts,
                        OrderUpdate {
                            ts: now,
                            id: cmd.id(),
                            instrument: InstrumentId::NONE,
                            kind: OrderUpdateKind::AmendRejected(RejectReason::UnknownOrder),
                        },
                    ));
                    continue;
                }
                // Before a replay's `--from` (only `on_start` runs then) trading is not open:
                // an order sent there would trade in the warm-up nobody is shown.
                let halted_submit = (!self.trading || now.0 < self.settings.trade_from)
                    && matches!(
                        cmd,
                        OrderCommand::Submit { .. } | OrderCommand::Modify { .. }
                    );
                // The lane's own refusals: trading halted (or not open yet), or a submit
                // outside the strategy's subscriptions (a book this lane may not keep).
                let refusal = if halted_submit || self.slots[i].strategy.is_none() {
                    Some(RejectReason::TradingHalted)
                } else {
                    match cmd {
                        // `NONE` is the market-wide events' id (every strategy's in
                        // `mask_of`), no instrument anyone subscribes to.
                        OrderCommand::Submit { request, .. }
                            if request.instrument == InstrumentId::NONE
                                || self.mask_of(request.instrument) & (1u64 << i) == 0 =>
                        {
                            Some(RejectReason::NotSubscribed)
                        }
                        // After a new day's start, a stock locate the day's directory has not
                        // named yet is the day before's: an order there would rest in whatever
                        // symbol the new day gives it (a strategy on every instrument, `*`,
                        // answering the day's start cancels at once or from a timer).
                        OrderCommand::Submit { request, .. }
                            if self.day_restarted
                                && self.market.instrument_info(request.instrument).is_none() =>
                        {
                            Some(RejectReason::TradingHalted)
                        }
                        _ => None,
                    }
                };
                let Some(why) = refusal else {
                    self.venue
                        .on_command(now, &cmd, &self.market, &mut self.reports);
                    continue;
                };
                let (instrument, kind) = match cmd {
                    OrderCommand::Submit { request, .. } => {
                        (request.instrument, OrderUpdateKind::Rejected(why))
                    }
                    // Its own order: the refusal names the order's instrument.
                    _ => (
                        self.slots[i]
                            .outbox
                            .order(cmd.id())
                            .map_or(InstrumentId::NONE, |o| o.request.instrument),
                        OrderUpdateKind::AmendRejected(why),
                    ),
                };
                self.reports.push(VenueReport::Update(OrderUpdate {
                    ts: now,
                    id: cmd.id(),
                    instrument,
                    kind,
                }));
            }
            self.deliver(seq);
            let mut foreign = std::mem::take(&mut self.foreign);
            for (i, generation, u) in foreign.drain(..) {
                if self.slots[i].restarts == generation {
                    self.deliver_update(i, u, seq);
                } else {
                    // The sender panicked and was restarted meanwhile (on another report of
                    // this round): its fresh instance never sent the command.
                    if self.settings.journal {
                        self.journal.push(JournalEntry::Update(u));
                    }
                    self.book_update(i, &u);
                }
            }
            self.foreign = foreign;
        }
        for s in &mut self.slots {
            if !s.awaiting_call && !s.outbox.pending().is_empty() {
                self.deferred += s.outbox.pending().len() as u64;
                s.awaiting_call = true;
            }
        }
        sent
    }

    /// Delivers, in event-time order, everything due by `now`: the venue's in-flight orders
    /// and reports, and the strategies' timers (the venue first at equal times). Interleaving
    /// them by time, rather than all of one then all of the other, keeps what a strategy sees
    /// independent of how many other events its lane carries.
    fn catch_up(&mut self, now: Timestamp) {
        loop {
            let venue = self.venue.next_due().filter(|&t| t <= now);
            let timer = self.timers.next_deadline().filter(|&t| t <= now);
            // The venue's mark to market and the equity sample come after everything due at or
            // before their time: the same book state and reports in every lane layout (a quiet
            // lane reaches the time on a heartbeat, a busy one on an event).
            let mark = Timestamp(self.next_mark);
            if self.next_mark != NO_MARK
                && mark <= now
                && venue.is_none_or(|v| v > mark)
                && timer.is_none_or(|t| t > mark)
            {
                self.next_mark = next_mark_after(self.next_mark, 1);
                let quiet = self.mark_venue(mark);
                self.sample_equity(mark);
                if quiet {
                    self.repeat_quiet_marks(now);
                }
                continue;
            }
            let venue_first = match (venue, timer) {
                (Some(v), Some(t)) => v <= t,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return,
            };
            match (venue, timer) {
                (Some(v), _) if venue_first => {
                    self.reports.clear();
                    self.venue.advance(v, &self.market, &mut self.reports);
                    if !self.reports.is_empty() {
                        // Not caused by the lane's current item (which depends on the lane
                        // layout): recorded with no sequence number, like timers.
                        self.deliver(u64::MAX);
                        // What the strategies sent from those callbacks leaves now, at the
                        // reports' time, not at the lane's next event.
                        self.route(u64::MAX, v);
                    }
                }
                (_, Some(t)) => self.fire_timers(t),
                _ => return,
            }
        }
    }

    /// A start of messages, before the market empties its books: the daily loss limits count
    /// from the P&L marked on them, and the day's symbols are kept for the positions that
    /// carry over. When it ends a day (`ends_day`), every ledger is marked and sampled at the
    /// day's last event time, as at the run's close: each day's equity ends with its close,
    /// where the daily figures of the reports are read.
    #[cold]
    #[inline(never)]
    fn day_ends(&mut self, ends_day: bool) {
        if ends_day {
            self.sample_equity(self.last_ts);
        }
        self.venue.start_day(&self.market);
        self.day_names.clear();
        self.day_names.extend(self.market.named_instruments());
    }

    /// A new day's directory names `symbol` at `to`: each strategy that held it overnight
    /// has its positions in it (parked since the day began) moved there, in its outbox, its
    /// ledger and its risk gate. Only a strategy's own symbols move its positions, and they
    /// always reach its lane, so where every share ends is the same in every lane layout; a
    /// symbol the new day never names stays parked.
    #[cold]
    #[inline(never)]
    fn place_carried(&mut self, to: InstrumentId, symbol: Symbol) {
        let mut left = false;
        for s in &mut self.slots {
            if let Some(i) = s.carried.iter().position(|c| c.0 == symbol) {
                // Parked, under an id no feed gives: no other carried symbol is kept under
                // `to`, so a swap places this one and takes nothing else along.
                let from = s.carried.swap_remove(i).1;
                if from != to {
                    s.outbox.swap_instruments(from, to);
                    s.ledger.swap_instruments(from, to);
                    self.venue.swap_instruments(s.id, from, to);
                    tracing::info!(
                        lane = self.settings.index,
                        strategy = %s.name,
                        symbol = %symbol,
                        from = from.0,
                        to = to.0,
                        "a new day names a symbol held overnight: its parked positions \
                         move to the day's stock locate"
                    );
                }
            }
            left |= !s.carried.is_empty();
        }
        self.carrying = left;
    }

    /// A new trading day began (ITCH's start of messages after other events; the market
    /// emptied its books if it held any: [`ticklane_book::Market::new_days`]), and the books
    /// are empty: the venue cancels every
    /// working order (they rested in the day before's books; its order-entry sessions start
    /// afresh at `now`), and the latest event time and the equity marks start again from the
    /// new day's time, which is earlier than the day before's last, and each pending timer
    /// keeps the event time it had left (`TimerQueue::start_day`); its instruments are
    /// subscribed afresh by the new day's directory. Every lane gets the event
    /// at the same place in the stream, so this is the same in every lane layout. Positions,
    /// cash and the strategies carry over: a position in a symbol the new day names at
    /// another stock locate moves there with its directory entry (`Lane::place_carried`).
    #[cold]
    #[inline(never)]
    fn start_day(&mut self, seq: u64, now: Timestamp) {
        // The day before's last event time: every lane reached it before this event (the
        // publisher's catch-up), so it is the same in every lane layout, and every timer due
        // by then has fired. The others keep the time they had left, from `now`.
        let ended = self.last_ts;
        self.timers.start_day(ended, now);
        self.last_ts = now;
        self.day_restarted = true;
        // The reports say which day each row and sample is of, and the ending day's symbols.
        if self.settings.journal {
            self.journal.push(JournalEntry::DayStart { ts: now });
        }
        let mut names = self.day_names.clone();
        names.sort_unstable_by_key(|e| e.0);
        self.day_symbols.push(names);
        for s in &mut self.slots {
            s.day_samples.push(s.ledger.equity_curve().len());
            s.ledger.start_day();
        }
        // Set afresh from the next item's time, as in a new lane.
        self.next_mark = 0;
        // The new day's directory subscribes its instruments afresh (as the feed's router
        // assigns them afresh): a stock locate may name another symbol on another day.
        self.subs.fill(0);
        self.dropped.fill(false);
        self.renamed_away = false;
        // A strategy its own daily loss limit stopped trades again: its gate opened at the
        // day's start (`RiskGate::start_day`, from `Venue::start_day` in `day_ends`). The
        // manual kill switch (`trading`) stays.
        for s in &mut self.slots {
            if s.risk_stopped {
                s.risk_stopped = false;
                tracing::info!(
                    lane = self.settings.index,
                    strategy = %s.name,
                    "a new trading day: the daily loss limit that stopped this strategy is open again"
                );
            }
        }
        self.reports.clear();
        self.venue.cancel_all(now, None, &mut self.reports);
        let cancelled = self.reports.len();
        if !self.reports.is_empty() {
            self.deliver(seq);
            // What the strategies send in answer is refused (`day_restarted`): every stock
            // locate is the day before's until the new day's directory names it.
            self.route(seq, now);
        }
        tracing::info!(
            lane = self.settings.index,
            reports = cancelled,
            "a new trading day: books emptied, working orders cancelled"
        );
        // After the cancels' fills: every position is where the day before kept it. Each
        // strategy carries the symbols it holds a position or a ledger entry in.
        // Each strategy's are parked, in symbol order, under instrument ids no feed gives
        // (`PARKED`): until the new day names the symbol again no book marks them (the day's
        // book at the old locate may be another symbol's, kept by another lane), and a symbol
        // the new day never names stays there, under its own name in the reports.
        let mut carrying = false;
        for s in &mut self.slots {
            // Symbols parked on an earlier day that no day has named since stay where they
            // are: the day's own are parked under ids none of them holds (they were parked at
            // the first ids again, swapping an earlier day's shares into a day's locate).
            let kept = std::mem::take(&mut s.carried);
            s.carried.extend(
                self.day_names
                    .iter()
                    .filter(|(id, _)| {
                        s.outbox.positions().get(*id) != Position::default()
                            || s.ledger.instrument(*id).is_some()
                    })
                    .map(|&(id, symbol)| (symbol, id)),
            );
            s.carried.sort_by_key(|c| c.0);
            let mut next = 0u32;
            for c in s.carried.iter_mut() {
                let parked = loop {
                    let id = InstrumentId(PARKED - next);
                    next += 1;
                    if !kept.iter().any(|k| k.1 == id) {
                        break id;
                    }
                };
                s.outbox.swap_instruments(c.1, parked);
                s.ledger.swap_instruments(c.1, parked);
                self.venue.swap_instruments(s.id, c.1, parked);
                c.1 = parked;
            }
            s.carried.extend(kept);
            carrying |= !s.carried.is_empty();
        }
        self.carrying = carrying;
        self.day_names.clear();
    }

    fn fire_timers(&mut self, now: Timestamp) {
        while let Some((deadline, strategy, timer)) = self.timers.pop_due(now) {
            let Some(slot) = self.slot_index(strategy.0) else {
                continue;
            };
            // A replay's warm-up (before `trade_from`) is not shown to strategies: a timer due
            // in it fires when the window opens, not on the warm-up's books. Re-armed there, it
            // fires after the timers armed for `trade_from` itself (which were armed before it
            // was moved), and the moved ones fire in their deadlines' order.
            if deadline.0 < self.settings.trade_from {
                self.timers
                    .push(Timestamp(self.settings.trade_from), strategy, timer);
                continue;
            }
            self.slots[slot].digest.timer(u64::MAX, deadline.0, timer);
            // A timer this callback re-arms at or before `deadline` is put a step later (see
            // `TimerQueue::arm`): it cannot keep this loop at one instant. So is one armed
            // while its orders are routed, from the callbacks of answers that come back at
            // once (a refusal by the lane or the risk gate): a strategy retrying "at once"
            // after a refusal held the lane at this instant for ever.
            self.timers.set_firing(Some((deadline, strategy)));
            self.call(slot, u64::MAX, deadline, |s, ctx| s.on_timer(timer, ctx));
            self.route(u64::MAX, deadline);
            self.timers.set_firing(None);
        }
    }

    fn subscribe(&mut self, instrument: InstrumentId, symbol: Symbol) {
        if self.carrying {
            self.place_carried(instrument, symbol);
        }
        let mask = self
            .symbol_masks
            .iter()
            .find(|e| e.0 == symbol)
            .map_or(0, |e| e.1);
        let i = instrument.0 as usize;
        if i >= (1 << 24) {
            return;
        }
        if self.subs.len() <= i {
            self.subs.resize(i + 1, 0);
        }
        if self.subs[i] != 0 && mask == 0 {
            self.renamed_away = true;
        }
        self.subs[i] = mask;
        if mask | self.wildcard != 0 && self.dropped.get(i).copied().unwrap_or(false) {
            self.late_books += 1;
            tracing::warn!(
                lane = self.settings.index,
                instrument = instrument.0,
                symbol = %symbol,
                "a subscribed instrument's directory message came after events of it that \
                 the lane dropped: its book misses those orders"
            );
        }
    }

    /// Counts (and remembers) an event of an instrument whose book this lane does not keep.
    #[cold]
    fn drop_unread(&mut self, instrument: InstrumentId) {
        self.unkept_events += 1;
        let i = instrument.0 as usize;
        if i < (1 << 24) {
            if self.dropped.len() <= i {
                self.dropped.resize(i + 1, false);
            }
            self.dropped[i] = true;
        }
    }

    /// The strategies an event of `instrument` is shown to (every strategy for market-wide
    /// events).
    #[inline(always)]
    fn mask_of(&self, instrument: InstrumentId) -> u64 {
        if instrument == InstrumentId::NONE {
            self.all
        } else {
            self.subs.get(instrument.0 as usize).copied().unwrap_or(0) | self.wildcard
        }
    }

    /// Processes one item from the ring. `measure`: stamp its hops (the `ring` hop ends when
    /// the lane is free to start the item, so it includes waiting behind earlier items).
    ///
    /// Items of one batch are processed back to back, so the last stamp of an item that went
    /// through the strategies is also when the lane was free for the item right after it:
    /// that is the next item's dequeue stamp (within a batch, see [`Lane::end_batch`]), which
    /// halves the clock reads. After any other item the next one takes its own stamp. (So the
    /// read of a later item's ring slot falls in its strategy span.) A caller that processes
    /// items with `measure` must call [`Lane::end_batch`] whenever it may have waited between
    /// two items, or the wait counts as the next item's strategy time.
    #[inline]
    pub fn process(&mut self, le: &LaneEvent, measure: bool) {
        let measure = measure && self.settings.measure_latency && le.t_received != 0;
        let t_free = std::mem::take(&mut self.t_free);
        let t_dequeued = if !measure {
            0
        } else if t_free != 0 {
            t_free
        } else {
            self.clock.raw()
        };
        let ev = &le.event;
        let now = ev.ts;
        self.last_ts = self.last_ts.max(now);
        if self.next_mark == 0 {
            self.next_mark = next_mark_after(now.0 - now.0 % EQUITY_SAMPLE_NS, 1);
        }
        let mut mask = self.mask_of(ev.instrument);
        if mask == 0
            && self.skip_unread
            && !le.heartbeat
            && !matches!(ev.body, EventBody::InstrumentDirectory(_))
            // Orders can rest there only if a subscribed instrument was renamed to an
            // unsubscribed symbol (a second directory message): then the venue still needs it.
            && !(self.renamed_away && self.venue.watches(ev.instrument))
        {
            // Nobody in this lane reads this book (see `BookScope::Subscribed`): the event is
            // dropped before the catch-up, which can wait for the next event that is kept. It
            // changes nothing that the venue, the timers or the marks read (the venue holds
            // orders only in subscribed instruments: submits elsewhere are refused), so they
            // come out the same, at the same event times, as when every book is kept.
            self.events += 1;
            self.uncaught = Some(self.uncaught.map_or(now, |t| t.max(now)));
            self.drop_unread(ev.instrument);
            return;
        }
        // What the dropped events' catch-ups would have reached, in case event time went
        // backwards (it does not on a sane feed; when it does, `All` caught up that far).
        let reach = self.uncaught.take().map_or(now, |t| t.max(now));
        if self.venue.has_pending() || !self.timers.is_empty() || reach.0 >= self.next_mark {
            self.catch_up(reach);
        }
        if le.heartbeat {
            self.heartbeats += 1;
            return;
        }
        self.events += 1;
        // The trade print needs an order lookup: only take it when someone will read it (a
        // strategy subscribed to the instrument, or the venue holding orders in it).
        let watched = self.venue.watches(ev.instrument);
        let trade = if mask != 0 || watched {
            TradePrint::of(&self.market, ev)
        } else {
            None
        };
        let start_of_messages = matches!(
            ev.body,
            EventBody::SystemEvent {
                code: SystemEventCode::StartOfMessages,
            }
        );
        // A start of messages after any event ends the day before (see below).
        let ends_day = start_of_messages && (self.days_begun > 0 || le.seq > 0);
        if start_of_messages {
            self.day_ends(ends_day);
        }
        let r = self.market.apply(ev);
        // Every lane gets every start of messages: after a first one, each is a new day in
        // every lane, whether or not this lane's market had anything to empty (a lane that
        // kept no book of day 1 must still start its marks and latest time again).
        // A first start of messages after events (data that began within a day, or with the
        // evening's end of messages alone) begins a new day too, in every lane: the sequence
        // number says so whatever the layout, where the market's `new_day` says only whether
        // this lane's books held anything. `book --day` and `bbo --day` count days so too
        // (`TradingDays`).
        if r.new_day || ends_day {
            self.start_day(le.seq, now);
        }
        if start_of_messages {
            self.days_begun += 1;
        }
        if let EventBody::InstrumentDirectory(info) = &ev.body {
            self.subscribe(ev.instrument, info.symbol);
            mask = self.mask_of(ev.instrument);
        }
        if measure {
            let c = &self.clock;
            // No decode sample when the source did not measure it (one stamp for both: a file
            // decoded elsewhere; it was recorded as 1 ns), nor in lanes after the first for a
            // market-wide event, which every lane gets (the feed decoded it once; the count
            // grew with the lane count).
            let decoded_here = ev.instrument != InstrumentId::NONE || self.settings.index == 0;
            if le.t_decoded != le.t_received && decoded_here {
                self.latency
                    .record(Hop::Decode, c.nanos_between(le.t_received, le.t_decoded));
            }
            self.latency
                .record(Hop::Publish, c.nanos_between(le.t_decoded, le.t_enqueued));
            self.latency
                .record(Hop::Ring, c.nanos_between(le.t_enqueued, t_dequeued));
        }
        // Orders the strategies send in answer to the venue's reports on this event (a fill, a
        // cancel) leave the lane here: (when their callbacks were done, when they left).
        let mut early_out = None;
        if watched {
            self.reports.clear();
            self.venue
                .on_market(ev, trade.as_ref(), &self.market, &mut self.reports);
            if !self.reports.is_empty() {
                self.deliver(le.seq);
                let t_answered = if measure { self.clock.raw() } else { 0 };
                if self.route(le.seq, now) && measure {
                    early_out = Some((t_answered, self.clock.raw()));
                }
            }
        }
        if mask == 0 || self.halted || now.0 < self.settings.trade_from {
            self.record_order_out(le, early_out);
            return;
        }
        self.strategy_events += 1;
        let top_changed = r.top_changed();
        let book_instrument = r.instrument;
        let mut m = mask;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            let s = &mut self.slots[i];
            if s.strategy.is_none() {
                continue;
            }
            s.events += 1;
            s.digest.event(le.seq, ev);
            self.call(i, le.seq, now, |st, ctx| {
                st.on_event(ev, ctx);
                if let Some(t) = &trade {
                    st.on_trade(t, ctx);
                }
                if top_changed {
                    st.on_book(book_instrument, ctx);
                }
            });
        }
        let t_decision = if measure { self.clock.raw() } else { 0 };
        let sent = self.route(le.seq, now);
        if measure {
            let c = &self.clock;
            self.latency
                .record(Hop::Strategy, c.nanos_between(t_dequeued, t_decision));
            self.latency.record(
                Hop::TickToDecision,
                c.nanos_between(le.t_received, t_decision),
            );
            self.t_free = t_decision;
            if sent {
                let t_out = self.clock.raw();
                self.record_order_out(le, Some((t_decision, t_out)));
                self.t_free = t_out;
            } else {
                // Only orders sent in answer to a venue report left the lane on this event.
                self.record_order_out(le, early_out);
            }
        }
    }

    /// The `order-out` and `tick-to-trade` samples of an event after which orders left the
    /// lane: `out` is (when they were decided, when they left), if any did.
    #[inline]
    fn record_order_out(&mut self, le: &LaneEvent, out: Option<(u64, u64)>) {
        if let Some((decided, left)) = out {
            let c = &self.clock;
            self.latency
                .record(Hop::OrderOut, c.nanos_between(decided, left));
            self.latency
                .record(Hop::TickToTrade, c.nanos_between(le.t_received, left));
        }
    }

    /// Ends a batch of items processed back to back: the next measured item takes its own
    /// dequeue stamp (the lane may have waited for it).
    #[inline]
    pub fn end_batch(&mut self) {
        self.t_free = 0;
    }

    /// Marks every strategy's ledger to the books' mids and samples its equity, at each
    /// [`EQUITY_SAMPLE_NS`] boundary of event time (from [`Lane::catch_up`], with the venue's
    /// mark).
    #[cold]
    fn sample_equity(&mut self, now: Timestamp) {
        let mut net = rust_decimal::Decimal::ZERO;
        for s in &mut self.slots {
            if s.ledger.has_fills() {
                s.ledger.mark_to_market(&self.market);
                net = net.saturating_add(s.ledger.sample_equity(now).equity);
            }
        }
        // Most seconds nothing moved: the status line's figure is converted only on a change.
        if net != self.last_net {
            self.last_net = net;
            let units = net
                .saturating_mul(rust_decimal::Decimal::from(ticklane_core::Price::SCALE))
                .trunc()
                .try_into()
                // Past i64 units (±922 trillion dollars) the status shows the bound, not 0.
                .unwrap_or(if net.is_sign_negative() {
                    i64::MIN
                } else {
                    i64::MAX
                });
            self.control.net_pnl.store(units, Ordering::Relaxed);
        }
    }

    /// The venue's periodic mark to market ([`Venue::mark`]): a risk limit that prices alone
    /// broke cancels that strategy's orders; the strategies hear of it at once.
    ///
    /// Returns whether the mark was quiet: no report, no limit tripped.
    fn mark_venue(&mut self, now: Timestamp) -> bool {
        self.reports.clear();
        self.venue.mark(now, &self.market, &mut self.reports);
        let quiet = self.reports.is_empty();
        if !quiet {
            self.deliver(u64::MAX);
            self.route(u64::MAX, now);
        }
        // Prices alone can trip a limit with no order left to cancel (no report).
        let tripped = self.take_trips();
        quiet && !tripped
    }

    /// The marks after a quiet one ([`Lane::mark_venue`]), up to `now` and before the venue's
    /// or a timer's next deadline: nothing can change between them (only events, venue
    /// reports and timers change the books, orders and ledgers, and none comes before `now`
    /// or that deadline), so the venue's mark would be quiet again ([`Venue::mark`]) and each
    /// equity sample repeats the last one. They are skipped, and each equity curve gets its
    /// point at each of those seconds as one run ([`Ledger::sample_equity_every`]): a jump in
    /// event time (the quiet hours before the close, a halt, the night before a replayed
    /// day's open) costs the lane the same as one second, where a mark and a sample per
    /// second had stalled it for milliseconds (`BENCHMARKS.md`, "A jump in event time").
    fn repeat_quiet_marks(&mut self, now: Timestamp) {
        let deadline = self
            .venue
            .next_due()
            .into_iter()
            .chain(self.timers.next_deadline())
            .min();
        // A mark at a deadline's own time comes after what is due then.
        let last = match deadline {
            Some(d) if d <= now => d.0.saturating_sub(1),
            _ => now.0,
        };
        if self.next_mark == NO_MARK || self.next_mark > last {
            return;
        }
        let count = (last - self.next_mark) / EQUITY_SAMPLE_NS + 1;
        let first = Timestamp(self.next_mark);
        for s in &mut self.slots {
            if s.ledger.has_fills() {
                s.ledger.sample_equity_every(first, EQUITY_SAMPLE_NS, count);
            }
        }
        self.next_mark = next_mark_after(self.next_mark, count);
    }

    /// Applies the control flags (kill switch); cheap, call once per batch.
    #[inline]
    pub fn poll_control(&mut self) {
        if !self.killed && self.control.kill.load(Ordering::Relaxed) {
            self.apply_kill_switch();
        }
    }

    /// The catch-up of the events dropped since the last one (see `uncaught`).
    fn catch_up_dropped(&mut self) {
        if let Some(t) = self.uncaught.take() {
            self.catch_up(t);
        }
    }

    fn apply_kill_switch(&mut self) {
        // At the time of the last event, as if every event had been kept.
        self.catch_up_dropped();
        self.killed = true;
        self.trading = false;
        self.control.trading_disabled.store(true, Ordering::Relaxed);
        self.reports.clear();
        let now = self.last_ts;
        // Orders the kill switch cancelled, as the venue counts them: the reports also hold
        // acks, fills and cancels of the strategies' own that were on their way back.
        let cancelled = self
            .venue
            .engage_kill_switch(now, &self.market, &mut self.reports);
        // Reported before the strategies hear of it: a panic in what they do about the
        // cancels is an incident the kill switch caused, and comes after it.
        tracing::warn!(lane = self.settings.index, cancelled, "kill switch applied");
        self.notify(LaneIncident::KillSwitch {
            lane: self.settings.index,
            cancelled,
        });
        // Strategies hear about the cancels (they are alive, only trading stopped).
        self.deliver(u64::MAX);
        self.route(u64::MAX, now);
    }

    fn publish_status(&self, ring_len: usize) {
        let c = &self.control;
        c.events
            .store(self.events + self.heartbeats, Ordering::Relaxed);
        c.ring_len.store(ring_len as u64, Ordering::Relaxed);
        c.stale
            .store(self.market.stale().is_some(), Ordering::Relaxed);
    }

    fn publish_latency(&mut self) {
        let [p50, p99] = self.latency.quantiles(Hop::TickToDecision, [0.5, 0.99]);
        self.control.t2d_p50.store(p50, Ordering::Relaxed);
        self.control.t2d_p99.store(p99, Ordering::Relaxed);
    }

    /// Housekeeping for a lane whose ring is empty, one small piece (a few µs at most) per
    /// call, so that an event arriving meanwhile waits little: the latency status when it is
    /// due (a scan of the counts up to the p99's slot), else 4 KiB of a strategy's digest
    /// (about 1.5 µs; what would otherwise be hashed 16 KiB at a time in the middle of an
    /// event). Returns whether it did anything; none of it changes what the lane decides.
    fn idle_work(&mut self, since_latency: &mut u32) -> bool {
        if *since_latency >= IDLE_LATENCY_EVERY {
            *since_latency = 0;
            self.publish_latency();
            return true;
        }
        self.slots.iter_mut().any(|s| s.digest.hash_pending())
    }

    /// The thread body: pins the thread, starts the strategies, processes the ring until the
    /// feed is gone and the ring is empty (or a stop), then stops the strategies.
    pub fn run(mut self, mut rx: LaneConsumer) -> LaneReport {
        if let Some(core) = self.settings.core {
            self.pinned_core = pin_to_core(core).then_some(core);
            if self.pinned_core.is_none() {
                tracing::warn!(
                    lane = self.settings.index,
                    core,
                    "could not pin lane to core"
                );
            }
        }
        self.start();
        let blank = LaneEvent {
            event: MarketEvent::new(
                Timestamp(0),
                InstrumentId::NONE,
                EventBody::BrokenTrade {
                    match_id: ticklane_core::MatchId(0),
                },
            ),
            heartbeat: true,
            seq: 0,
            t_received: 0,
            t_decoded: 0,
            t_enqueued: 0,
        };
        let mut batch = vec![blank; BATCH];
        let mut backoff = Backoff::new(self.settings.idle);
        let measure = self.settings.measure_latency;
        let mut since_latency = 0u32;
        // Events since the status (event count, ring length) was last published. The ring
        // length is read only every `STATUS_EVERY` events and set to 0 when the ring runs dry:
        // reading it costs a line the feed writes (the stamped ring keeps no shared index at
        // all on the hot path, only a mirror for this), and status is for people, not for the
        // hot path.
        let mut since_status = 0u32;
        loop {
            let n = rx.consume(&mut batch, |le| self.process(le, measure));
            self.end_batch();
            if n == 0 {
                if since_status > 0 {
                    since_status = 0;
                    self.publish_status(0);
                }
                self.poll_control();
                if self.control.stop.load(Ordering::Relaxed) {
                    break;
                }
                if rx.is_abandoned() && rx.is_empty() {
                    break;
                }
                if self.idle_work(&mut since_latency) {
                    continue;
                }
                backoff.snooze();
                continue;
            }
            backoff.reset();
            since_status += n as u32;
            if since_status >= STATUS_EVERY {
                since_status = 0;
                self.publish_status(rx.len());
            }
            since_latency += n as u32;
            if since_latency >= BUSY_LATENCY_EVERY {
                since_latency = 0;
                self.publish_latency();
            }
            self.poll_control();
            if self.control.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        self.left_in_ring = rx.len() as u64;
        self.publish_status(rx.len());
        let report = self.finish();
        self.control.finished.store(true, Ordering::Release);
        report
    }

    /// Stops the strategies (`on_stop`; orders sent then are discarded) and reports.
    pub fn finish(&mut self) -> LaneReport {
        // The status's latency figures end as the report's.
        self.publish_latency();
        // The events dropped since the last catch-up reach their time first, as they would
        // have had every book been kept (the data may end on other instruments' events).
        self.catch_up_dropped();
        // A kill switch engaged just before the stop (Ctrl-C sends both) is applied, whether
        // or not the loop saw it before it saw the stop: the report and the strategies tell.
        self.poll_control();
        let now = self.last_ts;
        // What is due by the last event time still happens: timers armed "now" by the last
        // event's callbacks, answers due then (a timer re-armed from `on_timer` moves on, so
        // this ends).
        self.catch_up(now);
        // The session is closing: `on_stop` sees trading disabled (what it sends is counted
        // as discarded, never sent); a panic in it stops that instance only.
        self.trading = false;
        self.closing = true;
        for i in 0..self.slots.len() {
            self.call(i, u64::MAX, now, |s, ctx| s.on_stop(ctx));
            let s = &mut self.slots[i];
            self.discarded += s.outbox.pending().len() as u64;
            s.outbox.drain_pending_into(&mut self.drained);
            self.drained.clear();
        }
        // The data has ended: the session closes. Every working order is cancelled and every
        // report still on its way is booked (fills included, restamped now), so that the final
        // positions and P&L hold every trade that happened at the venue.
        self.reports.clear();
        self.venue.cancel_all(now, None, &mut self.reports);
        self.absorb_reports_silently();
        // Every ledger marked and sampled at the close, and the status's net P&L with them
        // (it kept the last whole second's figure).
        self.sample_equity(now);
        let mut strategies = Vec::with_capacity(self.slots.len());
        for s in &mut self.slots {
            let digest = std::mem::take(&mut s.digest);
            let records = digest.records();
            let positions = s
                .outbox
                .positions()
                .iter()
                .map(|(id, p)| {
                    let book = self.market.book(id);
                    // A symbol held overnight that the new day never named: parked, under
                    // its own name, unmarked.
                    match s.carried.iter().find(|c| c.1 == id) {
                        Some(c) => (id, Some(c.0), p, None),
                        None => (
                            id,
                            book.and_then(|b| b.symbol()),
                            p,
                            book.and_then(|b| b.mid()),
                        ),
                    }
                })
                .collect();
            strategies.push(StrategyReport {
                id: s.id,
                name: s.name.clone(),
                kind: s.kind.clone(),
                lane: self.settings.index,
                events: s.events,
                commands: s.commands,
                fills: s.fills,
                rejects: s.rejects,
                panics: s.panics,
                restarts: s.restarts,
                positions,
                pnl: s.ledger.totals(),
                max_drawdown: s.ledger.max_drawdown(),
                // The lane is done with it: moved, not copied (its equity curve holds a
                // point per second of event time).
                ledger: std::mem::take(&mut s.ledger),
                digest: digest.finish(s.outbox.positions()),
                records,
                day_samples: std::mem::take(&mut s.day_samples),
            });
        }
        LaneReport {
            index: self.settings.index,
            pinned_core: self.pinned_core,
            events: self.events,
            heartbeats: self.heartbeats,
            strategy_events: self.strategy_events,
            commands: self.commands_sent,
            fills: self.fills,
            deferred_commands: self.deferred,
            discarded_on_panic: self.discarded,
            left_in_ring: self.left_in_ring,
            halted: self.halted,
            killed: self.killed,
            instruments: self.market.instrument_count(),
            books_kept: if self.skip_unread && self.wildcard == 0 {
                (0..self.subs.len())
                    .filter(|&i| {
                        self.subs[i] != 0 && self.market.book(InstrumentId(i as u32)).is_some()
                    })
                    .count()
            } else {
                self.market.instrument_count()
            },
            unkept_events: self.unkept_events,
            late_books: self.late_books,
            live_orders: self.market.live_orders(),
            working_orders: self.venue.working_orders(),
            anomalies: self.market.anomalies().nonzero().collect(),
            latency: self.latency.clone(),
            strategies,
            journal: std::mem::take(&mut self.journal),
            symbols: {
                let mut v: Vec<_> = self
                    .market
                    .books()
                    .filter_map(|b| Some((b.instrument(), b.symbol()?)))
                    .collect();
                v.sort_unstable_by_key(|e| e.0);
                v
            },
            day_symbols: std::mem::take(&mut self.day_symbols),
        }
    }
}

/// The ids of the cores this process may run on (empty if the platform cannot say).
pub fn available_cores() -> Vec<usize> {
    core_affinity::get_core_ids()
        .map(|ids| ids.into_iter().map(|c| c.id).collect())
        .unwrap_or_default()
}

/// Pins the calling thread to `core`; false if the core does not exist or pinning failed.
pub fn pin_to_core(core: usize) -> bool {
    let Some(ids) = core_affinity::get_core_ids() else {
        return false;
    };
    match ids.into_iter().find(|c| c.id == core) {
        Some(id) => core_affinity::set_for_current(id),
        None => false,
    }
}
