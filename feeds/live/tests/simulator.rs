//! Integration tests of the exchange simulator over loopback UDP: publication, seeded faults,
//! retransmission, multicast, pacing, heartbeats, stopping, and configuration errors.
//!
//! Every receiver is a port-0 socket bound here with a read timeout, so nothing waits forever;
//! timing assertions are lower bounds only.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns panic on failure by design

use std::collections::{BTreeSet, HashSet};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use ticklane_feeds::moldudp64::{MoldPacket, MoldRequest, PacketKind, Session};
use ticklane_live::history::MessageHistory;
use ticklane_live::simulator::{Faults, Pace, SimConfig, SimError, SimReport, Simulator};

const SESSION: Session = *b"TICKLANE01";
/// Receive timeout of the test sockets.
const RECV_TIMEOUT: Duration = Duration::from_millis(100);
/// A collector gives up after this many consecutive timeouts (3 s of silence).
const MAX_IDLE: u32 = 30;

/// Message `seq`: an 8-byte big-endian event timestamp (`seq` ms unless given), then a
/// sequence-dependent body of varying length.
fn message(seq: u64, ts_ns: u64) -> Vec<u8> {
    let mut m = ts_ns.to_be_bytes().to_vec();
    m.extend_from_slice(format!("msg-{seq}:").as_bytes());
    m.extend(std::iter::repeat_n(
        b'a' + (seq % 26) as u8,
        (seq % 17) as usize,
    ));
    m
}

fn history(first: u64, n: u64) -> MessageHistory {
    let mut h = MessageHistory::new(usize::MAX, usize::MAX);
    for seq in first..first + n {
        h.push(seq, &message(seq, seq * 1_000_000));
    }
    h
}

fn timestamp_of(msg: &[u8]) -> Option<u64> {
    msg.get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
}

fn receiver() -> UdpSocket {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    let _ = s.set_recv_buffer_size(4 << 20);
    s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .unwrap();
    let s: UdpSocket = s.into();
    s.set_read_timeout(Some(RECV_TIMEOUT)).unwrap();
    s
}

fn addr(s: &UdpSocket) -> SocketAddr {
    s.local_addr().unwrap()
}

fn kind(datagram: &[u8]) -> PacketKind {
    MoldPacket::parse(datagram).unwrap().kind()
}

/// Every datagram until `eos_wanted` end-of-session packets (or 3 s of silence).
fn collect(sock: &UdpSocket, eos_wanted: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let (mut eos, mut idle) = (0, 0);
    while eos < eos_wanted && idle < MAX_IDLE {
        match sock.recv(&mut buf) {
            Ok(n) => {
                idle = 0;
                let d = buf[..n].to_vec();
                if kind(&d) == PacketKind::EndOfSession {
                    eos += 1;
                }
                out.push(d);
            }
            Err(_) => idle += 1,
        }
    }
    out
}

/// Runs `sim` on `history` at max speed (no timestamps) while collecting every receiver.
fn run_and_collect(
    sim: &mut Simulator,
    history: &MessageHistory,
    receivers: &[&UdpSocket],
) -> (Result<SimReport, SimError>, Vec<Vec<Vec<u8>>>) {
    let eos = sim.config().end_of_session_repeats as usize;
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let collectors: Vec<_> = receivers
            .iter()
            .map(|r| s.spawn(move || collect(r, eos)))
            .collect();
        let report = sim.run(history, timestamp_of, &stop);
        let got = collectors.into_iter().map(|c| c.join().unwrap()).collect();
        (report, got)
    })
}

fn data_packets(datagrams: &[Vec<u8>]) -> Vec<Vec<u8>> {
    datagrams
        .iter()
        .filter(|d| kind(d) == PacketKind::Data)
        .cloned()
        .collect()
}

fn id(packet: &[u8]) -> (u64, u16) {
    let p = MoldPacket::parse(packet).unwrap();
    (p.sequence(), p.message_count())
}

fn base_config(line_a: SocketAddr) -> SimConfig {
    let mut c = SimConfig::new(SESSION, line_a);
    c.linger_ns = 0;
    c
}

