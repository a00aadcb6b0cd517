//! MoldUDP64 framing (sans-I/O).
//!
//! MoldUDP64 carries a sequenced stream of messages over UDP. Every downstream packet starts with
//! a 20-byte [`MoldHeader`] (10-byte session, big-endian u64 sequence number of the first message,
//! big-endian u16 message count) followed by `message_count` *message blocks*, each a big-endian
//! u16 length and that many bytes. Two counts are special: `0` is a heartbeat (the sequence number
//! is the next one expected) and `0xFFFF` is end of session (same meaning, no more data). A
//! retransmission request ([`MoldRequest`]) has the same 20-byte shape: session, first sequence
//! number wanted, number of messages wanted.
//!
//! - [`MoldPacket::parse`] validates a whole packet up front and returns a zero-copy view;
//!   [`MoldPacket::messages`] then walks its blocks.
//! - [`MoldPacketBuilder`] packs messages into packets up to a size and count limit, reusing one
//!   buffer, and produces heartbeats and end-of-session packets.
//! - [`session`]: the receive session — A/B line arbitration, gap detection, re-requests and
//!   in-order, exactly-once delivery ([`session::MoldUdp64Session`]).
//!
//! Nothing here does I/O or panics on any input.

pub mod session;

use zerocopy::byteorder::{BigEndian, U16, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Size of the downstream packet header (and of a request packet) in bytes.
pub const HEADER_LEN: usize = 20;
/// Message count that marks a heartbeat packet.
pub const HEARTBEAT_COUNT: u16 = 0;
/// Message count that marks an end-of-session packet.
pub const END_OF_SESSION_COUNT: u16 = 0xFFFF;
/// Default maximum packet size (header + blocks) of [`MoldPacketBuilder`], in bytes.
pub const DEFAULT_MAX_PACKET: usize = 1400;
/// Largest message count a data packet can carry (`0xFFFF` is reserved for end of session).
pub const MAX_DATA_COUNT: u16 = 0xFFFE;

/// A 10-byte MoldUDP64 session name (ASCII, right-padded with spaces by convention).
pub type Session = [u8; 10];

/// The 20-byte downstream packet header, as it is on the wire.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct MoldHeader {
    /// Session the packet belongs to.
    pub session: Session,
    /// Sequence number of the first message in the packet (next expected for heartbeats).
    pub sequence: U64<BigEndian>,
    /// Number of message blocks; `0` heartbeat, `0xFFFF` end of session.
    pub message_count: U16<BigEndian>,
}

impl MoldHeader {
    /// A header from its parts.
    pub fn new(session: Session, sequence: u64, message_count: u16) -> Self {
        Self {
            session,
            sequence: U64::new(sequence),
            message_count: U16::new(message_count),
        }
    }
}

/// What a downstream packet is, by its message count.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum PacketKind {
    /// One or more message blocks (count `1..=0xFFFE`).
    Data,
    /// No messages (count `0`); the sequence number is the next one expected.
    Heartbeat,
    /// Session over (count `0xFFFF`); the sequence number is the next one expected.
    EndOfSession,
}

impl PacketKind {
    /// The kind a message count denotes.
    pub const fn from_count(count: u16) -> Self {
        match count {
            HEARTBEAT_COUNT => PacketKind::Heartbeat,
            END_OF_SESSION_COUNT => PacketKind::EndOfSession,
            _ => PacketKind::Data,
        }
    }
}

