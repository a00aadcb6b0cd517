//! The on-disk layout of a capture: constants, the file header, block headers, the index
//! trailer and the record encoding. `replay/FORMAT.md` is the prose version of this module.
//!
//! Everything here is pure (no I/O): encoders write into caller buffers and decoders validate a
//! byte slice and return a typed [`Corruption`] or [`CaptureError`] instead of panicking.

use crate::error::{CaptureError, Corruption};

/// The 8 bytes every capture starts with.
pub const FILE_MAGIC: [u8; 8] = *b"TLCAP\0\0\x01";
/// The format version this crate writes (and the only one it reads).
pub const FORMAT_VERSION: u16 = 1;
/// Length of the fixed part of the file header (before the session and creator strings).
pub const FILE_HEADER_FIXED_LEN: usize = 36;
/// Longest session name or creator string, in bytes.
pub const MAX_HEADER_STRING: usize = 1024;

/// The 4 bytes every block starts with.
pub const BLOCK_MAGIC: [u8; 4] = *b"TLBK";
/// Length of a block header, its CRC included.
pub const BLOCK_HEADER_LEN: usize = 52;
/// Largest uncompressed (and stored) block payload.
pub const MAX_BLOCK_LEN: usize = 64 << 20;
/// Length of a record's own header (timestamp, line, length).
pub const RECORD_HEADER_LEN: usize = 13;
/// Largest record payload: one record alone must fit in a block.
pub const MAX_RECORD_LEN: usize = MAX_BLOCK_LEN - RECORD_HEADER_LEN;

/// The 4 bytes the index trailer starts with.
pub const INDEX_MAGIC: [u8; 4] = *b"TLIX";
/// Length of the index trailer's fixed header (magic, reserved, entry count).
pub const INDEX_HEADER_LEN: usize = 16;
/// Length of one index entry.
pub const INDEX_ENTRY_LEN: usize = 40;
/// The 8 bytes the footer (the last 32 bytes of a finished capture) starts with.
pub const FOOTER_MAGIC: [u8; 8] = *b"TLFOOT\0\x01";
/// Length of the footer.
pub const FOOTER_LEN: usize = 32;

/// Header flag: receive timestamps are nanoseconds since midnight (of the session's day) rather
/// than since the Unix epoch. Set by conversions from NASDAQ binary files.
pub const FLAG_TS_SINCE_MIDNIGHT: u32 = 1;

/// What the records of a capture hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum FeedKind {
    /// Opaque datagrams: no interpretation promised.
    Raw,
    /// Each record is one UDP payload carrying a MoldUDP64 packet.
    MoldUdp64,
    /// Each record is one ITCH 5.0 message from a NASDAQ binary file (without its length prefix).
    ItchBinary,
}

impl FeedKind {
    /// The byte stored in the file header.
    pub fn to_byte(self) -> u8 {
        match self {
            FeedKind::Raw => 0,
            FeedKind::MoldUdp64 => 1,
            FeedKind::ItchBinary => 2,
        }
    }

    /// The kind stored as `b`, if known.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(FeedKind::Raw),
            1 => Some(FeedKind::MoldUdp64),
            2 => Some(FeedKind::ItchBinary),
            _ => None,
        }
    }
}

/// Which feed line a record arrived on.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Default)]
pub enum Line {
    /// Line A of an A/B pair.
    A,
    /// Line B of an A/B pair.
    B,
    /// A feed with a single line (or a line that is not known).
    #[default]
    Single,
    /// An answer to a retransmission request (from a re-request server or a relay's catch-up).
    Retransmit,
    /// Not a packet: a note the receiver wrote about its own decisions, so that a replay makes
    /// the same ones (see FORMAT.md, "Receiver notes").
    Note,
}

impl Line {
    /// The byte stored in a record.
    pub fn to_byte(self) -> u8 {
        match self {
            Line::A => 0,
            Line::B => 1,
            Line::Single => 2,
            Line::Retransmit => 3,
            Line::Note => 4,
        }
    }

    /// The line stored as `b`, if valid.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Line::A),
            1 => Some(Line::B),
            2 => Some(Line::Single),
            3 => Some(Line::Retransmit),
            4 => Some(Line::Note),
            _ => None,
        }
    }
}

/// How a block's payload is stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Default)]
pub enum Compression {
    /// As is.
    #[default]
    None,
    /// One zstd frame per block.
    Zstd,
}

