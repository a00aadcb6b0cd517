//! Fuzzes the MoldUDP64 packet parser, the request parser and the pcap/pcapng reader on
//! arbitrary bytes.
//!
//! Run from `feeds/`: `cargo +nightly fuzz run moldudp64_parse`.
//! Checks: nothing panics; a packet that parses yields exactly `message_count` blocks for data
//! packets, each within the packet; a request that parses re-encodes to the same 20 bytes; the
//! capture reader ends (no infinite loop) and every datagram it yields lies inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ticklane_feeds::moldudp64::{MoldPacket, MoldRequest, PacketKind};
use ticklane_feeds::pcap::PcapReader;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = MoldPacket::parse(data) {
        let mut blocks = 0usize;
        for m in p.messages() {
            let m = m.expect("a parsed packet has well-formed blocks");
            assert!(m.len() <= data.len());
            blocks += 1;
        }
        if p.kind() == PacketKind::Data {
            assert_eq!(blocks, usize::from(p.message_count()));
        }
    }
    if let Ok(r) = MoldRequest::parse(data) {
        assert_eq!(&r.encode()[..], data);
    }
    if let Ok(mut reader) = PcapReader::new(data) {
        let mut n = 0usize;
        while let Some(item) = reader.next_udp() {
            if let Ok(d) = item {
                assert!(d.payload.len() <= data.len());
            }
            n += 1;
            assert!(n <= data.len(), "the reader makes progress");
        }
    }
});
