//! ItchSource over every input: format detection, binary vs pcap equivalence, sequence tracking
//! (duplicates, gaps, heartbeats, end of session), corrupt packets, port filtering.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns panic on failure by design

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

use ticklane_feeds::binfile::{FramingError, LengthMode};
use ticklane_feeds::moldudp64::{MoldError, MoldHeader, MoldPacketBuilder};
use ticklane_feeds::pcap::{PcapReader, PcapWriter, PcapngWriter};
use ticklane_feeds::source::{ItchSource, SourceError, SourceFormat, SourceOptions};
use zerocopy::IntoBytes;

fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/")).join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

#[derive(Debug, PartialEq)]
enum Item {
    Msg {
        bytes: Vec<u8>,
        position: u64,
        ts: Option<u64>,
        seq: Option<u64>,
    },
    Err(String),
}

fn collect(path: &Path, options: SourceOptions) -> (Vec<Item>, ItchSource) {
    let mut s = ItchSource::open(path, options).unwrap();
    let mut items = Vec::new();
    while let Some(r) = s.next() {
        items.push(match r {
            Ok(i) => Item::Msg {
                bytes: i.bytes.to_vec(),
                position: i.position,
                ts: i.recv_ts_ns,
                seq: i.sequence,
            },
            Err(e) => Item::Err(format!("{e:?}")),
        });
    }
    assert!(s.next().is_none());
    (items, s)
}

fn messages(items: &[Item]) -> Vec<&[u8]> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Msg { bytes, .. } => Some(&bytes[..]),
            Item::Err(_) => None,
        })
        .collect()
}

#[test]
fn source_binary_and_pcap_yield_identical_messages() {
    let (Some(bin), Some(pcap)) = (
        shared("itch/nasdaq_20200130_aapl_first10k.itch50"),
        shared("pcap/nasdaq_20200130_aapl_first10k_moldudp64.pcap"),
    ) else {
        return;
    };
    let (b, bs) = collect(&bin, SourceOptions::default());
    assert_eq!(bs.format(), SourceFormat::Binary);
    assert_eq!(b.len(), 10_000);
    assert!(matches!(
        b[0],
        Item::Msg {
            position: 0,
            ts: None,
            seq: None,
            ..
        }
    ));
    let (p, ps) = collect(&pcap, SourceOptions::default());
    assert_eq!(ps.format(), SourceFormat::Pcap);
    assert_eq!(messages(&p), messages(&b));
    for (i, item) in p.iter().enumerate() {
        let Item::Msg {
            position, ts, seq, ..
        } = item
        else {
            panic!("{item:?}")
        };
        assert_eq!(*seq, Some(i as u64 + 1));
        assert_eq!(*position, i as u64 / 5);
        assert!(ts.is_some());
    }
    let s = *ps.stats();
    assert_eq!(s.packets, 2001);
    assert_eq!(s.messages, 10_000);
    assert_eq!(s.bytes, 307_643 - 2 * 10_000);
    assert_eq!(
        (
            s.end_of_session,
            s.heartbeats,
            s.gaps,
            s.duplicates,
            s.errors
        ),
        (1, 0, 0, 0, 0)
    );
    assert_eq!(bs.stats().bytes, s.bytes);

    // The same capture rewritten as pcapng, and the binary file gzipped.
    let dir = tempfile::tempdir().unwrap();
    let raw = std::fs::read(&pcap).unwrap();
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    for d in PcapReader::new(&raw).unwrap() {
        w.write_datagram(&d.unwrap()).unwrap();
    }
    let ng = dir.path().join("aapl.pcapng");
    std::fs::write(&ng, w.into_inner().unwrap()).unwrap();
    let (n, ns) = collect(&ng, SourceOptions::default());
    assert_eq!(ns.format(), SourceFormat::Pcapng);
    assert_eq!(n, p, "pcapng items (timestamps included) equal pcap items");
    let gz = dir.path().join("aapl.itch50.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&std::fs::read(&bin).unwrap()).unwrap();
    std::fs::write(&gz, e.finish().unwrap()).unwrap();
    let (g, gs) = collect(&gz, SourceOptions::default());
    assert_eq!(gs.format(), SourceFormat::BinaryGzip);
    assert_eq!(g, b);
}

#[test]
fn source_heartbeats_capture() {
    let Some(path) = shared("pcap/nasdaq_20200130_aapl_first200_heartbeats_moldudp64.pcap") else {
        return;
    };
    let (items, s) = collect(&path, SourceOptions::default());
    assert_eq!(items.len(), 200);
    let st = *s.stats();
    assert_eq!(
        (
            st.messages,
            st.heartbeats,
            st.end_of_session,
            st.gaps,
            st.errors
        ),
        (200, 67, 1, 0, 0)
    );
    assert_eq!(st.packets, 135);
    if let Some(bin) = shared("itch/nasdaq_20200130_aapl_first10k.itch50") {
        let (b, _) = collect(&bin, SourceOptions::default());
        assert_eq!(messages(&items), messages(&b)[..200].to_vec());
    }
}

#[test]
fn source_zero_prefix_file() {
    let Some(path) = shared("itch/ritch_ex20101224_zero_prefix.itch50") else {
        return;
    };
    let mut s = ItchSource::open(&path, SourceOptions::default()).unwrap();
    assert!(matches!(
        s.next(),
        Some(Err(SourceError::Framing(FramingError::ZeroLength {
            offset: 0
        })))
    ));
    assert!(s.next().is_none());
    assert_eq!(s.stats().errors, 1);
    let opts = SourceOptions {
        length_mode: LengthMode::FromType,
        ..SourceOptions::default()
    };
    let (items, s) = collect(&path, opts);
    assert_eq!(items.len(), 12_012);
    assert_eq!(s.stats().messages, 12_012);
}

#[test]
fn source_binary_framing_error_ends_stream() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.itch50");
    std::fs::write(&p, [0, 3, b'a', b'b', b'c', 0, 5, b'x']).unwrap();
    let (items, s) = collect(&p, SourceOptions::default());
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0],
        Item::Msg {
            bytes: b"abc".to_vec(),
            position: 0,
            ts: None,
            seq: None
        }
    );
    assert!(
        matches!(&items[1], Item::Err(e) if e.contains("TruncatedMessage") && e.contains("offset: 5"))
    );
    assert_eq!(s.format(), SourceFormat::Binary);
    // An empty file is an empty binary source.
    let e = dir.path().join("empty");
    std::fs::write(&e, []).unwrap();
    let (items, s) = collect(&e, SourceOptions::default());
    assert!(items.is_empty());
    assert_eq!(s.format(), SourceFormat::Binary);
}