impl Compression {
    /// The byte stored in a block header.
    pub fn to_byte(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Zstd => 1,
        }
    }

    /// The compression stored as `b`, if known.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Compression::None),
            1 => Some(Compression::Zstd),
            _ => None,
        }
    }
}

/// The file header: what the capture is and where it came from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CaptureHeader {
    /// What the records hold.
    pub feed: FeedKind,
    /// Session name (for MoldUDP64, typically the 10-byte session; free text otherwise).
    pub session: String,
    /// Who wrote the capture (program and version, host, ...): free text.
    pub creator: String,
    /// Creation time in nanoseconds since the Unix epoch, as given by the caller (this crate
    /// never reads the clock; 0 when unknown).
    pub created_ns: u64,
    /// Flags: [`FLAG_TS_SINCE_MIDNIGHT`]; other bits are reserved, written as given, and
    /// ignored by readers.
    pub flags: u32,
}

impl CaptureHeader {
    /// A header for `feed` and `session`, with an empty creator, creation time 0 and no flags.
    pub fn new(feed: FeedKind, session: impl Into<String>) -> Self {
        Self {
            feed,
            session: session.into(),
            creator: String::new(),
            created_ns: 0,
            flags: 0,
        }
    }

    /// True when [`FLAG_TS_SINCE_MIDNIGHT`] is set.
    pub fn ts_since_midnight(&self) -> bool {
        self.flags & FLAG_TS_SINCE_MIDNIGHT != 0
    }

    /// Encodes the header (CRC included) into `out` (cleared first).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), CaptureError> {
        for (field, s) in [("session", &self.session), ("creator", &self.creator)] {
            if s.len() > MAX_HEADER_STRING {
                return Err(CaptureError::HeaderFieldTooLong {
                    field,
                    len: s.len(),
                    max: MAX_HEADER_STRING,
                });
            }
        }
        let total = FILE_HEADER_FIXED_LEN + self.session.len() + self.creator.len() + 4;
        out.clear();
        out.extend_from_slice(&FILE_MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(total as u16).to_le_bytes());
        out.push(self.feed.to_byte());
        out.extend_from_slice(&[0, 0, 0]);
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.created_ns.to_le_bytes());
        out.extend_from_slice(&(self.session.len() as u16).to_le_bytes());
        out.extend_from_slice(&(self.creator.len() as u16).to_le_bytes());
        out.extend_from_slice(self.session.as_bytes());
        out.extend_from_slice(self.creator.as_bytes());
        let crc = crc32c::crc32c(out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(())
    }

    /// Length of the whole header given its first [`FILE_HEADER_FIXED_LEN`] bytes, after
    /// checking the magic and version.
    pub fn encoded_len(fixed: &[u8]) -> Result<usize, CaptureError> {
        let magic: [u8; 8] =
            fixed
                .get(..8)
                .and_then(|m| m.try_into().ok())
                .ok_or(CaptureError::BadHeader {
                    reason: "file shorter than the header",
                })?;
        if magic != FILE_MAGIC {
            return Err(CaptureError::BadMagic { found: magic });
        }
        // A file cut inside the version field is short, not of version 0.
        if fixed.len() < 10 {
            return Err(CaptureError::BadHeader {
                reason: "file shorter than the header",
            });
        }
        let version = le_u16(fixed, 8);
        if version != FORMAT_VERSION {
            return Err(CaptureError::UnsupportedVersion { version });
        }
        if fixed.len() < FILE_HEADER_FIXED_LEN {
            return Err(CaptureError::BadHeader {
                reason: "file shorter than the header",
            });
        }
        let total = usize::from(le_u16(fixed, 10));
        let (session_len, creator_len) = (
            usize::from(le_u16(fixed, 32)),
            usize::from(le_u16(fixed, 34)),
        );
        if session_len > MAX_HEADER_STRING || creator_len > MAX_HEADER_STRING {
            return Err(CaptureError::BadHeader {
                reason: "session name or creator longer than 1024 bytes",
            });
        }
        let strings = session_len + creator_len;
        if total != FILE_HEADER_FIXED_LEN + strings + 4 {
            return Err(CaptureError::BadHeader {
                reason: "header length does not match its string lengths",
            });
        }
        Ok(total)
    }

    /// Decodes a whole header (as long as [`Self::encoded_len`] said).
    pub fn decode(b: &[u8]) -> Result<Self, CaptureError> {
        let total = Self::encoded_len(b)?;
        if b.len() < total {
            return Err(CaptureError::BadHeader {
                reason: "file shorter than the header",
            });
        }
        let stored = le_u32(b, total - 4);
        if crc32c::crc32c(&b[..total - 4]) != stored {
            return Err(CaptureError::BadHeader {
                reason: "header CRC32C mismatch",
            });
        }
        let feed = FeedKind::from_byte(b[12]).ok_or(CaptureError::BadHeader {
            reason: "unknown feed kind",
        })?;
        let session_len = usize::from(le_u16(b, 32));
        let creator_len = usize::from(le_u16(b, 34));
        let s_end = FILE_HEADER_FIXED_LEN + session_len;
        let session = std::str::from_utf8(&b[FILE_HEADER_FIXED_LEN..s_end])
            .map_err(|_| CaptureError::BadHeader {
                reason: "session name is not UTF-8",
            })?
            .to_owned();
        let creator = std::str::from_utf8(&b[s_end..s_end + creator_len])
            .map_err(|_| CaptureError::BadHeader {
                reason: "creator is not UTF-8",
            })?
            .to_owned();
        Ok(Self {
            feed,
            session,
            creator,
            created_ns: le_u64(b, 24),
            flags: le_u32(b, 16),
        })
    }
}

