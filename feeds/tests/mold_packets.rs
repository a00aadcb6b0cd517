//! MoldUDP64 framing: parsing, errors, requests, the packet builder, and never panicking.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns panic on failure by design

use proptest::prelude::*;
use ticklane_feeds::moldudp64::{
    MoldError, MoldHeader, MoldPacket, MoldPacketBuilder, MoldRequest, PacketKind, HEADER_LEN,
};
use zerocopy::IntoBytes;

fn packet(session: &[u8; 10], seq: u64, count: u16, blocks: &[&[u8]]) -> Vec<u8> {
    let mut p = MoldHeader::new(*session, seq, count).as_bytes().to_vec();
    for b in blocks {
        p.extend_from_slice(&(b.len() as u16).to_be_bytes());
        p.extend_from_slice(b);
    }
    p
}

#[test]
fn mold_header_is_20_bytes() {
    assert_eq!(std::mem::size_of::<MoldHeader>(), HEADER_LEN);
    assert_eq!(std::mem::align_of::<MoldHeader>(), 1);
}

#[test]
fn mold_parse_data_packet() {
    let p = packet(b"SESSION001", 42, 3, &[b"abc", b"", b"z"]);
    let m = MoldPacket::parse(&p).unwrap();
    assert_eq!(m.session(), b"SESSION001");
    assert_eq!(m.sequence(), 42);
    assert_eq!(m.message_count(), 3);
    assert_eq!(m.kind(), PacketKind::Data);
    assert_eq!(m.next_sequence(), 45);
    let msgs: Vec<&[u8]> = m.messages().map(Result::unwrap).collect();
    assert_eq!(msgs, vec![&b"abc"[..], b"", b"z"]);
}

#[test]
fn mold_heartbeat_and_end_of_session() {
    let hb = packet(b"SESSION001", 7, 0, &[]);
    let m = MoldPacket::parse(&hb).unwrap();
    assert_eq!(m.kind(), PacketKind::Heartbeat);
    assert_eq!(m.next_sequence(), 7);
    assert_eq!(m.messages().count(), 0);
    let eos = packet(b"SESSION001", 9, 0xFFFF, &[]);
    let m = MoldPacket::parse(&eos).unwrap();
    assert_eq!(m.kind(), PacketKind::EndOfSession);
    assert_eq!(m.next_sequence(), 9);
    assert_eq!(m.messages().count(), 0);
    assert!(m.is_empty());
}

#[test]
fn mold_parse_errors() {
    assert_eq!(
        MoldPacket::parse(&[0u8; 19]).unwrap_err(),
        MoldError::TooShort { len: 19 }
    );
    // Block runs past the end.
    let mut p = packet(b"SESSION001", 1, 1, &[b"abcd"]);
    p.pop();
    assert_eq!(
        MoldPacket::parse(&p).unwrap_err(),
        MoldError::BlockOverrun {
            offset: 20,
            needed: 6,
            available: 5
        }
    );
    // A lone prefix byte.
    let mut p = packet(b"SESSION001", 1, 2, &[b"a"]);
    p.push(0);
    assert!(matches!(
        MoldPacket::parse(&p).unwrap_err(),
        MoldError::BlockOverrun {
            offset: 23,
            needed: 2,
            available: 1
        }
    ));
    // Fewer blocks than declared.
    let p = packet(b"SESSION001", 1, 3, &[b"a", b"b"]);
    assert_eq!(
        MoldPacket::parse(&p).unwrap_err(),
        MoldError::TooFewBlocks {
            declared: 3,
            found: 2
        }
    );
    // More blocks than declared.
    let p = packet(b"SESSION001", 1, 1, &[b"a", b"b", b"c"]);
    assert_eq!(
        MoldPacket::parse(&p).unwrap_err(),
        MoldError::TooManyBlocks {
            declared: 1,
            found: 3
        }
    );
    // Trailing garbage that is not a block.
    let mut p = packet(b"SESSION001", 1, 1, &[b"a"]);
    p.extend_from_slice(&[0, 9, 1]);
    assert_eq!(
        MoldPacket::parse(&p).unwrap_err(),
        MoldError::TrailingBytes { offset: 23, len: 3 }
    );
    // A heartbeat with a payload.
    let p = packet(b"SESSION001", 1, 0, &[b"a"]);
    assert!(matches!(
        MoldPacket::parse(&p).unwrap_err(),
        MoldError::TooManyBlocks {
            declared: 0,
            found: 1
        }
    ));
    // End of session with a payload.
    let p = packet(b"SESSION001", 1, 0xFFFF, &[b"a"]);
    assert_eq!(
        MoldPacket::parse(&p).unwrap_err(),
        MoldError::TrailingBytes { offset: 20, len: 3 }
    );
    // Messages numbered up to u64::MAX - 1 parse; one numbered u64::MAX has no next sequence.
    let last = packet(b"SESSION001", u64::MAX - 2, 2, &[b"a", b"b"]);
    assert_eq!(MoldPacket::parse(&last).unwrap().next_sequence(), u64::MAX);
    let p = packet(b"SESSION001", u64::MAX - 1, 2, &[b"a", b"b"]);
    assert_eq!(
        MoldPacket::parse(&p).unwrap_err(),
        MoldError::SequenceOverflow {
            sequence: u64::MAX - 1,
            count: 2
        }
    );
    // A heartbeat or end of session at u64::MAX is a sequence number, not a message.
    assert!(MoldPacket::parse(&packet(b"SESSION001", u64::MAX, 0, &[])).is_ok());
    assert!(MoldPacket::parse(&packet(b"SESSION001", u64::MAX, 0xFFFF, &[])).is_ok());
}

