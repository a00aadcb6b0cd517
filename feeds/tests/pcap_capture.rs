//! pcap / pcapng reading and writing: round trips, byte orders, timestamp resolutions, link
//! types, skipped frames, truncation, real captures, and never panicking.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns panic on failure by design

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

use proptest::prelude::*;
use ticklane_feeds::moldudp64::{MoldPacket, PacketKind};
use ticklane_feeds::pcap::{
    CaptureFormat, PcapError, PcapReader, PcapWriter, PcapngWriter, UdpDatagram,
};

fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/")).join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

fn addr(a: u8, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, a), port)
}

fn sample() -> Vec<(u64, SocketAddrV4, SocketAddrV4, Vec<u8>)> {
    (0..50u64)
        .map(|i| {
            let payload: Vec<u8> = (0..(i * 29 % 1500) as usize)
                .map(|k| (k as u64 ^ i) as u8)
                .collect();
            (
                1_580_000_000_000_000_000 + i * 1_234_567,
                addr(1, 1000 + i as u16),
                SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, (i % 200) as u8), 26400),
                payload,
            )
        })
        .collect()
}

fn read_all(bytes: &[u8]) -> (Vec<UdpDatagram<'_>>, Vec<PcapError>) {
    let mut ok = Vec::new();
    let mut err = Vec::new();
    for r in PcapReader::new(bytes).unwrap() {
        match r {
            Ok(d) => ok.push(d),
            Err(e) => err.push(e),
        }
    }
    (ok, err)
}

fn check_same(got: &[UdpDatagram<'_>], want: &[(u64, SocketAddrV4, SocketAddrV4, Vec<u8>)]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            (g.ts_ns, g.src, g.dst, g.payload),
            (w.0, w.1, w.2, &w.3[..])
        );
    }
}

#[test]
fn pcap_writer_round_trip() {
    let data = sample();
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for (ts, s, d, p) in &data {
        w.write_udp(*ts, *s, *d, p).unwrap();
    }
    let bytes = w.into_inner().unwrap();
    let r = PcapReader::new(&bytes).unwrap();
    assert!(matches!(
        r.format(),
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: true,
            link_type: 1,
            ..
        }
    ));
    let (got, errs) = read_all(&bytes);
    assert!(errs.is_empty(), "{errs:?}");
    check_same(&got, &data);
}

#[test]
fn pcapng_writer_round_trip() {
    let data = sample();
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    for (ts, s, d, p) in &data {
        w.write_udp(*ts, *s, *d, p).unwrap();
    }
    let bytes = w.into_inner().unwrap();
    let mut r = PcapReader::new(&bytes).unwrap();
    assert_eq!(r.format(), CaptureFormat::Pcapng);
    let got: Vec<_> = r.by_ref().map(Result::unwrap).collect();
    check_same(&got, &data);
    assert_eq!(r.stats().packets, 50);
    assert_eq!(r.stats().udp, 50);
    assert_eq!(r.stats().skipped(), 0);
}

#[test]
fn pcap_writer_rejects_oversized_payload() {
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    assert!(w
        .write_udp(0, addr(1, 1), addr(2, 2), &vec![0; 65_508])
        .is_err());
    assert!(w
        .write_udp(0, addr(1, 1), addr(2, 2), &vec![0; 65_507])
        .is_ok());
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    assert!(w
        .write_udp(0, addr(1, 1), addr(2, 2), &vec![0; 65_508])
        .is_err());
}

/// Frames (Ethernet) of the sample, as the writer produces them.
fn sample_frames() -> Vec<(u64, Vec<u8>)> {
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for (ts, s, d, p) in sample() {
        w.write_udp(ts, s, d, &p).unwrap();
    }
    let bytes = w.into_inner().unwrap();
    let mut r = PcapReader::new(&bytes).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        out.push((p.ts_ns, p.data.to_vec()));
    }
    out
}

/// A classic pcap with any byte order, resolution and link type.
fn classic(
    big: bool,
    nanos: bool,
    link: u32,
    frames: &[(u64, Vec<u8>)],
    orig_extra: u32,
) -> Vec<u8> {
    let u32b = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut b = Vec::new();
    b.extend_from_slice(&u32b(if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 }));
    b.extend_from_slice(&u16b(2));
    b.extend_from_slice(&u16b(4));
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&u32b(65535));
    b.extend_from_slice(&u32b(link));
    for (ts, f) in frames {
        b.extend_from_slice(&u32b((ts / 1_000_000_000) as u32));
        let frac = ts % 1_000_000_000;
        b.extend_from_slice(&u32b(if nanos { frac } else { frac / 1000 } as u32));
        b.extend_from_slice(&u32b(f.len() as u32));
        b.extend_from_slice(&u32b(f.len() as u32 + orig_extra));
        b.extend_from_slice(f);
    }
    b
}

