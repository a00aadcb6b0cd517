//! Pre-trade risk: [`RiskLimits`] from configuration and the [`RiskGate`] that checks every
//! order command against them before it reaches a venue.
//!
//! # Rules
//!
//! Every limit is optional (absent = not checked). A command that breaks a rule is refused with
//! the rule's own reject reason (`RejectReason::from(RiskRule::...)`), so every rejection names
//! its rule. Submits and modifies are checked; cancels always pass (even with the kill switch
//! engaged: reducing risk is never refused). Rules are checked in this order, the first broken
//! one is reported:
//!
//! 1. **kill switch** ([`RiskRule::KillSwitch`], or [`RiskRule::DailyLoss`] when the daily loss
//!    limit tripped it): engaged, every submit and modify is refused (a modify of an order the
//!    gate does not know too).
//! 2. `max_order_qty` ([`RiskRule::MaxOrderQty`]): the order's (new) quantity in shares: for a
//!    modify, the open quantity it asks for (what can still trade), not counting what the order
//!    already filled.
//! 3. `max_order_notional` ([`RiskRule::MaxOrderNotional`]): quantity × the worst price the
//!    order can trade at, in dollars: a buy's limit; a sell's limit, or the best bid when that
//!    is higher (a sell "at market" is worth the bid).
//! 4. `price_band_bps` ([`RiskRule::PriceBand`]): a buy priced above
//!    `best ask × (1 + band)`, or a sell below `best bid × (1 − band)`, is refused. With the
//!    reference side empty the other side is the reference (a buy against the best bid, a sell
//!    against the best ask); with both sides empty there is no reference and the order is
//!    refused.
//! 5. `max_orders_per_sec` ([`RiskRule::OrderRate`]): at most this many submits + modifies
//!    passed the gate in the sliding window `(now − 1 s, now]` of **event time**. Refused
//!    commands do not count. When event time goes back (two days in one file, a splice),
//!    commands stamped after the new `now` leave the window.
//! 6. `max_position` ([`RiskRule::MaxPosition`]), per instrument, in shares, worst case: a buy is
//!    refused if `position + open buy quantity + this order > max`; a sell if
//!    `−(position − open sell quantity − this order) > max`. A modify replaces the order's open
//!    quantity by its new quantity; until the venue answers it, the order counts for the
//!    larger of the two (either may be what works), so commands sent meanwhile see the worst
//!    case. A refused modify is answered `AmendRejected`: the order stays counted as it was.
//! 7. `max_gross_exposure` ([`RiskRule::MaxGrossExposure`]), in dollars: the sum over
//!    instruments of the worst-case absolute position (as in 6, this order included) times the
//!    instrument's reference price (mid; else the one side there is; else the last fill
//!    price, or before any fill the first order's price; a negative price counts as 0). An
//!    order that does not raise the gross exposure (a sell reducing a long, a modify down)
//!    passes even when prices alone carried it over the limit.
//! 8. `daily_loss_limit`, in dollars (a positive number): when the P&L (cash flow + positions
//!    marked to mid − fees, since the gate was created or the trading day began
//!    ([`RiskGate::start_day`], [`Venue::start_day`]: the P&L then, marked at the day
//!    before's closes rounded to whole units, as the new day's empty books show it, is the
//!    new day's zero); with one
//!    side of the book empty, a long is marked at the bid and a short at the ask, else at the
//!    last price) falls to
//!    `−daily_loss_limit` or below, the gate trips its kill switch with
//!    [`RiskRule::DailyLoss`]: that strategy's orders are cancelled and its new ones refused,
//!    and [`Venue::take_trips`] hands the trip to the lane, which reports it as an incident.
//!    The next trading day ([`RiskGate::start_day`]) opens the gate again, with the day's
//!    loss counted from its start; the manual kill switch stays engaged.
//!    It is evaluated on every fill ([`RiskGate::on_report`]) and every
//!    check, whenever the owner calls [`RiskGate::evaluate`], and at the second boundaries of
//!    event time through [`Venue::mark`] (prices alone can break it: a position held while the
//!    market moves away, with no fill or command to trigger a check; the lane skips the marks
//!    of a stretch in which nothing happened, see [`Venue::mark`]).
//!
//! # Numbers
//!
//! Limits in dollars are `rust_decimal::Decimal` in the configuration (TOML integers, floats
//! or strings: a float is read through its shortest decimal representation, so `1000.1` is
//! exactly 1000.1) and are converted once, truncated, to integer **price units** (1/10000 of a
//! dollar). Every decision is then integer arithmetic in `i128`: price units × shares, so no
//! rounding and no overflow for any `i64` price and `u32`/`i64` quantity.
//!
//! # Scope
//!
//! A gate is one account: it sees the commands it checks and the reports ([`RiskGate::on_report`])
//! of the venue they went to. [`RiskedVenue`] wraps any [`Venue`] with **one gate per
//! strategy** (each a copy of the configured limits), so that a strategy's risk depends only on
//! its own orders and fills, never on which strategies share its lane: a run then decides the
//! same whatever the number of lanes. A strategy whose daily loss limit trips has its orders
//! cancelled and can send no more that day; the manual kill switch stops every strategy of
//! the lane.
//! Open orders are tracked from the gate's own accepted commands and the venue's updates, the
//! way a strategy's context tracks them: an order counts as open from the moment its submit
//! passes the gate (in flight included) until it is filled, cancelled, expired or rejected.

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Deserialize;
use ticklane_book::Market;
use ticklane_core::{InstrumentId, MarketEvent, Price, Side, Timestamp};
use ticklane_strategy::{
    ClientOrderId, Fill, OrderCommand, OrderUpdate, OrderUpdateKind, RejectReason, RiskRule,
    StrategyId, TradePrint,
};

