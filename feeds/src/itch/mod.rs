//! NASDAQ TotalView-ITCH 5.0.
//!
//! The codec is layered, and every layer is sans-I/O, allocation-free on the decode side and
//! panic-free on any input:
//!
//! - [`wire`]: one zero-copy `#[repr(C)]` struct per message type whose bytes *are* the wire
//!   format (big-endian integers, space-padded alphas, 6-byte [`Ts48`] timestamps), the
//!   [`ItchMessage`] trait (`TYPE`, `LEN`) and `new(...)` constructors.
//! - [`decode`](mod@decode): [`decode()`] (exactly one message) and [`decode_prefix`] (length
//!   taken from the type byte) into [`Message`], an enum of references into the input.
//! - [`encode`](mod@encode): [`encode()`] (bare bytes) and [`encode_framed`] (u16 big-endian
//!   length prefix, as in NASDAQ's binary files).
//! - [`normalize`](mod@normalize): [`normalize()`] into [`ticklane_core::MarketEvent`].
//!
//! [`message_len`] is the table of wire lengths (type byte included); framers use it to
//! split unframed streams, and the wire structs are checked against it at compile time.
//!
//! ```
//! use ticklane_feeds::itch::{decode, encode, normalize, AddOrder, Message};
//!
//! let mut buf = Vec::new();
//! encode(&AddOrder::new(1, 0, 34_200_000_000_000, 42, b'B', 100, *b"AAPL    ", 1_234_500), &mut buf);
//! let msg = decode(&buf).unwrap();
//! assert!(matches!(msg, Message::AddOrder(m) if m.shares.get() == 100));
//! let ev = normalize(&msg).unwrap().unwrap();
//! assert_eq!(ev.instrument.0, 1);
//! ```

pub mod batch;
pub mod decode;
pub mod encode;
pub mod normalize;
pub mod wire;

pub use batch::FrameBatch;
pub use decode::{decode, decode_prefix, DecodeError, Message};
pub use encode::{encode, encode_framed};
pub use normalize::{
    decode_normalize_into, normalize, normalize_into, DecodeOrNormalizeError, NormalizeError,
};
pub use wire::*;

/// Wire length in bytes (type byte included) of every ITCH 5.0 message type, or `None` for a
/// byte that is not an ITCH 5.0 message type.
pub const fn message_len(ty: u8) -> Option<usize> {
    Some(match ty {
        b'S' => 12,
        b'R' => 39,
        b'H' => 25,
        b'Y' => 20,
        b'L' => 26,
        b'V' => 35,
        b'W' => 12,
        b'K' => 28,
        b'J' => 35,
        b'h' => 21,
        b'A' => 36,
        b'F' => 40,
        b'E' => 31,
        b'C' => 36,
        b'X' => 23,
        b'D' => 19,
        b'U' => 35,
        b'P' => 44,
        b'Q' => 40,
        b'B' => 19,
        b'I' => 50,
        b'N' => 20,
        b'O' => 48,
        _ => return None,
    })
}