#[test]
fn publishes_every_message_in_order_then_end_of_session() {
    let (first, n) = (1000, 3000);
    let h = history(first, n);
    let rx = receiver();
    let mut sim = Simulator::new(base_config(addr(&rx))).unwrap();
    assert_eq!(sim.retransmit_addr(), None);
    let (report, got) = run_and_collect(&mut sim, &h, &[&rx]);
    let report = report.unwrap();
    let got = &got[0];

    let mut next = first;
    let mut data = 0;
    let mut eos = 0;
    for d in got {
        let p = MoldPacket::parse(d).unwrap();
        assert_eq!(p.session(), &SESSION);
        assert!(d.len() <= 1400);
        match p.kind() {
            PacketKind::Data => {
                assert_eq!(eos, 0, "data after end of session");
                assert_eq!(p.sequence(), next);
                for m in p.messages() {
                    assert_eq!(m.unwrap(), h.get(next).unwrap());
                    next += 1;
                }
                data += 1;
            }
            PacketKind::Heartbeat => assert_eq!(p.sequence(), next),
            PacketKind::EndOfSession => {
                assert_eq!(p.sequence(), first + n);
                eos += 1;
            }
        }
    }
    assert_eq!(next, first + n);
    assert_eq!(eos, 3);
    assert_eq!(report.messages, n);
    assert_eq!(report.packets, data);
    assert_eq!(report.end_sequence, first + n);
    assert!(!report.stopped);
    assert_eq!(report.lines.len(), 1);
    let line = &report.lines[0];
    assert_eq!(line.sent, got.len() as u64);
    assert_eq!(line.end_of_session, 3);
    assert_eq!((line.dropped, line.duplicated, line.reordered), (0, 0, 0));
    assert_eq!(line.send_errors, 0);
    assert_eq!(report.requests, 0);
}

/// The datagrams a line must carry given the packets generated and the faults reported
/// (the rule documented on `Faults`).
fn expected_line(packets: &[Vec<u8>], line: &ticklane_live::simulator::LineReport) -> Vec<Vec<u8>> {
    let dropped: HashSet<_> = line.dropped_sequences.iter().copied().collect();
    let dup: HashSet<_> = line.duplicated_sequences.iter().copied().collect();
    let reordered: HashSet<_> = line.reordered_sequences.iter().copied().collect();
    let mut out = Vec::new();
    let emit = |out: &mut Vec<Vec<u8>>, p: &Vec<u8>| {
        out.push(p.clone());
        if dup.contains(&id(p)) {
            out.push(p.clone());
        }
    };
    let mut held: Option<&Vec<u8>> = None;
    for p in packets {
        if dropped.contains(&id(p)) {
            if let Some(h) = held.take() {
                emit(&mut out, h);
            }
            continue;
        }
        if held.is_none() && reordered.contains(&id(p)) {
            held = Some(p);
            continue;
        }
        emit(&mut out, p);
        if let Some(h) = held.take() {
            emit(&mut out, h);
        }
    }
    if let Some(h) = held {
        emit(&mut out, h);
    }
    out
}

/// [`base_config`] with faults `(loss, dup, reorder)` seeded with `seed`.
fn faulty_config(
    line_a: SocketAddr,
    (loss, dup, reorder): (f64, f64, f64),
    seed: u64,
) -> SimConfig {
    let mut c = base_config(line_a);
    c.faults = Faults {
        loss,
        dup,
        reorder,
        seed,
    };
    c
}

fn fault_config(a: SocketAddr, b: SocketAddr, seed: u64) -> SimConfig {
    let mut c = faulty_config(a, (0.15, 0.15, 0.15), seed);
    c.line_b = Some(b);
    c.max_packet = 120;
    c.heartbeat_ns = 0;
    c
}

