//! Conversions: pcap/pcapng → capture → pcap/pcapng, and NASDAQ binary file → capture.

use std::io::Cursor;
use std::net::{Ipv4Addr, SocketAddrV4};

use ticklane_feeds::binfile::{Frames, LengthMode};
use ticklane_feeds::moldudp64::MoldPacketBuilder;
use ticklane_feeds::pcap::{PcapReader, PcapWriter, PcapngWriter};
use ticklane_feeds::synth::{generate_framed, SessionGenerator, SynthConfig};
use ticklane_replay::convert::{
    binfile_path_to_capture, capture_file_to_pcap, capture_to_pcap, pcap_file_to_capture,
    pcap_to_capture, PcapExportOptions, PcapFormat, PcapImportOptions,
};
use ticklane_replay::{
    CaptureHeader, CaptureReader, CaptureWriter, Compression, FeedKind, Line, OwnedRecord,
    WriterOptions,
};

const MIDNIGHT: u64 = 1_580_360_400 * 1_000_000_000;
const SRC: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 26400);
const DST_A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 1), 26400);
const DST_B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 2), 26400);

/// A synthetic session as MoldUDP64 packets, as `ticklane gen --format pcap` builds them:
/// (timestamp since the epoch, packet).
fn mold_packets(messages: u64) -> Vec<(u64, Vec<u8>)> {
    let mut gen = SessionGenerator::new(SynthConfig {
        seed: 11,
        messages,
        instruments: 8,
    })
    .expect("generator");
    let mut builder = MoldPacketBuilder::new(*b"TICKLANE01", 1);
    let mut out = Vec::new();
    let mut packet_ts = 0u64;
    while let Some(msg) = gen.next_message() {
        let ts = ticklane_feeds::itch::decode(msg)
            .map(|m| m.timestamp())
            .unwrap_or(packet_ts);
        let pts = packet_ts;
        builder
            .push(msg, |p| out.push((MIDNIGHT + pts, p.to_vec())))
            .expect("push");
        packet_ts = ts;
    }
    if let Some(p) = builder.flush() {
        out.push((MIDNIGHT + packet_ts, p.to_vec()));
    }
    out.push((MIDNIGHT + packet_ts, builder.end_of_session().to_vec()));
    out
}

/// Datagrams of a pcap/pcapng: (ts, dst, payload).
fn datagrams(pcap: &[u8]) -> Vec<(u64, SocketAddrV4, Vec<u8>)> {
    PcapReader::new(pcap)
        .expect("pcap")
        .map(|d| {
            let d = d.expect("datagram");
            (d.ts_ns, d.dst, d.payload.to_vec())
        })
        .collect()
}

