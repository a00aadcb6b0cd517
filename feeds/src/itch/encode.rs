//! Encoding ITCH 5.0 messages: appending wire bytes to a buffer.
//!
//! Messages are built with the `new(locate, tracking, ts_ns, ...)` constructors on the
//! [`wire`](super::wire) structs (body fields in specification order, native integers) and
//! appended with [`encode`] (bare message, as carried in a MoldUDP64 message block after its
//! own length) or [`encode_framed`] (u16 big-endian length prefix, NASDAQ's binary file format).
//! Encoding is a byte copy of the struct: the structs are the wire layout.

use super::wire::ItchMessage;

/// Appends the message's wire bytes (type byte first, no length prefix) to `out`.
#[inline]
pub fn encode<M: ItchMessage>(msg: &M, out: &mut Vec<u8>) {
    out.extend_from_slice(msg.as_bytes());
}

/// Appends a u16 big-endian length prefix and then the message's wire bytes to `out`
/// (the framing of NASDAQ's binary ITCH files).
#[inline]
pub fn encode_framed<M: ItchMessage>(msg: &M, out: &mut Vec<u8>) {
    let bytes = msg.as_bytes();
    // Every ITCH 5.0 message is at most 50 bytes, so the length always fits.
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.reserve(2 + bytes.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}
