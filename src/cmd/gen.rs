//! `ticklane gen`: write a deterministic synthetic session as a NASDAQ binary file or a capture.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use ticklane_feeds::synth::{SessionGenerator, SynthConfig};

use crate::GenFormat;

/// Runs the command.
pub fn run(
    seed: u64,
    messages: u64,
    instruments: u16,
    format: GenFormat,
    output: &Path,
) -> anyhow::Result<ExitCode> {
    let mut gen = SessionGenerator::new(SynthConfig {
        seed,
        messages,
        instruments,
    })?;
    // Written beside the output and renamed once complete: a write error (a full disk) leaves
    // no cut session under the output's name, which could read as a shorter clean one.
    let partial = super::partial::PartialOutput::create(output)?;
    let file = File::create(partial.path())
        .with_context(|| format!("creating {}", partial.path().display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let pb = super::progress::bar(gen.total_messages(), "generating");
    let mut written = 0u64;
    let wrote: anyhow::Result<()> = (|| {
        match format {
            GenFormat::Itch => {
                while let Some(msg) = gen.next_message() {
                    let len =
                        u16::try_from(msg.len()).context("message longer than 65535 bytes")?;
                    out.write_all(&len.to_be_bytes())?;
                    out.write_all(msg)?;
                    written += 1;
                    if written.is_multiple_of(65_536) {
                        pb.set_position(written);
                    }
                }
            }
            GenFormat::Pcap | GenFormat::Pcapng => {
                written = write_capture(&mut gen, format, &mut out, &pb)?;
            }
        }
        out.flush()?;
        Ok(())
    })();
    wrote.with_context(|| format!("writing {}", output.display()))?;
    partial.finish()?;
    pb.finish_and_clear();
    tracing::info!(messages = written, path = %output.display(), "session written");
    errln!("wrote {written} messages to {}", output.display());
    Ok(ExitCode::SUCCESS)
}

/// MoldUDP64 session name of generated captures.
pub const SESSION: [u8; 10] = *b"TICKLANE01";
/// Capture timestamps are event time plus this midnight (2020-01-30 00:00 America/New_York,
/// in ns since the Unix epoch): fixed, so the same seed gives the same capture bytes.
pub const CAPTURE_MIDNIGHT_NS: u64 = 1_580_360_400 * 1_000_000_000;
/// Source and destination of generated datagrams (a NASDAQ-like multicast group).
const SRC: std::net::SocketAddrV4 =
    std::net::SocketAddrV4::new(std::net::Ipv4Addr::new(10, 0, 0, 1), 26400);
const DST: std::net::SocketAddrV4 =
    std::net::SocketAddrV4::new(std::net::Ipv4Addr::new(233, 54, 12, 1), 26400);

enum CaptureWriter<'w, W: Write> {
    Pcap(ticklane_feeds::pcap::PcapWriter<&'w mut W>),
    Pcapng(ticklane_feeds::pcap::PcapngWriter<&'w mut W>),
}

impl<W: Write> CaptureWriter<'_, W> {
    fn write(&mut self, ts_ns: u64, payload: &[u8]) -> std::io::Result<()> {
        match self {
            CaptureWriter::Pcap(w) => w.write_udp(ts_ns, SRC, DST, payload),
            CaptureWriter::Pcapng(w) => w.write_udp(ts_ns, SRC, DST, payload),
        }
    }
}

/// Packs the session into MoldUDP64 packets (sequence numbers from 1) and writes them as UDP
/// datagrams, each stamped with the event time of its last message; ends with an end-of-session
/// packet. Returns the number of messages written.
fn write_capture<W: Write>(
    gen: &mut SessionGenerator,
    format: GenFormat,
    out: &mut W,
    pb: &indicatif::ProgressBar,
) -> anyhow::Result<u64> {
    use ticklane_feeds::moldudp64::MoldPacketBuilder;
    let mut writer = match format {
        GenFormat::Pcapng => CaptureWriter::Pcapng(ticklane_feeds::pcap::PcapngWriter::new(out)?),
        _ => CaptureWriter::Pcap(ticklane_feeds::pcap::PcapWriter::new(out)?),
    };
    let mut builder = MoldPacketBuilder::new(SESSION, 1);
    let mut written = 0u64;
    let mut packet_ts = 0u64;
    let mut io_result: std::io::Result<()> = Ok(());
    while let Some(msg) = gen.next_message() {
        let ts = ticklane_feeds::itch::decode(msg)
            .map(|m| m.timestamp())
            .unwrap_or(packet_ts);
        builder.push(msg, |packet| {
            if io_result.is_ok() {
                io_result = writer.write(CAPTURE_MIDNIGHT_NS + packet_ts, packet);
            }
        })?;
        std::mem::replace(&mut io_result, Ok(()))?;
        packet_ts = ts;
        written += 1;
        if written.is_multiple_of(65_536) {
            pb.set_position(written);
        }
    }
    if let Some(packet) = builder.flush() {
        writer.write(CAPTURE_MIDNIGHT_NS + packet_ts, packet)?;
    }
    let eos = builder.end_of_session();
    writer.write(CAPTURE_MIDNIGHT_NS + packet_ts, &eos)?;
    Ok(written)
}
