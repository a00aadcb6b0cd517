//! Reading a source to the end: decode, normalize, hand each message to the command, and keep
//! an account of every error (position and cause) so that nothing is skipped silently.
//!
//! Sources: everything [`ItchSource`] reads (binary files, gzip, pcap, pcapng of MoldUDP64),
//! and LOBSTER message files (detected by content). A LOBSTER file carries one instrument: its
//! symbol is taken from the file name (`AMZN_2012-06-21_..._message_1.csv` → `AMZN`) and
//! announced with an instrument-directory event (instrument 1) before the first row. LOBSTER
//! message files start from a book that already exists; orders from before the file are
//! unknown to the book and their cancels and executions are counted as anomalies (use
//! `lobster-check` with the order-book file to seed the book from it).

use std::ops::ControlFlow;
use std::path::Path;

use anyhow::Context;
use ticklane_core::{EventBody, InstrumentId, InstrumentInfo, MarketEvent, Symbol, Timestamp};
use ticklane_feeds::binfile::{FramingError, LengthMode};
use ticklane_feeds::itch::{decode, normalize, Message};
use ticklane_feeds::lobster;
use ticklane_feeds::source::{ItchSource, SourceError, SourceFormat, SourceOptions, SourceStats};

use crate::ReadOpts;

/// How many errors are kept with their detail; the rest are only counted.
const KEPT_ERRORS: usize = 20;

/// One error met while reading.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReadError {
    /// Byte offset (binary files), packet index (captures) or line (LOBSTER), where known.
    pub position: Option<u64>,
    /// `framing`, `capture`, `decode`, `normalize` or `parse` (LOBSTER rows).
    pub stage: &'static str,
    /// What went wrong.
    pub error: String,
}

/// What a full read saw.
#[derive(Debug, Default)]
pub struct ReadReport {
    /// Messages decoded.
    pub messages: u64,
    /// Errors of any stage.
    pub errors: u64,
    /// The first errors, in order.
    pub first_errors: Vec<ReadError>,
    /// Counters of the source (packets, duplicates, gaps, ...).
    pub source: SourceStats,
    /// Detected format (`None` for LOBSTER files and captures).
    pub format: Option<SourceFormat>,
    /// The file was a ticklane capture.
    pub capture: bool,
    /// For captures: what the reader recovered (blocks, records, bad blocks, torn tail, index).
    pub recovery: Option<String>,
}

impl ReadReport {
    fn record(&mut self, position: Option<u64>, stage: &'static str, error: String) {
        self.errors += 1;
        if self.first_errors.len() < KEPT_ERRORS {
            self.first_errors.push(ReadError {
                position,
                stage,
                error,
            });
        }
    }

    /// Prints the errors to stderr (for the text commands).
    pub fn print_errors(&self) {
        for e in &self.first_errors {
            match e.position {
                Some(p) => eprintln!("error at {p} ({}): {}", e.stage, e.error),
                None => eprintln!("error ({}): {}", e.stage, e.error),
            }
        }
        if self.errors > self.first_errors.len() as u64 {
            eprintln!(
                "... and {} more errors",
                self.errors - self.first_errors.len() as u64
            );
        }
    }
}

/// One message of a source, as the commands see it.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Event time (ns since midnight).
    pub ts: u64,
    /// Message type: the ITCH type byte, or the LOBSTER event type as an ASCII digit.
    pub msg_type: u8,
    /// Instrument (ITCH stock locate; 1 for a LOBSTER file); 0 for market-wide messages.
    pub instrument: u32,
    /// The decoded ITCH message, for ITCH sources.
    pub itch: Option<&'a Message<'a>>,
    /// The normalized event, where the message has one.
    pub event: Option<&'a MarketEvent>,
}