/// A malformed MoldUDP64 packet, or a message the builder cannot pack.
///
/// Offsets are byte offsets from the start of the packet.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum MoldError {
    /// Fewer bytes than the 20-byte header.
    #[error("MoldUDP64 packet of {len} bytes is shorter than the 20-byte header")]
    TooShort {
        /// Bytes available.
        len: usize,
    },
    /// A block's length prefix (or the prefix itself) runs past the end of the packet.
    #[error("MoldUDP64 block at offset {offset} needs {needed} bytes but only {available} remain")]
    BlockOverrun {
        /// Offset of the block's length prefix.
        offset: usize,
        /// Bytes the block needs (prefix included).
        needed: usize,
        /// Bytes left in the packet from `offset`.
        available: usize,
    },
    /// The packet ends cleanly after fewer blocks than the header declares.
    #[error("MoldUDP64 packet declares {declared} messages but holds only {found}")]
    TooFewBlocks {
        /// Message count in the header.
        declared: u16,
        /// Complete blocks found.
        found: usize,
    },
    /// After the declared blocks, the rest of the packet parses as further complete blocks.
    #[error("MoldUDP64 packet declares {declared} messages but holds {found}")]
    TooManyBlocks {
        /// Message count in the header.
        declared: u16,
        /// Complete blocks found.
        found: usize,
    },
    /// Bytes after the declared blocks that do not form complete blocks (or any payload in an
    /// end-of-session packet).
    #[error("MoldUDP64 packet has {len} trailing bytes at offset {offset}")]
    TrailingBytes {
        /// Offset of the first trailing byte.
        offset: usize,
        /// Number of trailing bytes.
        len: usize,
    },
    /// A data packet whose messages would be numbered past `u64::MAX - 1`: the sequence that
    /// follows it does not exist (a corrupt sequence number; a real session never gets there).
    #[error("MoldUDP64 packet at sequence {sequence} with {count} messages runs past the last sequence number")]
    SequenceOverflow {
        /// Sequence number of the first message.
        sequence: u64,
        /// Messages in the packet.
        count: u16,
    },
    /// A packet whose sequence number jumps further ahead of everything seen than the receive
    /// session's `max_gap_messages`, with no earlier packet near it to confirm the jump: taken
    /// for a corrupt sequence number and ignored (the next packet near it confirms a real jump).
    #[error("MoldUDP64 packet at sequence {sequence} jumps {jump} messages past the highest seen, more than max_gap_messages: ignored as a corrupt sequence number unless the next packet confirms it")]
    ImplausibleSequence {
        /// Sequence number in the packet's header.
        sequence: u64,
        /// How far it is past the end of the furthest data seen.
        jump: u64,
    },
    /// A request packet that is not exactly 20 bytes long.
    #[error("MoldUDP64 request must be 20 bytes, got {len}")]
    BadRequestLength {
        /// Bytes given.
        len: usize,
    },
    /// Builder: a message longer than a block can carry or than fits an empty packet.
    #[error("message of {len} bytes does not fit a MoldUDP64 packet (at most {max})")]
    MessageTooLarge {
        /// The message's length.
        len: usize,
        /// The largest message that fits.
        max: usize,
    },
}

/// Reads one block at `offset`; `Ok(None)` at the end of `bytes`.
#[inline]
fn read_block(bytes: &[u8], offset: usize) -> Result<Option<(&[u8], usize)>, MoldError> {
    let rest = bytes.get(offset..).unwrap_or(&[]);
    if rest.is_empty() {
        return Ok(None);
    }
    let Some(prefix) = rest.get(..2) else {
        return Err(MoldError::BlockOverrun {
            offset,
            needed: 2,
            available: rest.len(),
        });
    };
    let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
    match rest.get(2..2 + len) {
        Some(msg) => Ok(Some((msg, offset + 2 + len))),
        None => Err(MoldError::BlockOverrun {
            offset,
            needed: 2 + len,
            available: rest.len(),
        }),
    }
}

/// A validated, zero-copy view of one downstream packet.
#[derive(Clone, Copy, Debug)]
pub struct MoldPacket<'a> {
    header: &'a MoldHeader,
    payload: &'a [u8],
}

