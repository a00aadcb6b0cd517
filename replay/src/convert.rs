//! Conversions between captures and the formats of other tools.
//!
//! - **pcap / pcapng → capture** ([`pcap_to_capture`], [`pcap_file_to_capture`]): every IPv4 /
//!   UDP datagram becomes one record holding its UDP payload (for NASDAQ, a MoldUDP64 packet;
//!   the capture's feed kind is [`FeedKind::MoldUdp64`]). Frames that are not IPv4/UDP and IPv4
//!   fragments are skipped and counted by `ticklane-feeds`' reader; per-record errors are
//!   counted and reading goes on; a fatal error (a capture cut in the middle of a record) ends
//!   the import and is returned in the stats with everything before it written.
//!   **Receive time = the pcap timestamp unchanged: nanoseconds since the Unix epoch.** Keeping
//!   the date makes the round trip to pcap exact; ITCH event times are nanoseconds since
//!   midnight, and a consumer that needs receive time on that scale subtracts the session's
//!   midnight (a time-zone question this crate does not answer).
//!   The line is [`Line::A`] / [`Line::B`] for datagrams sent to the configured A / B
//!   destinations, [`Line::Single`] otherwise. With neither configured: a pcap whose first
//!   datagram goes to one of [`capture_to_pcap`]'s default destinations (an export of ours)
//!   takes A and B from those, so an exported capture recorded back keeps lines A and B (its
//!   single-line and retransmission records, exported to A's address, come back on line A);
//!   any other pcap takes the first destination seen as line A and the second as line B (as
//!   `ticklane replay` reads a pcap).
//! - **capture → pcap / pcapng** ([`capture_to_pcap`]): every record becomes one Ethernet /
//!   IPv4 / UDP frame (built by `ticklane-feeds`' writers, as `ticklane gen` does) with the
//!   record's bytes as UDP payload, the record's timestamp plus
//!   [`PcapExportOptions::ts_offset_ns`] as its time, sent to the A or B destination by line.
//!   Corrupted blocks are skipped and counted in the returned [`RecoveryReport`].
//! - **NASDAQ binary file → capture** ([`binfile_to_capture`], [`binfile_path_to_capture`]):
//!   every framed message becomes one record (the message without its length prefix,
//!   [`FeedKind::ItchBinary`], [`Line::Single`]). A binary file carries no receive time, so
//!   **receive time = the ITCH message's own timestamp** (nanoseconds since midnight; the
//!   header gets [`FLAG_TS_SINCE_MIDNIGHT`]). A message too short to carry a timestamp (fewer
//!   than 11 bytes) gets the previous record's and is counted.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;

use ticklane_feeds::binfile::{BinFile, FramingError, LengthMode, MappedFile};
use ticklane_feeds::pcap::{CaptureStats, PcapError, PcapReader, PcapWriter, PcapngWriter};

use crate::error::CaptureError;
use crate::format::{CaptureHeader, FeedKind, Line, FLAG_TS_SINCE_MIDNIGHT};
use crate::reader::{CaptureReader, RecoveryReport};
use crate::writer::{CaptureWriter, WriteSummary, WriterOptions};

/// A conversion that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// Reading or writing the capture failed.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// The pcap/pcapng input cannot be opened (not a capture, header cut short).
    #[error("pcap input: {0}")]
    Pcap(#[from] PcapError),
    /// Opening, reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ConvertError {
    let context = context.into();
    move |source| ConvertError::Io { context, source }
}

/// How datagrams are taken from a pcap/pcapng.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PcapImportOptions {
    /// Keep only datagrams sent to this UDP port (`None`: keep all).
    pub udp_dst_port: Option<u16>,
    /// Datagrams sent to this address are line A. With neither `line_a` nor `line_b` set, see
    /// the module docs (an export of ours keeps its lines; otherwise by order of appearance).
    pub line_a: Option<SocketAddrV4>,
    /// Datagrams sent to this address are line B.
    pub line_b: Option<SocketAddrV4>,
}

/// What a pcap import did.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PcapImportStats {
    /// Records written (one per kept datagram).
    pub records: u64,
    /// Datagrams dropped by the port filter.
    pub filtered: u64,
    /// The pcap reader's counters (packets, skipped frames by kind, errors).
    pub capture: CaptureStats,
    /// Records of the pcap that were in error (skipped; reading went on).
    pub record_errors: u64,
    /// The first of those errors.
    pub first_record_error: Option<PcapError>,
    /// The error that ended reading early (a truncated pcap), if any.
    pub fatal: Option<PcapError>,
}

