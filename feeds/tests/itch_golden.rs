//! Golden bytes for every ITCH 5.0 message type, written by hand from the specification's
//! field tables (offset order, big-endian integers, space-padded alphas).
//!
//! Each test decodes the golden bytes and checks every field, then checks that the
//! `new(...)` constructor + `encode` reproduces exactly the golden bytes, and that
//! `encode_framed` prefixes them with their u16 big-endian length.

use ticklane_feeds::itch::*;

/// Stock locate used in every golden header.
const LOC: u16 = 0x0A0B;
/// Tracking number used in every golden header.
const TRK: u16 = 0x0C0D;
/// Timestamp used in every golden header (48-bit ns since midnight).
const TS: u64 = 0x1122_3344_5566;

/// Checks the common header through the `Message` accessors, the raw bytes, and
/// `decode_prefix` (with trailing garbage), then returns the decoded message.
fn decoded(golden: &[u8]) -> Message<'_> {
    let msg = decode(golden).expect("golden bytes decode");
    assert_eq!(msg.msg_type(), golden[0]);
    assert_eq!(msg.stock_locate(), LOC);
    assert_eq!(msg.tracking_number(), TRK);
    assert_eq!(msg.timestamp(), TS);
    assert_eq!(msg.as_bytes(), golden);
    assert_eq!(message_len(golden[0]), Some(golden.len()));
    let mut longer = golden.to_vec();
    longer.extend_from_slice(b"\xFFtrailing");
    let (m2, used) = decode_prefix(&longer).expect("prefix decodes");
    assert_eq!(used, golden.len());
    assert_eq!(m2, msg);
    msg
}

/// Checks that `built` encodes (bare and framed) to exactly `golden`.
fn encodes_to<M: ItchMessage>(built: &M, golden: &[u8]) {
    assert_eq!(M::LEN, golden.len());
    assert_eq!(M::TYPE, golden[0]);
    let mut out = vec![0xEE]; // existing content must be kept
    encode(built, &mut out);
    assert_eq!(&out[..1], &[0xEE]);
    assert_eq!(&out[1..], golden);
    let mut framed = Vec::new();
    encode_framed(built, &mut framed);
    assert_eq!(framed[..2], (golden.len() as u16).to_be_bytes());
    assert_eq!(&framed[2..], golden);
}

#[test]
fn golden_system_event() {
    const G: [u8; 12] = [
        b'S', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        b'O', // event code: start of messages
    ];
    let Message::SystemEvent(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.event_code, b'O');
    encodes_to(&SystemEvent::new(LOC, TRK, TS, b'O'), &G);
}