#[test]
fn pcap_both_byte_orders_and_resolutions() {
    let frames = sample_frames();
    let want = sample();
    for big in [false, true] {
        for nanos in [false, true] {
            let bytes = classic(big, nanos, 1, &frames, 0);
            let r = PcapReader::new(&bytes).unwrap();
            assert_eq!(
                r.format(),
                CaptureFormat::Pcap {
                    big_endian: big,
                    nanos,
                    link_type: 1,
                    snaplen: 65535
                }
            );
            let (got, errs) = read_all(&bytes);
            assert!(errs.is_empty());
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                let ts = if nanos { w.0 } else { w.0 / 1000 * 1000 };
                assert_eq!((g.ts_ns, g.src, g.dst, g.payload), (ts, w.1, w.2, &w.3[..]));
            }
        }
    }
}

#[test]
fn pcap_link_types_vlan_sll_raw() {
    let frames = sample_frames();
    let want = sample();
    let strip = |f: &[u8]| f[14..].to_vec();
    let vlan: Vec<_> = frames
        .iter()
        .map(|(t, f)| {
            let mut v = f[..12].to_vec();
            v.extend_from_slice(&[0x81, 0x00, 0x00, 0x2A]);
            v.extend_from_slice(&f[12..]);
            (*t, v)
        })
        .collect();
    let sll: Vec<_> = frames
        .iter()
        .map(|(t, f)| {
            let mut v = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
            v.extend_from_slice(&strip(f));
            (*t, v)
        })
        .collect();
    let raw: Vec<_> = frames.iter().map(|(t, f)| (*t, strip(f))).collect();
    for (link, fr) in [(1u32, &vlan), (113, &sll), (101, &raw), (228, &raw)] {
        let bytes = classic(false, true, link, fr, 0);
        let (got, errs) = read_all(&bytes);
        assert!(errs.is_empty(), "link {link}: {errs:?}");
        check_same(&got, &want);
    }
    // The FCS bits in the upper part of the link-type field are ignored.
    let bytes = classic(false, true, 0x1000_0000 | 101, &raw, 0);
    assert_eq!(read_all(&bytes).0.len(), want.len());
}

#[test]
fn pcap_skips_and_counts_other_frames() {
    let frames = sample_frames();
    let udp = frames[0].1.clone();
    let mut arp = udp.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    let mut ipv6 = udp.clone();
    ipv6[12..14].copy_from_slice(&[0x86, 0xDD]);
    let mut tcp = udp.clone();
    tcp[14 + 9] = 6;
    let mut frag = udp.clone();
    frag[14 + 6] = 0x20; // more fragments
    let mut frag2 = udp.clone();
    frag2[14 + 6] = 0x00;
    frag2[14 + 7] = 0xB9; // offset 185
    let list = vec![
        (1, arp),
        (2, udp.clone()),
        (3, ipv6),
        (4, tcp),
        (5, frag),
        (6, frag2),
        (7, udp),
    ];
    let bytes = classic(false, true, 1, &list, 0);
    let mut r = PcapReader::new(&bytes).unwrap();
    let got: Vec<_> = r.by_ref().map(Result::unwrap).collect();
    assert_eq!(got.iter().map(|d| d.ts_ns).collect::<Vec<_>>(), vec![2, 7]);
    let s = *r.stats();
    assert_eq!(
        (s.packets, s.udp, s.non_ipv4, s.non_udp, s.fragments),
        (7, 2, 2, 1, 2)
    );
    assert_eq!(s.skipped(), 5);
    // An unsupported link type is counted too.
    let bytes = classic(false, true, 147, &frames[..3], 0);
    let mut r = PcapReader::new(&bytes).unwrap();
    assert_eq!(r.by_ref().count(), 0);
    assert_eq!(r.stats().unsupported_link, 3);
}

#[test]
fn pcap_truncated_record_is_an_error_and_reading_continues() {
    let frames = sample_frames();
    let mut list = frames[..3].to_vec();
    list[1].1.truncate(30);
    let mut bytes = classic(false, true, 1, &list[..1], 0);
    let second_at = bytes.len() as u64;
    // Record 2 says 30 of 100 bytes were captured.
    let rec = classic(false, true, 1, &list[1..2], 70);
    bytes.extend_from_slice(&rec[24..]);
    bytes.extend_from_slice(&classic(false, true, 1, &list[2..], 0)[24..]);
    let items: Vec<_> = PcapReader::new(&bytes).unwrap().collect();
    assert_eq!(items.len(), 3);
    assert!(items[0].is_ok() && items[2].is_ok());
    assert_eq!(
        items[1],
        Err(PcapError::TruncatedPacket {
            offset: second_at,
            captured: 30,
            original: 100
        })
    );
}