#[test]
fn pcap_round_trip_keeps_payloads_timestamps_and_lines() {
    let packets = mold_packets(20_000);
    assert!(packets.len() > 100);
    for format in [PcapFormat::Pcap, PcapFormat::Pcapng] {
        // Alternate lines A and B, as an A/B feed capture would.
        let mut pcap = Vec::new();
        match format {
            PcapFormat::Pcap => {
                let mut w = PcapWriter::new(&mut pcap).expect("pcap");
                for (i, (ts, p)) in packets.iter().enumerate() {
                    let dst = if i % 2 == 0 { DST_A } else { DST_B };
                    w.write_udp(*ts, SRC, dst, p).expect("write");
                }
            }
            PcapFormat::Pcapng => {
                let mut w = PcapngWriter::new(&mut pcap).expect("pcapng");
                for (i, (ts, p)) in packets.iter().enumerate() {
                    let dst = if i % 2 == 0 { DST_A } else { DST_B };
                    w.write_udp(*ts, SRC, dst, p).expect("write");
                }
            }
        }
        let original = datagrams(&pcap);
        assert_eq!(original.len(), packets.len());

        let mut w = CaptureWriter::new(
            Vec::new(),
            &CaptureHeader::new(FeedKind::MoldUdp64, "TICKLANE01"),
            WriterOptions {
                block_bytes: 32 << 10,
                compression: Compression::Zstd,
                ..WriterOptions::default()
            },
        )
        .expect("writer");
        let import = PcapImportOptions {
            udp_dst_port: Some(26400),
            line_a: Some(DST_A),
            line_b: Some(DST_B),
        };
        let stats = pcap_to_capture(&pcap, &mut w, &import).expect("import");
        assert_eq!(stats.records, packets.len() as u64);
        assert_eq!(stats.record_errors + stats.filtered, 0);
        assert!(stats.fatal.is_none());
        let (capture, _) = w.finish().expect("finish");

        // The capture holds the payloads and epoch timestamps unchanged, with the lines.
        let mut r = CaptureReader::new(Cursor::new(capture)).expect("open");
        let recs: Vec<OwnedRecord> = r.by_ref().map(|x| x.expect("ok")).collect();
        for (i, (rec, (ts, p))) in recs.iter().zip(&packets).enumerate() {
            assert_eq!(rec.ts_ns, *ts);
            assert_eq!(&rec.bytes, p);
            assert_eq!(rec.line, if i % 2 == 0 { Line::A } else { Line::B });
        }
        r.rewind();

        let mut back = Vec::new();
        let out = capture_to_pcap(
            &mut r,
            &mut back,
            &PcapExportOptions {
                format,
                src: SRC,
                dst_a: DST_A,
                dst_b: DST_B,
                ts_offset_ns: 0,
            },
        )
        .expect("export");
        assert_eq!(out.records, packets.len() as u64);
        assert!(out.report.is_clean());
        assert_eq!(datagrams(&back), original, "{format:?}");
    }
}

#[test]
fn pcap_file_conversions() {
    let dir = tempfile::tempdir().expect("tmp");
    let pcap_path = dir.path().join("in.pcap");
    let cap_path = dir.path().join("s.tlcap");
    let out_path = dir.path().join("out.pcapng");
    let packets = mold_packets(5_000);
    let mut pcap = Vec::new();
    {
        let mut w = PcapWriter::new(&mut pcap).expect("pcap");
        for (ts, p) in &packets {
            w.write_udp(*ts, SRC, DST_A, p).expect("write");
        }
    }
    // A pcap cut in the middle of its last record: everything before it is imported.
    std::fs::write(&pcap_path, &pcap[..pcap.len() - 5]).expect("write");
    let (stats, summary) = pcap_file_to_capture(
        &pcap_path,
        &cap_path,
        &CaptureHeader::new(FeedKind::MoldUdp64, "TICKLANE01"),
        WriterOptions::default(),
        &PcapImportOptions::default(),
    )
    .expect("import");
    assert_eq!(stats.records, packets.len() as u64 - 1);
    assert!(stats.fatal.is_some());
    assert_eq!(summary.records, stats.records);
    let export = capture_file_to_pcap(
        &cap_path,
        &out_path,
        &PcapExportOptions {
            format: PcapFormat::Pcapng,
            ..PcapExportOptions::default()
        },
    )
    .expect("export");
    assert_eq!(export.records, stats.records);
    let back = datagrams(&std::fs::read(&out_path).expect("read"));
    let want: Vec<_> = packets[..packets.len() - 1]
        .iter()
        .map(|(ts, p)| (*ts, DST_A, p.clone()))
        .collect();
    assert_eq!(back, want);
}

