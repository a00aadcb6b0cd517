//! [`FrameBatch`] (the type-grouped batch decoder) must give, message by message and in stream
//! order, exactly what [`decode_normalize_into`] gives one message at a time: the same results,
//! the same errors, the same events; and `for_each_event` (batched) the same stream and counts
//! as `for_each_event_serial`.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use ticklane_core::{EventBody, InstrumentId, MarketEvent, MatchId, Timestamp};
use ticklane_feeds::events::{for_each_event, for_each_event_serial};
use ticklane_feeds::itch::batch::BATCH;
use ticklane_feeds::itch::{decode_normalize_into, encode_framed, FrameBatch, OrderDelete};
use ticklane_feeds::synth::{generate_framed, SynthConfig};

fn blank() -> MarketEvent {
    MarketEvent::new(
        Timestamp(0),
        InstrumentId::NONE,
        EventBody::BrokenTrade {
            match_id: MatchId(0),
        },
    )
}

/// Walks `buf` with `FrameBatch` and checks every message against the serial call; returns
/// (messages, cut_short, end position).
fn check_batches(buf: &[u8]) -> (usize, bool, usize) {
    let mut batch = FrameBatch::new();
    let mut pos = 0;
    let mut total = 0;
    loop {
        let start = pos;
        let filled = batch.fill(buf, pos);
        assert_eq!(filled.messages, batch.len());
        assert!(filled.messages <= BATCH);
        // The serial walk over the same frames.
        let mut p = start;
        for (k, (result, ev)) in batch.results().enumerate() {
            let len = usize::from(u16::from_be_bytes([buf[p], buf[p + 1]]));
            let body = &buf[p + 2..p + 2 + len];
            let mut want = blank();
            let r = decode_normalize_into(body, &mut want);
            assert_eq!(result, r, "message {} (offset {p})", total + k);
            if r == Ok(true) {
                assert_eq!(*ev, want, "message {} (offset {p})", total + k);
            }
            p += 2 + len;
        }
        assert_eq!(p, filled.next);
        total += filled.messages;
        pos = filled.next;
        if filled.cut_short || filled.messages < BATCH {
            return (total, filled.cut_short, pos);
        }
    }
}

fn events(buf: &[u8], batched: bool) -> (Vec<MarketEvent>, ticklane_feeds::events::EventStats) {
    let mut v = Vec::new();
    let s = if batched {
        for_each_event(buf, |e| v.push(*e))
    } else {
        for_each_event_serial(buf, |e| v.push(*e))
    };
    (v, s)
}

#[test]
fn agrees_with_the_serial_path_on_a_generated_session() {
    let buf = generate_framed(SynthConfig {
        seed: 11,
        messages: 50_000,
        instruments: 16,
    })
    .unwrap();
    let (n, cut, end) = check_batches(&buf);
    assert_eq!((n, cut, end), (50_000, false, buf.len()));
    let (a, sa) = events(&buf, true);
    let (b, sb) = events(&buf, false);
    assert_eq!(sa, sb);
    assert_eq!(a, b);
    assert!(a.len() > 40_000, "not vacuous: {} events", a.len());
}

#[test]
fn batch_edges_and_framing_errors() {
    // Exactly BATCH, BATCH + 1 and 2 * BATCH messages; then a cut-short frame; then a lone byte.
    for n in [0, 1, BATCH - 1, BATCH, BATCH + 1, 2 * BATCH] {
        let mut buf = Vec::new();
        for i in 0..n as u64 {
            encode_framed(&OrderDelete::new(1, 0, i, 100 + i), &mut buf);
        }
        assert_eq!(check_batches(&buf), (n, false, buf.len()), "{n} messages");
        let (_, s) = events(&buf, true);
        assert_eq!((s.messages, s.errors), (n as u64, 0));

        let mut cut = buf.clone();
        cut.extend_from_slice(&[0, 19, b'D']);
        let (a, sa) = events(&cut, true);
        let (b, sb) = events(&cut, false);
        assert_eq!((a, sa), (b, sb));
        assert_eq!(sa.errors, 1, "the cut-short frame is counted");
        assert!(check_batches(&cut).1, "cut short");

        let mut odd = buf.clone();
        odd.push(0);
        let (a, sa) = events(&odd, true);
        let (b, sb) = events(&odd, false);
        assert_eq!((a, sa), (b, sb));
        assert_eq!(sa.errors, 1, "the lone byte is counted");
    }
}

