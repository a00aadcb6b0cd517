//! Zero-copy pcap / pcapng reading.

use super::net::{parse_frame, FrameKind};
use super::{CaptureStats, PcapError, RawPacket, UdpDatagram};

const PCAP_MAGIC_US: u32 = 0xA1B2_C3D4;
const PCAP_MAGIC_NS: u32 = 0xA1B2_3C4D;
const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_LEN: usize = 16;

const BT_SHB: u32 = 0x0A0D_0D0A;
const BT_IDB: u32 = 0x0000_0001;
const BT_PB: u32 = 0x0000_0002;
const BT_SPB: u32 = 0x0000_0003;
const BT_EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const OPT_ENDOFOPT: u16 = 0;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// Which container a capture uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum CaptureFormat {
    /// Classic libpcap format.
    Pcap {
        /// Fields are big-endian.
        big_endian: bool,
        /// Timestamps have nanosecond (not microsecond) fractions.
        nanos: bool,
        /// Link type of every record.
        link_type: u16,
        /// Snapshot length from the file header.
        snaplen: u32,
    },
    /// pcapng (byte order and interfaces are per section).
    Pcapng,
}

#[derive(Clone, Copy, Debug)]
enum TsUnit {
    Pow10(u8),
    Pow2(u8),
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: u16,
    snaplen: u32,
    unit: TsUnit,
    offset_s: i64,
}

impl Interface {
    fn ts_ns(&self, ticks: u64) -> u64 {
        let t = u128::from(ticks);
        let ns: u128 = match self.unit {
            TsUnit::Pow10(v) if v <= 9 => t * 10u128.pow(u32::from(9 - v)),
            TsUnit::Pow10(v) => match 10u128.checked_pow(u32::from(v - 9)) {
                Some(d) => t / d,
                None => 0,
            },
            TsUnit::Pow2(v) => {
                let scaled = t * 1_000_000_000;
                if v >= 128 {
                    0
                } else {
                    scaled >> v
                }
            }
        };
        let ns = ns as i128 + i128::from(self.offset_s) * 1_000_000_000;
        ns.clamp(0, i128::from(u64::MAX)) as u64
    }
}

#[derive(Clone, Copy, Debug)]
struct Endian {
    big: bool,
}

impl Endian {
    #[inline]
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let a = [*b.get(at)?, *b.get(at + 1)?];
        Some(if self.big {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        })
    }
    #[inline]
    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let a: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if self.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }
    #[inline]
    fn u64(self, b: &[u8], at: usize) -> Option<u64> {
        let a: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        Some(if self.big {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        })
    }
}

/// Reading state of a capture, separate from its bytes.
///
/// Every call takes the same `data` slice that was given to [`PcapCursor::new`]; this lets a
/// caller own both the bytes (say a memory map) and the cursor without self-reference. Passing a
/// different slice yields errors or garbage, never a panic. [`PcapReader`] bundles the two.
#[derive(Clone, Debug)]
pub struct PcapCursor {
    format: CaptureFormat,
    endian: Endian,
    pos: usize,
    index: u64,
    interfaces: Vec<Interface>,
    stats: CaptureStats,
    done: bool,
    /// Timestamp of the last packet returned (what an untimed one gets).
    last_ts_ns: u64,
}

