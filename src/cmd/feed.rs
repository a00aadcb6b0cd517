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
use ticklane_feeds::itch::{decode, decode_normalize_into, normalize, Message};
use ticklane_feeds::lobster;
use ticklane_feeds::moldudp64::session::{MoldUdp64Session, SessionConfig, SessionSink};
use ticklane_feeds::moldudp64::Session;
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
    /// The ranges lost for good (first sequence number or record, and how many), in order:
    /// the first [`LOST_RANGES_KEPT`] (`source.gaps` counts them all).
    pub lost_ranges: Vec<(u64, u64)>,
    /// How many ranges of known size were lost for good, kept or not (`lost_ranges` keeps the
    /// first [`LOST_RANGES_KEPT`]).
    pub lost_ranges_total: u64,
}

/// How many lost ranges a [`ReadReport`] keeps (as a live feed's report keeps).
pub const LOST_RANGES_KEPT: usize = 1000;

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
                Some(p) => errln!("error at {p} ({}): {}", e.stage, e.error),
                None => errln!("error ({}): {}", e.stage, e.error),
            }
        }
        if self.errors > self.first_errors.len() as u64 {
            errln!(
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
    /// When the message was received, for recordings (captures, pcaps): the receive time of
    /// the packet whose arrival made it deliverable in order (any origin; a replay paced at
    /// `Nx` follows it). `None` for files without receive times (binary files, LOBSTER).
    pub received: Option<u64>,
}

/// Opens `path` and calls `on_message` for every message. Stops early when it breaks.
pub fn read(
    path: &Path,
    opts: &ReadOpts,
    mut on_message: impl FnMut(&Record<'_>) -> ControlFlow<()>,
) -> anyhow::Result<ReadReport> {
    if is_lobster(path)? {
        // Refused, not ignored: a LOBSTER order-book file is replayed by `book` and `bbo` only
        // (`lobster_check::replay`), before they would come here.
        if opts.orderbook.is_some() {
            anyhow::bail!(
                "--orderbook: this command reads {} alone (`book` and `bbo` take --orderbook)",
                path.display()
            );
        }
        if opts.lengths_from_type {
            anyhow::bail!(
                "--lengths-from-type applies to binary files only: {} is a LOBSTER message file",
                path.display()
            );
        }
        return read_lobster(path, on_message);
    }
    if is_capture(path)? {
        if opts.orderbook.is_some() {
            anyhow::bail!("--orderbook applies to LOBSTER message files only");
        }
        if opts.lengths_from_type {
            anyhow::bail!(
                "--lengths-from-type applies to binary files only: {} is a capture",
                path.display()
            );
        }
        return read_capture(path, opts.events_only, on_message);
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
    if let format @ (SourceFormat::Pcap | SourceFormat::Pcapng) = src.format() {
        if opts.lengths_from_type {
            anyhow::bail!(
                "--lengths-from-type applies to binary files only: {} is a pcap, whose MoldUDP64 packets give every message's length",
                path.display()
            );
        }
        // Datagrams go through the receive session, not the source's arrival-order walk.
        drop(src);
        return read_pcap(path, format, opts.events_only, on_message);
    }
    let mut report = ReadReport {
        format: Some(src.format()),
        ..ReadReport::default()
    };
    let mut event = MarketEvent::new(
        Timestamp(0),
        InstrumentId::NONE,
        EventBody::BrokenTrade {
            match_id: ticklane_core::MatchId(0),
        },
    );
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
                    SourceError::Mold { packet, .. } | SourceError::Gap { packet, .. } => {
                        ("capture", Some(*packet), "")
                    }
                    _ => ("capture", None, ""),
                };
                report.record(position, stage, format!("{e}{hint}"));
                continue;
            }
        };
        if opts.events_only {
            let flow = deliver_event(&item, &mut event, &mut report, &mut on_message);
            if flow.is_break() {
                break;
            }
            continue;
        }
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
            received: item.recv_ts_ns,
        };
        if on_message(&rec).is_break() {
            break;
        }
    }
    report.source = *src.stats();
    Ok(report)
}

/// One binary-file message decoded straight into `event` (`ReadOpts::events_only`): the same
/// counts and errors as decoding it to a message and normalizing that, without the message.
fn deliver_event(
    item: &ticklane_feeds::source::SourceItem<'_>,
    event: &mut MarketEvent,
    report: &mut ReadReport,
    on_message: &mut impl FnMut(&Record<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    use ticklane_feeds::itch::DecodeOrNormalizeError;
    let bytes = item.bytes;
    let has_event = match decode_normalize_into(bytes, event) {
        Ok(has) => has,
        Err(DecodeOrNormalizeError::Decode(e)) => {
            report.record(Some(item.position), "decode", e.to_string());
            return ControlFlow::Continue(());
        }
        Err(DecodeOrNormalizeError::Normalize(e)) => {
            report.record(Some(item.position), "normalize", e.to_string());
            false
        }
    };
    report.messages += 1;
    on_message(&event_record(
        bytes,
        has_event.then_some(&*event),
        item.recv_ts_ns,
    ))
}

/// The [`Record`] of a message decoded straight into its event (no message view): type,
/// locate and timestamp read from its bytes. Every ITCH 5.0 message (a decoded one is long
/// enough) starts with its type, stock locate (bytes 1..3) and timestamp (bytes 5..11).
fn event_record<'a>(
    bytes: &[u8],
    event: Option<&'a MarketEvent>,
    received: Option<u64>,
) -> Record<'a> {
    let field = |r: core::ops::Range<usize>| {
        bytes
            .get(r)
            .map_or(0, |b| b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
    };
    Record {
        ts: field(5..11),
        msg_type: bytes.first().copied().unwrap_or(0),
        instrument: field(1..3) as u32,
        itch: None,
        event,
        received,
    }
}

/// Whether `path` is a ticklane capture (by its magic).
pub(crate) fn is_capture(path: &Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 8];
    let mut f = open_input(path)?;
    let n = f
        .read(&mut head)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(n == 8 && head == ticklane_replay::format::FILE_MAGIC)
}

