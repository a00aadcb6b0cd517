//! Normalization of every mapped ITCH 5.0 message type into `MarketEvent`, the informational
//! types that map to nothing, and the invalid-field errors.

use ticklane_core::{
    AuctionKind, EventBody, ImbalanceDirection, InstrumentId, InstrumentInfo, MarketEvent, MatchId,
    OrderId, Price, Qty, Side, Symbol, SystemEventCode, Timestamp, TradingState, WidePrice,
};
use ticklane_feeds::itch::*;

const LOC: u16 = 4242;
const TRK: u16 = 7;
/// 09:30:00.000000123
const TS: u64 = 34_200_000_000_123;
const AAPL: [u8; 8] = *b"AAPL    ";

/// Encodes, decodes and normalizes `m`.
fn norm<M: ItchMessage>(m: &M) -> Result<Option<MarketEvent>, NormalizeError> {
    let mut buf = Vec::new();
    encode(m, &mut buf);
    let msg = decode(&buf).expect("decodes");
    normalize(&msg)
}

/// Expected event for `LOC`/`TS`.
fn ev(body: EventBody) -> Option<MarketEvent> {
    Some(MarketEvent::new(
        Timestamp(TS),
        InstrumentId(u32::from(LOC)),
        body,
    ))
}

fn bad(ty: u8, field: &'static str, value: u8) -> Result<Option<MarketEvent>, NormalizeError> {
    Err(NormalizeError::InvalidField { ty, field, value })
}

#[test]
fn add_order_both_sides() {
    let m = AddOrder::new(LOC, TRK, TS, 99, b'B', 300, AAPL, 1_234_500);
    assert_eq!(
        norm(&m),
        Ok(ev(EventBody::OrderAdded {
            order_id: OrderId(99),
            side: Side::Bid,
            price: Price(1_234_500),
            qty: Qty(300),
            mpid: [0; 4],
        }))
    );
    let m = AddOrder::new(LOC, TRK, TS, 100, b'S', u32::MAX, AAPL, u32::MAX);
    assert_eq!(
        norm(&m),
        Ok(ev(EventBody::OrderAdded {
            order_id: OrderId(100),
            side: Side::Ask,
            price: Price(i64::from(u32::MAX)),
            qty: Qty(u32::MAX),
            mpid: [0; 4],
        }))
    );
}

#[test]
fn add_order_mpid_carries_attribution() {
    let m = AddOrderMpid::new(LOC, TRK, TS, 5, b'S', 200, AAPL, 1_000_100, *b"NITE");
    assert_eq!(
        norm(&m),
        Ok(ev(EventBody::OrderAdded {
            order_id: OrderId(5),
            side: Side::Ask,
            price: Price(1_000_100),
            qty: Qty(200),
            mpid: *b"NITE",
        }))
    );
}

#[test]
fn executions() {
    let m = OrderExecuted::new(LOC, TRK, TS, 5, 40, 777);
    assert_eq!(
        norm(&m),
        Ok(ev(EventBody::OrderExecuted {
            order_id: OrderId(5),
            qty: Qty(40),
            match_id: MatchId(777),
        }))
    );
    for (flag, printable) in [(b'Y', true), (b'N', false)] {
        let m = OrderExecutedWithPrice::new(LOC, TRK, TS, 6, 10, 778, flag, 999_900);
        assert_eq!(
            norm(&m),
            Ok(ev(EventBody::OrderExecutedWithPrice {
                order_id: OrderId(6),
                qty: Qty(10),
                match_id: MatchId(778),
                price: Price(999_900),
                printable,
            }))
        );
    }
}

