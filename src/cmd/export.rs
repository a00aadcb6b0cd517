//! `ticklane export`: a capture written back out as pcap or pcapng, to open in Wireshark or
//! tcpdump, or to send with tcpreplay. Each record becomes the UDP datagram it was received as
//! (line A and line B to their own multicast groups); receivers' notes are not datagrams and
//! stay out.

use std::io::BufWriter;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use ticklane_replay::convert::{capture_to_pcap, PcapExportOptions, PcapFormat};
use ticklane_replay::{CaptureReader, FeedKind};

/// Runs the command. Exit code 1 when the capture had damage (the datagrams before and after
/// it are exported; what was lost is said).
pub fn run(capture: &Path, output: &Path, format: PcapFormat) -> anyhow::Result<ExitCode> {
    drop(super::feed::open_input(capture)?);
    let mut reader =
        CaptureReader::open(capture).with_context(|| format!("opening {}", capture.display()))?;
    // Written beside the output and renamed at the end: a failure leaves no half file under
    // the output's name. First of all: an output that is the input is refused whatever
    // the input holds.
    let partial = super::partial::PartialOutput::new(capture, output)?;
    if reader.header().feed == FeedKind::ItchBinary {
        anyhow::bail!(
            "{}: its records are ITCH messages from a binary file, not datagrams received off \
             the wire: there is nothing to export as pcap (replay or inspect the capture itself)",
            capture.display()
        );
    }
    let file = std::fs::File::create(partial.path())
        .with_context(|| format!("creating {}", partial.path().display()))?;
    let options = PcapExportOptions {
        format,
        ..PcapExportOptions::default()
    };
    let stats = match capture_to_pcap(
        &mut reader,
        BufWriter::with_capacity(1 << 20, file),
        &options,
    ) {
        Ok(s) => s,
        Err(e) => {
            return Err(e).with_context(|| {
                format!("exporting {} to {}", capture.display(), output.display())
            })
        }
    };
    partial.finish()?;
    let r = &stats.report;
    outln!(
        "exported {} datagrams to {} ({}); line A to {}, line B to {}",
        stats.records,
        output.display(),
        match format {
            PcapFormat::Pcap => "pcap",
            PcapFormat::Pcapng => "pcapng",
        },
        options.dst_a,
        options.dst_b
    )?;
    // Blocks cut out or moved are damage as corrupt ones are (they were left out of it).
    let damaged = !r.bad_blocks.is_empty()
        || r.truncated_tail.is_some()
        || r.missing_blocks > 0
        || r.out_of_order_blocks > 0;
    if damaged {
        errln!(
            "the capture is damaged, what was readable is exported: {}",
            super::feed::recovery_line(r)
        );
    }
    if stats.recorder_dropped > 0 {
        errln!(
            "the live recorder dropped {} records (its ring was full): the capture lacks them, and so does the export",
            stats.recorder_dropped
        );
    }
    if stats.retransmissions > 0 {
        // Not damage: every datagram is in the export. But the pcap cannot carry the
        // receiver's notes (FROM, give-ups) that let the capture wait for late answers.
        errln!(
            "note: {} re-request answers are exported as line A datagrams at the time they \
             arrived; a pcap carries no receiver notes, so a reader of it waits {} ms for a \
             missing packet, and an answer that came later than that reads back as a loss \
             (replay the capture itself for the live run's messages)",
            stats.retransmissions,
            super::feed::OFFLINE_GRACE_NS / 1_000_000
        );
    }
    Ok(if damaged || stats.recorder_dropped > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