impl PcapCursor {
    /// Reads the file header (pcap) or checks for a leading Section Header Block (pcapng).
    pub fn new(data: &[u8]) -> Result<Self, PcapError> {
        let Some(first) = data.get(..4) else {
            return Err(PcapError::TruncatedFile {
                offset: 0,
                needed: 4,
                available: data.len() as u64,
            });
        };
        let magic_be = u32::from_be_bytes([first[0], first[1], first[2], first[3]]);
        let magic_le = u32::from_le_bytes([first[0], first[1], first[2], first[3]]);
        if magic_be == BT_SHB {
            return Ok(Self {
                format: CaptureFormat::Pcapng,
                endian: Endian { big: false },
                pos: 0,
                index: 0,
                interfaces: Vec::new(),
                stats: CaptureStats::default(),
                done: false,
                last_ts_ns: 0,
            });
        }
        let (big, nanos) = match (magic_be, magic_le) {
            (PCAP_MAGIC_US, _) => (true, false),
            (PCAP_MAGIC_NS, _) => (true, true),
            (_, PCAP_MAGIC_US) => (false, false),
            (_, PCAP_MAGIC_NS) => (false, true),
            _ => return Err(PcapError::BadMagic { magic: magic_be }),
        };
        if data.len() < PCAP_HEADER_LEN {
            return Err(PcapError::TruncatedFile {
                offset: 0,
                needed: PCAP_HEADER_LEN as u64,
                available: data.len() as u64,
            });
        }
        let endian = Endian { big };
        let snaplen = endian.u32(data, 16).unwrap_or(0);
        // The upper bits of the link-type field carry FCS information; the type is the low 16.
        let link_type = (endian.u32(data, 20).unwrap_or(0) & 0xFFFF) as u16;
        Ok(Self {
            format: CaptureFormat::Pcap {
                big_endian: big,
                nanos,
                link_type,
                snaplen,
            },
            endian,
            pos: PCAP_HEADER_LEN,
            index: 0,
            interfaces: Vec::new(),
            stats: CaptureStats::default(),
            done: false,
            last_ts_ns: 0,
        })
    }

    /// The container format (for pcap, as read from the file header).
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Counters so far.
    pub fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    /// Byte offset of the next record.
    pub fn position(&self) -> u64 {
        self.pos as u64
    }