#[test]
fn cancel_delete_replace() {
    assert_eq!(
        norm(&OrderCancel::new(LOC, TRK, TS, 8, 25)),
        Ok(ev(EventBody::OrderCancelled {
            order_id: OrderId(8),
            qty: Qty(25),
        }))
    );
    assert_eq!(
        norm(&OrderDelete::new(LOC, TRK, TS, 9)),
        Ok(ev(EventBody::OrderDeleted {
            order_id: OrderId(9)
        }))
    );
    assert_eq!(
        norm(&OrderReplace::new(LOC, TRK, TS, 9, 13, 400, 1_230_000)),
        Ok(ev(EventBody::OrderReplaced {
            old_id: OrderId(9),
            new_id: OrderId(13),
            price: Price(1_230_000),
            qty: Qty(400),
        }))
    );
}

#[test]
fn trades() {
    assert_eq!(
        norm(&NonCrossTrade::new(
            LOC, TRK, TS, 0, b'B', 100, AAPL, 1_234_500, 55
        )),
        Ok(ev(EventBody::Trade {
            order_id: OrderId(0),
            side: Side::Bid,
            price: Price(1_234_500),
            qty: Qty(100),
            match_id: MatchId(55),
        }))
    );
    for (code, kind) in [
        (b'O', AuctionKind::Opening),
        (b'C', AuctionKind::Closing),
        (b'H', AuctionKind::HaltOrIpo),
        (b'I', AuctionKind::Intraday),
    ] {
        let m = CrossTrade::new(LOC, TRK, TS, 5_000_000_000, AAPL, 1_234_500, 56, code);
        assert_eq!(
            norm(&m),
            Ok(ev(EventBody::CrossTrade {
                price: Price(1_234_500),
                qty: 5_000_000_000,
                match_id: MatchId(56),
                kind,
            }))
        );
    }
    assert_eq!(
        norm(&BrokenTrade::new(LOC, TRK, TS, 55)),
        Ok(ev(EventBody::BrokenTrade {
            match_id: MatchId(55)
        }))
    );
}

#[test]
fn stock_directory() {
    let m = StockDirectory::new(
        LOC, TRK, TS, AAPL, b'Q', b'N', 100, b'Y', b'C', *b"Z ", b'T', b'Y', b'N', b'1', b'Y', 2,
        b'Y',
    );
    assert_eq!(
        norm(&m),
        Ok(ev(EventBody::InstrumentDirectory(InstrumentInfo {
            symbol: Symbol(AAPL),
            round_lot: 100,
            etp_leverage: 2,
            market_category: b'Q',
            financial_status: b'N',
            issue_classification: b'C',
            issue_subtype: *b"Z ",
            round_lots_only: true,
            production: false,
            short_sale_threshold: b'Y',
            ipo_flag: b'N',
            luld_tier: b'1',
            etp_flag: b'Y',
            inverse: true,
        })))
    );
    let m = StockDirectory::new(
        LOC, TRK, TS, AAPL, b'Q', b'N', 100, b'N', b'C', *b"Z ", b'P', b'N', b'N', b'1', b'N', 0,
        b'N',
    );
    let Ok(Some(MarketEvent {
        body: EventBody::InstrumentDirectory(info),
        ..
    })) = norm(&m)
    else {
        panic!("not a directory")
    };
    assert!(info.production);
    assert!(!info.round_lots_only);
    assert!(!info.inverse);
    assert_eq!(info.symbol.as_str(), "AAPL");
}

#[test]
fn trading_action_states() {
    for (code, state) in [
        (b'H', TradingState::Halted),
        (b'P', TradingState::Paused),
        (b'Q', TradingState::QuotationOnly),
        (b'T', TradingState::Trading),
    ] {
        let m = StockTradingAction::new(LOC, TRK, TS, AAPL, code, b' ', *b"LUDP");
        assert_eq!(
            norm(&m),
            Ok(ev(EventBody::TradingStatus {
                state,
                reason: *b"LUDP"
            }))
        );
    }
}