/// Reads a ticklane capture (`replay/FORMAT.md`). ITCH-binary captures hold one message per
/// record. MoldUDP64 captures hold packets, possibly from lines A and B and retransmission
/// answers: they go through the same [`MoldUdp64Session`] as a live feed, so the first copy of a
/// message wins, the others are counted as duplicates, and out-of-order packets are put back in
/// order. A capture a live receiver recorded carries its decisions as notes (`FROM`: the first
/// sequence it expected; `LOST`: a gap it gave up on, at the point it did; `REJN`: where its
/// relay restarted the numbering and it joined again): the replay follows
/// them and never times out on its own, so it delivers exactly what the live run delivered. In
/// a capture without notes (converted from a pcap), each MoldUDP64 session id gets its own
/// receive session, as when the pcap is read directly ([`SessionsById`]), and a gap that no
/// later packet fills within [`OFFLINE_GRACE_NS`] of receive time is reported lost. A lost gap reaches the command as a
/// market-wide [`EventBody::FeedGap`] event at its place in the stream. Corrupted blocks and a
/// torn tail are errors with their byte offsets; the reader resumes at the next good block.
/// What a corrupted block, blocks cut out, or a `DROP` note took out of a live recording is a
/// gap no note closes: the first packet past where the stream had got closes it (the hole's
/// messages are lost, reported, and nothing else; gaps open before it wait for their answers,
/// see [`CaptureHole`]). In an ITCH-binary capture, which has no sequence numbers, a corrupted
/// block, blocks cut out, or a block repeated or moved is a `FeedGap` at its place, so the books
/// are stale from there; its count is the records the trailer index lists for the hole (a
/// finished capture damaged later), or 0, unknown (no index, or a repeated or moved block).
fn read_capture(
    path: &Path,
    events_only: bool,
    mut on_message: impl FnMut(&Record<'_>) -> ControlFlow<()>,
) -> anyhow::Result<ReadReport> {
    use ticklane_replay::format::{FeedKind, Line};
    let mut reader = ticklane_replay::CaptureReader::open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let feed = reader.header().feed;
    if feed == FeedKind::Raw {
        anyhow::bail!(
            "{}: a raw capture carries no protocol ticklane can decode",
            path.display()
        );
    }
    let mut report = ReadReport {
        capture: true,
        ..ReadReport::default()
    };
    // A live recording (it starts with a FROM note) replays through one session that follows
    // the recording's notes, as the live receiver had one; any other capture through one
    // session per session id, as a pcap is read.
    let mut session: Option<MoldUdp64Session> = None;
    // The live receiver's reorder slot size, from a SLOT note (before FROM).
    let mut slot_bytes: Option<usize> = None;
    let mut by_id = SessionsById::default();
    let mut index = 0u64;
    let mut stopped = false;
    let mut last_ts = 0u64;
    // Receive time of the last record (what the session's end is stamped with).
    let mut last_received = 0u64;
    // Records the live receiver had are missing from the file here (a corrupt block skipped,
    // the recorder's DROP note): no LOST note will ever close the gap they leave (see
    // `CaptureHole`). Without this the reorder window filled and every later packet
    // overflowed it until the end of the file.
    let mut capture_hole = CaptureHole::None;
    // Records lost so far as the trailer index counts them (`None`: some loss it cannot
    // count), for the size of each hole in a capture of a binary file.
    let mut lost_so_far = Some(0u64);
    while let Some(item) = reader.next_record() {
        let rec = match item {
            Ok(r) => r,
            Err(e) => {
                use ticklane_replay::CaptureError as E;
                let offset = match &e {
                    E::TruncatedTail { offset, .. }
                    | E::CorruptBlock { offset, .. }
                    | E::MissingBlocks { offset, .. }
                    | E::BlockOutOfOrder { offset, .. }
                    | E::Io { offset, .. } => Some(*offset),
                    _ => None,
                };
                report.record(offset, "capture", e.to_string());
                // Records are missing here (a corrupt block, blocks cut out); or, in a capture
                // of a binary file (no sequence numbers to put things back in order), records
                // come again or out of place (a block repeated or moved: a MoldUDP64 session
                // counts repeated messages as duplicates, and puts moved ones back in order).
                let hole = match e {
                    E::CorruptBlock { .. } | E::MissingBlocks { .. } => true,
                    E::BlockOutOfOrder { .. } => feed == FeedKind::ItchBinary,
                    _ => false,
                };
                if hole {
                    let mut sink = CaptureSink {
                        report: &mut report,
                        on_message: &mut on_message,
                        position: index,
                        last_ts: &mut last_ts,
                        received: last_received,
                        stopped: false,
                        events_only,
                    };
                    capture_hole.open(session.as_mut(), last_received, &mut sink);
                    if feed == FeedKind::ItchBinary {
                        // No sequence numbers to say what was lost: the books are stale from
                        // here (a `FeedGap` at the record position). How many records the
                        // hole holds, the trailer index tells when the file has one (a
                        // finished capture damaged later): each record is one message;
                        // otherwise (or for a moved block) the count is unknown, 0.
                        let lost_now = reader.report().lost_records();
                        let count = match (lost_now, lost_so_far) {
                            (Some(now), Some(before)) => now.saturating_sub(before),
                            _ => 0,
                        };
                        lost_so_far = lost_now;
                        sink.report.source.gaps += 1;
                        sink.report.source.missing += count;
                        sink.gap_lost(index + 1, count);
                    }
                    stopped = sink.stopped;
                    if stopped {
                        break;
                    }
                }
                continue;
            }
        };
        index += 1;
        last_received = rec.ts_ns;
        let mut sink = CaptureSink {
            report: &mut report,
            on_message: &mut on_message,
            position: index,
            last_ts: &mut last_ts,
            received: rec.ts_ns,
            stopped: false,
            events_only,
        };
        if feed == FeedKind::ItchBinary {
            sink.report.source.packets += 1;
            sink.report.source.bytes += rec.bytes.len() as u64;
            sink.deliver(rec.bytes);
            if sink.stopped {
                break;
            }
            continue;
        }
        if rec.line == Line::Note {
            match (
                rec.bytes.get(..4),
                rec.bytes.get(4..12),
                rec.bytes.get(12..20),
            ) {
                (Some(b"FROM"), Some(first), _) if session.is_none() && by_id.is_empty() => {
                    let first = u64::from_be_bytes(first.try_into().unwrap_or_default());
                    // A receiver pinned to one session id (`--session`) adds it: packets of
                    // any other session were ignored live, and are in the replay.
                    let pinned = rec.bytes.get(12..22).and_then(|s| s.try_into().ok());
                    session = Some(MoldUdp64Session::new(replay_session(
                        (first > 0).then_some(first),
                        pinned,
                        true,
                        slot_bytes,
                    )));
                }
                (Some(b"SLOT"), _, _) if session.is_none() && by_id.is_empty() => {
                    // The live receiver's reorder slots (`--max-packet`): the replay's session
                    // holds what it held.
                    let bytes = rec
                        .bytes
                        .get(4..8)
                        .and_then(|b| <[u8; 4]>::try_from(b).ok())
                        .map(u32::from_be_bytes);
                    match bytes.and_then(|b| usize::try_from(b).ok()) {
                        Some(b) if crate::run_config::MAX_PACKET.contains(&b) => slot_bytes = Some(b),
                        _ => sink.report.record(
                            Some(index),
                            "capture",
                            format!(
                                "a SLOT note cut short ({} bytes) or out of range (64 to 65507): ignored",
                                rec.bytes.len()
                            ),
                        ),
                    }
                }
                (Some(b"SLOT"), _, _) => sink.report.record(
                    Some(index),
                    "capture",
                    "a SLOT note after the session started: ignored".to_string(),
                ),
                (Some(b"LOST"), Some(first), Some(count)) => {
                    let first = u64::from_be_bytes(first.try_into().unwrap_or_default());
                    let count = u64::from_be_bytes(count.try_into().unwrap_or_default());
                    match session.as_mut() {
                        Some(s) => s.give_up_before(first.saturating_add(count), &mut sink),
                        // Our recorder writes FROM first: its block is lost, or this is not
                        // a live recording. Said, not skipped silently.
                        None => sink.report.record(
                            Some(index),
                            "capture",
                            "a LOST note without a FROM note before it: ignored (the replay \
                             times gaps out itself)"
                                .to_string(),
                        ),
                    }
                }
                (Some(b"REJN"), Some(at), _) => {
                    // The relay the receiver was subscribed to restarted its live path here:
                    // the receiver's session joined again, and so does the replay's.
                    let at = u64::from_be_bytes(at.try_into().unwrap_or_default());
                    match session.as_mut() {
                        Some(s) => s.rejoin_at(at, &mut sink),
                        None => sink.report.record(
                            Some(index),
                            "capture",
                            format!("a REJN note (at {at}) without a FROM note before it: ignored"),
                        ),
                    }
                }
                (Some(b"DROP"), Some(count), _) => {
                    // The live recorder's ring was full: records are missing here.
                    capture_hole.open(session.as_mut(), rec.ts_ns, &mut sink);
                    let count = u64::from_be_bytes(count.try_into().unwrap_or_default());
                    sink.report.record(
                        Some(index),
                        "capture",
                        format!(
                            "the recorder dropped {count} records here (its ring was full): \
                             the capture lacks them, so this replay may differ from the live run"
                        ),
                    );
                }
                // A note we know, but not as it should be: said, not skipped silently.
                (Some(b"FROM"), Some(_), _) => sink.report.record(
                    Some(index),
                    "capture",
                    "a FROM note after the session started: ignored".to_string(),
                ),
                (Some(tag @ (b"FROM" | b"LOST" | b"DROP" | b"REJN")), _, _) => sink.report.record(
                    Some(index),
                    "capture",
                    format!(
                        "a {} note of {} bytes is cut short: ignored",
                        String::from_utf8_lossy(tag),
                        rec.bytes.len()
                    ),
                ),
                _ => {} // A note this reader does not know: skipped, as FORMAT.md says.
            }
            stopped = sink.stopped;
            if stopped {
                break;
            }
            continue;
        }
        sink.report.source.packets += 1;
        sink.report.source.bytes += rec.bytes.len() as u64;
        let line = match rec.line {
            Line::B => 1,
            Line::Retransmit => 3,
            _ => 0,
        };
        match session.as_mut() {
            Some(s) => {
                capture_hole.on_packet(s, rec.bytes, rec.ts_ns, &mut sink);
                if let Err(e) = s.on_packet(line, rec.bytes, rec.ts_ns, &mut sink) {
                    sink.report.record(Some(index), "capture", e.to_string());
                }
            }
            None => by_id.on_packet(line, rec.bytes, &mut sink),
        }
        stopped = sink.stopped;
        if stopped {
            break;
        }
    }
    let mut end = CaptureSink {
        report: &mut report,
        on_message: &mut on_message,
        position: index,
        last_ts: &mut last_ts,
        received: last_received,
        // A stopped replay delivers nothing more.
        stopped,
        events_only,
    };
    if let Some(s) = session.as_mut() {
        finish_session(s, &mut end);
    }
    by_id.finish(end);
    // Corrupted blocks and a torn tail came out of the reader as errors (with their offsets)
    // and were recorded above; this says what was recovered.
    report.recovery = Some(recovery_line(reader.report()));
    Ok(report)
}

/// What reading a capture recovered, in one line (`inspect`'s `capture` line, `export`'s
/// damage report): good and bad blocks, where the tail tore, records lost, the index.
pub(crate) fn recovery_line(rr: &ticklane_replay::RecoveryReport) -> String {
    format!(
        "{} good blocks, {} records; {} bad blocks ({} blocks missing, {} out of order); torn tail: {}; records lost: {}; index {}",
        rr.good_blocks,
        rr.records,
        rr.bad_blocks.len(),
        rr.missing_blocks,
        rr.out_of_order_blocks,
        rr.truncated_tail
            .as_ref()
            .map_or("none".to_string(), |(off, why)| format!("at offset {off} ({why:?})")),
        rr.lost_records()
            .map_or("unknown (no index to count them)".to_string(), |n| n.to_string()),
        match rr.index {
            ticklane_replay::IndexState::Present => "read from the trailer",
            // Without a trailer, a file cut at a block boundary (a recorder stopped without
            // finishing, a partial copy) reads as whole: "records lost" cannot count past it.
            ticklane_replay::IndexState::Rebuilt => {
                "rebuilt by scanning (no valid trailer: the recording was not finished or the \
                 file was cut; records after its last whole block, if any, cannot be counted)"
            }
        }
    )
}

/// The most MoldUDP64 session ids one capture's packets are followed under: a capture of a
/// few feeds (or of a session whose id changed) has a handful; each session holds a reorder
/// window of 16,384 slots and is polled on every packet.
const MAX_SESSIONS: usize = 64;

/// The receive sessions of a capture without notes (a pcap, or a capture recorded from one):
/// one per MoldUDP64 session id, in order of first appearance, so that a capture of several
/// feeds, or of a session whose id changed, loses nothing. Each waits
/// [`OFFLINE_GRACE_NS`] of receive time for a gap to fill.
///
/// A capture is read ahead where a live receiver cannot: a session id's first packets are held
/// for [`OFFLINE_GRACE_NS`] of capture time (at most [`JOIN_HOLD_PACKETS`]) before its session
/// starts, and the session joins at the lowest sequence number any line carried in that time,
/// not at whichever packet came first. Line A may have lost the session's first packet that
/// line B carries microseconds later: joined at A's second packet, B's copy fell before the
/// join and was counted a duplicate, and the system event and the directory were lost without
/// a word. A packet below the first one's number by more than the session's plausible jump
/// (`max_gap_messages`) is not a join point (a corrupt header). A capture that starts in the
/// middle of a session still joins there: what came before it is not a loss.
///
/// While a session id is held, every packet after its first waits in one queue in arrival
/// order, whichever session it belongs to, and leaves it in that order: records reach the
/// command in arrival order across sessions, with receive times that never go back, and a stop
/// (`--to`, Ctrl-C) cuts the stream where it would without the hold.
#[derive(Default)]
struct SessionsById {
    sessions: Vec<(Session, MoldUdp64Session)>,
    /// Session ids seen whose sessions have not started yet, in order of first appearance.
    joining: Vec<Joining>,
    /// Every packet since the oldest id of `joining` first appeared, in arrival order.
    held: std::collections::VecDeque<Held>,
}

/// A session id whose session has not started yet (see [`SessionsById`]).
struct Joining {
    id: Session,
    /// It starts once a packet is received at or after this capture time.
    until: u64,
    /// Its packets in the queue.
    held: usize,
}

/// A packet waiting in the queue, with what its delivery needs.
struct Held {
    id: Session,
    line: u8,
    payload: Vec<u8>,
    received: u64,
    position: u64,
    /// Its sequence number; `u64::MAX` for one that does not parse, or of a session already
    /// started (never a join point).
    sequence: u64,
}

/// Packets of one new session id held at most before its session starts (a busy feed's 50 ms).
const JOIN_HOLD_PACKETS: usize = 4096;
/// Packets the queue holds at most, all sessions together: past it the oldest held id starts.
const HOLD_QUEUE_PACKETS: usize = 4 * JOIN_HOLD_PACKETS;

impl SessionsById {
    /// One packet (its receive time is the sink's): queued if a session id is being held,
    /// else delivered (the sessions' timers run first, then the packet goes to the session of
    /// its id). A packet too short to carry an id, or a packet of a new id that is not
    /// MoldUDP64, is an error.
    fn on_packet<F: FnMut(&Record<'_>) -> ControlFlow<()>>(
        &mut self,
        line: u8,
        payload: &[u8],
        sink: &mut CaptureSink<'_, F>,
    ) {
        if sink.stopped {
            return;
        }
        let Some(id) = payload.get(..10).and_then(|b| <Session>::try_from(b).ok()) else {
            let e = ticklane_feeds::moldudp64::MoldError::TooShort { len: payload.len() };
            sink.report
                .record(Some(sink.position), "capture", e.to_string());
            return;
        };
        let started = self.sessions.iter().any(|(s, _)| *s == id);
        let joining = self.joining.iter().position(|j| j.id == id);
        // Parsed here only for a session not started (its join point); a started session's
        // packets are parsed by the session alone.
        let parsed = (!started).then(|| ticklane_feeds::moldudp64::MoldPacket::parse(payload));
        if !started && joining.is_none() {
            // Only a MoldUDP64 packet opens a session: other UDP traffic in the capture (DNS,
            // NTP, ...) is an error, not one more receive session per datagram (each holds a
            // 16,384-slot reorder window and is polled on every packet).
            if let Some(Err(e)) = &parsed {
                sink.report
                    .record(Some(sink.position), "capture", e.to_string());
                return;
            }
            // Junk that happens to parse as MoldUDP64 (a 20-byte datagram with a count of 0)
            // must not open sessions without end either: past the cap a new id is an error.
            if self.sessions.len() + self.joining.len() == MAX_SESSIONS {
                sink.report.record(
                    Some(sink.position),
                    "capture",
                    format!(
                        "a packet of a {}th MoldUDP64 session id ({}) in one capture: not \
                         read (at most {MAX_SESSIONS} sessions are followed)",
                        MAX_SESSIONS + 1,
                        String::from_utf8_lossy(&id).trim_end()
                    ),
                );
                return;
            }
            self.joining.push(Joining {
                id,
                until: sink.received.saturating_add(OFFLINE_GRACE_NS),
                held: 0,
            });
        }
        if self.joining.is_empty() {
            // Nothing held: straight through.
            self.deliver(id, line, payload, sink);
            return;
        }
        if let Some(j) = self.joining.iter_mut().find(|j| j.id == id) {
            j.held += 1;
        }
        self.held.push_back(Held {
            id,
            line,
            payload: payload.to_vec(),
            received: sink.received,
            position: sink.position,
            sequence: match parsed {
                Some(Ok(p)) => p.sequence(),
                _ => u64::MAX,
            },
        });
        self.release(sink.received, false, sink);
    }

    /// Runs every session's timers at the sink's receive time, then hands the packet to its
    /// (started) session.
    fn deliver<F: FnMut(&Record<'_>) -> ControlFlow<()>>(
        &mut self,
        id: Session,
        line: u8,
        payload: &[u8],
        sink: &mut CaptureSink<'_, F>,
    ) {
        for (_, session) in &mut self.sessions {
            if sink.stopped {
                return;
            }
            session.poll(sink.received, sink);
        }
        if sink.stopped {
            return;
        }
        if let Some((_, session)) = self.sessions.iter_mut().find(|(s, _)| *s == id) {
            if let Err(e) = session.on_packet(line, payload, sink.received, sink) {
                sink.report
                    .record(Some(sink.position), "capture", e.to_string());
            }
        }
    }

    /// Delivers queued packets from the front, in arrival order, at their own receive times:
    /// a packet of a started session as it comes; at a packet of a held id, that id's session
    /// starts if its time is up at `now` (or its share of the queue, or the queue, is full, or
    /// `all`: the end of the capture), else the queue waits.
    fn release<F: FnMut(&Record<'_>) -> ControlFlow<()>>(
        &mut self,
        now: u64,
        all: bool,
        sink: &mut CaptureSink<'_, F>,
    ) {
        let (received, position) = (sink.received, sink.position);
        while let Some(front) = self.held.front() {
            if sink.stopped {
                break;
            }
            if let Some(k) = self.joining.iter().position(|j| j.id == front.id) {
                let j = &self.joining[k];
                let due = all
                    || j.until <= now
                    || j.held >= JOIN_HOLD_PACKETS
                    || self.held.len() >= HOLD_QUEUE_PACKETS;
                if !due {
                    break;
                }
                let j = self.joining.remove(k);
                self.start(j.id, sink);
                continue;
            }
            let Some(p) = self.held.pop_front() else {
                break;
            };
            (sink.received, sink.position) = (p.received, p.position);
            self.deliver(p.id, p.line, &p.payload, sink);
        }
        self.held.retain(|_| !sink.stopped);
        (sink.received, sink.position) = (received, position);
    }

    /// Starts the session of `id`, whose first held packet is at the front of the queue: the
    /// held packet of the lowest plausible sequence number is delivered first, at the front
    /// packet's receive time, and leaves the queue; the session's other packets stay in it.
    fn start<F: FnMut(&Record<'_>) -> ControlFlow<()>>(
        &mut self,
        id: Session,
        sink: &mut CaptureSink<'_, F>,
    ) {
        // A session that announced its end is over once another starts (the next trading
        // day's): what it still misses is lost now and what it buffered behind that is
        // delivered, before any message of the new one. Its wait for a late answer ran into
        // the next day: a day-1 loss and the day-1 messages held behind it came after day 2's
        // start of messages, in day 2's books.
        // Its own packets received since the new id's first one (held in the queue behind
        // it: a line B copy, a re-request's answer) still come first, each in its time, as
        // they would without the new session: it is finished after them.
        for (sid, s) in &mut self.sessions {
            if sink.stopped {
                return;
            }
            if !s.end_announced() || s.ended() {
                continue;
            }
            let mut i = 0;
            while i < self.held.len() && !s.ended() {
                if self.held[i].id != *sid {
                    i += 1;
                    continue;
                }
                let Some(p) = self.held.remove(i) else {
                    break;
                };
                (sink.received, sink.position) = (p.received, p.position);
                s.poll(p.received, sink);
                if sink.stopped {
                    return;
                }
                if let Err(e) = s.on_packet(p.line, &p.payload, p.received, sink) {
                    sink.report
                        .record(Some(sink.position), "capture", e.to_string());
                }
                if sink.stopped {
                    return;
                }
            }
            if !s.ended() {
                s.finish(sink);
            }
        }
        let config = replay_session(None, Some(id), false, None);
        let reach = config.max_gap_messages;
        self.sessions.push((id, MoldUdp64Session::new(config)));
        let Some(s0) = self.held.front().map(|p| p.sequence) else {
            return;
        };
        let first = self
            .held
            .iter()
            .enumerate()
            .filter(|(_, p)| p.id == id && p.sequence < s0 && s0 - p.sequence <= reach)
            .min_by_key(|(_, p)| p.sequence)
            .map_or(0, |(k, _)| k);
        let at = self.held.front().map_or(0, |p| p.received);
        if let Some(p) = self.held.remove(first) {
            sink.received = at;
            sink.position = p.position;
            self.deliver(id, p.line, &p.payload, sink);
        }
    }

    fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.joining.is_empty()
    }

    /// Delivers what is still held (starting the sessions of held ids), then ends every
    /// session ([`finish_session`]), in order of first appearance.
    fn finish<F: FnMut(&Record<'_>) -> ControlFlow<()>>(&mut self, mut sink: CaptureSink<'_, F>) {
        self.release(u64::MAX, true, &mut sink);
        self.joining.clear();
        self.held.clear();
        for (_, session) in &mut self.sessions {
            finish_session(session, &mut sink);
        }
    }
}