/// A decoded, validated block header.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BlockHeader {
    /// How the payload is stored.
    pub compression: Compression,
    /// Block sequence number: 0 for the first block, then +1 per block.
    pub seq: u64,
    /// Records in the block (at least 1).
    pub records: u32,
    /// Payload length once decompressed.
    pub uncompressed_len: u32,
    /// Payload length in the file.
    pub stored_len: u32,
    /// CRC32C of the stored payload.
    pub payload_crc: u32,
    /// Smallest receive timestamp in the block.
    pub min_ts: u64,
    /// Largest receive timestamp in the block.
    pub max_ts: u64,
}

impl BlockHeader {
    /// Encodes the header, CRC included.
    pub fn encode(&self) -> [u8; BLOCK_HEADER_LEN] {
        let mut h = [0u8; BLOCK_HEADER_LEN];
        h[0..4].copy_from_slice(&BLOCK_MAGIC);
        h[4] = self.compression.to_byte();
        h[8..16].copy_from_slice(&self.seq.to_le_bytes());
        h[16..20].copy_from_slice(&self.records.to_le_bytes());
        h[20..24].copy_from_slice(&self.uncompressed_len.to_le_bytes());
        h[24..28].copy_from_slice(&self.stored_len.to_le_bytes());
        h[28..32].copy_from_slice(&self.payload_crc.to_le_bytes());
        h[32..40].copy_from_slice(&self.min_ts.to_le_bytes());
        h[40..48].copy_from_slice(&self.max_ts.to_le_bytes());
        let crc = crc32c::crc32c(&h[..48]);
        h[48..52].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// Decodes and validates a header: magic, CRC, known compression, zero reserved bytes and
    /// lengths within bounds.
    pub fn decode(h: &[u8; BLOCK_HEADER_LEN]) -> Result<Self, Corruption> {
        if h[0..4] != BLOCK_MAGIC {
            return Err(Corruption::BadMagic);
        }
        let stored = le_u32(h, 48);
        let computed = crc32c::crc32c(&h[..48]);
        if stored != computed {
            return Err(Corruption::HeaderCrc { stored, computed });
        }
        let compression = Compression::from_byte(h[4]).ok_or(Corruption::BadHeader {
            reason: "unknown compression",
        })?;
        if h[5..8] != [0, 0, 0] {
            return Err(Corruption::BadHeader {
                reason: "reserved bytes are not zero",
            });
        }
        let hdr = Self {
            compression,
            seq: le_u64(h, 8),
            records: le_u32(h, 16),
            uncompressed_len: le_u32(h, 20),
            stored_len: le_u32(h, 24),
            payload_crc: le_u32(h, 28),
            min_ts: le_u64(h, 32),
            max_ts: le_u64(h, 40),
        };
        let ulen = hdr.uncompressed_len as usize;
        if hdr.records == 0 {
            return Err(Corruption::BadHeader {
                reason: "block with no records",
            });
        }
        if ulen > MAX_BLOCK_LEN || hdr.stored_len as usize > MAX_BLOCK_LEN {
            return Err(Corruption::BadHeader {
                reason: "block length over the maximum",
            });
        }
        if (hdr.records as usize).saturating_mul(RECORD_HEADER_LEN) > ulen {
            return Err(Corruption::BadHeader {
                reason: "record count too large for the block length",
            });
        }
        if compression == Compression::None && hdr.stored_len != hdr.uncompressed_len {
            return Err(Corruption::BadHeader {
                reason: "uncompressed block with stored length != length",
            });
        }
        if hdr.min_ts > hdr.max_ts {
            return Err(Corruption::BadHeader {
                reason: "min timestamp above max timestamp",
            });
        }
        Ok(hdr)
    }

    /// Bytes the block takes in the file (header and stored payload).
    pub fn total_len(&self) -> u64 {
        BLOCK_HEADER_LEN as u64 + u64::from(self.stored_len)
    }
}

/// One entry of the time index: where a block is and what it holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IndexEntry {
    /// Byte offset of the block header in the file.
    pub offset: u64,
    /// Block sequence number.
    pub seq: u64,
    /// Smallest receive timestamp in the block.
    pub min_ts: u64,
    /// Largest receive timestamp in the block.
    pub max_ts: u64,
    /// Records in the block.
    pub records: u32,
}