#[test]
fn seeded_faults_are_exactly_as_reported_per_line() {
    let (first, n) = (1, 1500);
    let h = history(first, n);
    let mut packets = Vec::new();
    h.pack(SESSION, first, n, 120, |p| packets.push(p.to_vec()))
        .unwrap();

    let run = |seed| {
        let (ra, rb) = (receiver(), receiver());
        let mut sim = Simulator::new(fault_config(addr(&ra), addr(&rb), seed)).unwrap();
        let (report, got) = run_and_collect(&mut sim, &h, &[&ra, &rb]);
        (report.unwrap(), got)
    };
    let (report, got) = run(7);
    assert_eq!(report.packets, packets.len() as u64);
    assert_eq!(report.messages, n);
    assert_eq!(report.lines.len(), 2);

    for (line, datagrams) in report.lines.iter().zip(&got) {
        assert!(
            line.dropped > 0 && line.duplicated > 0 && line.reordered > 0,
            "{line:?}"
        );
        assert_eq!(line.dropped, line.dropped_sequences.len() as u64);
        assert_eq!(line.duplicated, line.duplicated_sequences.len() as u64);
        assert_eq!(line.reordered, line.reordered_sequences.len() as u64);
        assert_eq!(line.sent, datagrams.len() as u64);
        assert_eq!(line.heartbeats, 0);
        assert_eq!(line.end_of_session, 3);
        // Data first (in the faulted order), then the three end-of-session packets.
        let data = data_packets(datagrams);
        assert_eq!(data, expected_line(&packets, line));
        assert!(datagrams[data.len()..]
            .iter()
            .all(|d| kind(d) == PacketKind::EndOfSession));
        // Reordering happened on the wire: some packet arrives after a later one.
        assert!(data.windows(2).any(|w| id(&w[1]).0 < id(&w[0]).0));
    }
    // Lines have their own streams.
    assert_ne!(
        report.lines[0].dropped_sequences,
        report.lines[1].dropped_sequences
    );
    // What both lines together delivered: everything except packets dropped on both.
    let lost_both: BTreeSet<_> = report.lines[0]
        .dropped_sequences
        .iter()
        .filter(|p| report.lines[1].dropped_sequences.contains(p))
        .copied()
        .collect();
    let mut delivered = BTreeSet::new();
    for d in got.iter().flat_map(|g| data_packets(g)) {
        let (seq, count) = id(&d);
        delivered.extend(seq..seq + u64::from(count));
    }
    let lost_messages: u64 = lost_both.iter().map(|&(_, c)| u64::from(c)).sum();
    assert_eq!(delivered.len() as u64, n - lost_messages);
    for (seq, count) in &lost_both {
        assert!(!delivered.contains(seq) && !delivered.contains(&(seq + u64::from(*count) - 1)));
    }

    // Same seed: same fault pattern (and so the same report); another seed: another.
    let (again, _) = run(7);
    assert_eq!(again, report);
    let (other, _) = run(8);
    assert_ne!(other.lines, report.lines);
}

#[test]
fn total_loss_with_flush_every_one_sends_only_end_of_session() {
    let h = history(1, 40);
    let rx = receiver();
    let mut c = faulty_config(addr(&rx), (1.0, 1.0, 1.0), 1);
    c.flush_every = 1;
    c.heartbeat_ns = 0;
    let mut sim = Simulator::new(c).unwrap();
    let (report, got) = run_and_collect(&mut sim, &h, &[&rx]);
    let report = report.unwrap();
    assert_eq!(report.packets, 40);
    let line = &report.lines[0];
    assert_eq!(line.dropped, 40);
    assert_eq!((line.duplicated, line.reordered), (0, 0));
    assert_eq!(
        line.dropped_sequences,
        (1..=40).map(|s| (s, 1)).collect::<Vec<_>>()
    );
    assert_eq!(got[0].len(), 3);
    assert!(got[0]
        .iter()
        .all(|d| kind(d) == PacketKind::EndOfSession && id(d).0 == 41));
    assert_eq!(line.sent, 3);
}

/// Receives the answer to a request: packets until `messages` messages have come.
fn receive_answer(sock: &UdpSocket, messages: u64) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut idle = 0;
    while (out.len() as u64) < messages && idle < MAX_IDLE {
        match sock.recv(&mut buf) {
            Ok(n) => {
                idle = 0;
                let p = MoldPacket::parse(&buf[..n]).unwrap();
                assert_eq!(p.kind(), PacketKind::Data);
                for (i, m) in p.messages().enumerate() {
                    out.push((p.sequence() + i as u64, m.unwrap().to_vec()));
                }
            }
            Err(_) => idle += 1,
        }
    }
    out
}

fn request(sock: &UdpSocket, server: SocketAddr, session: Session, sequence: u64, count: u16) {
    let r = MoldRequest {
        session,
        sequence,
        count,
    };
    sock.send_to(&r.encode(), server).unwrap();
}

fn assert_history(h: &MessageHistory, got: &[(u64, Vec<u8>)], first: u64, count: u64) {
    assert_eq!(got.len() as u64, count);
    for (i, (seq, m)) in got.iter().enumerate() {
        assert_eq!(*seq, first + i as u64);
        assert_eq!(m.as_slice(), h.get(*seq).unwrap());
    }
}

/// The next datagram (waiting up to 3 s).
fn recv_one(sock: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 16];
    for _ in 0..MAX_IDLE {
        if let Ok(n) = sock.recv(&mut buf) {
            return buf[..n].to_vec();
        }
    }
    panic!("nothing received");
}

fn assert_silent(sock: &UdpSocket) {
    let mut buf = [0u8; 2048];
    assert!(sock.recv(&mut buf).is_err(), "unexpected datagram");
}