use crate::venue::{Venue, VenueReport};

/// Pre-trade risk limits; every field optional. See the [module docs](self) for each rule.
///
/// ```toml
/// max_order_qty = 1000
/// max_order_notional = 50000       # dollars
/// max_position = 5000              # shares, per instrument
/// max_gross_exposure = "250000.50" # dollars
/// price_band_bps = 50
/// max_orders_per_sec = 100         # event time
/// daily_loss_limit = 2000          # dollars
/// ```
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskLimits {
    /// Maximum quantity of one order, shares.
    pub max_order_qty: Option<u32>,
    /// Maximum notional (price × quantity) of one order, dollars.
    #[serde(default, deserialize_with = "dollars")]
    pub max_order_notional: Option<Decimal>,
    /// Maximum absolute position per instrument, shares (open orders counted worst case).
    pub max_position: Option<u64>,
    /// Maximum gross exposure across instruments, dollars.
    #[serde(default, deserialize_with = "dollars")]
    pub max_gross_exposure: Option<Decimal>,
    /// Price band around the best bid/offer, basis points.
    pub price_band_bps: Option<u32>,
    /// Maximum submits + modifies per second of event time (sliding window).
    pub max_orders_per_sec: Option<u32>,
    /// Loss (positive dollars) at which the kill switch trips.
    #[serde(default, deserialize_with = "dollars")]
    pub daily_loss_limit: Option<Decimal>,
}

/// A risk configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RiskConfigError {
    /// The TOML did not parse or named an unknown key.
    #[error("risk limits: {0}")]
    Toml(#[from] toml::de::Error),
    /// A dollar limit is negative.
    #[error("risk limit `{field}` is negative: {value}")]
    Negative {
        /// Which limit.
        field: &'static str,
        /// Its value.
        value: Decimal,
    },
    /// The daily loss limit is zero (or below the price unit, $0.0001): a flat P&L would
    /// trip it before any trade.
    #[error(
        "risk limit `daily_loss_limit` is 0 (or below $0.0001): the gate would trip at a flat \
         P&L before any trade (leave it out for no limit)"
    )]
    ZeroDailyLoss,
    /// A limit outside the values that make sense for it.
    #[error("risk limit `{field}` = {value}: {why}")]
    OutOfRange {
        /// Which limit.
        field: &'static str,
        /// Its value.
        value: u64,
        /// Why it is refused.
        why: &'static str,
    },
}

impl RiskLimits {
    /// Parses limits from a TOML table (unknown keys are refused).
    pub fn from_toml_str(s: &str) -> Result<Self, RiskConfigError> {
        let limits: Self = toml::from_str(s)?;
        limits.validate()?;
        Ok(limits)
    }

    /// Checks that no dollar limit is negative, and that no limit set would refuse every
    /// order (a zero quantity, position, notional, exposure, rate or daily loss: leave a limit
    /// out for none).
    pub fn validate(&self) -> Result<(), RiskConfigError> {
        for (field, v) in [
            ("max_order_notional", self.max_order_notional),
            ("max_gross_exposure", self.max_gross_exposure),
            ("daily_loss_limit", self.daily_loss_limit),
        ] {
            if let Some(value) = v.filter(|d| d.is_sign_negative() && !d.is_zero()) {
                return Err(RiskConfigError::Negative { field, value });
            }
        }
        // The gate compares in price units (1/10,000 of a dollar, truncated): a limit below
        // one unit is zero there.
        if self.daily_loss_limit.is_some_and(|d| units(d) <= 0) {
            return Err(RiskConfigError::ZeroDailyLoss);
        }
        for (field, v) in [
            ("max_order_qty", self.max_order_qty.map(u64::from)),
            ("max_position", self.max_position),
        ] {
            if v == Some(0) {
                return Err(RiskConfigError::OutOfRange {
                    field,
                    value: 0,
                    why: "it would refuse every order (leave it out for no limit)",
                });
            }
        }
        for (field, v) in [
            ("max_order_notional", self.max_order_notional),
            ("max_gross_exposure", self.max_gross_exposure),
        ] {
            if v.is_some_and(|d| units(d) <= 0) {
                return Err(RiskConfigError::OutOfRange {
                    field,
                    value: 0,
                    why: "0 in the gate's price units ($0.0001, truncated): it would refuse \
                          every order (leave it out for no limit)",
                });
            }
        }
        if let Some(bps) = self.price_band_bps.filter(|&b| b >= 10_000) {
            return Err(RiskConfigError::OutOfRange {
                field: "price_band_bps",
                value: u64::from(bps),
                why:
                    "a band of 100% or more lets any sell price through (use 0..=9999; 0: no worse \
                      than the reference)",
            });
        }
        if self.max_orders_per_sec == Some(0) {
            return Err(RiskConfigError::OutOfRange {
                field: "max_orders_per_sec",
                value: 0,
                why: "it would refuse every order (leave it out for no limit)",
            });
        }
        Ok(())
    }
}

/// Dollars to price units, truncated; saturates at `i128::MAX` (never reached by a real limit).
fn units(d: Decimal) -> i128 {
    d.checked_mul(Decimal::from(Price::SCALE))
        .and_then(|u| u.trunc().to_i128())
        .unwrap_or(i128::MAX)
}

/// Deserializes an optional dollar amount from an integer, a float or a string.
fn dollars<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Option<Decimal>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an amount in dollars (integer, float or decimal string)")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(Decimal::from(v)))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Decimal::from(v)))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if !v.is_finite() {
                return Err(E::custom("amount must be finite"));
            }
            // Shortest round-trip representation: `1000.1` reads as exactly 1000.1.
            self.visit_str(&v.to_string())
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim()
                .parse::<Decimal>()
                .map(Some)
                .map_err(|e| E::custom(format!("bad amount `{v}`: {e}")))
        }
    }
    d.deserialize_any(V)
}