/// Opens `path` and calls `on_message` for every message. Stops early when it breaks.
pub fn read(
    path: &Path,
    opts: &ReadOpts,
    mut on_message: impl FnMut(&Record<'_>) -> ControlFlow<()>,
) -> anyhow::Result<ReadReport> {
    if is_lobster(path)? {
        return read_lobster(path, on_message);
    }
    if is_capture(path)? {
        if opts.orderbook.is_some() {
            anyhow::bail!("--orderbook applies to LOBSTER message files only");
        }
        return read_capture(path, on_message);
    }
    if opts.orderbook.is_some() {
        anyhow::bail!("--orderbook applies to LOBSTER message files only");
    }
    let options = SourceOptions {
        length_mode: if opts.lengths_from_type {
            LengthMode::FromType
        } else {
            LengthMode::Prefix
        },
        ..SourceOptions::default()
    };
    let mut src =
        ItchSource::open(path, options).with_context(|| format!("opening {}", path.display()))?;
    let mut report = ReadReport {
        format: Some(src.format()),
        ..ReadReport::default()
    };
    while let Some(item) = src.next() {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                let (stage, position, hint) = match &e {
                    SourceError::Framing(f) => {
                        let hint = if matches!(f, FramingError::ZeroLength { .. }) {
                            "; rerun with --lengths-from-type to take lengths from the message types"
                        } else {
                            ""
                        };
                        ("framing", Some(f.offset()), hint)
                    }
                    SourceError::Mold { packet, .. } => ("capture", Some(*packet), ""),
                    _ => ("capture", None, ""),
                };
                report.record(position, stage, format!("{e}{hint}"));
                continue;
            }
        };
        let msg = match decode(item.bytes) {
            Ok(m) => m,
            Err(e) => {
                report.record(Some(item.position), "decode", e.to_string());
                continue;
            }
        };
        report.messages += 1;
        let ev = match normalize(&msg) {
            Ok(ev) => ev,
            Err(e) => {
                report.record(Some(item.position), "normalize", e.to_string());
                None
            }
        };
        let rec = Record {
            ts: msg.timestamp(),
            msg_type: msg.msg_type(),
            instrument: u32::from(msg.stock_locate()),
            itch: Some(&msg),
            event: ev.as_ref(),
        };
        if on_message(&rec).is_break() {
            break;
        }
    }
    report.source = *src.stats();
    Ok(report)
}

/// Whether `path` is a ticklane capture (by its magic).
fn is_capture(path: &Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let n = f.read(&mut head)?;
    Ok(n == 8 && head == ticklane_replay::format::FILE_MAGIC)
}

