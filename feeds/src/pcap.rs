//! pcap and pcapng captures: reading UDP datagrams out of them, and writing them.
//!
//! Reading is zero-copy over an in-memory byte slice (typically a memory-mapped file):
//!
//! - classic pcap, either byte order, microsecond (`0xA1B2C3D4`) or nanosecond (`0xA1B23C4D`)
//!   magic;
//! - pcapng: Section Header, Interface Description (with `if_tsresol` and `if_tsoffset`),
//!   Enhanced Packet, Simple Packet and the obsolete Packet block, either byte order, several
//!   sections and interfaces; other block types are skipped.
//!
//! Link types: Ethernet (1, with any number of 802.1Q / 802.1ad VLAN tags), Linux cooked capture
//! (SLL, 113, VLAN tags too, as libpcap reinserts them; SLL2, 276), BSD loopback (NULL, 0, and LOOP, 108) and raw IP (101 and 228). From each frame the reader extracts IPv4 / UDP
//! datagrams as [`UdpDatagram`]. Frames that are not IPv4, IPv4 packets that are not UDP (fragments of them included), IPv4 / UDP
//! fragments (the "more fragments" flag or a non-zero fragment offset: they are **counted and
//! skipped**, not reassembled) and frames of other link types are counted in [`CaptureStats`] and
//! skipped (the commands report fragments and frames of other link types as errors: a feed's
//! datagram may be among them). Checksums are not verified.
//!
//! Errors carry the byte offset of the record (or block) in the capture. A record whose captured
//! length is below its original length, whose captured length exceeds its original length
//! ([`PcapError::CapturedBeyondOriginal`]), whose classic-pcap timestamp fraction is not below
//! one second ([`PcapError::BadTimestamp`]), or whose headers are inconsistent, is an error for
//! that record only (counted in [`CaptureStats::errors`]) and reading continues with the next
//! one (so is a pcapng packet block whose own fields do not fit its sound block lengths,
//! [`PcapError::BadPacketBlock`]); a file cut in the middle of a record, or a pcapng block with
//! inconsistent lengths, ends the stream after its error.
//!
//! Timestamps are nanoseconds since the Unix epoch as recorded (classic pcap's `thiszone` is
//! ignored; pcapng's `if_tsoffset` is applied). Simple Packet Blocks carry no timestamp: each
//! gets the timestamp of the previous packet record read (0 before any) and is counted in
//! [`CaptureStats::untimed`].
//!
//! [`PcapWriter`] and [`PcapngWriter`] write UDP datagrams as Ethernet / IPv4 / UDP frames with
//! nanosecond timestamps.

mod net;
mod read;
mod write;

pub use net::{parse_frame, FrameKind};
pub use read::{CaptureFormat, PcapCursor, PcapReader};
pub use write::{PcapWriter, PcapngWriter};

use std::net::SocketAddrV4;

/// Link type: BSD loopback (4-byte address family in the capturing host's byte order).
pub const LINKTYPE_NULL: u16 = 0;
/// Link type: OpenBSD loopback (4-byte address family, big-endian).
pub const LINKTYPE_LOOP: u16 = 108;
/// Link type: Ethernet.
pub const LINKTYPE_ETHERNET: u16 = 1;
/// Link type: raw IP (IPv4 or IPv6, by the version nibble).
pub const LINKTYPE_RAW: u16 = 101;
/// Link type: Linux cooked capture v1.
pub const LINKTYPE_LINUX_SLL: u16 = 113;
/// Link type: raw IPv4.
pub const LINKTYPE_IPV4: u16 = 228;
/// Link type: Linux cooked capture v2.
pub const LINKTYPE_LINUX_SLL2: u16 = 276;

/// One IPv4 / UDP datagram from a capture; `payload` borrows the capture bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UdpDatagram<'a> {
    /// Capture timestamp, nanoseconds since the Unix epoch. A pcapng Simple Packet Block has
    /// none: it gets the previous packet record's (0 before any; see [`CaptureStats::untimed`]).
    pub ts_ns: u64,
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// UDP payload (bounded by the UDP and IPv4 lengths; Ethernet padding excluded).
    pub payload: &'a [u8],
}

/// One captured link-layer frame, before any protocol parsing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RawPacket<'a> {
    /// Byte offset of the record (pcap record header or pcapng block) in the capture.
    pub offset: u64,
    /// Zero-based index of this packet among the packets of the capture.
    pub index: u64,
    /// Timestamp, nanoseconds since the Unix epoch. A pcapng Simple Packet Block has none: it
    /// gets the previous packet record's (0 before any; see [`CaptureStats::untimed`]).
    pub ts_ns: u64,
    /// Link type of the interface that captured it.
    pub link_type: u16,
    /// Length of the frame on the wire.
    pub orig_len: u32,
    /// Captured bytes (may be shorter than `orig_len`, never longer: a record that says it
    /// captured more than the original length is a [`PcapError::CapturedBeyondOriginal`]).
    pub data: &'a [u8],
}