    /// The next link-layer frame, whatever it carries. `None` at the end or after a fatal error
    /// (see [`PcapError::is_fatal`]).
    pub fn next_packet<'a>(&mut self, data: &'a [u8]) -> Option<Result<RawPacket<'a>, PcapError>> {
        if self.done {
            return None;
        }
        let r = match self.format {
            CaptureFormat::Pcap {
                nanos, link_type, ..
            } => self.next_pcap(data, nanos, link_type),
            CaptureFormat::Pcapng => self.next_pcapng(data),
        };
        match r {
            Some(Ok(p)) => {
                self.stats.packets += 1;
                self.index += 1;
                self.last_ts_ns = p.ts_ns;
                Some(Ok(p))
            }
            Some(Err(e)) => {
                if e.is_fatal() {
                    self.done = true;
                } else {
                    // A packet record that is in error still counts as a packet.
                    self.stats.packets += 1;
                    self.index += 1;
                }
                self.stats.errors += 1;
                Some(Err(e))
            }
            None => {
                self.done = true;
                None
            }
        }
    }

    fn next_pcap<'a>(
        &mut self,
        data: &'a [u8],
        nanos: bool,
        link_type: u16,
    ) -> Option<Result<RawPacket<'a>, PcapError>> {
        let pos = self.pos;
        let available = data.len().saturating_sub(pos);
        if available == 0 {
            return None;
        }
        let truncated = |needed: u64| PcapError::TruncatedFile {
            offset: pos as u64,
            needed,
            available: available as u64,
        };
        if available < PCAP_RECORD_LEN {
            return Some(Err(truncated(PCAP_RECORD_LEN as u64)));
        }
        let e = self.endian;
        let (Some(sec), Some(frac), Some(incl), Some(orig)) = (
            e.u32(data, pos),
            e.u32(data, pos + 4),
            e.u32(data, pos + 8),
            e.u32(data, pos + 12),
        ) else {
            return Some(Err(truncated(PCAP_RECORD_LEN as u64)));
        };
        let (limit, ns_per_unit) = if nanos {
            (1_000_000_000, 1)
        } else {
            (1_000_000, 1_000)
        };
        if incl > orig {
            // One of the two lengths is wrong. A flipped bit in the captured length would, if
            // trusted, put the next record inside a later one (or past the end of the file)
            // and lose everything after it: when the captured length leads to no sound record
            // header and the original length does, the framing goes on from the latter.
            let by_incl = pos as u64 + PCAP_RECORD_LEN as u64 + u64::from(incl);
            let by_orig = pos + PCAP_RECORD_LEN + orig as usize;
            let incl_sound =
                usize::try_from(by_incl).is_ok_and(|at| self.sound_record_at(data, at, limit));
            if !incl_sound && self.sound_record_at(data, by_orig, limit) {
                self.pos = by_orig;
                return Some(Err(PcapError::CapturedBeyondOriginal {
                    offset: pos as u64,
                    captured: incl,
                    original: orig,
                }));
            }
        }
        let needed = PCAP_RECORD_LEN as u64 + u64::from(incl);
        if (available as u64) < needed {
            return Some(Err(truncated(needed)));
        }
        let start = pos + PCAP_RECORD_LEN;
        let end = start + incl as usize;
        let Some(frame) = data.get(start..end) else {
            return Some(Err(truncated(needed)));
        };
        self.pos = end;
        // The framing is intact (`pos` is past this record): what follows is an error for this
        // record only.
        if incl > orig {
            return Some(Err(PcapError::CapturedBeyondOriginal {
                offset: pos as u64,
                captured: incl,
                original: orig,
            }));
        }
        if frac >= limit {
            // Not a time: carrying it into the seconds would move the packet forward silently.
            return Some(Err(PcapError::BadTimestamp {
                offset: pos as u64,
                fraction: frac,
                limit,
            }));
        }
        let ts_ns = u64::from(sec) * 1_000_000_000 + u64::from(frac) * ns_per_unit;
        Some(Ok(RawPacket {
            offset: pos as u64,
            index: self.index,
            ts_ns,
            link_type,
            orig_len: orig,
            data: frame,
        }))
    }

    /// True when a classic pcap record header that could be read whole starts at `at` (or
    /// `at` is the end of the capture): a valid fraction, a captured length within its
    /// original length and within the capture.
    fn sound_record_at(&self, data: &[u8], at: usize, limit: u32) -> bool {
        if at == data.len() {
            return true;
        }
        let e = self.endian;
        match (
            e.u32(data, at + 4),
            e.u32(data, at + 8),
            e.u32(data, at + 12),
        ) {
            (Some(frac), Some(incl), Some(orig)) => {
                frac < limit
                    && incl <= orig
                    && (at + PCAP_RECORD_LEN) as u64 + u64::from(incl) <= data.len() as u64
            }
            _ => false,
        }
    }

    fn next_pcapng<'a>(&mut self, data: &'a [u8]) -> Option<Result<RawPacket<'a>, PcapError>> {
        loop {
            let pos = self.pos;
            let available = data.len().saturating_sub(pos);
            if available == 0 {
                return None;
            }
            let offset = pos as u64;
            let truncated = |needed: u64| PcapError::TruncatedFile {
                offset,
                needed,
                available: available as u64,
            };
            if available < 12 {
                return Some(Err(truncated(12)));
            }
            let Some(raw_type) = data.get(pos..pos + 4) else {
                return Some(Err(truncated(12)));
            };
            let is_shb =
                u32::from_be_bytes([raw_type[0], raw_type[1], raw_type[2], raw_type[3]]) == BT_SHB;
            if is_shb {
                // Byte order comes from the SHB's own magic.
                match (
                    Endian { big: true }.u32(data, pos + 8),
                    Endian { big: false }.u32(data, pos + 8),
                ) {
                    (Some(BYTE_ORDER_MAGIC), _) => self.endian = Endian { big: true },
                    (_, Some(BYTE_ORDER_MAGIC)) => self.endian = Endian { big: false },
                    _ => {
                        return Some(Err(PcapError::BadBlock {
                            offset,
                            reason: "section header with a bad byte-order magic",
                        }))
                    }
                }
            }
            let e = self.endian;
            let (Some(block_type), Some(len)) = (e.u32(data, pos), e.u32(data, pos + 4)) else {
                return Some(Err(truncated(12)));
            };
            let len_usize = len as usize;
            if len % 4 != 0 || len < 12 {
                return Some(Err(PcapError::BadBlock {
                    offset,
                    reason: "block length not a multiple of 4 or below 12",
                }));
            }
            if available < len_usize {
                return Some(Err(truncated(u64::from(len))));
            }
            if e.u32(data, pos + len_usize - 4) != Some(len) {
                return Some(Err(PcapError::BadBlock {
                    offset,
                    reason: "trailing block length differs from the leading one",
                }));
            }
            let body = data.get(pos + 8..pos + len_usize - 4).unwrap_or(&[]);
            self.pos = pos + len_usize;
            match block_type {
                BT_SHB => {
                    if body.len() < 16 {
                        return Some(Err(PcapError::BadBlock {
                            offset,
                            reason: "section header block too short",
                        }));
                    }
                    self.interfaces.clear();
                }
                BT_IDB => {
                    if body.len() < 8 {
                        return Some(Err(PcapError::BadBlock {
                            offset,
                            reason: "interface description block too short",
                        }));
                    }
                    let mut iface = Interface {
                        link_type: e.u16(body, 0).unwrap_or(0),
                        snaplen: e.u32(body, 4).unwrap_or(0),
                        unit: TsUnit::Pow10(6),
                        offset_s: 0,
                    };
                    parse_idb_options(e, body.get(8..).unwrap_or(&[]), &mut iface);
                    self.interfaces.push(iface);
                }
                BT_EPB | BT_PB => {
                    let (iface_id, ts_at) = if block_type == BT_EPB {
                        (e.u32(body, 0), 4)
                    } else {
                        (e.u16(body, 0).map(u32::from), 4)
                    };
                    let (Some(iface_id), Some(hi), Some(lo), Some(cap), Some(orig)) = (
                        iface_id,
                        e.u32(body, ts_at),
                        e.u32(body, ts_at + 4),
                        e.u32(body, ts_at + 8),
                        e.u32(body, ts_at + 12),
                    ) else {
                        return Some(Err(PcapError::BadPacketBlock {
                            offset,
                            reason: "packet block too short for its fixed fields",
                        }));
                    };
                    let start = ts_at + 16;
                    let Some(frame) = body.get(start..start.saturating_add(cap as usize)) else {
                        return Some(Err(PcapError::BadPacketBlock {
                            offset,
                            reason: "captured length runs past the end of the block",
                        }));
                    };
                    let Some(iface) = self.interfaces.get(iface_id as usize) else {
                        return Some(Err(PcapError::UnknownInterface {
                            offset,
                            interface: iface_id,
                        }));
                    };
                    if cap > orig {
                        return Some(Err(PcapError::CapturedBeyondOriginal {
                            offset,
                            captured: cap,
                            original: orig,
                        }));
                    }
                    return Some(Ok(RawPacket {
                        offset,
                        index: self.index,
                        ts_ns: iface.ts_ns((u64::from(hi) << 32) | u64::from(lo)),
                        link_type: iface.link_type,
                        orig_len: orig,
                        data: frame,
                    }));
                }
                BT_SPB => {
                    let Some(orig) = e.u32(body, 0) else {
                        return Some(Err(PcapError::BadPacketBlock {
                            offset,
                            reason: "simple packet block too short",
                        }));
                    };
                    let Some(iface) = self.interfaces.first() else {
                        return Some(Err(PcapError::UnknownInterface {
                            offset,
                            interface: 0,
                        }));
                    };
                    let room = body.len() - 4;
                    let mut cap = room.min(orig as usize);
                    if iface.snaplen != 0 {
                        cap = cap.min(iface.snaplen as usize);
                    }
                    let frame = body.get(4..4 + cap).unwrap_or(&[]);
                    // A Simple Packet Block has no timestamp: it gets the previous packet's
                    // (0 before any), and is counted.
                    self.stats.untimed += 1;
                    return Some(Ok(RawPacket {
                        offset,
                        index: self.index,
                        ts_ns: self.last_ts_ns,
                        link_type: iface.link_type,
                        orig_len: orig,
                        data: frame,
                    }));
                }
                _ => {} // Other blocks (statistics, name resolution, custom, ...) are skipped.
            }
        }
    }

    /// The next IPv4 / UDP datagram, skipping (and counting) frames that carry something else.
    /// Per-record errors are returned and reading goes on; `None` at the end or after a fatal
    /// error.
    pub fn next_udp<'a>(&mut self, data: &'a [u8]) -> Option<Result<UdpDatagram<'a>, PcapError>> {
        loop {
            let p = match self.next_packet(data)? {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
            // Cut by the snap length: a frame whose captured headers say it is not a UDP
            // datagram is skipped as such (below); a cut UDP datagram, or one whose cut
            // headers do not parse, is an error.
            let frame = parse_frame(p.link_type, p.data);
            if (p.data.len() as u64) < u64::from(p.orig_len)
                && matches!(frame, Ok(FrameKind::Udp { .. }) | Err(_))
            {
                self.stats.errors += 1;
                return Some(Err(PcapError::TruncatedPacket {
                    offset: p.offset,
                    captured: p.data.len() as u32,
                    original: p.orig_len,
                }));
            }
            match frame {
                Ok(FrameKind::Udp { src, dst, payload }) => {
                    self.stats.udp += 1;
                    return Some(Ok(UdpDatagram {
                        ts_ns: p.ts_ns,
                        src,
                        dst,
                        payload,
                    }));
                }
                Ok(FrameKind::NonIpv4) => self.stats.non_ipv4 += 1,
                Ok(FrameKind::NonUdp) => self.stats.non_udp += 1,
                Ok(FrameKind::Fragment) => self.stats.fragments += 1,
                Ok(FrameKind::UnsupportedLink) => self.stats.unsupported_link += 1,
                Err(reason) => {
                    self.stats.errors += 1;
                    return Some(Err(PcapError::MalformedFrame {
                        offset: p.offset,
                        reason,
                    }));
                }
            }
        }
    }

    /// Index (0-based) that the next packet record will get; after [`Self::next_udp`] returns a
    /// datagram, `packet_index() - 1` is the index of its packet.
    pub fn packet_index(&self) -> u64 {
        self.index
    }
}

