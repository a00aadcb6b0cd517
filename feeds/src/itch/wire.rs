//! Zero-copy wire views of every NASDAQ TotalView-ITCH 5.0 message.
//!
//! Each struct is `#[repr(C)]`, has alignment 1 and no padding, and its size is exactly the
//! message's wire length (type byte included), so a `&[u8]` of the right length *is* a message:
//! [`zerocopy::FromBytes::ref_from_bytes`] turns it into a typed reference without copying, and
//! [`zerocopy::IntoBytes::as_bytes`] turns it back. Integer fields are big-endian
//! ([`BeU16`], [`BeU32`], [`BeU64`]; read with `.get()`), `Alpha` fields are byte arrays
//! (left-justified, space padded), one-character fields are `u8`, and the 6-byte timestamp
//! (nanoseconds since midnight) is [`Ts48`].
//!
//! Field names follow the specification's field tables in `snake_case`. Prices are the raw
//! wire integers: `Price(4)` fields are `BeU32` with 4 implied decimals, `Price(8)` fields are
//! `BeU64` with 8 implied decimals.
//!
//! Every struct implements [`ItchMessage`], whose `TYPE`/`LEN` constants are checked at compile
//! time against [`super::message_len`] and `size_of`.
//!
//! Each struct also has a `new(locate, tracking, ts_ns, ...body fields in spec order)`
//! constructor taking native integers (converted to big-endian) and setting `msg_type`.

use zerocopy::byteorder::{BigEndian, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::message_len;

/// Big-endian `u16` as laid out on the wire.
pub type BeU16 = U16<BigEndian>;
/// Big-endian `u32` as laid out on the wire.
pub type BeU32 = U32<BigEndian>;
/// Big-endian `u64` as laid out on the wire.
pub type BeU64 = U64<BigEndian>;

/// The 6-byte big-endian ITCH timestamp: nanoseconds since midnight.
#[derive(
    FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug, PartialEq, Eq,
)]
#[repr(transparent)]
pub struct Ts48(pub [u8; 6]);

impl Ts48 {
    /// Largest representable value (2^48 - 1 ns, about 78 hours).
    pub const MAX: u64 = (1 << 48) - 1;