#[test]
fn retransmission_server_answers_published_ranges_and_counts_the_rest() {
    let (first, n) = (10, 2000);
    let end = first + n;
    let h = history(first, n);
    let rx = receiver();
    let mut c = base_config(addr(&rx));
    c.retransmit = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    c.linger_ns = 60_000_000_000; // ended by `stop`
    c.max_request_messages = 100;
    let mut sim = Simulator::new(c).unwrap();
    let server = sim.retransmit_addr().unwrap();
    assert_ne!(server.port(), 0);
    let stop = AtomicBool::new(false);
    let client = receiver();

    let report = std::thread::scope(|s| {
        let run = s.spawn(|| sim.run(&h, timestamp_of, &stop));
        // Wait until everything is published.
        let got = collect(&rx, 3);
        assert_eq!(
            got.iter()
                .filter(|d| kind(d) == PacketKind::EndOfSession)
                .count(),
            3
        );

        // Bad: malformed, wrong session, zero count. Unanswerable: before the history, at the
        // end. None of them gets an answer, and the server answers in order, so the first
        // answer that comes is the good request's.
        client.send_to(b"too short", server).unwrap();
        client.send_to(&[0u8; 21], server).unwrap();
        request(&client, server, *b"OTHERSESS1", first, 5);
        request(&client, server, SESSION, first, 0);
        request(&client, server, SESSION, first - 1, 5);
        request(&client, server, SESSION, end, 5);
        request(&client, server, SESSION, first + 10, 50);
        assert_history(&h, &receive_answer(&client, 50), first + 10, 50);
        assert_silent(&client);

        // Straddling the end: only what was published.
        request(&client, server, SESSION, end - 5, 20);
        assert_history(&h, &receive_answer(&client, 5), end - 5, 5);
        assert_silent(&client);

        // Over the cap: the first `max_request_messages`.
        request(&client, server, SESSION, first, 500);
        assert_history(&h, &receive_answer(&client, 100), first, 100);
        assert_silent(&client);

        stop.store(true, Ordering::Relaxed);
        run.join().unwrap().unwrap()
    });
    assert_eq!(report.requests, 9);
    assert_eq!(report.bad_requests, 4);
    assert_eq!(report.unanswerable_requests, 2);
    assert_eq!(report.retransmitted_messages, 155);
    assert!(report.retransmit_packets >= 3);
    assert!(!report.stopped, "stop came while lingering, after the end");
    assert_eq!(report.messages, n);
}

#[test]
fn requests_beyond_the_published_point_are_unanswerable_and_stop_ends_early() {
    // Message 2 is due 20 s after message 1: only message 1 gets published before the stop.
    let mut h = MessageHistory::new(usize::MAX, usize::MAX);
    h.push(1, &message(1, 0));
    h.push(2, &message(2, 20_000_000_000));
    let rx = receiver();
    let mut c = base_config(addr(&rx));
    c.speed = Pace::Speed(1.0);
    c.retransmit = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    c.heartbeat_ns = 0;
    let mut sim = Simulator::new(c).unwrap();
    let server = sim.retransmit_addr().unwrap();
    let stop = AtomicBool::new(false);
    let client = receiver();

    let (report, tail) = std::thread::scope(|s| {
        let run = s.spawn(|| sim.run(&h, timestamp_of, &stop));
        let first_packet = recv_one(&rx);
        assert_eq!(id(&first_packet), (1, 1));

        request(&client, server, SESSION, 2, 1);
        request(&client, server, SESSION, 1, 5);
        assert_history(&h, &receive_answer(&client, 1), 1, 1);
        assert_silent(&client);

        stop.store(true, Ordering::Relaxed);
        let report = run.join().unwrap().unwrap();
        (report, collect(&rx, 3))
    });
    assert!(report.stopped);
    assert_eq!(report.messages, 1);
    assert_eq!(report.end_sequence, 2);
    assert_eq!(report.requests, 2);
    assert_eq!(report.unanswerable_requests, 1);
    assert_eq!(report.retransmitted_messages, 1);
    assert_eq!(tail.len(), 3);
    assert!(tail
        .iter()
        .all(|d| kind(d) == PacketKind::EndOfSession && id(d).0 == 2));
}

#[test]
fn stop_before_run_sends_only_end_of_session() {
    let h = history(5, 100);
    let rx = receiver();
    let mut sim = Simulator::new(base_config(addr(&rx))).unwrap();
    let stop = AtomicBool::new(true);
    let report = sim.run(&h, timestamp_of, &stop).unwrap();
    assert!(report.stopped);
    assert_eq!(
        (report.messages, report.packets, report.end_sequence),
        (0, 0, 5)
    );
    let got = collect(&rx, 3);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|d| id(d) == (5, 0xFFFF)));
}

