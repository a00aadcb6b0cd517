//! Normalization of decoded ITCH 5.0 messages into venue-agnostic [`MarketEvent`]s.
//!
//! Every event carries `ts` = the 48-bit ITCH timestamp (ns since midnight) and
//! `instrument` = the stock locate code ([`InstrumentId::NONE`], i.e. 0, for market-wide
//! messages such as `S`, `V` and `W`). Prices are copied unscaled: ITCH `Price(4)` is
//! [`Price`]'s scale and `Price(8)` is [`WidePrice`]'s.
//!
//! | ITCH | event |
//! |------|-------|
//! | `A`, `F` | [`EventBody::OrderAdded`] (`mpid` = `F`'s attribution, zeros for `A`) |
//! | `E` | [`EventBody::OrderExecuted`] |
//! | `C` | [`EventBody::OrderExecutedWithPrice`] (`printable`: `Y` → true, `N` → false) |
//! | `X` | [`EventBody::OrderCancelled`] |
//! | `D` | [`EventBody::OrderDeleted`] |
//! | `U` | [`EventBody::OrderReplaced`] |
//! | `P` | [`EventBody::Trade`] |
//! | `Q` | [`EventBody::CrossTrade`] |
//! | `B` | [`EventBody::BrokenTrade`] |
//! | `R` | [`EventBody::InstrumentDirectory`] |
//! | `H` | [`EventBody::TradingStatus`] (`H` halted, `P` paused, `Q` quotation only, `T` trading) |
//! | `h` | [`EventBody::TradingStatus`] for market code `Q` (Nasdaq: `H` → operational halt, `T` → resume; reason = `Q`, then spaces); none for `B` and `X` (a halt of Nasdaq BX or PSX leaves Nasdaq's book trading) |
//! | `Y` | [`EventBody::ShortSaleRestriction`] (active unless the code is `0`) |
//! | `V` | [`EventBody::CircuitBreakerLevels`] |
//! | `W` | [`EventBody::CircuitBreakerBreached`] (level 1, 2 or 3) |
//! | `J` | [`EventBody::AuctionCollar`] |
//! | `S` | [`EventBody::SystemEvent`] (`O`, `S`, `Q`, `M`, `E`, `C`) |
//! | `I` | [`EventBody::Imbalance`] |
//!
//! Informational messages with no normalized form return `Ok(None)`: `K` (IPO quoting period
//! update), `L` (market participant position), `N` (retail price improvement indicator), `O`
//! (direct listing with capital raise price discovery) and an `h` of another market (BX, PSX).
//! Consumers that need them use the [`Message`] directly.
//!
//! An enumerated field outside the specification's values (side not `B`/`S`, an unknown event
//! code, trading state, cross type, imbalance direction, `Y`/`N` flag, the stock directory's
//! one-letter codes and the NOII price variation indicator, ...) is an error,
//! [`NormalizeError::InvalidField`], never a guess; the one field passed on unchecked is the
//! stock directory's two-letter issue subtype (a long list that NASDAQ extends).
//!
//! Stock locate 0 is reserved for the market-wide messages (`S`, `V`, `W`), which carry
//! [`InstrumentId::NONE`] whatever locate they hold; any other mapped message with locate 0 is
//! an [`NormalizeError::InvalidField`] (`stock_locate`), not an event: [`InstrumentId::NONE`]
//! means "every instrument" to the router and the lanes, so an order event with it would reach
//! every lane's books. Cross types are accepted from the union of
//! the `Q` and `I` value sets (`O`, `C`, `H`, `I` intraday/post-close, `A` extended trading
//! close), since NASDAQ has added values to one and then the other. A `Price(8)` above
//! `i64::MAX` (impossible in practice) saturates.

use thiserror::Error;
use ticklane_core::{
    AuctionKind, EventBody, ImbalanceDirection, InstrumentId, InstrumentInfo, MarketEvent, MatchId,
    OrderId, Price, Qty, Side, Symbol, SystemEventCode, Timestamp, TradingState, WidePrice,
};