impl<'a> MoldPacket<'a> {
    /// Parses and validates a whole packet (header and every block).
    ///
    /// Errors: [`MoldError::TooShort`] without a full header; [`MoldError::BlockOverrun`] when a
    /// block runs past the end; [`MoldError::TooFewBlocks`] / [`MoldError::TooManyBlocks`] when
    /// the blocks do not match the count (a heartbeat is a count of 0: a payload of whole blocks
    /// after one is [`MoldError::TooManyBlocks`] with `declared: 0`);
    /// [`MoldError::TrailingBytes`] for leftovers that are not whole blocks, and for any payload
    /// after an end-of-session header.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, MoldError> {
        let Ok((header, payload)) = MoldHeader::ref_from_prefix(bytes) else {
            return Err(MoldError::TooShort { len: bytes.len() });
        };
        let count = header.message_count.get();
        if count == END_OF_SESSION_COUNT {
            if !payload.is_empty() {
                return Err(MoldError::TrailingBytes {
                    offset: HEADER_LEN,
                    len: payload.len(),
                });
            }
            return Ok(Self { header, payload });
        }
        let sequence = header.sequence.get();
        if sequence.checked_add(u64::from(count)).is_none() {
            return Err(MoldError::SequenceOverflow { sequence, count });
        }
        let mut offset = HEADER_LEN;
        let mut found = 0usize;
        while found < usize::from(count) {
            match read_block(bytes, offset)? {
                Some((_, next)) => {
                    offset = next;
                    found += 1;
                }
                None => {
                    return Err(MoldError::TooFewBlocks {
                        declared: count,
                        found,
                    })
                }
            }
        }
        if offset < bytes.len() {
            // Do the leftovers look like whole extra blocks?
            let trailing_at = offset;
            let mut extra = 0usize;
            let mut o = offset;
            loop {
                match read_block(bytes, o) {
                    Ok(Some((_, next))) => {
                        extra += 1;
                        o = next;
                    }
                    Ok(None) => {
                        return Err(MoldError::TooManyBlocks {
                            declared: count,
                            found: found + extra,
                        })
                    }
                    Err(_) => {
                        return Err(MoldError::TrailingBytes {
                            offset: trailing_at,
                            len: bytes.len() - trailing_at,
                        })
                    }
                }
            }
        }
        Ok(Self { header, payload })
    }

    /// The wire header.
    #[inline]
    pub fn header(&self) -> &'a MoldHeader {
        self.header
    }

    /// The 10-byte session.
    #[inline]
    pub fn session(&self) -> &'a Session {
        &self.header.session
    }

    /// Sequence number of the first message (next expected, for heartbeat / end of session).
    #[inline]
    pub fn sequence(&self) -> u64 {
        self.header.sequence.get()
    }

    /// Message count field as on the wire (`0` heartbeat, `0xFFFF` end of session).
    #[inline]
    pub fn message_count(&self) -> u16 {
        self.header.message_count.get()
    }

    /// Data, heartbeat or end of session.
    #[inline]
    pub fn kind(&self) -> PacketKind {
        PacketKind::from_count(self.message_count())
    }

    /// Number of messages actually carried (`0` for heartbeat and end of session).
    #[inline]
    pub fn len(&self) -> usize {
        match self.kind() {
            PacketKind::Data => usize::from(self.message_count()),
            PacketKind::Heartbeat | PacketKind::EndOfSession => 0,
        }
    }

    /// True when the packet carries no messages.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sequence number that follows this packet: `sequence + count` for data packets,
    /// `sequence` for heartbeat and end of session. (Never overflows: [`MoldPacket::parse`]
    /// refuses a data packet that would, as [`MoldError::SequenceOverflow`].)
    #[inline]
    pub fn next_sequence(&self) -> u64 {
        self.sequence().saturating_add(self.len() as u64)
    }

    /// The message blocks, in order, without their length prefixes.
    ///
    /// For a packet from [`MoldPacket::parse`] every item is `Ok`; the `Result` is kept so that
    /// the iterator stays total (it stops after the first error).
    #[inline]
    pub fn messages(&self) -> MoldMessages<'a> {
        MoldMessages {
            payload: self.payload,
            offset: 0,
            remaining: self.len(),
        }
    }
}

/// Iterator over the message blocks of a [`MoldPacket`].
#[derive(Clone, Debug)]
pub struct MoldMessages<'a> {
    payload: &'a [u8],
    offset: usize,
    remaining: usize,
}