#[test]
fn multicast_on_loopback() {
    let group = Ipv4Addr::new(239, 255, 77, 31);
    let rx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    let _ = rx.set_reuse_address(true);
    if let Err(e) = rx.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)).into()) {
        println!("skipping multicast test: bind refused: {e}");
        return;
    }
    if let Err(e) = rx.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST) {
        println!("skipping multicast test: joining {group} on 127.0.0.1 refused: {e}");
        return;
    }
    let rx: UdpSocket = rx.into();
    rx.set_read_timeout(Some(RECV_TIMEOUT)).unwrap();
    let port = rx.local_addr().unwrap().port();

    let mut c = base_config(SocketAddr::V4(SocketAddrV4::new(group, port)));
    assert_eq!(c.bind.ip(), Ipv4Addr::UNSPECIFIED);
    c.bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    c.multicast_if = Some(Ipv4Addr::LOCALHOST);
    c.multicast_ttl = 0;
    c.multicast_loop = true;
    let mut sim = match Simulator::new(c) {
        Ok(sim) => sim,
        Err(e) => {
            println!("skipping multicast test: {e}");
            return;
        }
    };
    let (first, n) = (1, 500);
    let h = history(first, n);
    let (report, got) = run_and_collect(&mut sim, &h, &[&rx]);
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            println!("skipping multicast test: {e}");
            return;
        }
    };
    if got[0].is_empty() {
        println!("skipping multicast test: nothing looped back on 127.0.0.1");
        return;
    }
    let mut next = first;
    for d in data_packets(&got[0]) {
        let p = MoldPacket::parse(&d).unwrap();
        assert_eq!(p.sequence(), next);
        next = p.next_sequence();
    }
    assert_eq!(next, first + n);
    assert_eq!(report.lines[0].sent, got[0].len() as u64);
}

/// Runs a paced session and returns the wall time it took.
// The pacing lower bound is a wall-clock property: this test reads the wall clock.
#[allow(clippy::disallowed_methods)]
fn timed_run(sim: &mut Simulator, h: &MessageHistory, rx: &UdpSocket) -> (Duration, SimReport) {
    let start = std::time::Instant::now();
    let (report, got) = run_and_collect(sim, h, &[rx]);
    let elapsed = start.elapsed();
    let report = report.unwrap();
    assert_eq!(report.lines[0].sent, got[0].len() as u64);
    let data = data_packets(&got[0]);
    let messages: usize = data
        .iter()
        .map(|d| MoldPacket::parse(d).unwrap().len())
        .sum();
    assert_eq!(messages as u64, report.messages);
    (elapsed, report)
}

#[test]
fn paced_publication_follows_event_time() {
    // 51 messages 1 ms apart in event time: 50 ms at 1x, 25 ms at 2x.
    let h = history(0, 51);
    for (speed, at_least) in [(1.0, 50), (2.0, 25)] {
        let rx = receiver();
        let mut c = base_config(addr(&rx));
        c.speed = Pace::Speed(speed);
        let mut sim = Simulator::new(c).unwrap();
        let (elapsed, report) = timed_run(&mut sim, &h, &rx);
        assert!(
            elapsed >= Duration::from_millis(at_least),
            "{speed}x took {elapsed:?}"
        );
        assert_eq!(report.messages, 51);
        // Paced: a packet goes out when the next message is not yet due, so several packets.
        assert!(report.packets > 1);
    }
}

/// Same seed, paced at 1x (`serve`'s default): what goes into each packet, and so which
/// messages are dropped, duplicated and held back, is the same on every run whatever the
/// machine's timing. A packet used to end whenever the wall clock was behind the next message's
/// due time, so the same seed dropped different messages from run to run.
#[test]
fn paced_packets_and_their_faults_are_the_same_on_every_run_of_a_seed() {
    // Bursts of 5 messages of one event time, 20 us apart: one packet a burst.
    let mut h = MessageHistory::new(usize::MAX, usize::MAX);
    for seq in 1..=3000u64 {
        h.push(seq, &message(seq, (seq - 1) / 5 * 20_000));
    }
    let rx = receiver();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let mut c = faulty_config(addr(&rx), (0.2, 0.1, 0.3), 42);
        c.speed = Pace::Speed(1.0);
        // Heartbeats release held packets when the wall clock says so.
        c.heartbeat_ns = 100_000;
        let mut sim = Simulator::new(c).unwrap();
        let r = sim.run(&h, timestamp_of, &AtomicBool::new(false)).unwrap();
        let l = &r.lines[0];
        assert_eq!(r.packets, 600);
        let faulted = [
            &l.dropped_sequences,
            &l.duplicated_sequences,
            &l.reordered_sequences,
        ];
        for ids in faulted {
            assert!(!ids.is_empty());
            assert!(ids.iter().all(|&(s, n)| n == 5 && s % 5 == 1), "{ids:?}");
        }
        runs.push(faulted.map(Vec::clone));
    }
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
}