/// Limits converted to integers once (price units, shares).
#[derive(Clone, Copy, Debug, Default)]
struct Compiled {
    max_order_qty: Option<u32>,
    max_order_notional: Option<i128>,
    max_position: Option<i128>,
    max_gross_exposure: Option<i128>,
    price_band_bps: Option<u32>,
    max_orders_per_sec: Option<u32>,
    daily_loss_limit: Option<i128>,
}

/// What the gate knows of one instrument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RiskPosition {
    /// Net shares, positive long.
    pub net: i64,
    /// Cash flow, price units × shares (sells add, buys subtract).
    pub cash: i128,
    /// Fees paid (negative: rebates), price units.
    pub fees: i128,
    /// Open buy quantity (in flight included).
    pub open_buy: u64,
    /// Open sell quantity (in flight included).
    pub open_sell: u64,
    /// The last fill price; before the first fill, the first accepted order's price. The
    /// reference when the book has none.
    pub last_price: Option<Price>,
}

#[derive(Clone, Copy, Debug)]
struct OpenOrder {
    instrument: InstrumentId,
    side: Side,
    /// Its limit price when submitted (the instrument's reference price once the venue
    /// accepts it, if no fill has set one).
    price: Price,
    leaves: u32,
    accepted: bool,
    /// The largest quantity among this order's modifies on their way (0: none): until the
    /// venue answers, the order may end up that large.
    amend_max: u32,
    /// Modifies on their way.
    amends: u32,
    /// Shares the gate has seen filled.
    filled: u32,
}

impl OpenOrder {
    /// What the order counts for against the limits: its open quantity, or more while a
    /// modify that may raise it is on its way (the worst case).
    #[inline]
    fn counted(&self) -> u32 {
        self.leaves.max(self.amend_max)
    }

    /// One modify answered (taken or refused).
    #[inline]
    fn amend_answered(&mut self) {
        self.amends = self.amends.saturating_sub(1);
        if self.amends == 0 {
            self.amend_max = 0;
        }
    }
}

/// Checks order commands against [`RiskLimits`]; tracks positions, open orders and P&L from
/// the venue's reports. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct RiskGate {
    limits: RiskLimits,
    c: Compiled,
    positions: BTreeMap<InstrumentId, RiskPosition>,
    open: BTreeMap<ClientOrderId, OpenOrder>,
    window: VecDeque<Timestamp>,
    tripped: Option<RiskRule>,
    /// The manual kill switch was engaged (whatever `tripped` says: a gate its daily loss
    /// limit had tripped first keeps that rule, and a new day must not open it).
    killed: bool,
    rejects: [u64; RiskRule::ALL.len()],
    /// [`RiskGate::pnl_halves`] when the trading day began: the daily loss limit counts from it.
    day_start: i128,
}

impl RiskGate {
    /// A gate with these limits.
    pub fn new(limits: RiskLimits) -> Result<Self, RiskConfigError> {
        limits.validate()?;
        let c = Compiled {
            max_order_qty: limits.max_order_qty,
            max_order_notional: limits.max_order_notional.map(units),
            max_position: limits.max_position.map(i128::from),
            max_gross_exposure: limits.max_gross_exposure.map(units),
            price_band_bps: limits.price_band_bps,
            max_orders_per_sec: limits.max_orders_per_sec,
            daily_loss_limit: limits.daily_loss_limit.map(units),
        };
        Ok(Self {
            limits,
            c,
            positions: BTreeMap::new(),
            open: BTreeMap::new(),
            window: VecDeque::new(),
            tripped: None,
            killed: false,
            rejects: [0; RiskRule::ALL.len()],
            day_start: 0,
        })
    }

    /// The limits.
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    /// Engages the kill switch by hand (the control plane's manual kill switch).
    pub fn engage_kill_switch(&mut self) {
        self.killed = true;
        if self.tripped.is_none() {
            self.tripped = Some(RiskRule::KillSwitch);
        }
    }

    /// Why the kill switch is engaged ([`RiskRule::KillSwitch`] or [`RiskRule::DailyLoss`]).
    pub fn tripped(&self) -> Option<RiskRule> {
        self.tripped
    }

    /// Rejections so far by rule, in [`RiskRule::ALL`] order.
    pub fn rejects(&self) -> [(RiskRule, u64); RiskRule::ALL.len()] {
        let mut r = [(RiskRule::MaxOrderQty, 0); RiskRule::ALL.len()];
        for (i, rule) in RiskRule::ALL.iter().enumerate() {
            r[i] = (*rule, self.rejects[i]);
        }
        r
    }

    /// What the gate knows of `instrument`.
    pub fn position(&self, instrument: InstrumentId) -> RiskPosition {
        self.positions.get(&instrument).copied().unwrap_or_default()
    }

    /// Exchanges what the gate holds in instruments `a` and `b` (either may have none): net
    /// position, cash, fees and reference price. Open quantities stay with their instrument,
    /// as the orders do at the venue (an order sent at the day's start, before the directory
    /// named its instrument again, works where it was sent): when a new trading day gives a
    /// symbol held overnight another stock locate.
    pub fn swap_instruments(&mut self, a: InstrumentId, b: InstrumentId) {
        if a == b {
            return;
        }
        let mut pa = self.positions.remove(&a).unwrap_or_default();
        let mut pb = self.positions.remove(&b).unwrap_or_default();
        core::mem::swap(&mut pa, &mut pb);
        core::mem::swap(&mut pa.open_buy, &mut pb.open_buy);
        core::mem::swap(&mut pa.open_sell, &mut pb.open_sell);
        for (id, p) in [(a, pa), (b, pb)] {
            if p != RiskPosition::default() {
                self.positions.insert(id, p);
            }
        }
    }