#[test]
fn operational_halt() {
    let m = OperationalHalt::new(LOC, TRK, TS, AAPL, b'Q', b'H');
    assert_eq!(
        norm(&m),
        Ok(ev(EventBody::TradingStatus {
            state: TradingState::OperationalHalt,
            reason: *b"Q   ",
        }))
    );
    let m = OperationalHalt::new(LOC, TRK, TS, AAPL, b'Q', b'T');
    assert_eq!(
        norm(&m),
        Ok(ev(EventBody::TradingStatus {
            state: TradingState::OperationalResume,
            reason: *b"Q   ",
        }))
    );
    // A halt or resume of Nasdaq BX (`B`) or PSX (`X`) does not touch Nasdaq's book: no
    // event. A bad action byte is still an error whatever the market.
    for market in [b'B', b'X'] {
        for action in [b'H', b'T'] {
            let m = OperationalHalt::new(LOC, TRK, TS, AAPL, market, action);
            assert_eq!(norm(&m), Ok(None), "market {market}, action {action}");
        }
        assert_eq!(
            norm(&OperationalHalt::new(LOC, TRK, TS, AAPL, market, b'R')),
            bad(b'h', "operational_halt_action", b'R')
        );
    }
}

#[test]
fn reg_sho() {
    for (code, active) in [(b'0', false), (b'1', true), (b'2', true)] {
        assert_eq!(
            norm(&RegShoRestriction::new(LOC, TRK, TS, AAPL, code)),
            Ok(ev(EventBody::ShortSaleRestriction { active, code }))
        );
    }
}

#[test]
fn circuit_breakers() {
    let m = MwcbDeclineLevel::new(0, TRK, TS, 3_456_789_000_000, 3_215_814_000_000, u64::MAX);
    assert_eq!(
        norm(&m),
        Ok(Some(MarketEvent::new(
            Timestamp(TS),
            InstrumentId::NONE,
            EventBody::CircuitBreakerLevels {
                level1: WidePrice(3_456_789_000_000),
                level2: WidePrice(3_215_814_000_000),
                level3: WidePrice(i64::MAX), // saturates
            }
        )))
    );
    for (code, level) in [(b'1', 1), (b'2', 2), (b'3', 3)] {
        assert_eq!(
            norm(&MwcbStatus::new(0, TRK, TS, code)),
            Ok(Some(MarketEvent::new(
                Timestamp(TS),
                InstrumentId::NONE,
                EventBody::CircuitBreakerBreached { level }
            )))
        );
    }
}

#[test]
fn auction_collar() {
    let m = LuldAuctionCollar::new(LOC, TRK, TS, AAPL, 1_000_000, 1_050_000, 950_000, 3);
    assert_eq!(
        norm(&m),
        Ok(ev(EventBody::AuctionCollar {
            reference: Price(1_000_000),
            upper: Price(1_050_000),
            lower: Price(950_000),
            extension: 3,
        }))
    );
}

#[test]
fn system_events() {
    for (code, sys) in [
        (b'O', SystemEventCode::StartOfMessages),
        (b'S', SystemEventCode::StartOfSystemHours),
        (b'Q', SystemEventCode::StartOfMarketHours),
        (b'M', SystemEventCode::EndOfMarketHours),
        (b'E', SystemEventCode::EndOfSystemHours),
        (b'C', SystemEventCode::EndOfMessages),
    ] {
        assert_eq!(
            norm(&SystemEvent::new(0, TRK, TS, code)),
            Ok(Some(MarketEvent::new(
                Timestamp(TS),
                InstrumentId::NONE,
                EventBody::SystemEvent { code: sys }
            )))
        );
    }
}

#[test]
fn imbalance() {
    for (dir, direction) in [
        (b'B', ImbalanceDirection::Buy),
        (b'S', ImbalanceDirection::Sell),
        (b'N', ImbalanceDirection::None),
        (b'O', ImbalanceDirection::Insufficient),
        (b'P', ImbalanceDirection::Paused),
    ] {
        for (cross, kind) in [
            (b'O', AuctionKind::Opening),
            (b'C', AuctionKind::Closing),
            (b'H', AuctionKind::HaltOrIpo),
            (b'A', AuctionKind::ExtendedClose),
        ] {
            let m = Noii::new(
                LOC, TRK, TS, 100_000, 2_500, dir, AAPL, 1_200_000, 1_210_000, 1_205_000, cross,
                b'1',
            );
            assert_eq!(
                norm(&m),
                Ok(ev(EventBody::Imbalance {
                    paired: 100_000,
                    imbalance: 2_500,
                    direction,
                    far: Price(1_200_000),
                    near: Price(1_210_000),
                    reference: Price(1_205_000),
                    kind,
                    variation: b'1',
                }))
            );
        }
    }
}