#[test]
fn mold_request_round_trip() {
    let r = MoldRequest {
        session: *b"SESSION001",
        sequence: 0x0102_0304_0506_0708,
        count: 500,
    };
    let bytes = r.encode();
    assert_eq!(&bytes[..10], b"SESSION001");
    assert_eq!(&bytes[10..18], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&bytes[18..], &500u16.to_be_bytes());
    assert_eq!(MoldRequest::parse(&bytes).unwrap(), r);
    assert_eq!(
        MoldRequest::parse(&bytes[..19]).unwrap_err(),
        MoldError::BadRequestLength { len: 19 }
    );
    let mut long = bytes.to_vec();
    long.push(0);
    assert!(MoldRequest::parse(&long).is_err());
}

#[test]
fn mold_builder_packs_to_size_and_tracks_sequence() {
    let mut b = MoldPacketBuilder::new(*b"SESSION001", 1).with_max_packet(100);
    assert_eq!(b.max_message_len(), 78);
    let mut packets: Vec<Vec<u8>> = Vec::new();
    // 10-byte messages take 12 bytes each: 6 fit in 100 - 20 = 80.
    for i in 0..20u8 {
        b.push(&[i; 10], |p| packets.push(p.to_vec())).unwrap();
    }
    assert_eq!(b.pending_count(), 2);
    packets.push(b.flush().unwrap().to_vec());
    assert!(b.flush().is_none());
    assert_eq!(b.next_sequence(), 21);
    let counts: Vec<u16> = packets
        .iter()
        .map(|p| MoldPacket::parse(p).unwrap().message_count())
        .collect();
    assert_eq!(counts, vec![6, 6, 6, 2]);
    let seqs: Vec<u64> = packets
        .iter()
        .map(|p| MoldPacket::parse(p).unwrap().sequence())
        .collect();
    assert_eq!(seqs, vec![1, 7, 13, 19]);
    assert!(packets.iter().all(|p| p.len() <= 100));
    let hb = b.heartbeat();
    let hb = MoldPacket::parse(&hb).unwrap();
    assert_eq!((hb.kind(), hb.sequence()), (PacketKind::Heartbeat, 21));
    let eos = b.end_of_session();
    let eos = MoldPacket::parse(&eos).unwrap();
    assert_eq!((eos.kind(), eos.sequence()), (PacketKind::EndOfSession, 21));
    // Too large for any packet.
    assert_eq!(
        b.try_push(&[0; 79]).unwrap_err(),
        MoldError::MessageTooLarge { len: 79, max: 78 }
    );
}

