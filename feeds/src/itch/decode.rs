//! Zero-copy, allocation-free, panic-free decoding of one ITCH 5.0 message.
//!
//! [`decode`] takes a buffer holding exactly one message (type byte first, no length prefix,
//! as delivered by MoldUDP64 or the binary-file framing) and returns a [`Message`]: an enum of
//! references into the buffer, one variant per message type, named after the
//! [`wire`](super::wire) struct it wraps. [`decode_prefix`] takes the length from the type byte
//! instead and returns how many bytes it consumed, for streams without framing.
//!
//! Dispatch is one `match` on the type byte; each arm is a length compare and a pointer cast
//! (every wire struct has alignment 1, so [`zerocopy::FromBytes::ref_from_bytes`] cannot fail
//! on alignment). Nothing is copied until a field is read.

use thiserror::Error;
use zerocopy::IntoBytes;

use super::wire::{
    AddOrder, AddOrderMpid, BrokenTrade, CrossTrade, DirectListingPriceDiscovery,
    IpoQuotingPeriodUpdate, ItchMessage, LuldAuctionCollar, MarketParticipantPosition,
    MwcbDeclineLevel, MwcbStatus, Noii, NonCrossTrade, OperationalHalt, OrderCancel, OrderDelete,
    OrderExecuted, OrderExecutedWithPrice, OrderReplace, RegShoRestriction, Rpii, StockDirectory,
    StockTradingAction, SystemEvent,
};

/// Why a buffer is not one ITCH 5.0 message.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer is empty (no type byte).
    #[error("empty ITCH message")]
    Empty,
    /// The type byte is not an ITCH 5.0 message type.
    #[error("unknown ITCH message type {ty:#04x}")]
    UnknownType {
        /// The type byte.
        ty: u8,
    },
    /// The buffer is shorter than the message type's length.
    #[error("truncated ITCH message type {ty:#04x}: {actual} bytes, expected {expected}")]
    Truncated {
        /// The type byte.
        ty: u8,
        /// Wire length of that type.
        expected: usize,
        /// Bytes available.
        actual: usize,
    },
    /// The buffer is longer than the message type's length.
    #[error("ITCH message type {ty:#04x} is {actual} bytes, expected {expected}")]
    LengthMismatch {
        /// The type byte.
        ty: u8,
        /// Wire length of that type.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
}

macro_rules! messages {
    ($($variant:ident = $ty:literal),* $(,)?) => {
        /// One decoded ITCH 5.0 message: a typed, zero-copy view into the input buffer.
        ///
        /// Each variant is named after, and wraps, the [`wire`](super::wire) struct of the
        /// same name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Message<'a> {
            $(
                #[doc = concat!("`", stringify!($ty), "`: [`", stringify!($variant), "`](super::wire::", stringify!($variant), ").")]
                $variant(&'a $variant),
            )*
        }

        impl<'a> Message<'a> {
            /// Message type byte.
            #[inline]
            pub fn msg_type(&self) -> u8 {
                match self {
                    $( Message::$variant(m) => m.msg_type, )*
                }
            }

            /// Stock locate code (0 for market-wide messages).
            #[inline]
            pub fn stock_locate(&self) -> u16 {
                match self {
                    $( Message::$variant(m) => m.stock_locate.get(), )*
                }
            }

            /// NASDAQ internal tracking number.
            #[inline]
            pub fn tracking_number(&self) -> u16 {
                match self {
                    $( Message::$variant(m) => m.tracking_number.get(), )*
                }
            }

            /// Timestamp: nanoseconds since midnight (48 bits).
            #[inline]
            pub fn timestamp(&self) -> u64 {
                match self {
                    $( Message::$variant(m) => m.timestamp.get(), )*
                }
            }

            /// The message's wire bytes (type byte first, no length prefix).
            #[inline]
            pub fn as_bytes(&self) -> &'a [u8] {
                match *self {
                    $( Message::$variant(m) => m.as_bytes(), )*
                }
            }
        }

        /// Decodes exactly one message: `buf` must be the whole message (type byte first, no
        /// length prefix) and nothing else.
        ///
        /// Errors: [`DecodeError::Empty`] for an empty buffer, [`DecodeError::UnknownType`]
        /// for a type byte that is not ITCH 5.0, [`DecodeError::Truncated`] when `buf` is
        /// shorter than the type's length and [`DecodeError::LengthMismatch`] when longer.
        /// Never panics, never allocates.
        #[inline(always)]
        pub fn decode(buf: &[u8]) -> Result<Message<'_>, DecodeError> {
            let Some(&ty) = buf.first() else {
                return Err(DecodeError::Empty);
            };
            match ty {
                $( $ty => exact::<$variant>(buf).map(Message::$variant), )*
                _ => Err(DecodeError::UnknownType { ty }),
            }
        }

        /// Decodes the message at the start of `buf`, taking its length from the type byte,
        /// and returns it with the number of bytes it occupies. Trailing bytes are ignored:
        /// for recovering messages from a stream without framing.
        ///
        /// Errors as [`decode`], except that a longer buffer is not an error.
        #[inline]
        pub fn decode_prefix(buf: &[u8]) -> Result<(Message<'_>, usize), DecodeError> {
            let Some(&ty) = buf.first() else {
                return Err(DecodeError::Empty);
            };
            match ty {
                $( $ty => prefix::<$variant>(buf).map(|m| (Message::$variant(m), $variant::LEN)), )*
                _ => Err(DecodeError::UnknownType { ty }),
            }
        }
    };
}

messages! {
    SystemEvent = b'S',
    StockDirectory = b'R',
    StockTradingAction = b'H',
    RegShoRestriction = b'Y',
    MarketParticipantPosition = b'L',
    MwcbDeclineLevel = b'V',
    MwcbStatus = b'W',
    IpoQuotingPeriodUpdate = b'K',
    LuldAuctionCollar = b'J',
    OperationalHalt = b'h',
    AddOrder = b'A',
    AddOrderMpid = b'F',
    OrderExecuted = b'E',
    OrderExecutedWithPrice = b'C',
    OrderCancel = b'X',
    OrderDelete = b'D',
    OrderReplace = b'U',
    NonCrossTrade = b'P',
    CrossTrade = b'Q',
    BrokenTrade = b'B',
    Noii = b'I',
    Rpii = b'N',
    DirectListingPriceDiscovery = b'O',
}

/// Views `buf` as an `M`, which must be exactly `M::LEN` bytes.
#[inline(always)]
fn exact<M: ItchMessage>(buf: &[u8]) -> Result<&M, DecodeError> {
    // One length compare: `M` has alignment 1, so the only possible failure is the size.
    match M::ref_from_bytes(buf) {
        Ok(m) => Ok(m),
        Err(_) => Err(length_error(M::TYPE, M::LEN, buf.len())),
    }
}

#[cold]
#[inline(never)]
fn length_error(ty: u8, expected: usize, actual: usize) -> DecodeError {
    if actual < expected {
        DecodeError::Truncated {
            ty,
            expected,
            actual,
        }
    } else {
        DecodeError::LengthMismatch {
            ty,
            expected,
            actual,
        }
    }
}

/// Views the first `M::LEN` bytes of `buf` as an `M`.
#[inline(always)]
fn prefix<M: ItchMessage>(buf: &[u8]) -> Result<&M, DecodeError> {
    match M::ref_from_prefix(buf) {
        Ok((m, _rest)) => Ok(m),
        Err(_) => Err(DecodeError::Truncated {
            ty: M::TYPE,
            expected: M::LEN,
            actual: buf.len(),
        }),
    }
}
