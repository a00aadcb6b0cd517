//! The hot loop over a NASDAQ binary-file image in memory: framed ITCH bytes → zero-copy
//! decode → normalized [`MarketEvent`]s. Shared by the CLI (`demo`, `bench`), the criterion
//! benches and, later, the feed thread. No allocation per message (one batch buffer of about
//! 17 KB per walk); errors are counted, never skipped silently, and a framing error stops the
//! walk (framing is lost).

use ticklane_core::MarketEvent;

use ticklane_core::{EventBody, InstrumentId, MatchId, Timestamp};

use crate::itch::batch::BATCH;
use crate::itch::{decode, decode_normalize_into, DecodeOrNormalizeError, FrameBatch};

/// Counters of one pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EventStats {
    /// Messages decoded.
    pub messages: u64,
    /// Normalized events produced.
    pub events: u64,
    /// Decode, normalize or framing errors.
    pub errors: u64,
    /// Order of the events seen, folded (keeps the optimizer honest).
    pub checksum: u64,
}

/// Calls `on_body` with every framed message body (u16 big-endian length + message); returns
/// `true` when the buffer ended cleanly, `false` on a frame cut short (framing is then lost).
#[inline(always)]
fn for_each_frame(buf: &[u8], mut on_body: impl FnMut(&[u8])) -> bool {
    let mut pos = 0usize;
    while let Some(prefix) = buf.get(pos..pos + 2) {
        let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
        let Some(body) = buf.get(pos + 2..pos + 2 + len) else {
            return false;
        };
        pos += 2 + len;
        on_body(body);
    }
    pos == buf.len()
}

/// Walks every framed message; calls `on_event` for each normalized event, in stream order.
/// Decodes in batches grouped by message type ([`FrameBatch`]).
#[inline]
pub fn for_each_event(buf: &[u8], mut on_event: impl FnMut(&MarketEvent)) -> EventStats {
    let mut s = EventStats::default();
    let mut batch = FrameBatch::new();
    let mut pos = 0;
    let clean = loop {
        let filled = batch.fill(buf, pos);
        pos = filled.next;
        // Counted as if every message gave an event, then corrected for those that did not
        // (a few in a hundred): no counting on the common path.
        let n = filled.messages as u64;
        s.messages += n;
        s.events += n;
        for (result, ev) in batch.results() {
            match result {
                Ok(true) => on_event(ev),
                Ok(false) => s.events -= 1,
                Err(DecodeOrNormalizeError::Normalize(_)) => {
                    s.events -= 1;
                    s.errors += 1;
                }
                Err(DecodeOrNormalizeError::Decode(_)) => {
                    s.messages -= 1;
                    s.events -= 1;
                    s.errors += 1;
                }
            }
        }
        if filled.cut_short {
            break false;
        }
        if filled.messages < BATCH {
            break pos == buf.len();
        }
    };
    s.errors += u64::from(!clean);
    s
}

/// The same walk one message at a time ([`decode_normalize_into`], one type switch per
/// message): the reference [`for_each_event`] is checked against, and its peer in the
/// benchmarks.
#[inline]
pub fn for_each_event_serial(buf: &[u8], mut on_event: impl FnMut(&MarketEvent)) -> EventStats {
    let mut s = EventStats::default();
    // One event slot, overwritten in place by every message (see `normalize_into`).
    let mut ev = MarketEvent::new(
        Timestamp(0),
        InstrumentId::NONE,
        EventBody::BrokenTrade {
            match_id: MatchId(0),
        },
    );
    let clean = for_each_frame(buf, |body| match decode_normalize_into(body, &mut ev) {
        Ok(true) => {
            s.messages += 1;
            s.events += 1;
            on_event(&ev);
        }
        Ok(false) => s.messages += 1,
        Err(DecodeOrNormalizeError::Normalize(_)) => {
            s.messages += 1;
            s.errors += 1;
        }
        Err(DecodeOrNormalizeError::Decode(_)) => s.errors += 1,
    });
    s.errors += u64::from(!clean);
    s
}

/// Decode only: every message is decoded to its zero-copy view; nothing is normalized.
pub fn decode_only(buf: &[u8]) -> EventStats {
    let mut s = EventStats::default();
    let clean = for_each_frame(buf, |body| match decode(body) {
        Ok(msg) => {
            s.messages += 1;
            s.checksum = s.checksum.wrapping_add(msg.timestamp());
        }
        Err(_) => s.errors += 1,
    });
    s.errors += u64::from(!clean);
    s
}

/// Decode + normalize, each event made observable with `black_box`.
pub fn decode_normalize(buf: &[u8]) -> EventStats {
    for_each_event(buf, |ev| {
        std::hint::black_box(ev);
    })
}

/// [`decode_normalize`] one message at a time ([`for_each_event_serial`]).
pub fn decode_normalize_serial(buf: &[u8]) -> EventStats {
    for_each_event_serial(buf, |ev| {
        std::hint::black_box(ev);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::itch::{encode_framed, wire::OrderDelete};

    #[test]
    fn counts_messages_events_and_errors() {
        let mut buf = Vec::new();
        encode_framed(&OrderDelete::new(1, 0, 5, 77), &mut buf);
        encode_framed(&OrderDelete::new(1, 0, 6, 78), &mut buf);
        // An unknown type byte, correctly framed: counted, and the walk goes on.
        buf.extend_from_slice(&[0, 1, b'!']);
        encode_framed(&OrderDelete::new(1, 0, 7, 79), &mut buf);
        let mut ids = Vec::new();
        let s = for_each_event(&buf, |ev| {
            if let ticklane_core::EventBody::OrderDeleted { order_id } = ev.body {
                ids.push(order_id.0);
            }
        });
        assert_eq!(ids, vec![77, 78, 79]);
        assert_eq!((s.messages, s.events, s.errors), (3, 3, 1));
        assert_eq!(decode_only(&buf).messages, 3);
        // A truncated frame at the end is an error and ends the walk.
        buf.extend_from_slice(&[0, 19, b'D']);
        assert_eq!(decode_normalize(&buf).errors, 2);
        // So is a lone byte where a length prefix should be: nothing is dropped silently.
        let mut odd = Vec::new();
        encode_framed(&OrderDelete::new(1, 0, 5, 77), &mut odd);
        odd.push(0);
        assert_eq!(decode_only(&odd).errors, 1);
        assert_eq!(decode_only(&odd).messages, 1);
    }
}
