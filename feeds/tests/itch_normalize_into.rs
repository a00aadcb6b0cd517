//! `normalize_into` (the in-place hot path) must agree with `normalize` on every message type,
//! including when the slot it overwrites held another kind of event.

#![allow(clippy::unwrap_used)]

use ticklane_core::{EventBody, InstrumentId, MarketEvent, MatchId, Timestamp};
use ticklane_feeds::itch::{decode, normalize, normalize_into, wire::*, ItchMessage};
use ticklane_feeds::synth::{SessionGenerator, SynthConfig};

fn check(bytes: &[u8], slot: &mut MarketEvent) {
    let msg = decode(bytes).unwrap();
    let before = *slot;
    match (normalize(&msg), normalize_into(&msg, slot)) {
        (Ok(Some(ev)), Ok(true)) => assert_eq!(*slot, ev),
        (Ok(None), Ok(false)) => assert_eq!(*slot, before, "untouched"),
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("disagree on {:?}: {a:?} vs {b:?}", msg.msg_type() as char),
    }
}

#[test]
fn agrees_with_normalize_on_a_generated_session() {
    let mut g = SessionGenerator::new(SynthConfig {
        seed: 5,
        messages: 40_000,
        instruments: 8,
    })
    .unwrap();
    let mut slot = MarketEvent::new(
        Timestamp(9),
        InstrumentId(9),
        EventBody::BrokenTrade {
            match_id: MatchId(9),
        },
    );
    let mut types = std::collections::BTreeSet::new();
    while let Some(m) = g.next_message() {
        types.insert(m[0]);
        check(m, &mut slot);
    }
    assert!(types.len() >= 15, "{types:?}");
}

fn bytes<M: ItchMessage>(m: M) -> Vec<u8> {
    m.as_bytes().to_vec()
}

#[test]
fn agrees_on_informational_and_invalid_messages() {
    let mut slot = MarketEvent::new(
        Timestamp(1),
        InstrumentId(2),
        EventBody::BrokenTrade {
            match_id: MatchId(3),
        },
    );
    // Informational (no event): the slot is left as it was.
    check(
        &bytes(MarketParticipantPosition::new(
            1,
            0,
            5,
            *b"NITE",
            *b"AAPL    ",
            b'Y',
            b'N',
            b'A',
        )),
        &mut slot,
    );
    // Invalid side: both report the same error.
    check(
        &bytes(AddOrder::new(1, 0, 5, 9, b'Z', 100, *b"AAPL    ", 10_000)),
        &mut slot,
    );
    check(
        &bytes(AddOrder::new(1, 0, 5, 9, b'S', 100, *b"AAPL    ", 10_000)),
        &mut slot,
    );
    check(&bytes(OrderDelete::new(1, 0, 6, 9)), &mut slot);
}

/// The fused decode + normalize must give exactly what `decode` then `normalize` give.
fn check_fused(bytes: &[u8]) {
    use ticklane_feeds::itch::{decode_normalize_into, DecodeOrNormalizeError};
    let mut slot = MarketEvent::new(
        Timestamp(1),
        InstrumentId(1),
        EventBody::BrokenTrade {
            match_id: MatchId(1),
        },
    );
    let before = slot;
    let fused = decode_normalize_into(bytes, &mut slot);
    match decode(bytes) {
        Err(e) => assert_eq!(fused, Err(DecodeOrNormalizeError::Decode(e))),
        Ok(msg) => match normalize(&msg) {
            Ok(Some(ev)) => {
                assert_eq!(fused, Ok(true));
                assert_eq!(slot, ev);
            }
            Ok(None) => {
                assert_eq!(fused, Ok(false));
                assert_eq!(slot, before);
            }
            Err(e) => assert_eq!(fused, Err(DecodeOrNormalizeError::Normalize(e))),
        },
    }
}

#[test]
fn fused_path_agrees_on_every_type_and_error() {
    let mut g = SessionGenerator::new(SynthConfig {
        seed: 9,
        messages: 30_000,
        instruments: 8,
    })
    .unwrap();
    while let Some(m) = g.next_message() {
        let m = m.to_vec();
        check_fused(&m);
        // Truncated, extended and type-corrupted copies.
        check_fused(&m[..m.len() - 1]);
        let mut longer = m.clone();
        longer.push(0);
        check_fused(&longer);
        let mut bad_side = m.clone();
        if matches!(m[0], b'A' | b'F' | b'P') {
            bad_side[19] = b'Z';
        }
        check_fused(&bad_side);
    }
    check_fused(&[]);
    check_fused(b"!");
    check_fused(&bytes(MarketParticipantPosition::new(
        1,
        0,
        5,
        *b"NITE",
        *b"AAPL    ",
        b'Y',
        b'N',
        b'A',
    )));
}

proptest::proptest! {
    #[test]
    fn fused_path_agrees_on_arbitrary_bytes(
        ty in proptest::sample::select(b"ADEXUFCPSRHYLVWKJhQBINO!".to_vec()),
        rest in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..60),
    ) {
        let mut b = vec![ty];
        b.extend(rest);
        check_fused(&b);
    }
}