#[test]
fn golden_stock_directory() {
    const G: [u8; 39] = [
        b'R', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ', // stock
        b'Q', // market category: Global Select
        b'N', // financial status indicator: normal
        0x00, 0x00, 0x00, 0x64, // round lot size = 100
        b'N', // round lots only
        b'C', // issue classification: common stock
        b'Z', b' ', // issue sub-type
        b'P', // authenticity: production
        b'N', // short sale threshold indicator
        b'N', // IPO flag
        b'1', // LULD reference price tier
        b'N', // ETP flag
        0x00, 0x00, 0x00, 0x03, // ETP leverage factor = 3
        b'Y', // inverse indicator
    ];
    let Message::StockDirectory(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(&m.stock, b"AAPL    ");
    assert_eq!(m.market_category, b'Q');
    assert_eq!(m.financial_status, b'N');
    assert_eq!(m.round_lot_size.get(), 100);
    assert_eq!(m.round_lots_only, b'N');
    assert_eq!(m.issue_classification, b'C');
    assert_eq!(&m.issue_subtype, b"Z ");
    assert_eq!(m.authenticity, b'P');
    assert_eq!(m.short_sale_threshold, b'N');
    assert_eq!(m.ipo_flag, b'N');
    assert_eq!(m.luld_tier, b'1');
    assert_eq!(m.etp_flag, b'N');
    assert_eq!(m.etp_leverage.get(), 3);
    assert_eq!(m.inverse, b'Y');
    let built = StockDirectory::new(
        LOC,
        TRK,
        TS,
        *b"AAPL    ",
        b'Q',
        b'N',
        100,
        b'N',
        b'C',
        *b"Z ",
        b'P',
        b'N',
        b'N',
        b'1',
        b'N',
        3,
        b'Y',
    );
    encodes_to(&built, &G);
}

#[test]
fn golden_stock_trading_action() {
    const G: [u8; 25] = [
        b'H', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        b'Z', b'V', b'Z', b'Z', b'T', b' ', b' ', b' ', // stock
        b'H', // trading state: halted
        b' ', // reserved
        b'L', b'U', b'D', b'P', // reason
    ];
    let Message::StockTradingAction(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(&m.stock, b"ZVZZT   ");
    assert_eq!(m.trading_state, b'H');
    assert_eq!(m.reserved, b' ');
    assert_eq!(&m.reason, b"LUDP");
    let built = StockTradingAction::new(LOC, TRK, TS, *b"ZVZZT   ", b'H', b' ', *b"LUDP");
    encodes_to(&built, &G);
}

#[test]
fn golden_reg_sho_restriction() {
    const G: [u8; 20] = [
        b'Y', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        b'M', b'S', b'F', b'T', b' ', b' ', b' ', b' ', // stock
        b'1', // Reg SHO action: restriction in effect
    ];
    let Message::RegShoRestriction(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(&m.stock, b"MSFT    ");
    assert_eq!(m.reg_sho_action, b'1');
    encodes_to(
        &RegShoRestriction::new(LOC, TRK, TS, *b"MSFT    ", b'1'),
        &G,
    );
}

#[test]
fn golden_market_participant_position() {
    const G: [u8; 26] = [
        b'L', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        b'G', b'S', b'C', b'O', // MPID
        b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ', // stock
        b'Y', // primary market maker
        b'N', // market maker mode: normal
        b'A', // market participant state: active
    ];
    let Message::MarketParticipantPosition(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(&m.mpid, b"GSCO");
    assert_eq!(&m.stock, b"AAPL    ");
    assert_eq!(m.primary_market_maker, b'Y');
    assert_eq!(m.market_maker_mode, b'N');
    assert_eq!(m.market_participant_state, b'A');
    let built =
        MarketParticipantPosition::new(LOC, TRK, TS, *b"GSCO", *b"AAPL    ", b'Y', b'N', b'A');
    encodes_to(&built, &G);
}

#[test]
fn golden_mwcb_decline_level() {
    const G: [u8; 35] = [
        b'V', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // level 1, Price(8)
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, // level 2, Price(8)
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, // level 3, Price(8)
    ];
    let Message::MwcbDeclineLevel(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.level1.get(), 0x0102_0304_0506_0708);
    assert_eq!(m.level2.get(), 0x1112_1314_1516_1718);
    assert_eq!(m.level3.get(), 0x2122_2324_2526_2728);
    let built = MwcbDeclineLevel::new(
        LOC,
        TRK,
        TS,
        0x0102_0304_0506_0708,
        0x1112_1314_1516_1718,
        0x2122_2324_2526_2728,
    );
    encodes_to(&built, &G);
}

#[test]
fn golden_mwcb_status() {
    const G: [u8; 12] = [
        b'W', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        b'2', // breached level
    ];
    let Message::MwcbStatus(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.breached_level, b'2');
    encodes_to(&MwcbStatus::new(LOC, TRK, TS, b'2'), &G);
}

#[test]
fn golden_ipo_quoting_period_update() {
    const G: [u8; 28] = [
        b'K', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        b'A', b'B', b'C', b'D', b' ', b' ', b' ', b' ', // stock
        0x00, 0x00, 0x8C, 0xA0, // IPO quotation release time = 36000 s (10:00:00)
        b'A', // IPO quotation release qualifier: anticipated
        0x00, 0x0F, 0x42, 0x40, // IPO price = 1_000_000 (100.0000)
    ];
    let Message::IpoQuotingPeriodUpdate(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(&m.stock, b"ABCD    ");
    assert_eq!(m.ipo_quotation_release_time.get(), 36_000);
    assert_eq!(m.ipo_quotation_release_qualifier, b'A');
    assert_eq!(m.ipo_price.get(), 1_000_000);
    let built = IpoQuotingPeriodUpdate::new(LOC, TRK, TS, *b"ABCD    ", 36_000, b'A', 1_000_000);
    encodes_to(&built, &G);
}

#[test]
fn golden_luld_auction_collar() {
    const G: [u8; 35] = [
        b'J', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ', // stock
        0x00, 0xC3, 0x50, 0x00, // auction collar reference price
        0x00, 0xD5, 0x9F, 0x80, // upper auction collar price
        0x00, 0xB7, 0x1B, 0x00, // lower auction collar price
        0x00, 0x00, 0x00, 0x02, // auction collar extension
    ];
    let Message::LuldAuctionCollar(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(&m.stock, b"AAPL    ");
    assert_eq!(m.auction_collar_reference_price.get(), 0x00C3_5000);
    assert_eq!(m.upper_auction_collar_price.get(), 0x00D5_9F80);
    assert_eq!(m.lower_auction_collar_price.get(), 0x00B7_1B00);
    assert_eq!(m.auction_collar_extension.get(), 2);
    let built = LuldAuctionCollar::new(
        LOC,
        TRK,
        TS,
        *b"AAPL    ",
        0x00C3_5000,
        0x00D5_9F80,
        0x00B7_1B00,
        2,
    );
    encodes_to(&built, &G);
}

#[test]
fn golden_operational_halt() {
    const G: [u8; 21] = [
        b'h', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ', // stock
        b'B', // market code: BX
        b'H', // operational halt action: halted
    ];
    let Message::OperationalHalt(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(&m.stock, b"AAPL    ");
    assert_eq!(m.market_code, b'B');
    assert_eq!(m.operational_halt_action, b'H');
    encodes_to(
        &OperationalHalt::new(LOC, TRK, TS, *b"AAPL    ", b'B', b'H'),
        &G,
    );
}

#[test]
fn golden_add_order() {
    const G: [u8; 36] = [
        b'A', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // order reference number
        b'B', // buy/sell indicator
        0x00, 0x00, 0x00, 0x64, // shares = 100
        b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ', // stock
        0x00, 0x12, 0xD6, 0x44, // price = 1_234_500 (123.4500)
    ];
    let Message::AddOrder(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.order_ref.get(), 0x0102_0304_0506_0708);
    assert_eq!(m.buy_sell, b'B');
    assert_eq!(m.shares.get(), 100);
    assert_eq!(&m.stock, b"AAPL    ");
    assert_eq!(m.price.get(), 1_234_500);
    let built = AddOrder::new(
        LOC,
        TRK,
        TS,
        0x0102_0304_0506_0708,
        b'B',
        100,
        *b"AAPL    ",
        1_234_500,
    );
    encodes_to(&built, &G);
}

#[test]
fn golden_add_order_mpid() {
    const G: [u8; 40] = [
        b'F', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, // order reference number
        b'S', // buy/sell indicator
        0x00, 0x00, 0x01, 0xF4, // shares = 500
        b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ', // stock
        0x00, 0x12, 0xD6, 0xA8, // price = 1_234_600
        b'N', b'I', b'T', b'E', // attribution
    ];
    let Message::AddOrderMpid(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.order_ref.get(), 0x1112_1314_1516_1718);
    assert_eq!(m.buy_sell, b'S');
    assert_eq!(m.shares.get(), 500);
    assert_eq!(&m.stock, b"AAPL    ");
    assert_eq!(m.price.get(), 1_234_600);
    assert_eq!(&m.attribution, b"NITE");
    let built = AddOrderMpid::new(
        LOC,
        TRK,
        TS,
        0x1112_1314_1516_1718,
        b'S',
        500,
        *b"AAPL    ",
        1_234_600,
        *b"NITE",
    );
    encodes_to(&built, &G);
}

#[test]
fn golden_order_executed() {
    const G: [u8; 31] = [
        b'E', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        0x00, 0x00, 0x00, 0x00, 0x00, 0xAB, 0xCD, 0xEF, // order reference number
        0x00, 0x00, 0x00, 0x32, // executed shares = 50
        0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, // match number
    ];
    let Message::OrderExecuted(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.order_ref.get(), 0xAB_CDEF);
    assert_eq!(m.executed_shares.get(), 50);
    assert_eq!(m.match_number.get(), 0x12_3456);
    encodes_to(
        &OrderExecuted::new(LOC, TRK, TS, 0xAB_CDEF, 50, 0x12_3456),
        &G,
    );
}

#[test]
fn golden_order_executed_with_price() {
    const G: [u8; 36] = [
        b'C', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        0x00, 0x00, 0x00, 0x00, 0x00, 0xAB, 0xCD, 0xEF, // order reference number
        0x00, 0x00, 0x00, 0x0A, // executed shares = 10
        0x00, 0x00, 0x00, 0x00, 0x00, 0x65, 0x43, 0x21, // match number
        b'N', // printable
        0x00, 0x12, 0xD5, 0xE0, // execution price = 1_234_400
    ];
    let Message::OrderExecutedWithPrice(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.order_ref.get(), 0xAB_CDEF);
    assert_eq!(m.executed_shares.get(), 10);
    assert_eq!(m.match_number.get(), 0x65_4321);
    assert_eq!(m.printable, b'N');
    assert_eq!(m.execution_price.get(), 1_234_400);
    let built =
        OrderExecutedWithPrice::new(LOC, TRK, TS, 0xAB_CDEF, 10, 0x65_4321, b'N', 1_234_400);
    encodes_to(&built, &G);
}

#[test]
fn golden_order_cancel() {
    const G: [u8; 23] = [
        b'X', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        0x00, 0x00, 0x00, 0x00, 0xDE, 0xAD, 0xBE, 0xEF, // order reference number
        0x00, 0x00, 0x00, 0x19, // cancelled shares = 25
    ];
    let Message::OrderCancel(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.order_ref.get(), 0xDEAD_BEEF);
    assert_eq!(m.cancelled_shares.get(), 25);
    encodes_to(&OrderCancel::new(LOC, TRK, TS, 0xDEAD_BEEF, 25), &G);
}

#[test]
fn golden_order_delete() {
    const G: [u8; 19] = [
        b'D', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        0x0F, 0x0E, 0x0D, 0x0C, 0x0B, 0x0A, 0x09, 0x08, // order reference number
    ];
    let Message::OrderDelete(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.order_ref.get(), 0x0F0E_0D0C_0B0A_0908);
    encodes_to(&OrderDelete::new(LOC, TRK, TS, 0x0F0E_0D0C_0B0A_0908), &G);
}

#[test]
fn golden_order_replace() {
    const G: [u8; 35] = [
        b'U', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // original order reference number
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09, // new order reference number
        0x00, 0x00, 0x00, 0xC8, // shares = 200
        0x00, 0x12, 0xD6, 0x44, // price = 1_234_500
    ];
    let Message::OrderReplace(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.original_order_ref.get(), 0x0102_0304_0506_0708);
    assert_eq!(m.new_order_ref.get(), 0x0102_0304_0506_0709);
    assert_eq!(m.shares.get(), 200);
    assert_eq!(m.price.get(), 1_234_500);
    let built = OrderReplace::new(
        LOC,
        TRK,
        TS,
        0x0102_0304_0506_0708,
        0x0102_0304_0506_0709,
        200,
        1_234_500,
    );
    encodes_to(&built, &G);
}

#[test]
fn golden_non_cross_trade() {
    const G: [u8; 44] = [
        b'P', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // order reference number = 0
        b'S', // buy/sell indicator
        0x00, 0x00, 0x01, 0x2C, // shares = 300
        b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ', // stock
        0x00, 0x12, 0xD6, 0x44, // price = 1_234_500
        0x00, 0x00, 0x00, 0x00, 0x00, 0xAB, 0xCD, 0xEF, // match number
    ];
    let Message::NonCrossTrade(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.order_ref.get(), 0);
    assert_eq!(m.buy_sell, b'S');
    assert_eq!(m.shares.get(), 300);
    assert_eq!(&m.stock, b"AAPL    ");
    assert_eq!(m.price.get(), 1_234_500);
    assert_eq!(m.match_number.get(), 0xAB_CDEF);
    let built = NonCrossTrade::new(
        LOC,
        TRK,
        TS,
        0,
        b'S',
        300,
        *b"AAPL    ",
        1_234_500,
        0xAB_CDEF,
    );
    encodes_to(&built, &G);
}

#[test]
fn golden_cross_trade() {
    const G: [u8; 40] = [
        b'Q', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        0x00, 0x00, 0x00, 0x01, 0x00, 0x0F, 0x42, 0x40, // shares (64-bit)
        b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ', // stock
        0x00, 0x12, 0xD6, 0x44, // cross price = 1_234_500
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x77, // match number
        b'O', // cross type: opening
    ];
    let Message::CrossTrade(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.shares.get(), 0x0001_000F_4240);
    assert_eq!(&m.stock, b"AAPL    ");
    assert_eq!(m.cross_price.get(), 1_234_500);
    assert_eq!(m.match_number.get(), 0x77);
    assert_eq!(m.cross_type, b'O');
    let built = CrossTrade::new(
        LOC,
        TRK,
        TS,
        0x0001_000F_4240,
        *b"AAPL    ",
        1_234_500,
        0x77,
        b'O',
    );
    encodes_to(&built, &G);
}

#[test]
fn golden_broken_trade() {
    const G: [u8; 19] = [
        b'B', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        0x00, 0x00, 0x00, 0x00, 0x00, 0xAB, 0xCD, 0xEF, // match number
    ];
    let Message::BrokenTrade(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.match_number.get(), 0xAB_CDEF);
    encodes_to(&BrokenTrade::new(LOC, TRK, TS, 0xAB_CDEF), &G);
}

#[test]
fn golden_noii() {
    const G: [u8; 50] = [
        b'I', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xA0, // paired shares = 100_000
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x27, 0x10, // imbalance shares = 10_000
        b'B', // imbalance direction
        b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ', // stock
        0x00, 0x12, 0xD6, 0x44, // far price = 1_234_500
        0x00, 0x12, 0xD6, 0xA8, // near price = 1_234_600
        0x00, 0x12, 0xD5, 0xE0, // current reference price = 1_234_400
        b'C', // cross type: closing
        b'L', // price variation indicator: < 1%
    ];
    let Message::Noii(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(m.paired_shares.get(), 100_000);
    assert_eq!(m.imbalance_shares.get(), 10_000);
    assert_eq!(m.imbalance_direction, b'B');
    assert_eq!(&m.stock, b"AAPL    ");
    assert_eq!(m.far_price.get(), 1_234_500);
    assert_eq!(m.near_price.get(), 1_234_600);
    assert_eq!(m.current_reference_price.get(), 1_234_400);
    assert_eq!(m.cross_type, b'C');
    assert_eq!(m.price_variation_indicator, b'L');
    let built = Noii::new(
        LOC,
        TRK,
        TS,
        100_000,
        10_000,
        b'B',
        *b"AAPL    ",
        1_234_500,
        1_234_600,
        1_234_400,
        b'C',
        b'L',
    );
    encodes_to(&built, &G);
}

#[test]
fn golden_rpii() {
    const G: [u8; 20] = [
        b'N', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ', // stock
        b'A', // interest flag: both sides
    ];
    let Message::Rpii(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(&m.stock, b"AAPL    ");
    assert_eq!(m.interest_flag, b'A');
    encodes_to(&Rpii::new(LOC, TRK, TS, *b"AAPL    ", b'A'), &G);
}

#[test]
fn golden_direct_listing_price_discovery() {
    const G: [u8; 48] = [
        b'O', // message type
        0x0A, 0x0B, // stock locate
        0x0C, 0x0D, // tracking number
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, // timestamp
        b'A', b'B', b'C', b'D', b' ', b' ', b' ', b' ', // stock
        b'Y', // open eligibility status
        0x00, 0x01, 0x86, 0xA0, // minimum allowable price = 100_000
        0x00, 0x0F, 0x42, 0x40, // maximum allowable price = 1_000_000
        0x00, 0x07, 0xA1, 0x20, // near execution price = 500_000
        0x00, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x67, // near execution time (ns)
        0x00, 0x06, 0x1A, 0x80, // lower price range collar = 400_000
        0x00, 0x08, 0x7A, 0x10, // upper price range collar = 555_536
    ];
    let Message::DirectListingPriceDiscovery(m) = decoded(&G) else {
        panic!("wrong variant")
    };
    assert_eq!(&m.stock, b"ABCD    ");
    assert_eq!(m.open_eligibility_status, b'Y');
    assert_eq!(m.minimum_allowable_price.get(), 100_000);
    assert_eq!(m.maximum_allowable_price.get(), 1_000_000);
    assert_eq!(m.near_execution_price.get(), 500_000);
    assert_eq!(m.near_execution_time.get(), 0x1122_3344_5567);
    assert_eq!(m.lower_price_range_collar.get(), 400_000);
    assert_eq!(m.upper_price_range_collar.get(), 555_536);
    let built = DirectListingPriceDiscovery::new(
        LOC,
        TRK,
        TS,
        *b"ABCD    ",
        b'Y',
        100_000,
        1_000_000,
        500_000,
        0x1122_3344_5567,
        400_000,
        555_536,
    );
    encodes_to(&built, &G);
}

/// The first message of NASDAQ's 2020-01-30 file (AAPL's stock directory), copied from the
/// capture, decodes to the values NASDAQ published for it.
#[test]
fn golden_real_stock_directory_from_capture() {
    const G: [u8; 39] = [
        0x52, 0x00, 0x0d, 0x00, 0x00, 0x0a, 0x37, 0xd4, 0xd0, 0xd3, 0x09, 0x41, 0x41, 0x50, 0x4c,
        0x20, 0x20, 0x20, 0x20, 0x51, 0x4e, 0x00, 0x00, 0x00, 0x64, 0x4e, 0x43, 0x5a, 0x20, 0x50,
        0x4e, 0x4e, 0x31, 0x4e, 0x00, 0x00, 0x00, 0x00, 0x4e,
    ];
    let Ok(Message::StockDirectory(m)) = decode(&G) else {
        panic!("not a stock directory")
    };
    assert_eq!(m.stock_locate.get(), 13);
    assert_eq!(m.tracking_number.get(), 0);
    assert_eq!(m.timestamp.get(), 0x0a37_d4d0_d309); // 03:02:xx, before start of system hours
    assert_eq!(&m.stock, b"AAPL    ");
    assert_eq!(m.market_category, b'Q');
    assert_eq!(m.round_lot_size.get(), 100);
    assert_eq!(&m.issue_subtype, b"Z ");
    assert_eq!(m.authenticity, b'P');
    assert_eq!(m.luld_tier, b'1');
    assert_eq!(m.etp_leverage.get(), 0);
    assert_eq!(m.inverse, b'N');
    let built = StockDirectory::new(
        13,
        0,
        0x0a37_d4d0_d309,
        *b"AAPL    ",
        b'Q',
        b'N',
        100,
        b'N',
        b'C',
        *b"Z ",
        b'P',
        b'N',
        b'N',
        b'1',
        b'N',
        0,
        b'N',
    );
    let mut out = Vec::new();
    encode(&built, &mut out);
    assert_eq!(out, G);
}