#[test]
fn fast_types_of_the_wrong_length_take_the_general_path() {
    // Every fast type (A, F, D, E, X, U) one byte short and one byte long, between valid
    // messages: each gets the serial path's error, and its neighbours decode.
    let session = generate_framed(SynthConfig {
        seed: 3,
        messages: 400,
        instruments: 4,
    })
    .unwrap();
    let mut frames = Vec::new();
    let mut pos = 0;
    while pos < session.len() {
        let len = usize::from(u16::from_be_bytes([session[pos], session[pos + 1]]));
        frames.push(session[pos + 2..pos + 2 + len].to_vec());
        pos += 2 + len;
    }
    let mut buf = Vec::new();
    let mut bent = 0;
    for (k, body) in frames.iter().enumerate() {
        let mut body = body.clone();
        if matches!(body[0], b'A' | b'F' | b'D' | b'E' | b'X' | b'U') && k % 3 == 0 {
            if k % 2 == 0 {
                body.pop();
            } else {
                body.push(0);
            }
            bent += 1;
        }
        buf.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        buf.extend_from_slice(&body);
    }
    assert!(bent > 50, "the session has fast types to bend ({bent})");
    assert_eq!(check_batches(&buf), (frames.len(), false, buf.len()));
    let (a, sa) = events(&buf, true);
    let (b, sb) = events(&buf, false);
    assert_eq!((a, sa), (b, sb));
    assert_eq!(sa.errors, bent, "every bent message is an error");
}

#[test]
fn adds_with_a_bad_side_join_the_general_path() {
    // Adds whose side byte is neither B nor S, mixed with other types, and a whole batch of
    // them (the general path's list then holds every message of the batch): each gets the
    // serial path's error, in place, and every other message decodes.
    let session = generate_framed(SynthConfig {
        seed: 5,
        messages: 3 * BATCH as u64,
        instruments: 4,
    })
    .unwrap();
    let mut buf = Vec::new();
    let (mut bent, mut bent_f) = (0u64, 0u64);
    let mut pos = 0;
    let mut k = 0;
    while pos < session.len() {
        let len = usize::from(u16::from_be_bytes([session[pos], session[pos + 1]]));
        let mut body = session[pos + 2..pos + 2 + len].to_vec();
        pos += 2 + len;
        k += 1;
        // Adds, with and without attribution (`F` shares `A`'s first 36 bytes).
        if matches!(body[0], b'A' | b'F') && k % 2 == 0 {
            body[19] = [b'b', b'X', 0, b's'][k % 4];
            bent += 1;
            bent_f += u64::from(body[0] == b'F');
        }
        buf.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        buf.extend_from_slice(&body);
    }
    for _ in 0..BATCH + 3 {
        // An add (36 bytes) built from nothing: type, locate, tracking, ts, ref, side, ...
        let mut body = vec![0u8; 36];
        body[0] = b'A';
        body[19] = b'Q';
        buf.extend_from_slice(&36u16.to_be_bytes());
        buf.extend_from_slice(&body);
        bent += 1;
    }
    assert!(bent > BATCH as u64 + 50, "{bent} bent adds");
    assert!(
        bent_f > 0,
        "no attributed add was bent: pick another seed or size"
    );
    let (n, _, end) = check_batches(&buf);
    assert_eq!(end, buf.len());
    let (a, sa) = events(&buf, true);
    let (b, sb) = events(&buf, false);
    assert_eq!((&a, sa), (&b, sb));
    assert_eq!(sa.errors, bent, "every bent add is an error");
    // A bad field is a normalize error: the message still counts as decoded.
    assert_eq!(sa.messages, n as u64);
}