#[test]
fn pcap_malformed_frame_is_an_error_and_reading_continues() {
    let frames = sample_frames();
    let mut bad = frames[1].1.clone();
    bad[14 + 2..14 + 4].copy_from_slice(&9000u16.to_be_bytes()); // IPv4 length past the frame
    let list = vec![frames[0].clone(), (0, bad), frames[2].clone()];
    let bytes = classic(false, true, 1, &list, 0);
    let items: Vec<_> = PcapReader::new(&bytes).unwrap().collect();
    assert_eq!(items.len(), 3);
    assert!(
        matches!(items[1], Err(PcapError::MalformedFrame { offset, .. }) if offset as usize == 24 + 16 + frames[0].1.len())
    );
    assert!(items[2].is_ok());
}

/// Offsets of the records of a classic capture built by [`classic`] from `frames`.
fn record_offsets(frames: &[(u64, Vec<u8>)]) -> Vec<usize> {
    let mut at = 24;
    frames
        .iter()
        .map(|(_, f)| {
            let here = at;
            at += 16 + f.len();
            here
        })
        .collect()
}

#[test]
fn pcap_timestamp_fraction_of_a_second_or_more_is_an_error_and_reading_continues() {
    let frames = sample_frames();
    for nanos in [false, true] {
        let limit: u32 = if nanos { 1_000_000_000 } else { 1_000_000 };
        for fraction in [limit, limit + 1, u32::MAX] {
            let mut bytes = classic(false, nanos, 1, &frames[..3], 0);
            let second = record_offsets(&frames[..3])[1];
            bytes[second + 4..second + 8].copy_from_slice(&fraction.to_le_bytes());
            // Before: the fraction was carried into the seconds, silently moving the packet
            // forward in time.
            let mut r = PcapReader::new(&bytes).unwrap();
            let items: Vec<_> = r.by_ref().collect();
            assert_eq!(items.len(), 3, "nanos={nanos} fraction={fraction}");
            assert_eq!(
                items[1],
                Err(PcapError::BadTimestamp {
                    offset: second as u64,
                    fraction,
                    limit
                })
            );
            let want = |i: usize| {
                let ts = frames[i].0;
                if nanos {
                    ts
                } else {
                    ts / 1000 * 1000
                }
            };
            assert_eq!(items[0].as_ref().map(|d| d.ts_ns), Ok(want(0)));
            assert_eq!(items[2].as_ref().map(|d| d.ts_ns), Ok(want(2)));
            let s = *r.stats();
            assert_eq!((s.packets, s.udp, s.errors), (3, 2, 1));
        }
        // The largest valid fraction is read as it is.
        let mut bytes = classic(false, nanos, 1, &frames[..1], 0);
        bytes[28..32].copy_from_slice(&(limit - 1).to_le_bytes());
        let (got, errs) = read_all(&bytes);
        assert!(errs.is_empty(), "{errs:?}");
        let unit = if nanos { 1 } else { 1_000 };
        assert_eq!(
            got[0].ts_ns,
            frames[0].0 / 1_000_000_000 * 1_000_000_000 + u64::from(limit - 1) * unit
        );
    }
}

#[test]
fn pcap_captured_length_above_original_is_an_error_and_reading_continues() {
    let frames = sample_frames();
    let mut bytes = classic(true, true, 1, &frames[..3], 0);
    let second = record_offsets(&frames[..3])[1];
    let captured = frames[1].1.len() as u32;
    // The record claims one byte more captured than there was on the wire.
    bytes[second + 12..second + 16].copy_from_slice(&(captured - 1).to_be_bytes());
    let mut r = PcapReader::new(&bytes).unwrap();
    let items: Vec<_> = r.by_ref().collect();
    assert_eq!(items.len(), 3);
    assert!(items[0].is_ok() && items[2].is_ok(), "{items:?}");
    // Before: accepted as a datagram.
    assert_eq!(
        items[1],
        Err(PcapError::CapturedBeyondOriginal {
            offset: second as u64,
            captured,
            original: captured - 1
        })
    );
    let s = *r.stats();
    assert_eq!((s.packets, s.udp, s.errors), (3, 2, 1));
    // The raw-frame reader refuses it too.
    let mut r = PcapReader::new(&bytes).unwrap();
    let raw: Vec<_> = std::iter::from_fn(|| r.next_packet()).collect();
    assert_eq!(raw.len(), 3);
    assert!(matches!(
        raw[1],
        Err(PcapError::CapturedBeyondOriginal { offset, .. }) if offset == second as u64
    ));
}