impl IndexEntry {
    /// Encodes the entry.
    pub fn encode(&self) -> [u8; INDEX_ENTRY_LEN] {
        let mut e = [0u8; INDEX_ENTRY_LEN];
        e[0..8].copy_from_slice(&self.offset.to_le_bytes());
        e[8..16].copy_from_slice(&self.seq.to_le_bytes());
        e[16..24].copy_from_slice(&self.min_ts.to_le_bytes());
        e[24..32].copy_from_slice(&self.max_ts.to_le_bytes());
        e[32..36].copy_from_slice(&self.records.to_le_bytes());
        e
    }

    /// Decodes an entry.
    pub fn decode(e: &[u8; INDEX_ENTRY_LEN]) -> Self {
        Self {
            offset: le_u64(e, 0),
            seq: le_u64(e, 8),
            min_ts: le_u64(e, 16),
            max_ts: le_u64(e, 24),
            records: le_u32(e, 32),
        }
    }
}

/// Encodes the footer that points at the index trailer.
pub fn encode_footer(index_offset: u64, total_records: u64) -> [u8; FOOTER_LEN] {
    let mut f = [0u8; FOOTER_LEN];
    f[0..8].copy_from_slice(&FOOTER_MAGIC);
    f[8..16].copy_from_slice(&index_offset.to_le_bytes());
    f[16..24].copy_from_slice(&total_records.to_le_bytes());
    let crc = crc32c::crc32c(&f[..28]);
    f[28..32].copy_from_slice(&crc.to_le_bytes());
    f
}

/// Decodes a footer: `(index_offset, total_records)`, or `None` when it is not a valid footer.
pub fn decode_footer(f: &[u8; FOOTER_LEN]) -> Option<(u64, u64)> {
    if f[0..8] != FOOTER_MAGIC || crc32c::crc32c(&f[..28]) != le_u32(f, 28) {
        return None;
    }
    Some((le_u64(f, 8), le_u64(f, 16)))
}

/// Appends one record (header and bytes) to a block payload.
#[inline]
pub fn encode_record(out: &mut Vec<u8>, ts_ns: u64, line: Line, bytes: &[u8]) {
    out.extend_from_slice(&ts_ns.to_le_bytes());
    out.push(line.to_byte());
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Decodes the record at `pos` of a payload: `(ts_ns, line, bytes range)`.
#[inline]
pub fn decode_record(
    payload: &[u8],
    pos: usize,
) -> Result<(u64, Line, std::ops::Range<usize>), Corruption> {
    let h = payload
        .get(pos..pos + RECORD_HEADER_LEN)
        .ok_or(Corruption::BadRecords {
            reason: "record header runs past the block",
        })?;
    let ts = le_u64(h, 0);
    let line = Line::from_byte(h[8]).ok_or(Corruption::BadRecords {
        reason: "invalid line byte",
    })?;
    let len = le_u32(h, 9) as usize;
    let start = pos + RECORD_HEADER_LEN;
    let end = start.checked_add(len).ok_or(Corruption::BadRecords {
        reason: "record length overflows",
    })?;
    if end > payload.len() {
        return Err(Corruption::BadRecords {
            reason: "record runs past the block",
        });
    }
    Ok((ts, line, start..end))
}

/// Checks that a decompressed payload holds exactly `hdr.records` well-formed records whose
/// timestamps lie within the header's bounds.
pub fn validate_payload(hdr: &BlockHeader, payload: &[u8]) -> Result<(), Corruption> {
    let mut pos = 0;
    for _ in 0..hdr.records {
        let (ts, _, range) = decode_record(payload, pos)?;
        if ts < hdr.min_ts || ts > hdr.max_ts {
            return Err(Corruption::BadRecords {
                reason: "record timestamp outside the block's bounds",
            });
        }
        pos = range.end;
    }
    if pos != payload.len() {
        return Err(Corruption::BadRecords {
            reason: "bytes left after the last record",
        });
    }
    Ok(())
}

#[inline]
pub(crate) fn le_u16(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        a.copy_from_slice(s);
    }
    u16::from_le_bytes(a)
}