fn mold(session: &[u8; 10], seq: u64, msgs: &[&[u8]]) -> Vec<u8> {
    let mut b = MoldPacketBuilder::new(*session, seq);
    for m in msgs {
        assert!(b.try_push(m).unwrap());
    }
    b.flush().unwrap().to_vec()
}

#[test]
fn source_tracks_sequences_per_session() {
    let a = b"SESSION00A";
    let b = b"SESSION00B";
    let group = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 111), 26400);
    let other_port = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 111), 26401);
    let src = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 5000);
    let mut corrupt = mold(a, 9, &[b"q", b"r"]);
    corrupt.pop(); // last block cut
    let hb_b = MoldHeader::new(*b, 4, 0).as_bytes().to_vec(); // B: heartbeat jumping ahead
    let packets: Vec<(SocketAddrV4, Vec<u8>)> = vec![
        (group, mold(a, 1, &[b"a1", b"a2", b"a3"])), // 0
        (group, mold(b, 1, &[b"b1"])),               // 1
        (group, mold(a, 1, &[b"a1", b"a2", b"a3"])), // 2: duplicate, dropped
        (group, mold(a, 3, &[b"a3", b"a4", b"a5"])), // 3: overlap, a3 dropped
        (other_port, mold(a, 6, &[b"zz"])),          // 4: other port (filtered when asked)
        (group, mold(a, 8, &[b"a8", b"a9"])),        // 5: gap 6..8 (or 7..8 without filter)
        (group, corrupt),                            // 6: corrupt
        (group, hb_b),                               // 7: heartbeat, B gap 2..4
        (group, mold(b, 4, &[b"b4"])),               // 8
        (group, MoldHeader::new(*a, 10, 0xFFFF).as_bytes().to_vec()), // 9: end of session
    ];
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for (i, (dst, p)) in packets.iter().enumerate() {
        w.write_udp(1_000 + i as u64, src, *dst, p).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seq.pcap");
    std::fs::write(&path, w.into_inner().unwrap()).unwrap();

    let msg = |bytes: &[u8], position: u64, seq: u64| Item::Msg {
        bytes: bytes.to_vec(),
        position,
        ts: Some(1_000 + position),
        seq: Some(seq),
    };
    let gap = |packet: u64, s: &[u8; 10], expected: u64, got: u64| {
        Item::Err(format!(
            "{:?}",
            SourceError::Gap {
                packet,
                session: *s,
                expected,
                got
            }
        ))
    };
    let corrupt_err = Item::Err(format!(
        "{:?}",
        SourceError::Mold {
            packet: 6,
            error: MoldError::BlockOverrun {
                offset: 23,
                needed: 3,
                available: 2
            }
        }
    ));
    let opts = SourceOptions {
        udp_dst_port: Some(26400),
        ..SourceOptions::default()
    };
    let (items, s) = collect(&path, opts);
    assert_eq!(
        items,
        vec![
            msg(b"a1", 0, 1),
            msg(b"a2", 0, 2),
            msg(b"a3", 0, 3),
            msg(b"b1", 1, 1),
            msg(b"a4", 3, 4),
            msg(b"a5", 3, 5),
            gap(5, a, 6, 8),
            msg(b"a8", 5, 8),
            msg(b"a9", 5, 9),
            corrupt_err,
            gap(7, b, 2, 4),
            msg(b"b4", 8, 4),
        ]
    );
    let st = *s.stats();
    assert_eq!(st.packets, 9);
    assert_eq!(st.filtered, 1);
    assert_eq!(st.messages, 9);
    assert_eq!(st.duplicates, 4);
    assert_eq!((st.gaps, st.missing), (2, 4));
    assert_eq!((st.heartbeats, st.end_of_session, st.errors), (1, 1, 1));

    // Without the port filter, packet 4 fills part of session A's gap.
    let (items, s) = collect(&path, SourceOptions::default());
    assert!(items.contains(&msg(b"zz", 4, 6)));
    assert!(items.contains(&gap(5, a, 7, 8)));
    assert_eq!(s.stats().filtered, 0);
    assert_eq!(s.stats().messages, 10);
}