    /// Orders the gate counts as open.
    pub fn open_orders(&self) -> usize {
        self.open.len()
    }

    /// The instrument of open order `id`, if the gate counts it as open.
    pub fn open_instrument(&self, id: ClientOrderId) -> Option<InstrumentId> {
        self.open.get(&id).map(|o| o.instrument)
    }

    /// Checks a command at event time `now`. On success the command is recorded (order rate
    /// window, open orders); on failure nothing changes but the reject counter.
    pub fn check(
        &mut self,
        now: Timestamp,
        cmd: &OrderCommand,
        market: &Market,
    ) -> Result<(), RiskRule> {
        let r = self.check_inner(now, cmd, market);
        if let Err(rule) = r {
            if let Some(i) = RiskRule::ALL.iter().position(|x| *x == rule) {
                self.rejects[i] += 1;
            }
        }
        r
    }

    /// The rules that refuse every submit and modify whatever it is: the kill switch (daily
    /// loss evaluated first) and a stale book.
    fn refuses_everything(&mut self, market: &Market) -> Result<(), RiskRule> {
        self.evaluate(market);
        if let Some(rule) = self.tripped {
            return Err(rule);
        }
        if market.stale().is_some() {
            return Err(RiskRule::StaleBook);
        }
        Ok(())
    }

    fn check_inner(
        &mut self,
        now: Timestamp,
        cmd: &OrderCommand,
        market: &Market,
    ) -> Result<(), RiskRule> {
        let (id, instrument, side, price, qty, replaces) = match *cmd {
            OrderCommand::Cancel { .. } => return Ok(()),
            OrderCommand::Submit { id, request } => (
                id,
                request.instrument,
                request.side,
                request.price,
                request.qty.0,
                None,
            ),
            OrderCommand::Modify {
                id,
                price,
                qty,
                filled,
            } => match self.open.get(&id).copied() {
                // The venue takes fills the strategy did not know of (beyond the modify's
                // `filled`) off its size: the gate has seen those already (reports reach it
                // before the strategy), and counted them as held.
                Some(o) => {
                    let unknown = o.filled.saturating_sub(filled.0);
                    let effective = qty.0.saturating_sub(unknown);
                    (id, o.instrument, o.side, price, effective, Some(o))
                }
                // An order the gate does not know: the venue will refuse the modify, but a
                // tripped gate or a stale book refuse it first, as they refuse everything.
                None => return self.refuses_everything(market),
            },
        };
        self.refuses_everything(market)?;
        if self.c.max_order_qty.is_some_and(|m| qty > m) {
            return Err(RiskRule::MaxOrderQty);
        }
        // What the order can trade at, worst case: a buy at its limit or better (lower); a
        // sell at its limit or better (higher), so at the best bid when that is above its
        // limit (a sell "at market", `Price(1)`, is worth the bid, not $0.0001 a share).
        let worst = match side {
            Side::Bid => price,
            Side::Ask => market
                .book(instrument)
                .and_then(|b| b.best_bid())
                .map_or(price, |b| b.price.max(price)),
        };
        let notional = i128::from(worst.0) * i128::from(qty);
        if self.c.max_order_notional.is_some_and(|m| notional > m) {
            return Err(RiskRule::MaxOrderNotional);
        }
        if let Some(bps) = self.c.price_band_bps {
            if !in_band(market, instrument, side, price, bps) {
                return Err(RiskRule::PriceBand);
            }
        }
        if let Some(max) = self.c.max_orders_per_sec {
            // The window is (now - 1 s, now]: in the first second of event time nothing has
            // left it (orders at time 0 included). After event time went back (two days in
            // one file, a splice), stamps after `now` are not in it either: dropped, so that
            // the window stays in time order and the pruning below reaches every old stamp.
            if self.window.back().is_some_and(|t| *t > now) {
                self.window.retain(|t| *t <= now);
            }
            if let Some(floor) = now.0.checked_sub(Timestamp::NANOS_PER_SEC) {
                while self.window.front().is_some_and(|t| t.0 <= floor) {
                    self.window.pop_front();
                }
            }
            if self.window.len() >= max as usize {
                return Err(RiskRule::OrderRate);
            }
        }
        // Worst-case positions with this order (a modify replaces the order's open quantity).
        let worst = |p: &RiskPosition, inst: InstrumentId| -> (i128, i128) {
            let mut buy = i128::from(p.open_buy);
            let mut sell = i128::from(p.open_sell);
            if inst == instrument {
                if let Some(o) = replaces {
                    match o.side {
                        Side::Bid => buy -= i128::from(o.counted()),
                        Side::Ask => sell -= i128::from(o.counted()),
                    }
                }
                match side {
                    Side::Bid => buy += i128::from(qty),
                    Side::Ask => sell += i128::from(qty),
                }
            }
            let net = i128::from(p.net);
            (net + buy, -(net - sell))
        };
        let mine = self.position(instrument);
        if let Some(max) = self.c.max_position {
            let (long, short) = worst(&mine, instrument);
            let breach = match side {
                Side::Bid => long > max,
                Side::Ask => short > max,
            };
            if breach {
                return Err(RiskRule::MaxPosition);
            }
        }
        if let Some(max) = self.c.max_gross_exposure {
            // Gross exposure with this order (`with`) or as it stands. An order that does not
            // raise it (a sell that reduces a long, a modify down) passes even when prices
            // alone carried it over the limit: reducing risk is never refused.
            let gross = |with: bool| -> i128 {
                let mut gross: i128 = 0;
                let mut seen = false;
                for (&inst, p) in &self.positions {
                    seen |= inst == instrument;
                    let (long, short) = if with {
                        worst(p, inst)
                    } else {
                        (
                            i128::from(p.net) + i128::from(p.open_buy),
                            i128::from(p.open_sell) - i128::from(p.net),
                        )
                    };
                    // With no book, no fill and no accepted order there, an instrument's
                    // orders in flight are valued at their own highest price (they were
                    // valued at the price of the order being checked, which may be another
                    // instrument's). A price below zero (an order the venue will refuse) is
                    // worth nothing, never a negative amount that hides other exposure.
                    let px = reference(market, inst, p.last_price)
                        .or_else(|| self.highest_open_price(inst))
                        .unwrap_or(price);
                    gross += long.max(short).max(0) * i128::from(px.0.max(0));
                }
                if !seen && with {
                    let (long, short) = worst(&RiskPosition::default(), instrument);
                    let px = reference(market, instrument, None).unwrap_or(price);
                    gross += long.max(short).max(0) * i128::from(px.0.max(0));
                }
                gross
            };
            let after = gross(true);
            if after > max && after > gross(false) {
                return Err(RiskRule::MaxGrossExposure);
            }
        }
        // Passed: record it.
        if self.c.max_orders_per_sec.is_some() {
            self.window.push_back(now);
        }
        let p = self.positions.entry(instrument).or_default();
        match replaces {
            // Until the venue answers, the order counts for the larger of its open quantity
            // and the modify's ([`OpenOrder::counted`]): either may be what works.
            Some(_) => self.change_open(&id, |o| {
                o.amend_max = o.amend_max.max(qty);
                o.amends += 1;
            }),
            None => {
                self.open.insert(
                    id,
                    OpenOrder {
                        instrument,
                        side,
                        price,
                        leaves: qty,
                        accepted: false,
                        amend_max: 0,
                        amends: 0,
                        filled: 0,
                    },
                );
                add_open(p, side, qty);
            }
        }
        Ok(())
    }