#[test]
fn frames_of_256_bytes_and_more_are_walked_whole() {
    // No ITCH message is that long, but a frame is a frame: its length's high byte counts
    // (the walk reads the low byte alone for shorter ones). Lengths whose low byte is 0 or
    // equals a fast type's length, of fast and of unknown types, between valid messages.
    let mut buf = Vec::new();
    let mut long = 0;
    for (i, len) in [256usize, 300, 512, 19 + 256, 36 + 256, 1000, 65_535]
        .into_iter()
        .enumerate()
    {
        encode_framed(&OrderDelete::new(1, 0, i as u64, 100 + i as u64), &mut buf);
        for first in [b'D', b'A', b'!'] {
            let mut body = vec![0x5a; len];
            body[0] = first;
            buf.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
            buf.extend_from_slice(&body);
            long += 1;
        }
    }
    encode_framed(&OrderDelete::new(1, 0, 99, 999), &mut buf);
    let frames = 7 + long + 1;
    assert_eq!(check_batches(&buf), (frames, false, buf.len()));
    let (a, sa) = events(&buf, true);
    let (b, sb) = events(&buf, false);
    assert_eq!((&a, sa), (&b, sb));
    assert_eq!(sa.messages, 8, "the deletes decode");
    assert_eq!(sa.errors, long as u64, "every long frame is reported");
    assert_eq!(a.len(), 8, "the deletes around them decode");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A generated session with random bytes overwritten, frames cut or emptied: every message
    /// still gets exactly the serial result, in order, and the counts agree.
    #[test]
    fn agrees_with_the_serial_path_on_corrupted_sessions(
        seed in 0u64..1_000,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..40),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = generate_framed(SynthConfig { seed, messages: 2_000, instruments: 4 }).unwrap();
        for (at, byte) in flips {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        let cut_at = cut.index(buf.len() + 1);
        buf.truncate(cut_at.max(buf.len() * 3 / 4));
        check_batches(&buf);
        let (a, sa) = events(&buf, true);
        let (b, sb) = events(&buf, false);
        prop_assert_eq!(sa, sb);
        prop_assert_eq!(a, b);
    }
}

/// Frames of 255, 256 and 300 bytes and empty frames, placed just before, at and just after a
/// batch boundary, among the frames of a generated session: the batched walk agrees with the
/// serial one (events, counts, where it stops).
#[test]
fn long_and_empty_frames_at_the_batch_edges() {
    let session = generate_framed(SynthConfig {
        seed: 9,
        messages: 3 * BATCH as u64,
        instruments: 4,
    })
    .unwrap();
    let frames: Vec<&[u8]> = ticklane_feeds::binfile::Frames::new(&session)
        .map(|f| f.unwrap().bytes)
        .collect();
    // `z` is no ITCH type.
    let mut unknown = vec![0u8; 256];
    unknown[0] = b'z';
    let odd: [Vec<u8>; 4] = [Vec::new(), vec![b'A'; 300], unknown, vec![b'x'; 255]];
    for at in [BATCH - 1, BATCH, BATCH + 1, 2 * BATCH - 1] {
        for extra in &odd {
            let mut buf = Vec::new();
            for (i, f) in frames.iter().enumerate() {
                if i == at || i == at + 2 {
                    buf.extend_from_slice(&u16::try_from(extra.len()).unwrap().to_be_bytes());
                    buf.extend_from_slice(extra);
                }
                buf.extend_from_slice(&u16::try_from(f.len()).unwrap().to_be_bytes());
                buf.extend_from_slice(f);
            }
            let (a, sa) = events(&buf, true);
            let (b, sb) = events(&buf, false);
            assert_eq!(
                (&a, sa),
                (&b, sb),
                "a frame of {} bytes at {at} and {}",
                extra.len(),
                at + 2
            );
            // None of these frames decodes (empty, unknown type, wrong length for an add):
            // each is an error, not a message.
            assert_eq!((sa.messages, sa.errors), (frames.len() as u64, 2));
        }
    }
}

/// Order-book messages whose stock locate was set to 0 (reserved for market-wide messages),
/// spread over a generated session: the batched walk gives each the serial path's error, in
/// place, and every other message decodes.
#[test]
fn order_messages_with_stock_locate_0_are_errors_in_the_batch_path_too() {
    let mut buf = generate_framed(SynthConfig {
        seed: 9,
        messages: 3_000,
        instruments: 4,
    })
    .unwrap();
    let mut zeroed = 0;
    let (mut pos, mut k) = (0, 0);
    while pos < buf.len() {
        let len = usize::from(u16::from_be_bytes([buf[pos], buf[pos + 1]]));
        let body = pos + 2;
        if matches!(buf[body], b'A' | b'F' | b'D' | b'E' | b'X' | b'U' | b'C') && k % 7 == 0 {
            buf[body + 1] = 0;
            buf[body + 2] = 0;
            zeroed += 1;
        }
        k += 1;
        pos = body + len;
    }
    assert!(
        zeroed > 100,
        "the session has order messages to change ({zeroed})"
    );
    assert_eq!(check_batches(&buf), (k, false, buf.len()));
    let (a, sa) = events(&buf, true);
    let (b, sb) = events(&buf, false);
    assert_eq!((&a, sa), (&b, sb));
    assert_eq!(sa.errors, zeroed, "every message with locate 0 is an error");
    assert!(a.iter().all(|e| e.instrument != InstrumentId::NONE
        || !matches!(
            e.body,
            EventBody::OrderAdded { .. } | EventBody::OrderDeleted { .. }
        )));
}
