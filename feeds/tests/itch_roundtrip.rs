//! Property tests: constructor → encode → decode round trips for all 23 message types, and
//! the decoder's behaviour on arbitrary, truncated and extended buffers.

use proptest::prelude::*;
use ticklane_feeds::itch::*;

/// Reads a wire field back as the native value its constructor took.
trait Native<T> {
    fn native(self) -> T;
}
impl Native<u8> for u8 {
    fn native(self) -> u8 {
        self
    }
}
impl<const N: usize> Native<[u8; N]> for [u8; N] {
    fn native(self) -> [u8; N] {
        self
    }
}
impl Native<u32> for BeU32 {
    fn native(self) -> u32 {
        self.get()
    }
}
impl Native<u64> for BeU64 {
    fn native(self) -> u64 {
        self.get()
    }
}

/// All 23 types: (type byte, wire length).
const TYPES: [(u8, usize); 23] = [
    (b'S', 12),
    (b'R', 39),
    (b'H', 25),
    (b'Y', 20),
    (b'L', 26),
    (b'V', 35),
    (b'W', 12),
    (b'K', 28),
    (b'J', 35),
    (b'h', 21),
    (b'A', 36),
    (b'F', 40),
    (b'E', 31),
    (b'C', 36),
    (b'X', 23),
    (b'D', 19),
    (b'U', 35),
    (b'P', 44),
    (b'Q', 40),
    (b'B', 19),
    (b'I', 50),
    (b'N', 20),
    (b'O', 48),
];

/// For each message type: build from arbitrary field values, encode (bare and framed), decode,
/// and check the variant, the whole struct, every field and the header.
macro_rules! round_trip {
    ($($test:ident: $t:ident { $($f:ident: $ft:ty),* $(,)? })*) => {
        proptest! {
            $(
                #[test]
                fn $test(
                    locate in any::<u16>(),
                    tracking in any::<u16>(),
                    ts in any::<u64>(),
                    $($f in any::<$ft>(),)*
                ) {
                    let built = $t::new(locate, tracking, ts, $($f),*);
                    let mut buf = Vec::new();
                    encode(&built, &mut buf);
                    prop_assert_eq!(buf.len(), <$t as ItchMessage>::LEN);
                    prop_assert_eq!(buf[0], <$t as ItchMessage>::TYPE);
                    let msg = decode(&buf).expect("decodes");
                    let Message::$t(m) = msg else {
                        panic!("wrong variant {:?}", msg)
                    };
                    prop_assert_eq!(*m, built);
                    prop_assert_eq!(msg.stock_locate(), locate);
                    prop_assert_eq!(msg.tracking_number(), tracking);
                    prop_assert_eq!(msg.timestamp(), ts & Ts48::MAX);
                    $( prop_assert_eq!(Native::<$ft>::native(m.$f), $f, "field {}", stringify!($f)); )*
                    let mut framed = Vec::new();
                    encode_framed(&built, &mut framed);
                    prop_assert_eq!(usize::from(u16::from_be_bytes([framed[0], framed[1]])), buf.len());
                    prop_assert_eq!(&framed[2..], &buf[..]);
                }
            )*
        }
    };
}