/// Reads a ticklane capture (`replay/FORMAT.md`). ITCH-binary captures hold one message per
/// record; MoldUDP64 captures hold packets, possibly from both lines A and B: messages are
/// taken in sequence order per session, a message already seen (the other line's copy, or a
/// retransmission) is counted as a duplicate and skipped, and a jump in sequence numbers is
/// counted as a gap with the number of messages missing. Corrupted blocks and a torn tail are
/// errors with their byte offsets; the reader resumes at the next good block.
fn read_capture(
    path: &Path,
    mut on_message: impl FnMut(&Record<'_>) -> ControlFlow<()>,
) -> anyhow::Result<ReadReport> {
    use ticklane_feeds::moldudp64::MoldPacket;
    use ticklane_replay::format::FeedKind;
    let mut reader = ticklane_replay::CaptureReader::open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let feed = reader.header().feed;
    let mut report = ReadReport {
        capture: true,
        ..ReadReport::default()
    };
    // Next expected MoldUDP64 sequence number, per session.
    let mut next: Vec<([u8; 10], u64)> = Vec::new();
    let mut index = 0u64;
    let mut deliver = |report: &mut ReadReport, body: &[u8], position: u64| -> ControlFlow<()> {
        let msg = match decode(body) {
            Ok(m) => m,
            Err(e) => {
                report.record(Some(position), "decode", e.to_string());
                return ControlFlow::Continue(());
            }
        };
        report.messages += 1;
        let ev = match normalize(&msg) {
            Ok(ev) => ev,
            Err(e) => {
                report.record(Some(position), "normalize", e.to_string());
                None
            }
        };
        on_message(&Record {
            ts: msg.timestamp(),
            msg_type: msg.msg_type(),
            instrument: u32::from(msg.stock_locate()),
            itch: Some(&msg),
            event: ev.as_ref(),
        })
    };
    while let Some(item) = reader.next_record() {
        let rec = match item {
            Ok(r) => r,
            Err(e) => {
                let offset = match &e {
                    ticklane_replay::CaptureError::TruncatedTail { offset, .. }
                    | ticklane_replay::CaptureError::CorruptBlock { offset, .. }
                    | ticklane_replay::CaptureError::Io { offset, .. } => Some(*offset),
                    _ => None,
                };
                report.record(offset, "capture", e.to_string());
                continue;
            }
        };
        index += 1;
        report.source.packets += 1;
        report.source.bytes += rec.bytes.len() as u64;
        match feed {
            FeedKind::ItchBinary => {
                if deliver(&mut report, rec.bytes, index).is_break() {
                    break;
                }
            }
            FeedKind::MoldUdp64 => {
                let packet = match MoldPacket::parse(rec.bytes) {
                    Ok(p) => p,
                    Err(e) => {
                        report.record(Some(index), "capture", e.to_string());
                        continue;
                    }
                };
                let session = *packet.session();
                let slot = match next.iter().position(|s| s.0 == session) {
                    Some(i) => i,
                    None => {
                        next.push((session, packet.sequence()));
                        next.len() - 1
                    }
                };
                let first = packet.sequence();
                let mut stop = false;
                for (seq, body) in (first..).zip(packet.messages()) {
                    let body = match body {
                        Ok(b) => b,
                        Err(e) => {
                            report.record(Some(index), "capture", e.to_string());
                            break;
                        }
                    };
                    let expected = next[slot].1;
                    if seq < expected {
                        report.source.duplicates += 1;
                    } else {
                        if seq > expected {
                            report.source.gaps += 1;
                            report.source.missing += seq - expected;
                        }
                        next[slot].1 = seq + 1;
                        if deliver(&mut report, body, index).is_break() {
                            stop = true;
                            break;
                        }
                    }
                }
                if stop {
                    break;
                }
            }
            FeedKind::Raw => anyhow::bail!(
                "{}: a raw capture carries no protocol ticklane can decode",
                path.display()
            ),
        }
    }
    // Corrupted blocks and a torn tail came out of the reader as errors (with their offsets)
    // and were recorded above; this says what was recovered.
    let rr = reader.report();
    report.recovery =
        Some(format!(
        "{} good blocks, {} records; {} bad blocks ({} blocks missing); torn tail: {}; index {}",
        rr.good_blocks,
        rr.records,
        rr.bad_blocks.len(),
        rr.missing_blocks,
        rr.truncated_tail
            .as_ref()
            .map_or("none".to_string(), |(off, why)| format!("at offset {off} ({why:?})")),
        match rr.index {
            ticklane_replay::IndexState::Present => "read from the trailer",
            ticklane_replay::IndexState::Rebuilt => "rebuilt by scanning (no valid trailer)",
        }
    ));
    Ok(report)
}

/// Whether `path` holds a LOBSTER message file (by content).
fn is_lobster(path: &Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let n = f.read(&mut head)?;
    Ok(lobster::is_lobster_message_file(&head[..n]))
}

/// The instrument id a LOBSTER file's events carry.
pub const LOBSTER_INSTRUMENT: InstrumentId = InstrumentId(1);

fn read_lobster(
    path: &Path,
    mut on_message: impl FnMut(&Record<'_>) -> ControlFlow<()>,
) -> anyhow::Result<ReadReport> {
    let mut report = ReadReport::default();
    let reader = lobster::MessageReader::open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut mapper = lobster::EventMapper::new();
    let mut announced = false;
    for item in reader {
        let m = match item {
            Ok(m) => m,
            Err(e) => {
                report.record(Some(e.line()), "parse", e.to_string());
                continue;
            }
        };
        if !announced {
            announced = true;
            let dir = lobster_directory(path, m.time);
            let rec = Record {
                ts: m.time.0,
                msg_type: b'R',
                instrument: LOBSTER_INSTRUMENT.0,
                itch: None,
                event: Some(&dir),
            };
            if on_message(&rec).is_break() {
                break;
            }
        }
        report.messages += 1;
        let ev = mapper.to_event(&m, LOBSTER_INSTRUMENT);
        let rec = Record {
            ts: m.time.0,
            msg_type: b'0' + m.kind,
            instrument: LOBSTER_INSTRUMENT.0,
            itch: None,
            event: ev.as_ref(),
        };
        if on_message(&rec).is_break() {
            break;
        }
    }
    Ok(report)
}

/// The instrument-directory event announcing a LOBSTER file's instrument
/// ([`LOBSTER_INSTRUMENT`]): the ticker is the file name up to its first `_`
/// (`AMZN_2012-06-21_..._message_1.csv` → `AMZN`), or `LOBSTER` when that is not a ticker.
pub fn lobster_directory(path: &Path, ts: Timestamp) -> MarketEvent {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ticker = name.split('_').next().unwrap_or_default();
    let symbol = Symbol::new(ticker)
        .filter(|_| !ticker.is_empty())
        .unwrap_or(Symbol(*b"LOBSTER "));
    MarketEvent::new(
        ts,
        LOBSTER_INSTRUMENT,
        EventBody::InstrumentDirectory(lobster_instrument(symbol)),
    )
}

/// Reference data for the instrument of a LOBSTER file (which carries none).
fn lobster_instrument(symbol: Symbol) -> InstrumentInfo {
    InstrumentInfo {
        symbol,
        round_lot: 100,
        etp_leverage: 0,
        market_category: b' ',
        financial_status: b' ',
        issue_classification: b' ',
        issue_subtype: *b"  ",
        round_lots_only: false,
        production: true,
        short_sale_threshold: b' ',
        ipo_flag: b' ',
        luld_tier: b' ',
        etp_flag: b' ',
        inverse: false,
    }
}