use super::decode::Message;
use super::wire::{
    AddOrder, BeU16, BeU32, OrderCancel, OrderDelete, OrderExecuted, OrderReplace, Ts48,
};

/// Why a well-formed message could not be normalized.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum NormalizeError {
    /// An enumerated field holds a value the specification does not define.
    #[error("ITCH message type {ty:#04x}: invalid {field} {value:#04x}")]
    InvalidField {
        /// Message type byte.
        ty: u8,
        /// Wire field name.
        field: &'static str,
        /// The offending byte.
        value: u8,
    },
}

#[cold]
#[inline(never)]
fn invalid(ty: u8, field: &'static str, value: u8) -> NormalizeError {
    NormalizeError::InvalidField { ty, field, value }
}

/// `B` → bid, `S` → ask. Branch-light: buys and sells alternate unpredictably, so the side is
/// computed, not branched on. `B` is 0x42 and `S` is 0x53: bit 4 selects the side, and the
/// byte is valid exactly when it equals `0x42 + bit4 * 0x11`, one well-predicted compare.
#[inline(always)]
pub(super) fn side(ty: u8, v: u8) -> Result<Side, NormalizeError> {
    let ask = (v >> 4) & 1;
    if v != b'B' + ask * (b'S' - b'B') {
        return Err(invalid(ty, "buy_sell", v));
    }
    Ok(if ask == 0 { Side::Bid } else { Side::Ask })
}

#[inline(always)]
fn px(v: BeU32) -> Price {
    Price(i64::from(v.get()))
}

#[inline]
fn wide(v: u64) -> WidePrice {
    WidePrice(i64::try_from(v).unwrap_or(i64::MAX))
}

fn yes_no(ty: u8, field: &'static str, v: u8) -> Result<bool, NormalizeError> {
    match v {
        b'Y' => Ok(true),
        b'N' => Ok(false),
        _ => Err(invalid(ty, field, v)),
    }
}

/// `v` if it is one of `allowed` (a field passed on as its raw code, checked against the
/// specification's values).
fn one_of(ty: u8, field: &'static str, v: u8, allowed: &[u8]) -> Result<u8, NormalizeError> {
    if allowed.contains(&v) {
        Ok(v)
    } else {
        Err(invalid(ty, field, v))
    }
}

/// `Y`, `N`, or a space (not available).
const YES_NO_SPACE: &[u8] = b"YN ";

fn auction_kind(ty: u8, v: u8) -> Result<AuctionKind, NormalizeError> {
    match v {
        b'O' => Ok(AuctionKind::Opening),
        b'C' => Ok(AuctionKind::Closing),
        b'H' => Ok(AuctionKind::HaltOrIpo),
        b'I' => Ok(AuctionKind::Intraday),
        b'A' => Ok(AuctionKind::ExtendedClose),
        _ => Err(invalid(ty, "cross_type", v)),
    }
}

/// Bodies of the order-book messages, shared by [`normalize`], [`normalize_into`] and
/// [`decode_normalize_into`] so the three paths cannot drift apart.
#[inline(always)]
fn add_body(m: &AddOrder) -> Result<EventBody, NormalizeError> {
    Ok(add_body_on(m, side(m.msg_type, m.buy_sell)?, [0; 4]))
}

/// The add's body once its side is known (the fused path validates the side first, so the
/// body is built in place rather than inside a `Result` and copied).
#[inline(always)]
pub(super) fn add_body_on(m: &AddOrder, side: Side, mpid: [u8; 4]) -> EventBody {
    EventBody::OrderAdded {
        order_id: OrderId(m.order_ref.get()),
        side,
        price: px(m.price),
        qty: Qty(m.shares.get()),
        mpid,
    }
}

#[inline(always)]
pub(super) fn delete_body(m: &OrderDelete) -> EventBody {
    EventBody::OrderDeleted {
        order_id: OrderId(m.order_ref.get()),
    }
}