#[test]
fn pcap_file_cut_mid_record_reports_offset_and_stops() {
    let frames = sample_frames();
    let bytes = classic(false, true, 1, &frames[..4], 0);
    let starts: Vec<usize> = {
        let mut v = vec![24];
        for (_, f) in &frames[..4] {
            let last = *v.last().unwrap();
            v.push(last + 16 + f.len());
        }
        v
    };
    for cut in 24..bytes.len() {
        let (got, errs) = read_all(&bytes[..cut]);
        let complete = starts.iter().filter(|&&s| s <= cut).count() - 1;
        assert_eq!(got.len(), complete, "cut at {cut}");
        if starts.contains(&cut) {
            assert!(errs.is_empty());
        } else {
            let rec = starts[complete] as u64;
            assert_eq!(errs.len(), 1, "cut at {cut}");
            assert!(
                matches!(errs[0], PcapError::TruncatedFile { offset, .. } if offset == rec),
                "cut at {cut}: {:?}",
                errs[0]
            );
        }
    }
    // A cut file header.
    assert!(matches!(
        PcapReader::new(&bytes[..10]),
        Err(PcapError::TruncatedFile { offset: 0, .. })
    ));
    assert!(matches!(
        PcapReader::new(b"hello world"),
        Err(PcapError::BadMagic { .. })
    ));
}

#[test]
fn pcapng_file_cut_mid_block_reports_offset_and_stops() {
    let data = sample();
    let mut w = PcapngWriter::new(Vec::new()).unwrap();
    for (ts, s, d, p) in &data[..3] {
        w.write_udp(*ts, *s, *d, p).unwrap();
    }
    let bytes = w.into_inner().unwrap();
    for cut in 4..bytes.len() {
        let Ok(r) = PcapReader::new(&bytes[..cut]) else {
            continue;
        };
        let items: Vec<_> = r.collect();
        let errs: Vec<_> = items.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(errs.len() <= 1, "cut at {cut}");
        if let Some(e) = errs.first() {
            assert!(
                matches!(e, PcapError::TruncatedFile { .. }),
                "cut at {cut}: {e:?}"
            );
        }
    }
}

/// Hand-built pcapng blocks in either byte order.
struct Ng {
    big: bool,
    out: Vec<u8>,
}

impl Ng {
    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, ty: u32, body: &[u8]) {
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let len = body.len() as u32 + 12;
        let (t, l) = (self.u32(ty), self.u32(len));
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(&body);
        self.out.extend_from_slice(&l);
    }
    fn shb(&mut self) {
        let mut b = self.u32(0x1A2B_3C4D).to_vec();
        b.extend_from_slice(&self.u16(1));
        b.extend_from_slice(&self.u16(0));
        b.extend_from_slice(&[0xFF; 8]);
        self.block(0x0A0D_0D0A, &b);
    }
    fn idb(&mut self, link: u16, tsresol: Option<u8>, tsoffset: Option<u64>) {
        let mut b = self.u16(link).to_vec();
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&self.u32(0));
        // An unrelated option first (if_name), to check option walking.
        b.extend_from_slice(&self.u16(2));
        b.extend_from_slice(&self.u16(3));
        b.extend_from_slice(b"eth\0");
        if let Some(r) = tsresol {
            b.extend_from_slice(&self.u16(9));
            b.extend_from_slice(&self.u16(1));
            b.extend_from_slice(&[r, 0, 0, 0]);
        }
        if let Some(o) = tsoffset {
            b.extend_from_slice(&self.u16(14));
            b.extend_from_slice(&self.u16(8));
            b.extend_from_slice(&if self.big {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            });
        }
        b.extend_from_slice(&[0, 0, 0, 0]);
        self.block(1, &b);
    }
    fn epb(&mut self, iface: u32, ticks: u64, frame: &[u8]) {
        let mut b = self.u32(iface).to_vec();
        b.extend_from_slice(&self.u32((ticks >> 32) as u32));
        b.extend_from_slice(&self.u32(ticks as u32));
        b.extend_from_slice(&self.u32(frame.len() as u32));
        b.extend_from_slice(&self.u32(frame.len() as u32));
        b.extend_from_slice(frame);
        self.block(6, &b);
    }
    fn pb(&mut self, iface: u16, ticks: u64, frame: &[u8]) {
        let mut b = self.u16(iface).to_vec();
        b.extend_from_slice(&self.u16(0));
        b.extend_from_slice(&self.u32((ticks >> 32) as u32));
        b.extend_from_slice(&self.u32(ticks as u32));
        b.extend_from_slice(&self.u32(frame.len() as u32));
        b.extend_from_slice(&self.u32(frame.len() as u32));
        b.extend_from_slice(frame);
        self.block(2, &b);
    }
    fn spb(&mut self, frame: &[u8]) {
        let mut b = self.u32(frame.len() as u32).to_vec();
        b.extend_from_slice(frame);
        self.block(3, &b);
    }
}