#[test]
fn mold_builder_max_count_and_default_size() {
    let mut b = MoldPacketBuilder::new(*b"ABCDEFGHIJ", 100).with_max_count(3);
    let mut packets: Vec<Vec<u8>> = Vec::new();
    for _ in 0..7 {
        b.push(b"m", |p| packets.push(p.to_vec())).unwrap();
    }
    packets.extend(b.flush().map(<[u8]>::to_vec));
    let counts: Vec<u16> = packets
        .iter()
        .map(|p| MoldPacket::parse(p).unwrap().message_count())
        .collect();
    assert_eq!(counts, vec![3, 3, 1]);
    // Default: 1400-byte packets.
    let mut b = MoldPacketBuilder::new(*b"ABCDEFGHIJ", 1);
    let mut sizes = Vec::new();
    for _ in 0..100 {
        b.push(&[7u8; 48], |p| sizes.push(p.len())).unwrap();
    }
    // 50 bytes per block, (1400 - 20) / 50 = 27 per packet.
    assert_eq!(sizes, vec![20 + 27 * 50; 3]);
    // try_push reports a full packet without changing anything.
    let mut b = MoldPacketBuilder::new(*b"ABCDEFGHIJ", 1).with_max_packet(30);
    assert!(b.try_push(b"12345678").unwrap());
    assert!(!b.try_push(b"x").unwrap());
    assert_eq!(b.pending_count(), 1);
    assert_eq!(b.flush().unwrap().len(), 30);
}

proptest! {
    #[test]
    fn mold_builder_round_trip(
        msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..120), 0..200),
        max_packet in 22usize..600,
        max_count in 1u16..20,
        first in 0u64..1_000_000,
    ) {
        let mut b = MoldPacketBuilder::new(*b"PROPTEST01", first)
            .with_max_packet(max_packet)
            .with_max_count(max_count);
        let mut packets: Vec<Vec<u8>> = Vec::new();
        let mut expected: Vec<&[u8]> = Vec::new();
        for m in &msgs {
            match b.push(m, |p| packets.push(p.to_vec())) {
                Ok(()) => expected.push(m),
                Err(MoldError::MessageTooLarge { .. }) => prop_assert!(m.len() > max_packet - 22),
                Err(e) => prop_assert!(false, "unexpected {e:?}"),
            }
        }
        packets.extend(b.flush().map(<[u8]>::to_vec));
        let mut got: Vec<Vec<u8>> = Vec::new();
        let mut seq = first;
        for p in &packets {
            prop_assert!(p.len() <= max_packet);
            let m = MoldPacket::parse(p).unwrap();
            prop_assert_eq!(m.kind(), PacketKind::Data);
            prop_assert!(m.message_count() <= max_count);
            prop_assert_eq!(m.sequence(), seq);
            seq = m.next_sequence();
            for msg in m.messages() {
                got.push(msg.unwrap().to_vec());
            }
        }
        prop_assert_eq!(seq, b.next_sequence());
        prop_assert_eq!(seq, first + expected.len() as u64);
        let expected: Vec<Vec<u8>> = expected.iter().map(|m| m.to_vec()).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn mold_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(m) = MoldPacket::parse(&bytes) {
            // A valid packet's blocks all parse and use every byte.
            let total: usize = m.messages().map(|r| r.unwrap().len() + 2).sum();
            prop_assert_eq!(total + 20, bytes.len());
        }
        let _ = MoldRequest::parse(&bytes);
    }

    #[test]
    fn mold_parse_small_counts_never_panic(
        count in 0u16..6,
        tail in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        // Small counts make valid-looking packets likely, exercising every error path.
        let mut p = MoldHeader::new(*b"SESSION001", 1, count).as_bytes().to_vec();
        p.extend_from_slice(&tail);
        if let Ok(m) = MoldPacket::parse(&p) {
            prop_assert_eq!(m.messages().filter(Result::is_ok).count(), usize::from(count));
        }
    }
}
