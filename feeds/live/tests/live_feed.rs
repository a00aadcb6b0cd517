//! The live receive loop against the exchange simulator on loopback: injected loss, duplicates
//! and reordering are repaired and every fault is accounted for; one line carries the session
//! when the other is cut; with recovery off, exactly the messages lost on both lines are
//! reported lost; a feed that stops is reported.

#![allow(clippy::unwrap_used)]

mod collect;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::AtomicBool;

use ticklane_book::Market;
use ticklane_core::Side;
use ticklane_feeds::itch::decode_normalize_into;
use ticklane_feeds::moldudp64::session::SessionConfig;
use ticklane_feeds::synth::{generate_framed, SynthConfig};
use ticklane_live::history::MessageHistory;
use ticklane_live::simulator::{Faults, Pace, SimConfig, SimReport, Simulator};
use ticklane_live::source::{
    receive, Downstream, LineSource, LiveConfig, LiveCounters, LiveReport,
};
use ticklane_live::udp::UdpLineConfig;

use collect::Collect;

const SESSION: [u8; 10] = *b"TESTLIVE01";

/// A generated ITCH session of `n` messages, sequence numbers from 1.
fn session_history(n: u64) -> MessageHistory {
    let buf = generate_framed(SynthConfig {
        seed: 11,
        messages: n,
        instruments: 16,
    })
    .unwrap();
    let mut h = MessageHistory::new(usize::MAX, usize::MAX);
    for (seq, frame) in (1u64..).zip(ticklane_feeds::binfile::Frames::new(&buf)) {
        h.push(seq, frame.unwrap().bytes);
    }
    assert_eq!(h.len() as u64, n);
    h
}

/// A free loopback UDP port (bound, then released for the receiver to take).
fn free_port() -> SocketAddr {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
}

fn line(addr: SocketAddr) -> LineSource {
    LineSource::Udp(UdpLineConfig::unicast(addr))
}

/// Runs `receive` on `cfg` on its own thread and `drive` on this one, once the receiver had
/// time to bind; returns what `drive` returned, the live report and the output.
fn with_receiver<T>(cfg: &LiveConfig, drive: impl FnOnce() -> T) -> (T, LiveReport, Collect) {
    let counters = LiveCounters::default();
    std::thread::scope(|s| {
        let rx = s.spawn(|| {
            let mut out = Collect::default();
            let mut live = LiveReport::default();
            receive(cfg, &mut out, &counters, &mut live).unwrap();
            (live, out)
        });
        // Let the receiver bind before the first packet.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let t = drive();
        let (live, out) = rx.join().unwrap();
        (t, live, out)
    })
}

/// A MoldUDP64 packet of session [`SESSION`] carrying `msgs` from sequence number `first`.
fn packet(first: u64, msgs: &[&[u8]]) -> Vec<u8> {
    let mut b = ticklane_feeds::moldudp64::MoldPacketBuilder::new(SESSION, first);
    for m in msgs {
        b.push(m, |_| {}).unwrap();
    }
    b.flush().unwrap().to_vec()
}

/// Runs the simulator against `receive` on `lines`; returns both reports and the output.
fn run(
    sim_cfg: SimConfig,
    live_cfg: LiveConfig,
    history: &MessageHistory,
) -> (SimReport, LiveReport, Collect) {
    let mut sim = Simulator::new(sim_cfg).unwrap();
    with_receiver(&live_cfg, || {
        let stop = AtomicBool::new(false);
        sim.run(history, |_| None, &stop).unwrap()
    })
}

fn live_config(lines: Vec<LineSource>, retransmit: Vec<SocketAddr>) -> LiveConfig {
    LiveConfig {
        lines,
        session: SessionConfig {
            session: Some(SESSION),
            first_sequence: Some(1),
            // Generous: a loaded CI machine must not turn a late copy into a request.
            line_grace_ns: 20_000_000,
            request_timeout_ns: 200_000_000,
            max_retries: 10,
            ..SessionConfig::default()
        },
        retransmit,
        busy_poll: false,
        silence_ns: 1_000_000_000,
        stop_after_silence_ns: Some(5_000_000_000),
        record: None,
    }
}

fn sim_config(a: SocketAddr, b: Option<SocketAddr>, faults: Faults) -> SimConfig {
    let mut c = SimConfig::new(SESSION, a);
    c.line_b = b;
    c.retransmit = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    c.faults = faults;
    c.linger_ns = 1_000_000_000;
    c
}

/// Books built from `messages` in order.
fn books(messages: impl Iterator<Item = Vec<u8>>) -> Market {
    let mut m = Market::new();
    let mut ev = ticklane_core::MarketEvent::new(
        ticklane_core::Timestamp(0),
        ticklane_core::InstrumentId::NONE,
        ticklane_core::EventBody::BrokenTrade {
            match_id: ticklane_core::MatchId(0),
        },
    );
    for msg in messages {
        if decode_normalize_into(&msg, &mut ev).unwrap() {
            m.apply(&ev);
        }
    }
    m
}

fn assert_same_books(a: &Market, b: &Market) {
    assert_eq!(a.instrument_count(), b.instrument_count());
    assert_eq!(a.live_orders(), b.live_orders());
    for book in a.books() {
        let other = b.book(book.instrument()).unwrap();
        for side in [Side::Bid, Side::Ask] {
            assert_eq!(
                book.depth(side, usize::MAX),
                other.depth(side, usize::MAX),
                "{:?} {side:?}",
                book.instrument()
            );
        }
    }
}

