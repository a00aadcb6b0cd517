//! One API over every input: open a path, get ITCH messages in order.
//!
//! [`ItchSource::open`] detects the format from the file's first bytes:
//!
//! | magic | format | how it is read |
//! |---|---|---|
//! | pcap (either byte order, µs or ns) | [`SourceFormat::Pcap`] | memory-mapped; each UDP payload is a MoldUDP64 packet |
//! | pcapng section header | [`SourceFormat::Pcapng`] | same |
//! | gzip `1f 8b` | [`SourceFormat::BinaryGzip`] | NASDAQ binary file, streamed through one fixed buffer |
//! | anything else | [`SourceFormat::Binary`] | NASDAQ binary file, memory-mapped |
//!
//! [`ItchSource::next`] is a lending iterator: each [`SourceItem`] borrows the source until the
//! next call.
//!
//! **Binary files.** Items are the framed messages; `position` is the byte offset of the frame's
//! length prefix. A framing error is returned once and ends the stream (framing is lost).
//!
//! **Captures.** Each UDP datagram (optionally only those to one destination port) is parsed as a
//! MoldUDP64 packet and its message blocks are yielded in order, with `position` = the packet's
//! index in the capture, `recv_ts_ns` = the capture timestamp and `sequence` = the message's
//! MoldUDP64 sequence number. Sequence numbers are tracked per session:
//!
//! - the first packet seen of a session sets its baseline (a capture may start mid-session);
//! - messages already seen (whole packets or the overlapping head of a packet) are dropped and
//!   counted as duplicates;
//! - a jump forward is returned as a [`SourceError::Gap`] item naming the packet (its index in
//!   the capture, as [`SourceError::Mold`] does), after which the packet's messages follow;
//!   heartbeats and end-of-session packets that announce a later sequence number report a gap
//!   too;
//! - heartbeats and end-of-session packets are counted and yield no items.
//!
//! This is arrival order, with no reorder window: a packet that arrives after a later one (the
//! other line's late copy of a range this line lost) is reported as a gap and then counted as
//! duplicates. That is right for a single-line capture read as it was received; to arbitrate
//! lines A and B and put packets back in order, feed each datagram to
//! [`MoldUdp64Session`](crate::moldudp64::session::MoldUdp64Session), as the `ticklane` commands
//! do with every pcap.
//!
//! A corrupt packet or capture record is returned as an error item and reading continues with the
//! next packet, so nothing is lost silently; only a capture cut mid-record (or with broken pcapng
//! block lengths) ends the stream.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::Path;

use crate::binfile::FramingError;
use crate::binfile::{frame_at, is_gzip, sniff, GzFrames, LengthMode, MappedFile, StreamFrames};
use crate::moldudp64::{MoldError, MoldPacket, PacketKind, Session};
use crate::pcap::{CaptureStats, PcapCursor, PcapError};

/// Options for [`ItchSource::open`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SourceOptions {
    /// How binary files are framed (default: from the length prefix).
    pub length_mode: LengthMode,
    /// For captures: only UDP datagrams to this destination port (default: all).
    pub udp_dst_port: Option<u16>,
}

/// The format [`ItchSource::open`] detected.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum SourceFormat {
    /// NASDAQ binary file, memory-mapped.
    Binary,
    /// Gzip-compressed NASDAQ binary file, streamed.
    BinaryGzip,
    /// Classic pcap of MoldUDP64 packets.
    Pcap,
    /// pcapng of MoldUDP64 packets.
    Pcapng,
}

/// One ITCH message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SourceItem<'a> {
    /// The message (type byte first), without any length prefix.
    pub bytes: &'a [u8],
    /// Byte offset of the frame in a binary file, or the packet's index in a capture.
    pub position: u64,
    /// Capture timestamp (nanoseconds since the Unix epoch), for captures.
    pub recv_ts_ns: Option<u64>,
    /// MoldUDP64 sequence number of this message, for captures.
    pub sequence: Option<u64>,
}

/// Counters of an [`ItchSource`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SourceStats {
    /// MoldUDP64 packets examined (UDP datagrams that passed the port filter); 0 for binary files.
    pub packets: u64,
    /// Messages yielded.
    pub messages: u64,
    /// Bytes of the messages yielded (prefixes and headers excluded).
    pub bytes: u64,
    /// Messages dropped because their sequence number was already seen.
    pub duplicates: u64,
    /// Gaps reported.
    pub gaps: u64,
    /// Messages missing in the gaps reported.
    pub missing: u64,
    /// Heartbeat packets.
    pub heartbeats: u64,
    /// End-of-session packets.
    pub end_of_session: u64,
    /// Capture frames skipped as not IPv4 / UDP (non-IPv4, non-UDP, unsupported link type).
    pub non_udp_skipped: u64,
    /// IPv4 fragments skipped.
    pub fragments_skipped: u64,
    /// UDP datagrams skipped by the destination-port filter.
    pub filtered: u64,
    /// Error items returned other than gaps (corrupt packets, records, framing).
    pub errors: u64,
}