#[test]
fn quiet_lines_get_heartbeats_with_the_next_sequence() {
    let mut h = MessageHistory::new(usize::MAX, usize::MAX);
    h.push(1, &message(1, 0));
    h.push(2, &message(2, 300_000_000));
    let rx = receiver();
    let mut c = base_config(addr(&rx));
    c.speed = Pace::Speed(1.0);
    c.heartbeat_ns = 50_000_000;
    let mut sim = Simulator::new(c).unwrap();
    let (report, got) = run_and_collect(&mut sim, &h, &[&rx]);
    let report = report.unwrap();
    let heartbeats: Vec<_> = got[0]
        .iter()
        .filter(|d| kind(d) == PacketKind::Heartbeat)
        .collect();
    assert!(!heartbeats.is_empty());
    assert_eq!(report.lines[0].heartbeats, heartbeats.len() as u64);
    assert!(heartbeats.iter().all(|d| id(d) == (2, 0)));
    let order: Vec<_> = got[0].iter().map(|d| kind(d)).collect();
    assert_eq!(order.first(), Some(&PacketKind::Data));
    let second_data = order.iter().rposition(|k| *k == PacketKind::Data).unwrap();
    assert!(order[1..second_data]
        .iter()
        .all(|k| *k == PacketKind::Heartbeat));
}

#[test]
fn a_message_too_large_is_an_error_and_the_server_is_joined() {
    let mut h = history(1, 10);
    h.push(11, &[0u8; 2000]);
    let rx = receiver();
    let mut c = base_config(addr(&rx));
    c.retransmit = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    let mut sim = Simulator::new(c).unwrap();
    let err = sim
        .run(&h, timestamp_of, &AtomicBool::new(false))
        .unwrap_err();
    assert!(matches!(err, SimError::Pack { sequence: 11, .. }), "{err}");
}

/// A history with a hole (two runs) is refused, naming the hole, before anything is sent. It
/// was published up to the hole, then end of session there: the messages after it were
/// neither published nor reported, and the run said it was not stopped.
#[test]
fn a_history_with_a_hole_is_refused_naming_it_before_anything_is_sent() {
    let mut h = history(1, 10);
    for seq in 20..=30 {
        h.push(seq, &message(seq, seq * 1_000_000));
    }
    let rx = receiver();
    let mut sim = Simulator::new(base_config(addr(&rx))).unwrap();
    let err = sim
        .run(&h, timestamp_of, &AtomicBool::new(false))
        .unwrap_err();
    assert!(
        matches!(
            &err,
            SimError::Config {
                field: "history",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("messages 11 to 19 are missing"),
        "{err}"
    );
    assert_silent(&rx);
}

#[test]
fn invalid_settings_name_their_field() {
    let line = SocketAddr::from((Ipv4Addr::LOCALHOST, 9));
    let check = |edit: &dyn Fn(&mut SimConfig), field: &str| {
        let mut c = SimConfig::new(SESSION, line);
        edit(&mut c);
        let err = Simulator::new(c).unwrap_err();
        assert!(
            matches!(&err, SimError::Config { field: f, .. } if *f == field),
            "{err}"
        );
        assert!(err.to_string().contains(field), "{err}");
    };
    check(&|c| c.faults.loss = 1.5, "faults.loss");
    check(&|c| c.faults.dup = -0.1, "faults.dup");
    check(&|c| c.faults.reorder = f64::NAN, "faults.reorder");
    check(&|c| c.speed = Pace::Speed(0.0), "speed");
    check(&|c| c.speed = Pace::Speed(f64::INFINITY), "speed");
    check(&|c| c.max_packet = 21, "max_packet");
    check(&|c| c.max_packet = 70_000, "max_packet");
    check(
        &|c| c.max_messages_per_packet = 0,
        "max_messages_per_packet",
    );
    check(&|c| c.max_request_messages = 0, "max_request_messages");
    check(&|c| c.multicast_ttl = 256, "multicast_ttl");
    check(
        &|c| c.line_a = SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        "line_a",
    );
    check(
        &|c| c.line_b = Some(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 9))),
        "line_b",
    );
    check(&|c| c.bind = "[::1]:0".parse().unwrap(), "bind");

    // A retransmission address already taken.
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut c = SimConfig::new(SESSION, line);
    c.retransmit = Some(addr(&taken));
    let err = Simulator::new(c).unwrap_err();
    assert!(matches!(err, SimError::Socket { .. }), "{err}");
    assert!(err.to_string().contains(&addr(&taken).to_string()), "{err}");
}