fn parse_idb_options(e: Endian, mut opts: &[u8], iface: &mut Interface) {
    while let (Some(code), Some(len)) = (e.u16(opts, 0), e.u16(opts, 2)) {
        if code == OPT_ENDOFOPT {
            break;
        }
        let len = usize::from(len);
        let Some(value) = opts.get(4..4 + len) else {
            break;
        };
        match (code, value) {
            (IF_TSRESOL, [v]) => {
                iface.unit = if v & 0x80 == 0 {
                    TsUnit::Pow10(*v)
                } else {
                    TsUnit::Pow2(v & 0x7F)
                };
            }
            (IF_TSOFFSET, _) if len == 8 => {
                iface.offset_s = e.u64(value, 0).unwrap_or(0) as i64;
            }
            _ => {}
        }
        let padded = (4 + len + 3) & !3;
        opts = opts.get(padded..).unwrap_or(&[]);
    }
}

/// A capture held in memory, read without copies. Iterates over its IPv4 / UDP datagrams.
#[derive(Clone, Debug)]
pub struct PcapReader<'a> {
    data: &'a [u8],
    cursor: PcapCursor,
}

impl<'a> PcapReader<'a> {
    /// Opens a capture in `data` (pcap or pcapng, detected by magic number).
    pub fn new(data: &'a [u8]) -> Result<Self, PcapError> {
        Ok(Self {
            data,
            cursor: PcapCursor::new(data)?,
        })
    }