#[inline(always)]
pub(super) fn executed_body(m: &OrderExecuted) -> EventBody {
    EventBody::OrderExecuted {
        order_id: OrderId(m.order_ref.get()),
        qty: Qty(m.executed_shares.get()),
        match_id: MatchId(m.match_number.get()),
    }
}

#[inline(always)]
pub(super) fn replace_body(m: &OrderReplace) -> EventBody {
    EventBody::OrderReplaced {
        old_id: OrderId(m.original_order_ref.get()),
        new_id: OrderId(m.new_order_ref.get()),
        price: px(m.price),
        qty: Qty(m.shares.get()),
    }
}

#[inline(always)]
pub(super) fn cancel_body(m: &OrderCancel) -> EventBody {
    EventBody::OrderCancelled {
        order_id: OrderId(m.order_ref.get()),
        qty: Qty(m.cancelled_shares.get()),
    }
}

/// Normalizes one decoded message.
///
/// Returns `Ok(Some(event))` for the mapped types (see the module docs), `Ok(None)` for the
/// informational `K`, `L`, `N`, `O` and an `h` of BX or PSX, and
/// [`NormalizeError::InvalidField`] when an enumerated field holds an undefined value. Never
/// panics, never allocates.
#[inline(always)]
pub fn normalize(msg: &Message<'_>) -> Result<Option<MarketEvent>, NormalizeError> {
    let (ts, locate, body) = match *msg {
        Message::AddOrder(m) => (m.timestamp, m.stock_locate, add_body(m)?),
        Message::OrderDelete(m) => (m.timestamp, m.stock_locate, delete_body(m)),
        Message::OrderExecuted(m) => (m.timestamp, m.stock_locate, executed_body(m)),
        Message::OrderReplace(m) => (m.timestamp, m.stock_locate, replace_body(m)),
        Message::OrderCancel(m) => (m.timestamp, m.stock_locate, cancel_body(m)),
        Message::AddOrderMpid(m) => (
            m.timestamp,
            m.stock_locate,
            EventBody::OrderAdded {
                order_id: OrderId(m.order_ref.get()),
                side: side(m.msg_type, m.buy_sell)?,
                price: px(m.price),
                qty: Qty(m.shares.get()),
                mpid: m.attribution,
            },
        ),
        Message::OrderExecutedWithPrice(m) => (
            m.timestamp,
            m.stock_locate,
            EventBody::OrderExecutedWithPrice {
                order_id: OrderId(m.order_ref.get()),
                qty: Qty(m.executed_shares.get()),
                match_id: MatchId(m.match_number.get()),
                price: px(m.execution_price),
                printable: match m.printable {
                    b'Y' => true,
                    b'N' => false,
                    v => return Err(invalid(m.msg_type, "printable", v)),
                },
            },
        ),
        Message::NonCrossTrade(m) => (
            m.timestamp,
            m.stock_locate,
            EventBody::Trade {
                order_id: OrderId(m.order_ref.get()),
                side: side(m.msg_type, m.buy_sell)?,
                price: px(m.price),
                qty: Qty(m.shares.get()),
                match_id: MatchId(m.match_number.get()),
            },
        ),
        _ => return normalize_cold(msg),
    };
    if locate.get() == 0 {
        return Err(market_wide_locate(msg.msg_type()));
    }
    Ok(Some(event(ts, locate, body)))
}

/// The error for an instrument's message that carries stock locate 0, which the specification
/// reserves for the market-wide messages (`S`, `V`, `W`): taken as is, it would be an event
/// for every instrument ([`InstrumentId::NONE`] is "market-wide" to the router and the lanes).
#[cold]
#[inline(never)]
fn market_wide_locate(ty: u8) -> NormalizeError {
    invalid(ty, "stock_locate", 0)
}

/// Builds the event from the message header (read from the concrete struct, so no second
/// dispatch on the message type).
#[inline(always)]
fn event(ts: Ts48, locate: BeU16, body: EventBody) -> MarketEvent {
    MarketEvent::new(
        Timestamp(ts.get()),
        InstrumentId(u32::from(locate.get())),
        body,
    )
}