#[test]
fn pcapng_byte_orders_tsresol_and_block_types() {
    let frames = sample_frames();
    let want = sample();
    let raw = |i: usize| frames[i].1[14..].to_vec();
    for big in [false, true] {
        let mut ng = Ng {
            big,
            out: Vec::new(),
        };
        ng.shb();
        ng.idb(1, None, None); // 0: microseconds (default)
        ng.idb(101, Some(0x80 | 10), None); // 1: 2^-10 s
        ng.idb(1, Some(9), Some(3)); // 2: nanoseconds, +3 s offset
        ng.idb(228, Some(3), None); // 3: milliseconds
        ng.block(5, &[1, 2, 3, 4, 5, 6, 7, 8]); // interface statistics: skipped
        ng.epb(0, 1_500_000, &frames[0].1);
        ng.epb(1, 2048, &raw(1));
        ng.epb(2, 7, &frames[2].1);
        ng.epb(3, 42, &raw(3));
        ng.pb(0, 9, &frames[4].1);
        ng.spb(&frames[5].1);
        ng.block(0x0BAD, &[0; 12]); // unknown: skipped
                                    // A second section in the other byte order resets the interfaces.
        let mut other = Ng {
            big: !big,
            out: Vec::new(),
        };
        other.shb();
        other.idb(1, Some(9), None);
        other.epb(0, 123, &frames[6].1);
        ng.out.extend_from_slice(&other.out);
        let mut r = PcapReader::new(&ng.out).unwrap();
        let got: Vec<_> = r.by_ref().map(Result::unwrap).collect();
        let ts: Vec<u64> = got.iter().map(|d| d.ts_ns).collect();
        assert_eq!(
            ts,
            vec![
                1_500_000_000,
                2_000_000_000,
                3_000_000_007,
                42_000_000,
                9_000,
                // The Simple Packet Block has no timestamp: the previous packet's.
                9_000,
                123
            ],
            "big={big}"
        );
        assert_eq!(r.stats().untimed, 1);
        for (i, g) in got.iter().enumerate() {
            assert_eq!(
                (g.src, g.dst, g.payload),
                (want[i].1, want[i].2, &want[i].3[..])
            );
        }
        assert_eq!(r.stats().packets, 7);
    }
}

#[test]
fn pcapng_captured_length_above_original_is_an_error_and_reading_continues() {
    let frames = sample_frames();
    for (big, packet_block) in [(false, false), (true, false), (false, true)] {
        let mut ng = Ng {
            big,
            out: Vec::new(),
        };
        ng.shb();
        ng.idb(1, Some(9), None);
        ng.epb(0, 1, &frames[0].1);
        let bad_at = ng.out.len();
        if packet_block {
            ng.pb(0, 2, &frames[1].1);
        } else {
            ng.epb(0, 2, &frames[1].1);
        }
        ng.epb(0, 3, &frames[2].1);
        // Original length (block offset 8 + 16, in both block kinds) one below the captured.
        let captured = frames[1].1.len() as u32;
        let orig = ng.u32(captured - 1);
        ng.out[bad_at + 24..bad_at + 28].copy_from_slice(&orig);
        let mut r = PcapReader::new(&ng.out).unwrap();
        let items: Vec<_> = r.by_ref().collect();
        assert_eq!(
            items
                .iter()
                .map(|i| i.as_ref().map(|d| d.ts_ns).map_err(|e| *e))
                .collect::<Vec<_>>(),
            vec![
                Ok(1),
                Err(PcapError::CapturedBeyondOriginal {
                    offset: bad_at as u64,
                    captured,
                    original: captured - 1
                }),
                Ok(3)
            ],
            "big={big} packet_block={packet_block}"
        );
        let s = *r.stats();
        assert_eq!((s.packets, s.udp, s.errors), (3, 2, 1));
    }
}