impl<'a> Iterator for MoldMessages<'a> {
    type Item = Result<&'a [u8], MoldError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let rest = self.payload.get(self.offset..).unwrap_or(&[]);
        let item = match rest {
            [a, b, tail @ ..] => {
                let len = usize::from(u16::from_be_bytes([*a, *b]));
                match tail.get(..len) {
                    Some(msg) => {
                        self.offset += 2 + len;
                        self.remaining -= 1;
                        return Some(Ok(msg));
                    }
                    None => MoldError::BlockOverrun {
                        offset: HEADER_LEN + self.offset,
                        needed: 2 + len,
                        available: rest.len(),
                    },
                }
            }
            [] => MoldError::TooFewBlocks {
                declared: u16::try_from(self.remaining).unwrap_or(u16::MAX),
                found: 0,
            },
            _ => MoldError::BlockOverrun {
                offset: HEADER_LEN + self.offset,
                needed: 2,
                available: rest.len(),
            },
        };
        self.remaining = 0;
        Some(Err(item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

/// A retransmission request: "send me `count` messages of `session` from `sequence`".
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct MoldRequest {
    /// Session.
    pub session: Session,
    /// First sequence number requested.
    pub sequence: u64,
    /// Number of messages requested.
    pub count: u16,
}

impl MoldRequest {
    /// Parses a request packet; it must be exactly 20 bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, MoldError> {
        match MoldHeader::ref_from_bytes(bytes) {
            Ok(h) => Ok(Self {
                session: h.session,
                sequence: h.sequence.get(),
                count: h.message_count.get(),
            }),
            Err(_) => Err(MoldError::BadRequestLength { len: bytes.len() }),
        }
    }

    /// The 20 wire bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out.copy_from_slice(MoldHeader::new(self.session, self.sequence, self.count).as_bytes());
        out
    }
}

/// Packs messages into MoldUDP64 data packets, reusing one buffer.
///
/// Typical loop:
///
/// ```
/// use ticklane_feeds::moldudp64::{MoldPacket, MoldPacketBuilder};
/// let mut b = MoldPacketBuilder::new(*b"SESSION001", 1);
/// let mut packets = Vec::new();
/// for msg in [&b"first"[..], b"second"] {
///     b.push(msg, |p| packets.push(p.to_vec()))?;
/// }
/// if let Some(p) = b.flush() {
///     packets.push(p.to_vec());
/// }
/// packets.push(b.end_of_session().to_vec());
/// assert_eq!(MoldPacket::parse(&packets[0])?.message_count(), 2);
/// # Ok::<(), ticklane_feeds::moldudp64::MoldError>(())
/// ```
///
/// `max_packet` bounds the whole MoldUDP64 packet (header + blocks), i.e. the UDP payload.
#[derive(Debug, Clone)]
pub struct MoldPacketBuilder {
    session: Session,
    next_sequence: u64,
    max_packet: usize,
    max_count: u16,
    buf: Vec<u8>,
    count: u16,
    /// `buf` holds a finished packet that the next push must discard.
    finished: bool,
}

impl MoldPacketBuilder {
    /// A builder for `session` whose first message gets `first_sequence`, with the default
    /// limits (1400-byte packets, up to 0xFFFE messages each).
    pub fn new(session: Session, first_sequence: u64) -> Self {
        let mut buf = Vec::with_capacity(DEFAULT_MAX_PACKET);
        buf.resize(HEADER_LEN, 0);
        Self {
            session,
            next_sequence: first_sequence,
            max_packet: DEFAULT_MAX_PACKET,
            max_count: MAX_DATA_COUNT,
            buf,
            count: 0,
            finished: false,
        }
    }

    /// Sets the maximum packet size (header + blocks). Values below 22 are raised to 22 (a header
    /// and one empty block).
    pub fn with_max_packet(mut self, max_packet: usize) -> Self {
        self.max_packet = max_packet.max(HEADER_LEN + 2);
        if self.buf.capacity() < self.max_packet.min(HEADER_LEN + 2 + usize::from(u16::MAX)) {
            self.buf
                .reserve(self.max_packet.min(1 << 17).saturating_sub(self.buf.len()));
        }
        self
    }