/// The rare (non order-book) message types.
#[inline(never)]
fn normalize_cold(msg: &Message<'_>) -> Result<Option<MarketEvent>, NormalizeError> {
    let body = match *msg {
        Message::CrossTrade(m) => EventBody::CrossTrade {
            price: px(m.cross_price),
            qty: m.shares.get(),
            match_id: MatchId(m.match_number.get()),
            kind: auction_kind(m.msg_type, m.cross_type)?,
        },
        Message::BrokenTrade(m) => EventBody::BrokenTrade {
            match_id: MatchId(m.match_number.get()),
        },
        Message::StockDirectory(m) => {
            let ty = m.msg_type;
            EventBody::InstrumentDirectory(InstrumentInfo {
                symbol: Symbol(m.stock),
                round_lot: m.round_lot_size.get(),
                etp_leverage: m.etp_leverage.get(),
                market_category: one_of(ty, "market_category", m.market_category, b"QGSNAPZV ")?,
                financial_status: one_of(
                    ty,
                    "financial_status",
                    m.financial_status,
                    b"DEQSGHJKCN ",
                )?,
                issue_classification: one_of(
                    ty,
                    "issue_classification",
                    m.issue_classification,
                    b"ABCFILNOPQRSTUVW",
                )?,
                issue_subtype: m.issue_subtype,
                round_lots_only: yes_no(ty, "round_lots_only", m.round_lots_only)?,
                production: match m.authenticity {
                    b'P' => true,
                    b'T' => false,
                    v => return Err(invalid(ty, "authenticity", v)),
                },
                short_sale_threshold: one_of(
                    ty,
                    "short_sale_threshold",
                    m.short_sale_threshold,
                    YES_NO_SPACE,
                )?,
                ipo_flag: one_of(ty, "ipo_flag", m.ipo_flag, YES_NO_SPACE)?,
                luld_tier: one_of(ty, "luld_tier", m.luld_tier, b"12 ")?,
                etp_flag: one_of(ty, "etp_flag", m.etp_flag, YES_NO_SPACE)?,
                inverse: yes_no(ty, "inverse", m.inverse)?,
            })
        }
        Message::StockTradingAction(m) => EventBody::TradingStatus {
            state: match m.trading_state {
                b'H' => TradingState::Halted,
                b'P' => TradingState::Paused,
                b'Q' => TradingState::QuotationOnly,
                b'T' => TradingState::Trading,
                v => return Err(invalid(m.msg_type, "trading_state", v)),
            },
            reason: m.reason,
        },
        Message::OperationalHalt(m) => {
            let state = match m.operational_halt_action {
                b'H' => TradingState::OperationalHalt,
                b'T' => TradingState::OperationalResume,
                v => return Err(invalid(m.msg_type, "operational_halt_action", v)),
            };
            match m.market_code {
                b'Q' => EventBody::TradingStatus {
                    state,
                    reason: [m.market_code, b' ', b' ', b' '],
                },
                // An operational halt of Nasdaq BX or PSX, disseminated on this feed: trading
                // on Nasdaq itself (the book this feed builds) goes on, so it must not change
                // the book's trading state.
                b'B' | b'X' => return Ok(None),
                v => return Err(invalid(m.msg_type, "market_code", v)),
            }
        }
        Message::RegShoRestriction(m) => match m.reg_sho_action {
            code @ (b'0' | b'1' | b'2') => EventBody::ShortSaleRestriction {
                active: code != b'0',
                code,
            },
            v => return Err(invalid(m.msg_type, "reg_sho_action", v)),
        },
        Message::MwcbDeclineLevel(m) => EventBody::CircuitBreakerLevels {
            level1: wide(m.level1.get()),
            level2: wide(m.level2.get()),
            level3: wide(m.level3.get()),
        },
        Message::MwcbStatus(m) => match m.breached_level {
            v @ b'1'..=b'3' => EventBody::CircuitBreakerBreached { level: v - b'0' },
            v => return Err(invalid(m.msg_type, "breached_level", v)),
        },
        Message::LuldAuctionCollar(m) => EventBody::AuctionCollar {
            reference: px(m.auction_collar_reference_price),
            upper: px(m.upper_auction_collar_price),
            lower: px(m.lower_auction_collar_price),
            extension: m.auction_collar_extension.get(),
        },
        Message::SystemEvent(m) => EventBody::SystemEvent {
            code: match m.event_code {
                b'O' => SystemEventCode::StartOfMessages,
                b'S' => SystemEventCode::StartOfSystemHours,
                b'Q' => SystemEventCode::StartOfMarketHours,
                b'M' => SystemEventCode::EndOfMarketHours,
                b'E' => SystemEventCode::EndOfSystemHours,
                b'C' => SystemEventCode::EndOfMessages,
                v => return Err(invalid(m.msg_type, "event_code", v)),
            },
        },
        Message::Noii(m) => EventBody::Imbalance {
            paired: m.paired_shares.get(),
            imbalance: m.imbalance_shares.get(),
            direction: match m.imbalance_direction {
                b'B' => ImbalanceDirection::Buy,
                b'S' => ImbalanceDirection::Sell,
                b'N' => ImbalanceDirection::None,
                b'O' => ImbalanceDirection::Insufficient,
                b'P' => ImbalanceDirection::Paused,
                v => return Err(invalid(m.msg_type, "imbalance_direction", v)),
            },
            far: px(m.far_price),
            near: px(m.near_price),
            reference: px(m.current_reference_price),
            kind: auction_kind(m.msg_type, m.cross_type)?,
            variation: one_of(
                m.msg_type,
                "price_variation_indicator",
                m.price_variation_indicator,
                b"L123456789ABC ",
            )?,
        },
        Message::IpoQuotingPeriodUpdate(_)
        | Message::MarketParticipantPosition(_)
        | Message::Rpii(_)
        | Message::DirectListingPriceDiscovery(_) => return Ok(None),
        // Order-book types are handled by `normalize`; re-dispatch for completeness.
        Message::AddOrder(_)
        | Message::AddOrderMpid(_)
        | Message::OrderExecuted(_)
        | Message::OrderExecutedWithPrice(_)
        | Message::OrderCancel(_)
        | Message::OrderDelete(_)
        | Message::OrderReplace(_)
        | Message::NonCrossTrade(_) => return normalize(msg),
    };
    let instrument = match *msg {
        // Market-wide by definition, whatever locate they carry (the specification sends 0).
        Message::SystemEvent(_) | Message::MwcbDeclineLevel(_) | Message::MwcbStatus(_) => {
            InstrumentId::NONE
        }
        _ => match msg.stock_locate() {
            0 => return Err(market_wide_locate(msg.msg_type())),
            locate => InstrumentId(u32::from(locate)),
        },
    };
    Ok(Some(MarketEvent::new(
        Timestamp(msg.timestamp()),
        instrument,
        body,
    )))
}