#[test]
fn binary_file_to_capture() {
    let data = generate_framed(SynthConfig {
        seed: 3,
        messages: 30_000,
        instruments: 16,
    })
    .expect("generate");
    let dir = tempfile::tempdir().expect("tmp");
    let bin = dir.path().join("s.itch");
    let cap = dir.path().join("s.tlcap");
    // A truncated final frame: reported, everything before it converted.
    std::fs::write(&bin, &data[..data.len() - 3]).expect("write");
    let mut header = CaptureHeader::new(FeedKind::Raw, "NASDAQ-20200130");
    header.creator = "test".into();
    let (stats, summary) = binfile_path_to_capture(
        &bin,
        LengthMode::Prefix,
        &cap,
        &header,
        WriterOptions {
            compression: Compression::Zstd,
            block_bytes: 64 << 10,
            ..WriterOptions::default()
        },
    )
    .expect("convert");
    assert!(stats.framing_error.is_some());
    assert_eq!(stats.records, 30_000 - 1);
    assert_eq!(summary.records, stats.records);

    let mut r = CaptureReader::open(&cap).expect("open");
    assert_eq!(r.header().feed, FeedKind::ItchBinary);
    assert!(r.header().ts_since_midnight());
    assert_eq!(r.header().creator, "test");
    let frames: Vec<&[u8]> = Frames::new(&data)
        .map(|f| f.expect("frame").bytes)
        .collect();
    let mut n = 0;
    while let Some(rec) = r.next_record() {
        let rec = rec.expect("ok");
        let msg = frames[n];
        assert_eq!(rec.bytes, msg);
        assert_eq!(rec.line, Line::Single);
        let ts = ticklane_feeds::itch::decode(msg)
            .expect("decode")
            .timestamp();
        assert_eq!(rec.ts_ns, ts);
        n += 1;
    }
    assert_eq!(n, 30_000 - 1);
    assert!(r.report().is_clean());
}

/// With no destinations configured (`ticklane record`), a pcap that does not start with an
/// export's destinations takes its lines by order of first appearance: the first destination
/// is line A, the second line B, any other single.
#[test]
fn without_configured_destinations_lines_follow_the_order_destinations_appear() {
    let dst_x = SocketAddrV4::new(Ipv4Addr::new(239, 1, 1, 7), 18000);
    let dst_y = SocketAddrV4::new(Ipv4Addr::new(239, 1, 1, 8), 18000);
    let dst_z = SocketAddrV4::new(Ipv4Addr::new(239, 1, 1, 9), 18000);
    let lines = import_lines(|i| match i % 5 {
        0 | 2 => dst_y,
        1 | 3 => dst_x,
        _ => dst_z,
    });
    for (i, line) in lines.iter().enumerate() {
        let want = match i % 5 {
            0 | 2 => Line::A,
            1 | 3 => Line::B,
            _ => Line::Single,
        };
        assert_eq!(*line, want, "record {i}");
    }
}

/// An export of ours (`capture_to_pcap`'s default destinations) keeps its lines whichever
/// comes first: A's address is line A, B's is line B.
#[test]
fn an_export_of_ours_recorded_back_keeps_its_lines_whichever_comes_first() {
    let lines = import_lines(|i| if i % 3 == 0 { DST_B } else { DST_A });
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(
            *line,
            if i % 3 == 0 { Line::B } else { Line::A },
            "record {i}"
        );
    }
}

/// The lines `pcap_to_capture` gives, with no destinations configured, to a pcap of the test
/// session's packets sent to `dst(i)`.
fn import_lines(dst: impl Fn(usize) -> SocketAddrV4) -> Vec<Line> {
    let packets = mold_packets(3_000);
    let mut pcap = Vec::new();
    {
        let mut w = PcapWriter::new(&mut pcap).expect("pcap");
        for (i, (ts, p)) in packets.iter().enumerate() {
            w.write_udp(*ts, SRC, dst(i), p).expect("write");
        }
    }
    let mut w = CaptureWriter::new(
        Vec::new(),
        &CaptureHeader::new(FeedKind::MoldUdp64, "TICKLANE01"),
        WriterOptions::default(),
    )
    .expect("writer");
    let stats = pcap_to_capture(&pcap, &mut w, &PcapImportOptions::default()).expect("import");
    assert_eq!(stats.records, packets.len() as u64);
    let (capture, _) = w.finish().expect("finish");
    let r = CaptureReader::new(Cursor::new(capture)).expect("open");
    let lines: Vec<Line> = r.map(|x| x.expect("ok").line).collect();
    assert_eq!(lines.len(), packets.len());
    lines
}