    /// Feeds a venue report (fills move positions, cash and fees; updates close orders).
    /// Evaluates the daily loss limit after a fill.
    pub fn on_report(&mut self, report: &VenueReport, market: &Market) {
        match report {
            VenueReport::Fill(f) => {
                self.on_fill(f);
                self.evaluate(market);
            }
            VenueReport::Update(u) => self.on_update(u),
        }
    }

    /// A fill of one of the account's orders.
    pub fn on_fill(&mut self, f: &Fill) {
        let p = self.positions.entry(f.instrument).or_default();
        let q = i128::from(f.qty.0);
        match f.side {
            Side::Bid => {
                p.net += i64::from(f.qty.0);
                p.cash -= i128::from(f.price.0) * q;
            }
            Side::Ask => {
                p.net -= i64::from(f.qty.0);
                p.cash += i128::from(f.price.0) * q;
            }
        }
        p.fees += i128::from(f.fee);
        p.last_price = Some(f.price);
        self.change_open(&f.id, |o| {
            o.leaves -= f.qty.0.min(o.leaves);
            o.filled = o.filled.saturating_add(f.qty.0);
            // A modify on its way was sent without knowing this fill (the gate passes a
            // modify before the fills still on their way to the strategy), and the venue
            // takes what traded beyond the modify's `filled` off its size: the order cannot
            // end up larger than the modify less this fill (it was counted twice, held and
            // open: 160 shares against a limit of 150 where 100 could be).
            if o.amends > 0 {
                o.amend_max = o.amend_max.saturating_sub(f.qty.0);
            }
        });
    }

    /// The highest limit price among the gate's open orders in `instrument`.
    fn highest_open_price(&self, instrument: InstrumentId) -> Option<Price> {
        self.open
            .values()
            .filter(|o| o.instrument == instrument)
            .map(|o| o.price)
            .max()
    }

    /// Applies `change` to open order `id` and moves its side's open quantity by the change
    /// of what the order counts for.
    fn change_open(&mut self, id: &ClientOrderId, change: impl FnOnce(&mut OpenOrder)) {
        let Some(o) = self.open.get_mut(id) else {
            return;
        };
        let before = o.counted();
        change(o);
        let (after, side) = (o.counted(), o.side);
        if let Some(p) = self.positions.get_mut(&o.instrument) {
            if after >= before {
                add_open(p, side, after - before);
            } else {
                sub_open(p, side, before - after);
            }
        }
    }

    /// An order update of one of the account's orders.
    pub fn on_update(&mut self, u: &OrderUpdate) {
        let Some(o) = self.open.get(&u.id).copied() else {
            return;
        };
        match u.kind {
            OrderUpdateKind::Accepted => {
                if let Some(o) = self.open.get_mut(&u.id) {
                    o.accepted = true;
                }
                // The first order the venue took sets the reference until a fill does (one it
                // rejects, a price of 0 say, never does).
                let p = self.positions.entry(o.instrument).or_default();
                if p.last_price.is_none() {
                    p.last_price = Some(o.price);
                }
            }
            OrderUpdateKind::Modified { qty, .. } => self.change_open(&u.id, |o| {
                o.leaves = qty.0;
                o.amend_answered();
            }),
            // A refused cancel or modify: the order is still working. (A venue that reports
            // one as `Rejected` on an accepted order is read the same way.) A cancel is refused
            // only when the venue no longer has the order (its last update is on its way), so
            // counting it as an answer cannot end a worst case that still matters.
            OrderUpdateKind::AmendRejected(_) => self.change_open(&u.id, OpenOrder::amend_answered),
            OrderUpdateKind::Rejected(_) if o.accepted => {
                self.change_open(&u.id, OpenOrder::amend_answered);
            }
            OrderUpdateKind::Rejected(_)
            | OrderUpdateKind::Cancelled
            | OrderUpdateKind::Expired
            | OrderUpdateKind::Filled => {
                self.open.remove(&u.id);
                if let Some(p) = self.positions.get_mut(&o.instrument) {
                    sub_open(p, o.side, o.counted());
                }
            }
        }
    }