/// Counters kept while reading a capture.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct CaptureStats {
    /// Packet records read (every link type, including ones later skipped or in error).
    pub packets: u64,
    /// IPv4 / UDP datagrams returned.
    pub udp: u64,
    /// Frames skipped because they do not carry IPv4 (ARP, IPv6, LLC, ...).
    pub non_ipv4: u64,
    /// IPv4 packets skipped because they are not UDP.
    pub non_udp: u64,
    /// IPv4 fragments skipped (not reassembled).
    pub fragments: u64,
    /// Frames skipped because their link type is not supported.
    pub unsupported_link: u64,
    /// Records returned as errors.
    pub errors: u64,
    /// pcapng Simple Packet Blocks, which carry no timestamp: each was given the previous
    /// packet record's (0 before any).
    pub untimed: u64,
}

impl CaptureStats {
    /// All frames skipped without error: non-IPv4, non-UDP, fragments, unsupported link types.
    pub fn skipped(&self) -> u64 {
        self.non_ipv4 + self.non_udp + self.fragments + self.unsupported_link
    }
}

/// A capture that cannot be read, or one record that cannot.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PcapError {
    /// The first bytes are neither a pcap nor a pcapng magic number.
    #[error("not a pcap or pcapng capture (magic {magic:#010x})")]
    BadMagic {
        /// The first four bytes, big-endian.
        magic: u32,
    },
    /// The capture ends in the middle of a file header, record header, block or packet.
    #[error("capture truncated at offset {offset}: need {needed} bytes, {available} remain")]
    TruncatedFile {
        /// Offset of the record (or header) that is cut.
        offset: u64,
        /// Bytes the record needs.
        needed: u64,
        /// Bytes left in the capture from `offset`.
        available: u64,
    },
    /// A packet captured shorter than it was on the wire (snap length).
    #[error("packet at offset {offset} truncated: captured {captured} of {original} bytes")]
    TruncatedPacket {
        /// Offset of the record.
        offset: u64,
        /// Captured length.
        captured: u32,
        /// Original length.
        original: u32,
    },
    /// A packet record whose captured length exceeds its original length, which the pcap and
    /// pcapng formats forbid; the record is skipped and reading continues.
    #[error("packet at offset {offset} captured {captured} bytes, more than its original length of {original}")]
    CapturedBeyondOriginal {
        /// Offset of the record.
        offset: u64,
        /// Captured length.
        captured: u32,
        /// Original length.
        original: u32,
    },
    /// A classic pcap record whose timestamp fraction is not below one second (at least
    /// 1 000 000 in a microsecond capture, 1 000 000 000 in a nanosecond one): its time is
    /// invalid, so the record is skipped rather than moved forward; reading continues.
    #[error("packet at offset {offset} has an invalid timestamp: fraction {fraction} is not below {limit}")]
    BadTimestamp {
        /// Offset of the record.
        offset: u64,
        /// The fraction field as recorded.
        fraction: u32,
        /// Units per second of the capture: 1 000 000 (µs) or 1 000 000 000 (ns).
        limit: u32,
    },
    /// A pcapng block whose length fields are invalid (not a multiple of 4, too small, or the
    /// leading and trailing copies differ).
    #[error("malformed pcapng block at offset {offset}: {reason}")]
    BadBlock {
        /// Offset of the block.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A pcapng packet block whose block lengths are sound but whose own fields do not fit it
    /// (too short for its fixed fields, or a captured length past its end): that packet is an
    /// error and reading continues with the next block.
    #[error("malformed pcapng packet block at offset {offset}: {reason}")]
    BadPacketBlock {
        /// Offset of the block.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A pcapng packet block naming an interface that was not described.
    #[error("pcapng packet at offset {offset} refers to unknown interface {interface}")]
    UnknownInterface {
        /// Offset of the block.
        offset: u64,
        /// Interface id.
        interface: u32,
    },
    /// A frame whose link, IPv4 or UDP header is inconsistent or cut short.
    #[error("malformed frame at offset {offset}: {reason}")]
    MalformedFrame {
        /// Offset of the record.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
}

impl PcapError {
    /// True when reading cannot go on after this error (framing of the capture is lost).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            PcapError::BadMagic { .. }
                | PcapError::TruncatedFile { .. }
                | PcapError::BadBlock { .. }
        )
    }
}
