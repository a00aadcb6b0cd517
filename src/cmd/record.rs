//! `ticklane record INPUT -o OUT`: writes a ticklane capture (`replay/FORMAT.md`) from a pcap
//! or pcapng of MoldUDP64 (every UDP payload, exactly as captured, with its capture time) or
//! from a NASDAQ binary file (each message, with its ITCH timestamp as the receive time).
//! With `udp://...` or `quic://...` as INPUT it records a live MoldUDP64 feed instead: every
//! datagram received on every line, retransmission answers included, and the receive session's
//! decisions, through the same recorder a live `paper --record` run uses (its own thread and
//! ring; a full ring drops and counts, never blocks the receiving thread).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use ticklane_feeds::binfile::LengthMode;
use ticklane_replay::convert::{
    binfile_path_to_capture, itch_binary_header, pcap_file_to_capture, PcapImportOptions,
};
use ticklane_replay::{CaptureHeader, Compression, FeedKind, WriterOptions};

/// Runs the command.
pub fn run(
    input: &Path,
    output: &Path,
    zstd: bool,
    flush: &str,
    session: Option<String>,
    length_mode: LengthMode,
) -> anyhow::Result<ExitCode> {
    use std::io::Read;
    if same_file(input, output) {
        anyhow::bail!(
            "{} is both the input and the output: recording would truncate the input",
            input.display()
        );
    }
    let mut head = [0u8; 4];
    let n = super::feed::open_input(input)?
        .read(&mut head)
        .with_context(|| format!("reading {}", input.display()))?;
    let is_capture = n == 4
        && matches!(
            u32::from_le_bytes(head),
            0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0x0a0d_0d0a
        );
    // The other inputs the reading commands take are refused by name: recorded as a binary
    // file, they failed as a framing error at offset 0 (exit 1) with a capture written.
    if !is_capture && super::feed::is_capture(input)? {
        anyhow::bail!(
            "{} is already a ticklane capture: record takes a pcap, a pcapng or a NASDAQ binary \
             file (copy the capture, or `export` it to pcap)",
            input.display()
        );
    }
    if !is_capture && super::feed::is_lobster(input)? {
        anyhow::bail!(
            "{} is a LOBSTER message file: record takes a pcap, a pcapng or a NASDAQ binary file \
             (the reading commands take LOBSTER files directly)",
            input.display()
        );
    }
    if is_capture && length_mode == LengthMode::FromType {
        anyhow::bail!(
            "--lengths-from-type applies to binary files: {} is a pcap, whose MoldUDP64 packets give every message's length",
            input.display()
        );
    }
    let session = session.unwrap_or_else(|| {
        input
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let options = WriterOptions {
        compression: if zstd {
            Compression::Zstd
        } else {
            Compression::None
        },
        flush: super::live::flush_policy(flush).context("--flush")?,
        ..WriterOptions::default()
    };
    // Written beside the output and renamed once complete: an input refused after a look
    // inside leaves nothing (and no earlier capture clobbered) at the output's name.
    let partial = super::partial::PartialOutput::new(input, output)?;
    // Said once the capture is at its name (a failed rename is then the last word).
    let mut said = Vec::new();
    let errors = if is_capture {
        let header = stamped(CaptureHeader::new(FeedKind::MoldUdp64, session));
        let (stats, summary) = pcap_file_to_capture(
            input,
            partial.path(),
            &header,
            options,
            &PcapImportOptions::default(),
        )
        .with_context(|| format!("recording {} into {}", input.display(), output.display()))?;
        said.push(format!(
            "recorded {} MoldUDP64 datagrams ({} filtered, {} unreadable records) into {} blocks, {} bytes",
            stats.records, stats.filtered, stats.record_errors, summary.blocks, summary.bytes
        ));
        let c = &stats.capture;
        if c.skipped() > 0 {
            said.push(format!(
                "skipped frames: {} not IPv4, {} not UDP, {} unsupported link type, {} IPv4 fragments",
                c.non_ipv4, c.non_udp, c.unsupported_link, c.fragments
            ));
        }
        if c.fragments > 0 {
            // A fragmented datagram may be MoldUDP64 that the capture now lacks.
            errln!(
                "{} IPv4 fragments were not reassembled: their datagrams are not in the capture",
                c.fragments
            );
        }
        if c.unsupported_link > 0 {
            // Frames of a link type the reader cannot parse may carry the feed: an error, as
            // `replay` and `inspect` say it, not a skip.
            errln!(
                "{} frames of a link type this reader does not parse were not read: their \
                 datagrams, if any, are not in the capture",
                c.unsupported_link
            );
        }
        if c.untimed > 0 {
            errln!(
                "{} pcapng packets carried no timestamp (Simple Packet Blocks): each was given \
                 the previous packet's",
                c.untimed
            );
        }
        if let Some(e) = &stats.first_record_error {
            errln!("first unreadable record: {e}");
        }
        if let Some(e) = &stats.fatal {
            errln!("capture cut short: {e}");
        }
        stats.record_errors
            + stats.capture.fragments
            + stats.capture.unsupported_link
            + u64::from(stats.fatal.is_some())
    } else {
        let header = stamped(itch_binary_header(session));
        let (stats, summary) =
            binfile_path_to_capture(input, length_mode, partial.path(), &header, options)
                .with_context(|| {
                    format!("recording {} into {}", input.display(), output.display())
                })?;
        said.push(format!(
            "recorded {} ITCH messages ({} too short to carry a timestamp) into {} blocks, {} bytes",
            stats.records, stats.short_messages, summary.blocks, summary.bytes
        ));
        if let Some(e) = &stats.framing_error {
            errln!("framing error: {e}");
        }
        stats.short_messages + u64::from(stats.framing_error.is_some())
    };
    partial.finish()?;
    for line in said {
        outln!("{line}")?;
    }
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Records a live feed to `output` until end of session, `--stop-after-silence`, or Ctrl-C.
pub fn run_live(
    feed: &super::live::FeedArgs,
    output: &Path,
    flush: &str,
) -> anyhow::Result<ExitCode> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use ticklane_live::source::{receive, Downstream, LiveCounters, LiveReport, Recording};

    /// Counts; the recording is the point.
    struct Count {
        messages: u64,
        stop: Arc<AtomicBool>,
    }
    impl Downstream for Count {
        fn arrived(&mut self, _kernel_ns: Option<u64>) {}
        fn message(&mut self, _seq: u64, _bytes: &[u8]) {
            self.messages += 1;
        }
        fn gap_lost(&mut self, _first: u64, _count: u64) {}
        fn end_of_session(&mut self, _next: u64) {}
        fn flush(&mut self) -> bool {
            true
        }
        fn stop_requested(&self) -> bool {
            self.stop.load(Ordering::Relaxed)
        }
    }

    let mut cfg = super::live::live_config(feed)?;
    let (creator, created_ns) = origin();
    cfg.record = Some(Recording {
        creator,
        created_ns,
        flush: super::live::flush_policy(flush).context("--flush")?,
        ..Recording::new(output.to_path_buf())
    });
    let stop = super::live::stop_on_ctrl_c("interrupted: finishing the capture");
    let mut down = Count {
        messages: 0,
        stop: stop.clone(),
    };
    let mut live = LiveReport::default();
    let counters = LiveCounters::default();
    receive(&cfg, &mut down, &counters, &mut live).map_err(|e| anyhow::anyhow!(e))?;
    let s = &live.session;
    outln!(
        "{}: {} records ({} dropped: recorder ring full); {} datagrams, {} messages in order, {} duplicates, {} gaps ({} recovered, {} lost)",
        output.display(),
        live.recorded,
        live.record_dropped,
        s.packets,
        down.messages,
        s.duplicate_messages,
        s.gaps,
        s.recovered,
        s.lost_messages
    )?;
    super::relay::receiver_warnings(&live);
    if let Some(e) = &live.record_error {
        anyhow::bail!(
            "recording stopped early: {e}; {} records received after that are not in the capture",
            live.record_unwritten
        );
    }
    // Records the recorder's ring had no room for are missing from the capture: like lost
    // input in a file recording, that fails the command.
    let mut lost = super::relay::lost_exit_code(&live);
    // Input errors (a relay that closed us before the end of session: UPSTREAM_LOST, SLOW, a
    // lost connection; malformed datagrams) fail it too, as they fail `paper`: the capture
    // may end mid-session (it exited 0, as for a whole session).
    if live.errors > 0 {
        errln!(
            "the input had {} errors: {}",
            live.errors,
            live.first_errors.join("; ")
        );
        lost = ExitCode::from(1);
    }
    // A feed that went quiet before its end of session (`--stop-after-silence`): the capture
    // ends mid-session, and says so (it exited 0, as for a whole session). Ctrl-C is the
    // operator's own stop.
    if !s.end_of_session && live.relay_closed.is_none() && !stop.load(Ordering::Relaxed) {
        errln!(
            "the feed went silent before its end of session: the capture ends mid-session, after \
             {} messages",
            down.messages
        );
        lost = ExitCode::from(1);
    }
    Ok(if live.record_dropped == 0 {
        lost
    } else {
        errln!(
            "{} records were dropped (recorder ring full): the capture lacks them",
            live.record_dropped
        );
        ExitCode::from(1)
    })
}

/// Whether `a` and `b` name the same existing file (the same inode on Unix, the same
/// canonical path elsewhere).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
    }
}

/// Who writes a capture and when, for its header: this program and version, and the wall-clock
/// time now (ns since the Unix epoch; 0 if the clock reads before it).
pub(crate) fn origin() -> (String, u64) {
    #[allow(clippy::disallowed_methods)]
    // The binary's edge: a file's creation time, never event time.
    let now = std::time::SystemTime::now();
    let ns = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    (format!("ticklane {}", env!("CARGO_PKG_VERSION")), ns)
}

/// `header` with this program as its creator and now as its creation time.
fn stamped(header: CaptureHeader) -> CaptureHeader {
    let (creator, created_ns) = origin();
    CaptureHeader {
        creator,
        created_ns,
        ..header
    }
}