    /// P&L since the gate was created, price units × shares: cash flow plus positions marked to
    /// mid, minus fees. With one side of the book empty a position is marked where it could be
    /// closed (a long at the bid, a short at the ask), else at the last price: never at the
    /// far side, which would show a profit exactly when liquidity is gone.
    ///
    /// Rounded toward negative infinity to a whole price unit: the exact mid of a book an odd
    /// number of units wide is a half unit, which [`RiskGate::evaluate`] compares exactly.
    pub fn pnl(&self, market: &Market) -> i128 {
        self.pnl_halves(market).div_euclid(2)
    }

    /// [`RiskGate::pnl`] in half price units, exact: positions marked at `bid + ask` (twice
    /// the exact mid). The book's `mid()` rounds half units down, which showed a long a loss
    /// and a short a profit that were not there (the ledger's rule since; the gate kept it:
    /// a long tripped the daily loss limit early, a short late or never).
    fn pnl_halves(&self, market: &Market) -> i128 {
        self.positions
            .iter()
            .map(|(&inst, p)| {
                let mark2 = closing_mark_doubled(market, inst, p.net, p.last_price);
                2 * p.cash + i128::from(p.net) * mark2 - 2 * p.fees
            })
            .sum()
    }

    /// A new trading day begins (call it while `market` still holds the day before's books):
    /// each position's reference price becomes its close on those books (rounded against the
    /// position to a whole price unit), and the P&L marked there, which the new day's empty
    /// books show, is the day's zero for the daily loss limit. A gate
    /// that its daily loss limit tripped is open again: the limit is the day's, and the new
    /// day's loss counts from here (a strategy of a backtest over many days that lost its
    /// limit once sat out every day after). A manual kill switch stays engaged: a person
    /// lifts it, with a new run.
    pub fn start_day(&mut self, market: &Market) {
        if self.tripped == Some(RiskRule::DailyLoss) {
            self.tripped = self.killed.then_some(RiskRule::KillSwitch);
        }
        // The new day's books start empty, where a position is marked at its reference price:
        // that is now the day before's close (its last fill could be hours and dollars away,
        // a loss or a gain on a day on which nothing has traded). Rounded against the
        // position where the close is a half unit.
        for (&inst, p) in &mut self.positions {
            let mark2 = closing_mark_doubled(market, inst, p.net, p.last_price);
            let close = if p.net < 0 {
                mark2.div_euclid(2) + mark2.rem_euclid(2)
            } else {
                mark2.div_euclid(2)
            };
            if mark2 != 0 {
                if let Ok(px) = i64::try_from(close) {
                    p.last_price = Some(Price(px));
                }
            }
        }
        // The day's zero is the P&L those empty books show: marked at the close just set, not
        // at the exact mid (a half unit away where the book was an odd number of units wide,
        // which showed a loss on a day on which nothing had traded, and could trip the limit).
        self.day_start = self
            .positions
            .values()
            .map(|p| {
                let mark2 = p.last_price.map_or(0, |px| 2 * i128::from(px.0));
                2 * p.cash + i128::from(p.net) * mark2 - 2 * p.fees
            })
            .sum();
    }

    /// Evaluates the daily loss limit; returns `true` if this call tripped the kill switch.
    pub fn evaluate(&mut self, market: &Market) -> bool {
        if self.tripped.is_some() {
            return false;
        }
        let Some(limit) = self.c.daily_loss_limit else {
            return false;
        };
        // A limit saturated at `i128::MAX` (too large for price units) must not overflow.
        if self.pnl_halves(market).saturating_sub(self.day_start) <= limit.saturating_mul(-2) {
            self.tripped = Some(RiskRule::DailyLoss);
            return true;
        }
        false
    }
}

fn add_open(p: &mut RiskPosition, side: Side, qty: u32) {
    match side {
        Side::Bid => p.open_buy += u64::from(qty),
        Side::Ask => p.open_sell += u64::from(qty),
    }
}

fn sub_open(p: &mut RiskPosition, side: Side, qty: u32) {
    match side {
        Side::Bid => p.open_buy = p.open_buy.saturating_sub(u64::from(qty)),
        Side::Ask => p.open_sell = p.open_sell.saturating_sub(u64::from(qty)),
    }
}

/// The price exposure is valued at: the mid rounded up to a whole price unit (a limit errs on
/// the safe side: the book's `mid()` rounds half units down), else the one side there is, else
/// `fallback`.
fn reference(market: &Market, instrument: InstrumentId, fallback: Option<Price>) -> Option<Price> {
    let (bid, ask) = market
        .book(instrument)
        .map_or((None, None), |b| (b.best_bid(), b.best_ask()));
    match (bid, ask) {
        (Some(bid), Some(ask)) => {
            let sum = i128::from(bid.price.0) + i128::from(ask.price.0);
            i64::try_from((sum + 1).div_euclid(2)).ok().map(Price)
        }
        (Some(l), None) | (None, Some(l)) => Some(l.price),
        (None, None) => None,
    }
    .or(fallback)
}