    /// Encodes `nanos`, truncated to its low 48 bits.
    #[inline]
    pub const fn new(nanos: u64) -> Ts48 {
        let b = nanos.to_be_bytes();
        Ts48([b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    /// Nanoseconds since midnight.
    #[inline(always)]
    pub const fn get(self) -> u64 {
        let b = self.0;
        // Two loads (u16 + u32) instead of six byte loads.
        let hi = u16::from_be_bytes([b[0], b[1]]) as u64;
        let lo = u32::from_be_bytes([b[2], b[3], b[4], b[5]]) as u64;
        (hi << 32) | lo
    }
}

/// A fixed-length ITCH 5.0 message view: its type byte and wire length (type byte included).
pub trait ItchMessage: IntoBytes + Immutable + FromBytes + KnownLayout + Unaligned {
    /// Message type byte (first byte on the wire).
    const TYPE: u8;
    /// Wire length in bytes, type byte included (equals `size_of::<Self>()`).
    const LEN: usize;

    /// The timestamp (ns since midnight), read with one 8-byte big-endian load of bytes 3..11
    /// (the tracking number, then the 6-byte timestamp, in every message) masked to 48 bits:
    /// one load instead of [`Ts48::get`]'s two. Equal to `timestamp.get()` (tested).
    #[inline(always)]
    fn nanos(&self) -> u64 {
        let b = self.as_bytes();
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[3..11]);
        u64::from_be_bytes(w) & Ts48::MAX
    }
}

/// Conversion from a native constructor argument to its wire representation.
trait FromNative<T> {
    fn from_native(v: T) -> Self;
}

impl FromNative<u8> for u8 {
    #[inline(always)]
    fn from_native(v: u8) -> Self {
        v
    }
}
impl<const N: usize> FromNative<[u8; N]> for [u8; N] {
    #[inline(always)]
    fn from_native(v: [u8; N]) -> Self {
        v
    }
}
impl FromNative<u16> for BeU16 {
    #[inline(always)]
    fn from_native(v: u16) -> Self {
        BeU16::new(v)
    }
}
impl FromNative<u32> for BeU32 {
    #[inline(always)]
    fn from_native(v: u32) -> Self {
        BeU32::new(v)
    }
}
impl FromNative<u64> for BeU64 {
    #[inline(always)]
    fn from_native(v: u64) -> Self {
        BeU64::new(v)
    }
}

macro_rules! itch_messages {
    ($(
        $(#[$smeta:meta])*
        $name:ident = $ty:literal, $len:literal {
            $( $(#[$fmeta:meta])* $field:ident : $wire:ty = $native:ty ),* $(,)?
        }
    )*) => {$(
        $(#[$smeta])*
        #[derive(
            FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug,
            PartialEq, Eq,
        )]
        #[repr(C)]
        pub struct $name {
            /// Message type (`
            #[doc = stringify!($ty)]
            /// `).
            pub msg_type: u8,
            /// Locate code identifying the security (0 for market-wide messages).
            pub stock_locate: BeU16,
            /// NASDAQ internal tracking number.
            pub tracking_number: BeU16,
            /// Nanoseconds since midnight.
            pub timestamp: Ts48,
            $( $(#[$fmeta])* pub $field: $wire, )*
        }

        impl ItchMessage for $name {
            const TYPE: u8 = $ty;
            const LEN: usize = $len;
        }

        const _: () = {
            assert!(core::mem::size_of::<$name>() == $len);
            assert!(core::mem::align_of::<$name>() == 1);
            assert!(matches!(message_len($ty), Some($len)));
        };

        impl $name {
            /// Builds the message: header (`stock_locate`, `tracking_number`, timestamp in ns,
            /// truncated to 48 bits), then the body fields in specification order.
            #[allow(clippy::too_many_arguments)]
            #[inline]
            pub fn new(
                stock_locate: u16,
                tracking_number: u16,
                ts_ns: u64,
                $( $field: $native, )*
            ) -> Self {
                Self {
                    msg_type: $ty,
                    stock_locate: BeU16::new(stock_locate),
                    tracking_number: BeU16::new(tracking_number),
                    timestamp: Ts48::new(ts_ns),
                    $( $field: FromNative::from_native($field), )*
                }
            }
        }
    )*};
}

pub use defs::*;

/// The message structs. zerocopy 0.8's derives emit hidden per-field helper types that trip
/// `missing_debug_implementations`; every public struct here derives `Debug` (checked by the
/// `all_debug` test), so the lint is silenced for this module only.
#[allow(missing_debug_implementations)]
mod defs {
    use super::*;

    itch_messages! {
        /// `S` System Event (12 bytes): market-wide session events.
        SystemEvent = b'S', 12 {
            /// `O` start of messages, `S` start of system hours, `Q` start of market hours,
            /// `M` end of market hours, `E` end of system hours, `C` end of messages.
            event_code: u8 = u8,
        }

        /// `R` Stock Directory (39 bytes): reference data, sent before a symbol's first order.
        StockDirectory = b'R', 39 {
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// Listing market: `Q` Global Select, `G` Global Market, `S` Capital Market, `N` NYSE,
            /// `A` NYSE American, `P` NYSE Arca, `Z` BATS, `V` IEX, space: not available.
            market_category: u8 = u8,
            /// Financial status indicator (`D`, `E`, `Q`, `S`, `G`, `H`, `J`, `K`, `C`, `N`, space).
            financial_status: u8 = u8,
            /// Shares per round lot.
            round_lot_size: BeU32 = u32,
            /// `Y`: only round lots accepted; `N`: odd and mixed lots allowed.
            round_lots_only: u8 = u8,
            /// Issue classification code.
            issue_classification: u8 = u8,
            /// Issue sub-type code (2 characters).
            issue_subtype: [u8; 2] = [u8; 2],
            /// `P` live/production, `T` test.
            authenticity: u8 = u8,
            /// Reg SHO threshold list: `Y`, `N`, space: not available.
            short_sale_threshold: u8 = u8,
            /// IPO flag: `Y`, `N`, space: not available.
            ipo_flag: u8 = u8,
            /// LULD reference price tier: `1`, `2`, space: not available.
            luld_tier: u8 = u8,
            /// Exchange traded product: `Y`, `N`, space: not available.
            etp_flag: u8 = u8,
            /// ETP leverage factor (integer).
            etp_leverage: BeU32 = u32,
            /// Inverse ETP: `Y` or `N`.
            inverse: u8 = u8,
        }

        /// `H` Stock Trading Action (25 bytes): halts, pauses, quotation and trading states.
        StockTradingAction = b'H', 25 {
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// `H` halted, `P` paused, `Q` quotation only, `T` trading.
            trading_state: u8 = u8,
            /// Reserved.
            reserved: u8 = u8,
            /// Trading action reason (4 characters, space padded).
            reason: [u8; 4] = [u8; 4],
        }

        /// `Y` Reg SHO Short Sale Price Test Restricted Indicator (20 bytes).
        RegShoRestriction = b'Y', 20 {
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// `0` no price test, `1` restriction (intraday drop), `2` restriction remains.
            reg_sho_action: u8 = u8,
        }

        /// `L` Market Participant Position (26 bytes).
        MarketParticipantPosition = b'L', 26 {
            /// Market participant identifier (4 characters).
            mpid: [u8; 4] = [u8; 4],
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// `Y` primary market maker, `N` not.
            primary_market_maker: u8 = u8,
            /// `N` normal, `P` passive, `S` syndicate, `R` pre-syndicate, `L` penalty.
            market_maker_mode: u8 = u8,
            /// `A` active, `E` excused, `W` withdrawn, `S` suspended, `D` deleted.
            market_participant_state: u8 = u8,
        }

        /// `V` MWCB Decline Level (35 bytes): the day's market-wide circuit breaker levels.
        MwcbDeclineLevel = b'V', 35 {
            /// Level 1, `Price(8)`.
            level1: BeU64 = u64,
            /// Level 2, `Price(8)`.
            level2: BeU64 = u64,
            /// Level 3, `Price(8)`.
            level3: BeU64 = u64,
        }

        /// `W` MWCB Status (12 bytes): a market-wide circuit breaker level was breached.
        MwcbStatus = b'W', 12 {
            /// Breached level: `1`, `2` or `3` (ASCII).
            breached_level: u8 = u8,
        }

        /// `K` IPO Quoting Period Update (28 bytes).
        IpoQuotingPeriodUpdate = b'K', 28 {
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// Anticipated quotation release time, seconds since midnight.
            ipo_quotation_release_time: BeU32 = u32,
            /// `A` anticipated release time, `C` IPO release cancelled/postponed.
            ipo_quotation_release_qualifier: u8 = u8,
            /// IPO price, `Price(4)`.
            ipo_price: BeU32 = u32,
        }

        /// `J` LULD Auction Collar (35 bytes).
        LuldAuctionCollar = b'J', 35 {
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// Auction collar reference price, `Price(4)`.
            auction_collar_reference_price: BeU32 = u32,
            /// Upper auction collar price, `Price(4)`.
            upper_auction_collar_price: BeU32 = u32,
            /// Lower auction collar price, `Price(4)`.
            lower_auction_collar_price: BeU32 = u32,
            /// Number of extensions to the reopening auction.
            auction_collar_extension: BeU32 = u32,
        }

        /// `h` Operational Halt (21 bytes): a halt on one NASDAQ market only.
        OperationalHalt = b'h', 21 {
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// `Q` NASDAQ, `B` BX, `X` PSX.
            market_code: u8 = u8,
            /// `H` operationally halted, `T` operational halt lifted.
            operational_halt_action: u8 = u8,
        }

        /// `A` Add Order, no MPID attribution (36 bytes).
        AddOrder = b'A', 36 {
            /// Order reference number, unique for the day.
            order_ref: BeU64 = u64,
            /// `B` buy, `S` sell.
            buy_sell: u8 = u8,
            /// Displayed shares.
            shares: BeU32 = u32,
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// Limit price, `Price(4)`.
            price: BeU32 = u32,
        }

        /// `F` Add Order with MPID attribution (40 bytes).
        AddOrderMpid = b'F', 40 {
            /// Order reference number, unique for the day.
            order_ref: BeU64 = u64,
            /// `B` buy, `S` sell.
            buy_sell: u8 = u8,
            /// Displayed shares.
            shares: BeU32 = u32,
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// Limit price, `Price(4)`.
            price: BeU32 = u32,
            /// Market participant identifier of the entering firm.
            attribution: [u8; 4] = [u8; 4],
        }

        /// `E` Order Executed at the order's own price (31 bytes).
        OrderExecuted = b'E', 31 {
            /// Order reference number.
            order_ref: BeU64 = u64,
            /// Shares executed.
            executed_shares: BeU32 = u32,
            /// Match number (links to broken trades).
            match_number: BeU64 = u64,
        }

        /// `C` Order Executed With Price (36 bytes): executed at a price other than its limit.
        OrderExecutedWithPrice = b'C', 36 {
            /// Order reference number.
            order_ref: BeU64 = u64,
            /// Shares executed.
            executed_shares: BeU32 = u32,
            /// Match number.
            match_number: BeU64 = u64,
            /// `Y` printable (counts toward time-and-sales/volume), `N` non-printable.
            printable: u8 = u8,
            /// Execution price, `Price(4)`.
            execution_price: BeU32 = u32,
        }

        /// `X` Order Cancel: partial cancellation (23 bytes).
        OrderCancel = b'X', 23 {
            /// Order reference number.
            order_ref: BeU64 = u64,
            /// Shares removed from the order.
            cancelled_shares: BeU32 = u32,
        }

        /// `D` Order Delete: the whole remaining order is cancelled (19 bytes).
        OrderDelete = b'D', 19 {
            /// Order reference number.
            order_ref: BeU64 = u64,
        }

        /// `U` Order Replace (35 bytes): cancel the original and add a new order, same side.
        OrderReplace = b'U', 35 {
            /// Reference number of the order being replaced.
            original_order_ref: BeU64 = u64,
            /// Reference number of the new order.
            new_order_ref: BeU64 = u64,
            /// New displayed shares.
            shares: BeU32 = u32,
            /// New limit price, `Price(4)`.
            price: BeU32 = u32,
        }

        /// `P` Trade (non-cross) against a non-displayed order (44 bytes).
        NonCrossTrade = b'P', 44 {
            /// Order reference number of the non-displayed order (0 since 2014).
            order_ref: BeU64 = u64,
            /// Side of the resting non-displayed order: `B` buy, `S` sell.
            buy_sell: u8 = u8,
            /// Shares executed.
            shares: BeU32 = u32,
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// Execution price, `Price(4)`.
            price: BeU32 = u32,
            /// Match number.
            match_number: BeU64 = u64,
        }

        /// `Q` Cross Trade (40 bytes): the bulk print of a cross.
        CrossTrade = b'Q', 40 {
            /// Shares matched in the cross (64-bit).
            shares: BeU64 = u64,
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// Cross price, `Price(4)`.
            cross_price: BeU32 = u32,
            /// Match number.
            match_number: BeU64 = u64,
            /// `O` opening, `C` closing, `H` IPO/halted, `I` intraday/post-close.
            cross_type: u8 = u8,
        }

        /// `B` Broken Trade / Order Execution (19 bytes).
        BrokenTrade = b'B', 19 {
            /// Match number of the broken execution.
            match_number: BeU64 = u64,
        }

        /// `I` Net Order Imbalance Indicator (50 bytes).
        Noii = b'I', 50 {
            /// Shares paired at the current reference price.
            paired_shares: BeU64 = u64,
            /// Shares not paired at the current reference price.
            imbalance_shares: BeU64 = u64,
            /// `B` buy, `S` sell, `N` none, `O` insufficient orders, `P` paused.
            imbalance_direction: u8 = u8,
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// Far clearing price (cross interest only), `Price(4)`.
            far_price: BeU32 = u32,
            /// Near clearing price (cross and continuous interest), `Price(4)`.
            near_price: BeU32 = u32,
            /// Current reference price, `Price(4)`.
            current_reference_price: BeU32 = u32,
            /// `O` opening, `C` closing, `H` IPO/halted, `A` extended trading close.
            cross_type: u8 = u8,
            /// Price variation indicator: `L`, `1`..`9`, `A`, `B`, `C`, space.
            price_variation_indicator: u8 = u8,
        }

        /// `N` Retail Price Improvement Indicator (20 bytes).
        Rpii = b'N', 20 {
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// `B` buy side, `S` sell side, `A` both, `N` none.
            interest_flag: u8 = u8,
        }

        /// `O` Direct Listing with Capital Raise Price Discovery (48 bytes).
        DirectListingPriceDiscovery = b'O', 48 {
            /// Symbol, space padded.
            stock: [u8; 8] = [u8; 8],
            /// `N` not eligible, `Y` eligible to open.
            open_eligibility_status: u8 = u8,
            /// Minimum allowable price, `Price(4)`.
            minimum_allowable_price: BeU32 = u32,
            /// Maximum allowable price, `Price(4)`.
            maximum_allowable_price: BeU32 = u32,
            /// Near execution price, `Price(4)`.
            near_execution_price: BeU32 = u32,
            /// Near execution time, nanoseconds since midnight.
            near_execution_time: BeU64 = u64,
            /// Lower price range collar, `Price(4)`.
            lower_price_range_collar: BeU32 = u32,
            /// Upper price range collar, `Price(4)`.
            upper_price_range_collar: BeU32 = u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    /// Pins a struct's size, its header offsets and every body field's offset, with the
    /// numbers taken from the specification's field tables (not computed).
    macro_rules! layout {
        ($t:ident, $size:literal, $ty:literal, { $($f:ident : $off:literal),* $(,)? }) => {{
            assert_eq!(size_of::<$t>(), $size, "size of {}", stringify!($t));
            assert_eq!(<$t as ItchMessage>::LEN, $size);
            assert_eq!(<$t as ItchMessage>::TYPE, $ty);
            assert_eq!(message_len($ty), Some($size));
            assert_eq!(offset_of!($t, msg_type), 0);
            assert_eq!(offset_of!($t, stock_locate), 1);
            assert_eq!(offset_of!($t, tracking_number), 3);
            assert_eq!(offset_of!($t, timestamp), 5);
            $( assert_eq!(offset_of!($t, $f), $off, "{}.{}", stringify!($t), stringify!($f)); )*
        }};
    }

    #[test]
    fn nanos_is_the_timestamp_whatever_the_tracking_number() {
        for (tracking, ts) in [
            (0u16, 0u64),
            (0xffff, Ts48::MAX),
            (0xffff, 0),
            (0, Ts48::MAX),
            (0x1234, 34_200_000_000_123),
        ] {
            let a = AddOrder::new(7, tracking, ts, 1, b'B', 1, *b"AAPL    ", 1);
            assert_eq!(a.nanos(), a.timestamp.get());
            assert_eq!(a.nanos(), ts);
            let d = OrderDelete::new(7, tracking, ts, 1);
            assert_eq!(d.nanos(), ts);
            let s = SystemEvent::new(0, tracking, ts, b'O');
            assert_eq!(s.nanos(), ts);
        }
    }

    #[test]
    fn layouts_match_spec() {
        layout!(SystemEvent, 12, b'S', { event_code: 11 });
        layout!(StockDirectory, 39, b'R', {
            stock: 11, market_category: 19, financial_status: 20, round_lot_size: 21,
            round_lots_only: 25, issue_classification: 26, issue_subtype: 27, authenticity: 29,
            short_sale_threshold: 30, ipo_flag: 31, luld_tier: 32, etp_flag: 33,
            etp_leverage: 34, inverse: 38,
        });
        layout!(StockTradingAction, 25, b'H', {
            stock: 11, trading_state: 19, reserved: 20, reason: 21,
        });
        layout!(RegShoRestriction, 20, b'Y', { stock: 11, reg_sho_action: 19 });
        layout!(MarketParticipantPosition, 26, b'L', {
            mpid: 11, stock: 15, primary_market_maker: 23, market_maker_mode: 24,
            market_participant_state: 25,
        });
        layout!(MwcbDeclineLevel, 35, b'V', { level1: 11, level2: 19, level3: 27 });
        layout!(MwcbStatus, 12, b'W', { breached_level: 11 });
        layout!(IpoQuotingPeriodUpdate, 28, b'K', {
            stock: 11, ipo_quotation_release_time: 19, ipo_quotation_release_qualifier: 23,
            ipo_price: 24,
        });
        layout!(LuldAuctionCollar, 35, b'J', {
            stock: 11, auction_collar_reference_price: 19, upper_auction_collar_price: 23,
            lower_auction_collar_price: 27, auction_collar_extension: 31,
        });
        layout!(OperationalHalt, 21, b'h', {
            stock: 11, market_code: 19, operational_halt_action: 20,
        });
        layout!(AddOrder, 36, b'A', {
            order_ref: 11, buy_sell: 19, shares: 20, stock: 24, price: 32,
        });
        layout!(AddOrderMpid, 40, b'F', {
            order_ref: 11, buy_sell: 19, shares: 20, stock: 24, price: 32, attribution: 36,
        });
        layout!(OrderExecuted, 31, b'E', {
            order_ref: 11, executed_shares: 19, match_number: 23,
        });
        layout!(OrderExecutedWithPrice, 36, b'C', {
            order_ref: 11, executed_shares: 19, match_number: 23, printable: 31,
            execution_price: 32,
        });
        layout!(OrderCancel, 23, b'X', { order_ref: 11, cancelled_shares: 19 });
        layout!(OrderDelete, 19, b'D', { order_ref: 11 });
        layout!(OrderReplace, 35, b'U', {
            original_order_ref: 11, new_order_ref: 19, shares: 27, price: 31,
        });
        layout!(NonCrossTrade, 44, b'P', {
            order_ref: 11, buy_sell: 19, shares: 20, stock: 24, price: 32, match_number: 36,
        });
        layout!(CrossTrade, 40, b'Q', {
            shares: 11, stock: 19, cross_price: 27, match_number: 31, cross_type: 39,
        });
        layout!(BrokenTrade, 19, b'B', { match_number: 11 });
        layout!(Noii, 50, b'I', {
            paired_shares: 11, imbalance_shares: 19, imbalance_direction: 27, stock: 28,
            far_price: 36, near_price: 40, current_reference_price: 44, cross_type: 48,
            price_variation_indicator: 49,
        });
        layout!(Rpii, 20, b'N', { stock: 11, interest_flag: 19 });
        layout!(DirectListingPriceDiscovery, 48, b'O', {
            stock: 11, open_eligibility_status: 19, minimum_allowable_price: 20,
            maximum_allowable_price: 24, near_execution_price: 28, near_execution_time: 32,
            lower_price_range_collar: 40, upper_price_range_collar: 44,
        });
    }

    #[test]
    fn message_len_covers_exactly_23_types() {
        let types: Vec<u8> = (0..=255u8).filter(|&b| message_len(b).is_some()).collect();
        assert_eq!(types, b"ABCDEFHIJKLNOPQRSUVWXYh".to_vec());
    }

    #[test]
    fn ts48_round_trip_and_truncation() {
        let t = Ts48::new(0x0123_4567_89AB_CDEF);
        assert_eq!(t.0, [0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]);
        assert_eq!(t.get(), 0x4567_89AB_CDEF);
        assert_eq!(Ts48::new(Ts48::MAX).get(), Ts48::MAX);
        assert_eq!(Ts48::new(Ts48::MAX + 1).get(), 0);
        // 09:30:00 in ns since midnight.
        assert_eq!(Ts48::new(34_200_000_000_000).get(), 34_200_000_000_000);
        assert_eq!(size_of::<Ts48>(), 6);
    }

    #[test]
    fn all_debug() {
        // Every public wire type formats with Debug (the lint is silenced in `defs`).
        let s = format!("{:?}", AddOrder::new(1, 2, 3, 4, b'B', 5, *b"AAPL    ", 6));
        assert!(s.starts_with("AddOrder {"), "{s}");
        let s = format!("{:?}", Ts48::new(7));
        assert!(s.starts_with("Ts48("), "{s}");
    }
}