/// Writes every UDP datagram of the pcap/pcapng in `pcap` (the whole file's bytes, typically
/// memory-mapped) to `writer`. See the module docs.
pub fn pcap_to_capture<W: Write>(
    pcap: &[u8],
    writer: &mut CaptureWriter<W>,
    options: &PcapImportOptions,
) -> Result<PcapImportStats, ConvertError> {
    let mut reader = PcapReader::new(pcap)?;
    let mut stats = PcapImportStats::default();
    let mut options = *options;
    let mut by_order = options.line_a.is_none() && options.line_b.is_none();
    let ours = PcapExportOptions::default();
    while let Some(item) = reader.next_udp() {
        match item {
            Ok(d) => {
                if options.udp_dst_port.is_some_and(|p| p != d.dst.port()) {
                    stats.filtered += 1;
                    continue;
                }
                if by_order && options.line_a.is_none() && [ours.dst_a, ours.dst_b].contains(&d.dst)
                {
                    // An export of ours: its destinations say the lines.
                    options.line_a = Some(ours.dst_a);
                    options.line_b = Some(ours.dst_b);
                    by_order = false;
                }
                if by_order {
                    if options.line_a.is_none() {
                        options.line_a = Some(d.dst);
                    } else if options.line_b.is_none() && options.line_a != Some(d.dst) {
                        options.line_b = Some(d.dst);
                    }
                }
                let line = if Some(d.dst) == options.line_a {
                    Line::A
                } else if Some(d.dst) == options.line_b {
                    Line::B
                } else {
                    Line::Single
                };
                writer.write_record(d.ts_ns, line, d.payload)?;
                stats.records += 1;
            }
            Err(e) if e.is_fatal() => {
                stats.fatal = Some(e);
                break;
            }
            Err(e) => {
                stats.record_errors += 1;
                stats.first_record_error.get_or_insert(e);
            }
        }
    }
    stats.capture = *reader.stats();
    Ok(stats)
}

/// Converts the pcap/pcapng file `input` into the capture `output` (created or truncated;
/// finished with its index). `header.feed` is normally [`FeedKind::MoldUdp64`].
pub fn pcap_file_to_capture(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    header: &CaptureHeader,
    options: WriterOptions,
    import: &PcapImportOptions,
) -> Result<(PcapImportStats, WriteSummary), ConvertError> {
    let input = input.as_ref();
    let map = MappedFile::open(input).map_err(io_err(format!("opening {}", input.display())))?;
    let mut writer = CaptureWriter::create(output, header, options)?;
    let stats = pcap_to_capture(map.as_bytes(), &mut writer, import)?;
    let (_, summary) = writer.finish()?;
    Ok((stats, summary))
}

/// pcap flavour to write.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum PcapFormat {
    /// Classic pcap, nanosecond timestamps.
    #[default]
    Pcap,
    /// pcapng, one Ethernet interface with nanosecond resolution.
    Pcapng,
}

/// How records are written as UDP frames.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PcapExportOptions {
    /// pcap or pcapng.
    pub format: PcapFormat,
    /// Source address of every datagram.
    pub src: SocketAddrV4,
    /// Destination of line A and single-line records.
    pub dst_a: SocketAddrV4,
    /// Destination of line B records.
    pub dst_b: SocketAddrV4,
    /// Added to every record timestamp (e.g. the session's midnight in ns since the epoch for
    /// a capture whose timestamps are since midnight).
    pub ts_offset_ns: u64,
}

impl Default for PcapExportOptions {
    fn default() -> Self {
        Self {
            format: PcapFormat::Pcap,
            src: SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 26400),
            dst_a: SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 1), 26400),
            dst_b: SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 2), 26400),
            ts_offset_ns: 0,
        }
    }
}

/// What an export did.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PcapExportStats {
    /// Datagrams written.
    pub records: u64,
    /// What reading the capture found (corrupt blocks skipped, torn tail).
    pub report: RecoveryReport,
    /// Records the live recorder dropped (its ring full), from the capture's `DROP` notes:
    /// the capture never had them, so neither has the export.
    pub recorder_dropped: u64,
    /// Re-request answers (records of [`Line::Retransmit`]), exported as line A datagrams at
    /// the time they arrived. A pcap carries no receiver notes, so its reader waits a fixed
    /// grace for a missing packet: an answer that came later reads back as a loss.
    pub retransmissions: u64,
}

enum AnyPcapWriter<W: Write> {
    Pcap(PcapWriter<W>),
    Pcapng(PcapngWriter<W>),
}

