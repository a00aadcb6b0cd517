//! `ticklane inspect`: what is in a file — counts by message type, instruments, time range,
//! size, decode rate, and every error with its position.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::ExitCode;

use ticklane_core::{EventBody, MarketEvent, Timestamp};

use super::feed::{self, ReadError};
use super::stopwatch::Stopwatch;
use crate::ReadOpts;

#[derive(Debug, serde::Serialize)]
struct Instrument {
    locate: u32,
    symbol: Option<String>,
    messages: u64,
}

/// A capture's header.
#[derive(Debug, serde::Serialize)]
struct CaptureInfo {
    feed: String,
    session: String,
    creator: String,
    /// Creation time, ns since the Unix epoch (0: unknown).
    created_ns: u64,
    /// The same in UTC (`YYYY-MM-DDTHH:MM:SS.fffZ`), if known.
    created: Option<String>,
    flags: u32,
}

#[derive(Debug, serde::Serialize)]
struct Summary {
    file: String,
    format: String,
    /// Captures only: the header.
    #[serde(skip_serializing_if = "Option::is_none")]
    capture: Option<CaptureInfo>,
    /// Captures only: what the reader recovered.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery: Option<String>,
    bytes: u64,
    messages: u64,
    by_type: BTreeMap<String, u64>,
    instruments: usize,
    instrument_list: Vec<Instrument>,
    first_timestamp_ns: Option<u64>,
    last_timestamp_ns: Option<u64>,
    first_timestamp: Option<String>,
    last_timestamp: Option<String>,
    errors: u64,
    error_list: Vec<ReadError>,
    packets: u64,
    duplicates: u64,
    gaps: u64,
    missing: u64,
    /// The ranges lost for good, `[first, end)` (the first 1000).
    lost_ranges: Vec<[u64; 2]>,
    /// How many ranges were lost for good, listed or not (text output's "N more ranges").
    #[serde(skip)]
    lost_ranges_total: u64,
    heartbeats: u64,
    end_of_session: u64,
    /// Capture frames that are not IPv4 / UDP (other traffic on the wire: ARP, IPv6, TCP, ...).
    non_udp_skipped: u64,
    /// IPv4 fragments, not reassembled (also an error: their datagrams were not read).
    fragments_skipped: u64,
    seconds: f64,
    messages_per_sec: f64,
    megabytes_per_sec: f64,
}