#[test]
fn informational_types_normalize_to_none() {
    assert_eq!(
        norm(&IpoQuotingPeriodUpdate::new(
            LOC, TRK, TS, AAPL, 36_000, b'A', 1
        )),
        Ok(None)
    );
    assert_eq!(
        norm(&MarketParticipantPosition::new(
            LOC, TRK, TS, *b"GSCO", AAPL, b'Y', b'N', b'A'
        )),
        Ok(None)
    );
    assert_eq!(norm(&Rpii::new(LOC, TRK, TS, AAPL, b'B')), Ok(None));
    assert_eq!(
        norm(&DirectListingPriceDiscovery::new(
            LOC, TRK, TS, AAPL, b'Y', 1, 2, 3, 4, 5, 6
        )),
        Ok(None)
    );
}

#[test]
fn invalid_sides() {
    assert_eq!(
        norm(&AddOrder::new(LOC, TRK, TS, 1, b'b', 1, AAPL, 1)),
        bad(b'A', "buy_sell", b'b')
    );
    assert_eq!(
        norm(&AddOrderMpid::new(
            LOC, TRK, TS, 1, b'X', 1, AAPL, 1, *b"NITE"
        )),
        bad(b'F', "buy_sell", b'X')
    );
    assert_eq!(
        norm(&NonCrossTrade::new(LOC, TRK, TS, 0, 0, 1, AAPL, 1, 1)),
        bad(b'P', "buy_sell", 0)
    );
}

#[test]
fn invalid_enumerations() {
    assert_eq!(
        norm(&OrderExecutedWithPrice::new(LOC, TRK, TS, 1, 1, 1, b'y', 1)),
        bad(b'C', "printable", b'y')
    );
    assert_eq!(
        norm(&CrossTrade::new(LOC, TRK, TS, 1, AAPL, 1, 1, b'X')),
        bad(b'Q', "cross_type", b'X')
    );
    assert_eq!(
        norm(&SystemEvent::new(0, TRK, TS, b'X')),
        bad(b'S', "event_code", b'X')
    );
    assert_eq!(
        norm(&StockTradingAction::new(
            LOC, TRK, TS, AAPL, b'R', b' ', *b"    "
        )),
        bad(b'H', "trading_state", b'R')
    );
    assert_eq!(
        norm(&OperationalHalt::new(LOC, TRK, TS, AAPL, b'Q', b'R')),
        bad(b'h', "operational_halt_action", b'R')
    );
    assert_eq!(
        norm(&OperationalHalt::new(LOC, TRK, TS, AAPL, b'Z', b'H')),
        bad(b'h', "market_code", b'Z')
    );
    assert_eq!(
        norm(&RegShoRestriction::new(LOC, TRK, TS, AAPL, b'3')),
        bad(b'Y', "reg_sho_action", b'3')
    );
    assert_eq!(
        norm(&MwcbStatus::new(0, TRK, TS, b'4')),
        bad(b'W', "breached_level", b'4')
    );
    assert_eq!(
        norm(&MwcbStatus::new(0, TRK, TS, b'0')),
        bad(b'W', "breached_level", b'0')
    );
    let noii = |dir, cross| Noii::new(LOC, TRK, TS, 1, 1, dir, AAPL, 1, 1, 1, cross, b' ');
    assert_eq!(
        norm(&noii(b'X', b'O')),
        bad(b'I', "imbalance_direction", b'X')
    );
    assert_eq!(norm(&noii(b'B', b'Z')), bad(b'I', "cross_type", b'Z'));
    let dir = |rlo, auth, inv| {
        StockDirectory::new(
            LOC, TRK, TS, AAPL, b'Q', b'N', 100, rlo, b'C', *b"Z ", auth, b'N', b'N', b'1', b'N',
            0, inv,
        )
    };
    assert_eq!(
        norm(&dir(b'?', b'P', b'N')),
        bad(b'R', "round_lots_only", b'?')
    );
    assert_eq!(
        norm(&dir(b'N', b'X', b'N')),
        bad(b'R', "authenticity", b'X')
    );
    assert_eq!(norm(&dir(b'N', b'P', b' ')), bad(b'R', "inverse", b' '));
}