/// Messages of the data packets that reached the receiver on one line: sent, less dropped,
/// plus the second copies of duplicated packets.
fn copies_sent(sim: &SimReport, line: usize) -> u64 {
    let l = &sim.lines[line];
    let dropped: u64 = l.dropped_sequences.iter().map(|&(_, n)| u64::from(n)).sum();
    let duplicated: u64 = l
        .duplicated_sequences
        .iter()
        .map(|&(_, n)| u64::from(n))
        .sum();
    sim.messages - dropped + duplicated
}

fn dropped_seqs(sim: &SimReport, line: usize) -> BTreeSet<u64> {
    sim.lines[line]
        .dropped_sequences
        .iter()
        .flat_map(|&(s, n)| s..s + u64::from(n))
        .collect()
}

#[test]
fn loss_duplicates_and_reordering_on_both_lines_are_repaired_and_accounted_for() {
    let history = session_history(30_000);
    let (a, b) = (free_port(), free_port());
    let faults = Faults {
        loss: 0.01,
        dup: 0.01,
        reorder: 0.01,
        seed: 42,
    };
    let mut sim_cfg = sim_config(a, Some(b), faults);
    // The re-request server must have a known address for the receiver.
    let server = free_port();
    sim_cfg.retransmit = Some(server);
    let live_cfg = live_config(vec![line(a), line(b)], vec![server]);
    let (sim, live, out) = run(sim_cfg, live_cfg, &history);

    // Every fault was injected.
    for l in &sim.lines {
        assert!(
            l.dropped > 0 && l.duplicated > 0 && l.reordered > 0,
            "{l:?}"
        );
    }
    // The stream is the original, in order, complete.
    assert_eq!(out.messages.len() as u64, sim.messages);
    for (i, (seq, bytes)) in out.messages.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert_eq!(bytes.as_slice(), history.get(*seq).unwrap());
    }
    assert!(out.lost.is_empty());
    assert_eq!(out.ended, Some(sim.messages + 1));
    let s = &live.session;
    // Every datagram sent is read or counted by the kernel as dropped (a receive buffer full,
    // rare on loopback but possible on a loaded machine); the end-of-session packets sent
    // after the first one was read are not waited for.
    for (i, l) in sim.lines.iter().enumerate() {
        let accounted = live.datagrams[i] + live.kernel_drops[i].unwrap();
        assert!(
            l.sent - l.end_of_session < accounted && accounted <= l.sent,
            "line {i}: {l:?}, read {}, kernel drops {:?}",
            live.datagrams[i],
            live.kernel_drops
        );
    }
    assert_eq!(
        live.datagrams[3] + live.kernel_drops[3].unwrap(),
        sim.retransmit_packets
    );
    // Every copy received is delivered once or counted as a duplicate: the duplicated packets,
    // the other line's copies, and retransmissions of messages the other line also brought.
    // A copy the kernel dropped is not received: exact when it dropped none.
    let copies = copies_sent(&sim, 0) + copies_sent(&sim, 1) + sim.retransmitted_messages;
    if live.kernel_drops_total() == 0 {
        assert_eq!(s.messages + s.duplicate_messages, copies, "{s:?}");
    } else {
        assert!(s.messages + s.duplicate_messages <= copies, "{s:?}");
    }
    // Every missing message came back, from the other line or a re-request.
    assert_eq!(s.gap_messages, s.filled_by_lines + s.recovered, "{s:?}");
    assert_eq!((s.lost_messages, s.lost_gaps), (0, 0));
    // What both lines lost could only come back by re-request.
    let both: BTreeSet<u64> = dropped_seqs(&sim, 0)
        .intersection(&dropped_seqs(&sim, 1))
        .copied()
        .collect();
    assert!(!both.is_empty(), "seed 42 loses some packets on both lines");
    assert!(s.recovered >= both.len() as u64, "{s:?}");
    assert!(s.requests >= 1 && sim.requests >= s.requests);
    assert_eq!(live.requests_sent, s.requests + s.retries);
    // The books are the books of the original session.
    assert_same_books(
        &books(out.messages.into_iter().map(|(_, m)| m)),
        &books((1..=sim.messages).map(|s| history.get(s).unwrap().to_vec())),
    );
}

#[test]
fn with_line_a_cut_line_b_carries_the_session() {
    let history = session_history(5_000);
    let (a, b, dead) = (free_port(), free_port(), free_port());
    // Line A's packets go to a port nobody listens on: the receiver's line A hears nothing.
    let sim_cfg = sim_config(dead, Some(b), Faults::default());
    let live_cfg = live_config(vec![line(a), line(b)], vec![]);
    let (sim, live, out) = run(sim_cfg, live_cfg, &history);
    assert_eq!(out.messages.len() as u64, sim.messages);
    assert!(out.lost.is_empty());
    assert_eq!(live.datagrams[0], 0);
    assert_eq!(live.session.first_copies_per_line[0], 0);
    assert_eq!(live.session.first_copies_per_line[1], sim.messages);
    assert_eq!(live.session.gaps, 0);
}