/// Failure to open a source, or an error item while reading one.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file could not be opened, inspected or mapped.
    #[error("cannot open source: {0}")]
    Open(#[from] io::Error),
    /// A capture error (bad header at open; a bad record while reading).
    #[error(transparent)]
    Pcap(#[from] PcapError),
    /// A binary-file framing error (ends the stream).
    #[error(transparent)]
    Framing(#[from] FramingError),
    /// A UDP payload that is not a valid MoldUDP64 packet; reading continues.
    #[error("packet {packet}: {error}")]
    Mold {
        /// Index of the packet in the capture.
        packet: u64,
        /// What is wrong.
        error: MoldError,
    },
    /// Sequence numbers jumped forward: `got - expected` messages were not seen. Not counted
    /// in [`SourceStats::errors`] (see [`SourceStats::gaps`]); reading continues.
    #[error(
        "packet {packet}: gap in session {:?}: expected sequence {expected}, got {got}",
        String::from_utf8_lossy(session)
    )]
    Gap {
        /// Index of the packet in the capture whose sequence number revealed the gap (a data
        /// packet, a heartbeat or an end-of-session packet).
        packet: u64,
        /// Session.
        session: Session,
        /// Next sequence number expected.
        expected: u64,
        /// Sequence number received.
        got: u64,
    },
}

/// The data packet whose blocks are being yielded: offsets into the capture bytes.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Offset of the next block's length prefix.
    at: usize,
    remaining: usize,
    /// Sequence number of the next block.
    sequence: u64,
    /// Blocks still to drop at the head (already seen).
    skip: usize,
    packet: u64,
    ts_ns: u64,
}

#[derive(Debug)]
enum Inner {
    Mapped {
        map: MappedFile,
        pos: usize,
        done: bool,
    },
    Gz(Box<GzFrames<File>>),
    Capture(Box<Capture>),
}

#[derive(Debug)]
struct Capture {
    map: MappedFile,
    cursor: PcapCursor,
    pending: Option<Pending>,
    sessions: HashMap<Session, u64>,
}

/// ITCH messages from a binary file, a gzip binary file, or a pcap / pcapng of MoldUDP64.
#[derive(Debug)]
pub struct ItchSource {
    inner: Inner,
    format: SourceFormat,
    options: SourceOptions,
    stats: SourceStats,
}

impl ItchSource {
    /// Opens `path`, detecting its format by magic number.
    pub fn open(path: impl AsRef<Path>, options: SourceOptions) -> Result<Self, SourceError> {
        let mut file = File::open(path)?;
        let (head, n) = sniff(&mut file)?;
        let head = &head[..n];
        let (inner, format) = if is_gzip(head) {
            (
                Inner::Gz(Box::new(StreamFrames::gzip(file, options.length_mode))),
                SourceFormat::BinaryGzip,
            )
        } else {
            let map = MappedFile::map(&file)?;
            match PcapCursor::new(map.as_bytes()) {
                Ok(cursor) => {
                    let format = match cursor.format() {
                        crate::pcap::CaptureFormat::Pcapng => SourceFormat::Pcapng,
                        crate::pcap::CaptureFormat::Pcap { .. } => SourceFormat::Pcap,
                    };
                    (
                        Inner::Capture(Box::new(Capture {
                            map,
                            cursor,
                            pending: None,
                            sessions: HashMap::new(),
                        })),
                        format,
                    )
                }
                // A recognised capture magic with a broken header is an error, not a binary file.
                Err(e @ PcapError::TruncatedFile { .. }) if n == 4 => return Err(e.into()),
                Err(_) => (
                    Inner::Mapped {
                        map,
                        pos: 0,
                        done: false,
                    },
                    SourceFormat::Binary,
                ),
            }
        };
        Ok(Self {
            inner,
            format,
            options,
            stats: SourceStats::default(),
        })
    }

    /// The detected format.
    pub fn format(&self) -> SourceFormat {
        self.format
    }

    /// The options given at open.
    pub fn options(&self) -> &SourceOptions {
        &self.options
    }