#[test]
fn error_display_names_the_field() {
    let e = NormalizeError::InvalidField {
        ty: b'A',
        field: "buy_sell",
        value: b'Z',
    };
    assert_eq!(
        e.to_string(),
        "ITCH message type 0x41: invalid buy_sell 0x5a"
    );
}

/// Encodes `m` and runs the three single-message paths: `normalize`, `normalize_into` and the
/// fused `decode_normalize_into`; they must agree (the first's result is returned).
fn norm_all_paths<M: ItchMessage>(m: &M) -> Result<Option<MarketEvent>, NormalizeError> {
    let mut buf = Vec::new();
    encode(m, &mut buf);
    let msg = decode(&buf).expect("decodes");
    let want = normalize(&msg);
    let blank = || {
        MarketEvent::new(
            Timestamp(1),
            InstrumentId(9),
            EventBody::BrokenTrade {
                match_id: MatchId(0),
            },
        )
    };
    let mut into = blank();
    let got_into = normalize_into(&msg, &mut into).map(|some| some.then_some(into));
    assert_eq!(got_into, want, "normalize_into disagrees");
    let mut fused = blank();
    let got_fused = decode_normalize_into(&buf, &mut fused).map(|some| some.then_some(fused));
    assert_eq!(
        got_fused,
        want.map_err(DecodeOrNormalizeError::Normalize),
        "decode_normalize_into disagrees"
    );
    want
}