#[test]
fn pcapng_unknown_interface_and_bad_block_length() {
    let frames = sample_frames();
    let mut ng = Ng {
        big: false,
        out: Vec::new(),
    };
    ng.shb();
    ng.idb(1, Some(9), None);
    let epb_at = ng.out.len() as u64;
    ng.epb(5, 1, &frames[0].1);
    ng.epb(0, 2, &frames[1].1);
    let items: Vec<_> = PcapReader::new(&ng.out).unwrap().collect();
    assert_eq!(
        items[0],
        Err(PcapError::UnknownInterface {
            offset: epb_at,
            interface: 5
        })
    );
    assert_eq!(items[1].as_ref().map(|d| d.ts_ns), Ok(2));
    // Trailing length mismatch: fatal.
    let mut bad = ng.out.clone();
    let last = bad.len() - 1;
    bad[last - 3] ^= 4;
    let items: Vec<_> = PcapReader::new(&bad).unwrap().collect();
    assert!(matches!(
        items.last(),
        Some(Err(PcapError::BadBlock { .. }))
    ));
}

fn mold_stats(path: &std::path::Path) -> (Vec<(u64, u16)>, Vec<PacketKind>, usize) {
    let bytes = std::fs::read(path).unwrap();
    let mut r = PcapReader::new(&bytes).unwrap();
    let mut seq_counts = Vec::new();
    let mut kinds = Vec::new();
    let mut messages = 0;
    for d in r.by_ref() {
        let d = d.unwrap();
        assert_eq!(d.dst.port(), 26400);
        let m = MoldPacket::parse(d.payload).unwrap();
        assert_eq!(m.session(), b"SESSION001");
        seq_counts.push((m.sequence(), m.message_count()));
        kinds.push(m.kind());
        messages += m.messages().count();
    }
    assert_eq!(r.stats().skipped(), 0);
    assert_eq!(r.stats().errors, 0);
    (seq_counts, kinds, messages)
}

#[test]
fn pcap_real_aapl_moldudp64() {
    let Some(path) = shared("pcap/nasdaq_20200130_aapl_first10k_moldudp64.pcap") else {
        return;
    };
    let (seq_counts, kinds, messages) = mold_stats(&path);
    assert_eq!(messages, 10_000);
    assert_eq!(kinds.len(), 2001);
    assert_eq!(
        kinds.iter().filter(|k| **k == PacketKind::Data).count(),
        2000
    );
    assert_eq!(kinds.last(), Some(&PacketKind::EndOfSession));
    for (i, (seq, count)) in seq_counts[..2000].iter().enumerate() {
        assert_eq!((*seq, *count), (1 + 5 * i as u64, 5));
    }
    assert_eq!(seq_counts[2000], (10_001, 0xFFFF));
}

#[test]
fn pcap_real_heartbeats() {
    let Some(path) = shared("pcap/nasdaq_20200130_aapl_first200_heartbeats_moldudp64.pcap") else {
        return;
    };
    let (seq_counts, kinds, messages) = mold_stats(&path);
    assert_eq!(messages, 200);
    let data = kinds.iter().filter(|k| **k == PacketKind::Data).count();
    let hb = kinds
        .iter()
        .filter(|k| **k == PacketKind::Heartbeat)
        .count();
    eprintln!(
        "heartbeats file: {} packets, {data} data, {hb} heartbeats",
        kinds.len()
    );
    // Observed: 135 packets = 67 data (66 of 3 messages, then 2) + 67 heartbeats + end of session.
    assert_eq!(kinds.len(), 135);
    assert_eq!(data, 67);
    assert_eq!(hb, 67);
    assert_eq!(kinds.last(), Some(&PacketKind::EndOfSession));
    assert_eq!(seq_counts.last().map(|s| s.0), Some(201));
    assert_eq!(seq_counts[0], (1, 3));
    assert_eq!(seq_counts[132], (199, 2));
    // Every data packet is followed by a heartbeat announcing the next sequence number.
    for (i, k) in kinds.iter().enumerate() {
        if *k == PacketKind::Data {
            assert_eq!(kinds[i + 1], PacketKind::Heartbeat);
            assert_eq!(
                seq_counts[i + 1].0,
                seq_counts[i].0 + u64::from(seq_counts[i].1)
            );
        }
    }
}

