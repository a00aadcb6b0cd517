//! NASDAQ TotalView-ITCH 5.0.

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