/// Writes every record of `reader` (from its current position) to `out` as a pcap/pcapng.
/// Corrupt blocks and a torn tail are skipped and reported in the stats; an I/O error or a
/// record that cannot be a UDP payload (over 65,507 bytes, timestamp beyond pcap's range)
/// fails.
pub fn capture_to_pcap<R: Read + Seek, W: Write>(
    reader: &mut CaptureReader<R>,
    out: W,
    options: &PcapExportOptions,
) -> Result<PcapExportStats, ConvertError> {
    let mut w = match options.format {
        PcapFormat::Pcap => AnyPcapWriter::Pcap(PcapWriter::new(out).map_err(io_err("pcap"))?),
        PcapFormat::Pcapng => {
            AnyPcapWriter::Pcapng(PcapngWriter::new(out).map_err(io_err("pcapng"))?)
        }
    };
    let mut records = 0u64;
    let mut recorder_dropped = 0u64;
    let mut retransmissions = 0u64;
    while let Some(r) = reader.next_record() {
        let rec = match r {
            Ok(rec) => rec,
            Err(
                CaptureError::CorruptBlock { .. }
                | CaptureError::MissingBlocks { .. }
                | CaptureError::BlockOutOfOrder { .. }
                | CaptureError::TruncatedTail { .. },
            ) => continue,
            Err(e) => return Err(e.into()),
        };
        if rec.line == Line::Note {
            // A receiver's note is not a datagram: nothing to export. A `DROP` note says
            // what the capture lacks (FORMAT.md): counted, for the caller to report.
            if let Some(n) = rec
                .bytes
                .strip_prefix(b"DROP")
                .and_then(|n| n.get(..8))
                .and_then(|n| n.try_into().ok())
            {
                recorder_dropped = recorder_dropped.saturating_add(u64::from_be_bytes(n));
            }
            continue;
        }
        let dst = if rec.line == Line::B {
            options.dst_b
        } else {
            options.dst_a
        };
        if rec.line == Line::Retransmit {
            retransmissions += 1;
        }
        let ts = rec.ts_ns.saturating_add(options.ts_offset_ns);
        let res = match &mut w {
            AnyPcapWriter::Pcap(p) => p.write_udp(ts, options.src, dst, rec.bytes),
            AnyPcapWriter::Pcapng(p) => p.write_udp(ts, options.src, dst, rec.bytes),
        };
        res.map_err(io_err(format!("writing datagram {records}")))?;
        records += 1;
    }
    match &mut w {
        AnyPcapWriter::Pcap(p) => p.flush(),
        AnyPcapWriter::Pcapng(p) => p.flush(),
    }
    .map_err(io_err("flushing pcap"))?;
    Ok(PcapExportStats {
        records,
        report: reader.report().clone(),
        recorder_dropped,
        retransmissions,
    })
}

/// Converts the capture `input` into the pcap/pcapng file `output`.
pub fn capture_file_to_pcap(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    options: &PcapExportOptions,
) -> Result<PcapExportStats, ConvertError> {
    let mut reader = CaptureReader::open(input)?;
    let output = output.as_ref();
    let file = File::create(output).map_err(io_err(format!("creating {}", output.display())))?;
    capture_to_pcap(
        &mut reader,
        BufWriter::with_capacity(1 << 20, file),
        options,
    )
}

/// The header for a capture made from a NASDAQ binary file: [`FeedKind::ItchBinary`] with
/// [`FLAG_TS_SINCE_MIDNIGHT`].
pub fn itch_binary_header(session: impl Into<String>) -> CaptureHeader {
    let mut h = CaptureHeader::new(FeedKind::ItchBinary, session);
    h.flags |= FLAG_TS_SINCE_MIDNIGHT;
    h
}

/// What a binary-file import did.
#[derive(Debug, Default)]
pub struct BinImportStats {
    /// Records written (one per message).
    pub records: u64,
    /// Messages shorter than 11 bytes (no timestamp): given the previous record's timestamp.
    pub short_messages: u64,
    /// The framing error that ended the file early, if any (everything before it is written).
    pub framing_error: Option<FramingError>,
}

/// ITCH 5.0 timestamp (6 bytes big-endian at offset 5) of a message, if it is long enough.
fn itch_timestamp(msg: &[u8]) -> Option<u64> {
    let t = msg.get(5..11)?;
    Some(t.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// Writes every framed message of `file` to `writer` (see the module docs). The capture's
/// header should be [`itch_binary_header`].
pub fn binfile_to_capture<W: Write>(
    file: &mut BinFile,
    writer: &mut CaptureWriter<W>,
) -> Result<BinImportStats, ConvertError> {
    let mut stats = BinImportStats::default();
    let mut last_ts = 0u64;
    while let Some(frame) = file.next_frame() {
        match frame {
            Ok(f) => {
                let ts = match itch_timestamp(f.bytes) {
                    Some(t) => t,
                    None => {
                        stats.short_messages += 1;
                        last_ts
                    }
                };
                last_ts = ts;
                writer.write_record(ts, Line::Single, f.bytes)?;
                stats.records += 1;
            }
            Err(e) => {
                stats.framing_error = Some(e);
                break;
            }
        }
    }
    Ok(stats)
}

/// Converts the NASDAQ binary file `input` (plain or gzip) into the capture `output` (finished
/// with its index). `header` is used with its feed kind forced to [`FeedKind::ItchBinary`] and
/// [`FLAG_TS_SINCE_MIDNIGHT`] set.
pub fn binfile_path_to_capture(
    input: impl AsRef<Path>,
    mode: LengthMode,
    output: impl AsRef<Path>,
    header: &CaptureHeader,
    options: WriterOptions,
) -> Result<(BinImportStats, WriteSummary), ConvertError> {
    let input = input.as_ref();
    let mut file =
        BinFile::open_with(input, mode).map_err(io_err(format!("opening {}", input.display())))?;
    let mut h = header.clone();
    h.feed = FeedKind::ItchBinary;
    h.flags |= FLAG_TS_SINCE_MIDNIGHT;
    let mut writer = CaptureWriter::create(output, &h, options)?;
    let stats = binfile_to_capture(&mut file, &mut writer)?;
    let (_, summary) = writer.finish()?;
    Ok((stats, summary))
}