/// Stock locate 0 is reserved for the market-wide messages: an instrument's message with it
/// is refused on every path (taken as is, it became an event for `InstrumentId::NONE`, which
/// the router sends to every lane: an add kept once in every lane's books).
#[test]
fn an_instruments_message_with_stock_locate_0_is_refused_on_every_path() {
    let refused = |ty: u8| bad(ty, "stock_locate", 0);
    assert_eq!(
        norm_all_paths(&AddOrder::new(0, TRK, TS, 99, b'B', 300, AAPL, 1_234_500)),
        refused(b'A')
    );
    assert_eq!(
        norm_all_paths(&AddOrderMpid::new(
            0, TRK, TS, 5, b'S', 200, AAPL, 1_000_100, *b"NITE"
        )),
        refused(b'F')
    );
    assert_eq!(
        norm_all_paths(&OrderExecuted::new(0, TRK, TS, 5, 40, 777)),
        refused(b'E')
    );
    assert_eq!(
        norm_all_paths(&OrderExecutedWithPrice::new(
            0, TRK, TS, 6, 10, 778, b'Y', 999_900
        )),
        refused(b'C')
    );
    assert_eq!(
        norm_all_paths(&OrderCancel::new(0, TRK, TS, 8, 25)),
        refused(b'X')
    );
    assert_eq!(
        norm_all_paths(&OrderDelete::new(0, TRK, TS, 9)),
        refused(b'D')
    );
    assert_eq!(
        norm_all_paths(&OrderReplace::new(0, TRK, TS, 9, 13, 400, 1_230_000)),
        refused(b'U')
    );
    assert_eq!(
        norm_all_paths(&NonCrossTrade::new(
            0, TRK, TS, 0, b'B', 100, AAPL, 1_234_500, 55
        )),
        refused(b'P')
    );
    assert_eq!(
        norm_all_paths(&CrossTrade::new(
            0,
            TRK,
            TS,
            5_000_000_000,
            AAPL,
            1_234_500,
            56,
            b'O'
        )),
        refused(b'Q')
    );
    assert_eq!(
        norm_all_paths(&BrokenTrade::new(0, TRK, TS, 55)),
        refused(b'B')
    );
    assert_eq!(
        norm_all_paths(&StockDirectory::new(
            0, TRK, TS, AAPL, b'Q', b'N', 100, b'N', b'C', *b"Z ", b'P', b'N', b'N', b'1', b'N', 0,
            b'N',
        )),
        refused(b'R')
    );
    assert_eq!(
        norm_all_paths(&StockTradingAction::new(
            0, TRK, TS, AAPL, b'H', b' ', *b"LUDP"
        )),
        refused(b'H')
    );
    assert_eq!(
        norm_all_paths(&OperationalHalt::new(0, TRK, TS, AAPL, b'Q', b'H')),
        refused(b'h')
    );
    assert_eq!(
        norm_all_paths(&RegShoRestriction::new(0, TRK, TS, AAPL, b'1')),
        refused(b'Y')
    );
    assert_eq!(
        norm_all_paths(&LuldAuctionCollar::new(
            0, TRK, TS, AAPL, 1_000_000, 1_050_000, 950_000, 3
        )),
        refused(b'J')
    );
    assert_eq!(
        norm_all_paths(&Noii::new(
            0, TRK, TS, 1, 1, b'B', AAPL, 1, 1, 1, b'O', b' '
        )),
        refused(b'I')
    );
    // The informational types map to nothing whatever their locate.
    assert_eq!(
        norm_all_paths(&OperationalHalt::new(0, TRK, TS, AAPL, b'B', b'H')),
        Ok(None)
    );
    // And locate 1 is an instrument like any other.
    assert_eq!(
        norm_all_paths(&OrderDelete::new(1, TRK, TS, 9)).map(|e| e.map(|e| e.instrument)),
        Ok(Some(InstrumentId(1)))
    );
}

/// The market-wide messages (`S`, `V`, `W`) are market-wide whatever locate they carry: a
/// nonzero one made them events of one instrument, seen by one lane (an end of messages or a
/// circuit-breaker breach that the other lanes never heard of).
#[test]
fn market_wide_messages_carry_no_instrument_whatever_their_locate() {
    let instrument =
        |r: Result<Option<MarketEvent>, NormalizeError>| r.map(|e| e.map(|e| e.instrument));
    assert_eq!(
        instrument(norm_all_paths(&SystemEvent::new(7, TRK, TS, b'Q'))),
        Ok(Some(InstrumentId::NONE))
    );
    assert_eq!(
        instrument(norm_all_paths(&MwcbDeclineLevel::new(7, TRK, TS, 1, 2, 3))),
        Ok(Some(InstrumentId::NONE))
    );
    assert_eq!(
        instrument(norm_all_paths(&MwcbStatus::new(7, TRK, TS, b'2'))),
        Ok(Some(InstrumentId::NONE))
    );
}