#[test]
fn pace_parses_and_displays() {
    assert_eq!("max".parse::<Pace>().unwrap(), Pace::Max);
    assert_eq!("MAX".parse::<Pace>().unwrap(), Pace::Max);
    assert_eq!("1x".parse::<Pace>().unwrap(), Pace::Speed(1.0));
    assert_eq!("2.5x".parse::<Pace>().unwrap(), Pace::Speed(2.5));
    assert_eq!("10".parse::<Pace>().unwrap(), Pace::Speed(10.0));
    for bad in ["0x", "-1x", "fast", "x", "", "infx", "NaNx"] {
        assert!(bad.parse::<Pace>().is_err(), "{bad:?}");
    }
    assert_eq!(Pace::Max.to_string(), "max");
    assert_eq!(Pace::Speed(10.0).to_string(), "10x");
    assert_eq!(Pace::Speed(0.5).to_string(), "0.5x");
}

/// MoldUDP64: "When the current session is complete, Downstream Packets are sent with a Message
/// Count of 0xFFFF for a short while in place of Heartbeats ... While the End of Session
/// messages persist, re-requests may be made on the current session." `heartbeat_ns` says a
/// heartbeat goes out on a line quiet that long. While the simulator lingers (re-requests still
/// answered) a quiet line must keep getting end-of-session packets at the heartbeat interval.
#[test]
fn a_lingering_session_repeats_end_of_session_in_place_of_heartbeats() {
    let h = history(1, 10);
    let rx = receiver();
    let mut c = base_config(addr(&rx));
    c.heartbeat_ns = 100_000_000; // 100 ms
    c.linger_ns = 1_000_000_000; // 1 s
    let mut sim = Simulator::new(c).unwrap();
    let stop = AtomicBool::new(false);
    let got = std::thread::scope(|s| {
        let run = s.spawn(|| sim.run(&h, timestamp_of, &stop));
        // Everything until 300 ms of silence (the linger lasts 1 s, heartbeats every 100 ms).
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut idle = 0;
        while idle < 3 {
            match rx.recv(&mut buf) {
                Ok(n) => {
                    idle = 0;
                    out.push(buf[..n].to_vec());
                }
                Err(_) => idle += 1,
            }
        }
        run.join().unwrap().unwrap();
        out
    });
    let eos = got
        .iter()
        .filter(|d| kind(d) == PacketKind::EndOfSession)
        .count();
    // 3 at the end, then about one per 100 ms for the 1 s of lingering.
    assert!(
        eos >= 3 + 5,
        "end-of-session packets: {eos} (datagrams: {})",
        got.len()
    );
}

/// `flush_every`: "A data packet is sent once it holds this many messages"; the module docs:
/// pacing decides when a packet goes out, "right after its last message is due". Paced, a
/// packet that is full (here one message, `flush_every = 1`) waited for the *next* message's
/// due time before it went out: with the next message 9 µs of event time later at 0.0001x,
/// packet 1 went out 90 ms late, together with packet 2.
#[test]
#[allow(clippy::disallowed_methods)] // a wall-clock property
fn a_full_paced_packet_goes_out_when_its_last_message_is_due_not_with_the_next() {
    let mut h = MessageHistory::new(usize::MAX, usize::MAX);
    h.push(1, &message(1, 0));
    h.push(2, &message(2, 9_000)); // due 90 ms after message 1 at 0.0001x
    let rx = receiver();
    let mut c = base_config(addr(&rx));
    c.speed = Pace::Speed(0.0001);
    c.flush_every = 1;
    c.heartbeat_ns = 0;
    let mut sim = Simulator::new(c).unwrap();
    let stop = AtomicBool::new(false);
    let (first, second) = std::thread::scope(|s| {
        let run = s.spawn(|| sim.run(&h, timestamp_of, &stop));
        let p1 = recv_one(&rx);
        let t1 = std::time::Instant::now();
        let p2 = recv_one(&rx);
        let t2 = std::time::Instant::now();
        assert_eq!((id(&p1), id(&p2)), ((1, 1), (2, 1)));
        run.join().unwrap().unwrap();
        (t1, t2)
    });
    let gap = second - first;
    assert!(
        gap >= Duration::from_millis(45),
        "packet 1 went out {gap:?} before packet 2; message 2 is due 90 ms after message 1"
    );
}

