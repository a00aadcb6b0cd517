//! [`MessageHistory`]: the recent messages of one MoldUDP64 session, by sequence number, so that a
//! retransmission server (the simulator) or a relay (catch-up over QUIC) can answer "send me
//! `count` messages from `sequence`".
//!
//! Messages live in one byte arena with a start offset per message; when a bound (messages or
//! bytes) is passed, the oldest half is dropped in one `drain`, so pushing is amortized O(1) and
//! allocates only when the arena grows. What is held is a few *runs* of consecutive sequence
//! numbers: a push past the next sequence number (the relay's upstream lost a range it could not
//! recover) starts a new run, and what came before it stays servable (it used to be dropped, so
//! a subscriber that missed a packet just before the relay's loss lost it too). At most
//! [`MAX_RUNS`] runs are kept, the oldest dropped first. A push behind the newest message held
//! starts the history afresh.

use std::collections::VecDeque;

use ticklane_feeds::moldudp64::{MoldError, MoldPacketBuilder, Session};

/// Runs of consecutive sequence numbers a [`MessageHistory`] keeps; a new run past this drops
/// the oldest (a feed losing ranges this often is better served by a snapshot than a history).
pub const MAX_RUNS: usize = 64;

/// Consecutive messages from `first_seq`, the first of them at index `at` of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    first_seq: u64,
    at: usize,
}

/// The recent messages of one session, in runs of consecutive sequence numbers.
#[derive(Debug, Clone)]
pub struct MessageHistory {
    /// The runs held, oldest first, each starting at a higher index and sequence number than
    /// the one before, with a hole between them; empty exactly when nothing is held.
    runs: VecDeque<Run>,
    /// Start offset in `data` of each message held, then one past the last (always non-empty).
    starts: Vec<usize>,
    data: Vec<u8>,
    max_messages: usize,
    max_bytes: usize,
}

impl MessageHistory {
    /// An empty history keeping at most `max_messages` messages and `max_bytes` bytes of them
    /// (at least one message is always kept). `usize::MAX` for both keeps everything.
    pub fn new(max_messages: usize, max_bytes: usize) -> Self {
        Self {
            runs: VecDeque::with_capacity(MAX_RUNS + 1),
            starts: vec![0],
            data: Vec::new(),
            max_messages: max_messages.max(1),
            max_bytes: max_bytes.max(1),
        }
    }

    /// Number of messages held.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sequence number of the oldest message held, if any.
    pub fn first_seq(&self) -> Option<u64> {
        self.runs.front().map(|r| r.first_seq)
    }

    /// Sequence number one past the newest message held (the next one [`Self::push`] expects);
    /// `None` when empty.
    pub fn next_seq(&self) -> Option<u64> {
        self.runs
            .back()
            .map(|r| r.first_seq + (self.len() - r.at) as u64)
    }

    /// Runs of consecutive sequence numbers held (1 when nothing was ever skipped).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// The first range of sequence numbers missing between the runs held, as `(first, count)`;
    /// `None` when the messages held are consecutive.
    pub fn first_hole(&self) -> Option<(u64, u64)> {
        let (a, b) = (self.runs.front()?, self.runs.get(1)?);
        let end = a.first_seq + (b.at - a.at) as u64;
        Some((end, b.first_seq - end))
    }

    /// Appends message `seq`. Past the next sequence number it starts a new run (what is held
    /// before stays); behind it, the history is cleared and starts again at `seq`.
    pub fn push(&mut self, seq: u64, msg: &[u8]) {
        match self.next_seq() {
            Some(next) if next == seq => {}
            Some(next) if next < seq => {
                self.runs.push_back(Run {
                    first_seq: seq,
                    at: self.len(),
                });
                if self.runs.len() > MAX_RUNS {
                    // Drop the oldest run whole.
                    let n = self.runs.get(1).map_or(0, |r| r.at);
                    self.evict(n);
                }
            }
            _ => {
                self.clear();
                self.runs.push_back(Run {
                    first_seq: seq,
                    at: 0,
                });
            }
        }
        self.data.extend_from_slice(msg);
        self.starts.push(self.data.len());
        if self.len() > self.max_messages || self.data.len() > self.max_bytes {
            let len = self.len();
            self.evict((len / 2).max(1).min(len - 1));
        }
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.runs.clear();
        self.starts.clear();
        self.starts.push(0);
        self.data.clear();
    }

