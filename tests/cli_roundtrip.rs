//! Round trips between the file formats and commands: what one command writes,
//! another reads back to the same messages.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod live_support;
use live_support::{run_ok, BIN};

use ticklane_feeds::moldudp64::MoldPacket;
use ticklane_feeds::pcap::PcapWriter;
use ticklane_replay::format::{CaptureHeader, FeedKind};
use ticklane_replay::{CaptureWriter, Line, WriterOptions};

const SESSION: &[u8; 10] = b"TEST000001";
const T0: u64 = 1_580_000_000_000_000_000;

/// A generated session (seed 5, 400 messages) as MoldUDP64 packets of up to 8 messages each,
/// end of session last, with the number of messages in each.
fn packets(dir: &Path) -> Vec<(Vec<u8>, u64)> {
    let itch = dir.join("s.itch");
    run_ok(&[
        "gen",
        "--seed",
        "5",
        "--messages",
        "400",
        "--instruments",
        "2",
        "-o",
        itch.to_str().unwrap(),
    ]);
    live_support::mold_packets(&std::fs::read(&itch).unwrap(), *SESSION)
        .into_iter()
        .map(|p| {
            let n = MoldPacket::parse(&p).unwrap().messages().count() as u64;
            (p, n)
        })
        .collect()
}

/// (messages, gaps, missing) of `inspect --json`, whatever its exit status.
fn counts(path: &Path) -> (u64, u64, u64) {
    let o = Command::new(BIN)
        .args(["inspect", "--json", path.to_str().unwrap()])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (
        v["messages"].as_u64().unwrap(),
        v["gaps"].as_u64().unwrap(),
        v["missing"].as_u64().unwrap(),
    )
}

/// README (`export`): a single-line capture without loss exports to the same messages,
/// "unless a re-request answer came more than 50 ms after its gap". A live recording (FROM
/// note) of a feed at 10 ms a packet, one packet lost on the line and answered by the
/// re-request server (line 3) 15 ms or 55 ms after the next packet (a retry after the 50 ms
/// request timeout, or a receiver that read its socket late). The capture replays every
/// message either way. Its pcap export: the timely answer reads back whole; the late one
/// comes after the pcap reader's 50 ms grace and reads back as a loss, and `export` says so
/// (it said nothing: a lossless recording exported to a pcap with a hole).
#[test]
fn a_live_recording_exports_its_re_request_answers_and_says_what_a_late_one_becomes() {
    for (late_ns, lost) in [(15_000_000u64, false), (55_000_000, true)] {
        let dir = tempfile::tempdir().unwrap();
        let pkts = packets(dir.path());
        let total: u64 = pkts.iter().map(|p| p.1).sum();
        let hole = 10;
        const STEP: u64 = 10_000_000; // 10 ms between packets
        let cap = dir.path().join("live.tlcap");
        let header = CaptureHeader::new(FeedKind::MoldUdp64, "");
        let mut w = CaptureWriter::create(&cap, &header, WriterOptions::default()).unwrap();
        let mut from = b"FROM".to_vec();
        from.extend_from_slice(&1u64.to_be_bytes());
        w.write_record(T0, Line::Note, &from).unwrap();
        let answer_at = T0 + (hole as u64 + 1) * STEP + late_ns;
        let mut answered = false;
        for (i, (p, _)) in pkts.iter().enumerate() {
            let ts = T0 + i as u64 * STEP;
            if !answered && ts > answer_at {
                w.write_record(answer_at, Line::Retransmit, &pkts[hole].0)
                    .unwrap();
                answered = true;
            }
            if i != hole {
                w.write_record(ts, Line::A, p).unwrap();
            }
        }
        assert!(answered);
        w.finish().unwrap();
        assert_eq!(
            counts(&cap),
            (total, 0, 0),
            "the capture replays every message"
        );
        let pcap = dir.path().join("live.pcap");
        let o = run_ok(&[
            "export",
            cap.to_str().unwrap(),
            "-o",
            pcap.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains("1 re-request answers are exported as line A datagrams")
                && stderr.contains("reads back as a loss"),
            "{stderr}"
        );
        let hole_messages = pkts[hole].1;
        let want = if lost {
            (total - hole_messages, 1, hole_messages)
        } else {
            (total, 0, 0)
        };
        assert_eq!(
            counts(&pcap),
            want,
            "(messages, gaps, missing) of the export, answer {late_ns} ns late"
        );
    }
}

/// `serve FILE` of a recording with a loss for good (a packet no line carried): the file reads
/// with a gap (inspect: 1 gap, its messages missing, books stale), but serve renumbers the
/// messages that are left into a clean session 1..N, exits 0 and says nothing: a receiver of
/// the served feed sees no gap, its books never go stale, and a recording of it replays to
/// another digest than the file's.
#[test]
fn serve_of_a_file_with_a_loss_does_not_publish_a_clean_session() {
    let dir = tempfile::tempdir().unwrap();
    let pkts = packets(dir.path());
    let total: u64 = pkts.iter().map(|p| p.1).sum();
    let hole = 10;
    let pcap = dir.path().join("lossy.pcap");
    let dst = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 1), 26_400);
    let src = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 4000);
    let mut w = PcapWriter::new(std::fs::File::create(&pcap).unwrap()).unwrap();
    for (i, (p, _)) in pkts.iter().enumerate() {
        if i != hole {
            w.write_udp(T0 + i as u64 * 1000, src, dst, p).unwrap();
        }
    }
    w.flush().unwrap();
    let lost = pkts[hole].1;
    assert_eq!(
        counts(&pcap),
        (total - lost, 1, lost),
        "the file has a loss"
    );

    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let to = sock.local_addr().unwrap().to_string();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            pcap.to_str().unwrap(),
            "--to",
            &to,
            "--speed",
            "max",
            "--linger",
            "0",
            "--retransmit",
            &format!("127.0.0.1:{}", live_support::free_port()),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Sequence numbers the served feed carried, in order (first copy of each packet).
    let mut next = 1u64;
    let mut gap_seen = false;
    let mut served = 0u64;
    let mut buf = vec![0u8; 65_536];
    // Until `serve` has exited and its datagrams are read, or 60 s of silence (300 read
    // timeouts of 200 ms) on a machine too loaded to run it.
    let mut silent = 0;
    while silent < 300 {
        let Ok(n) = sock.recv(&mut buf) else {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            silent += 1;
            continue;
        };
        silent = 0;
        let p = MoldPacket::parse(&buf[..n]).unwrap();
        let count = p.messages().count() as u64;
        if p.sequence() > next {
            gap_seen = true;
        }
        if p.sequence() + count > next {
            served += p.sequence() + count - next.max(p.sequence());
            next = p.sequence() + count;
        }
    }
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(served, total - lost);
    assert!(
        gap_seen || !o.status.success() || stderr.contains("lost"),
        "serve hid the file's loss of {lost} messages: it published {served} messages as a \
         gap-free session (receiver saw a gap: {gap_seen}), exit {:?}, stderr {stderr:?}",
        o.status.code()
    );
}