/// Normalizes one decoded message into `out`, returning `Ok(true)` when `out` now holds the
/// event and `Ok(false)` for the informational types (`out` untouched).
///
/// The hot path of [`crate::events`]: the order-book messages (`A F E C X D U P`) are written
/// field by field straight into `out`, which the caller reuses for every message. Building the
/// event by value and copying it ([`normalize`]) writes it twice, and the wide reload of freshly
/// written narrow stores stalls store-to-load forwarding; this way each field is stored once.
#[inline(always)]
pub fn normalize_into(msg: &Message<'_>, out: &mut MarketEvent) -> Result<bool, NormalizeError> {
    macro_rules! put {
        ($m:expr, $body:expr) => {{
            let m = $m;
            let body = $body;
            if m.stock_locate.get() == 0 {
                return Err(market_wide_locate(m.msg_type));
            }
            out.ts = Timestamp(m.timestamp.get());
            out.instrument = InstrumentId(u32::from(m.stock_locate.get()));
            out.body = body;
            Ok(true)
        }};
    }
    match *msg {
        Message::AddOrder(m) => put!(m, add_body(m)?),
        Message::OrderDelete(m) => put!(m, delete_body(m)),
        Message::OrderExecuted(m) => put!(m, executed_body(m)),
        Message::OrderReplace(m) => put!(m, replace_body(m)),
        Message::OrderCancel(m) => put!(m, cancel_body(m)),
        _ => match normalize(msg)? {
            Some(ev) => {
                *out = ev;
                Ok(true)
            }
            None => Ok(false),
        },
    }
}