/// Runs the command. Exit code 1 when the file has errors.
pub fn run(path: &Path, json: bool, read: ReadOpts) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut by_type = [0u64; 256];
    // Tallies by instrument: ITCH locates are 16-bit, so a dense table (no hashing or tree walk
    // per message); anything larger (never seen in ITCH) goes to a map.
    let mut dense: Vec<(Option<String>, u64)> = vec![(None, 0); 1 << 16];
    let mut sparse: BTreeMap<u32, (Option<String>, u64)> = BTreeMap::new();
    let mut first_ts = None;
    let mut last_ts = None;
    let clock = Stopwatch::start();
    let report = feed::read(path, &read, |rec| {
        if let Some(MarketEvent {
            body: EventBody::FeedGap { .. },
            ..
        }) = rec.event
        {
            // A loss the reader reports at its place (counted in `gaps` and `missing`), not a
            // message of the file: `by type` sums to `messages`.
            return ControlFlow::Continue(());
        }
        let ts = rec.ts;
        first_ts.get_or_insert(ts);
        last_ts = Some(ts);
        if rec.instrument != 0 {
            let entry = match dense.get_mut(rec.instrument as usize) {
                Some(e) => e,
                None => sparse.entry(rec.instrument).or_default(),
            };
            if let Some(MarketEvent {
                body: EventBody::InstrumentDirectory(info),
                ..
            }) = rec.event
            {
                entry.0 = Some(info.symbol.as_str().to_string());
                if rec.itch.is_none() {
                    // A directory announced by the reader (LOBSTER), not a message of the file.
                    return ControlFlow::Continue(());
                }
            }
            entry.1 += 1;
        }
        by_type[usize::from(rec.msg_type)] += 1;
        ControlFlow::Continue(())
    })?;
    let secs = clock.elapsed().as_secs_f64();
    let per_locate: BTreeMap<u32, (Option<String>, u64)> = dense
        .into_iter()
        .enumerate()
        .filter(|(_, (sym, n))| sym.is_some() || *n > 0)
        .map(|(i, e)| (i as u32, e))
        .chain(sparse)
        .collect();
    let summary = Summary {
        file: path.display().to_string(),
        format: match (report.format, report.capture) {
            (Some(ticklane_feeds::source::SourceFormat::BinaryGzip), _) => {
                "binary (gzip)".to_string()
            }
            (Some(f), _) => format!("{f:?}").to_lowercase(),
            (None, true) => "capture".to_string(),
            (None, false) => "lobster".to_string(),
        },
        capture: if report.capture {
            capture_info(path)
        } else {
            None
        },
        recovery: report.recovery.clone(),
        bytes,
        messages: report.messages,
        by_type: by_type
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(t, &n)| ((t as u8 as char).to_string(), n))
            .collect(),
        instruments: per_locate.len(),
        instrument_list: per_locate
            .iter()
            .map(|(&locate, (symbol, messages))| Instrument {
                locate,
                symbol: symbol.clone(),
                messages: *messages,
            })
            .collect(),
        first_timestamp_ns: first_ts,
        last_timestamp_ns: last_ts,
        first_timestamp: first_ts.map(|t| Timestamp(t).to_string()),
        last_timestamp: last_ts.map(|t| Timestamp(t).to_string()),
        errors: report.errors,
        error_list: report.first_errors.clone(),
        packets: report.source.packets,
        duplicates: report.source.duplicates,
        gaps: report.source.gaps,
        missing: report.source.missing,
        lost_ranges: report
            .lost_ranges
            .iter()
            .map(|&(first, count)| [first, first + count])
            .collect(),
        lost_ranges_total: report.lost_ranges_total,
        heartbeats: report.source.heartbeats,
        end_of_session: report.source.end_of_session,
        non_udp_skipped: report.source.non_udp_skipped,
        fragments_skipped: report.source.fragments_skipped,
        seconds: secs,
        messages_per_sec: if secs > 0.0 {
            report.messages as f64 / secs
        } else {
            0.0
        },
        megabytes_per_sec: if secs > 0.0 {
            bytes as f64 / secs / 1e6
        } else {
            0.0
        },
    };
    if json {
        outln!("{}", serde_json::to_string(&summary)?)?;
    } else {
        print_text(&summary)?;
    }
    // Exit 1 when the input had errors or lost messages for good (as `replay` says it).
    Ok(if summary.errors > 0 || summary.gaps > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_text(s: &Summary) -> std::io::Result<()> {
    outln!("file        {} ({}, {} bytes)", s.file, s.format, s.bytes)?;
    outln!("messages    {}", s.messages)?;
    let types: Vec<String> = s.by_type.iter().map(|(t, n)| format!("{t}:{n}")).collect();
    outln!("by type     {}", types.join(" "))?;
    let names: Vec<String> = s
        .instrument_list
        .iter()
        .take(12)
        .map(|i| match &i.symbol {
            Some(sym) => format!("{sym}({})", i.locate),
            None => format!("#{}", i.locate),
        })
        .collect();
    let more = if s.instruments > 12 { " ..." } else { "" };
    outln!("instruments {}: {}{more}", s.instruments, names.join(" "))?;
    if let (Some(a), Some(b)) = (&s.first_timestamp, &s.last_timestamp) {
        outln!("time        {a} .. {b}")?;
    }
    if let Some(c) = &s.capture {
        outln!(
            "header      feed {}, session {:?}, creator {:?}, created {}",
            c.feed,
            c.session,
            c.creator,
            c.created.as_deref().unwrap_or("unknown")
        )?;
    }
    let itch_records = s.capture.as_ref().is_some_and(|c| c.feed == "itch-binary");
    if s.packets > 0 && itch_records {
        outln!("records     {} (one ITCH message each)", s.packets)?;
    } else if s.packets > 0 {
        outln!(
            "moldudp64   {} packets, {} duplicates dropped, {} gaps ({} missing), {} heartbeats, {} end-of-session",
            s.packets, s.duplicates, s.gaps, s.missing, s.heartbeats, s.end_of_session
        )?;
    }
    if !s.lost_ranges.is_empty() {
        let listed: Vec<String> = s
            .lost_ranges
            .iter()
            .take(20)
            .map(|[a, b]| format!("{a}..{b}"))
            .collect();
        let more = usize::try_from(s.lost_ranges_total)
            .unwrap_or(usize::MAX)
            .saturating_sub(listed.len());
        outln!(
            "lost        messages {}{}",
            listed.join(", "),
            if more > 0 {
                format!(" and {more} more ranges (--json lists them, up to 1000)")
            } else {
                String::new()
            }
        )?;
    }
    if s.non_udp_skipped > 0 || s.fragments_skipped > 0 {
        outln!(
            "skipped     {} frames not IPv4/UDP, {} IPv4 fragments (not reassembled)",
            s.non_udp_skipped,
            s.fragments_skipped
        )?;
    }
    outln!(
        "rate        {:.1} M messages/s, {:.0} MB/s ({:.3} s)",
        s.messages_per_sec / 1e6,
        s.megabytes_per_sec,
        s.seconds
    )?;
    if let Some(r) = &s.recovery {
        outln!("capture     {r}")?;
    }
    outln!("errors      {}", s.errors)?;
    for e in &s.error_list {
        match e.position {
            Some(p) => outln!("  at {p} ({}): {}", e.stage, e.error)?,
            None => outln!("  ({}): {}", e.stage, e.error)?,
        }
    }
    Ok(())
}

/// The header of the capture at `path` (it was just read whole, so it opens).
fn capture_info(path: &Path) -> Option<CaptureInfo> {
    use ticklane_replay::format::FeedKind;
    let reader = ticklane_replay::CaptureReader::open(path).ok()?;
    let h = reader.header();
    Some(CaptureInfo {
        feed: match h.feed {
            FeedKind::Raw => "raw",
            FeedKind::MoldUdp64 => "moldudp64",
            FeedKind::ItchBinary => "itch-binary",
        }
        .to_string(),
        session: h.session.clone(),
        creator: h.creator.clone(),
        created_ns: h.created_ns,
        created: (h.created_ns > 0).then(|| utc(h.created_ns)),
        flags: h.flags,
    })
}

/// `ns` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.fffZ` (proleptic Gregorian, UTC).
fn utc(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let millis = (ns / 1_000_000) % 1_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 (a leap day of a century leap year) 12:34:56.789.
        assert_eq!(
            super::utc(951_827_696_789_000_000),
            "2000-02-29T12:34:56.789Z"
        );
        assert_eq!(
            super::utc(1_798_761_599_000_000_000),
            "2026-12-31T23:59:59.000Z"
        );
        assert_eq!(
            super::utc(1_583_020_800_000_000_000),
            "2020-03-01T00:00:00.000Z"
        );
    }
}