/// Twice where a position of `net` is marked for its P&L, in price units: `bid + ask` (twice
/// the exact mid); else twice the side it would close against (the bid for a long, the ask for
/// a short); else twice `fallback`; else 0.
fn closing_mark_doubled(
    market: &Market,
    instrument: InstrumentId,
    net: i64,
    fallback: Option<Price>,
) -> i128 {
    let price = |l: Option<ticklane_book::LevelView>| l.map(|l| i128::from(l.price.0));
    let (bid, ask) = market
        .book(instrument)
        .map_or((None, None), |b| (price(b.best_bid()), price(b.best_ask())));
    match (bid, ask) {
        (Some(bid), Some(ask)) => bid + ask,
        _ => {
            let closing = if net > 0 { bid } else { ask };
            closing
                .or(fallback.map(|p| i128::from(p.0)))
                .map_or(0, |p| 2 * p)
        }
    }
}

/// Whether `price` is inside the band (integer: `price × 10000` against `ref × (10000 ± bps)`).
fn in_band(market: &Market, instrument: InstrumentId, side: Side, price: Price, bps: u32) -> bool {
    let Some(book) = market.book(instrument) else {
        return false;
    };
    let (bid, ask) = (book.best_bid(), book.best_ask());
    let p = i128::from(price.0) * 10_000;
    let bps = i128::from(bps);
    match side {
        Side::Bid => match ask.or(bid) {
            Some(r) => p <= i128::from(r.price.0) * (10_000 + bps),
            None => false,
        },
        Side::Ask => match bid.or(ask) {
            Some(r) => p >= i128::from(r.price.0) * (10_000 - bps),
            None => false,
        },
    }
}

/// Any [`Venue`] behind one [`RiskGate`] per strategy: submits and modifies that break a
/// strategy's limit are refused at once (never reach the venue) with their rule's reason; every
/// report of the venue is fed to the gate of the strategy it belongs to.
///
/// Limits are per strategy, not per lane, on purpose: a strategy's risk then depends only on
/// its own orders and fills, never on which other strategies share its lane, so a run decides
/// the same whatever the number of lanes (the run digest checks this). When a strategy's daily
/// loss limit trips, that strategy's orders are cancelled and it can send no more; the other
/// strategies go on. The manual kill switch ([`RiskedVenue::engage_kill_switch`]) stops every
/// strategy of the lane.
#[derive(Debug)]
pub struct RiskedVenue<V> {
    venue: V,
    /// The gate every strategy starts from (the configured limits, nothing traded).
    template: RiskGate,
    /// Gates by strategy index (created on a strategy's first command).
    gates: Vec<Option<RiskGate>>,
    /// Strategies whose kill switch tripped and whose cancel-all is still to be sent.
    cancel_pending: Vec<u16>,
    /// Strategies whose own limit tripped, not yet taken by [`Venue::take_trips`].
    trips: Vec<(StrategyId, RiskRule)>,
}

impl<V: Venue> RiskedVenue<V> {
    /// Wraps `venue`; every strategy gets a copy of `gate`.
    pub fn new(venue: V, gate: RiskGate) -> Self {
        Self {
            venue,
            template: gate,
            gates: Vec::new(),
            cancel_pending: Vec::new(),
            trips: Vec::new(),
        }
    }

    /// The gate of `strategy` (a fresh one if it has sent nothing yet).
    pub fn gate(&self, strategy: StrategyId) -> &RiskGate {
        match self.gates.get(usize::from(strategy.0)) {
            Some(Some(g)) => g,
            _ => &self.template,
        }
    }

    fn gate_mut(&mut self, strategy: u16) -> &mut RiskGate {
        let i = usize::from(strategy);
        if self.gates.len() <= i {
            self.gates.resize_with(i + 1, || None);
        }
        let template = &self.template;
        self.gates[i].get_or_insert_with(|| template.clone())
    }

    /// The venue.
    pub fn venue(&self) -> &V {
        &self.venue
    }

    /// The venue, mutably.
    pub fn venue_mut(&mut self) -> &mut V {
        &mut self.venue
    }

    /// Engages the kill switch of every strategy: refuses new orders and cancels every working
    /// one. Returns how many orders the venue's kill switch cancelled
    /// ([`Venue::engage_kill_switch`]).
    pub fn engage_kill_switch(
        &mut self,
        now: Timestamp,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) -> u64 {
        self.template.engage_kill_switch();
        for g in self.gates.iter_mut().flatten() {
            g.engage_kill_switch();
        }
        let from = out.len();
        let cancelled = self.venue.engage_kill_switch(now, market, out);
        self.observe(from, now, market, out);
        cancelled
    }

    /// `strategy`'s gate just tripped on `rule`: its orders are to be cancelled, and the lane
    /// is to hear of it.
    fn just_tripped(&mut self, strategy: u16, rule: RiskRule) {
        if !self.cancel_pending.contains(&strategy) {
            self.cancel_pending.push(strategy);
        }
        self.trips.push((StrategyId(strategy), rule));
    }

    /// Feeds `out[from..]` to the strategies' gates; cancels the orders of a strategy whose
    /// kill switch just tripped.
    fn observe(
        &mut self,
        from: usize,
        now: Timestamp,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) {
        if out.len() == from && self.cancel_pending.is_empty() {
            // Nothing reported, nobody tripped: the common case on every market event.
            return;
        }
        for r in &out[from..] {
            let strategy = match r {
                VenueReport::Update(u) => u.id.strategy(),
                VenueReport::Fill(f) => f.id.strategy(),
            };
            let gate = self.gate_mut(strategy);
            let was = gate.tripped();
            gate.on_report(r, market);
            if let (None, Some(rule)) = (was, gate.tripped()) {
                self.just_tripped(strategy, rule);
            }
        }
        // Cancel the orders of every strategy that tripped (in the order they tripped).
        let pending = std::mem::take(&mut self.cancel_pending);
        for s in pending {
            let from = out.len();
            self.venue.cancel_all(now, Some(StrategyId(s)), out);
            for r in &out[from..] {
                self.gate_mut(s).on_report(r, market);
            }
        }
    }
}