#[test]
fn source_gap_names_the_packet_that_revealed_it() {
    // Before: a gap said which session and sequence numbers, but not where in the capture.
    let group = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 111), 26400);
    let other = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 111), 26401);
    let src = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 5000);
    let s = b"SESSION001";
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    // Packet 0 goes to another port and is filtered out: the index is the capture's.
    w.write_udp(1, src, other, &mold(s, 1, &[b"x"])).unwrap();
    w.write_udp(2, src, group, &mold(s, 1, &[b"m1"])).unwrap();
    w.write_udp(3, src, group, &mold(s, 4, &[b"m4"])).unwrap(); // packet 2: 2..4 missing
    let hb = MoldHeader::new(*s, 7, 0).as_bytes().to_vec();
    w.write_udp(4, src, group, &hb).unwrap(); // packet 3: heartbeat, 5..7 missing
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gaps.pcap");
    std::fs::write(&path, w.into_inner().unwrap()).unwrap();
    let opts = SourceOptions {
        udp_dst_port: Some(26400),
        ..SourceOptions::default()
    };
    let mut src = ItchSource::open(&path, opts).unwrap();
    let mut gaps = Vec::new();
    while let Some(r) = src.next() {
        if let Err(e) = r {
            assert!(matches!(e, SourceError::Gap { .. }), "{e:?}");
            gaps.push(e.to_string());
        }
    }
    assert_eq!(
        gaps,
        vec![
            "packet 2: gap in session \"SESSION001\": expected sequence 2, got 4".to_string(),
            "packet 3: gap in session \"SESSION001\": expected sequence 5, got 7".to_string(),
        ]
    );
    let st = *src.stats();
    assert_eq!((st.gaps, st.missing, st.errors, st.filtered), (2, 4, 0, 1));
}