/// The stock directory's one-letter codes and the NOII price variation indicator are checked
/// against the specification's values, as the module docs say of every enumerated field (they
/// were passed on whatever byte they held); every value the specification defines is accepted.
#[test]
fn directory_codes_and_the_price_variation_indicator_are_checked() {
    // Fields in order: market category, financial status, round lot, round lots only, issue
    // classification, issue subtype, authenticity, short sale threshold, IPO flag, LULD tier,
    // ETP flag, leverage, inverse.
    #[allow(clippy::type_complexity)]
    let dir = |cat: u8, fin: u8, class: u8, ssh: u8, ipo: u8, luld: u8, etp: u8| {
        norm_all_paths(&StockDirectory::new(
            LOC, TRK, TS, AAPL, cat, fin, 100, b'N', class, *b"Z ", b'P', ssh, ipo, luld, etp, 0,
            b'N',
        ))
    };
    let ok = |r: Result<Option<MarketEvent>, NormalizeError>| r.is_ok_and(|e| e.is_some());
    for cat in *b"QGSNAPZV " {
        assert!(
            ok(dir(cat, b'N', b'C', b'N', b'N', b'1', b'N')),
            "market category {cat}"
        );
    }
    for fin in *b"DEQSGHJKCN " {
        assert!(
            ok(dir(b'Q', fin, b'C', b'N', b'N', b'1', b'N')),
            "financial status {fin}"
        );
    }
    for class in *b"ABCFILNOPQRSTUVW" {
        assert!(
            ok(dir(b'Q', b'N', class, b'N', b'N', b'1', b'N')),
            "issue classification {class}"
        );
    }
    for flag in *b"YN " {
        assert!(
            ok(dir(b'Q', b'N', b'C', flag, flag, b'1', flag)),
            "flag {flag}"
        );
    }
    for tier in *b"12 " {
        assert!(
            ok(dir(b'Q', b'N', b'C', b'N', b'N', tier, b'N')),
            "LULD tier {tier}"
        );
    }
    assert_eq!(
        dir(b'X', b'N', b'C', b'N', b'N', b'1', b'N'),
        bad(b'R', "market_category", b'X')
    );
    assert_eq!(
        dir(b'Q', b'X', b'C', b'N', b'N', b'1', b'N'),
        bad(b'R', "financial_status", b'X')
    );
    assert_eq!(
        dir(b'Q', b'N', b' ', b'N', b'N', b'1', b'N'),
        bad(b'R', "issue_classification", b' ')
    );
    assert_eq!(
        dir(b'Q', b'N', b'C', b'X', b'N', b'1', b'N'),
        bad(b'R', "short_sale_threshold", b'X')
    );
    assert_eq!(
        dir(b'Q', b'N', b'C', b'N', b'X', b'1', b'N'),
        bad(b'R', "ipo_flag", b'X')
    );
    assert_eq!(
        dir(b'Q', b'N', b'C', b'N', b'N', b'3', b'N'),
        bad(b'R', "luld_tier", b'3')
    );
    assert_eq!(
        dir(b'Q', b'N', b'C', b'N', b'N', b'1', b'X'),
        bad(b'R', "etp_flag", b'X')
    );
    let noii = |v: u8| norm_all_paths(&Noii::new(LOC, TRK, TS, 1, 1, b'B', AAPL, 1, 1, 1, b'O', v));
    for v in *b"L123456789ABC " {
        assert!(ok(noii(v)), "price variation indicator {v}");
    }
    for v in [b'Z', b'0', b'D', 0] {
        assert_eq!(noii(v), bad(b'I', "price_variation_indicator", v));
    }
}

/// The ITCH 5.0 specification's issue classification values are A, B, C, F, I, L, **N**
/// (Notes), O, P, Q, R, S, T, U, V, W; there is no `M`. A stock directory of a note must
/// normalize (it was refused as `InvalidField`, so the instrument never got its symbol), and
/// an `M` is outside the specification.
#[test]
fn issue_classification_n_notes_is_accepted_and_m_is_not() {
    let dir = |class: u8| {
        norm_all_paths(&StockDirectory::new(
            LOC, TRK, TS, AAPL, b'Q', b'N', 100, b'N', class, *b"Z ", b'P', b'N', b'N', b'1', b'N',
            0, b'N',
        ))
    };
    let notes = dir(b'N');
    assert!(
        matches!(
            notes,
            Ok(Some(MarketEvent {
                body: EventBody::InstrumentDirectory(InstrumentInfo {
                    issue_classification: b'N',
                    ..
                }),
                ..
            }))
        ),
        "issue classification N (Notes): got {notes:?}"
    );
    assert_eq!(dir(b'M'), bad(b'R', "issue_classification", b'M'));
}