/// Ends a replayed MoldUDP64 session (unless the command stopped it: what is still buffered
/// or missing then stays undelivered, and `sink` delivers nothing) and adds its counters to
/// the sink's report. A stop during the finish stays in `sink` (for the next session).
fn finish_session<F: FnMut(&Record<'_>) -> ControlFlow<()>>(
    s: &mut MoldUdp64Session,
    sink: &mut CaptureSink<'_, F>,
) {
    if !sink.stopped {
        s.finish(sink);
    }
    let report = &mut *sink.report;
    let st = s.stats();
    report.source.duplicates += st.duplicate_messages;
    report.source.gaps += st.lost_gaps;
    report.source.missing += st.lost_messages;
    report.source.heartbeats += st.heartbeats;
    report.source.end_of_session += u64::from(st.end_of_session);
    if st.rejoins > 0 {
        report.record(
            None,
            "capture",
            format!(
                "the MoldUDP64 session was joined again {} time(s): the packet it had joined on \
                 had a corrupt header (the packets after it disagreed with it, or a REJN note \
                 says the receiver's relay restarted its numbering); where the numbering \
                 restarted, the books went stale",
                st.rejoins
            ),
        );
    }
    if st.foreign_session > 0 {
        report.record(
            None,
            "capture",
            format!(
                "{} packets of another MoldUDP64 session than the one replayed were ignored",
                st.foreign_session
            ),
        );
    }
    if st.oversize_packets > 0 && st.lost_messages > 0 {
        report.record(
            None,
            "capture",
            format!(
                "{} packets arrived ahead of their turn larger than the reorder slots ({} \
                 bytes) and could not be held: what no other copy filled is in the loss \
                 reported",
                st.oversize_packets,
                s.config().max_packet
            ),
        );
    }
}