#[inline]
pub(crate) fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

#[inline]
pub(crate) fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value_matches_format_md() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn header_layout_matches_format_md() {
        let mut h = CaptureHeader::new(FeedKind::ItchBinary, "ABC");
        h.creator = "xy".into();
        h.flags = FLAG_TS_SINCE_MIDNIGHT;
        h.created_ns = 0x0102_0304_0506_0708;
        let mut b = Vec::new();
        h.encode(&mut b).expect("encode");
        assert_eq!(b.len(), 40 + 3 + 2);
        assert_eq!(&b[..8], b"TLCAP\0\0\x01");
        assert_eq!(le_u16(&b, 10) as usize, b.len());
        assert_eq!(b[12], 2);
        assert_eq!(le_u32(&b, 16), 1);
        assert_eq!(le_u64(&b, 24), 0x0102_0304_0506_0708);
        assert_eq!(&b[36..41], b"ABCxy");
        assert_eq!(CaptureHeader::decode(&b).expect("decode"), h);
        let bh = BlockHeader {
            compression: Compression::Zstd,
            seq: 7,
            records: 3,
            uncompressed_len: 100,
            stored_len: 50,
            payload_crc: 9,
            min_ts: 1,
            max_ts: 2,
        };
        let e = bh.encode();
        assert_eq!(&e[..4], b"TLBK");
        assert_eq!(BlockHeader::decode(&e), Ok(bh));
        let mut bad = e;
        bad[20] ^= 1;
        assert!(matches!(
            BlockHeader::decode(&bad),
            Err(Corruption::HeaderCrc { .. })
        ));
    }

    /// FORMAT.md limits the session name and the creator to 1024 bytes each: a header that
    /// claims more is refused on read even when its lengths and CRC agree (the writer
    /// refuses to write one).
    #[test]
    fn header_strings_over_the_limit_are_refused_on_read() {
        let header_with = |session: usize, creator: usize| {
            let mut b = Vec::new();
            CaptureHeader::new(FeedKind::Raw, "")
                .encode(&mut b)
                .expect("encode");
            b.truncate(FILE_HEADER_FIXED_LEN);
            b[32..34].copy_from_slice(&(session as u16).to_le_bytes());
            b[34..36].copy_from_slice(&(creator as u16).to_le_bytes());
            b.resize(FILE_HEADER_FIXED_LEN + session + creator, b'a');
            let total = (b.len() + 4) as u16;
            b[10..12].copy_from_slice(&total.to_le_bytes());
            let crc = crc32c::crc32c(&b);
            b.extend_from_slice(&crc.to_le_bytes());
            b
        };
        for (s, c) in [(1024, 1024), (0, 1024), (1024, 0)] {
            let h = CaptureHeader::decode(&header_with(s, c)).expect("at the limit");
            assert_eq!((h.session.len(), h.creator.len()), (s, c));
        }
        for (s, c) in [(1025, 0), (0, 1025), (4000, 10)] {
            assert!(
                matches!(
                    CaptureHeader::decode(&header_with(s, c)),
                    Err(CaptureError::BadHeader {
                        reason: "session name or creator longer than 1024 bytes"
                    })
                ),
                "S {s}, C {c}"
            );
        }
        let mut h = CaptureHeader::new(FeedKind::Raw, "s".repeat(1025));
        assert!(matches!(
            h.encode(&mut Vec::new()),
            Err(CaptureError::HeaderFieldTooLong {
                field: "session",
                ..
            })
        ));
        h.session.clear();
        h.creator = "c".repeat(1025);
        assert!(matches!(
            h.encode(&mut Vec::new()),
            Err(CaptureError::HeaderFieldTooLong {
                field: "creator",
                ..
            })
        ));
    }
}