#[test]
fn with_recovery_off_exactly_what_both_lines_lost_is_reported_lost() {
    let history = session_history(20_000);
    let (a, b) = (free_port(), free_port());
    let faults = Faults {
        loss: 0.03,
        dup: 0.01,
        reorder: 0.0,
        seed: 7,
    };
    let mut sim_cfg = sim_config(a, Some(b), faults);
    sim_cfg.retransmit = None;
    let mut live_cfg = live_config(vec![line(a), line(b)], vec![]);
    live_cfg.session.recovery = false;
    let (sim, live, out) = run(sim_cfg, live_cfg, &history);
    let both: BTreeSet<u64> = dropped_seqs(&sim, 0)
        .intersection(&dropped_seqs(&sim, 1))
        .copied()
        .collect();
    assert!(!both.is_empty(), "seed 7 loses some packets on both lines");
    let lost: BTreeSet<u64> = out.lost.iter().flat_map(|&(f, n)| f..f + n).collect();
    assert_eq!(lost, both);
    assert_eq!(live.lost_ranges, out.lost);
    assert_eq!(live.session.lost_messages, both.len() as u64);
    // Delivered and lost together are the whole session, in order.
    let delivered: BTreeSet<u64> = out.messages.iter().map(|m| m.0).collect();
    assert_eq!(delivered.len() + lost.len(), sim.messages as usize);
    assert!(delivered.is_disjoint(&lost));
    assert!(out.messages.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(live.session.requests, 0);
}

/// A receiver on one line with silence reported after 100 ms and the run stopped after
/// `stop_after_ms` of it; `send` feeds the line from a socket, after the three messages
/// `one`, `two`, `three` of `SESSION` (sequence 1).
fn silent_run(
    stop_after_ms: u64,
    send: impl FnOnce(&UdpSocket, SocketAddr),
) -> (LiveReport, Collect) {
    let a = free_port();
    let mut cfg = live_config(vec![line(a)], vec![]);
    cfg.silence_ns = 100_000_000;
    cfg.stop_after_silence_ns = Some(stop_after_ms * 1_000_000);
    let ((), live, out) = with_receiver(&cfg, || {
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        tx.send_to(&packet(1, &[b"one", b"two", b"three"]), a)
            .unwrap();
        send(&tx, a);
    });
    // A loaded machine can take longer than `silence_ns` between the receiver's start and the
    // first packet: that silence (before anything was delivered) is not what these tests are
    // about, and made them flaky.
    let mut live = live;
    live.silences.retain(|&(delivered, _)| delivered > 0);
    (live, out)
}

#[test]
fn a_feed_that_stops_is_reported_and_the_loop_ends() {
    let (live, out) = silent_run(400, |tx, a| {
        // Then nothing of this session (no end of session); a packet of another session is
        // counted and ignored.
        let mut other = ticklane_feeds::moldudp64::MoldPacketBuilder::new(*b"SOMEONE123", 4);
        other.push(b"foreign", |_| {}).unwrap();
        tx.send_to(other.flush().unwrap(), a).unwrap();
    });
    assert_eq!(out.messages.len(), 3);
    assert_eq!(out.ended, None);
    assert_eq!(live.session.foreign_session, 1);
    assert_eq!(live.silences.len(), 1);
    assert_eq!(live.silences[0].0, 3);
    assert!(live.silences[0].1 >= 400_000_000);
}

#[test]
fn a_re_request_server_that_never_answers_gets_bounded_retries_then_the_gap_is_lost() {
    let history = session_history(10_000);
    let a = free_port();
    // Somewhere nobody answers.
    let silent_server = free_port();
    let faults = Faults {
        loss: 0.05,
        dup: 0.0,
        reorder: 0.0,
        seed: 9,
    };
    let mut sim_cfg = sim_config(a, None, faults);
    sim_cfg.retransmit = None;
    let mut live_cfg = live_config(vec![line(a)], vec![silent_server]);
    live_cfg.session.line_grace_ns = 1_000_000;
    live_cfg.session.request_timeout_ns = 20_000_000;
    live_cfg.session.max_retries = 2;
    let (sim, live, out) = run(sim_cfg, live_cfg, &history);
    let dropped = dropped_seqs(&sim, 0);
    assert!(!dropped.is_empty(), "seed 9 drops some packets");
    let lost: BTreeSet<u64> = out.lost.iter().flat_map(|&(f, n)| f..f + n).collect();
    assert_eq!(lost, dropped);
    let s = &live.session;
    // Each lost gap was asked for once and retried exactly twice, no more.
    assert_eq!(s.retries, 2 * s.requests, "{s:?}");
    assert_eq!(s.recovered, 0);
    assert_eq!(s.lost_gaps as usize, out.lost.len());
    assert_eq!(out.ended, Some(sim.messages + 1));
}

/// A line joining `group` on the loopback interface, bound as `udp_line` binds one (the
/// group's port on 0.0.0.0: the line binds to the group itself); `None` (said on stderr) when
/// the OS refuses multicast on loopback (no route, no multicast flag).
fn loopback_multicast_line(group: Ipv4Addr, port: u16) -> Option<UdpLineConfig> {
    let mut line_cfg = UdpLineConfig::unicast(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)));
    line_cfg.group = Some(group);
    line_cfg.interface = Some(Ipv4Addr::LOCALHOST);
    match ticklane_live::udp::UdpLine::open(&line_cfg) {
        Ok(_) => Some(line_cfg),
        Err(e) => {
            eprintln!("multicast not available here ({e}); skipped");
            None
        }
    }
}

/// A simulator configuration publishing line A to `group_a:port` (and line B to `group_b:port`)
/// over loopback multicast.
fn loopback_multicast_sim(group_a: Ipv4Addr, group_b: Option<Ipv4Addr>, port: u16) -> SimConfig {
    let mut sim_cfg = sim_config(
        SocketAddr::from((group_a, port)),
        group_b.map(|g| SocketAddr::from((g, port))),
        Faults::default(),
    );
    sim_cfg.multicast_if = Some(Ipv4Addr::LOCALHOST);
    sim_cfg.multicast_ttl = 0;
    sim_cfg.bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    sim_cfg
}