/// Reads a pcap or pcapng of MoldUDP64 like a capture without notes: every UDP datagram goes
/// through the receive session ([`MoldUdp64Session`], the live feed's), so the first copy of a
/// message wins whichever line carried it, later copies are counted as duplicates, packets
/// that arrive out of order are put back in order, and a gap no later packet fills within
/// [`OFFLINE_GRACE_NS`] of capture time reaches the command as an [`EventBody::FeedGap`]
/// event. Lines: the first destination address seen is line A, the second line B, any other
/// counted as a third line (the session's per-line counters). Each MoldUDP64 session id gets
/// its own receive session (a capture of several feeds, or of a session whose id changed,
/// loses nothing); their messages reach the command in arrival order (what the sessions still
/// hold at the end comes out session by session). A corrupt record or packet is an error with
/// its packet index; a capture cut mid-record ends the read with an error.
fn read_pcap(
    path: &Path,
    format: SourceFormat,
    events_only: bool,
    mut on_message: impl FnMut(&Record<'_>) -> ControlFlow<()>,
) -> anyhow::Result<ReadReport> {
    use ticklane_feeds::pcap::PcapCursor;
    let map = ticklane_feeds::binfile::MappedFile::open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let data = map.as_bytes();
    let mut cursor =
        PcapCursor::new(data).with_context(|| format!("reading {}", path.display()))?;
    let mut report = ReadReport {
        format: Some(format),
        ..ReadReport::default()
    };
    let mut sessions = SessionsById::default();
    let mut lines: [Option<std::net::SocketAddrV4>; 2] = [None; 2];
    let mut last_ts = 0u64;
    let mut last_received = 0u64;
    let mut position = 0u64;
    let mut stopped = false;
    while let Some(item) = cursor.next_udp(data) {
        position = cursor.packet_index().saturating_sub(1);
        let d = match item {
            Ok(d) => d,
            Err(e) => {
                if e.is_fatal() {
                    // The record that could not be read was not counted: it is the next index.
                    report.record(Some(cursor.packet_index()), "capture", e.to_string());
                    break;
                }
                report.record(Some(position), "capture", e.to_string());
                continue;
            }
        };
        report.source.packets += 1;
        report.source.bytes += d.payload.len() as u64;
        let line = match lines {
            [Some(a), _] if a == d.dst => 0,
            [_, Some(b)] if b == d.dst => 1,
            [None, _] => {
                lines[0] = Some(d.dst);
                0
            }
            [_, None] => {
                lines[1] = Some(d.dst);
                1
            }
            _ => 2,
        };
        last_received = d.ts_ns;
        let mut sink = CaptureSink {
            report: &mut report,
            on_message: &mut on_message,
            position,
            last_ts: &mut last_ts,
            received: d.ts_ns,
            stopped: false,
            events_only,
        };
        sessions.on_packet(line, d.payload, &mut sink);
        stopped = sink.stopped;
        if stopped {
            break;
        }
    }
    let cs = cursor.stats();
    report.source.non_udp_skipped = cs.non_ipv4 + cs.non_udp;
    report.source.fragments_skipped = cs.fragments;
    if cs.fragments > 0 {
        // A fragmented datagram may be a MoldUDP64 packet whose messages are not read: said
        // and counted as an error, as `record` does (no later packet need reveal the loss).
        report.record(
            None,
            "capture",
            format!(
                "{} IPv4 fragments were not reassembled: their datagrams were not read",
                cs.fragments
            ),
        );
    }
    if cs.unsupported_link > 0 {
        // Frames whose link layer this reader cannot parse may carry the feed: nothing can
        // say they do not, so they are an error, not a skip (as fragments are).
        report.record(
            None,
            "capture",
            format!(
                "{} frames of a link type this reader does not parse were not read (it reads \
                 Ethernet, Linux cooked SLL/SLL2, raw IPv4 and BSD loopback): their datagrams, \
                 if any, are missing",
                cs.unsupported_link
            ),
        );
    }
    if cs.untimed > 0 {
        tracing::warn!(
            "{} pcapng packets carried no timestamp (Simple Packet Blocks): each was given the \
             previous packet's, for the session's gap timer",
            cs.untimed
        );
    }
    sessions.finish(CaptureSink {
        report: &mut report,
        on_message: &mut on_message,
        position,
        last_ts: &mut last_ts,
        received: last_received,
        // A stopped replay delivers nothing more.
        stopped,
        events_only,
    });
    Ok(report)
}

/// How long (receive time) after a hole in a live recording the gaps that were open before it
/// wait for an answer later in the file (see [`CaptureHole`]): longer than the live receiver's
/// whole recovery with its default settings (2 ms of grace, then 4 requests 50 ms apart).
pub const HOLE_WAIT_NS: u64 = 250_000_000;

/// Records missing from a live recording (a corrupt block skipped, a `DROP` note): the
/// receiver had them, so no `LOST` note will close what they leave open. The hole's own
/// messages are the range from where the stream had got before it (`mark`, one past the
/// highest sequence number seen) to the first packet past that point; they are lost. Gaps that
/// were already open before the hole may have been answered inside it, or may be answered (or
/// given up with a `LOST` note) later in the file: they wait for that, until
/// [`HOLE_WAIT_NS`] of receive time after the hole or until the reorder window is nearly full
/// (so that a gap whose answer the hole took cannot hold back the rest of the file), and are
/// lost then. (Giving up everything below the first packet past the hole, as a first version
/// did, lost those later answers too: a replay lost messages the live run had.)
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum CaptureHole {
    None,
    /// Records went missing; no packet has said since where the stream is.
    Open {
        /// Where the stream had got when the hole opened (`None`: not started).
        mark: Option<u64>,
        /// Receive time of the last record before the hole.
        at: u64,
    },
    /// The hole's own messages are `[mark, upto)`; gaps below `mark` are still open.
    Closing {
        mark: u64,
        upto: u64,
        deadline: u64,
    },
}

impl CaptureHole {
    /// Records went missing here (receive time `at`, that of the last record read).
    fn open<F: FnMut(&Record<'_>) -> ControlFlow<()>>(
        &mut self,
        session: Option<&mut MoldUdp64Session>,
        at: u64,
        sink: &mut CaptureSink<'_, F>,
    ) {
        let Some(s) = session else {
            *self = Self::Open { mark: None, at };
            return;
        };
        // A new hole before the last one was settled: settle the last one now (the new hole
        // may hold the answers it waits for).
        if let Self::Closing { upto, .. } = *self {
            s.give_up_before(upto, sink);
        }
        *self = Self::Open {
            mark: s.seen_end(),
            at,
        };
    }

    /// Before a packet (`bytes`, received at `now`) goes to the session.
    fn on_packet<F: FnMut(&Record<'_>) -> ControlFlow<()>>(
        &mut self,
        s: &mut MoldUdp64Session,
        bytes: &[u8],
        now: u64,
        sink: &mut CaptureSink<'_, F>,
    ) {
        if let Self::Open { mark, at } = *self {
            let seq = ticklane_feeds::moldudp64::MoldPacket::parse(bytes)
                .ok()
                .map(|p| p.sequence());
            match (seq, s.expected()) {
                (Some(seq), Some(expected)) => {
                    let mark = mark.unwrap_or(expected).max(expected);
                    // An older packet (a late copy, an answer to an earlier gap): wait for one
                    // that says where the stream is.
                    if seq >= mark {
                        *self = Self::Closing {
                            mark,
                            upto: seq,
                            deadline: at.saturating_add(HOLE_WAIT_NS),
                        };
                    }
                }
                // The session starts with this packet: nothing was lost before it.
                (Some(_), None) => *self = Self::None,
                // Unreadable: wait for a packet that says where the stream is.
                (None, _) => {}
            }
        }
        if let Self::Closing {
            mark,
            upto,
            deadline,
        } = *self
        {
            let settled = s.expected().is_none_or(|e| e >= mark);
            let window_nearly_full = s.buffered_packets() + 1 >= s.config().reorder_window.max(1);
            if settled || now >= deadline || window_nearly_full {
                s.give_up_before(upto, sink);
                *self = Self::None;
            }
        }
    }
}

/// How long (receive time) a capture without notes waits for a gap to be filled by a later
/// packet (the other line's copy, a retransmission) before reporting it lost.
pub const OFFLINE_GRACE_NS: u64 = 50_000_000;

/// The reorder slot size of a capture without notes and of a pcap, bytes: the largest jumbo
/// frame commonly configured (9,216 bytes, more than its UDP payload), so that a jumbo feed's
/// packets are held like any other; the slots are allocated zeroed and touched only as
/// packets are held. A larger packet that arrives ahead of its turn is reported.
pub const OFFLINE_MAX_PACKET: usize = 9_216;

/// The session a capture is replayed through: a live recording's decisions come from its notes
/// (no timeouts of its own); otherwise gaps are given [`OFFLINE_GRACE_NS`] of receive time.
fn replay_session(
    first_sequence: Option<u64>,
    session: Option<Session>,
    follow_notes: bool,
    slot_bytes: Option<usize>,
) -> SessionConfig {
    // A live recording's replay holds what its receiver held (its SLOT note, or the
    // receiver's default); a pcap or a capture without notes says nothing of the feed's packet
    // size: slots for a jumbo frame's payload (a packet exported from a jumbo feed's recording
    // was left to a gap no one could fill).
    let default_slots = if follow_notes {
        SessionConfig::default().max_packet
    } else {
        OFFLINE_MAX_PACKET
    };
    let live = SessionConfig {
        max_packet: slot_bytes.unwrap_or(default_slots),
        ..SessionConfig::default()
    };
    SessionConfig {
        first_sequence,
        session,
        recovery: false,
        servers: 0,
        line_grace_ns: if follow_notes {
            u64::MAX / 4
        } else {
            OFFLINE_GRACE_NS
        },
        // The live receiver's window and slot size, so that overflow happens where it did.
        reorder_window: if follow_notes {
            live.reorder_window
        } else {
            16_384
        },
        // `max_gap_messages` too is the live receiver's: a gap it declared lost at once (its
        // late copies then count as duplicates) is lost at once in the replay as well.
        ..live
    }
}

/// Hands a capture's in-order messages (and lost gaps) to the command.
struct CaptureSink<'a, F: FnMut(&Record<'_>) -> ControlFlow<()>> {
    report: &'a mut ReadReport,
    on_message: &'a mut F,
    position: u64,
    /// Event time of the last event (a lost gap is stamped with it).
    last_ts: &'a mut u64,
    /// Receive time of the packet (or note) being processed: what its deliveries are stamped
    /// with ([`Record::received`]).
    received: u64,
    stopped: bool,
    /// Decode each message straight into its event ([`ReadOpts::events_only`]): no message view
    /// is handed over ([`Record::itch`] is `None`).
    events_only: bool,
}

