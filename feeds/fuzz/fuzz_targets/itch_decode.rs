//! Fuzzes the ITCH 5.0 decoder and normalizer on arbitrary bytes.
//!
//! Run from `feeds/`: `cargo +nightly fuzz run itch_decode`.
//! Checks: nothing panics; `decode` agrees with `message_len`; `decode_prefix` consumes
//! exactly `message_len` bytes and agrees with `decode` on that prefix; re-encoding a decoded
//! message yields the input bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ticklane_feeds::itch::{decode, decode_prefix, message_len, normalize, DecodeError};

fuzz_target!(|data: &[u8]| {
    match decode(data) {
        Ok(msg) => {
            assert_eq!(msg.as_bytes(), data);
            assert_eq!(message_len(data[0]), Some(data.len()));
            let _ = normalize(&msg);
        }
        Err(DecodeError::Empty) => assert!(data.is_empty()),
        Err(DecodeError::UnknownType { ty }) => assert_eq!(message_len(ty), None),
        Err(DecodeError::Truncated { expected, actual, .. }) => assert!(actual < expected),
        Err(DecodeError::LengthMismatch { expected, actual, .. }) => assert!(actual > expected),
    }

    // Walk the input as an unframed stream of back-to-back messages.
    let mut rest = data;
    while let Ok((msg, used)) = decode_prefix(rest) {
        assert_eq!(Some(used), message_len(rest[0]));
        assert_eq!(decode(&rest[..used]), Ok(msg));
        let _ = normalize(&msg);
        rest = &rest[used..];
    }
});