#[test]
fn a_multicast_line_joined_on_the_loopback_interface() {
    let history = session_history(3_000);
    let group = Ipv4Addr::new(239, 255, 77, 41);
    let port = free_port().port();
    let Some(line_cfg) = loopback_multicast_line(group, port) else {
        return;
    };
    let sim_cfg = loopback_multicast_sim(group, None, port);
    let mut live_cfg = live_config(vec![LineSource::Udp(line_cfg)], vec![]);
    live_cfg.stop_after_silence_ns = Some(2_000_000_000);
    let mut sim = match Simulator::new(sim_cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("multicast send not available here ({e}); skipped");
            return;
        }
    };
    let (report, live, out) = with_receiver(&live_cfg, || {
        let stop = AtomicBool::new(false);
        sim.run(&history, |_| None, &stop)
    });
    match report {
        Ok(r) if live.datagrams[0] > 0 => {
            assert_eq!(out.messages.len() as u64, r.messages);
            assert_eq!(out.ended, Some(r.messages + 1));
        }
        other => eprintln!("multicast on loopback delivered nothing ({other:?}); skipped"),
    }
}

/// What a downstream had been handed at each of its flushes.
#[derive(Default)]
struct FlushLog {
    messages: u64,
    lost: Vec<(u64, u64)>,
    /// At each flush: messages and lost ranges handed over so far.
    flushes: std::sync::Arc<std::sync::Mutex<Vec<(u64, usize)>>>,
}

impl Downstream for FlushLog {
    fn arrived(&mut self, _kernel_ns: Option<u64>) {}
    fn message(&mut self, _seq: u64, _bytes: &[u8]) {
        self.messages += 1;
    }
    fn gap_lost(&mut self, first: u64, count: u64) {
        self.lost.push((first, count));
    }
    fn end_of_session(&mut self, _next: u64) {}
    fn flush(&mut self) -> bool {
        if let Ok(mut f) = self.flushes.lock() {
            f.push((self.messages, self.lost.len()));
        }
        true
    }
    fn stop_requested(&self) -> bool {
        false
    }
}

