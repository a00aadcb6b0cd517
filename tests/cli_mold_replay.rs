//! MoldUDP64 read back from files goes through the live feed's receive session.
//!
//! - A pcap: lines A and B are arbitrated (first copy wins, later copies are duplicates), a
//!   packet that arrives after a later one is put back in order, and only a range no line
//!   carried is a gap, which reaches the books as a feed gap. Checked against the same
//!   session's packets written once, in order.
//! - A live recording whose receiver was pinned to one session id: its `FROM` note names the
//!   session, and the replay ignores other sessions' packets as the receiver did.
//! - A live recording follows its receiver's notes: a gap given up on (`LOST`) and a restart of
//!   its relay's numbering (`REJN`) fall where they fell live.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::process::Command;

mod live_support;
use live_support::{run_ok, BIN};

use ticklane_feeds::moldudp64::MoldPacketBuilder;
use ticklane_feeds::pcap::PcapWriter;

const SRC: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 4000);
const LINE_A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 1), 26_400);
const LINE_B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 2), 26_400);
/// Capture time of the first datagram (ns since the epoch) and the spacing of datagrams: B's
/// late copy arrives well within the 50 ms a gap waits for another line.
const T0: u64 = 1_580_000_000_000_000_000;
const STEP: u64 = 1_000;

fn inspect(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&run_ok(&["inspect", "--json", path.to_str().unwrap()]).stdout).unwrap()
}