impl<F: FnMut(&Record<'_>) -> ControlFlow<()>> CaptureSink<'_, F> {
    fn deliver(&mut self, body: &[u8]) {
        if self.stopped {
            return;
        }
        if self.events_only {
            self.deliver_event(body);
            return;
        }
        let msg = match decode(body) {
            Ok(m) => m,
            Err(e) => {
                self.report
                    .record(Some(self.position), "decode", e.to_string());
                return;
            }
        };
        self.report.messages += 1;
        let ev = match normalize(&msg) {
            Ok(ev) => ev,
            Err(e) => {
                self.report
                    .record(Some(self.position), "normalize", e.to_string());
                None
            }
        };
        if let Some(e) = &ev {
            *self.last_ts = e.ts.0;
        }
        let flow = (self.on_message)(&Record {
            ts: msg.timestamp(),
            msg_type: msg.msg_type(),
            instrument: u32::from(msg.stock_locate()),
            itch: Some(&msg),
            event: ev.as_ref(),
            received: Some(self.received),
        });
        self.stopped = flow.is_break();
    }

    /// [`CaptureSink::deliver`] decoding straight into the event: the same counts, errors and
    /// events.
    fn deliver_event(&mut self, body: &[u8]) {
        use ticklane_feeds::itch::DecodeOrNormalizeError;
        let mut ev = MarketEvent::new(
            Timestamp(0),
            InstrumentId::NONE,
            EventBody::BrokenTrade {
                match_id: ticklane_core::MatchId(0),
            },
        );
        let has_event = match decode_normalize_into(body, &mut ev) {
            Ok(has) => has,
            Err(DecodeOrNormalizeError::Decode(e)) => {
                self.report
                    .record(Some(self.position), "decode", e.to_string());
                return;
            }
            Err(DecodeOrNormalizeError::Normalize(e)) => {
                self.report
                    .record(Some(self.position), "normalize", e.to_string());
                false
            }
        };
        self.report.messages += 1;
        if has_event {
            *self.last_ts = ev.ts.0;
        }
        let flow = (self.on_message)(&event_record(
            body,
            has_event.then_some(&ev),
            Some(self.received),
        ));
        self.stopped = flow.is_break();
    }
}

impl<F: FnMut(&Record<'_>) -> ControlFlow<()>> SessionSink for CaptureSink<'_, F> {
    fn message(&mut self, _seq: u64, _line: u8, bytes: &[u8]) {
        self.deliver(bytes);
    }

    fn request(&mut self, _server: usize, _request: ticklane_feeds::moldudp64::MoldRequest) {
        // Replays never re-request (recovery is off).
    }

    fn gap_lost(&mut self, first: u64, count: u64) {
        if count > 0 {
            self.report.lost_ranges_total += 1;
            if self.report.lost_ranges.len() < LOST_RANGES_KEPT {
                self.report.lost_ranges.push((first, count));
            }
        }
        self.feed_gap(first, count);
    }

    /// The session was joined again below what was delivered (a corrupt first header): what
    /// the books took from it may come again and what lay between is unknown, so they go
    /// stale, as after a loss of unknown size (`FeedGap` with count 0).
    fn rejoined(&mut self, next: u64) {
        self.feed_gap(next, 0);
    }

    fn end_of_session(&mut self, _next: u64) {}
}

impl<F: FnMut(&Record<'_>) -> ControlFlow<()>> CaptureSink<'_, F> {
    /// A market-wide [`EventBody::FeedGap`] at this place in the stream.
    fn feed_gap(&mut self, first: u64, count: u64) {
        if self.stopped {
            return;
        }
        let ev = MarketEvent::new(
            Timestamp(*self.last_ts),
            InstrumentId::NONE,
            EventBody::FeedGap {
                first_sequence: first,
                count,
            },
        );
        let flow = (self.on_message)(&Record {
            ts: *self.last_ts,
            msg_type: b'!',
            instrument: 0,
            itch: None,
            event: Some(&ev),
            received: Some(self.received),
        });
        self.stopped = flow.is_break();
    }
}

/// For `--orderbook`: `path` must be a LOBSTER message file (an ITCH file given with it failed
/// on its first line as a malformed CSV row, a missing file without its name).
pub fn require_lobster(path: &Path) -> anyhow::Result<()> {
    if is_lobster(path)? {
        Ok(())
    } else {
        anyhow::bail!(
            "--orderbook applies to LOBSTER message files only: {} is not one",
            path.display()
        )
    }
}

/// Opens an input file to look inside, refusing one that cannot be read twice: every command
/// opens its input more than once (to tell its format by its first bytes, then to read it;
/// `bbo` reads it twice), and a FIFO or a socket cannot be (the first look took the bytes it
/// read and closed the pipe, so its writer died and the next open waited for a writer for
/// ever). A directory is refused when read, naming it.
pub(crate) fn open_input(path: &Path) -> anyhow::Result<std::fs::File> {
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        if t.is_fifo() || t.is_socket() || t.is_char_device() {
            anyhow::bail!(
                "{} is not a regular file (a pipe, FIFO, socket or device): ticklane reads its \
                 input more than once (its format first); save it to a file first",
                path.display()
            );
        }
    }
    std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))
}