#[test]
fn a_gap_given_up_while_the_feed_is_quiet_is_published_at_once() {
    let a = free_port();
    let mut cfg = live_config(vec![line(a)], vec![]);
    cfg.session.recovery = false;
    cfg.session.line_grace_ns = 1_000_000;
    cfg.silence_ns = 2_000_000_000;
    cfg.stop_after_silence_ns = Some(1_000_000_000);
    let counters = LiveCounters::default();
    let flushes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = flushes.clone();
    let (seen_while_quiet, out) = std::thread::scope(|s| {
        let rx = s.spawn(|| {
            let mut out = FlushLog {
                flushes: log,
                ..FlushLog::default()
            };
            let mut live = LiveReport::default();
            receive(&cfg, &mut out, &counters, &mut live).unwrap();
            out
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        // Messages 1-3, then 6-8: 4 and 5 never come, and then nothing comes at all.
        for first in [1u64, 6] {
            let mut b = ticklane_feeds::moldudp64::MoldPacketBuilder::new(SESSION, first);
            for m in [&b"one"[..], b"two", b"three"] {
                b.push(m, |_| {}).unwrap();
            }
            tx.send_to(b.flush().unwrap(), a).unwrap();
        }
        // Well past the 1 ms grace, and long before the feed is given up for silence.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let seen = flushes.lock().unwrap().clone();
        (seen, rx.join().unwrap())
    });
    assert_eq!(out.lost, vec![(4, 2)]);
    assert_eq!(out.messages, 6);
    // The gap and the messages held behind it reached the lanes while nothing arrived.
    assert!(
        seen_while_quiet.contains(&(6, 1)),
        "flushes while quiet: {seen_while_quiet:?}"
    );
}

#[test]
fn another_sessions_packets_do_not_hide_the_silence_of_this_one() {
    // The feed moved to a new session and this receiver follows the old one: only the new
    // session's packets arrive. They are counted and ignored, and are not activity: the
    // silence is reported and `stop_after_silence` ends the run while they still flow.
    const FOREIGN: u64 = 150;
    let (live, out) = silent_run(300, |tx, a| {
        // About 3 s of the other session's packets, one every 20 ms.
        for i in 0..FOREIGN {
            let mut other =
                ticklane_feeds::moldudp64::MoldPacketBuilder::new(*b"SESSION002", 1 + i);
            other.push(b"new", |_| {}).unwrap();
            tx.send_to(other.flush().unwrap(), a).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    assert_eq!(out.messages.len(), 3);
    assert_eq!(live.silences.len(), 1);
    assert_eq!(live.silences[0].0, 3);
    let foreign = live.session.foreign_session;
    assert!(foreign >= 1, "{foreign}");
    assert!(
        foreign < FOREIGN,
        "the run ended only when the other session stopped: {foreign}"
    );
}

#[test]
fn re_request_answers_from_anyone_but_the_server_asked_are_ignored_and_counted() {
    let a = free_port();
    let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    server
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut cfg = live_config(vec![line(a)], vec![server.local_addr().unwrap()]);
    cfg.session.line_grace_ns = 1_000_000;
    cfg.stop_after_silence_ns = Some(2_000_000_000);
    let ((), live, out) = with_receiver(&cfg, || {
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        // Messages 1-2, then 5-6: 3 and 4 are asked of the server.
        tx.send_to(&packet(1, &[b"one", b"two"]), a).unwrap();
        tx.send_to(&packet(5, &[b"five", b"six"]), a).unwrap();
        let mut req = [0u8; 64];
        let (n, client) = server.recv_from(&mut req).unwrap();
        let req = ticklane_feeds::moldudp64::MoldRequest::parse(&req[..n]).unwrap();
        assert_eq!((req.sequence, req.count), (3, 2));
        // Someone else answers first, with other bytes for 3 and 4: ignored.
        let stranger = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        stranger
            .send_to(&packet(3, &[b"forged3", b"forged4"]), client)
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        server
            .send_to(&packet(3, &[b"three", b"four"]), client)
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let eos = ticklane_feeds::moldudp64::MoldPacketBuilder::new(SESSION, 7).end_of_session();
        tx.send_to(&eos, a).unwrap();
    });
    let got: Vec<&[u8]> = out.messages.iter().map(|(_, m)| &m[..]).collect();
    assert_eq!(
        got,
        vec![&b"one"[..], b"two", b"three", b"four", b"five", b"six"]
    );
    assert_eq!(out.lost, vec![]);
    assert_eq!(out.ended, Some(7));
    assert_eq!(live.foreign_answers, 1);
    assert_eq!(live.session.recovered, 2);
    assert!(
        live.first_errors
            .iter()
            .any(|e| e.contains("not a configured server")),
        "{:?}",
        live.first_errors
    );
}

/// A receiver whose line cannot open (its port is taken: here by another receiver's socket)
/// fails before it creates its capture, so a recording already at that path (the other
/// receiver's, say) is left as it was.
#[test]
fn a_receiver_that_cannot_open_its_line_leaves_the_file_at_its_recording_path_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.cap");
    std::fs::write(&path, b"another recording").unwrap();
    let taken = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let mut cfg = live_config(vec![line(taken.local_addr().unwrap())], vec![]);
    cfg.record = Some(ticklane_live::source::Recording::new(path.clone()));
    let mut out = Collect::default();
    let mut live = LiveReport::default();
    let err = receive(&cfg, &mut out, &LiveCounters::default(), &mut live).unwrap_err();
    assert!(err.contains("line A"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"another recording");
}

#[test]
fn a_relay_upstream_relays_heartbeats_for_its_own_sessions_packets_only() {
    use ticklane_live::relay::RelayInput;
    use ticklane_live::upstream::RelayUpstream;
    // The relay's receive loop: a burst with nothing new becomes a heartbeat for subscribers,
    // but only a burst of this session's packets. Another session's packets (the feed moved
    // on, the end of this one lost) and malformed datagrams are not this session's activity:
    // relayed as heartbeats, they made a dead session look alive to every subscriber.
    let a = free_port();
    let cfg = live_config(vec![line(a)], vec![]);
    let (to_relay, mut relay) = tokio::sync::mpsc::channel(1024);
    let mut up = RelayUpstream::new(to_relay, SESSION);
    let counters = LiveCounters::default();
    let live = std::thread::scope(|s| {
        let rx = s.spawn(|| {
            let mut live = LiveReport::default();
            receive(&cfg, &mut up, &counters, &mut live).unwrap();
            live
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let pause = || std::thread::sleep(std::time::Duration::from_millis(30));
        tx.send_to(&packet(1, &[b"one", b"two"]), a).unwrap();
        pause();
        for i in 0..5 {
            let mut other =
                ticklane_feeds::moldudp64::MoldPacketBuilder::new(*b"SESSION002", 1 + i);
            other.push(b"new", |_| {}).unwrap();
            tx.send_to(other.flush().unwrap(), a).unwrap();
            pause();
        }
        tx.send_to(b"not a MoldUDP64 packet", a).unwrap();
        pause();
        // This session's heartbeat: relayed as one.
        let ours = ticklane_feeds::moldudp64::MoldPacketBuilder::new(SESSION, 3);
        tx.send_to(&ours.heartbeat(), a).unwrap();
        // Longer: the heartbeat must be a burst of its own (one with the end of session in it
        // gives something new, so no heartbeat).
        std::thread::sleep(std::time::Duration::from_millis(150));
        tx.send_to(&ours.end_of_session(), a).unwrap();
        rx.join().unwrap()
    });
    assert_eq!(live.session.foreign_session, 5);
    assert_eq!(live.session.malformed, 1);
    let mut got = Vec::new();
    while let Ok(input) = relay.try_recv() {
        got.push(match input {
            RelayInput::Packet(_) => "packet",
            RelayInput::Heartbeat => "heartbeat",
            RelayInput::EndOfSession(_) => "end",
            RelayInput::Rejoin(_) => "rejoin",
        });
    }
    assert_eq!(got, ["packet", "heartbeat", "end"]);
}

#[test]
fn malformed_datagrams_do_not_hide_the_silence_of_this_one() {
    // The feed died, but something keeps sending garbage to the port: not a packet of this
    // session, so not activity. The silence is reported and `stop_after_silence` ends the run
    // while the garbage still flows (before, every malformed datagram refreshed the feed's
    // last activity: the silence was never seen and the run never stopped).
    const GARBAGE: u64 = 150;
    let (live, out) = silent_run(300, |tx, a| {
        // About 3 s of garbage, one datagram every 20 ms.
        for _ in 0..GARBAGE {
            tx.send_to(b"garbage", a).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    assert_eq!(out.messages.len(), 3);
    assert_eq!(live.silences.len(), 1);
    assert_eq!(live.silences[0].0, 3);
    assert!(live.silences[0].1 >= 300_000_000, "{:?}", live.silences);
    let malformed = live.session.malformed;
    assert!(malformed >= 1, "{malformed}");
    assert!(
        malformed < GARBAGE,
        "the run ended only when the garbage stopped: {malformed}"
    );
    assert_eq!(live.errors, malformed, "each one is an error: {live:?}");
}

#[test]
fn packets_with_implausible_sequence_numbers_do_not_hide_the_silence_of_this_one() {
    // Packets of this session whose sequence numbers jump implausibly far (corrupt, none
    // confirming another) are ignored, and are not activity either.
    const WILD: u64 = 150;
    let (live, out) = silent_run(300, |tx, a| {
        for i in 0..WILD {
            tx.send_to(&packet(1_000_000_000 * (i + 1), &[b"wild"]), a)
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    assert_eq!(out.messages.len(), 3);
    assert_eq!(live.silences.len(), 1);
    assert_eq!(live.silences[0].0, 3);
    let wild = live.session.implausible_sequence;
    assert!(wild >= 1, "{wild}");
    assert!(
        wild < WILD,
        "the run ended only when the wild packets stopped: {wild}"
    );
}

#[test]
fn a_run_stopped_for_a_silence_shorter_than_silence_ns_reports_it() {
    // `stop_after_silence_ns` below `silence_ns`: the run stops before the silence is long
    // enough to be reported as one, yet a feed that stopped is always reported (before, the
    // run ended with no silence at all).
    let a = free_port();
    let mut cfg = live_config(vec![line(a)], vec![]);
    cfg.silence_ns = 60_000_000_000;
    cfg.stop_after_silence_ns = Some(200_000_000);
    let ((), live, out) = with_receiver(&cfg, || {
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        tx.send_to(&packet(1, &[b"one", b"two", b"three"]), a)
            .unwrap();
    });
    assert_eq!(out.messages.len(), 3);
    assert_eq!(out.ended, None);
    assert_eq!(live.silences.len(), 1, "{:?}", live.silences);
    assert_eq!(live.silences[0].0, 3);
    assert!(live.silences[0].1 >= 200_000_000, "{:?}", live.silences);
    assert!(
        live.notes()
            .iter()
            .any(|n| n.starts_with("feed silent for") && n.ends_with("after 3 messages")),
        "{:?}",
        live.notes()
    );
}

#[test]
fn with_recovery_off_many_lost_gaps_are_counted_exactly_and_the_first_listed() {
    use ticklane_live::source::LOST_RANGES_LISTED;
    // 1,500 packets of one message each, every other sequence number missing: about 1,500
    // gaps lost for good. The report lists the first `LOST_RANGES_LISTED` ranges and counts
    // the rest exactly (before, it kept one entry, and one report line, per gap, without
    // bound).
    const PACKETS: u64 = 1_500;
    let a = free_port();
    let mut cfg = live_config(vec![line(a)], vec![]);
    cfg.session.recovery = false;
    cfg.session.line_grace_ns = 1_000_000;
    cfg.stop_after_silence_ns = Some(2_000_000_000);
    let ((), live, out) = with_receiver(&cfg, || {
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        for i in 0..PACKETS {
            tx.send_to(&packet(1 + 2 * i, &[b"m"]), a).unwrap();
            if i % 50 == 49 {
                // Do not outrun the receiver's socket buffer.
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        let eos = ticklane_feeds::moldudp64::MoldPacketBuilder::new(SESSION, 2 * PACKETS)
            .end_of_session();
        tx.send_to(&eos, a).unwrap();
    });
    let s = &live.session;
    // Whatever the kernel did with the datagrams, far more gaps than are listed.
    assert!(
        out.lost.len() > LOST_RANGES_LISTED + 100,
        "{}",
        out.lost.len()
    );
    assert_eq!(s.lost_gaps, out.lost.len() as u64);
    assert_eq!(live.lost_ranges.len(), LOST_RANGES_LISTED);
    assert_eq!(live.lost_ranges[..], out.lost[..LOST_RANGES_LISTED]);
    let unlisted = &out.lost[LOST_RANGES_LISTED..];
    assert_eq!(live.lost_ranges_not_listed, unlisted.len() as u64);
    assert_eq!(
        live.lost_messages_not_listed,
        unlisted.iter().map(|r| r.1).sum::<u64>()
    );
    let listed: u64 = live.lost_ranges.iter().map(|r| r.1).sum();
    assert_eq!(listed + live.lost_messages_not_listed, s.lost_messages);
    // The report: one line per listed range, and one for the rest.
    let notes = live.notes();
    assert_eq!(
        notes
            .iter()
            .filter(|n| n.starts_with("lost for good: messages"))
            .count(),
        LOST_RANGES_LISTED
    );
    let rest = format!(
        "lost for good: {} more ranges ({} messages) not listed",
        live.lost_ranges_not_listed, live.lost_messages_not_listed
    );
    assert!(notes.contains(&rest), "{rest:?} not in {notes:?}");
}

/// Joining mid-session on a packet whose sequence number was corrupted upwards: the two
/// packets after it, far behind it and near each other, join the session again, and the
/// downstream hears where (the engine's publisher then makes its books stale).
#[test]
fn a_join_on_a_corrupt_sequence_number_is_rejoined_and_the_downstream_told() {
    let a = free_port();
    let mut cfg = live_config(vec![line(a)], Vec::new());
    cfg.session.first_sequence = None;
    cfg.session.recovery = false;
    cfg.stop_after_silence_ns = Some(1_000_000_000);
    let bogus = 1_001 | 1 << 40;
    let ((), live, out) = with_receiver(&cfg, || {
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        tx.send_to(&packet(bogus, &[b"first"]), a).unwrap();
        for seq in 1_002..1_012u64 {
            std::thread::sleep(std::time::Duration::from_millis(5));
            tx.send_to(&packet(seq, &[&seq.to_be_bytes()]), a).unwrap();
        }
        let eos =
            ticklane_feeds::moldudp64::MoldPacketBuilder::new(SESSION, 1_012).end_of_session();
        tx.send_to(&eos, a).unwrap();
    });
    assert_eq!(live.session.rejoins, 1, "{:?}", live.notes());
    assert_eq!(out.rejoined, vec![1_002]);
    // The packet set aside as evidence (1002) is lost (no recovery, no other line); every
    // later one is delivered under its number.
    let seqs: Vec<u64> = out.messages.iter().map(|m| m.0).collect();
    assert_eq!(seqs[0], bogus);
    assert_eq!(&seqs[1..], (1_003..1_012).collect::<Vec<_>>());
    assert_eq!(out.lost, vec![(1_002, 1)]);
    assert_eq!(out.ended, Some(1_012));
}

/// Reordering only (no loss), paced, on a line quiet between packets: a held packet goes out
/// before the line's next heartbeat, so nothing is reported lost. The heartbeats used to
/// overtake it, announcing the sequence number past it, and a receiver without a re-request
/// server reported its messages lost although nothing was dropped.
#[test]
fn a_held_packet_goes_out_before_a_heartbeat_so_reordering_alone_loses_nothing() {
    let mut h = MessageHistory::new(usize::MAX, usize::MAX);
    for seq in 1..=6u64 {
        // 150 ms apart in event time: the line is quiet for several heartbeats in between.
        let mut m = (seq * 150_000_000).to_be_bytes().to_vec();
        m.extend_from_slice(&[b'x'; 12]);
        h.push(seq, &m);
    }
    let a = free_port();
    let mut sim_cfg = sim_config(
        a,
        None,
        Faults {
            loss: 0.0,
            dup: 0.0,
            reorder: 1.0,
            seed: 1,
        },
    );
    sim_cfg.retransmit = None;
    sim_cfg.linger_ns = 0;
    sim_cfg.speed = Pace::Speed(1.0);
    sim_cfg.heartbeat_ns = 20_000_000;
    let live_cfg = live_config(vec![line(a)], vec![]);
    let mut sim = Simulator::new(sim_cfg).unwrap();
    let (report, live, out) = with_receiver(&live_cfg, || {
        let stop = AtomicBool::new(false);
        let ts = |m: &[u8]| Some(u64::from_be_bytes(m[..8].try_into().unwrap()));
        sim.run(&h, ts, &stop).unwrap()
    });
    let l = &report.lines[0];
    assert_eq!(l.dropped, 0);
    assert!(l.reordered > 0 && l.heartbeats > 0, "{l:?}");
    assert_eq!(live.session.lost_messages, 0, "{:?}", live.session);
    assert!(
        out.lost.is_empty(),
        "nothing was dropped, yet lost: {:?}",
        out.lost
    );
    assert_eq!(out.messages.len(), 6);
}

/// Lines A and B on two multicast groups that share a port (as exchanges do): each line
/// receives only its own group. Both line sockets were bound to 0.0.0.0:PORT, and Linux gave
/// each every group joined on the port: every datagram arrived twice, once on the wrong line.
#[test]
fn multicast_lines_on_two_groups_sharing_a_port_each_receive_only_their_group() {
    let (ga, gb) = (
        Ipv4Addr::new(239, 255, 78, 1),
        Ipv4Addr::new(239, 255, 78, 2),
    );
    let port = free_port().port();
    let (Some(line_a), Some(line_b)) = (
        loopback_multicast_line(ga, port),
        loopback_multicast_line(gb, port),
    ) else {
        return;
    };
    let history = session_history(2_000);
    let mut sim_cfg = loopback_multicast_sim(ga, Some(gb), port);
    sim_cfg.retransmit = None;
    sim_cfg.linger_ns = 0;
    let live_cfg = live_config(
        vec![LineSource::Udp(line_a), LineSource::Udp(line_b)],
        vec![],
    );
    let (sim, live, out) = run(sim_cfg, live_cfg, &history);
    if live.datagrams[0] == 0 && live.datagrams[1] == 0 {
        eprintln!("multicast on loopback delivered nothing; skipped");
        return;
    }
    assert_eq!(out.messages.len() as u64, sim.messages);
    // Each line got what was sent to it, less the end-of-session repeats the receiver may
    // have left unread once the session ended; twice that when it got both groups.
    for (i, l) in sim.lines.iter().enumerate() {
        let got = live.datagrams[i];
        assert!(
            (l.sent - l.end_of_session..=l.sent).contains(&got),
            "line {i}: received {got} datagrams, sent {}",
            l.sent
        );
    }
}

/// A MoldUDP64 re-request server answers a request with one downstream packet (the
/// specification: "The response to a valid Request Packet is a standard Downstream Packet"),
/// so a request for more than a packet holds is answered in part: the receiver must ask for the
/// rest. Here a server answers each request with at most 40 messages; messages 2..=300 are
/// missing. The server answers every request, yet with the default settings (3 retries) the
/// receiver treats each partial answer as an unanswered try: 160 messages come back and 139
/// are declared lost.
#[test]
fn a_server_answering_one_packet_per_request_recovers_the_whole_gap() {
    const PER_ANSWER: u64 = 40;
    let a = free_port();
    let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    server
        .set_read_timeout(Some(std::time::Duration::from_millis(20)))
        .unwrap();
    let server_addr = server.local_addr().unwrap();
    let msg = |seq: u64| seq.to_be_bytes().to_vec();
    let mut cfg = live_config(vec![line(a)], vec![server_addr]);
    // The receiver's defaults (3 retries, 50 ms per try, 2 ms grace).
    cfg.session = SessionConfig {
        session: Some(SESSION),
        first_sequence: Some(1),
        ..SessionConfig::default()
    };
    cfg.stop_after_silence_ns = Some(3_000_000_000);
    let done = AtomicBool::new(false);
    let ((), live, out) = std::thread::scope(|s| {
        s.spawn(|| {
            let mut buf = [0u8; 64];
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((n, from)) = server.recv_from(&mut buf) else {
                    continue;
                };
                let req = ticklane_feeds::moldudp64::MoldRequest::parse(&buf[..n]).unwrap();
                let last = (req.sequence + u64::from(req.count)).min(req.sequence + PER_ANSWER);
                let mut b =
                    ticklane_feeds::moldudp64::MoldPacketBuilder::new(SESSION, req.sequence);
                for seq in req.sequence..last.min(301) {
                    b.push(&msg(seq), |_| {}).unwrap();
                }
                server.send_to(b.flush().unwrap(), from).unwrap();
            }
        });
        let r = with_receiver(&cfg, || {
            let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            tx.send_to(&packet(1, &[&msg(1)]), a).unwrap();
            tx.send_to(&packet(301, &[&msg(301)]), a).unwrap();
            let eos = ticklane_feeds::moldudp64::MoldPacketBuilder::new(SESSION, 302);
            for _ in 0..3 {
                tx.send_to(&eos.end_of_session(), a).unwrap();
            }
        });
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        r
    });
    let s = &live.session;
    assert_eq!(out.ended, Some(302));
    assert_eq!(
        (
            out.messages.len(),
            s.recovered,
            s.lost_messages,
            out.lost.clone()
        ),
        (301, 299, 0, vec![]),
        "{s:?}"
    );
}

/// Packets larger than the receive session's reorder slots (`SessionConfig::max_packet`,
/// 2,048 bytes by default; `serve --max-packet` sends up to 65,507): with the slots sized to
/// the feed, reordering alone loses nothing; with the default, every packet held behind a late
/// one is left to recovery, and the report says so and names the setting.
#[test]
fn packets_larger_than_the_reorder_slots_need_max_packet_and_the_report_names_it() {
    let history = session_history(20_000);
    let faults = Faults {
        loss: 0.0,
        dup: 0.0,
        reorder: 0.05,
        seed: 5,
    };
    let sized = |a: SocketAddr| {
        let mut c = sim_config(a, None, faults);
        c.retransmit = None;
        c.max_packet = 8_000;
        c
    };
    // Sized to the feed: nothing lost, nothing overflows; the recording says how large the
    // slots were (a SLOT note before FROM) for its replay to hold what this run held.
    let a = free_port();
    let mut live_cfg = live_config(vec![line(a)], vec![]);
    live_cfg.session.max_packet = 8_192;
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("jumbo.tlcap");
    live_cfg.record = Some(ticklane_live::source::Recording::new(capture.clone()));
    let (sim, live, out) = run(sized(a), live_cfg, &history);
    let mut reader = ticklane_replay::CaptureReader::open(&capture).unwrap();
    let notes: Vec<Vec<u8>> = std::iter::from_fn(|| {
        reader
            .next_record()
            .map(|r| r.unwrap())
            .filter(|r| r.line == ticklane_replay::Line::Note)
            .map(|r| r.bytes.to_vec())
    })
    .take(2)
    .collect();
    assert_eq!(
        notes[0],
        [b"SLOT".as_slice(), &8_192u32.to_be_bytes()].concat()
    );
    assert_eq!(&notes[1][..4], b"FROM");
    assert!(sim.lines[0].reordered > 0);
    assert_eq!(sim.lines[0].dropped, 0);
    let s = &live.session;
    assert_eq!(
        (s.lost_messages, s.window_overflow, s.oversize_packets),
        (0, 0, 0),
        "{s:?}"
    );
    assert_eq!(out.messages.len() as u64, sim.messages);
    // The default slots: packets ahead of their turn cannot be held, nothing to re-request
    // from, so messages are lost; the report counts the oversize packets and names the fix.
    let a = free_port();
    let (_, live, _) = run(sized(a), live_config(vec![line(a)], vec![]), &history);
    let s = &live.session;
    assert!(s.oversize_packets > 0 && s.lost_messages > 0, "{s:?}");
    assert_eq!(s.oversize_packets, s.window_overflow, "{s:?}");
    let notes = live.notes().join("\n");
    assert!(
        notes.contains("larger than the reorder slots (2048 bytes)")
            && notes.contains("--max-packet"),
        "{notes}"
    );
}

/// The simulator's re-request server answering one packet per request
/// (`SimConfig::one_packet_answers`, `serve --one-packet-answers`: what a MoldUDP64 server
/// does) on one line losing 30% of its packets: gaps of several packets are answered a packet
/// at a time and asked for again until whole; nothing is lost.
#[test]
fn one_packet_answers_recover_gaps_of_several_packets_a_packet_at_a_time() {
    let history = session_history(20_000);
    let a = free_port();
    let faults = Faults {
        loss: 0.3,
        dup: 0.0,
        reorder: 0.0,
        seed: 11,
    };
    let mut sim_cfg = sim_config(a, None, faults);
    let server = free_port();
    sim_cfg.retransmit = Some(server);
    sim_cfg.one_packet_answers = true;
    let (sim, live, out) = run(sim_cfg, live_config(vec![line(a)], vec![server]), &history);
    let s = &live.session;
    // Some gap was longer than a packet: more requests than gaps.
    assert!(s.requests + s.retries > s.gaps, "{s:?}");
    // Each answer was one packet at most.
    assert!(sim.retransmit_packets <= sim.requests, "{sim:?}");
    assert_eq!((s.lost_messages, s.lost_gaps), (0, 0), "{s:?}");
    assert_eq!(out.messages.len() as u64, sim.messages);
    for (i, (seq, bytes)) in out.messages.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert_eq!(bytes.as_slice(), history.get(*seq).unwrap());
    }
}

/// The report's kernel-drop note is one sentence: no runs of blanks from a string literal
/// broken over source lines without its `\` continuation.
#[test]
fn the_kernel_drop_note_reads_as_one_sentence() {
    let live = LiveReport {
        kernel_drops: [Some(7), Some(0), None, None],
        recv_buffers: vec![212_992],
        ..LiveReport::default()
    };
    let notes = live.notes();
    let note = notes
        .iter()
        .find(|n| n.contains("the kernel dropped"))
        .expect("a kernel-drop note");
    assert!(!note.contains("  "), "runs of blanks in the note: {note:?}");
}
