//! [`MessageHistory`]: the recent messages of one MoldUDP64 session, by sequence number, so that a
//! retransmission server (the simulator) or a relay (catch-up over QUIC) can answer "send me
//! `count` messages from `sequence`".
//!
//! Messages live in one byte arena with a start offset per message; when a bound (messages or
//! bytes) is passed, the oldest half is dropped in one `drain`, so pushing is amortized O(1) and
//! allocates only when the arena grows. The history is contiguous: a push that is not the next
//! sequence number starts it afresh at that number (the relay does this after an unrecoverable
//! gap, which it cannot serve).

use ticklane_feeds::moldudp64::{MoldError, MoldPacketBuilder, Session};

/// The recent messages of one session, contiguous in sequence numbers.
#[derive(Debug, Clone)]
pub struct MessageHistory {
    /// Sequence number of the first message held.
    first_seq: u64,
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
            first_seq: 0,
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
        (!self.is_empty()).then_some(self.first_seq)
    }

    /// Sequence number one past the newest message held (the next one [`Self::push`] expects);
    /// `None` when empty.
    pub fn next_seq(&self) -> Option<u64> {
        (!self.is_empty()).then(|| self.first_seq + self.len() as u64)
    }

    /// Appends message `seq`. If it does not follow the newest message held, the history is
    /// cleared and starts again at `seq`.
    pub fn push(&mut self, seq: u64, msg: &[u8]) {
        if self.next_seq() != Some(seq) {
            self.clear();
            self.first_seq = seq;
        }
        self.data.extend_from_slice(msg);
        self.starts.push(self.data.len());
        if self.len() > self.max_messages || self.data.len() > self.max_bytes {
            self.evict_oldest_half();
        }
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.starts.clear();
        self.starts.push(0);
        self.data.clear();
    }

    fn evict_oldest_half(&mut self) {
        let drop_n = (self.len() / 2).max(1).min(self.len() - 1);
        if drop_n == 0 {
            return;
        }
        let cut = self.starts[drop_n];
        self.data.drain(..cut);
        self.starts.drain(..drop_n);
        for s in &mut self.starts {
            *s -= cut;
        }
        self.first_seq += drop_n as u64;
    }

    /// Message `seq`, if held.
    pub fn get(&self, seq: u64) -> Option<&[u8]> {
        let i = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
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
    fn a_jump_starts_afresh() {
        let mut h = MessageHistory::new(usize::MAX, usize::MAX);
        h.push(1, b"a");
        h.push(2, b"b");
        h.push(5, b"e");
        assert_eq!(h.first_seq(), Some(5));
        assert_eq!(h.len(), 1);
        assert_eq!(h.get(1), None);
        assert_eq!(h.get(5), Some(&b"e"[..]));
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