    /// Drops the oldest `n` messages (fewer than are held).
    fn evict(&mut self, n: usize) {
        if n == 0 || n >= self.len() {
            return;
        }
        let cut = self.starts[n];
        self.data.drain(..cut);
        self.starts.drain(..n);
        for s in &mut self.starts {
            *s -= cut;
        }
        // Runs that end by `n` go; the one `n` falls in starts later.
        while self.runs.get(1).is_some_and(|r| r.at <= n) {
            self.runs.pop_front();
        }
        for r in self.runs.iter_mut() {
            if r.at < n {
                r.first_seq += (n - r.at) as u64;
                r.at = 0;
            } else {
                r.at -= n;
            }
        }
    }

    /// The first sequence number held at or after `seq`, if any (`seq` itself when held; else
    /// the start of the next run: what follows a hole).
    pub fn first_held_from(&self, seq: u64) -> Option<u64> {
        if self.get(seq).is_some() {
            return Some(seq);
        }
        self.runs.iter().map(|r| r.first_seq).find(|&s| s > seq)
    }

    /// Message `seq`, if held.
    pub fn get(&self, seq: u64) -> Option<&[u8]> {
        let k = self
            .runs
            .partition_point(|r| r.first_seq <= seq)
            .checked_sub(1)?;
        let run = self.runs.get(k)?;
        let end = self.runs.get(k + 1).map_or(self.len(), |r| r.at);
        let i = run
            .at
            .checked_add(usize::try_from(seq - run.first_seq).ok()?)?;
        if i >= end {
            return None;
        }
        let (&a, &b) = (self.starts.get(i)?, self.starts.get(i + 1)?);
        self.data.get(a..b)
    }