    /// Container format.
    pub fn format(&self) -> CaptureFormat {
        self.cursor.format()
    }

    /// Counters so far.
    pub fn stats(&self) -> &CaptureStats {
        self.cursor.stats()
    }

    /// The next raw frame (see [`PcapCursor::next_packet`]).
    pub fn next_packet(&mut self) -> Option<Result<RawPacket<'a>, PcapError>> {
        self.cursor.next_packet(self.data)
    }

    /// The next UDP datagram (see [`PcapCursor::next_udp`]).
    pub fn next_udp(&mut self) -> Option<Result<UdpDatagram<'a>, PcapError>> {
        self.cursor.next_udp(self.data)
    }
}

impl<'a> Iterator for PcapReader<'a> {
    type Item = Result<UdpDatagram<'a>, PcapError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_udp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_conversions() {
        let mk = |unit| Interface {
            link_type: 1,
            snaplen: 0,
            unit,
            offset_s: 0,
        };
        assert_eq!(mk(TsUnit::Pow10(6)).ts_ns(5), 5_000);
        assert_eq!(mk(TsUnit::Pow10(9)).ts_ns(5), 5);
        assert_eq!(mk(TsUnit::Pow10(12)).ts_ns(5_000), 5);
        assert_eq!(mk(TsUnit::Pow2(10)).ts_ns(1024), 1_000_000_000);
        assert_eq!(mk(TsUnit::Pow10(127)).ts_ns(u64::MAX), 0);
        let mut i = mk(TsUnit::Pow10(9));
        i.offset_s = 2;
        assert_eq!(i.ts_ns(1), 2_000_000_001);
    }
}