    /// Counters so far (capture-level skip counters are refreshed on every call to `next`).
    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }

    /// Counters of the underlying capture reader (`None` for binary files).
    pub fn capture_stats(&self) -> Option<&CaptureStats> {
        match &self.inner {
            Inner::Capture(c) => Some(c.cursor.stats()),
            _ => None,
        }
    }

    /// The next message, or an error item. `None` at the end.
    ///
    /// This is a lending iterator (the item borrows the source), hence not [`Iterator`].
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<SourceItem<'_>, SourceError>> {
        let stats = &mut self.stats;
        let r = match &mut self.inner {
            Inner::Mapped { map, pos, done } => {
                if *done {
                    return None;
                }
                match frame_at(map.as_bytes(), pos, self.options.length_mode)? {
                    Ok(f) => Ok(SourceItem {
                        bytes: f.bytes,
                        position: f.offset,
                        recv_ts_ns: None,
                        sequence: None,
                    }),
                    Err(e) => {
                        *done = true;
                        Err(SourceError::Framing(e))
                    }
                }
            }
            Inner::Gz(g) => match g.next_frame()? {
                Ok(f) => Ok(SourceItem {
                    bytes: f.bytes,
                    position: f.offset,
                    recv_ts_ns: None,
                    sequence: None,
                }),
                Err(e) => Err(SourceError::Framing(e)),
            },
            Inner::Capture(c) => {
                let Capture {
                    map,
                    cursor,
                    pending,
                    sessions,
                } = &mut **c;
                next_from_capture(
                    map.as_bytes(),
                    cursor,
                    pending,
                    sessions,
                    stats,
                    self.options.udp_dst_port,
                )?
            }
        };
        match &r {
            Ok(item) => {
                stats.messages += 1;
                stats.bytes += item.bytes.len() as u64;
            }
            Err(SourceError::Gap { .. }) => {}
            Err(_) => stats.errors += 1,
        }
        Some(r)
    }
}

fn next_from_capture<'a>(
    data: &'a [u8],
    cursor: &mut PcapCursor,
    pending: &mut Option<Pending>,
    sessions: &mut HashMap<Session, u64>,
    stats: &mut SourceStats,
    port: Option<u16>,
) -> Option<Result<SourceItem<'a>, SourceError>> {
    loop {
        if let Some(p) = pending {
            while p.remaining > 0 {
                // The packet was validated by `MoldPacket::parse`, so every block is in bounds;
                // a failure here is impossible and would only end the packet early.
                let block = data.get(p.at..p.at + 2).and_then(|l| {
                    let len = usize::from(u16::from_be_bytes([l[0], l[1]]));
                    data.get(p.at + 2..p.at + 2 + len)
                });
                let Some(bytes) = block else {
                    p.remaining = 0;
                    break;
                };
                let seq = p.sequence;
                p.at += 2 + bytes.len();
                p.remaining -= 1;
                p.sequence = p.sequence.saturating_add(1);
                if p.skip > 0 {
                    p.skip -= 1;
                    continue;
                }
                return Some(Ok(SourceItem {
                    bytes,
                    position: p.packet,
                    recv_ts_ns: Some(p.ts_ns),
                    sequence: Some(seq),
                }));
            }
            *pending = None;
        }
        let next = cursor.next_udp(data);
        let cs = cursor.stats();
        stats.non_udp_skipped = cs.non_ipv4 + cs.non_udp + cs.unsupported_link;
        stats.fragments_skipped = cs.fragments;
        let d = match next? {
            Ok(d) => d,
            Err(e) => return Some(Err(SourceError::Pcap(e))),
        };
        if port.is_some_and(|p| p != d.dst.port()) {
            stats.filtered += 1;
            continue;
        }
        stats.packets += 1;
        let packet = cursor.packet_index().saturating_sub(1);
        let mold = match MoldPacket::parse(d.payload) {
            Ok(m) => m,
            Err(error) => return Some(Err(SourceError::Mold { packet, error })),
        };
        let session = *mold.session();
        let seq = mold.sequence();
        let expected = *sessions.entry(session).or_insert(seq);
        let gap = (seq > expected).then_some(SourceError::Gap {
            packet,
            session,
            expected,
            got: seq,
        });
        match mold.kind() {
            PacketKind::Heartbeat | PacketKind::EndOfSession => {
                if mold.kind() == PacketKind::Heartbeat {
                    stats.heartbeats += 1;
                } else {
                    stats.end_of_session += 1;
                }
                if let Some(g) = gap {
                    sessions.insert(session, seq);
                    stats.gaps += 1;
                    stats.missing += seq - expected;
                    return Some(Err(g));
                }
            }
            PacketKind::Data => {
                let count = mold.len();
                let next_seq = mold.next_sequence();
                if next_seq <= expected {
                    stats.duplicates += count as u64;
                    continue;
                }
                let skip = usize::try_from(expected.saturating_sub(seq)).unwrap_or(usize::MAX);
                stats.duplicates += skip as u64;
                sessions.insert(session, next_seq);
                // Offset of the first block in `data`: the payload is a sub-slice of `data`.
                let payload_at = (d.payload.as_ptr() as usize).wrapping_sub(data.as_ptr() as usize);
                *pending = Some(Pending {
                    at: payload_at + crate::moldudp64::HEADER_LEN,
                    remaining: count,
                    sequence: seq,
                    skip,
                    packet,
                    ts_ns: d.ts_ns,
                });
                if let Some(g) = gap {
                    stats.gaps += 1;
                    stats.missing += seq - expected;
                    return Some(Err(g));
                }
            }
        }
    }
}