/// Decodes and normalizes one message (exactly one, type byte first) into `out` in a single
/// dispatch on the type byte: the fused hot path of [`crate::events`]. For the order-book types
/// (`A D E X U`) the wire view is checked and the event written without building a
/// [`Message`]; every other type, and every error, takes the general path
/// ([`decode`](super::decode::decode) then [`normalize_into`]), so results and errors are
/// exactly those of that path (a test checks this on every type).
#[inline(always)]
pub fn decode_normalize_into(
    buf: &[u8],
    out: &mut MarketEvent,
) -> Result<bool, DecodeOrNormalizeError> {
    use zerocopy::FromBytes;
    macro_rules! put {
        ($m:expr, $body:expr) => {{
            let m = $m;
            // Locate 0 (an error) takes the general path, which reports it.
            if m.stock_locate.get() != 0 {
                out.ts = Timestamp(m.timestamp.get());
                out.instrument = InstrumentId(u32::from(m.stock_locate.get()));
                out.body = $body;
                return Ok(true);
            }
        }};
    }
    match buf.first() {
        Some(b'A') => {
            if let Ok(m) = AddOrder::ref_from_bytes(buf) {
                if let Ok(side) = side(m.msg_type, m.buy_sell) {
                    put!(m, add_body_on(m, side, [0; 4]));
                }
            }
        }
        Some(b'D') => {
            if let Ok(m) = OrderDelete::ref_from_bytes(buf) {
                put!(m, delete_body(m));
            }
        }
        Some(b'E') => {
            if let Ok(m) = OrderExecuted::ref_from_bytes(buf) {
                put!(m, executed_body(m));
            }
        }
        Some(b'X') => {
            if let Ok(m) = OrderCancel::ref_from_bytes(buf) {
                put!(m, cancel_body(m));
            }
        }
        Some(b'U') => {
            if let Ok(m) = OrderReplace::ref_from_bytes(buf) {
                put!(m, replace_body(m));
            }
        }
        _ => {}
    }
    general_path(buf, out)
}

/// The general path of [`decode_normalize_into`]: rare types and all errors.
#[inline(never)]
pub(super) fn general_path(
    buf: &[u8],
    out: &mut MarketEvent,
) -> Result<bool, DecodeOrNormalizeError> {
    let msg = super::decode::decode(buf).map_err(DecodeOrNormalizeError::Decode)?;
    normalize_into(&msg, out).map_err(DecodeOrNormalizeError::Normalize)
}

/// Error of [`decode_normalize_into`]: which stage refused the message.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum DecodeOrNormalizeError {
    /// The bytes are not a well-formed ITCH 5.0 message.
    #[error(transparent)]
    Decode(#[from] super::decode::DecodeError),
    /// The message is well formed but a field value is undefined.
    #[error(transparent)]
    Normalize(#[from] NormalizeError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_accepts_exactly_b_and_s() {
        for v in 0..=255u8 {
            let r = side(b'A', v);
            match v {
                b'B' => assert_eq!(r, Ok(Side::Bid)),
                b'S' => assert_eq!(r, Ok(Side::Ask)),
                _ => assert_eq!(
                    r,
                    Err(NormalizeError::InvalidField {
                        ty: b'A',
                        field: "buy_sell",
                        value: v
                    }),
                    "byte {v:#04x}"
                ),
            }
        }
    }

    #[test]
    fn wide_prices_saturate() {
        assert_eq!(wide(0), WidePrice(0));
        assert_eq!(wide(i64::MAX as u64), WidePrice(i64::MAX));
        assert_eq!(wide(u64::MAX), WidePrice(i64::MAX));
    }
}