proptest! {
    #[test]
    fn pcap_reader_never_panics_on_garbage(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(mut r) = PcapReader::new(&bytes) {
            while r.next_packet().is_some() {}
        }
        if let Ok(r) = PcapReader::new(&bytes) {
            for _ in r {}
        }
    }

    #[test]
    fn pcap_reader_never_panics_on_corrupted_captures(
        ng in any::<bool>(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let data = sample();
        let mut bytes = if ng {
            let mut w = PcapngWriter::new(Vec::new()).unwrap();
            for (ts, s, d, p) in &data[..4] { w.write_udp(*ts, *s, *d, p).unwrap(); }
            w.into_inner().unwrap()
        } else {
            let mut w = PcapWriter::new(Vec::new()).unwrap();
            for (ts, s, d, p) in &data[..4] { w.write_udp(*ts, *s, *d, p).unwrap(); }
            w.into_inner().unwrap()
        };
        let n = bytes.len();
        for (at, v) in flips {
            bytes[at % n] = v;
        }
        bytes.truncate(cut % (n + 1));
        if let Ok(r) = PcapReader::new(&bytes) {
            // Every step consumes at least one record header, so this terminates.
            for _ in r {}
        }
    }
}

/// An Enhanced Packet Block whose captured-length field is corrupt (more than its block holds)
/// while its block lengths agree: the framing is intact (the next block is at offset + block
/// length), so this is an error for that packet only, as the same corruption is in a classic
/// pcap record (`CapturedBeyondOriginal`) — not the end of the capture.
#[test]
fn pcapng_packet_block_with_captured_length_past_its_block_is_an_error_and_reading_continues() {
    let frames = sample_frames();
    for big in [false, true] {
        let mut ng = Ng {
            big,
            out: Vec::new(),
        };
        ng.shb();
        ng.idb(1, Some(9), None);
        ng.epb(0, 1, &frames[0].1);
        let bad_at = ng.out.len();
        ng.epb(0, 2, &frames[1].1);
        ng.epb(0, 3, &frames[2].1);
        // Captured length (block offset 8 + 12) and original length both 64 KiB: far past
        // the block.
        let huge = ng.u32(65_536);
        ng.out[bad_at + 20..bad_at + 24].copy_from_slice(&huge);
        ng.out[bad_at + 24..bad_at + 28].copy_from_slice(&huge);
        let mut r = PcapReader::new(&ng.out).unwrap();
        let items: Vec<_> = r.by_ref().collect();
        let got: Vec<Result<u64, bool>> = items
            .iter()
            .map(|i| i.as_ref().map(|d| d.ts_ns).map_err(|e| e.is_fatal()))
            .collect();
        assert_eq!(
            got,
            vec![Ok(1), Err(false), Ok(3)],
            "big={big}: the bad packet is an error (not fatal) and packet 3 is still read; {items:?}"
        );
    }
}

/// Damage and link types the reader once got wrong: a corrupt captured length, loopback links, non-UDP fragments and cut frames, a frame that says IPv4 and is not.
mod reader_faults {
    use super::*;

    /// A one-bit flip in a record's captured length (bit 16: 65,536 more than it captured)
    /// makes the length exceed the original length, and the file's snap length. The record is
    /// an error, and per the module docs "reading continues with the next one". The reader
    /// trusted the corrupt length for the framing: it jumped 64 KiB into the file, read garbage
    /// as a record header and ended with "capture truncated" at a wrong offset (mid-file), or
    /// at the record itself (near the end): every record after it lost, uncounted.
    #[test]
    fn a_corrupt_captured_length_does_not_swallow_the_records_after_it() {
        let frames = sample_frames();
        let many: Vec<_> = (0..200).map(|i| frames[i % frames.len()].clone()).collect();
        let offs = record_offsets(&many);
        for victim in [10usize, 195] {
            let mut bytes = classic(false, true, 1, &many, 0);
            let at = offs[victim];
            let c = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            assert!(c < 0x1_0000);
            bytes[at + 8..at + 12].copy_from_slice(&(c | 0x1_0000).to_le_bytes());
            let mut r = PcapReader::new(&bytes).unwrap();
            let items: Vec<_> = r.by_ref().collect();
            let ok = items.iter().filter(|i| i.is_ok()).count();
            let errs: Vec<PcapError> = items
                .iter()
                .filter_map(|i| i.as_ref().err().copied())
                .collect();
            assert_eq!(
                (ok, errs),
                (
                    199,
                    vec![PcapError::CapturedBeyondOriginal {
                        offset: at as u64,
                        captured: c | 0x1_0000,
                        original: c
                    }]
                ),
                "record {victim} of 200 with a flipped bit in its captured length"
            );
        }
    }

    /// BSD loopback (`LINKTYPE_NULL`, 0: `tcpdump -i lo0` on macOS; a 4-byte address family in
    /// the capturing host's byte order, AF_INET = 2) and OpenBSD loopback (`LINKTYPE_LOOP`,
    /// 108: the family big-endian) carry IPv4 / UDP. They are counted as unsupported links
    /// and skipped; through the CLI a whole feed captured on loopback reads as 0 messages,
    /// "errors 0", exit 0, and `inspect` calls them "frames not IPv4/UDP".
    #[test]
    fn loopback_null_and_loop_captures_carry_udp() {
        let frames = sample_frames();
        let want = sample();
        for (link, family) in [
            (0u32, 2u32.to_le_bytes()),
            (0, 2u32.to_be_bytes()),
            (108, 2u32.to_be_bytes()),
        ] {
            let fr: Vec<_> = frames
                .iter()
                .map(|(t, f)| {
                    let mut v = family.to_vec();
                    v.extend_from_slice(&f[14..]);
                    (*t, v)
                })
                .collect();
            let bytes = classic(false, true, link, &fr, 0);
            let mut r = PcapReader::new(&bytes).unwrap();
            let got: Vec<_> = r.by_ref().filter_map(Result::ok).collect();
            assert_eq!(
                (got.len(), r.stats().unsupported_link),
                (want.len(), 0),
                "link type {link}, family bytes {family:?}"
            );
            check_same(&got, &want);
        }
    }

    /// Every fragment of an IPv4 packet carries the protocol field: a fragment of an ICMP
    /// packet (a large ping) cannot be a UDP datagram. It is counted in `fragments`, which the
    /// commands turn into an error ("N IPv4 fragments were not reassembled: their datagrams
    /// were not read", exit 1) for a capture whose feed is whole.
    #[test]
    fn a_fragment_of_a_non_udp_packet_is_not_udp_not_a_lost_datagram() {
        let frames = sample_frames();
        let mut first = frames[1].1.clone();
        first[14 + 9] = 1; // ICMP
        first[14 + 6] = 0x20; // more fragments
        let mut last = first.clone();
        last[14 + 6] = 0x00;
        last[14 + 7] = 0xB9; // offset 185 x 8, no more fragments
        let list = vec![frames[0].clone(), (1, first), (2, last), frames[2].clone()];
        let bytes = classic(false, true, 1, &list, 0);
        let mut r = PcapReader::new(&bytes).unwrap();
        assert_eq!(r.by_ref().filter(Result::is_ok).count(), 2);
        let s = *r.stats();
        assert_eq!(
            (s.non_udp, s.fragments, s.errors),
            (2, 0, 0),
            "two ICMP fragments: not UDP, not a UDP datagram left unread; {s:?}"
        );
    }

    /// A capture taken with a snap length (`tcpdump -s 128`) cuts the long TCP frames it
    /// happens to hold. Those are not UDP (their IPv4 header, captured whole, says so) and
    /// should be skipped and counted as such; each is an error (`TruncatedPacket`), so a
    /// capture whose feed is whole reads with errors and the commands exit 1.
    #[test]
    fn a_non_udp_frame_cut_by_the_snap_length_is_skipped_not_an_error() {
        let frames = sample_frames();
        let mut tcp = frames[40].1.clone(); // 1,202 bytes
        assert!(tcp.len() > 96);
        tcp[14 + 9] = 6; // TCP
        let orig = 3000u32;
        tcp[14 + 2..14 + 4].copy_from_slice(&((orig - 14) as u16).to_be_bytes());
        tcp.truncate(96);
        // Record 1: 96 of 3000 bytes captured.
        let mut bytes = classic(false, true, 1, &frames[..1], 0);
        bytes.extend_from_slice(&classic(false, true, 1, &[(5, tcp)], orig - 96)[24..]);
        bytes.extend_from_slice(&classic(false, true, 1, &frames[2..3], 0)[24..]);
        let mut r = PcapReader::new(&bytes).unwrap();
        let items: Vec<_> = r.by_ref().collect();
        let errs: Vec<_> = items.iter().filter_map(|i| i.as_ref().err()).collect();
        assert!(errs.is_empty(), "a cut TCP frame is not an error: {errs:?}");
        let s = *r.stats();
        assert_eq!((s.udp, s.non_udp, s.errors), (2, 1, 0), "{s:?}");
    }

    /// A frame whose link header says IPv4 (ethertype 0x0800, cooked protocol 0x0800, or link
    /// type 228, IPv4 only) but whose IP version nibble is not 4 is inconsistent: a corrupt
    /// header. It is counted as "not IPv4" and skipped without an error, so a MoldUDP64 packet
    /// whose first IP byte was damaged disappears with "errors 0".
    #[test]
    fn an_ipv4_frame_whose_version_is_not_4_is_a_malformed_frame() {
        let frames = sample_frames();
        let mut eth = frames[1].1.clone();
        eth[14] = 0x65; // version 6, IHL 5
        let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(&eth[14..]);
        let ip4 = eth[14..].to_vec();
        for (link, f) in [(1u32, eth), (113, sll), (228, ip4)] {
            let bytes = classic(false, true, link, &[(1, f)], 0);
            let mut r = PcapReader::new(&bytes).unwrap();
            let items: Vec<_> = r.by_ref().collect();
            assert!(
                matches!(
                    items[..],
                    [Err(PcapError::MalformedFrame { offset: 24, .. })]
                ),
                "link {link}: {items:?}, {:?}",
                r.stats()
            );
        }
    }
}