impl<V: Venue> Venue for RiskedVenue<V> {
    fn advance(&mut self, now: Timestamp, market: &Market, out: &mut Vec<VenueReport>) {
        let from = out.len();
        self.venue.advance(now, market, out);
        self.observe(from, now, market, out);
    }

    fn has_pending(&self) -> bool {
        self.venue.has_pending()
    }

    fn next_due(&self) -> Option<Timestamp> {
        self.venue.next_due()
    }

    fn on_command(
        &mut self,
        now: Timestamp,
        cmd: &OrderCommand,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) {
        let mut from = out.len();
        let strategy = cmd.id().strategy();
        if let OrderCommand::Submit { id, request } = *cmd {
            if self
                .gate(StrategyId(strategy))
                .open_instrument(id)
                .is_some()
            {
                // A second submit under a live order's id: refused here, as the venue would
                // refuse it, so that its refusal does not erase the gate's record of the live
                // order (whose later modifies would then go unchecked).
                out.push(VenueReport::Update(OrderUpdate {
                    ts: now,
                    id,
                    instrument: request.instrument,
                    kind: OrderUpdateKind::Rejected(RejectReason::InvalidOrder),
                }));
                return;
            }
        }
        let was = self.gate_mut(strategy).tripped();
        match self.gate_mut(strategy).check(now, cmd, market) {
            Ok(()) => self.venue.on_command(now, cmd, market, out),
            Err(rule) => {
                let why = RejectReason::from(rule);
                let (instrument, kind) = match *cmd {
                    OrderCommand::Submit { request, .. } => {
                        (request.instrument, OrderUpdateKind::Rejected(why))
                    }
                    // The order stays as it was: only the amendment is refused. The report
                    // names the order's instrument, as the venue's own answers do, so that a
                    // strategy can find the order it refers to.
                    _ => (
                        self.gate(StrategyId(strategy))
                            .open_instrument(cmd.id())
                            .unwrap_or(InstrumentId::NONE),
                        OrderUpdateKind::AmendRejected(why),
                    ),
                };
                out.push(VenueReport::Update(OrderUpdate {
                    ts: now,
                    id: cmd.id(),
                    instrument,
                    kind,
                }));
                // The gate's own answer: it has nothing to learn from it (the command never
                // reached the venue, so no modify of its is on its way).
                from = out.len();
                // Only the check that tripped the gate cancels: a command refused by a gate
                // that had already tripped finds that strategy's orders cancelled.
                if rule == RiskRule::DailyLoss && was.is_none() {
                    self.just_tripped(strategy, rule);
                }
            }
        }
        self.observe(from, now, market, out);
    }

    fn on_market(
        &mut self,
        event: &MarketEvent,
        trade: Option<&TradePrint>,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) {
        let from = out.len();
        self.venue.on_market(event, trade, market, out);
        self.observe(from, event.ts, market, out);
    }

    fn cancel_all(
        &mut self,
        now: Timestamp,
        strategy: Option<StrategyId>,
        out: &mut Vec<VenueReport>,
    ) {
        let from = out.len();
        self.venue.cancel_all(now, strategy, out);
        // Fills that were on their way move positions and cash here; the daily loss they may
        // break is evaluated at the next second's mark or the strategy's own next command
        // (there is no market to mark against here, and evaluating at whatever the venue sees
        // next would make the trip's time depend on which strategies share the lane).
        for r in &out[from..] {
            match r {
                VenueReport::Update(u) => self.gate_mut(u.id.strategy()).on_update(u),
                VenueReport::Fill(f) => self.gate_mut(f.id.strategy()).on_fill(f),
            }
        }
    }

    fn working_orders(&self) -> usize {
        self.venue.working_orders()
    }

    fn watches(&self, instrument: InstrumentId) -> bool {
        self.venue.watches(instrument)
    }

    fn engage_kill_switch(
        &mut self,
        now: Timestamp,
        market: &Market,
        out: &mut Vec<VenueReport>,
    ) -> u64 {
        RiskedVenue::engage_kill_switch(self, now, market, out)
    }

    fn start_day(&mut self, market: &Market) {
        self.venue.start_day(market);
        for gate in self.gates.iter_mut().flatten() {
            gate.start_day(market);
        }
    }

    fn swap_instruments(&mut self, strategy: StrategyId, a: InstrumentId, b: InstrumentId) {
        self.venue.swap_instruments(strategy, a, b);
        if let Some(Some(gate)) = self.gates.get_mut(usize::from(strategy.0)) {
            gate.swap_instruments(a, b);
        }
    }

    fn take_trips(&mut self, out: &mut Vec<(StrategyId, RiskRule)>) {
        // Only the manual kill switch stops the lane (the lane engages it); a strategy's own
        // limit stops that strategy (see the type's docs).
        out.append(&mut self.trips);
    }

    fn mark(&mut self, now: Timestamp, market: &Market, out: &mut Vec<VenueReport>) {
        // What the inner venue's mark reports goes to the gates too (it was left out).
        let from = out.len();
        self.venue.mark(now, market, out);
        for strategy in 0..self.gates.len() {
            let Some(gate) = self.gates[strategy].as_mut() else {
                continue;
            };
            if !gate.evaluate(market) {
                continue;
            }
            let tripped = gate.tripped();
            if let Some(rule) = tripped {
                self.just_tripped(strategy as u16, rule);
            }
        }
        self.observe(from, now, market, out);
    }
}