    /// Sets the maximum number of messages per packet, clamped to `1..=0xFFFE`.
    pub fn with_max_count(mut self, max_count: u16) -> Self {
        self.max_count = max_count.clamp(1, MAX_DATA_COUNT);
        self
    }

    /// The session.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Sequence number the next *unflushed packet* starts at: the sequence after every flushed
    /// message. Pending (unflushed) messages are not counted.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Messages waiting in the current packet.
    pub fn pending_count(&self) -> u16 {
        if self.finished {
            0
        } else {
            self.count
        }
    }

    /// Largest message this builder accepts.
    pub fn max_message_len(&self) -> usize {
        (self.max_packet - HEADER_LEN - 2).min(usize::from(u16::MAX))
    }

    /// Whether [`MoldPacketBuilder::try_push`] of a message of `len` bytes would add it to the
    /// pending packet (`false` when it is full, or nothing is pending and the message is too
    /// large for any packet).
    pub fn would_fit(&self, len: usize) -> bool {
        let (used, count) = if self.finished {
            (HEADER_LEN, 0)
        } else {
            (self.buf.len(), self.count)
        };
        len <= self.max_message_len() && count < self.max_count && used + 2 + len <= self.max_packet
    }

    fn reset_if_finished(&mut self) {
        if self.finished {
            self.buf.truncate(HEADER_LEN);
            self.count = 0;
            self.finished = false;
        }
    }

    /// Adds `msg` to the current packet if it fits. `Ok(false)` (nothing changed) when the
    /// packet is full: call [`MoldPacketBuilder::flush`] and try again. Errors when the message
    /// could not fit even an empty packet.
    pub fn try_push(&mut self, msg: &[u8]) -> Result<bool, MoldError> {
        let max = self.max_message_len();
        if msg.len() > max {
            return Err(MoldError::MessageTooLarge {
                len: msg.len(),
                max,
            });
        }
        self.reset_if_finished();
        if self.count >= self.max_count || self.buf.len() + 2 + msg.len() > self.max_packet {
            return Ok(false);
        }
        // `msg.len() <= u16::MAX` was checked above.
        let len = u16::try_from(msg.len()).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(msg);
        self.count += 1;
        Ok(true)
    }

    /// Adds `msg`, first flushing the current packet into `emit` if `msg` does not fit.
    pub fn push(&mut self, msg: &[u8], mut emit: impl FnMut(&[u8])) -> Result<(), MoldError> {
        if self.try_push(msg)? {
            return Ok(());
        }
        if let Some(p) = self.flush() {
            emit(p);
        }
        if self.try_push(msg)? {
            Ok(())
        } else {
            // Unreachable: an empty packet always takes a message within `max_message_len`.
            Err(MoldError::MessageTooLarge {
                len: msg.len(),
                max: self.max_message_len(),
            })
        }
    }

    /// Adds `msg` like [`MoldPacketBuilder::push`], except that a message longer than this
    /// builder's packets hold is not an error: the pending packet goes to `emit`, then the
    /// message alone in a packet of its own size (at its own sequence number), and the next
    /// message starts a new packet. Errors only for a message longer than any MoldUDP64 block
    /// carries (65,535 bytes).
    pub fn push_any(&mut self, msg: &[u8], mut emit: impl FnMut(&[u8])) -> Result<(), MoldError> {
        if msg.len() <= self.max_message_len() {
            return self.push(msg, emit);
        }
        let mut solo = MoldPacketBuilder::new(self.session, self.next_sequence)
            .with_max_packet(HEADER_LEN + 2 + msg.len())
            .with_max_count(1);
        // Checks the length against a block's limit before anything is emitted.
        solo.push(msg, |_| {})?;
        if let Some(p) = self.flush() {
            emit(p);
        }
        solo.next_sequence = self.next_sequence;
        if let Some(p) = solo.flush() {
            emit(p);
        }
        self.next_sequence = self.next_sequence.saturating_add(1);
        Ok(())
    }