    /// Packs the held messages of `[first, first + count)` into MoldUDP64 packets of `session`
    /// of at most `max_packet` bytes, calling `emit` for each, and returns how many messages
    /// were packed (fewer than `count` when part of the range is not held; nothing is packed
    /// when `first` itself is not held). A held message longer than such a packet holds goes
    /// in a packet of its own size, as the relay's live path sends it
    /// ([`MoldPacketBuilder::push_any`]); it used to fail the whole call, and catch-up then
    /// served nothing of the range.
    pub fn pack(
        &self,
        session: Session,
        first: u64,
        count: u64,
        max_packet: usize,
        mut emit: impl FnMut(&[u8]),
    ) -> Result<u64, MoldError> {
        let mut builder = MoldPacketBuilder::new(session, first).with_max_packet(max_packet);
        let mut packed = 0u64;
        while packed < count {
            let Some(msg) = self.get(first + packed) else {
                break;
            };
            builder.push_any(msg, &mut emit)?;
            packed += 1;
        }
        if let Some(p) = builder.flush() {
            emit(p);
        }
        Ok(packed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticklane_feeds::moldudp64::MoldPacket;

    fn msg(seq: u64) -> Vec<u8> {
        let n = (seq % 7 + 1) as usize;
        vec![seq as u8; n]
    }

    #[test]
    fn holds_contiguous_messages_and_evicts_the_oldest() {
        let mut h = MessageHistory::new(100, usize::MAX);
        for seq in 10..300 {
            h.push(seq, &msg(seq));
        }
        let first = h.first_seq().unwrap();
        assert!(h.len() <= 100 && h.len() >= 50, "{}", h.len());
        assert_eq!(h.next_seq(), Some(300));
        assert_eq!(first + h.len() as u64, 300);
        assert_eq!(h.get(first - 1), None);
        for seq in first..300 {
            assert_eq!(h.get(seq), Some(&msg(seq)[..]), "seq {seq}");
        }
        assert_eq!(h.get(300), None);
    }

    #[test]
    fn a_jump_starts_a_new_run_and_what_came_before_is_still_served() {
        let mut h = MessageHistory::new(usize::MAX, usize::MAX);
        h.push(1, b"a");
        h.push(2, b"b");
        h.push(5, b"e");
        h.push(6, b"f");
        assert_eq!((h.first_seq(), h.next_seq()), (Some(1), Some(7)));
        assert_eq!((h.len(), h.runs()), (4, 2));
        assert_eq!(h.first_hole(), Some((3, 2)));
        assert_eq!(h.get(2), Some(&b"b"[..]));
        assert_eq!((h.get(3), h.get(4)), (None, None));
        assert_eq!(h.get(5), Some(&b"e"[..]));
        assert_eq!(h.get(7), None);
        // A catch-up across the hole serves up to it.
        let mut packets = Vec::new();
        let n = h
            .pack(*b"SESSION001", 1, 6, 1400, |p| packets.push(p.to_vec()))
            .unwrap();
        assert_eq!((n, packets.len()), (2, 1));
        assert_eq!(h.pack(*b"SESSION001", 5, 9, 1400, |_| {}).unwrap(), 2);
        // Behind the newest message held: afresh.
        h.push(3, b"c");
        assert_eq!((h.first_seq(), h.len(), h.runs()), (Some(3), 1, 1));
        assert_eq!(h.first_hole(), None);
        assert_eq!(h.get(1), None);
    }

    #[test]
    fn eviction_crosses_runs_and_too_many_runs_drop_the_oldest() {
        // Runs of 3 messages with a hole of 2 between them, 10 messages kept at most.
        let mut h = MessageHistory::new(10, usize::MAX);
        let seqs: Vec<u64> = (0..8u64).flat_map(|r| r * 5..r * 5 + 3).collect();
        for &seq in &seqs {
            h.push(seq, &msg(seq));
        }
        let held: Vec<u64> = (0..40).filter(|&s| h.get(s).is_some()).collect();
        assert!(held.len() <= 10 && held.len() >= 5, "{held:?}");
        // What is held is the newest messages pushed, each with its own bytes.
        assert_eq!(held[..], seqs[seqs.len() - held.len()..]);
        for &s in &held {
            assert_eq!(h.get(s), Some(&msg(s)[..]));
        }
        assert_eq!(h.first_seq(), held.first().copied());
        assert_eq!(h.next_seq(), Some(38));

        let mut h = MessageHistory::new(usize::MAX, usize::MAX);
        for r in 0..=MAX_RUNS as u64 {
            h.push(r * 10, &msg(r));
            h.push(r * 10 + 1, &msg(r));
        }
        assert_eq!(h.runs(), MAX_RUNS);
        assert_eq!(h.first_seq(), Some(10));
        assert_eq!((h.get(0), h.get(1)), (None, None));
        assert_eq!(h.get(11), Some(&msg(1)[..]));
    }

    #[test]
    fn matches_a_model_of_the_newest_messages_pushed() {
        // Pseudo-random pushes (steps of 1, jumps, steps back) against a model: everything
        // since the last step back, less what the bounds evicted from the oldest end.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for max in [1usize, 3, 17, 100, usize::MAX] {
            let mut h = MessageHistory::new(max, usize::MAX);
            let mut model: Vec<u64> = Vec::new();
            let mut seq = 1000u64;
            for _ in 0..3000 {
                seq = match rand() % 20 {
                    0 => seq.saturating_sub(rand() % 50),
                    1..=3 => seq + 2 + rand() % 30,
                    _ => seq + 1,
                };
                if model.last().is_some_and(|&l| seq <= l) {
                    model.clear();
                }
                model.push(seq);
                h.push(seq, &msg(seq));
                // The history keeps a suffix of the model, within the bounds.
                let held = h.len();
                assert!(held >= 1 && held <= max.min(model.len()), "{held} of {max}");
                assert!(h.runs() <= MAX_RUNS);
                let kept = &model[model.len() - held..];
                assert_eq!(h.first_seq(), kept.first().copied());
                assert_eq!(h.next_seq(), kept.last().map(|l| l + 1));
                let lo = kept[0].saturating_sub(3);
                for s in lo..seq + 3 {
                    let want = kept.binary_search(&s).is_ok().then(|| msg(s));
                    assert_eq!(h.get(s).map(<[u8]>::to_vec), want, "seq {s}");
                }
            }
        }
    }

    #[test]
    fn byte_bound_evicts() {
        let mut h = MessageHistory::new(usize::MAX, 1000);
        for seq in 1..=1000 {
            h.push(seq, &[0u8; 10]);
        }
        assert!(h.data.len() <= 1000);
        assert_eq!(h.next_seq(), Some(1001));
    }

    #[test]
    fn packs_a_range_into_packets_in_order() {
        let mut h = MessageHistory::new(usize::MAX, usize::MAX);
        for seq in 1..=500 {
            h.push(seq, &msg(seq));
        }
        let mut packets = Vec::new();
        let n = h
            .pack(*b"SESSION001", 100, 300, 200, |p| packets.push(p.to_vec()))
            .unwrap();
        assert_eq!(n, 300);
        let mut next = 100;
        for p in &packets {
            let p = MoldPacket::parse(p).unwrap();
            assert!(p.len() <= 200);
            assert_eq!(p.sequence(), next);
            for m in p.messages() {
                assert_eq!(m.unwrap(), &msg(next)[..]);
                next += 1;
            }
        }
        assert_eq!(next, 400);
        // Past the end: only what is held.
        let n = h.pack(*b"SESSION001", 450, 100, 1400, |_| {}).unwrap();
        assert_eq!(n, 51);
        assert_eq!(h.pack(*b"SESSION001", 501, 5, 1400, |_| {}).unwrap(), 0);
    }

    #[test]
    fn a_message_longer_than_a_packet_is_packed_alone_and_the_range_is_served() {
        let mut h = MessageHistory::new(usize::MAX, usize::MAX);
        let big = vec![0xB5u8; 2_000];
        for seq in 1..=9 {
            h.push(seq, if seq == 5 { &big } else { b"small" });
        }
        let mut packets = Vec::new();
        let n = h
            .pack(*b"SESSION001", 1, 9, 1400, |p| packets.push(p.to_vec()))
            .unwrap();
        assert_eq!(n, 9);
        let got: Vec<(u64, Vec<Vec<u8>>)> = packets
            .iter()
            .map(|p| {
                let p = MoldPacket::parse(p).unwrap();
                let msgs = p.messages().map(|m| m.unwrap().to_vec()).collect();
                (p.sequence(), msgs)
            })
            .collect();
        let small = |k| vec![b"small".to_vec(); k];
        assert_eq!(
            got,
            vec![(1, small(4)), (5, vec![big.clone()]), (6, small(4))]
        );
        // The big message first and last in the range.
        let mut seqs = Vec::new();
        assert_eq!(
            h.pack(*b"SESSION001", 5, 1, 1400, |p| seqs
                .push(MoldPacket::parse(p).unwrap().sequence()))
                .unwrap(),
            1
        );
        assert_eq!(seqs, [5]);
        seqs.clear();
        assert_eq!(
            h.pack(*b"SESSION001", 3, 3, 1400, |p| seqs
                .push(MoldPacket::parse(p).unwrap().sequence()))
                .unwrap(),
            3
        );
        assert_eq!(seqs, [3, 5]);
    }
}