round_trip! {
    rt_system_event: SystemEvent { event_code: u8 }
    rt_stock_directory: StockDirectory {
        stock: [u8; 8], market_category: u8, financial_status: u8, round_lot_size: u32,
        round_lots_only: u8, issue_classification: u8, issue_subtype: [u8; 2], authenticity: u8,
        short_sale_threshold: u8, ipo_flag: u8, luld_tier: u8, etp_flag: u8, etp_leverage: u32,
        inverse: u8,
    }
    rt_stock_trading_action: StockTradingAction {
        stock: [u8; 8], trading_state: u8, reserved: u8, reason: [u8; 4],
    }
    rt_reg_sho: RegShoRestriction { stock: [u8; 8], reg_sho_action: u8 }
    rt_market_participant_position: MarketParticipantPosition {
        mpid: [u8; 4], stock: [u8; 8], primary_market_maker: u8, market_maker_mode: u8,
        market_participant_state: u8,
    }
    rt_mwcb_decline_level: MwcbDeclineLevel { level1: u64, level2: u64, level3: u64 }
    rt_mwcb_status: MwcbStatus { breached_level: u8 }
    rt_ipo_quoting_period_update: IpoQuotingPeriodUpdate {
        stock: [u8; 8], ipo_quotation_release_time: u32, ipo_quotation_release_qualifier: u8,
        ipo_price: u32,
    }
    rt_luld_auction_collar: LuldAuctionCollar {
        stock: [u8; 8], auction_collar_reference_price: u32, upper_auction_collar_price: u32,
        lower_auction_collar_price: u32, auction_collar_extension: u32,
    }
    rt_operational_halt: OperationalHalt {
        stock: [u8; 8], market_code: u8, operational_halt_action: u8,
    }
    rt_add_order: AddOrder {
        order_ref: u64, buy_sell: u8, shares: u32, stock: [u8; 8], price: u32,
    }
    rt_add_order_mpid: AddOrderMpid {
        order_ref: u64, buy_sell: u8, shares: u32, stock: [u8; 8], price: u32,
        attribution: [u8; 4],
    }
    rt_order_executed: OrderExecuted { order_ref: u64, executed_shares: u32, match_number: u64 }
    rt_order_executed_with_price: OrderExecutedWithPrice {
        order_ref: u64, executed_shares: u32, match_number: u64, printable: u8,
        execution_price: u32,
    }
    rt_order_cancel: OrderCancel { order_ref: u64, cancelled_shares: u32 }
    rt_order_delete: OrderDelete { order_ref: u64 }
    rt_order_replace: OrderReplace {
        original_order_ref: u64, new_order_ref: u64, shares: u32, price: u32,
    }
    rt_non_cross_trade: NonCrossTrade {
        order_ref: u64, buy_sell: u8, shares: u32, stock: [u8; 8], price: u32,
        match_number: u64,
    }
    rt_cross_trade: CrossTrade {
        shares: u64, stock: [u8; 8], cross_price: u32, match_number: u64, cross_type: u8,
    }
    rt_broken_trade: BrokenTrade { match_number: u64 }
    rt_noii: Noii {
        paired_shares: u64, imbalance_shares: u64, imbalance_direction: u8, stock: [u8; 8],
        far_price: u32, near_price: u32, current_reference_price: u32, cross_type: u8,
        price_variation_indicator: u8,
    }
    rt_rpii: Rpii { stock: [u8; 8], interest_flag: u8 }
    rt_direct_listing_price_discovery: DirectListingPriceDiscovery {
        stock: [u8; 8], open_eligibility_status: u8, minimum_allowable_price: u32,
        maximum_allowable_price: u32, near_execution_price: u32, near_execution_time: u64,
        lower_price_range_collar: u32, upper_price_range_collar: u32,
    }
}