/// A message too large for `max_packet` (e.g. `serve --max-packet 60` on ITCH data) after the
/// start of the history: the run fails, but only after it has published the packets before
/// it, with no end of session, so receivers are left waiting. A history with a hole is
/// refused before anything is sent; this is found as late as the message itself.
#[test]
fn a_message_too_large_is_refused_before_anything_is_sent() {
    let mut h = history(1, 500);
    h.push(501, &[0u8; 2000]);
    let rx = receiver();
    let mut sim = Simulator::new(base_config(addr(&rx))).unwrap();
    let err = sim
        .run(&h, timestamp_of, &AtomicBool::new(false))
        .unwrap_err();
    assert!(matches!(err, SimError::Pack { sequence: 501, .. }), "{err}");
    let mut sent = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while let Ok(n) = rx.recv(&mut buf) {
        sent.push(id(&buf[..n]));
    }
    assert!(
        sent.is_empty(),
        "{} datagrams went out before the error, the last {:?}, none of them end of session",
        sent.len(),
        sent.last()
    );
}

/// `multicast_if` (`serve --multicast-if`) with no IPv4 multicast line does nothing: it was
/// accepted and silently ignored (an IPv6 group with it is refused by name; a unicast line,
/// where the operator probably mistyped the group, is not).
#[test]
fn a_multicast_interface_without_a_multicast_line_is_refused_by_name() {
    let mut c = SimConfig::new(SESSION, SocketAddr::from((Ipv4Addr::LOCALHOST, 9)));
    // Not even an address of this host: with a multicast line, opening fails.
    c.multicast_if = Some(Ipv4Addr::new(192, 0, 2, 77));
    match Simulator::new(c) {
        Err(SimError::Config { field, .. }) => assert_eq!(field, "multicast_if"),
        Err(e) => panic!("refused, but not by name: {e}"),
        Ok(sim) => panic!(
            "accepted and ignored: multicast_if {:?} with only the unicast line {}",
            sim.config().multicast_if,
            sim.config().line_a
        ),
    }
}

/// Errors with an OS error are printed with `{:#}` by the CLI (anyhow's chain): the OS error
/// was in the message *and* its source, so it came out twice ("binding the retransmission
/// server (127.0.0.1:26402): Address already in use (os error 98): Address already in use
/// (os error 98)").
#[test]
fn a_simulator_error_names_its_cause_once_in_the_error_chain() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut c = SimConfig::new(SESSION, SocketAddr::from((Ipv4Addr::LOCALHOST, 9)));
    c.retransmit = Some(addr(&taken));
    let err = Simulator::new(c).unwrap_err();
    // What `{:#}` of an anyhow error prints: each error of the chain, joined by ": ".
    let mut chain = vec![err.to_string()];
    let mut cause = std::error::Error::source(&err);
    while let Some(e) = cause {
        chain.push(e.to_string());
        cause = e.source();
    }
    let printed = chain.join(": ");
    assert_eq!(printed.matches("os error").count(), 1, "printed: {printed}");
}

/// Two trading days in one history (a binary file of two NASDAQ days, served): ITCH times
/// start again at midnight, so day 2's event times go back more than a second. Paced, day 2
/// must be as far apart in wall time as it is in event time, after day 1 (the engine's own
/// `replay --speed` does so: `PACE_BACK_NS`). Day 1: 51 messages 1 ms apart from 2 s; day 2:
/// 51 messages 1 ms apart from 0 s. At 1x that is at least 100 ms in all.
#[test]
fn a_paced_second_day_whose_times_go_back_is_paced_too() {
    let mut h = MessageHistory::new(usize::MAX, usize::MAX);
    for seq in 1..=51u64 {
        h.push(seq, &message(seq, 2_000_000_000 + (seq - 1) * 1_000_000));
    }
    for seq in 52..=102u64 {
        h.push(seq, &message(seq, (seq - 52) * 1_000_000));
    }
    let rx = receiver();
    let mut c = base_config(addr(&rx));
    c.speed = Pace::Speed(1.0);
    let mut sim = Simulator::new(c).unwrap();
    let (elapsed, report) = timed_run(&mut sim, &h, &rx);
    assert_eq!(report.messages, 102);
    assert!(
        elapsed >= Duration::from_millis(100),
        "two days of 50 ms each at 1x took {elapsed:?}: day 2 was not paced"
    );
}