#[test]
fn source_capture_record_errors_continue() {
    // A non-UDP frame and a truncated record between two good packets.
    let group = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 111), 26400);
    let src = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 5000);
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    w.write_udp(1, src, group, &mold(b"SESSION001", 1, &[b"m1"]))
        .unwrap();
    w.write_udp(2, src, group, &mold(b"SESSION001", 2, &[b"m2"]))
        .unwrap();
    w.write_udp(3, src, group, &mold(b"SESSION001", 3, &[b"m3"]))
        .unwrap();
    w.write_udp(4, src, group, &mold(b"SESSION001", 4, &[b"m4"]))
        .unwrap();
    let mut bytes = w.into_inner().unwrap();
    let rec_len = 16 + 14 + 20 + 8 + 20 + 4;
    // Record 1: make it ARP. Record 2: orig_len > caplen.
    let r1 = 24 + rec_len;
    bytes[r1 + 16 + 12] = 0x08;
    bytes[r1 + 16 + 13] = 0x06;
    let r2 = 24 + 2 * rec_len;
    bytes[r2 + 12] += 1;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("errs.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let (items, s) = collect(&path, SourceOptions::default());
    assert_eq!(messages(&items), vec![&b"m1"[..], b"m4"]);
    assert_eq!(items.len(), 4, "{items:?}");
    assert!(matches!(&items[1], Item::Err(e) if e.contains("TruncatedPacket")));
    assert!(matches!(&items[2], Item::Err(e) if e.contains("Gap")));
    let st = *s.stats();
    assert_eq!(
        (st.non_udp_skipped, st.errors, st.gaps, st.missing),
        (1, 1, 1, 2)
    );
    assert_eq!(s.capture_stats().map(|c| c.non_ipv4), Some(1));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Corrupted captures of MoldUDP64 packets never panic the source, every item is a message
    /// or an error, and the message count stays within what was written.
    #[test]
    fn source_never_panics_on_corrupted_captures(
        seqs in proptest::collection::vec((0u64..40, 0u8..4), 1..12),
        flips in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..6),
        ng in proptest::prelude::any::<bool>(),
    ) {
        let group = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 111), 26400);
        let src = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 5000);
        let mut written = 0u64;
        let payloads: Vec<Vec<u8>> = seqs
            .iter()
            .map(|&(seq, n)| {
                written += u64::from(n);
                if n == 0 {
                    MoldHeader::new(*b"SESSION001", seq, 0).as_bytes().to_vec()
                } else {
                    let msgs: Vec<Vec<u8>> = (0..n).map(|k| vec![b'A'; usize::from(k) + 1]).collect();
                    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
                    mold(b"SESSION001", seq, &refs)
                }
            })
            .collect();
        let mut bytes = if ng {
            let mut w = PcapngWriter::new(Vec::new()).unwrap();
            for (i, p) in payloads.iter().enumerate() { w.write_udp(i as u64, src, group, p).unwrap(); }
            w.into_inner().unwrap()
        } else {
            let mut w = PcapWriter::new(Vec::new()).unwrap();
            for (i, p) in payloads.iter().enumerate() { w.write_udp(i as u64, src, group, p).unwrap(); }
            w.into_inner().unwrap()
        };
        let n = bytes.len();
        for (at, v) in flips {
            // Leave the file header alone so the format is still detected as a capture.
            let at = 24 + at % (n - 24);
            bytes[at] = v;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz.cap");
        std::fs::write(&path, &bytes).unwrap();
        let Ok(mut s) = ItchSource::open(&path, SourceOptions::default()) else { return Ok(()) };
        let mut msgs = 0u64;
        let mut steps = 0u64;
        while let Some(r) = s.next() {
            if r.is_ok() { msgs += 1; }
            steps += 1;
            proptest::prop_assert!(steps < 10_000);
        }
        proptest::prop_assert_eq!(msgs, s.stats().messages);
        // Flipped bytes can turn a payload into a different but valid packet (with more
        // messages), so bound by what fits in the file rather than by what was written.
        proptest::prop_assert!(msgs <= written + n as u64 / 3);
    }
}