/// Whether `path` holds a LOBSTER message file (by content).
pub(crate) fn is_lobster(path: &Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let mut f = open_input(path)?;
    let n = f
        .read(&mut head)
        .with_context(|| format!("reading {}", path.display()))?;
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
                received: None,
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
            received: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A MoldUDP64 heartbeat of session `ABCDEFGHIJ` announcing sequence number `next`.
    fn heartbeat(next: u64) -> Vec<u8> {
        let mut p = b"ABCDEFGHIJ".to_vec();
        p.extend_from_slice(&next.to_be_bytes());
        p.extend_from_slice(&0u16.to_be_bytes());
        p
    }

    /// A DNS query with transaction id `id`: other UDP traffic of the network the capture was
    /// taken on (RELIABILITY.md: "a capture of a real network holds other traffic").
    fn dns_query(id: u16) -> Vec<u8> {
        let mut p = id.to_be_bytes().to_vec();
        p.extend_from_slice(&[0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
        p.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
        p
    }

    /// Receive sessions held after `cycles` of (one heartbeat of the feed, one DNS query).
    fn sessions_after(cycles: u16) -> usize {
        let mut report = ReadReport::default();
        let mut on_message = |_: &Record<'_>| ControlFlow::Continue(());
        let mut last_ts = 0u64;
        let mut by_id = SessionsById::default();
        for c in 0..cycles {
            let received = 1_000_000 * u64::from(c);
            for (line, payload) in [(0u8, heartbeat(1)), (2u8, dns_query(c))] {
                let mut sink = CaptureSink {
                    report: &mut report,
                    on_message: &mut on_message,
                    position: 0,
                    last_ts: &mut last_ts,
                    received,
                    stopped: false,
                    events_only: true,
                };
                by_id.on_packet(line, &payload, &mut sink);
            }
        }
        by_id.sessions.len() + by_id.joining.len()
    }

    /// A packet of session `id` carrying one message (a system event) stamped `ts_ns`.
    fn one_message_packet(id: &[u8; 10], seq: u64, ts_ns: u64) -> Vec<u8> {
        let mut m = vec![b'S', 0, 0, 0, 0];
        m.extend_from_slice(&ts_ns.to_be_bytes()[2..]);
        m.push(b'O');
        let mut p = id.to_vec();
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        p.extend_from_slice(&(m.len() as u16).to_be_bytes());
        p.extend_from_slice(&m);
        p
    }

    /// Two feeds A and B, packets alternating 1 ms apart, each message stamped with its
    /// packet's capture time; the read stopped at the first message past `to` (as `replay
    /// --to`). Returns (event time, receive time) of every message delivered.
    fn two_feeds_delivered(packets: u64, to: u64) -> Vec<(u64, u64)> {
        let mut report = ReadReport::default();
        let mut got = Vec::new();
        let mut on_message = |r: &Record<'_>| {
            if r.ts > to {
                return ControlFlow::Break(());
            }
            got.push((r.ts, r.received.unwrap_or(0)));
            ControlFlow::Continue(())
        };
        let mut last_ts = 0u64;
        let mut by_id = SessionsById::default();
        let mut stopped = false;
        let mut last_received = 0;
        for i in 0..packets {
            let t = 1_000_000 * i;
            let id = if i % 2 == 0 {
                b"AAAAAAAAAA"
            } else {
                b"BBBBBBBBBB"
            };
            let p = one_message_packet(id, i / 2 + 1, t);
            let mut sink = CaptureSink {
                report: &mut report,
                on_message: &mut on_message,
                position: i,
                last_ts: &mut last_ts,
                received: t,
                stopped: false,
                events_only: true,
            };
            by_id.on_packet(0, &p, &mut sink);
            last_received = t;
            stopped = sink.stopped;
            if stopped {
                break;
            }
        }
        by_id.finish(CaptureSink {
            report: &mut report,
            on_message: &mut on_message,
            position: packets,
            last_ts: &mut last_ts,
            received: last_received,
            stopped,
            events_only: true,
        });
        got
    }

    /// A stop (`--to`) while a new session id is held loses nothing of the other session
    /// that arrived before the stop: the held session's first 50 ms were delivered as one
    /// block, its first message past T ended the read, and B's earlier messages never came.
    #[test]
    fn a_stop_while_a_session_is_held_does_not_lose_the_other_sessions_messages() {
        let to = 30_000_000;
        let got = two_feeds_delivered(200, to);
        let b_messages = got
            .iter()
            .filter(|&&(ts, _)| (ts / 1_000_000) % 2 == 1)
            .count();
        assert_eq!(
            (got.len(), b_messages),
            (31, 15),
            "(messages delivered with event time <= 30 ms, of them session B's)"
        );
    }

    /// Across sessions, records reach the command in arrival order, receive times never going
    /// back (the hold sent each session's first 50 ms as one block: 0, 2, 4, ... ms).
    #[test]
    fn two_sessions_deliver_their_messages_in_arrival_order() {
        let got = two_feeds_delivered(200, u64::MAX);
        assert_eq!(got.len(), 200);
        let received: Vec<u64> = got.iter().map(|&(_, r)| r).collect();
        assert!(
            received.windows(2).all(|w| w[0] < w[1]),
            "receive times (ms) of the first records delivered: {:?}",
            received
                .iter()
                .take(12)
                .map(|r| r / 1_000_000)
                .collect::<Vec<_>>()
        );
    }

    /// Datagrams that parse as MoldUDP64 (20-byte heartbeats) under ever new session ids, as
    /// junk traffic might: followed up to the cap, every packet past it an error, counted.
    #[test]
    fn session_ids_past_the_cap_are_errors_not_more_sessions() {
        let mut report = ReadReport::default();
        let mut on_message = |_: &Record<'_>| ControlFlow::Continue(());
        let mut last_ts = 0u64;
        let mut by_id = SessionsById::default();
        let extra = 5;
        for c in 0..(MAX_SESSIONS + extra) as u64 {
            let mut p = format!("S{c:09}").into_bytes();
            p.extend_from_slice(&1u64.to_be_bytes());
            p.extend_from_slice(&0u16.to_be_bytes());
            let mut sink = CaptureSink {
                report: &mut report,
                on_message: &mut on_message,
                position: c,
                last_ts: &mut last_ts,
                received: 1_000 * c,
                stopped: false,
                events_only: true,
            };
            by_id.on_packet(0, &p, &mut sink);
        }
        assert_eq!(by_id.sessions.len() + by_id.joining.len(), MAX_SESSIONS);
        assert_eq!(report.errors, extra as u64, "{:?}", report.first_errors);
        assert!(
            report.first_errors[0].error.contains("S000000064"),
            "{:?}",
            report.first_errors[0]
        );
    }

    /// One MoldUDP64 feed in the capture (its live set: one receive session), plus other UDP
    /// traffic: the sessions held must not grow with the number of packets read. Each one is
    /// a `MoldUdp64Session` with a 16,384-slot reorder window (a 151 MB arena of 9,216-byte
    /// slots, its slot table and free list written at once) and is polled on every packet.
    #[test]
    fn other_udp_traffic_does_not_add_a_receive_session_per_datagram() {
        let (n, ten_n) = (sessions_after(10), sessions_after(100));
        assert_eq!(
            (n, ten_n),
            (1, 1),
            "receive sessions after 10 and 100 cycles of (feed heartbeat, DNS query)"
        );
    }
}
