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