/// `inspect --json` of a file that has errors: it says so in its exit status and still prints
/// its report.
fn inspect_with_errors(path: &Path) -> serde_json::Value {
    let o = Command::new(BIN)
        .args(["inspect", "--json", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success(), "errors give a failing exit status");
    serde_json::from_slice(&o.stdout).unwrap()
}

fn bbo(path: &Path, symbol: &str) -> String {
    String::from_utf8(run_ok(&["bbo", path.to_str().unwrap(), "--symbol", symbol]).stdout).unwrap()
}

/// A generated session's messages packed into MoldUDP64 packets of up to 8 messages, with the
/// number of messages in each.
fn packets(dir: &Path) -> Vec<(Vec<u8>, u64)> {
    packets_of(dir, 4000, 8)
}

/// A generated session of `messages` messages packed into MoldUDP64 packets of up to
/// `per_packet` messages (and an end-of-session packet), with the number of messages in each.
fn packets_of(dir: &Path, messages: u64, per_packet: u16) -> Vec<(Vec<u8>, u64)> {
    let itch = dir.join("s.itch");
    run_ok(&[
        "gen",
        "--seed",
        "5",
        "--messages",
        &messages.to_string(),
        "--instruments",
        "4",
        "-o",
        itch.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&itch).unwrap();
    let mut b = MoldPacketBuilder::new(*b"TEST000001", 1).with_max_count(per_packet);
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let len = usize::from(u16::from_be_bytes([bytes[pos], bytes[pos + 1]]));
        let msg = &bytes[pos + 2..pos + 2 + len];
        pos += 2 + len;
        b.push(msg, |p| out.push(p.to_vec())).unwrap();
    }
    out.extend(b.flush().map(<[u8]>::to_vec));
    out.push(b.end_of_session().to_vec());
    out.into_iter()
        .map(|p| {
            // (The end-of-session packet's count field is 0xFFFF; it carries no message.)
            let n = ticklane_feeds::moldudp64::MoldPacket::parse(&p)
                .unwrap()
                .messages()
                .count() as u64;
            (p, n)
        })
        .collect()
}

/// Valid ITCH messages to carry where their content does not matter: those of the first packet
/// of [`packets`].
fn itch_messages(dir: &Path) -> Vec<Vec<u8>> {
    let pkts = packets(dir);
    let first = ticklane_feeds::moldudp64::MoldPacket::parse(&pkts[0].0).unwrap();
    first.messages().map(|m| m.unwrap().to_vec()).collect()
}

/// One packet of session `TEST000001` at `seq` carrying the first `n` of `msgs`.
fn carrying(msgs: &[Vec<u8>], seq: u64, n: usize) -> Vec<u8> {
    let mut b = MoldPacketBuilder::new(*b"TEST000001", seq);
    for m in &msgs[..n] {
        b.push(m, |_| unreachable!("one packet")).unwrap();
    }
    b.flush().unwrap().to_vec()
}

/// A live recording's note: its tag, then each field as a u64 BE.
fn note(tag: &[u8; 4], fields: &[u64]) -> Vec<u8> {
    let mut v = tag.to_vec();
    for f in fields {
        v.extend_from_slice(&f.to_be_bytes());
    }
    v
}

fn write(path: &Path, datagrams: &[(SocketAddrV4, &[u8])]) {
    let mut w = PcapWriter::new(std::fs::File::create(path).unwrap()).unwrap();
    for (i, (dst, p)) in datagrams.iter().enumerate() {
        w.write_udp(T0 + i as u64 * STEP, SRC, *dst, p).unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn pcap_lines_are_arbitrated_reordered_and_only_a_real_loss_is_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let pkts = packets(dir.path());
    let total: u64 = pkts.iter().map(|p| p.1).sum();
    let (hole, holes) = (40, pkts[40].1);
    assert!(pkts.len() > 100 && holes > 0);

    // The reference: every packet once, in order, on one line.
    let single = dir.path().join("single.pcap");
    let once: Vec<(SocketAddrV4, &[u8])> = pkts.iter().map(|p| (LINE_A, &p.0[..])).collect();
    write(&single, &once);

    // A lost packet `hole`; B carries everything, three packets behind A, so B's copy of the
    // hole arrives after A's later packets.
    let ab = dir.path().join("ab.pcap");
    let mut both = Vec::new();
    for i in 0..pkts.len() + 3 {
        if i < pkts.len() && i != hole {
            both.push((LINE_A, &pkts[i].0[..]));
        }
        if let Some(b) = i.checked_sub(3) {
            both.push((LINE_B, &pkts[b].0[..]));
        }
    }
    write(&ab, &both);

    // Both lines lost the packet `hole`.
    let lost = dir.path().join("lost.pcap");
    let without: Vec<(SocketAddrV4, &[u8])> = both
        .iter()
        .copied()
        .filter(|(_, p)| !std::ptr::eq(p.as_ptr(), pkts[hole].0.as_ptr()))
        .collect();
    assert_eq!(without.len(), both.len() - 1);
    write(&lost, &without);

    // A loss for good: exit 1, as `replay` (`inspect_with_errors` requires a failing status).
    let (vs, va, vl) = (inspect(&single), inspect(&ab), inspect_with_errors(&lost));
    assert_eq!(vs["messages"], total);
    assert_eq!((&vs["gaps"], &vs["duplicates"]), (&0.into(), &0.into()));

    assert_eq!(va["messages"], total, "{va}");
    assert_eq!(va["errors"], 0, "{va}");
    assert_eq!(
        (&va["gaps"], &va["missing"]),
        (&0.into(), &0.into()),
        "{va}"
    );
    // Every message B carried was a second copy, except the hole's.
    assert_eq!(va["duplicates"], total - holes, "{va}");
    assert_eq!(va["packets"], both.len());
    assert_eq!(va["by_type"], vs["by_type"]);

    assert_eq!(vl["messages"], total - holes, "{vl}");
    assert_eq!(
        (&vl["gaps"], &vl["missing"]),
        (&1.into(), &holes.into()),
        "{vl}"
    );
    // The gap is reported as a gap, not as a message type: `by_type` sums to `messages`.
    let by_type: u64 = vl["by_type"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(by_type, vl["messages"].as_u64().unwrap(), "{vl}");

    // In order, every message once: the BBO stream of the two-line capture is the reference's.
    for symbol in ["AAPL", "MSFT"] {
        let want = bbo(&single, symbol);
        assert!(want.lines().count() > 10);
        assert_eq!(bbo(&ab, symbol), want, "{symbol}");
    }

    // A real loss is said by `book` (the book is stale) and `bbo` (on stderr, beside its lines).
    // Exit 0 for the whole file, 1 for the lossy one.
    let book = |p: &Path| -> serde_json::Value {
        let o = Command::new(BIN)
            .args(["book", p.to_str().unwrap(), "--symbol", "AAPL", "--json"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(if p == lost { 1 } else { 0 }));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    assert_eq!(book(&ab)["stale"], serde_json::Value::Null);
    let stale = &book(&lost)["stale"];
    assert_eq!(
        (&stale["gaps"], &stale["lost_messages"]),
        (&1.into(), &holes.into()),
        "{stale}"
    );
    let table = Command::new(BIN)
        .args(["book", lost.to_str().unwrap(), "--symbol", "AAPL"])
        .output()
        .unwrap();
    assert_eq!(table.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&table.stdout).contains("STALE since"));
    let o = Command::new(BIN)
        .args(["bbo", lost.to_str().unwrap(), "--symbol", "AAPL"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "a loss for good: exit 1");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("stale: the feed lost {holes} messages for good")),
        "{err}"
    );
}

#[test]
fn a_recording_pinned_to_a_session_replays_that_session_only() {
    use ticklane_replay::format::{CaptureHeader, FeedKind};
    use ticklane_replay::{CaptureWriter, Line, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let pkts = packets(dir.path());
    let total: u64 = pkts.iter().map(|p| p.1).sum();
    // Another session's packets on the same group, before ours: the same packets under
    // another session id.
    let foreign: Vec<Vec<u8>> = pkts[..20]
        .iter()
        .map(|(p, _)| {
            let mut p = p.clone();
            p[..10].copy_from_slice(b"OTHER00001");
            p
        })
        .collect();
    let write = |name: &str, pinned: bool| {
        let path = dir.path().join(name);
        let header = CaptureHeader::new(FeedKind::MoldUdp64, "");
        let mut w = CaptureWriter::create(&path, &header, WriterOptions::default()).unwrap();
        let mut note = b"FROM".to_vec();
        note.extend_from_slice(&0u64.to_be_bytes());
        if pinned {
            note.extend_from_slice(b"TEST000001");
        }
        w.write_record(T0, Line::Note, &note).unwrap();
        let datagrams = foreign.iter().chain(pkts.iter().map(|(p, _)| p));
        for (i, p) in datagrams.enumerate() {
            w.write_record(T0 + i as u64 * STEP, Line::A, p).unwrap();
        }
        w.finish().unwrap();
        path
    };
    let pinned = inspect_with_errors(&write("pinned.tlcap", true));
    assert_eq!(pinned["messages"], total, "{pinned}");
    assert_eq!(
        (&pinned["gaps"], &pinned["duplicates"]),
        (&0.into(), &0.into())
    );
    assert!(
        pinned["error_list"]
            .to_string()
            .contains("20 packets of another MoldUDP64 session"),
        "{pinned}"
    );
    // Without the session in the note (a receiver that took the first session it saw), the
    // replay does the same: it follows the first session, here the other one.
    let unpinned = inspect_with_errors(&write("unpinned.tlcap", false));
    let first20: u64 = pkts[..20].iter().map(|p| p.1).sum();
    assert_eq!(unpinned["messages"], first20, "{unpinned}");
}

#[test]
fn a_recording_replays_a_huge_gap_as_the_receiver_decided_it() {
    use ticklane_replay::format::{CaptureHeader, FeedKind};
    use ticklane_replay::{CaptureWriter, Line, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let msgs = itch_messages(dir.path());
    let packet = |seq: u64, n: usize| carrying(&msgs, seq, n);
    // What a live receiver records: 1..=4, then 7..=8 (5..=6 missing: it waits for them), then
    // a packet at 10_000_200, a jump past its 10 M limit: refused as a corrupt sequence number
    // (an error) until the next packet, at 10_000_201, confirms it. The gap is then given up
    // at once, but reported only after the gap before it. Late copies of 9..=12 arrive before
    // that report: the receiver delivers them (they came in time; they were duplicates before
    // `filled_after_giving_up`). Its grace for 5..=6 runs out: it reports both losses (the
    // notes: the second one after 12) and delivers 9..=12 and 10_000_201.
    let path = dir.path().join("huge.tlcap");
    let header = CaptureHeader::new(FeedKind::MoldUdp64, "");
    let mut w = CaptureWriter::create(&path, &header, WriterOptions::default()).unwrap();
    w.write_record(T0, Line::Note, &note(b"FROM", &[1]))
        .unwrap();
    w.write_record(T0 + 1, Line::A, &packet(1, 4)).unwrap();
    w.write_record(T0 + 2, Line::A, &packet(7, 2)).unwrap();
    w.write_record(T0 + 3, Line::A, &packet(10_000_200, 1))
        .unwrap();
    w.write_record(T0 + 3, Line::A, &packet(10_000_201, 1))
        .unwrap();
    w.write_record(T0 + 4, Line::B, &packet(9, 4)).unwrap();
    w.write_record(T0 + 5, Line::Note, &note(b"LOST", &[5, 2]))
        .unwrap();
    w.write_record(T0 + 5, Line::Note, &note(b"LOST", &[13, 10_000_188]))
        .unwrap();
    w.finish().unwrap();
    let v = inspect_with_errors(&path);
    assert_eq!(v["messages"], 4 + 2 + 4 + 1, "{v}");
    assert_eq!(v["duplicates"], 0, "{v}");
    assert_eq!(
        (&v["gaps"], &v["missing"]),
        (&2.into(), &10_000_190.into()),
        "{v}"
    );
    // The one error: the refused packet.
    assert_eq!(v["errors"], 1, "{v}");
    assert!(
        v["error_list"]
            .to_string()
            .contains("sequence 10000200 jumps"),
        "{v}"
    );
}

#[test]
fn a_paced_replay_of_a_recording_follows_its_receive_times() {
    use ticklane_replay::format::{CaptureHeader, FeedKind};
    use ticklane_replay::{CaptureWriter, Line, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let pkts = packets(dir.path());
    // Received 10 ms apart, whatever their event times (which span the whole trading day).
    let path = dir.path().join("paced.tlcap");
    let header = CaptureHeader::new(FeedKind::MoldUdp64, "");
    let mut w = CaptureWriter::create(&path, &header, WriterOptions::default()).unwrap();
    const GAP: u64 = 10_000_000;
    for (i, (p, _)) in pkts.iter().enumerate() {
        w.write_record(T0 + i as u64 * GAP, Line::A, p).unwrap();
    }
    w.finish().unwrap();
    let speed = 100_000u64;
    let v: serde_json::Value = serde_json::from_slice(
        &run_ok(&[
            "replay",
            path.to_str().unwrap(),
            "--speed",
            &format!("{speed}x"),
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    // The last event is due (receive span) / speed after the first: the data packets' span,
    // give or take the packets at either end without an event.
    let span = v["paced_span_ns"].as_u64().unwrap();
    let received = (pkts.len() as u64 - 1) * GAP / speed;
    assert!(
        span <= received && span + 3 * GAP / speed >= received,
        "paced over {span} ns, the receive times span {received} ns at {speed}x"
    );
}

#[test]
fn a_pcap_of_two_sessions_delivers_both() {
    let dir = tempfile::tempdir().unwrap();
    let pkts = packets(dir.path());
    let total: u64 = pkts.iter().map(|p| p.1).sum();
    // The same feed under a second session id, interleaved with the first.
    let other: Vec<Vec<u8>> = pkts
        .iter()
        .map(|(p, _)| {
            let mut p = p.clone();
            p[..10].copy_from_slice(b"OTHER00001");
            p
        })
        .collect();
    let mut datagrams = Vec::new();
    for (a, b) in pkts.iter().zip(&other) {
        datagrams.push((LINE_A, &a.0[..]));
        datagrams.push((LINE_B, &b[..]));
    }
    let path = dir.path().join("two.pcap");
    write(&path, &datagrams);
    let v = inspect(&path);
    assert_eq!(v["messages"], 2 * total, "{v}");
    assert_eq!(
        (&v["gaps"], &v["duplicates"]),
        (&0.into(), &0.into()),
        "{v}"
    );
    assert_eq!(v["end_of_session"], 2, "{v}");

    // Recorded into a capture (no notes: not a live recording), it replays the same: one
    // receive session per session id (the capture used to keep only the first session's).
    let cap = dir.path().join("two.tlcap");
    run_ok(&[
        "record",
        path.to_str().unwrap(),
        "-o",
        cap.to_str().unwrap(),
    ]);
    let c = inspect(&cap);
    for key in [
        "messages",
        "gaps",
        "duplicates",
        "end_of_session",
        "by_type",
    ] {
        assert_eq!(c[key], v[key], "{key}: {c}");
    }
    let digest = |p: &Path| {
        let o = run_ok(&["replay", p.to_str().unwrap(), "--json"]);
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["digest"].clone()
    };
    assert_eq!(digest(&cap), digest(&path));
}

#[test]
fn a_first_packet_with_a_corrupt_sequence_number_is_joined_again_and_the_books_go_stale() {
    let dir = tempfile::tempdir().unwrap();
    let pkts = packets(dir.path());
    let total: u64 = pkts.iter().map(|p| p.1).sum();
    // Line A's first packet has a bit of its sequence number flipped (2^56 further on); B,
    // three packets behind, carries every packet as sent.
    let mut corrupt = pkts[0].0.clone();
    corrupt[10] ^= 0x01;
    let mut both: Vec<(SocketAddrV4, &[u8])> = Vec::new();
    for i in 0..pkts.len() + 3 {
        if i == 0 {
            both.push((LINE_A, &corrupt[..]));
        } else if i < pkts.len() {
            both.push((LINE_A, &pkts[i].0[..]));
        }
        if let Some(b) = i.checked_sub(3) {
            both.push((LINE_B, &pkts[b].0[..]));
        }
    }
    let path = dir.path().join("corrupt-first.pcap");
    write(&path, &both);

    // Every message once: the first packet's under its corrupt numbers, the rest where the
    // stream really is (the packet set aside as evidence is filled by B); the rejoin is said.
    let v = inspect_with_errors(&path);
    assert_eq!(v["messages"], total, "{v}");
    assert_eq!((&v["gaps"], &v["missing"]), (&0.into(), &0.into()), "{v}");
    assert!(v.to_string().contains("joined again 1 time"), "{v}");
    // The books took the first packet's messages before the numbering restarted: stale.
    // (`book` still prints it, and fails for the capture's error.)
    let o = Command::new(BIN)
        .args(["book", path.to_str().unwrap(), "--symbol", "AAPL", "--json"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let book: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_ne!(book["stale"], serde_json::Value::Null, "{book}");
}

/// A subscriber of a QUIC relay records its relay's restart (the relay had joined the session on
/// a packet with a corrupt sequence number, relayed it, then joined again lower) as a `REJN`
/// note. The replay used to ignore the note: the receiver's session expected the corrupt
/// number, and every later packet was dropped as a duplicate. It now joins again where the note
/// says, as the receiver did: every later message delivered, the rejoin said.
#[test]
fn a_relay_restart_in_a_recording_is_joined_again_in_the_replay() {
    use ticklane_replay::format::{CaptureHeader, FeedKind};
    use ticklane_replay::{CaptureWriter, Line, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let msgs = itch_messages(dir.path());
    let packet = |seq: u64, n: usize| carrying(&msgs, seq, n);
    let bogus = 1_002 | 1 << 40;
    let write = |path: &Path, rejn: bool| {
        let header = CaptureHeader::new(FeedKind::MoldUdp64, "");
        let mut w = CaptureWriter::create(path, &header, WriterOptions::default()).unwrap();
        // The relay's welcome named the corrupt number: the receiver expected it, no probation.
        w.write_record(T0, Line::Note, &note(b"FROM", &[bogus]))
            .unwrap();
        w.write_record(T0 + 1, Line::A, &packet(bogus, 1)).unwrap();
        if rejn {
            w.write_record(T0 + 2, Line::Note, &note(b"REJN", &[1_002]))
                .unwrap();
        }
        // The relay's restart: a heartbeat at the new number, then the stream from there.
        let hb = MoldPacketBuilder::new(*b"TEST000001", 1_002).heartbeat();
        w.write_record(T0 + 2, Line::A, &hb).unwrap();
        for (i, first) in (1_002..1_082).step_by(8).enumerate() {
            w.write_record(T0 + 3 + i as u64, Line::A, &packet(first, 8))
                .unwrap();
        }
        let eos = MoldPacketBuilder::new(*b"TEST000001", 1_082).end_of_session();
        w.write_record(T0 + 20, Line::A, &eos).unwrap();
        w.finish().unwrap();
    };
    let path = dir.path().join("restart.tlcap");
    write(&path, true);
    let v = inspect_with_errors(&path);
    assert_eq!(v["messages"], 1 + 80, "{v}");
    assert_eq!(
        (&v["gaps"], &v["duplicates"]),
        (&0.into(), &0.into()),
        "{v}"
    );
    assert!(v.to_string().contains("joined again 1 time"), "{v}");
    assert!(v.to_string().contains("REJN note"), "{v}");
    // Without the note, the same packets are what the note saves them from: duplicates.
    let without = dir.path().join("no-note.tlcap");
    write(&without, false);
    let v = inspect(&without);
    assert_eq!(v["messages"], 1, "{v}");
}

/// The pcap of `datagrams` (as [`write`] writes it) in memory, with the byte offset of each
/// record's frame.
fn pcap_bytes(datagrams: &[(SocketAddrV4, &[u8])]) -> (Vec<u8>, Vec<usize>) {
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    let mut frames = Vec::new();
    for (i, (dst, p)) in datagrams.iter().enumerate() {
        frames.push(w.get_ref().len() + 16);
        w.write_udp(T0 + i as u64 * STEP, SRC, *dst, p).unwrap();
    }
    (w.into_inner().unwrap(), frames)
}

/// A MoldUDP64 datagram that reached the capture as an IPv4 fragment (the "more fragments"
/// flag set: a packet larger than the path's MTU) is skipped, not reassembled. Its messages are
/// not read, and no later packet reveals the loss here: `inspect` must still say so (as
/// `record` does: a warning, and the fragment counted as an error) instead of a clean report
/// with exit status 0.
#[test]
fn inspect_of_a_pcap_says_a_skipped_fragment_instead_of_a_clean_report() {
    let dir = tempfile::tempdir().unwrap();
    let msgs = itch_messages(dir.path());
    let p1 = carrying(&msgs, 1, 2);
    let p2 = carrying(&msgs[2..], 3, 2);
    let (mut bytes, frames) = pcap_bytes(&[(LINE_A, &p1[..]), (LINE_A, &p2[..])]);
    // IPv4 flags and fragment offset: frame offset 14 + 6; 0x20 = more fragments.
    bytes[frames[1] + 20] = 0x20;
    let path = dir.path().join("frag.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let o = Command::new(BIN)
        .args(["inspect", "--json", path.to_str().unwrap()])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["messages"], 2, "{v}");
    assert!(
        !o.status.success() && v["errors"].as_u64().unwrap() >= 1,
        "a datagram skipped as a fragment (its 2 messages never read) must be reported: exit {:?}, {v}",
        o.status.code()
    );
    assert_eq!(v["fragments_skipped"], 1, "{v}");
    assert_eq!(v["non_udp_skipped"], 0, "{v}");
    let text = Command::new(BIN)
        .args(["inspect", path.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("skipped     0 frames not IPv4/UDP, 1 IPv4 fragments"),
        "{text}"
    );
}

/// A pcap cut in the middle of its fourth record (packet index 3): the error names that
/// packet, not the third (which was read whole).
#[test]
fn a_pcap_cut_mid_record_names_the_cut_packet() {
    let dir = tempfile::tempdir().unwrap();
    let msgs = itch_messages(dir.path());
    let pkts: Vec<Vec<u8>> = (0..4)
        .map(|i| carrying(&msgs[i..], 1 + i as u64, 1))
        .collect();
    let list: Vec<(SocketAddrV4, &[u8])> = pkts.iter().map(|p| (LINE_A, &p[..])).collect();
    let (bytes, frames) = pcap_bytes(&list);
    let path = dir.path().join("cut.pcap");
    // Cut inside the fourth record's frame.
    std::fs::write(&path, &bytes[..frames[3] + 10]).unwrap();
    let v = inspect_with_errors(&path);
    assert_eq!(v["messages"], 3, "{v}");
    let e = &v["error_list"][0];
    assert!(e["error"].as_str().unwrap().contains("truncated"), "{e}");
    assert_eq!(
        e["position"], 3,
        "the cut record is packet 3 (0-based); packet 2 was read whole: {e}"
    );
}

/// The ITCH messages of the session [`packets`] carries, in order: message `i` is sequence
/// number `i + 1`.
fn session_messages(dir: &Path) -> Vec<Vec<u8>> {
    packets(dir)
        .iter()
        .flat_map(|(p, _)| {
            ticklane_feeds::moldudp64::MoldPacket::parse(p)
                .unwrap()
                .messages()
                .map(|m| m.unwrap().to_vec())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// One packet (of up to 65,000 bytes) of session `TEST000001` carrying `n` of `all` from
/// sequence number `seq`.
fn one_packet(all: &[Vec<u8>], seq: u64, n: usize) -> Vec<u8> {
    let mut b = MoldPacketBuilder::new(*b"TEST000001", seq).with_max_packet(65_000);
    let from = (seq - 1) as usize;
    for m in &all[from..from + n] {
        b.push(m, |_| unreachable!("one packet")).unwrap();
    }
    b.flush().unwrap().to_vec()
}

/// Writes at `path` a one-line capture of `notes` (tag and bytes), then message 1, `held`
/// (messages 3 on) ahead of message 2, message 2 (the hole closes), and the end of session
/// after the `n` messages of `held`: a packet a receiver must hold for reordering.
fn write_held_back_capture(path: &Path, all: &[Vec<u8>], held: &[u8], n: usize, notes: &[Vec<u8>]) {
    use ticklane_replay::format::{CaptureHeader, FeedKind};
    use ticklane_replay::{CaptureWriter, Line, WriterOptions};
    let header = CaptureHeader::new(FeedKind::MoldUdp64, "");
    let mut w = CaptureWriter::create(path, &header, WriterOptions::default()).unwrap();
    for n in notes {
        w.write_record(T0, Line::Note, n).unwrap();
    }
    w.write_record(T0 + 1, Line::A, &one_packet(all, 1, 1))
        .unwrap();
    w.write_record(T0 + 2, Line::A, held).unwrap();
    w.write_record(T0 + 3, Line::A, &one_packet(all, 2, 1))
        .unwrap();
    let eos = MoldPacketBuilder::new(*b"TEST000001", 3 + n as u64)
        .end_of_session()
        .to_vec();
    w.write_record(T0 + 4, Line::A, &eos).unwrap();
    w.finish().unwrap();
}

/// A `SLOT` note saying `bytes`.
fn slot_note(bytes: u32) -> Vec<u8> {
    let mut n = b"SLOT".to_vec();
    n.extend_from_slice(&bytes.to_be_bytes());
    n
}

/// (messages, gaps, missing) of `inspect --json` of `path`, whatever its exit status.
fn inspect_counts(path: &Path) -> (serde_json::Value, serde_json::Value, serde_json::Value) {
    let o = Command::new(BIN)
        .args(["inspect", "--json", path.to_str().unwrap()])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (
        v["messages"].clone(),
        v["gaps"].clone(),
        v["missing"].clone(),
    )
}

/// A live recording made with `--max-packet 9000` (a jumbo-frame feed): the receiver writes a
/// `SLOT` note before `FROM`, and the replay holds in 9,000-byte slots what the receiver held
/// (it took the default 2,048 bytes: the jumbo packet that arrived ahead of its turn, which the
/// receiver held and delivered, overflowed in the replay and its 150 messages were reported
/// lost). Without the note (a receiver with the default slots) the replay overflows as that
/// receiver did.
#[test]
fn a_recording_of_a_jumbo_feed_replays_what_the_receiver_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let all = session_messages(dir.path());
    let jumbo = one_packet(&all, 3, 150);
    assert!(jumbo.len() > 2048 && jumbo.len() <= 9000, "{}", jumbo.len());
    // No LOST note: the receiver lost nothing.
    let inspect = |slot: Option<u32>| {
        let path = dir.path().join(format!("jumbo-{slot:?}.tlcap"));
        let mut notes: Vec<Vec<u8>> = slot.map(slot_note).into_iter().collect();
        notes.push(note(b"FROM", &[1]));
        write_held_back_capture(&path, &all, &jumbo, 150, &notes);
        inspect_counts(&path)
    };
    assert_eq!(inspect(Some(9000)), (152.into(), 0.into(), 0.into()));
    assert_eq!(inspect(None), (2.into(), 1.into(), 150.into()));
}

/// README (`export`): "A single-line capture exports to the same messages, packets and digest".
/// A live recording of a jumbo-frame feed made with `--max-packet 9000` (its `SLOT` note says
/// so) holds a packet that arrived ahead of its turn; the capture replays all 152 messages, as
/// the receiver delivered them. Its export is a pcap, which carries no notes: read back, the
/// pcap's session used the default 2,048-byte slots, the jumbo packet overflowed, and its 150
/// messages were a gap no later packet filled. A pcap is read with slots for a jumbo frame
/// (9,216 bytes).
#[test]
fn a_jumbo_recording_exports_to_a_pcap_with_the_same_messages() {
    let dir = tempfile::tempdir().unwrap();
    let all = session_messages(dir.path());
    let jumbo = one_packet(&all, 3, 150);
    assert!(jumbo.len() > 2048 && jumbo.len() <= 9000, "{}", jumbo.len());
    let cap = dir.path().join("jumbo.tlcap");
    write_held_back_capture(
        &cap,
        &all,
        &jumbo,
        150,
        &[slot_note(9000), note(b"FROM", &[1])],
    );
    let from_capture = inspect(&cap);
    assert_eq!(from_capture["messages"], 152, "{from_capture}");
    let pcap = dir.path().join("jumbo.pcap");
    run_ok(&[
        "export",
        cap.to_str().unwrap(),
        "-o",
        pcap.to_str().unwrap(),
    ]);
    assert_eq!(
        inspect_counts(&pcap),
        (152.into(), 0.into(), 0.into()),
        "the exported pcap of a single-line capture reads back other messages than the capture"
    );
}

/// A capture without notes (or a pcap) read with a packet larger than the reader's slots
/// (9,216 bytes) ahead of its turn: the packet cannot be held, its messages are reported lost,
/// and the report says why (it said "errors 0" with the loss alone).
#[test]
fn a_packet_larger_than_the_offline_slots_out_of_order_is_reported_with_the_loss() {
    let dir = tempfile::tempdir().unwrap();
    let all = session_messages(dir.path());
    // Messages from 3 on until the packet passes 9,216 bytes.
    let mut n = 1;
    while one_packet(&all, 3, n).len() <= 9_216 {
        n += 1;
    }
    let cap = dir.path().join("big.tlcap");
    write_held_back_capture(&cap, &all, &one_packet(&all, 3, n), n, &[]);
    let v = inspect_with_errors(&cap);
    assert_eq!(
        (v["messages"].clone(), v["missing"].clone()),
        (2.into(), (n as u64).into()),
        "{v}"
    );
    assert!(
        v["error_list"]
            .to_string()
            .contains("larger than the reorder slots (9216 bytes)"),
        "{v}"
    );
}

/// `replay` of a pcap in which a MoldUDP64 datagram was carried in a frame that is not
/// IPv4/UDP (here an IPv6 ethertype: the second packet, two messages, never read). `inspect`
/// counts the skipped frame (`non_udp_skipped`); the engine's summary must too (a note, an
/// error, or a count in `--json`), not report a clean two-message run with exit 0.
#[test]
fn replay_of_a_pcap_says_how_many_frames_it_skipped_as_not_ipv4_udp() {
    let dir = tempfile::tempdir().unwrap();
    let msgs = itch_messages(dir.path());
    let p1 = carrying(&msgs, 1, 2);
    let p2 = carrying(&msgs[2..], 3, 2);
    let (mut bytes, frames) = pcap_bytes(&[(LINE_A, &p1[..]), (LINE_A, &p2[..])]);
    // Ethertype (frame offset 12..14): IPv6 instead of IPv4.
    bytes[frames[1] + 12] = 0x86;
    bytes[frames[1] + 13] = 0xdd;
    let path = dir.path().join("v6.pcap");
    std::fs::write(&path, &bytes).unwrap();
    // What inspect says of the same file.
    let v = inspect(&path);
    assert_eq!(v["non_udp_skipped"], 1, "{v}");
    let o = Command::new(BIN)
        .args(["replay", "--json", path.to_str().unwrap()])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["messages"], 2, "{r}");
    let said = r["errors"].as_u64().unwrap_or(0) > 0
        || r["source_notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap_or("").contains("not IPv4"));
    assert!(
        said,
        "a frame skipped as not IPv4/UDP must be in the run's report (inspect counts it): exit {:?}, errors {}, notes {}",
        o.status.code(),
        r["errors"],
        r["source_notes"]
    );
}

/// A pcap of one MoldUDP64 packet (two messages) whose global header names link type 147 (a
/// user-defined DLT, which the reader does not parse), in `dir`.
fn pcap_of_link_type_147(dir: &Path) -> std::path::PathBuf {
    let msgs = itch_messages(dir);
    let p1 = carrying(&msgs, 1, 2);
    let (mut bytes, _) = pcap_bytes(&[(LINE_A, &p1[..])]);
    // The global header's link type (offset 20, little-endian as the writer writes it).
    bytes[20..24].copy_from_slice(&147u32.to_le_bytes());
    let path = dir.join("dlt147.pcap");
    std::fs::write(&path, &bytes).unwrap();
    path
}

/// A capture whose link type the reader does not parse (147, a user-defined DLT): its frames
/// may carry the feed and nothing can say they do not, so the run says so as an error (exit
/// 1); they were folded into the "not IPv4/UDP" skips, a clean run of 0 messages with exit 0.
#[test]
fn frames_of_an_unsupported_link_type_are_an_error_not_a_skip() {
    let dir = tempfile::tempdir().unwrap();
    let path = pcap_of_link_type_147(dir.path());
    let o = Command::new(BIN)
        .args(["replay", "--json", path.to_str().unwrap()])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["messages"], 0, "{r}");
    assert_eq!(r["errors"], 1, "{r}");
    assert!(
        r["first_errors"]
            .to_string()
            .contains("link type this reader does not parse"),
        "{r}"
    );
    assert!(
        !r["source_notes"].to_string().contains("not IPv4/UDP"),
        "said twice, once as a skip: {r}"
    );
    assert_eq!(o.status.code(), Some(1), "{r}");
}

/// `feeds/src/pcap.rs` module docs: "the commands report fragments and frames of other link
/// types as errors: a feed's datagram may be among them", as `replay` and `inspect` do. `record`
/// of a pcap of link type 147 exits 1 saying so (it wrote an empty capture, printed "skipped
/// frames: ... unsupported link type" and exited 0, and the capture then replayed as 0
/// messages with exit 0).
#[test]
fn record_of_a_pcap_of_an_unsupported_link_type_is_an_error_not_a_skip() {
    let dir = tempfile::tempdir().unwrap();
    let path = pcap_of_link_type_147(dir.path());
    let out = dir.path().join("dlt147.cap");
    let o = Command::new(BIN)
        .args([
            "record",
            path.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "record of a pcap whose every frame is of a link type the reader cannot parse; \
         stdout {:?}, stderr {:?}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Lines A and B, A lost the session's *first* packet and B's copy of it arrives three packets
/// later (3 µs, well within the 50 ms a gap waits for the other line). The README: "the first
/// copy of a message wins whichever line carried it, later copies are dropped and counted";
/// RELIABILITY: "only a range no line carried is a gap". B carried it: every message must be
/// delivered, as when A loses packet 40 (`pcap_lines_are_arbitrated_reordered_and_only_a_real_loss_is_a_gap`).
#[test]
fn a_first_packet_lost_on_line_a_is_taken_from_line_b() {
    let dir = tempfile::tempdir().unwrap();
    let pkts = packets(dir.path());
    let total: u64 = pkts.iter().map(|p| p.1).sum();
    let hole = 0;
    let holes = pkts[hole].1;
    assert!(holes > 0);
    let ab = dir.path().join("ab_first.pcap");
    let mut both = Vec::new();
    for i in 0..pkts.len() + 3 {
        if i < pkts.len() && i != hole {
            both.push((LINE_A, &pkts[i].0[..]));
        }
        if let Some(b) = i.checked_sub(3) {
            both.push((LINE_B, &pkts[b].0[..]));
        }
    }
    write(&ab, &both);
    let v = inspect(&ab);
    assert_eq!(
        (&v["messages"], &v["gaps"], &v["missing"], &v["duplicates"]),
        (&total.into(), &0.into(), &0.into(), &(total - holes).into()),
        "B's copy of A's lost first packet (its {holes} messages: the system event and the \
         directory) must be delivered, or else reported lost: {v}"
    );
}

/// README (pcap captures): "a gap that no later packet fills within 50 ms of capture time is
/// reported with its range and reaches the books as a feed gap". `replay` (text and `--json`)
/// says "lost for good: messages A..B" as a live run does, `inspect` a `lost` line and
/// `lost_ranges` in JSON, and each exits 1. They gave the count only ("sequence gaps 1 (8
/// messages missing)"): which messages were lost was said nowhere but on `bbo`'s stderr; and
/// exited 0.
#[test]
fn a_pcap_gap_is_reported_with_its_range_by_replay_and_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let pkts = packets(dir.path());
    let hole = 40;
    let first: u64 = 1 + pkts[..hole].iter().map(|p| p.1).sum::<u64>();
    let end = first + pkts[hole].1;
    let lost = dir.path().join("lost.pcap");
    let kept: Vec<(SocketAddrV4, &[u8])> = pkts
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != hole)
        .map(|(_, p)| (LINE_A, &p.0[..]))
        .collect();
    write(&lost, &kept);
    let p = lost.to_str().unwrap();
    for args in [
        vec!["replay", p, "--no-latency"],
        vec!["replay", p, "--no-latency", "--json"],
        vec!["inspect", p],
        vec!["inspect", p, "--json"],
    ] {
        let o = Command::new(BIN).args(&args).output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        // A loss for good is a failing exit status, for every command (as `record` and
        // `relay` say theirs); `replay` says what was lost on stderr.
        assert_eq!(o.status.code(), Some(1), "{args:?}: {all}");
        if args[0] == "replay" {
            assert!(
                all.contains(&format!(
                    "the input lost {} messages in 1 gaps for good",
                    end - first
                )),
                "{args:?}: {all}"
            );
        }
        if args == ["inspect", p, "--json"] {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(v["lost_ranges"], serde_json::json!([[first, end]]), "{v}");
            continue;
        }
        assert!(
            all.contains(&format!("{first}..{end}")),
            "{args:?}: the lost range {first}..{end} is not reported:\n{}",
            all.lines()
                .filter(|l| l.contains("gap") || l.contains("missing") || l.contains("lost"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// More than 1,000 ranges lost for good (the ranges a report keeps): `replay` lists the first
/// 20 and says how many more there are, `inspect` too. "N more ranges" must count every range
/// lost (`gaps`), not only those kept: with 1,200 gaps it said "980 more ranges".
#[test]
fn more_than_a_thousand_lost_ranges_are_all_counted() {
    let dir = tempfile::tempdir().unwrap();
    let pkts: Vec<Vec<u8>> = packets_of(dir.path(), 40_000, 4)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    // Every 5th packet after the first lost: 1,200 gaps (well past the 1,000 kept).
    let gaps = 1_200usize;
    let kept: Vec<(SocketAddrV4, &[u8])> = pkts
        .iter()
        .enumerate()
        .filter(|(i, _)| !(i % 5 == 3 && i / 5 < gaps))
        .map(|(_, p)| (LINE_A, &p[..]))
        .collect();
    assert!(pkts.len() / 5 >= gaps, "{} packets", pkts.len());
    let lossy = dir.path().join("lossy.pcap");
    write(&lossy, &kept);
    let p = lossy.to_str().unwrap();
    let v = inspect_with_errors(&lossy);
    assert_eq!(v["gaps"], serde_json::json!(gaps), "inspect --json gaps");
    for args in [vec!["replay", p, "--no-latency"], vec!["inspect", p]] {
        let o = Command::new(BIN).args(&args).output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let line = all
            .lines()
            .find(|l| l.contains("more ranges"))
            .unwrap_or("(no line)")
            .to_string();
        assert!(
            line.contains(&format!("{} more ranges", gaps - 20)),
            "{args:?}: expected '{} more ranges', got: {line}",
            gaps - 20
        );
    }
}