    /// Finishes the pending data packet and returns its bytes (valid until the next call on the
    /// builder); `None` when no messages are pending. Advances [`Self::next_sequence`].
    pub fn flush(&mut self) -> Option<&[u8]> {
        if self.finished || self.count == 0 {
            return None;
        }
        let header = MoldHeader::new(self.session, self.next_sequence, self.count);
        if let Some(h) = self.buf.get_mut(..HEADER_LEN) {
            h.copy_from_slice(header.as_bytes());
        }
        self.next_sequence = self.next_sequence.saturating_add(u64::from(self.count));
        self.finished = true;
        Some(&self.buf)
    }

    /// A heartbeat packet announcing [`Self::next_sequence`]. Pending messages are not flushed
    /// (they will carry that sequence number when they are).
    pub fn heartbeat(&self) -> [u8; HEADER_LEN] {
        self.header_only(HEARTBEAT_COUNT)
    }

    /// An end-of-session packet announcing [`Self::next_sequence`]. Flush pending messages first.
    pub fn end_of_session(&self) -> [u8; HEADER_LEN] {
        self.header_only(END_OF_SESSION_COUNT)
    }

    fn header_only(&self, count: u16) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out.copy_from_slice(MoldHeader::new(self.session, self.next_sequence, count).as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        assert_eq!(core::mem::size_of::<MoldHeader>(), 20);
        assert_eq!(core::mem::align_of::<MoldHeader>(), 1);
        assert_eq!(core::mem::offset_of!(MoldHeader, session), 0);
        assert_eq!(core::mem::offset_of!(MoldHeader, sequence), 10);
        assert_eq!(core::mem::offset_of!(MoldHeader, message_count), 18);
        let h = MoldHeader::new(*b"ABCDEFGHIJ", 0x0102_0304_0506_0708, 0x0A0B);
        assert_eq!(
            h.as_bytes(),
            b"ABCDEFGHIJ\x01\x02\x03\x04\x05\x06\x07\x08\x0A\x0B"
        );
    }

    #[test]
    fn push_any_sends_a_long_message_alone_at_its_own_sequence_number() {
        let mut b = MoldPacketBuilder::new(*b"SESSION001", 10).with_max_packet(100);
        let mut out: Vec<(u64, u16, usize)> = Vec::new();
        let mut emit = |bytes: &[u8]| {
            let p = MoldPacket::parse(bytes).expect("a valid packet");
            out.push((p.sequence(), p.message_count(), bytes.len()));
        };
        b.push_any(&[1; 10], &mut emit).unwrap();
        b.push_any(&[2; 500], &mut emit).unwrap();
        b.push_any(&[3; 10], &mut emit).unwrap();
        // A long message with nothing pending.
        b.push_any(&[4; 300], &mut emit).unwrap();
        assert_eq!(b.next_sequence(), 14);
        b.push_any(&[5; 10], &mut emit).unwrap();
        if let Some(p) = b.flush() {
            emit(p);
        }
        assert_eq!(
            out,
            [
                (10, 1, HEADER_LEN + 12),
                (11, 1, HEADER_LEN + 502),
                (12, 1, HEADER_LEN + 12),
                (13, 1, HEADER_LEN + 302),
                (14, 1, HEADER_LEN + 12),
            ]
        );
        // Longer than a block carries: an error, and nothing pending is lost or renumbered.
        let mut emitted = 0;
        b.push_any(&[6; 10], |_| emitted += 1).unwrap();
        let err = b.push_any(&vec![7; 70_000], |_| emitted += 1);
        assert_eq!(emitted, 0);
        assert!(matches!(
            err,
            Err(MoldError::MessageTooLarge { len: 70_000, .. })
        ));
        assert_eq!(b.pending_count(), 1);
        assert_eq!(
            b.flush().map(|p| MoldPacket::parse(p).unwrap().sequence()),
            Some(15)
        );
    }
}