/// A buffer of exactly one message of a random type, with random body bytes.
fn valid_message() -> impl Strategy<Value = Vec<u8>> {
    (0..TYPES.len()).prop_flat_map(|i| {
        let (ty, len) = TYPES[i];
        proptest::collection::vec(any::<u8>(), len).prop_map(move |mut v| {
            v[0] = ty;
            v
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Arbitrary bytes: never panics, and the result agrees with `message_len`.
    #[test]
    fn decode_arbitrary_bytes_is_total(buf in proptest::collection::vec(any::<u8>(), 0..80)) {
        let r = decode(&buf);
        match (buf.first(), r) {
            (None, r) => prop_assert_eq!(r, Err(DecodeError::Empty)),
            (Some(&ty), r) => match message_len(ty) {
                None => prop_assert_eq!(r, Err(DecodeError::UnknownType { ty })),
                Some(len) if len == buf.len() => {
                    let m = r.expect("exact length decodes");
                    prop_assert_eq!(m.msg_type(), ty);
                    prop_assert_eq!(m.as_bytes(), &buf[..]);
                    // Normalizing any well-formed message never panics.
                    let _ = normalize(&m);
                }
                Some(len) if len > buf.len() => prop_assert_eq!(
                    r,
                    Err(DecodeError::Truncated { ty, expected: len, actual: buf.len() })
                ),
                Some(len) => prop_assert_eq!(
                    r,
                    Err(DecodeError::LengthMismatch { ty, expected: len, actual: buf.len() })
                ),
            },
        }
        // decode_prefix is total too, and consumes exactly message_len bytes.
        match decode_prefix(&buf) {
            Ok((m, used)) => {
                prop_assert_eq!(Some(used), message_len(buf[0]));
                prop_assert_eq!(m.as_bytes(), &buf[..used]);
            }
            Err(DecodeError::Empty) => prop_assert!(buf.is_empty()),
            Err(DecodeError::UnknownType { ty }) => prop_assert_eq!(message_len(ty), None),
            Err(DecodeError::Truncated { ty, expected, actual }) => {
                prop_assert_eq!(Some(expected), message_len(ty));
                prop_assert_eq!(actual, buf.len());
                prop_assert!(actual < expected);
            }
            Err(e @ DecodeError::LengthMismatch { .. }) => {
                prop_assert!(false, "decode_prefix never reports {:?}", e)
            }
        }
    }

    /// Random valid messages: decode is the identity on bytes and normalize never panics.
    #[test]
    fn decode_valid_random_bodies(buf in valid_message()) {
        let m = decode(&buf).expect("valid length decodes");
        prop_assert_eq!(m.as_bytes(), &buf[..]);
        prop_assert_eq!(m.msg_type(), buf[0]);
        prop_assert_eq!(m.stock_locate(), u16::from_be_bytes([buf[1], buf[2]]));
        prop_assert_eq!(m.tracking_number(), u16::from_be_bytes([buf[3], buf[4]]));
        let ts = buf[5..11].iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        prop_assert_eq!(m.timestamp(), ts);
        let market_wide = matches!(buf[0], b'S' | b'V' | b'W');
        match normalize(&m) {
            Ok(Some(ev)) => {
                prop_assert_eq!(ev.ts.0, ts);
                // The market-wide messages carry no instrument; the others their locate,
                // which is never 0 (reserved for the market-wide ones).
                let want = if market_wide { 0 } else { u32::from(m.stock_locate()) };
                prop_assert_eq!(ev.instrument.0, want);
                prop_assert!(market_wide || want != 0);
            }
            Err(NormalizeError::InvalidField { field: "stock_locate", ty, value }) => {
                prop_assert_eq!((ty, value, m.stock_locate()), (buf[0], 0, 0));
                prop_assert!(!market_wide);
            }
            _ => {}
        }
    }

    /// Cutting a valid message short gives `Truncated` (or `Empty` at zero bytes).
    #[test]
    fn truncated_buffers_are_reported(buf in valid_message(), cut in 1usize..64) {
        let len = buf.len();
        let keep = len.saturating_sub(cut);
        let short = &buf[..keep];
        let expected = if keep == 0 {
            DecodeError::Empty
        } else {
            DecodeError::Truncated { ty: buf[0], expected: len, actual: keep }
        };
        prop_assert_eq!(decode(short), Err(expected));
        prop_assert_eq!(decode_prefix(short).map(|(_, n)| n), Err(expected));
    }

    /// Extending a valid message gives `LengthMismatch` from `decode`, while `decode_prefix`
    /// still returns the message and its length.
    #[test]
    fn extended_buffers_are_reported(
        buf in valid_message(),
        extra in proptest::collection::vec(any::<u8>(), 1..32),
    ) {
        let len = buf.len();
        let mut long = buf.clone();
        long.extend_from_slice(&extra);
        prop_assert_eq!(
            decode(&long),
            Err(DecodeError::LengthMismatch { ty: buf[0], expected: len, actual: len + extra.len() })
        );
        let (m, used) = decode_prefix(&long).expect("prefix decodes");
        prop_assert_eq!(used, len);
        prop_assert_eq!(m, decode(&buf).expect("valid"));
    }
}

#[test]
fn errors_on_fixed_inputs() {
    assert_eq!(decode(&[]), Err(DecodeError::Empty));
    assert_eq!(decode_prefix(&[]).map(|(_, n)| n), Err(DecodeError::Empty));
    assert_eq!(decode(b"Z"), Err(DecodeError::UnknownType { ty: b'Z' }));
    // 'T' (seconds) existed in ITCH 4.x and is not an ITCH 5.0 message.
    assert_eq!(
        decode(&[b'T'; 5]),
        Err(DecodeError::UnknownType { ty: b'T' })
    );
    assert_eq!(
        decode(b"A"),
        Err(DecodeError::Truncated {
            ty: b'A',
            expected: 36,
            actual: 1
        })
    );
    assert_eq!(
        decode(&[b'D'; 20]),
        Err(DecodeError::LengthMismatch {
            ty: b'D',
            expected: 19,
            actual: 20
        })
    );
    // Each type byte is dispatched to its own variant.
    for (ty, len) in TYPES {
        let mut v = vec![0u8; len];
        v[0] = ty;
        let m = decode(&v).expect("decodes");
        assert_eq!(m.msg_type(), ty);
        assert_eq!(m.as_bytes().len(), len);
    }
    // Display strings are informative.
    let e = DecodeError::Truncated {
        ty: b'A',
        expected: 36,
        actual: 3,
    };
    assert_eq!(
        e.to_string(),
        "truncated ITCH message type 0x41: 3 bytes, expected 36"
    );
}
